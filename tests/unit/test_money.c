/* money: checked int64 fen, one rounding rule (down), 128-bit products. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "common/money.h"

Test(unit_money, add_and_sub_are_checked)
{
	int64_t r;
	cr_assert(money_add(1, 2, &r) && r == 3);
	cr_assert_not(money_add(INT64_MAX, 1, &r));
	cr_assert_not(money_sub(INT64_MIN, 1, &r));
	cr_assert(money_sub(5, 7, &r) && r == -2);
}

Test(unit_money, rounding_is_always_down)
{
	struct {
		int64_t amount;
		int32_t bp;
		int64_t want;
	} cases[] = {
		{1234500, 5000, 617250}, {1, 5000, 0},    {3, 3333, 0}, {10000, 3000, 3000},    {-1, 5000, -1},
		{-3, 5000, -2},          {199, 5000, 99}, {0, 6000, 0}, {-81650, 5000, -40825}, {1152851, 3000, 345855},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t r;
		cr_assert(money_apply_bp(cases[i].amount, cases[i].bp, &r));
		cr_assert_eq(r, cases[i].want, "%lld x %d bp = %lld, want %lld", (long long)cases[i].amount,
			     cases[i].bp, (long long)r, (long long)cases[i].want);
	}
}

Test(unit_money, products_past_2_63_use_128_bits)
{
	int64_t r;
	/* a pool share: difference x left / total with both factors near 2^62 */
	cr_assert(money_muldiv_floor(INT64_MAX / 2, INT64_MAX / 4, INT64_MAX / 2, &r));
	cr_assert_eq(r, INT64_MAX / 4);
	cr_assert_not(money_muldiv_floor(INT64_MAX, 3, 2, &r));
	cr_assert_not(money_muldiv_floor(1, 1, 0, &r));
}

Test(unit_money, yuan_text)
{
	char b[32];
	money_format_yuan(123456, b, sizeof b);
	cr_assert_str_eq(b, "1234.56");
	money_format_yuan(-5, b, sizeof b);
	cr_assert_str_eq(b, "-0.05");
	money_format_yuan(INT64_MIN, b, sizeof b);
	cr_assert_str_eq(b, "-92233720368547758.08");
	int64_t f;
	cr_assert(money_parse_yuan("12.3", &f) && f == 1230);
	cr_assert(money_parse_yuan("-0.05", &f) && f == -5);
	cr_assert_not(money_parse_yuan("1.234", &f));
	cr_assert_not(money_parse_yuan("1.", &f));
	cr_assert_not(money_parse_yuan("abc", &f));
	cr_assert_not(money_parse_yuan("99999999999999999999", &f));
}

/* The whole text is one whole number in int64 range, or it is refused. */
Test(unit_money, parse_i64_strict)
{
	static const struct {
		const char *s;
		int64_t v;
	} good[] = {
		{"0", 0},
		{"-0", 0},
		{"42", 42},
		{"-120", -120},
		{"9223372036854775807", INT64_MAX},
		{"-9223372036854775808", INT64_MIN},
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int64_t v = 7;
		cr_assert(money_parse_i64(good[i].s, &v), "'%s'", good[i].s);
		cr_assert_eq(v, good[i].v, "'%s': %lld", good[i].s, (long long)v);
	}
	static const char *const bad[] = {
		"",
		"-",
		" 1",
		"1 ",
		"+1",
		"12abc",
		"12.5",
		"12.",
		"1e5",
		"0x10",
		"--1",
		"- 1",
		"9223372036854775808",
		"-9223372036854775809",
		"99999999999999999999999",
		"1\n",
		"abc",
		"１２",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v = 7;
		cr_assert_not(money_parse_i64(bad[i], &v), "'%s' accepted", bad[i]);
		cr_assert_eq(v, 7, "'%s': out written on failure", bad[i]);
	}
	int64_t v;
	cr_assert_not(money_parse_i64(NULL, &v));
}

Test(unit_money, yuan_grouped)
{
	static const struct {
		int64_t fen;
		const char *want;
	} cases[] = {
		{0, "0.00"},
		{5, "0.05"},
		{-5, "-0.05"},
		{99999, "999.99"},
		{100000, "1,000.00"},
		{123456789, "1,234,567.89"},
		{-123456789, "-1,234,567.89"},
		{10000000000, "100,000,000.00"},
		{INT64_MAX, "92,233,720,368,547,758.07"},
		{INT64_MIN, "-92,233,720,368,547,758.08"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char b[40];
		money_format_yuan_grouped(cases[i].fen, b, sizeof b);
		cr_assert_str_eq(b, cases[i].want, "%lld", (long long)cases[i].fen);
	}
}
