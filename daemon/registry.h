/* registry: the daemon's in-memory copy of who may send what — provider
 * client-certificate fingerprints and batch-signing keys — loaded from
 * voucher.ingest_registry() at start, on SIGHUP and every registry_refresh_s.
 *
 * A registry_t is immutable once built; a reload builds a whole new one and
 * swaps it in.  It is built row by row: a row the daemon cannot use (a PEM
 * that does not parse, an unknown alg, a key of another type than its alg, a
 * malformed fingerprint) is left out and listed in bad[], so that one
 * provider's broken key never stops ingest for the others.  A key left out is
 * unknown to the daemon, which fails closed: its batches are refused.  The
 * database re-checks key revocation and validity inside the ingest
 * transaction, so a stale copy can delay a new key but never admit a revoked
 * one. */
#ifndef VOUCHER_REGISTRY_H
#define VOUCHER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "metering/sig.h"

typedef struct reg_key {
	char provider[65];
	char key_id[129];
	sig_alg_t alg;
	EVP_PKEY *pub;
	int64_t valid_from; /* seconds since the epoch */
	int64_t valid_to;   /* 0: open */
	bool revoked;
} reg_key_t;

typedef struct reg_cert {
	char fingerprint[65]; /* lowercase hex SHA-256 of the DER */
	char provider[65];
} reg_cert_t;

/* A row left out; names what was wrong, never the key material. */
typedef struct reg_bad {
	char kind[8];      /* "cert", "key", or "?" for a kind we do not know */
	char provider[65]; /* cut to fit: a too-long identifier is one reason to be here */
	char ident[129];   /* fingerprint or key id, cut likewise */
	char reason[96];
} reg_bad_t;

typedef struct registry {
	reg_cert_t *certs;
	size_t ncerts;
	reg_key_t *keys;
	size_t nkeys;
	reg_bad_t *bad; /* in the order of the query */
	size_t nbad;
} registry_t;

/* The query whose result registry_build() reads. */
extern const char *const REGISTRY_SQL;

/* Builds a registry from the result of REGISTRY_SQL, leaving out (and listing
 * in bad[]) the rows it cannot use.  NULL with err only if the result itself
 * is not what the query returns (wrong number of columns). */
registry_t *registry_build(const PGresult *r, char *err, size_t errlen);
void registry_free(registry_t *reg);

/* The provider owning a certificate fingerprint, or NULL. */
const char *registry_provider(const registry_t *reg, const char *fingerprint);
/* A key of this provider with this id, or NULL (a key id of another provider is not found). */
const reg_key_t *registry_key(const registry_t *reg, const char *provider, const char *key_id);
/* The row of this kind, provider and ident left out of reg, or NULL. */
const reg_bad_t *registry_bad(const registry_t *reg, const char *kind, const char *provider, const char *ident);

#endif
