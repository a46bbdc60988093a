/* checkpoint: a signed statement of the ledger head and the batches' Merkle
 * root, kept outside the database (README.md "Ledger and audit"), and the proof
 * that today's database is an append-only extension of it.
 *
 * The file (UTF-8 text, "\n" line ends, exactly these lines in this order):
 *
 *   voucherd-checkpoint v1
 *   time 2026-11-25T03:40:00Z           the snapshot's now(), UTC
 *   ledger_size 12345                   entries in the ledger
 *   ledger_root <64 hex>                hash of entry ledger_size (the chain
 *                                       head); 64 zeros for an empty ledger
 *   ledger_alg sha256                   sha256 or sm3 (the head's), none if empty
 *   batches_size 678                    stored batches
 *   batches_root <64 hex>               Merkle root of the first 678 batches by
 *                                       seq (audit/audit_batches.h)
 *   alg ed25519                         ed25519 or sm2-sm3
 *   public_key <base64 DER SPKI>        the signer's public key
 *   signature <base64>                  over every byte before this line
 *
 * The signature is Ed25519, or SM2 with SM3 (distinguishing ID
 * 1234567812345678, DER), as metering/sig.c makes them.  public_key makes the
 * file self-contained; its SHA-256 fingerprint (of the DER) is what an auditor
 * compares with the one they were given, or they pass the key itself.
 *
 * For `voucherctl audit checkpoint --sign-key PEM --out FILE`:
 *
 *	checkpoint_t cp;
 *	if (!checkpoint_write(conn, sign_key, out, &cp, err, sizeof err))
 *		-> print err, exit 1
 *	-> print out, cp.ledger_size, cp.batches_size, cp.fingerprint
 *
 * (outside any transaction: it takes the ingest barrier itself.)
 *
 * For `voucherctl audit verify --checkpoint FILE [--pub PEM]`, inside verify's
 * REPEATABLE READ READ ONLY transaction, after the chain walk (which proves
 * that every stored hash matches its entry, so the stored hash of entry
 * ledger_size stands for entries 1..ledger_size):
 *
 *	checkpoint_t cp;
 *	if (!checkpoint_check(conn, file, pub_or_NULL, &cp, err, sizeof err))
 *		-> "audit verify: FAILED: checkpoint FILE: <err>"
 *	-> report cp.time, cp.ledger_size, cp.batches_size, cp.fingerprint
 */
#ifndef VOUCHER_CHECKPOINT_H
#define VOUCHER_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "common/buf.h"
#include "metering/sig.h"

#define CHECKPOINT_MAX 8192 /* a longer file is refused */

typedef struct checkpoint {
	char time[32];    /* YYYY-MM-DDTHH:MM:SSZ: what is signed */
	char time_cn[24]; /* the same for people: YYYY-MM-DD HH:MM:SS, China time */
	int64_t ledger_size;
	uint8_t ledger_root[32];
	char ledger_alg[8]; /* sha256, sm3 or none */
	int64_t batches_size;
	uint8_t batches_root[32];
	sig_alg_t alg;
	uint8_t spki[512]; /* DER SubjectPublicKeyInfo */
	size_t spki_len;
	char fingerprint[65]; /* hex SHA-256 of spki */
	uint8_t sig[128];
	size_t sig_len;
	size_t signed_len; /* bytes of the file the signature covers */
} checkpoint_t;

/* Reads the ledger head and the batches' root through the ingest barrier
 * (session advisory lock VOUCHER_LOCK_INGEST, common/locks.h; a REPEATABLE
 * READ READ ONLY transaction; unlock: sql/003_ledger.sql), walking the ledger chain so that only a chain
 * that holds is signed; signs with the private key in sign_key_pem_path
 * (PKCS#8 PEM, Ed25519 or SM2, detected); writes out_path atomically (a
 * temporary file, fsync, then link(2), so an existing file is never
 * overwritten).  Must be called outside a transaction.  cp (may be NULL)
 * receives what was written. */
bool checkpoint_write(PGconn *c, const char *sign_key_pem_path, const char *out_path, checkpoint_t *cp, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

/* Parses path strictly, verifies its signature with the embedded public key
 * (and, if pub_pem_path is not NULL, requires that key to be the one in that
 * SPKI PEM file), then checks against the database that the ledger has at
 * least ledger_size entries, the hash of entry ledger_size is ledger_root,
 * and the Merkle root of the first batches_size batches is batches_root.
 * Reads audit.ledger_entries and audit.batches only.  Uses the caller's
 * transaction if one is open (it should be: one snapshot), else its own.
 * cp (may be NULL) receives the parsed checkpoint (also when only the
 * database checks fail). */
bool checkpoint_check(PGconn *c, const char *path, const char *pub_pem_path, checkpoint_t *cp, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same for a checkpoint's text (len bytes, at most CHECKPOINT_MAX; need
 * not be NUL-terminated), as the console receives it pasted into a form. */
bool checkpoint_check_text(PGconn *c, const char *text, size_t len, const char *pub_pem_path, checkpoint_t *cp,
			   char *err, size_t errlen) __attribute__((warn_unused_result));

/* ---- the pieces, without a database ---- */

/* Loads a PKCS#8 PEM private key, Ed25519 or SM2; *alg receives which. */
EVP_PKEY *checkpoint_load_key(const char *path, sig_alg_t *alg, char *err, size_t errlen);
/* Fills cp's alg, spki and fingerprint from priv, and writes the signed text
 * of cp (time, sizes, roots, ledger_alg set by the caller) into out. */
bool checkpoint_format(checkpoint_t *cp, EVP_PKEY *priv, sig_alg_t alg, buf_t *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Strict parse: every line, its order, its value's syntax, nothing else. */
bool checkpoint_parse(const char *text, size_t len, checkpoint_t *cp, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Verifies a parsed checkpoint's signature over text (as parsed); with
 * pub_pem_path, that key must be the embedded one. */
bool checkpoint_verify_sig(const char *text, const checkpoint_t *cp, const char *pub_pem_path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
