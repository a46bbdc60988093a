/* voucherctl settle, and run list | show | approve | publish | disburse:
 * the monthly run and its review chain (README.md "Settlement", docs/policies.md rule 8). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/db.h"
#include "common/money.h"
#include "ctl/ctl.h"
#include "ctl/output.h"
#include "settlement/run.h"

static const char usage_settle[] = "usage: voucherctl settle --program ID --period YYYY-MM [--dry-run]\n"
				   "\n"
				   "Settles one programme for one month that has ended in China time (UTC+8),\n"
				   "by docs/policies.md rules 1-7: for every registered enterprise, the capped\n"
				   "entitlement from all eligible records of the year up to the end of the month\n"
				   "that have arrived by now, minus what approved runs granted before, shared out\n"
				   "of the pool if it runs short.  Stores a draft run (the earlier draft of the\n"
				   "same programme and period is kept, marked superseded) and prints 'run <id>'\n"
				   "first; --dry-run stores nothing.  Only a finance user (never a superuser) may\n"
				   "prepare a run; another finance user approves it (voucherctl run approve).\n";

static const char usage_run[] = "usage: voucherctl run list [--program ID]\n"
				"       voucherctl run show RUN\n"
				"       voucherctl run approve RUN [--comment TEXT]\n"
				"       voucherctl run return RUN --comment TEXT\n"
				"       voucherctl run discard RUN [--comment TEXT]\n"
				"       voucherctl run publish RUN\n"
				"       voucherctl run disburse RUN --ref PAYMENT_BATCH\n"
				"\n"
				"list: every run, or those of one programme; a programme that was never\n"
				"loaded is an error (voucherctl program list), not an empty list.\n"
				"show prints one line per enterprise: run_id, program, period, uscc,\n"
				"enterprise, division, eligible_amount_ytd, entitlement_ytd, cap,\n"
				"granted_before, difference, payable, status, note (--format csv: these\n"
				"English column names, amounts in yuan; json: in fen).  The table has Chinese\n"
				"headers (结算批次 … 备注, as export) and the district's name beside its code.\n"
				"approve: by a finance user other than the one who prepared the draft (never a\n"
				"superuser); posts its grants; from then on the run never changes.  Refused,\n"
				"and the refusal recorded, when the draft is stale: its registry, relations,\n"
				"overrides, programme versions or the grants of its programme-year changed\n"
				"after its cut-off (settle again).  Approvals of one programme-year take turns.\n"
				"return: sends a draft back to its preparer with the reviewer's comment (审核意见);\n"
				"discard: ends a draft that will not be approved.  Both keep it on record, as a\n"
				"newer draft of the same programme and period keeps the one it supersedes.\n"
				"publish: starts the public notice of 5 working days on the official calendar\n"
				"(voucherctl calendar load); prints the last day of the notice.\n"
				"disburse: after the notice has ended, pays every line not yet paid that no open\n"
				"or upheld objection holds, under the payment reference; run it again, with the\n"
				"next reference, once the objections holding lines are dismissed.\n";

static bool period_valid(const char *s)
{
	if (strlen(s) != 7 || s[4] != '-')
		return false;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (s[i] < '0' || s[i] > '9'))
			return false;
	int y = atoi(s), m = atoi(s + 5);
	return y >= 2000 && y <= 2100 && m >= 1 && m <= 12;
}

static bool run_id_valid(const char *s)
{
	if (!*s || strlen(s) > 18)
		return false;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

int cmd_settle(ctl_t *ctx, int argc, char **argv)
{
	const char *program, *period;
	/* --dry-run takes no value: handle it before the option parser */
	bool dry_run = false;
	char **args = xcalloc((size_t)argc + 1, sizeof *args);
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run"))
			dry_run = true;
		else
			args[n++] = argv[i];
	}
	const struct ctl_opt opts[] = {
		{"--program", &program, false}, {"--period", &period, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(n, args, 1, opts, NULL, 0, "settle", usage_settle);
	free(args);
	if (rc >= 0)
		return rc;
	if (!program || !period)
		return ctl_usage_error(usage_settle, "settle: --program and --period are required");
	if (!period_valid(period))
		return ctl_usage_error(usage_settle, "settle: --period must be YYYY-MM, e.g. 2026-03");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	settle_summary_t s;
	char err[512];
	if (!settle_run(c, program, period, dry_run, &s, err, sizeof err)) {
		/* a connection lost in the COMMIT may have stored the draft: main.c says so */
		fprintf(stderr, "settle: %s\n%s\n", err,
			PQstatus(c) == CONNECTION_BAD ? "settle again: a new draft supersedes any stored one"
						      : "nothing was stored");
		return CTL_FAIL;
	}
	char pay[32], rec[32], ask[32], left[32];
	money_format_yuan(s.payable, pay, sizeof pay);
	money_format_yuan(s.recovered, rec, sizeof rec);
	money_format_yuan(s.asked, ask, sizeof ask);
	if (s.pool_left >= 0)
		money_format_yuan(s.pool_left, left, sizeof left);
	else
		snprintf(left, sizeof left, "no pool");
	if (dry_run)
		printf("run (dry run, nothing stored) ");
	else
		printf("run %" PRId64 " ", s.run_id);
	printf("program %s version %.12s period %s as of %s: %zu lines (%zu payable, %zu recovery, %zu withheld)\n",
	       program, s.program_version, period, s.as_of, s.lines, s.payable_lines, s.recovery_lines,
	       s.withheld_lines);
	printf("  payable %s yuan, recovered %s yuan, asked %s yuan, pool left before this run: %s\n", pay, rec, ask,
	       left);
	if (!dry_run)
		printf("  next: voucherctl run show %" PRId64 "; another user: voucherctl run approve %" PRId64 "\n",
		       s.run_id, s.run_id);
	return CTL_OK;
}

static int run_list(ctl_t *ctx, int argc, char **argv)
{
	const char *program;
	const struct ctl_opt opts[] = {{"--program", &program, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, NULL, 0, "run list", usage_run);
	if (rc >= 0)
		return rc;
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	if (program && !ctl_program_known(c, "run list", program))
		return CTL_FAIL;
	const char *p[] = {program};
	PGresult *r =
		db_exec(c, "run list",
			"SELECT run_id, program, period, status, total_payable, total_recovered, "
			"prepared_by, approved_by, created_at, notice_ends, payment_ref, left(program_version, 12) "
			"FROM audit.runs WHERE $1::text IS NULL OR program = $1 ORDER BY run_id",
			1, p);
	if (!r)
		return CTL_FAIL;
	static const out_col_t cols[] = {
		{"run_id", OUT_INT},       {"program", OUT_TEXT},      {"period", OUT_TEXT},
		{"status", OUT_TEXT},      {"payable", OUT_MONEY_FEN}, {"recovered", OUT_MONEY_FEN},
		{"prepared_by", OUT_TEXT}, {"approved_by", OUT_TEXT},  {"created_at", OUT_TIMESTAMP},
		{"notice_ends", OUT_TEXT}, {"payment_ref", OUT_TEXT},  {"program_version", OUT_TEXT},
	};
	bool ok = out_print(stdout, ctx->format, cols, 12, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

/* The run show columns (README.md "Settlement"), in order. */
static const out_col_t line_cols[] = {
	{"run_id", OUT_INT},
	{"program", OUT_TEXT},
	{"period", OUT_TEXT},
	{"uscc", OUT_TEXT},
	{"enterprise", OUT_TEXT},
	{"division", OUT_DIVISION},
	{"eligible_amount_ytd", OUT_MONEY_FEN},
	{"entitlement_ytd", OUT_MONEY_FEN},
	{"cap", OUT_MONEY_FEN},
	{"granted_before", OUT_MONEY_FEN},
	{"difference", OUT_MONEY_FEN},
	{"payable", OUT_MONEY_FEN},
	{"status", OUT_TEXT},
	{"note", OUT_TEXT},
};

/* Their headers for people (table format; csv and json keep the names above,
 * a published contract): those of the export (ctl/cmd_export.c). */
static const char *const line_labels[] = {
	"结算批次",
	"项目",
	"期间",
	"统一社会信用代码",
	"企业名称",
	"行政区划",
	"年度累计符合条件金额(元)",
	"年度累计应补金额(元)",
	"上限(元)",
	"此前已拨付(元)",
	"差额(元)",
	"本次拨付(元)",
	"状态",
	"备注",
};

_Static_assert(sizeof line_labels / sizeof line_labels[0] == sizeof line_cols / sizeof line_cols[0],
	       "a label per run show column");

static int run_show(ctl_t *ctx, int argc, char **argv)
{
	const char *pos[1];
	int rc = ctl_parse_args(argc, argv, 2, NULL, pos, 1, "run show", usage_run);
	if (rc >= 0)
		return rc;
	if (!run_id_valid(pos[0]))
		return ctl_usage_error(usage_run, "run show: RUN is a run id number (voucherctl run list)");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	const char *p[] = {pos[0]};
	PGresult *r = db_exec(c, "run show", "SELECT status FROM audit.runs WHERE run_id = $1::bigint", 1, p);
	if (!r)
		return CTL_FAIL;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "run show: there is no run %s (voucherctl run list)\n", pos[0]);
		PQclear(r);
		return CTL_FAIL;
	}
	PQclear(r);
	r = db_exec(c, "run show",
		    "SELECT run_id, program, period, uscc, enterprise, division, eligible_amount_ytd, "
		    "entitlement_ytd, cap, granted_before, difference, payable, status, note "
		    "FROM audit.run_lines WHERE run_id = $1::bigint ORDER BY uscc",
		    1, p);
	if (!r)
		return CTL_FAIL;
	bool ok = out_print_labelled(stdout, ctx->format, line_cols, line_labels, 14, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

/* voucher.run_disburse, then, in the same transaction, how many lines this
 * call disbursed (they share one time), how many in all, how many an open
 * objection holds and how many an upheld one keeps unpaid; NULL on failure */
static PGresult *disburse_call(PGconn *c, const char *what, const char *const p[2])
{
	if (!db_begin(c))
		return NULL;
	PGresult *r = db_exec(c, what, "SELECT voucher.run_disburse($1::bigint, $2)", 2, p);
	if (!r) {
		db_rollback(c);
		return NULL;
	}
	PQclear(r);
	r = db_exec(c, what,
		    "SELECT count(*) FILTER (WHERE disbursed_at = (SELECT max(at) FROM audit.line_disbursements "
		    "  WHERE run_id = $1::bigint)), count(*) FILTER (WHERE line_state = 'disbursed'), "
		    "  count(*) FILTER (WHERE line_state = 'held'), count(*) FILTER (WHERE line_state = 'upheld') "
		    "FROM audit.run_line_objections WHERE run_id = $1::bigint AND payable <> 0",
		    1, p);
	if (!r) {
		db_rollback(c);
		return NULL;
	}
	if (!db_commit(c)) {
		PQclear(r);
		return NULL;
	}
	return r;
}

static int run_step(ctl_t *ctx, int argc, char **argv, const char *step)
{
	const char *pos[1], *ref = NULL, *comment = NULL;
	bool disburse = !strcmp(step, "disburse"), approve = !strcmp(step, "approve"), ret = !strcmp(step, "return"),
	     discard = !strcmp(step, "discard");
	const struct ctl_opt ref_opts[] = {{"--ref", &ref, false}, {NULL, NULL, false}};
	const struct ctl_opt comment_opts[] = {{"--comment", &comment, false}, {NULL, NULL, false}};
	char what[32];
	snprintf(what, sizeof what, "run %s", step);
	int rc = ctl_parse_args(argc, argv, 2,
				disburse                      ? ref_opts
				: (approve || ret || discard) ? comment_opts
							      : NULL,
				pos, 1, what, usage_run);
	if (rc >= 0)
		return rc;
	if (!run_id_valid(pos[0]))
		return ctl_usage_error(usage_run, "%s: RUN is a run id number (voucherctl run list)", what);
	if (disburse && !ref)
		return ctl_usage_error(usage_run, "run disburse: --ref PAYMENT_BATCH is required");
	if (ret && (!comment || !*comment))
		return ctl_usage_error(usage_run, "run return: --comment TEXT (why it goes back) is required");
	if (comment && strlen(comment) > 2000)
		return ctl_usage_error(usage_run, "%s: --comment is at most 2000 bytes", what);
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	const char *p[] = {pos[0], disburse ? ref : comment};
	PGresult *r;
	if (approve)
		r = db_exec(c, what, "SELECT approved_by, refused FROM voucher.run_approve($1::bigint, $2)", 2, p);
	else if (ret || discard)
		r = db_exec(c, what,
			    ret ? "SELECT voucher.run_end($1::bigint, 'returned', $2)"
				: "SELECT voucher.run_end($1::bigint, 'discarded', $2)",
			    2, p);
	else if (!strcmp(step, "publish"))
		r = db_exec(c, what, "SELECT voucher.run_publish($1::bigint)", 1, p);
	else
		r = disburse_call(c, what, p);
	if (!r)
		return CTL_FAIL;
	rc = CTL_OK;
	if (approve && !PQgetisnull(r, 0, 1)) {
		/* a refusal is recorded in the database (audit exceptions) */
		fprintf(stderr, "run approve: refused: %s\n", PQgetvalue(r, 0, 1));
		rc = CTL_FAIL;
	} else if (approve) {
		printf("run %s approved by %s; its grants are posted and it will not change\n", pos[0],
		       PQgetvalue(r, 0, 0));
	} else if (ret) {
		printf("run %s returned to its preparer: %s\n", pos[0], comment);
	} else if (discard) {
		printf("run %s discarded; it stays on record\n", pos[0]);
	} else if (!strcmp(step, "publish")) {
		printf("run %s published; the public notice runs until %s (5 working days)\n", pos[0],
		       PQgetvalue(r, 0, 0));
	} else {
		printf("run %s: %s lines disbursed, payment reference %s (%s of its lines disbursed in all); "
		       "%s held by open objections, %s not paid by this run (objection upheld)\n",
		       pos[0], PQgetvalue(r, 0, 0), ref, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	return rc;
}

static int run_approve(ctl_t *ctx, int argc, char **argv)
{
	return run_step(ctx, argc, argv, "approve");
}

static int run_return(ctl_t *ctx, int argc, char **argv)
{
	return run_step(ctx, argc, argv, "return");
}

static int run_discard(ctl_t *ctx, int argc, char **argv)
{
	return run_step(ctx, argc, argv, "discard");
}

static int run_publish(ctl_t *ctx, int argc, char **argv)
{
	return run_step(ctx, argc, argv, "publish");
}

static int run_disburse(ctl_t *ctx, int argc, char **argv)
{
	return run_step(ctx, argc, argv, "disburse");
}

int cmd_run(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {
		{"list", run_list},       {"show", run_show},       {"approve", run_approve},   {"return", run_return},
		{"discard", run_discard}, {"publish", run_publish}, {"disburse", run_disburse}, {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "run", subs, usage_run);
}
