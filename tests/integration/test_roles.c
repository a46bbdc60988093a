/* The database's own defences: roles and append-only triggers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/integration/settle_fixture.h"
#include "tests/integration/support.h"

TestSuite(roles, .fini = sf_teardown, .timeout = 120);

static PGconn *as(const char *role)
{
	char ci[400];
	t_conninfo_as(sf_ci, role, ci, sizeof ci);
	return PQconnectdb(ci);
}

static bool allowed(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
}

static void approved_run(void)
{
	const char *e = sf_uscc("330402", 1);
	sf_enterprise(e, "330402", NULL);
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", e, "fa", "intelligent_compute", 1000, "2026-03-10T10:00:00+08:00", NULL);
	sf_approve("bob", sf_settle("alice", "jiaxing-compute", "2026-03"));
}

Test(roles, the_auditor_reads_the_audit_views_and_nothing_else)
{
	sf_setup();
	approved_run();
	PGconn *c = as("voucher_auditor");
	cr_assert(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	const char *views[] = {
		"batches",          "usage_records", "runs",   "run_lines",     "ledger_entries",     "ledger_balances",
		"program_versions", "overrides",     "grants", "provider_keys", "enterprise_versions"};
	for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
		char q[128];
		snprintf(q, sizeof q, "SELECT * FROM audit.%s LIMIT 1", views[i]);
		cr_assert(allowed(c, q), "audit.%s: %s", views[i], PQerrorMessage(c));
	}
	cr_assert_not(allowed(c, "SELECT * FROM voucher.usage_records LIMIT 1"));
	cr_assert_not(allowed(c, "SELECT * FROM voucher.ledger_entries LIMIT 1"));
	cr_assert_not(allowed(c, "SELECT voucher.run_approve(1)"));
	cr_assert_not(allowed(c, "CREATE TABLE audit.x (i int)"));
	PQfinish(c);
}

Test(roles, ingest_may_only_call_the_ingest_functions)
{
	sf_setup();
	PGconn *c = as("voucher_ingest");
	cr_assert(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	cr_assert_not(allowed(c, "SELECT * FROM voucher.usage_records LIMIT 1"));
	cr_assert_not(
		allowed(c, "INSERT INTO voucher.providers (code, name, uscc) VALUES ('x', 'x', '91330483100000001E')"));
	cr_assert_not(allowed(c, "SELECT * FROM audit.usage_records LIMIT 1"));
	cr_assert_not(allowed(c, "SELECT voucher.run_approve(1)"));
	cr_assert(allowed(c, "SELECT * FROM voucher.ingest_registry()"), "%s", PQerrorMessage(c));
	PQfinish(c);
}

Test(roles, the_owner_cannot_log_in)
{
	sf_setup();
	PGconn *c = as("voucher_owner");
	cr_assert(PQstatus(c) != CONNECTION_OK);
	cr_assert(strstr(PQerrorMessage(c), "not permitted to log in"), "%s", PQerrorMessage(c));
	PQfinish(c);
}

Test(roles, stored_evidence_is_append_only_for_every_role)
{
	sf_setup();
	approved_run();
	/* finance: no rights to change evidence at all */
	PGconn *f = as("alice");
	cr_assert(PQstatus(f) == CONNECTION_OK);
	cr_assert_not(allowed(f, "UPDATE voucher.usage_records SET amount_fen = 0"));
	cr_assert_not(allowed(f, "DELETE FROM voucher.ledger_entries"));
	cr_assert_not(allowed(f, "DELETE FROM voucher.run_lines"));
	PQfinish(f);
	/* the superuser (and so the owner): refused by the triggers */
	const char *refused[] = {
		"UPDATE voucher.usage_records SET amount_fen = 0",
		"DELETE FROM voucher.usage_records",
		"TRUNCATE voucher.usage_records CASCADE",
		"UPDATE voucher.batches SET body = '\\x00'",
		"DELETE FROM voucher.batches",
		"UPDATE voucher.ledger_entries SET amount_fen = 1",
		"DELETE FROM voucher.ledger_entries",
		"TRUNCATE voucher.ledger_entries",
		"UPDATE voucher.run_lines SET payable = 0",
		"DELETE FROM voucher.runs",
		"UPDATE voucher.grants SET amount_fen = 0",
		"DELETE FROM voucher.run_events",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		cr_assert_not(allowed(sf_db, refused[i]), "not refused: %s", refused[i]);
	cr_assert_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.ledger_entries"), "1");
}
