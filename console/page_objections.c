/* Objections (异议) raised against a line of a published run during its
 * notice, and their resolution.  An open objection holds that line back from
 * disbursement (voucher.run_disburse); the database keeps both the objection
 * and its resolution, stamped with who and when. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "console/console.h"
#include "console/html.h"

void run_objections(req_t *r, int64_t run, const char *status)
{
	if (strcmp(status, "published") && strcmp(status, "disbursed"))
		return;
	char id[24], action[80];
	snprintf(id, sizeof id, "%" PRId64, run);
	const char *p[] = {id};
	buf_t err = BUF_INIT;
	PGresult *o = req_query(r,
				"SELECT objection_id, uscc, objection, raised_by, "
				"to_char(raised_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), "
				"coalesce(outcome, ''), coalesce(resolution, ''), coalesce(resolved_by, '') "
				"FROM audit.objections WHERE run_id = $1::bigint ORDER BY objection_id",
				1, p, &err);
	H(&r->out, "<h2>异议</h2>\n");
	if (!o) {
		H(&r->out, "<p class=\"refused\">%s</p>\n", err.data);
		buf_free(&err);
		return;
	}
	if (PQntuples(o) == 0)
		H(&r->out, "<p id=\"no-objections\">没有登记异议。</p>\n");
	else
		H(&r->out,
		  "<table id=\"objections\"><tr><th>编号</th><th>统一社会信用代码</th><th>异议内容</th><th>登记人</th>"
		  "<th>登记时间</th><th>处理结果</th><th>处理意见</th></tr>\n");
	for (int i = 0; i < PQntuples(o); i++) {
		const char *oid = PQgetvalue(o, i, 0), *outcome = PQgetvalue(o, i, 5);
		H(&r->out, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>", oid, PQgetvalue(o, i, 1),
		  PQgetvalue(o, i, 2), PQgetvalue(o, i, 3), PQgetvalue(o, i, 4));
		if (*outcome) {
			H(&r->out, "<td>%s（%s）</td><td>%s</td></tr>\n",
			  !strcmp(outcome, "upheld") ? "异议成立，不予拨付" : "异议不成立，照常拨付",
			  PQgetvalue(o, i, 7), PQgetvalue(o, i, 6));
			continue;
		}
		H(&r->out, "<td>未处理（暂缓拨付）</td><td>");
		if (r->s->finance) {
			snprintf(action, sizeof action, "/runs/%" PRId64 "/objections/%s/resolve", run, oid);
			form_begin(r, action, "inline");
			H(&r->out, "<select name=\"outcome\"><option value=\"dismissed\">异议不成立，照常拨付</option>"
				   "<option value=\"upheld\">异议成立，不予拨付</option></select>"
				   "<input name=\"resolution\" required maxlength=\"2000\" placeholder=\"处理意见\">"
				   "<button type=\"submit\">处理</button></form>");
		}
		H(&r->out, "</td></tr>\n");
	}
	if (PQntuples(o) > 0)
		H(&r->out, "</table>\n");
	if (r->s->finance) {
		snprintf(action, sizeof action, "/runs/%" PRId64 "/objections", run);
		form_begin(r, action, "box");
		H(&r->out,
		  "<label>统一社会信用代码 <input name=\"uscc\" id=\"objection-uscc\" required maxlength=\"18\" "
		  "size=\"20\"></label>\n<label>异议内容 <textarea name=\"text\" id=\"objection-text\" required "
		  "maxlength=\"2000\"></textarea></label>\n<button type=\"submit\" id=\"objection-add\">登记异议</button>\n"
		  "</form>\n");
	}
	PQclear(o);
	buf_free(&err);
}

void do_objection(req_t *r, int64_t run, const char *rest)
{
	char id[24], path[80], oid[24];
	snprintf(id, sizeof id, "%" PRId64, run);
	snprintf(path, sizeof path, "/runs/%" PRId64, run);
	buf_t err = BUF_INIT;
	PGresult *res;
	const char *done;
	int64_t objection = 0;
	if (!strcmp(rest, "/objections")) {
		const char *p[] = {id, req_form(r, "uscc") ? req_form(r, "uscc") : "", req_form(r, "text")};
		res = req_query(r, "SELECT voucher.objection_add($1::bigint, btrim($2), $3)", 3, p, &err);
		done = "objection";
	} else if (sscanf(rest, "/objections/%20[0-9]/resolve", oid) == 1 && parse_id(oid, &objection) &&
		   !strcmp(rest + strlen("/objections/") + strlen(oid), "/resolve")) {
		const char *p[] = {oid, req_form(r, "outcome"), req_form(r, "resolution")};
		res = req_query(r, "SELECT voucher.objection_resolve($1::bigint, $2, $3)", 3, p, &err);
		done = "resolve";
	} else {
		reply_error(r, 404, "没有这个操作。", rest);
		return;
	}
	if (!res) {
		log_action(r, done, run, err.data);
		reply_refused(r, "异议", err.data, path);
		buf_free(&err);
		return;
	}
	PQclear(res);
	buf_free(&err);
	log_action(r, done, run, NULL);
	snprintf(path, sizeof path, "/runs/%" PRId64 "?done=%s", run, done);
	reply_redirect(r, path);
}
