/* voucher-console: the finance and audit console, and the public notice.
 *
 *   voucher-console -c FILE [--check]
 *
 * See README.md "voucher-console" and console/console.h. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include "common/ini.h"
#include "common/log.h"
#include "console/console.h"
#include "console/server.h"

static const char usage[] = "usage: voucher-console -c FILE [--check]\n"
			    "\n"
			    "The finance and audit console (HTTPS, in Chinese) and the public notice (公示)\n"
			    "of published runs.  Staff sign in with their own PostgreSQL role and password\n"
			    "(voucherctl user add NAME --role finance|auditor); the console keeps no\n"
			    "password and every action runs as that role.\n"
			    "\n"
			    "FILE is an INI file:\n"
			    "  [console]  listen = 127.0.0.1:8444, tls_cert, tls_key (required),\n"
			    "             notice_contact (required: where the public raises an objection),\n"
			    "             tls_client_ca (optional: staff must also present a client\n"
			    "             certificate, e.g. a UKey, whose common name is their user name),\n"
			    "             session_idle_s = 900, max_sessions = 200,\n"
			    "             login_max_failures = 5, login_window_s = 900, login_lockout_s = 900\n"
			    "  [database] conninfo (required; no user or password), notice_user and\n"
			    "             notice_passfile (the role the public notice reads as:\n"
			    "             voucherctl user add NAME --role notice), statement_timeout_ms = 30000\n"
			    "  [log]      level = info\n"
			    "\n"
			    "--check  reads FILE and the TLS files, then exits: 0 if they are good, 2 if not.\n";

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	console_t *con = arg;
	log_info("shutdown", "signal=%s", sig == SIGTERM ? "TERM" : "INT");
	event_base_loopexit(con->base, NULL);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	console_sweep(arg);
}

static log_level_t level_of(const char *s)
{
	return !strcmp(s, "debug")   ? LOG_DEBUG
	       : !strcmp(s, "warn")  ? LOG_WARN
	       : !strcmp(s, "error") ? LOG_ERROR
				     : LOG_INFO;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool check = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--check")) {
			check = true;
		} else {
			fprintf(stderr, "voucher-console: unknown argument '%s'\n%s", argv[i], usage);
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "voucher-console: -c FILE is required\n%s", usage);
		return 2;
	}
	char err[1024];
	console_t con;
	memset(&con, 0, sizeof con);
	con.cfg = console_config_load(path, err, sizeof err);
	if (!con.cfg)
		die(2, "voucher-console: %s", err);
	log_set_level(level_of(con.cfg->log_level));
	con.ssl_ctx = console_tls_ctx(con.cfg, err, sizeof err);
	if (!con.ssl_ctx)
		die(2, "voucher-console: %s", err);
	char host[256];
	uint16_t port = 0;
	ini_split_hostport(con.cfg->listen, host, sizeof host, &port);
	if (check) {
		printf("voucher-console: %s is good\n", path);
		SSL_CTX_free(con.ssl_ctx);
		console_config_free(con.cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	con.base = event_base_new();
	con.http = evhttp_new(con.base);
	if (!con.base || !con.http)
		die(1, "voucher-console: cannot start libevent");
	console_http_attach(&con);
	if (!evhttp_bind_socket_with_handle(con.http, host, port))
		die(1, "voucher-console: console.listen: cannot listen on %s: %s", con.cfg->listen,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	con.throttle =
		throttle_new(con.cfg->login_max_failures, con.cfg->login_window_s, con.cfg->login_lockout_s, 10000);
	con.throttle_addr = throttle_new(con.cfg->login_max_failures_per_address, con.cfg->login_window_s,
					 con.cfg->login_lockout_s, 10000);
	struct event *sigs[2] = {evsignal_new(con.base, SIGINT, signal_cb, &con),
				 evsignal_new(con.base, SIGTERM, signal_cb, &con)};
	for (int i = 0; i < 2; i++)
		evsignal_add(sigs[i], NULL);
	int64_t every = con.cfg->session_idle_s < 30 ? 1 : 10;
	struct timeval tv = {(time_t)every, 0};
	con.sweep = event_new(con.base, -1, EV_PERSIST, sweep_cb, &con);
	event_add(con.sweep, &tv);
	log_info("listening", "addr=%s session_idle_s=%" PRId64 " client_certificates=%s", con.cfg->listen,
		 con.cfg->session_idle_s, *con.cfg->tls_client_ca ? "required" : "no");
	event_base_dispatch(con.base);
	console_sessions_free(&con);
	PQfinish(con.notice_db);
	for (int i = 0; i < 2; i++)
		event_free(sigs[i]);
	event_free(con.sweep);
	evhttp_free(con.http);
	event_base_free(con.base);
	SSL_CTX_free(con.ssl_ctx);
	throttle_free(con.throttle);
	throttle_free(con.throttle_addr);
	console_config_free(con.cfg);
	log_flush();
	return 0;
}
