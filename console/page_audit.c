/* 审计: for auditors.  (a) 运行核验 runs `voucherctl audit verify`'s checks
 * (audit/verify.c, the same code) on the auditor's own connection and shows
 * each check, the verdict and the text voucherctl would print; (b) the
 * exceptions report (audit/exceptions.c, the query `voucherctl audit
 * exceptions` prints); (c) the ledger head now, and a form to paste a
 * checkpoint file's text (the signed checkpoint is kept outside the
 * database) and verify it with the rest, as `audit verify --checkpoint`
 * does.  Finance users see a note: this is the auditors' independent check.
 *
 * The verification is a blocking call on the event loop: on a big database
 * it takes seconds (README.md "Measured": 18 s for a million records), during
 * which the console answers no one else, and each of its statements is
 * bounded by database.statement_timeout_ms.  Acceptable for a bureau's few
 * staff for now; a worker thread with its own connection would lift it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/exceptions.h"
#include "audit/verify.h"
#include "common/log.h"
#include "common/money.h"
#include "common/date.h"
#include "console/console.h"
#include "console/html.h"
#include "console/pages.h"

#define EXCEPTIONS_SHOWN 1000

void audit_checkpoint_normalize(const char *in, buf_t *out)
{
	buf_reset(out);
	if (!in)
		in = "";
	/* leading blanks and blank lines */
	while (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n')
		in++;
	for (const char *p = in; *p; p++) {
		if (*p == '\r') {
			buf_putc(out, '\n');
			if (p[1] == '\n')
				p++;
		} else {
			buf_putc(out, *p);
		}
	}
	/* trailing blanks and blank lines, then one LF */
	while (out->len > 0 &&
	       (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t' || out->data[out->len - 1] == '\n'))
		out->data[--out->len] = '\0';
	if (out->len > 0)
		buf_putc(out, '\n');
}

const char *zh_exception_kind(const char *kind)
{
	static const char *const map[][2] = {
		{"superuser act", "超级用户操作"},
		{"backdated version", "追溯生效的企业名录版本"},
		{"backdated relation", "追溯登记的关联关系"},
		{"draft superseded", "草稿被替代"},
		{"draft returned", "草稿被退回"},
		{"draft discarded", "草稿被作废"},
		{"refused approval", "被拒绝的批准"},
		{"override proposed", "一事一议提出"},
		{"override confirmed", "一事一议确认"},
		{"objection raised", "异议提出"},
		{"objection dismissed", "异议驳回"},
		{"objection upheld", "异议成立"},
		{"unregistered usage", "未登记企业的用量"},
		{NULL, NULL},
	};
	for (int i = 0; kind && map[i][0]; i++)
		if (!strcmp(map[i][0], kind))
			return map[i][1];
	return kind ? kind : "";
}

static const char *const check_short[AUDIT_NCHECKS] = {
	"已存批次", "总账哈希链", "检查点", "记账", "拨付与资金概览", "批次重新计算",
};

static const char *const check_zh[AUDIT_NCHECKS] = {
	"已存批次：摘要、签名、签名时密钥有效；每条用量记录来自其签名批次",
	"总账哈希链：逐条重新计算，编号连续",
	"检查点：签名有效，今日总账与批次是其延续",
	"记账：与已批准批次的明细和已拨付的行逐笔一致，总账借贷平衡",
	"拨付：均在公示期满后、无未处理或成立的异议时进行；资金概览与明细一致",
	"已批准批次：按存储的用量、当时的企业名录和项目版本重新计算，逐行一致",
};

static void auditors_only(req_t *r)
{
	page_begin(r, "审计");
	H(&r->out,
	  "<p id=\"auditors-only\">此页面供审计人员使用：核验总账与批次、查看异常事项、核对检查点，是独立于财务的检查。"
	  "财务人员可在“资金概览”查看资金情况，审计人员也可以在命令行运行 <code>voucherctl audit verify</code>。</p>\n");
	page_end(r);
	reply_html(r, 200);
}

static void ledger_head(req_t *r)
{
	buf_t err = BUF_INIT;
	PGresult *h = req_query(
		r,
		"SELECT e.entry_id, encode(e.hash, 'hex'), e.alg, "
		"  to_char(e.at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), "
		"  (SELECT count(*) FROM audit.batches) "
		"FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT entry_id, hash, alg, at FROM audit.ledger_entries "
		"  ORDER BY entry_id DESC LIMIT 1) e ON true",
		0, NULL, &err);
	H(&r->out, "<h2>总账现状与检查点</h2>\n");
	if (!h) {
		H(&r->out, "<p class=\"refused\">%s</p>\n", err.data);
		buf_free(&err);
		return;
	}
	int64_t size = 0, batches = 0;
	if (!PQgetisnull(h, 0, 0) && !money_parse_i64(PQgetvalue(h, 0, 0), &size))
		size = -1;
	if (!money_parse_i64(PQgetvalue(h, 0, 4), &batches))
		batches = -1;
	H(&r->out,
	  "<div class=\"cards\" id=\"ledger-head\">"
	  "<div class=\"card\"><div class=\"k\">总账条目数（树大小）</div><div class=\"v\" id=\"ledger-size\">%D</div></div>"
	  "<div class=\"card\"><div class=\"k\">最后一笔时间（北京时间）</div><div class=\"v\" id=\"ledger-time\">%s</div></div>"
	  "<div class=\"card\"><div class=\"k\">已存批次</div><div class=\"v\" id=\"batches\">%D</div></div></div>\n",
	  size, PQgetisnull(h, 0, 0) ? "—" : PQgetvalue(h, 0, 3), batches);
	if (PQgetisnull(h, 0, 0))
		H(&r->out, "<p id=\"ledger-hash\">总账为空。</p>\n");
	else
		H(&r->out, "<p>链头哈希（%s）：<code id=\"ledger-hash\">%s</code></p>\n", PQgetvalue(h, 0, 2),
		  PQgetvalue(h, 0, 1));
	H(&r->out,
	  "<p class=\"detail\">条目编号应连续，链头哈希与条目数由核验逐条重新计算后才可信。签名的检查点保存在数据库之外"
	  "（<code>voucherctl audit checkpoint --sign-key PEM --out FILE</code> 生成的文件）；"
	  "把文件内容粘贴到下面，与今日的总账和批次一起核验（与 <code>voucherctl audit verify --checkpoint FILE</code> 相同）。</p>\n");
	form_begin(r, "/audit/verify", "box");
	H(&r->out,
	  "<label>检查点文件内容<textarea name=\"checkpoint\" id=\"checkpoint\" rows=\"11\" maxlength=\"8192\" "
	  "required spellcheck=\"false\" placeholder=\"voucherd-checkpoint v1&#10;time ...&#10;...\"></textarea>"
	  "</label>\n<button type=\"submit\" id=\"verify-checkpoint\">核验检查点</button>\n</form>\n"
	  "<p class=\"detail\">检查点内含签名者的公钥；请将结果中显示的公钥指纹与您持有的指纹核对"
	  "（命令行可用 <code>--pub PEM</code> 指定公钥）。</p>\n");
	PQclear(h);
	buf_free(&err);
}

/* The exceptions report.  Loaded on request (?exceptions=1): its source
 * audit.unregistered_usage reads every usage record, seconds on a big
 * database, which the page's ordinary view should not cost. */
static void exceptions(req_t *r, const char *year, bool show)
{
	H(&r->out,
	  "<h2>异常事项</h2>\n<form method=\"get\" action=\"/audit\" class=\"filters\">"
	  "<input type=\"hidden\" name=\"exceptions\" value=\"1\">"
	  "<label>年度（北京时间） <input name=\"year\" id=\"year\" value=\"%a\" size=\"5\" pattern=\"[0-9]{4}\" "
	  "placeholder=\"全部\"></label>\n<button type=\"submit\" id=\"show-exceptions\">查看异常事项</button></form>\n",
	  year);
	if (!show) {
		H(&r->out,
		  "<p class=\"detail\">超级用户的操作、追溯变更、被替代/退回/作废的草稿、被拒绝的批准、一事一议、异议，"
		  "以及未登记企业的用量（需扫描全部用量记录，数据量大时较慢，故按需查看）。</p>\n");
		return;
	}
	buf_t err = BUF_INIT;
	PGconn *c = req_db(r, &err);
	char e[600] = "";
	PGresult *x = c ? audit_exceptions(c, *year ? year : NULL, e, sizeof e) : NULL;
	if (!x) {
		buf_puts(&err, e);
		H(&r->out, "<p class=\"refused\" id=\"exceptions-error\">%s</p>\n", err.data);
		buf_free(&err);
		return;
	}
	int n = PQntuples(x);
	if (n == 0) {
		H(&r->out, "<p id=\"exceptions-none\">没有异常事项。</p>\n");
		PQclear(x);
		buf_free(&err);
		return;
	}
	/* how many of each kind (the rows come ordered by kind) */
	H(&r->out, "<table id=\"exception-kinds\"><tr><th>类别</th><th class=\"n\">条数</th></tr>\n");
	for (int i = 0; i < n;) {
		int j = i;
		while (j < n && !strcmp(PQgetvalue(x, j, 0), PQgetvalue(x, i, 0)))
			j++;
		H(&r->out, "<tr><td>%s</td><td class=\"n\">%d</td></tr>\n", zh_exception_kind(PQgetvalue(x, i, 0)),
		  j - i);
		i = j;
	}
	H(&r->out, "<tr class=\"total\"><td>合计</td><td class=\"n\">%d</td></tr></table>\n", n);
	H(&r->out, "<table id=\"exceptions\">\n<tr><th>类别</th><th>时间（北京时间）</th><th>人员</th><th>对象</th>"
		   "<th>说明</th></tr>\n");
	for (int i = 0; i < n && i < EXCEPTIONS_SHOWN; i++)
		H(&r->out, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
		  zh_exception_kind(PQgetvalue(x, i, 0)), PQgetvalue(x, i, 5), PQgetvalue(x, i, 2), PQgetvalue(x, i, 3),
		  PQgetvalue(x, i, 4));
	H(&r->out, "</table>\n");
	if (n > EXCEPTIONS_SHOWN)
		H(&r->out,
		  "<p class=\"detail\" id=\"exceptions-cut\">共 %d 条，只列出前 %d 条；完整列表用 "
		  "<code>voucherctl audit exceptions</code>，或按年度筛选。</p>\n",
		  n, EXCEPTIONS_SHOWN);
	PQclear(x);
	buf_free(&err);
}

void page_audit(req_t *r)
{
	if (!r->s->auditor) {
		auditors_only(r);
		return;
	}
	const char *year = req_param(r, "year");
	if (!year)
		year = "";
	if (*year && !date_year_valid(year)) {
		reply_error(r, 400, "年度须为 2000 至 2100 之间的四位数字。", year);
		return;
	}
	page_begin(r, "审计");
	H(&r->out, "<h2>核验</h2>\n");
	form_begin(r, "/audit/verify", "inline");
	H(&r->out,
	  "<button type=\"submit\" id=\"verify\">运行核验</button>\n</form>\n"
	  "<p class=\"detail\">与 <code>voucherctl audit verify</code> 相同的检查：每个已存批次的摘要和签名、总账哈希链、"
	  "记账与批次明细、拨付时点与异议、资金概览，以及每个已批准批次的重新计算。数据量大时需要数秒至数十秒，"
	  "期间控制台暂停响应其他请求。</p>\n");
	ledger_head(r);
	exceptions(r, year, *year || req_param(r, "exceptions"));
	page_end(r);
	reply_html(r, 200);
}

static void check_detail(req_t *r, const audit_verify_out_t *o, int k)
{
	if (o->state[k] == AUDIT_FAILED) {
		H(&r->out, "%s", o->err);
		return;
	}
	if (o->state[k] != AUDIT_HELD)
		return;
	switch (k) {
	case AUDIT_CHECK_BATCHES: H(&r->out, "%D 个批次", o->batches); break;
	case AUDIT_CHECK_LEDGER: H(&r->out, "%D 条（%s）", o->ledger_entries, o->ledger_entries ? o->alg : "空"); break;
	case AUDIT_CHECK_CHECKPOINT:
		H(&r->out, "检查点时间 %s（北京时间），当时 %D 条总账、%D 个批次", o->cp.time_cn, o->cp.ledger_size,
		  o->cp.batches_size);
		break;
	case AUDIT_CHECK_POSTINGS: H(&r->out, "%D 个已批准批次", o->runs); break;
	case AUDIT_CHECK_RUNS: H(&r->out, "%D 个批次重新计算一致", o->recomputed); break;
	default: break;
	}
}

void do_audit_verify(req_t *r)
{
	if (!r->s->auditor) {
		reply_error(r, 403, "只有审计人员可以运行核验。", NULL);
		return;
	}
	const char *pasted = req_form(r, "checkpoint");
	buf_t cp = BUF_INIT, err = BUF_INIT;
	audit_checkpoint_normalize(pasted, &cp);
	bool with_cp = pasted && cp.len > 0;
	if (pasted && !with_cp) {
		reply_error(r, 400, "请粘贴检查点文件的内容。", NULL);
		buf_free(&cp);
		return;
	}
	PGconn *c = req_db(r, &err);
	if (!c) {
		reply_refused(r, "核验", err.data, "/audit");
		buf_free(&err);
		buf_free(&cp);
		return;
	}
	audit_verify_in_t in = {0};
	if (with_cp) {
		in.checkpoint_text = cp.data;
		in.checkpoint_len = cp.len;
		in.checkpoint_name = "(粘贴)";
	}
	audit_verify_out_t *o = calloc(1, sizeof *o);
	char *text = NULL;
	size_t tlen = 0;
	FILE *mem = open_memstream(&text, &tlen);
	if (!o || !mem)
		abort();
	int64_t t0 = console_now_ms();
	audit_set_progress(mem);
	bool ok = audit_verify_all(c, &in, o);
	audit_set_progress(NULL);
	int64_t ms = console_now_ms() - t0;
	buf_t line = BUF_INIT;
	audit_verify_summary(o, &line);
	fprintf(mem, "%s\n", line.data);
	fclose(mem);
	log_info("audit_verify", "user=%s checkpoint=%s result=%s ms=%" PRId64, log_q(r->s->user),
		 with_cp ? "yes" : "no", ok ? "ok" : "failed", ms);

	page_begin(r, with_cp ? "审计 · 检查点核验结果" : "审计 · 核验结果");
	if (ok)
		H(&r->out, "<p class=\"ok\" id=\"verdict\" role=\"status\">核验通过：全部检查成立。</p>\n");
	else {
		const char *which = "开始核验";
		for (int k = 0; k < AUDIT_NCHECKS; k++)
			if (o->state[k] == AUDIT_FAILED)
				which = check_short[k];
		H(&r->out, "<p class=\"refused\" id=\"verdict\" role=\"alert\">核验未通过（%s）：%s</p>\n", which,
		  o->err);
	}
	H(&r->out, "<table id=\"checks\">\n<tr><th>检查</th><th>结果</th><th>说明</th></tr>\n");
	for (int k = 0; k < AUDIT_NCHECKS; k++) {
		const char *state = o->state[k] == AUDIT_HELD                 ? "通过"
				    : o->state[k] == AUDIT_FAILED             ? "未通过"
				    : k == AUDIT_CHECK_CHECKPOINT && !with_cp ? "未提供检查点"
									      : "未运行";
		H(&r->out, "<tr id=\"check-%d\"><td>%s</td><td class=\"%s\">%s</td><td>", k, check_zh[k],
		  o->state[k] == AUDIT_HELD     ? "held"
		  : o->state[k] == AUDIT_FAILED ? "failed"
						: "detail",
		  state);
		check_detail(r, o, k);
		H(&r->out, "</td></tr>\n");
	}
	H(&r->out, "</table>\n");
	if (o->has_checkpoint)
		H(&r->out,
		  "<p id=\"checkpoint-key\">检查点签名时间 %s（北京时间） · 签名算法 %s · 公钥指纹（SHA-256）"
		  "<code>%s</code></p>\n",
		  o->cp.time_cn, o->cp.alg == SIG_ALG_SM2_SM3 ? "SM2-SM3" : "Ed25519", o->cp.fingerprint);
	H(&r->out, "<h2>核验输出</h2>\n<pre id=\"verify-output\">%s</pre>\n", text ? text : "");
	H(&r->out, "<p class=\"detail\">用时 %D 毫秒。<a href=\"/audit\" id=\"back\">返回审计页</a></p>\n", ms);
	page_end(r);
	reply_html(r, 200);
	free(text);
	free(o);
	buf_free(&line);
	buf_free(&cp);
	buf_free(&err);
}
