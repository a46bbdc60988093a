/* voucherctl calendar ...: China's official working-day calendar.
 *
 *   calendar load FILE                         replace one year (settlement/calendar/YYYY.txt)
 *   calendar list                              the loaded years
 *   calendar show YEAR                         a year's holidays and swapped working days
 *   calendar workdays --from DATE --count N    the N-th working day after DATE
 *
 * The file is checked completely before the database is touched; a load is
 * one transaction (a failed load changes nothing).  Exit codes: 0 done,
 * 1 refused or failed (the message says what to do), 2 the command line is
 * wrong. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/db.h"
#include "ctl/ctl.h"
#include "ctl/output.h"
#include "settlement/calendar.h"

#define COUNT_MAX 3660 /* working days asked for: about 15 years */

/* ------------------------------------------------------------------ usage */

static const char usage_calendar[] = "usage: voucherctl calendar load FILE\n"
				     "       voucherctl calendar list\n"
				     "       voucherctl calendar show YEAR\n"
				     "       voucherctl calendar workdays --from YYYY-MM-DD --count N\n"
				     "China's official calendar (holidays and swapped working days, 调休), which the\n"
				     "5-working-day public notice of a settlement run is counted on.\n"
				     "Run 'voucherctl calendar SUBCOMMAND --help' for details.\n";

static const char usage_load[] = "usage: voucherctl calendar load FILE\n"
				 "Loads one year of the official calendar from FILE (2025 and 2026 ship as\n"
				 "settlement/calendar/YYYY.txt; the format is described at the top of those\n"
				 "files).  The whole file is checked first; problems are listed as FILE:LINE and\n"
				 "nothing is loaded.  Loading replaces everything stored for that year in one\n"
				 "transaction, so a corrected file is simply loaded again.  Runs published\n"
				 "before keep the end of notice they were given.\n";

static const char usage_list[] = "usage: voucherctl [--format table|csv|json] calendar list\n"
				 "Lists the loaded years with their counts of holidays and working weekend days,\n"
				 "their source document, and when and by whom they were loaded.\n";

static const char usage_show[] = "usage: voucherctl [--format table|csv|json] calendar show YEAR\n"
				 "Lists the year's exceptions: the holidays (days off) and the Saturdays and\n"
				 "Sundays that are working days.  Every other Monday-Friday is a working day.\n";

static const char usage_workdays[] =
	"usage: voucherctl calendar workdays --from YYYY-MM-DD --count N\n"
	"Prints the date of the N-th working day after DATE (DATE itself is not counted),\n"
	"on the official calendar as loaded: '--from 2026-02-12 --count 5' prints\n"
	"2026-02-26.  N is 1-3660.  Refused if the count reaches a year that is not loaded.\n";

/* ------------------------------------------------------------------ arguments */

/* A whole decimal number in [min, max]. */
static bool parse_int(const char *s, long min, long max, long *v)
{
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno || end == s || *end || s[0] == '+' || s[0] == ' ' || x < min || x > max)
		return false;
	*v = x;
	return true;
}

static bool begin_read(PGconn *c)
{
	return db_run(c, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
}

/* ------------------------------------------------------------------ load */

static int calendar_load(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "calendar load";
	const char *pos[1];
	int rc = ctl_parse_args(argc, argv, 2, NULL, pos, 1, what, usage_load);
	if (rc >= 0)
		return rc;
	const char *path = pos[0];
	cal_file_t f = CAL_FILE_INIT;
	char err[4096];
	if (!cal_file_read(path, &f, err, sizeof err)) {
		fprintf(stderr, "%s\n%s: nothing was loaded (correct the file and load it again)\n", err, what);
		return CTL_FAIL;
	}
	PGconn *c = ctl_conn(ctx);
	if (!c || !db_begin(c)) {
		cal_file_free(&f);
		return CTL_FAIL;
	}
	PGresult *prev = NULL;
	rc = CTL_FAIL;
	char year[16];
	snprintf(year, sizeof year, "%d", f.year);
	/* a new load of the year; the earlier ones stay on record */
	buf_t days = BUF_INIT, kinds = BUF_INIT, names = BUF_INIT;
	for (size_t i = 0; i < f.ndays; i++) {
		char day[11];
		cal_date_format(f.days[i].date, day);
		db_array_add(&days, day);
		db_array_add(&kinds, cal_kind_name(f.days[i].kind));
		db_array_add(&names, f.days[i].name);
	}
	db_array_end(&days);
	db_array_end(&kinds);
	db_array_end(&names);
	const char *pl[] = {year, f.source, days.data, kinds.data, names.data};
	prev = db_exec(
		c, what,
		"SELECT previous FROM voucher.calendar_load($1::integer, $2, $3::date[], $4::text[], $5::text[]) "
		"WHERE previous IS NOT NULL",
		5, pl);
	buf_free(&days);
	buf_free(&kinds);
	buf_free(&names);
	if (!prev)
		goto failed;
	if (!db_commit(c)) {
		fprintf(stderr, "%s: nothing was loaded\n", what);
		goto done;
	}
	printf("loaded calendar %d: %zu holidays, %zu working weekend days\n", f.year, f.nholidays, f.nworkdays);
	if (PQntuples(prev) > 0)
		printf("(in force instead of the calendar of %d loaded %s, which stays on record)\n", f.year,
		       PQgetvalue(prev, 0, 0));
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
	fprintf(stderr, "%s: nothing was loaded\n", what);
done:
	PQclear(prev);
	cal_file_free(&f);
	return rc;
}

/* ------------------------------------------------------------------ list / show */

static int calendar_list(ctl_t *ctx, int argc, char **argv)
{
	int rc = ctl_parse_args(argc, argv, 2, NULL, NULL, 0, "calendar list", usage_list);
	if (rc >= 0)
		return rc;
	static const out_col_t cols[] = {
		{"year", OUT_INT},    {"holidays", OUT_INT},        {"working_weekend_days", OUT_INT},
		{"source", OUT_TEXT}, {"loaded_at", OUT_TIMESTAMP}, {"loaded_by", OUT_TEXT},
	};
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	PGresult *r = db_exec(c, "calendar list",
			      "SELECT y.year, "
			      "  (SELECT count(*) FROM voucher.calendar_days d "
			      "    WHERE d.year = y.year AND d.kind = 'holiday'), "
			      "  (SELECT count(*) FROM voucher.calendar_days d "
			      "    WHERE d.year = y.year AND d.kind = 'workday'), "
			      "  y.source, y.loaded_at, y.loaded_by "
			      "FROM voucher.calendar_years y ORDER BY y.year",
			      0, NULL);
	if (!r)
		return CTL_FAIL;
	bool ok = out_print(stdout, ctx->format, cols, 6, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

static int calendar_show(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "calendar show";
	const char *pos[1];
	int rc = ctl_parse_args(argc, argv, 2, NULL, pos, 1, what, usage_show);
	if (rc >= 0)
		return rc;
	long y;
	if (strlen(pos[0]) != 4 || !parse_int(pos[0], CAL_YEAR_MIN, CAL_YEAR_MAX, &y))
		return ctl_usage_error(usage_show, "%s: YEAR must be a year %d-%d, not '%s'", what, CAL_YEAR_MIN,
				       CAL_YEAR_MAX, pos[0]);
	static const out_col_t cols[] = {
		{"day", OUT_TEXT},
		{"weekday", OUT_TEXT},
		{"kind", OUT_TEXT},
		{"name", OUT_TEXT},
	};
	PGconn *c = ctl_conn(ctx);
	if (!c || !begin_read(c))
		return CTL_FAIL;
	const char *p[] = {pos[0]};
	PGresult *yr = NULL, *days = NULL;
	rc = CTL_FAIL;
	yr = db_exec(c, what, "SELECT 1 FROM voucher.calendar_years WHERE year = $1", 1, p);
	if (!yr)
		goto failed;
	if (PQntuples(yr) == 0) {
		fprintf(stderr,
			"%s: the calendar of %s is not loaded (voucherctl calendar list shows the loaded "
			"years; voucherctl calendar load settlement/calendar/%s.txt loads it)\n",
			what, pos[0], pos[0]);
		goto failed;
	}
	/* 'FMDay' without TM is English whatever lc_time says */
	days = db_exec(c, what,
		       "SELECT to_char(day, 'YYYY-MM-DD'), to_char(day, 'FMDay'), kind, name "
		       "FROM voucher.calendar_days WHERE year = $1 ORDER BY day",
		       1, p);
	if (!days)
		goto failed;
	if (out_print(stdout, ctx->format, cols, 4, days))
		rc = CTL_OK;
failed:
	PQclear(days);
	PQclear(yr);
	db_rollback(c); /* read only */
	return rc;
}

/* ------------------------------------------------------------------ workdays */

static int calendar_workdays(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "calendar workdays";
	const char *from = NULL, *count = NULL;
	const struct ctl_opt opts[] = {{"--from", &from, false}, {"--count", &count, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, what, usage_workdays);
	if (rc >= 0)
		return rc;
	if (!from || !count)
		return ctl_usage_error(usage_workdays, "%s: --from and --count are required", what);
	cal_date_t start, end;
	long n;
	if (!cal_date_parse(from, &start))
		return ctl_usage_error(usage_workdays, "%s: --from '%s' is not a real date YYYY-MM-DD", what, from);
	if (!parse_int(count, 1, COUNT_MAX, &n))
		return ctl_usage_error(usage_workdays, "%s: --count must be a whole number 1-%d, not '%s'", what,
				       COUNT_MAX, count);
	PGconn *c = ctl_conn(ctx);
	if (!c || !begin_read(c))
		return CTL_FAIL;
	cal_t cal = CAL_INIT;
	char err[512];
	rc = CTL_FAIL;
	if (!cal_load_db(&cal, c, start.year, CAL_YEAR_MAX, err, sizeof err) ||
	    !cal_add_workdays(&cal, start, (int)n, &end, err, sizeof err)) {
		fprintf(stderr, "%s: %s\n", what, err);
		goto failed;
	}
	char out[11];
	cal_date_format(end, out);
	printf("%s\n", out);
	rc = CTL_OK;
failed:
	cal_free(&cal);
	db_rollback(c); /* read only */
	return rc;
}

int cmd_calendar(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {{"load", calendar_load},
					      {"list", calendar_list},
					      {"show", calendar_show},
					      {"workdays", calendar_workdays},
					      {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "calendar", subs, usage_calendar);
}
