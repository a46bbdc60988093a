/* b64: base64, RFC 4648 section 4, padded and canonical (see common/b64.h). */
#include "common/b64.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void b64_encode(const uint8_t *in, size_t len, buf_t *out)
{
	buf_reserve(out, (len + 2) / 3 * 4);
	buf_append(out, "", 0); /* keeps out NUL-terminated when len == 0 */
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		char q[4] = {B64[v >> 18 & 63], B64[v >> 12 & 63], B64[v >> 6 & 63], B64[v & 63]};
		if (i + 1 >= len)
			q[2] = '=';
		if (i + 2 >= len)
			q[3] = '=';
		buf_append(out, q, 4);
	}
}

/* Decodes len characters; with out == NULL only validates and counts.  Padding
 * is required, may only end the input, and the unused bits must be zero. */
static bool b64_dec(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t n = 0;
	if (len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		const unsigned char *q = (const unsigned char *)in + i;
		bool last = i + 4 == len;
		int pad = 0;
		if (last && q[3] == '=')
			pad = q[2] == '=' ? 2 : 1;
		int v[4];
		for (int j = 0; j < 4 - pad; j++) {
			v[j] = b64_val(q[j]);
			if (v[j] < 0)
				return false;
		}
		for (int j = 4 - pad; j < 4; j++)
			v[j] = 0;
		if (pad == 2 && (v[1] & 15) != 0)
			return false;
		if (pad == 1 && (v[2] & 3) != 0)
			return false;
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
		for (int j = 0; j < 3 - pad; j++) {
			if (out) {
				if (n >= cap)
					return false;
				out[n] = b[j];
			}
			n++;
		}
	}
	*outlen = n;
	return true;
}

bool b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t n = 0;
	if (outlen)
		*outlen = 0;
	if (!in && len)
		return false;
	if (!out && cap)
		return false;
	uint8_t dummy;
	if (!b64_dec(in ? in : "", len, out ? out : &dummy, cap, &n))
		return false;
	if (outlen)
		*outlen = n;
	return true;
}

bool b64_check(const char *in, size_t len, size_t *outlen)
{
	size_t n = 0;
	if (!in && len)
		return false;
	if (!b64_dec(in ? in : "", len, NULL, 0, &n))
		return false;
	*outlen = n;
	return true;
}

bool b64_is_char(unsigned char c)
{
	return b64_val(c) >= 0;
}
