/* The frame of every page, the style sheet, and the words pages share. */
#include <stdio.h>
#include <string.h>

#include "metering/division.h"
#include "settlement/export.h"

#include "console/console.h"
#include "console/html.h"
#include "console/server.h"

const char console_css[] =
	"*{box-sizing:border-box}\n"
	"body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"Microsoft YaHei\",sans-serif;"
	"margin:0;color:#1d2733;background:#f4f6f8;font-size:14px}\n"
	"header.top{background:#8c1c13;color:#fff;padding:0 24px;display:flex;align-items:center;gap:24px;"
	"height:52px}\n"
	"header.top .brand{font-weight:bold;font-size:17px}\n"
	"header.top nav a{color:#fde9e7;text-decoration:none;margin-right:18px}\n"
	"header.top nav a:hover{color:#fff;text-decoration:underline}\n"
	"header.top .who{margin-left:auto;display:flex;gap:12px;align-items:center}\n"
	"header.top .who form{margin:0}\n"
	"header.top button{background:transparent;border:1px solid #fde9e7;color:#fff;padding:3px 10px;"
	"border-radius:3px;cursor:pointer}\n"
	"main{padding:20px 24px;max-width:1400px}\n"
	"h1{font-size:21px;margin:4px 0 16px}\n"
	"h2{font-size:16px;margin:24px 0 10px;border-left:4px solid #8c1c13;padding-left:8px}\n"
	"table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:12px}\n"
	"th,td{border:1px solid #d5dbe1;padding:5px 8px;text-align:left;vertical-align:top}\n"
	"th{background:#eef1f4;font-weight:600;white-space:nowrap}\n"
	"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	"tr.total td{font-weight:bold;background:#fbf7e8}\n"
	".cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:12px}\n"
	".card{background:#fff;border:1px solid #d5dbe1;border-radius:4px;padding:10px 14px;min-width:170px}\n"
	".card .k{color:#5b6773;font-size:12px}\n"
	".card .v{font-size:18px;font-weight:bold;font-variant-numeric:tabular-nums}\n"
	"form.inline{display:inline-block;margin:0 12px 8px 0;vertical-align:top}\n"
	"form.box,.box{background:#fff;border:1px solid #d5dbe1;border-radius:4px;padding:12px;margin-bottom:12px}\n"
	"form.login{background:#fff;border:1px solid #d5dbe1;border-radius:4px;padding:20px;max-width:360px}\n"
	"form.login label{display:block;margin-bottom:12px}\n"
	"form.login input{display:block;width:100%;padding:6px;margin-top:4px}\n"
	"textarea{width:100%;min-height:54px}\n"
	"button{background:#8c1c13;color:#fff;border:0;padding:6px 16px;border-radius:3px;cursor:pointer;"
	"font-size:14px}\n"
	"button.second{background:#5b6773}\n"
	".refused{background:#fdecea;border:1px solid #e0a39c;color:#8c1c13;padding:10px 12px;border-radius:4px}\n"
	".ok{background:#e8f5e9;border:1px solid #a5d6a7;color:#1b5e20;padding:10px 12px;border-radius:4px}\n"
	".detail{color:#5b6773;font-size:12px}\n"
	"td.held{color:#1b5e20;font-weight:bold}td.failed{color:#c62828;font-weight:bold}\n"
	".filters{background:#fff;border:1px solid #d5dbe1;padding:8px 12px;margin-bottom:12px}\n"
	".filters label{margin-right:14px}\n"
	".pager a,.pager span{margin-right:10px}\n"
	".status-draft{color:#b26a00}.status-approved{color:#1b5e20}.status-published{color:#0d47a1}\n"
	"svg.chart{background:#fff;border:1px solid #d5dbe1;margin-bottom:12px}\n"
	"svg.chart text{font-size:11px;fill:#1d2733}\n"
	".notice{background:#fff;max-width:1000px;margin:20px auto;padding:30px 40px;border:1px solid #d5dbe1}\n"
	".notice h1{text-align:center;font-size:22px}\n"
	".notice .meta{text-align:center;color:#5b6773}\n"
	"@media print{header.top,.noprint,form{display:none}body{background:#fff}"
	".notice{border:0;margin:0;padding:0}main{padding:0}th{background:#eee}}\n";

const char console_favicon[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">"
			       "<rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#8c1c13\"/>"
			       "<text x=\"8\" y=\"12\" font-size=\"10\" text-anchor=\"middle\" fill=\"#fff\">券</text>"
			       "</svg>";

void page_begin(req_t *r, const char *title)
{
	H(&r->out,
	  "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
	  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	  "<title>%s · 算力券结算</title>\n"
	  "<link rel=\"stylesheet\" href=\"/static/console.css\">\n"
	  "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\n"
	  "</head>\n<body>\n<header class=\"top\"><span class=\"brand\">算力券结算</span>\n",
	  title);
	if (r->s) {
		H(&r->out, "<nav>");
		if (r->s->finance)
			H(&r->out, "<a href=\"/runs\">结算批次</a><a href=\"/overview\">资金概览</a>"
				   "<a href=\"/enterprises\">企业</a><a href=\"/overrides\">一事一议</a>");
		else
			H(&r->out, "<a href=\"/runs\">结算批次</a><a href=\"/overview\">资金概览</a>"
				   "<a href=\"/enterprises\">企业</a><a href=\"/overrides\">一事一议</a>");
		if (r->s->auditor)
			H(&r->out, "<a href=\"/audit\">审计</a>");
		H(&r->out, "</nav>\n<span class=\"who\"><span id=\"user\">%s（%s）</span>", r->s->user,
		  r->s->finance && r->s->auditor ? "财务、审计"
		  : r->s->finance                ? "财务"
						 : "审计");
		H(&r->out,
		  "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"%a\">"
		  "<button type=\"submit\" id=\"logout\">退出</button></form></span>\n",
		  r->s->csrf);
	}
	H(&r->out, "</header>\n<main>\n<h1>%s</h1>\n", title);
}

void page_end(req_t *r)
{
	H(&r->out, "</main>\n</body>\n</html>\n");
}

void form_begin(req_t *r, const char *action, const char *cls)
{
	H(&r->out,
	  "<form method=\"post\" action=\"%a\" class=\"%a\">\n<input type=\"hidden\" name=\"csrf\" value=\"%a\">\n",
	  action, cls ? cls : "inline", r->s ? r->s->csrf : "");
}

const char *zh_run_status(const char *s)
{
	static const char *const map[][2] = {
		{"draft", "草稿"},      {"approved", "已批准"},  {"published", "公示中"},    {"disbursed", "已拨付"},
		{"returned", "已退回"}, {"discarded", "已作废"}, {"superseded", "已被替代"}, {NULL, NULL},
	};
	for (int i = 0; map[i][0]; i++)
		if (!strcmp(map[i][0], s))
			return map[i][1];
	return s;
}

const char *zh_line_status(const char *s)
{
	return export_line_status_zh(s); /* the words of the spreadsheets */
}

const char *zh_division(const char *code)
{
	/* a few rotating slots: a page may show several in one H() call */
	static char slot[4][96];
	static unsigned next;
	char *out = slot[next++ % 4];
	const division_t *d = division_find(code);
	if (!d)
		snprintf(out, sizeof slot[0], "%s", code ? code : "");
	else
		snprintf(out, sizeof slot[0], "%s%s", d->name, d->abolished ? "（已撤销）" : "");
	return out;
}

PGresult *programmes(req_t *r, const char *program, const char *title)
{
	buf_t err = BUF_INIT;
	PGresult *progs = req_query(
		r,
		"SELECT DISTINCT ON (program) program, " SQL_PROGRAMME_NAME(
			"text", "program") " FROM audit.program_versions ORDER BY program, loaded_at DESC, version",
		0, NULL, &err);
	if (!progs) {
		reply_refused(r, title, err.data, "/runs");
		buf_free(&err);
		return NULL;
	}
	bool known = !program || !*program;
	for (int i = 0; i < PQntuples(progs) && !known; i++)
		known = !strcmp(PQgetvalue(progs, i, 0), program);
	if (!known) {
		PQclear(progs);
		reply_error(r, 404, "没有这个项目。", program);
		return NULL;
	}
	return progs;
}

void programme_options(req_t *r, const PGresult *progs, const char *selected)
{
	for (int i = 0; i < PQntuples(progs); i++) {
		const char *id = PQgetvalue(progs, i, 0);
		if (selected && !strcmp(id, selected))
			H(&r->out, "<option value=\"%a\" selected>%s（%s）</option>", id, PQgetvalue(progs, i, 1), id);
		else
			H(&r->out, "<option value=\"%a\">%s（%s）</option>", id, PQgetvalue(progs, i, 1), id);
	}
}
