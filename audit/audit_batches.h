/* audit_batches: re-checking every stored batch, and the Merkle tree over them.
 *
 * Reads only the audit views, so the auditor role (voucher_auditor) can run
 * it:
 *   audit.batches       seq, provider, batch_id, received_at, digest, key_id, alg,
 *                       sig_created, content_digest, signature_input, signature, body
 *   audit.provider_keys provider, key_id, alg, public_pem, valid_from, valid_to, revoked_at
 *   audit.usage_records provider, record_id, batch_id
 *
 * audit_verify_batches() checks, batch by batch in seq order, everything the
 * daemon checked when it accepted the batch, from the stored bytes alone:
 *   - the Content-Digest header against SHA-256 of the stored body, and the
 *     digest column against the same;
 *   - Signature-Input and Signature parse, and name the key_id, alg and
 *     created stored beside them;
 *   - the signature over the RFC 9421 base (POST /v1/usage-batches) verifies
 *     with the provider's registered key named by key_id, of the stored alg;
 *   - the key was valid at created (valid_from <= created < valid_to) and the
 *     batch arrived before the key was revoked (received_at < revoked_at):
 *     a key revoked later does not invalidate what it signed before;
 *   - the body names the stored provider and batch_id (a batch cannot be
 *     moved or renamed under its signature);
 * and then that every usage record belongs to a stored batch of its provider
 * (a batch deleted with the triggers switched off leaves orphans behind).
 * Public keys are loaded once per (provider, key_id).
 *
 * The Merkle tree (README.md "Ledger and audit": the Merkle root over the stored batches),
 * RFC 6962 style, over the batches in seq order:
 *   leaf(i)   = SHA-256(0x00 || canon(batch i))
 *   node      = SHA-256(0x01 || left || right)
 *   MTH(n)    = for n > 1, node(MTH(first k), MTH(rest)), k the largest power
 *               of two < n; MTH(1) = the leaf; MTH(0) = SHA-256("")
 *   canon     = field(seq) field(provider) field(batch_id) field(digest, hex)
 *               field(key_id) field(alg) field(sig_created, epoch seconds)
 *               field(signature header) field(received_at, epoch microseconds)
 *   field(x)  = 4-byte big-endian byte length of x, then x; numbers in decimal.
 * The body is covered through digest and signature (audit_verify_batches ties
 * them to the body).  The root is computed on the fly, nothing is stored; the
 * computation streams the batches and keeps O(log n) subtree hashes (the
 * left subtrees of an RFC 6962 tree are perfect), so memory does not grow
 * with the number of batches.
 *
 * Transactions: each function reads through a cursor.  Called inside a
 * transaction (audit verify's REPEATABLE READ READ ONLY one) it uses it, so
 * everything is read from one snapshot; called outside one it opens a
 * REPEATABLE READ READ ONLY transaction of its own and ends it.
 */
#ifndef VOUCHER_AUDIT_BATCHES_H
#define VOUCHER_AUDIT_BATCHES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/buf.h"

/* Checks every stored batch and the usage records' batches as described
 * above.  *count receives the number of batches checked (also on failure:
 * those before the failing one).  On false err names the first failure:
 *   "batch <provider>/<batch_id> (seq N): <what>"
 * or "usage record <provider>/<record_id>: its batch <batch_id> is not stored",
 * or a database error.  Progress goes to audit_progress() (audit/verify.h) every 100,000 batches. */
bool audit_verify_batches(PGconn *c, int64_t *count, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The Merkle root of the first upto batches by seq (upto < 0: all of them).
 * *n receives the number of batches covered.  Fails (with *n the number of
 * batches there are) if fewer than upto are stored. */
bool audit_batches_root(PGconn *c, int64_t upto, uint8_t root[32], int64_t *n, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* ---- the pieces, for tests and other callers ---- */

typedef struct audit_batch_leaf {
	int64_t seq;
	const char *provider;
	const char *batch_id;
	const char *digest; /* hex */
	const char *key_id;
	const char *alg;
	int64_t sig_created;   /* epoch seconds */
	const char *signature; /* the Signature header, verbatim */
	int64_t received_us;   /* epoch microseconds */
} audit_batch_leaf_t;

/* canon(batch) into out (reset first). */
void audit_batch_canon(const audit_batch_leaf_t *b, buf_t *out);
/* SHA-256(0x00 || data) */
void merkle_leaf_hash(const void *data, size_t len, uint8_t out[32]);
/* SHA-256(0x01 || left || right) */
void merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);

/* Streaming RFC 6962 root: push leaf hashes in order, then take the root.
 * Holds at most 64 subtree hashes. */
typedef struct merkle {
	uint8_t stack[64][32];
	int depth[64]; /* log2 of each subtree's size */
	int top;
	int64_t n;
} merkle_t;

void merkle_init(merkle_t *m);
void merkle_push(merkle_t *m, const uint8_t leaf[32]);
void merkle_root(const merkle_t *m, uint8_t root[32]);

#endif
