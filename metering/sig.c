/* sig: HTTP message signatures for usage batches (see metering/sig.h).
 *
 * RFC 9530 Content-Digest and RFC 9421 Signature-Input / Signature over the
 * RFC 8941 structured-field parser in metering/sfv.c, which is strict where
 * the RFC leaves room (duplicate keys and parameters refused, canonical
 * base64 only, at most SF_MAX_MEMBERS members per dictionary).
 */
#include "metering/sig.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/b64.h"
#include "metering/sfv.h"

#define SM2_ID "1234567812345678"
#define SIG_MAX 128       /* sig_sign's documented output capacity */
#define SF_MAX_MEMBERS 16 /* members kept per dictionary */

static const char COMPONENTS[] = "(\"@method\" \"@path\" \"content-digest\")";

/* ------------------------------------------------------------------------ */
/* Algorithms                                                               */

const char *sig_alg_name(sig_alg_t alg)
{
	switch (alg) {
	case SIG_ALG_ED25519: return "ed25519";
	case SIG_ALG_SM2_SM3: return "sm2-sm3";
	}
	return "unknown"; /* never NULL, so it can always be printed */
}

bool sig_alg_parse(const char *name, sig_alg_t *alg)
{
	if (!name)
		return false;
	if (strcmp(name, "ed25519") == 0) {
		*alg = SIG_ALG_ED25519;
		return true;
	}
	if (strcmp(name, "sm2-sm3") == 0) {
		*alg = SIG_ALG_SM2_SM3;
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------------ */
/* Structured fields                                                        */

/* A header as an RFC 8941 dictionary: SIG_MISSING for an absent or empty
 * field, SIG_MALFORMED for bad syntax, a duplicate key or more than
 * SF_MAX_MEMBERS members. */
static sig_err_t dict(const char *hdr, sfv_member_t m[SF_MAX_MEMBERS], size_t *n)
{
	switch (sfv_dict(hdr, m, SF_MAX_MEMBERS, n)) {
	case SFV_OK: return SIG_OK;
	case SFV_EMPTY: return SIG_MISSING;
	case SFV_SYNTAX: break;
	}
	return SIG_MALFORMED;
}

/* ------------------------------------------------------------------------ */
/* Content-Digest                                                           */

void sig_content_digest(const void *body, size_t len, char *out, size_t outlen)
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	if (!out || outlen == 0)
		return;
	out[0] = '\0';
	if (outlen < 9 + 44 + 1 + 1 || (!body && len))
		return;
	if (!EVP_Digest(body ? body : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		ERR_clear_error();
		return;
	}
	buf_t b = BUF_INIT;
	buf_puts(&b, "sha-256=:");
	b64_encode(md, sizeof md, &b);
	buf_putc(&b, ':');
	memcpy(out, b.data, b.len + 1);
	buf_free(&b);
}

sig_err_t sig_digest_check(const char *header, const void *body, size_t len, uint8_t raw[32])
{
	sfv_member_t m[SF_MAX_MEMBERS];
	size_t n;
	sig_err_t e = dict(header, m, &n);
	if (e != SIG_OK)
		return e;
	const sfv_member_t *d = sfv_find(m, n, "sha-256");
	if (!d)
		return SIG_UNSUPPORTED;
	/* Parameters on the member are valid RFC 8941 and are ignored. */
	if (d->inner || d->item.kind != SF_BYTES)
		return SIG_MALFORMED;
	uint8_t claim[32];
	size_t cl;
	if (!b64_decode(d->item.start, (size_t)(d->item.end - d->item.start), claim, sizeof claim, &cl) || cl != 32)
		return SIG_MALFORMED;
	if (!body && len)
		return SIG_MALFORMED;
	uint8_t md[32];
	unsigned int mdlen = 0;
	if (!EVP_Digest(body ? body : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		ERR_clear_error();
		return SIG_MISMATCH;
	}
	if (raw)
		memcpy(raw, claim, 32);
	return CRYPTO_memcmp(md, claim, 32) == 0 ? SIG_OK : SIG_MISMATCH;
}

/* ------------------------------------------------------------------------ */
/* Signature-Input and Signature                                            */

/* Parameters: created (Integer > 0), keyid (String, 1..128 characters), alg
 * (String) are required, each once.  Any other parameter, including the RFC
 * 9421 ones (expires, nonce, tag), is refused as SIG_MALFORMED: we sign and
 * check none of them, so accepting them would only pretend they mean
 * something.  Checks run in this order: syntax and shape (SIG_MALFORMED),
 * covered components (SIG_COMPONENTS), parameters (SIG_MALFORMED), the alg
 * value (SIG_UNSUPPORTED). */
sig_err_t sig_input_parse(const char *header, sig_input_t *out)
{
	sfv_member_t m[SF_MAX_MEMBERS];
	size_t n;
	sig_input_t in;
	memset(&in, 0, sizeof in);
	if (out)
		memset(out, 0, sizeof *out);
	sig_err_t e = dict(header, m, &n);
	if (e != SIG_OK)
		return e;
	if (n != 1 || !m[0].inner)
		return SIG_MALFORMED;
	if (m[0].keylen >= sizeof in.label)
		return SIG_MALFORMED;
	size_t plen = (size_t)(m[0].vend - m[0].vstart);
	if (plen >= sizeof in.params)
		return SIG_MALFORMED;

	static const char *const want[3] = {"\"@method\"", "\"@path\"", "\"content-digest\""};
	if (m[0].nitems != 3)
		return SIG_COMPONENTS;
	for (size_t i = 0; i < 3; i++)
		if (m[0].items[i].kind != SF_STRING || m[0].item_params[i] || !sfv_item_is(&m[0].items[i], want[i]))
			return SIG_COMPONENTS;

	bool have_created = false, have_keyid = false, have_alg = false;
	char algname[16];
	bool alg_fits = true;
	const char *p = m[0].params, *k;
	size_t kl, len;
	sfv_item_t v;
	int r;
	while ((r = sfv_param_next(&p, &k, &kl, &v)) == 1) {
		if (kl == 7 && !memcmp(k, "created", 7)) {
			if (have_created || v.kind != SF_INTEGER || v.num <= 0)
				return SIG_MALFORMED;
			in.created = v.num;
			have_created = true;
		} else if (kl == 5 && !memcmp(k, "keyid", 5)) {
			if (have_keyid || v.kind != SF_STRING ||
			    !sfv_string_value(&v, in.keyid, sizeof in.keyid, &len) || len == 0)
				return SIG_MALFORMED;
			have_keyid = true;
		} else if (kl == 3 && !memcmp(k, "alg", 3)) {
			if (have_alg || v.kind != SF_STRING)
				return SIG_MALFORMED;
			alg_fits = sfv_string_value(&v, algname, sizeof algname, &len);
			have_alg = true;
		} else {
			return SIG_MALFORMED;
		}
	}
	if (r < 0 || !have_created || !have_keyid || !have_alg)
		return SIG_MALFORMED;
	if (!alg_fits || !sig_alg_parse(algname, &in.alg))
		return SIG_UNSUPPORTED;

	memcpy(in.label, m[0].key, m[0].keylen);
	memcpy(in.params, m[0].vstart, plen);
	if (out)
		*out = in;
	return SIG_OK;
}

sig_err_t sig_value_parse(const char *header, const char *label, uint8_t *sig, size_t cap, size_t *siglen)
{
	sfv_member_t m[SF_MAX_MEMBERS];
	size_t n, len;
	if (siglen)
		*siglen = 0;
	sig_err_t e = dict(header, m, &n);
	if (e != SIG_OK)
		return e;
	if (!label)
		return SIG_MISSING;
	const sfv_member_t *s = sfv_find(m, n, label);
	if (!s)
		return SIG_MISSING;
	/* Parameters on the member are valid RFC 8941 and are ignored. */
	if (s->inner || s->item.kind != SF_BYTES)
		return SIG_MALFORMED;
	if (!b64_decode(s->item.start, (size_t)(s->item.end - s->item.start), sig, cap, &len) || len == 0)
		return SIG_MALFORMED;
	if (siglen)
		*siglen = len;
	return SIG_OK;
}

/* ------------------------------------------------------------------------ */
/* Signature base                                                           */

/* out is reset first.  content_digest is the field value; leading and trailing
 * SP/HTAB are trimmed as RFC 9421 2.1 requires.  The inputs must not contain
 * CR or LF (HTTP field values and request targets cannot). */
void sig_base(buf_t *out, const char *method, const char *path, const char *content_digest, const sig_input_t *in)
{
	const char *cd = content_digest ? content_digest : "";
	size_t cdlen;
	while (*cd == ' ' || *cd == '\t')
		cd++;
	cdlen = strlen(cd);
	while (cdlen && (cd[cdlen - 1] == ' ' || cd[cdlen - 1] == '\t'))
		cdlen--;
	buf_reset(out);
	buf_puts(out, "\"@method\": ");
	buf_puts(out, method ? method : "");
	buf_puts(out, "\n\"@path\": ");
	buf_puts(out, path ? path : "");
	buf_puts(out, "\n\"content-digest\": ");
	buf_append(out, cd, cdlen);
	buf_puts(out, "\n\"@signature-params\": ");
	if (in)
		buf_append(out, in->params, strnlen(in->params, sizeof in->params));
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */

/* OpenSSL's reasons ("unsupported", "no start line") say little here, so
 * the message is ours alone; the error queue is cleared either way. */
static void set_err(char *err, size_t errlen, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", what);
	ERR_clear_error();
}

static bool on_sm2_curve(EVP_PKEY *pk)
{
	char g[32];
	size_t gl = 0;
	if (!EVP_PKEY_get_group_name(pk, g, sizeof g, &gl)) {
		ERR_clear_error();
		return false;
	}
	return strcmp(g, "SM2") == 0;
}

/* The key to use for alg: pk itself, or for an EC-typed key on the SM2 curve
 * (which OpenSSL 3 would otherwise use for ECDSA) a copy of type SM2, stored in
 * *tmp for the caller to free.  NULL if pk is not a key of alg's type. */
static EVP_PKEY *usable_key(EVP_PKEY *pk, sig_alg_t alg, EVP_PKEY **tmp)
{
	*tmp = NULL;
	if (!pk)
		return NULL;
	if (alg == SIG_ALG_ED25519)
		return EVP_PKEY_is_a(pk, "ED25519") ? pk : NULL;
	if (alg != SIG_ALG_SM2_SM3 || !on_sm2_curve(pk))
		return NULL;
	if (EVP_PKEY_is_a(pk, "SM2"))
		return pk;
	if (!EVP_PKEY_is_a(pk, "EC"))
		return NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	if (EVP_PKEY_todata(pk, EVP_PKEY_KEYPAIR, &params) == 1 &&
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
		if (EVP_PKEY_fromdata(ctx, tmp, EVP_PKEY_KEYPAIR, params) != 1)
			*tmp = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	if (!*tmp || !EVP_PKEY_is_a(*tmp, "SM2") || !on_sm2_curve(*tmp)) {
		EVP_PKEY_free(*tmp);
		*tmp = NULL;
		ERR_clear_error();
		return NULL;
	}
	return *tmp;
}

/* Takes ownership of pk; returns the key to hand out or NULL (pk freed). */
static EVP_PKEY *checked_key(EVP_PKEY *pk, sig_alg_t alg, char *err, size_t errlen)
{
	EVP_PKEY *tmp;
	EVP_PKEY *k = usable_key(pk, alg, &tmp);
	if (!k) {
		EVP_PKEY_free(pk);
		const char *what = alg == SIG_ALG_ED25519   ? "key is not an Ed25519 key"
				   : alg == SIG_ALG_SM2_SM3 ? "key is not an EC key on the SM2 curve"
							    : "unknown signature algorithm";
		set_err(err, errlen, what);
		return NULL;
	}
	if (tmp)
		EVP_PKEY_free(pk);
	return k;
}

/* Never prompts: an encrypted key simply fails to load. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

EVP_PKEY *sig_load_public(const char *pem, size_t len, sig_alg_t alg, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!pem || len > INT_MAX) {
		set_err(err, errlen, "no public key given");
		return NULL;
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, no_password, NULL);
	BIO_free(bio);
	if (!pk) {
		set_err(err, errlen, "no PEM public key (SPKI) found");
		return NULL;
	}
	return checked_key(pk, alg, err, errlen);
}

EVP_PKEY *sig_load_private_file(const char *path, sig_alg_t alg, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!path) {
		set_err(err, errlen, "no key file given");
		return NULL;
	}
	BIO *bio = BIO_new_file(path, "r");
	if (!bio) {
		ERR_clear_error();
		if (err && errlen)
			snprintf(err, errlen, "cannot open %s", path);
		return NULL;
	}
	EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	BIO_free(bio);
	if (!pk) {
		set_err(err, errlen, "no unencrypted PEM private key (PKCS#8) found");
		return NULL;
	}
	return checked_key(pk, alg, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Signing and verifying                                                    */

/* Initialises mctx for alg over key k.  For SM2 a pkey ctx carrying the
 * distinguishing ID is created and returned in *pctx; the caller frees it
 * after mctx (mctx does not own it). */
static bool md_init(EVP_MD_CTX *mctx, EVP_PKEY_CTX **pctx, EVP_PKEY *k, sig_alg_t alg, bool sign)
{
	*pctx = NULL;
	if (alg == SIG_ALG_ED25519)
		return (sign ? EVP_DigestSignInit(mctx, NULL, NULL, NULL, k)
			     : EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, k)) == 1;
	*pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	if (!*pctx)
		return false;
	if (EVP_PKEY_CTX_set1_id(*pctx, SM2_ID, sizeof SM2_ID - 1) <= 0)
		return false;
	EVP_MD_CTX_set_pkey_ctx(mctx, *pctx);
	return (sign ? EVP_DigestSignInit(mctx, NULL, EVP_sm3(), NULL, k)
		     : EVP_DigestVerifyInit(mctx, NULL, EVP_sm3(), NULL, k)) == 1;
}

bool sig_verify(EVP_PKEY *pub, sig_alg_t alg, const void *msg, size_t len, const uint8_t *sig, size_t siglen)
{
	if (!sig || siglen == 0 || (!msg && len))
		return false;
	if (alg == SIG_ALG_ED25519 && siglen != 64)
		return false;
	EVP_PKEY *tmp;
	EVP_PKEY *k = usable_key(pub, alg, &tmp);
	if (!k)
		return false;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	bool ok = mctx && md_init(mctx, &pctx, k, alg, false) &&
		  EVP_DigestVerify(mctx, sig, siglen, msg ? msg : "", len) == 1;
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(tmp);
	ERR_clear_error(); /* a bad signature leaves errors on the queue */
	return ok;
}

bool sig_sign(EVP_PKEY *priv, sig_alg_t alg, const void *msg, size_t len, uint8_t *out, size_t *outlen)
{
	if (outlen)
		*outlen = 0;
	if (!out || !outlen || (!msg && len))
		return false;
	EVP_PKEY *tmp;
	EVP_PKEY *k = usable_key(priv, alg, &tmp);
	if (!k)
		return false;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	size_t n = SIG_MAX;
	bool ok = mctx && md_init(mctx, &pctx, k, alg, true) &&
		  EVP_DigestSign(mctx, out, &n, msg ? msg : "", len) == 1 && n > 0 && n <= SIG_MAX;
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(tmp);
	ERR_clear_error();
	if (ok)
		*outlen = n;
	return ok;
}

/* ------------------------------------------------------------------------ */
/* Request headers                                                          */

/* Appends s as an sf-string; false if s is not printable ASCII. */
static bool put_sf_string(buf_t *b, const char *s)
{
	buf_putc(b, '"');
	for (const char *p = s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return false;
		if (*p == '"' || *p == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
	return true;
}

static bool has_crlf(const char *s)
{
	return strchr(s, '\r') || strchr(s, '\n');
}

bool sig_make_headers(EVP_PKEY *priv, sig_alg_t alg, const char *keyid, int64_t created, const char *method,
		      const char *path, const void *body, size_t len, buf_t *content_digest, buf_t *signature_input,
		      buf_t *signature)
{
	buf_reset(content_digest);
	buf_reset(signature_input);
	buf_reset(signature);
	if (!priv || !keyid || !method || !path || (!body && len) || created <= 0)
		return false;
	size_t kl = strlen(keyid);
	if (kl == 0 || kl > 128 || !*method || !*path || has_crlf(method) || has_crlf(path))
		return false;
	if (alg != SIG_ALG_ED25519 && alg != SIG_ALG_SM2_SM3)
		return false;

	char cd[64];
	sig_content_digest(body, len, cd, sizeof cd);
	if (!cd[0])
		return false;

	sig_input_t in;
	memset(&in, 0, sizeof in);
	buf_t params = BUF_INIT, base = BUF_INIT;
	bool ok = false;
	buf_printf(&params, "%s;created=%" PRId64 ";keyid=", COMPONENTS, created);
	if (!put_sf_string(&params, keyid))
		goto out;
	buf_printf(&params, ";alg=\"%s\"", sig_alg_name(alg));
	if (params.len >= sizeof in.params)
		goto out;
	strcpy(in.label, "sig1");
	memcpy(in.params, params.data, params.len + 1);
	in.created = created;
	memcpy(in.keyid, keyid, kl + 1);
	in.alg = alg;

	sig_base(&base, method, path, cd, &in);
	uint8_t sig[SIG_MAX];
	size_t siglen;
	if (!sig_sign(priv, alg, base.data, base.len, sig, &siglen))
		goto out;

	buf_puts(content_digest, cd);
	buf_puts(signature_input, "sig1=");
	buf_append(signature_input, params.data, params.len);
	buf_puts(signature, "sig1=:");
	b64_encode(sig, siglen, signature);
	buf_putc(signature, ':');
	ok = true;
out:
	buf_free(&params);
	buf_free(&base);
	return ok;
}
