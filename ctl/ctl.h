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
	const char *db;      /* --db CONNINFO or NULL */
	ctl_format_t format; /* --format, default table */
	PGconn *conn;        /* opened lazily by ctl_conn() */
	bool read_only;      /* the command only reads: a standby will do */
} ctl_t;

/* Opens the database connection on first use; NULL (message printed) on failure. */
PGconn *ctl_conn(ctl_t *ctx);

/* An option of a command: "--name VALUE" or "--name=VALUE". */
struct ctl_opt {
	const char *name; /* "--name" */
	const char **val;
	bool flag; /* takes no value: *val is set to "" when given */
};

/* Prints "voucherctl <message>", the synopsis lines of usage and a pointer
 * to --help to stderr; returns CTL_USAGE. */
int ctl_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses argv[first..argc-1]: the options in opts (each at most once) and
 * exactly npos positional arguments into pos; "--" ends the options.  Returns
 * -1 to go on, CTL_OK after printing usage for --help, CTL_USAGE after a
 * usage error. */
int ctl_parse_args(int argc, char **argv, int first, const struct ctl_opt *opts, const char **pos, int npos,
		   const char *what, const char *usage);
/* Reads a whole file (at most max bytes) into out; messages name `what`. */
struct buf;
bool ctl_read_file(const char *what, const char *path, size_t max, struct buf *out) __attribute__((warn_unused_result));
/* YYYY-MM-DD, a real calendar date, year 1900-9999 */
bool ctl_date_valid(const char *s);
/* A --year of a listing: four digits, 2000-2100. */
bool ctl_year_valid(const char *s);
/* Whether programme id was ever loaded (audit.program_versions, which finance
 * and auditors read).  When not (or on a database error) prints
 * "WHAT: there is no programme ID (voucherctl program list)" and returns false:
 * a listing for an unknown programme is an error, not an empty table. */
bool ctl_program_known(PGconn *c, const char *what, const char *id);

/* A sub-command: "load" -> fn(ctx, argc, argv) with argv[1] == "load". */
struct ctl_sub {
	const char *name;
	int (*fn)(ctl_t *ctx, int argc, char **argv);
};
/* Runs the sub-command argv[1] of command `what` from subs (ended by a NULL
 * name); --help, -h and help print usage; a missing or unknown one is a
 * usage error. */
int ctl_dispatch(ctl_t *ctx, int argc, char **argv, const char *what, const struct ctl_sub *subs, const char *usage);

/* Exit codes */
#define CTL_OK 0
#define CTL_FAIL 1
#define CTL_USAGE 2

int cmd_migrate(ctl_t *ctx, int argc, char **argv);
int cmd_provider(ctl_t *ctx, int argc, char **argv);
int cmd_enterprise(ctl_t *ctx, int argc, char **argv);
int cmd_program(ctl_t *ctx, int argc, char **argv);   /* ctl/cmd_program.c */
int cmd_override(ctl_t *ctx, int argc, char **argv);  /* ctl/cmd_program.c */
int cmd_calendar(ctl_t *ctx, int argc, char **argv);  /* ctl/cmd_calendar.c */
int cmd_partition(ctl_t *ctx, int argc, char **argv); /* ctl/partition.c */
int cmd_settle(ctl_t *ctx, int argc, char **argv);    /* ctl/cmd_run.c */
int cmd_run(ctl_t *ctx, int argc, char **argv);       /* ctl/cmd_run.c */
int cmd_export(ctl_t *ctx, int argc, char **argv);    /* ctl/cmd_export.c */
int cmd_statement(ctl_t *ctx, int argc, char **argv); /* ctl/cmd_export.c */
int cmd_audit(ctl_t *ctx, int argc, char **argv);     /* ctl/cmd_audit.c */
int cmd_ledger(ctl_t *ctx, int argc, char **argv);    /* ctl/cmd_audit.c */
int cmd_user(ctl_t *ctx, int argc, char **argv);      /* ctl/user.c */

#endif
