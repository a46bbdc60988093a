/* voucher-console: the finance and audit console (README.md
 * "voucher-console").  One event loop (libevent, evhttp over TLS), one
 * PostgreSQL connection per signed-in person, opened with that person's own
 * role and password and used for everything they do, so that the database
 * decides what each may do.  The console stores no password and has no
 * rights of its own; the public notice reads through a role that may only
 * call voucher.notice().
 *
 * Queries are blocking calls on the person's connection, bounded by
 * database.statement_timeout_ms: a console serves a bureau's few staff, and
 * every page reads indexed, per-run or per-month figures (never usage). */
#ifndef VOUCHER_CONSOLE_H
#define VOUCHER_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <libpq-fe.h>
#include <openssl/ssl.h>

#include "common/buf.h"
#include "console/config.h"
#include "console/throttle.h"

typedef struct session {
	char id[65];   /* cookie value: 32 random bytes, hex */
	char csrf[65]; /* the token every form carries */
	char user[64];
	bool finance, auditor;
	PGconn *db;
	int64_t last_ms;
	struct session *next;
} session_t;

typedef struct console {
	console_config_t *cfg;
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *ssl_ctx;
	session_t *sessions;
	int64_t nsessions;
	throttle_t *throttle;      /* failed sign-ins per user name */
	throttle_t *throttle_addr; /* and per client address */
	PGconn *notice_db;         /* opened when the first notice is asked for */
	struct event *sweep;
	int64_t requests;
} console_t;

/* One request being answered. */
typedef struct req {
	console_t *con;
	struct evhttp_request *ev;
	char path[512]; /* decoded path, without the query */
	struct evkeyvalq query;
	struct evkeyvalq form; /* a POST's application/x-www-form-urlencoded body */
	bool post;
	session_t *s;
	bool session_expired; /* the cookie named a session closed for idleness */
	char addr[64];
	buf_t out;
	int64_t started_us;
	bool replied;
} req_t;

int64_t console_now_ms(void);
int64_t console_now_us(void);

/* --- answering (server.c) */
/* A value of the query or the form, or NULL. */
const char *req_param(const req_t *r, const char *name);
const char *req_form(const req_t *r, const char *name);
void reply_html(req_t *r, int status);
/* 303 to a path this program built (it must start with one '/'). */
void reply_redirect(req_t *r, const char *path);
void reply_bytes(req_t *r, const char *ctype, const char *filename, const void *data, size_t len);
/* A page that says what went wrong, in Chinese, with the detail below. */
void reply_error(req_t *r, int status, const char *zh, const char *detail);
/* The database refused: its message in Chinese, the original below. */
void reply_refused(req_t *r, const char *title, const char *pgmsg, const char *back);
/* Logs a person's action on a run: done (refusal NULL) or refused. */
void log_action(const req_t *r, const char *action, int64_t id, const char *refusal);

/* --- the page frame (page.c) */
void page_begin(req_t *r, const char *title);
void page_end(req_t *r);
/* <form method=post action=...> with the session's CSRF token. */
void form_begin(req_t *r, const char *action, const char *cls);
/* A one-time flash message carried by ?msg= codes is not used: results are
 * shown on the page the POST answers with. */

/* --- database (server.c) */
/* PQexecParams on the person's connection; NULL and *err set on failure. */
PGresult *req_query(req_t *r, const char *sql, int n, const char *const *params, buf_t *err);
/* The person's own connection (reset if it broke), for library code that
 * takes a PGconn (settlement/export, settlement/statement, audit/trace); NULL
 * and *err set when there is none.  Leave it idle (no open transaction). */
PGconn *req_db(req_t *r, buf_t *err);

/* --- pages */
void page_login(req_t *r);
void do_login(req_t *r);
void do_logout(req_t *r);
void page_runs(req_t *r);
void page_run(req_t *r, int64_t run);
void do_run_action(req_t *r, int64_t run, const char *action);
void page_run_export(req_t *r, int64_t run, const char *format);
void page_notice(req_t *r, int64_t run);
void page_overview(req_t *r);
void page_enterprises(req_t *r);
void page_enterprise(req_t *r, const char *uscc);
void page_overrides(req_t *r);
void do_override(req_t *r, const char *action);
void page_audit(req_t *r);
void do_audit_verify(req_t *r);
void do_objection(req_t *r, int64_t run, const char *action);
/* The objections section of a published run's page (page_objections.c). */
void run_objections(req_t *r, int64_t run, const char *status);

/* --- shared helpers (page.c) */
/* The Chinese name of a programme version in SQL: its file's `name =` line,
 * else the id (text and id are SQL column names). */
#define SQL_PROGRAMME_NAME(text, id) \
	"coalesce(substring(" text " from '(?n)^name[ \\t]*=[ \\t]*([^\\r\\n]*[^ \\t\\r\\n])'), " id ")"
/* The programmes loaded: one row each (id, the Chinese name of its newest
 * version), ordered by id.  When program is given and not among them, or the
 * database refuses, the page is answered (404 没有这个项目 / the refusal
 * under title) and NULL returned. */
PGresult *programmes(req_t *r, const char *program, const char *title);
/* The <option>s of a programme <select> from programmes(), selected marked. */
void programme_options(req_t *r, const PGresult *progs, const char *selected);
/* Status words in Chinese. */
const char *zh_run_status(const char *status);
const char *zh_line_status(const char *status);
/* A district's name from the shipped GB/T 2260 table, else the code. */
const char *zh_division(const char *code);
/* Parses a positive int64 (ids); false on anything else. */
bool parse_id(const char *s, int64_t *out);

#endif
