/* The database side of the console (issue 13): the public notice and its
 * role, objections, disbursement line by line held by objections, the
 * overview.  Each test also tries what the wrong role or user would. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "tests/integration/settle_fixture.h"
#include "tests/integration/support.h"

TestSuite(console_db, .fini = sf_teardown, .timeout = 180);

static const char *error_of(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *error_of(PGconn *c, const char *fmt, ...)
{
	static char msg[1024];
	char q[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	PGresult *r = PQexec(c, q);
	ExecStatusType s = PQresultStatus(r);
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		msg[0] = '\0';
	else
		snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return msg;
}

static const char *scalar(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *scalar(PGconn *c, const char *fmt, ...)
{
	char q[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	return t_scalar(c, q);
}

static int ctl_as(const char *user, char *out, char *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int ctl_as(const char *user, char *out, char *err, const char *fmt, ...)
{
	char args[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	return sf_ctl(user, args, out, 8192, err, 8192);
}

/* a login role in voucher_notice made by voucherctl user add, as the
 * superuser (roles are cluster-wide: the name is the test process's) */
static const char *notice_user(void)
{
	static char name[64];
	char path[512], out[8192], err[8192], args[1200];
	snprintf(name, sizeof name, "notice_%d", (int)getpid());
	snprintf(path, sizeof path, "%s/npw-%d", getenv("VOUCHER_TEST_TMP"), (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("public pages only\n", f);
	fclose(f);
	snprintf(args, sizeof args, "%s/bin/voucherctl --db '%s' user add %s --role notice --password-file '%s'",
		 getenv("VOUCHER_TEST_ROOT"), sf_ci, name, path);
	cr_assert_eq(t_run(args, out, sizeof out, err, sizeof err), 0, "%s", err);
	unlink(path);
	return name;
}

static void drop_role(const char *name)
{
	char q[128];
	snprintf(q, sizeof q, "DROP ROLE IF EXISTS %s", name);
	sf_sql(q);
}

/* Three enterprises of Jiaxing (two divisions) with March usage, settled and
 * approved: E1 and E2 in 330402, E3 in 330411; E4 blacklisted (withheld). */
static long long approved_march(void)
{
	sf_setup();
	sf_enterprise(sf_uscc("330402", 1), "330402", "B 企业");
	sf_enterprise(sf_uscc("330402", 2), "330402", "A 企业");
	sf_enterprise(sf_uscc("330411", 3), "330411", "丙企业");
	sf_enterprise(sf_uscc("330402", 4), "330402", "丁企业");
	sf_flag(sf_uscc("330402", 4), "credit_blacklisted");
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", sf_uscc("330402", 1), "fa", "intelligent_compute", 100000, "2026-03-10T10:00:00+08:00",
		  NULL);
	sf_record("prov-a", sf_uscc("330402", 2), "fa", "intelligent_compute", 200000, "2026-03-11T10:00:00+08:00",
		  NULL);
	sf_record("prov-a", sf_uscc("330411", 3), "fa", "intelligent_compute", 300000, "2026-03-12T10:00:00+08:00",
		  NULL);
	sf_record("prov-a", sf_uscc("330402", 4), "fa", "intelligent_compute", 400000, "2026-03-12T10:00:00+08:00",
		  NULL);
	char out[8192], err[8192];
	cr_assert_eq(ctl_as("alice", out, err, "calendar load '%s'", t_root_path("settlement/calendar/2026.txt")), 0,
		     "%s", err);
	long long run = sf_settle("alice", "jiaxing-compute", "2026-03");
	sf_approve("bob", run);
	return run;
}

/* as if published long ago: the notice has ended, the run may be paid */
static void notice_ended(long long run)
{
	char q[256];
	snprintf(q, sizeof q,
		 "INSERT INTO voucher.run_events (run_id, event, notice_ends) VALUES (%lld, 'published', '2020-01-01')",
		 run);
	sf_sql(q);
}

static int verify(char *out)
{
	char err[8192];
	return ctl_as("voucher_auditor", out, err, "audit verify");
}

/* voucher_notice: the notice and nothing else, on every table, view,
 * sequence and function of both schemas */
Test(console_db, the_notice_role_reads_the_notice_and_nothing_else)
{
	long long run = approved_march();
	const char *nora = notice_user();
	cr_expect_str_eq(scalar(sf_db,
				"SELECT pg_has_role('%s', 'voucher_notice', 'MEMBER')::text || rolcanlogin::text || "
				"(SELECT rolcanlogin::text FROM pg_roles WHERE rolname = 'voucher_notice') "
				"FROM pg_roles WHERE rolname = '%s'",
				nora, nora),
			 "truetruefalse");
	/* the functions of the system it may execute: voucher.notice only (the
	 * pgcrypto functions in schema voucher belong to the bootstrap superuser,
	 * pgcrypto being a trusted extension, and stay PUBLIC: computations that
	 * read nothing) */
	cr_expect_str_eq(
		scalar(sf_db,
		       "SELECT string_agg(p.oid::regprocedure::text, ',') FROM pg_proc p "
		       "WHERE p.pronamespace IN ('voucher'::regnamespace, 'audit'::regnamespace) "
		       "AND has_function_privilege('%s', p.oid, 'EXECUTE') AND NOT EXISTS (SELECT 1 FROM "
		       "pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')",
		       nora),
		"voucher.notice(bigint)");
	cr_expect_str_eq(scalar(sf_db,
				"SELECT string_agg(DISTINCT x.extname, ',') FROM pg_proc p JOIN pg_depend d ON "
				"d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e' JOIN "
				"pg_extension x ON x.oid = d.refobjid WHERE p.pronamespace = 'voucher'::regnamespace "
				"AND has_function_privilege('%s', p.oid, 'EXECUTE')",
				nora),
			 "pgcrypto");
	/* no right on any table, view or sequence */
	cr_expect_str_eq(
		scalar(sf_db,
		       "SELECT count(*) FROM pg_class c WHERE c.relnamespace IN ('voucher'::regnamespace, "
		       "'audit'::regnamespace) AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ("
		       "CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('%s', c.oid, 'USAGE, SELECT, UPDATE') "
		       "ELSE has_table_privilege('%s', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, "
		       "REFERENCES, TRIGGER') END)",
		       nora, nora),
		"0");
	cr_expect_str_eq(scalar(sf_db, "SELECT has_schema_privilege('%s', 'audit', 'USAGE')", nora), "f");
	PGconn *n = sf_as(nora);
	PGresult *t =
		PQexec(sf_db, "SELECT n.nspname || '.' || quote_ident(c.relname) FROM pg_class c "
			      "JOIN pg_namespace n ON n.oid = c.relnamespace "
			      "WHERE n.nspname IN ('voucher', 'audit') AND c.relkind IN ('r', 'p', 'v') ORDER BY 1");
	cr_assert_gt(PQntuples(t), 40);
	for (int i = 0; i < PQntuples(t); i++) {
		char q[300];
		snprintf(q, sizeof q, "SELECT * FROM %s LIMIT 1", PQgetvalue(t, i, 0));
		cr_expect_str_eq(sf_state_of(n, q), "42501", "%s may read %s", nora, PQgetvalue(t, i, 0));
		snprintf(q, sizeof q, "DELETE FROM %s", PQgetvalue(t, i, 0));
		/* 42501; views that are not updatable refuse first */
		const char *st = sf_state_of(n, q);
		cr_expect(!strcmp(st, "42501") || !strcmp(st, "0A000") || !strcmp(st, "55000"),
			  "%s may delete from %s (%s)", nora, PQgetvalue(t, i, 0), st);
	}
	PQclear(t);
	char q[300];
	snprintf(q, sizeof q, "SELECT voucher.objection_add(%lld, '%s', 'x')", run, sf_uscc("330402", 1));
	cr_expect_str_eq(sf_state_of(n, q), "42501");
	snprintf(q, sizeof q, "SELECT * FROM audit.notice(%lld)", run);
	cr_expect_str_eq(sf_state_of(n, q), "42501");
	/* approved, not published: no notice, for anyone */
	snprintf(q, sizeof q, "SELECT * FROM voucher.notice(%lld)", run);
	cr_expect_str_eq(sf_state_of(n, q), "P0002");
	cr_expect(strstr(error_of(n, "SELECT * FROM voucher.notice(%lld)", run), "not published"));
	cr_expect_str_eq(sf_state_of(n, "SELECT * FROM voucher.notice(999999)"), "P0002");
	PQfinish(n);
	drop_role(nora);
}

Test(console_db, the_notice_is_masked_ordered_and_dated_by_the_calendar)
{
	long long run = approved_march();
	char out[8192], err[8192];
	cr_assert_eq(ctl_as("alice", out, err, "run publish %lld", run), 0, "%s", err);
	const char *nora = notice_user();
	PGconn *n = sf_as(nora);
	char q[400];
	snprintf(q, sizeof q,
		 "SELECT string_agg(concat_ws('|', program, program_name, period, uscc_masked, enterprise, division, "
		 "payable_fen), E'\\n') FROM voucher.notice(%lld)",
		 run);
	const char *u1 = sf_uscc("330402", 1), *u2 = sf_uscc("330402", 2), *u3 = sf_uscc("330411", 3);
	char want[1024];
	/* by division, then enterprise (A before B); the withheld E4 is not there */
	snprintf(want, sizeof want,
		 "jiaxing-compute|嘉兴市算力券|2026-03|913304********%s|A 企业|330402|100000\n"
		 "jiaxing-compute|嘉兴市算力券|2026-03|913304********%s|B 企业|330402|50000\n"
		 "jiaxing-compute|嘉兴市算力券|2026-03|913304********%s|丙企业|330411|150000",
		 u2 + 14, u1 + 14, u3 + 14);
	cr_expect_str_eq(t_scalar(n, q), want);
	/* no whole code anywhere in what the public role reads */
	snprintf(q, sizeof q, "SELECT count(*) FROM voucher.notice(%lld) x WHERE x::text LIKE '%%' || '%s' || '%%'",
		 run, u1);
	cr_expect_str_eq(t_scalar(n, q), "0");
	/* the notice starts the first working day after publication and ends on the fifth */
	snprintf(q, sizeof q,
		 "SELECT DISTINCT (notice_first_day = voucher.add_workdays((published_at AT TIME ZONE "
		 "'Asia/Shanghai')::date, 1))::text || ' ' || (notice_ends = voucher.add_workdays("
		 "(published_at AT TIME ZONE 'Asia/Shanghai')::date, 5))::text || ' ' || (notice_first_day > "
		 "(published_at AT TIME ZONE 'Asia/Shanghai')::date)::text FROM voucher.notice(%lld)",
		 run);
	cr_expect_str_eq(t_scalar(sf_db, q), "true true true");
	PQfinish(n);
	/* finance reads it too; the auditor through audit.notice */
	PGconn *a = sf_as("alice");
	snprintf(q, sizeof q, "SELECT count(*) FROM voucher.notice(%lld)", run);
	cr_expect_str_eq(t_scalar(a, q), "3");
	PQfinish(a);
	PGconn *au = sf_as("voucher_auditor");
	snprintf(q, sizeof q, "SELECT count(*) FROM audit.notice(%lld)", run);
	cr_expect_str_eq(t_scalar(au, q), "3");
	PQfinish(au);
	drop_role(nora);
}

Test(console_db, objections_are_entered_by_finance_once_resolved_and_append_only)
{
	long long run = approved_march();
	const char *u1 = sf_uscc("330402", 1), *u4 = sf_uscc("330402", 4);
	PGconn *a = sf_as("alice"), *au = sf_as("voucher_auditor");
	/* not published yet */
	cr_expect(
		strstr(error_of(a, "SELECT voucher.objection_add(%lld, '%s', '金额有误')", run, u1), "not published"));
	notice_ended(run);
	/* the wrong people */
	cr_expect(strstr(error_of(sf_db, "SELECT voucher.objection_add(%lld, '%s', 'x')", run, u1),
			 "refused to the superuser"));
	cr_expect_str_eq(sf_state_of(au, "SELECT voucher.objection_add(1, 'x', 'x')"), "42501");
	cr_expect_str_eq(sf_state_of(au, "SELECT voucher.objection_resolve(1, 'dismissed', 'x')"), "42501");
	/* the wrong line or text */
	cr_expect(
		strstr(error_of(a, "SELECT voucher.objection_add(%lld, '%s', 'x')", run, u4), "no line with a payable"),
		"the withheld line");
	cr_expect(strstr(error_of(a, "SELECT voucher.objection_add(%lld, 'nobody', 'x')", run), "no line"));
	cr_expect(strstr(error_of(a, "SELECT voucher.objection_add(%lld, '%s', ' ')", run, u1), "1 to 2000"));
	cr_expect(strstr(error_of(a, "SELECT voucher.objection_add(%lld, '%s', repeat('x', 2001))", run, u1),
			 "1 to 2000"));
	long long id = atoll(scalar(a, "SELECT voucher.objection_add(%lld, '%s', '用量与合同不符')", run, u1));
	cr_assert_gt(id, 0);
	cr_expect_str_eq(scalar(au,
				"SELECT raised_by || ' ' || objection || ' ' || (outcome IS NULL) "
				"FROM audit.objections WHERE objection_id = %lld",
				id),
			 "alice 用量与合同不符 true");
	/* resolving: an outcome and a reason, once */
	cr_expect(
		strstr(error_of(a, "SELECT voucher.objection_resolve(%lld, 'maybe', 'x')", id), "dismissed or upheld"));
	cr_expect(strstr(error_of(a, "SELECT voucher.objection_resolve(%lld, 'dismissed', '')", id), "resolution"));
	cr_expect(strstr(error_of(a, "SELECT voucher.objection_resolve(999999, 'dismissed', 'x')"), "does not exist"));
	cr_expect_str_eq(error_of(a, "SELECT voucher.objection_resolve(%lld, 'dismissed', '经核实用量无误')", id), "");
	cr_expect(strstr(error_of(a, "SELECT voucher.objection_resolve(%lld, 'upheld', 'x')", id), "already resolved"));
	/* nobody rewrites it, the owner included */
	cr_expect_str_eq(sf_state_of(a, "UPDATE voucher.objections SET outcome = 'upheld'"), "42501");
	cr_expect(strstr(error_of(sf_db, "UPDATE voucher.objections SET outcome = 'upheld'"), "never changes"));
	cr_expect(strstr(error_of(sf_db, "UPDATE voucher.objections SET objection = 'y'"), "only"));
	cr_expect(strstr(error_of(sf_db, "DELETE FROM voucher.objections"), "append only"));
	cr_expect(strstr(error_of(sf_db, "TRUNCATE voucher.objections"), "append only"));
	/* audit exceptions lists both acts */
	char out[8192], err[8192];
	cr_assert_eq(ctl_as("voucher_auditor", out, err, "--format csv audit exceptions"), 0, "%s", err);
	cr_expect(strstr(out, "objection raised") && strstr(out, "用量与合同不符"), "%s", out);
	cr_expect(strstr(out, "objection dismissed") && strstr(out, "经核实用量无误"), "%s", out);
	PQfinish(a);
	PQfinish(au);
}

/* An open objection holds its line; the rest is paid; once dismissed, the
 * next disbursement pays it; an upheld one keeps its line unpaid for good. */
Test(console_db, an_open_objection_holds_its_line_until_dismissed)
{
	long long run = approved_march();
	const char *u1 = sf_uscc("330402", 1), *u2 = sf_uscc("330402", 2), *u3 = sf_uscc("330411", 3);
	notice_ended(run);
	PGconn *a = sf_as("alice");
	long long o1 = atoll(scalar(a, "SELECT voucher.objection_add(%lld, '%s', '异议一')", run, u1));
	long long o3 = atoll(scalar(a, "SELECT voucher.objection_add(%lld, '%s', '异议三')", run, u3));
	char out[8192], err[8192];
	/* the wrong people may not disburse */
	cr_expect(strstr(error_of(sf_db, "SELECT voucher.run_disburse(%lld, 'P')", run), "refused to the superuser"));
	cr_assert_eq(ctl_as("voucher_auditor", out, err, "run disburse %lld --ref PAY-X", run), 1, "%s", out);
	cr_assert_eq(ctl_as("bob", out, err, "run disburse %lld --ref PAY-1", run), 0, "%s", err);
	cr_expect(strstr(out, "1 lines disbursed, payment reference PAY-1") && strstr(out, "2 held by open objections"),
		  "%s", out);
	cr_expect_str_eq(scalar(sf_db, "SELECT status || ' ' || payment_ref FROM audit.runs WHERE run_id = %lld", run),
			 "disbursed PAY-1");
	cr_expect_str_eq(scalar(sf_db,
				"SELECT string_agg(right(uscc, 1) || ':' || line_state, ',' ORDER BY uscc) "
				"FROM audit.run_line_objections WHERE run_id = %lld AND payable <> 0",
				run),
			 scalar(sf_db,
				"SELECT right('%s', 1) || ':held,' || right('%s', 1) || ':disbursed,' || "
				"right('%s', 1) || ':held'",
				u1, u2, u3));
	/* only E2 is paid: disbursement postings of E2 alone */
	cr_expect_str_eq(
		scalar(sf_db,
		       "SELECT string_agg(credit, ',') FROM voucher.ledger_entries WHERE memo LIKE 'disbursed%%'"),
		scalar(sf_db, "SELECT 'payable/jiaxing-compute/2026/%s'", u2));
	cr_assert_eq(verify(out), 0, "%s", out);
	/* nothing left but held lines */
	cr_assert_eq(ctl_as("bob", out, err, "run disburse %lld --ref PAY-2", run), 1, "%s", out);
	char want[128];
	snprintf(want, sizeof want, "run %lld: 2 lines are held by open objections", run);
	cr_expect(strstr(err, want), "%s", err);
	/* dismissed: the next disbursement pays it, with its own reference; upheld: never */
	cr_assert_str_eq(error_of(a, "SELECT voucher.objection_resolve(%lld, 'dismissed', '无误')", o1), "");
	cr_assert_str_eq(error_of(a, "SELECT voucher.objection_resolve(%lld, 'upheld', '企业已注销')", o3), "");
	cr_assert_eq(ctl_as("bob", out, err, "run disburse %lld --ref PAY-2", run), 0, "%s", err);
	cr_expect(strstr(out, "1 lines disbursed, payment reference PAY-2 (2 of its lines disbursed in all); 0 held by "
			      "open objections, 1 not paid by this run"),
		  "%s", out);
	cr_expect_str_eq(scalar(sf_db,
				"SELECT string_agg(right(uscc, 1) || ':' || coalesce(payment_ref, line_state), ',' "
				"ORDER BY uscc) FROM audit.run_line_objections WHERE run_id = %lld AND payable <> 0",
				run),
			 scalar(sf_db,
				"SELECT right('%s', 1) || ':PAY-2,' || right('%s', 1) || ':PAY-1,' || "
				"right('%s', 1) || ':upheld'",
				u1, u2, u3));
	cr_assert_eq(ctl_as("bob", out, err, "run disburse %lld --ref PAY-3", run), 1, "%s", out);
	snprintf(want, sizeof want, "run %lld is already disbursed", run);
	cr_expect(strstr(err, want), "%s", err);
	/* an objection to the upheld line after the fact changes nothing */
	cr_assert_eq(verify(out), 0, "%s", out);
	cr_expect_str_eq(scalar(sf_db,
				"SELECT balance_fen FROM audit.ledger_balances WHERE account = "
				"'payable/jiaxing-compute/2026/%s'",
				u3),
			 "150000");
	/* the disbursements are append only, for the owner too */
	cr_expect(strstr(error_of(sf_db, "DELETE FROM voucher.line_disbursements"), "append only"));
	cr_expect_str_eq(sf_state_of(a, "INSERT INTO voucher.line_disbursements (run_id, uscc, payment_ref) "
					"VALUES (1, 'x', 'y')"),
			 "42501");
	PQfinish(a);
}

/* as the superuser, with the append-only triggers switched off */
static void tamper(const char *q)
{
	buf_t b = BUF_INIT;
	buf_printf(&b, "BEGIN; SET LOCAL session_replication_role = replica; %s; COMMIT", q);
	sf_sql(b.data);
	buf_free(&b);
}

Test(console_db, audit_verify_catches_tampered_disbursements_and_totals)
{
	long long run = approved_march();
	const char *u1 = sf_uscc("330402", 1);
	notice_ended(run);
	PGconn *a = sf_as("alice");
	long long o1 = atoll(scalar(a, "SELECT voucher.objection_add(%lld, '%s', '异议')", run, u1));
	char out[8192], err[8192], q[512];
	cr_assert_eq(ctl_as("bob", out, err, "run disburse %lld --ref PAY-1", run), 0, "%s", err);
	cr_assert_eq(verify(out), 0, "%s", out);
	/* a held line paid behind the database's back: a posting no line calls for */
	snprintf(q, sizeof q,
		 "SELECT voucher.ledger_post('paid/jiaxing-compute/2026/%s', 'payable/jiaxing-compute/2026/%s', "
		 "50000, %lld, 'disbursed 2026-03')",
		 u1, u1, run);
	sf_sql("CREATE TABLE public.saved_max AS SELECT max(entry_id) AS m FROM voucher.ledger_entries");
	sf_sql(q);
	cr_assert_eq(verify(out), 1, "%s", out);
	cr_expect(strstr(out, "unexpected posting"), "%s", out);
	/* ...with its disbursement row forged too: disbursed while the objection was open */
	snprintf(q, sizeof q,
		 "INSERT INTO voucher.line_disbursements (run_id, uscc, payment_ref) VALUES (%lld, '%s', 'PAY-X')", run,
		 u1);
	sf_sql(q);
	cr_assert_eq(verify(out), 1, "%s", out);
	snprintf(q, sizeof q, "while objection %lld to it was open", o1);
	cr_expect(strstr(out, q), "%s", out);
	/* the overview's totals are checked against the lines */
	tamper("DELETE FROM voucher.line_disbursements WHERE payment_ref = 'PAY-X'");
	tamper("DELETE FROM voucher.ledger_entries WHERE entry_id > (SELECT m FROM public.saved_max)");
	cr_assert_eq(verify(out), 0, "%s", out);
	tamper("UPDATE voucher.run_division_totals SET granted_fen = granted_fen + 1 WHERE division = '330411'");
	cr_assert_eq(verify(out), 1, "%s", out);
	cr_expect(strstr(out, "audit.pool_overview disagrees with the lines"), "%s", out);
	tamper("UPDATE voucher.run_division_totals SET granted_fen = granted_fen - 1 WHERE division = '330411'");
	tamper("UPDATE voucher.disbursement_totals SET paid_fen = 0");
	cr_assert_eq(verify(out), 1, "%s", out);
	cr_expect(strstr(out, "disagrees"), "%s", out);
	PQfinish(a);
}

Test(console_db, the_overview_and_the_pool)
{
	long long run = approved_march();
	/* a superseded draft of April is no approved run: not in the overview (nor in verify's postings) */
	sf_record("prov-a", sf_uscc("330402", 1), "fa", "intelligent_compute", 1000, "2026-04-10T10:00:00+08:00", NULL);
	sf_settle("alice", "jiaxing-compute", "2026-04");
	sf_settle("alice", "jiaxing-compute", "2026-04");
	notice_ended(run);
	char out[8192], err[8192];
	cr_assert_eq(ctl_as("bob", out, err, "run disburse %lld --ref PAY-1", run), 0, "%s", err);
	PGconn *au = sf_as("voucher_auditor");
	cr_expect_str_eq(t_scalar(au, "SELECT string_agg(concat_ws('|', month, division, granted_fen, recovered_fen, "
				      "paid_fen, enterprises), ',' ORDER BY month, division) FROM audit.pool_overview "
				      "WHERE program = 'jiaxing-compute' AND year = 2026"),
			 "2026-03|330402|150000|0|150000|2,2026-03|330411|150000|0|150000|1");
	cr_expect_str_eq(t_scalar(au, "SELECT string_agg(year || ':' || coalesce(pool_fen::text, 'none'), ',' ORDER BY "
				      "year) FROM audit.pools WHERE program = 'jiaxing-compute'"),
			 "2025:10000000000,2026:10000000000,2027:10000000000");
	cr_assert_eq(verify(out), 0, "%s", out);
	PQfinish(au);
	/* the public role reads none of it */
	const char *nora = notice_user();
	PGconn *n = sf_as(nora);
	cr_expect_str_eq(sf_state_of(n, "SELECT * FROM audit.pool_overview"), "42501");
	cr_expect_str_eq(sf_state_of(n, "SELECT * FROM audit.pools"), "42501");
	PQfinish(n);
	drop_role(nora);
	/* a programme without a pool */
	sf_load_program(t_root_path("settlement/programs/wuxi-compute.conf"));
	cr_expect_str_eq(t_scalar(sf_db, "SELECT count(*) || ' ' || count(pool_fen) FROM audit.pools "
					 "WHERE program = 'wuxi-compute' AND year = 2026"),
			 "1 0");
}
