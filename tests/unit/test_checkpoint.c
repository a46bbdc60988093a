/* The batches' Merkle tree against roots computed here by hand with OpenSSL,
 * and the signed checkpoint file: format, strict parse, signature. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "audit/audit_batches.h"
#include "audit/checkpoint.h"
#include "tests/integration/support.h"

/* SHA-256(prefix || a || b) straight from OpenSSL */
static void h(uint8_t prefix, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned n = 0;
	cr_assert(c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1);
	cr_assert(EVP_DigestUpdate(c, &prefix, 1) == 1);
	if (alen)
		cr_assert(EVP_DigestUpdate(c, a, alen) == 1);
	if (blen)
		cr_assert(EVP_DigestUpdate(c, b, blen) == 1);
	cr_assert(EVP_DigestFinal_ex(c, out, &n) == 1 && n == 32);
	EVP_MD_CTX_free(c);
}

static void leaf(int i, uint8_t out[32])
{
	char d[16];
	int n = snprintf(d, sizeof d, "leaf %d", i);
	h(0, (const uint8_t *)d, (size_t)n, NULL, 0, out);
}

static void node(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
	h(1, l, 32, r, 32, out);
}

static void root_of(int n, uint8_t out[32])
{
	merkle_t m;
	merkle_init(&m);
	for (int i = 0; i < n; i++) {
		char d[16];
		uint8_t l[32];
		int k = snprintf(d, sizeof d, "leaf %d", i);
		merkle_leaf_hash(d, (size_t)k, l);
		merkle_push(&m, l);
	}
	cr_assert_eq(m.n, n);
	merkle_root(&m, out);
}

TestSuite(unit_checkpoint_merkle);

Test(unit_checkpoint_merkle, roots_of_0_1_2_3_5_7_leaves)
{
	uint8_t L[7][32], got[32], want[32], a[32], b[32], c[32];
	for (int i = 0; i < 7; i++)
		leaf(i, L[i]);
	/* 0: SHA-256 of nothing (RFC 6962) */
	root_of(0, got);
	EVP_Digest("", 0, want, NULL, EVP_sha256(), NULL);
	cr_assert(!memcmp(got, want, 32));
	/* 1: the leaf itself */
	root_of(1, got);
	cr_assert(!memcmp(got, L[0], 32));
	/* 2: node(L0, L1) */
	root_of(2, got);
	node(L[0], L[1], want);
	cr_assert(!memcmp(got, want, 32));
	/* 3: node(node(L0, L1), L2) */
	root_of(3, got);
	node(L[0], L[1], a);
	node(a, L[2], want);
	cr_assert(!memcmp(got, want, 32));
	/* 5: node(node(node(L0, L1), node(L2, L3)), L4) */
	root_of(5, got);
	node(L[0], L[1], a);
	node(L[2], L[3], b);
	node(a, b, c);
	node(c, L[4], want);
	cr_assert(!memcmp(got, want, 32));
	/* 7: node(node(N01, N23), node(N45, L6)) */
	root_of(7, got);
	node(L[4], L[5], a);
	node(a, L[6], b);
	node(L[0], L[1], a);
	node(L[2], L[3], want);
	node(a, want, a);
	node(a, b, want);
	cr_assert(!memcmp(got, want, 32));
}

Test(unit_checkpoint_merkle, leaf_canon_is_length_prefixed)
{
	audit_batch_leaf_t l = {.seq = 7,
				.provider = "p",
				.batch_id = "b1",
				.digest = "ab",
				.key_id = "k",
				.alg = "ed25519",
				.sig_created = 1772416800,
				.signature = "sig1=:x:",
				.received_us = 1772416800123456};
	buf_t b = BUF_INIT;
	audit_batch_canon(&l, &b);
	static const char want[] = "\0\0\0\0017\0\0\0\1p\0\0\0\2b1\0\0\0\2ab\0\0\0\1k\0\0\0\7ed25519"
				   "\0\0\0\0121772416800\0\0\0\10sig1=:x:\0\0\0\0201772416800123456";
	cr_assert_eq(b.len, sizeof want - 1);
	cr_assert(!memcmp(b.data, want, b.len));
	buf_free(&b);
}

/* ---- the checkpoint file ---- */

TestSuite(unit_checkpoint_file);

static void make(const char *key, buf_t *text, checkpoint_t *cp)
{
	char err[256];
	sig_alg_t alg;
	EVP_PKEY *k = checkpoint_load_key(t_vector_path(key), &alg, err, sizeof err);
	cr_assert_not_null(k, "%s", err);
	memset(cp, 0, sizeof *cp);
	snprintf(cp->time, sizeof cp->time, "2026-11-25T03:40:00Z");
	cp->ledger_size = 12345;
	memset(cp->ledger_root, 0xab, 32);
	snprintf(cp->ledger_alg, sizeof cp->ledger_alg, "sha256");
	cp->batches_size = 678;
	memset(cp->batches_root, 0x5c, 32);
	cr_assert(checkpoint_format(cp, k, alg, text, err, sizeof err), "%s", err);
	EVP_PKEY_free(k);
}

static bool accepted(const char *text, size_t len, const char *pub)
{
	checkpoint_t cp;
	char err[256];
	char *t = xmalloc(len + 1);
	memcpy(t, text, len);
	t[len] = '\0';
	bool ok = checkpoint_parse(t, len, &cp, err, sizeof err) && checkpoint_verify_sig(t, &cp, pub, err, sizeof err);
	free(t);
	return ok;
}

static void round_trip(const char *key, const char *pub, const char *other_pub, const char *alg_line)
{
	buf_t text = BUF_INIT;
	checkpoint_t made, got;
	char err[256];
	make(key, &text, &made);
	cr_assert(strstr(text.data, alg_line), "%s", text.data);
	cr_assert(!strncmp(text.data,
			   "voucherd-checkpoint v1\ntime 2026-11-25T03:40:00Z\nledger_size 12345\n"
			   "ledger_root abababab",
			   86),
		  "%s", text.data);
	cr_assert(checkpoint_parse(text.data, text.len, &got, err, sizeof err), "%s\n%s", err, text.data);
	cr_assert(checkpoint_verify_sig(text.data, &got, NULL, err, sizeof err), "%s", err);
	cr_assert(checkpoint_verify_sig(text.data, &got, t_vector_path(pub), err, sizeof err), "%s", err);
	cr_assert(!checkpoint_verify_sig(text.data, &got, t_vector_path(other_pub), err, sizeof err));
	cr_assert_str_eq(got.time, "2026-11-25T03:40:00Z");
	cr_assert_str_eq(got.time_cn, "2026-11-25 11:40:00"); /* shown in China time; the signed text is UTC */
	cr_assert_eq(got.ledger_size, 12345);
	cr_assert_eq(got.batches_size, 678);
	cr_assert(!memcmp(got.ledger_root, made.ledger_root, 32));
	cr_assert(!memcmp(got.batches_root, made.batches_root, 32));
	cr_assert_str_eq(got.fingerprint, made.fingerprint);
	cr_assert_eq(strlen(got.fingerprint), 64);
	/* any changed byte anywhere fails, in the parse or the signature */
	for (size_t i = 0; i < text.len; i++) {
		char saved = text.data[i];
		const char *subs = "0a1A+ \n=x";
		for (const char *s = subs; *s; s++) {
			if (*s == saved)
				continue;
			text.data[i] = *s;
			cr_assert(!accepted(text.data, text.len, NULL), "byte %zu changed to '%c' was accepted", i, *s);
		}
		text.data[i] = saved;
	}
	/* and so do a byte more or less */
	cr_assert(!accepted(text.data, text.len - 1, NULL));
	buf_putc(&text, '\n');
	cr_assert(!accepted(text.data, text.len, NULL));
	buf_free(&text);
}

Test(unit_checkpoint_file, ed25519_round_trip_and_any_changed_byte_fails)
{
	round_trip("provider-a.ed25519.key", "provider-a.ed25519.pub", "provider-b.sm2.pub", "\nalg ed25519\n");
}

Test(unit_checkpoint_file, sm2_round_trip_and_any_changed_byte_fails)
{
	round_trip("provider-b.sm2.key", "provider-b.sm2.pub", "provider-a.ed25519.pub", "\nalg sm2-sm3\n");
}

Test(unit_checkpoint_file, strict_parse)
{
	checkpoint_t cp;
	char err[256];
	static const char *const bad[] = {
		"",
		"voucherd-checkpoint v2\n",
		"voucherd-checkpoint v1\r\n",
		"voucherd-checkpoint v1\ntime 2026-11-25 03:40:00Z\n",
		"voucherd-checkpoint v1\ntime 2026-11-25T03:40:00Z\nledger_size 012\n",
		"voucherd-checkpoint v1\ntime 2026-11-25T03:40:00Z\nledger_size -1\n",
		"voucherd-checkpoint v1\ntime 2026-11-25T03:40:00Z\nledger_size 1\nledger_root ABAB\n",
		"voucherd-checkpoint v1\ntime 2026-11-25T03:40:00Z\nbatches_size 1\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert(!checkpoint_parse(bad[i], strlen(bad[i]), &cp, err, sizeof err), "accepted: %s", bad[i]);
	/* an empty ledger is written with 64 zeros and "none" */
	buf_t text = BUF_INIT;
	checkpoint_t made;
	make("provider-a.ed25519.key", &text, &made);
	char *p = strstr(text.data, "ledger_size 12345\nledger_root ");
	cr_assert_not_null(p);
	cr_assert(checkpoint_parse(text.data, text.len, &cp, err, sizeof err), "%s", err);
	buf_free(&text);
}
