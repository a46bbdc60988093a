/* sfv: RFC 8941 structured field values, the parts HTTP message signatures
 * need: dictionaries whose members are items or inner lists, with parameters.
 *
 * The parser follows RFC 8941 section 4.2 closely and is strict where the RFC
 * leaves room:
 *   - duplicate dictionary keys and duplicate parameters are refused (RFC
 *     8941 would let the last one win; for signatures that invites confusion);
 *   - byte sequences must be canonical padded base64 (no missing "=", no
 *     non-zero pad bits), although RFC 8941 asks parsers to tolerate both;
 *   - a dictionary holds at most the caller's max members.
 * Every parser reads a NUL-terminated string and stops at the NUL: NUL is in
 * none of the character classes accepted, so no loop can step over it.
 * Items point into the parsed text; nothing is copied or allocated. */
#ifndef VOUCHER_SFV_H
#define VOUCHER_SFV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SF_MAX_INNER 4 /* inner-list items kept (enough to see "one too many") */

typedef enum { SF_INTEGER, SF_DECIMAL, SF_STRING, SF_TOKEN, SF_BYTES, SF_BOOLEAN } sfv_kind_t;

/* A bare item.  For strings the span includes the quotes (raw text); for byte
 * sequences it is the base64 between the colons. */
typedef struct {
	sfv_kind_t kind;
	const char *start, *end;
	int64_t num; /* integer value, or boolean 0/1 */
} sfv_item_t;

/* A dictionary member.  Values that are inner lists keep their first
 * SF_MAX_INNER items; params points at the first ';' of the value's own
 * parameters (or at the character after the value when it has none). */
typedef struct {
	const char *key;
	size_t keylen;
	const char *vstart, *vend; /* raw value text, with parameters */
	bool inner;
	sfv_item_t item; /* when !inner */
	size_t nitems;   /* when inner: total item count */
	sfv_item_t items[SF_MAX_INNER];
	bool item_params[SF_MAX_INNER];
	const char *params;
} sfv_member_t;

typedef enum {
	SFV_OK = 0,
	SFV_EMPTY,  /* the field is absent (NULL) or empty */
	SFV_SYNTAX, /* bad syntax, a duplicate key or more than max members */
} sfv_status_t;

/* Parses a whole field value as a dictionary (RFC 8941 4.2 and 4.2.2) into
 * m[0..max); *n receives the member count. */
sfv_status_t sfv_dict(const char *hdr, sfv_member_t *m, size_t max, size_t *n);
/* The member named key, or NULL. */
const sfv_member_t *sfv_find(const sfv_member_t *m, size_t n, const char *key);
/* One parameter at *pp, if the next character is ';'.  Returns 1 when one was
 * parsed (a bare key gives Boolean true), 0 when there is none, -1 on a
 * syntax error. */
int sfv_param_next(const char **pp, const char **key, size_t *keylen, sfv_item_t *val);
/* Unescapes a string item into out (cap includes the NUL); false if it does
 * not fit. */
bool sfv_string_value(const sfv_item_t *it, char *out, size_t cap, size_t *len);
/* The item's raw text is exactly raw (for strings: with the quotes). */
bool sfv_item_is(const sfv_item_t *it, const char *raw);

#endif
