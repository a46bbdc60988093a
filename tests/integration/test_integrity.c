/* Integrity (issue 10): no single person can move money, and history is
 * never overwritten.  Each test logs in as the people involved and tries
 * what a careless or hostile one would. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/locks.h"
#include "tests/integration/settle_fixture.h"
#include "tests/integration/support.h"

TestSuite(integrity, .fini = sf_teardown, .timeout = 180);

static const char *error_of(PGconn *c, const char *q)
{
	static char msg[1024];
	PGresult *r = PQexec(c, q);
	ExecStatusType s = PQresultStatus(r);
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		msg[0] = '\0';
	else
		snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return msg;
}

static int ctl_as(const char *user, char *out, char *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int ctl_as(const char *user, char *out, char *err, const char *fmt, ...)
{
	char args[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	return sf_ctl(user, args, out, 4096, err, 4096);
}

static void one_month(const char *e)
{
	sf_enterprise(e, "330402", NULL);
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", e, "fa", "intelligent_compute", 100000, "2026-03-10T10:00:00+08:00", NULL);
}

/* Every table and view of both schemas, every kind of write, every role
 * but the owner: refused for lack of privilege, whatever the row. */
Test(integrity, no_role_but_the_owner_writes_any_table)
{
	sf_setup();
	sf_user("carol");
	PGresult *t =
		PQexec(sf_db, "SELECT n.nspname || '.' || quote_ident(c.relname), "
			      "(SELECT quote_ident(a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid "
			      " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1) "
			      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			      "WHERE n.nspname IN ('voucher', 'audit') AND c.relkind IN ('r', 'p', 'v') ORDER BY 1");
	cr_assert_eq(PQresultStatus(t), PGRES_TUPLES_OK, "%s", PQerrorMessage(sf_db));
	cr_assert_gt(PQntuples(t), 40, "only %d tables and views", PQntuples(t));
	const char *roles[] = {"voucher_ingest", "voucher_finance", "voucher_auditor", "alice", "carol"};
	int tried = 0;
	for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++) {
		PGconn *c = sf_as(roles[k]);
		for (int i = 0; i < PQntuples(t); i++) {
			const char *rel = PQgetvalue(t, i, 0), *col = PQgetvalue(t, i, 1);
			char q[4][512];
			snprintf(q[0], sizeof q[0], "INSERT INTO %s DEFAULT VALUES", rel);
			snprintf(q[1], sizeof q[1], "UPDATE %s SET %s = %s", rel, col, col);
			snprintf(q[2], sizeof q[2], "DELETE FROM %s", rel);
			snprintf(q[3], sizeof q[3], "TRUNCATE %s", rel);
			for (int w = 0; w < 4; w++) {
				const char *st = sf_state_of(c, q[w]);
				/* 42501 insufficient_privilege; views that are not
				 * updatable refuse first (0A000 / 55000) */
				cr_expect(!strcmp(st, "42501") || !strcmp(st, "0A000") || !strcmp(st, "55000") ||
						  !strcmp(st, "42809"),
					  "%s may %s (sqlstate %s)", roles[k], q[w], st);
				tried++;
			}
		}
		/* nor take the ingest barrier, or any advisory lock, by hand */
		cr_expect_str_eq(sf_state_of(c, "SELECT pg_advisory_lock(" VOUCHER_LOCK_SQL(VOUCHER_LOCK_INGEST) ")"),
				 "42501", "%s", roles[k]);
		cr_expect_str_eq(sf_state_of(c, "SELECT pg_advisory_xact_lock_shared(" VOUCHER_LOCK_SQL(
							VOUCHER_LOCK_INGEST) ")"),
				 "42501", "%s", roles[k]);
		cr_expect_str_eq(sf_state_of(c, "SELECT pg_try_advisory_lock(1)"), "42501", "%s", roles[k]);
		PQfinish(c);
	}
	PQclear(t);
	cr_assert_gt(tried, 800);
}

/* A finance user writes through the owner's functions only, as itself: the
 * preparer of a run is session_user, not an argument. */
Test(integrity, a_finance_user_cannot_pay_itself)
{
	sf_setup();
	const char *e = sf_uscc("330402", 1);
	one_month(e);
	PGconn *a = sf_as("alice");
	/* a run made up by hand: refused */
	cr_expect_str_eq(
		sf_state_of(
			a, "INSERT INTO voucher.runs (program, program_version, period, as_of, data_cutoff, "
			   "total_payable, total_recovered, total_asked, lines, prepared_by) SELECT 'jiaxing-compute', "
			   "version, '2026-03', now(), now(), 100000000000000, 0, 0, 1, 'bob' "
			   "FROM voucher.program_versions"),
		"42501");
	/* through the function, a line that does not add up: refused */
	const char *bad = error_of(
		a, "SELECT voucher.run_store('jiaxing-compute', (SELECT version FROM voucher.program_versions), "
		   "'2026-03', (now() AT TIME ZONE 'Asia/Shanghai')::date, now(), NULL, 100000000000000, 0, "
		   "100000000000000, '{91330402000000001X}', '{x}', '{330402}', '{1}', '{1}', '{1}', '{0}', "
		   "'{1}', '{100000000000000}', '{payable}', '{\"\"}')");
	cr_expect(strstr(bad, "does not add up") || strstr(bad, "granted"), "%s", bad);
	/* the key someone revoked stays revoked, and a registry row is never rewritten */
	cr_expect_str_eq(sf_state_of(a, "UPDATE voucher.provider_keys SET revoked_at = NULL"), "42501");
	cr_expect_str_eq(sf_state_of(a, "UPDATE voucher.enterprise_versions SET credit_blacklisted = false"), "42501");
	PQfinish(a);
	/* even the superuser (the owner too) cannot un-revoke or rewrite */
	char out[4096], err[4096];
	cr_assert_eq(ctl_as("alice", out, err, "provider key revoke prov-r prov-r-2026a"), 0, "%s", err);
	const char *un =
		error_of(sf_db, "UPDATE voucher.provider_keys SET revoked_at = NULL WHERE key_id = 'prov-r-2026a'");
	cr_expect(strstr(un, "never changes"), "%s", un);
	un = error_of(sf_db, "UPDATE voucher.enterprise_versions SET credit_blacklisted = true");
	cr_expect(strstr(un, "append only"), "%s", un);
	un = error_of(sf_db, "DELETE FROM voucher.program_versions");
	cr_expect(strstr(un, "append only"), "%s", un);
}

/* Superusers administer; they do not prepare, approve, publish, disburse,
 * propose or confirm. */
Test(integrity, the_superuser_cannot_move_money)
{
	sf_setup();
	const char *e = sf_uscc("330402", 2);
	one_month(e);
	long long run = sf_settle("alice", "jiaxing-compute", "2026-03");
	char q[256];
	snprintf(q, sizeof q, "SELECT * FROM voucher.run_approve(%lld)", run);
	cr_expect(strstr(error_of(sf_db, q), "refused to the superuser"), "%s", error_of(sf_db, q));
	snprintf(q, sizeof q, "SELECT voucher.run_publish(%lld)", run);
	cr_expect(strstr(error_of(sf_db, q), "refused to the superuser"));
	snprintf(q, sizeof q, "SELECT voucher.run_disburse(%lld, 'x')", run);
	cr_expect(strstr(error_of(sf_db, q), "refused to the superuser"));
	snprintf(q, sizeof q, "SELECT voucher.run_end(%lld, 'discarded', 'x')", run);
	cr_expect(strstr(error_of(sf_db, q), "refused to the superuser"));
	snprintf(q, sizeof q, "SELECT voucher.override_propose('jiaxing-compute', '%s', 2026, NULL, 1, 'x')", e);
	cr_expect(strstr(error_of(sf_db, q), "refused to the superuser"));
	cr_expect(strstr(error_of(sf_db, "SELECT voucher.override_confirm(1)"), "refused to the superuser"));
	/* settle as the superuser: refused when the draft is stored */
	char out[4096], err[4096], args[600];
	snprintf(args, sizeof args, "%s/bin/voucherctl --db '%s' settle --program jiaxing-compute --period 2026-03",
		 getenv("VOUCHER_TEST_ROOT"), sf_ci);
	cr_expect_neq(t_run(args, out, sizeof out, err, sizeof err), 0, "%s", out);
	cr_expect(strstr(err, "refused to the superuser"), "%s", err);
	cr_assert_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.runs"), "1");
}

/* Two finance users approve two drafts of one programme-year at the same
 * moment: exactly one is approved, the other refused and recorded. */
Test(integrity, two_concurrent_approvals_exactly_one_succeeds)
{
	sf_setup();
	sf_user("carol");
	const char *e = sf_uscc("330402", 3);
	one_month(e);
	sf_record("prov-a", e, "fa", "intelligent_compute", 50000, "2026-04-10T10:00:00+08:00", NULL);
	long long mar = sf_settle("alice", "jiaxing-compute", "2026-03");
	long long apr = sf_settle("alice", "jiaxing-compute", "2026-04");
	/* hold the approvals' turn, send both, then let them go together */
	PGconn *hold = PQconnectdb(sf_ci), *b = sf_as("bob"), *c = sf_as("carol");
	cr_assert_str_eq(sf_state_of(hold, "BEGIN"), "");
	cr_assert_str_eq(
		sf_state_of(hold, "SELECT pg_advisory_xact_lock(hashtextextended('approve jiaxing-compute 2026', 0))"),
		"");
	char q1[128], q2[128];
	snprintf(q1, sizeof q1, "SELECT approved_by, refused FROM voucher.run_approve(%lld)", mar);
	snprintf(q2, sizeof q2, "SELECT approved_by, refused FROM voucher.run_approve(%lld)", apr);
	cr_assert(PQsendQuery(b, q1));
	cr_assert(PQsendQuery(c, q2));
	usleep(300 * 1000);
	cr_assert_str_eq(sf_state_of(hold, "COMMIT"), "");
	int approved = 0, refused = 0;
	PGconn *both[] = {b, c};
	for (int i = 0; i < 2; i++) {
		PGresult *r;
		while ((r = PQgetResult(both[i])) != NULL) {
			if (PQresultStatus(r) == PGRES_TUPLES_OK) {
				approved += !PQgetisnull(r, 0, 0);
				refused += !PQgetisnull(r, 0, 1);
			}
			PQclear(r);
		}
	}
	cr_expect_eq(approved, 1);
	cr_expect_eq(refused, 1);
	cr_expect_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.run_events WHERE event = 'approved'"), "1");
	cr_expect_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.approval_refusals"), "1");
	PQfinish(hold);
	PQfinish(b);
	PQfinish(c);
}

/* An enterprise blacklisted after the draft was prepared: the stale draft
 * is refused, naming what changed; the next settle withholds it. */
Test(integrity, a_stale_draft_is_refused_naming_what_changed)
{
	sf_setup();
	const char *e = sf_uscc("330402", 4);
	one_month(e);
	long long run = sf_settle("alice", "jiaxing-compute", "2026-03");
	sf_flag(e, "credit_blacklisted");
	char out[4096], err[4096];
	cr_assert_eq(ctl_as("bob", out, err, "run approve %lld", run), 1, "%s", out);
	cr_expect(strstr(err, "registry"), "%s", err);
	cr_expect(strstr(err, "settle again"), "%s", err);
	cr_expect_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.grants"), "0");
	long long again = sf_settle("alice", "jiaxing-compute", "2026-03");
	cr_assert_eq(ctl_as("bob", out, err, "run approve %lld --comment 已核", again), 0, "%s", err);
	char q[200];
	snprintf(q, sizeof q, "SELECT status || '/' || payable FROM audit.run_lines WHERE run_id = %lld", again);
	cr_expect_str_eq(t_scalar(sf_db, q), "withheld/0");
	snprintf(q, sizeof q, "SELECT approval_comment FROM audit.runs WHERE run_id = %lld", again);
	cr_expect_str_eq(t_scalar(sf_db, q), "已核");
	/* the refusal is on record, for the auditor */
	cr_assert_eq(ctl_as("voucher_auditor", out, err, "--format csv audit exceptions"), 0, "%s", err);
	cr_expect(strstr(out, "refused approval"), "%s", out);
	cr_expect(strstr(out, "draft superseded"), "%s", out);
}

/* A re-import with the same valid_from adds a version: the approved run
 * keeps recomputing from what it saw, later runs use the correction. */
Test(integrity, a_reimport_keeps_history_and_the_audit_passes)
{
	sf_setup();
	const char *e = sf_uscc("330402", 5);
	one_month(e);
	sf_approve("bob", sf_settle("alice", "jiaxing-compute", "2026-03"));
	/* the bureau corrects the 2025-01-01 version: the enterprise was never
	 * in Jiaxing (Tongxiang) */
	const char *p[] = {e};
	sf_sqlp("INSERT INTO voucher.enterprise_versions (uscc, valid_from, name, division, backdated) "
		"VALUES ($1, '2025-01-01', 'corrected', '330483', true)",
		1, p);
	char out[4096], err[4096];
	cr_assert_eq(ctl_as("voucher_auditor", out, err, "audit verify"), 0, "%s\n%s", out, err);
	cr_expect_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.enterprise_versions"), "2");
	/* a run prepared after the correction: nothing in Jiaxing any more, the grant comes back */
	long long apr = sf_settle("alice", "jiaxing-compute", "2026-04");
	char q[200];
	snprintf(q, sizeof q, "SELECT status || '/' || payable FROM audit.run_lines WHERE run_id = %lld", apr);
	cr_expect_str_eq(t_scalar(sf_db, q), "recovery/-50000");
}

Test(integrity, settle_refuses_a_month_that_has_not_ended)
{
	sf_setup();
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	char month[8], out[4096], err[4096];
	snprintf(month, sizeof month, "%s",
		 t_scalar(sf_db, "SELECT to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"));
	cr_assert_eq(ctl_as("alice", out, err, "settle --program jiaxing-compute --period %s", month), 1, "%s", out);
	cr_expect(strstr(err, "has not ended"), "%s", err);
	cr_assert_eq(ctl_as("alice", out, err, "settle --program jiaxing-compute --period %s --dry-run", month), 1,
		     "%s", out);
	cr_assert_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.runs"), "0");
}

/* Drafts end with a reason and stay: superseded, returned, discarded. */
Test(integrity, drafts_end_with_a_reason_and_stay)
{
	sf_setup();
	const char *e = sf_uscc("330402", 6);
	one_month(e);
	long long r1 = sf_settle("alice", "jiaxing-compute", "2026-03");
	long long r2 = sf_settle("alice", "jiaxing-compute", "2026-03");
	char out[4096], err[4096], q[200];
	cr_assert_eq(ctl_as("bob", out, err, "run return %lld", r2), 2, "a return needs a comment");
	cr_assert_eq(ctl_as("bob", out, err, "run return %lld --comment '金额待核'", r2), 0, "%s", err);
	long long r3 = sf_settle("alice", "jiaxing-compute", "2026-03");
	cr_assert_eq(ctl_as("bob", out, err, "run discard %lld --comment 重复", r3), 0, "%s", err);
	cr_assert_eq(ctl_as("bob", out, err, "run approve %lld", r3), 1);
	cr_expect(strstr(err, "not a draft"), "%s", err);
	cr_assert_eq(ctl_as("bob", out, err, "run approve %lld", r1), 1);
	snprintf(q, sizeof q, "SELECT string_agg(status, ',' ORDER BY run_id) FROM audit.runs");
	cr_expect_str_eq(t_scalar(sf_db, q), "superseded,returned,discarded");
	cr_expect_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.run_lines"), "3");
	/* superseded, returned and discarded lines are frozen like approved ones */
	const char *m = error_of(sf_db, "DELETE FROM voucher.run_lines");
	cr_expect(strstr(m, "never changes"), "%s", m);
}

/* Overrides: proposed by one, confirmed by another, within the ceilings,
 * checked in the database whatever the client. */
Test(integrity, overrides_need_two_people_and_the_ceilings_hold_in_the_database)
{
	sf_setup();
	const char *w = sf_uscc("320214", 7), *h = sf_uscc("330106", 8), *hf = sf_uscc("330106", 9);
	sf_enterprise(w, "320214", NULL);
	sf_enterprise(h, "330106", NULL);
	sf_enterprise(hf, "330106", NULL);
	sf_flag(hf, "foundation_model");
	sf_load_program(t_root_path("settlement/programs/wuxi-compute.conf"));
	sf_load_program(t_root_path("settlement/programs/hangzhou-compute.conf"));
	PGconn *a = sf_as("alice");
	char q[300];
	/* Wuxi: above 6000 bp or 1000万, refused in the database itself */
	snprintf(q, sizeof q, "SELECT voucher.override_propose('wuxi-compute', '%s', 2026, 6001, NULL, 'x')", w);
	cr_expect(strstr(error_of(a, q), "ceiling"), "%s", error_of(a, q));
	snprintf(q, sizeof q, "SELECT voucher.override_propose('wuxi-compute', '%s', 2026, NULL, 1000000001, 'x')", w);
	cr_expect(strstr(error_of(a, q), "ceiling"));
	/* Hangzhou: foundation_model only, and only a cap above 800万 */
	snprintf(q, sizeof q, "SELECT voucher.override_propose('hangzhou-compute', '%s', 2026, NULL, 1000000000, 'x')",
		 h);
	cr_expect(strstr(error_of(a, q), "foundation_model"), "%s", error_of(a, q));
	snprintf(q, sizeof q, "SELECT voucher.override_propose('hangzhou-compute', '%s', 2026, 5000, NULL, 'x')", hf);
	cr_expect(strstr(error_of(a, q), "no rate overrides"), "%s", error_of(a, q));
	snprintf(q, sizeof q, "SELECT voucher.override_propose('hangzhou-compute', '%s', 2026, NULL, 700000000, 'x')",
		 hf);
	cr_expect(strstr(error_of(a, q), "only raises the cap"), "%s", error_of(a, q));
	snprintf(
		q, sizeof q,
		"SELECT voucher.override_propose('hangzhou-compute', '%s', 2026, NULL, 1200000000, '杭经信〔2026〕9号')",
		hf);
	cr_expect_str_eq(error_of(a, q), "");
	PQfinish(a);
	char out[4096], err[4096];
	long long id = atoll(t_scalar(sf_db, "SELECT max(id) FROM voucher.overrides"));
	cr_assert_eq(ctl_as("alice", out, err, "override confirm %lld", id), 1);
	cr_expect(strstr(err, "another finance user"), "%s", err);
	cr_assert_eq(ctl_as("bob", out, err, "override confirm %lld", id), 0, "%s", err);
	cr_assert_eq(ctl_as("bob", out, err, "override confirm %lld", id), 1);
	cr_assert_eq(ctl_as("bob", out, err, "--format csv override list --program hangzhou-compute"), 0, "%s", err);
	cr_expect(strstr(out, "12000000.00"), "amounts in yuan: %s", out);
	cr_expect(strstr(out, "confirmed"), "%s", out);
}

/* A registry or relation change effective in a month an approved run
 * settled needs --backdate, and is recorded as such. */
Test(integrity, a_backdated_change_needs_the_flag_and_is_recorded)
{
	sf_setup();
	const char *e = sf_uscc("330402", 10);
	one_month(e);
	sf_approve("bob", sf_settle("alice", "jiaxing-compute", "2026-03"));
	char path[512], out[4096], err[4096];
	snprintf(path, sizeof path, "%s/backdate-%d.csv", getenv("VOUCHER_TEST_TMP"), (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fprintf(f,
		"uscc,name,division,sme,model_developer,maas_builder,model_registered,foundation_model,"
		"credit_blacklisted,performance_grade,valid_from\n%s,改名,330402,1,0,0,0,0,0,,2026-02-01\n",
		e);
	fclose(f);
	cr_assert_eq(ctl_as("alice", out, err, "enterprise import '%s'", path), 1, "%s", out);
	cr_expect(strstr(err, "--backdate"), "%s", err);
	cr_assert_eq(ctl_as("alice", out, err, "enterprise import '%s' --backdate", path), 0, "%s", err);
	cr_expect(strstr(out, "1 versions backdated"), "%s", out);
	cr_assert_eq(ctl_as("alice", out, err, "enterprise relate %s --provider prov-r", e), 1, "%s", out);
	cr_assert_eq(ctl_as("alice", out, err, "enterprise relate %s --provider prov-r --backdate", e), 0, "%s", err);
	/* a seller, as a provider: any credit code, an institution's too */
	cr_assert_eq(ctl_as("alice", out, err, "enterprise relate %s --seller 12100000400000000W", e), 1, "%s", out);
	cr_expect(strstr(err, "--backdate"), "%s", err);
	cr_expect_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.related_sellers"), "0");
	cr_assert_eq(ctl_as("alice", out, err, "enterprise relate %s --seller 12100000400000000W --backdate", e), 0,
		     "%s", err);
	cr_expect_str_eq(t_scalar(sf_db, "SELECT backdated FROM audit.related_sellers"), "t");
	cr_assert_eq(ctl_as("voucher_auditor", out, err, "--format csv audit exceptions --year 2026"), 0, "%s", err);
	cr_expect(strstr(out, "backdated version"), "%s", out);
	cr_expect(strstr(out, "backdated relation"), "%s", out);
	char want[128];
	snprintf(want, sizeof want, "%s,related to provider prov-r", e);
	cr_expect(strstr(out, want), "%s", out);
	snprintf(want, sizeof want, "%s,related to seller 12100000400000000W", e);
	cr_expect(strstr(out, want), "%s", out);
	unlink(path);
}

/* Revocation waits for the batches in flight, so that none signed with the
 * key commits after revoked_at. */
Test(integrity, a_revocation_waits_for_ingest_in_flight)
{
	sf_setup();
	PGconn *ingest = PQconnectdb(sf_ci), *a = sf_as("alice");
	cr_assert_str_eq(sf_state_of(ingest, "BEGIN"), "");
	cr_assert_str_eq(
		sf_state_of(ingest, "SELECT pg_advisory_xact_lock_shared(" VOUCHER_LOCK_SQL(VOUCHER_LOCK_INGEST) ")"),
		"");
	cr_assert(PQsendQuery(a, "SELECT voucher.provider_key_revoke('prov-a', 'prov-a-2026a')"));
	usleep(300 * 1000);
	cr_assert(PQconsumeInput(a));
	cr_expect(PQisBusy(a), "the revocation did not wait for the ingest transaction");
	char committed[64];
	snprintf(committed, sizeof committed, "%s", t_scalar(ingest, "SELECT clock_timestamp()::text"));
	cr_assert_str_eq(sf_state_of(ingest, "COMMIT"), "");
	PGresult *r;
	while ((r = PQgetResult(a)) != NULL) {
		cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		PQclear(r);
	}
	char q[200];
	snprintf(q, sizeof q,
		 "SELECT revoked_at > '%s'::timestamptz FROM voucher.provider_keys WHERE key_id = 'prov-a-2026a'",
		 committed);
	cr_expect_str_eq(t_scalar(sf_db, q), "t");
	PQfinish(ingest);
	PQfinish(a);
}

Test(integrity, user_add_makes_a_scram_login_in_its_group)
{
	sf_setup();
	char path[512], name[64], out[4096], err[4096], args[1200];
	snprintf(name, sizeof name, "staff_%d", (int)getpid());
	snprintf(path, sizeof path, "%s/pw-%d", getenv("VOUCHER_TEST_TMP"), (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("correct horse battery\n", f);
	fclose(f);
	snprintf(args, sizeof args, "%s/bin/voucherctl --db '%s' user add %s --role auditor --password-file '%s'",
		 getenv("VOUCHER_TEST_ROOT"), sf_ci, name, path);
	cr_assert_eq(t_run(args, out, sizeof out, err, sizeof err), 0, "%s", err);
	char q[600];
	snprintf(q, sizeof q,
		 "SELECT left(rolpassword, 14) || ' ' || pg_has_role('%s', 'voucher_auditor', 'MEMBER') "
		 "|| ' ' || pg_has_role('%s', 'voucher_finance', 'MEMBER') FROM pg_authid WHERE rolname = '%s'",
		 name, name, name);
	cr_expect_str_eq(t_scalar(sf_db, q), "SCRAM-SHA-256$ true false");
	cr_expect_neq(t_run(args, out, sizeof out, err, sizeof err), 0, "twice: %s", out);
	cr_expect(strstr(err, "exists already"), "%s", err);
	snprintf(args, sizeof args, "%s/bin/voucherctl --db '%s' user add x --role root --password-file '%s'",
		 getenv("VOUCHER_TEST_ROOT"), sf_ci, path);
	cr_expect_eq(t_run(args, out, sizeof out, err, sizeof err), 2);
	snprintf(q, sizeof q, "DROP ROLE %s", name);
	sf_sql(q);
	unlink(path);
}
