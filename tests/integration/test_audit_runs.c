/* audit verify's recomputation of approved runs (audit/audit_runs.c):
 * passes on an untouched database, names the run and the enterprise when a
 * stored record or a stored line was changed, and is not fooled by what
 * happened after a run (later records, registry versions, programme
 * versions). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "audit/audit_runs.h"
#include "settlement/run.h"
#include "tests/integration/settle_fixture.h"
#include "tests/integration/support.h"

TestSuite(audit_runs, .fini = sf_teardown, .timeout = 120);

static long long mar, apr;

/* as the superuser, with the append-only triggers switched off */
static void tamper(const char *q)
{
	buf_t b = BUF_INIT;
	buf_printf(&b, "BEGIN; SET LOCAL session_replication_role = replica; %s; COMMIT", q);
	sf_sql(b.data);
	buf_free(&b);
}

/* audit_verify_runs in one read-only snapshot, as audit verify calls it */
static bool verify(int64_t *n, char *err, size_t errlen)
{
	sf_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	err[0] = '\0';
	bool ok = audit_verify_runs(sf_db, n, err, errlen);
	sf_sql("ROLLBACK");
	return ok;
}

static void assert_passes(void)
{
	int64_t n = -1;
	char err[512];
	cr_assert(verify(&n, err, sizeof err), "%s", err);
	cr_assert_eq(n, 2, "%lld runs", (long long)n);
}

/* March and April of Jiaxing: a late March record and a refund in April */
static void scenario(void)
{
	sf_setup();
	const char *e1 = sf_uscc("330402", 1), *e2 = sf_uscc("330402", 2), *e3 = sf_uscc("330402", 3);
	sf_enterprise(e1, "330402", NULL);
	sf_enterprise(e2, "330402", NULL);
	sf_enterprise(e3, "330402", NULL);
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", e1, "fa", "intelligent_compute", 1000000, "2026-03-10T10:00:00+08:00", NULL); /* r1 */
	sf_record("prov-a", e2, "fa", "intelligent_compute", 333, "2026-03-11T10:00:00+08:00", NULL);     /* r2 */
	sf_record("prov-a", e3, "fb", "intelligent_compute", 40000, "2026-03-12T10:00:00+08:00", NULL);   /* r3 */
	mar = sf_settle("alice", "jiaxing-compute", "2026-03");
	sf_approve("bob", mar);
	/* a March record that arrived after the March run, and a refund of E1's */
	sf_record("prov-a", e2, "fa", "intelligent_compute", 1000, "2026-03-20T10:00:00+08:00", NULL);     /* r4 */
	sf_record("prov-a", e1, "fa", "intelligent_compute", -1000000, "2026-03-10T10:00:00+08:00", "r1"); /* r5 */
	apr = sf_settle("alice", "jiaxing-compute", "2026-04");
	sf_approve("bob", apr);
}

/* run_compute as of a run's stored basis, with some of it replaced by "now" */
static void recompute(long long run, bool newest_version, bool registry_now, run_calc_t *rc)
{
	char q[512];
	snprintf(q, sizeof q,
		 "SELECT r.program_version, r.as_of::text, r.data_cutoff::text, r.prepared_at::text, a.at::text "
		 "FROM voucher.runs r JOIN voucher.run_events a ON a.run_id = r.run_id AND a.event = 'approved' "
		 "WHERE r.run_id = %lld",
		 run);
	PGresult *r = PQexec(sf_db, q);
	cr_assert_eq(PQntuples(r), 1, "%s", PQerrorMessage(sf_db));
	run_basis_t b = {.version = newest_version ? NULL : PQgetvalue(r, 0, 0),
			 .as_of = PQgetvalue(r, 0, 1),
			 .cutoff = PQgetvalue(r, 0, 2),
			 .registry_at = registry_now ? NULL : PQgetvalue(r, 0, 3),
			 .approved_before = PQgetvalue(r, 0, 4),
			 .quiet = true};
	char err[512];
	sf_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	sf_sql("SET LOCAL search_path = voucher, pg_catalog");
	bool ok = run_compute(sf_db, "jiaxing-compute", "2026-03", &b, rc, err, sizeof err);
	sf_sql("ROLLBACK");
	PQclear(r);
	cr_assert(ok, "%s", err);
}

static const eng_line_t *line_of(const run_calc_t *rc, const char *uscc)
{
	for (size_t i = 0; i < rc->nents; i++)
		if (!strcmp(rc->ents[i].uscc, uscc))
			return &rc->lines[i];
	return NULL;
}

Test(audit_runs, untouched_runs_recompute_to_their_stored_lines)
{
	scenario();
	/* March: E1 500,000, E2 166, E3 20,000; April: E1 recovers 500,000, E2
	 * gets floor(1333 x 0.5) - 166 = 500 for the late record */
	cr_assert_str_eq(t_scalar(sf_db, "SELECT string_agg(payable::text, ',' ORDER BY run_id, uscc) "
					 "FROM voucher.run_lines"),
			 "500000,166,20000,-500000,500,0");
	assert_passes();
}

Test(audit_runs, a_changed_record_names_the_run_and_the_enterprise)
{
	scenario();
	const char *e1 = sf_uscc("330402", 1);
	tamper("UPDATE voucher.usage_records SET amount_fen = amount_fen + 100 "
	       "WHERE provider = 'prov-a' AND record_id = 'r1'");
	int64_t n = -1;
	char err[512], want[256];
	cr_assert(!verify(&n, err, sizeof err));
	cr_assert_eq(n, 0);
	snprintf(want, sizeof want,
		 "run %lld (jiaxing-compute, 2026-03): enterprise %s: eligible_amount_ytd stored 1000000, "
		 "recomputed 1000100",
		 mar, e1);
	cr_assert_str_eq(err, want);
	tamper("UPDATE voucher.usage_records SET amount_fen = amount_fen - 100 "
	       "WHERE provider = 'prov-a' AND record_id = 'r1'");
	assert_passes();

	/* a record removed: March's E3 line is one the recomputation does not produce */
	sf_sql("CREATE TABLE public.saved AS SELECT * FROM voucher.usage_records WHERE record_id = 'r3'");
	tamper("DELETE FROM voucher.usage_records WHERE record_id = 'r3'");
	cr_assert(!verify(&n, err, sizeof err));
	snprintf(want, sizeof want,
		 "run %lld (jiaxing-compute, 2026-03): enterprise %s: a line the recomputation does "
		 "not produce",
		 mar, sf_uscc("330402", 3));
	cr_assert_str_eq(err, want);
	tamper("INSERT INTO voucher.usage_records SELECT * FROM public.saved");
	assert_passes();
}

Test(audit_runs, a_changed_stored_line_is_named)
{
	scenario();
	const char *e2 = sf_uscc("330402", 2);
	char q[256], err[512], want[256];
	snprintf(q, sizeof q, "UPDATE voucher.run_lines SET payable = payable + 1 WHERE run_id = %lld AND uscc = '%s'",
		 apr, e2);
	tamper(q);
	int64_t n = -1;
	cr_assert(!verify(&n, err, sizeof err));
	cr_assert_eq(n, 1); /* March still agrees */
	snprintf(want, sizeof want,
		 "run %lld (jiaxing-compute, 2026-04): enterprise %s: payable stored 501, recomputed 500", apr, e2);
	cr_assert_str_eq(err, want);
	snprintf(q, sizeof q, "UPDATE voucher.run_lines SET payable = payable - 1 WHERE run_id = %lld AND uscc = '%s'",
		 apr, e2);
	tamper(q);
	assert_passes();

	/* a stored line removed */
	snprintf(q, sizeof q, "DELETE FROM voucher.run_lines WHERE run_id = %lld AND uscc = '%s'", mar, e2);
	tamper(q);
	cr_assert(!verify(&n, err, sizeof err));
	cr_assert(strstr(err, "(jiaxing-compute, 2026-03): enterprise ") && strstr(err, e2) &&
			  strstr(err, ": missing line (recomputed payable 166, status payable)"),
		  "%s", err);
}

Test(audit_runs, what_came_after_a_run_does_not_change_it)
{
	scenario();
	const char *e1 = sf_uscc("330402", 1), *e3 = sf_uscc("330402", 3);
	/* a March record arriving now, after both runs */
	sf_record("prov-a", e3, "fa", "intelligent_compute", 7000, "2026-03-25T10:00:00+08:00", NULL);
	assert_passes();

	/* E1 re-registered with a version from 2026-01-01, blacklisted: the
	 * registry as it stands now would withhold March; as it stood then, not */
	const char *p[] = {e1};
	sf_sqlp("INSERT INTO voucher.enterprise_versions (uscc, valid_from, name, division, credit_blacklisted) "
		"VALUES ($1, '2026-01-01', 'E1 renamed', '330411', true)",
		1, p);
	run_calc_t rc;
	recompute(mar, false, true, &rc);
	cr_assert_eq(line_of(&rc, e1)->status, ST_WITHHELD);
	run_calc_free(&rc);
	assert_passes();

	/* a new version of the programme, starting after March's records: the
	 * newest version would pay nothing for them; the run's own version does */
	sf_sql("INSERT INTO voucher.program_versions (version, program, text) "
	       "SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex'), program, t FROM ("
	       "  SELECT program, replace(text, 'valid_from = 2025-05-13', 'valid_from = 2026-03-15') AS t "
	       "  FROM voucher.program_versions WHERE program = 'jiaxing-compute') x");
	recompute(mar, true, false, &rc);
	cr_assert_eq(line_of(&rc, e1)->eligible_ytd, 0);
	run_calc_free(&rc);
	assert_passes();

	/* an override added after the run does not count for it */
	sf_sqlp("INSERT INTO voucher.overrides (program, enterprise, year, rate_bp, ref) "
		"VALUES ('jiaxing-compute', $1, 2026, 100, 'doc')",
		1, p);
	assert_passes();
}

/* The notes (备注) are text for people and changed language (English before,
 * Chinese now): audit verify compares the amounts and the status of every
 * line, never the note, so a run approved with the English notes of an
 * earlier voucherctl still verifies. */
Test(audit_runs, a_run_approved_with_english_notes_still_verifies)
{
	scenario();
	tamper("UPDATE voucher.run_lines SET note = CASE WHEN note = '' THEN '' ELSE 'capped at 1000000.00 yuan; "
	       "usage counted toward tongxiang-model; recovery' END");
	assert_passes();
	/* a changed status is still caught */
	tamper("UPDATE voucher.run_lines SET status = 'withheld' WHERE run_id = (SELECT min(run_id) FROM "
	       "voucher.run_lines WHERE status = 'payable') AND status = 'payable'");
	int64_t n = -1;
	char err[512];
	cr_expect(!verify(&n, err, sizeof err));
	cr_expect_not_null(strstr(err, "status"), "%s", err);
}
