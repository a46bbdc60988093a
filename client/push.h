/* push: the pure parts of voucher-push, the providers' reference client.
 *
 * No sockets and no clock here (callers pass "now" and random numbers in), so
 * that tests/unit/test_push.c can table-test everything:
 *   - the --url argument,
 *   - NDJSON records -> batch bodies and deterministic batch ids,
 *   - HTTP/1.1 response parsing (status line, headers, Content-Length,
 *     chunked, read-until-close),
 *   - Retry-After and the backoff schedule,
 *   - quoting of untrusted text for the one-line-per-batch output.
 * The TLS transport is client/http.c, the program client/main.c.
 */
#ifndef VOUCHER_PUSH_H
#define VOUCHER_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/buf.h"

#define PUSH_PATH "/v1/usage-batches"

/* ------------------------------------------------------------------------ */
/* --url                                                                    */

typedef struct push_url {
	char host[256];      /* a DNS name or an IP literal, IPv6 without brackets */
	char port[6];        /* decimal, "443" when the URL names none */
	char authority[272]; /* the Host header: "host", "host:port", "[v6]:port" */
	bool is_ip;          /* host is an IPv4 or IPv6 literal (no SNI; check the IP) */
} push_url_t;

/* Accepts https://HOST[:PORT][/] and, tolerated, the same followed by the
 * endpoint path /v1/usage-batches[/].  HOST is a DNS name, an IPv4 address or
 * [IPv6].  Anything else (another scheme, user info, another path prefix,
 * a query, a fragment, an IPv6 zone id) is refused with a message in err. */
bool push_url_parse(const char *url, push_url_t *u, char *err, size_t errlen);

/* Appends s percent-encoded for use as one path segment (everything except
 * ALPHA / DIGIT / "-" / "." / "_" / "~" becomes %XX). */
void push_path_segment(buf_t *out, const char *s);

/* ------------------------------------------------------------------------ */
/* NDJSON records and batch bodies                                          */

#define PUSH_MAX_BATCH_ID 64
#define PUSH_MAX_RECORD_LINE (1024 * 1024)

/* Reads one record object per line.  Blank lines are skipped, a "\r" before
 * the "\n" and surrounding spaces/tabs are dropped, a UTF-8 BOM at the start
 * of the file is ignored.  Each record must be one JSON object (duplicate keys
 * refused, like the server does; an object with both "batch_id" and "records"
 * is a batch body given by mistake and refused) and is handed back as its
 * exact text. */
typedef struct push_ndjson {
	FILE *f;
	EVP_MD_CTX *md; /* if not NULL, every raw byte read is hashed into it */
	char *line;
	size_t cap;
	unsigned long lineno; /* of the last line read, 1-based */
	unsigned long nrec;   /* records returned so far */
} push_ndjson_t;

void push_ndjson_init(push_ndjson_t *r, FILE *f, EVP_MD_CTX *md);
/* true and *rec (valid until the next call) and *len for the next record;
 * true and *rec == NULL at the end; false on a bad line or a read error, with
 * err naming the line. */
bool push_ndjson_next(push_ndjson_t *r, const char **rec, size_t *len, char *err, size_t errlen);
void push_ndjson_free(push_ndjson_t *r);

/* {"batch_id":...,"provider":...,"records":[ rec, rec, ... ]} with the
 * records' text copied unchanged.  n is the number of records added so far. */
void push_body_begin(buf_t *b, const char *batch_id, const char *provider);
void push_body_add(buf_t *b, size_t n, const char *rec, size_t len);
void push_body_end(buf_t *b);

/* The default --batch-prefix for --records FILE: "<stem>-<hash12>-n<size>"
 * where stem is the file's base name without its extension, cut to fit and
 * with characters outside [A-Za-z0-9._-] replaced by '_', hash12 is the first
 * 12 hex digits of SHA-256 of the file's bytes and size the batch size (so
 * that the same file sent with another --batch-size gets other ids instead of
 * 409s).  The result leaves room for "-" and a sequence number of
 * seq_digits digits within PUSH_MAX_BATCH_ID. */
bool push_default_prefix(const char *path, const uint8_t sha256[32], unsigned long batch_size, int seq_digits,
			 char *out, size_t outlen);
/* "<prefix>-<seq, zero-padded to at least 6 digits>"; false if the result is
 * not 1..64 printable ASCII characters or out is too small. */
bool push_batch_id(const char *prefix, unsigned long seq, char *out, size_t outlen);
/* Digits of the largest sequence number for nrec records in batches of size
 * (at least 6). */
int push_seq_digits(unsigned long nrec, unsigned long size);

/* ------------------------------------------------------------------------ */
/* HTTP/1.x responses                                                       */

#define PUSH_MAX_HEADER_BYTES (64 * 1024)
#define PUSH_MAX_HEADERS 100
#define PUSH_MAX_BODY_BYTES (64 * 1024 * 1024)

typedef struct push_resp {
	/* results */
	int status; /* 100..999 */
	int minor;  /* HTTP/1.<minor> */
	buf_t hdrs; /* name NUL value NUL ..., names lower-cased */
	size_t nhdrs;
	buf_t body;      /* de-chunked */
	bool keep_alive; /* the connection may carry another request */
	bool got_bytes;  /* anything at all arrived */
	size_t extra;    /* bytes that came after the response */
	char err[160];   /* why parsing failed */
	/* state */
	int state;
	buf_t in; /* unparsed input */
	size_t pos;
	size_t head_bytes;  /* header bytes of the current response */
	uint64_t remaining; /* of a Content-Length body or the current chunk */
	bool no_body;       /* the request was HEAD */
} push_resp_t;

void push_resp_init(push_resp_t *r, bool head_request);
void push_resp_free(push_resp_t *r);
/* Feeds received bytes.  false: not HTTP (r->err says why).  *done becomes
 * true when a whole final response (1xx ones are skipped) has been read. */
bool push_resp_feed(push_resp_t *r, const void *data, size_t len, bool *done);
/* The peer closed the connection: completes a read-until-close body; false if
 * the response was incomplete. */
bool push_resp_eof(push_resp_t *r, bool *done);
/* The value of a header (name in any case), the first if repeated; NULL if absent. */
const char *push_resp_header(const push_resp_t *r, const char *name);
/* true if a comma-separated header (all occurrences) contains token. */
bool push_resp_header_has_token(const push_resp_t *r, const char *name, const char *token);

/* ------------------------------------------------------------------------ */
/* Retry timing                                                             */

#define PUSH_BACKOFF_BASE_MS 500u
#define PUSH_BACKOFF_MAX_MS 30000u
#define PUSH_RETRY_AFTER_CAP_S 120u

/* Retry-After: delay-seconds or an HTTP-date (IMF-fixdate, RFC 850 or asctime
 * form) relative to now; a date in the past is 0.  Saturates at UINT32_MAX. */
bool push_retry_after_parse(const char *v, time_t now, uint32_t *secs);
/* The delay before retry number attempt (0-based): 500 ms doubling up to
 * 30 s, minus up to a quarter of it as jitter (jitter in [0, 1)). */
uint32_t push_backoff_ms(unsigned attempt, double jitter);
/* The delay to use: a server's Retry-After (capped at PUSH_RETRY_AFTER_CAP_S)
 * if it gave one, else the backoff. */
uint32_t push_retry_delay_ms(unsigned attempt, double jitter, bool have_retry_after, uint32_t retry_after_s);

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

/* Appends s in quotes: '"' and '\\' escaped, control
 * characters and DEL as \xNN, invalid UTF-8 bytes as \xNN; at most max bytes
 * of s (then "..."). */
void push_quote(buf_t *out, const char *s, size_t max);
/* Appends s bare if it is 1..64 printable ASCII without '"' or '\\', quoted
 * with push_quote otherwise, "-" if NULL. */
void push_token(buf_t *out, const char *s);

/* Formats a message into err (if err and errlen are not 0). */
void push_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
