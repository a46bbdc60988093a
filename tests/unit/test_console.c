/* The console's pure parts: the one escaping function and the H() formatter,
 * the sign-in throttle, the Chinese for the database's refusals, and the
 * configuration file. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "console/config.h"
#include "console/html.h"
#include "console/messages.h"
#include "console/throttle.h"

static char *text_of(void (*fn)(buf_t *, const char *), const char *in)
{
	static char out[1024];
	buf_t b = BUF_INIT;
	fn(&b, in);
	snprintf(out, sizeof out, "%s", b.data ? b.data : "");
	buf_free(&b);
	return out;
}

Test(unit_console, html_text_escapes_markup)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"a & b", "a &amp; b"},
		{"\"quoted\" 'single'", "&quot;quoted&quot; &#39;single&#39;"},
		{"桐乡乌镇智能科技有限公司", "桐乡乌镇智能科技有限公司"},
		{"bad\xff utf8 \xc0\xaf", "bad\xEF\xBF\xBD utf8 \xEF\xBF\xBD\xEF\xBF\xBD"},
		{"surrogate \xed\xa0\x80", "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
		{"ctl\x01\x1b[31m\x7f", "ctl[31m"},
		{"tab\tnl\n", "tab\tnl\n"},
		{"", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_assert_str_eq(text_of(html_text, cases[i].in), cases[i].want, "case %zu", i);
	cr_assert_str_eq(text_of(html_text, NULL), "");
}

Test(unit_console, html_attr_and_url_are_strict)
{
	cr_assert_str_eq(text_of(html_attr, "a b\"><x"), "a&#x20;b&#x22;&#x3E;&#x3C;x");
	cr_assert_str_eq(text_of(html_attr, "javascript:alert(1)"), "javascript&#x3A;alert&#x28;1&#x29;");
	cr_assert_str_eq(text_of(html_attr, "西湖区"), "西湖区");
	cr_assert_str_eq(text_of(html_url, "91330483100000001E"), "91330483100000001E");
	cr_assert_str_eq(text_of(html_url, "a/b?c=d&e f#"), "a%2Fb%3Fc%3Dd%26e%20f%23");
	cr_assert_str_eq(text_of(html_url, "//evil.example"), "%2F%2Fevil.example");
	cr_assert_str_eq(text_of(html_url, "西"), "%E8%A5%BF");
}

Test(unit_console, h_formats_each_directive)
{
	buf_t b = BUF_INIT;
	H(&b, "<p title=\"%a\">%s %u %d %D %Y %%</p>", "x y", "<b>", "a b", -7, (int64_t)9000000000,
	  (int64_t)123456789);
	cr_assert_str_eq(b.data, "<p title=\"x&#x20;y\">&lt;b&gt; a%20b -7 9000000000 1,234,567.89 %</p>");
	buf_free(&b);
}

Test(unit_console, h_aborts_on_an_unknown_directive, .signal = SIGABRT)
{
	buf_t b = BUF_INIT;
	H(&b, "%x", 1);
}

Test(unit_console, throttle_locks_after_max_failures_and_forgets)
{
	throttle_t *t = throttle_new(3, 60, 100, 4);
	int64_t retry = 0;
	cr_assert_not(throttle_fail(t, "u:ann", 1000));
	cr_assert_not(throttle_fail(t, "u:ann", 1001));
	cr_assert_not(throttle_locked(t, "u:ann", 1002, &retry));
	cr_assert(throttle_fail(t, "u:ann", 1002), "the third failure locks");
	cr_assert(throttle_locked(t, "u:ann", 1003, &retry));
	cr_assert_eq(retry, 99);
	cr_assert_not(throttle_locked(t, "u:bob", 1003, &retry), "another name is not locked");
	cr_assert_not(throttle_locked(t, "u:ann", 1102, &retry), "the lockout ends");
	/* failures spread over more than the window do not add up */
	cr_assert_not(throttle_fail(t, "a:1", 0));
	cr_assert_not(throttle_fail(t, "a:1", 30));
	cr_assert_not(throttle_fail(t, "a:1", 100));
	cr_assert_not(throttle_fail(t, "a:1", 120));
	/* a success clears */
	throttle_fail(t, "u:cy", 5);
	throttle_fail(t, "u:cy", 6);
	throttle_clear(t, "u:cy");
	cr_assert_not(throttle_fail(t, "u:cy", 7));
	/* bounded: at most cap keys, the oldest make room */
	for (int i = 0; i < 50; i++) {
		char k[16];
		snprintf(k, sizeof k, "a:%d", i);
		throttle_fail(t, k, 2000 + i);
	}
	cr_assert_leq(throttle_size(t), 4);
	throttle_free(t);
}

static char *zh(const char *msg)
{
	static char out[1024];
	buf_t b = BUF_INIT;
	msg_chinese(msg, &b);
	snprintf(out, sizeof out, "%s", b.data);
	buf_free(&b);
	return out;
}

Test(unit_console, refusals_in_chinese)
{
	cr_assert_eq(msg_patterns_broken(), 0,
		     "a pattern of console/messages.c does not compile or names a missing group");
	/* the database's own words (sql/functions), as libpq hands them over */
	cr_assert_str_eq(zh("ERROR:  run 12 was prepared by prep: another user must approve it (a finance user)\n"
			    "CONTEXT:  PL/pgSQL function"),
			 "批次 12 由 prep 编制：编制人不能批准自己编制的批次，须由另一名财务人员批准。");
	cr_assert_str_eq(zh("run 3 is not a draft: it was approved"), "批次 3 已批准，不是草稿。");
	cr_assert_str_eq(
		zh("ERROR:  run 5: the public notice runs until 2026-12-10 (5 working days); disburse after it"),
		"批次 5：公示期至 2026-12-10（5个工作日），公示期满后才能拨付。");
	cr_assert_str_eq(zh("ERROR:  run return: a comment saying why is required"), "退回须填写审核意见，说明原因。");
	cr_assert_str_eq(zh("ERROR:  run approve: refused to the superuser postgres; superusers administer, finance "
			    "users run approve (log in as your own finance user)"),
			 "超级用户 postgres 不能执行此操作：请以本人的财务账户登录。");
	cr_assert_str_eq(zh("ERROR:  override confirm: override 4 was proposed by prep: another finance user must "
			    "confirm it"),
			 "一事一议 4 由 prep 提出：须由另一名财务人员确认。");
	cr_assert_str_eq(
		zh("ERROR:  run 9: its inputs changed after its cut-off 2026-04-01 10:00:00 (China time): "
		   "registry (enterprise versions imported since); settle again"),
		"批次 9：截止时间 2026-04-01 10:00:00（北京时间）之后输入数据已变化（registry (enterprise versions "
		"imported since)），不能批准；请重新结算。");
	cr_assert_str_eq(zh("ERROR:  objection add: run 7 has no line with a payable for 913304830000000000"),
			 "批次 7 中没有企业 913304830000000000 的拨付行，不能对其登记异议。");
	cr_assert_str_eq(zh("ERROR:  run 7: 2 lines are held by open objections; resolve them, then disburse again"),
			 "批次 7：剩余 2 行因异议未处理而暂缓拨付；异议处理后才能拨付。");
	cr_assert_str_eq(zh("ERROR:  something nobody foresaw"), "数据库拒绝了此操作：something nobody foresaw");
}

static console_config_t *load(const char *text, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/vccfg-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	console_config_t *c = console_config_load(path, err, errlen);
	unlink(path);
	return c;
}

Test(unit_console, config_keys_defaults_and_refusals)
{
	char err[512] = "";
	console_config_t *c = load("[console]\ntls_cert = c.pem\ntls_key = k.pem\nnotice_contact = 电话 0573\n"
				   "[database]\nconninfo = host=/run/pg dbname=voucher\n",
				   err, sizeof err);
	cr_assert(c, "%s", err);
	cr_assert_str_eq(c->listen, "127.0.0.1:8444");
	cr_assert_eq(c->session_idle_s, 900);
	cr_assert_eq(c->login_max_failures, 5);
	cr_assert_str_eq(c->notice_contact, "电话 0573");
	cr_assert_str_eq(c->tls_client_ca, "");
	console_config_free(c);
	cr_assert_null(load("[console]\ntls_cert = c\ntls_key = k\nnotice_contact = x\n"
			    "[database]\nconninfo = host=/run/pg dbname=voucher user=postgres\n",
			    err, sizeof err));
	cr_assert(strstr(err, "database.conninfo: must not name a user"), "%s", err);
	cr_assert_null(load("[console]\ntls_cert = c\ntls_key = k\nnotice_contact = x\n"
			    "[database]\nconninfo = postgresql://a:secret@db/voucher\n",
			    err, sizeof err));
	cr_assert(strstr(err, "must not name a"), "%s", err);
	cr_assert_null(
		load("[console]\ntls_cert = c\ntls_key = k\n[database]\nconninfo = dbname=v\n", err, sizeof err));
	cr_assert(strstr(err, "console.notice_contact: required key is missing"), "%s", err);
	cr_assert_null(load("[console]\ntls_cert = c\ntls_key = k\nnotice_contact = x\nsession_idle_s = 1\n"
			    "[database]\nconninfo = dbname=v\n",
			    err, sizeof err));
	cr_assert(strstr(err, "console.session_idle_s: 1 is out of range"), "%s", err);
}
