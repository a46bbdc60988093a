/* voucherctl calendar ...: the real binary against a fresh database per test,
 * with the shipped settlement/calendar files. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/support.h"

static char conninfo[512];
static PGconn *db;
static char tmpdir[64];

static void setup(void)
{
	db = t_newdb(conninfo, sizeof conninfo);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/vcal-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	if (db)
		PQfinish(db);
	if (tmpdir[0] && strncmp(tmpdir, "/tmp/vcal-", 10) == 0) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		t_run(cmd, NULL, 0, NULL, 0);
	}
}

#define ctl(...) t_ctl(conninfo, __VA_ARGS__)

static const char *shipped(int year)
{
	static char rel[64];
	snprintf(rel, sizeof rel, "settlement/calendar/%d.txt", year);
	return t_root_path(rel);
}

static const char *write_file(const char *name, const char *content)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	fputs(content, f);
	fclose(f);
	return path;
}

static long count(const char *sql)
{
	return atol(t_scalar(db, sql));
}

static void load_ok(int year)
{
	struct t_ctl_run *r = ctl("calendar load '%s'", shipped(year));
	cr_assert_eq(r->rc, 0, "calendar load %d: %s", year, r->err);
}

TestSuite(calendar, .init = setup, .fini = teardown, .timeout = 60);

Test(calendar, load_fills_the_tables)
{
	struct t_ctl_run *r = ctl("calendar load '%s'", shipped(2026));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(r->out, "loaded calendar 2026: 19 holidays, 6 working weekend days\n");
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_years"), 1);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days WHERE year = 2026"), 25);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days WHERE kind = 'holiday'"), 19);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days WHERE kind = 'workday'"), 6);
	cr_expect_str_eq(t_scalar(db, "SELECT kind || ' ' || name FROM voucher.calendar_days "
				      "WHERE day = '2026-02-14'"),
			 "workday 春节调休上班");
	cr_expect(strstr(t_scalar(db, "SELECT source FROM voucher.calendar_years WHERE year = 2026"),
			 "国务院办公厅关于2026年部分节假日安排的通知"));
	/* every stored day belongs to its year */
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days "
			   "WHERE extract(year FROM day) <> year"),
		     0);
}

Test(calendar, a_reload_is_a_new_version_in_force)
{
	load_ok(2025);
	load_ok(2026);
	struct t_ctl_run *r = ctl("calendar load '%s'", shipped(2026));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect(strncmp(r->out, "loaded calendar 2026: 19 holidays, 6 working weekend days\n", 58) == 0, "%s",
		  r->out);
	cr_expect(strstr(r->out, "in force instead of the calendar of 2026"), "%s", r->out);
	/* calendars are versions: the earlier load of 2026 stays on record */
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_loads WHERE year = 2026"), 2);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_years"), 2);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days WHERE year = 2026"), 25);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days WHERE year = 2025"), 23);

	/* a corrected file: what it no longer lists is gone, 2025 is untouched */
	const char *fix = write_file("2026-fixed.txt", "source 更正\n"
						       "year 2026\n"
						       "2026-01-01 holiday 元旦\n"
						       "2026-01-03 holiday 元旦（周六）\n");
	r = ctl("calendar load '%s'", fix);
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect(strncmp(r->out, "loaded calendar 2026: 2 holidays, 0 working weekend days\n", 57) == 0, "%s", r->out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days WHERE year = 2026"), 2);
	cr_expect_str_eq(t_scalar(db, "SELECT source FROM voucher.calendar_years WHERE year = 2026"), "更正");
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days WHERE year = 2025"), 23);
	r = ctl("calendar workdays --from 2026-02-12 --count 5");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(r->out, "2026-02-19\n", "the corrected year counts without the old holidays");
}

Test(calendar, workdays_counts_on_the_loaded_calendar)
{
	load_ok(2026);
	struct t_ctl_run *r = ctl("calendar workdays --from 2026-02-12 --count 5");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(r->out, "2026-02-26\n");
	/* the start's year need not be loaded: 1/1-1/3 off, Sunday 1/4 works */
	r = ctl("calendar workdays --from=2025-12-31 --count=1");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(r->out, "2026-01-04\n");
	/* into a year that is not loaded: refused, saying which and how */
	r = ctl("calendar workdays --from 2026-12-28 --count 5");
	cr_expect_eq(r->rc, 1);
	cr_expect_str_eq(r->out, "");
	cr_expect(strstr(r->err, "2027") && strstr(r->err, "voucherctl calendar load"), "%s", r->err);
	r = ctl("calendar workdays --from 2025-09-26 --count 5");
	cr_expect_eq(r->rc, 1);
	cr_expect(strstr(r->err, "2025") && strstr(r->err, "not loaded"), "%s", r->err);
	load_ok(2025);
	r = ctl("calendar workdays --from 2025-09-26 --count 5");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(r->out, "2025-10-10\n");
}

Test(calendar, a_bad_file_loads_nothing)
{
	const char *bad = write_file("2026.txt", "source test\n"
						 "year 2026\n"
						 "2026-01-01 holiday 元旦\n"
						 "\n"
						 "2026-03-04 workday 调休\n"
						 "2026-01-01 holiday 元旦\n");
	struct t_ctl_run *r = ctl("calendar load '%s'", bad);
	cr_expect_eq(r->rc, 1);
	cr_expect_str_eq(r->out, "");
	char want[512];
	snprintf(want, sizeof want, "%s:5: 2026-03-04 is a Wednesday", bad);
	cr_expect(strstr(r->err, want), "%s", r->err);
	snprintf(want, sizeof want, "%s:6: 2026-01-01 is already listed on line 3", bad);
	cr_expect(strstr(r->err, want), "%s", r->err);
	cr_expect(strstr(r->err, "nothing was loaded"), "%s", r->err);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_years"), 0);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days"), 0);

	/* over a loaded year: the year stays as it was */
	load_ok(2026);
	r = ctl("calendar load '%s'", bad);
	cr_expect_eq(r->rc, 1);
	cr_expect_eq(count("SELECT count(*) FROM voucher.calendar_days WHERE year = 2026"), 25);
	cr_expect(strstr(t_scalar(db, "SELECT source FROM voucher.calendar_years"), "国务院办公厅"));

	r = ctl("calendar load '%s/missing.txt'", tmpdir);
	cr_expect_eq(r->rc, 1);
	cr_expect(strstr(r->err, "missing.txt: cannot open"), "%s", r->err);
}

Test(calendar, finance_role_may_load)
{
	char fin[600];
	t_conninfo_as(conninfo, "voucher_finance", fin, sizeof fin);
	struct t_ctl_run *r = t_ctl(fin, "calendar load '%s'", shipped(2026));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	r = t_ctl(fin, "calendar load '%s'", shipped(2026));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(t_scalar(db, "SELECT loaded_by FROM voucher.calendar_years WHERE year = 2026"),
			 "voucher_finance");
	r = t_ctl(fin, "calendar workdays --from 2026-02-12 --count 5");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(r->out, "2026-02-26\n");
}

Test(calendar, show_and_list)
{
	load_ok(2026);
	struct t_ctl_run *r = ctl("--format csv calendar show 2026");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect(strncmp(r->out,
			  "\xef\xbb\xbf"
			  "day,weekday,kind,name\r\n2026-01-01,Thursday,holiday,元旦\r\n",
			  strlen("\xef\xbb\xbf"
				 "day,weekday,kind,name\r\n2026-01-01,Thursday,holiday,元旦\r\n")) == 0,
		  "%s", r->out);
	cr_expect(strstr(r->out, "2026-02-14,Saturday,workday,春节调休上班\r\n"), "%s", r->out);

	r = ctl("calendar show 2026 --format json");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	json_error_t je;
	json_t *j = json_loads(r->out, JSON_REJECT_DUPLICATES, &je);
	cr_assert_not_null(j, "%s: %s", je.text, r->out);
	cr_expect_eq(json_array_size(j), 25);
	json_t *first = json_array_get(j, 0);
	cr_expect_str_eq(json_string_value(json_object_get(first, "day")), "2026-01-01");
	cr_expect_str_eq(json_string_value(json_object_get(first, "kind")), "holiday");
	json_decref(j);

	r = ctl("calendar show 2026");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect(strstr(r->out, "春节调休上班"), "%s", r->out);

	r = ctl("calendar show 2027");
	cr_expect_eq(r->rc, 1);
	cr_expect(strstr(r->err, "2027 is not loaded") && strstr(r->err, "calendar load"), "%s", r->err);

	r = ctl("--format json calendar list");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	j = json_loads(r->out, JSON_REJECT_DUPLICATES, &je);
	cr_assert_not_null(j, "%s: %s", je.text, r->out);
	cr_assert_eq(json_array_size(j), 1);
	json_t *y = json_array_get(j, 0);
	cr_expect_eq(json_integer_value(json_object_get(y, "year")), 2026);
	cr_expect_eq(json_integer_value(json_object_get(y, "holidays")), 19);
	cr_expect_eq(json_integer_value(json_object_get(y, "working_weekend_days")), 6);
	json_decref(j);
}

Test(calendar, usage_errors_and_help)
{
	static const char *const usage[] = {
		"calendar",
		"calendar bogus",
		"calendar load",
		"calendar load a b",
		"calendar show",
		"calendar show 26",
		"calendar show 1999",
		"calendar workdays --from 2026-02-12",
		"calendar workdays --count 5",
		"calendar workdays --from 2026-02-30 --count 5",
		"calendar workdays --from 2026-02-12 --count 0",
		"calendar workdays --from 2026-02-12 --count 5x",
		"calendar workdays --from 2026-02-12 --count 5 --count 6",
		"calendar workdays --from 2026-02-12 --count 5 --to 2026-03-01",
	};
	for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
		struct t_ctl_run *r = ctl("%s", usage[i]);
		cr_expect_eq(r->rc, 2, "'%s': exit %d, want 2 (%s)", usage[i], r->rc, r->err);
		cr_expect(strstr(r->err, "usage: voucherctl ") && strstr(r->err, " calendar "), "'%s': %s", usage[i],
			  r->err);
	}
	static const char *const help[] = {
		"calendar --help",      "calendar load --help",     "calendar show --help",
		"calendar list --help", "calendar workdays --help",
	};
	for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) {
		struct t_ctl_run *r = ctl("%s", help[i]);
		cr_expect_eq(r->rc, 0, "'%s': exit %d", help[i], r->rc);
		cr_expect(strstr(r->out, "usage: voucherctl"), "'%s': %s", help[i], r->out);
	}
}
