/* calendar: China's official working-day calendar (docs/policies.md rule 8: the
 * public notice of a run lasts 5 working days).
 *
 * A day is a working day if it is Monday-Friday and not an official holiday
 * (放假), or Saturday/Sunday and an official working day (调休上班).  The
 * State Council publishes the exceptions once a year; they ship as
 * settlement/calendar/YYYY.txt, are loaded with `voucherctl calendar load`
 * into voucher.calendar_years / voucher.calendar_days, and read back from
 * there into a cal_t.  A year that is not loaded is never guessed: every
 * question about it is refused.
 *
 * The calendar file, one per year (UTF-8, a BOM is skipped, LF or CRLF):
 *
 *   # a comment (a line whose first non-blank character is '#'); blank lines are ignored
 *   source 国务院办公厅关于2026年部分节假日安排的通知   the document, stored with the year (required, once)
 *   year 2026                                          the year (required, once, before any day; 2000-2100)
 *   2026-01-01 holiday 元旦                            YYYY-MM-DD KIND NAME
 *
 * Fields are separated by spaces or tabs; NAME is the rest of the line (1-100
 * characters, no control characters; a '#' in it is part of the name).  KIND
 * is 'holiday' (a day off) or 'workday' (a swapped working day).  Every date
 * is a real date of the year and is listed once.  A 'workday' must be a
 * Saturday or Sunday (Monday-Friday work anyway: a 'workday' on one is a
 * mistake).  A 'holiday' is normally a Monday-Friday; one on a Saturday or
 * Sunday is accepted and stored, so that a notice's range ("2月15日至23日")
 * may be copied whole, and changes nothing (the day is off either way).  A
 * file with no days is refused.
 *
 * Dates are cal_date_t; the day of the week is computed by civil-date
 * arithmetic (proleptic Gregorian), independent of locale and time zone. */
#ifndef VOUCHER_CALENDAR_H
#define VOUCHER_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define CAL_YEAR_MIN 2000
#define CAL_YEAR_MAX 2100
#define CAL_NAME_MAX_CHARS 100

/* ------------------------------------------------------------------ dates */

typedef struct cal_date {
	int year;
	int month; /* 1-12 */
	int day;   /* 1-31 */
} cal_date_t;

/* Strict "YYYY-MM-DD" (exactly ten characters), a real date, year 1900-9999. */
bool cal_date_parse(const char *s, cal_date_t *d) __attribute__((warn_unused_result));
/* "YYYY-MM-DD"; out has room for 11 bytes. */
void cal_date_format(cal_date_t d, char out[11]);
/* Days since 1970-01-01 (negative before it), and back. */
int64_t cal_days(cal_date_t d);
cal_date_t cal_from_days(int64_t days);
/* ISO weekday: 1 Monday ... 6 Saturday, 7 Sunday. */
int cal_weekday(cal_date_t d);
/* "Monday" ... "Sunday" */
const char *cal_weekday_name(int iso_weekday);

/* ------------------------------------------------------------------ the file */

typedef enum { CAL_HOLIDAY, CAL_WORKDAY } cal_kind_t;

typedef struct cal_entry {
	cal_date_t date;
	cal_kind_t kind;
	char *name; /* owned */
	int line;   /* in the file */
} cal_entry_t;

typedef struct cal_file {
	int year;
	char *source;      /* owned */
	cal_entry_t *days; /* owned, in the file's order */
	size_t ndays;
	size_t nholidays; /* kind holiday (on any day of the week) */
	size_t nworkdays; /* kind workday */
} cal_file_t;

#define CAL_FILE_INIT                  \
	{                              \
		0, NULL, NULL, 0, 0, 0 \
	}

/* Parses a calendar file's text; path is used only in messages.  On failure
 * returns false and err holds one "PATH:LINE: what is wrong" line per problem
 * found (at most 20, separated by '\n'; a problem of the whole file is
 * "PATH: what"), and *f is left empty.  On success the caller owns *f and
 * releases it with cal_file_free(). */
bool cal_file_parse(const char *path, const char *text, size_t len, cal_file_t *f, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Reads and parses the file at path (at most 1 MiB). */
bool cal_file_read(const char *path, cal_file_t *f, char *err, size_t errlen) __attribute__((warn_unused_result));
const char *cal_kind_name(cal_kind_t k);
void cal_file_free(cal_file_t *f);

/* ------------------------------------------------------------------ the calendar */

struct cal_year;

/* The loaded years, each as one working-day flag per day.  Immutable once
 * built; cal_free() releases it. */
typedef struct cal {
	struct cal_year *years; /* sorted by year */
	size_t nyears;
} cal_t;

#define CAL_INIT        \
	{               \
		NULL, 0 \
	}

/* Adds a parsed file's year (replacing that year if it is there). */
void cal_add_file(cal_t *cal, const cal_file_t *f);
/* Adds the years first_year..last_year (inclusive) that have a row in
 * voucher.calendar_years, with their voucher.calendar_days.  Runs plain
 * SELECTs (the caller chooses the transaction).  False on a database error
 * (db_exec prints the server's message) or an inconsistent row, with err
 * saying what. */
bool cal_load_db(cal_t *cal, PGconn *c, int first_year, int last_year, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void cal_free(cal_t *cal);

bool cal_has_year(const cal_t *cal, int year);
/* Is d a working day?  *ok is false (and the answer false) if d's year is not
 * loaded. */
bool cal_is_workday(const cal_t *cal, cal_date_t d, bool *ok);
/* The n-th working day after start (start itself is not counted), n >= 1:
 * from Thursday 2026-02-12, n = 5 gives 2026-02-26 (13th, the swapped
 * Saturday 14th, 24th, 25th, 26th).  False, with err naming the year and how
 * to load it, if a day it has to look at lies in a year that is not loaded;
 * start's own year need not be loaded. */
bool cal_add_workdays(const cal_t *cal, cal_date_t start, int n, cal_date_t *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
