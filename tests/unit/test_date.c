/* Table-driven tests of common/date.c. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "common/date.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(unit_date, leap_years)
{
	static const struct {
		int y;
		bool leap;
	} cases[] = {
		{1900, false}, {1970, false}, {2000, true}, {2023, false}, {2024, true},
		{2025, false}, {2100, false}, {2400, true}, {1600, true},  {4, true},
	};
	for (size_t i = 0; i < N(cases); i++)
		cr_expect_eq(date_is_leap(cases[i].y), cases[i].leap, "%d", cases[i].y);
}

Test(unit_date, days_in_month)
{
	static const int common[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	for (int m = 1; m <= 12; m++) {
		cr_expect_eq(date_days_in_month(2025, m), common[m - 1], "2025-%02d", m);
		cr_expect_eq(date_days_in_month(2024, m), common[m - 1] + (m == 2), "2024-%02d", m);
	}
	cr_expect_eq(date_days_in_month(1900, 2), 28);
	cr_expect_eq(date_days_in_month(2000, 2), 29);
}

Test(unit_date, parse)
{
	static const struct {
		const char *s;
		int min_year;
		bool ok;
		int y, m, d;
	} cases[] = {
		{"2026-03-31", 1900, true, 2026, 3, 31}, {"2024-02-29", 1970, true, 2024, 2, 29},
		{"2025-02-29", 1900, false, 0, 0, 0},    {"1900-02-29", 1900, false, 0, 0, 0},
		{"2000-02-29", 1900, true, 2000, 2, 29}, {"2026-04-31", 1900, false, 0, 0, 0},
		{"2026-00-10", 1900, false, 0, 0, 0},    {"2026-13-10", 1900, false, 0, 0, 0},
		{"2026-01-00", 1900, false, 0, 0, 0},    {"1899-12-31", 1900, false, 0, 0, 0},
		{"1900-01-01", 1900, true, 1900, 1, 1},  {"1969-12-31", 1970, false, 0, 0, 0},
		{"1970-01-01", 1970, true, 1970, 1, 1},  {"9999-12-31", 1900, true, 9999, 12, 31},
		{"2026-1-01", 1900, false, 0, 0, 0},     {"2026-01-011", 1900, false, 0, 0, 0},
		{"2026-01-0", 1900, false, 0, 0, 0},     {"2026/01/01", 1900, false, 0, 0, 0},
		{" 2026-01-01", 1900, false, 0, 0, 0},   {"2026-01-01 ", 1900, false, 0, 0, 0},
		{"+026-01-01", 1900, false, 0, 0, 0},    {"", 1900, false, 0, 0, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		int y = -1, m = -1, d = -1;
		bool ok = date_parse(cases[i].s, cases[i].min_year, &y, &m, &d);
		cr_expect_eq(ok, cases[i].ok, "'%s'", cases[i].s);
		if (ok && cases[i].ok)
			cr_expect(y == cases[i].y && m == cases[i].m && d == cases[i].d, "'%s'", cases[i].s);
		if (!ok)
			cr_expect(y == -1 && m == -1 && d == -1, "'%s': nothing written", cases[i].s);
	}
	cr_expect(date_parse("2026-01-01", 1900, NULL, NULL, NULL));
}

Test(unit_date, days_from_civil_and_back)
{
	static const struct {
		int64_t y;
		int m, d;
		int64_t days;
	} cases[] = {
		{1970, 1, 1, 0},     {1969, 12, 31, -1},   {2000, 3, 1, 11017},  {2024, 2, 29, 19782},
		{2026, 1, 1, 20454}, {1900, 1, 1, -25567}, {2400, 1, 1, 157054}, {1600, 3, 1, -135080},
	};
	for (size_t i = 0; i < N(cases); i++) {
		cr_expect_eq(date_days_from_civil(cases[i].y, cases[i].m, cases[i].d), cases[i].days, "%lld-%02d-%02d",
			     (long long)cases[i].y, cases[i].m, cases[i].d);
		int64_t y;
		int m, d;
		date_civil_from_days(cases[i].days, &y, &m, &d);
		cr_expect(y == cases[i].y && m == cases[i].m && d == cases[i].d, "day %lld", (long long)cases[i].days);
	}
	/* every day of 1900-2400 against the C library, and round trips */
	for (int64_t day = -25567; day <= 157054; day++) {
		int64_t y;
		int m, d;
		date_civil_from_days(day, &y, &m, &d);
		cr_assert_eq(date_days_from_civil(y, m, d), day);
		cr_assert(m >= 1 && m <= 12 && d >= 1 && d <= date_days_in_month((int)y, m));
		if (day % 97 == 0) {
			time_t t = (time_t)(day * 86400);
			struct tm tm;
			gmtime_r(&t, &tm);
			cr_assert(tm.tm_year + 1900 == y && tm.tm_mon + 1 == m && tm.tm_mday == d, "day %lld",
				  (long long)day);
		}
	}
}

Test(unit_date, month_last_day)
{
	static const struct {
		int y, m;
		const char *out;
	} cases[] = {
		{2026, 1, "2026-01-31"}, {2026, 2, "2026-02-28"}, {2024, 2, "2024-02-29"},
		{2100, 2, "2100-02-28"}, {2026, 4, "2026-04-30"}, {2026, 12, "2026-12-31"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[11];
		date_month_last_day(cases[i].y, cases[i].m, out);
		cr_expect_str_eq(out, cases[i].out);
	}
}

Test(unit_date, china_month_start)
{
	static const struct {
		int y, m;
		const char *out;
	} cases[] = {
		{2026, 1, "2026-01-01 00:00:00+08"},
		{2026, 3, "2026-03-01 00:00:00+08"},
		{2026, 12, "2026-12-01 00:00:00+08"},
		{2026, 13, "2027-01-01 00:00:00+08"}, /* the end of December */
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[40];
		date_cn_month_start(cases[i].y, cases[i].m, out, sizeof out);
		cr_expect_str_eq(out, cases[i].out);
	}
}

/* A checkpoint's UTC time shown in China time (audit checkpoint, audit verify). */
Test(unit_date, utc_z_to_cn)
{
	static const struct {
		const char *z, *cn;
	} ok[] = {
		{"2026-11-25T03:40:00Z", "2026-11-25 11:40:00"}, {"2026-11-25T16:00:00Z", "2026-11-26 00:00:00"},
		{"2026-12-31T23:59:59Z", "2027-01-01 07:59:59"}, {"2028-02-28T20:00:00Z", "2028-02-29 04:00:00"},
		{"2026-02-28T20:00:00Z", "2026-03-01 04:00:00"},
	};
	char out[32];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		cr_expect(date_utc_z_to_cn(ok[i].z, out, sizeof out), "%s", ok[i].z);
		cr_expect_str_eq(out, ok[i].cn, "%s", ok[i].z);
	}
	static const char *const bad[] = {"2026-11-25 03:40:00Z",
					  "2026-11-25T03:40:00",
					  "2026-02-30T00:00:00Z",
					  "2026-11-25T24:00:00Z",
					  "",
					  NULL};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_expect(!date_utc_z_to_cn(bad[i], out, sizeof out), "%s", bad[i] ? bad[i] : "NULL");
		cr_expect_str_empty(out);
	}
}

Test(unit_date, year_valid)
{
	cr_assert(date_year_valid("2000"));
	cr_assert(date_year_valid("2026"));
	cr_assert(date_year_valid("2100"));
	cr_assert_not(date_year_valid("1999"));
	cr_assert_not(date_year_valid("2101"));
	cr_assert_not(date_year_valid("20266"));
	cr_assert_not(date_year_valid("202"));
	cr_assert_not(date_year_valid("20a6"));
	cr_assert_not(date_year_valid(" 2026"));
	cr_assert_not(date_year_valid(""));
	cr_assert_not(date_year_valid(NULL));
}
