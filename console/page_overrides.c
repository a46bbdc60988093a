/* 一事一议: the overrides (a rate and/or a cap for one enterprise in one
 * programme-year, with the document that decided it), the form that proposes
 * one, and 确认 on each that waits for confirmation.  The same database
 * functions as `voucherctl override propose` and `override confirm`
 * (voucher.override_propose, voucher.override_confirm): the database checks
 * the programme's ceilings, the registry, and that the confirmer is not the
 * proposer; its refusals are shown in Chinese (console/messages.c).  Like
 * voucherctl, which takes --rate-bp and --cap-fen, the function takes basis
 * points and fen: people type a percentage and yuan here, turned into those
 * exactly (no floating point).  Finance users propose and confirm; auditors
 * see the list. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/money.h"
#include "common/validate.h"
#include "common/date.h"
#include "console/console.h"
#include "console/html.h"
#include "console/pages.h"

/* blanks around a value typed in a form */
static void trim(const char *s, const char **start, size_t *len)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*start = s;
	*len = n;
}

bool override_parse_percent(const char *s, int64_t *bp)
{
	if (!s)
		return false;
	const char *p;
	size_t n;
	trim(s, &p, &n);
	if (n > 0 && p[n - 1] == '%')
		n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	int64_t whole = 0, frac = 0;
	size_t i = 0, digits = 0, fdigits = 0;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++)
		whole = whole * 10 + (p[i] - '0');
	if (digits == 0 || digits > 6)
		return false;
	if (i < n && p[i] == '.') {
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++, fdigits++)
			if (fdigits < 2)
				frac = frac * 10 + (p[i] - '0');
		if (fdigits == 0 || fdigits > 2)
			return false;
		if (fdigits == 1)
			frac *= 10;
	}
	if (i != n)
		return false;
	*bp = whole * 100 + frac;
	return true;
}

bool override_parse_yuan(const char *s, int64_t *fen)
{
	if (!s)
		return false;
	const char *p;
	size_t n;
	trim(s, &p, &n);
	char clean[40];
	size_t k = 0;
	/* the whole yuan, with commas only between groups of three digits */
	int first = 0, since = -1; /* digits before the first comma; digits since the last */
	size_t i = 0;
	for (; i < n && p[i] != '.'; i++) {
		if (p[i] == ',') {
			if ((since < 0 && (first < 1 || first > 3)) || (since >= 0 && since != 3))
				return false;
			since = 0;
			continue;
		}
		if (p[i] < '0' || p[i] > '9' || k + 1 >= sizeof clean)
			return false;
		if (since >= 0)
			since++;
		else
			first++;
		clean[k++] = p[i];
	}
	if (since >= 0 && since != 3)
		return false;
	/* the fraction as it is: money_parse_yuan takes at most two digits */
	for (; i < n; i++) {
		if (k + 1 >= sizeof clean)
			return false;
		clean[k++] = p[i];
	}
	clean[k] = '\0';
	return k > 0 && clean[0] != '.' && money_parse_yuan(clean, fen) && *fen >= 0;
}

void override_format_percent(int64_t bp, char *out, size_t outlen)
{
	int64_t whole = bp / 100, frac = bp % 100;
	if (bp < 0)
		snprintf(out, outlen, "%" PRId64 " 基点", bp);
	else if (frac == 0)
		snprintf(out, outlen, "%" PRId64 "%%", whole);
	else if (frac % 10 == 0)
		snprintf(out, outlen, "%" PRId64 ".%" PRId64 "%%", whole, frac / 10);
	else
		snprintf(out, outlen, "%" PRId64 ".%02" PRId64 "%%", whole, frac);
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static void this_year(char out[16])
{
	time_t now = time(NULL) + 8 * 3600; /* China time */
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(out, 16, "%04d", tm.tm_year + 1900);
}

/* a programme's Chinese name from the list, else its id */
static const char *program_name(PGresult *progs, const char *id)
{
	for (int i = 0; i < PQntuples(progs); i++)
		if (!strcmp(PQgetvalue(progs, i, 0), id))
			return PQgetvalue(progs, i, 1);
	return id;
}

static void propose_form(req_t *r, PGresult *progs, const char *program, const char *year)
{
	char y[16];
	this_year(y);
	H(&r->out, "<h2>提出一事一议</h2>\n");
	form_begin(r, "/overrides/propose", "box");
	H(&r->out, "<label>项目 <select name=\"program\" id=\"propose-program\" required>");
	programme_options(r, progs, program);
	H(&r->out,
	  "</select></label>\n"
	  "<label>统一社会信用代码 <input name=\"enterprise\" id=\"propose-enterprise\" required size=\"20\" "
	  "maxlength=\"18\" pattern=\"[0-9A-Z]{18}\"></label>\n"
	  "<label>年度 <input name=\"year\" id=\"propose-year\" required size=\"5\" pattern=\"[0-9]{4}\" value=\"%a\">"
	  "</label><br>\n"
	  "<label>补贴比例（%%） <input name=\"rate\" id=\"propose-rate\" size=\"8\" inputmode=\"decimal\" "
	  "placeholder=\"如 60\"></label>\n"
	  "<label>年度上限（元） <input name=\"cap\" id=\"propose-cap\" size=\"16\" inputmode=\"decimal\" "
	  "placeholder=\"如 10,000,000\"></label>\n"
	  "<label>文件依据（文号） <input name=\"ref\" id=\"propose-ref\" required maxlength=\"300\" size=\"30\"></label>\n"
	  "<button type=\"submit\" id=\"propose\">提出</button>\n</form>\n"
	  "<p class=\"detail\">比例与上限至少填写一项。提出后须由另一名财务人员确认才生效，自确认时起用于此后编制的批次。"
	  "比例和上限不得超过项目文件的规定（杭州只可为基础大模型企业调高上限），由数据库在提出和确认时检查。</p>\n",
	  *year ? year : y);
}

void page_overrides(req_t *r)
{
	const char *program = or_empty(req_param(r, "program")), *year = or_empty(req_param(r, "year"));
	if (*year && !date_year_valid(year)) {
		reply_error(r, 400, "年度须为 2000 至 2100 之间的四位数字。", year);
		return;
	}
	buf_t err = BUF_INIT;
	PGresult *progs = programmes(r, program, "一事一议");
	if (!progs)
		return;
	const char *p[] = {program, year};
	PGresult *res = req_query(
		r,
		"SELECT o.id, o.program, o.enterprise, coalesce(e.name, ''), o.year, o.rate_bp, o.cap_fen, o.ref, "
		"  to_char(o.added_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), o.added_by, "
		"  coalesce(to_char(o.confirmed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), ''), "
		"  coalesce(o.confirmed_by, ''), o.confirmed_at IS NOT NULL "
		"FROM audit.overrides o LEFT JOIN LATERAL (SELECT v.name FROM audit.enterprise_versions v "
		"  WHERE v.uscc = o.enterprise ORDER BY v.valid_from DESC, v.imported_at DESC LIMIT 1) e ON true "
		"WHERE ($1 = '' OR o.program = $1) AND ($2 = '' OR o.year = $2::integer) ORDER BY o.id DESC LIMIT 500",
		2, p, &err);
	if (!res) {
		PQclear(progs);
		reply_refused(r, "一事一议", err.data, "/runs");
		buf_free(&err);
		return;
	}
	page_begin(r, "一事一议");
	const char *done = req_param(r, "done"), *done_id = req_param(r, "id");
	int64_t did = 0;
	if (done && parse_id(done_id, &did)) {
		if (!strcmp(done, "proposed"))
			H(&r->out,
			  "<p class=\"ok\" id=\"done\" role=\"status\">一事一议 #%D 已提出：须由另一名财务人员确认后生效。</p>\n",
			  did);
		else if (!strcmp(done, "confirmed"))
			H(&r->out,
			  "<p class=\"ok\" id=\"done\" role=\"status\">一事一议 #%D 已确认：自现在起编制的批次按此执行。</p>\n",
			  did);
	}
	H(&r->out,
	  "<form method=\"get\" action=\"/overrides\" class=\"filters\">\n<label>项目 <select name=\"program\" "
	  "id=\"program\"><option value=\"\">全部</option>");
	programme_options(r, progs, program);
	H(&r->out,
	  "</select></label>\n<label>年度 <input name=\"year\" id=\"year\" value=\"%a\" size=\"5\" "
	  "pattern=\"[0-9]{4}\"></label>\n<button type=\"submit\">筛选</button></form>\n",
	  year);
	H(&r->out, "<table id=\"overrides\">\n<tr><th>编号</th><th>项目</th><th>企业</th><th>年度</th>"
		   "<th class=\"n\">补贴比例</th><th class=\"n\">年度上限（元）</th><th>文件依据</th><th>提出人</th>"
		   "<th>提出时间（北京时间）</th><th>确认人</th><th>确认时间（北京时间）</th><th>状态</th></tr>\n");
	for (int i = 0; i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0), *uscc = PQgetvalue(res, i, 2);
		bool confirmed = *PQgetvalue(res, i, 12) == 't';
		char rate[40] = "—";
		int64_t v = 0;
		if (!PQgetisnull(res, i, 5) && money_parse_i64(PQgetvalue(res, i, 5), &v))
			override_format_percent(v, rate, sizeof rate);
		H(&r->out,
		  "<tr id=\"override-%a\"><td>#%s</td><td>%s</td><td><a href=\"/enterprises/%u\">%s</a> %s</td><td>%s</td>"
		  "<td class=\"n\">%s</td>",
		  id, id, program_name(progs, PQgetvalue(res, i, 1)), uscc, uscc, PQgetvalue(res, i, 3),
		  PQgetvalue(res, i, 4), rate);
		if (!PQgetisnull(res, i, 6) && money_parse_i64(PQgetvalue(res, i, 6), &v))
			H(&r->out, "<td class=\"n\">%Y</td>", v);
		else
			H(&r->out, "<td class=\"n\">—</td>");
		H(&r->out, "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>", PQgetvalue(res, i, 7),
		  PQgetvalue(res, i, 9), PQgetvalue(res, i, 8), confirmed ? PQgetvalue(res, i, 11) : "—",
		  confirmed ? PQgetvalue(res, i, 10) : "—");
		if (confirmed) {
			H(&r->out, "<td class=\"status-approved\">已确认</td></tr>\n");
			continue;
		}
		H(&r->out, "<td class=\"status-draft\">待确认");
		if (r->s->finance) {
			char action[64];
			snprintf(action, sizeof action, "/overrides/%s/confirm", id);
			form_begin(r, action, "inline");
			H(&r->out, "<button type=\"submit\" id=\"confirm-%a\">确认</button></form>", id);
			if (!strcmp(PQgetvalue(res, i, 9), r->s->user))
				H(&r->out, "<div class=\"detail\">本人提出，须由另一名财务人员确认</div>");
		}
		H(&r->out, "</td></tr>\n");
	}
	H(&r->out, "</table>\n");
	if (PQntuples(res) == 0)
		H(&r->out, "<p id=\"empty\">没有符合条件的一事一议。</p>\n");
	else if (PQntuples(res) == 500)
		H(&r->out, "<p class=\"detail\">只列出最新的 500 条；请按项目或年度筛选。</p>\n");
	if (r->s->finance)
		propose_form(r, progs, program, year);
	else
		H(&r->out,
		  "<p class=\"detail\" id=\"read-only\">审计人员只能查看；一事一议由财务人员提出，另一名财务人员确认。</p>\n");
	page_end(r);
	reply_html(r, 200);
	PQclear(res);
	PQclear(progs);
	buf_free(&err);
}

static void do_propose(req_t *r)
{
	const char *program = or_empty(req_form(r, "program")), *uscc = or_empty(req_form(r, "enterprise")),
		   *year = or_empty(req_form(r, "year")), *rate_s = or_empty(req_form(r, "rate")),
		   *cap_s = or_empty(req_form(r, "cap")), *ref = or_empty(req_form(r, "ref"));
	const char *p;
	size_t n;
	trim(rate_s, &p, &n);
	bool has_rate = n > 0;
	trim(cap_s, &p, &n);
	bool has_cap = n > 0;
	trim(ref, &p, &n);
	int64_t rate = 0, cap = 0;
	if (!*program) {
		reply_error(r, 400, "请选择项目。", NULL);
		return;
	}
	if (!uscc_valid(uscc)) {
		reply_error(r, 400, "统一社会信用代码不正确：须为 18 位，校验位须正确（GB 32100-2015）。", uscc);
		return;
	}
	if (!date_year_valid(year)) {
		reply_error(r, 400, "年度须为 2000 至 2100 之间的四位数字。", year);
		return;
	}
	if (!has_rate && !has_cap) {
		reply_error(r, 400, "补贴比例和年度上限至少填写一项。", NULL);
		return;
	}
	if (has_rate && !override_parse_percent(rate_s, &rate)) {
		reply_error(r, 400, "补贴比例须为百分数，最多两位小数，如 60 或 60.5。", rate_s);
		return;
	}
	if (has_cap && !override_parse_yuan(cap_s, &cap)) {
		reply_error(r, 400, "年度上限须为以元计的金额，最多两位小数，如 10,000,000 或 5000000.50。", cap_s);
		return;
	}
	if (n == 0) {
		reply_error(r, 400, "须填写文件依据（文号）。", NULL);
		return;
	}
	char rate_txt[24], cap_txt[24];
	snprintf(rate_txt, sizeof rate_txt, "%" PRId64, rate);
	snprintf(cap_txt, sizeof cap_txt, "%" PRId64, cap);
	const char *params[] = {program, uscc, year, has_rate ? rate_txt : NULL, has_cap ? cap_txt : NULL, ref};
	buf_t err = BUF_INIT;
	PGresult *res =
		req_query(r, "SELECT voucher.override_propose($1, $2, $3::integer, $4::integer, $5::bigint, btrim($6))",
			  6, params, &err);
	int64_t id = 0;
	if (res && (PQntuples(res) != 1 || !parse_id(PQgetvalue(res, 0, 0), &id))) {
		buf_puts(&err, "override propose: no id returned");
		PQclear(res);
		res = NULL;
	}
	if (!res) {
		log_action(r, "override_propose", 0, err.data);
		reply_refused(r, "提出一事一议", err.data, "/overrides");
		buf_free(&err);
		return;
	}
	PQclear(res);
	buf_free(&err);
	log_action(r, "override_propose", id, NULL);
	char path[96];
	snprintf(path, sizeof path, "/overrides?done=proposed&id=%" PRId64, id);
	reply_redirect(r, path);
}

static void do_confirm(req_t *r, int64_t id)
{
	char ids[24];
	snprintf(ids, sizeof ids, "%" PRId64, id);
	const char *params[] = {ids};
	buf_t err = BUF_INIT;
	PGresult *res = req_query(r, "SELECT voucher.override_confirm($1::bigint)", 1, params, &err);
	if (!res) {
		log_action(r, "override_confirm", id, err.data);
		reply_refused(r, "确认一事一议", err.data, "/overrides");
		buf_free(&err);
		return;
	}
	PQclear(res);
	buf_free(&err);
	log_action(r, "override_confirm", id, NULL);
	char path[96];
	snprintf(path, sizeof path, "/overrides?done=confirmed&id=%" PRId64, id);
	reply_redirect(r, path);
}

void do_override(req_t *r, const char *action)
{
	if (!r->s->finance) {
		reply_error(r, 403, "只有财务人员可以提出或确认一事一议。", NULL);
		return;
	}
	if (!strcmp(action, "propose")) {
		do_propose(r);
		return;
	}
	/* "<id>/confirm" */
	char digits[24];
	size_t d = strspn(action, "0123456789");
	int64_t id = 0;
	if (d > 0 && d < sizeof digits && !strcmp(action + d, "/confirm")) {
		memcpy(digits, action, d);
		digits[d] = '\0';
		if (parse_id(digits, &id)) {
			do_confirm(r, id);
			return;
		}
	}
	reply_error(r, 404, "没有这个操作。", action);
}
