/* voucherctl export and statement: the commands (arguments, messages,
 * printing).  The work is in settlement/export.c (the spreadsheets finance
 * staff hand to the treasury) and settlement/statement.c (the statement,
 * 对账单, an enterprise checks its subsidy with), which the console uses too
 * (README.md "Settlement"; docs/policies.md "Terms": payee enterprise or
 * provider).  Both read only the audit views: finance staff and auditors may
 * run them. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/money.h"
#include "common/validate.h"
#include "ctl/ctl.h"
#include "ctl/output.h"
#include "settlement/export.h"
#include "settlement/statement.h"

static const char usage_export[] = "usage: voucherctl export RUN --format csv|xlsx --out FILE [--force]\n"
				   "\n"
				   "Writes the lines of a settlement run for the treasury, with Chinese headers\n"
				   "and the programme by its Chinese name (name = in the run's own programme\n"
				   "version, e.g. 杭州算力券; the xlsx summary also gives its id):\n"
				   "结算批次, 项目, 期间, 批次状态, 统一社会信用代码, 企业名称, 行政区划,\n"
				   "年度累计符合条件金额(元), 年度累计应补金额(元), 上限(元), 此前已拨付(元),\n"
				   "差额(元), 本次拨付(元), 状态, 备注, 收款方 — the columns of 'run show' plus\n"
				   "the run's status and the payee.\n"
				   "  批次状态  the run: 草稿（未审核） draft, 已审核 approved, 已公示 published,\n"
				   "            已拨付 disbursed.  A draft may be exported; it is marked as such.\n"
				   "  状态      the line: 应拨付 payable, 追回 recovery (negative 本次拨付),\n"
				   "            暂缓 withheld, 无变动 none.\n"
				   "  收款方    the enterprise's name with （后补助） when the programme pays the\n"
				   "            enterprise; 兑付给服务商 when it pays the providers (payee=provider),\n"
				   "            as the run's own programme version says.\n"
				   "csv: UTF-8 with a BOM, CRLF, RFC 4180 quoting, amounts in yuan with two\n"
				   "decimals; a text cell starting with = + - @ TAB or CR is prefixed with '.\n"
				   "xlsx: sheet 汇总 (the run, and totals by division: 企业数, 本次拨付, 追回,\n"
				   "净额, 暂缓) and sheet 明细 (the lines); amounts are numbers shown #,##0.00.\n"
				   "--format may be left out when FILE ends in .csv or .xlsx.\n"
				   "FILE is written whole or not at all; an existing FILE is replaced only with\n"
				   "--force.\n";

static const char usage_statement[] =
	"usage: voucherctl statement --enterprise USCC --year Y [--program ID]\n"
	"\n"
	"对账单: what an enterprise needs to check its subsidy for one year.\n"
	"  enterprise  the enterprise as registered today.\n"
	"  grants      every grant (positive) or recovery (negative) that an approved\n"
	"              run posted for it in year Y: run, programme, period, approval\n"
	"              time, payee, whether it was disbursed and the payment reference.\n"
	"  records     for each programme in which an approved run of year Y has a\n"
	"              line for the enterprise, taking the latest such run (by period):\n"
	"              every usage record of the enterprise of year Y that ended before\n"
	"              the end of the run's period (China time) and had arrived by the\n"
	"              run's data cutoff, whatever its category; adjustments are listed\n"
	"              as they were sent.  Each is judged as that run judged it (its own\n"
	"              programme version; registry, facilities, related parties,\n"
	"              overrides and exclusivity partners as they stood at its cutoff):\n"
	"              date (China time), rate_bp (the rate applied: override, small\n"
	"              buyer or ordinary), subsidy (its share of the entitlement: the\n"
	"              fen each rate's rounding leaves go to the largest remainders, so\n"
	"              the shares add up to the entitlement before the cap), counted,\n"
	"              and note, why not (Chinese): 类别不在补助范围, 不在项目有效期内,\n"
	"              不在本项目辖区（当日登记区划 …）, 关联方交易, 算力设施未登记,\n"
	"              已计入 <the other programme>（就高不重复）, 无适用的补助比例,\n"
	"              暂缓（失信） (the run withheld the line: rate and subsidy are\n"
	"              computed, not paid).\n"
	"  subtotals   per programme: that run, the number of records, their sum, the\n"
	"              sum of the counted ones, the run's eligible amount and\n"
	"              entitlement (agrees: the records with a rate add up to the\n"
	"              eligible amount, and their subsidies to the entitlement), cap,\n"
	"              what was granted in the year in total, the line's status and\n"
	"              note, and subsidy, the sum of the records' subsidies.\n"
	"--format table|csv|json as for every listing (json amounts in fen); the table\n"
	"has Chinese titles and headers, csv and json the English names above.\n"
	"Reads only the audit views: finance staff and auditors (voucher_auditor) may\n"
	"run it.  --program: an unknown programme is an error; --year: 2000-2100.\n";

/* ------------------------------------------------------------------ export */

static bool digits_only(const char *s, size_t maxlen)
{
	if (!*s || strlen(s) > maxlen)
		return false;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcasecmp(s + n - k, suffix);
}

/* export's arguments: the run, the file, the format; -1 to go on, else the
 * exit status */
static int export_args(ctl_t *ctx, int argc, char **argv, const char **run, const char **out, bool *xlsx, bool *force)
{
	/* --force takes no value: handle it before the option parser */
	char **args = xcalloc((size_t)argc + 1, sizeof *args);
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--force"))
			*force = true;
		else
			args[n++] = argv[i];
	}
	const char *pos[1], *format;
	const struct ctl_opt opts[] = {{"--format", &format, false}, {"--out", out, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(n, args, 1, opts, pos, 1, "export", usage_export);
	free(args);
	if (rc >= 0)
		return rc;
	*run = pos[0];
	if (!digits_only(pos[0], 18))
		return ctl_usage_error(usage_export, "export: RUN is a run id number (voucherctl run list)");
	if (!*out)
		return ctl_usage_error(usage_export, "export: --out FILE is required");
	/* a --format after the word export is ours (ctl/main.c leaves it to us);
	 * a global --format csv before it arrives in ctx->format */
	if (format && !strcmp(format, "xlsx"))
		*xlsx = true;
	else if (format && !strcmp(format, "csv"))
		*xlsx = false;
	else if (format || ctx->format == FMT_JSON)
		return ctl_usage_error(usage_export, "export: --format must be csv or xlsx");
	else if (ctx->format == FMT_CSV || ends_with(*out, ".csv"))
		*xlsx = false;
	else if (ends_with(*out, ".xlsx"))
		*xlsx = true;
	else
		return ctl_usage_error(usage_export, "export: --format csv|xlsx is required");
	if (*xlsx && !export_available(EXPORT_XLSX)) {
		fprintf(stderr, "export: this voucherctl was built without libxlsxwriter: install libxlsxwriter-dev "
				"and rebuild, or use --format csv\n");
		return CTL_FAIL;
	}
	return -1;
}

/* The command: arguments, settlement/export.c does the work, then the
 * messages. */
int cmd_export(ctl_t *ctx, int argc, char **argv)
{
	const char *run = NULL, *out = NULL;
	bool xlsx = false, force = false;
	int rc = export_args(ctx, argc, argv, &run, &out, &xlsx, &force);
	if (rc >= 0)
		return rc;
	int64_t id;
	if (!money_parse_i64(run, &id)) /* digits_only, at most 18: fits */
		return ctl_usage_error(usage_export, "export: RUN is a run id number (voucherctl run list)");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	export_opts_t opts = {.replace = force, .private_file = false, .timezone = NULL};
	export_info_t info;
	char err[600];
	if (!export_run(c, id, xlsx ? EXPORT_XLSX : EXPORT_CSV, out, &opts, &info, err, sizeof err)) {
		if (info.failure == EXPORT_NO_RUN)
			fprintf(stderr, "export: there is no run %s (voucherctl run list)\n", run);
		else if (info.failure == EXPORT_EXISTS)
			fprintf(stderr, "export: %s: give --force to replace it, or another --out\n", err);
		else if (info.began_writing)
			fprintf(stderr, "export: %s\nnothing was written to %s\n", err, out);
		else
			fprintf(stderr, "export: %s\n", err);
		return CTL_FAIL;
	}
	printf("run %s (%s, %s %s %s, %s) exported to %s: %" PRId64 " line%s, %s\n", run, info.run_status,
	       info.program_name, info.program, info.period,
	       info.payee_provider ? "payee provider" : "payee enterprise", out, info.lines, info.lines == 1 ? "" : "s",
	       xlsx ? "xlsx" : "csv");
	if (!strcmp(info.run_status, "draft"))
		fprintf(stderr, "export: run %s is a draft (草稿): not approved; nothing may be paid from it\n", run);
	return CTL_OK;
}

/* ------------------------------------------------------------------ statement */

static const out_col_t ent_cols[] = {
	{"uscc", OUT_TEXT}, {"name", OUT_TEXT}, {"division", OUT_DIVISION}, {"year", OUT_INT}, {"program", OUT_TEXT},
};
/* the headers for people (table format; csv and json keep the names) */
static const char *const ent_labels[] = {"统一社会信用代码", "企业名称", "行政区划", "年度", "项目"};
static const char *const grant_labels[] = {"结算批次", "项目",   "项目名称", "期间",   "审核时间", "金额(元)",
					   "类别",     "收款方", "批次状态", "已拨付", "拨付时间", "支付批次"};
static const char *const record_labels[] = {
	"项目",       "服务商",   "记录号",     "批次号", "算力设施",   "类别",
	"结束时间",   "金额(元)", "调整记录",   "计入",   "不计入原因", "日期",
	"比例(基点)", "补助(元)", "服务商名称", "卖方",   "叠加项目",   "叠加项目比例(基点)"};
static const char *const subtotal_labels[] = {"项目",         "项目名称",
					      "收款方",       "结算批次",
					      "期间",         "数据截止",
					      "记录数",       "金额(元)",
					      "计入金额(元)", "年度累计符合条件金额(元)",
					      "一致",         "年度累计应补金额(元)",
					      "上限(元)",     "年度累计拨付(元)",
					      "状态",         "备注",
					      "补助合计(元)", "券种"};

static const out_col_t grant_cols[] = {
	{"run_id", OUT_INT},
	{"program", OUT_TEXT},
	{"program_name", OUT_TEXT},
	{"period", OUT_TEXT},
	{"approved_at", OUT_TIMESTAMP},
	{"amount", OUT_MONEY_FEN},
	{"kind", OUT_TEXT},
	{"payee", OUT_TEXT},
	{"run_status", OUT_TEXT},
	{"disbursed", OUT_BOOL},
	{"disbursed_at", OUT_TIMESTAMP},
	{"payment_ref", OUT_TEXT},
};
#define NGRANT ((int)(sizeof grant_cols / sizeof grant_cols[0]))

static const out_col_t record_cols[] = {
	{"program", OUT_TEXT},       {"provider", OUT_TEXT},     {"record_id", OUT_TEXT},     {"batch_id", OUT_TEXT},
	{"facility", OUT_TEXT},      {"category", OUT_TEXT},     {"ended_at", OUT_TIMESTAMP}, {"amount", OUT_MONEY_FEN},
	{"adjusts", OUT_TEXT},       {"counted", OUT_BOOL},      {"note", OUT_TEXT},          {"date", OUT_TEXT},
	{"rate_bp", OUT_INT},        {"subsidy", OUT_MONEY_FEN}, {"provider_name", OUT_TEXT}, {"seller", OUT_TEXT},
	{"first_program", OUT_TEXT}, {"first_rate_bp", OUT_INT},
};
#define NRECORD ((int)(sizeof record_cols / sizeof record_cols[0]))

static const out_col_t subtotal_cols[] = {
	{"program", OUT_TEXT},
	{"program_name", OUT_TEXT},
	{"payee", OUT_TEXT},
	{"run_id", OUT_INT},
	{"period", OUT_TEXT},
	{"data_cutoff", OUT_TIMESTAMP},
	{"records", OUT_INT},
	{"amount", OUT_MONEY_FEN},
	{"counted_amount", OUT_MONEY_FEN},
	{"eligible_amount_ytd", OUT_MONEY_FEN},
	{"agrees", OUT_BOOL},
	{"entitlement_ytd", OUT_MONEY_FEN},
	{"cap", OUT_MONEY_FEN},
	{"granted_total", OUT_MONEY_FEN},
	{"line_status", OUT_TEXT},
	{"line_note", OUT_TEXT},
	{"subsidy", OUT_MONEY_FEN},
	{"voucher_kind", OUT_TEXT},
};
#define NSUBTOTAL ((int)(sizeof subtotal_cols / sizeof subtotal_cols[0]))
_Static_assert(sizeof ent_labels / sizeof ent_labels[0] == ST_E_NCOLS, "a label per enterprise column");
_Static_assert(sizeof grant_labels / sizeof grant_labels[0] == NGRANT, "a label per grant column");
_Static_assert(sizeof record_labels / sizeof record_labels[0] == NRECORD, "a label per record column");
_Static_assert(sizeof subtotal_labels / sizeof subtotal_labels[0] == NSUBTOTAL, "a label per subtotal column");
_Static_assert(NGRANT == ST_G_NCOLS && NRECORD == ST_R_NCOLS && NSUBTOTAL == ST_S_NCOLS,
	       "the columns of settlement/statement.h");

static out_rows_t table_rows(const st_table_t *t)
{
	return out_rows_array((const char *const *)t->cell, st_rows(t), t->ncols);
}

/* The command: arguments, settlement/statement.c builds it, the output
 * module prints it. */
int cmd_statement(ctl_t *ctx, int argc, char **argv)
{
	const char *uscc, *year, *program;
	const struct ctl_opt opts[] = {{"--enterprise", &uscc, false},
				       {"--year", &year, false},
				       {"--program", &program, false},
				       {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 1, opts, NULL, 0, "statement", usage_statement);
	if (rc >= 0)
		return rc;
	if (!uscc || !year)
		return ctl_usage_error(usage_statement, "statement: --enterprise and --year are required");
	if (!uscc_valid(uscc))
		return ctl_usage_error(usage_statement,
				       "statement: --enterprise must be a unified social credit code (18 characters)");
	if (!ctl_year_valid(year))
		return ctl_usage_error(usage_statement,
				       "statement: --year must be a year from 2000 to 2100, e.g. 2026");
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	if (program && !ctl_program_known(c, "statement", program))
		return CTL_FAIL;
	statement_t st;
	char err[600];
	if (!statement_build(c, uscc, year, program, NULL, &st, err, sizeof err)) {
		if (st.not_registered)
			fprintf(stderr,
				"statement: enterprise %s is not registered (voucherctl enterprise import FILE.csv)\n",
				uscc);
		else
			fprintf(stderr, "statement: %s\n", err);
		statement_free(&st);
		return CTL_FAIL;
	}
	out_rows_t er = table_rows(&st.enterprise), gr = table_rows(&st.grants), rr = table_rows(&st.records),
		   sr = table_rows(&st.subtotals);
	out_doc_t d;
	out_doc_begin(&d, stdout, ctx->format);
	out_doc_labels(&d, "企业", ent_labels);
	out_doc_record(&d, "enterprise", ent_cols, ST_E_NCOLS, &er, 0);
	out_doc_labels(&d, "拨付与追回", grant_labels);
	out_doc_list(&d, "grants", grant_cols, NGRANT, &gr);
	out_doc_labels(&d, "用量记录", record_labels);
	out_doc_list(&d, "records", record_cols, NRECORD, &rr);
	out_doc_labels(&d, "小计", subtotal_labels);
	out_doc_list(&d, "subtotals", subtotal_cols, NSUBTOTAL, &sr);
	rc = CTL_OK;
	if (!out_doc_end(&d)) {
		fprintf(stderr, "statement: writing the output failed\n");
		rc = CTL_FAIL;
	}
	statement_free(&st);
	return rc;
}
