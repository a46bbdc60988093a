/* Test support: each integration test gets its own database, a copy of the
 * migrated template that tests/run.sh prepared, so that Criterion's parallel
 * test processes never see each other's rows.
 *
 * tests/run.sh exports:
 *   VOUCHER_TEST_PGHOST   socket directory of the throw-away cluster
 *   VOUCHER_TEST_PGPORT   its port
 *   VOUCHER_TEST_TEMPLATE the migrated template database
 *   VOUCHER_TEST_ROOT     the repository root (bin/, tests/, shared vectors)
 *   VOUCHER_VECTORS       tests/vectors
 * Tests that need them call t_require_db() first, which skips the test when
 * they are missing (e.g. `bin/tests` run by hand without the harness). */
#ifndef VOUCHER_TEST_SUPPORT_H
#define VOUCHER_TEST_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

/* Skips the current test (cr_skip_test) if no test cluster is configured. */
void t_require_db(void);
/* Creates a fresh database copied from the template; writes its conninfo
 * (superuser) into conninfo (>= 256 bytes) and returns a connection to it. */
PGconn *t_newdb(char *conninfo, size_t len);
/* Conninfo for the same database as another role (e.g. "voucher_ingest"). */
void t_conninfo_as(const char *conninfo, const char *role, char *out, size_t len);
/* Runs a shell command (sh -c), capturing stdout and stderr (each cut at cap
 * bytes) into the given buffers (may be NULL); returns the exit status, or
 * -1 if it did not exit normally.  Uses posix_spawn, not fork. */
int t_run(const char *cmd, char *out, size_t outcap, char *err, size_t errcap);
/* A scalar query result as text (static buffer, valid until the next call). */
const char *t_scalar(PGconn *c, const char *sql);
/* Path of a file under the repository root / the vectors directory (static rotating buffers). */
const char *t_root_path(const char *rel);
const char *t_vector_path(const char *name);

/* ---- JSON answers, parsed with jansson ----
 * A path names a value inside the document: object keys and array indexes
 * separated by '.', e.g. "accepted", "rejected.1.code" (no key may contain a
 * '.').  Each helper fails the test (with the text) when the text is not JSON,
 * or the value is missing or of another type. */
#include <jansson.h>
/* Parses text (NUL-terminated); the caller json_decref()s the result. */
json_t *t_json(const char *text);
/* The value at path inside root (borrowed), or NULL if there is none. */
json_t *t_json_at(json_t *root, const char *path);
/* An integer at path. */
long long t_json_int(const char *text, const char *path);
/* A string at path (static rotating buffers, valid for the next 3 calls). */
const char *t_json_str(const char *text, const char *path);
/* A boolean at path. */
bool t_json_bool(const char *text, const char *path);
/* The number of elements of the array at path. */
size_t t_json_len(const char *text, const char *path);
/* The body of a raw HTTP answer (after the blank line), or NULL. */
const char *t_http_body(const char *raw);
#include <sys/types.h>

typedef struct t_daemon {
	pid_t pid;
	int port;      /* HTTPS */
	int mport;     /* metrics */
	char dir[256]; /* its own temporary directory: config, log */
	char conf[300];
	char log[300];
} t_daemon_t;

/* Registers providers prov-a (Ed25519 vector key, certificate
 * $VOUCHER_TEST_PKI/prov-a.pem, facility prov-a-wz1) and prov-b (SM2 vector
 * key, prov-b.pem, facility prov-b-wx2) directly in the database, keys valid
 * from 2026-01-01.  prov-c has a certificate from the same CA but is not
 * registered. */
void t_registry_setup(PGconn *c);
/* A free TCP port on 127.0.0.1 (bound once and released). */
int t_free_port(void);
/* Writes a config (extra lines appended, e.g. "[ingest]\nclock_skew_s = 5\n"
 * must not repeat keys of the base config; see support.c), starts bin/voucherd
 * and waits until /healthz says ok.  Fails the test if it does not within 15 s. */
void t_daemon_start(t_daemon_t *d, const char *conninfo, const char *ingest_section);
/* A database of its own with the registry of t_registry_setup, and a voucherd
 * on it as voucher_ingest (extra as for t_daemon_start); the database's
 * superuser connection is returned, its conninfo written to ci. */
PGconn *t_start_registered(t_daemon_t *d, char *ci, size_t cilen, const char *extra);
/* Stops d (it must exit 0 after SIGTERM: under the sanitizers a leak fails the
 * test, with the daemon's log) and closes *db. */
void t_stop_checked(t_daemon_t *d, PGconn **db);
/* SIGTERM and wait; returns the exit status (or -1 if killed by a signal). */
int t_daemon_stop(t_daemon_t *d);
void t_daemon_signal(t_daemon_t *d, int sig);

/* One HTTPS request with curl as client NAME of $VOUCHER_TEST_PKI (NULL: no
 * client certificate).  headers: "Name: value" lines separated by '\n' (may be
 * NULL).  body from a file (may be NULL).  Returns the HTTP status, or 0 if no
 * HTTP answer came (TLS refused, connection closed).  The answer body goes to
 * out (cut at cap). */
/* curl's -H and --data-binary arguments for headers ("Name: value" lines
 * separated by '\n', may be NULL) and a body file (may be NULL). */
struct buf;
void t_curl_request_args(struct buf *cmd, const char *headers, const char *body_file);
int t_https(const t_daemon_t *d, const char *client, const char *method, const char *path, const char *headers,
	    const char *body_file, char *out, size_t cap);
/* Plain HTTP GET on the metrics port. */
int t_metrics_get(const t_daemon_t *d, const char *path, char *out, size_t cap);
/* Signs body (as prov-a with the Ed25519 vector key, or prov-b with SM2 if
 * prov == "prov-b") with created = now, writes it to a temp file whose path is
 * returned in body_file (>= 256 bytes), and the three headers to headers
 * (>= 2048 bytes) in the form t_https takes. */
void t_sign(const char *prov, const char *body, size_t len, char *body_file, char *headers);
/* The same with the key's vector key pair under another key id and created time. */
void t_sign_as(const char *prov, const char *keyid, int64_t created, const char *body, size_t len, char *body_file,
	       char *headers);
/* Runs bin/voucherctl --db 'conninfo' ARGS (ARGS are shell words, printf
 * style).  The result is a static buffer, valid until the next call. */
struct t_ctl_run {
	int rc;
	char out[65536];
	char err[65536];
};
struct t_ctl_run *t_ctl(const char *conninfo, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a whole file; caller frees. */
char *t_slurp(const char *path, size_t *len);

#endif
