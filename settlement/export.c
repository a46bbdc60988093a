/* export: a settlement run's lines as csv or xlsx for the treasury (see
 * settlement/export.h). */
#include "settlement/export.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "common/csv.h"
#include "common/db.h"
#include "common/money.h"
#include "settlement/program.h"

/* The Chinese word of an English status, from a table of pairs ending in
 * NULL; the status itself if it is not there. */
static const char *zh_of(const char *const (*words)[2], const char *s)
{
	for (; words[0][0]; words++)
		if (!strcmp(words[0][0], s))
			return words[0][1];
	return s;
}

const char *export_run_status_zh(const char *s)
{
	static const char *const words[][2] = {{"draft", "草稿（未审核）"},
					       {"approved", "已审核"},
					       {"published", "已公示"},
					       {"disbursed", "已拨付"},
					       {NULL, NULL}};
	return zh_of(words, s);
}

const char *export_line_status_zh(const char *s)
{
	static const char *const words[][2] = {
		{"payable", "应拨付"}, {"recovery", "追回"}, {"withheld", "暂缓"}, {"none", "无变动"}, {NULL, NULL}};
	return zh_of(words, s);
}

bool export_available(export_format_t f)
{
	return f == EXPORT_CSV || (f == EXPORT_XLSX && HAVE_XLSX);
}

/* ------------------------------------------------------------------ the output file */

/* The temporary file next to the target, moved into place when complete. */
typedef struct outfile {
	const char *path;
	buf_t tmp;
	int fd;
	bool replace;
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

static bool outfile_open(outfile_t *o, const char *path, const export_opts_t *opts, export_info_t *info, char *err,
			 size_t errlen)
{
	o->path = path;
	o->replace = opts->replace;
	o->fd = -1;
	buf_t t = BUF_INIT;
	o->tmp = t;
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s is a directory: give a file name", path);
			return false;
		}
		if (!o->replace) {
			info->failure = EXPORT_EXISTS;
			snprintf(err, errlen, "%s exists", path);
			return false;
		}
	}
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!*base) {
		snprintf(err, errlen, "%s names a directory: give a file name", path);
		return false;
	}
	if (slash)
		buf_append(&o->tmp, path, (size_t)(slash - path) + 1);
	buf_printf(&o->tmp, ".%s.tmp-XXXXXX", base);
	o->fd = mkstemp(o->tmp.data);
	if (o->fd < 0) {
		snprintf(err, errlen, "cannot create a file next to %s: %s", path, strerror(errno));
		buf_free(&o->tmp);
		return false;
	}
	info->began_writing = true;
	if (opts->private_file)
		return true; /* mkstemp made it 0600 */
	/* the result gets the usual mode under the umask */
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(o->fd, 0666 & ~mask) != 0) {
		snprintf(err, errlen, "%s: %s", o->tmp.data, strerror(errno));
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
static bool outfile_commit(outfile_t *o, export_info_t *info, char *err, size_t errlen)
{
	if (fsync(o->fd) != 0) {
		snprintf(err, errlen, "writing %s: %s", o->path, strerror(errno));
		goto failed;
	}
	int fd = o->fd;
	o->fd = -1;
	if (close(fd) != 0) {
		snprintf(err, errlen, "writing %s: %s", o->path, strerror(errno));
		goto failed;
	}
	if (o->replace) {
		if (rename(o->tmp.data, o->path) != 0) {
			snprintf(err, errlen, "cannot move the file to %s: %s", o->path, strerror(errno));
			goto failed;
		}
	} else if (link(o->tmp.data, o->path) == 0) {
		unlink(o->tmp.data);
	} else if (errno == EEXIST) {
		info->failure = EXPORT_EXISTS;
		snprintf(err, errlen, "%s appeared meanwhile", o->path);
		goto failed;
	} else {
		/* a file system without hard links: check, then rename */
		struct stat st;
		if (lstat(o->path, &st) == 0) {
			info->failure = EXPORT_EXISTS;
			snprintf(err, errlen, "%s exists", o->path);
			goto failed;
		}
		if (rename(o->tmp.data, o->path) != 0) {
			snprintf(err, errlen, "cannot move the file to %s: %s", o->path, strerror(errno));
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
	X_PROGRAM_NAME,
	X_KIND
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
	{"券种", K_TEXT, X_KIND, 8},
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
	case X_RUN_STATUS: return export_run_status_zh(PQgetvalue(e->head, 0, H_STATUS));
	case X_PROGRAM_NAME: return program_name_zh(e->prog);
	case X_KIND: return voucher_kind_zh((voucher_kind_t)e->prog->kind);
	case X_STATUS_ZH: return export_line_status_zh(PQgetvalue(r, row, L_STATUS));
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
	if (money_parse_i64(PQgetvalue(r, row, L_PAYABLE), &fen))
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
	if (money_parse_i64(PQgetvalue(e->head, 0, H_TOTAL_PAYABLE), &pay) &&
	    money_parse_i64(PQgetvalue(e->head, 0, H_TOTAL_RECOVERED), &rec) && pay == e->sum_payable &&
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
	PGresult *d = db_query_msg(e->c, sql_lines, 1, p, e->err, sizeof e->err);
	if (!d)
		return false;
	PQclear(d);
	for (;;) {
		PGresult *r = db_query_msg(e->c, "FETCH 2000 FROM export_lines", 0, NULL, e->err, sizeof e->err);
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
	PGresult *cl = db_query_msg(e->c, "CLOSE export_lines", 0, NULL, e->err, sizeof e->err);
	PQclear(cl);
	return cl != NULL;
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
			if (!money_parse_i64(PQgetvalue(r, row, col->src), &fen)) {
				snprintf(e->err, sizeof e->err, "line %s: %s is not an amount",
					 PQgetvalue(r, row, L_USCC), col->head);
				return false;
			}
			char y[32];
			money_format_yuan(fen, y, sizeof y);
			buf_puts(&e->out, y); /* a number: never altered */
		} else {
			csv_put_field(&e->out, line_cell(e, r, row, col->src), true);
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
		csv_put_field(&e->out, exp_cols[i].head, true);
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
			if (!money_parse_i64(PQgetvalue(r, row, col->src), &fen)) {
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
		db_query_msg(e->c,
			     "SELECT division, count(*), coalesce(sum(payable) FILTER (WHERE payable > 0), 0)::bigint, "
			     "  coalesce(sum(payable) FILTER (WHERE payable < 0), 0)::bigint, "
			     "  count(*) FILTER (WHERE status = 'withheld') "
			     "FROM audit.run_lines WHERE run_id = $1::bigint GROUP BY division ORDER BY division",
			     1, p, e->err, sizeof e->err);
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
	snprintf(status, sizeof status, "%s (%s)", export_run_status_zh(PQgetvalue(h, 0, H_STATUS)),
		 PQgetvalue(h, 0, H_STATUS));
	const char *payee = e->prog->payee_provider ? "兑付：拨付给服务商 (payee provider)"
						    : "后补助：拨付给企业 (payee enterprise)";
	const struct {
		const char *key, *val;
		lxw_format *f;
	} kv[] = {
		{"结算批次", PQgetvalue(h, 0, H_RUN), NULL},
		{"项目", program_name_zh(e->prog), NULL},
		{"券种", voucher_kind_zh((voucher_kind_t)e->prog->kind), NULL},
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
		if (!money_parse_i64(PQgetvalue(d, i, 1), &n) || !money_parse_i64(PQgetvalue(d, i, 2), &pay) ||
		    !money_parse_i64(PQgetvalue(d, i, 3), &rec) || !money_parse_i64(PQgetvalue(d, i, 4), &held) ||
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

/* ------------------------------------------------------------------ the export */

static void info_fill(export_info_t *info, const PGresult *h, const program_t *prog)
{
	snprintf(info->run_status, sizeof info->run_status, "%s", PQgetvalue(h, 0, H_STATUS));
	snprintf(info->program, sizeof info->program, "%s", PQgetvalue(h, 0, H_PROGRAM));
	snprintf(info->program_name, sizeof info->program_name, "%s", program_name_zh(prog));
	snprintf(info->period, sizeof info->period, "%s", PQgetvalue(h, 0, H_PERIOD));
	info->payee_provider = prog->payee_provider;
	if (!money_parse_i64(PQgetvalue(h, 0, H_TOTAL_PAYABLE), &info->total_payable) ||
	    !money_parse_i64(PQgetvalue(h, 0, H_TOTAL_RECOVERED), &info->total_recovered))
		info->total_payable = info->total_recovered = 0;
}

bool export_run(PGconn *c, int64_t run, export_format_t f, const char *path, const export_opts_t *opts,
		export_info_t *info, char *err, size_t errlen)
{
	export_opts_t no_opts = {.replace = false, .private_file = false, .timezone = NULL};
	export_info_t scratch_info;
	if (!opts)
		opts = &no_opts;
	if (!info)
		info = &scratch_info;
	memset(info, 0, sizeof *info);
	info->failure = EXPORT_FAILED;
	err[0] = '\0';
	if (!export_available(f)) {
		snprintf(err, errlen,
			 "this program was built without libxlsxwriter: install libxlsxwriter-dev and "
			 "rebuild, or export csv");
		return false;
	}
	if (run <= 0) {
		info->failure = EXPORT_NO_RUN;
		snprintf(err, errlen, "there is no run %" PRId64, run);
		return false;
	}
	if (PQtransactionStatus(c) != PQTRANS_IDLE) {
		snprintf(err, errlen, "the connection is busy (in a transaction)");
		return false;
	}
	char run_id[24];
	snprintf(run_id, sizeof run_id, "%" PRId64, run);
	exporter_t e;
	memset(&e, 0, sizeof e);
	e.c = c;
	e.run_id = run_id;
	e.fd = -1;
	program_t *prog = xcalloc(1, sizeof *prog);
	PGresult *h = NULL;
	outfile_t of = {.path = NULL, .tmp = BUF_INIT, .fd = -1, .replace = false};
	bool in_tx = false, opened = false, ok = false;

	/* one snapshot for the header, the totals and every line */
	if (!db_command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err, errlen))
		goto failed;
	in_tx = true;
	if (opts->timezone) {
		const char *tz[] = {opts->timezone};
		PGresult *t = db_query_msg(c, "SELECT set_config('TimeZone', $1, true)", 1, tz, err, errlen);
		if (!t)
			goto failed;
		PQclear(t);
	}
	const char *p[] = {run_id};
	h = db_query_msg(c, sql_header, 1, p, err, errlen);
	if (!h)
		goto failed;
	if (PQntuples(h) == 0) {
		info->failure = EXPORT_NO_RUN;
		snprintf(err, errlen, "there is no run %s", run_id);
		goto failed;
	}
	char perr[256];
	if (!program_parse(PQgetvalue(h, 0, H_TEXT), (size_t)PQgetlength(h, 0, H_TEXT), prog, perr, sizeof perr)) {
		snprintf(err, errlen, "the stored programme version does not parse: %s", perr);
		goto failed;
	}
	e.head = h;
	e.prog = prog;
	info_fill(info, h, prog);
	if (!outfile_open(&of, path, opts, info, err, errlen))
		goto failed;
	opened = true;
	e.fd = of.fd;
	bool written;
#if HAVE_XLSX
	written = f == EXPORT_XLSX ? export_xlsx(&e, of.tmp.data) : export_csv(&e);
#else
	written = export_csv(&e);
#endif
	if (!written) {
		snprintf(err, errlen, "%s", e.err[0] ? e.err : "writing the file failed");
		goto failed;
	}
	db_rollback(c); /* read only: nothing to commit */
	in_tx = false;
	opened = false;
	if (!outfile_commit(&of, info, err, errlen))
		goto failed;
	info->lines = e.nlines;
	info->failure = 0;
	ok = true;
failed:
	if (opened)
		outfile_abort(&of);
	if (in_tx)
		db_rollback(c);
	PQclear(h);
	buf_free(&e.out);
	buf_free(&e.scratch);
	free(prog);
	return ok;
}
