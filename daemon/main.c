/* voucherd: the ingest daemon.  See docs/protocol.md and README.md "voucherd".
 *
 *   voucherd -c FILE          run
 *   voucherd -c FILE --check  validate the config and TLS files, then exit
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "common/buf.h"
#include "common/log.h"
#include "daemon/server.h"

static const char usage_text[] = "usage: voucherd -c FILE [--check]\n"
				 "\n"
				 "The metering daemon: receives signed usage batches from compute providers over\n"
				 "mutual TLS and stores them in PostgreSQL, answering only after commit.\n"
				 "\n"
				 "  -c, --config FILE   the INI configuration (see deploy/voucherd.conf)\n"
				 "      --check         check the configuration and TLS files, then exit\n"
				 "  -h, --help          this text\n"
				 "\n"
				 "Signals: SIGTERM/SIGINT finish what is in flight and exit 0; SIGHUP reloads\n"
				 "TLS certificates and the provider registry (certificates and keys).\n"
				 "Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration.\n";

static log_level_t parse_level(const char *s)
{
	if (!strcmp(s, "debug"))
		return LOG_DEBUG;
	if (!strcmp(s, "warn"))
		return LOG_WARN;
	if (!strcmp(s, "error"))
		return LOG_ERROR;
	return LOG_INFO;
}

/* A listen address must resolve: checked with --check too, so that a bad
 * host is a configuration error (exit 2) and not a failure to listen. */
static void check_resolves(const char *hostport, const char *key)
{
	char host[256];
	uint16_t port;
	if (!config_split_hostport(hostport, host, sizeof host, &port))
		die(2, "voucherd: %s: '%s' is not host:port", key, hostport);
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
					.ai_socktype = SOCK_STREAM,
					.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG};
	struct evutil_addrinfo *ai = NULL;
	int rc = evutil_getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0)
		die(2, "voucherd: %s: cannot resolve host '%s': %s", key, host, evutil_gai_strerror(rc));
	evutil_freeaddrinfo(ai);
}

static struct evhttp_bound_socket *listen_on(struct evhttp *http, const char *hostport, const char *key)
{
	char host[256];
	uint16_t port;
	check_resolves(hostport, key);
	config_split_hostport(hostport, host, sizeof host, &port);
	struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(http, host, port);
	if (!s)
		die(1, "voucherd: %s: cannot listen on %s: %s", key, hostport,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	return s;
}

/* libevent's own warnings, as logfmt lines */
static void libevent_log(int severity, const char *msg)
{
	log_emit(severity >= EVENT_LOG_ERR    ? LOG_ERROR
		 : severity >= EVENT_LOG_WARN ? LOG_WARN
					      : LOG_DEBUG,
		 "libevent", "msg=%s", log_q(msg));
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	server_t *srv = arg;
	ingest_reload_registry(srv);
	if (srv->cfg->registry_refresh_s > 0) {
		struct timeval tv = {srv->cfg->registry_refresh_s, 0};
		evtimer_add(srv->refresh_timer, &tv);
	}
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tls_sweep(arg);
	log_flush(); /* a flood's log_suppressed line, even when nothing else logs */
	ingest_probe(arg);
}

static void warn_restart(const char *section, const char *key, bool reloadable, void *arg)
{
	(void)arg;
	if (!reloadable)
		log_warn("reload_ignored", "key=%s.%s reason=takes_effect_at_restart", section, key);
}

static void reload(server_t *srv)
{
	char err[512];
	config_t *cfg = config_load(srv->config_path, err, sizeof err);
	if (!cfg) {
		log_error("reload_failed", "reason=%s", log_q(err));
		return;
	}
	/* only the TLS files are applied now: say which other changes wait */
	config_changed_keys(srv->cfg, cfg, warn_restart, NULL);
	SSL_CTX *ctx = tls_ctx_new(cfg, err, sizeof err);
	config_free(cfg);
	if (!ctx) {
		log_error("reload_failed", "reason=%s", log_q(err));
		return;
	}
	/* connections keep a reference to the context they started with */
	SSL_CTX_free(srv->ssl_ctx);
	srv->ssl_ctx = ctx;
	log_info("tls_reloaded", "%s", "");
	ingest_reload_registry(srv);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	server_t *srv = arg;
	/* answers are written by the loop after the writer calls back: give the
	 * last ones a moment to leave, then stop */
	if (srv->pending == 0 && writer_idle(srv->writer)) {
		log_info("drained", "%s", "");
		event_base_loopexit(srv->base, &(struct timeval){0, 200000});
		return;
	}
	if (now_ms() - srv->drain_started_ms > 60000) {
		log_warn("drain_timeout", "pending=%llu", (unsigned long long)srv->pending);
		event_base_loopexit(srv->base, NULL);
		return;
	}
	struct timeval tv = {0, 20000};
	evtimer_add(srv->drain_timer, &tv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	server_t *srv = arg;
	if (sig == SIGHUP) {
		log_info("sighup", "%s", "");
		reload(srv);
		return;
	}
	if (srv->draining)
		return;
	log_info("shutdown", "signal=%s pending=%llu", sig == SIGTERM ? "TERM" : "INT",
		 (unsigned long long)srv->pending);
	srv->draining = true;
	srv->drain_started_ms = now_ms();
	if (srv->https_sock) {
		evhttp_del_accept_socket(srv->https, srv->https_sock);
		srv->https_sock = NULL;
	}
	event_add(srv->drain_timer, &(struct timeval){0, 0});
}

/* Long but whole: the daemon's life as one sequence (options, config,
 * listeners, event loop, then teardown), the teardown mirroring the set-up. */
int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool check = false;
	int o;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case 'k': check = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(libevent_log);

	server_t srv_storage = {0};
	server_t *srv = &srv_storage;
	srv->config_path = path;
	char err[512];
	srv->cfg = config_load(path, err, sizeof err);
	if (!srv->cfg)
		die(2, "voucherd: %s", err);
	log_set_level(parse_level(srv->cfg->log_level));
	log_set_rate((unsigned)srv->cfg->log_max_lines_per_s);
	srv->ssl_ctx = tls_ctx_new(srv->cfg, err, sizeof err);
	if (!srv->ssl_ctx)
		die(2, "voucherd: %s", err);
	check_resolves(srv->cfg->listen, "server.listen");
	check_resolves(srv->cfg->metrics_listen, "metrics.listen");
	if (check) {
		printf("voucherd: %s is valid\n", path);
		SSL_CTX_free(srv->ssl_ctx);
		config_free(srv->cfg);
		return 0;
	}

	srv->base = event_base_new();
	if (!srv->base)
		die(1, "voucherd: cannot create the event loop");
	srv->https = evhttp_new(srv->base);
	srv->metrics_http = evhttp_new(srv->base);
	evhttp_set_max_headers_size(srv->https, (ev_ssize_t)srv->cfg->max_header_bytes);
	evhttp_set_max_body_size(srv->https, (ev_ssize_t)srv->cfg->max_body_bytes);
	evhttp_set_timeout(srv->https, (int)srv->cfg->idle_timeout_s);
	evhttp_set_flags(srv->https, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_max_headers_size(srv->metrics_http, 8192);
	evhttp_set_max_body_size(srv->metrics_http, 1024);
	evhttp_set_timeout(srv->metrics_http, 10);
	tls_attach(srv);
	ingest_attach(srv, srv->https);
	metrics_attach(srv, srv->metrics_http);
	srv->https_sock = listen_on(srv->https, srv->cfg->listen, "server.listen");
	tls_listening(srv, listen_on(srv->metrics_http, srv->cfg->metrics_listen, "metrics.listen"));

	writer_opts_t wo = {.connections = (int)srv->cfg->connections,
			    .queue_max = (size_t)srv->cfg->queue_max,
			    .group_max = (int)srv->cfg->group_max,
			    .reply_timeout_s = (int)srv->cfg->reply_timeout_s};
	char werr[512];
	srv->writer = writer_new(srv->base, srv->cfg->conninfo, &wo, werr, sizeof werr);
	if (!srv->writer) {
		fprintf(stderr, "voucherd: %s: %s\n", srv->config_path, werr);
		return 2;
	}
	srv->refresh_timer = evtimer_new(srv->base, refresh_cb, srv);
	srv->drain_timer = evtimer_new(srv->base, drain_cb, srv);
	srv->sweep_timer = event_new(srv->base, -1, EV_PERSIST, sweep_cb, srv);
	event_add(srv->sweep_timer, &(struct timeval){1, 0});
	int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		srv->signals[i] = evsignal_new(srv->base, sigs[i], signal_cb, srv);
		evsignal_add(srv->signals[i], NULL);
	}
	event_add(srv->refresh_timer, &(struct timeval){0, 0});
	log_info("started", "listen=%s metrics=%s pid=%d", srv->cfg->listen, srv->cfg->metrics_listen, (int)getpid());

	int rc = event_base_dispatch(srv->base);

	tls_detach(srv);
	evhttp_free(srv->https);
	evhttp_free(srv->metrics_http);
	writer_free(srv->writer);
	registry_free(srv->registry);
	for (int i = 0; i < 3; i++)
		event_free(srv->signals[i]);
	event_free(srv->refresh_timer);
	event_free(srv->drain_timer);
	event_free(srv->sweep_timer);
	while (srv->buckets) {
		rate_bucket_t *b = srv->buckets;
		srv->buckets = *(rate_bucket_t **)b; /* next is the first member */
		free(b);
	}
	SSL_CTX_free(srv->ssl_ctx);
	config_free(srv->cfg);
	event_base_free(srv->base);
	tls_free(srv); /* after the last connection is gone, which event_base_free may finish */
	metrics_free(srv);
	log_info("stopped", "%s", "");
	return rc < 0 ? 1 : 0;
}
