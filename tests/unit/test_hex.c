/* Table-driven tests of common/hex.c. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(unit_hex, encodes_lowercase_two_digits_a_byte)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{"", 0, ""},          {"\x00", 1, "00"},
		{"\x0f", 1, "0f"},    {"\xf0", 1, "f0"},
		{"\xff", 1, "ff"},    {"\x01\x23\x45\x67\x89\xab\xcd\xef", 8, "0123456789abcdef"},
		{"abc", 3, "616263"}, {"\x00\x00", 2, "0000"}, /* NUL bytes are data, not an end */
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[64];
		memset(out, 'x', sizeof out);
		hex_encode(cases[i].in, cases[i].len, out);
		cr_expect_str_eq(out, cases[i].out, "case %zu", i);
		cr_expect_eq(out[2 * cases[i].len], '\0');
		cr_expect_eq(out[2 * cases[i].len + 1], 'x', "writes nothing past the NUL");
	}
}

Test(unit_hex, every_byte_value)
{
	uint8_t all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	char out[513];
	hex_encode(all, sizeof all, out);
	cr_assert_eq(strlen(out), 512);
	for (int i = 0; i < 256; i++) {
		char want[3];
		snprintf(want, sizeof want, "%02x", i);
		cr_expect(out[2 * i] == want[0] && out[2 * i + 1] == want[1], "byte %d", i);
	}
}

Test(unit_hex, a_sha256_fingerprint_is_64_digits)
{
	uint8_t md[32];
	for (int i = 0; i < 32; i++)
		md[i] = (uint8_t)(i * 37 + 11);
	char fp[65];
	hex_encode(md, sizeof md, fp);
	cr_expect_eq(strlen(fp), 64);
	cr_expect_eq(strspn(fp, "0123456789abcdef"), 64);
}
