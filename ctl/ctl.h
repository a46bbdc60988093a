/* voucherctl: the operators' command.  Each sub-command is a function
 *   int cmd_xxx(ctl_t *ctx, int argc, char **argv)
 * returning the process exit code (0 ok, 1 failure, 2 usage error).
 * argv[0] is the sub-command word itself (e.g. "provider"). */
#ifndef VOUCHER_CTL_H
#define VOUCHER_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include <libpq-fe.h>

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON } ctl_format_t;

typedef struct ctl {
	const char *db;       /* --db CONNINFO or NULL */
	ctl_format_t format;  /* --format, default table */
	PGconn *conn;         /* opened lazily by ctl_conn() */
} ctl_t;

/* Opens the database connection on first use; NULL (message printed) on failure. */
PGconn *ctl_conn(ctl_t *ctx);

/* Exit codes */
#define CTL_OK 0
#define CTL_FAIL 1
#define CTL_USAGE 2

int cmd_migrate(ctl_t *ctx, int argc, char **argv);
int cmd_provider(ctl_t *ctx, int argc, char **argv);
int cmd_enterprise(ctl_t *ctx, int argc, char **argv);

#endif
