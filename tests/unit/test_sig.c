/* Unit tests for metering/sig.c against tests/vectors.
 *
 * Vectors are found in $VOUCHER_VECTORS, else tests/vectors (relative to
 * the repository root, which is the working directory of the tests).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/b64.h"
#include "common/buf.h"
#include "metering/sig.h"

#define COMP "(\"@method\" \"@path\" \"content-digest\")"
#define GOODP ";created=1772416800;keyid=\"prov-a-2026a\";alg=\"ed25519\""
#define D_A "zh89Qez2xMfbpyX6mVRcYgpbgUFWMQPlG5OS9J+zmfw="
#define D_EMPTY "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static const char *vec_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("VOUCHER_VECTORS");
	if (!dir || !*dir)
		dir = "tests/vectors";
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

/* Reads a vector file; NUL-terminated, exact length in *len. */
static char *slurp(const char *name, size_t *len)
{
	FILE *f = fopen(vec_path(name), "rb");
	cr_assert_not_null(f, "cannot open vector %s (set VOUCHER_VECTORS)", vec_path(name));
	buf_t b = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	if (len)
		*len = b.len;
	return buf_steal(&b);
}

/* The value of header `name` in one of the vectors' .headers files (malloc'd). */
static char *header_of(const char *file, const char *name)
{
	char *all = slurp(file, NULL);
	size_t nl = strlen(name);
	char *res = NULL;
	for (char *line = all; line && *line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (!strncmp(line, name, nl) && line[nl] == ':' && line[nl + 1] == ' ') {
			res = xstrdup(line + nl + 2);
			break;
		}
		line = end ? end + 1 : NULL;
	}
	free(all);
	cr_assert_not_null(res, "header %s not in %s", name, file);
	return res;
}

static EVP_PKEY *load_pub(const char *name, sig_alg_t alg)
{
	size_t len;
	char *pem = slurp(name, &len);
	char err[256];
	EVP_PKEY *k = sig_load_public(pem, len, alg, err, sizeof err);
	free(pem);
	cr_assert_not_null(k, "loading %s: %s", name, err);
	return k;
}

static EVP_PKEY *load_priv(const char *name, sig_alg_t alg)
{
	char err[256];
	EVP_PKEY *k = sig_load_private_file(vec_path(name), alg, err, sizeof err);
	cr_assert_not_null(k, "loading %s: %s", name, err);
	return k;
}

/* SM2-with-SM3 verification/signing with an arbitrary distinguishing ID,
 * written independently of sig.c (k must be of type SM2). */
static bool sm2_id_op(EVP_PKEY *k, const char *id, bool sign, const void *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	bool ok = pctx && mctx && EVP_PKEY_CTX_set1_id(pctx, id, strlen(id)) > 0;
	if (ok) {
		EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
		if (sign)
			ok = EVP_DigestSignInit(mctx, NULL, EVP_sm3(), NULL, k) == 1 &&
			     EVP_DigestSign(mctx, sig, siglen, msg, len) == 1;
		else
			ok = EVP_DigestVerifyInit(mctx, NULL, EVP_sm3(), NULL, k) == 1 &&
			     EVP_DigestVerify(mctx, sig, *siglen, msg, len) == 1;
	}
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	ERR_clear_error();
	return ok;
}

static char *pubkey_pem(EVP_PKEY *k, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	cr_assert(PEM_write_bio_PUBKEY(b, k) == 1);
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *res = xmalloc((size_t)n + 1);
	memcpy(res, data, (size_t)n);
	res[n] = '\0';
	*len = (size_t)n;
	BIO_free(b);
	return res;
}

/* A heap copy of exactly n bytes plus NUL, so that ASan sees any over-read. */
static char *exact(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static const char *errname(sig_err_t e)
{
	switch (e) {
	case SIG_OK: return "SIG_OK";
	case SIG_MISSING: return "SIG_MISSING";
	case SIG_MALFORMED: return "SIG_MALFORMED";
	case SIG_UNSUPPORTED: return "SIG_UNSUPPORTED";
	case SIG_COMPONENTS: return "SIG_COMPONENTS";
	case SIG_MISMATCH: return "SIG_MISMATCH";
	}
	return "?";
}

/* ------------------------------------------------------------------------ */
/* Base64                                                                   */

Test(unit_sig_b64, rfc4648_vectors)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (size_t i = 0; i < 7; i++) {
		buf_t b = BUF_INIT;
		b64_encode((const uint8_t *)plain[i], strlen(plain[i]), &b);
		cr_expect_str_eq(b.data ? b.data : "", enc[i]);
		uint8_t out[16];
		size_t n = 99;
		cr_expect(b64_decode(enc[i], strlen(enc[i]), out, sizeof out, &n), "%s", enc[i]);
		cr_expect_eq(n, strlen(plain[i]));
		cr_expect(!memcmp(out, plain[i], n));
		buf_free(&b);
	}
}

Test(unit_sig_b64, encode_appends)
{
	buf_t b = BUF_INIT;
	buf_puts(&b, "x=");
	b64_encode((const uint8_t *)"foo", 3, &b);
	cr_expect_str_eq(b.data, "x=Zm9v");
	buf_free(&b);
}

Test(unit_sig_b64, roundtrip_all_lengths)
{
	uint8_t in[100], out[100];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof in; len++) {
		buf_t b = BUF_INIT;
		b64_encode(in, len, &b);
		cr_assert_eq(b.len, (len + 2) / 3 * 4);
		size_t n;
		cr_assert(b64_decode(b.data ? b.data : "", b.len, out, sizeof out, &n));
		cr_assert_eq(n, len);
		cr_assert(!memcmp(in, out, len));
		/* exactly enough room works, one byte less does not */
		if (len) {
			cr_assert(b64_decode(b.data, b.len, out, len, &n));
			cr_assert(!b64_decode(b.data, b.len, out, len - 1, &n));
		}
		buf_free(&b);
	}
}

Test(unit_sig_b64, rejects)
{
	static const char *const bad[] = {
		"Zg",                                          /* padding missing */
		"Zg=",                                         /* padding short */
		"Zm9",                                         /* not a multiple of 4 */
		"Z===",                                        /* too much padding */
		"====",     "=Zg=",                            /* padding first */
		"Zg==Zg==",                                    /* padding inside */
		"Zm=v",     "Zh==",                            /* non-zero pad bits */
		"Zm9=",                                        /* non-zero pad bits */
		"Zm9v\n",                                      /* whitespace */
		" Zm9v",    "Zm 9v", "Zm9\tv",         "Zm9-", /* base64url */
		"Zm9_",     "Zm9*",  "Zm9v\xc3\xa9==",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t out[16];
		size_t n = 77;
		cr_expect(!b64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n), "accepted %s", bad[i]);
		cr_expect_eq(n, 0);
	}
	/* an embedded NUL is just another invalid character */
	uint8_t out[16];
	size_t n;
	cr_expect(!b64_decode("Zm\0v", 4, out, sizeof out, &n));
	/* no output room */
	cr_expect(!b64_decode("Zm9v", 4, NULL, 0, &n));
	cr_expect(b64_decode("", 0, NULL, 0, &n));
	cr_expect_eq(n, 0);
}

/* ------------------------------------------------------------------------ */
/* Algorithm names                                                          */

Test(unit_sig_alg, names)
{
	sig_alg_t a = 0;
	cr_expect_str_eq(sig_alg_name(SIG_ALG_ED25519), "ed25519");
	cr_expect_str_eq(sig_alg_name(SIG_ALG_SM2_SM3), "sm2-sm3");
	cr_expect_not_null(sig_alg_name((sig_alg_t)42));
	cr_expect(sig_alg_parse("ed25519", &a));
	cr_expect_eq(a, SIG_ALG_ED25519);
	cr_expect(sig_alg_parse("sm2-sm3", &a));
	cr_expect_eq(a, SIG_ALG_SM2_SM3);
	cr_expect(!sig_alg_parse("ED25519", &a));
	cr_expect(!sig_alg_parse("sm2", &a));
	cr_expect(!sig_alg_parse("", &a));
	cr_expect(!sig_alg_parse(NULL, &a));
	cr_expect(!sig_alg_parse(sig_alg_name((sig_alg_t)42), &a));
}

/* ------------------------------------------------------------------------ */
/* Content-Digest                                                           */

static void check_digest_vector(const char *batch)
{
	char name[64];
	size_t len;
	snprintf(name, sizeof name, "%s.json", batch);
	char *body = slurp(name, &len);
	snprintf(name, sizeof name, "%s.headers", batch);
	char *hdr = header_of(name, "Content-Digest");
	char out[56];
	sig_content_digest(body, len, out, sizeof out);
	cr_expect_str_eq(out, hdr);
	uint8_t raw[32];
	cr_expect_eq(sig_digest_check(hdr, body, len, raw), SIG_OK);
	cr_expect_eq(sig_digest_check(hdr, body, len, NULL), SIG_OK);
	/* tampered body */
	body[len / 2] ^= 1;
	uint8_t raw2[32];
	memset(raw2, 0, sizeof raw2);
	cr_expect_eq(sig_digest_check(hdr, body, len, raw2), SIG_MISMATCH);
	cr_expect(!memcmp(raw, raw2, 32), "raw is the claimed digest on mismatch too");
	body[len / 2] ^= 1;
	cr_expect_eq(sig_digest_check(hdr, body, len - 1, NULL), SIG_MISMATCH);
	cr_expect_eq(sig_digest_check(hdr, "", 0, NULL), SIG_MISMATCH);
	free(body);
	free(hdr);
}

Test(unit_sig_digest, vectors)
{
	check_digest_vector("batch-a");
	check_digest_vector("batch-b");
}

Test(unit_sig_digest, raw_is_sha256)
{
	size_t len;
	char *body = slurp("batch-a.json", &len);
	uint8_t raw[32], md[32];
	unsigned int mdlen;
	cr_assert_eq(sig_digest_check("sha-256=:" D_A ":", body, len, raw), SIG_OK);
	cr_assert(EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL));
	cr_expect(!memcmp(raw, md, 32));
	free(body);
}

Test(unit_sig_digest, empty_body_and_buffer_sizes)
{
	char out[64];
	sig_content_digest("", 0, out, sizeof out);
	cr_expect_str_eq(out, "sha-256=:" D_EMPTY ":");
	sig_content_digest(NULL, 0, out, sizeof out);
	cr_expect_str_eq(out, "sha-256=:" D_EMPTY ":");
	cr_expect_eq(strlen(out), 54);
	sig_content_digest("", 0, out, 55); /* exactly enough */
	cr_expect_str_eq(out, "sha-256=:" D_EMPTY ":");
	memset(out, 'x', sizeof out);
	sig_content_digest("", 0, out, 54); /* too small: empty, no overflow */
	cr_expect_str_eq(out, "");
	cr_expect_eq(out[1], 'x');
	out[0] = 'x';
	sig_content_digest("", 0, out, 0);
	cr_expect_eq(out[0], 'x');
	sig_content_digest("", 0, NULL, 64);
	cr_expect_eq(sig_digest_check("sha-256=:" D_EMPTY ":", NULL, 0, NULL), SIG_OK);
	cr_expect_eq(sig_digest_check("sha-256=:" D_EMPTY ":", NULL, 5, NULL), SIG_MALFORMED);
}

/* Content-Digest header built around other digests. */
static char *b64_of_len(size_t n)
{
	uint8_t b[128];
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i + 1);
	buf_t o = BUF_INIT;
	b64_encode(b, n, &o);
	return buf_steal(&o);
}

Test(unit_sig_digest, accepted_forms)
{
	size_t len;
	char *body = slurp("batch-a.json", &len);
	uint8_t md[64];
	unsigned int mdlen;
	cr_assert(EVP_Digest(body, len, md, &mdlen, EVP_sha512(), NULL));
	buf_t s512 = BUF_INIT;
	b64_encode(md, mdlen, &s512);

	/* {before, after}: the header is before + sha-512 value + after */
	const char *const forms[][2] = {
		{"sha-512=:", ":, sha-256=:" D_A ":"},
		{"sha-512=:", ":,sha-256=:" D_A ":"},
		{"sha-512=:", ":,   sha-256=:" D_A ":"},
		{"sha-512=:", ":\t,\tsha-256=:" D_A ":"},
		{"sha-256=:" D_A ":, sha-512=:", ":"},
		{"  sha-256=:" D_A ":, sha-512=:", ":  "},
		{"sha-512=:", ":;foo=1, sha-256=:" D_A ":;bar=?0"}, /* parameters ignored */
		{"unixsum=30, sha-512=:", ":, id-sha-256=(\"x\" 1.5), sha-256=:" D_A ":"},
		{"sha-256=:" D_A ":, x=tok/en:x, y=?1, z, q=\"str\", w=-12.125, sha-512=:", ":"},
	};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		buf_t hdr = BUF_INIT;
		buf_printf(&hdr, "%s%s%s", forms[i][0], s512.data, forms[i][1]);
		cr_expect_eq(sig_digest_check(hdr.data, body, len, NULL), SIG_OK, "%s", hdr.data);
		buf_free(&hdr);
	}
	buf_free(&s512);
	free(body);
}

struct dcase {
	const char *hdr;
	sig_err_t want;
};

Test(unit_sig_digest, malformed_table)
{
	size_t len;
	char *body = slurp("batch-a.json", &len);
	char *b31 = b64_of_len(31), *b33 = b64_of_len(33), *b64 = b64_of_len(64);
	char h31[128], h33[128], h64[160];
	snprintf(h31, sizeof h31, "sha-256=:%s:", b31);
	snprintf(h33, sizeof h33, "sha-256=:%s:", b33);
	snprintf(h64, sizeof h64, "sha-256=:%s:", b64);
	const struct dcase cases[] = {
		{NULL, SIG_MISSING},
		{"", SIG_MISSING},
		{"   ", SIG_MISSING},
		{"sha-512=:" D_A ":", SIG_UNSUPPORTED},
		{"garbage", SIG_UNSUPPORTED},     /* a valid dictionary without sha-256 */
		{"sha-256=" D_A, SIG_MALFORMED},  /* no colons */
		{"sha-256=:" D_A, SIG_MALFORMED}, /* no closing colon */
		{"sha-256=" D_A ":", SIG_MALFORMED},
		{"sha-256=::" D_A ":", SIG_MALFORMED},
		{"sha-256=:zh89Qez2xMfbpyX6mVRcYgpbgUFWMQPlG5OS9J+zmfw:", SIG_MALFORMED},  /* pad */
		{"sha-256=:zh89Qez2xMfbpyX6mVRcYgpbgUFWMQPlG5OS9J-zmfw=:", SIG_MALFORMED}, /* url */
		{"sha-256=:zh89Qez2xMfbpyX6mVRcYgpbgUFWMQPlG5OS9J*zmfw=:", SIG_MALFORMED},
		{"sha-256=:zh89Qez2xMfbpyX6mVRc YgpbgUFWMQPlG5OS9J+zmfw=:", SIG_MALFORMED},
		{"sha-256=:zh89Qez2xMfbpyX6mVRcYgpbgUFWMQPlG5OS9J+zmfx=:", SIG_MALFORMED}, /* bits */
		{"sha-256=::", SIG_MALFORMED},                                             /* empty */
		{h31, SIG_MALFORMED},
		{h33, SIG_MALFORMED},
		{h64, SIG_MALFORMED},
		{"sha-256=:" D_A ":, sha-256=:" D_A ":", SIG_MALFORMED}, /* duplicate */
		{"sha-512=:" D_A ":, sha-256=:" D_A ":, sha-512=:" D_A ":", SIG_MALFORMED},
		{"SHA-256=:" D_A ":", SIG_MALFORMED},
		{"Sha-256=:" D_A ":", SIG_MALFORMED},
		{"sha-256", SIG_MALFORMED}, /* Boolean true */
		{"sha-256=?1", SIG_MALFORMED},
		{"sha-256=\"" D_A "\"", SIG_MALFORMED},
		{"sha-256=(:" D_A ":)", SIG_MALFORMED}, /* inner list */
		{"sha-256=:" D_A ":,", SIG_MALFORMED},  /* trailing comma */
		{"sha-256=:" D_A ":, ", SIG_MALFORMED},
		{",sha-256=:" D_A ":", SIG_MALFORMED},
		{"sha-256=:" D_A ":,,sha-512=:" D_A ":", SIG_MALFORMED},
		{"sha-256=:" D_A ": x", SIG_MALFORMED},
		{"sha-256=:" D_A ":;", SIG_MALFORMED},
		{"sha-256 =:" D_A ":", SIG_MALFORMED},
		{"sha-256= :" D_A ":", SIG_MALFORMED},
		{"\tsha-256=:" D_A ":", SIG_MALFORMED}, /* RFC 8941 strips SP only */
		{"sha-256=:" D_A ":\n", SIG_MALFORMED},
		{"sha-256=:" D_A ":, md5=:abc", SIG_MALFORMED}, /* other member broken */
		{"sha-256=:" D_A ":, md5=\"abc", SIG_MALFORMED},
		{"sha-256=:" D_A ":, n=1234567890123456", SIG_MALFORMED},
		{"hello world", SIG_MALFORMED},
		{"=", SIG_MALFORMED},
		{":" D_A ":", SIG_MALFORMED},
		{"\xff", SIG_MALFORMED},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t raw[32];
		sig_err_t got = sig_digest_check(cases[i].hdr, body, len, raw);
		cr_expect_eq(got, cases[i].want, "case %zu [%s]: got %s want %s", i,
			     cases[i].hdr ? cases[i].hdr : "(null)", errname(got), errname(cases[i].want));
	}
	free(b31);
	free(b33);
	free(b64);
	free(body);
}

/* ------------------------------------------------------------------------ */
/* Signature-Input                                                          */

static void check_input_vector(const char *batch, const char *keyid, sig_alg_t alg)
{
	char name[64];
	snprintf(name, sizeof name, "%s.headers", batch);
	char *hdr = header_of(name, "Signature-Input");
	sig_input_t in;
	cr_assert_eq(sig_input_parse(hdr, &in), SIG_OK);
	cr_expect_str_eq(in.label, "sig1");
	cr_expect_eq(in.created, 1772416800);
	cr_expect_str_eq(in.keyid, keyid);
	cr_expect_eq(in.alg, alg);
	cr_expect_str_eq(in.params, hdr + strlen("sig1="));
	free(hdr);
}

Test(unit_sig_input, vectors)
{
	check_input_vector("batch-a", "prov-a-2026a", SIG_ALG_ED25519);
	check_input_vector("batch-b", "prov-b-2026a", SIG_ALG_SM2_SM3);
}

struct icase {
	const char *hdr;
	const char *label, *keyid, *params;
	int64_t created;
	sig_alg_t alg;
};

Test(unit_sig_input, accepted_forms)
{
	const struct icase cases[] = {
		{"sig1=" COMP GOODP, "sig1", "prov-a-2026a", COMP GOODP, 1772416800, SIG_ALG_ED25519},
		/* parameters in any order */
		{"s=" COMP ";alg=\"sm2-sm3\";keyid=\"k\";created=1", "s", "k",
		 COMP ";alg=\"sm2-sm3\";keyid=\"k\";created=1", 1, SIG_ALG_SM2_SM3},
		{"s=" COMP ";keyid=\"k\";created=7;alg=\"ed25519\"", "s", "k",
		 COMP ";keyid=\"k\";created=7;alg=\"ed25519\"", 7, SIG_ALG_ED25519},
		/* surrounding SP is not part of the params */
		{"   sig1=" COMP GOODP "   ", "sig1", "prov-a-2026a", COMP GOODP, 1772416800, SIG_ALG_ED25519},
		/* RFC 8941 allows SP after ';' and inside inner lists; kept verbatim */
		{"sig1=" COMP "; created=5;  keyid=\"k\"; alg=\"ed25519\"", "sig1", "k",
		 COMP "; created=5;  keyid=\"k\"; alg=\"ed25519\"", 5, SIG_ALG_ED25519},
		{"sig1=(  \"@method\"  \"@path\" \"content-digest\" );created=5;keyid=\"k\";alg="
		 "\"ed25519\"",
		 "sig1", "k",
		 "(  \"@method\"  \"@path\" \"content-digest\" );created=5;keyid=\"k\";alg="
		 "\"ed25519\"",
		 5, SIG_ALG_ED25519},
		/* escapes in keyid are decoded in keyid, kept in params */
		{"sig1=" COMP ";created=1;keyid=\"a\\\"b\\\\c d\";alg=\"ed25519\"", "sig1", "a\"b\\c d",
		 COMP ";created=1;keyid=\"a\\\"b\\\\c d\";alg=\"ed25519\"", 1, SIG_ALG_ED25519},
		/* largest integer RFC 8941 allows, and leading zeros */
		{"sig1=" COMP ";created=999999999999999;keyid=\"k\";alg=\"ed25519\"", "sig1", "k",
		 COMP ";created=999999999999999;keyid=\"k\";alg=\"ed25519\"", 999999999999999, SIG_ALG_ED25519},
		{"sig1=" COMP ";created=007;keyid=\"k\";alg=\"ed25519\"", "sig1", "k",
		 COMP ";created=007;keyid=\"k\";alg=\"ed25519\"", 7, SIG_ALG_ED25519},
		/* every key character class */
		{"*a0_-.*=" COMP ";created=1;keyid=\"k\";alg=\"ed25519\"", "*a0_-.*", "k",
		 COMP ";created=1;keyid=\"k\";alg=\"ed25519\"", 1, SIG_ALG_ED25519},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sig_input_t in;
		sig_err_t got = sig_input_parse(cases[i].hdr, &in);
		cr_expect_eq(got, SIG_OK, "case %zu [%s]: %s", i, cases[i].hdr, errname(got));
		if (got != SIG_OK)
			continue;
		cr_expect_str_eq(in.label, cases[i].label, "case %zu", i);
		cr_expect_str_eq(in.keyid, cases[i].keyid, "case %zu", i);
		cr_expect_str_eq(in.params, cases[i].params, "case %zu", i);
		cr_expect_eq(in.created, cases[i].created, "case %zu", i);
		cr_expect_eq(in.alg, cases[i].alg, "case %zu", i);
	}
}

Test(unit_sig_input, length_limits)
{
	char hdr[1024], k[200], label[80];
	sig_input_t in;
	/* keyid of 128 characters is fine, 129 is not */
	memset(k, 'k', 128);
	k[128] = '\0';
	snprintf(hdr, sizeof hdr, "sig1=" COMP ";created=1;keyid=\"%s\";alg=\"ed25519\"", k);
	cr_expect_eq(sig_input_parse(hdr, &in), SIG_OK);
	cr_expect_str_eq(in.keyid, k);
	k[127] = '\\';
	k[128] = '"';
	k[129] = '\0'; /* 128 decoded characters, the last an escaped quote */
	snprintf(hdr, sizeof hdr, "sig1=" COMP ";created=1;keyid=\"%s\";alg=\"ed25519\"", k);
	cr_expect_eq(sig_input_parse(hdr, &in), SIG_OK);
	cr_expect_eq(strlen(in.keyid), 128);
	memset(k, 'k', 129);
	k[129] = '\0';
	snprintf(hdr, sizeof hdr, "sig1=" COMP ";created=1;keyid=\"%s\";alg=\"ed25519\"", k);
	cr_expect_eq(sig_input_parse(hdr, &in), SIG_MALFORMED);
	/* label of 63 characters is fine, 64 is not */
	memset(label, 'l', 63);
	label[63] = '\0';
	snprintf(hdr, sizeof hdr, "%s=" COMP GOODP, label);
	cr_expect_eq(sig_input_parse(hdr, &in), SIG_OK);
	cr_expect_str_eq(in.label, label);
	label[63] = 'l';
	label[64] = '\0';
	snprintf(hdr, sizeof hdr, "%s=" COMP GOODP, label);
	cr_expect_eq(sig_input_parse(hdr, &in), SIG_MALFORMED);
	/* params longer than sig_input_t.params can hold */
	char sp[600];
	memset(sp, ' ', sizeof sp - 1);
	sp[sizeof sp - 1] = '\0';
	snprintf(hdr, sizeof hdr, "sig1=(\"@method\"%s\"@path\" \"content-digest\")" GOODP, sp);
	cr_expect_eq(sig_input_parse(hdr, &in), SIG_MALFORMED);
}

struct ecase {
	const char *hdr;
	sig_err_t want;
};

Test(unit_sig_input, malformed_table)
{
	const struct ecase cases[] = {
		{NULL, SIG_MISSING},
		{"", SIG_MISSING},
		{"    ", SIG_MISSING},
		/* parameters missing / duplicated / unknown / mistyped */
		{"sig1=" COMP, SIG_MALFORMED},
		{"sig1=" COMP ";keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"k\"", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";created=1772416800", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";keyid=\"prov-a-2026a\"", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";alg=\"sm2-sm3\"", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";expires=1772417800", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";nonce=\"abc\"", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";tag=\"voucher\"", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";x", SIG_MALFORMED},
		{"sig1=" COMP ";created=0;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=-0;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=-1;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=+1;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1.5;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1.2345;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1.;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=\"1\";keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=?1;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=-;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=abc;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1234567890123456;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=99999999999999999999999;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=k;alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=:AAAA:;alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"abc;alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;alg=\"ed25519\";keyid=\"abc", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;alg=\"ed25519\";keyid=\"abc\\", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"a\\nb\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"a\\'b\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"a\tb\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"caf\xc3\xa9\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"a\x7f\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"k\";alg=ed25519", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"k\";alg=1", SIG_MALFORMED},
		{"sig1=" COMP ";created=1;keyid=\"k\";alg", SIG_MALFORMED},
		/* unsupported algorithms */
		{"sig1=" COMP ";created=1;keyid=\"k\";alg=\"rsa-pss-sha512\"", SIG_UNSUPPORTED},
		{"sig1=" COMP ";created=1;keyid=\"k\";alg=\"ecdsa-p256-sha256\"", SIG_UNSUPPORTED},
		{"sig1=" COMP ";created=1;keyid=\"k\";alg=\"hmac-sha256\"", SIG_UNSUPPORTED},
		{"sig1=" COMP ";created=1;keyid=\"k\";alg=\"ED25519\"", SIG_UNSUPPORTED},
		{"sig1=" COMP ";created=1;keyid=\"k\";alg=\"\"", SIG_UNSUPPORTED},
		{"sig1=" COMP ";created=1;keyid=\"k\";alg=\"ed25519ed25519ed25519ed25519ed25519\"", SIG_UNSUPPORTED},
		/* covered components */
		{"sig1=(\"@path\" \"@method\" \"content-digest\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\" \"content-digest\" \"@path\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\" \"@path\" \"content-digest\" \"@authority\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\" \"@path\" \"content-digest\" \"content-digest\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\" \"@path\" \"content-digest\" \"a\" \"b\" \"c\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\" \"@path\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\")" GOODP, SIG_COMPONENTS},
		{"sig1=()" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\";req \"@path\" \"content-digest\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\" \"@path\" \"content-digest\";sf)" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\" \"@path\" \"content-digest\";key=\"x\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@METHOD\" \"@path\" \"content-digest\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\" \"@path\" \"Content-Digest\")" GOODP, SIG_COMPONENTS},
		{"sig1=(\"@method\" \"@target-uri\" \"content-digest\")" GOODP, SIG_COMPONENTS},
		{"sig1=(@method \"@path\" \"content-digest\")" GOODP, SIG_MALFORMED}, /* '@' */
		{"sig1=(method \"@path\" \"content-digest\")" GOODP, SIG_COMPONENTS}, /* token */
		{"sig1=(:AAAA: \"@path\" \"content-digest\")" GOODP, SIG_COMPONENTS},
		/* shape */
		{"sig1=" COMP GOODP ", sig2=" COMP GOODP, SIG_MALFORMED},
		{"sig1=" COMP GOODP ",sig1=" COMP GOODP, SIG_MALFORMED},
		{"sig1=" COMP GOODP ", sig2=?1", SIG_MALFORMED},
		{"sig1=:AAAA:", SIG_MALFORMED},
		{"sig1=\"x\"" GOODP, SIG_MALFORMED},
		{"sig1", SIG_MALFORMED},
		{"sig1=", SIG_MALFORMED},
		{"sig1=(\"@method\" \"@path\" \"content-digest\"" GOODP, SIG_MALFORMED},
		{"sig1=(\"@method\" \"@path\" \"content-digest\"", SIG_MALFORMED},
		{"sig1=(\"@method\" \"@path\" \"content-digest", SIG_MALFORMED},
		{"sig1=(\"@method\"\"@path\" \"content-digest\")" GOODP, SIG_MALFORMED},
		{"sig1=(\"@method\"\t\"@path\" \"content-digest\")" GOODP, SIG_MALFORMED},
		{"sig1=((\"@method\") \"@path\" \"content-digest\")" GOODP, SIG_MALFORMED},
		{"Sig1=" COMP GOODP, SIG_MALFORMED},
		{"1sig=" COMP GOODP, SIG_MALFORMED},
		{"sig 1=" COMP GOODP, SIG_MALFORMED},
		{"sig1 =" COMP GOODP, SIG_MALFORMED},
		{"sig1= " COMP GOODP, SIG_MALFORMED},
		{"sig1=" COMP GOODP " x", SIG_MALFORMED},
		{"sig1=" COMP GOODP ",", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";", SIG_MALFORMED},
		{"sig1=" COMP GOODP ";;", SIG_MALFORMED},
		{"sig1=" COMP "created=1;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP ";Created=1;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP " ;created=1;keyid=\"k\";alg=\"ed25519\"", SIG_MALFORMED},
		{"sig1=" COMP GOODP "\r\n", SIG_MALFORMED},
		{"\tsig1=" COMP GOODP, SIG_MALFORMED},
		{"hello world", SIG_MALFORMED},
		{"=", SIG_MALFORMED},
		{"(", SIG_MALFORMED},
		{",,", SIG_MALFORMED},
		{"\"", SIG_MALFORMED},
		{"\xff\xfe", SIG_MALFORMED},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sig_input_t in;
		memset(&in, 0x55, sizeof in);
		sig_err_t got = sig_input_parse(cases[i].hdr, &in);
		cr_expect_eq(got, cases[i].want, "case %zu [%s]: got %s want %s", i,
			     cases[i].hdr ? cases[i].hdr : "(null)", errname(got), errname(cases[i].want));
		/* nothing half-filled is left behind */
		cr_expect_eq(in.label[0], '\0', "case %zu", i);
		cr_expect_eq(in.params[0], '\0', "case %zu", i);
	}
	/* out may be NULL: validation only */
	cr_expect_eq(sig_input_parse("sig1=" COMP GOODP, NULL), SIG_OK);
}

/* ------------------------------------------------------------------------ */
/* Signature                                                                */

Test(unit_sig_value, vectors)
{
	uint8_t sig[128];
	size_t n;
	char *ha = header_of("batch-a.headers", "Signature");
	cr_expect_eq(sig_value_parse(ha, "sig1", sig, sizeof sig, &n), SIG_OK);
	cr_expect_eq(n, 64);
	cr_expect_eq(sig_value_parse(ha, "sig2", sig, sizeof sig, &n), SIG_MISSING);
	cr_expect_eq(n, 0);
	cr_expect_eq(sig_value_parse(ha, "sig1", sig, 63, &n), SIG_MALFORMED);
	cr_expect_eq(sig_value_parse(ha, "sig1", sig, 64, &n), SIG_OK);
	char *hb = header_of("batch-b.headers", "Signature");
	cr_expect_eq(sig_value_parse(hb, "sig1", sig, sizeof sig, &n), SIG_OK);
	cr_expect_eq(sig[0], 0x30, "SM2 signature is DER");
	cr_expect_eq((size_t)sig[1] + 2, n);
	free(ha);
	free(hb);
}

Test(unit_sig_value, table)
{
	const char *const sa = "sig1=:" D_A ":";
	uint8_t sig[128];
	size_t n;
	cr_expect_eq(sig_value_parse(sa, "sig1", sig, sizeof sig, &n), SIG_OK);
	cr_expect_eq(n, 32);
	const struct {
		const char *hdr;
		const char *label;
		sig_err_t want;
		size_t len;
	} cases[] = {
		{NULL, "sig1", SIG_MISSING, 0},
		{"", "sig1", SIG_MISSING, 0},
		{"  ", "sig1", SIG_MISSING, 0},
		{"sig2=:" D_A ":", "sig1", SIG_MISSING, 0},
		{"sig1=:" D_A ":", NULL, SIG_MISSING, 0},
		{"sig0=:AAAA:, sig1=:" D_A ":, sig2=?1", "sig1", SIG_OK, 32},
		{"sig0=:AAAA:,sig1=:" D_A ":;x=1", "sig1", SIG_OK, 32},
		{"sig0=:AAAA:, sig1=:" D_A ":", "sig0", SIG_OK, 3},
		{"sig1=:" D_A ":, sig1=:" D_A ":", "sig1", SIG_MALFORMED, 0},
		{"sig1=::", "sig1", SIG_MALFORMED, 0},
		{"sig1=:" D_A, "sig1", SIG_MALFORMED, 0},
		{"sig1=" D_A, "sig1", SIG_MALFORMED, 0},
		{"sig1=:AAA:", "sig1", SIG_MALFORMED, 0},
		{"sig1=:AA-A:", "sig1", SIG_MALFORMED, 0},
		{"sig1=\"" D_A "\"", "sig1", SIG_MALFORMED, 0},
		{"sig1=(:" D_A ":)", "sig1", SIG_MALFORMED, 0},
		{"sig1", "sig1", SIG_MALFORMED, 0},
		{"sig1=:" D_A ":,", "sig1", SIG_MALFORMED, 0},
		{"sig1=:" D_A ": garbage", "sig1", SIG_MALFORMED, 0},
		{"sig2=:AA, sig1=:" D_A ":", "sig1", SIG_MALFORMED, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		n = 99;
		sig_err_t got = sig_value_parse(cases[i].hdr, cases[i].label, sig, sizeof sig, &n);
		cr_expect_eq(got, cases[i].want, "case %zu [%s]: got %s want %s", i,
			     cases[i].hdr ? cases[i].hdr : "(null)", errname(got), errname(cases[i].want));
		cr_expect_eq(n, cases[i].len, "case %zu", i);
	}
}

/* ------------------------------------------------------------------------ */
/* Signature base                                                           */

static void check_base_vector(const char *batch)
{
	char name[64];
	snprintf(name, sizeof name, "%s.headers", batch);
	char *cd = header_of(name, "Content-Digest");
	char *si = header_of(name, "Signature-Input");
	snprintf(name, sizeof name, "%s.signature-base", batch);
	size_t len;
	char *want = slurp(name, &len);
	sig_input_t in;
	cr_assert_eq(sig_input_parse(si, &in), SIG_OK);
	buf_t b = BUF_INIT;
	sig_base(&b, "POST", "/v1/usage-batches", cd, &in);
	cr_expect_eq(b.len, len);
	cr_expect(!memcmp(b.data, want, len), "got\n%s\nwant\n%s", b.data, want);
	/* out is reset first: building twice gives the same bytes */
	sig_base(&b, "POST", "/v1/usage-batches", cd, &in);
	cr_expect_eq(b.len, len);
	cr_expect(!memcmp(b.data, want, len));
	/* OWS around the field value is not part of it */
	char padded[256];
	snprintf(padded, sizeof padded, " \t%s\t ", cd);
	sig_base(&b, "POST", "/v1/usage-batches", padded, &in);
	cr_expect_eq(b.len, len);
	cr_expect(!memcmp(b.data, want, len));
	buf_free(&b);
	free(want);
	free(cd);
	free(si);
}

Test(unit_sig_base, vectors)
{
	check_base_vector("batch-a");
	check_base_vector("batch-b");
}

Test(unit_sig_base, null_inputs_do_not_crash)
{
	buf_t b = BUF_INIT;
	sig_base(&b, NULL, NULL, NULL, NULL);
	cr_expect_str_eq(b.data, "\"@method\": \n\"@path\": \n\"content-digest\": \n\"@signature-params\": ");
	buf_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */

Test(unit_sig_keys, load_vectors)
{
	EVP_PKEY *k;
	k = load_pub("provider-a.ed25519.pub", SIG_ALG_ED25519);
	cr_expect(EVP_PKEY_is_a(k, "ED25519"));
	EVP_PKEY_free(k);
	k = load_pub("provider-b.sm2.pub", SIG_ALG_SM2_SM3);
	cr_expect(EVP_PKEY_is_a(k, "SM2"));
	EVP_PKEY_free(k);
	k = load_priv("provider-a.ed25519.key", SIG_ALG_ED25519);
	EVP_PKEY_free(k);
	k = load_priv("provider-b.sm2.key", SIG_ALG_SM2_SM3);
	EVP_PKEY_free(k);
}

static void expect_pub_refused(const char *pem, size_t len, sig_alg_t alg, const char *what)
{
	char err[256] = "";
	EVP_PKEY *k = sig_load_public(pem, len, alg, err, sizeof err);
	cr_expect_null(k, "%s accepted", what);
	EVP_PKEY_free(k);
	cr_expect_neq(err[0], '\0', "%s: no message", what);
}

static void expect_priv_refused(const char *path, sig_alg_t alg, const char *what)
{
	char err[256] = "";
	EVP_PKEY *k = sig_load_private_file(path, alg, err, sizeof err);
	cr_expect_null(k, "%s accepted", what);
	EVP_PKEY_free(k);
	cr_expect_neq(err[0], '\0', "%s: no message", what);
}

Test(unit_sig_keys, wrong_types_and_garbage)
{
	size_t la, lb, lk;
	char *a = slurp("provider-a.ed25519.pub", &la);
	char *b = slurp("provider-b.sm2.pub", &lb);
	char *ka = slurp("provider-a.ed25519.key", &lk);
	expect_pub_refused(a, la, SIG_ALG_SM2_SM3, "ed25519 key as sm2-sm3");
	expect_pub_refused(b, lb, SIG_ALG_ED25519, "sm2 key as ed25519");
	expect_pub_refused(a, la, (sig_alg_t)0, "unknown alg");
	expect_pub_refused(a, la / 2, SIG_ALG_ED25519, "truncated PEM");
	expect_pub_refused(ka, lk, SIG_ALG_ED25519, "private key as public");
	expect_pub_refused("", 0, SIG_ALG_ED25519, "empty");
	expect_pub_refused("garbage", 7, SIG_ALG_ED25519, "garbage");
	expect_pub_refused(NULL, 10, SIG_ALG_ED25519, "NULL");
	/* no err buffer: still no crash */
	cr_expect_null(sig_load_public(a, la, SIG_ALG_SM2_SM3, NULL, 0));

	expect_priv_refused(vec_path("provider-a.ed25519.key"), SIG_ALG_SM2_SM3, "ed25519 key as sm2-sm3");
	expect_priv_refused(vec_path("provider-b.sm2.key"), SIG_ALG_ED25519, "sm2 as ed25519");
	expect_priv_refused(vec_path("provider-a.ed25519.pub"), SIG_ALG_ED25519, "public key as private");
	expect_priv_refused(vec_path("no-such-file.key"), SIG_ALG_ED25519, "missing file");
	expect_priv_refused(NULL, SIG_ALG_ED25519, "NULL path");
	cr_expect_null(sig_load_private_file(vec_path("nope"), SIG_ALG_ED25519, NULL, 0));
	free(a);
	free(b);
	free(ka);
}

Test(unit_sig_keys, p256_is_not_sm2)
{
	EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cr_assert_not_null(p);
	size_t len;
	char *pem = pubkey_pem(p, &len);
	expect_pub_refused(pem, len, SIG_ALG_SM2_SM3, "P-256 key as sm2-sm3");
	expect_pub_refused(pem, len, SIG_ALG_ED25519, "P-256 key as ed25519");
	uint8_t sig[128];
	size_t n;
	cr_expect(!sig_sign(p, SIG_ALG_SM2_SM3, "x", 1, sig, &n));
	cr_expect_eq(n, 0);
	/* an ECDSA signature by it must not pass as SM2 */
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	n = sizeof sig;
	cr_assert(EVP_DigestSignInit(m, NULL, EVP_sm3(), NULL, p) == 1);
	cr_assert(EVP_DigestSign(m, sig, &n, (const uint8_t *)"x", 1) == 1);
	EVP_MD_CTX_free(m);
	cr_expect(!sig_verify(p, SIG_ALG_SM2_SM3, "x", 1, sig, n));
	free(pem);
	EVP_PKEY_free(p);
}

Test(unit_sig_keys, encrypted_private_key_fails_without_prompt)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	cr_assert_not_null(k);
	char path[] = "/tmp/test_sig_encXXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	FILE *f = fdopen(fd, "w");
	cr_assert(PEM_write_PKCS8PrivateKey(f, k, EVP_aes_256_cbc(), "secret", 6, NULL, NULL));
	fclose(f);
	expect_priv_refused(path, SIG_ALG_ED25519, "encrypted key");
	unlink(path);
	EVP_PKEY_free(k);
}

/* ------------------------------------------------------------------------ */
/* Ed25519                                                                  */

Test(unit_sig_ed25519, vector_signature_is_reproduced)
{
	EVP_PKEY *priv = load_priv("provider-a.ed25519.key", SIG_ALG_ED25519);
	EVP_PKEY *pub = load_pub("provider-a.ed25519.pub", SIG_ALG_ED25519);
	size_t blen;
	char *base = slurp("batch-a.signature-base", &blen);
	char *want = header_of("batch-a.headers", "Signature");

	uint8_t sig[128];
	size_t n;
	cr_assert(sig_sign(priv, SIG_ALG_ED25519, base, blen, sig, &n));
	cr_assert_eq(n, 64);
	buf_t h = BUF_INIT;
	buf_puts(&h, "sig1=:");
	b64_encode(sig, n, &h);
	buf_putc(&h, ':');
	cr_expect_str_eq(h.data, want);

	cr_expect(sig_verify(pub, SIG_ALG_ED25519, base, blen, sig, n));
	cr_expect(sig_verify(priv, SIG_ALG_ED25519, base, blen, sig, n));
	/* tampered signature, message, wrong length, wrong alg */
	for (size_t i = 0; i < n; i += 7) {
		sig[i] ^= 0x01;
		cr_expect(!sig_verify(pub, SIG_ALG_ED25519, base, blen, sig, n), "byte %zu", i);
		sig[i] ^= 0x01;
	}
	base[blen - 2] ^= 0x20;
	cr_expect(!sig_verify(pub, SIG_ALG_ED25519, base, blen, sig, n));
	base[blen - 2] ^= 0x20;
	cr_expect(!sig_verify(pub, SIG_ALG_ED25519, base, blen - 1, sig, n));
	cr_expect(!sig_verify(pub, SIG_ALG_ED25519, base, blen, sig, n - 1));
	cr_expect(!sig_verify(pub, SIG_ALG_ED25519, base, blen, sig, 0));
	cr_expect(!sig_verify(pub, SIG_ALG_ED25519, base, blen, NULL, n));
	cr_expect(!sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig, n));
	cr_expect(!sig_verify(pub, (sig_alg_t)9, base, blen, sig, n));
	cr_expect(!sig_verify(NULL, SIG_ALG_ED25519, base, blen, sig, n));
	cr_expect(sig_verify(pub, SIG_ALG_ED25519, base, blen, sig, n));

	/* signing needs the private key and the right alg */
	cr_expect(!sig_sign(pub, SIG_ALG_ED25519, base, blen, sig, &n));
	cr_expect_eq(n, 0);
	cr_expect(!sig_sign(priv, SIG_ALG_SM2_SM3, base, blen, sig, &n));
	cr_expect(!sig_sign(NULL, SIG_ALG_ED25519, base, blen, sig, &n));
	cr_expect(!sig_sign(priv, SIG_ALG_ED25519, base, blen, NULL, &n));
	cr_expect(sig_sign(priv, SIG_ALG_ED25519, NULL, 0, sig, &n));
	cr_expect(sig_verify(pub, SIG_ALG_ED25519, NULL, 0, sig, n));
	buf_free(&h);
	free(base);
	free(want);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
}

/* ------------------------------------------------------------------------ */
/* SM2 with SM3                                                             */

Test(unit_sig_sm2, vector_verifies)
{
	EVP_PKEY *pub = load_pub("provider-b.sm2.pub", SIG_ALG_SM2_SM3);
	size_t blen;
	char *base = slurp("batch-b.signature-base", &blen);
	char *hdr = header_of("batch-b.headers", "Signature");
	uint8_t sig[128];
	size_t n;
	cr_assert_eq(sig_value_parse(hdr, "sig1", sig, sizeof sig, &n), SIG_OK);
	cr_expect(sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig, n));
	cr_expect(!sig_verify(pub, SIG_ALG_ED25519, base, blen, sig, n));
	/* the independent helper agrees, and only with the right ID */
	cr_expect(sm2_id_op(pub, "1234567812345678", false, base, blen, sig, &n));
	cr_expect(!sm2_id_op(pub, "1234567812345679", false, base, blen, sig, &n));
	cr_expect(!sm2_id_op(pub, "ALICE123@YAHOO.COM", false, base, blen, sig, &n));
	/* tampering */
	base[0] ^= 1;
	cr_expect(!sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig, n));
	base[0] ^= 1;
	sig[n - 1] ^= 1;
	cr_expect(!sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig, n));
	sig[n - 1] ^= 1;
	cr_expect(!sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig, n - 1));
	sig[0] = 0x31; /* not DER SEQUENCE */
	cr_expect(!sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig, n));
	free(base);
	free(hdr);
	EVP_PKEY_free(pub);
}

Test(unit_sig_sm2, fresh_signature_and_id)
{
	EVP_PKEY *priv = load_priv("provider-b.sm2.key", SIG_ALG_SM2_SM3);
	EVP_PKEY *pub = load_pub("provider-b.sm2.pub", SIG_ALG_SM2_SM3);
	size_t blen;
	char *base = slurp("batch-b.signature-base", &blen);
	uint8_t sig[128], sig2[128];
	size_t n, n2;
	cr_assert(sig_sign(priv, SIG_ALG_SM2_SM3, base, blen, sig, &n));
	cr_expect(n >= 8 && n <= 72);
	cr_expect_eq(sig[0], 0x30);
	cr_expect(sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig, n));
	/* randomized: a second signature differs and verifies too */
	cr_assert(sig_sign(priv, SIG_ALG_SM2_SM3, base, blen, sig2, &n2));
	cr_expect(n != n2 || memcmp(sig, sig2, n) != 0);
	cr_expect(sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig2, n2));
	/* the ID is really applied: other IDs do not verify our signature ... */
	cr_expect(sm2_id_op(pub, "1234567812345678", false, base, blen, sig, &n));
	cr_expect(!sm2_id_op(pub, "8765432187654321", false, base, blen, sig, &n));
	/* ... and a signature under another ID does not verify here */
	size_t n3 = sizeof sig2;
	cr_assert(sm2_id_op(priv, "another-id", true, base, blen, sig2, &n3));
	cr_expect(!sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig2, n3));
	n3 = sizeof sig2;
	cr_assert(sm2_id_op(priv, "1234567812345678", true, base, blen, sig2, &n3));
	cr_expect(sig_verify(pub, SIG_ALG_SM2_SM3, base, blen, sig2, n3));
	/* public keys cannot sign */
	cr_expect(!sig_sign(pub, SIG_ALG_SM2_SM3, base, blen, sig, &n));
	free(base);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
}

/* An EC-typed key on the SM2 curve (as EVP_PKEY_Q_keygen("EC", "SM2") makes
 * it) must be used for SM2, not ECDSA. */
Test(unit_sig_sm2, ec_typed_key_on_sm2_curve)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "SM2");
	cr_assert_not_null(ec);
	cr_assert(EVP_PKEY_is_a(ec, "EC"));
	size_t len;
	char *pem = pubkey_pem(ec, &len);
	EVP_PKEY *pub = sig_load_public(pem, len, SIG_ALG_SM2_SM3, NULL, 0);
	cr_assert_not_null(pub);
	cr_expect(EVP_PKEY_is_a(pub, "SM2"));
	uint8_t sig[128];
	size_t n;
	cr_assert(sig_sign(ec, SIG_ALG_SM2_SM3, "msg", 3, sig, &n));
	cr_expect(sig_verify(pub, SIG_ALG_SM2_SM3, "msg", 3, sig, n));
	cr_expect(sm2_id_op(pub, "1234567812345678", false, "msg", 3, sig, &n));
	cr_expect(sig_verify(ec, SIG_ALG_SM2_SM3, "msg", 3, sig, n));
	cr_expect(!sig_verify(ec, SIG_ALG_SM2_SM3, "msG", 3, sig, n));
	free(pem);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(ec);
}

/* ------------------------------------------------------------------------ */
/* Headers end to end                                                       */

Test(unit_sig_headers, batch_a_reproduced_exactly)
{
	EVP_PKEY *priv = load_priv("provider-a.ed25519.key", SIG_ALG_ED25519);
	size_t len, hlen;
	char *body = slurp("batch-a.json", &len);
	char *want = slurp("batch-a.headers", &hlen);
	buf_t cd = BUF_INIT, si = BUF_INIT, s = BUF_INIT;
	buf_puts(&cd, "stale");
	cr_assert(sig_make_headers(priv, SIG_ALG_ED25519, "prov-a-2026a", 1772416800, "POST", "/v1/usage-batches", body,
				   len, &cd, &si, &s));
	buf_t all = BUF_INIT;
	buf_printf(&all, "Content-Digest: %s\nSignature-Input: %s\nSignature: %s\n", cd.data, si.data, s.data);
	cr_expect_eq(all.len, hlen);
	cr_expect_str_eq(all.data, want);
	buf_free(&all);
	buf_free(&cd);
	buf_free(&si);
	buf_free(&s);
	free(body);
	free(want);
	EVP_PKEY_free(priv);
}

/* What the daemon does with a request. */
static sig_err_t check_request(const char *cd, const char *si, const char *s, const void *body, size_t len,
			       EVP_PKEY *pub)
{
	sig_err_t e = sig_digest_check(cd, body, len, NULL);
	if (e != SIG_OK)
		return e;
	sig_input_t in;
	if ((e = sig_input_parse(si, &in)) != SIG_OK)
		return e;
	uint8_t sig[128];
	size_t n;
	if ((e = sig_value_parse(s, in.label, sig, sizeof sig, &n)) != SIG_OK)
		return e;
	buf_t base = BUF_INIT;
	sig_base(&base, "POST", "/v1/usage-batches", cd, &in);
	bool ok = sig_verify(pub, in.alg, base.data, base.len, sig, n);
	buf_free(&base);
	return ok ? SIG_OK : SIG_MISMATCH;
}

Test(unit_sig_headers, vectors_verify_end_to_end)
{
	const char *const batch[] = {"batch-a", "batch-b"};
	const char *const pubs[] = {"provider-a.ed25519.pub", "provider-b.sm2.pub"};
	const sig_alg_t algs[] = {SIG_ALG_ED25519, SIG_ALG_SM2_SM3};
	for (int i = 0; i < 2; i++) {
		char name[64];
		size_t len;
		snprintf(name, sizeof name, "%s.json", batch[i]);
		char *body = slurp(name, &len);
		snprintf(name, sizeof name, "%s.headers", batch[i]);
		char *cd = header_of(name, "Content-Digest");
		char *si = header_of(name, "Signature-Input");
		char *s = header_of(name, "Signature");
		EVP_PKEY *pub = load_pub(pubs[i], algs[i]);
		cr_expect_eq(check_request(cd, si, s, body, len, pub), SIG_OK, "%s", batch[i]);
		body[3] ^= 1;
		cr_expect_eq(check_request(cd, si, s, body, len, pub), SIG_MISMATCH);
		body[3] ^= 1;
		/* a changed created time breaks the signature */
		char *p = strstr(si, "created=1772416800");
		cr_assert_not_null(p);
		p[strlen("created=177241680")] = '1';
		cr_expect_eq(check_request(cd, si, s, body, len, pub), SIG_MISMATCH);
		free(body);
		free(cd);
		free(si);
		free(s);
		EVP_PKEY_free(pub);
	}
}

Test(unit_sig_headers, sm2_roundtrip)
{
	EVP_PKEY *priv = load_priv("provider-b.sm2.key", SIG_ALG_SM2_SM3);
	EVP_PKEY *pub = load_pub("provider-b.sm2.pub", SIG_ALG_SM2_SM3);
	size_t len;
	char *body = slurp("batch-b.json", &len);
	char *wcd = header_of("batch-b.headers", "Content-Digest");
	char *wsi = header_of("batch-b.headers", "Signature-Input");
	buf_t cd = BUF_INIT, si = BUF_INIT, s = BUF_INIT;
	cr_assert(sig_make_headers(priv, SIG_ALG_SM2_SM3, "prov-b-2026a", 1772416800, "POST", "/v1/usage-batches", body,
				   len, &cd, &si, &s));
	cr_expect_str_eq(cd.data, wcd);
	cr_expect_str_eq(si.data, wsi);
	cr_expect_eq(check_request(cd.data, si.data, s.data, body, len, pub), SIG_OK);
	buf_free(&cd);
	buf_free(&si);
	buf_free(&s);
	free(body);
	free(wcd);
	free(wsi);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
}

Test(unit_sig_headers, keyid_is_escaped)
{
	EVP_PKEY *priv = load_priv("provider-a.ed25519.key", SIG_ALG_ED25519);
	EVP_PKEY *pub = load_pub("provider-a.ed25519.pub", SIG_ALG_ED25519);
	buf_t cd = BUF_INIT, si = BUF_INIT, s = BUF_INIT;
	cr_assert(sig_make_headers(priv, SIG_ALG_ED25519, "a\"b\\c", 5, "POST", "/v1/usage-batches", "{}", 2, &cd, &si,
				   &s));
	cr_expect_str_eq(si.data, "sig1=" COMP ";created=5;keyid=\"a\\\"b\\\\c\";alg=\"ed25519\"");
	sig_input_t in;
	cr_assert_eq(sig_input_parse(si.data, &in), SIG_OK);
	cr_expect_str_eq(in.keyid, "a\"b\\c");
	cr_expect_eq(check_request(cd.data, si.data, s.data, "{}", 2, pub), SIG_OK);
	buf_free(&cd);
	buf_free(&si);
	buf_free(&s);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
}

Test(unit_sig_headers, bad_arguments)
{
	EVP_PKEY *priv = load_priv("provider-a.ed25519.key", SIG_ALG_ED25519);
	EVP_PKEY *pub = load_pub("provider-a.ed25519.pub", SIG_ALG_ED25519);
	char k129[130];
	memset(k129, 'k', 129);
	k129[129] = '\0';
	struct {
		EVP_PKEY *key;
		sig_alg_t alg;
		const char *keyid;
		int64_t created;
		const char *method, *path;
	} cases[] = {
		{NULL, SIG_ALG_ED25519, "k", 1, "POST", "/p"},
		{pub, SIG_ALG_ED25519, "k", 1, "POST", "/p"},  /* not a private key */
		{priv, SIG_ALG_SM2_SM3, "k", 1, "POST", "/p"}, /* wrong alg */
		{priv, (sig_alg_t)7, "k", 1, "POST", "/p"},
		{priv, SIG_ALG_ED25519, "", 1, "POST", "/p"},
		{priv, SIG_ALG_ED25519, NULL, 1, "POST", "/p"},
		{priv, SIG_ALG_ED25519, k129, 1, "POST", "/p"},
		{priv, SIG_ALG_ED25519, "k\n", 1, "POST", "/p"},
		{priv, SIG_ALG_ED25519, "k\xc3\xa9", 1, "POST", "/p"},
		{priv, SIG_ALG_ED25519, "k", 0, "POST", "/p"},
		{priv, SIG_ALG_ED25519, "k", -5, "POST", "/p"},
		{priv, SIG_ALG_ED25519, "k", 1, NULL, "/p"},
		{priv, SIG_ALG_ED25519, "k", 1, "POST", NULL},
		{priv, SIG_ALG_ED25519, "k", 1, "", "/p"},
		{priv, SIG_ALG_ED25519, "k", 1, "POST", "/p\r\nX: y"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_t cd = BUF_INIT, si = BUF_INIT, s = BUF_INIT;
		buf_puts(&cd, "old");
		buf_puts(&si, "old");
		buf_puts(&s, "old");
		cr_expect(!sig_make_headers(cases[i].key, cases[i].alg, cases[i].keyid, cases[i].created,
					    cases[i].method, cases[i].path, "{}", 2, &cd, &si, &s),
			  "case %zu", i);
		cr_expect_eq(cd.len + si.len + s.len, 0, "case %zu: outputs reset", i);
		buf_free(&cd);
		buf_free(&si);
		buf_free(&s);
	}
	buf_t cd = BUF_INIT, si = BUF_INIT, s = BUF_INIT;
	cr_expect(!sig_make_headers(priv, SIG_ALG_ED25519, "k", 1, "POST", "/p", NULL, 5, &cd, &si, &s));
	cr_expect(sig_make_headers(priv, SIG_ALG_ED25519, "k", 1, "POST", "/p", NULL, 0, &cd, &si, &s));
	cr_expect_str_eq(cd.data, "sha-256=:" D_EMPTY ":");
	buf_free(&cd);
	buf_free(&si);
	buf_free(&s);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
}

/* ------------------------------------------------------------------------ */
/* Robustness: truncations and mutations never crash or over-read           */

static void parse_all(const char *h)
{
	sig_input_t in;
	uint8_t sig[128], raw[32];
	size_t n;
	sig_err_t e = sig_input_parse(h, &in);
	cr_assert(e >= SIG_OK && e <= SIG_MISMATCH);
	if (e == SIG_OK) {
		cr_assert(strlen(in.label) > 0 && strlen(in.label) < sizeof in.label);
		cr_assert(strlen(in.keyid) > 0 && strlen(in.keyid) <= 128);
		cr_assert(strlen(in.params) < sizeof in.params);
		cr_assert(in.created > 0);
		cr_assert(in.alg == SIG_ALG_ED25519 || in.alg == SIG_ALG_SM2_SM3);
	}
	e = sig_value_parse(h, "sig1", sig, sizeof sig, &n);
	cr_assert(e >= SIG_OK && e <= SIG_MISMATCH);
	cr_assert(n <= sizeof sig);
	e = sig_digest_check(h, "{}", 2, raw);
	cr_assert(e >= SIG_OK && e <= SIG_MISMATCH);
}

Test(unit_sig_robust, prefixes_and_mutations)
{
	const char *const files[] = {"batch-a.headers", "batch-b.headers"};
	const char *const names[] = {"Content-Digest", "Signature-Input", "Signature"};
	static const char alphabet[] = "\"\\:;=,() \t-.*?09azAZ+/@\x01\x7f\xff";
	uint32_t seed = 12345;
	for (int f = 0; f < 2; f++) {
		for (int h = 0; h < 3; h++) {
			char *v = header_of(files[f], names[h]);
			size_t len = strlen(v);
			for (size_t i = 0; i <= len; i++) {
				char *p = exact(v, i);
				parse_all(p);
				free(p);
			}
			for (int round = 0; round < 2000; round++) {
				char *p = exact(v, len);
				int edits = 1 + round % 3;
				for (int e = 0; e < edits; e++) {
					seed = seed * 1103515245u + 12345u;
					size_t pos = (seed >> 8) % len;
					seed = seed * 1103515245u + 12345u;
					char c = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
					p[pos] = c;
				}
				parse_all(p);
				/* and cut after the last edit */
				p[(seed >> 4) % len] = '\0';
				parse_all(p);
				free(p);
			}
			free(v);
		}
	}
}
