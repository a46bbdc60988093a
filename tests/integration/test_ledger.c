/* The ledger: double entry from approval and disbursement, balances, and
 * audit verify catching what a superuser with the triggers switched off can
 * change. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "audit/ledger.h"
#include "tests/integration/settle_fixture.h"
#include "tests/integration/support.h"

TestSuite(ledger, .fini = sf_teardown, .timeout = 120);

/* audit verify as the read-only auditor role */
static int verify(char *out, size_t cap)
{
	char err[4096];
	int rc = sf_ctl("voucher_auditor", "audit verify", out, cap, err, sizeof err);
	return rc;
}

/* as the superuser, with the append-only triggers switched off */
static void tamper(const char *q)
{
	buf_t b = BUF_INIT;
	buf_printf(&b, "BEGIN; SET LOCAL session_replication_role = replica; %s; COMMIT", q);
	sf_sql(b.data);
	buf_free(&b);
}

static long long scenario(void)
{
	sf_setup();
	const char *e1 = sf_uscc("330402", 1), *e2 = sf_uscc("330402", 2);
	sf_enterprise(e1, "330402", NULL);
	sf_enterprise(e2, "330402", NULL);
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", e1, "fa", "intelligent_compute", 1000000, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", e2, "fa", "intelligent_compute", 333, "2026-03-11T10:00:00+08:00", NULL);
	long long mar = sf_settle("alice", "jiaxing-compute", "2026-03");
	sf_approve("bob", mar);
	/* the notice has ended (as if published long ago), so March can be paid */
	char q[256];
	snprintf(q, sizeof q,
		 "INSERT INTO voucher.run_events (run_id, event, notice_ends) VALUES (%lld, 'published', '2020-01-01')",
		 mar);
	sf_sql(q);
	char args[64], out[2048], err[2048];
	snprintf(args, sizeof args, "run disburse %lld --ref PAY-1", mar);
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	/* a refund of E1's record: April recovers */
	sf_record("prov-a", e1, "fa", "intelligent_compute", -1000000, "2026-03-10T10:00:00+08:00", "r1");
	long long apr = sf_settle("alice", "jiaxing-compute", "2026-04");
	sf_approve("bob", apr);
	return apr;
}

Test(ledger, approval_and_disbursement_post_balanced_entries)
{
	scenario();
	/* March: E1 500,000 fen, E2 floor(333 x 0.5) = 166 fen -> 2 grants + 2 disbursements;
	 * April: E1 recovery of 500,000 -> 1 posting */
	cr_assert_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.ledger_entries"), "5");
	char out[8192], err[2048];
	cr_assert_eq(sf_ctl("voucher_auditor", "--format csv ledger balances --program jiaxing-compute", out,
			    sizeof out, err, sizeof err),
		     0, "%s", err);
	const char *e1 = sf_uscc("330402", 1);
	char line[256];
	snprintf(line, sizeof line, "paid/jiaxing-compute/2026/%s,5000.00,1", e1);
	cr_assert(strstr(out, line), "%s", out);
	/* paid 5,000 then recovered: E1's payable account is -5,000.00 (it owes it back) */
	snprintf(line, sizeof line, "payable/jiaxing-compute/2026/%s,-5000.00,3", e1);
	cr_assert(strstr(out, line), "%s", out);
	cr_assert(strstr(out, "pool/jiaxing-compute/2026,-1.66,3"), "%s", out);
	cr_assert_str_eq(t_scalar(sf_db, "SELECT sum(balance_fen) FROM audit.ledger_balances"), "0");
	cr_assert_eq(verify(out, sizeof out), 0, "%s", out);
	cr_assert(strstr(out, "audit verify: ok: ") && strstr(out, "ledger chain of 5 entries (sha256) holds"), "%s",
		  out);
	/* the ledger is append only for the owner too */
	PGresult *r = PQexec(sf_db, "UPDATE voucher.ledger_entries SET amount_fen = 1");
	cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	PQclear(r);
}

/* audit/ledger.c and the database encode an entry byte for byte alike */
Test(ledger, c_and_sql_canonical_encodings_agree)
{
	scenario();
	PGresult *r =
		PQexec(sf_db, "SELECT entry_id, (extract(epoch FROM at) * 1000000)::bigint, debit, credit, amount_fen, "
			      "run_id, memo, alg, encode(voucher.ledger_canon(entry_id, at, debit, credit, amount_fen, "
			      "run_id, memo, alg), 'hex') FROM voucher.ledger_entries ORDER BY entry_id");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	buf_t canon = BUF_INIT, hex = BUF_INIT;
	for (int i = 0; i < PQntuples(r); i++) {
		ledger_entry_t e = {.entry_id = atoll(PQgetvalue(r, i, 0)),
				    .at_us = atoll(PQgetvalue(r, i, 1)),
				    .debit = PQgetvalue(r, i, 2),
				    .credit = PQgetvalue(r, i, 3),
				    .amount_fen = atoll(PQgetvalue(r, i, 4)),
				    .has_run = !PQgetisnull(r, i, 5),
				    .run_id = atoll(PQgetvalue(r, i, 5)),
				    .memo = PQgetvalue(r, i, 6),
				    .alg = PQgetvalue(r, i, 7)};
		ledger_canon(&e, &canon);
		buf_reset(&hex);
		for (size_t k = 0; k < canon.len; k++)
			buf_printf(&hex, "%02x", (unsigned char)canon.data[k]);
		cr_assert_str_eq(hex.data, PQgetvalue(r, i, 8), "entry %d", i + 1);
	}
	buf_free(&canon);
	buf_free(&hex);
	PQclear(r);
}

Test(ledger, verify_names_each_kind_of_tampering_and_passes_once_restored)
{
	scenario();
	char out[8192];
	cr_assert_eq(verify(out, sizeof out), 0, "%s", out);

	/* a ledger amount */
	tamper("UPDATE voucher.ledger_entries SET amount_fen = amount_fen + 1 WHERE entry_id = 2");
	cr_assert_eq(verify(out, sizeof out), 1, "%s", out);
	cr_assert(strstr(out, "FAILED: ledger entry 2: its hash does not match its contents"), "%s", out);
	tamper("UPDATE voucher.ledger_entries SET amount_fen = amount_fen - 1 WHERE entry_id = 2");
	cr_assert_eq(verify(out, sizeof out), 0, "%s", out);

	/* a deleted entry */
	sf_sql("CREATE TABLE public.saved AS SELECT * FROM voucher.ledger_entries WHERE entry_id = 3");
	tamper("DELETE FROM voucher.ledger_entries WHERE entry_id = 3");
	cr_assert_eq(verify(out, sizeof out), 1, "%s", out);
	cr_assert(strstr(out, "FAILED: ledger entry 4 follows entry 2"), "%s", out);
	tamper("INSERT INTO voucher.ledger_entries SELECT * FROM public.saved");
	cr_assert_eq(verify(out, sizeof out), 0, "%s", out);

	/* two entries swapped */
	static const char swap[] =
		"UPDATE voucher.ledger_entries SET entry_id = entry_id + 1000 WHERE entry_id IN (1, 2); "
		"UPDATE voucher.ledger_entries SET entry_id = 1003 - entry_id WHERE entry_id IN (1001, 1002)";
	tamper(swap);
	cr_assert_eq(verify(out, sizeof out), 1, "%s", out);
	cr_assert(strstr(out, "FAILED: ledger entry 1: prev_hash") || strstr(out, "FAILED: ledger entry 1: its hash"),
		  "%s", out);
	tamper(swap);
	cr_assert_eq(verify(out, sizeof out), 0, "%s", out);

	/* a stored usage amount: it no longer matches the signed body it came in */
	tamper("UPDATE voucher.usage_records SET amount_fen = amount_fen + 2 WHERE record_id = 'r2'");
	cr_assert_eq(verify(out, sizeof out), 1, "%s", out);
	cr_assert(strstr(out, "FAILED: batch prov-a/b-r2 (seq 2): usage record r2 differs from the signed body"), "%s",
		  out);
	tamper("UPDATE voucher.usage_records SET amount_fen = amount_fen - 2 WHERE record_id = 'r2'");
	cr_assert_eq(verify(out, sizeof out), 0, "%s", out);

	/* a record forged into a stored batch */
	tamper("INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility, category, "
	       "quantity, unit, amount_fen, started_at, ended_at, contract_id, content_hash) SELECT provider, 'forged', "
	       "batch_id, enterprise, facility, category, quantity, unit, 99999999, started_at, ended_at, contract_id, "
	       "content_hash FROM voucher.usage_records WHERE record_id = 'r2'");
	cr_assert_eq(verify(out, sizeof out), 1, "%s", out);
	cr_assert(strstr(out, "usage record forged is not in the signed body of its batch"), "%s", out);
	tamper("DELETE FROM voucher.usage_records WHERE record_id = 'forged'");
	cr_assert_eq(verify(out, sizeof out), 0, "%s", out);

	/* an approved run's line changed: the postings no longer agree */
	tamper("UPDATE voucher.run_lines SET payable = payable + 100 WHERE payable > 100 AND run_id = 1");
	cr_assert_eq(verify(out, sizeof out), 1, "%s", out);
	cr_assert(strstr(out, "FAILED: run 1: "), "%s", out);
	tamper("UPDATE voucher.run_lines SET payable = payable - 100 WHERE payable > 200 AND run_id = 1");
	cr_assert_eq(verify(out, sizeof out), 0, "%s", out);

	/* the whole chain rewritten consistently with a changed amount: the chain
	 * holds, but the postings no longer match the run's lines */
	tamper("UPDATE voucher.ledger_entries SET amount_fen = amount_fen + 7 WHERE entry_id = 1");
	tamper("DO $$ DECLARE e record; prev bytea := decode(repeat('00', 32), 'hex'); h bytea; BEGIN "
	       "FOR e IN SELECT * FROM voucher.ledger_entries ORDER BY entry_id LOOP "
	       "h := sha256(prev || voucher.ledger_canon(e.entry_id, e.at, e.debit, e.credit, e.amount_fen, e.run_id, e.memo, e.alg)); "
	       "UPDATE voucher.ledger_entries SET prev_hash = prev, hash = h WHERE entry_id = e.entry_id; prev := h; "
	       "END LOOP; END $$");
	cr_assert_eq(verify(out, sizeof out), 1, "%s", out);
	cr_assert(strstr(out, "FAILED: run 1: "), "%s", out);
}

Test(ledger, sm3_chain_verifies)
{
	sf_setup();
	char out[2048], err[2048];
	cr_assert_eq(sf_ctl("alice", "ledger alg sm3", out, sizeof out, err, sizeof err), 0, "%s", err);
	const char *e1 = sf_uscc("330402", 1);
	sf_enterprise(e1, "330402", NULL);
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", e1, "fa", "intelligent_compute", 1000, "2026-03-10T10:00:00+08:00", NULL);
	sf_approve("bob", sf_settle("alice", "jiaxing-compute", "2026-03"));
	cr_assert_eq(verify(out, sizeof out), 0, "%s", out);
	cr_assert(strstr(out, "(sm3)"), "%s", out);
	/* fixed once the chain has begun */
	cr_assert_eq(sf_ctl("alice", "ledger alg sha256", out, sizeof out, err, sizeof err), 1);
}

Test(ledger, trace_and_duplicates)
{
	scenario();
	const char *e1 = sf_uscc("330402", 1);
	char args[256], out[16384], err[4096];
	snprintf(args, sizeof args, "--format json audit trace --enterprise %s --program jiaxing-compute --year 2026",
		 e1);
	cr_assert_eq(sf_ctl("voucher_auditor", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	/* the March grant and the April recovery, with their ledger entries; the
	 * record and its refund with the batch they came in */
	json_t *doc = t_json(out);
	json_t *grants = t_json_at(doc, "grants"), *g;
	cr_assert(json_is_array(grants), "%s", out);
	bool granted = false, recovered = false;
	size_t i;
	json_array_foreach(grants, i, g)
	{
		json_t *amount = json_object_get(g, "granted");
		cr_assert(json_is_integer(amount), "%s", out);
		granted |= json_integer_value(amount) == 500000;
		recovered |= json_integer_value(amount) == -500000;
	}
	cr_assert(granted && recovered, "%s", out);
	json_t *records = t_json_at(doc, "records and the signed batches they came in"), *rec;
	cr_assert(json_is_array(records), "%s", out);
	bool r1 = false;
	json_array_foreach(records, i, rec)
	{
		const char *id = json_string_value(json_object_get(rec, "record_id"));
		r1 |= id && !strcmp(id, "r1");
		/* compute records: no seller, shown as such */
		cr_expect(json_is_null(json_object_get(rec, "seller")), "%s", out);
	}
	cr_assert(r1, "%s", out);
	json_decref(doc);
	cr_assert_eq(sf_ctl("voucher_auditor", "--format csv audit duplicates", out, sizeof out, err, sizeof err), 0,
		     "%s", err);
	/* every fixture record has contract C, across two enterprises */
	cr_assert(strstr(out, "contract_id,C,prov-a"), "%s", out);
	/* r1 was refunded to zero after E1 had been granted */
	char want[64];
	snprintf(want, sizeof want, "prov-a,r1,%s,10000.00", e1);
	cr_assert(strstr(out, want), "%s", out);
}

/* A checkpoint kept outside the database catches what the chain alone
 * cannot: the last entries removed (truncation). */
Test(ledger, a_checkpoint_catches_truncation)
{
	scenario();
	char args[1024], out[8192], err[4096], cp[512];
	const char *tmp = getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp";
	snprintf(cp, sizeof cp, "%s/checkpoint-%d.txt", tmp, (int)getpid());
	unlink(cp);
	snprintf(args, sizeof args, "audit checkpoint --sign-key '%s' --out '%s'", t_vector_path("provider-b.sm2.key"),
		 cp);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s %s", out, err);
	cr_assert(strstr(out, "5 ledger entries"), "%s", out);
	snprintf(args, sizeof args, "audit verify --checkpoint '%s'", cp);
	cr_assert_eq(sf_ctl("voucher_auditor", args, out, sizeof out, err, sizeof err), 0, "%s %s", out, err);
	cr_assert(strstr(out, "is extended"), "%s", out);
	/* the last entry removed: the chain that is left is consistent */
	tamper("DELETE FROM voucher.ledger_entries WHERE entry_id = 5");
	cr_assert_eq(sf_ctl("voucher_auditor", "audit verify", out, sizeof out, err, sizeof err), 1, "%s", out);
	cr_assert(strstr(out, "FAILED: run"), "%s", out); /* the postings of the April run are gone */
	cr_assert_eq(sf_ctl("voucher_auditor", args, out, sizeof out, err, sizeof err), 1, "%s", out);
	cr_assert(strstr(out, "FAILED"), "%s", out);
	unlink(cp);
}

/* One invoice behind records counted by two programmes of Tongxiang. */
Test(ledger, duplicates_across_programmes)
{
	sf_setup();
	const char *e = sf_uscc("330483", 7);
	sf_enterprise(e, "330483", NULL);
	sf_load_program(t_root_path("settlement/programs/tongxiang-compute.conf"));
	sf_load_program(t_root_path("settlement/programs/tongxiang-model.conf"));
	sf_record("prov-a", e, "fa", "intelligent_compute", 1000, "2026-03-10T10:00:00+08:00", NULL);
	/* tongxiang-model counts model purchases (issue 14: model_purchase, no longer model_service) */
	sf_record("prov-a", e, "fa", "model_purchase", 2000, "2026-03-11T10:00:00+08:00", NULL);
	sf_sql("ALTER TABLE voucher.usage_records DISABLE TRIGGER usage_records_append_only; "
	       "UPDATE voucher.usage_records SET invoice_no = '26332000000099999999'; "
	       "ALTER TABLE voucher.usage_records ENABLE TRIGGER usage_records_append_only");
	sf_approve("bob", sf_settle("alice", "tongxiang-compute", "2026-03"));
	sf_approve("bob", sf_settle("alice", "tongxiang-model", "2026-03"));
	char out[8192], err[2048];
	cr_assert_eq(sf_ctl("voucher_auditor", "--format csv audit duplicates", out, sizeof out, err, sizeof err), 0,
		     "%s", err);
	char want[256];
	snprintf(want, sizeof want,
		 "invoice_no,26332000000099999999,prov-a,%s,tongxiang-compute tongxiang-model,2,30.00", e);
	cr_assert(strstr(out, want), "%s", out);
}

/* The records of one invoice summing past int64: audit duplicates says so
 * and fails, rather than printing a wrapped (negative) total. */
Test(ledger, duplicates_sum_overflow_refused)
{
	sf_setup();
	const char *e = sf_uscc("330483", 8);
	sf_enterprise(e, "330483", NULL);
	sf_record("prov-a", e, "fa", "intelligent_compute", 1000, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", e, "fa", "intelligent_compute", 2000, "2026-03-11T10:00:00+08:00", NULL);
	sf_sql("ALTER TABLE voucher.usage_records DISABLE TRIGGER usage_records_append_only; "
	       "UPDATE voucher.usage_records SET invoice_no = '26332000000099999998', amount_fen = 5000000000000000000; "
	       "ALTER TABLE voucher.usage_records ENABLE TRIGGER usage_records_append_only");
	char out[8192], err[2048];
	cr_assert_eq(sf_ctl("voucher_auditor", "--format csv audit duplicates", out, sizeof out, err, sizeof err), 1,
		     "%s", out);
	/* contract C (every fixture record's) comes first, then the invoice */
	cr_assert(strstr(err, "audit duplicates: contract_id C: the amounts of its records overflow 64 bits"), "%s",
		  err);
	cr_assert(!strstr(out, "-8446744073709551616"), "%s", out);
}

/* Loads a shipped programme file with some of its text replaced: pairs of
 * (old, new), each old text present once. */
static void load_variant(const char *shipped, const char *const *subs, size_t nsubs)
{
	char *conf = t_slurp(t_root_path(shipped), NULL);
	for (size_t i = 0; i + 1 < nsubs; i += 2) {
		char *at = strstr(conf, subs[i]);
		cr_assert_not_null(at, "%s: no '%s'", shipped, subs[i]);
		buf_t b = BUF_INIT;
		buf_printf(&b, "%.*s%s%s", (int)(at - conf), conf, subs[i + 1], at + strlen(subs[i]));
		free(conf);
		conf = buf_steal(&b);
	}
	char path[512];
	snprintf(path, sizeof path, "%s/variant-%d.conf", getenv("VOUCHER_TEST_TMP"), (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(conf, f);
	fclose(f);
	free(conf);
	sf_load_program(path);
	unlink(path);
}

/* One contract subsidised by two kinds of voucher: a compute record counted
 * by the 算力券 and a model purchase of the same contract by the 模型券 (the
 * programme's kind follows its categories). */
Test(ledger, duplicates_across_voucher_kinds)
{
	sf_setup();
	const char *e = sf_uscc("330483", 9);
	sf_enterprise(e, "330483", NULL);
	sf_load_program(t_root_path("settlement/programs/tongxiang-compute.conf"));
	/* tongxiang-model is a 模型券: model purchases (as shipped since issue 14) */
	sf_load_program(t_root_path("settlement/programs/tongxiang-model.conf"));
	sf_record("prov-a", e, "fa", "intelligent_compute", 1000, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", e, "fa", "model_purchase", 2000, "2026-03-11T10:00:00+08:00", NULL);
	sf_approve("bob", sf_settle("alice", "tongxiang-compute", "2026-03"));
	sf_approve("bob", sf_settle("alice", "tongxiang-model", "2026-03"));
	char out[8192], err[2048];
	cr_assert_eq(sf_ctl("voucher_auditor", "--format csv audit duplicates", out, sizeof out, err, sizeof err), 0,
		     "%s", err);
	/* every fixture record has contract C */
	cr_assert(strstr(out, "contract_id,C,compute model,tongxiang-compute tongxiang-model,2,30.00"), "%s", out);
	cr_assert_eq(sf_ctl("voucher_auditor", "--format json audit duplicates", out, sizeof out, err, sizeof err), 0,
		     "%s", err);
	json_t *doc = t_json(out);
	json_t *rows = json_object_get(doc, "invoices and contracts subsidised by more than one kind of voucher");
	cr_assert_eq(json_array_size(rows), 1, "%s", out);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "voucher_kinds")), "compute model");
	json_decref(doc);
}

/* Two programmes of one kind (two 算力券) counting one contract: listed as
 * before, not as two kinds of voucher. */
Test(ledger, duplicates_of_one_voucher_kind)
{
	sf_setup();
	const char *e = sf_uscc("330483", 10);
	sf_enterprise(e, "330483", NULL);
	sf_load_program(t_root_path("settlement/programs/tongxiang-compute.conf"));
	/* a second compute programme over the same county, in no exclusivity group */
	const char *twin[] = {"\nid = tongxiang-compute",        "\nid = tongxiang-compute-2",
			      "\nexclusivity_group = tongxiang", "\n",
			      "\nexclusivity_order = 1",         "\n"};
	load_variant("settlement/programs/tongxiang-compute.conf", twin, 6);
	sf_record("prov-a", e, "fa", "intelligent_compute", 1000, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", e, "fa", "supercomputing", 2000, "2026-03-11T10:00:00+08:00", NULL);
	sf_approve("bob", sf_settle("alice", "tongxiang-compute", "2026-03"));
	sf_approve("bob", sf_settle("alice", "tongxiang-compute-2", "2026-03"));
	char out[8192], err[2048];
	cr_assert_eq(sf_ctl("voucher_auditor", "--format json audit duplicates", out, sizeof out, err, sizeof err), 0,
		     "%s", err);
	json_t *doc = t_json(out);
	json_t *multi = json_object_get(
		doc, "invoices and contracts behind records of more than one provider, enterprise or programme");
	cr_assert_eq(json_array_size(multi), 1, "%s", out);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(multi, 0), "programs")),
			 "tongxiang-compute tongxiang-compute-2");
	json_t *kinds = json_object_get(doc, "invoices and contracts subsidised by more than one kind of voucher");
	cr_assert(json_is_array(kinds), "%s", out);
	cr_expect_eq(json_array_size(kinds), 0, "%s", out);
	json_decref(doc);
}
