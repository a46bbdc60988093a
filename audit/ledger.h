/* ledger: the canonical encoding and hash chain of ledger entries, computed
 * here independently of the database (sql/003_ledger.sql writes them), so that
 * `voucherctl audit verify` can tell whether anything was changed afterwards.
 *
 *   hash(n) = H(hash(n-1) || canon(n)),  hash(0) = 32 zero bytes,
 *   canon   = field(entry_id) field(at) field(debit) field(credit)
 *             field(amount_fen) field(run_id) field(memo) field(alg),
 *   field(x) = 4-byte big-endian byte length of x, then x (UTF-8);
 * numbers in decimal, `at` as YYYY-MM-DDTHH:MM:SS.ffffffZ, an absent run_id
 * as "", H = SHA-256 ("sha256") or SM3 ("sm3"). */
#ifndef VOUCHER_LEDGER_H
#define VOUCHER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef struct ledger_entry {
	int64_t entry_id;
	int64_t at_us; /* microseconds since the epoch */
	const char *debit;
	const char *credit;
	int64_t amount_fen;
	bool has_run;
	int64_t run_id;
	const char *memo;
	const char *alg;
	uint8_t prev_hash[32];
	uint8_t hash[32];
} ledger_entry_t;

void ledger_canon(const ledger_entry_t *e, buf_t *out);
/* H(prev || canon) with the entry's algorithm; false for an unknown one. */
bool ledger_hash(const ledger_entry_t *e, const buf_t *canon, uint8_t out[32]);

/* Walks the chain in entry order: each call checks one entry against the one
 * before.  On false, err names the entry and what does not hold. */
typedef struct ledger_walk {
	int64_t count;
	int64_t last_id;
	uint8_t last_hash[32];
	buf_t canon;
} ledger_walk_t;

void ledger_walk_init(ledger_walk_t *w);
bool ledger_walk_next(ledger_walk_t *w, const ledger_entry_t *e, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void ledger_walk_free(ledger_walk_t *w);

/* Walks the whole chain as stored in audit.ledger_entries, in the caller's
 * transaction (a cursor): size receives the number of entries, head the last
 * entry's hash (32 zero bytes when empty), alg its algorithm ("none" when
 * empty).  False with err naming the first entry that does not hold.
 * Progress to audit_progress() (audit/verify.h) every 100,000 entries. */
struct pg_conn;
bool ledger_walk_db(struct pg_conn *c, int64_t *size, uint8_t head[32], char *alg, size_t alglen, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

#endif
