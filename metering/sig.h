/* sig: HTTP message signatures for usage batches.
 *
 * RFC 9530 Content-Digest (sha-256 only) and RFC 9421 signatures whose covered
 * components are exactly ("@method" "@path" "content-digest") with the
 * parameters created, keyid and alg (in any order, each exactly once, no
 * others), alg "ed25519" or "sm2-sm3" (SM2 with SM3, distinguishing ID
 * "1234567812345678", DER-encoded signature).  Test vectors: tests/vectors/.
 *
 * Parsers take NUL-terminated header values and never read past them.
 */
#ifndef VOUCHER_SIG_H
#define VOUCHER_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/b64.h" /* b64_encode, b64_decode: callers of sig use them too */
#include "common/buf.h"

typedef enum { SIG_ALG_ED25519 = 1, SIG_ALG_SM2_SM3 = 2 } sig_alg_t;

typedef enum {
	SIG_OK = 0,
	SIG_MISSING,     /* header absent or empty */
	SIG_MALFORMED,   /* not a valid structured field / wrong shape */
	SIG_UNSUPPORTED, /* a digest or signature algorithm we do not accept */
	SIG_COMPONENTS,  /* covered components are not exactly the three required */
	SIG_MISMATCH,    /* digest does not match the body / signature does not verify */
} sig_err_t;

/* "sha-256" <-> SIG_ALG_*, "ed25519"/"sm2-sm3" names. */
const char *sig_alg_name(sig_alg_t alg);
bool sig_alg_parse(const char *name, sig_alg_t *alg);

/* Writes "sha-256=:<base64 of SHA-256(body)>:" into out (>= 56 bytes). */
void sig_content_digest(const void *body, size_t len, char *out, size_t outlen);
/* Checks a Content-Digest header (an RFC 8941 dictionary; other algorithms
 * than sha-256 may be present and are ignored, but sha-256 must be) against
 * the body.  On SIG_OK and SIG_MISMATCH, raw (if not NULL) receives the 32 bytes
 * the header claims. */
sig_err_t sig_digest_check(const char *header, const void *body, size_t len, uint8_t raw[32]);

typedef struct sig_input {
	char label[64];  /* the dictionary key, e.g. "sig1" */
	int64_t created; /* seconds since the epoch */
	char keyid[129];
	sig_alg_t alg;
	char params[512]; /* the serialized inner list with parameters, exactly as
	                        it appears after "label=" in the header; this is the
	                        value of "@signature-params" in the signature base */
} sig_input_t;

/* Parses Signature-Input.  Exactly one member is accepted. */
sig_err_t sig_input_parse(const char *header, sig_input_t *out);
/* Parses Signature, finds the member named label, decodes its byte sequence
 * into sig (at most cap bytes).  */
sig_err_t sig_value_parse(const char *header, const char *label, uint8_t *sig, size_t cap, size_t *siglen);

/* The RFC 9421 signature base, byte-exact with tests/vectors/<name>.signature-base
 * (lines joined by "\n", no trailing newline). */
void sig_base(buf_t *out, const char *method, const char *path, const char *content_digest, const sig_input_t *in);

/* Loads a public (SPKI PEM) or private (PKCS#8 PEM) key and checks that it is of
 * the algorithm's type (Ed25519; EC on the SM2 curve).  NULL with a message in
 * err on failure.  The caller frees with EVP_PKEY_free. */
EVP_PKEY *sig_load_public(const char *pem, size_t len, sig_alg_t alg, char *err, size_t errlen);
EVP_PKEY *sig_load_private_file(const char *path, sig_alg_t alg, char *err, size_t errlen);

/* Verifies sig over msg. */
bool sig_verify(EVP_PKEY *pub, sig_alg_t alg, const void *msg, size_t len, const uint8_t *sig, size_t siglen);
/* Signs msg; out must have room for 128 bytes; *outlen receives the length. */
bool sig_sign(EVP_PKEY *priv, sig_alg_t alg, const void *msg, size_t len, uint8_t *out, size_t *outlen)
	__attribute__((warn_unused_result));

/* Builds the three request headers for a body, as voucher-push sends them:
 * content_digest, signature_input ("sig1=(...);created=..;keyid=\"..\";alg=\"..\"")
 * and signature ("sig1=:...:").  Each output buffer is reset first. */
bool sig_make_headers(EVP_PKEY *priv, sig_alg_t alg, const char *keyid, int64_t created, const char *method,
		      const char *path, const void *body, size_t len, buf_t *content_digest, buf_t *signature_input,
		      buf_t *signature) __attribute__((warn_unused_result));

#endif
