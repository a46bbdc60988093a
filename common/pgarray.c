#include "common/pgarray.h"

#include <string.h>

/* seconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch */
#define PG_EPOCH_OFFSET_US (INT64_C(946684800) * 1000000)
#define HEADER_BYTES 20 /* ndim, flags, element type, size, lower bound */

static void put_u32(buf_t *a, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			      (unsigned char)v};
	buf_append(a, b, 4);
}

static void set_u32(buf_t *a, size_t off, uint32_t v)
{
	unsigned char *p = (unsigned char *)a->data + off;
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void pga_begin(buf_t *a, uint32_t elem_oid)
{
	buf_reset(a);
	put_u32(a, 1); /* ndim */
	put_u32(a, 0); /* flags: the server works out the NULLs itself */
	put_u32(a, elem_oid);
	put_u32(a, 0); /* size, set by pga_end */
	put_u32(a, 1); /* lower bound */
}

void pga_end(buf_t *a, uint32_t n)
{
	if (n == 0) {
		/* an empty array has no dimensions */
		set_u32(a, 0, 0);
		a->len = 12;
		a->data[a->len] = '\0';
		return;
	}
	set_u32(a, 12, n);
}

void pga_null(buf_t *a)
{
	put_u32(a, UINT32_MAX); /* length -1 */
}

void pga_bytes(buf_t *a, const void *p, size_t n)
{
	put_u32(a, (uint32_t)n);
	buf_append(a, p, n);
}

void pga_text(buf_t *a, const char *s)
{
	if (!s)
		pga_null(a);
	else
		pga_bytes(a, s, strlen(s));
}

void pga_int4(buf_t *a, int32_t v)
{
	put_u32(a, 4);
	put_u32(a, (uint32_t)v);
}

void pga_int8(buf_t *a, int64_t v)
{
	put_u32(a, 8);
	put_u32(a, (uint32_t)((uint64_t)v >> 32));
	put_u32(a, (uint32_t)v);
}

void pga_timestamptz(buf_t *a, int64_t unix_us)
{
	pga_int8(a, unix_us - PG_EPOCH_OFFSET_US);
}
