/* Test support: each integration test gets its own database, a copy of the
 * migrated template that tests/run.sh prepared, so that Criterion's parallel
 * test processes never see each other's rows.
 *
 * tests/run.sh exports:
 *   VOUCHER_TEST_PGHOST   socket directory of the throw-away cluster
 *   VOUCHER_TEST_PGPORT   its port
 *   VOUCHER_TEST_TEMPLATE the migrated template database
 *   VOUCHER_TEST_ROOT     the repository root (bin/, tests/, shared vectors)
 *   VOUCHER_VECTORS       ../shared/vectors
 * Tests that need them call t_require_db() first, which skips the test when
 * they are missing (e.g. `bin/tests` run by hand without the harness). */
#ifndef VOUCHER_TEST_SUPPORT_H
#define VOUCHER_TEST_SUPPORT_H

#include <stdbool.h>
#include <libpq-fe.h>

/* Skips the current test (cr_skip_test) if no test cluster is configured. */
void t_require_db(void);
/* Creates a fresh database copied from the template; writes its conninfo
 * (superuser) into conninfo (>= 256 bytes) and returns a connection to it. */
PGconn *t_newdb(char *conninfo, size_t len);
/* Conninfo for the same database as another role (e.g. "voucher_ingest"). */
void t_conninfo_as(const char *conninfo, const char *role, char *out, size_t len);
/* Runs a shell command (sh -c), capturing stdout and stderr (each cut at cap
 * bytes) into the given buffers (may be NULL); returns the exit status, or
 * -1 if it did not exit normally.  Uses posix_spawn, not fork. */
int t_run(const char *cmd, char *out, size_t outcap, char *err, size_t errcap);
/* A scalar query result as text (static buffer, valid until the next call). */
const char *t_scalar(PGconn *c, const char *sql);
/* Path of a file under the repository root / the vectors directory (static rotating buffers). */
const char *t_root_path(const char *rel);
const char *t_vector_path(const char *name);

#endif
