/* pgarray: one-dimensional PostgreSQL arrays in the binary wire format
 * (array_send/array_recv), so that a batch's records reach the server as one
 * array per column that it reads without parsing text.
 *
 *   buf_t a = BUF_INIT;
 *   pga_begin(&a, PGA_TEXT);
 *   pga_text(&a, "x"); pga_text(&a, NULL);
 *   pga_end(&a, 2);
 *   ... send a.data, a.len as a binary parameter typed text[] ...
 *
 * The buffer must hold nothing else.  Elements: text and bytea as their bytes,
 * int4/int8 big-endian, timestamptz as int8 microseconds since 2000-01-01 UTC.
 */
#ifndef VOUCHER_PGARRAY_H
#define VOUCHER_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* element type OIDs (pg_type.h; fixed since PostgreSQL 7) */
#define PGA_BYTEA 17u
#define PGA_INT8 20u
#define PGA_INT4 23u
#define PGA_TEXT 25u
#define PGA_TIMESTAMPTZ 1184u

void pga_begin(buf_t *a, uint32_t elem_oid);
/* Finishes an array of n elements (the number added since pga_begin). */
void pga_end(buf_t *a, uint32_t n);
void pga_null(buf_t *a);
void pga_text(buf_t *a, const char *s); /* NULL is a NULL element */
void pga_bytes(buf_t *a, const void *p, size_t n);
void pga_int4(buf_t *a, int32_t v);
void pga_int8(buf_t *a, int64_t v);
/* unix_us: microseconds since 1970-01-01 UTC */
void pga_timestamptz(buf_t *a, int64_t unix_us);

#endif
