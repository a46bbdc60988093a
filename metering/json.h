/* json: a strict JSON (RFC 8259) reader for request bodies, built for the
 * ingest hot path: one pass, one arena, no allocation per value.
 *
 * Strict: any JSON value at the top (a scalar body is well-formed JSON), only
 * whitespace after it; no trailing commas, comments or single quotes; strings
 * must be valid UTF-8 (no overlong forms, no encoded surrogates, nothing past
 * U+10FFFF), control characters must be escaped, \u escapes must pair
 * surrogates, and a NUL character (raw or \u0000) is refused; a repeated key
 * in any object is refused (MJ_DUPLICATE_KEY); integers must fit int64 and
 * reals must be finite; nesting is limited to MJ_MAX_DEPTH.  This is what
 * jansson did for voucherd with JSON_REJECT_DUPLICATES, at several times the
 * speed (see README "Measured").
 *
 * Every string is decoded, NUL-terminated and valid until mj_free(); n is its
 * length in bytes.  Objects keep their members in document order.
 */
#ifndef VOUCHER_JSON_H
#define VOUCHER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MJ_MAX_DEPTH 2048

typedef enum { MJ_NULL, MJ_FALSE, MJ_TRUE, MJ_INT, MJ_REAL, MJ_STRING, MJ_ARRAY, MJ_OBJECT } mj_type_t;

typedef struct mj_value mj_value_t;
typedef struct mj_member mj_member_t;

struct mj_value {
	mj_type_t type;
	uint32_t n; /* string bytes, array items, object members */
	union {
		int64_t i;
		double d;
		const char *s;
		mj_value_t *items;
		mj_member_t *members;
	} u;
};

struct mj_member {
	const char *key;
	uint32_t klen;
	mj_value_t val;
};

typedef enum { MJ_OK = 0, MJ_SYNTAX, MJ_DUPLICATE_KEY } mj_status_t;

typedef struct mj_error {
	mj_status_t status;
	const char *what; /* "unexpected end of input", "invalid UTF-8", ... (never the input) */
	int line, column; /* 1-based, of the byte where it went wrong */
} mj_error_t;

typedef struct mj_doc mj_doc_t;

/* Parses text[0..len).  NULL with *e filled on any error (text may be NULL
 * when len is 0). */
mj_doc_t *mj_parse(const void *text, size_t len, mj_error_t *e);
const mj_value_t *mj_root(const mj_doc_t *doc);
void mj_free(mj_doc_t *doc);

#endif
