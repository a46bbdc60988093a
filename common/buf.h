/* buf: a growable byte buffer.
 *
 * A buf_t owns its memory; buf_free() releases it.  The contents are always
 * NUL-terminated (not counted in len) so that text can be used as a C string.
 * Allocation failure aborts (out of memory is the one place we die at run time).
 */
#ifndef VOUCHER_BUF_H
#define VOUCHER_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct buf {
	char *data;
	size_t len;
	size_t cap;
} buf_t;

#define BUF_INIT           \
	{                  \
		NULL, 0, 0 \
	}

void buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_putc(buf_t *b, char c);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf_t *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal (with quotes), escaping as RFC 8259 requires. */
void buf_json_str(buf_t *b, const char *s);
/* Length-prefixed fields of the canonical encodings that are hashed (ledger
 * entries, batch leaves): a 4-byte big-endian byte length, then the bytes.
 * NULL is the empty string; integers are decimal text. */
void buf_lp(buf_t *b, const void *p, size_t n);
void buf_lp_str(buf_t *b, const char *s);
void buf_lp_i64(buf_t *b, int64_t v);
void buf_reset(buf_t *b);
void buf_free(buf_t *b);
/* Hands the memory to the caller (free() it); the buf is left empty. */
char *buf_steal(buf_t *b);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
