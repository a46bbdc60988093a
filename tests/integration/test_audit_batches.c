/* Stored batches re-checked from their signed bytes, the Merkle tree over
 * them, and signed checkpoints: real batches through a real voucherd, then a
 * superuser with the append-only triggers switched off changes things and the
 * auditor (voucher_auditor, audit views only) has to notice. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "audit/audit_batches.h"
#include "audit/checkpoint.h"
#include "tests/integration/support.h"

static PGconn *db, *aud;
static char ci[256];
static t_daemon_t d;
static char cpfile[300];

static void start(void)
{
	db = t_newdb(ci, sizeof ci);
	t_registry_setup(db);
	char ing[320], au[320];
	t_conninfo_as(ci, "voucher_ingest", ing, sizeof ing);
	t_daemon_start(&d, ing, NULL);
	t_conninfo_as(ci, "voucher_auditor", au, sizeof au);
	aud = PQconnectdb(au);
	cr_assert_eq(PQstatus(aud), CONNECTION_OK, "%s", PQerrorMessage(aud));
}

static void teardown(void)
{
	if (d.pid > 0)
		cr_expect_eq(t_daemon_stop(&d), 0);
	if (aud)
		PQfinish(aud);
	if (db)
		PQfinish(db);
	aud = db = NULL;
	if (cpfile[0])
		unlink(cpfile);
	cpfile[0] = '\0';
}

TestSuite(audit_batches, .fini = teardown, .timeout = 120);

static void post_vector(const char *client, const char *which)
{
	char name[64], out[4096];
	snprintf(name, sizeof name, "batch-%s.headers", which);
	char *h = t_slurp(t_vector_path(name), NULL);
	char hdr[2048];
	snprintf(hdr, sizeof hdr, "Content-Type: application/json\n%s", h);
	free(h);
	snprintf(name, sizeof name, "batch-%s.json", which);
	cr_assert_eq(t_https(&d, client, "POST", "/v1/usage-batches", hdr, t_vector_path(name), out, sizeof out), 200,
		     "%s", out);
}

/* a fresh prov-a batch of one record, signed now */
static void post_fresh(const char *batch_id, const char *record_id)
{
	char body[1024], hdr[2048], file[256], out[4096];
	snprintf(
		body, sizeof body,
		"{\"batch_id\":\"%s\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":\"%s\","
		"\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"intelligent_compute\","
		"\"quantity\":\"1\",\"unit\":\"card_hour\",\"amount_fen\":100,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-01T01:00:00+08:00\",\"contract_id\":\"C1\"}]}",
		batch_id, record_id);
	t_sign("prov-a", body, strlen(body), file, hdr);
	int st = t_https(&d, "prov-a", "POST", "/v1/usage-batches", hdr, file, out, sizeof out);
	unlink(file);
	cr_assert_eq(st, 200, "%s", out);
	cr_assert_eq(t_json_int(out, "accepted"), 1, "%s", out);
}

/* as the superuser, with the append-only triggers switched off */
static void tamper(const char *q)
{
	buf_t b = BUF_INIT;
	buf_printf(&b, "BEGIN; SET LOCAL session_replication_role = replica; %s; COMMIT", q);
	PGresult *r = PQexec(db, b.data);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", b.data, PQerrorMessage(db));
	PQclear(r);
	buf_free(&b);
}

static bool verify(int64_t *n, char *err, size_t errlen)
{
	/* as audit verify runs it: one REPEATABLE READ READ ONLY snapshot */
	PQclear(PQexec(aud, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
	bool ok = audit_verify_batches(aud, n, err, errlen);
	PQclear(PQexec(aud, "ROLLBACK"));
	return ok;
}

static void three_batches(void)
{
	start();
	post_vector("prov-a", "a");
	post_vector("prov-b", "b");
	post_fresh("prov-a-fresh-1", "f-1");
}

Test(audit_batches, verify_catches_changed_body_and_signature)
{
	three_batches();
	char err[512];
	int64_t n = -1;
	cr_assert(verify(&n, err, sizeof err), "%s", err);
	cr_assert_eq(n, 3);
	/* outside a transaction it opens its own */
	cr_assert(audit_verify_batches(aud, &n, err, sizeof err), "%s", err);
	cr_assert_eq(PQtransactionStatus(aud), PQTRANS_IDLE);

	/* one byte more in the stored body */
	tamper("UPDATE voucher.batches SET body = body || '\\x20'::bytea WHERE batch_id = 'prov-a-20260302-000001'");
	cr_assert(!verify(&n, err, sizeof err));
	cr_assert(strstr(err, "batch prov-a/prov-a-20260302-000001 (seq ") && strstr(err, "digest mismatch"), "%s",
		  err);
	cr_assert_eq(n, 0);
	/* restored */
	tamper("UPDATE voucher.batches SET body = substring(body FROM 1 FOR octet_length(body) - 1) "
	       "WHERE batch_id = 'prov-a-20260302-000001'");
	cr_assert(verify(&n, err, sizeof err), "%s", err);

	/* a consistent rewrite of body and digests without the key: the signature fails */
	tamper("UPDATE voucher.batches SET signature = (SELECT signature FROM voucher.batches "
	       "WHERE batch_id = 'prov-a-20260302-000001') WHERE batch_id = 'prov-a-fresh-1'");
	cr_assert(!verify(&n, err, sizeof err));
	cr_assert(strstr(err, "batch prov-a/prov-a-fresh-1") && strstr(err, "signature does not verify"), "%s", err);
	cr_assert_eq(n, 2);
}

Test(audit_batches, verify_catches_renamed_batch_revoked_key_and_orphans)
{
	three_batches();
	char err[512];
	int64_t n;
	/* the key is revoked now: what it signed before still holds */
	tamper("UPDATE voucher.provider_keys SET revoked_at = now() WHERE key_id = 'prov-a-2026a'");
	cr_assert(verify(&n, err, sizeof err), "%s", err);
	/* ... but not a batch that claims to have arrived after the revocation */
	tamper("UPDATE voucher.batches SET received_at = now() + interval '1 hour' WHERE batch_id = 'prov-a-fresh-1'");
	cr_assert(!verify(&n, err, sizeof err));
	cr_assert(strstr(err, "batch prov-a/prov-a-fresh-1") && strstr(err, "revoked"), "%s", err);
	tamper("UPDATE voucher.provider_keys SET revoked_at = NULL");
	cr_assert(verify(&n, err, sizeof err), "%s", err);
	/* a key whose validity starts after the signature */
	tamper("UPDATE voucher.provider_keys SET valid_from = '2026-06-01' WHERE key_id = 'prov-b-2026a'");
	cr_assert(!verify(&n, err, sizeof err));
	cr_assert(strstr(err, "batch prov-b/") && strstr(err, "not valid at created"), "%s", err);
	tamper("UPDATE voucher.provider_keys SET valid_from = '2026-01-01' WHERE key_id = 'prov-b-2026a'");
	cr_assert(verify(&n, err, sizeof err), "%s", err);
	/* a batch renamed under its signature */
	tamper("UPDATE voucher.batches SET batch_id = 'prov-a-other' WHERE batch_id = 'prov-a-fresh-1'");
	cr_assert(!verify(&n, err, sizeof err));
	cr_assert(strstr(err, "batch prov-a/prov-a-other") && strstr(err, "another batch_id"), "%s", err);
	tamper("UPDATE voucher.batches SET batch_id = 'prov-a-fresh-1' WHERE batch_id = 'prov-a-other'");
	cr_assert(verify(&n, err, sizeof err), "%s", err);
	/* a batch deleted: its records are orphans */
	tamper("DELETE FROM voucher.batches WHERE batch_id = 'prov-a-fresh-1'");
	cr_assert(!verify(&n, err, sizeof err));
	cr_assert_eq(n, 2);
	cr_assert(strstr(err, "usage record prov-a/f-1: its batch prov-a-fresh-1 is not stored"), "%s", err);
}

Test(audit_batches, checkpoint_is_extended_and_catches_deletion_and_rewrite)
{
	three_batches();
	/* a ledger of two entries */
	PQclear(PQexec(db, "SELECT voucher.ledger_post('payable/p/2026/x', 'pool/p/2026', 100, NULL, 'test 1')"));
	PQclear(PQexec(db, "SELECT voucher.ledger_post('payable/p/2026/y', 'pool/p/2026', 200, NULL, 'test 2')"));
	cr_assert_str_eq(t_scalar(db, "SELECT count(*) FROM voucher.ledger_entries"), "2");
	const char *tmp = getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp";
	snprintf(cpfile, sizeof cpfile, "%s/checkpoint-%d.txt", tmp, (int)getpid());
	unlink(cpfile);
	char err[512];
	checkpoint_t w, r;
	cr_assert(checkpoint_write(aud, t_vector_path("provider-b.sm2.key"), cpfile, &w, err, sizeof err), "%s", err);
	cr_assert_eq(w.ledger_size, 2);
	cr_assert_eq(w.batches_size, 3);
	cr_assert_eq(w.alg, SIG_ALG_SM2_SM3);
	/* never overwritten */
	cr_assert(!checkpoint_write(aud, t_vector_path("provider-b.sm2.key"), cpfile, NULL, err, sizeof err));
	cr_assert(strstr(err, "exists"), "%s", err);
	char *text = t_slurp(cpfile, NULL);
	cr_assert(strstr(text, "ledger_size 2\n") && strstr(text, "batches_size 3\n") && strstr(text, "alg sm2-sm3\n"),
		  "%s", text);
	free(text);
	/* the same root as computed directly */
	uint8_t root[32];
	int64_t n;
	cr_assert(audit_batches_root(aud, -1, root, &n, err, sizeof err), "%s", err);
	cr_assert_eq(n, 3);
	cr_assert(!memcmp(root, w.batches_root, 32));

	/* more arrives: the database extends the checkpoint */
	post_fresh("prov-a-fresh-2", "f-2");
	PQclear(PQexec(db, "SELECT voucher.ledger_post('paid/p/2026/x', 'payable/p/2026/x', 100, NULL, 'test 3')"));
	cr_assert(checkpoint_check(aud, cpfile, NULL, &r, err, sizeof err), "%s", err);
	cr_assert_str_eq(r.fingerprint, w.fingerprint);
	cr_assert(checkpoint_check(aud, cpfile, t_vector_path("provider-b.sm2.pub"), &r, err, sizeof err), "%s", err);
	cr_assert(!checkpoint_check(aud, cpfile, t_vector_path("provider-a.ed25519.pub"), NULL, err, sizeof err));
	cr_assert(audit_batches_root(aud, 3, root, &n, err, sizeof err) && n == 3);
	cr_assert(!memcmp(root, w.batches_root, 32));
	cr_assert(audit_batches_root(aud, -1, root, &n, err, sizeof err) && n == 4);
	cr_assert(memcmp(root, w.batches_root, 32) != 0);

	/* the ledger's entry 2 rewritten (its stored hash: the chain walk catches the rest) */
	tamper("UPDATE voucher.ledger_entries SET hash = sha256(hash) WHERE entry_id = 2");
	cr_assert(!checkpoint_check(aud, cpfile, NULL, NULL, err, sizeof err));
	cr_assert(strstr(err, "ledger entry 2: its hash is not the checkpoint's ledger_root"), "%s", err);
	tamper("UPDATE voucher.ledger_entries SET hash = (SELECT prev_hash FROM voucher.ledger_entries "
	       "WHERE entry_id = 3) WHERE entry_id = 2");
	cr_assert(checkpoint_check(aud, cpfile, NULL, NULL, err, sizeof err), "%s", err);
	/* the ledger truncated */
	tamper("DELETE FROM voucher.ledger_entries WHERE entry_id >= 2");
	cr_assert(!checkpoint_check(aud, cpfile, NULL, NULL, err, sizeof err));
	cr_assert(strstr(err, "the ledger has 1 entries, the checkpoint of "), "%s", err);
	{
		/* the time in messages is China time, YYYY-MM-DD HH:MM:SS, not the signed UTC text */
		char want[96];
		snprintf(want, sizeof want, "the checkpoint of %s (China time) saw", w.time_cn);
		cr_assert(strstr(err, want), "%s", err);
		cr_assert(!strstr(err, w.time), "%s", err);
		cr_assert_eq(strlen(w.time_cn), 19, "%s", w.time_cn);
		cr_assert_eq(w.time_cn[10], ' ');
	}
	PQclear(PQexec(db, "SELECT voucher.ledger_post('payable/p/2026/z', 'pool/p/2026', 7, NULL, 'again')"));
	PQclear(PQexec(db, "SELECT voucher.ledger_post('payable/p/2026/z', 'pool/p/2026', 7, NULL, 'again')"));
	cr_assert(!checkpoint_check(aud, cpfile, NULL, NULL, err, sizeof err));
	cr_assert(strstr(err, "ledger entry 2: its hash"), "%s", err);
}

Test(audit_batches, checkpoint_catches_deleted_batch_and_changed_file)
{
	three_batches();
	const char *tmp = getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp";
	snprintf(cpfile, sizeof cpfile, "%s/checkpoint-d-%d.txt", tmp, (int)getpid());
	unlink(cpfile);
	char err[512];
	checkpoint_t w;
	cr_assert(checkpoint_write(aud, t_vector_path("provider-a.ed25519.key"), cpfile, &w, err, sizeof err), "%s",
		  err);
	cr_assert_eq(w.ledger_size, 0);
	cr_assert_eq(w.alg, SIG_ALG_ED25519);
	post_fresh("prov-a-fresh-2", "f-2");
	cr_assert(checkpoint_check(aud, cpfile, NULL, NULL, err, sizeof err), "%s", err);

	/* the file changed: one digit of batches_size */
	size_t len;
	char *text = t_slurp(cpfile, &len);
	char *p = strstr(text, "batches_size 3\n");
	cr_assert_not_null(p);
	p[13] = '2';
	char other[320];
	snprintf(other, sizeof other, "%s.changed", cpfile);
	FILE *f = fopen(other, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	free(text);
	cr_assert(!checkpoint_check(aud, other, NULL, NULL, err, sizeof err));
	cr_assert(strstr(err, "signature does not verify"), "%s", err);
	unlink(other);

	/* a batch the checkpoint saw deleted (the fourth takes its place in the
	 * first three by seq) */
	tamper("DELETE FROM voucher.batches WHERE batch_id = 'prov-b-20260302-000001' OR provider = 'prov-b'");
	cr_assert(!checkpoint_check(aud, cpfile, NULL, NULL, err, sizeof err));
	cr_assert(strstr(err, "Merkle root of the first 3 batches"), "%s", err);
	/* and with fewer than the checkpoint saw */
	tamper("DELETE FROM voucher.batches WHERE batch_id = 'prov-a-fresh-2'");
	cr_assert(!checkpoint_check(aud, cpfile, NULL, NULL, err, sizeof err));
	cr_assert(strstr(err, "2 batches are stored, the checkpoint of ") && strstr(err, "saw 3"), "%s", err);
}
