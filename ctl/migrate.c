/* voucherctl migrate: applies the missing numbered migrations of sql/ (built
 * into the binary) in one transaction, under an advisory lock, as
 * voucher_owner.  Safe to run twice and from two shells at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/locks.h"
#include "ctl/ctl.h"

struct migration {
	const char *name; /* file name, "001_metering.sql" */
	const char *sql;
};
/* build/migrations.c, generated from sql/[0-9][0-9][0-9]_*.sql by the Makefile */
extern const struct migration voucher_migrations[];

static int version_of(const char *name)
{
	return atoi(name);
}

int cmd_migrate(ctl_t *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: voucherctl migrate\n");
		return CTL_USAGE;
	}
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	if (!db_begin(c))
		return CTL_FAIL;
	int applied = 0;
	if (!db_run(c, "migrate: lock", "SELECT pg_advisory_xact_lock(" VOUCHER_LOCK_SQL(VOUCHER_LOCK_MIGRATE) ")", 0, NULL))
		goto failed;
	/* 000_roles.sql runs every time, as the connecting user. */
	const struct migration *m = voucher_migrations;
	if (strncmp(m->name, "000_", 4) != 0) {
		fprintf(stderr, "migrate: the built-in migrations do not start with 000_roles.sql\n");
		goto failed;
	}
	if (!db_run(c, "migrate: roles (run migrate as a superuser or a role with CREATEROLE)",
		    m->sql, 0, NULL))
		goto failed;
	m++;
	if (!db_run(c, "migrate: switching to voucher_owner (the migrating user must be a superuser or a member of voucher_owner)",
		    "SET LOCAL ROLE voucher_owner", 0, NULL))
		goto failed;
	PGresult *r = db_exec(c, "migrate", "SELECT to_regclass('voucher.schema_migrations') IS NOT NULL",
			      0, NULL);
	if (!r)
		goto failed;
	bool have_table = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!have_table) {
		if (!db_run(c, "migrate", "CREATE SCHEMA IF NOT EXISTS voucher", 0, NULL) ||
		    !db_run(c, "migrate",
			    "CREATE TABLE voucher.schema_migrations (version integer PRIMARY KEY, "
			    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
			    "applied_by text NOT NULL DEFAULT session_user)",
			    0, NULL))
			goto failed;
	}
	for (; m->name; m++) {
		char ver[16];
		snprintf(ver, sizeof ver, "%d", version_of(m->name));
		const char *p[] = {ver};
		r = db_exec(c, "migrate", "SELECT 1 FROM voucher.schema_migrations WHERE version = $1",
			    1, p);
		if (!r)
			goto failed;
		bool done = PQntuples(r) > 0;
		PQclear(r);
		if (done)
			continue;
		char what[128];
		snprintf(what, sizeof what, "migrate: %s", m->name);
		/* a migration's text is one multi-statement script: simple query protocol */
		PGresult *mr = PQexec(c, m->sql);
		if (PQresultStatus(mr) != PGRES_COMMAND_OK && PQresultStatus(mr) != PGRES_TUPLES_OK) {
			fprintf(stderr, "%s: %s", what, PQerrorMessage(c));
			PQclear(mr);
			goto failed;
		}
		PQclear(mr);
		const char *p2[] = {ver, m->name};
		if (!db_run(c, what, "INSERT INTO voucher.schema_migrations (version, name) VALUES ($1, $2)",
			    2, p2))
			goto failed;
		printf("applied %s\n", m->name);
		applied++;
	}
	if (!db_commit(c))
		return CTL_FAIL;
	if (applied == 0)
		printf("database is up to date\n");
	return CTL_OK;
failed:
	db_rollback(c);
	fprintf(stderr, "migrate: nothing was changed\n");
	return CTL_FAIL;
}
