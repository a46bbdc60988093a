/* voucher-console as a process, over HTTPS, against a real database: sign-in
 * checked by PostgreSQL (SCRAM), never where the database did not ask for a
 * password; the maker-checker refusal shown in Chinese; the CSRF token; no
 * state change on GET; the throttle; idle sessions; the public notice with
 * masked codes; an enterprise named like a script shown as text; staff client
 * certificates.  tests/run.sh makes members of voucher_console_test sign in
 * with scram-sha-256 (every other role stays trusted on the socket). */
#include <criterion/criterion.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "settle_fixture.h"
#include "support.h"

#define PW "console-test-pw"

extern char **environ;

typedef struct {
	pid_t pid;
	int port;
	char dir[256];
	char jar[300];
	char csrf[65];
} con_t;

static void role(const char *name, const char *in_roles)
{
	char q[512];
	snprintf(q, sizeof q,
		 "DO $$ BEGIN CREATE ROLE %s LOGIN PASSWORD '" PW "' IN ROLE %s, voucher_console_test; "
		 "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
		 name, in_roles);
	sf_sql(q);
}

/* A database with two Tongxiang enterprises (one named like a script), their
 * March usage, the programme and calendar, and a draft settled by cw_prep. */
static long long fixture(void)
{
	sf_setup();
	sf_sql("DO $$ BEGIN CREATE ROLE voucher_console_test NOLOGIN; EXCEPTION WHEN duplicate_object OR "
	       "unique_violation THEN NULL; END $$");
	role("cw_prep", "voucher_finance");
	role("cw_appr", "voucher_finance");
	role("cw_aud", "voucher_auditor");
	sf_sql("DO $$ BEGIN CREATE ROLE cw_root LOGIN SUPERUSER PASSWORD '" PW "' IN ROLE voucher_console_test; "
	       "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
	sf_sql("DO $$ BEGIN CREATE ROLE cw_notice LOGIN PASSWORD '" PW
	       "' IN ROLE voucher_notice, voucher_console_test; "
	       "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
	const char *e1 = sf_uscc("330483", 1), *e2 = sf_uscc("330483", 2);
	char u1[32], u2[32];
	snprintf(u1, sizeof u1, "%s", e1);
	snprintf(u2, sizeof u2, "%s", e2);
	sf_enterprise(u1, "330483", "桐乡测试科技有限公司");
	sf_enterprise(u2, "330483", "<script>alert(1)</script>");
	sf_load_program(t_root_path("settlement/programs/tongxiang-compute.conf"));
	char out[4096], err[4096];
	cr_assert_eq(sf_ctl("alice", "calendar load settlement/calendar/2026.txt", out, sizeof out, err, sizeof err), 0,
		     "%s", err);
	sf_record("prov-a", u1, "fa", "intelligent_compute", 1000000, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", u2, "fa", "intelligent_compute", 300000, "2026-03-11T10:00:00+08:00", NULL);
	char ci[512];
	snprintf(ci, sizeof ci, "%s user=cw_prep password=" PW, sf_ci);
	struct t_ctl_run *r = t_ctl(ci, "settle --program tongxiang-compute --period 2026-03");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	return atoll(r->out + 4);
}

static void con_start(con_t *c, const char *extra)
{
	memset(c, 0, sizeof *c);
	snprintf(c->dir, sizeof c->dir, "%s/console.%d.XXXXXX", getenv("VOUCHER_TEST_TMP"), (int)getpid());
	cr_assert(mkdtemp(c->dir));
	snprintf(c->jar, sizeof c->jar, "%s/jar", c->dir);
	c->port = t_free_port();
	/* the test database's conninfo without its user */
	char dbonly[256];
	snprintf(dbonly, sizeof dbonly, "%s", sf_ci);
	char *u = strstr(dbonly, " user=");
	if (u)
		*u = '\0';
	char conf[400], pass[400];
	snprintf(pass, sizeof pass, "%s/notice.pgpass", c->dir);
	FILE *f = fopen(pass, "w");
	cr_assert(f);
	fprintf(f, "*:*:*:cw_notice:" PW "\n");
	fclose(f);
	chmod(pass, 0600);
	snprintf(conf, sizeof conf, "%s/console.conf", c->dir);
	f = fopen(conf, "w");
	cr_assert(f);
	const char *pki = getenv("VOUCHER_TEST_PKI");
	fprintf(f,
		"[console]\nlisten = 127.0.0.1:%d\ntls_cert = %s/server.pem\ntls_key = %s/server.key\n"
		"notice_contact = 测试局 0573-0000\n%s\n[database]\nconninfo = %s\nnotice_user = cw_notice\n"
		"notice_passfile = %s\n[log]\nlevel = debug\n",
		c->port, pki, pki, extra ? extra : "", dbonly, pass);
	fclose(f);
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cd '%s' && exec bin/voucher-console -c '%s' >/dev/null 2>'%s/console.log'",
		 t_root_path(""), conf, c->dir);
	char *argv[] = {"sh", "-c", cmd, NULL};
	cr_assert_eq(posix_spawn(&c->pid, "/bin/sh", NULL, NULL, argv, environ), 0);
	for (int i = 0; i < 150; i++) {
		char probe[300], code[16] = "";
		snprintf(probe, sizeof probe, "curl -s -k -o /dev/null -w '%%{http_code}' https://127.0.0.1:%d/login",
			 c->port);
		t_run(probe, code, sizeof code, NULL, 0);
		if (!strcmp(code, "200"))
			return;
		usleep(100000);
	}
	cr_assert_fail("voucher-console did not start");
}

static void con_stop(con_t *c)
{
	kill(c->pid, SIGTERM);
	int st = 0;
	waitpid(c->pid, &st, 0);
	char log[400];
	snprintf(log, sizeof log, "%s/console.log", c->dir);
	size_t n = 0;
	char *text = t_slurp(log, &n);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "voucher-console exited %d:\n%s", st, text ? text : "");
	free(text);
}

/* One request with curl and the cookie jar.  form: "a=b&c=d" (urlencoded by
 * curl per field; NULL for GET).  Returns the status; headers and body in
 * out (headers first). */
static int req(con_t *c, const char *method, const char *path, const char *form, const char *client, char *out,
	       size_t cap)
{
	buf_t cmd = BUF_INIT;
	buf_printf(&cmd, "curl -sS --max-time 20 -k -D - -b '%s' -c '%s' -X %s", c->jar, c->jar, method);
	if (client)
		buf_printf(&cmd, " --cert '%s.pem' --key '%s.key'", client, client);
	if (form) {
		char *copy = strdup(form), *save = NULL;
		for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save))
			buf_printf(&cmd, " --data-urlencode '%s'", kv);
		free(copy);
	}
	buf_printf(&cmd, " -w '\\n%%{http_code}' 'https://127.0.0.1:%d%s'", c->port, path);
	static char res[1 << 20];
	t_run(cmd.data, res, sizeof res, NULL, 0);
	buf_free(&cmd);
	char *last = strrchr(res, '\n');
	int code = last ? atoi(last + 1) : 0;
	if (last)
		*last = '\0';
	if (out)
		snprintf(out, cap, "%s", res);
	/* remember the session's CSRF token from any form */
	const char *t = strstr(res, "name=\"csrf\" value=\"");
	if (t && strlen(t + 19) >= 64) {
		memcpy(c->csrf, t + 19, 64);
		c->csrf[64] = '\0';
	}
	return code;
}

static int login(con_t *c, const char *user, const char *pw, const char *client, char *out, size_t cap)
{
	char page[65536];
	cr_assert_eq(req(c, "GET", "/login", NULL, client, page, sizeof page), 200, "%s", page);
	char form[512];
	snprintf(form, sizeof form, "csrf=%s&username=%s&password=%s", c->csrf, user, pw);
	return req(c, "POST", "/login", form, client, out, cap);
}

static const char *run_status(long long run)
{
	char q[128];
	snprintf(q, sizeof q, "SELECT status FROM audit.runs WHERE run_id = %lld", run);
	return t_scalar(sf_db, q);
}

static char page[1 << 20];

Test(console, sign_in_is_checked_by_the_database, .timeout = 120)
{
	t_require_db();
	fixture();
	con_t c;
	con_start(&c, NULL);
	cr_assert_eq(login(&c, "cw_prep", "wrong", NULL, page, sizeof page), 403);
	cr_assert(strstr(page, "用户名或密码错误"), "%s", page);
	/* alice is trusted on the socket: the database never asks for her
	 * password, so the console must not let her in with any password */
	cr_assert_eq(login(&c, "alice", "anything", NULL, page, sizeof page), 403);
	cr_assert(strstr(page, "数据库未校验密码"), "%s", page);
	/* a superuser with a good password is not staff */
	cr_assert_eq(login(&c, "cw_root", PW, NULL, page, sizeof page), 403);
	cr_assert(strstr(page, "超级用户不能登录"), "%s", page);
	cr_assert_eq(login(&c, "cw_prep", PW, NULL, page, sizeof page), 303, "%s", page);
	cr_assert(strstr(page, "Location: /runs"), "%s", page);
	cr_assert(strstr(page, "; HttpOnly; Secure; SameSite=Strict"), "%s", page);
	cr_assert_eq(req(&c, "GET", "/runs", NULL, NULL, page, sizeof page), 200);
	cr_assert(strstr(page, "Content-Security-Policy: default-src 'none'"), "%s", page);
	cr_assert_null(strstr(page, "unsafe-inline"));
	cr_assert(strstr(page, "X-Frame-Options: DENY"));
	cr_assert(strstr(page, "Cache-Control: no-store"));
	cr_assert(strstr(page, "cw_prep（财务）"), "%s", page);
	/* logout ends the session: the old cookie no longer opens /runs */
	char form[128];
	snprintf(form, sizeof form, "csrf=%s", c.csrf);
	cr_assert_eq(req(&c, "POST", "/logout", form, NULL, page, sizeof page), 303);
	cr_assert_eq(req(&c, "GET", "/runs", NULL, NULL, page, sizeof page), 303);
	cr_assert(strstr(page, "Location: /login"), "%s", page);
	con_stop(&c);
	sf_teardown();
}

Test(console, approval_needs_a_second_person_and_the_token, .timeout = 120)
{
	t_require_db();
	long long run = fixture();
	con_t c;
	con_start(&c, NULL);
	cr_assert_eq(login(&c, "cw_prep", PW, NULL, page, sizeof page), 303, "%s", page);
	char path[64], form[256];
	snprintf(path, sizeof path, "/runs/%lld", run);
	cr_assert_eq(req(&c, "GET", path, NULL, NULL, page, sizeof page), 200);
	cr_assert(strstr(page, ">批准</button>") && strstr(page, ">退回</button>"), "%s", page);
	cr_assert(strstr(page, "id=\"total-payable\""), "%s", page);
	/* a GET changes nothing */
	snprintf(path, sizeof path, "/runs/%lld/approve", run);
	cr_assert_eq(req(&c, "GET", path, NULL, NULL, page, sizeof page), 405);
	cr_assert_str_eq(run_status(run), "draft");
	/* a form without the token, or with another, changes nothing */
	cr_assert_eq(req(&c, "POST", path, "comment=ok", NULL, page, sizeof page), 403);
	cr_assert(strstr(page, "表单已失效"), "%s", page);
	cr_assert_eq(req(&c, "POST", path, "csrf=0000000000000000000000000000000000000000000000000000000000000000",
			 NULL, page, sizeof page),
		     403);
	cr_assert_str_eq(run_status(run), "draft");
	/* the preparer may not approve: the database says so, in Chinese */
	snprintf(form, sizeof form, "csrf=%s&comment=mine", c.csrf);
	cr_assert_eq(req(&c, "POST", path, form, NULL, page, sizeof page), 409);
	cr_assert(strstr(page, "编制人不能批准"), "%s", page);
	cr_assert(strstr(page, "id=\"refused\""), "%s", page);
	cr_assert_str_eq(run_status(run), "draft");
	/* the second person may */
	con_t c2 = c;
	snprintf(c2.jar, sizeof c2.jar, "%s/jar2", c.dir);
	cr_assert_eq(login(&c2, "cw_appr", PW, NULL, page, sizeof page), 303);
	char runpath[64];
	snprintf(runpath, sizeof runpath, "/runs/%lld", run);
	cr_assert_eq(req(&c2, "GET", runpath, NULL, NULL, page, sizeof page), 200); /* the session's token */
	snprintf(form, sizeof form, "csrf=%s&comment=核对无误", c2.csrf);
	cr_assert_eq(req(&c2, "POST", path, form, NULL, page, sizeof page), 303, "%s", page);
	cr_assert_str_eq(run_status(run), "approved");
	char q[160];
	snprintf(q, sizeof q,
		 "SELECT by_user || ' ' || comment FROM audit.run_events WHERE run_id = %lld AND event = 'approved'",
		 run);
	cr_assert_str_eq(t_scalar(sf_db, q), "cw_appr 核对无误");
	/* publish; the notice is public, without a session, with masked codes */
	snprintf(path, sizeof path, "/runs/%lld/publish", run);
	snprintf(form, sizeof form, "csrf=%s", c2.csrf);
	cr_assert_eq(req(&c2, "POST", path, form, NULL, page, sizeof page), 303);
	con_t anon = c;
	snprintf(anon.jar, sizeof anon.jar, "%s/jar3", c.dir);
	snprintf(path, sizeof path, "/notice/%lld", run);
	cr_assert_eq(req(&anon, "GET", path, NULL, NULL, page, sizeof page), 200, "%s", page);
	const char *u1 = sf_uscc("330483", 1);
	char masked[32];
	snprintf(masked, sizeof masked, "%.6s********%s", u1, u1 + 14);
	cr_assert(strstr(page, masked), "%s not in %s", masked, page);
	cr_assert_null(strstr(page, u1), "the full code is on the public page");
	cr_assert(strstr(page, "测试局 0573-0000"), "%s", page);
	cr_assert(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt;"), "%s", page);
	cr_assert_null(strstr(page, "<script>"));
	/* an objection against a line during the notice, then its resolution */
	snprintf(path, sizeof path, "/runs/%lld/objections", run);
	snprintf(form, sizeof form, "csrf=%s&uscc=%s&text=该企业已注销", c2.csrf, u1);
	cr_assert_eq(req(&c2, "POST", path, form, NULL, page, sizeof page), 303, "%s", page);
	snprintf(
		q, sizeof q,
		"SELECT objection_id || ' ' || raised_by || ' ' || objection FROM audit.objections WHERE run_id = %lld",
		run);
	const char *row = t_scalar(sf_db, q);
	cr_assert(strstr(row, " cw_appr 该企业已注销"), "%s", row);
	long long oid = atoll(row);
	snprintf(path, sizeof path, "/runs/%lld", run);
	cr_assert_eq(req(&c2, "GET", path, NULL, NULL, page, sizeof page), 200);
	cr_assert(strstr(page, "未处理（暂缓拨付）"), "%s", page);
	/* an objection against a line that is not in the run is refused */
	snprintf(path, sizeof path, "/runs/%lld/objections", run);
	snprintf(form, sizeof form, "csrf=%s&uscc=913304830000000000&text=x", c2.csrf);
	cr_assert_eq(req(&c2, "POST", path, form, NULL, page, sizeof page), 409, "%s", page);
	snprintf(path, sizeof path, "/runs/%lld/objections/%lld/resolve", run, oid);
	snprintf(form, sizeof form, "csrf=%s&outcome=dismissed&resolution=经核实企业正常经营", c2.csrf);
	cr_assert_eq(req(&c2, "POST", path, form, NULL, page, sizeof page), 303, "%s", page);
	snprintf(q, sizeof q, "SELECT outcome || ' ' || resolved_by FROM audit.objections WHERE objection_id = %lld",
		 oid);
	cr_assert_str_eq(t_scalar(sf_db, q), "dismissed cw_appr");
	con_stop(&c);
	sf_teardown();
}

Test(console, a_script_name_is_text_and_paths_do_not_redirect_away, .timeout = 120)
{
	t_require_db();
	long long run = fixture();
	con_t c;
	con_start(&c, NULL);
	cr_assert_eq(login(&c, "cw_aud", PW, NULL, page, sizeof page), 303);
	char path[64];
	snprintf(path, sizeof path, "/runs/%lld", run);
	cr_assert_eq(req(&c, "GET", path, NULL, NULL, page, sizeof page), 200);
	cr_assert(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt;"), "%s", page);
	cr_assert_null(strstr(page, "<script>"));
	/* an auditor sees no buttons */
	cr_assert_null(strstr(page, ">批准</button>"));
	/* a path that looks like another host is this host's path: any
	 * redirect stays here */
	req(&c, "GET", "//evil.example/", NULL, NULL, page, sizeof page);
	const char *loc = strstr(page, "Location: ");
	cr_assert(!loc || (loc[10] == '/' && loc[11] != '/'), "%s", page);
	cr_assert_null(strstr(page, "evil.example"), "%s", page);
	cr_assert_eq(req(&c, "GET", "/login?next=https://evil.example/", NULL, NULL, page, sizeof page), 303);
	cr_assert(strstr(page, "Location: /audit"), "%s", page);
	/* the overview without parameters: the first programme, this year */
	cr_assert_eq(req(&c, "GET", "/overview", NULL, NULL, page, sizeof page), 200, "%s", page);
	cr_assert(strstr(page, "资金概览"), "%s", page);
	/* an unknown run is a page that says so */
	cr_assert_eq(req(&c, "GET", "/runs/99999", NULL, NULL, page, sizeof page), 404);
	cr_assert(strstr(page, "没有这个批次"), "%s", page);
	/* an unknown programme in the list is an error, not an empty table */
	cr_assert_eq(req(&c, "GET", "/runs?program=hangzhou", NULL, NULL, page, sizeof page), 404);
	con_stop(&c);
	sf_teardown();
}

Test(console, wrong_passwords_lock_the_name, .timeout = 120)
{
	t_require_db();
	fixture();
	con_t c;
	con_start(&c, "login_max_failures = 3");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(login(&c, "cw_appr", "wrong", NULL, page, sizeof page), 403);
	/* locked: even the right password is not tried */
	cr_assert_eq(login(&c, "cw_appr", PW, NULL, page, sizeof page), 429);
	cr_assert(strstr(page, "已暂时锁定"), "%s", page);
	con_stop(&c);
	sf_teardown();
}

Test(console, an_idle_session_ends, .timeout = 120)
{
	t_require_db();
	fixture();
	con_t c;
	con_start(&c, "session_idle_s = 5");
	cr_assert_eq(login(&c, "cw_prep", PW, NULL, page, sizeof page), 303, "%s", page);
	cr_assert_eq(req(&c, "GET", "/runs", NULL, NULL, page, sizeof page), 200);
	sleep(7);
	cr_assert_eq(req(&c, "GET", "/runs", NULL, NULL, page, sizeof page), 303);
	cr_assert(strstr(page, "Location: /login?expired=1"), "%s", page);
	cr_assert_eq(req(&c, "GET", "/login?expired=1", NULL, NULL, page, sizeof page), 200);
	cr_assert(strstr(page, "会话已超时"), "%s", page);
	con_stop(&c);
	sf_teardown();
}

Test(console, staff_certificates_when_required, .timeout = 180)
{
	t_require_db();
	fixture();
	char pki[300], cmd[1400];
	snprintf(pki, sizeof pki, "%s/ukey.%d", getenv("VOUCHER_TEST_TMP"), (int)getpid());
	snprintf(
		cmd, sizeof cmd,
		"cd '%s' && sh deploy/dev-ca.sh '%s' >/dev/null && sh deploy/dev-ca.sh '%s' client cw_prep >/dev/null && "
		"sh deploy/dev-ca.sh '%s' client cw_appr >/dev/null",
		t_root_path(""), pki, pki, pki);
	cr_assert_eq(t_run(cmd, NULL, 0, NULL, 0), 0);
	char extra[400];
	snprintf(extra, sizeof extra, "tls_client_ca = %s/ca.pem", pki);
	con_t c;
	con_start(&c, extra);
	char prep[400], appr[400];
	snprintf(prep, sizeof prep, "%s/cw_prep", pki);
	snprintf(appr, sizeof appr, "%s/cw_appr", pki);
	/* no certificate, or another person's: refused before the password */
	cr_assert_eq(login(&c, "cw_prep", PW, NULL, page, sizeof page), 403);
	cr_assert(strstr(page, "客户端证书"), "%s", page);
	cr_assert_eq(login(&c, "cw_prep", PW, appr, page, sizeof page), 403);
	cr_assert_eq(login(&c, "cw_prep", PW, prep, page, sizeof page), 303, "%s", page);
	cr_assert_eq(req(&c, "GET", "/runs", NULL, prep, page, sizeof page), 200);
	/* the session's cookie alone, without the certificate, opens nothing */
	cr_assert_eq(req(&c, "GET", "/runs", NULL, NULL, page, sizeof page), 403);
	con_stop(&c);
	sf_teardown();
}
