/* date: proleptic Gregorian calendar arithmetic, and the month boundaries of
 * China time (UTC+8, no daylight saving), in which every period is settled.
 * Pure: no time zone database, no clock. */
#ifndef VOUCHER_DATE_H
#define VOUCHER_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool date_is_leap(int y);
/* 28-31; m is 1-12 */
int date_days_in_month(int y, int m);
/* "YYYY-MM-DD": exactly ten characters, a real calendar date, year at least
 * min_year.  Never reads past a NUL.  y, m and d (each may be NULL) receive
 * the parts on success. */
bool date_parse(const char *s, int min_year, int *y, int *m, int *d);

/* Days since 1970-01-01 of a date, and back (H. Hinnant's algorithms: eras
 * of 400 years = 146097 days, years counted from March). */
int64_t date_days_from_civil(int64_t y, int m, int d);
void date_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* "YYYY-MM-DD" of the last day of month m (1-12) of year y (0-9999). */
void date_month_last_day(int y, int m, char out[11]);
/* "YYYY-MM-01 00:00:00+08", the start of month m of year y in China time (a
 * PostgreSQL timestamptz literal); m 13 is January of the next year, so
 * (y, m + 1) is the end of month m. */
void date_cn_month_start(int y, int m, char *out, size_t outlen);

/* For people: "YYYY-MM-DDTHH:MM:SSZ" (UTC, as a checkpoint stores it) as
 * "YYYY-MM-DD HH:MM:SS" in China time (UTC+8, no daylight saving).  False
 * (out "") when z does not have that shape or is not a real time. */
bool date_utc_z_to_cn(const char *z, char *out, size_t outlen);

/* A year as the tools and the console take it: exactly four digits, 2000 to
 * 2100 (a listing for year 3 or 20266 is a mistake, not an empty table). */
bool date_year_valid(const char *s);

#endif
