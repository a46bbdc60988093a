/* China's official working-day calendar: the calendar file, the calendar
 * built from files or from the database, and working-day arithmetic.  See
 * calendar.h for the file format and the rules. */
#include "settlement/calendar.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/date.h"
#include "common/db.h"
#include "common/validate.h"

#define CAL_FILE_MAX (1024 * 1024)
#define CAL_SOURCE_MAX_CHARS 300
#define CAL_MAX_PROBLEMS 20

struct cal_year {
	int year;
	int64_t jan1;      /* cal_days() of January 1 */
	int ndays;         /* 365 or 366 */
	uint8_t work[366]; /* 1: a working day, by day of the year (0 = January 1) */
};

/* ------------------------------------------------------------------ dates */

bool cal_date_parse(const char *s, cal_date_t *d)
{
	int y, m, day;
	if (!date_parse(s, 1900, &y, &m, &day))
		return false;
	d->year = y;
	d->month = m;
	d->day = day;
	return true;
}

void cal_date_format(cal_date_t d, char out[11])
{
	snprintf(out, 11, "%04u-%02u-%02u", (unsigned)d.year % 10000u, (unsigned)d.month % 100u,
		 (unsigned)d.day % 100u);
}

/* common/date: proleptic Gregorian days since 1970-01-01 */
int64_t cal_days(cal_date_t d)
{
	return date_days_from_civil(d.year, d.month, d.day);
}

cal_date_t cal_from_days(int64_t days)
{
	int64_t y;
	int m, day;
	date_civil_from_days(days, &y, &m, &day);
	cal_date_t d = {(int)y, m, day};
	return d;
}

int cal_weekday(cal_date_t d)
{
	/* 1970-01-01 was a Thursday */
	int64_t w = cal_days(d) % 7;
	if (w < 0)
		w += 7;
	return (int)((w + 3) % 7) + 1;
}

const char *cal_weekday_name(int iso_weekday)
{
	static const char *const names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
					    "Friday", "Saturday", "Sunday"};
	return iso_weekday >= 1 && iso_weekday <= 7 ? names[iso_weekday - 1] : "?";
}

/* ------------------------------------------------------------------ the file */

const char *cal_kind_name(cal_kind_t k)
{
	return k == CAL_HOLIDAY ? "holiday" : "workday";
}

void cal_file_free(cal_file_t *f)
{
	for (size_t i = 0; i < f->ndays; i++)
		free(f->days[i].name);
	free(f->days);
	free(f->source);
	*f = (cal_file_t)CAL_FILE_INIT;
}

/* The problems found in a file, as "PATH:LINE: what" lines in err. */
struct problems {
	const char *path;
	char *err;
	size_t errlen;
	size_t used;
	int count;
};

static void problem(struct problems *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void problem(struct problems *p, int line, const char *fmt, ...)
{
	p->count++;
	if (p->count > CAL_MAX_PROBLEMS || !p->errlen || p->used + 1 >= p->errlen)
		return;
	char *o = p->err + p->used;
	size_t room = p->errlen - p->used;
	int n;
	if (line > 0)
		n = snprintf(o, room, "%s%s:%d: ", p->used ? "\n" : "", p->path, line);
	else
		n = snprintf(o, room, "%s%s: ", p->used ? "\n" : "", p->path);
	if (n < 0 || (size_t)n >= room) {
		p->used = p->errlen - 1;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(o + n, room - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= room - (size_t)n)
		p->used = p->errlen - 1;
	else
		p->used += (size_t)n + (size_t)m;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (const unsigned char *q = (const unsigned char *)s; *q; q++)
		if ((*q & 0xc0) != 0x80)
			n++;
	return n;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Cuts the next blank-separated word off *p (NUL-terminating it in place);
 * NULL if none is left. */
static char *next_word(char **p)
{
	char *s = *p;
	while (is_blank(*s))
		s++;
	if (!*s)
		return NULL;
	char *w = s;
	while (*s && !is_blank(*s))
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return w;
}

/* The rest of the line, without surrounding blanks ("" if none). */
static char *rest_of(char *p)
{
	while (is_blank(*p))
		p++;
	size_t n = strlen(p);
	while (n && is_blank(p[n - 1]))
		p[--n] = '\0';
	return p;
}

/* What is wrong with a name or source text, or NULL. */
static const char *text_problem(const char *s, size_t max_chars)
{
	if (!*s)
		return "is empty";
	for (const unsigned char *q = (const unsigned char *)s; *q; q++)
		if (*q < 0x20 || *q == 0x7f)
			return "contains a control character";
	if (!text_field(s, 4 * max_chars + 1))
		return "is not valid UTF-8 (save the file as UTF-8)";
	if (utf8_chars(s) > max_chars)
		return "is too long";
	return NULL;
}

/* One day line: "YYYY-MM-DD KIND NAME" (the date word already cut off). */
static void parse_day(struct problems *pr, cal_file_t *f, int line, const char *dword, char *p, int *seen_line)
{
	cal_date_t d;
	if (!cal_date_parse(dword, &d)) {
		problem(pr, line, "'%.20s' is not a real date YYYY-MM-DD", dword);
		return;
	}
	const char *kword = next_word(&p);
	if (!kword) {
		problem(pr, line, "%s: KIND (holiday or workday) and NAME are missing", dword);
		return;
	}
	cal_kind_t kind;
	if (!strcmp(kword, "holiday")) {
		kind = CAL_HOLIDAY;
	} else if (!strcmp(kword, "workday")) {
		kind = CAL_WORKDAY;
	} else {
		problem(pr, line,
			"%s: unknown kind '%.20s' (holiday: a day off; workday: a swapped "
			"working Saturday or Sunday)",
			dword, kword);
		return;
	}
	const char *name = rest_of(p);
	const char *np = text_problem(name, CAL_NAME_MAX_CHARS);
	if (np) {
		if (!*name)
			problem(pr, line, "%s: NAME is missing (what the day is, e.g. 春节 or 春节调休上班)", dword);
		else
			problem(pr, line, "%s: the name %s (at most %d characters)", dword, np, CAL_NAME_MAX_CHARS);
		return;
	}
	int wd = cal_weekday(d);
	bool ok = true;
	if (kind == CAL_WORKDAY && wd <= 5) {
		problem(pr, line,
			"%s is a %s: a 'workday' must be a Saturday or Sunday "
			"(Monday to Friday are working days anyway)",
			dword, cal_weekday_name(wd));
		ok = false;
	}
	if (f->year) {
		if (d.year != f->year) {
			problem(pr, line, "%s is not in %d, the year of this file", dword, f->year);
			return;
		}
		int doy = (int)(cal_days(d) - cal_days((cal_date_t){f->year, 1, 1}));
		if (seen_line[doy]) {
			problem(pr, line, "%s is already listed on line %d (each day once)", dword, seen_line[doy]);
			return;
		}
		seen_line[doy] = line;
	}
	if (!ok)
		return;
	f->days = xrealloc(f->days, (f->ndays + 1) * sizeof *f->days);
	f->days[f->ndays++] = (cal_entry_t){d, kind, xstrdup(name), line};
	if (kind == CAL_HOLIDAY)
		f->nholidays++;
	else
		f->nworkdays++;
}

bool cal_file_parse(const char *path, const char *text, size_t len, cal_file_t *f, char *err, size_t errlen)
{
	struct problems pr = {path, err, errlen, 0, 0};
	buf_t lb = BUF_INIT;
	int seen_line[366] = {0};
	int year_line = 0, source_line = 0;
	bool day_before_year = false;
	if (errlen)
		err[0] = '\0';
	*f = (cal_file_t)CAL_FILE_INIT;

	if (memchr(text, '\0', len)) {
		problem(&pr, 0, "holds NUL bytes: it is not a text file (save it as UTF-8)");
		goto failed;
	}
	const char *p = text, *end = text + len;
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	for (int line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		buf_reset(&lb);
		buf_append(&lb, p, (size_t)(eol - p));
		p = nl ? nl + 1 : end;
		if (lb.len && lb.data[lb.len - 1] == '\r')
			lb.data[--lb.len] = '\0';

		char *q = lb.data;
		const char *word = next_word(&q);
		if (!word || word[0] == '#')
			continue;
		if (!strcmp(word, "year")) {
			const char *y = rest_of(q);
			if (year_line) {
				problem(&pr, line,
					"a second 'year' line (the first is line %d): one file "
					"per year",
					year_line);
				continue;
			}
			year_line = line;
			bool digits = strlen(y) == 4;
			for (int i = 0; digits && i < 4; i++)
				digits = y[i] >= '0' && y[i] <= '9';
			int yv = digits ? atoi(y) : 0;
			if (!digits || yv < CAL_YEAR_MIN || yv > CAL_YEAR_MAX) {
				problem(&pr, line, "'year %.20s': the year must be four digits, %d-%d", y, CAL_YEAR_MIN,
					CAL_YEAR_MAX);
				continue;
			}
			if (day_before_year)
				problem(&pr, line, "the 'year' line must come before the first day");
			else
				f->year = yv;
		} else if (!strcmp(word, "source")) {
			const char *s = rest_of(q);
			if (source_line) {
				problem(&pr, line, "a second 'source' line (the first is line %d)", source_line);
				continue;
			}
			source_line = line;
			const char *sp = text_problem(s, CAL_SOURCE_MAX_CHARS);
			if (sp)
				problem(&pr, line,
					"the source %s (name the State Council notice, at most %d "
					"characters)",
					sp, CAL_SOURCE_MAX_CHARS);
			else
				f->source = xstrdup(s);
		} else if (word[0] >= '0' && word[0] <= '9') {
			if (!year_line && !day_before_year) {
				problem(&pr, line, "a day before the 'year YYYY' line: put 'year YYYY' first");
				day_before_year = true;
			}
			parse_day(&pr, f, line, word, q, seen_line);
		} else {
			problem(&pr, line,
				"'%.20s' is not a date, 'year' or 'source' (a comment "
				"starts with '#')",
				word);
		}
	}
	if (!year_line)
		problem(&pr, 0, "no 'year YYYY' line: say which year the file describes");
	if (!source_line)
		problem(&pr, 0, "no 'source TEXT' line: name the State Council notice the days come from");
	if (!pr.count && f->ndays == 0)
		problem(&pr, 0, "lists no days: every year has official holidays (is this the right file?)");
	if (pr.count)
		goto failed;
	buf_free(&lb);
	return true;
failed:
	if (pr.count > CAL_MAX_PROBLEMS && errlen > pr.used + 1)
		snprintf(err + pr.used, errlen - pr.used, "\n%s: %d more problems not shown", path,
			 pr.count - CAL_MAX_PROBLEMS);
	buf_free(&lb);
	cal_file_free(f);
	return false;
}

bool cal_file_read(const char *path, cal_file_t *f, char *err, size_t errlen)
{
	buf_t b = BUF_INIT;
	*f = (cal_file_t)CAL_FILE_INIT;
	FILE *in = fopen(path, "rb");
	if (!in) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return false;
	}
	char tmp[16384];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, in)) > 0) {
		if (b.len + n > CAL_FILE_MAX) {
			snprintf(err, errlen, "%s: larger than %d bytes: is it the right file?", path, CAL_FILE_MAX);
			goto failed;
		}
		buf_append(&b, tmp, n);
	}
	if (ferror(in)) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto failed;
	}
	fclose(in);
	in = NULL;
	if (!cal_file_parse(path, b.data ? b.data : "", b.len, f, err, errlen))
		goto failed;
	buf_free(&b);
	return true;
failed:
	if (in)
		fclose(in);
	buf_free(&b);
	return false;
}

/* ------------------------------------------------------------------ the calendar */

void cal_free(cal_t *cal)
{
	free(cal->years);
	cal->years = NULL;
	cal->nyears = 0;
}

static const struct cal_year *find_year(const cal_t *cal, int year)
{
	size_t lo = 0, hi = cal->nyears;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cal->years[mid].year == year)
			return &cal->years[mid];
		if (cal->years[mid].year < year)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The year's slot, made (Monday-Friday working, Saturday and Sunday off) if
 * it is new, reset to that if it was there. */
static struct cal_year *year_slot(cal_t *cal, int year)
{
	size_t i = 0;
	while (i < cal->nyears && cal->years[i].year < year)
		i++;
	if (i == cal->nyears || cal->years[i].year != year) {
		cal->years = xrealloc(cal->years, (cal->nyears + 1) * sizeof *cal->years);
		memmove(&cal->years[i + 1], &cal->years[i], (cal->nyears - i) * sizeof *cal->years);
		cal->nyears++;
	}
	struct cal_year *y = &cal->years[i];
	memset(y, 0, sizeof *y);
	y->year = year;
	y->jan1 = cal_days((cal_date_t){year, 1, 1});
	y->ndays = date_is_leap(year) ? 366 : 365;
	for (int doy = 0; doy < y->ndays; doy++)
		y->work[doy] = cal_weekday(cal_from_days(y->jan1 + doy)) <= 5;
	return y;
}

static void year_set(struct cal_year *y, cal_date_t d, cal_kind_t kind)
{
	y->work[cal_days(d) - y->jan1] = kind == CAL_WORKDAY;
}

void cal_add_file(cal_t *cal, const cal_file_t *f)
{
	struct cal_year *y = year_slot(cal, f->year);
	for (size_t i = 0; i < f->ndays; i++)
		year_set(y, f->days[i].date, f->days[i].kind);
}

bool cal_load_db(cal_t *cal, PGconn *c, int first_year, int last_year, char *err, size_t errlen)
{
	char from[16], to[16];
	snprintf(from, sizeof from, "%d", first_year);
	snprintf(to, sizeof to, "%d", last_year);
	const char *params[] = {from, to};
	/* to_char: the date's text does not depend on the session's DateStyle */
	PGresult *r = db_exec(c, "calendar",
			      "SELECT y.year, to_char(d.day, 'YYYY-MM-DD'), d.kind "
			      "FROM voucher.calendar_years y "
			      "LEFT JOIN voucher.calendar_days d ON d.year = y.year "
			      "WHERE y.year BETWEEN $1 AND $2 ORDER BY y.year, d.day",
			      2, params);
	if (!r) {
		snprintf(err, errlen, "cannot read the official calendar from the database");
		return false;
	}
	struct cal_year *y = NULL;
	for (int i = 0; i < PQntuples(r); i++) {
		int year = atoi(PQgetvalue(r, i, 0));
		if (year < CAL_YEAR_MIN || year > CAL_YEAR_MAX) {
			snprintf(err, errlen, "voucher.calendar_years holds year %d, outside %d-%d", year, CAL_YEAR_MIN,
				 CAL_YEAR_MAX);
			goto failed;
		}
		if (!y || y->year != year)
			y = year_slot(cal, year);
		if (PQgetisnull(r, i, 1))
			continue; /* a year without exceptions */
		cal_date_t d;
		const char *day = PQgetvalue(r, i, 1), *kind = PQgetvalue(r, i, 2);
		if (!cal_date_parse(day, &d) || d.year != year) {
			snprintf(err, errlen,
				 "voucher.calendar_days has %s under year %d: reload that year with "
				 "voucherctl calendar load FILE",
				 day, year);
			goto failed;
		}
		year_set(y, d, !strcmp(kind, "workday") ? CAL_WORKDAY : CAL_HOLIDAY);
	}
	PQclear(r);
	return true;
failed:
	PQclear(r);
	return false;
}

bool cal_has_year(const cal_t *cal, int year)
{
	return find_year(cal, year) != NULL;
}

bool cal_is_workday(const cal_t *cal, cal_date_t d, bool *ok)
{
	const struct cal_year *y = find_year(cal, d.year);
	int64_t doy = y ? cal_days(d) - y->jan1 : -1;
	*ok = y && doy >= 0 && doy < y->ndays;
	return *ok && y->work[doy];
}

bool cal_add_workdays(const cal_t *cal, cal_date_t start, int n, cal_date_t *out, char *err, size_t errlen)
{
	char sbuf[11];
	cal_date_format(start, sbuf);
	if (n < 1) {
		snprintf(err, errlen, "the number of working days after %s must be at least 1, not %d", sbuf, n);
		return false;
	}
	int64_t day = cal_days(start);
	const struct cal_year *y = NULL;
	for (int found = 0; found < n;) {
		day++;
		if (!y || day < y->jan1 || day >= y->jan1 + y->ndays) {
			int year = cal_from_days(day).year;
			y = find_year(cal, year);
			if (!y) {
				snprintf(err, errlen,
					 "counting %d working day%s after %s reaches %d, whose official "
					 "calendar is not loaded: load the State Council's holiday notice "
					 "for %d with 'voucherctl calendar load settlement/calendar/%d.txt' "
					 "(write that file from the notice first if it is not there)",
					 n, n == 1 ? "" : "s", sbuf, year, year, year);
				return false;
			}
		}
		if (y->work[day - y->jan1])
			found++;
	}
	*out = cal_from_days(day);
	return true;
}
