#include "tests/integration/support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void t_require_db(void)
{
	if (!getenv("VOUCHER_TEST_PGHOST") || !getenv("VOUCHER_TEST_TEMPLATE"))
		cr_skip_test("no test database (run through tests/run.sh / make test)");
}

static PGconn *connect_or_fail(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	cr_assert(PQstatus(c) == CONNECTION_OK, "connect %s: %s", conninfo, PQerrorMessage(c));
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

PGconn *t_newdb(char *conninfo, size_t len)
{
	t_require_db();
	const char *host = getenv("VOUCHER_TEST_PGHOST");
	const char *port = getenv("VOUCHER_TEST_PGPORT") ? getenv("VOUCHER_TEST_PGPORT") : "5432";
	const char *tmpl = getenv("VOUCHER_TEST_TEMPLATE");
	char admin[512];
	snprintf(admin, sizeof admin, "host=%s port=%s dbname=postgres user=postgres", host, port);
	PGconn *a = connect_or_fail(admin);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char name[64];
	snprintf(name, sizeof name, "t_%d_%ld", (int)getpid(), (long)(ts.tv_nsec / 1000));
	char sql[256];
	/* CREATE DATABASE ... TEMPLATE fails if another session is connected to the
	 * template at that moment (a parallel test copying it): retry briefly. */
	PGresult *r = NULL;
	for (int attempt = 0; attempt < 100; attempt++) {
		snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\" TEMPLATE \"%s\"", name, tmpl);
		r = PQexec(a, sql);
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			break;
		PQclear(r);
		r = NULL;
		usleep(50000);
	}
	cr_assert(r != NULL, "create database %s: %s", name, PQerrorMessage(a));
	PQclear(r);
	PQfinish(a);
	snprintf(conninfo, len, "host=%s port=%s dbname=%s user=postgres", host, port, name);
	return connect_or_fail(conninfo);
}

void t_conninfo_as(const char *conninfo, const char *role, char *out, size_t len)
{
	const char *u = strstr(conninfo, " user=");
	size_t n = u ? (size_t)(u - conninfo) : strlen(conninfo);
	snprintf(out, len, "%.*s user=%s", (int)n, conninfo, role);
}

static void slurp(int fd, char *buf, size_t cap)
{
	size_t used = 0;
	char tmp[4096];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof tmp)) > 0) {
		if (buf && used + 1 < cap) {
			size_t k = (size_t)n;
			if (k > cap - 1 - used)
				k = cap - 1 - used;
			memcpy(buf + used, tmp, k);
			used += k;
		}
	}
	if (buf && cap)
		buf[used] = '\0';
}

int t_run(const char *cmd, char *out, size_t outcap, char *err, size_t errcap)
{
	char of[] = "/tmp/vtest-outXXXXXX", ef[] = "/tmp/vtest-errXXXXXX";
	int ofd = mkstemp(of), efd = mkstemp(ef);
	cr_assert(ofd >= 0 && efd >= 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ofd, 1);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert(rc == 0, "spawn %s", cmd);
	int st = 0;
	waitpid(pid, &st, 0);
	lseek(ofd, 0, SEEK_SET);
	lseek(efd, 0, SEEK_SET);
	slurp(ofd, out, outcap);
	slurp(efd, err, errcap);
	close(ofd);
	close(efd);
	unlink(of);
	unlink(ef);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *t_scalar(PGconn *c, const char *sql)
{
	static char val[4096];
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	cr_assert(PQntuples(r) == 1, "%s: %d rows", sql, PQntuples(r));
	snprintf(val, sizeof val, "%s", PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return val;
}

const char *t_root_path(const char *rel)
{
	static char slots[4][1024];
	static unsigned i;
	char *o = slots[i++ % 4];
	const char *root = getenv("VOUCHER_TEST_ROOT") ? getenv("VOUCHER_TEST_ROOT") : ".";
	snprintf(o, 1024, "%s/%s", root, rel);
	return o;
}

const char *t_vector_path(const char *name)
{
	static char slots[4][1024];
	static unsigned i;
	char *o = slots[i++ % 4];
	const char *dir = getenv("VOUCHER_VECTORS") ? getenv("VOUCHER_VECTORS") : "tests/vectors";
	snprintf(o, 1024, "%s/%s", dir, name);
	return o;
}

/* ------------------------------------------------------------ daemon */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "metering/sig.h"

struct t_ctl_run *t_ctl(const char *conninfo, const char *fmt, ...)
{
	static struct t_ctl_run r;
	char args[4096], cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "'%s' --db '%s' %s", t_root_path("bin/voucherctl"), conninfo, args);
	r.rc = t_run(cmd, r.out, sizeof r.out, r.err, sizeof r.err);
	return &r;
}

char *t_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f != NULL, "open %s", path);
	buf_t b = BUF_INIT;
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	if (len)
		*len = b.len;
	return buf_steal(&b);
}

static const char *pki(const char *name)
{
	static char slots[8][512];
	static unsigned i;
	char *o = slots[i++ % 8];
	snprintf(o, 512, "%s/%s", getenv("VOUCHER_TEST_PKI"), name);
	return o;
}

static void exec_ok(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
		  PQerrorMessage(c));
	PQclear(r);
}

static void fingerprint(const char *cert, char fp[65])
{
	char cmd[600], out[256];
	snprintf(cmd, sizeof cmd,
		 "openssl x509 -in '%s' -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f", cert);
	cr_assert(t_run(cmd, out, sizeof out, NULL, 0) == 0);
	snprintf(fp, 65, "%.64s", out);
}

void t_registry_setup(PGconn *c)
{
	const char *provs[][4] = {
		{"prov-a", "91330483100000001E", "provider-a.ed25519.pub", "ed25519"},
		{"prov-b", "913202141000000038", "provider-b.sm2.pub", "sm2-sm3"},
	};
	for (int i = 0; i < 2; i++) {
		char fp[65], cert[64], keyid[64], fac[64];
		snprintf(cert, sizeof cert, "%s.pem", provs[i][0]);
		fingerprint(pki(cert), fp);
		snprintf(keyid, sizeof keyid, "%s-2026a", provs[i][0]);
		snprintf(fac, sizeof fac, "%s", i == 0 ? "prov-a-wz1" : "prov-b-wx2");
		char *pub = t_slurp(t_vector_path(provs[i][2]), NULL);
		const char *p1[] = {provs[i][0], provs[i][1]};
		exec_ok(c, "INSERT INTO voucher.providers (code, name, uscc) VALUES ($1, $1, $2)", 2, p1);
		const char *p2[] = {fp, provs[i][0]};
		exec_ok(c,
			"INSERT INTO voucher.provider_certs (fingerprint, provider, subject, not_after, pem) "
			"VALUES ($1, $2, 'CN=' || $2, now() + interval '1 year', 'test')",
			2, p2);
		const char *p3[] = {provs[i][0], keyid, provs[i][3], pub};
		exec_ok(c,
			"INSERT INTO voucher.provider_keys (provider, key_id, alg, public_pem, valid_from) "
			"VALUES ($1, $2, $3, $4, '2026-01-01T00:00:00Z')",
			4, p3);
		const char *p4[] = {provs[i][0], fac, i == 0 ? "330483" : "320214"};
		exec_ok(c,
			"INSERT INTO voucher.facilities (provider, facility, division, class) "
			"VALUES ($1, $2, $3, 'A')",
			3, p4);
		free(pub);
	}
}

int t_free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
	socklen_t l = sizeof a;
	getsockname(s, (struct sockaddr *)&a, &l);
	close(s);
	return ntohs(a.sin_port);
}

/* One attempt: writes the config with fresh ports and starts the daemon.
 * Returns 1 when healthy, 0 when a port was taken meanwhile (the ports come
 * from the ephemeral range, where a client connection can take one between
 * t_free_port() and the daemon's bind: try again), and fails the test on
 * anything else. */
static int daemon_try(t_daemon_t *d, const char *conninfo, const char *ingest_section)
{
	d->port = t_free_port();
	d->mport = t_free_port();
	FILE *f = fopen(d->conf, "w");
	cr_assert(f);
	fprintf(f,
		"[server]\nlisten = 127.0.0.1:%d\ntls_cert = %s\ntls_key = %s\ntls_client_ca = %s\n"
		"max_body_bytes = 16777216\nmax_records_per_batch = 10000\n"
		"[database]\nconninfo = %s\n"
		"[metrics]\nlisten = 127.0.0.1:%d\n"
		"%s\n",
		d->port, pki("server.pem"), pki("server.key"), pki("ca.pem"), conninfo, d->mport,
		ingest_section ? ingest_section : "[ingest]\nsignature_max_age_s = 0\n");
	fclose(f);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	/* VOUCHER_TEST_WRAP (e.g. tests/valgrind-wrap.sh) runs the daemon under a tool */
	const char *bin = t_root_path("bin/voucherd");
	const char *wrap = getenv("VOUCHER_TEST_WRAP");
	char *argv[] = {(char *)bin, "-c", d->conf, NULL};
	char *wargv[] = {(char *)wrap, (char *)bin, "-c", d->conf, NULL};
	int rc = wrap ? posix_spawn(&d->pid, wrap, &fa, NULL, wargv, environ)
		      : posix_spawn(&d->pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert(rc == 0, "spawn voucherd");
	for (int i = 0; i < (getenv("VOUCHER_TEST_WRAP") ? 600 : 150); i++) {
		char out[512];
		if (t_metrics_get(d, "/healthz", out, sizeof out) == 200)
			return 1;
		int st;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			char *log = t_slurp(d->log, NULL);
			if (log && strstr(log, "Address already in use")) {
				free(log);
				return 0;
			}
			cr_assert_fail("voucherd exited at start: %s", log);
		}
		usleep(100000);
	}
	char *log = t_slurp(d->log, NULL);
	cr_assert_fail("voucherd not healthy within 15 s: %s", log);
	return 0;
}

void t_daemon_start(t_daemon_t *d, const char *conninfo, const char *ingest_section)
{
	memset(d, 0, sizeof *d);
	const char *tmp = getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp";
	snprintf(d->dir, sizeof d->dir, "%s/d-XXXXXX", tmp);
	cr_assert(mkdtemp(d->dir) != NULL);
	snprintf(d->conf, sizeof d->conf, "%s/voucherd.conf", d->dir);
	snprintf(d->log, sizeof d->log, "%s/voucherd.log", d->dir);
	for (int attempt = 0; attempt < 5; attempt++)
		if (daemon_try(d, conninfo, ingest_section))
			return;
	cr_assert_fail("voucherd found no free port in 5 attempts");
}

void t_daemon_signal(t_daemon_t *d, int sig)
{
	if (d->pid > 0)
		kill(d->pid, sig);
}

int t_daemon_stop(t_daemon_t *d)
{
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	int st = 0;
	for (int i = 0; i < 300; i++) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		usleep(50000);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &st, 0);
	d->pid = 0;
	return -1;
}

void t_curl_request_args(buf_t *cmd, const char *headers, const char *body_file)
{
	for (const char *p = headers; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n)
			buf_printf(cmd, " -H '%.*s'", (int)n, p);
		p += n + (e ? 1 : 0);
	}
	if (body_file)
		buf_printf(cmd, " --data-binary '@%s'", body_file);
}

int t_https(const t_daemon_t *d, const char *client, const char *method, const char *path, const char *headers,
	    const char *body_file, char *out, size_t cap)
{
	buf_t cmd = BUF_INIT;
	buf_printf(&cmd, "curl -sS --max-time 20 -o '%s/resp.%d' -w '%%{http_code}' --cacert '%s' -X %s", d->dir,
		   (int)getpid(), pki("ca.pem"), method);
	if (client) {
		if (!strncmp(client, "rogue:", 6))
			buf_printf(&cmd, " --cert '%s/%s.pem' --key '%s/%s.key'", getenv("VOUCHER_TEST_ROGUE"),
				   client + 6, getenv("VOUCHER_TEST_ROGUE"), client + 6);
		else {
			char c1[64], c2[64];
			snprintf(c1, sizeof c1, "%s.pem", client);
			snprintf(c2, sizeof c2, "%s.key", client);
			buf_printf(&cmd, " --cert '%s' --key '%s'", pki(c1), pki(c2));
		}
	}
	t_curl_request_args(&cmd, headers, body_file);
	buf_printf(&cmd, " 'https://127.0.0.1:%d%s'", d->port, path);
	char code[16] = "";
	t_run(cmd.data, code, sizeof code, NULL, 0);
	buf_free(&cmd);
	char rf[400];
	snprintf(rf, sizeof rf, "%s/resp.%d", d->dir, (int)getpid());
	if (out && cap) {
		out[0] = '\0';
		FILE *f = fopen(rf, "rb");
		if (f) {
			size_t n = fread(out, 1, cap - 1, f);
			out[n] = '\0';
			fclose(f);
		}
	}
	unlink(rf);
	return atoi(code);
}

int t_metrics_get(const t_daemon_t *d, const char *path, char *out, size_t cap)
{
	char cmd[512], res[65536];
	snprintf(cmd, sizeof cmd, "curl -s --max-time 5 -w '\\n%%{http_code}' 'http://127.0.0.1:%d%s'", d->mport, path);
	t_run(cmd, res, sizeof res, NULL, 0);
	char *nl = strrchr(res, '\n');
	int code = nl ? atoi(nl + 1) : 0;
	if (nl)
		*nl = '\0';
	if (out && cap)
		snprintf(out, cap, "%s", res);
	return code;
}

void t_sign(const char *prov, const char *body, size_t len, char *body_file, char *headers)
{
	bool b = prov && !strcmp(prov, "prov-b");
	t_sign_as(prov, b ? "prov-b-2026a" : "prov-a-2026a", (int64_t)time(NULL), body, len, body_file, headers);
}

void t_sign_as(const char *prov, const char *keyid, int64_t created, const char *body, size_t len, char *body_file,
	       char *headers)
{
	bool b = prov && !strcmp(prov, "prov-b");
	char err[256];
	sig_alg_t alg = b ? SIG_ALG_SM2_SM3 : SIG_ALG_ED25519;
	EVP_PKEY *k = sig_load_private_file(t_vector_path(b ? "provider-b.sm2.key" : "provider-a.ed25519.key"), alg,
					    err, sizeof err);
	cr_assert(k, "%s", err);
	buf_t cd = BUF_INIT, si = BUF_INIT, sg = BUF_INIT;
	cr_assert(sig_make_headers(k, alg, keyid, created, "POST", "/v1/usage-batches", body, len, &cd, &si, &sg));
	EVP_PKEY_free(k);
	snprintf(headers, 2048,
		 "Content-Type: application/json\nContent-Digest: %s\nSignature-Input: %s\nSignature: %s", cd.data,
		 si.data, sg.data);
	buf_free(&cd);
	buf_free(&si);
	buf_free(&sg);
	const char *tmp = getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp";
	snprintf(body_file, 256, "%s/body-XXXXXX", tmp);
	int fd = mkstemp(body_file);
	cr_assert(fd >= 0);
	cr_assert(write(fd, body, len) == (ssize_t)len);
	close(fd);
}

/* ------------------------------------------------------------ JSON answers */

json_t *t_json(const char *text)
{
	cr_assert(text != NULL, "no JSON text");
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	cr_assert(j != NULL, "not JSON (line %d col %d: %s): %s", e.line, e.column, e.text, text);
	return j;
}

json_t *t_json_at(json_t *root, const char *path)
{
	json_t *v = root;
	const char *p = path;
	while (v && *p) {
		size_t n = strcspn(p, ".");
		char key[256];
		snprintf(key, sizeof key, "%.*s", (int)n, p);
		if (json_is_object(v)) {
			v = json_object_get(v, key);
		} else if (json_is_array(v)) {
			char *end;
			unsigned long i = strtoul(key, &end, 10);
			v = n && *end == '\0' ? json_array_get(v, i) : NULL;
		} else {
			v = NULL;
		}
		p += n + (p[n] == '.');
	}
	return v;
}

/* the value at path of a parsed text: the document is kept until the next
 * call, so that the value stays valid while the caller reads it */
static json_t *value_at(const char *text, const char *path)
{
	static json_t *doc;
	if (doc)
		json_decref(doc);
	doc = t_json(text);
	json_t *v = t_json_at(doc, path);
	cr_assert(v != NULL, "no %s in %s", path, text);
	return v;
}

long long t_json_int(const char *text, const char *path)
{
	json_t *v = value_at(text, path);
	cr_assert(json_is_integer(v), "%s is not an integer in %s", path, text);
	return (long long)json_integer_value(v);
}

const char *t_json_str(const char *text, const char *path)
{
	static char slots[4][4096];
	static unsigned i;
	json_t *v = value_at(text, path);
	cr_assert(json_is_string(v), "%s is not a string in %s", path, text);
	char *o = slots[i++ % 4];
	snprintf(o, sizeof slots[0], "%s", json_string_value(v));
	return o;
}

bool t_json_bool(const char *text, const char *path)
{
	json_t *v = value_at(text, path);
	cr_assert(json_is_boolean(v), "%s is not a boolean in %s", path, text);
	return json_is_true(v);
}

size_t t_json_len(const char *text, const char *path)
{
	json_t *v = value_at(text, path);
	cr_assert(json_is_array(v), "%s is not an array in %s", path, text);
	return json_array_size(v);
}

const char *t_http_body(const char *raw)
{
	const char *b = raw ? strstr(raw, "\r\n\r\n") : NULL;
	return b ? b + 4 : NULL;
}

PGconn *t_start_registered(t_daemon_t *d, char *ci, size_t cilen, const char *extra)
{
	PGconn *db = t_newdb(ci, cilen);
	t_registry_setup(db);
	char ing[320];
	t_conninfo_as(ci, "voucher_ingest", ing, sizeof ing);
	t_daemon_start(d, ing, extra);
	return db;
}

void t_stop_checked(t_daemon_t *d, PGconn **db)
{
	if (d->pid > 0) {
		int rc = t_daemon_stop(d);
		if (rc != 0) {
			char *log = t_slurp(d->log, NULL);
			cr_expect_eq(rc, 0, "voucherd exited %d: %s", rc, log);
			free(log);
		}
	}
	if (*db)
		PQfinish(*db);
	*db = NULL;
}
