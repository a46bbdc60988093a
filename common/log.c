#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static log_level_t min_level = LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level_t lvl)
{
	min_level = lvl;
}

void log_emit(log_level_t lvl, const char *event, const char *fmt, ...)
{
	if (lvl < min_level)
		return;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char line[2048];
	int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s event=%s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(tv.tv_usec / 1000), level_names[lvl], event);
	if (n < 0)
		return;
	if (fmt && *fmt && (size_t)n < sizeof line - 2) {
		line[n] = ' ';
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(line + n + 1, sizeof line - (size_t)n - 1, fmt, ap);
		va_end(ap);
		if (m > 0)
			n += m + 1; /* no trailing space when the fields are empty */
	}
	if ((size_t)n >= sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
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
