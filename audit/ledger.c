#include "audit/ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "audit/verify.h"
#include "common/db.h"
#include "common/validate.h"

void ledger_canon(const ledger_entry_t *e, buf_t *out)
{
	char at[40];
	buf_reset(out);
	buf_lp_i64(out, e->entry_id);
	rfc3339_format_utc(e->at_us, at, sizeof at);
	buf_lp_str(out, at);
	buf_lp_str(out, e->debit);
	buf_lp_str(out, e->credit);
	buf_lp_i64(out, e->amount_fen);
	if (e->has_run)
		buf_lp_i64(out, e->run_id);
	else
		buf_lp_str(out, "");
	buf_lp_str(out, e->memo);
	buf_lp_str(out, e->alg);
}

bool ledger_hash(const ledger_entry_t *e, const buf_t *canon, uint8_t out[32])
{
	const EVP_MD *md = !strcmp(e->alg, "sha256") ? EVP_sha256() : !strcmp(e->alg, "sm3") ? EVP_sm3() : NULL;
	if (!md)
		return false;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;
	bool ok = c && EVP_DigestInit_ex(c, md, NULL) == 1 && EVP_DigestUpdate(c, e->prev_hash, 32) == 1 &&
		  EVP_DigestUpdate(c, canon->data ? canon->data : "", canon->len) == 1 &&
		  EVP_DigestFinal_ex(c, out, &n) == 1 && n == 32;
	EVP_MD_CTX_free(c);
	return ok;
}

void ledger_walk_init(ledger_walk_t *w)
{
	memset(w, 0, sizeof *w);
}

void ledger_walk_free(ledger_walk_t *w)
{
	buf_free(&w->canon);
}

bool ledger_walk_next(ledger_walk_t *w, const ledger_entry_t *e, char *err, size_t errlen)
{
	if (e->entry_id != w->last_id + 1) {
		snprintf(err, errlen,
			 "ledger entry %" PRId64 " follows entry %" PRId64 ": entries are missing or renumbered",
			 e->entry_id, w->last_id);
		return false;
	}
	if (memcmp(e->prev_hash, w->last_hash, 32) != 0) {
		snprintf(err, errlen,
			 "ledger entry %" PRId64 ": prev_hash is not the hash of entry %" PRId64
			 " (entries removed, reordered or rewritten)",
			 e->entry_id, w->last_id);
		return false;
	}
	if (e->amount_fen <= 0 || !e->debit || !e->credit || !strcmp(e->debit, e->credit)) {
		snprintf(err, errlen,
			 "ledger entry %" PRId64 ": not a posting (amount must be > 0 between two accounts)",
			 e->entry_id);
		return false;
	}
	uint8_t h[32];
	ledger_canon(e, &w->canon);
	if (!ledger_hash(e, &w->canon, h)) {
		snprintf(err, errlen, "ledger entry %" PRId64 ": unknown hash algorithm", e->entry_id);
		return false;
	}
	if (memcmp(h, e->hash, 32) != 0) {
		snprintf(err, errlen,
			 "ledger entry %" PRId64
			 ": its hash does not match its contents (changed after it was written)",
			 e->entry_id);
		return false;
	}
	w->last_id = e->entry_id;
	memcpy(w->last_hash, e->hash, 32);
	w->count++;
	return true;
}

static bool unhex32(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return false;
	for (int i = 0; i < 32; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char ch = s[2 * i + k];
			int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
			if (d < 0)
				return false;
			v = v * 16 + d;
		}
		out[i] = (uint8_t)v;
	}
	return true;
}

bool ledger_walk_db(PGconn *c, int64_t *size, uint8_t head[32], char *alg, size_t alglen, char *err, size_t errlen)
{
	PGresult *r =
		PQexec(c, "DECLARE ledger_walk NO SCROLL CURSOR FOR "
			  "SELECT entry_id, (extract(epoch FROM at) * 1000000)::bigint, debit, credit, amount_fen, "
			  "run_id, memo, alg, encode(prev_hash, 'hex'), encode(hash, 'hex') "
			  "FROM audit.ledger_entries ORDER BY entry_id");
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok) {
		snprintf(err, errlen, "reading the ledger: %s", PQerrorMessage(c));
		return false;
	}
	ledger_walk_t w;
	ledger_walk_init(&w);
	snprintf(alg, alglen, "none");
	for (;;) {
		r = PQexec(c, "FETCH 10000 FROM ledger_walk");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "reading the ledger: %s", PQerrorMessage(c));
			PQclear(r);
			ok = false;
			break;
		}
		int rows = PQntuples(r);
		for (int i = 0; i < rows && ok; i++) {
			ledger_entry_t e = {
				.debit = PQgetvalue(r, i, 2),
				.credit = PQgetvalue(r, i, 3),
				.memo = PQgetvalue(r, i, 6),
				.alg = PQgetvalue(r, i, 7),
			};
			bool no_run;
			char why[160];
			if (!db_get_i64(r, i, 0, "entry_id", &e.entry_id, why, sizeof why) ||
			    !db_get_i64(r, i, 1, "at", &e.at_us, why, sizeof why) ||
			    !db_get_i64(r, i, 4, "amount_fen", &e.amount_fen, why, sizeof why) ||
			    !db_get_i64_null(r, i, 5, "run_id", &e.run_id, &no_run, why, sizeof why)) {
				snprintf(err, errlen, "ledger entry number %" PRId64 " (by entry_id): %s", w.count + 1,
					 why);
				ok = false;
				break;
			}
			e.has_run = !no_run;
			if (!unhex32(PQgetvalue(r, i, 8), e.prev_hash) || !unhex32(PQgetvalue(r, i, 9), e.hash)) {
				snprintf(err, errlen, "ledger entry %" PRId64 ": a hash is not 32 bytes", e.entry_id);
				ok = false;
			} else if (ledger_walk_next(&w, &e, err, errlen)) {
				snprintf(alg, alglen, "%s", e.alg);
			} else {
				ok = false;
			}
		}
		PQclear(r);
		if (!ok || rows == 0)
			break;
		if (w.count % 100000 == 0)
			fprintf(audit_progress(), "audit: %" PRId64 " ledger entries checked\n", w.count);
	}
	PQclear(PQexec(c, "CLOSE ledger_walk"));
	*size = w.count;
	memcpy(head, w.last_hash, 32);
	ledger_walk_free(&w);
	return ok;
}
