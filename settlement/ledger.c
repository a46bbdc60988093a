#include "settlement/ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/validate.h"

static void field(buf_t *b, const char *s, size_t n)
{
	uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	buf_append(b, len, 4);
	buf_append(b, s, n);
}

static void field_str(buf_t *b, const char *s)
{
	field(b, s ? s : "", s ? strlen(s) : 0);
}

static void field_i64(buf_t *b, int64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof t, "%" PRId64, v);
	field(b, t, (size_t)n);
}

void ledger_canon(const ledger_entry_t *e, buf_t *out)
{
	char at[40];
	buf_reset(out);
	field_i64(out, e->entry_id);
	rfc3339_format_utc(e->at_us, at, sizeof at);
	field_str(out, at);
	field_str(out, e->debit);
	field_str(out, e->credit);
	field_i64(out, e->amount_fen);
	if (e->has_run)
		field_i64(out, e->run_id);
	else
		field_str(out, "");
	field_str(out, e->memo);
	field_str(out, e->alg);
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
		snprintf(err, errlen, "ledger entry %" PRId64 ": not a posting (amount must be > 0 between two accounts)",
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
		snprintf(err, errlen, "ledger entry %" PRId64 ": its hash does not match its contents (changed after it was written)",
			 e->entry_id);
		return false;
	}
	w->last_id = e->entry_id;
	memcpy(w->last_hash, e->hash, 32);
	w->count++;
	return true;
}
