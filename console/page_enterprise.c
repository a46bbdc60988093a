/* The enterprises: search (/enterprises?q=), and one enterprise's page
 * (/enterprises/<uscc>?year=&program=): its registry history, its statement
 * for a year (settlement/statement.c, what voucherctl statement prints,
 * printable), and the audit trace (audit/trace.c, what voucherctl audit trace
 * shows: grants, the ledger entries that posted them, the records and the
 * signed batches they came in).  Everything is read from the audit views on
 * the person's own connection: finance staff and auditors see the same.
 * Names of enterprises are untrusted text: always through %s. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/trace.h"
#include "common/money.h"
#include "console/console.h"
#include "console/html.h"
#include "settlement/statement.h"

#define MAX_SEARCH_ROWS 200
#define MAX_QUERY_BYTES 100
/* rows of a table shown on the page; the rest is said, not shown */
#define MAX_TABLE_ROWS 5000

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static int64_t i64_or_0(const char *s)
{
	int64_t v = 0;
	if (s && !money_parse_i64(s, &v))
		abort(); /* the database returned something that is not an integer where the view says bigint */
	return v;
}

/* Whether s is valid UTF-8 without control characters (a search term). */
static bool text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned char c = *p;
		size_t len = c < 0x80                   ? 1
			     : (c >= 0xC2 && c <= 0xDF) ? 2
			     : (c >= 0xE0 && c <= 0xEF) ? 3
			     : (c >= 0xF0 && c <= 0xF4) ? 4
							: 0;
		if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7F)))
			return false;
		for (size_t i = 1; i < len; i++)
			if ((p[i] & 0xC0) != 0x80)
				return false;
		if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
		    (c == 0xF4 && p[1] > 0x8F))
			return false; /* overlong, surrogate, beyond U+10FFFF */
		p += len;
	}
	return true;
}

/* An ILIKE pattern that matches s anywhere, its own % _ and \ escaped (the
 * query says ESCAPE '\'). */
static void like_pattern(const char *s, buf_t *out)
{
	buf_putc(out, '%');
	for (const char *p = s; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			buf_putc(out, '\\');
		buf_putc(out, *p);
	}
	buf_putc(out, '%');
}

/* 18 characters of 0-9 A-Z: the shape of a unified social credit code. */
static bool uscc_shape(const char *s)
{
	if (strlen(s) != 18)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

/* A district: "330402 南湖区" when the table knows the name, else the code. */
static void division_cell(req_t *r, const char *code)
{
	const char *zh = zh_division(code);
	if (zh && strcmp(zh, code))
		H(&r->out, "%s %s", code, zh);
	else
		H(&r->out, "%s", code);
}

/* "2026-03-10 10:00:00" from timestamptz text in China time ("2026-03-10
 * 10:00:00.123+08"); the text as it is when it has another shape. */
static const char *cn_time(const char *ts, char out[20])
{
	if (!ts)
		return "";
	size_t n = strlen(ts);
	if (n >= 22 && ts[10] == ' ' && !strcmp(ts + n - 3, "+08")) {
		memcpy(out, ts, 19);
		out[19] = '\0';
		return out;
	}
	return ts;
}

/* A rate in basis points as a percentage: 5000 -> "50%", 4050 -> "40.5%". */
static const char *rate_pct(const char *bp_text, char out[24])
{
	int64_t bp;
	if (!bp_text || !money_parse_i64(bp_text, &bp))
		return "";
	if (bp % 100 == 0)
		snprintf(out, 24, "%" PRId64 "%%", bp / 100);
	else if (bp % 10 == 0)
		snprintf(out, 24, "%" PRId64 ".%" PRId64 "%%", bp / 100, bp % 100 / 10);
	else
		snprintf(out, 24, "%" PRId64 ".%02" PRId64 "%%", bp / 100, bp % 100);
	return out;
}

static const char *category_zh(const char *c)
{
	static const char *const map[][2] = {
		{"intelligent_compute", "智算"},
		{"supercomputing", "超算"},
		{"general_compute", "通算"},
		{"model_service", "模型服务"},
		{"corpus", "语料"},
		{"dataset", "数据集"},
		{"model_purchase", "模型购买"},
		{NULL, NULL},
	};
	for (int i = 0; c && map[i][0]; i++)
		if (!strcmp(map[i][0], c))
			return map[i][1];
	return or_empty(c);
}

static const char *payee_zh(const char *p)
{
	return p && !strncmp(p, "provider", 8) ? "服务商（兑付）" : "企业（后补助）";
}

static const char *yes_no(const char *b)
{
	return b && b[0] == 't' ? "是" : "否";
}

/* Today's year in China time (UTC+8). */
static int year_now(void)
{
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm;
	gmtime_r(&t, &tm);
	return tm.tm_year + 1900;
}

/* ------------------------------------------------------------------ search */

void page_enterprises(req_t *r)
{
	const char *q = or_empty(req_param(r, "q"));
	while (*q == ' ')
		q++;
	if (strlen(q) > MAX_QUERY_BYTES || !text_ok(q)) {
		reply_error(r, 400, "搜索词过长或含有不可识别的字符（最多 100 字节）。", NULL);
		return;
	}
	buf_t pat = BUF_INIT, err = BUF_INIT;
	like_pattern(q, &pat);
	const char *p[] = {q, pat.data};
	/* the version of each enterprise in force today (China time), the
	 * newest import of it deciding, as the statement's heading reads it */
	PGresult *res = req_query(
		r,
		"SELECT uscc, name, division, valid_from::text, credit_blacklisted, coalesce(performance_grade, '') "
		"FROM (SELECT DISTINCT ON (v.uscc) v.uscc, v.name, v.division, v.valid_from, v.credit_blacklisted, "
		"  v.performance_grade FROM audit.enterprise_versions v "
		"  ORDER BY v.uscc, (v.valid_from <= (now() AT TIME ZONE 'Asia/Shanghai')::date) DESC, "
		"  CASE WHEN v.valid_from <= (now() AT TIME ZONE 'Asia/Shanghai')::date THEN v.valid_from END DESC, "
		"  v.valid_from, v.imported_at DESC, v.id DESC) cur "
		"WHERE $1 = '' OR name ILIKE $2 ESCAPE '\\' OR uscc ILIKE $2 ESCAPE '\\' "
		"ORDER BY uscc LIMIT 201",
		2, p, &err);
	buf_free(&pat);
	if (!res) {
		reply_refused(r, "企业", err.data, "/enterprises");
		buf_free(&err);
		return;
	}
	page_begin(r, "企业");
	H(&r->out,
	  "<form method=\"get\" action=\"/enterprises\" class=\"filters\">\n"
	  "<label>企业名称或统一社会信用代码 <input name=\"q\" id=\"q\" value=\"%a\" maxlength=\"100\" size=\"40\">"
	  "</label>\n<button type=\"submit\" id=\"search\">搜索</button></form>\n",
	  q);
	int n = PQntuples(res), shown = n > MAX_SEARCH_ROWS ? MAX_SEARCH_ROWS : n;
	if (n == 0) {
		H(&r->out, "<p id=\"empty\">没有符合条件的企业。</p>\n");
	} else {
		H(&r->out, "<table id=\"enterprises\">\n<tr><th>统一社会信用代码</th><th>企业名称</th><th>区县</th>"
			   "<th>登记生效日</th><th>信用</th></tr>\n");
		for (int i = 0; i < shown; i++) {
			const char *u = PQgetvalue(res, i, 0), *grade = PQgetvalue(res, i, 5);
			H(&r->out, "<tr><td><a href=\"/enterprises/%u\">%s</a></td><td>%s</td><td>", u, u,
			  PQgetvalue(res, i, 1));
			division_cell(r, PQgetvalue(res, i, 2));
			H(&r->out, "</td><td>%s</td><td>%s%s%s</td></tr>\n", PQgetvalue(res, i, 3),
			  PQgetvalue(res, i, 4)[0] == 't' ? "严重失信 " : "", *grade ? "绩效评价 " : "", grade);
		}
		H(&r->out, "</table>\n");
		if (n > MAX_SEARCH_ROWS)
			H(&r->out, "<p id=\"more\">只显示前 %d 家，请输入更具体的名称或代码。</p>\n", MAX_SEARCH_ROWS);
		else
			H(&r->out, "<p id=\"found\">共 %d 家。</p>\n", n);
	}
	page_end(r);
	reply_html(r, 200);
	PQclear(res);
	buf_free(&err);
}

/* ------------------------------------------------------------------ one enterprise */

static void registry_history(req_t *r, PGresult *h)
{
	static const char *const flags[] = {"中小企业",   "模型开发者", "MaaS 构建者",
					    "模型已备案", "基础大模型", "严重失信"};
	H(&r->out, "<h2>登记信息（每次导入）</h2>\n<table id=\"registry\">\n<tr><th>生效日期</th><th>企业名称</th>"
		   "<th>区县</th><th>标记</th><th>导入时间（北京时间）</th><th>导入人</th><th>补录</th></tr>\n");
	for (int i = 0; i < PQntuples(h); i++) {
		H(&r->out, "<tr><td>%s</td><td>%s</td><td>", PQgetvalue(h, i, 0), PQgetvalue(h, i, 1));
		division_cell(r, PQgetvalue(h, i, 2));
		H(&r->out, "</td><td>");
		bool any = false;
		for (int f = 0; f < 6; f++) {
			if (PQgetvalue(h, i, 3 + f)[0] != 't')
				continue;
			H(&r->out, "%s%s", any ? "、" : "", flags[f]);
			any = true;
		}
		if (*PQgetvalue(h, i, 9)) {
			H(&r->out, "%s绩效评价 %s", any ? "、" : "", PQgetvalue(h, i, 9));
			any = true;
		}
		if (!any)
			H(&r->out, "—");
		H(&r->out, "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", PQgetvalue(h, i, 10), PQgetvalue(h, i, 11),
		  PQgetvalue(h, i, 12)[0] == 't' ? "是" : "");
	}
	H(&r->out, "</table>\n");
}

/* The year and programme form of the statement (hidden when printed). */
static void statement_form(req_t *r, const char *uscc, const char *year, const char *program, PGresult *progs)
{
	char action[64];
	snprintf(action, sizeof action, "/enterprises/%s", uscc);
	H(&r->out,
	  "<form method=\"get\" action=\"%a\" class=\"filters\" id=\"statement-form\">\n"
	  "<label>年度 <input name=\"year\" id=\"year\" value=\"%a\" size=\"5\" pattern=\"[0-9]{4}\"></label>\n"
	  "<label>项目 <select name=\"program\" id=\"program\"><option value=\"\">全部</option>",
	  action, year);
	for (int i = 0; i < PQntuples(progs); i++) {
		const char *id = PQgetvalue(progs, i, 0);
		if (!strcmp(id, program))
			H(&r->out, "<option value=\"%a\" selected>%s</option>", id, id);
		else
			H(&r->out, "<option value=\"%a\">%s</option>", id, id);
	}
	H(&r->out, "</select></label>\n<button type=\"submit\">查看</button></form>\n");
}

static void statement_grants(req_t *r, const statement_t *st)
{
	const st_table_t *g = &st->grants;
	H(&r->out, "<h3>拨付与追回</h3>\n");
	if (st_rows(g) == 0) {
		H(&r->out, "<p id=\"no-grants\">本年度没有已批准的拨付或追回。</p>\n");
		return;
	}
	H(&r->out, "<table id=\"grants\">\n<tr><th>批次</th><th>项目</th><th>期间</th><th>批准时间（北京时间）</th>"
		   "<th class=\"n\">金额（元）</th><th>类别</th><th>收款方</th><th>批次状态</th><th>已拨付</th>"
		   "<th>拨付时间（北京时间）</th><th>支付凭证</th></tr>\n");
	int64_t total = 0;
	for (int i = 0; i < st_rows(g); i++) {
		char t1[20], t2[20];
		int64_t amount = i64_or_0(st_get(g, i, ST_G_AMOUNT));
		if (!money_add(total, amount, &total))
			total = 0;
		const char *run = st_get(g, i, ST_G_RUN), *name = st_get(g, i, ST_G_PROGRAM_NAME);
		H(&r->out,
		  "<tr><td><a href=\"/runs/%u\">#%s</a></td><td>%s</td><td>%s</td><td>%s</td><td class=\"n\">%Y</td>"
		  "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
		  run, run, name && *name ? name : st_get(g, i, ST_G_PROGRAM), st_get(g, i, ST_G_PERIOD),
		  cn_time(st_get(g, i, ST_G_APPROVED_AT), t1), amount,
		  !strcmp(or_empty(st_get(g, i, ST_G_KIND)), "recovery") ? "追回" : "拨付",
		  payee_zh(st_get(g, i, ST_G_PAYEE)), zh_run_status(or_empty(st_get(g, i, ST_G_RUN_STATUS))),
		  yes_no(st_get(g, i, ST_G_DISBURSED)), cn_time(st_get(g, i, ST_G_DISBURSED_AT), t2),
		  or_empty(st_get(g, i, ST_G_PAYMENT_REF)));
	}
	H(&r->out,
	  "<tr class=\"total\"><td colspan=\"4\">合计</td><td class=\"n\" id=\"grants-total\">%Y</td>"
	  "<td colspan=\"6\"></td></tr>\n</table>\n",
	  total);
}

/* One programme's records (those of subtotal row s) and its subtotal. */
static void statement_programme(req_t *r, const statement_t *st, int s)
{
	const st_table_t *sub = &st->subtotals, *rec = &st->records;
	const char *program = st_get(sub, s, ST_S_PROGRAM), *name = st_get(sub, s, ST_S_PROGRAM_NAME);
	char t[20];
	H(&r->out, "<h3>%s（%s，依据批次 <a href=\"/runs/%u\">#%s</a>，%s，数据截止 %s）</h3>\n",
	  name && *name ? name : program, or_empty(st_get(sub, s, ST_S_KIND)), st_get(sub, s, ST_S_RUN),
	  st_get(sub, s, ST_S_RUN), st_get(sub, s, ST_S_PERIOD), cn_time(st_get(sub, s, ST_S_CUTOFF), t));
	H(&r->out,
	  "<table id=\"records-%d\" class=\"records\">\n<tr><th>日期</th><th>服务商</th><th>记录号</th>"
	  "<th>类别</th><th class=\"n\">金额（元）</th><th class=\"n\">补助比例</th><th class=\"n\">补助（元）</th>"
	  "<th>计入</th><th>不计入原因</th></tr>\n",
	  s + 1);
	int shown = 0, total = 0;
	for (int i = 0; i < st_rows(rec); i++) {
		if (strcmp(or_empty(st_get(rec, i, ST_R_PROGRAM)), or_empty(program)))
			continue;
		total++;
		if (shown >= MAX_TABLE_ROWS)
			continue;
		shown++;
		char pct[24];
		const char *pname = st_get(rec, i, ST_R_PROVIDER_NAME), *adj = st_get(rec, i, ST_R_ADJUSTS),
			   *sub_fen = st_get(rec, i, ST_R_SUBSIDY);
		H(&r->out, "<tr><td>%s</td><td>", st_get(rec, i, ST_R_DATE));
		if (pname && *pname)
			H(&r->out, "%s（%s）", pname, st_get(rec, i, ST_R_PROVIDER));
		else
			H(&r->out, "%s", st_get(rec, i, ST_R_PROVIDER));
		H(&r->out, "</td><td>%s", st_get(rec, i, ST_R_RECORD));
		if (adj)
			H(&r->out, "（调整 %s）", adj);
		H(&r->out, "</td><td>%s</td><td class=\"n\">%Y</td><td class=\"n\">%s",
		  category_zh(st_get(rec, i, ST_R_CATEGORY)), i64_or_0(st_get(rec, i, ST_R_AMOUNT)),
		  rate_pct(st_get(rec, i, ST_R_RATE_BP), pct));
		/* rule 9: a stacked record shows the first programme's rate too */
		if (st_get(rec, i, ST_R_FIRST_PROGRAM))
			H(&r->out, "（叠加 %s %s）", st_get(rec, i, ST_R_FIRST_PROGRAM),
			  rate_pct(st_get(rec, i, ST_R_FIRST_RATE_BP), pct));
		H(&r->out, "</td><td class=\"n\">");
		if (sub_fen)
			H(&r->out, "%Y", i64_or_0(sub_fen));
		H(&r->out, "</td><td>%s</td><td>%s</td></tr>\n", yes_no(st_get(rec, i, ST_R_COUNTED)),
		  st_get(rec, i, ST_R_NOTE));
	}
	H(&r->out, "</table>\n");
	if (shown < total)
		H(&r->out,
		  "<p class=\"detail\">共 %d 条记录，只显示前 %d 条；完整的对账单请用 voucherctl statement。</p>\n",
		  total, shown);
	bool agrees = or_empty(st_get(sub, s, ST_S_AGREES))[0] == 't';
	H(&r->out,
	  "<table id=\"subtotal-%d\" class=\"subtotal\">\n<tr><th>记录数</th><th class=\"n\">金额合计（元）</th>"
	  "<th class=\"n\">计入金额（元）</th><th class=\"n\">年度累计合格金额（元）</th><th class=\"n\">补助合计（元）</th>"
	  "<th class=\"n\">年度累计应补（元）</th><th class=\"n\">年度上限（元）</th><th class=\"n\">本年已拨（元）</th>"
	  "<th>与批次一致</th><th>状态</th><th>备注</th></tr>\n"
	  "<tr class=\"total\"><td>%s</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td>"
	  "<td class=\"n\">%Y</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td><td>%s</td>"
	  "<td>%s</td><td>%s</td></tr>\n</table>\n",
	  s + 1, st_get(sub, s, ST_S_RECORDS), i64_or_0(st_get(sub, s, ST_S_AMOUNT)),
	  i64_or_0(st_get(sub, s, ST_S_COUNTED)), i64_or_0(st_get(sub, s, ST_S_ELIGIBLE)),
	  i64_or_0(st_get(sub, s, ST_S_SUBSIDY)), i64_or_0(st_get(sub, s, ST_S_ENTITLEMENT)),
	  i64_or_0(st_get(sub, s, ST_S_CAP)), i64_or_0(st_get(sub, s, ST_S_GRANTED)), agrees ? "是" : "否",
	  zh_line_status(or_empty(st_get(sub, s, ST_S_LINE_STATUS))), st_get(sub, s, ST_S_LINE_NOTE));
	if (!agrees)
		H(&r->out,
		  "<p class=\"refused\">按记录重算的合格金额或补助与批次不一致：请审计人员核查（voucherctl audit verify）。</p>\n");
}

static void statement_section(req_t *r, const statement_t *st, const char *year, const char *program)
{
	H(&r->out, "<section id=\"statement\">\n<h2>对账单</h2>\n");
	H(&r->out, "<p id=\"statement-head\">企业：%s　统一社会信用代码：%s　区县：",
	  st_get(&st->enterprise, 0, ST_E_NAME), st_get(&st->enterprise, 0, ST_E_USCC));
	division_cell(r, or_empty(st_get(&st->enterprise, 0, ST_E_DIVISION)));
	H(&r->out, "　年度：%s　项目：%s</p>\n", year, *program ? program : "全部");
	statement_grants(r, st);
	H(&r->out, "<h3>用量记录与补助</h3>\n");
	if (st_rows(&st->subtotals) == 0)
		H(&r->out, "<p id=\"no-records\">本年度没有已批准的结算批次包含该企业，没有可列的用量记录。</p>\n");
	for (int s = 0; s < st_rows(&st->subtotals); s++)
		statement_programme(r, st, s);
	H(&r->out, "<p class=\"detail\">每条记录按其所在批次当时的规则判断：批次自身的项目版本，数据截止时的企业登记、"
		   "算力设施、关联方、一事一议与同组项目；补助按比例分组向下取整，尾差按余数从大到小逐分分配。"
		   "打印本页（浏览器的打印功能）即得对账单，打印时不显示导航、表单和审计追溯。</p>\n</section>\n");
}

/* grants -> ledger entries -> records and batches, in China time */
static void trace_section(req_t *r, const char *uscc, const char *year, const char *program)
{
	buf_t err = BUF_INIT;
	char e[600] = "";
	PGresult *g = NULL, *l = NULL, *u = NULL;
	H(&r->out, "<section id=\"trace\" class=\"noprint\">\n<h2>审计追溯</h2>\n");
	PGresult *b = req_query(r, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, &err);
	if (b) {
		PQclear(b);
		b = req_query(r, "SELECT set_config('TimeZone', 'Asia/Shanghai', true)", 0, NULL, &err);
		PGconn *c = b ? req_db(r, &err) : NULL;
		if (c && (g = audit_trace_grants(c, uscc, *program ? program : NULL, year, e, sizeof e)) &&
		    (l = audit_trace_entries(c, uscc, *program ? program : NULL, year, e, sizeof e)))
			u = audit_trace_records(c, uscc, year, e, sizeof e);
		PQclear(b);
		PQclear(req_query(r, "ROLLBACK", 0, NULL, &err));
	}
	if (!u) {
		H(&r->out, "<p class=\"refused\">审计追溯无法读取：%s%s</p>\n</section>\n", e, or_empty(err.data));
		PQclear(g);
		PQclear(l);
		buf_free(&err);
		return;
	}
	char t[20];
	H(&r->out,
	  "<h3>拨付记账</h3>\n<table id=\"trace-grants\">\n<tr><th>批次</th><th>项目</th><th>期间</th>"
	  "<th>状态</th><th>批准人</th><th>项目版本</th><th class=\"n\">金额（元）</th><th>总账分录</th></tr>\n");
	for (int i = 0; i < PQntuples(g); i++) {
		const char *run = PQgetvalue(g, i, TRACE_G_RUN);
		char version[13];
		snprintf(version, sizeof version, "%s", PQgetvalue(g, i, TRACE_G_VERSION));
		H(&r->out,
		  "<tr><td><a href=\"/runs/%u\">#%s</a></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
		  "<td class=\"n\">%Y</td><td>%s</td></tr>\n",
		  run, run, PQgetvalue(g, i, TRACE_G_PROGRAM), PQgetvalue(g, i, TRACE_G_PERIOD),
		  zh_run_status(PQgetvalue(g, i, TRACE_G_STATUS)), PQgetvalue(g, i, TRACE_G_APPROVED_BY), version,
		  i64_or_0(PQgetvalue(g, i, TRACE_G_AMOUNT)), PQgetvalue(g, i, TRACE_G_ENTRIES));
	}
	H(&r->out,
	  "</table>\n<h3>总账分录</h3>\n<table id=\"trace-entries\">\n<tr><th>分录</th><th>时间（北京时间）</th>"
	  "<th>借方</th><th>贷方</th><th class=\"n\">金额（元）</th><th>批次</th><th>摘要</th></tr>\n");
	for (int i = 0; i < PQntuples(l); i++)
		H(&r->out,
		  "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"n\">%Y</td><td>#%s</td>"
		  "<td>%s</td></tr>\n",
		  PQgetvalue(l, i, TRACE_L_ENTRY), cn_time(PQgetvalue(l, i, TRACE_L_AT), t),
		  PQgetvalue(l, i, TRACE_L_DEBIT), PQgetvalue(l, i, TRACE_L_CREDIT),
		  i64_or_0(PQgetvalue(l, i, TRACE_L_AMOUNT)), PQgetvalue(l, i, TRACE_L_RUN),
		  PQgetvalue(l, i, TRACE_L_MEMO));
	H(&r->out,
	  "</table>\n<h3>用量记录及其签名批次</h3>\n<table id=\"trace-records\">\n<tr><th>服务商</th>"
	  "<th>记录号</th><th>类别</th><th>结束时间（北京时间）</th><th class=\"n\">金额（元）</th><th>调整</th>"
	  "<th>发票号</th><th>批次号</th><th>到达时间（北京时间）</th><th>密钥</th><th>算法</th><th>批次摘要</th></tr>\n");
	int n = PQntuples(u), shown = n > MAX_TABLE_ROWS ? MAX_TABLE_ROWS : n;
	for (int i = 0; i < shown; i++) {
		char t2[20];
		H(&r->out,
		  "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"n\">%Y</td><td>%s</td><td>%s</td>"
		  "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"detail\">%s</td></tr>\n",
		  PQgetvalue(u, i, TRACE_R_PROVIDER), PQgetvalue(u, i, TRACE_R_RECORD),
		  category_zh(PQgetvalue(u, i, TRACE_R_CATEGORY)), cn_time(PQgetvalue(u, i, TRACE_R_ENDED_AT), t),
		  i64_or_0(PQgetvalue(u, i, TRACE_R_AMOUNT)), PQgetvalue(u, i, TRACE_R_ADJUSTS),
		  PQgetvalue(u, i, TRACE_R_INVOICE), PQgetvalue(u, i, TRACE_R_BATCH),
		  cn_time(PQgetvalue(u, i, TRACE_R_RECEIVED_AT), t2), PQgetvalue(u, i, TRACE_R_KEY),
		  PQgetvalue(u, i, TRACE_R_ALG), PQgetvalue(u, i, TRACE_R_DIGEST));
	}
	H(&r->out, "</table>\n");
	if (shown < n)
		H(&r->out,
		  "<p class=\"detail\">共 %d 条记录，只显示前 %d 条（voucherctl audit trace 列出全部）。</p>\n", n,
		  shown);
	H(&r->out, "<p class=\"detail\">批次的签名与摘要由 voucherctl audit verify 逐一核验。</p>\n</section>\n");
	PQclear(g);
	PQclear(l);
	PQclear(u);
	buf_free(&err);
}

void page_enterprise(req_t *r, const char *uscc)
{
	if (!uscc_shape(uscc)) {
		reply_error(r, 404, "统一社会信用代码格式不正确（18 位数字或大写字母）。", uscc);
		return;
	}
	char year_now_text[16];
	snprintf(year_now_text, sizeof year_now_text, "%d", year_now());
	const char *year = req_param(r, "year"), *program = or_empty(req_param(r, "program"));
	if (!year || !*year)
		year = year_now_text;
	int64_t y;
	if (strlen(year) != 4 || !money_parse_i64(year, &y) || y < 2000 || y > 2100) {
		reply_error(r, 400, "年度须为 2000 至 2100 之间的四位数字。", year);
		return;
	}
	char back[64];
	snprintf(back, sizeof back, "/enterprises/%s", uscc);
	buf_t err = BUF_INIT;
	const char *p[] = {uscc};
	PGresult *progs = req_query(r, "SELECT DISTINCT program FROM audit.program_versions ORDER BY 1", 0, NULL, &err);
	PGresult *h =
		progs ? req_query(r,
				  "SELECT valid_from::text, name, division, sme, model_developer, maas_builder, "
				  "  model_registered, foundation_model, credit_blacklisted, "
				  "  coalesce(performance_grade, ''), "
				  "  to_char(imported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), "
				  "  imported_by, backdated "
				  "FROM audit.enterprise_versions WHERE uscc = $1 ORDER BY valid_from, imported_at, id",
				  1, p, &err)
		      : NULL;
	if (!h) {
		PQclear(progs);
		reply_refused(r, "企业", err.data, "/enterprises");
		buf_free(&err);
		return;
	}
	bool known = !*program;
	for (int i = 0; i < PQntuples(progs); i++)
		known |= !strcmp(PQgetvalue(progs, i, 0), program);
	if (!known || PQntuples(h) == 0) {
		PQclear(progs);
		PQclear(h);
		reply_error(r, 404, !known ? "没有这个项目。" : "该企业未在企业名录中登记。", !known ? program : uscc);
		buf_free(&err);
		return;
	}
	statement_t st;
	memset(&st, 0, sizeof st);
	char serr[600] = "";
	PGconn *c = req_db(r, &err);
	if (!c || !statement_build(c, uscc, year, *program ? program : NULL, "Asia/Shanghai", &st, serr, sizeof serr)) {
		buf_puts(&err, serr);
		statement_free(&st);
		PQclear(progs);
		PQclear(h);
		reply_refused(r, "对账单", err.data, back);
		buf_free(&err);
		return;
	}
	/* the name as registered today: the statement's heading */
	char title[400];
	snprintf(title, sizeof title, "%s", or_empty(st_get(&st.enterprise, 0, ST_E_NAME)));
	page_begin(r, title);
	H(&r->out,
	  "<p class=\"detail\" id=\"uscc\">统一社会信用代码 %s · <a href=\"/enterprises\" class=\"noprint\">返回企业列表</a></p>\n",
	  uscc);
	registry_history(r, h);
	statement_form(r, uscc, year, program, progs);
	statement_section(r, &st, year, program);
	trace_section(r, uscc, year, program);
	page_end(r);
	reply_html(r, 200);
	statement_free(&st);
	PQclear(progs);
	PQclear(h);
	buf_free(&err);
}
