/* Limits that hold whatever clients do (issue 11): open connections, per
 * address, descriptors running out, TLS sessions, failed handshakes. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tests/integration/support.h"

static PGconn *db;
static char ci[256];
static t_daemon_t d;

static void start(const char *extra)
{
	db = t_start_registered(&d, ci, sizeof ci, extra);
}

/* Every daemon must stop cleanly: exit 0 after SIGTERM (under the sanitizers
 * a leak or an error report makes this fail too). */
static void teardown(void)
{
	t_stop_checked(&d, &db);
}

TestSuite(limits, .fini = teardown, .timeout = 120);

/* the value of one metric line "name value" (-1: absent) */
static long long metric(const char *name)
{
	static char out[65536];
	cr_assert_eq(t_metrics_get(&d, "/metrics", out, sizeof out), 200);
	char key[160];
	snprintf(key, sizeof key, "\n%s ", name);
	const char *p = strstr(out, key);
	return p ? atoll(p + strlen(key)) : -1;
}

/* waits up to 5 s for a metric to reach want */
static bool metric_becomes(const char *name, long long want)
{
	for (int i = 0; i < 100; i++) {
		if (metric(name) == want)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

/* a TLS connection as client NAME of the test PKI; NULL if the handshake fails */
static SSL *tls_open(int port, const char *name, int *fd_out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char path[512];
	snprintf(path, sizeof path, "%s/ca.pem", getenv("VOUCHER_TEST_PKI"));
	SSL_CTX_load_verify_locations(ctx, path, NULL);
	if (name) {
		snprintf(path, sizeof path, "%s/%s.pem", getenv("VOUCHER_TEST_PKI"), name);
		cr_assert_eq(SSL_CTX_use_certificate_chain_file(ctx, path), 1);
		snprintf(path, sizeof path, "%s/%s.key", getenv("VOUCHER_TEST_PKI"), name);
		cr_assert_eq(SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM), 1);
	}
	int fd = tcp_connect(port);
	SSL *ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL keeps a reference */
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	/* TLS 1.3: the server's verdict on our certificate comes with its first
	 * records; read them so that a refusal shows here */
	char byte;
	struct timeval tv = {0, 200000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int n = SSL_read(ssl, &byte, 1);
	if (n <= 0 && SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ && SSL_get_error(ssl, n) != SSL_ERROR_SYSCALL) {
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	ERR_clear_error();
	*fd_out = fd;
	return ssl;
}

static void tls_close(SSL *ssl, int fd)
{
	SSL_free(ssl);
	close(fd);
}

static int post_vector(void)
{
	char *h = t_slurp(t_vector_path("batch-a.headers"), NULL);
	char hdr[2048], out[4096];
	snprintf(hdr, sizeof hdr, "Content-Type: application/json\n%s", h);
	free(h);
	return t_https(&d, "prov-a", "POST", "/v1/usage-batches", hdr, t_vector_path("batch-a.json"), out, sizeof out);
}

/* Past server.max_connections voucherd stops accepting: the kernel's backlog
 * holds the rest, and they are served once a connection closes. */
Test(limits, past_max_connections_accepting_stops_until_one_closes)
{
	start("[server]\nmax_connections = 5\n[ingest]\nsignature_max_age_s = 0\n");
	int fds[6];
	for (int i = 0; i < 5; i++)
		fds[i] = tcp_connect(d.port);
	cr_assert(metric_becomes("voucherd_connections", 5), "connections: %lld", metric("voucherd_connections"));
	cr_expect_eq(metric("voucherd_accepting"), 0);
	fds[5] = tcp_connect(d.port); /* completes in the kernel's backlog */
	usleep(300 * 1000);
	cr_expect_eq(metric("voucherd_connections"), 5, "accepted past the limit");
	close(fds[0]);
	cr_expect(metric_becomes("voucherd_connections", 5), "the waiting one was not accepted");
	cr_expect(metric_becomes("voucherd_accepting", 0));
	for (int i = 1; i < 6; i++)
		close(fds[i]);
	cr_assert(metric_becomes("voucherd_connections", 0));
	cr_expect_eq(metric("voucherd_accepting"), 1);
	cr_expect_eq(post_vector(), 200);
}

/* One address may hold server.max_connections_per_address connections; the
 * next is refused at its ClientHello, counted, and others are served. */
Test(limits, one_address_is_held_to_its_share)
{
	start("[server]\nmax_connections_per_address = 3\n[ingest]\nsignature_max_age_s = 0\n");
	SSL *s[4];
	int fds[4];
	for (int i = 0; i < 3; i++) {
		s[i] = tls_open(d.port, "prov-a", &fds[i]);
		cr_assert_not_null(s[i], "connection %d refused", i);
	}
	s[3] = tls_open(d.port, "prov-a", &fds[3]);
	cr_expect_null(s[3], "a fourth connection from 127.0.0.1 was accepted");
	if (s[3])
		tls_close(s[3], fds[3]);
	cr_expect(metric_becomes("voucherd_connections_refused_total{reason=\"per_address\"}", 1));
	long long hf = metric("voucherd_tls_handshake_failures_total{reason=\"handshake_failure\"}");
	cr_expect_geq(hf, 1, "the refusal is a handshake failure by reason: %lld", hf);
	for (int i = 0; i < 3; i++)
		tls_close(s[i], fds[i]);
	cr_assert(metric_becomes("voucherd_connections", 0));
	cr_expect_eq(post_vector(), 200);
	/* stateless tickets: nothing kept per session on the server */
	cr_expect_eq(metric("voucherd_tls_session_cache_sessions"), 0);
	cr_expect_geq(metric("voucherd_tls_handshakes_total"), 4);
}

/* A handshake without a client certificate fails, and is counted by reason. */
Test(limits, failed_handshakes_are_counted_by_reason)
{
	start("[ingest]\nsignature_max_age_s = 0\n");
	int fd;
	SSL *s = tls_open(d.port, NULL, &fd);
	if (s)
		tls_close(s, fd);
	cr_expect_null(s);
	/* TLS 1.3 names it certificate_required (alert 116) */
	cr_expect(metric_becomes("voucherd_tls_handshake_failures_total{reason=\"certificate_required\"}", 1),
		  "no failure counted");
	char *log = t_slurp(d.log, NULL);
	cr_expect(strstr(log, "event=tls_handshake_failed reason=certificate_required"), "%s", log);
	free(log);
	cr_expect_eq(metric("voucherd_tls_handshakes_total"), 0);
}

static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	long long ut = 0, st = 0;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st), 2);
	return ut + st;
}

/* Out of descriptors (EMFILE): accepting pauses instead of spinning, with one
 * log line per episode, and resumes once descriptors are free again. */
Test(limits, running_out_of_descriptors_pauses_accepting_without_spinning)
{
	struct rlimit old, low;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	/* the daemon inherits the low limit; this process gets its own back */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	start("[server]\nmax_connections = 1000\nmax_connections_per_address = 1000\n"
	      "[ingest]\nsignature_max_age_s = 0\n");
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	int fds[100];
	for (int i = 0; i < 100; i++)
		fds[i] = tcp_connect(d.port);
	usleep(500 * 1000);
	long long t0 = cpu_ticks(d.pid);
	sleep(2);
	long long used = cpu_ticks(d.pid) - t0;
	long ticks = sysconf(_SC_CLK_TCK);
	/* a spinning accept loop burns 2 s of CPU in 2 s; paused, almost none */
	cr_expect_lt(used, ticks / 2, "voucherd used %lld ticks (%ld per second) while out of descriptors", used,
		     ticks);
	for (int i = 0; i < 100; i++)
		close(fds[i]);
	cr_expect(metric_becomes("voucherd_connections", 0));
	cr_expect_geq(metric("voucherd_accept_paused_total"), 1);
	cr_expect_eq(post_vector(), 200);
	char *log = t_slurp(d.log, NULL);
	int paused = 0;
	for (const char *p = log; (p = strstr(p, "event=accept_paused")) != NULL; p++)
		paused++;
	cr_expect_geq(paused, 1);
	cr_expect_leq(paused, 2, "accept_paused logged %d times", paused);
	cr_expect_geq(metric("voucherd_log_suppressed_total"), 0, "the counter of suppressed log lines is missing");
	cr_expect(strstr(log, "event=accept_resumed"), "%s", log);
	free(log);
}
/* Sends req (headers, maybe a little body) over TLS as client NAME and
 * reads the answer without sending anything more: the status, and the body in
 * out.  0 if no answer came within 3 s. */
static int raw_request(const char *name, const char *req, char *out, size_t cap)
{
	int fd;
	SSL *ssl = tls_open(d.port, name, &fd);
	cr_assert_not_null(ssl);
	struct timeval tv = {3, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	cr_assert_eq(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
	size_t got = 0;
	out[0] = '\0';
	while (got + 1 < cap) {
		int n = SSL_read(ssl, out + got, (int)(cap - 1 - got));
		if (n <= 0)
			break;
		got += (size_t)n;
		out[got] = '\0';
		const char *h = strstr(out, "\r\n\r\n");
		const char *cl = strcasestr(out, "Content-Length: ");
		if (h && cl && got >= (size_t)(h + 4 - out) + (size_t)atoi(cl + 16))
			break;
	}
	ERR_clear_error();
	tls_close(ssl, fd);
	int status = 0;
	sscanf(out, "HTTP/1.1 %d", &status);
	return status;
}

/* Who you are before what you send: an unregistered certificate announcing a
 * 15 MB body is answered 403 from its headers, without the body being sent
 * or read. */
Test(limits, an_unregistered_certificate_is_refused_before_its_body)
{
	start("[ingest]\nsignature_max_age_s = 0\n");
	char out[8192];
	int st = raw_request("prov-c",
			     "POST /v1/usage-batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			     "Content-Length: 15728640\r\n\r\n{\"batch_id\":",
			     out, sizeof out);
	cr_expect_eq(st, 403, "%s", out);
	cr_expect_str_eq(t_json_str(t_http_body(out), "code"), "unknown_certificate", "%s", out);
	cr_expect(strcasestr(out, "Connection: close"), "%s", out);
	cr_expect_eq(metric("voucherd_gate_refused_total{code=\"unknown_certificate\"}"), 1);
	cr_expect_eq(metric("voucherd_reading_bytes"), 0);
	cr_expect_eq(post_vector(), 200);
}

/* Strict framing: Content-Length once, digits only, within max_body_bytes;
 * no Transfer-Encoding.  Each refused from the headers, as problem+json. */
Test(limits, content_length_is_strict)
{
	start("[ingest]\nsignature_max_age_s = 0\n");
	static const struct {
		const char *headers;
		int status;
		const char *code;
	} cases[] = {
		{"Content-Length: 5\r\nContent-Length: 6\r\n", 400, "invalid_content_length"},
		{"Content-Length: 5\r\nContent-Length: 5\r\n", 400, "invalid_content_length"},
		{"Content-Length: +5\r\n", 400, "invalid_content_length"},
		{"Content-Length:  5 \r\n", 400, "invalid_content_length"},
		{"Content-Length: 5x\r\n", 400, "invalid_content_length"},
		{"Content-Length: 16777217\r\n", 413, "body_too_large"},
		{"Transfer-Encoding: chunked\r\n", 411, "length_required"},
		{"", 411, "length_required"},
		{"Content-Length: 5\r\nX-Voucherd-Gate: 0\r\n", 400, "invalid_header"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char req[512], out[8192];
		snprintf(req, sizeof req,
			 "POST /v1/usage-batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n",
			 cases[i].headers);
		int st = raw_request("prov-a", req, out, sizeof out);
		cr_expect_eq(st, cases[i].status, "case %zu: %s", i, out);
		cr_expect(strstr(out, cases[i].code), "case %zu: %s", i, out);
	}
	cr_expect_eq(atoi(t_scalar(db, "SELECT count(*) FROM voucher.batches")), 0);
	cr_expect_eq(post_vector(), 200);
}
