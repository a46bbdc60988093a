/* The console's HTTP side: TLS, sessions, the CSRF check, dispatch, and the
 * reply helpers every page uses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/hex.h"
#include "common/log.h"
#include "console/console.h"
#include "console/html.h"
#include "console/messages.h"
#include "console/server.h"

int64_t console_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t console_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------ TLS */

SSL_CTX *console_tls_ctx(const console_config_t *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
	const char *what = NULL, *file = NULL;
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1)
		what = "console.tls_cert: cannot load", file = cfg->tls_cert;
	else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1)
		what = "console.tls_key: cannot load", file = cfg->tls_key;
	else if (SSL_CTX_check_private_key(ctx) != 1)
		what = "console.tls_key: does not match console.tls_cert", file = cfg->tls_key;
	else if (*cfg->tls_client_ca && SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca, NULL) != 1)
		what = "console.tls_client_ca: cannot load", file = cfg->tls_client_ca;
	if (what) {
		unsigned long e = ERR_get_error();
		snprintf(err, errlen, "%s %s: %s", what, file, e ? ERR_reason_error_string(e) : "error");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (*cfg->tls_client_ca) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_client_ca);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
		/* asked for, not demanded: the public notice needs none; staff
		 * pages check for a verified one (staff_cert_ok) */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_verify_depth(ctx, 4);
	}
	return ctx;
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
	console_t *con = arg;
	SSL *ssl = SSL_new(con->ssl_ctx);
	if (!ssl)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
								 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static SSL *request_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	return bev ? bufferevent_openssl_get_ssl(bev) : NULL;
}

/* With console.tls_client_ca set, a staff request needs a verified client
 * certificate whose common name is the user signing in (the UKey). */
static bool staff_cert_ok(const req_t *r, const char *user)
{
	if (!*r->con->cfg->tls_client_ca)
		return true;
	SSL *ssl = request_ssl(r->ev);
	X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	if (!peer || SSL_get_verify_result(ssl) != X509_V_OK)
		return false;
	if (!user)
		return true;
	char cn[256] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
	return !strcmp(cn, user);
}

/* ------------------------------------------------------------------ sessions */

static void random_hex(char out[65])
{
	unsigned char b[32];
	if (RAND_bytes(b, sizeof b) != 1)
		die(1, "voucher-console: no randomness for a session id");
	hex_encode(b, sizeof b, out);
}

static bool token_eq(const char *a, const char *b)
{
	if (!a || !b || strlen(a) != 64 || strlen(b) != 64)
		return false;
	return CRYPTO_memcmp(a, b, 64) == 0;
}

static void session_drop(console_t *con, session_t *s, const char *why)
{
	for (session_t **pp = &con->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	log_info("logout", "user=%s why=%s", log_q(s->user), why);
	PQfinish(s->db);
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
	con->nsessions--;
}

void console_sweep(console_t *con)
{
	int64_t now = console_now_ms();
	for (session_t *s = con->sessions, *next; s; s = next) {
		next = s->next;
		if (now - s->last_ms > con->cfg->session_idle_s * 1000)
			session_drop(con, s, "idle");
	}
	log_flush();
}

void console_sessions_free(console_t *con)
{
	while (con->sessions)
		session_drop(con, con->sessions, "shutdown");
}

static const char *cookie(struct evhttp_request *ev, const char *name)
{
	static char val[128];
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(ev), "Cookie");
	size_t nl = strlen(name);
	while (h && *h) {
		while (*h == ' ' || *h == ';')
			h++;
		if (!strncmp(h, name, nl) && h[nl] == '=') {
			h += nl + 1;
			size_t n = strcspn(h, ";");
			if (n >= sizeof val)
				return NULL;
			memcpy(val, h, n);
			val[n] = '\0';
			return val;
		}
		h = strchr(h, ';');
	}
	return NULL;
}

/* The session named by the cookie, if it exists and is not idle too long;
 * an idle one is closed here.  *expired says a cookie named one that was. */
static session_t *session_find(console_t *con, struct evhttp_request *ev, bool *expired)
{
	*expired = false;
	const char *id = cookie(ev, "vc_session");
	if (!id)
		return NULL;
	for (session_t *s = con->sessions; s; s = s->next) {
		if (!token_eq(s->id, id))
			continue;
		if (console_now_ms() - s->last_ms > con->cfg->session_idle_s * 1000) {
			session_drop(con, s, "idle");
			*expired = true;
			return NULL;
		}
		return s;
	}
	*expired = strlen(id) == 64;
	return NULL;
}

/* ------------------------------------------------------------------ replies */

static void security_headers(struct evkeyvalq *h)
{
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
			  "frame-ancestors 'none'; base-uri 'none'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "same-origin");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
	evhttp_add_header(h, "Cache-Control", "no-store");
}

static void send_reply(req_t *r, int status, const char *reason, const void *data, size_t len)
{
	if (r->replied)
		return;
	r->replied = true;
	struct evbuffer *b = evbuffer_new();
	if (data && len)
		evbuffer_add(b, data, len);
	evhttp_send_reply(r->ev, status, reason, b);
	evbuffer_free(b);
	int64_t us = console_now_us() - r->started_us;
	log_debug("request", "method=%s path=%s status=%d user=%s us=%" PRId64, r->post ? "POST" : "GET",
		  log_q(r->path), status, r->s ? log_q(r->s->user) : "-", us);
}

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

void reply_html(req_t *r, int status)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	security_headers(h);
	send_reply(r, status, reason_of(status), r->out.data, r->out.len);
}

void reply_redirect(req_t *r, const char *path)
{
	/* only paths built here: one leading '/', never '//' or a scheme */
	if (path[0] != '/' || path[1] == '/' || path[1] == '\\' || strchr(path, '\r') || strchr(path, '\n'))
		abort();
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
	security_headers(h);
	evhttp_add_header(h, "Location", path);
	send_reply(r, 303, "See Other", NULL, 0);
}

void reply_bytes(req_t *r, const char *ctype, const char *filename, const void *data, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
	evhttp_add_header(h, "Content-Type", ctype);
	security_headers(h);
	if (filename) {
		buf_t cd = BUF_INIT;
		buf_puts(&cd, "attachment; filename*=UTF-8''");
		html_url(&cd, filename);
		evhttp_add_header(h, "Content-Disposition", cd.data);
		buf_free(&cd);
	}
	send_reply(r, 200, "OK", data, len);
}

void reply_error(req_t *r, int status, const char *zh, const char *detail)
{
	buf_reset(&r->out);
	page_begin(r, "出错了");
	H(&r->out, "<p class=\"refused\" id=\"error\">%s</p>\n", zh);
	if (detail && *detail)
		H(&r->out, "<p class=\"detail\">%s</p>\n", detail);
	H(&r->out, "<p><a href=\"/\">返回首页</a></p>\n");
	page_end(r);
	reply_html(r, status);
}

void log_action(const req_t *r, const char *action, int64_t id, const char *refusal)
{
	if (refusal) {
		buf_t line = BUF_INIT;
		msg_first_line(refusal, &line);
		log_info("action_refused", "user=%s action=%s id=%" PRId64 " why=%s", log_q(r->s ? r->s->user : "-"),
			 action, id, log_q(line.data ? line.data : ""));
		buf_free(&line);
	} else {
		log_info("action", "user=%s action=%s id=%" PRId64, log_q(r->s ? r->s->user : "-"), action, id);
	}
}

void reply_refused(req_t *r, const char *title, const char *pgmsg, const char *back)
{
	buf_t zh = BUF_INIT, orig = BUF_INIT;
	msg_chinese(pgmsg, &zh);
	msg_first_line(pgmsg, &orig);
	buf_reset(&r->out);
	page_begin(r, title);
	H(&r->out, "<p class=\"refused\" id=\"refused\" role=\"alert\">%s</p>\n", zh.data ? zh.data : "");
	H(&r->out, "<p class=\"detail\">数据库原文：%s</p>\n", orig.data ? orig.data : "");
	if (back)
		H(&r->out, "<p><a href=\"%a\" id=\"back\">返回</a></p>\n", back);
	page_end(r);
	reply_html(r, 409);
	buf_free(&zh);
	buf_free(&orig);
}

/* ------------------------------------------------------------------ database */

PGresult *req_query(req_t *r, const char *sql, int n, const char *const *params, buf_t *err)
{
	PGconn *c = req_db(r, err);
	if (!c)
		return NULL;
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	buf_puts(err, PQresultErrorMessage(res));
	if (!*PQresultErrorMessage(res))
		buf_puts(err, PQerrorMessage(c));
	PQclear(res);
	return NULL;
}

PGconn *req_db(req_t *r, buf_t *err)
{
	PGconn *c = r->s ? r->s->db : NULL;
	if (!c) {
		buf_puts(err, "not signed in");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		PQreset(c);
		if (PQstatus(c) != CONNECTION_OK) {
			buf_puts(err, PQerrorMessage(c));
			return NULL;
		}
	}
	return c;
}

/* ------------------------------------------------------------------ sign-in */

static void client_addr(struct evhttp_request *ev, char *out, size_t len)
{
	char *host = NULL;
	ev_uint16_t port = 0;
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	if (evcon)
		evhttp_connection_get_peer(evcon, &host, &port);
	snprintf(out, len, "%s", host ? host : "?");
}

static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static void login_form(req_t *r, int status, const char *message)
{
	const char *pre = cookie(r->ev, "vc_pre");
	char token[65];
	if (pre && strlen(pre) == 64) {
		snprintf(token, sizeof token, "%s", pre);
	} else {
		random_hex(token);
		char c[160];
		snprintf(c, sizeof c, "vc_pre=%s; Path=/; HttpOnly; Secure; SameSite=Strict", token);
		evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Set-Cookie", c);
	}
	buf_reset(&r->out);
	page_begin(r, "登录");
	if (message)
		H(&r->out, "<p class=\"refused\" id=\"login-error\" role=\"alert\">%s</p>\n", message);
	H(&r->out,
	  "<form method=\"post\" action=\"/login\" class=\"login\">\n"
	  "<input type=\"hidden\" name=\"csrf\" value=\"%a\">\n"
	  "<label>用户名 <input name=\"username\" id=\"username\" autocomplete=\"username\" required "
	  "maxlength=\"63\"></label>\n"
	  "<label>密码 <input type=\"password\" name=\"password\" id=\"password\" "
	  "autocomplete=\"current-password\" required></label>\n"
	  "<button type=\"submit\" id=\"login\">登录</button>\n"
	  "</form>\n"
	  "<p class=\"detail\">以本人的数据库账户登录（财务或审计人员）。连续输错会被暂时锁定。</p>\n",
	  token);
	page_end(r);
	reply_html(r, status);
}

void page_login(req_t *r)
{
	char why[160];
	int64_t idle = r->con->cfg->session_idle_s;
	if (idle % 60 == 0)
		snprintf(why, sizeof why, "会话已超时（%" PRId64 " 分钟无操作），请重新登录。", idle / 60);
	else
		snprintf(why, sizeof why, "会话已超时（%" PRId64 " 秒无操作），请重新登录。", idle);
	login_form(r, 200, req_param(r, "expired") ? why : NULL);
}

void do_login(req_t *r)
{
	console_t *con = r->con;
	const char *user = req_form(r, "username"), *pw = req_form(r, "password");
	const char *pre = cookie(r->ev, "vc_pre");
	if (!token_eq(pre, req_form(r, "csrf"))) {
		log_warn("login_refused", "addr=%s why=csrf", r->addr);
		login_form(r, 403, "登录表单已失效，请重新输入。");
		return;
	}
	char kname[96], kaddr[96];
	snprintf(kname, sizeof kname, "u:%s", user && strlen(user) < 64 ? user : "?");
	snprintf(kaddr, sizeof kaddr, "a:%s", r->addr);
	time_t now = time(NULL);
	int64_t retry = 0;
	if (throttle_locked(con->throttle, kname, now, &retry) ||
	    throttle_locked(con->throttle_addr, kaddr, now, &retry)) {
		log_warn("login_throttled", "user=%s addr=%s retry_s=%" PRId64, log_q(user ? user : ""), r->addr,
			 retry);
		char m[160];
		snprintf(m, sizeof m, "登录失败次数过多，已暂时锁定，请 %" PRId64 " 分钟后再试。", (retry + 59) / 60);
		login_form(r, 429, m);
		return;
	}
	const char *why = NULL;
	PGconn *c = NULL;
	if (!name_ok(user) || !pw || !*pw || strlen(pw) > 1024) {
		why = "bad_input";
	} else if (!staff_cert_ok(r, user)) {
		why = "client_certificate";
	} else {
		char timeout[80];
		snprintf(timeout, sizeof timeout, "-c statement_timeout=%" PRId64 " -c TimeZone=Asia/Shanghai",
			 con->cfg->statement_timeout_ms);
		const char *kw[] = {"dbname",          "user",    "password", "application_name",
				    "connect_timeout", "options", NULL};
		const char *val[] = {con->cfg->conninfo, user, pw, "voucher-console", "10", timeout, NULL};
		c = PQconnectdbParams(kw, val, 1);
		if (PQstatus(c) != CONNECTION_OK) {
			why = "password";
			log_info("login_db", "user=%s msg=%s", log_q(user), log_q(PQerrorMessage(c)));
		} else if (!PQconnectionUsedPassword(c)) {
			/* trust or peer: the password was never checked */
			why = "no_password_check";
			log_error("login_refused",
				  "user=%s why=the database did not ask for a password (pg_hba.conf trust?): the "
				  "console signs in only where PostgreSQL checks passwords (scram-sha-256)",
				  log_q(user));
		}
	}
	bool finance = false, auditor = false;
	if (!why) {
		PGresult *res = PQexec(c, "SELECT r.rolsuper, pg_has_role(session_user, 'voucher_finance', 'MEMBER'), "
					  "pg_has_role(session_user, 'voucher_auditor', 'MEMBER') "
					  "FROM pg_roles r WHERE r.rolname = session_user");
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			why = "role_lookup";
		} else if (*PQgetvalue(res, 0, 0) == 't') {
			why = "superuser";
		} else {
			finance = *PQgetvalue(res, 0, 1) == 't';
			auditor = *PQgetvalue(res, 0, 2) == 't';
			if (!finance && !auditor)
				why = "not_staff";
		}
		PQclear(res);
	}
	if (why) {
		PQfinish(c);
		bool locked = false;
		if (strcmp(why, "superuser") && strcmp(why, "not_staff") && strcmp(why, "no_password_check")) {
			locked |= throttle_fail(con->throttle, kname, now);
			locked |= throttle_fail(con->throttle_addr, kaddr, now);
		}
		log_warn("login_failed", "user=%s addr=%s why=%s locked=%s", log_q(user ? user : ""), r->addr, why,
			 locked ? "yes" : "no");
		const char *msg = !strcmp(why, "superuser") ? "超级用户不能登录控制台：请以本人的财务或审计账户登录。"
				  : !strcmp(why, "not_staff") ? "此账户不是财务或审计人员。"
				  : !strcmp(why, "client_certificate") ? "需要与用户名一致的客户端证书（UKey）。"
				  : !strcmp(why, "no_password_check")
					  ? "数据库未校验密码，控制台拒绝登录；请联系管理员。"
					  : "用户名或密码错误。";
		login_form(r, 403, msg);
		return;
	}
	if (con->nsessions >= con->cfg->max_sessions) {
		PQfinish(c);
		log_warn("login_refused", "user=%s why=max_sessions", log_q(user));
		login_form(r, 503, "在线人数已满，请稍后再试。");
		return;
	}
	throttle_clear(con->throttle, kname);
	throttle_clear(con->throttle_addr, kaddr);
	session_t *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	random_hex(s->id);
	random_hex(s->csrf);
	snprintf(s->user, sizeof s->user, "%s", user);
	s->finance = finance;
	s->auditor = auditor;
	s->db = c;
	s->last_ms = console_now_ms();
	s->next = con->sessions;
	con->sessions = s;
	con->nsessions++;
	log_info("login", "user=%s addr=%s role=%s", log_q(user), r->addr,
		 finance && auditor ? "finance,auditor"
		 : finance          ? "finance"
				    : "auditor");
	char ck[160];
	snprintf(ck, sizeof ck, "vc_session=%s; Path=/; HttpOnly; Secure; SameSite=Strict", s->id);
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Set-Cookie", ck);
	reply_redirect(r, finance ? "/runs" : "/audit");
}

void do_logout(req_t *r)
{
	if (r->s)
		session_drop(r->con, r->s, "logout");
	r->s = NULL;
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Set-Cookie",
			  "vc_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
	reply_redirect(r, "/login");
}

/* ------------------------------------------------------------------ dispatch */

const char *req_param(const req_t *r, const char *name)
{
	return evhttp_find_header(&((req_t *)r)->query, name);
}

const char *req_form(const req_t *r, const char *name)
{
	return evhttp_find_header(&((req_t *)r)->form, name);
}

bool parse_id(const char *s, int64_t *out)
{
	if (!s || !*s || strlen(s) > 18)
		return false;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v <= 0)
		return false;
	*out = v;
	return true;
}

/* "/runs/12" -> 12 and rest "" ; "/runs/12/approve" -> rest "/approve" */
static bool path_id(const char *path, const char *prefix, int64_t *id, const char **rest)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n))
		return false;
	const char *p = path + n;
	char digits[24];
	size_t d = 0;
	while (p[d] >= '0' && p[d] <= '9' && d < sizeof digits - 1) {
		digits[d] = p[d];
		d++;
	}
	digits[d] = '\0';
	if (!parse_id(digits, id))
		return false;
	*rest = p + d;
	return true;
}

static void route(req_t *r)
{
	const char *p = r->path, *rest = NULL;
	int64_t id = 0;
	bool post = r->post;
	/* public: the login form, the notice, the style sheet */
	if (!strcmp(p, "/static/console.css") && !post) {
		reply_bytes(r, "text/css; charset=utf-8", NULL, console_css, strlen(console_css));
		return;
	}
	if (!strcmp(p, "/favicon.ico") || !strcmp(p, "/static/favicon.svg")) {
		reply_bytes(r, "image/svg+xml", NULL, console_favicon, strlen(console_favicon));
		return;
	}
	if (path_id(p, "/notice/", &id, &rest) && !*rest && !post) {
		page_notice(r, id);
		return;
	}
	if (!strcmp(p, "/login")) {
		if (post)
			do_login(r);
		else if (r->s)
			reply_redirect(r, r->s->finance ? "/runs" : "/audit");
		else
			page_login(r);
		return;
	}
	/* everything else is for staff */
	if (!r->s) {
		reply_redirect(r, r->session_expired ? "/login?expired=1" : "/login");
		return;
	}
	if (!staff_cert_ok(r, r->s->user)) {
		reply_error(r, 403, "需要与用户名一致的客户端证书（UKey）。", NULL);
		return;
	}
	if (post && !token_eq(r->s->csrf, req_form(r, "csrf"))) {
		log_warn("csrf_refused", "user=%s path=%s", log_q(r->s->user), log_q(p));
		reply_error(r, 403, "表单已失效（缺少或错误的安全令牌），操作未执行。请刷新页面后重试。", NULL);
		return;
	}
	if (!strcmp(p, "/logout") && post) {
		do_logout(r);
	} else if (!strcmp(p, "/") && !post) {
		reply_redirect(r, r->s->finance ? "/runs" : "/audit");
	} else if (!strcmp(p, "/runs") && !post) {
		page_runs(r);
	} else if (path_id(p, "/runs/", &id, &rest)) {
		if (!*rest && !post)
			page_run(r, id);
		else if ((!strcmp(rest, ".csv") || !strcmp(rest, ".xlsx")) && !post)
			page_run_export(r, id, rest + 1);
		else if (!strncmp(rest, "/objections", 11) && post)
			do_objection(r, id, rest);
		else if (rest[0] == '/' && post)
			do_run_action(r, id, rest + 1);
		else
			reply_error(r, 405, "不支持的请求。", NULL);
	} else if (!strcmp(p, "/overview") && !post) {
		page_overview(r);
	} else if (!strcmp(p, "/enterprises") && !post) {
		page_enterprises(r);
	} else if (!strncmp(p, "/enterprises/", 13) && !post) {
		page_enterprise(r, p + 13);
	} else if (!strcmp(p, "/overrides") && !post) {
		page_overrides(r);
	} else if (!strncmp(p, "/overrides/", 11) && post) {
		do_override(r, p + 11);
	} else if (!strcmp(p, "/audit") && !post) {
		page_audit(r);
	} else if (!strcmp(p, "/audit/verify") && post) {
		do_audit_verify(r);
	} else if (post) {
		reply_error(r, 405, "不支持的请求。", NULL);
	} else {
		reply_error(r, 404, "页面不存在。", p);
	}
}

static void handle(struct evhttp_request *ev, void *arg)
{
	console_t *con = arg;
	req_t r;
	memset(&r, 0, sizeof r);
	r.con = con;
	r.ev = ev;
	r.started_us = console_now_us();
	r.query.tqh_first = NULL;
	r.query.tqh_last = &r.query.tqh_first;
	r.form.tqh_first = NULL;
	r.form.tqh_last = &r.form.tqh_first;
	con->requests++;
	client_addr(ev, r.addr, sizeof r.addr);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(ev);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_HEAD) {
		evhttp_send_error(ev, 405, "Method Not Allowed");
		return;
	}
	r.post = cmd == EVHTTP_REQ_POST;
	/* a page goes out in a few writes: without TCP_NODELAY, Nagle's
	 * algorithm holds the last one back ~40 ms for the client's ACK */
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	struct bufferevent *cbev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = cbev ? bufferevent_getfd(cbev) : -1;
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	/* the request must have come over TLS (evhttp would serve plain HTTP
	 * if a TLS bufferevent could not be made) */
	SSL *ssl = request_ssl(ev);
	if (!ssl || !SSL_is_init_finished(ssl)) {
		evhttp_send_error(ev, 400, "TLS required");
		return;
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
	size_t declen = 0;
	char *dec = raw ? evhttp_uridecode(raw, 0, &declen) : NULL;
	/* no NUL, no "..", and short */
	if (!dec || strlen(dec) != declen || declen >= sizeof r.path || strstr(dec, "..")) {
		free(dec);
		evhttp_send_error(ev, 400, "Bad Request");
		return;
	}
	snprintf(r.path, sizeof r.path, "%s", dec);
	free(dec);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	if (q && evhttp_parse_query_str(q, &r.query) != 0) {
		evhttp_send_error(ev, 400, "Bad Request");
		goto done;
	}
	if (r.post) {
		struct evbuffer *in = evhttp_request_get_input_buffer(ev);
		size_t n = evbuffer_get_length(in);
		char *body = malloc(n + 1);
		if (!body)
			abort();
		evbuffer_copyout(in, body, n);
		body[n] = '\0';
		bool bad = memchr(body, '\0', n) != NULL || evhttp_parse_query_str(body, &r.form) != 0;
		free(body);
		if (bad) {
			evhttp_send_error(ev, 400, "Bad Request");
			goto done;
		}
	}
	r.s = session_find(con, ev, &r.session_expired);
	if (r.s)
		r.s->last_ms = console_now_ms();
	route(&r);
done:
	evhttp_clear_headers(&r.query);
	evhttp_clear_headers(&r.form);
	buf_free(&r.out);
}

void console_http_attach(console_t *con)
{
	evhttp_set_bevcb(con->http, bevcb, con);
	evhttp_set_gencb(con->http, handle, con);
	evhttp_set_allowed_methods(con->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(con->http, 16384);
	evhttp_set_max_body_size(con->http, 1 << 20);
	evhttp_set_timeout(con->http, 60);
	evhttp_set_flags(con->http, EVHTTP_SERVER_LINGERING_CLOSE);
}
