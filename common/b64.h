/* b64: base64, RFC 4648 section 4 (standard alphabet, padded, canonical).
 *
 * Decoding is strict: padding is required and may only end the input, and
 * the unused bits of the last group must be zero, so every byte string has
 * exactly one accepted encoding. */
#ifndef VOUCHER_B64_H
#define VOUCHER_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Appends the encoding of in[0..len) to out (which stays NUL-terminated). */
void b64_encode(const uint8_t *in, size_t len, buf_t *out);
/* Decodes in[0..len) into out (at most cap bytes); false on any invalid
 * character, bad padding or overflow of cap.  *outlen (if not NULL) receives
 * the decoded length, 0 on failure. */
bool b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);
/* Validates in[0..len) as b64_decode would, without decoding; *outlen
 * receives the decoded length on success. */
bool b64_check(const char *in, size_t len, size_t *outlen);
/* A character of the alphabet (A-Z a-z 0-9 + /; not the pad '='). */
bool b64_is_char(unsigned char c);

#endif
