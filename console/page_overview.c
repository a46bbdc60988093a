/* 资金概览: one programme-year's pool, what was granted, paid and recovered,
 * and what is left; by month and by district, as tables and as SVG bar
 * charts (console/chart.h).  For finance and auditors alike: it reads only
 * audit.pool_overview (totals written at approval and disbursement, never
 * usage or lines: 84 + 70 rows for a programme-year) and audit.pools.  Every
 * sum is checked int64 fen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/money.h"
#include "console/chart.h"
#include "common/date.h"
#include "console/console.h"
#include "console/html.h"
#include "console/pages.h"

/* A programme's Chinese name: the `name =` line of its newest version. */

int overview_month(const char *month, const char *year)
{
	if (!month || !year || strlen(year) != 4 || strlen(month) != 7 || strncmp(month, year, 4) || month[4] != '-')
		return 0;
	if (month[5] < '0' || month[5] > '1' || month[6] < '0' || month[6] > '9')
		return 0;
	int m = (month[5] - '0') * 10 + (month[6] - '0');
	return m >= 1 && m <= 12 ? m : 0;
}

/* granted, paid, recovered of one month or one district */
typedef struct sums {
	int64_t v[3];
	int64_t enterprises;
} sums_t;

static bool sums_add(sums_t *s, const int64_t add[3], int64_t ent)
{
	return money_add(s->v[0], add[0], &s->v[0]) && money_add(s->v[1], add[1], &s->v[1]) &&
	       money_add(s->v[2], add[2], &s->v[2]) && money_add(s->enterprises, ent, &s->enterprises);
}

static const char *const series[3] = {"已批准补助", "已拨付", "追回"};

static void card(req_t *r, const char *id, const char *k, int64_t fen)
{
	H(&r->out, "<div class=\"card\"><div class=\"k\">%s（元）</div><div class=\"v\" id=\"%a\">%Y</div></div>", k,
	  id, fen);
}

static void filters(req_t *r, PGresult *progs, const char *program, const char *year)
{
	H(&r->out, "<form method=\"get\" action=\"/overview\" class=\"filters\">\n<label>项目 <select name=\"program\" "
		   "id=\"program\">");
	for (int i = 0; i < PQntuples(progs); i++) {
		const char *id = PQgetvalue(progs, i, 0), *name = PQgetvalue(progs, i, 1);
		if (!strcmp(id, program))
			H(&r->out, "<option value=\"%a\" selected>%s（%s）</option>", id, name, id);
		else
			H(&r->out, "<option value=\"%a\">%s（%s）</option>", id, name, id);
	}
	H(&r->out,
	  "</select></label>\n<label>年度 <input name=\"year\" id=\"year\" value=\"%a\" size=\"5\" "
	  "pattern=\"[0-9]{4}\"></label>\n<button type=\"submit\">查看</button></form>\n",
	  year);
}

void page_overview(req_t *r)
{
	const char *program = req_param(r, "program"), *year = req_param(r, "year");
	char this_year[16];
	time_t now = time(NULL) + 8 * 3600; /* China time: UTC+8, no daylight saving */
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(this_year, sizeof this_year, "%04d", tm.tm_year + 1900);
	if (!year || !*year)
		year = this_year;
	if (!date_year_valid(year)) {
		reply_error(r, 400, "年度须为 2000 至 2100 之间的四位数字。", year);
		return;
	}
	buf_t err = BUF_INIT;
	PGresult *progs = programmes(r, program, "资金概览");
	if (!progs)
		return;
	if (PQntuples(progs) == 0) {
		PQclear(progs);
		page_begin(r, "资金概览");
		H(&r->out, "<p id=\"no-program\">尚未加载任何项目（<code>voucherctl program load</code>）。</p>\n");
		page_end(r);
		reply_html(r, 200);
		return;
	}
	if (!program || !*program)
		program = PQgetvalue(progs, 0, 0);
	int known = -1;
	for (int i = 0; i < PQntuples(progs); i++)
		if (!strcmp(PQgetvalue(progs, i, 0), program))
			known = i;
	if (known < 0) {
		PQclear(progs);
		reply_error(r, 404, "没有这个项目。", program);
		return;
	}
	const char *p[] = {program, year};
	PGresult *pool =
		req_query(r, "SELECT pool_fen FROM audit.pools WHERE program = $1 AND year = $2::integer", 2, p, &err);
	PGresult *rows = pool ? req_query(r,
					  "SELECT month, division, granted_fen, paid_fen, recovered_fen, enterprises "
					  "FROM audit.pool_overview WHERE program = $1 AND year = $2::integer "
					  "ORDER BY division, month",
					  2, p, &err)
			      : NULL;
	if (!rows) {
		PQclear(progs);
		PQclear(pool);
		reply_refused(r, "资金概览", err.data, "/overview");
		buf_free(&err);
		return;
	}
	int n = PQntuples(rows);
	sums_t months[12], total;
	memset(months, 0, sizeof months);
	memset(&total, 0, sizeof total);
	sums_t *dsum = calloc((size_t)n + 1, sizeof *dsum);
	char(*dcode)[16] = calloc((size_t)n + 1, sizeof *dcode);
	if (!dsum || !dcode)
		abort();
	int nd = 0;
	bool ok = true;
	const char *bad = NULL;
	for (int i = 0; i < n && ok; i++) {
		int64_t v[3], ent;
		int m = overview_month(PQgetvalue(rows, i, 0), year);
		ok = m > 0 && money_parse_i64(PQgetvalue(rows, i, 2), &v[0]) &&
		     money_parse_i64(PQgetvalue(rows, i, 3), &v[1]) && money_parse_i64(PQgetvalue(rows, i, 4), &v[2]) &&
		     money_parse_i64(PQgetvalue(rows, i, 5), &ent);
		if (!ok) {
			bad = "audit.pool_overview 返回了无法识别的数据。";
			break;
		}
		const char *d = PQgetvalue(rows, i, 1);
		if (nd == 0 || strcmp(dcode[nd - 1], d)) {
			snprintf(dcode[nd], sizeof dcode[nd], "%s", d);
			nd++;
		}
		ok = sums_add(&months[m - 1], v, ent) && sums_add(&dsum[nd - 1], v, ent) && sums_add(&total, v, ent);
		if (!ok)
			bad = "金额合计超出 64 位整数范围。";
	}
	/* the pool and what is left of it: pool - granted + recovered */
	bool has_pool_row = PQntuples(pool) == 1, no_pool = !has_pool_row || PQgetisnull(pool, 0, 0);
	int64_t pool_fen = 0, left = 0;
	if (ok && !no_pool) {
		ok = money_parse_i64(PQgetvalue(pool, 0, 0), &pool_fen) && money_sub(pool_fen, total.v[0], &left) &&
		     money_add(left, total.v[2], &left);
		if (!ok)
			bad = "资金池余额超出 64 位整数范围。";
	}
	if (!ok) {
		reply_error(r, 500, bad, NULL);
		goto done;
	}

	char title[160];
	snprintf(title, sizeof title, "资金概览 · %s %s 年", PQgetvalue(progs, known, 1), year);
	page_begin(r, title);
	filters(r, progs, program, year);
	H(&r->out, "<div class=\"cards\" id=\"totals\">");
	if (!has_pool_row)
		H(&r->out,
		  "<div class=\"card\"><div class=\"k\">资金池（元）</div><div class=\"v\" id=\"pool\">—</div></div>");
	else if (no_pool)
		H(&r->out,
		  "<div class=\"card\"><div class=\"k\">资金池（元）</div><div class=\"v\" id=\"pool\">不设资金池</div>"
		  "</div>");
	else
		card(r, "pool", "资金池", pool_fen);
	card(r, "granted", series[0], total.v[0]);
	card(r, "paid", series[1], total.v[1]);
	card(r, "recovered", series[2], total.v[2]);
	if (no_pool)
		H(&r->out,
		  "<div class=\"card\"><div class=\"k\">资金池余额（元）</div><div class=\"v\" id=\"left\">%s</div>"
		  "</div>",
		  has_pool_row ? "不设资金池" : "—");
	else
		card(r, "left", "资金池余额", left);
	H(&r->out,
	  "</div>\n<p class=\"detail\">已批准补助：已批准批次中应拨付的金额；追回另列（正数）；已拨付：其中已拨付的金额。"
	  "资金池余额 = 资金池 − 已批准补助 + 追回。项目代码 %s。</p>\n",
	  program);
	if (!has_pool_row)
		H(&r->out,
		  "<p class=\"detail\" id=\"no-pool-row\">%s 年不在该项目现行版本的有效期内，也没有该年度的批次。</p>\n",
		  year);
	if (n == 0) {
		H(&r->out, "<p id=\"no-data\">本年度尚无已批准的批次。</p>\n");
		page_end(r);
		reply_html(r, 200);
		goto done;
	}

	/* by month: the chart, then the table */
	H(&r->out, "<h2>按月</h2>\n");
	char mlabel[12][16];
	const char *mlabels[12];
	int64_t mvalues[12 * 3];
	for (int m = 0; m < 12; m++) {
		snprintf(mlabel[m], sizeof mlabel[m], "%d月", m + 1);
		mlabels[m] = mlabel[m];
		for (int s = 0; s < 3; s++)
			mvalues[m * 3 + s] = months[m].v[s];
	}
	char ctitle[200];
	snprintf(ctitle, sizeof ctitle, "%s %s 年按月已批准补助、已拨付和追回（元）", PQgetvalue(progs, known, 1),
		 year);
	chart_columns(&r->out, "chart-months", ctitle, 12, mlabels, 3, series, mvalues);
	H(&r->out,
	  "<table id=\"months\">\n<tr><th>月份</th><th class=\"n\">已批准补助（元）</th><th class=\"n\">已拨付（元）</th>"
	  "<th class=\"n\">追回（元）</th><th class=\"n\">涉及企业</th></tr>\n");
	for (int m = 0; m < 12; m++)
		H(&r->out,
		  "<tr><td>%s-%s%d</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td>"
		  "<td class=\"n\">%D</td></tr>\n",
		  year, m < 9 ? "0" : "", m + 1, months[m].v[0], months[m].v[1], months[m].v[2], months[m].enterprises);
	H(&r->out,
	  "<tr class=\"total\"><td>合计</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td>"
	  "<td></td></tr>\n</table>\n",
	  total.v[0], total.v[1], total.v[2]);

	/* by district */
	H(&r->out, "<h2>按区县</h2>\n");
	char(*dlabel)[96] = calloc((size_t)nd + 1, sizeof *dlabel);
	const char **dlabels = calloc((size_t)nd + 1, sizeof *dlabels);
	int64_t *dvalues = calloc((size_t)nd * 3 + 1, sizeof *dvalues);
	if (!dlabel || !dlabels || !dvalues)
		abort();
	for (int d = 0; d < nd; d++) {
		/* copied: zh_division may answer from a buffer of its own */
		snprintf(dlabel[d], sizeof dlabel[d], "%s", zh_division(dcode[d]));
		dlabels[d] = dlabel[d];
		for (int s = 0; s < 3; s++)
			dvalues[d * 3 + s] = dsum[d].v[s];
	}
	snprintf(ctitle, sizeof ctitle, "%s %s 年按区县已批准补助、已拨付和追回（元）", PQgetvalue(progs, known, 1),
		 year);
	chart_hbars(&r->out, "chart-districts", ctitle, nd, dlabels, 3, series, dvalues);
	H(&r->out,
	  "<table id=\"districts\">\n<tr><th>区划代码</th><th>区县</th><th class=\"n\">已批准补助（元）</th>"
	  "<th class=\"n\">已拨付（元）</th><th class=\"n\">追回（元）</th><th class=\"n\">涉及企业（按月累计）</th></tr>\n");
	for (int d = 0; d < nd; d++)
		H(&r->out,
		  "<tr><td>%s</td><td>%s</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td>"
		  "<td class=\"n\">%D</td></tr>\n",
		  dcode[d], dlabel[d], dsum[d].v[0], dsum[d].v[1], dsum[d].v[2], dsum[d].enterprises);
	H(&r->out,
	  "<tr class=\"total\"><td>合计</td><td></td><td class=\"n\">%Y</td><td class=\"n\">%Y</td><td class=\"n\">%Y</td>"
	  "<td></td></tr>\n</table>\n",
	  total.v[0], total.v[1], total.v[2]);
	H(&r->out,
	  "<p class=\"detail\">涉及企业：当月有应拨付或追回的企业数；按区县的数字是各月之和（同一企业在不同月份重复计算）。</p>\n");
	free(dlabel);
	free(dlabels);
	free(dvalues);
	page_end(r);
	reply_html(r, 200);
done:
	free(dsum);
	free(dcode);
	PQclear(rows);
	PQclear(pool);
	PQclear(progs);
	buf_free(&err);
}
