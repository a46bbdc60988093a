/* log: one line per event, logfmt, to stderr.
 *
 *   log_info("batch_stored", "provider=%s batch=%s records=%d", ...)
 * prints
 *   ts=2026-03-02T10:00:00.123Z level=info event=batch_stored provider=... 
 * Callers format values with log_q() when a value may contain spaces or quotes.
 * Never log record contents or key material.  Not thread-safe (one event loop).
 */
#ifndef VOUCHER_LOG_H
#define VOUCHER_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

void log_set_level(log_level_t lvl);

/* Each event kind writes at most this many lines a second; the rest are
 * counted and reported once the second has passed, in one line
 *   event=log_suppressed kind=<event> suppressed=<n>
 * written by the next log call of any kind or by log_flush(). */
#define LOG_RATE_PER_S 20
/* Changes the limit (0: none).  For tests. */
void log_set_rate(unsigned per_s);
/* Lines suppressed so far (as reported in log_suppressed lines). */
uint64_t log_suppressed_total(void);
/* Writes the log_suppressed lines that are due; voucherd's 1-second sweep
 * calls it so that a flood's count appears even when nothing else logs. */
void log_flush(void);
void log_emit(log_level_t lvl, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) log_emit(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) log_emit(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_emit(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_emit(LOG_ERROR, ev, __VA_ARGS__)

/* Quotes a value for logfmt into a small rotating static buffer (8 slots of
 * 256 bytes; longer values are cut).  Valid until 8 more calls. */
const char *log_q(const char *s);

/* Prints "voucherd: <msg>" style fatal start-up errors and exits with code. */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
