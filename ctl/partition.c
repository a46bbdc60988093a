/* voucherctl partition: the monthly partitions of the usage records
 * (sql/005_usage_partitions.sql): list them, create months ahead, archive an
 * old month. */
#include <stdio.h>
#include <string.h>

#include "common/db.h"
#include "ctl/ctl.h"
#include "ctl/output.h"

static const char usage_partition[] =
	"usage: voucherctl partition list\n"
	"       voucherctl partition ensure --until YYYY-MM [--from YYYY-MM]\n"
	"       voucherctl partition detach --month YYYY-MM\n"
	"Usage records are kept in one partition per month (the month of ended_at in China\n"
	"Standard Time), named usage_YYYY_MM; a record whose month has none waits in\n"
	"usage_other.  Record ids are kept apart, forever, so that a record sent again\n"
	"after its month was archived is still a duplicate.\n"
	"Run 'voucherctl partition SUBCOMMAND --help' for details.\n";

static const char usage_list[] = "usage: voucherctl partition list\n"
				 "Every month: its partition, state (attached, default, archived) and the number\n"
				 "of records (an estimate for attached partitions, from the statistics; exact for\n"
				 "archived months).\n";

static const char usage_ensure[] = "usage: voucherctl partition ensure --until YYYY-MM [--from YYYY-MM]\n"
				   "Creates the monthly partitions from --from (default: this month) through --until\n"
				   "that do not exist yet, and prints what it did for each month.  A month whose\n"
				   "records already wait in usage_other is left alone (they stay where they are);\n"
				   "an archived month is never created again.  Run it ahead of time, e.g. every\n"
				   "month for the year to come.  Needs a finance role; writes on the primary.\n";

static const char usage_detach[] =
	"usage: voucherctl partition detach --month YYYY-MM\n"
	"Archives one month: its partition is detached from the usage records and kept\n"
	"as the table voucher.archive_usage_YYYY_MM (append only, readable), ready to be\n"
	"dumped (pg_dump -t) and stored for the 30 years accounting records are kept.\n"
	"Its record count and sum are recorded in audit.usage_archives.  Only months\n"
	"before last year: settlement reads a whole year for the annual caps.  Approved\n"
	"runs of an archived year are no longer recomputed by 'audit verify' (it says so).\n";

/* "YYYY-MM" -> "YYYY-MM-01" */
static bool month_arg(const char *s, char out[11])
{
	if (!s || strlen(s) != 7 || s[4] != '-')
		return false;
	snprintf(out, 11, "%s-01", s);
	return ctl_date_valid(out);
}

static int partition_list(ctl_t *ctx, int argc, char **argv)
{
	int rc = ctl_parse_args(argc, argv, 2, NULL, NULL, 0, "partition list", usage_list);
	if (rc >= 0)
		return rc;
	static const out_col_t cols[] = {
		{"partition", OUT_TEXT},
		{"month", OUT_TEXT},
		{"state", OUT_TEXT},
		{"records", OUT_INT},
	};
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	PGresult *r = db_exec(c, "partition list",
			      "SELECT partition, to_char(month, 'YYYY-MM'), state, records "
			      "FROM voucher.usage_partitions()",
			      0, NULL);
	if (!r)
		return CTL_FAIL;
	bool ok = out_print(stdout, ctx->format, cols, 4, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

static int partition_ensure(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "partition ensure";
	const char *until = NULL, *from = NULL;
	const struct ctl_opt opts[] = {{"--until", &until, false}, {"--from", &from, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, what, usage_ensure);
	if (rc >= 0)
		return rc;
	char u[11], f[11] = "";
	if (!month_arg(until, u))
		return ctl_usage_error(usage_ensure, "%s: --until must be a month YYYY-MM", what);
	if (from && !month_arg(from, f))
		return ctl_usage_error(usage_ensure, "%s: --from must be a month YYYY-MM", what);
	static const out_col_t cols[] = {
		{"month", OUT_TEXT},
		{"partition", OUT_TEXT},
		{"created", OUT_BOOL},
		{"note", OUT_TEXT},
	};
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	const char *p[] = {f[0] ? f : NULL, u};
	PGresult *r = db_exec(c, what,
			      "SELECT to_char(month, 'YYYY-MM'), partition, created, note "
			      "FROM voucher.usage_partitions_ensure(coalesce($1::date, "
			      "date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date), $2::date)",
			      2, p);
	if (!r)
		return CTL_FAIL;
	bool ok = out_print(stdout, ctx->format, cols, 4, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

static int partition_detach(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "partition detach";
	const char *month = NULL;
	const struct ctl_opt opts[] = {{"--month", &month, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, what, usage_detach);
	if (rc >= 0)
		return rc;
	char m[11];
	if (!month_arg(month, m))
		return ctl_usage_error(usage_detach, "%s: --month must be a month YYYY-MM", what);
	static const out_col_t cols[] = {
		{"month", OUT_TEXT},
		{"table", OUT_TEXT},
		{"records", OUT_INT},
		{"amount", OUT_MONEY_FEN},
		{"detached_at", OUT_TIMESTAMP},
		{"detached_by", OUT_TEXT},
	};
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	const char *p[] = {m};
	PGresult *r = db_exec(c, what,
			      "SELECT to_char(month, 'YYYY-MM'), table_name, records, amount_fen, detached_at, "
			      "detached_by FROM voucher.usage_partition_detach($1::date)",
			      1, p);
	if (!r)
		return CTL_FAIL;
	bool ok = out_print(stdout, ctx->format, cols, 6, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

int cmd_partition(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {
		{"list", partition_list}, {"ensure", partition_ensure}, {"detach", partition_detach}, {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "partition", subs, usage_partition);
}
