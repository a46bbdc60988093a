/* settlement/calendar: civil dates, the calendar file, working days.  No
 * database: calendars are built from the shipped files
 * (settlement/calendar/YYYY.txt under $VOUCHER_TEST_ROOT, else the current
 * directory) and from texts written here. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "settlement/calendar.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *shipped(int year)
{
	static char path[1024];
	const char *root = getenv("VOUCHER_TEST_ROOT") ? getenv("VOUCHER_TEST_ROOT") : ".";
	snprintf(path, sizeof path, "%s/settlement/calendar/%d.txt", root, year);
	return path;
}

static cal_date_t D(const char *s)
{
	cal_date_t d;
	cr_assert(cal_date_parse(s, &d), "bad date in the test: %s", s);
	return d;
}

static void load_shipped(cal_t *cal, int year)
{
	cal_file_t f;
	char err[4096];
	cr_assert(cal_file_read(shipped(year), &f, err, sizeof err), "%s", err);
	cal_add_file(cal, &f);
	cal_file_free(&f);
}

/* ------------------------------------------------------------------ dates */

Test(unit_calendar_dates, parse_is_strict)
{
	static const char *const good[] = {"2026-02-14", "2024-02-29", "2000-02-29",
					   "1900-01-01", "9999-12-31", "2026-12-31"};
	static const char *const bad[] = {"2026-02-30",    "2025-02-29", "1900-02-29", "2026-13-01", "2026-00-10",
					  "2026-01-00",    "2026-1-01",  "2026-01-1",  "2026/01/01", "2026-01-01 ",
					  " 2026-01-01",   "20260101",   "1899-12-31", "",           "2026-04-31",
					  "２０２６-01-01"};
	cal_date_t d;
	for (size_t i = 0; i < N(good); i++)
		cr_expect(cal_date_parse(good[i], &d), "%s should parse", good[i]);
	for (size_t i = 0; i < N(bad); i++)
		cr_expect_not(cal_date_parse(bad[i], &d), "'%s' should be refused", bad[i]);
	cr_assert(cal_date_parse("2026-02-14", &d));
	cr_expect(d.year == 2026 && d.month == 2 && d.day == 14);
	char out[11];
	cal_date_format(d, out);
	cr_expect_str_eq(out, "2026-02-14");
}

Test(unit_calendar_dates, weekdays_of_known_days)
{
	static const struct {
		const char *day;
		int iso;
	} cases[] = {
		{"1970-01-01", 4}, {"1900-01-01", 1}, {"2000-02-29", 2}, {"2024-12-31", 2},
		{"2026-02-14", 6}, {"2026-01-04", 7}, {"2026-02-16", 1}, {"2025-10-08", 3},
		{"2025-10-11", 6}, {"2025-09-28", 7}, {"2026-02-26", 4}, {"2100-03-01", 1},
	};
	for (size_t i = 0; i < N(cases); i++)
		cr_expect_eq(cal_weekday(D(cases[i].day)), cases[i].iso, "%s: %d, want %d", cases[i].day,
			     cal_weekday(D(cases[i].day)), cases[i].iso);
	cr_expect_str_eq(cal_weekday_name(3), "Wednesday");
}

/* Every day 1900-2100 against timegm/gmtime (UTC: no time zone involved):
 * days since the epoch, the weekday and the round trip. */
Test(unit_calendar_dates, civil_arithmetic_matches_libc)
{
	cal_date_t d = {1900, 1, 1};
	int64_t days = cal_days(d);
	for (int i = 0; i < 201 * 366; i++) {
		cal_date_t back = cal_from_days(days + i);
		if (back.year > 2100)
			break;
		struct tm tm = {0};
		tm.tm_year = back.year - 1900;
		tm.tm_mon = back.month - 1;
		tm.tm_mday = back.day;
		time_t t = timegm(&tm);
		cr_assert_eq((int64_t)(t / 86400), days + i, "%04d-%02d-%02d", back.year, back.month, back.day);
		struct tm g;
		gmtime_r(&t, &g);
		cr_assert_eq(g.tm_year + 1900, back.year);
		cr_assert_eq(g.tm_mon + 1, back.month);
		cr_assert_eq(g.tm_mday, back.day);
		cr_assert_eq(cal_weekday(back), g.tm_wday == 0 ? 7 : g.tm_wday);
		cr_assert_eq(cal_days(back), days + i);
	}
}

/* ------------------------------------------------------------------ shipped files */

Test(unit_calendar_files, shipped_years_parse)
{
	static const struct {
		int year;
		size_t holidays, workdays;
	} want[] = {{2025, 18, 5}, {2026, 19, 6}};
	for (size_t i = 0; i < N(want); i++) {
		cal_file_t f;
		char err[4096];
		cr_assert(cal_file_read(shipped(want[i].year), &f, err, sizeof err), "%s", err);
		cr_expect_eq(f.year, want[i].year);
		cr_expect(f.source && strstr(f.source, "国务院办公厅"), "source: %s", f.source);
		cr_expect_eq(f.nholidays, want[i].holidays, "%d: %zu holidays", f.year, f.nholidays);
		cr_expect_eq(f.nworkdays, want[i].workdays, "%d: %zu workdays", f.year, f.nworkdays);
		cr_expect_eq(f.ndays, f.nholidays + f.nworkdays);
		/* the shipped convention: only exceptions, so every holiday is Monday-Friday */
		for (size_t k = 0; k < f.ndays; k++) {
			int wd = cal_weekday(f.days[k].date);
			if (f.days[k].kind == CAL_HOLIDAY)
				cr_expect(wd <= 5, "%d line %d: holiday on a weekend", f.year, f.days[k].line);
			else
				cr_expect(wd >= 6, "%d line %d: workday on a weekday", f.year, f.days[k].line);
			cr_expect(f.days[k].name[0]);
		}
		cal_file_free(&f);
	}
}

Test(unit_calendar_files, known_days)
{
	cal_t cal = CAL_INIT;
	load_shipped(&cal, 2025);
	load_shipped(&cal, 2026);
	static const struct {
		const char *day;
		bool work;
	} cases[] = {
		{"2026-02-14", true},  /* Saturday, 春节调休上班 */
		{"2026-02-16", false}, /* Monday, 春节 */
		{"2026-01-04", true},  /* Sunday, 元旦调休上班 */
		{"2025-10-08", false}, /* Wednesday, 国庆节、中秋节 */
		{"2025-10-11", true},  /* Saturday, 国庆节调休上班 */
		{"2026-03-07", false}, /* an ordinary Saturday */
		{"2026-03-08", false}, /* an ordinary Sunday */
		{"2026-03-09", true},  /* an ordinary Monday */
		{"2026-02-15", false}, /* Sunday inside 春节: off anyway, not listed */
		{"2026-02-28", true},  /* Saturday, 春节调休上班 */
		{"2025-01-01", false}, /* Wednesday, 元旦 */
		{"2025-06-02", false}, /* Monday, 端午节 */
		{"2026-09-20", true},  /* Sunday, 国庆节调休上班 */
		{"2026-10-08", true},  /* Thursday after 国庆节 */
	};
	for (size_t i = 0; i < N(cases); i++) {
		bool ok = false;
		bool w = cal_is_workday(&cal, D(cases[i].day), &ok);
		cr_expect(ok, "%s: year not loaded?", cases[i].day);
		cr_expect_eq(w, cases[i].work, "%s: %s, want %s", cases[i].day, w ? "work" : "off",
			     cases[i].work ? "work" : "off");
	}
	bool ok = true;
	cr_expect_not(cal_is_workday(&cal, D("2027-01-04"), &ok));
	cr_expect_not(ok, "2027 is not loaded: not a working day and not ok");
	cr_expect_not(cal_is_workday(&cal, D("2024-12-31"), &ok));
	cr_expect_not(ok);
	cr_expect(cal_has_year(&cal, 2025) && cal_has_year(&cal, 2026) && !cal_has_year(&cal, 2024));
	cal_free(&cal);
}

/* ------------------------------------------------------------------ counting */

Test(unit_calendar_count, nth_working_day_after)
{
	cal_t cal = CAL_INIT;
	load_shipped(&cal, 2025);
	load_shipped(&cal, 2026);
	static const struct {
		const char *from;
		int n;
		const char *want;
	} cases[] = {
		/* 2/13, 2/14 (swapped Saturday), then 2/24, 2/25, 2/26 */
		{"2026-02-12", 5, "2026-02-26"},
		/* 9/28 (swapped Sunday), 9/29, 9/30, 10/9, 10/10 */
		{"2025-09-26", 5, "2025-10-10"},
		/* 1/26 (swapped Sunday), 1/27, then 2/5, 2/6, 2/7 */
		{"2025-01-24", 5, "2025-02-07"},
		/* 5/6, 5/7, 5/8, 5/9 (swapped Saturday), 5/11 */
		{"2026-04-30", 5, "2026-05-11"},
		/* across the year end: 1/1-1/3 off, Sunday 1/4 works */
		{"2025-12-31", 1, "2026-01-04"},
		{"2025-12-30", 2, "2026-01-04"},
		/* start on a holiday or a weekend: the count starts the day after */
		{"2026-02-15", 1, "2026-02-24"},
		{"2026-03-07", 1, "2026-03-09"},
		{"2026-03-09", 1, "2026-03-10"},
		{"2026-03-09", 10, "2026-03-23"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		cal_date_t out;
		char err[512], got[11];
		cr_assert(cal_add_workdays(&cal, D(cases[i].from), cases[i].n, &out, err, sizeof err), "%s + %d: %s",
			  cases[i].from, cases[i].n, err);
		cal_date_format(out, got);
		cr_expect_str_eq(got, cases[i].want, "%s + %d working days: %s, want %s", cases[i].from, cases[i].n,
				 got, cases[i].want);
	}
	/* a whole year of working days fits in the two loaded years */
	cal_date_t out;
	char err[512];
	cr_expect(cal_add_workdays(&cal, D("2025-01-01"), 240, &out, err, sizeof err), "%s", err);
	cal_free(&cal);
}

Test(unit_calendar_count, unloaded_year_is_refused)
{
	cal_t cal = CAL_INIT;
	load_shipped(&cal, 2026);
	cal_date_t out = {0, 0, 0};
	char err[512];
	/* 12/29, 12/30, 12/31 are in 2026; the 4th needs 2027 */
	cr_assert_not(cal_add_workdays(&cal, D("2026-12-28"), 5, &out, err, sizeof err));
	cr_expect(strstr(err, "2027") && strstr(err, "not loaded") && strstr(err, "voucherctl calendar load"), "%s",
		  err);
	cr_expect_eq(out.year, 0, "out is left alone");
	/* the start's own year need not be loaded ... */
	cr_assert(cal_add_workdays(&cal, D("2025-12-31"), 1, &out, err, sizeof err), "%s", err);
	cr_expect(out.year == 2026 && out.month == 1 && out.day == 4);
	/* ... but a day to look at in it must */
	cr_assert_not(cal_add_workdays(&cal, D("2025-12-30"), 1, &out, err, sizeof err));
	cr_expect(strstr(err, "2025") && strstr(err, "calendar load"), "%s", err);
	/* nothing loaded at all */
	cal_t empty = CAL_INIT;
	cr_assert_not(cal_add_workdays(&empty, D("2026-03-09"), 1, &out, err, sizeof err));
	cr_expect(strstr(err, "2026"), "%s", err);
	/* n < 1 */
	cr_assert_not(cal_add_workdays(&cal, D("2026-03-09"), 0, &out, err, sizeof err));
	cr_expect(strstr(err, "at least 1"), "%s", err);
	cal_free(&cal);
}

Test(unit_calendar_count, adding_a_year_again_replaces_it)
{
	static const char corrected[] = "source a corrected notice\n"
					"year 2026\n"
					"2026-02-16 holiday 春节\n";
	cal_t cal = CAL_INIT;
	load_shipped(&cal, 2026);
	bool ok;
	cr_assert(cal_is_workday(&cal, D("2026-02-14"), &ok));
	cal_file_t f;
	char err[512];
	cr_assert(cal_file_parse("fix.txt", corrected, strlen(corrected), &f, err, sizeof err), "%s", err);
	cal_add_file(&cal, &f);
	cal_file_free(&f);
	cr_expect_not(cal_is_workday(&cal, D("2026-02-14"), &ok), "the old swapped Saturday is gone");
	cr_expect(ok);
	cr_expect_not(cal_is_workday(&cal, D("2026-02-16"), &ok));
	cr_expect(cal_is_workday(&cal, D("2026-02-17"), &ok));
	cr_expect_eq(cal.nyears, 1);
	cal_free(&cal);
}

/* ------------------------------------------------------------------ malformed files */

#define HEAD "source test\nyear 2026\n" /* lines 1-2 */

Test(unit_calendar_files, malformed_files_name_the_line)
{
	static const struct {
		const char *what;
		const char *text;
		const char *want; /* in the message; "f.txt:LINE:" first */
		const char *also;
	} cases[] = {
		{"bad date", HEAD "2026-01-01 holiday 元旦\n2026-02-30 holiday 春节\n", "f.txt:4:", "not a real date"},
		{"not a date", HEAD "2026-1-1 holiday 元旦\n", "f.txt:3:", "not a real date"},
		{"wrong year", HEAD "2025-12-31 holiday 元旦\n", "f.txt:3:", "not in 2026"},
		{"workday on a Wednesday", HEAD "2026-03-04 workday 调休\n",
		 "f.txt:3:", "Wednesday: a 'workday' must be a Saturday or Sunday"},
		{"duplicate day", HEAD "2026-01-01 holiday 元旦\n\n2026-01-01 holiday 元旦\n",
		 "f.txt:5:", "already listed on line 3"},
		{"unknown kind", HEAD "2026-01-01 off 元旦\n", "f.txt:3:", "unknown kind 'off'"},
		{"missing kind", HEAD "2026-01-01\n", "f.txt:3:", "KIND"},
		{"missing name", HEAD "2026-01-01 holiday   \n", "f.txt:3:", "NAME is missing"},
		{"unknown line", HEAD "yaer 2026\n2026-01-01 holiday 元旦\n", "f.txt:3:", "'yaer'"},
		{"year twice", HEAD "year 2026\n2026-01-01 holiday 元旦\n", "f.txt:3:", "second 'year'"},
		{"source twice", HEAD "source again\n2026-01-01 holiday 元旦\n", "f.txt:3:", "second 'source'"},
		{"bad year", "source s\nyear 26\n2026-01-01 holiday 元旦\n", "f.txt:2:", "four digits"},
		{"year out of range", "source s\nyear 1999\n1999-01-01 holiday 元旦\n", "f.txt:2:", "2000-2100"},
		{"day before year", "source s\n2026-01-01 holiday 元旦\nyear 2026\n",
		 "f.txt:2:", "before the 'year YYYY' line"},
		{"no year", "source s\n", "f.txt: no 'year", "which year"},
		{"no source", "year 2026\n2026-01-01 holiday 元旦\n", "f.txt: no 'source", "notice"},
		{"no days", HEAD "# nothing\n", "f.txt: lists no days", "right file"},
		{"control character in name", HEAD "2026-01-01 holiday 元\x01旦\n", "f.txt:3:", "control character"},
		{"not UTF-8", HEAD "2026-01-01 holiday \xd4\xaa\xb5\xa9\n", "f.txt:3:", "UTF-8"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		cal_file_t f;
		char err[2048];
		bool ok = cal_file_parse("f.txt", cases[i].text, strlen(cases[i].text), &f, err, sizeof err);
		cr_expect_not(ok, "%s: accepted", cases[i].what);
		if (ok) {
			cal_file_free(&f);
			continue;
		}
		cr_expect(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0, "%s: message starts '%s', want '%s'",
			  cases[i].what, err, cases[i].want);
		cr_expect(strstr(err, cases[i].also) != NULL, "%s: '%s' lacks '%s'", cases[i].what, err, cases[i].also);
		cr_expect_eq(f.ndays, 0, "%s: *f is left empty", cases[i].what);
		cr_expect_null(f.days);
	}
}

Test(unit_calendar_files, every_problem_is_listed)
{
	static const char text[] = HEAD "2026-02-30 holiday a\n"
					"2026-01-01 holiday 元旦\n"
					"2026-03-04 workday b\n"
					"2026-01-01 holiday 元旦\n";
	cal_file_t f;
	char err[2048];
	cr_assert_not(cal_file_parse("f.txt", text, strlen(text), &f, err, sizeof err));
	cr_expect(strstr(err, "f.txt:3:") && strstr(err, "f.txt:5:") && strstr(err, "f.txt:6:"), "%s", err);
	cr_expect_null(strstr(err, "f.txt:4:"), "%s", err);
	/* a flood of problems is cut off with a count */
	char big[64 * 40 + 64] = HEAD;
	for (int i = 0; i < 40; i++)
		strcat(big, "2026-02-30 holiday x\n");
	cr_assert_not(cal_file_parse("f.txt", big, strlen(big), &f, err, sizeof err));
	cr_expect(strstr(err, "20 more problems not shown"), "%s", err);
	/* a tiny buffer is not overrun */
	char tiny[8];
	cr_assert_not(cal_file_parse("f.txt", text, strlen(text), &f, tiny, sizeof tiny));
	cr_expect_eq(strlen(tiny), 7);
}

Test(unit_calendar_files, what_is_accepted)
{
	/* a BOM, CRLF, comments, blanks and tabs, a weekend holiday, '#' in a name */
	static const char text[] = "\xef\xbb\xbf# 2026\r\n"
				   "\r\n"
				   "  source   国务院办公厅 通知  \r\n"
				   "year\t2026\r\n"
				   "   # indented comment\r\n"
				   "2026-02-15\tholiday\t春节 # 腊月二十八\r\n"
				   "2026-02-16 holiday 春节\r\n"
				   "2026-02-14 workday 春节调休上班";
	cal_file_t f;
	char err[1024];
	cr_assert(cal_file_parse("ok.txt", text, strlen(text), &f, err, sizeof err), "%s", err);
	cr_expect_eq(f.year, 2026);
	cr_expect_str_eq(f.source, "国务院办公厅 通知");
	cr_expect_eq(f.ndays, 3);
	cr_expect_eq(f.nholidays, 2, "the Sunday holiday is kept and counted");
	cr_expect_eq(f.nworkdays, 1);
	cr_expect_str_eq(f.days[0].name, "春节 # 腊月二十八");
	cr_expect_eq(f.days[0].line, 6);
	cr_expect_eq(f.days[2].line, 8);
	cr_expect_eq(f.days[2].kind, CAL_WORKDAY);
	cal_t cal = CAL_INIT;
	cal_add_file(&cal, &f);
	bool ok;
	cr_expect_not(cal_is_workday(&cal, D("2026-02-15"), &ok), "a weekend holiday changes nothing");
	cr_expect(cal_is_workday(&cal, D("2026-02-14"), &ok));
	cal_free(&cal);
	cal_file_free(&f);
	/* NUL bytes and a missing file */
	cr_assert_not(cal_file_parse("n.txt", "year 2026\0", 10, &f, err, sizeof err));
	cr_expect(strstr(err, "n.txt: holds NUL bytes"), "%s", err);
	cr_assert_not(cal_file_read("/nonexistent/2026.txt", &f, err, sizeof err));
	cr_expect(strstr(err, "/nonexistent/2026.txt: cannot open"), "%s", err);
}
