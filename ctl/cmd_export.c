/* voucherctl export and statement: the spreadsheets finance staff hand to the
 * treasury, and the statement (对账单) an enterprise checks its subsidy with
 * (README.md "Settlement"; docs/policies.md "Terms": payee enterprise or provider).
 *
 * export RUN --format csv|xlsx --out FILE
 *   The run's lines with Chinese headers.  The programme is parsed from the
 *   run's own programme version (audit.program_versions), not the newest, so
 *   that an old run exports as it was.  Lines are read through a cursor in one
 *   REPEATABLE READ READ ONLY transaction (constant memory, one snapshot for
 *   the header, the totals and the lines) and written to a temporary file in
 *   the directory of FILE, which is renamed into place only when complete.
 *
 * statement --enterprise USCC --year Y [--program ID]
 *   For one enterprise and year: the grants of approved runs, and for each
 *   programme in which an approved run has a line for it the records behind
 *   the entitlement, with a subtotal (see usage_statement).  It reads only
 *   the audit views (the newest import of a registry version decides, as in
 *   voucher.enterprise_registry), so finance staff and auditors may run it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if __has_include(<xlsxwriter.h>)
#include <xlsxwriter.h>
#define HAVE_XLSX 1
#else
#define HAVE_XLSX 0
#endif

#include "common/buf.h"
#include "common/date.h"
#include "common/db.h"
#include "common/money.h"
#include "common/validate.h"
#include "ctl/ctl.h"
#include "ctl/output.h"
#include "settlement/program.h"

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
	"              the enterprise's usage records of year Y in that programme's\n"
	"              categories (as the run's programme version lists them) that\n"
	"              ended before the end of the run's period (China time) and had\n"
	"              arrived by the run's data cutoff; adjustments are listed as they\n"
	"              were sent.  counted says whether the record counted under the\n"
	"              programme's rule 1 (jurisdiction of the enterprise's division on\n"
	"              that day, the programme's dates, related party); note says why not.\n"
	"  subtotals   per programme: that run, the number of records, their sum, the\n"
	"              sum of the counted ones and the run's eligible amount (agrees:\n"
	"              the two are equal; they may differ where another programme of\n"
	"              an exclusivity group took records, see line_note), the run's\n"
	"              entitlement and cap, and what was granted in the year in total.\n"
	"--format table|csv|json as for every listing (json amounts in fen); the table\n"
	"has Chinese titles and headers, csv and json the English names above.\n"
	"Reads only the audit views: finance staff and auditors (voucher_auditor) may\n"
	"run it.  --program: an unknown programme is an error; --year: 2000-2100.\n";

/* ------------------------------------------------------------------ small helpers */

static bool digits_only(const char *s, size_t maxlen)
{
	if (!*s || strlen(s) > maxlen)
		return false;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/* An int64 from PostgreSQL's integer text; false for anything else. */
static bool parse_fen(const char *s, int64_t *v)
{
	return money_parse_i64(s, v);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcasecmp(s + n - k, suffix);
}

static const char *run_status_zh(const char *s)
{
	if (!strcmp(s, "draft"))
		return "草稿（未审核）";
	if (!strcmp(s, "approved"))
		return "已审核";
	if (!strcmp(s, "published"))
		return "已公示";
	if (!strcmp(s, "disbursed"))
		return "已拨付";
	return s;
}

static const char *line_status_zh(const char *s)
{
	if (!strcmp(s, "payable"))
		return "应拨付";
	if (!strcmp(s, "recovery"))
		return "追回";
	if (!strcmp(s, "withheld"))
		return "暂缓";
	if (!strcmp(s, "none"))
		return "无变动";
	return s;
}

/* Parses a stored programme version's text. */
static bool parse_version(const PGresult *r, int row, int col, program_t *p, const char *what)
{
	char perr[256];
	if (program_parse(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col), p, perr, sizeof perr))
		return true;
	fprintf(stderr, "%s: the stored programme version does not parse: %s\n", what, perr);
	return false;
}

/* ------------------------------------------------------------------ the output file */

/* FILE is written as a temporary file next to it (same directory, so the
 * rename is atomic) and moved into place only when complete: a failure leaves
 * nothing half-written.  Without --force an existing FILE is never replaced,
 * not even one that appeared while we were writing (link(2) refuses). */
typedef struct outfile {
	const char *path;
	buf_t tmp;
	int fd;
	bool force;
} outfile_t;

/* Removes the temporary file (after a failure). */
static void outfile_abort(outfile_t *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp.data)
		unlink(o->tmp.data);
	buf_free(&o->tmp);
}

static bool outfile_open(outfile_t *o, const char *path, bool force)
{
	o->path = path;
	o->force = force;
	o->fd = -1;
	buf_t t = BUF_INIT;
	o->tmp = t;
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			fprintf(stderr, "export: %s is a directory: give a file name with --out\n", path);
			return false;
		}
		if (!force) {
			fprintf(stderr, "export: %s exists: give --force to replace it, or another --out\n", path);
			return false;
		}
	}
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!*base) {
		fprintf(stderr, "export: --out %s names a directory: give a file name\n", path);
		return false;
	}
	if (slash)
		buf_append(&o->tmp, path, (size_t)(slash - path) + 1);
	buf_printf(&o->tmp, ".%s.tmp-XXXXXX", base);
	o->fd = mkstemp(o->tmp.data);
	if (o->fd < 0) {
		fprintf(stderr, "export: cannot create a file next to %s: %s\n", path, strerror(errno));
		buf_free(&o->tmp);
		return false;
	}
	/* mkstemp makes 0600; the result gets the usual mode under the umask */
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(o->fd, 0666 & ~mask) != 0) {
		fprintf(stderr, "export: %s: %s\n", o->tmp.data, strerror(errno));
		outfile_abort(o);
		return false;
	}
	return true;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* Makes the temporary file durable and moves it to its name. */
static bool outfile_commit(outfile_t *o)
{
	if (fsync(o->fd) != 0) {
		fprintf(stderr, "export: writing %s: %s\n", o->path, strerror(errno));
		goto failed;
	}
	int fd = o->fd;
	o->fd = -1;
	if (close(fd) != 0) {
		fprintf(stderr, "export: writing %s: %s\n", o->path, strerror(errno));
		goto failed;
	}
	if (o->force) {
		if (rename(o->tmp.data, o->path) != 0) {
			fprintf(stderr, "export: cannot move the file to %s: %s\n", o->path, strerror(errno));
			goto failed;
		}
	} else if (link(o->tmp.data, o->path) == 0) {
		unlink(o->tmp.data);
	} else if (errno == EEXIST) {
		fprintf(stderr, "export: %s appeared meanwhile: give --force to replace it, or another --out\n",
			o->path);
		goto failed;
	} else {
		/* a file system without hard links: check, then rename */
		struct stat st;
		if (lstat(o->path, &st) == 0) {
			fprintf(stderr, "export: %s exists: give --force to replace it, or another --out\n", o->path);
			goto failed;
		}
		if (rename(o->tmp.data, o->path) != 0) {
			fprintf(stderr, "export: cannot move the file to %s: %s\n", o->path, strerror(errno));
			goto failed;
		}
	}
	buf_free(&o->tmp);
	return true;
failed:
	outfile_abort(o);
	return false;
}

/* ------------------------------------------------------------------ the run */

/* The run's header row (audit.runs and its programme version text). */
enum {
	H_RUN,
	H_PROGRAM,
	H_PERIOD,
	H_STATUS,
	H_PREPARED_BY,
	H_APPROVED_BY,
	H_CREATED_AT,
	H_APPROVED_AT,
	H_NOTICE_ENDS,
	H_DISBURSED_AT,
	H_PAYMENT_REF,
	H_VERSION,
	H_CUTOFF,
	H_AS_OF,
	H_TOTAL_PAYABLE,
	H_TOTAL_RECOVERED,
	H_TEXT
};

static const char sql_header[] =
	"SELECT r.run_id, r.program, r.period, r.status, r.prepared_by, coalesce(r.approved_by, ''), "
	"  to_char(r.created_at, 'YYYY-MM-DD HH24:MI:SSOF'), "
	"  coalesce(to_char(r.approved_at, 'YYYY-MM-DD HH24:MI:SSOF'), ''), coalesce(r.notice_ends::text, ''), "
	"  coalesce(to_char(r.disbursed_at, 'YYYY-MM-DD HH24:MI:SSOF'), ''), coalesce(r.payment_ref, ''), "
	"  r.program_version, to_char(r.data_cutoff, 'YYYY-MM-DD HH24:MI:SSOF'), r.as_of::text, "
	"  r.total_payable, r.total_recovered, v.text "
	"FROM audit.runs r JOIN audit.program_versions v ON v.version = r.program_version "
	"WHERE r.run_id = $1::bigint";

/* The lines, in the order of run show. */
enum {
	L_RUN,
	L_PROGRAM,
	L_PERIOD,
	L_USCC,
	L_NAME,
	L_DIVISION,
	L_ELIGIBLE,
	L_ENTITLEMENT,
	L_CAP,
	L_BEFORE,
	L_DIFFERENCE,
	L_PAYABLE,
	L_STATUS,
	L_NOTE,
	/* computed, not columns of the query */
	X_RUN_STATUS,
	X_STATUS_ZH,
	X_PAYEE,
	X_PROGRAM_NAME
};

static const char sql_lines[] =
	"DECLARE export_lines NO SCROLL CURSOR FOR "
	"SELECT run_id, program, period, uscc, enterprise, division, eligible_amount_ytd, entitlement_ytd, cap, "
	"  granted_before, difference, payable, status, note "
	"FROM audit.run_lines WHERE run_id = $1::bigint ORDER BY uscc";

typedef enum { K_TEXT, K_MONEY } cell_kind_t;

typedef struct exp_col {
	const char *head;
	cell_kind_t kind;
	int src;   /* L_* or X_* */
	int width; /* xlsx column width in characters (a Chinese character is ~2) */
} exp_col_t;

static const exp_col_t exp_cols[] = {
	{"结算批次", K_TEXT, L_RUN, 10},
	{"项目", K_TEXT, X_PROGRAM_NAME, 18},
	{"期间", K_TEXT, L_PERIOD, 9},
	{"批次状态", K_TEXT, X_RUN_STATUS, 15},
	{"统一社会信用代码", K_TEXT, L_USCC, 21},
	{"企业名称", K_TEXT, L_NAME, 36},
	{"行政区划", K_TEXT, L_DIVISION, 10},
	{"年度累计符合条件金额(元)", K_MONEY, L_ELIGIBLE, 18},
	{"年度累计应补金额(元)", K_MONEY, L_ENTITLEMENT, 16},
	{"上限(元)", K_MONEY, L_CAP, 15},
	{"此前已拨付(元)", K_MONEY, L_BEFORE, 15},
	{"差额(元)", K_MONEY, L_DIFFERENCE, 15},
	{"本次拨付(元)", K_MONEY, L_PAYABLE, 15},
	{"状态", K_TEXT, X_STATUS_ZH, 8},
	{"备注", K_TEXT, L_NOTE, 30},
	{"收款方", K_TEXT, X_PAYEE, 36},
};
#define NCOLS ((int)(sizeof exp_cols / sizeof exp_cols[0]))

typedef struct exporter {
	PGconn *c;
	const char *run_id;
	const PGresult *head;
	const program_t *prog;
	int fd;    /* csv */
	buf_t out; /* csv: pending bytes */
	buf_t scratch;
	int64_t nlines;
	int64_t sum_payable, sum_recovered; /* of the lines written */
	char err[300];                      /* set when a row cannot be written */
#if HAVE_XLSX
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *f_head, *f_money, *f_money_bold, *f_bold, *f_title, *f_warn;
	lxw_error xerr;
#endif
} exporter_t;

/* The programme as people know it (name = in the run's own programme
 * version, e.g. 杭州算力券), else its id. */
static const char *program_name_zh(const program_t *p)
{
	return p->name[0] ? p->name : p->id;
}

/* The text of a cell of a line (before csv quoting). */
static const char *line_cell(exporter_t *e, const PGresult *r, int row, int src)
{
	switch (src) {
	case X_RUN_STATUS: return run_status_zh(PQgetvalue(e->head, 0, H_STATUS));
	case X_PROGRAM_NAME: return program_name_zh(e->prog);
	case X_STATUS_ZH: return line_status_zh(PQgetvalue(r, row, L_STATUS));
	case X_PAYEE:
		if (e->prog->payee_provider)
			return "兑付给服务商";
		buf_reset(&e->scratch);
		buf_puts(&e->scratch, PQgetvalue(r, row, L_NAME));
		buf_puts(&e->scratch, "（后补助）");
		return e->scratch.data;
	default: return PQgetvalue(r, row, src);
	}
}

/* Adds a line's payable to the sums that must match the run's totals. */
static bool account_line(exporter_t *e, const PGresult *r, int row)
{
	int64_t fen;
	int64_t *sum = NULL;
	if (parse_fen(PQgetvalue(r, row, L_PAYABLE), &fen))
		sum = fen >= 0 ? &e->sum_payable : &e->sum_recovered;
	if (!sum || !money_add(*sum, fen, sum)) {
		snprintf(e->err, sizeof e->err, "line %s: the payable amount does not compute",
			 PQgetvalue(r, row, L_USCC));
		return false;
	}
	return true;
}

/* The lines must add up to the run's own totals. */
static bool totals_agree(exporter_t *e)
{
	int64_t pay, rec;
	if (parse_fen(PQgetvalue(e->head, 0, H_TOTAL_PAYABLE), &pay) &&
	    parse_fen(PQgetvalue(e->head, 0, H_TOTAL_RECOVERED), &rec) && pay == e->sum_payable &&
	    rec == e->sum_recovered)
		return true;
	snprintf(e->err, sizeof e->err,
		 "the lines of run %s do not add up to its totals (payable %s, recovered %s fen): "
		 "the run is inconsistent (voucherctl audit verify)",
		 e->run_id, PQgetvalue(e->head, 0, H_TOTAL_PAYABLE), PQgetvalue(e->head, 0, H_TOTAL_RECOVERED));
	return false;
}

/* Calls fn for every line of the run, read 2000 at a time through a cursor. */
static bool each_line(exporter_t *e, bool (*fn)(exporter_t *, const PGresult *, int))
{
	const char *p[] = {e->run_id};
	if (!db_run(e->c, "export", sql_lines, 1, p))
		return false;
	for (;;) {
		PGresult *r = db_exec(e->c, "export", "FETCH 2000 FROM export_lines", 0, NULL);
		if (!r)
			return false;
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			if (!fn(e, r, i)) {
				PQclear(r);
				return false;
			}
		}
		PQclear(r);
		if (n == 0)
			break;
	}
	return db_run(e->c, "export", "CLOSE export_lines", 0, NULL);
}

/* ------------------------------------------------------------------ csv */

static bool csv_flush(exporter_t *e, size_t above)
{
	if (e->out.len <= above)
		return true;
	if (!write_all(e->fd, e->out.data, e->out.len)) {
		snprintf(e->err, sizeof e->err, "writing the file: %s", strerror(errno));
		return false;
	}
	buf_reset(&e->out);
	return true;
}

static bool csv_line(exporter_t *e, const PGresult *r, int row)
{
	if (!account_line(e, r, row))
		return false;
	for (int i = 0; i < NCOLS; i++) {
		if (i)
			buf_putc(&e->out, ',');
		const exp_col_t *col = &exp_cols[i];
		if (col->kind == K_MONEY) {
			int64_t fen;
			if (!parse_fen(PQgetvalue(r, row, col->src), &fen)) {
				snprintf(e->err, sizeof e->err, "line %s: %s is not an amount",
					 PQgetvalue(r, row, L_USCC), col->head);
				return false;
			}
			char y[32];
			money_format_yuan(fen, y, sizeof y);
			buf_puts(&e->out, y); /* a number: never altered */
		} else {
			out_csv_field(&e->out, line_cell(e, r, row, col->src), true);
		}
	}
	buf_puts(&e->out, "\r\n");
	e->nlines++;
	return csv_flush(e, 1 << 16);
}

static bool export_csv(exporter_t *e)
{
	buf_puts(&e->out, "\xef\xbb\xbf");
	for (int i = 0; i < NCOLS; i++) {
		if (i)
			buf_putc(&e->out, ',');
		out_csv_field(&e->out, exp_cols[i].head, true);
	}
	buf_puts(&e->out, "\r\n");
	return each_line(e, csv_line) && totals_agree(e) && csv_flush(e, 0);
}

/* ------------------------------------------------------------------ xlsx */

#if HAVE_XLSX
/* The one place where a double carries an amount: an xlsx number cell.
 * (double)fen is exact for |fen| < 2^53, and fen / 100.0 is the double
 * nearest to the exact yuan value (IEEE division is correctly rounded).  A
 * decimal of at most 15 significant digits survives the trip through a double
 * and back (DBL_DIG = 15), and libxlsxwriter writes 16 significant digits
 * ("%.16G"), so for |fen| < 10^15 (10 trillion yuan) the cell holds and shows
 * exactly the two-decimal amount.  Larger amounts are refused, not rounded. */
#define XLSX_MAX_FEN INT64_C(1000000000000000)

static void x_money(exporter_t *e, lxw_row_t row, lxw_col_t col, int64_t fen, lxw_format *f)
{
	if (e->xerr != LXW_NO_ERROR)
		return;
	if (fen <= -XLSX_MAX_FEN || fen >= XLSX_MAX_FEN) {
		snprintf(e->err, sizeof e->err, "an amount of %" PRId64 " fen is too large for a spreadsheet cell",
			 fen);
		e->xerr = LXW_ERROR_PARAMETER_VALIDATION;
		return;
	}
	e->xerr = worksheet_write_number(e->ws, row, col, (double)fen / 100.0, f);
}

/* A count (an exact small integer) as a number cell. */
static void x_count(exporter_t *e, lxw_row_t row, lxw_col_t col, int64_t n, lxw_format *f)
{
	if (e->xerr == LXW_NO_ERROR)
		e->xerr = worksheet_write_number(e->ws, row, col, (double)n, f);
}

static void x_text(exporter_t *e, lxw_row_t row, lxw_col_t col, const char *s, lxw_format *f)
{
	if (e->xerr == LXW_NO_ERROR && s && *s)
		e->xerr = worksheet_write_string(e->ws, row, col, s, f);
}

static void x_width(exporter_t *e, lxw_col_t first, lxw_col_t last, double width)
{
	if (e->xerr == LXW_NO_ERROR)
		e->xerr = worksheet_set_column(e->ws, first, last, width, NULL);
}

static bool xlsx_line(exporter_t *e, const PGresult *r, int row)
{
	if (e->nlines + 1 >= LXW_ROW_MAX) {
		snprintf(e->err, sizeof e->err, "the run has more lines than a worksheet holds (%d): use --format csv",
			 LXW_ROW_MAX - 1);
		return false;
	}
	if (!account_line(e, r, row))
		return false;
	lxw_row_t xr = (lxw_row_t)(e->nlines + 1);
	for (int i = 0; i < NCOLS; i++) {
		const exp_col_t *col = &exp_cols[i];
		if (col->kind == K_MONEY) {
			int64_t fen;
			if (!parse_fen(PQgetvalue(r, row, col->src), &fen)) {
				snprintf(e->err, sizeof e->err, "line %s: %s is not an amount",
					 PQgetvalue(r, row, L_USCC), col->head);
				return false;
			}
			x_money(e, xr, (lxw_col_t)i, fen, e->f_money);
		} else {
			/* a string cell is never a formula: no guard needed */
			x_text(e, xr, (lxw_col_t)i, line_cell(e, r, row, col->src), NULL);
		}
	}
	e->nlines++;
	return e->xerr == LXW_NO_ERROR;
}

/* Sheet 汇总: the run, then totals by division and a grand total.  Long but
 * whole: one sequence of cells down the sheet, the row counter threaded through. */
static bool xlsx_summary(exporter_t *e)
{
	const PGresult *h = e->head;
	bool draft = !strcmp(PQgetvalue(h, 0, H_STATUS), "draft");
	const char *p[] = {e->run_id};
	PGresult *d =
		db_exec(e->c, "export",
			"SELECT division, count(*), coalesce(sum(payable) FILTER (WHERE payable > 0), 0)::bigint, "
			"  coalesce(sum(payable) FILTER (WHERE payable < 0), 0)::bigint, "
			"  count(*) FILTER (WHERE status = 'withheld') "
			"FROM audit.run_lines WHERE run_id = $1::bigint GROUP BY division ORDER BY division",
			1, p);
	if (!d)
		return false;
	bool ok = false;
	e->ws = workbook_add_worksheet(e->wb, "汇总");
	if (!e->ws) {
		snprintf(e->err, sizeof e->err, "cannot add a worksheet");
		goto failed;
	}
	x_width(e, 0, 0, 16);
	x_width(e, 1, 1, 40);
	x_width(e, 2, 5, 16);

	lxw_row_t row = 0;
	char title[300];
	snprintf(title, sizeof title, "%s %s 结算汇总%s", program_name_zh(e->prog), PQgetvalue(h, 0, H_PERIOD),
		 draft ? "（草稿）" : "");
	x_text(e, row++, 0, title, e->f_title);
	if (draft)
		x_text(e, row++, 0, "草稿 (draft)：本批次尚未经第二人复核，不得据此拨付", e->f_warn);
	row++;

	char status[160];
	snprintf(status, sizeof status, "%s (%s)", run_status_zh(PQgetvalue(h, 0, H_STATUS)),
		 PQgetvalue(h, 0, H_STATUS));
	const char *payee = e->prog->payee_provider ? "兑付：拨付给服务商 (payee provider)"
						    : "后补助：拨付给企业 (payee enterprise)";
	const struct {
		const char *key, *val;
		lxw_format *f;
	} kv[] = {
		{"结算批次", PQgetvalue(h, 0, H_RUN), NULL},
		{"项目", program_name_zh(e->prog), NULL},
		{"项目代码", PQgetvalue(h, 0, H_PROGRAM), NULL},
		{"期间", PQgetvalue(h, 0, H_PERIOD), NULL},
		{"批次状态", status, draft ? e->f_warn : NULL},
		{"收款方", payee, NULL},
		{"编制人", PQgetvalue(h, 0, H_PREPARED_BY), NULL},
		{"编制时间", PQgetvalue(h, 0, H_CREATED_AT), NULL},
		{"复核人", draft ? "（未复核）" : PQgetvalue(h, 0, H_APPROVED_BY), draft ? e->f_warn : NULL},
		{"复核时间", PQgetvalue(h, 0, H_APPROVED_AT), NULL},
		{"公示截止", PQgetvalue(h, 0, H_NOTICE_ENDS), NULL},
		{"拨付时间", PQgetvalue(h, 0, H_DISBURSED_AT), NULL},
		{"支付批次", PQgetvalue(h, 0, H_PAYMENT_REF), NULL},
		{"项目版本", PQgetvalue(h, 0, H_VERSION), NULL},
		{"结算日", PQgetvalue(h, 0, H_AS_OF), NULL},
		{"数据截止", PQgetvalue(h, 0, H_CUTOFF), NULL},
	};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++, row++) {
		x_text(e, row, 0, kv[i].key, e->f_bold);
		x_text(e, row, 1, kv[i].val, kv[i].f);
	}
	row++;

	static const char *const heads[] = {"行政区划", "企业数", "本次拨付(元)", "追回(元)", "净额(元)", "暂缓(户)"};
	x_text(e, row++, 0, "按行政区划汇总", e->f_bold);
	for (int i = 0; i < 6; i++)
		x_text(e, row, (lxw_col_t)i, heads[i], e->f_head);
	row++;
	int64_t t_n = 0, t_pay = 0, t_rec = 0, t_held = 0;
	for (int i = 0; i < PQntuples(d); i++, row++) {
		int64_t n, pay, rec, held, net;
		if (!parse_fen(PQgetvalue(d, i, 1), &n) || !parse_fen(PQgetvalue(d, i, 2), &pay) ||
		    !parse_fen(PQgetvalue(d, i, 3), &rec) || !parse_fen(PQgetvalue(d, i, 4), &held) ||
		    !money_add(pay, rec, &net) || !money_add(t_pay, pay, &t_pay) || !money_add(t_rec, rec, &t_rec) ||
		    !money_add(t_n, n, &t_n) || !money_add(t_held, held, &t_held)) {
			snprintf(e->err, sizeof e->err, "the totals of division %s do not compute",
				 PQgetvalue(d, i, 0));
			goto failed;
		}
		x_text(e, row, 0, PQgetvalue(d, i, 0), NULL);
		x_count(e, row, 1, n, NULL);
		x_money(e, row, 2, pay, e->f_money);
		x_money(e, row, 3, rec, e->f_money);
		x_money(e, row, 4, net, e->f_money);
		x_count(e, row, 5, held, NULL);
	}
	/* the lines must add up to the run's own totals (checked before the
	 * sheet is trusted; the lines are checked again as they are written) */
	int64_t t_net;
	e->sum_payable = t_pay;
	e->sum_recovered = t_rec;
	if (!totals_agree(e))
		goto failed;
	if (!money_add(t_pay, t_rec, &t_net)) {
		snprintf(e->err, sizeof e->err, "the totals of run %s do not compute", e->run_id);
		goto failed;
	}
	x_text(e, row, 0, "合计", e->f_bold);
	x_count(e, row, 1, t_n, e->f_bold);
	x_money(e, row, 2, t_pay, e->f_money_bold);
	x_money(e, row, 3, t_rec, e->f_money_bold);
	x_money(e, row, 4, t_net, e->f_money_bold);
	x_count(e, row, 5, t_held, e->f_bold);
	ok = e->xerr == LXW_NO_ERROR;
failed:
	PQclear(d);
	return ok;
}

static bool export_xlsx(exporter_t *e, const char *path)
{
	/* constant memory: each row goes to a temporary file once the next row
	 * starts, so rows are written in order, sheet by sheet */
	lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = NULL, .use_zip64 = LXW_FALSE};
	e->wb = workbook_new_opt(path, &opt);
	if (!e->wb) {
		snprintf(e->err, sizeof e->err, "cannot start the workbook");
		return false;
	}
	e->f_head = workbook_add_format(e->wb);
	format_set_bold(e->f_head);
	format_set_text_wrap(e->f_head);
	format_set_align(e->f_head, LXW_ALIGN_VERTICAL_CENTER);
	e->f_bold = workbook_add_format(e->wb);
	format_set_bold(e->f_bold);
	e->f_money = workbook_add_format(e->wb);
	format_set_num_format(e->f_money, "#,##0.00");
	e->f_money_bold = workbook_add_format(e->wb);
	format_set_num_format(e->f_money_bold, "#,##0.00");
	format_set_bold(e->f_money_bold);
	e->f_title = workbook_add_format(e->wb);
	format_set_bold(e->f_title);
	format_set_font_size(e->f_title, 14);
	e->f_warn = workbook_add_format(e->wb);
	format_set_bold(e->f_warn);
	format_set_font_color(e->f_warn, LXW_COLOR_RED);

	if (!xlsx_summary(e))
		goto failed;
	e->sum_payable = e->sum_recovered = 0; /* the lines are counted again as they are written */

	e->ws = workbook_add_worksheet(e->wb, "明细");
	if (!e->ws) {
		snprintf(e->err, sizeof e->err, "cannot add a worksheet");
		goto failed;
	}
	worksheet_freeze_panes(e->ws, 1, 0);
	/* room for the wrapped long headers (before row 0 is written: constant memory) */
	e->xerr = worksheet_set_row(e->ws, 0, 32, NULL);
	for (int i = 0; i < NCOLS; i++) {
		x_width(e, (lxw_col_t)i, (lxw_col_t)i, exp_cols[i].width);
		x_text(e, 0, (lxw_col_t)i, exp_cols[i].head, e->f_head);
	}
	if (e->xerr != LXW_NO_ERROR || !each_line(e, xlsx_line) || !totals_agree(e))
		goto failed;
	if (e->nlines > 0)
		e->xerr = worksheet_autofilter(e->ws, 0, 0, (lxw_row_t)e->nlines, NCOLS - 1);
	if (e->xerr != LXW_NO_ERROR)
		goto failed;
	lxw_error ce = workbook_close(e->wb);
	e->wb = NULL;
	if (ce != LXW_NO_ERROR) {
		snprintf(e->err, sizeof e->err, "writing the workbook: %s", lxw_strerror(ce));
		return false;
	}
	return true;
failed:
	if (e->xerr != LXW_NO_ERROR && !e->err[0])
		snprintf(e->err, sizeof e->err, "writing the workbook: %s", lxw_strerror(e->xerr));
	/* discard the workbook without writing it (the caller removes the file) */
	lxw_workbook_free(e->wb);
	e->wb = NULL;
	return false;
}
#endif

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
#if !HAVE_XLSX
	if (*xlsx) {
		fprintf(stderr, "export: this voucherctl was built without libxlsxwriter: install libxlsxwriter-dev "
				"and rebuild, or use --format csv\n");
		return CTL_FAIL;
	}
#endif
	return -1;
}

int cmd_export(ctl_t *ctx, int argc, char **argv)
{
	const char *run = NULL, *out = NULL;
	bool xlsx = false, force = false;
	int rc = export_args(ctx, argc, argv, &run, &out, &xlsx, &force);
	if (rc >= 0)
		return rc;
	const char *pos[1] = {run};

	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	exporter_t e;
	memset(&e, 0, sizeof e);
	e.c = c;
	e.run_id = pos[0];
	e.fd = -1;
	program_t *prog = xcalloc(1, sizeof *prog);
	PGresult *h = NULL;
	outfile_t of = {.path = NULL, .tmp = BUF_INIT, .fd = -1, .force = false};
	bool in_tx = false, opened = false;
	rc = CTL_FAIL;

	/* one snapshot for the header, the totals and every line */
	if (!db_run(c, "export", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL))
		goto failed;
	in_tx = true;
	const char *p[] = {pos[0]};
	h = db_exec(c, "export", sql_header, 1, p);
	if (!h)
		goto failed;
	if (PQntuples(h) == 0) {
		fprintf(stderr, "export: there is no run %s (voucherctl run list)\n", pos[0]);
		goto failed;
	}
	if (!parse_version(h, 0, H_TEXT, prog, "export"))
		goto failed;
	e.head = h;
	e.prog = prog;
	if (!outfile_open(&of, out, force))
		goto failed;
	opened = true;
	e.fd = of.fd;
	bool ok;
#if HAVE_XLSX
	ok = xlsx ? export_xlsx(&e, of.tmp.data) : export_csv(&e);
#else
	ok = export_csv(&e);
#endif
	if (!ok) {
		if (e.err[0])
			fprintf(stderr, "export: %s\nnothing was written to %s\n", e.err, out);
		else
			fprintf(stderr, "export: nothing was written to %s\n", out);
		goto failed;
	}
	db_rollback(c); /* read only: nothing to commit */
	in_tx = false;
	opened = false;
	if (!outfile_commit(&of))
		goto failed;
	const char *status = PQgetvalue(h, 0, H_STATUS);
	printf("run %s (%s, %s %s %s, %s) exported to %s: %" PRId64 " line%s, %s\n", pos[0], status,
	       program_name_zh(prog), PQgetvalue(h, 0, H_PROGRAM), PQgetvalue(h, 0, H_PERIOD),
	       prog->payee_provider ? "payee provider" : "payee enterprise", out, e.nlines, e.nlines == 1 ? "" : "s",
	       xlsx ? "xlsx" : "csv");
	if (!strcmp(status, "draft"))
		fprintf(stderr, "export: run %s is a draft (草稿): not approved; nothing may be paid from it\n",
			pos[0]);
	rc = CTL_OK;
failed:
	if (opened)
		outfile_abort(&of);
	if (in_tx)
		db_rollback(c);
	PQclear(h);
	buf_free(&e.out);
	buf_free(&e.scratch);
	free(prog);
	return rc;
}

/* ------------------------------------------------------------------ statement */

/* Rows computed in C for out_rows_array: a growing array of owned strings. */
typedef struct cells {
	char **v;
	size_t n, cap;
} cells_t;

static void cells_add(cells_t *c, const char *s)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = xrealloc(c->v, c->cap * sizeof *c->v);
	}
	c->v[c->n++] = s ? xstrdup(s) : NULL;
}

static void cells_addf(cells_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cells_addf(cells_t *c, const char *fmt, ...)
{
	buf_t b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	cells_add(c, b.data ? b.data : "");
	buf_free(&b);
}

static void cells_free(cells_t *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

static out_rows_t cells_rows(const cells_t *c, int ncols)
{
	return out_rows_array((const char *const *)c->v, (int)(c->n / (size_t)ncols), ncols);
}

static const out_col_t ent_cols[] = {
	{"uscc", OUT_TEXT}, {"name", OUT_TEXT}, {"division", OUT_DIVISION}, {"year", OUT_INT}, {"program", OUT_TEXT},
};
/* the headers for people (table format; csv and json keep the names) */
static const char *const ent_labels[] = {"统一社会信用代码", "企业名称", "行政区划", "年度", "项目"};
static const char *const grant_labels[] = {"结算批次", "项目",   "项目名称", "期间",   "审核时间", "金额(元)",
					   "类别",     "收款方", "批次状态", "已拨付", "拨付时间", "支付批次"};
static const char *const record_labels[] = {"项目",     "服务商",   "记录号",   "批次号", "算力设施", "类别",
					    "结束时间", "金额(元)", "调整记录", "计入",   "备注"};
static const char *const subtotal_labels[] = {"项目",         "项目名称",
					      "收款方",       "结算批次",
					      "期间",         "数据截止",
					      "记录数",       "金额(元)",
					      "计入金额(元)", "年度累计符合条件金额(元)",
					      "一致",         "年度累计应补金额(元)",
					      "上限(元)",     "年度累计拨付(元)",
					      "状态",         "备注"};

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
	{"program", OUT_TEXT},  {"provider", OUT_TEXT}, {"record_id", OUT_TEXT},     {"batch_id", OUT_TEXT},
	{"facility", OUT_TEXT}, {"category", OUT_TEXT}, {"ended_at", OUT_TIMESTAMP}, {"amount", OUT_MONEY_FEN},
	{"adjusts", OUT_TEXT},  {"counted", OUT_BOOL},  {"note", OUT_TEXT},
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
};
#define NSUBTOTAL ((int)(sizeof subtotal_cols / sizeof subtotal_cols[0]))
_Static_assert(sizeof grant_labels / sizeof grant_labels[0] == NGRANT, "a label per grant column");
_Static_assert(sizeof record_labels / sizeof record_labels[0] == NRECORD, "a label per record column");
_Static_assert(sizeof subtotal_labels / sizeof subtotal_labels[0] == NSUBTOTAL, "a label per subtotal column");

static const char *payee_text(const program_t *p)
{
	return p->payee_provider ? "provider (兑付)" : "enterprise (后补助)";
}

/* The programme's categories as a text[] literal. */
static void categories_literal(const program_t *p, buf_t *b)
{
	buf_putc(b, '{');
	bool first = true;
	for (int i = 0; i < CAT_COUNT; i++) {
		if (!p->categories[i])
			continue;
		buf_printf(b, "%s%s", first ? "" : ",", category_name((category_t)i));
		first = false;
	}
	buf_putc(b, '}');
}

/* The grants of approved runs to the enterprise in the year. */
static bool statement_grants(PGconn *c, const char *const *key, cells_t *out)
{
	PGresult *r = db_exec(c, "statement",
			      "SELECT g.run_id, g.program, r.period, r.approved_at, g.amount_fen, r.status, "
			      "  r.disbursed_at IS NOT NULL, r.disbursed_at, r.payment_ref, v.text "
			      "FROM audit.grants g JOIN audit.runs r ON r.run_id = g.run_id "
			      "JOIN audit.program_versions v ON v.version = r.program_version "
			      "WHERE g.uscc = $1 AND g.year = $2::integer AND ($3::text IS NULL OR g.program = $3) "
			      "ORDER BY g.program, r.period, g.run_id",
			      3, key);
	if (!r)
		return false;
	program_t *p = xcalloc(1, sizeof *p);
	bool ok = false;
	for (int i = 0; i < PQntuples(r); i++) {
		if (!parse_version(r, i, 9, p, "statement"))
			goto failed;
		cells_add(out, PQgetvalue(r, i, 0));
		cells_add(out, PQgetvalue(r, i, 1));
		cells_add(out, p->name);
		cells_add(out, PQgetvalue(r, i, 2));
		cells_add(out, PQgetvalue(r, i, 3));
		cells_add(out, PQgetvalue(r, i, 4));
		cells_add(out, PQgetvalue(r, i, 4)[0] == '-' ? "recovery" : "grant");
		cells_add(out, payee_text(p));
		cells_add(out, PQgetvalue(r, i, 5));
		cells_add(out, PQgetvalue(r, i, 6));
		cells_add(out, PQgetisnull(r, i, 7) ? NULL : PQgetvalue(r, i, 7));
		cells_add(out, PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8));
	}
	ok = true;
failed:
	free(p);
	PQclear(r);
	return ok;
}

/* Rule 1 for one record, as the run's engine applies it: false with the
 * reason in why. */
static bool record_counts(const program_t *p, const char *day, const char *division, bool related, char *why,
			  size_t whylen)
{
	why[0] = '\0';
	if (related) {
		snprintf(why, whylen, "related party of the enterprise (关联方): counts for nothing");
		return false;
	}
	if (!program_in_dates(p, day)) {
		snprintf(why, whylen, "%s is outside the programme's dates", day);
		return false;
	}
	if (!division || !program_in_jurisdiction(p, division)) {
		snprintf(why, whylen, "the enterprise's division on %s (%s) is outside the jurisdiction", day,
			 division ? division : "none");
		return false;
	}
	return true;
}

/* For one programme: the latest approved run of the year with a line for
 * the enterprise, the records behind it and a subtotal. */
static bool statement_programme(PGconn *c, const char *uscc, const char *year, const char *program, cells_t *records,
				cells_t *subtotals)
{
	const char *k[] = {uscc, year, program};
	PGresult *b = db_exec(
		c, "statement",
		"SELECT r.run_id, r.period, r.data_cutoff, l.eligible_amount_ytd, l.entitlement_ytd, l.cap, "
		"  l.status, l.note, v.text, "
		"  (SELECT coalesce(sum(g.amount_fen), 0) FROM audit.grants g "
		"    WHERE g.program = r.program AND g.year = $2::integer AND g.uscc = $1)::bigint "
		"FROM audit.runs r JOIN audit.run_lines l ON l.run_id = r.run_id AND l.uscc = $1 "
		"JOIN audit.program_versions v ON v.version = r.program_version "
		"WHERE r.program = $3 AND left(r.period, 4)::integer = $2::integer AND r.approved_at IS NOT NULL "
		"ORDER BY r.period DESC, r.run_id DESC LIMIT 1",
		3, k);
	if (!b)
		return false;
	PGresult *r = NULL;
	program_t *p = xcalloc(1, sizeof *p);
	buf_t cats = BUF_INIT;
	bool ok = false;
	if (PQntuples(b) == 0) {
		ok = true; /* no approved line: nothing to list */
		goto done;
	}
	if (!parse_version(b, 0, 8, p, "statement"))
		goto done;
	/* the year up to the end of the run's period, China time */
	const char *period = PQgetvalue(b, 0, 1);
	int y = atoi(period), m = atoi(period + 5);
	char from[40], until[40];
	date_cn_month_start(y, 1, from, sizeof from);
	date_cn_month_start(y, m + 1, until, sizeof until);
	categories_literal(p, &cats);
	const char *q[] = {uscc, from, until, PQgetvalue(b, 0, 2), cats.data};
	r = db_exec(
		c, "statement",
		"SELECT u.provider, u.record_id, u.batch_id, u.facility, u.category, u.ended_at, u.amount_fen, "
		"  u.adjusts, d.day::text, ev.division, rp.uscc IS NOT NULL "
		"FROM audit.usage_records u "
		"CROSS JOIN LATERAL (SELECT (u.ended_at AT TIME ZONE 'Asia/Shanghai')::date AS day) d "
		/* the enterprise's division on the record's day: the version in
		     * force then, else its first (as settle reads it) */
		"LEFT JOIN LATERAL (SELECT v.division FROM audit.enterprise_versions v WHERE v.uscc = u.enterprise "
		"  ORDER BY (v.valid_from <= d.day) DESC, CASE WHEN v.valid_from <= d.day THEN v.valid_from END DESC, "
		"  v.valid_from, v.imported_at DESC, v.id DESC LIMIT 1) ev ON true "
		"LEFT JOIN audit.related_parties rp ON rp.uscc = u.enterprise AND rp.provider = u.provider "
		"WHERE u.enterprise = $1 AND u.ended_at >= $2::timestamptz AND u.ended_at < $3::timestamptz "
		"  AND u.received_at <= $4::timestamptz AND u.category = ANY($5::text[]) "
		"ORDER BY u.ended_at, u.provider, u.record_id",
		5, q);
	if (!r)
		goto done;
	int64_t sum = 0, counted = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t fen;
		char why[200];
		bool counts = record_counts(p, PQgetvalue(r, i, 8), PQgetisnull(r, i, 9) ? NULL : PQgetvalue(r, i, 9),
					    PQgetvalue(r, i, 10)[0] == 't', why, sizeof why);
		if (!parse_fen(PQgetvalue(r, i, 6), &fen) || !money_add(sum, fen, &sum) ||
		    (counts && !money_add(counted, fen, &counted))) {
			fprintf(stderr, "statement: the amounts of %s do not add up in 64 bits\n", program);
			goto done;
		}
		cells_add(records, program);
		for (int col = 0; col < 8; col++)
			cells_add(records, PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col));
		cells_add(records, counts ? "t" : "f");
		cells_add(records, why);
	}
	int64_t eligible;
	if (!parse_fen(PQgetvalue(b, 0, 3), &eligible))
		goto done;
	cells_add(subtotals, program);
	cells_add(subtotals, p->name);
	cells_add(subtotals, payee_text(p));
	cells_add(subtotals, PQgetvalue(b, 0, 0));
	cells_add(subtotals, period);
	cells_add(subtotals, PQgetvalue(b, 0, 2));
	cells_addf(subtotals, "%d", PQntuples(r));
	cells_addf(subtotals, "%" PRId64, sum);
	cells_addf(subtotals, "%" PRId64, counted);
	cells_add(subtotals, PQgetvalue(b, 0, 3));
	cells_add(subtotals, counted == eligible ? "t" : "f");
	cells_add(subtotals, PQgetvalue(b, 0, 4));
	cells_add(subtotals, PQgetvalue(b, 0, 5));
	cells_add(subtotals, PQgetvalue(b, 0, 9));
	cells_add(subtotals, PQgetvalue(b, 0, 6));
	cells_add(subtotals, PQgetvalue(b, 0, 7));
	ok = true;
done:
	buf_free(&cats);
	free(p);
	PQclear(r);
	PQclear(b);
	return ok;
}

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
	PGresult *ent = NULL, *progs = NULL;
	cells_t grants = {NULL, 0, 0}, records = {NULL, 0, 0}, subtotals = {NULL, 0, 0};
	bool in_tx = false;
	rc = CTL_FAIL;

	if (!db_run(c, "statement", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL))
		goto failed;
	in_tx = true;
	const char *key[] = {uscc, year, program};
	ent = db_exec(
		c, "statement",
		"SELECT v.uscc, v.name, v.division, $2::integer, $3::text FROM audit.enterprise_versions v "
		"WHERE v.uscc = $1 "
		"ORDER BY (v.valid_from <= (now() AT TIME ZONE 'Asia/Shanghai')::date) DESC, "
		"  CASE WHEN v.valid_from <= (now() AT TIME ZONE 'Asia/Shanghai')::date THEN v.valid_from END DESC, "
		"  v.valid_from, v.imported_at DESC, v.id DESC LIMIT 1",
		3, key);
	if (!ent)
		goto failed;
	if (PQntuples(ent) == 0) {
		fprintf(stderr, "statement: enterprise %s is not registered (voucherctl enterprise import FILE.csv)\n",
			uscc);
		goto failed;
	}
	if (!statement_grants(c, key, &grants))
		goto failed;
	progs = db_exec(c, "statement",
			"SELECT DISTINCT r.program FROM audit.runs r "
			"JOIN audit.run_lines l ON l.run_id = r.run_id AND l.uscc = $1 "
			"WHERE left(r.period, 4)::integer = $2::integer AND r.approved_at IS NOT NULL "
			"  AND ($3::text IS NULL OR r.program = $3) "
			"ORDER BY 1",
			3, key);
	if (!progs)
		goto failed;
	for (int i = 0; i < PQntuples(progs); i++)
		if (!statement_programme(c, uscc, year, PQgetvalue(progs, i, 0), &records, &subtotals))
			goto failed;
	db_rollback(c); /* read only */
	in_tx = false;

	out_rows_t er = out_rows_pg(ent), gr = cells_rows(&grants, NGRANT), rr = cells_rows(&records, NRECORD),
		   sr = cells_rows(&subtotals, NSUBTOTAL);
	out_doc_t d;
	out_doc_begin(&d, stdout, ctx->format);
	out_doc_labels(&d, "企业", ent_labels);
	out_doc_record(&d, "enterprise", ent_cols, 5, &er, 0);
	out_doc_labels(&d, "拨付与追回", grant_labels);
	out_doc_list(&d, "grants", grant_cols, NGRANT, &gr);
	out_doc_labels(&d, "用量记录", record_labels);
	out_doc_list(&d, "records", record_cols, NRECORD, &rr);
	out_doc_labels(&d, "小计", subtotal_labels);
	out_doc_list(&d, "subtotals", subtotal_cols, NSUBTOTAL, &sr);
	if (!out_doc_end(&d)) {
		fprintf(stderr, "statement: writing the output failed\n");
		goto failed;
	}
	rc = CTL_OK;
failed:
	if (in_tx)
		db_rollback(c);
	PQclear(ent);
	PQclear(progs);
	cells_free(&grants);
	cells_free(&records);
	cells_free(&subtotals);
	return rc;
}
