#include "common/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static log_level_t min_level = LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

/* Rate limit: each event kind may write rate_per_s lines per wall-clock
 * second; the rest are only counted, and reported in one log_suppressed line
 * once that second has passed.  A flood of one kind (a client hammering a
 * refusal, a database going away) then costs a few lines a second and every
 * other kind still gets through.  Kinds live in a small open-addressed table
 * keyed by the event name; names that find it full, or are too long, share
 * one slot. */
#define KIND_SLOTS 128
#define KIND_NAME 48
struct kind {
	char name[KIND_NAME];
	int64_t sec;         /* the second lines are counted for */
	unsigned lines;      /* written in sec */
	uint64_t suppressed; /* dropped in sec, not yet reported */
};
static struct kind kinds[KIND_SLOTS];
static struct kind other_kind = {.name = "other"};
static unsigned nkinds;
static unsigned rate_per_s = LOG_RATE_PER_S;
static unsigned npending;   /* kinds with suppressed > 0 */
static int64_t flushed_sec; /* the second the pending kinds were last looked at */

void log_set_level(log_level_t lvl)
{
	min_level = lvl;
}

void log_set_rate(unsigned per_s)
{
	rate_per_s = per_s;
}

static struct kind *kind_of(const char *event)
{
	uint32_t h = 2166136261u;
	size_t n = 0;
	for (const char *p = event; *p; p++, n++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	if (n >= KIND_NAME)
		return &other_kind;
	for (unsigned i = 0; i < KIND_SLOTS; i++) {
		struct kind *k = &kinds[(h + i) % KIND_SLOTS];
		if (!k->name[0]) {
			if (nkinds >= KIND_SLOTS / 2)
				break; /* keep probes short */
			nkinds++;
			memcpy(k->name, event, n + 1);
			return k;
		}
		if (!strcmp(k->name, event))
			return k;
	}
	return &other_kind;
}

static void write_line(log_level_t lvl, const struct timeval *tv, const char *event, const char *fmt, va_list ap)
{
	struct tm tm;
	gmtime_r(&tv->tv_sec, &tm);
	char line[2048];
	int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s event=%s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(tv->tv_usec / 1000), level_names[lvl], event);
	if (n < 0)
		return;
	if (fmt && *fmt && (size_t)n < sizeof line - 2) {
		line[n] = ' ';
		int m = vsnprintf(line + n + 1, sizeof line - (size_t)n - 1, fmt, ap);
		if (m > 0)
			n += m + 1; /* no trailing space when the fields are empty */
	}
	if ((size_t)n >= sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

static void write_linef(log_level_t lvl, const struct timeval *tv, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void write_linef(log_level_t lvl, const struct timeval *tv, const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	write_line(lvl, tv, event, fmt, ap);
	va_end(ap);
}

static uint64_t suppressed_total;

uint64_t log_suppressed_total(void)
{
	return suppressed_total;
}

static void report(struct kind *k, const struct timeval *tv)
{
	suppressed_total += k->suppressed;
	write_linef(LOG_WARN, tv, "log_suppressed", "kind=%s suppressed=%llu", k->name,
		    (unsigned long long)k->suppressed);
	k->suppressed = 0;
	npending--;
}

/* Reports every kind whose suppressed lines belong to a second before now. */
static void report_pending(const struct timeval *tv)
{
	flushed_sec = tv->tv_sec;
	for (unsigned i = 0; i < KIND_SLOTS && npending; i++)
		if (kinds[i].suppressed && kinds[i].sec != tv->tv_sec)
			report(&kinds[i], tv);
	if (npending && other_kind.suppressed && other_kind.sec != tv->tv_sec)
		report(&other_kind, tv);
}

void log_flush(void)
{
	if (!npending)
		return;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	report_pending(&tv);
}

void log_emit(log_level_t lvl, const char *event, const char *fmt, ...)
{
	if (lvl < min_level)
		return;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	/* at most one scan a second, and only while something waits to be reported */
	if (npending && tv.tv_sec != flushed_sec)
		report_pending(&tv);
	if (rate_per_s) {
		struct kind *k = kind_of(event);
		if (k->sec != tv.tv_sec) {
			if (k->suppressed)
				report(k, &tv); /* the clock stepped back within a scan */
			k->sec = tv.tv_sec;
			k->lines = 0;
		}
		if (k->lines >= rate_per_s) {
			if (k->suppressed++ == 0)
				npending++;
			return;
		}
		k->lines++;
	}
	va_list ap;
	va_start(ap, fmt);
	write_line(lvl, &tv, event, fmt, ap);
	va_end(ap);
}

const char *log_q(const char *s)
{
	static char slots[8][256];
	static unsigned next;
	char *o = slots[next++ % 8];
	if (!s)
		return "-";
	bool plain = *s != '\0';
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p >= 0x7f)
			plain = false;
	size_t j = 0;
	if (plain) {
		snprintf(o, 256, "%s", s);
		return o;
	}
	o[j++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && j < 250; p++) {
		if (*p == '"' || *p == '\\') {
			o[j++] = '\\';
			o[j++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			o[j++] = '?';
		} else {
			o[j++] = (char)*p;
		}
	}
	o[j++] = '"';
	o[j] = '\0';
	return o;
}

void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}
