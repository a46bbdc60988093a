#include "audit/audit_batches.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "audit/verify.h"
#include "common/db.h"
#include "common/hex.h"
#include "common/validate.h"
#include "metering/batch.h"
#include "metering/sig.h"

#define BATCH_PATH "/v1/usage-batches"
#define FETCH_ROWS "1000"

/* ------------------------------------------------------------ Merkle tree */

void audit_batch_canon(const audit_batch_leaf_t *b, buf_t *out)
{
	buf_reset(out);
	buf_lp_i64(out, b->seq);
	buf_lp_str(out, b->provider);
	buf_lp_str(out, b->batch_id);
	buf_lp_str(out, b->digest);
	buf_lp_str(out, b->key_id);
	buf_lp_str(out, b->alg);
	buf_lp_i64(out, b->sig_created);
	buf_lp_str(out, b->signature);
	buf_lp_i64(out, b->received_us);
}

static void sha256_2(uint8_t prefix, const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(ctx, &prefix, 1) != 1 ||
	    (alen && EVP_DigestUpdate(ctx, a, alen) != 1) || (blen && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != 32) {
		fputs("audit: SHA-256 failed\n", stderr);
		abort();
	}
	EVP_MD_CTX_free(ctx);
}

void merkle_leaf_hash(const void *data, size_t len, uint8_t out[32])
{
	sha256_2(0x00, data, len, NULL, 0, out);
}

void merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32])
{
	sha256_2(0x01, left, 32, right, 32, out);
}

void merkle_init(merkle_t *m)
{
	memset(m, 0, sizeof *m);
}

/* The left subtrees of an RFC 6962 tree are perfect: keep perfect subtrees
 * of strictly decreasing size, merging two of equal size as soon as they
 * appear (like a binary counter). */
void merkle_push(merkle_t *m, const uint8_t leaf[32])
{
	memcpy(m->stack[m->top], leaf, 32);
	m->depth[m->top] = 0;
	m->top++;
	while (m->top >= 2 && m->depth[m->top - 1] == m->depth[m->top - 2]) {
		uint8_t h[32];
		merkle_node_hash(m->stack[m->top - 2], m->stack[m->top - 1], h);
		m->top--;
		memcpy(m->stack[m->top - 1], h, 32);
		m->depth[m->top - 1]++;
	}
	m->n++;
}

/* The root joins the remaining subtrees from the right: for n not a power of
 * two this is MTH(first k) || MTH(rest) with k the largest power of two < n. */
void merkle_root(const merkle_t *m, uint8_t root[32])
{
	if (m->top == 0) {
		SHA256((const unsigned char *)"", 0, root);
		return;
	}
	uint8_t h[32];
	memcpy(h, m->stack[m->top - 1], 32);
	for (int i = m->top - 2; i >= 0; i--)
		merkle_node_hash(m->stack[i], h, h);
	memcpy(root, h, 32);
}

/* ------------------------------------------------------------ reading */

/* Starts a read-only snapshot if the caller has no transaction open;
 * *own tells whether to end it. */
static bool tx_enter(PGconn *c, bool *own, char *err, size_t errlen)
{
	*own = PQtransactionStatus(c) == PQTRANS_IDLE;
	if (!*own)
		return true;
	char e[512];
	if (db_command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, e, sizeof e))
		return true;
	snprintf(err, errlen, "starting a transaction: %s", e);
	return false;
}

static void tx_leave(PGconn *c, bool own)
{
	if (own)
		db_rollback(c);
}

/* a statement; err says "<what>: <server message>" */
static bool cmd_ok(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
	char e[512];
	if (db_command(c, sql, 0, NULL, e, sizeof e))
		return true;
	snprintf(err, errlen, "%s: %s", what, e);
	return false;
}

static void close_cursor(PGconn *c, const char *name)
{
	if (PQtransactionStatus(c) != PQTRANS_INTRANS)
		return; /* the transaction failed: the cursor is gone with it */
	char q[80];
	snprintf(q, sizeof q, "CLOSE %s", name);
	PQclear(PQexec(c, q));
}

/* The leaf columns, in audit_batch_leaf_t order, then the verify columns. */
#define LEAF_COLS                                                     \
	"seq, provider, batch_id, digest, key_id, alg, "              \
	"floor(extract(epoch FROM sig_created))::bigint, signature, " \
	"(extract(epoch FROM received_at) * 1000000)::bigint"

static bool leaf_from_row(PGresult *r, int i, audit_batch_leaf_t *b, char *err, size_t errlen)
{
	if (!db_get_i64(r, i, 0, "batches.seq", &b->seq, err, errlen) ||
	    !db_get_i64(r, i, 6, "batches.sig_created", &b->sig_created, err, errlen) ||
	    !db_get_i64(r, i, 8, "batches.received_at", &b->received_us, err, errlen))
		return false;
	b->provider = PQgetvalue(r, i, 1);
	b->batch_id = PQgetvalue(r, i, 2);
	b->digest = PQgetvalue(r, i, 3);
	b->key_id = PQgetvalue(r, i, 4);
	b->alg = PQgetvalue(r, i, 5);
	b->signature = PQgetvalue(r, i, 7);
	return true;
}

bool audit_batches_root(PGconn *c, int64_t upto, uint8_t root[32], int64_t *n, char *err, size_t errlen)
{
	*n = 0;
	bool own;
	if (!tx_enter(c, &own, err, errlen))
		return false;
	char q[512];
	if (upto >= 0)
		snprintf(q, sizeof q,
			 "DECLARE audit_batches_leaves NO SCROLL CURSOR FOR SELECT " LEAF_COLS
			 " FROM audit.batches ORDER BY seq LIMIT %" PRId64,
			 upto);
	else
		snprintf(q, sizeof q,
			 "DECLARE audit_batches_leaves NO SCROLL CURSOR FOR SELECT " LEAF_COLS
			 " FROM audit.batches ORDER BY seq");
	if (!cmd_ok(c, q, "reading the batches", err, errlen)) {
		tx_leave(c, own);
		return false;
	}
	merkle_t m;
	merkle_init(&m);
	buf_t canon = BUF_INIT;
	bool ok = true;
	for (;;) {
		PGresult *r = PQexec(c, "FETCH " FETCH_ROWS " FROM audit_batches_leaves");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "reading the batches: %s", PQerrorMessage(c));
			PQclear(r);
			ok = false;
			break;
		}
		int rows = PQntuples(r);
		for (int i = 0; i < rows && ok; i++) {
			audit_batch_leaf_t b;
			uint8_t h[32];
			if (!leaf_from_row(r, i, &b, err, errlen)) {
				ok = false;
				break;
			}
			audit_batch_canon(&b, &canon);
			merkle_leaf_hash(canon.data, canon.len, h);
			merkle_push(&m, h);
		}
		PQclear(r);
		if (!ok || rows == 0)
			break;
	}
	buf_free(&canon);
	close_cursor(c, "audit_batches_leaves");
	tx_leave(c, own);
	*n = m.n;
	if (ok && upto >= 0 && m.n < upto) {
		snprintf(err, errlen, "only %" PRId64 " batches are stored, fewer than %" PRId64, m.n, upto);
		ok = false;
	}
	if (ok)
		merkle_root(&m, root);
	return ok;
}

/* ------------------------------------------------------------ keys */

typedef struct akey {
	char *provider;
	char *key_id;
	char *alg;
	char *pem;
	int64_t from_us;
	bool has_to, has_revoked;
	int64_t to_us, revoked_us;
	EVP_PKEY *pk; /* loaded on first use */
	bool load_failed;
	char load_err[160];
} akey_t;

typedef struct keyring {
	akey_t *k;
	int n;
} keyring_t;

static void keyring_free(keyring_t *kr)
{
	for (int i = 0; i < kr->n; i++) {
		free(kr->k[i].provider);
		free(kr->k[i].key_id);
		free(kr->k[i].alg);
		free(kr->k[i].pem);
		EVP_PKEY_free(kr->k[i].pk);
	}
	free(kr->k);
	kr->k = NULL;
	kr->n = 0;
}

static bool keyring_load(PGconn *c, keyring_t *kr, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, "SELECT provider, key_id, alg, public_pem, "
				"(extract(epoch FROM valid_from) * 1000000)::bigint, "
				"(extract(epoch FROM valid_to) * 1000000)::bigint, "
				"(extract(epoch FROM revoked_at) * 1000000)::bigint "
				"FROM audit.provider_keys ORDER BY provider, key_id");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading the provider keys: %s", PQerrorMessage(c));
		PQclear(r);
		return false;
	}
	kr->n = PQntuples(r);
	kr->k = xcalloc((size_t)kr->n, sizeof *kr->k);
	for (int i = 0; i < kr->n; i++) {
		akey_t *k = &kr->k[i];
		k->provider = xstrdup(PQgetvalue(r, i, 0));
		k->key_id = xstrdup(PQgetvalue(r, i, 1));
		k->alg = xstrdup(PQgetvalue(r, i, 2));
		k->pem = xstrdup(PQgetvalue(r, i, 3));
		bool no_to, no_revoked;
		if (!db_get_i64(r, i, 4, "provider_keys.valid_from", &k->from_us, err, errlen) ||
		    !db_get_i64_null(r, i, 5, "provider_keys.valid_to", &k->to_us, &no_to, err, errlen) ||
		    !db_get_i64_null(r, i, 6, "provider_keys.revoked_at", &k->revoked_us, &no_revoked, err, errlen)) {
			PQclear(r);
			return false;
		}
		k->has_to = !no_to;
		k->has_revoked = !no_revoked;
	}
	PQclear(r);
	return true;
}

static akey_t *keyring_find(keyring_t *kr, const char *provider, const char *key_id)
{
	for (int i = 0; i < kr->n; i++)
		if (!strcmp(kr->k[i].provider, provider) && !strcmp(kr->k[i].key_id, key_id))
			return &kr->k[i];
	return NULL;
}

/* ------------------------------------------------------------ verify */

/* The body's own "provider" and "batch_id". */
static const char *body_names(const uint8_t *body, size_t len, const char *provider, const char *batch_id)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)body, len, 0, &je);
	if (!j)
		return "the stored body is not JSON";
	const char *p = json_string_value(json_object_get(j, "provider"));
	const char *b = json_string_value(json_object_get(j, "batch_id"));
	const char *what = NULL;
	if (!p || strcmp(p, provider))
		what = "the signed body names another provider than the one stored";
	else if (!b || strcmp(b, batch_id))
		what = "the signed body names another batch_id than the one stored";
	json_decref(j);
	return what;
}

typedef struct vstate {
	keyring_t keys;
	buf_t base;
	char what[256];
} vstate_t;

/* One batch; on false st->what says what does not hold. */
static bool verify_one(vstate_t *st, PGresult *r, int i)
{
	const char *provider = PQgetvalue(r, i, 1), *batch_id = PQgetvalue(r, i, 2);
	const char *digest = PQgetvalue(r, i, 3), *key_id = PQgetvalue(r, i, 4), *alg = PQgetvalue(r, i, 5);
	int64_t created, received_us;
	if (!db_get_i64(r, i, 6, "batches.sig_created", &created, st->what, sizeof st->what) ||
	    !db_get_i64(r, i, 8, "batches.received_at", &received_us, st->what, sizeof st->what))
		return false;
	const char *signature = PQgetvalue(r, i, 7);
	const char *content_digest = PQgetvalue(r, i, 9), *signature_input = PQgetvalue(r, i, 10);
	size_t blen = 0;
	unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 11), &blen);
	if (!body) {
		snprintf(st->what, sizeof st->what, "the stored body cannot be decoded");
		return false;
	}
	bool ok = false;
	uint8_t claimed[32], actual[32];
	char actual_hex[65];
	SHA256(body, blen, actual);
	hex_encode(actual, 32, actual_hex);
	sig_err_t e = sig_digest_check(content_digest, body, blen, claimed);
	sig_input_t in;
	uint8_t sig[256];
	size_t siglen = 0;
	sig_alg_t a;
	akey_t *k;
	const char *names;
	if (e == SIG_MISMATCH) {
		snprintf(st->what, sizeof st->what,
			 "body changed: digest mismatch (SHA-256 of the stored body is not the signed Content-Digest)");
	} else if (e != SIG_OK) {
		snprintf(st->what, sizeof st->what, "the stored Content-Digest header is not valid");
	} else if (strcmp(digest, actual_hex)) {
		snprintf(st->what, sizeof st->what,
			 "digest mismatch: the digest column is not SHA-256 of the stored body");
	} else if (sig_input_parse(signature_input, &in) != SIG_OK) {
		snprintf(st->what, sizeof st->what, "the stored Signature-Input header is not valid");
	} else if (sig_value_parse(signature, in.label, sig, sizeof sig, &siglen) != SIG_OK) {
		snprintf(st->what, sizeof st->what, "the stored Signature header is not valid");
	} else if (strcmp(in.keyid, key_id)) {
		snprintf(st->what, sizeof st->what, "Signature-Input names key \"%s\", the key_id column \"%s\"",
			 in.keyid, key_id);
	} else if (!sig_alg_parse(alg, &a) || a != in.alg) {
		snprintf(st->what, sizeof st->what, "Signature-Input names alg \"%s\", the alg column \"%s\"",
			 sig_alg_name(in.alg), alg);
	} else if (in.created != created) {
		snprintf(st->what, sizeof st->what,
			 "Signature-Input says created=%" PRId64 ", the sig_created column %" PRId64, in.created,
			 created);
	} else if (!(k = keyring_find(&st->keys, provider, key_id))) {
		snprintf(st->what, sizeof st->what, "key %s is not registered to the provider", key_id);
	} else if (strcmp(k->alg, alg)) {
		snprintf(st->what, sizeof st->what, "key %s is registered for %s, the batch says %s", key_id, k->alg,
			 alg);
	} else if (created * 1000000 < k->from_us || (k->has_to && created * 1000000 >= k->to_us)) {
		snprintf(st->what, sizeof st->what, "key %s not valid at created (%" PRId64 ")", key_id, created);
	} else if (k->has_revoked && received_us >= k->revoked_us) {
		snprintf(st->what, sizeof st->what, "key %s was revoked before the batch arrived", key_id);
	} else {
		if (!k->pk && !k->load_failed) {
			k->pk = sig_load_public(k->pem, strlen(k->pem), a, k->load_err, sizeof k->load_err);
			k->load_failed = !k->pk;
		}
		if (!k->pk) {
			snprintf(st->what, sizeof st->what, "key %s cannot be loaded: %s", key_id, k->load_err);
		} else {
			sig_base(&st->base, "POST", BATCH_PATH, content_digest, &in);
			if (!sig_verify(k->pk, a, st->base.data, st->base.len, sig, siglen))
				snprintf(st->what, sizeof st->what, "signature does not verify with key %s", key_id);
			else if ((names = body_names(body, blen, provider, batch_id)))
				snprintf(st->what, sizeof st->what, "%s", names);
			else
				ok = true;
		}
	}
	PQfreemem(body);
	return ok;
}

/* The stored records of a batch are exactly records of its signed body:
 * each stored row, hashed as the daemon hashed the body's record
 * (metering/batch.c), must equal the body's record of that id.  Catches a
 * usage record changed, or forged into a batch, after it was stored. */
struct body_rec {
	const char *id;
	uint8_t hash[32];
};

static int cmp_body_rec(const void *a, const void *b)
{
	return strcmp(((const struct body_rec *)a)->id, ((const struct body_rec *)b)->id);
}

static bool verify_records(PGconn *c, PGresult *r, int i, char *what, size_t whatlen)
{
	const char *provider = PQgetvalue(r, i, 1), *batch_id = PQgetvalue(r, i, 2);
	size_t blen = 0;
	unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 11), &blen);
	if (!body) {
		snprintf(what, whatlen, "the stored body cannot be decoded");
		return false;
	}
	meter_limits_t lim = {.max_records = SIZE_MAX / 2, .now_us = INT64_MAX / 2, .clock_skew_s = 0};
	meter_batch_t b;
	const char *code = NULL;
	char perr[160];
	struct body_rec *recs = NULL;
	PGresult *u = NULL;
	bool ok = false;
	if (!meter_batch_parse(body, blen, &lim, &b, &code, perr, sizeof perr)) {
		snprintf(what, whatlen, "the signed body does not parse (%s)", code);
		PQfreemem(body);
		return false;
	}
	recs = xcalloc(b.n + 1, sizeof *recs);
	size_t n = 0;
	for (size_t k = 0; k < b.n; k++)
		if (!b.recs[k].reject_code && !b.recs[k].duplicate_in_batch) {
			recs[n].id = b.recs[k].record_id;
			memcpy(recs[n].hash, b.recs[k].content_hash, 32);
			n++;
		}
	qsort(recs, n, sizeof *recs, cmp_body_rec);
	const char *params[] = {provider, batch_id};
	u = PQexecParams(
		c,
		"SELECT record_id, enterprise, facility, category, purpose, quantity::text, unit, amount_fen, "
		"(extract(epoch FROM started_at) * 1000000)::bigint, (extract(epoch FROM ended_at) * 1000000)::bigint, "
		"contract_id, invoice_no, adjusts, seller FROM audit.usage_records WHERE provider = $1 AND batch_id = $2",
		2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(u) != PGRES_TUPLES_OK) {
		snprintf(what, whatlen, "reading its usage records: %s", PQerrorMessage(c));
		goto done;
	}
	for (int k = 0; k < PQntuples(u); k++) {
		meter_record_t m;
		memset(&m, 0, sizeof m);
		const char *v[14];
		for (int col = 0; col < 14; col++)
			v[col] = PQgetisnull(u, k, col) ? NULL : PQgetvalue(u, k, col);
		m.record_id = v[0];
		m.enterprise = v[1];
		m.facility = v[2];
		m.category = v[3];
		m.purpose = v[4];
		m.quantity = v[5];
		m.unit = v[6];
		if (!db_get_i64(u, k, 7, "usage_records.amount_fen", &m.amount_fen, what, whatlen) ||
		    !db_get_i64(u, k, 8, "usage_records.started_at", &m.started_us, what, whatlen) ||
		    !db_get_i64(u, k, 9, "usage_records.ended_at", &m.ended_us, what, whatlen))
			goto done;
		m.contract_id = v[10];
		m.invoice_no = v[11];
		m.adjusts = v[12];
		m.seller = v[13];
		if (!decimal_normalize(v[5], 18, m.quantity_norm, sizeof m.quantity_norm)) {
			snprintf(what, whatlen, "usage record %s has a quantity that is not a decimal", v[0]);
			goto done;
		}
		meter_record_hash(&m);
		struct body_rec probe = {.id = v[0]};
		struct body_rec *hit = bsearch(&probe, recs, n, sizeof *recs, cmp_body_rec);
		if (!hit) {
			snprintf(what, whatlen,
				 "usage record %s is not in the signed body of its batch (forged or moved)", v[0]);
			goto done;
		}
		if (memcmp(hit->hash, m.content_hash, 32) != 0) {
			snprintf(what, whatlen,
				 "usage record %s differs from the signed body (changed after it was stored)", v[0]);
			goto done;
		}
	}
	ok = true;
done:
	PQclear(u);
	free(recs);
	meter_batch_free(&b);
	PQfreemem(body);
	return ok;
}

/* The result of a query looking for the first row that breaks a rule, or
 * NULL with err set if the query failed. */
static PGresult *first_breach(PGconn *c, const char *sql, const char *reading, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	snprintf(err, errlen, "reading the %s: %s", reading, PQerrorMessage(c));
	PQclear(r);
	return NULL;
}

static bool verify_orphans(PGconn *c, char *err, size_t errlen)
{
	PGresult *r = first_breach(c,
				   "SELECT u.provider, u.record_id, u.batch_id FROM audit.usage_records u "
				   "WHERE NOT EXISTS (SELECT 1 FROM audit.batches b "
				   "WHERE b.provider = u.provider AND b.batch_id = u.batch_id) "
				   "ORDER BY u.provider, u.batch_id, u.record_id LIMIT 1",
				   "usage records", err, errlen);
	if (!r)
		return false;
	bool ok = PQntuples(r) == 0;
	if (!ok)
		snprintf(err, errlen, "usage record %s/%s: its batch %s is not stored (a batch was deleted)",
			 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
	PQclear(r);
	return ok;
}

/* Every record id ever stored (audit.usage_keys) has its record, unless its
 * month was archived; and no record is without its id (stored outside
 * ingest).  Catches a record deleted after it was stored.  Set differences,
 * which PostgreSQL hashes or sorts once: an anti-join with ORDER BY ... LIMIT
 * 1 may be planned as a merge on provider alone, quadratic in the records of
 * one provider. */
static bool verify_keys(PGconn *c, char *err, size_t errlen)
{
	PGresult *r =
		first_breach(c,
			     "WITH missing AS (SELECT provider, record_id, ended_at FROM audit.usage_keys "
			     "  EXCEPT ALL SELECT provider, record_id, ended_at FROM audit.usage_records) "
			     "SELECT m.provider, m.record_id, k.batch_id FROM missing m "
			     "JOIN audit.usage_keys k ON k.provider = m.provider AND k.record_id = m.record_id "
			     "WHERE NOT EXISTS (SELECT 1 FROM audit.usage_archives a "
			     "  WHERE a.month = date_trunc('month', m.ended_at AT TIME ZONE 'Asia/Shanghai')::date) "
			     "ORDER BY 1, 2 LIMIT 1",
			     "record ids", err, errlen);
	if (!r)
		return false;
	bool ok = PQntuples(r) == 0;
	if (!ok)
		snprintf(err, errlen, "usage record %s/%s of batch %s is gone (deleted after it was stored)",
			 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
	PQclear(r);
	if (!ok)
		return false;
	r = first_breach(
		c,
		"SELECT provider, record_id FROM (SELECT provider, record_id, ended_at FROM audit.usage_records "
		"  EXCEPT ALL SELECT provider, record_id, ended_at FROM audit.usage_keys) x "
		"ORDER BY 1, 2 LIMIT 1",
		"usage records", err, errlen);
	if (!r)
		return false;
	ok = PQntuples(r) == 0;
	if (!ok)
		snprintf(err, errlen, "usage record %s/%s has no record id of its own (stored outside ingest)",
			 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	PQclear(r);
	return ok;
}

bool audit_verify_batches(PGconn *c, int64_t *count, char *err, size_t errlen)
{
	*count = 0;
	bool own;
	if (!tx_enter(c, &own, err, errlen))
		return false;
	vstate_t st;
	memset(&st, 0, sizeof st);
	bool ok = keyring_load(c, &st.keys, err, errlen) &&
		  cmd_ok(c,
			 "DECLARE audit_batches_verify NO SCROLL CURSOR FOR SELECT " LEAF_COLS
			 ", content_digest, signature_input, body FROM audit.batches ORDER BY seq",
			 "reading the batches", err, errlen);
	bool declared = ok;
	while (ok) {
		/* bodies are up to max_body_bytes each: a few at a time */
		PGresult *r = PQexec(c, "FETCH 8 FROM audit_batches_verify");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "reading the batches: %s", PQerrorMessage(c));
			PQclear(r);
			ok = false;
			break;
		}
		int rows = PQntuples(r);
		for (int i = 0; i < rows && ok; i++) {
			if (!verify_one(&st, r, i) || !verify_records(c, r, i, st.what, sizeof st.what)) {
				snprintf(err, errlen, "batch %s/%s (seq %s): %s", PQgetvalue(r, i, 1),
					 PQgetvalue(r, i, 2), PQgetvalue(r, i, 0), st.what);
				ok = false;
				break;
			}
			if (++*count % 100000 == 0)
				fprintf(audit_progress(), "audit verify: %" PRId64 " batches checked\n", *count);
		}
		PQclear(r);
		if (rows == 0)
			break;
	}
	if (declared)
		close_cursor(c, "audit_batches_verify");
	if (ok)
		ok = verify_orphans(c, err, errlen) && verify_keys(c, err, errlen);
	keyring_free(&st.keys);
	buf_free(&st.base);
	tx_leave(c, own);
	return ok;
}
