/* Table-driven tests of common/validate.c. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/validate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct str_case {
	const char *in;
	bool ok;
};

Test(unit_validate, uscc)
{
	static const struct str_case cases[] = {
		{"91330483100000001E", true},
		{"91330106100000002H", true},
		{"913202141000000038", true},
		{"91350100M000100Y43", true}, /* real one; division part a city code */
		{"12100000400000000W", true}, /* other authority / type codes */
		{"Y1330483100000001Q", true},
		{"91330483100000001F", false}, /* wrong check character */
		{"913301061000000020", false},
		{"913202141000000039", false},
		{"91350100m000100y43", false}, /* lower case */
		{"91330483100000001e", false},
		{"91330483100000001", false},   /* 17 */
		{"91330483100000001EE", false}, /* 19 */
		{"", false},
		{"91330483I00000001E", false}, /* I, O, Z, S, V are not in the charset */
		{"91330483O00000001E", false},
		{"91330483Z00000001E", false},
		{"91330483S00000001E", false},
		{"91330483V00000001E", false},
		{"9133A483100000001E", false}, /* division part not digits */
		{"91 30483100000001E", false},
		{"91330483100000001\xc3", false},
	};
	for (size_t i = 0; i < N(cases); i++)
		cr_expect_eq(uscc_valid(cases[i].in), cases[i].ok, "uscc_valid(%s) should be %d", cases[i].in,
			     cases[i].ok);
	cr_expect(!uscc_valid(NULL));
	/* a non-charset char fixed up with the matching check char is still refused */
	char s[19];
	memcpy(s, "9133048310000000IE", 19);
	cr_expect(!uscc_valid(s));
}

Test(unit_validate, uscc_check_char)
{
	static const struct {
		const char *first17;
		char want;
	} cases[] = {
		{"91330483100000001", 'E'}, {"91330106100000002", 'H'},
		{"91320214100000003", '8'}, {"91350100M000100Y4", '3'},
		{"91110000100000000", 'R'}, {"91330483100000001E", 'E'}, /* only the first 17 are looked at */
		{"9133048310000000", 0},                                 /* too short */
		{"9133048310000000i", 0},   {"91A30483100000001", 0},
	};
	for (size_t i = 0; i < N(cases); i++)
		cr_expect_eq(uscc_check_char(cases[i].first17), cases[i].want, "check char of %s", cases[i].first17);
	cr_expect_eq(uscc_check_char(NULL), 0);
}

Test(unit_validate, division)
{
	static const struct str_case cases[] = {
		{"330483", true},   {"330402", true},  {"330411", true},   {"330106", true},  {"320214", true},
		{"320281", true},   {"110101", true},  {"820102", true},   {"710101", true},  {"330400", false},
		{"330083", false},  {"330000", false}, {"990101", false},  {"100101", false}, {"160101", false},
		{"330483 ", false}, {"33048", false},  {"3304831", false}, {"", false},       {"33o483", false},
		{"-30483", false},
	};
	for (size_t i = 0; i < N(cases); i++)
		cr_expect_eq(division_valid(cases[i].in), cases[i].ok, "division_valid(%s)", cases[i].in);
	cr_expect(!division_valid(NULL));
}

Test(unit_validate, decimal)
{
	static const struct {
		const char *in;
		int max_frac;
		bool neg_ok, pos_ok; /* result with allow_negative true / false */
	} cases[] = {
		{"128.5", 6, true, true},
		{"5000000", 6, true, true},
		{"0", 6, true, true},
		{"0.5", 6, true, true},
		{"0.000001", 6, true, true},
		{"0.0000001", 6, false, false},
		{"1.5", 0, false, false},
		{"1", 0, true, true},
		{"-8.5", 6, true, false},
		{"-0", 6, true, false},
		{"-", 6, false, false},
		{"-.5", 6, false, false},
		{"1e3", 6, false, false},
		{"1E3", 6, false, false},
		{"01", 6, false, false},
		{"00", 6, false, false},
		{"-01", 6, false, false},
		{"1.", 6, false, false},
		{".5", 6, false, false},
		{"+1", 6, false, false},
		{" 1", 6, false, false},
		{"1 ", 6, false, false},
		{"", 6, false, false},
		{"1.2.3", 6, false, false},
		{"1,5", 6, false, false},
		{"--1", 6, false, false},
		{"123456789012345678", 6, true, true},
		{"1234567890123456789", 6, false, false},
		{"999999999999999999.999999", 6, true, true},
		{"0x10", 6, false, false},
		{"NaN", 6, false, false},
		{"\xd9\xa1", 6, false, false}, /* Arabic-Indic digit one */
	};
	for (size_t i = 0; i < N(cases); i++) {
		cr_expect_eq(decimal_valid(cases[i].in, cases[i].max_frac, true), cases[i].neg_ok,
			     "decimal_valid(\"%s\", %d, true)", cases[i].in, cases[i].max_frac);
		cr_expect_eq(decimal_valid(cases[i].in, cases[i].max_frac, false), cases[i].pos_ok,
			     "decimal_valid(\"%s\", %d, false)", cases[i].in, cases[i].max_frac);
	}
	cr_expect(!decimal_valid(NULL, 6, true));
}

Test(unit_validate, decimal_normalize)
{
	static const struct {
		const char *in;
		const char *want; /* NULL: refused */
	} cases[] = {
		{"1.500", "1.5"},       {"2.000", "2"},
		{"128.5", "128.5"},     {"-8.5", "-8.5"},
		{"-8.50", "-8.5"},      {"-0", "0"},
		{"-0.000", "0"},        {"0.000", "0"},
		{"0.000100", "0.0001"}, {"5000000", "5000000"},
		{"10", "10"},           {"-0.000001", "-0.000001"},
		{"0.0000001", NULL},    {"01", NULL},
		{"1.", NULL},           {"", NULL},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[48];
		bool ok = decimal_normalize(cases[i].in, 6, out, sizeof out);
		cr_expect_eq(ok, cases[i].want != NULL, "decimal_normalize(\"%s\")", cases[i].in);
		if (ok && cases[i].want)
			cr_expect_str_eq(out, cases[i].want, "decimal_normalize(\"%s\")", cases[i].in);
	}
	char small[4];
	cr_expect(decimal_normalize("1.50", 6, small, sizeof small)); /* "1.5" + NUL fits */
	cr_expect_str_eq(small, "1.5");
	cr_expect(!decimal_normalize("12.5", 6, small, sizeof small));
	cr_expect(!decimal_normalize("1", 6, small, 0));
	cr_expect(!decimal_normalize(NULL, 6, small, sizeof small));
}

Test(unit_validate, rfc3339_parse)
{
	static const struct {
		const char *in;
		bool ok;
		int64_t us;
	} cases[] = {
		{"2026-03-01T00:00:00+08:00", true, 1772294400000000LL},
		{"2026-02-28T16:00:00Z", true, 1772294400000000LL},
		{"2026-02-28t16:00:00z", true, 1772294400000000LL},
		{"2026-02-28T10:30:00-05:30", true, 1772294400000000LL},
		{"2026-02-28T16:00:00-00:00", true, 1772294400000000LL},
		{"1970-01-01T00:00:00Z", true, 0},
		{"1970-01-01T08:00:00+08:00", true, 0},
		{"2000-02-29T23:59:59.123456Z", true, 951868799123456LL},
		{"2000-02-29T23:59:59.1Z", true, 951868799100000LL},
		{"2000-02-29T23:59:59.000001Z", true, 951868799000001LL},
		{"9999-12-31T23:59:59.999999Z", true, 253402300799999999LL},
		{"2024-02-29T00:00:00Z", true, 1709164800000000LL},
		{"2026-03-01T00:00:00", false, 0}, /* no offset */
		{"2026-02-30T00:00:00Z", false, 0},
		{"2025-02-29T00:00:00Z", false, 0}, /* not a leap year */
		{"1900-02-29T00:00:00Z", false, 0},
		{"2026-13-01T00:00:00Z", false, 0},
		{"2026-00-01T00:00:00Z", false, 0},
		{"2026-01-00T00:00:00Z", false, 0},
		{"2026-04-31T00:00:00Z", false, 0},
		{"2026-03-01T24:00:00Z", false, 0},
		{"2026-03-01T23:60:00Z", false, 0},
		{"2026-12-31T23:59:60Z", false, 0}, /* leap second */
		{"2026-03-01T00:00:00+24:00", false, 0},
		{"2026-03-01T00:00:00+08:60", false, 0},
		{"2026-03-01T00:00:00+0800", false, 0},
		{"2026-03-01T00:00:00+08", false, 0},
		{"2026-03-01 00:00:00Z", false, 0}, /* space separator */
		{"2026-03-01T00:00:00Zx", false, 0},
		{"2026-03-01T00:00:00+08:00 ", false, 0},
		{"2026-03-01T00:00:00.Z", false, 0},
		{"2026-03-01T00:00:00.1234567Z", false, 0}, /* 7 fraction digits */
		{"2026-03-01T00:00:00,5Z", false, 0},
		{"1969-12-31T23:59:59Z", false, 0},
		{"0000-01-01T00:00:00Z", false, 0},
		{"10000-01-01T00:00:00Z", false, 0},
		{"2026-3-01T00:00:00Z", false, 0},
		{"2026-03-01", false, 0},
		{"2026-03-01T", false, 0},
		{"", false, 0},
		{"+2026-03-01T00:00:00Z", false, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		int64_t us = -1;
		bool ok = rfc3339_parse(cases[i].in, &us);
		cr_expect_eq(ok, cases[i].ok, "rfc3339_parse(\"%s\")", cases[i].in);
		if (ok && cases[i].ok)
			cr_expect_eq(us, cases[i].us, "rfc3339_parse(\"%s\") = %lld", cases[i].in, (long long)us);
	}
	int64_t us;
	cr_expect(!rfc3339_parse(NULL, &us));
}

Test(unit_validate, rfc3339_format_utc)
{
	static const struct {
		int64_t us;
		const char *want;
	} cases[] = {
		{0, "1970-01-01T00:00:00.000000Z"},
		{1772294400000000LL, "2026-02-28T16:00:00.000000Z"},
		{951868799123456LL, "2000-02-29T23:59:59.123456Z"},
		{253402300799999999LL, "9999-12-31T23:59:59.999999Z"},
		{-1, "1969-12-31T23:59:59.999999Z"},
		{-28800000000LL, "1969-12-31T16:00:00.000000Z"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[32];
		rfc3339_format_utc(cases[i].us, out, sizeof out);
		cr_expect_str_eq(out, cases[i].want, "format(%lld)", (long long)cases[i].us);
	}
	/* round trip */
	static const char *inputs[] = {"2026-03-01T00:00:00+08:00", "2024-02-29T12:34:56.5-11:59",
				       "2100-03-01T00:00:00Z"};
	for (size_t i = 0; i < N(inputs); i++) {
		int64_t a, b;
		char out[32];
		cr_assert(rfc3339_parse(inputs[i], &a));
		rfc3339_format_utc(a, out, sizeof out);
		cr_assert(rfc3339_parse(out, &b), "reparse %s", out);
		cr_expect_eq(a, b);
	}
	/* extreme values do not overflow the buffer */
	char out[32];
	rfc3339_format_utc(INT64_MIN, out, sizeof out);
	rfc3339_format_utc(INT64_MAX, out, sizeof out);
	cr_expect(strlen(out) < sizeof out);
	/* a short buffer is cut, never overrun */
	char small[11];
	rfc3339_format_utc(1772294400000000LL, small, sizeof small);
	cr_expect_str_eq(small, "2026-02-28");
}

/* Every day from 1970 to 2400 against glibc's gmtime_r, and back through the parser. */
Test(unit_validate, rfc3339_calendar_oracle)
{
	const int64_t last_day = 157054; /* 2400-01-01 */
	for (int64_t day = 0; day <= last_day; day++) {
		int64_t us = (day * 86400 + (day * 7919) % 86400) * 1000000 + day % 1000000;
		char got[32], want[96];
		rfc3339_format_utc(us, got, sizeof got);
		time_t t = (time_t)(us / 1000000);
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
		if (strcmp(got, want) != 0)
			cr_assert_fail("day %lld: %s, want %s", (long long)day, got, want);
		int64_t back;
		if (!rfc3339_parse(got, &back) || back != us)
			cr_assert_fail("day %lld: %s does not parse back", (long long)day, got);
	}
}

Test(unit_validate, printable_id)
{
	static const struct {
		const char *in;
		size_t maxlen;
		bool ok;
	} cases[] = {
		{"r-000001", 64, true},
		{"a", 1, true},
		{"!~", 64, true},
		{"ab", 1, false},
		{"", 64, false},
		{"a b", 64, false},
		{"a\tb", 64, false},
		{"a\x7f", 64, false},
		{"caf\xc3\xa9", 64, false},
		{"1234567890123456789012345678901234567890123456789012345678901234", 64, true},
		{"12345678901234567890123456789012345678901234567890123456789012345", 64, false},
	};
	for (size_t i = 0; i < N(cases); i++)
		cr_expect_eq(printable_id(cases[i].in, cases[i].maxlen), cases[i].ok, "printable_id(\"%s\", %zu)",
			     cases[i].in, cases[i].maxlen);
	cr_expect(!printable_id(NULL, 64));
}

Test(unit_validate, text_field)
{
	static const struct {
		const char *in;
		size_t maxlen;
		bool ok;
	} cases[] = {
		{"HT-2026-0001", 64, true},
		{"合同 2026/01", 64, true},
		{"a b", 64, true},
		{"\xf0\x9f\x98\x80", 64, true}, /* U+1F600 */
		{"\xf4\x8f\xbf\xbf", 64, true}, /* U+10FFFF */
		{"\xc2\xa0", 64, true},         /* U+00A0 */
		{"", 64, false},
		{"a\tb", 64, false},
		{"a\nb", 64, false},
		{"a\x7f", 64, false},
		{"\x1b[31m", 64, false},
		{"\xc2\x85", 64, false},         /* C1 control NEL */
		{"\xc0\xaf", 64, false},         /* overlong '/' */
		{"\xe0\x80\xaf", 64, false},     /* overlong */
		{"\xf0\x80\x80\xaf", 64, false}, /* overlong */
		{"\xed\xa0\x80", 64, false},     /* surrogate */
		{"\xf4\x90\x80\x80", 64, false}, /* above U+10FFFF */
		{"\xf5\x80\x80\x80", 64, false},
		{"\xff", 64, false},
		{"\x80", 64, false},     /* lone continuation */
		{"\xe4\xb8", 64, false}, /* truncated */
		{"a\xe4", 64, false},
		{"\xe5\x90\x88\xe5\x90\x8c", 6, true}, /* byte length counts */
		{"\xe5\x90\x88\xe5\x90\x8c", 5, false},
		{"abcde", 5, true},
		{"abcdef", 5, false},
	};
	for (size_t i = 0; i < N(cases); i++)
		cr_expect_eq(text_field(cases[i].in, cases[i].maxlen), cases[i].ok, "text_field case %zu", i);
	cr_expect(!text_field(NULL, 64));
}

Test(unit_validate, invoice_no)
{
	static const struct str_case cases[] = {
		{"26332000000012345678", true},   {"00000000000000000000", true},
		{"2633200000001234567", false},   {"263320000000123456789", false},
		{"2633200000001234567a", false},  {"2633200000001234567 ", false},
		{" 26332000000012345678", false}, {"", false},
	};
	for (size_t i = 0; i < N(cases); i++)
		cr_expect_eq(invoice_no_valid(cases[i].in), cases[i].ok, "invoice_no_valid(\"%s\")", cases[i].in);
	cr_expect(!invoice_no_valid(NULL));
}
