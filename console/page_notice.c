/* The public notice (公示) of a published run: readable without signing in,
 * print-ready, for the bureau's website (细则 六: 公示5个工作日).  It reads
 * through database.notice_user, a role that may call voucher.notice() and
 * nothing else; the database masks the credit codes, so the full codes never
 * reach this page's connection. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/money.h"
#include "console/console.h"
#include "console/html.h"

static PGconn *notice_db(console_t *con)
{
	if (con->notice_db && PQstatus(con->notice_db) == CONNECTION_OK)
		return con->notice_db;
	PQfinish(con->notice_db);
	con->notice_db = NULL;
	if (!*con->cfg->notice_user)
		return NULL;
	char timeout[80];
	snprintf(timeout, sizeof timeout, "-c statement_timeout=%" PRId64 " -c TimeZone=Asia/Shanghai",
		 con->cfg->statement_timeout_ms);
	const char *kw[] = {"dbname", "user", "passfile", "application_name", "connect_timeout", "options", NULL};
	const char *val[] = {con->cfg->conninfo,
			     con->cfg->notice_user,
			     *con->cfg->notice_passfile ? con->cfg->notice_passfile : NULL,
			     "voucher-console notice",
			     "10",
			     timeout,
			     NULL};
	PGconn *c = PQconnectdbParams(kw, val, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		log_error("notice_db", "user=%s msg=%s", log_q(con->cfg->notice_user), log_q(PQerrorMessage(c)));
		PQfinish(c);
		return NULL;
	}
	con->notice_db = c;
	return c;
}

void page_notice(req_t *r, int64_t run)
{
	PGconn *c = notice_db(r->con);
	if (!c) {
		reply_error(r, 503, "公示页暂不可用，请稍后再试。", NULL);
		return;
	}
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, run);
	const char *p[] = {id};
	PGresult *res =
		PQexecParams(c,
			     "SELECT program, program_name, period, notice_first_day, notice_ends, uscc_masked, "
			     "enterprise, division, payable_fen, "
			     "to_char(published_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') "
			     "FROM voucher.notice($1::bigint)",
			     1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		bool missing = state && !strcmp(state, "P0002");
		if (!missing)
			log_error("notice_query", "run=%s msg=%s", id, log_q(PQresultErrorMessage(res)));
		PQclear(res);
		reply_error(r, missing ? 404 : 503,
			    missing ? "没有这份公示：批次不存在或尚未发布公示。" : "公示页暂不可用，请稍后再试。",
			    NULL);
		return;
	}
	int n = PQntuples(res);
	if (n == 0) {
		/* a published run in which nothing moves: say so rather than 404 */
		PQclear(res);
		reply_error(r, 404, "这份公示没有列出任何企业。", NULL);
		return;
	}
	char title[256];
	snprintf(title, sizeof title, "%s %s 补助资金拟拨付名单公示", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	page_begin(r, title);
	/* page_begin opened <main><h1>: the notice is its own block */
	H(&r->out, "<div class=\"notice\" id=\"notice\">\n<p class=\"meta\">批次 #%s · 发布日期 %s</p>\n", id,
	  PQgetvalue(res, 0, 9));
	H(&r->out,
	  "<p>根据《%s》的规定，现将 %s 拟拨付补助资金的企业名单予以公示。公示期为 <strong id=\"notice-first\">%s</strong> 至 "
	  "<strong id=\"notice-last\">%s</strong>（5个工作日）。</p>\n",
	  PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	H(&r->out,
	  "<table id=\"notice-lines\">\n<tr><th>序号</th><th>企业名称</th><th>统一社会信用代码</th><th>区县</th>"
	  "<th class=\"n\">拟拨付金额（元）</th></tr>\n");
	int64_t total = 0;
	for (int i = 0; i < n; i++) {
		int64_t fen = 0;
		if (!money_parse_i64(PQgetvalue(res, i, 8), &fen) || !money_add(total, fen, &total)) {
			PQclear(res);
			buf_reset(&r->out);
			reply_error(r, 500, "公示金额无法读取。", NULL);
			return;
		}
		const char *d = PQgetvalue(res, i, 7);
		H(&r->out,
		  "<tr><td class=\"n\">%d</td><td>%s</td><td class=\"uscc\">%s</td><td>%s</td><td class=\"n\">%Y</td></tr>\n",
		  i + 1, PQgetvalue(res, i, 6), PQgetvalue(res, i, 5), zh_division(d), fen);
	}
	H(&r->out,
	  "<tr class=\"total\"><td></td><td>合计（%d 家）</td><td></td><td></td><td class=\"n\" id=\"notice-total\">%Y</td></tr>\n</table>\n",
	  n, total);
	H(&r->out,
	  "<p>公示期内，如对名单有异议，请以书面形式提出并说明理由、提供联系方式：<span id=\"notice-contact\">%s</span>。"
	  "异议未处理完毕前，相关企业的补助暂缓拨付。</p>\n"
	  "<p class=\"detail\">统一社会信用代码仅显示前 6 位和后 4 位。金额单位：元。</p>\n</div>\n",
	  r->con->cfg->notice_contact);
	page_end(r);
	/* public and cacheable for a short while, unlike staff pages */
	reply_html(r, 200);
	PQclear(res);
}
