/* voucherctl migrate on a migrated database: migration checksums, and the
 * definitions (sql/views/, sql/functions/, sql/grants.sql) re-applied. */
#include <criterion/criterion.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/support.h"

TestSuite(migrate, .timeout = 120);

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
		  PQerrorMessage(c));
	PQclear(r);
}

static const char yuan_fen_changed[] = "CREATE OR REPLACE FUNCTION voucher.yuan_fen(p text) RETURNS bigint "
				       "LANGUAGE sql IMMUTABLE AS $$ SELECT 42::bigint $$";
static const char yuan_fen_src[] = "SELECT prosrc FROM pg_proc WHERE oid = 'voucher.yuan_fen(text)'::regprocedure";

Test(migrate, an_edited_migration_is_refused_and_nothing_changes)
{
	char ci[256];
	PGconn *c = t_newdb(ci, sizeof ci);
	/* as if sql/002_settlement.sql had been edited since it was applied */
	exec_ok(c, "UPDATE voucher.schema_migrations SET checksum = repeat('0', 64) WHERE version = 2");
	exec_ok(c, yuan_fen_changed);
	struct t_ctl_run *r = t_ctl(ci, "migrate");
	cr_assert_neq(r->rc, 0, "%s", r->out);
	cr_assert(strstr(r->err, "sql/002_settlement.sql was changed after it was applied"), "%s", r->err);
	cr_assert(strstr(r->err, "nothing was changed"), "%s", r->err);
	cr_assert_str_eq(t_scalar(c, "SELECT checksum FROM voucher.schema_migrations WHERE version = 2"),
			 "0000000000000000000000000000000000000000000000000000000000000000");
	/* the definitions were not re-applied either */
	cr_assert_str_eq(t_scalar(c, yuan_fen_src), " SELECT 42::bigint ");
	PQfinish(c);
}

Test(migrate, checksums_are_filled_in_and_the_definitions_re_applied)
{
	char ci[256];
	PGconn *c = t_newdb(ci, sizeof ci);
	/* a database migrated before checksums were kept, with an older function text */
	exec_ok(c, "UPDATE voucher.schema_migrations SET checksum = NULL");
	exec_ok(c, yuan_fen_changed);
	struct t_ctl_run *r = t_ctl(ci, "migrate");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_assert(strstr(r->out, "stored the checksums of"), "%s", r->out);
	cr_assert(strstr(r->out, "database is up to date"), "%s", r->out);
	cr_assert_str_eq(t_scalar(c, "SELECT count(*) FROM voucher.schema_migrations WHERE checksum IS NULL"), "0");
	/* the checksum is the SHA-256 of the file */
	size_t len;
	char *text = t_slurp(t_root_path("sql/001_metering.sql"), &len);
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)text, len, md);
	free(text);
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	cr_assert_str_eq(t_scalar(c, "SELECT checksum FROM voucher.schema_migrations WHERE version = 1"), hex);
	/* the function has its file's text again */
	cr_assert_str_eq(t_scalar(c, yuan_fen_src), " SELECT (p::numeric * 100)::bigint ");
	/* and a second migrate finds everything in order */
	r = t_ctl(ci, "migrate");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_assert_str_eq(r->out, "database is up to date\n");
	PQfinish(c);
}

Test(migrate, a_database_newer_than_voucherctl_is_refused)
{
	char ci[256];
	PGconn *c = t_newdb(ci, sizeof ci);
	exec_ok(c, "INSERT INTO voucher.schema_migrations (version, name) VALUES (999, '999_future.sql')");
	struct t_ctl_run *r = t_ctl(ci, "migrate");
	cr_assert_neq(r->rc, 0, "%s", r->out);
	cr_assert(strstr(r->err, "999_future.sql, which this voucherctl does not have"), "%s", r->err);
	cr_assert(strstr(r->err, "nothing was changed"), "%s", r->err);
	PQfinish(c);
}
