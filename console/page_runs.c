/* The runs: the list, one run's page (totals, lines, filters, paging, the
 * difference from the run before it, history), and the review chain's
 * buttons: 批准, 退回, 作废, 发布公示, 拨付. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/date.h"
#include "common/money.h"
#include "console/console.h"
#include "console/html.h"
#include "settlement/program.h"

#define PAGE_LINES 50

#define SQL_PROGRAM_NAME SQL_PROGRAMME_NAME("v.text", "r.program")

static int64_t cell_i64(PGresult *res, int row, int col)
{
	int64_t v = 0;
	if (!PQgetisnull(res, row, col) && !money_parse_i64(PQgetvalue(res, row, col), &v))
		abort(); /* the database returned something that is not an integer where the view says bigint */
	return v;
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

void page_runs(req_t *r)
{
	const char *program = or_empty(req_param(r, "program")), *year = or_empty(req_param(r, "year")),
		   *status = or_empty(req_param(r, "status"));
	buf_t err = BUF_INIT;
	if (*year && !date_year_valid(year)) {
		reply_error(r, 400, "年度须为 2000 至 2100 之间的四位数字。", year);
		return;
	}
	PGresult *progs = programmes(r, program, "结算批次");
	if (!progs)
		return;
	const char *p[] = {program, year, status};
	PGresult *res =
		req_query(r,
			  "SELECT r.run_id, r.program, " SQL_PROGRAM_NAME ", r.period, r.status, r.prepared_by, "
			  "coalesce(r.approved_by, ''), to_char(r.created_at AT TIME ZONE 'Asia/Shanghai', "
			  "'YYYY-MM-DD HH24:MI'), r.total_payable, r.total_recovered, r.lines "
			  "FROM audit.runs r JOIN audit.program_versions v ON v.version = r.program_version "
			  "WHERE ($1 = '' OR r.program = $1) AND ($2 = '' OR left(r.period, 4) = $2) "
			  "AND ($3 = '' OR r.status = $3) ORDER BY r.run_id DESC LIMIT 500",
			  3, p, &err);
	if (!res) {
		PQclear(progs);
		reply_refused(r, "结算批次", err.data, "/runs");
		buf_free(&err);
		return;
	}
	page_begin(r, "结算批次");
	H(&r->out, "<form method=\"get\" action=\"/runs\" class=\"filters\">\n<label>项目 <select name=\"program\">"
		   "<option value=\"\">全部</option>");
	programme_options(r, progs, program);
	H(&r->out,
	  "</select></label>\n<label>年度 <input name=\"year\" value=\"%a\" size=\"5\" pattern=\"[0-9]{4}\">"
	  "</label>\n<label>状态 <select name=\"status\"><option value=\"\">全部</option>",
	  year);
	static const char *const statuses[] = {"draft",    "approved",  "published",  "disbursed",
					       "returned", "discarded", "superseded", NULL};
	for (int i = 0; statuses[i]; i++) {
		if (!strcmp(statuses[i], status))
			H(&r->out, "<option value=\"%a\" selected>%s</option>", statuses[i],
			  zh_run_status(statuses[i]));
		else
			H(&r->out, "<option value=\"%a\">%s</option>", statuses[i], zh_run_status(statuses[i]));
	}
	H(&r->out, "</select></label>\n<button type=\"submit\">筛选</button></form>\n");
	H(&r->out, "<table id=\"runs\">\n<tr><th>批次</th><th>项目</th><th>期间</th><th>状态</th><th>编制人</th>"
		   "<th>批准人</th><th>编制时间（北京时间）</th><th class=\"n\">本次拨付（元）</th>"
		   "<th class=\"n\">追回（元）</th><th class=\"n\">行数</th></tr>\n");
	for (int i = 0; i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0), *st = PQgetvalue(res, i, 4);
		H(&r->out,
		  "<tr><td><a href=\"/runs/%u\">#%s</a></td><td>%s</td><td>%s</td><td class=\"status-%a\">%s</td>"
		  "<td>%s</td><td>%s</td><td>%s</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td>"
		  "<td class=\"n\">%D</td></tr>\n",
		  id, id, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), st, zh_run_status(st), PQgetvalue(res, i, 5),
		  PQgetvalue(res, i, 6), PQgetvalue(res, i, 7), cell_i64(res, i, 8), cell_i64(res, i, 9),
		  cell_i64(res, i, 10));
	}
	H(&r->out, "</table>\n");
	if (PQntuples(res) == 0)
		H(&r->out,
		  "<p id=\"empty\">没有符合条件的批次。结算用 <code>voucherctl settle</code> 生成草稿。</p>\n");
	page_end(r);
	reply_html(r, 200);
	PQclear(res);
	PQclear(progs);
	buf_free(&err);
}

/* ------------------------------------------------------------------ one run */

static const char *const done_words[][2] = {
	{"approve", "已批准：本批次的补助已记入总账。"},
	{"return", "已退回编制人。"},
	{"discard", "已作废。"},
	{"publish", "已发布公示：公示期为 5 个工作日，公示页可对外公开。"},
	{"disburse", "已记录拨付。"},
	{"objection", "异议已登记：该行在异议处理前暂缓拨付。"},
	{"resolve", "异议已处理。"},
	{NULL, NULL},
};

static void run_actions(req_t *r, int64_t run, const char *status, const char *notice_ends, bool notice_over)
{
	char action[64];
	if (!r->s->finance)
		return;
	H(&r->out, "<h2>审核</h2>\n<div class=\"box noprint\" id=\"actions\">\n");
	if (!strcmp(status, "draft")) {
		snprintf(action, sizeof action, "/runs/%" PRId64 "/approve", run);
		form_begin(r, action, "inline");
		H(&r->out,
		  "<label>审核意见（可选）<textarea name=\"comment\" id=\"approve-comment\" maxlength=\"2000\">"
		  "</textarea></label>\n<button type=\"submit\" id=\"approve\">批准</button>\n</form>\n");
		snprintf(action, sizeof action, "/runs/%" PRId64 "/return", run);
		form_begin(r, action, "inline");
		H(&r->out, "<label>退回意见（必填）<textarea name=\"comment\" id=\"return-comment\" required "
			   "maxlength=\"2000\"></textarea></label>\n"
			   "<button type=\"submit\" id=\"return\" class=\"second\">退回</button>\n</form>\n");
		snprintf(action, sizeof action, "/runs/%" PRId64 "/discard", run);
		form_begin(r, action, "inline");
		H(&r->out, "<input type=\"hidden\" name=\"confirm\" value=\"yes\">"
			   "<button type=\"submit\" id=\"discard\" class=\"second\">作废</button>\n</form>\n");
		H(&r->out,
		  "<p class=\"detail\">批准须由编制人以外的财务人员进行；批准后补助记入总账，批次不可再改。</p>\n");
	} else if (!strcmp(status, "approved")) {
		snprintf(action, sizeof action, "/runs/%" PRId64 "/publish", run);
		form_begin(r, action, "inline");
		H(&r->out, "<button type=\"submit\" id=\"publish\">发布公示</button>\n</form>\n"
			   "<p class=\"detail\">发布后公示 5 个工作日；期满后方可拨付。</p>\n");
	} else if (!strcmp(status, "published") || !strcmp(status, "disbursed")) {
		H(&r->out, "<p>公示页：<a href=\"/notice/%D\" id=\"notice-link\">/notice/%D</a>（公示期至 %s）</p>\n",
		  run, run, notice_ends);
		snprintf(action, sizeof action, "/runs/%" PRId64 "/disburse", run);
		form_begin(r, action, "inline");
		H(&r->out,
		  "<label>拨付凭证号 <input name=\"ref\" id=\"payment-ref\" required maxlength=\"200\"></label>\n"
		  "<button type=\"submit\" id=\"disburse\">拨付</button>\n</form>\n");
		if (!notice_over)
			H(&r->out, "<p class=\"detail\">公示期未满，拨付会被拒绝。</p>\n");
	} else {
		H(&r->out, "<p>本批次已结束（%s），无可执行的操作。</p>\n", zh_run_status(status));
	}
	H(&r->out, "</div>\n");
}

/* A run's net payable: its payables plus its recoveries (stored negative;
 * voucher.run_store checks both against the lines). */
static int64_t run_net(PGresult *res, int row, int col_payable, int col_recovered)
{
	int64_t net;
	if (!money_add(cell_i64(res, row, col_payable), cell_i64(res, row, col_recovered), &net))
		abort(); /* run_store bounds every amount far below this */
	return net;
}

/* The lines that differ from the previous run of the same programme and
 * month (the draft it replaced, or the approved run before it).  Comparing
 * two runs line by line reads both whole (about 140 ms for two runs of
 * 100,000 lines): beyond DIFF_INLINE_LINES lines in all it is shown on
 * request (?diff=1), and the page says what the two runs' stored totals say
 * (the net change is the same sum the line-by-line table gives). */
#define DIFF_INLINE_LINES 40000
static void run_diff(req_t *r, int64_t run, const char *program, const char *period, int64_t lines, int64_t net)
{
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, run);
	const char *p[] = {program, period, id};
	buf_t err = BUF_INIT;
	PGresult *prev = req_query(r,
				   "SELECT run_id, status, lines, total_payable, total_recovered FROM audit.runs "
				   "WHERE program = $1 AND period = $2 "
				   "AND run_id < $3::bigint AND status <> 'discarded' ORDER BY run_id DESC LIMIT 1",
				   3, p, &err);
	H(&r->out, "<h2>与上一批次的差异</h2>\n");
	if (!prev || PQntuples(prev) == 0) {
		H(&r->out, "<p id=\"diff\">本月没有更早的批次。</p>\n");
		PQclear(prev);
		buf_free(&err);
		return;
	}
	const char *prev_id = PQgetvalue(prev, 0, 0);
	int64_t prev_lines = cell_i64(prev, 0, 2), prev_net = run_net(prev, 0, 3, 4), change;
	if (lines + prev_lines > DIFF_INLINE_LINES && !req_param(r, "diff")) {
		if (!money_sub(net, prev_net, &change))
			abort(); /* both are sums of bounded amounts */
		H(&r->out,
		  "<p id=\"diff\">与批次 <a href=\"/runs/%u\">#%s</a>（%s）相比：上一批次 %D 行，本次拨付净额 %Y 元；"
		  "本批次 %D 行，%Y 元；本次拨付合计变化 %Y 元。</p>\n"
		  "<p class=\"noprint\">两批次共 %D 行，逐行比较需读取全部明细："
		  "<a href=\"/runs/%u?diff=1#diff\" id=\"diff-show\">逐行比较</a></p>\n",
		  prev_id, prev_id, zh_run_status(PQgetvalue(prev, 0, 1)), prev_lines, prev_net, lines, net, change,
		  lines + prev_lines, id);
		PQclear(prev);
		buf_free(&err);
		return;
	}
	const char *q[] = {id, prev_id};
	PGresult *d = req_query(
		r,
		"WITH a AS (SELECT uscc, enterprise, payable, status FROM audit.run_lines WHERE run_id = $1::bigint), "
		"b AS (SELECT uscc, enterprise, payable, status FROM audit.run_lines WHERE run_id = $2::bigint), "
		"d AS (SELECT coalesce(a.uscc, b.uscc) AS uscc, coalesce(a.enterprise, b.enterprise) AS enterprise, "
		"  coalesce(b.payable, 0) AS old, coalesce(a.payable, 0) AS new, "
		"  CASE WHEN b.uscc IS NULL THEN 'added' WHEN a.uscc IS NULL THEN 'removed' ELSE 'changed' END AS kind "
		"  FROM a FULL JOIN b ON a.uscc = b.uscc "
		"  WHERE a.uscc IS NULL OR b.uscc IS NULL OR a.payable <> b.payable OR a.status <> b.status) "
		"SELECT uscc, enterprise, old, new, kind, count(*) OVER (), sum(new - old) OVER () FROM d "
		"ORDER BY abs(new - old) DESC, uscc LIMIT 100",
		2, q, &err);
	if (!d) {
		H(&r->out, "<p class=\"refused\">%s</p>\n", err.data);
	} else if (PQntuples(d) == 0) {
		H(&r->out, "<p id=\"diff\">与批次 <a href=\"/runs/%u\">#%s</a>（%s）相比没有变化。</p>\n", prev_id,
		  prev_id, zh_run_status(PQgetvalue(prev, 0, 1)));
	} else {
		H(&r->out,
		  "<p id=\"diff\">与批次 <a href=\"/runs/%u\">#%s</a>（%s）相比，%D 家企业有变化，本次拨付合计变化 %Y 元"
		  "（按变化额列出前 100 家）。</p>\n",
		  prev_id, prev_id, zh_run_status(PQgetvalue(prev, 0, 1)), cell_i64(d, 0, 5), cell_i64(d, 0, 6));
		H(&r->out,
		  "<table id=\"diff-lines\"><tr><th>统一社会信用代码</th><th>企业名称</th><th>变化</th>"
		  "<th class=\"n\">上一批次（元）</th><th class=\"n\">本批次（元）</th><th class=\"n\">差额（元）</th></tr>\n");
		for (int i = 0; i < PQntuples(d); i++) {
			const char *kind = PQgetvalue(d, i, 4);
			int64_t o = cell_i64(d, i, 2), n = cell_i64(d, i, 3), delta;
			if (!money_sub(n, o, &delta))
				delta = 0;
			H(&r->out,
			  "<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td>"
			  "<td class=\"n\">%Y</td></tr>\n",
			  PQgetvalue(d, i, 0), PQgetvalue(d, i, 1),
			  !strcmp(kind, "added")     ? "新增"
			  : !strcmp(kind, "removed") ? "移除"
						     : "金额或状态变化",
			  o, n, delta);
		}
		H(&r->out, "</table>\n");
	}
	PQclear(d);
	PQclear(prev);
	buf_free(&err);
}

static void run_history(req_t *r, int64_t run)
{
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, run);
	const char *p[] = {id};
	buf_t err = BUF_INIT;
	PGresult *h =
		req_query(r,
			  "SELECT e, to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), by_user, txt "
			  "FROM (SELECT event AS e, at, by_user, coalesce(comment, payment_ref, "
			  "        'notice until ' || notice_ends::text, '') AS txt FROM audit.run_events "
			  "      WHERE run_id = $1::bigint "
			  "      UNION ALL SELECT 'refused', at, by_user, reason FROM audit.approval_refusals "
			  "      WHERE run_id = $1::bigint) x ORDER BY at",
			  1, p, &err);
	H(&r->out, "<h2>审核记录</h2>\n");
	if (!h) {
		H(&r->out, "<p class=\"refused\">%s</p>\n", err.data);
		buf_free(&err);
		return;
	}
	H(&r->out,
	  "<table id=\"history\"><tr><th>事项</th><th>时间（北京时间）</th><th>人员</th><th>意见或说明</th></tr>\n");
	for (int i = 0; i < PQntuples(h); i++) {
		const char *e = PQgetvalue(h, i, 0);
		const char *zh = !strcmp(e, "approved")     ? "批准"
				 : !strcmp(e, "published")  ? "发布公示"
				 : !strcmp(e, "disbursed")  ? "拨付"
				 : !strcmp(e, "returned")   ? "退回"
				 : !strcmp(e, "discarded")  ? "作废"
				 : !strcmp(e, "superseded") ? "被新草稿替代"
				 : !strcmp(e, "refused")    ? "批准被拒绝"
							    : e;
		H(&r->out, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", zh, PQgetvalue(h, i, 1),
		  PQgetvalue(h, i, 2), PQgetvalue(h, i, 3));
	}
	H(&r->out, "</table>\n");
	PQclear(h);
	buf_free(&err);
}

void page_run(req_t *r, int64_t run)
{
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, run);
	const char *district = or_empty(req_param(r, "district")), *lstatus = or_empty(req_param(r, "status"));
	int64_t page = 1;
	if (req_param(r, "page") && (!parse_id(req_param(r, "page"), &page) || page > 100000)) {
		reply_error(r, 400, "页码须为正整数。", req_param(r, "page"));
		return;
	}
	buf_t err = BUF_INIT;
	const char *p1[] = {id};
	PGresult *hd = req_query(r,
				 "SELECT r.program, " SQL_PROGRAM_NAME ", r.period, r.status, r.prepared_by, "
				 "coalesce(r.approved_by, ''), r.program_version, "
				 "to_char(r.data_cutoff AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), "
				 "r.total_payable, r.total_recovered, r.total_asked, r.pool_left_fen, r.lines, "
				 "coalesce(r.notice_ends::text, ''), "
				 "coalesce(r.notice_ends < (now() AT TIME ZONE 'Asia/Shanghai')::date, false), "
				 "coalesce(substring(v.text from '(?n)^kind[ \\t]*=[ \\t]*([a-z]+)'), 'compute') "
				 "FROM audit.runs r JOIN audit.program_versions v ON v.version = r.program_version "
				 "WHERE r.run_id = $1::bigint",
				 1, p1, &err);
	if (!hd) {
		reply_refused(r, "结算批次", err.data, "/runs");
		buf_free(&err);
		return;
	}
	if (PQntuples(hd) == 0) {
		PQclear(hd);
		reply_error(r, 404, "没有这个批次。", id);
		return;
	}
	const char *program = PQgetvalue(hd, 0, 0), *period = PQgetvalue(hd, 0, 2), *status = PQgetvalue(hd, 0, 3);
	char title[256];
	snprintf(title, sizeof title, "%s %s 结算批次 #%s", PQgetvalue(hd, 0, 1), period, id);
	char offset[24];
	snprintf(offset, sizeof offset, "%" PRId64, (page - 1) * PAGE_LINES);
	/* The page's first credit code is found by skipping OFFSET entries of
	 * an index alone (the primary key (run_id, uscc), or the division and
	 * status indexes of sql/008_console.sql, which end in uscc: an
	 * index-only scan), then its 51 lines are read: page 1000 of a run of
	 * 100,000 lines reads 51 lines, not 50,000. */
	const char *p4[] = {id, district, lstatus, offset};
	PGresult *lines =
		req_query(r,
			  "SELECT uscc, enterprise, division, eligible_amount_ytd, entitlement_ytd, cap, "
			  "granted_before, difference, payable, status, note FROM audit.run_lines "
			  "WHERE run_id = $1::bigint AND ($2 = '' OR division = $2) AND ($3 = '' OR status = $3) "
			  "AND uscc >= (SELECT uscc FROM audit.run_lines WHERE run_id = $1::bigint "
			  "  AND ($2 = '' OR division = $2) AND ($3 = '' OR status = $3) "
			  "  ORDER BY uscc LIMIT 1 OFFSET $4::bigint) "
			  "ORDER BY uscc LIMIT 51",
			  4, p4, &err);
	/* the count and sum of the lines shown: the run's own (stored with it,
	 * checked against its lines by voucher.run_store) unless filtered */
	bool filtered = *district || *lstatus;
	const char *p3[] = {id, district, lstatus};
	PGresult *sum = lines && filtered ? req_query(r,
						      "SELECT count(*), coalesce(sum(payable), 0) FROM audit.run_lines "
						      "WHERE run_id = $1::bigint AND ($2 = '' OR division = $2) "
						      "AND ($3 = '' OR status = $3)",
						      3, p3, &err)
					  : NULL;
	PGresult *divs = lines && (sum || !filtered)
				 ? req_query(r,
					     "SELECT division, count(*) FROM audit.run_lines WHERE run_id = $1::bigint "
					     "GROUP BY division ORDER BY division",
					     1, p1, &err)
				 : NULL;
	if (!divs) {
		PQclear(hd);
		PQclear(lines);
		PQclear(sum);
		reply_refused(r, title, err.data, "/runs");
		buf_free(&err);
		return;
	}
	page_begin(r, title);
	const char *done = req_param(r, "done");
	for (int i = 0; done && done_words[i][0]; i++)
		if (!strcmp(done, done_words[i][0]))
			H(&r->out, "<p class=\"ok\" id=\"done\" role=\"status\">%s</p>\n", done_words[i][1]);
	int64_t pool_left = cell_i64(hd, 0, 11);
	H(&r->out,
	  "<div class=\"cards\" id=\"totals\">"
	  "<div class=\"card\"><div class=\"k\">状态</div><div class=\"v status-%a\" id=\"status\">%s</div></div>"
	  "<div class=\"card\"><div class=\"k\">本次拨付合计（元）</div><div class=\"v\" id=\"total-payable\">%Y</div></div>"
	  "<div class=\"card\"><div class=\"k\">追回合计（元）</div><div class=\"v\" id=\"total-recovered\">%Y</div></div>"
	  "<div class=\"card\"><div class=\"k\">按规则应拨（元）</div><div class=\"v\">%Y</div></div>",
	  status, zh_run_status(status), cell_i64(hd, 0, 8), cell_i64(hd, 0, 9), cell_i64(hd, 0, 10));
	if (PQgetisnull(hd, 0, 11))
		H(&r->out,
		  "<div class=\"card\"><div class=\"k\">资金池余额（元）</div><div class=\"v\">不设资金池</div></div>");
	else
		H(&r->out, "<div class=\"card\"><div class=\"k\">资金池余额（元）</div><div class=\"v\">%Y</div></div>",
		  pool_left);
	H(&r->out, "<div class=\"card\"><div class=\"k\">企业行数</div><div class=\"v\">%D</div></div></div>\n",
	  cell_i64(hd, 0, 12));
	int kind = voucher_kind_parse(PQgetvalue(hd, 0, 15));
	H(&r->out,
	  "<p class=\"detail\">项目 %s · 券种 %s · 版本 %s · 编制人 %s · 批准人 %s · 数据截止 %s（北京时间）</p>\n",
	  program, voucher_kind_zh((voucher_kind_t)kind), PQgetvalue(hd, 0, 6), PQgetvalue(hd, 0, 4),
	  *PQgetvalue(hd, 0, 5) ? PQgetvalue(hd, 0, 5) : "—", PQgetvalue(hd, 0, 7));
	H(&r->out,
	  "<p class=\"noprint\">下载：<a href=\"/runs/%u.csv\" id=\"download-csv\">CSV</a> · "
	  "<a href=\"/runs/%u.xlsx\" id=\"download-xlsx\">Excel（XLSX）</a></p>\n",
	  id, id);
	run_actions(r, run, status, PQgetvalue(hd, 0, 13), *PQgetvalue(hd, 0, 14) == 't');

	/* the lines */
	H(&r->out,
	  "<h2>明细</h2>\n<form method=\"get\" action=\"/runs/%a\" class=\"filters\">\n"
	  "<label>区县 <select name=\"district\" id=\"district\"><option value=\"\">全部</option>",
	  id);
	for (int i = 0; i < PQntuples(divs); i++) {
		const char *d = PQgetvalue(divs, i, 0);
		if (!strcmp(d, district))
			H(&r->out, "<option value=\"%a\" selected>%s %s（%s）</option>", d, d, zh_division(d),
			  PQgetvalue(divs, i, 1));
		else
			H(&r->out, "<option value=\"%a\">%s %s（%s）</option>", d, d, zh_division(d),
			  PQgetvalue(divs, i, 1));
	}
	H(&r->out,
	  "</select></label>\n<label>状态 <select name=\"status\" id=\"line-status\"><option value=\"\">全部</option>");
	static const char *const ls[] = {"payable", "recovery", "withheld", "none", NULL};
	for (int i = 0; ls[i]; i++) {
		if (!strcmp(ls[i], lstatus))
			H(&r->out, "<option value=\"%a\" selected>%s</option>", ls[i], zh_line_status(ls[i]));
		else
			H(&r->out, "<option value=\"%a\">%s</option>", ls[i], zh_line_status(ls[i]));
	}
	H(&r->out, "</select></label>\n<button type=\"submit\">筛选</button></form>\n");
	int64_t net = run_net(hd, 0, 8, 9);
	int64_t nfiltered = filtered ? cell_i64(sum, 0, 0) : cell_i64(hd, 0, 12);
	int64_t pages = (nfiltered + PAGE_LINES - 1) / PAGE_LINES;
	H(&r->out, "<p id=\"filtered\">符合条件 %D 行，本次拨付小计 <span id=\"filtered-payable\">%Y</span> 元。</p>\n",
	  nfiltered, filtered ? cell_i64(sum, 0, 1) : net);
	H(&r->out,
	  "<table id=\"lines\">\n<tr><th>统一社会信用代码</th><th>企业名称</th><th>区县</th>"
	  "<th class=\"n\">年度累计合格金额（元）</th><th class=\"n\">年度累计应补（元）</th>"
	  "<th class=\"n\">年度上限（元）</th><th class=\"n\">此前已拨（元）</th><th class=\"n\">差额（元）</th>"
	  "<th class=\"n\">本次拨付（元）</th><th>状态</th><th>备注</th></tr>\n");
	int shown = PQntuples(lines) > PAGE_LINES ? PAGE_LINES : PQntuples(lines);
	for (int i = 0; i < shown; i++) {
		const char *uscc = PQgetvalue(lines, i, 0), *d = PQgetvalue(lines, i, 2);
		H(&r->out,
		  "<tr><td><a href=\"/enterprises/%u\">%s</a></td><td>%s</td><td>%s</td><td class=\"n\">%Y</td>"
		  "<td class=\"n\">%Y</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td>"
		  "<td class=\"n\">%Y</td><td>%s</td><td>%s</td></tr>\n",
		  uscc, uscc, PQgetvalue(lines, i, 1), zh_division(d), cell_i64(lines, i, 3), cell_i64(lines, i, 4),
		  cell_i64(lines, i, 5), cell_i64(lines, i, 6), cell_i64(lines, i, 7), cell_i64(lines, i, 8),
		  zh_line_status(PQgetvalue(lines, i, 9)), PQgetvalue(lines, i, 10));
	}
	H(&r->out, "</table>\n<p class=\"pager\">第 %D / %D 页 ", page, pages ? pages : 1);
	if (page > 1)
		H(&r->out, "<a href=\"/runs/%u?district=%u&amp;status=%u&amp;page=%D\" id=\"prev-page\">上一页</a>", id,
		  district, lstatus, page - 1);
	if (PQntuples(lines) > PAGE_LINES)
		H(&r->out, "<a href=\"/runs/%u?district=%u&amp;status=%u&amp;page=%D\" id=\"next-page\">下一页</a>", id,
		  district, lstatus, page + 1);
	H(&r->out, "</p>\n");
	run_objections(r, run, status);
	run_diff(r, run, program, period, cell_i64(hd, 0, 12), net);
	run_history(r, run);
	page_end(r);
	reply_html(r, 200);
	PQclear(hd);
	PQclear(lines);
	PQclear(sum);
	PQclear(divs);
	buf_free(&err);
}

void do_run_action(req_t *r, int64_t run, const char *action)
{
	char id[24], path[64];
	snprintf(id, sizeof id, "%" PRId64, run);
	buf_t err = BUF_INIT;
	const char *comment = or_empty(req_form(r, "comment"));
	PGresult *res = NULL;
	const char *title = "结算批次";
	const char *done = NULL;
	if (!r->s->finance) {
		reply_error(r, 403, "只有财务人员可以执行此操作。", NULL);
		return;
	}
	if (!strcmp(action, "approve")) {
		title = "批准";
		const char *p[] = {id, comment};
		res = req_query(
			r, "SELECT approved_by, refused FROM voucher.run_approve($1::bigint, NULLIF(btrim($2), ''))", 2,
			p, &err);
		if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
			buf_reset(&err);
			buf_puts(&err, PQgetvalue(res, 0, 1));
			PQclear(res);
			res = NULL;
		}
		done = "approve";
	} else if (!strcmp(action, "return") || !strcmp(action, "discard")) {
		bool ret = !strcmp(action, "return");
		title = ret ? "退回" : "作废";
		const char *p[] = {id, ret ? "returned" : "discarded", comment};
		res = req_query(r, "SELECT voucher.run_end($1::bigint, $2, NULLIF(btrim($3), ''))", 3, p, &err);
		done = action;
	} else if (!strcmp(action, "publish")) {
		title = "发布公示";
		const char *p[] = {id};
		res = req_query(r, "SELECT voucher.run_publish($1::bigint)", 1, p, &err);
		done = "publish";
	} else if (!strcmp(action, "disburse")) {
		title = "拨付";
		const char *p[] = {id, or_empty(req_form(r, "ref"))};
		res = req_query(r, "SELECT voucher.run_disburse($1::bigint, NULLIF(btrim($2), ''))", 2, p, &err);
		done = "disburse";
	} else {
		reply_error(r, 404, "没有这个操作。", action);
		return;
	}
	if (!res) {
		log_action(r, action, run, err.data);
		snprintf(path, sizeof path, "/runs/%" PRId64, run);
		reply_refused(r, title, err.data, path);
		buf_free(&err);
		return;
	}
	PQclear(res);
	buf_free(&err);
	log_action(r, action, run, NULL);
	snprintf(path, sizeof path, "/runs/%" PRId64 "?done=%s", run, done);
	reply_redirect(r, path);
}
