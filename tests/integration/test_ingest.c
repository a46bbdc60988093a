/* The ingest daemon as a process: real PostgreSQL, real TLS, real signatures.
 * Every test has its own database and its own voucherd on free ports. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "tests/integration/support.h"

static PGconn *db;
static char ci[256];
static t_daemon_t d;

static void start(const char *ingest_section)
{
	db = t_start_registered(&d, ci, sizeof ci, ingest_section);
}

/* Every daemon must stop cleanly: exit 0 after SIGTERM (under the sanitizers
 * a leak or an error report makes this fail too). */
static void teardown(void)
{
	t_stop_checked(&d, &db);
}

TestSuite(ingest, .fini = teardown, .timeout = 120);

/* the vector's three headers plus Content-Type, in t_https form */
static void vector_headers(const char *which, char *out, size_t cap)
{
	char name[64];
	snprintf(name, sizeof name, "batch-%s.headers", which);
	char *h = t_slurp(t_vector_path(name), NULL);
	snprintf(out, cap, "Content-Type: application/json\n%s", h);
	free(h);
}

static int post_vector(const char *client, const char *which, char *out, size_t cap)
{
	char h[2048], body[64];
	vector_headers(which, h, sizeof h);
	snprintf(body, sizeof body, "batch-%s.json", which);
	return t_https(&d, client, "POST", "/v1/usage-batches", h, t_vector_path(body), out, cap);
}

/* signs body as prov-a (Ed25519 vector key, created now) and POSTs it */
static int post_signed(const char *body, char *out, size_t cap)
{
	char hdr[2048], file[256];
	t_sign("prov-a", body, strlen(body), file, hdr);
	int st = t_https(&d, "prov-a", "POST", "/v1/usage-batches", hdr, file, out, cap);
	unlink(file);
	return st;
}

static int count(const char *sql)
{
	return atoi(t_scalar(db, sql));
}

Test(ingest, vectors_are_accepted_and_stored_with_their_signed_bytes)
{
	start(NULL);
	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200, "%s", out);
	cr_assert_eq(t_json_int(out, "accepted"), 3, "%s", out);
	cr_assert_eq(post_vector("prov-b", "b", out, sizeof out), 200, "%s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 4);
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 2);
	/* the stored body is byte for byte what was signed */
	size_t len;
	char *body = t_slurp(t_vector_path("batch-a.json"), &len);
	PGresult *r =
		PQexecParams(db, "SELECT body, signature, alg, key_id FROM voucher.batches WHERE provider = 'prov-a'",
			     0, NULL, NULL, NULL, NULL, 1);
	cr_assert_eq(PQntuples(r), 1);
	cr_assert_eq((size_t)PQgetlength(r, 0, 0), len);
	cr_assert(memcmp(PQgetvalue(r, 0, 0), body, len) == 0);
	cr_assert(strstr(PQgetvalue(r, 0, 1), "sig1=:kgWqkF1s") != NULL);
	PQclear(r);
	free(body);
	cr_assert_str_eq(t_scalar(db, "SELECT amount_fen FROM voucher.usage_records WHERE record_id = 'r-000003'"),
			 "-81650");
	cr_assert_str_eq(t_scalar(db, "SELECT adjusts FROM voucher.usage_records WHERE record_id = 'r-000003'"),
			 "r-000001");
	cr_assert_str_eq(t_scalar(db, "SELECT alg FROM audit.batches WHERE provider = 'prov-b'"), "sm2-sm3");
}

Test(ingest, retry_returns_first_answer_and_stores_nothing_new)
{
	start(NULL);
	char first[4096], second[4096];
	cr_assert_eq(post_vector("prov-a", "a", first, sizeof first), 200);
	cr_assert_eq(post_vector("prov-a", "a", second, sizeof second), 200);
	cr_assert_str_eq(first, second);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 3);
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 1);
	/* and the client that lost its answer can ask for it */
	char got[4096];
	cr_assert_eq(
		t_https(&d, "prov-a", "GET", "/v1/usage-batches/prov-a-20260302-000001", NULL, NULL, got, sizeof got),
		200);
	cr_assert_str_eq(got, first);
}

Test(ingest, same_batch_id_with_other_body_is_409)
{
	start(NULL);
	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200);
	const char *body =
		"{\"batch_id\":\"prov-a-20260302-000001\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":\"x-1\","
		"\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"intelligent_compute\","
		"\"quantity\":\"1\",\"unit\":\"card_hour\",\"amount_fen\":100,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-01T01:00:00+08:00\",\"contract_id\":\"C1\"}]}";
	cr_assert_eq(post_signed(body, out, sizeof out), 409, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "batch_conflict", "%s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 3);
}

Test(ingest, refused_requests_store_nothing)
{
	start(NULL);
	char out[4096], hdr[2048];
	/* another provider's certificate with prov-a's key id */
	cr_assert_eq(post_vector("prov-b", "a", out, sizeof out), 403, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "unknown_key", "%s", out);
	/* a certificate from the trusted CA that is not registered */
	cr_assert_eq(post_vector("prov-c", "a", out, sizeof out), 403, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "unknown_certificate", "%s", out);
	/* a certificate from an untrusted CA: the TLS handshake fails */
	cr_assert_eq(post_vector("rogue:prov-a", "a", out, sizeof out), 0);
	/* no client certificate */
	cr_assert_eq(post_vector(NULL, "a", out, sizeof out), 0);
	/* body changed after signing */
	size_t len;
	char *body = t_slurp(t_vector_path("batch-a.json"), &len);
	char *p = strstr(body, "1234500");
	p[0] = '9';
	char tf[300];
	snprintf(tf, sizeof tf, "%s/changed.json", d.dir);
	FILE *f = fopen(tf, "wb");
	fwrite(body, 1, len, f);
	fclose(f);
	vector_headers("a", hdr, sizeof hdr);
	cr_assert_eq(t_https(&d, "prov-a", "POST", "/v1/usage-batches", hdr, tf, out, sizeof out), 401, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "digest_mismatch", "%s", out);
	/* ... and with a recomputed digest the signature no longer verifies */
	char fresh[2048], dummy[256];
	t_sign("prov-a", body, len, dummy, fresh);
	char *cdl = strstr(fresh, "Content-Digest: ");
	char cdline[256];
	snprintf(cdline, sizeof cdline, "%.*s", (int)strcspn(cdl, "\n"), cdl);
	char mixed[2048];
	snprintf(mixed, sizeof mixed, "Content-Type: application/json\n%s\n%s", cdline, strstr(hdr, "Signature-Input"));
	cr_assert_eq(t_https(&d, "prov-a", "POST", "/v1/usage-batches", mixed, tf, out, sizeof out), 401, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "signature_invalid", "%s", out);
	unlink(dummy);
	free(body);
	/* no signature at all */
	cr_assert_eq(t_https(&d, "prov-a", "POST", "/v1/usage-batches", "Content-Type: application/json",
			     t_vector_path("batch-a.json"), out, sizeof out),
		     401);
	/* wrong media type */
	char wrong[2048];
	vector_headers("a", wrong, sizeof wrong);
	memcpy(wrong, "Content-Type: text/plain;      ", 30);
	cr_assert_eq(t_https(&d, "prov-a", "POST", "/v1/usage-batches", wrong, t_vector_path("batch-a.json"), out,
			     sizeof out),
		     415, "%s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 0);
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 0);
}

Test(ingest, plain_http_on_the_tls_port_gets_nothing)
{
	start(NULL);
	char cmd[256], out[256];
	snprintf(cmd, sizeof cmd,
		 "curl -s --max-time 5 -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/v1/usage-batches", d.port);
	t_run(cmd, out, sizeof out, NULL, 0);
	cr_assert_str_eq(out, "000");
}

Test(ingest, duplicate_json_key_and_provider_mismatch_are_refused)
{
	start(NULL);
	char out[4096];
	const char *dup = "{\"batch_id\":\"b1\",\"provider\":\"prov-a\",\"provider\":\"prov-b\",\"records\":[]}";
	cr_assert_eq(post_signed(dup, out, sizeof out), 400, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "duplicate_key", "%s", out);
	const char *other =
		"{\"batch_id\":\"b2\",\"provider\":\"prov-b\",\"records\":[{\"record_id\":\"x-1\","
		"\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"intelligent_compute\","
		"\"quantity\":\"1\",\"unit\":\"card_hour\",\"amount_fen\":100,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-01T01:00:00+08:00\",\"contract_id\":\"C1\"}]}";
	cr_assert_eq(post_signed(other, out, sizeof out), 403, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "provider_mismatch", "%s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 0);
}

Test(ingest, a_20_megabyte_body_is_413)
{
	start(NULL);
	char file[300], out[4096];
	snprintf(file, sizeof file, "%s/big.json", d.dir);
	FILE *f = fopen(file, "wb");
	cr_assert(f);
	fputs("{\"batch_id\":\"big\",\"provider\":\"prov-a\",\"records\":[", f);
	for (int i = 0; i < 20 * 1024; i++) {
		char chunk[1024];
		memset(chunk, ' ', sizeof chunk);
		fwrite(chunk, 1, sizeof chunk, f);
	}
	fputs("]}", f);
	fclose(f);
	char hdr[2048];
	vector_headers("a", hdr, sizeof hdr);
	cr_assert_eq(t_https(&d, "prov-a", "POST", "/v1/usage-batches", hdr, file, out, sizeof out), 413);
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 0);
	/* the daemon is still there */
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200);
}

Test(ingest, a_provider_cannot_see_another_providers_batch)
{
	start(NULL);
	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200);
	cr_assert_eq(
		t_https(&d, "prov-b", "GET", "/v1/usage-batches/prov-a-20260302-000001", NULL, NULL, out, sizeof out),
		404);
	cr_assert_eq(t_https(&d, "prov-a", "GET", "/v1/usage-batches/nope", NULL, NULL, out, sizeof out), 404);
}

Test(ingest, per_record_rejections_are_precise_and_store_the_rest)
{
	start(NULL);
	char out[8192];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200);
	/* record 0 ok; 1 unknown facility; 2 bad USCC; 3 r-000001 again with other content (conflict);
	 * 4 adjustment taking the net below zero; 5 identical to stored r-000002 (duplicate) */
	const char *body =
		"{\"batch_id\":\"b-rej\",\"provider\":\"prov-a\",\"records\":["
		"{\"record_id\":\"n-1\",\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"supercomputing\","
		"\"quantity\":\"2\",\"unit\":\"core_hour\",\"amount_fen\":500,\"started_at\":\"2026-03-05T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-05T01:00:00+08:00\",\"contract_id\":\"C9\"},"
		"{\"record_id\":\"n-2\",\"enterprise\":\"91330483100000001E\",\"facility\":\"nowhere\",\"category\":\"supercomputing\","
		"\"quantity\":\"2\",\"unit\":\"core_hour\",\"amount_fen\":500,\"started_at\":\"2026-03-05T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-05T01:00:00+08:00\",\"contract_id\":\"C9\"},"
		"{\"record_id\":\"n-3\",\"enterprise\":\"91330483100000001A\",\"facility\":\"prov-a-wz1\",\"category\":\"supercomputing\","
		"\"quantity\":\"2\",\"unit\":\"core_hour\",\"amount_fen\":500,\"started_at\":\"2026-03-05T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-05T01:00:00+08:00\",\"contract_id\":\"C9\"},"
		"{\"record_id\":\"r-000001\",\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"intelligent_compute\","
		"\"quantity\":\"1\",\"unit\":\"card_hour\",\"amount_fen\":1,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-01T08:00:00+08:00\",\"contract_id\":\"HT-2026-0001\"},"
		"{\"record_id\":\"n-5\",\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"intelligent_compute\","
		"\"quantity\":\"-1\",\"unit\":\"card_hour\",\"amount_fen\":-1152851,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-01T08:00:00+08:00\",\"contract_id\":\"HT-2026-0001\",\"adjusts\":\"r-000001\"},"
		"{\"record_id\":\"r-000002\",\"enterprise\":\"91330106100000002H\",\"facility\":\"prov-a-wz1\",\"category\":\"model_service\","
		"\"purpose\":\"application\",\"quantity\":\"5000000\",\"unit\":\"tokens\",\"amount_fen\":8800,"
		"\"started_at\":\"2026-03-02T10:00:00+08:00\",\"ended_at\":\"2026-03-02T11:00:00+08:00\","
		"\"contract_id\":\"HT-2026-0002\",\"invoice_no\":\"26332000000012345678\"}"
		"]}";
	cr_assert_eq(post_signed(body, out, sizeof out), 200, "%s", out);
	cr_assert_eq(t_json_int(out, "accepted"), 1, "%s", out);
	cr_assert_eq(t_json_int(out, "duplicates"), 1, "%s", out);
	const struct {
		long long index;
		const char *record_id, *code;
	} want[] = {{1, "n-2", "unknown_facility"},
		    {2, "n-3", "invalid_enterprise"},
		    {3, "r-000001", "conflict"},
		    {4, "n-5", "net_below_zero"}};
	cr_assert_eq(t_json_len(out, "rejected"), 4, "%s", out);
	for (size_t i = 0; i < 4; i++) {
		char at[64];
		snprintf(at, sizeof at, "rejected.%zu.index", i);
		cr_assert_eq(t_json_int(out, at), want[i].index, "%s", out);
		snprintf(at, sizeof at, "rejected.%zu.record_id", i);
		cr_assert_str_eq(t_json_str(out, at), want[i].record_id, "%s", out);
		snprintf(at, sizeof at, "rejected.%zu.code", i);
		cr_assert_str_eq(t_json_str(out, at), want[i].code, "%s", out);
	}
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 4);
	/* the net of r-000001 and its adjustments exactly zero is allowed */
	const char *zero =
		"{\"batch_id\":\"b-zero\",\"provider\":\"prov-a\",\"records\":["
		"{\"record_id\":\"n-6\",\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"intelligent_compute\","
		"\"quantity\":\"-1\",\"unit\":\"card_hour\",\"amount_fen\":-1152850,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-01T08:00:00+08:00\",\"contract_id\":\"HT-2026-0001\",\"adjusts\":\"r-000001\"}]}";
	cr_assert_eq(post_signed(zero, out, sizeof out), 200, "%s", out);
	cr_assert_eq(t_json_int(out, "accepted"), 1, "%s", out);
	cr_assert_str_eq(t_scalar(db, "SELECT sum(amount_fen) FROM voucher.usage_records "
				      "WHERE record_id = 'r-000001' OR adjusts = 'r-000001'"),
			 "0");
}

Test(ingest, revoked_key_is_refused_even_before_a_reload)
{
	start(NULL);
	PQclear(PQexec(db, "UPDATE voucher.provider_keys SET revoked_at = now() WHERE key_id = 'prov-a-2026a'"));
	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 403, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "key_revoked", "%s", out);
	t_daemon_signal(&d, SIGHUP);
	usleep(500000);
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 403, "%s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 0);
}

Test(ingest, stale_signature_is_refused_when_freshness_is_on)
{
	start("[ingest]\nsignature_max_age_s = 3600\n");
	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 401, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "signature_stale", "%s", out);
	/* a fresh signature passes */
	size_t len;
	char *body = t_slurp(t_vector_path("batch-a.json"), &len);
	char hdr[2048], file[256];
	t_sign("prov-a", body, len, file, hdr);
	cr_assert_eq(t_https(&d, "prov-a", "POST", "/v1/usage-batches", hdr, file, out, sizeof out), 200, "%s", out);
	unlink(file);
	free(body);
}

Test(ingest, rate_limit_answers_429_with_retry_after)
{
	start("[ingest]\nsignature_max_age_s = 0\nprovider_rate_per_s = 1\n");
	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200, "%s", out);
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 429, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "rate_limited", "%s", out);
}

Test(ingest, metrics_and_health_answer)
{
	start(NULL);
	char out[65536];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200);
	cr_assert_eq(t_metrics_get(&d, "/healthz", out, sizeof out), 200);
	cr_assert(t_json_bool(out, "database"), "%s", out);
	/* the node written to: the test cluster's socket and port, one host, no switch */
	char node[400];
	snprintf(node, sizeof node, "%s:%s", getenv("VOUCHER_TEST_PGHOST"),
		 getenv("VOUCHER_TEST_PGPORT") ? getenv("VOUCHER_TEST_PGPORT") : "5432");
	cr_assert_str_eq(t_json_str(out, "primary"), node, "%s", out);
	cr_assert(strstr(out, "\"primary_switches\":0}"), "%s", out);
	cr_assert_eq(t_metrics_get(&d, "/metrics", out, sizeof out), 200);
	char line[512];
	snprintf(line, sizeof line, "voucherd_db_primary{node=\"%s\"} 1\n", node);
	cr_assert(strstr(out, line), "%s", out);
	cr_assert(strstr(out, "voucherd_db_hosts 1\n"), "%s", out);
	cr_assert(strstr(out, "voucherd_db_primary_switches_total 0\n"), "%s", out);
	cr_assert(strstr(out, "voucherd_records_accepted_total 3"), "%s", out);
	cr_assert(strstr(out, "voucherd_requests_total{code=\"200\"} 1"), "%s", out);
	cr_assert(strstr(out, "voucherd_batch_seconds_count 1"), "%s", out);
	cr_assert(strstr(out, "voucherd_db_queue_depth 0"), "%s", out);
}

/* the sum of voucherd_requests_total over every code, or -1 */
static long requests_total(void)
{
	static char out[65536];
	if (t_metrics_get(&d, "/metrics", out, sizeof out) != 200)
		return -1;
	long sum = 0;
	for (const char *p = out; (p = strstr(p, "\nvoucherd_requests_total{")) != NULL; p++)
		sum += strtol(strchr(p, '}') + 1, NULL, 10);
	return sum;
}

/* the metrics listener's own answers, 404s too, are not ingest requests */
Test(ingest, metrics_port_requests_are_not_counted_as_ingest_requests)
{
	start(NULL);
	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200);
	long before = requests_total();
	cr_assert_eq(before, 1);
	cr_assert_eq(t_metrics_get(&d, "/no-such-path", out, sizeof out), 404);
	cr_assert_str_eq(t_json_str(out, "code"), "not_found", "%s", out);
	cr_assert_eq(t_metrics_get(&d, "/v1/usage-batches", out, sizeof out), 404);
	cr_assert_eq(t_metrics_get(&d, "/healthz", out, sizeof out), 200);
	cr_assert_eq(requests_total(), before);
	/* while an ingest 404 is one */
	cr_assert_eq(t_https(&d, "prov-a", "GET", "/nope", NULL, NULL, out, sizeof out), 404);
	cr_assert_eq(requests_total(), before + 1);
}

Test(ingest, sigterm_exits_zero)
{
	start(NULL);
	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200);
	cr_assert_eq(t_daemon_stop(&d), 0);
	char *log = t_slurp(d.log, NULL);
	cr_assert(strstr(log, "event=stopped"), "%s", log);
	/* no record contents in logs */
	cr_assert(strstr(log, "91330483100000001E") == NULL);
	cr_assert(strstr(log, "HT-2026-0001") == NULL);
	free(log);
}

/* Two connections send the same batch at the same moment: stored once, both
 * get the same answer. */
Test(ingest, same_batch_on_many_connections_at_once_is_stored_once)
{
	start(NULL);
	char hdr[2048];
	vector_headers("a", hdr, sizeof hdr);
	buf_t cmd = BUF_INIT;
	buf_puts(&cmd, "for i in 1 2 3 4 5 6 7 8; do ");
	buf_printf(&cmd, "curl -s --cacert '%s/ca.pem' --cert '%s/prov-a.pem' --key '%s/prov-a.key' ",
		   getenv("VOUCHER_TEST_PKI"), getenv("VOUCHER_TEST_PKI"), getenv("VOUCHER_TEST_PKI"));
	const char *p = hdr;
	while (*p) {
		size_t n = strcspn(p, "\n");
		buf_printf(&cmd, "-H '%.*s' ", (int)n, p);
		p += n + (p[n] ? 1 : 0);
	}
	buf_printf(&cmd,
		   "--data-binary '@%s' https://127.0.0.1:%d/v1/usage-batches -o %s/par.$i & done; wait; "
		   "cat %s/par.* | sort | uniq -c | wc -l",
		   t_vector_path("batch-a.json"), d.port, d.dir, d.dir);
	char out[256];
	cr_assert_eq(t_run(cmd.data, out, sizeof out, NULL, 0), 0);
	buf_free(&cmd);
	cr_assert_eq(atoi(out), 1, "answers differ: %s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 1);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 3);
}

/* voucher-bench as prov-a against the test daemon; its "result" line in out */
static int run_bench(const char *args, char *out, size_t cap)
{
	const char *pki = getenv("VOUCHER_TEST_PKI");
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "%s --url https://127.0.0.1:%d --ca '%s/ca.pem' --cert '%s/prov-a.pem' --key '%s/prov-a.key' "
		 "--sign-key '%s' --key-id prov-a-2026a --provider prov-a --facility prov-a-wz1 -q %s",
		 t_root_path("bin/voucher-bench"), d.port, pki, pki, pki, t_vector_path("provider-a.ed25519.key"),
		 args);
	return t_run(cmd, out, cap, NULL, 0);
}

/* the number after the first "<before><key><after>" in text, or -1 */
static long number_after(const char *text, const char *before, const char *key, const char *after)
{
	char k[128];
	snprintf(k, sizeof k, "%s%s%s", before, key, after);
	const char *p = strstr(text, k);
	return p ? strtol(p + strlen(k), NULL, 10) : -1;
}

static long result_field(const char *out, const char *key)
{
	return number_after(out, " ", key, "=");
}

/* Batches grouped into shared transactions, each repeating records of the
 * batch before it (often in the same group or in flight at the same time on
 * another connection): every record is stored once, and every answer counts
 * it either as accepted (by exactly one batch) or as a duplicate. */
Test(ingest, overlapping_batches_on_many_connections_store_each_record_once)
{
	start("[database]\ngroup_max = 8\n");
	static const char *const batches = "--batch-size 200 --records 6000 --duplicates 0.25 "
					   "--invalid 0.02 --enterprises 50 --prefix ovl";
	char args[256], out[4096];
	snprintf(args, sizeof args, "--connections 8 %s", batches);
	cr_assert_eq(run_bench(args, out, sizeof out), 0, "%s", out);
	/* 30 batches; from the second on, 50 of 200 repeat the batch before; 4
	 * of each have a bad credit code */
	long accepted = result_field(out, "accepted"), dups = result_field(out, "duplicates");
	long rejected = result_field(out, "rejected");
	cr_expect_eq(result_field(out, "failed"), 0, "%s", out);
	cr_expect_eq(dups, 29 * 50, "%s", out);
	cr_expect_eq(accepted + dups + rejected, 6000, "%s", out);
	cr_expect_eq(rejected, 30 * 4, "%s", out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.usage_records"), accepted);
	cr_expect_eq(count("SELECT sum(accepted) FROM voucher.batches"), accepted);
	cr_expect_eq(count("SELECT count(*) FROM voucher.batches"), 30);
	/* each record is stored with the batch that first carried it */
	cr_expect_eq(count("SELECT count(*) FROM voucher.usage_records u JOIN voucher.batches b "
			   "USING (provider, batch_id)"),
		     accepted);
	/* the same batches again: every answer is the first one, nothing new stored */
	char again[4096];
	snprintf(args, sizeof args, "--connections 4 %s", batches);
	cr_assert_eq(run_bench(args, again, sizeof again), 0, "%s", again);
	cr_expect_eq(result_field(again, "accepted"), accepted, "%s", again);
	cr_expect_eq(result_field(again, "duplicates"), dups, "%s", again);
	cr_expect_eq(count("SELECT count(*) FROM voucher.usage_records"), accepted);
	cr_expect_eq(count("SELECT count(*) FROM voucher.batches"), 30);
}

static long metric(const char *name)
{
	static char out[65536];
	if (t_metrics_get(&d, "/metrics", out, sizeof out) != 200)
		return -1;
	return number_after(out, "\n", name, " ");
}

/* The database is slow (a lock holds every insert): voucherd stops reading
 * once its queue holds queue_max_bytes, instead of buffering or refusing,
 * and every batch is stored once the database goes on. */
Test(ingest, a_full_database_queue_pauses_reading_and_loses_nothing)
{
	start("[database]\nqueue_max_bytes = 1048576\n");
	PGconn *lock = PQconnectdb(ci);
	cr_assert_eq(PQstatus(lock), CONNECTION_OK);
	PGresult *r = PQexec(lock, "BEGIN; LOCK TABLE voucher.usage_records IN SHARE ROW EXCLUSIVE MODE");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(lock));
	PQclear(r);

	char args[512], out[4096];
	snprintf(args, sizeof args,
		 "--connections 16 --batch-size 1000 --records 24000 --prefix flow >'%s/flow.out' 2>&1 &", d.dir);
	cr_assert_eq(run_bench(args, out, sizeof out), 0);
	int i;
	for (i = 0; i < 150 && metric("voucherd_reading_paused") != 1; i++)
		usleep(100000);
	cr_assert_eq(metric("voucherd_reading_paused"), 1, "reading was not paused");
	cr_expect_geq(metric("voucherd_pending_bytes"), 1048576);
	cr_expect_eq(metric("voucherd_requests_total{code=\"503\"}"), 0);
	/* paused, it stays paused and takes no more: of 16 clients sending,
	 * only those whose requests had already been read are waiting, and
	 * their number does not grow */
	usleep(300000);
	long waiting = metric("voucherd_db_queue_depth") + metric("voucherd_db_in_flight");
	usleep(700000);
	cr_expect_eq(metric("voucherd_reading_paused"), 1);
	cr_expect_lt(waiting, 16, "%ld requests taken while paused", waiting);
	cr_expect_eq(metric("voucherd_db_queue_depth") + metric("voucherd_db_in_flight"), waiting,
		     "requests were taken while paused");
	cr_expect_eq(metric("voucherd_requests_total{code=\"200\"}"), 0);

	r = PQexec(lock, "ROLLBACK");
	PQclear(r);
	PQfinish(lock);
	char path[512];
	snprintf(path, sizeof path, "%s/flow.out", d.dir);
	char *res = NULL;
	for (i = 0; i < 300; i++) {
		res = t_slurp(path, NULL);
		if (res && strstr(res, "result "))
			break;
		free(res);
		res = NULL;
		usleep(100000);
	}
	cr_assert_not_null(res, "voucher-bench did not finish");
	cr_expect_eq(result_field(res, "accepted"), 24000, "%s", res);
	cr_expect_eq(result_field(res, "failed"), 0, "%s", res);
	cr_expect_eq(result_field(res, "retries"), 0, "no batch may be refused: %s", res);
	free(res);
	cr_expect_eq(count("SELECT count(*) FROM voucher.usage_records"), 24000);
	cr_expect_eq(metric("voucherd_reading_paused"), 0);
	cr_expect_geq(metric("voucherd_reading_pauses_total"), 1);
	cr_expect_eq(metric("voucherd_pending_bytes"), 0);
}

Test(ingest, two_daemons_on_one_database_store_a_batch_once)
{
	start(NULL);
	t_daemon_t d2;
	char ing[320];
	t_conninfo_as(ci, "voucher_ingest", ing, sizeof ing);
	t_daemon_start(&d2, ing, NULL);
	char hdr[2048];
	vector_headers("a", hdr, sizeof hdr);
	buf_t cmd = BUF_INIT;
	for (int k = 0; k < 2; k++) {
		int port = k ? d2.port : d.port;
		buf_puts(&cmd, "for i in 1 2 3 4; do ");
		buf_printf(&cmd, "curl -s --cacert '%s/ca.pem' --cert '%s/prov-a.pem' --key '%s/prov-a.key' ",
			   getenv("VOUCHER_TEST_PKI"), getenv("VOUCHER_TEST_PKI"), getenv("VOUCHER_TEST_PKI"));
		const char *p = hdr;
		while (*p) {
			size_t n = strcspn(p, "\n");
			buf_printf(&cmd, "-H '%.*s' ", (int)n, p);
			p += n + (p[n] ? 1 : 0);
		}
		buf_printf(&cmd, "--data-binary '@%s' https://127.0.0.1:%d/v1/usage-batches -o %s/two.%d.$i & done; ",
			   t_vector_path("batch-a.json"), port, d.dir, k);
	}
	buf_printf(&cmd, "wait; cat %s/two.* | sort | uniq -c | wc -l", d.dir);
	char out[256];
	cr_assert_eq(t_run(cmd.data, out, sizeof out, NULL, 0), 0);
	buf_free(&cmd);
	cr_assert_eq(atoi(out), 1, "answers differ");
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 1);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 3);
	cr_assert_eq(t_daemon_stop(&d2), 0);
}

/* The database goes away: 503 with Retry-After, the daemon stays up, and it
 * takes batches again by itself once the database is back. */
Test(ingest, database_outage_is_503_and_recovers_by_itself)
{
	start(NULL);
	char out[4096], dbname[64];
	snprintf(dbname, sizeof dbname, "%s", t_scalar(db, "SELECT current_database()"));
	char admin[512];
	snprintf(admin, sizeof admin, "host=%s port=%s dbname=postgres user=postgres", getenv("VOUCHER_TEST_PGHOST"),
		 getenv("VOUCHER_TEST_PGPORT"));
	PGconn *a = PQconnectdb(admin);
	cr_assert(PQstatus(a) == CONNECTION_OK);
	const char *p[] = {dbname};
	char sql[256];
	snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS false", dbname);
	PQclear(PQexec(a, sql));
	PQclear(PQexecParams(a,
			     "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
			     "WHERE datname = $1 AND usename = 'voucher_ingest'",
			     1, NULL, p, NULL, NULL, 0));
	usleep(300000);
	int st = post_vector("prov-a", "a", out, sizeof out);
	cr_assert_eq(st, 503, "%d %s", st, out);
	cr_assert_str_eq(t_json_str(out, "code"), "database_unavailable", "%s", out);
	cr_assert_eq(t_metrics_get(&d, "/healthz", out, sizeof out), 503);
	snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true", dbname);
	PQclear(PQexec(a, sql));
	PQfinish(a);
	int ok = 0;
	for (int i = 0; i < 40 && ok != 200; i++) {
		usleep(100000);
		ok = post_vector("prov-a", "a", out, sizeof out);
	}
	cr_assert_eq(ok, 200, "not back within 4 s: %s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 3);
	char *log = t_slurp(d.log, NULL);
	cr_assert(strstr(log, "event=db_reconnected"), "%s", log);
	free(log);
}

/* POSTs vector `which` as prov-a with curl -i: status line, headers and body */
static void post_vector_raw(const char *which, char *out, size_t cap)
{
	char h[2048], body[64];
	vector_headers(which, h, sizeof h);
	snprintf(body, sizeof body, "batch-%s.json", which);
	const char *pki = getenv("VOUCHER_TEST_PKI");
	buf_t cmd = BUF_INIT;
	buf_printf(&cmd, "curl -sS -i --max-time 20 --cacert '%s/ca.pem' --cert '%s/prov-a.pem' --key '%s/prov-a.key'",
		   pki, pki, pki);
	for (char *p = h, *e; *p; p = e + (*e != '\0')) {
		e = p + strcspn(p, "\n");
		buf_printf(&cmd, " -H '%.*s'", (int)(e - p), p);
	}
	buf_printf(&cmd, " --data-binary '@%s' 'https://127.0.0.1:%d/v1/usage-batches'", t_vector_path(body), d.port);
	t_run(cmd.data, out, cap, NULL, 0);
	buf_free(&cmd);
}

static void as_admin(const char *sql)
{
	PGresult *r = PQexec(db, sql);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
		  PQerrorMessage(db));
	PQclear(r);
}

/* the daemon's connections to this test's database end; it reconnects by itself */
static void drop_daemon_connections(void)
{
	long before = metric("voucherd_db_reconnects_total");
	as_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		 "WHERE datname = current_database() AND usename = 'voucher_ingest'");
	for (int i = 0; i < 100; i++) {
		if (metric("voucherd_db_reconnects_total") >= before + 2 && metric("voucherd_db_connections_up") == 2)
			return;
		usleep(50000);
	}
	cr_assert_fail("voucherd did not reconnect");
}

static int healthz_within(int want, int tenths)
{
	char out[512];
	int st = 0;
	for (int i = 0; i < tenths && (st = t_metrics_get(&d, "/healthz", out, sizeof out)) != want; i++)
		usleep(100000);
	return st;
}

/* The database refuses the write for reasons of its own (privileges taken
 * away, read only as a standby would be): 503 database_error with
 * Retry-After, never 500, and /healthz says 503 until the database can be
 * written again (found by the probe), then the same batch is stored. */
Test(ingest, a_database_that_refuses_writes_is_503_and_healthz_follows)
{
	start(NULL);
	char out[8192];
	/* privileges: a deployment problem, not the batch's */
	as_admin("REVOKE EXECUTE ON FUNCTION voucher.ingest_batch FROM voucher_ingest");
	post_vector_raw("a", out, sizeof out);
	cr_assert(strncmp(out, "HTTP/1.1 503", 12) == 0, "%s", out);
	cr_assert(strstr(out, "Retry-After: 2\r\n"), "%s", out);
	cr_assert_str_eq(t_json_str(t_http_body(out), "code"), "database_error", "%s", out);
	cr_assert_eq(t_metrics_get(&d, "/healthz", out, sizeof out), 503);
	cr_assert_not(t_json_bool(out, "database"), "%s", out);
	/* the probe keeps finding it unwritable */
	usleep(1500000);
	cr_assert_eq(t_metrics_get(&d, "/healthz", out, sizeof out), 503);
	as_admin("GRANT EXECUTE ON FUNCTION voucher.ingest_batch TO voucher_ingest");
	cr_assert_eq(healthz_within(200, 30), 200, "the probe did not see the grant");
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200, "%s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 3);

	/* read only, for new sessions of this database only (tests share the cluster) */
	char sql[256];
	char dbname[64];
	snprintf(dbname, sizeof dbname, "%s", t_scalar(db, "SELECT current_database()"));
	snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" SET default_transaction_read_only = on", dbname);
	as_admin(sql);
	drop_daemon_connections();
	cr_assert_eq(post_vector("prov-b", "b", out, sizeof out), 503, "%s", out);
	cr_assert_str_eq(t_json_str(out, "code"), "database_error", "%s", out);
	cr_assert_eq(t_metrics_get(&d, "/healthz", out, sizeof out), 503);
	/* a replay of a stored batch reads only: answered, but /healthz stays 503 */
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200, "%s", out);
	cr_assert_eq(t_metrics_get(&d, "/healthz", out, sizeof out), 503);
	snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" RESET default_transaction_read_only", dbname);
	as_admin(sql);
	drop_daemon_connections();
	cr_assert_eq(healthz_within(200, 30), 200, "the probe did not see the database writable");
	cr_assert_eq(post_vector("prov-b", "b", out, sizeof out), 200, "%s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 4);

	cr_assert_eq(metric("voucherd_requests_total{code=\"500\"}"), 0);
	cr_assert_eq(metric("voucherd_requests_total{code=\"503\"}"), 2);
	char *log = t_slurp(d.log, NULL);
	cr_assert(strstr(log, "event=db_failing sqlstate=42501"), "%s", log);
	cr_assert(strstr(log, "event=db_failing sqlstate=25006"), "%s", log);
	cr_assert(strstr(log, "event=db_recovered via=probe"), "%s", log);
	cr_assert(strstr(log, "level=error") == NULL, "%s", log);
	free(log);
}

Test(ingest, bad_config_names_the_key_and_exits_2)
{
	t_require_db();
	char dir[300];
	snprintf(dir, sizeof dir, "%s/cfg-XXXXXX", getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp");
	cr_assert(mkdtemp(dir));
	char path[400], cmd[600], err[1024];
	snprintf(path, sizeof path, "%s/bad.conf", dir);
	FILE *f = fopen(path, "w");
	fputs("[server]\ntls_cert = a\ntls_key = b\ntls_client_ca = c\nmax_body_bytes = lots\n[database]\nconninfo = dbname=x\n",
	      f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s -c %s", t_root_path("bin/voucherd"), path);
	cr_assert_eq(t_run(cmd, NULL, 0, err, sizeof err), 2);
	cr_assert(strstr(err, "server.max_body_bytes"), "%s", err);
	f = fopen(path, "w");
	fputs("[server]\ntls_cert = /nonexistent.pem\ntls_key = b\ntls_client_ca = c\n[database]\nconninfo = dbname=x\n",
	      f);
	fclose(f);
	cr_assert_eq(t_run(cmd, NULL, 0, err, sizeof err), 2);
	cr_assert(strstr(err, "server.tls_cert"), "%s", err);
	/* a listen host that does not resolve is a configuration error, found by --check too */
	char pkicfg[1024];
	const char *pk = getenv("VOUCHER_TEST_PKI");
	snprintf(pkicfg, sizeof pkicfg,
		 "[server]\nlisten = no-such-host.invalid:1\ntls_cert = %s/server.pem\ntls_key = %s/server.key\n"
		 "tls_client_ca = %s/ca.pem\n[database]\nconninfo = dbname=x\n",
		 pk, pk, pk);
	f = fopen(path, "w");
	fputs(pkicfg, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s -c %s --check", t_root_path("bin/voucherd"), path);
	cr_assert_eq(t_run(cmd, NULL, 0, err, sizeof err), 2);
	cr_assert(strstr(err, "server.listen: cannot resolve"), "%s", err);
	/* /metrics has no authentication: a listener beyond loopback only on purpose */
	snprintf(pkicfg, sizeof pkicfg,
		 "[server]\ntls_cert = %s/server.pem\ntls_key = %s/server.key\ntls_client_ca = %s/ca.pem\n"
		 "[database]\nconninfo = dbname=x\n[metrics]\nlisten = 0.0.0.0:9187\n",
		 pk, pk, pk);
	f = fopen(path, "w");
	fputs(pkicfg, f);
	fclose(f);
	cr_assert_eq(t_run(cmd, NULL, 0, err, sizeof err), 2);
	cr_assert(strstr(err, "metrics.listen"), "%s", err);
	f = fopen(path, "a");
	fputs("allow_remote = true\n", f);
	fclose(f);
	cr_assert_eq(t_run(cmd, NULL, 0, err, sizeof err), 0, "%s", err);
	/* a conninfo libpq cannot read, or whose host and port lists differ */
	const char *bad_ci[] = {"x", "host=a,b port=1,2,3", "host=a nosuchkey=1"};
	for (size_t i = 0; i < sizeof bad_ci / sizeof bad_ci[0]; i++) {
		snprintf(pkicfg, sizeof pkicfg,
			 "[server]\ntls_cert = %s/server.pem\ntls_key = %s/server.key\ntls_client_ca = %s/ca.pem\n"
			 "[database]\nconninfo = %s\n",
			 pk, pk, pk, bad_ci[i]);
		f = fopen(path, "w");
		fputs(pkicfg, f);
		fclose(f);
		cr_assert_eq(t_run(cmd, NULL, 0, err, sizeof err), 2, "%s", bad_ci[i]);
		cr_assert(strstr(err, ":6: database.conninfo: "), "%s", err);
	}
}

static void s_client_cmd(buf_t *cmd, const char *input_script)
{
	const char *pk = getenv("VOUCHER_TEST_PKI");
	buf_printf(cmd,
		   "(%s) | openssl s_client -quiet -no_ign_eof -connect 127.0.0.1:%d -CAfile '%s/ca.pem' "
		   "-cert '%s/prov-a.pem' -key '%s/prov-a.key' >/dev/null 2>&1",
		   input_script, d.port, pk, pk, pk);
}

/* A client sending its request a byte a second is cut off by
 * request_timeout_s, and other clients are served meanwhile. */
Test(ingest, a_byte_at_a_time_client_is_closed_by_the_request_timeout)
{
	start("[server]\nrequest_timeout_s = 2\n[ingest]\nsignature_max_age_s = 0\n");
	buf_t cmd = BUF_INIT;
	buf_puts(&cmd, "start=$(date +%s); ");
	s_client_cmd(&cmd, "for c in P O S T ' ' / v 1 / u s a g e - b a t c h e s ' ' H T T P / 1 . 1; do "
			   "printf '%s' \"$c\"; sleep 1; done");
	buf_puts(&cmd, "; echo $(( $(date +%s) - start ))");
	char out[64];
	t_run(cmd.data, out, sizeof out, NULL, 0);
	buf_free(&cmd);
	int secs = atoi(out);
	cr_assert(secs <= 8, "the slow client was served for %d s", secs);
	char body[4096];
	cr_assert_eq(post_vector("prov-a", "a", body, sizeof body), 200);
	char *log = t_slurp(d.log, NULL);
	cr_assert(strstr(log, "event=connection_timeout"), "%s", log);
	free(log);
}

/* A client that goes away in the middle of its body: nothing stored, the
 * daemon unaffected. */
Test(ingest, a_client_that_disappears_mid_request_stores_nothing)
{
	start(NULL);
	buf_t cmd = BUF_INIT;
	s_client_cmd(
		&cmd,
		"printf 'POST /v1/usage-batches HTTP/1.1\\r\\nHost: x\\r\\n"
		"Content-Type: application/json\\r\\nContent-Length: 5000\\r\\n\\r\\n{\\\"batch_id\\\":'; sleep 1");
	t_run(cmd.data, NULL, 0, NULL, 0);
	buf_free(&cmd);
	char body[4096];
	cr_assert_eq(post_vector("prov-a", "a", body, sizeof body), 200);
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 1);
}

/* SIGHUP reloads the registry: a certificate registered after the start is
 * known afterwards. */
Test(ingest, sighup_reloads_certificates_and_keys)
{
	start("[ingest]\nsignature_max_age_s = 0\nregistry_refresh_s = 0\n");
	char out[4096];
	cr_assert_eq(post_vector("prov-c", "a", out, sizeof out), 403);
	cr_assert_str_eq(t_json_str(out, "code"), "unknown_certificate", "%s", out);
	char cmd[600], fp[128];
	snprintf(cmd, sizeof cmd,
		 "openssl x509 -in '%s/prov-c.pem' -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f",
		 getenv("VOUCHER_TEST_PKI"));
	cr_assert_eq(t_run(cmd, fp, sizeof fp, NULL, 0), 0);
	fp[strcspn(fp, "\n")] = '\0';
	const char *p[] = {fp};
	PQclear(PQexec(
		db, "INSERT INTO voucher.providers (code, name, uscc) VALUES ('prov-c', 'C', '91330483100000001E')"));
	PGresult *r =
		PQexecParams(db,
			     "INSERT INTO voucher.provider_certs (fingerprint, provider, subject, not_after, pem) "
			     "VALUES ($1, 'prov-c', 'CN=prov-c', now() + interval '1 day', 'x')",
			     1, NULL, p, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(db));
	PQclear(r);
	/* not yet: the daemon reads the registry at start, on SIGHUP and every registry_refresh_s */
	cr_assert_eq(post_vector("prov-c", "a", out, sizeof out), 403);
	cr_assert_str_eq(t_json_str(out, "code"), "unknown_certificate", "%s", out);
	t_daemon_signal(&d, SIGHUP);
	usleep(500000);
	/* now prov-c is known; prov-a's key is not prov-c's */
	cr_assert_eq(post_vector("prov-c", "a", out, sizeof out), 403);
	cr_assert_str_eq(t_json_str(out, "code"), "unknown_key", "%s", out);
}

/* voucher-push, the reference client, against the daemon: vector files,
 * an NDJSON stream in batches, and the same command again as a safe retry. */
Test(ingest, voucher_push_sends_files_and_streams_and_retries_safely)
{
	start(NULL);
	const char *pk = getenv("VOUCHER_TEST_PKI");
	char base[1024], cmd[2048], out[16384], err[4096];
	snprintf(base, sizeof base,
		 "%s --url https://127.0.0.1:%d --ca '%s/ca.pem' --cert '%s/prov-a.pem' --key '%s/prov-a.key' "
		 "--sign-key '%s' --key-id prov-a-2026a --alg ed25519",
		 t_root_path("bin/voucher-push"), d.port, pk, pk, pk, t_vector_path("provider-a.ed25519.key"));
	snprintf(cmd, sizeof cmd, "%s '%s'", base, t_vector_path("batch-a.json"));
	cr_assert_eq(t_run(cmd, out, sizeof out, err, sizeof err), 0, "%s %s", out, err);
	cr_assert(strstr(out, "batch prov-a-20260302-000001 status=200 accepted=3"), "%s", out);
	snprintf(cmd, sizeof cmd, "%s --records '%s' --provider prov-a --batch-size 7", base,
		 t_root_path("deploy/demo/prov-a-usage.ndjson"));
	cr_assert_eq(t_run(cmd, out, sizeof out, err, sizeof err), 0, "%s %s", out, err);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 3 + 48);
	cr_assert_eq(count("SELECT count(*) FROM voucher.batches"), 1 + 7);
	char again[16384];
	cr_assert_eq(t_run(cmd, again, sizeof again, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(again, out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records"), 3 + 48);
	/* the SM2 provider */
	snprintf(cmd, sizeof cmd,
		 "%s --url https://127.0.0.1:%d --ca '%s/ca.pem' --cert '%s/prov-b.pem' --key '%s/prov-b.key' "
		 "--sign-key '%s' --key-id prov-b-2026a --alg sm2-sm3 '%s'",
		 t_root_path("bin/voucher-push"), d.port, pk, pk, pk, t_vector_path("provider-b.sm2.key"),
		 t_vector_path("batch-b.json"));
	cr_assert_eq(t_run(cmd, out, sizeof out, err, sizeof err), 0, "%s %s", out, err);
	cr_assert(strstr(out, "status=200 accepted=1"), "%s", out);
}

/* An adjustment corrects the record it adjusts: another category or period
 * is refused, so a refund cannot move usage between rate groups or years. */
Test(ingest, an_adjustment_must_match_the_record_it_adjusts)
{
	start(NULL);
	char out[8192];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200);
	const char *body =
		"{\"batch_id\":\"b-adj\",\"provider\":\"prov-a\",\"records\":["
		"{\"record_id\":\"m-1\",\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"supercomputing\","
		"\"quantity\":\"-1\",\"unit\":\"card_hour\",\"amount_fen\":-100,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-01T08:00:00+08:00\",\"contract_id\":\"HT-2026-0001\",\"adjusts\":\"r-000001\"},"
		"{\"record_id\":\"m-2\",\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"intelligent_compute\","
		"\"quantity\":\"-1\",\"unit\":\"card_hour\",\"amount_fen\":-100,\"started_at\":\"2026-05-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-05-01T08:00:00+08:00\",\"contract_id\":\"HT-2026-0001\",\"adjusts\":\"r-000001\"},"
		"{\"record_id\":\"m-3\",\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"intelligent_compute\","
		"\"quantity\":\"-1\",\"unit\":\"card_hour\",\"amount_fen\":-100,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-01T08:00:00+08:00\",\"contract_id\":\"HT-2026-0001\",\"adjusts\":\"r-000001\"}]}";
	cr_assert_eq(post_signed(body, out, sizeof out), 200, "%s", out);
	cr_assert_eq(t_json_len(out, "rejected"), 2, "%s", out);
	cr_assert_eq(t_json_int(out, "rejected.0.index"), 0, "%s", out);
	cr_assert_str_eq(t_json_str(out, "rejected.0.record_id"), "m-1", "%s", out);
	cr_assert_str_eq(t_json_str(out, "rejected.0.code"), "adjusts_mismatch", "%s", out);
	cr_assert_eq(t_json_int(out, "rejected.1.index"), 1, "%s", out);
	cr_assert_str_eq(t_json_str(out, "rejected.1.record_id"), "m-2", "%s", out);
	cr_assert_str_eq(t_json_str(out, "rejected.1.code"), "adjusts_mismatch", "%s", out);
	cr_assert_eq(t_json_int(out, "accepted"), 1, "%s", out);
}

/* openssl s_client as prov-a with extra options; 0 if the handshake succeeded */
static int handshake(const char *options)
{
	const char *pk = getenv("VOUCHER_TEST_PKI");
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "echo | openssl s_client -connect 127.0.0.1:%d -CAfile '%s/ca.pem' -cert '%s/prov-a.pem' "
		 "-key '%s/prov-a.key' %s 2>&1 | grep -q '^New, TLSv1\\.[23]'",
		 d.port, pk, pk, pk, options);
	return t_run(cmd, NULL, 0, NULL, 0);
}

/* TLS 1.2 and 1.3 are spoken; 1.1 and 1.0 are refused in the handshake. */
Test(ingest, tls_below_1_2_is_refused)
{
	start(NULL);
	cr_expect_eq(handshake("-tls1_3"), 0, "TLS 1.3 refused");
	cr_expect_eq(handshake("-tls1_2"), 0, "TLS 1.2 refused");
	/* the client would refuse 1.1 itself at OpenSSL 3's default level: lower it */
	cr_expect_neq(handshake("-tls1_1 -cipher DEFAULT@SECLEVEL=0"), 0, "TLS 1.1 accepted");
	cr_expect_neq(handshake("-tls1 -cipher DEFAULT@SECLEVEL=0"), 0, "TLS 1.0 accepted");
	char body[4096];
	cr_assert_eq(post_vector("prov-a", "a", body, sizeof body), 200);
}

/* With server.tls_crl, a revoked client certificate is refused in the TLS
 * handshake, like an expired one; an unregistered but valid one gets as far
 * as HTTP (403), and a registered one is served. */
Test(ingest, expired_and_revoked_client_certificates_are_refused)
{
	char crl[512];
	snprintf(crl, sizeof crl, "[server]\ntls_crl = %s/crl.pem\n[ingest]\nsignature_max_age_s = 0\n",
		 getenv("VOUCHER_TEST_PKI"));
	start(crl);
	char out[4096];
	cr_expect_eq(t_https(&d, "expired", "GET", "/v1/usage-batches/x", NULL, NULL, out, sizeof out), 0,
		     "an expired certificate got an HTTP answer: %s", out);
	cr_expect_eq(t_https(&d, "revoked", "GET", "/v1/usage-batches/x", NULL, NULL, out, sizeof out), 0,
		     "a revoked certificate got an HTTP answer: %s", out);
	cr_expect_eq(t_https(&d, "prov-c", "GET", "/v1/usage-batches/x", NULL, NULL, out, sizeof out), 403);
	cr_expect_str_eq(t_json_str(out, "code"), "unknown_certificate", "%s", out);
	cr_expect_eq(post_vector("prov-a", "a", out, sizeof out), 200, "%s", out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.batches"), 1);
}

/* ------------------------------------------------------------ hostile input */

#define HREC(fields)                                                                       \
	"{\"batch_id\":\"h\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":\"h-1\"," \
	"\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\","               \
	"\"category\":\"intelligent_compute\",\"quantity\":\"1\",\"unit\":\"card_hour\","  \
	"\"started_at\":\"2026-03-01T00:00:00+08:00\",\"ended_at\":\"2026-03-01T01:00:00+08:00\"," fields "}]}"

/* Malformed and malicious bodies, each correctly signed by prov-a: the status
 * and code docs/protocol.md gives, and nothing stored (a record rejected inside a batch:
 * the batch is answered 200 and stored as evidence, the record is not). */
Test(ingest, hostile_bodies_get_their_code_and_store_nothing)
{
	start(NULL);
	static const struct {
		const char *name, *body;
		int status;
		const char *code;
	} cases[] = {
		{"truncated JSON", "{\"batch_id\":\"h\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":", 400,
		 "malformed_json"},
		{"trailing garbage", HREC("\"amount_fen\":1,\"contract_id\":\"C\"") "x", 400, "malformed_json"},
		{"huge real", HREC("\"amount_fen\":1e400,\"contract_id\":\"C\""), 400, "malformed_json"},
		{"huge integer", HREC("\"amount_fen\":123456789012345678901234567890,\"contract_id\":\"C\""), 400,
		 "malformed_json"},
		{"invalid UTF-8", HREC("\"amount_fen\":1,\"contract_id\":\"\xc0\xaf\""), 400, "malformed_json"},
		{"NUL escape", HREC("\"amount_fen\":1,\"contract_id\":\"C\\u0000\""), 400, "malformed_json"},
		{"duplicate key", HREC("\"amount_fen\":1,\"amount_fen\":2,\"contract_id\":\"C\""), 400,
		 "duplicate_key"},
		{"SQL in batch_id",
		 "{\"batch_id\":\"h'; DROP TABLE voucher.batches; --\",\"provider\":\"prov-a\","
		 "\"records\":[]}",
		 400, "invalid_batch_id"},
		{"control character in batch_id", "{\"batch_id\":\"h\\u0007\",\"provider\":\"prov-a\",\"records\":[]}",
		 400, "invalid_batch_id"},
		{"records of the wrong type", "{\"batch_id\":\"h\",\"provider\":\"prov-a\",\"records\":\"all\"}", 400,
		 "invalid_body"},
		{"body for another provider",
		 "{\"batch_id\":\"h\",\"provider\":\"prov-b\",\"records\":[{\"record_id\":\"h-1\"}]}", 403,
		 "provider_mismatch"},
		/* record level: 200, the record listed with its code */
		{"negative amount", HREC("\"amount_fen\":-1,\"contract_id\":\"C\""), 200, "invalid_amount"},
		{"amount beyond 10^15 fen", HREC("\"amount_fen\":1000000000000001,\"contract_id\":\"C\""), 200,
		 "invalid_amount"},
		{"amount int64 min", HREC("\"amount_fen\":-9223372036854775808,\"contract_id\":\"C\""), 200,
		 "invalid_amount"},
		{"amount as a string", HREC("\"amount_fen\":\"100\",\"contract_id\":\"C\""), 200, "wrong_type"},
		{"amount as a real", HREC("\"amount_fen\":100.0,\"contract_id\":\"C\""), 200, "wrong_type"},
		{"contract as an object", HREC("\"amount_fen\":1,\"contract_id\":{\"x\":1}"), 200, "wrong_type"},
		{"control character in contract", HREC("\"amount_fen\":1,\"contract_id\":\"C\\u001b[31m\""), 200,
		 "invalid_contract_id"},
		{"unknown field", HREC("\"amount_fen\":1,\"contract_id\":\"C\",\"price\":1"), 200, "unknown_field"},
		{"nested values", HREC("\"amount_fen\":1,\"contract_id\":\"C\",\"x\":[[[[[[{}]]]]]]"), 200,
		 "unknown_field"},
		{"seven fraction digits",
		 "{\"batch_id\":\"h\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":\"h-1\","
		 "\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"model_purchase\","
		 "\"quantity\":\"1.0000001\",\"unit\":\"item\",\"amount_fen\":1,\"started_at\":\"2026-03-01T00:00:00Z\","
		 "\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"C\"}]}",
		 200, "invalid_quantity"},
		{"credit code with a wrong check character",
		 "{\"batch_id\":\"h\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":\"h-1\","
		 "\"enterprise\":\"91330483100000001F\",\"facility\":\"prov-a-wz1\",\"category\":\"model_purchase\","
		 "\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":1,\"started_at\":\"2026-03-01T00:00:00Z\","
		 "\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"C\"}]}",
		 200, "invalid_enterprise"},
		{"time without offset",
		 "{\"batch_id\":\"h\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":\"h-1\","
		 "\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"model_purchase\","
		 "\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":1,\"started_at\":\"2026-03-01T00:00:00\","
		 "\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"C\"}]}",
		 200, "invalid_time"},
	};
	char out[8192];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int st = post_signed(cases[i].body, out, sizeof out);
		cr_expect_eq(st, cases[i].status, "%s: status %d: %s", cases[i].name, st, out);
		char want[96];
		snprintf(want, sizeof want, "\"code\" : \"%s\"", cases[i].code);
		char want2[96];
		snprintf(want2, sizeof want2, "\"code\":\"%s\"", cases[i].code);
		cr_expect(strstr(out, want) || strstr(out, want2), "%s: no code %s in %s", cases[i].name, cases[i].code,
			  out);
		/* a record-level case stores its batch (as evidence); drop it for the next */
		cr_expect_eq(count("SELECT count(*) FROM voucher.usage_records"), 0, "%s stored a record",
			     cases[i].name);
		if (cases[i].status != 200)
			cr_expect_eq(count("SELECT count(*) FROM voucher.batches"), 0, "%s stored a batch",
				     cases[i].name);
		PQclear(PQexec(db, "ALTER TABLE voucher.batches DISABLE TRIGGER batches_append_only;"
				   "DELETE FROM voucher.batches;"
				   "ALTER TABLE voucher.batches ENABLE TRIGGER batches_append_only"));
	}
	/* JSON nested deeper than the reader takes (2048): malformed, nothing stored */
	buf_t deep = BUF_INIT;
	buf_puts(&deep, "{\"batch_id\":\"h\",\"provider\":\"prov-a\",\"records\":[");
	for (int i = 0; i < 5000; i++)
		buf_putc(&deep, '[');
	for (int i = 0; i < 5000; i++)
		buf_putc(&deep, ']');
	buf_puts(&deep, "]}");
	cr_expect_eq(post_signed(deep.data, out, sizeof out), 400, "%s", out);
	cr_expect_str_eq(t_json_str(out, "code"), "malformed_json", "%s", out);
	buf_free(&deep);
	cr_expect_eq(count("SELECT count(*) FROM voucher.batches"), 0);
	/* SQL in a text field is only text: stored byte for byte */
	const char *sqlish = HREC("\"amount_fen\":1,\"contract_id\":\"C'); DELETE FROM voucher.usage_records; --\"");
	cr_assert_eq(post_signed(sqlish, out, sizeof out), 200, "%s", out);
	cr_expect_str_eq(t_scalar(db, "SELECT contract_id FROM voucher.usage_records"),
			 "C'); DELETE FROM voucher.usage_records; --");
}

/* The signing key's validity window and the signature's freshness. */
Test(ingest, keys_outside_their_validity_and_stale_or_future_signatures_are_refused)
{
	start("[ingest]\nsignature_max_age_s = 600\nclock_skew_s = 60\n");
	/* the vector key pair registered a second time, valid only through 2025 */
	PQclear(PQexec(db,
		       "INSERT INTO voucher.provider_keys (provider, key_id, alg, public_pem, valid_from, valid_to) "
		       "SELECT provider, 'prov-a-2025', alg, public_pem, '2025-01-01', '2026-01-01' "
		       "FROM voucher.provider_keys WHERE key_id = 'prov-a-2026a'"));
	t_daemon_signal(&d, SIGHUP); /* reload the registry */
	usleep(500000);
	const char *body = HREC("\"amount_fen\":1,\"contract_id\":\"C\"");
	static const struct {
		const char *keyid;
		int64_t age_s; /* created = now - age */
		int status;
		const char *code;
	} cases[] = {
		{"prov-a-2025", 0, 403, "key_not_valid"},       /* expired key */
		{"prov-a-2026a", 3600, 401, "signature_stale"}, /* older than max age */
		{"prov-a-2026a", -600, 401, "signature_stale"}, /* in the future beyond the skew */
		{"prov-b-2026a", 0, 403, "unknown_key"},        /* another provider's key */
		{"nosuchkey", 0, 403, "unknown_key"},
	};
	char out[4096];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char hdr[2048], file[256];
		t_sign_as("prov-a", cases[i].keyid, (int64_t)time(NULL) - cases[i].age_s, body, strlen(body), file,
			  hdr);
		int st = t_https(&d, "prov-a", "POST", "/v1/usage-batches", hdr, file, out, sizeof out);
		unlink(file);
		cr_expect_eq(st, cases[i].status, "case %zu: %d %s", i, st, out);
		cr_expect(strstr(out, cases[i].code), "case %zu: %s", i, out);
	}
	cr_expect_eq(count("SELECT count(*) FROM voucher.batches"), 0);
	/* within the window: stored */
	cr_expect_eq(post_signed(body, out, sizeof out), 200, "%s", out);
}

/* Headers larger than server.max_header_bytes are refused before any
 * handler runs (libevent answers 400 itself, in HTML: see README). */
Test(ingest, oversized_headers_are_refused)
{
	start(NULL);
	buf_t h = BUF_INIT;
	buf_puts(&h, "Content-Type: application/json\nX-Padding: ");
	for (int i = 0; i < 20000; i++)
		buf_putc(&h, 'a');
	char out[4096];
	int st = t_https(&d, "prov-a", "POST", "/v1/usage-batches", h.data, t_vector_path("batch-a.json"), out,
			 sizeof out);
	buf_free(&h);
	cr_expect(st == 400 || st == 413 || st == 431 || st == 0, "status %d", st);
	cr_expect_neq(st, 200);
	cr_expect_eq(count("SELECT count(*) FROM voucher.batches"), 0);
	/* the daemon is still there */
	cr_expect_eq(post_vector("prov-a", "a", out, sizeof out), 200, "%s", out);
}

/* ------------------------------------------------------------ monthly partitions */

/* one plain record of prov-a ending at `ended` (RFC 3339), as a signed batch */
static int post_one(const char *batch, const char *id, const char *ended, int amount, char *out, size_t cap)
{
	char body[1024];
	snprintf(body, sizeof body,
		 "{\"batch_id\":\"%s\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":\"%s\","
		 "\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"model_purchase\","
		 "\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":%d,\"started_at\":\"%s\",\"ended_at\":\"%s\","
		 "\"contract_id\":\"C\"}]}",
		 batch, id, amount, ended, ended);
	return post_signed(body, out, cap);
}

static const char *partition_of(const char *id)
{
	char q[256];
	snprintf(q, sizeof q, "SELECT tableoid::regclass::text FROM voucher.usage_records WHERE record_id = '%s'", id);
	return t_scalar(db, q);
}

static struct t_ctl_run *verify_as_auditor(void)
{
	char au[320];
	t_conninfo_as(ci, "voucher_auditor", au, sizeof au);
	return t_ctl(au, "audit verify");
}

/* Records go to the partition of their month (China time); a month without
 * one waits in usage_other; an old month is archived whole, keeps refusing
 * changes, and its record ids still make a record sent again a duplicate. */
Test(ingest, usage_is_partitioned_by_month_and_old_months_are_archived)
{
	start(NULL);
	char out[4096];
	/* 2026-03-31 23:30 in Beijing is March there, though still the 31st in UTC */
	cr_assert_eq(post_one("p-1", "m-03", "2026-03-31T23:30:00+08:00", 100, out, sizeof out), 200, "%s", out);
	cr_assert_eq(post_one("p-2", "m-04", "2026-04-01T00:30:00+08:00", 100, out, sizeof out), 200, "%s", out);
	cr_expect_str_eq(partition_of("m-03"), "voucher.usage_2026_03");
	cr_expect_str_eq(partition_of("m-04"), "voucher.usage_2026_04");
	/* before the partitions made by the migration: the default partition */
	cr_assert_eq(post_one("p-3", "m-old", "2023-06-15T12:00:00+08:00", 100, out, sizeof out), 200, "%s", out);
	cr_expect_str_eq(partition_of("m-old"), "voucher.usage_other");

	struct t_ctl_run *r = t_ctl(ci, "--format csv partition ensure --from 2023-06 --until 2024-05");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect(strstr(r->out, "2023-06,usage_2023_06,0,records of this month are in usage_other"), "%s", r->out);
	cr_expect(strstr(r->out, "2024-05,usage_2024_05,1,created"), "%s", r->out);
	r = t_ctl(ci, "--format csv partition ensure --from 2024-05 --until 2024-05");
	cr_expect(strstr(r->out, "2024-05,usage_2024_05,0,exists"), "%s", r->out);
	cr_assert_eq(post_one("p-4", "m-2405", "2024-05-20T10:00:00+08:00", 250, out, sizeof out), 200, "%s", out);
	cr_expect_str_eq(partition_of("m-2405"), "voucher.usage_2024_05");

	/* this year and last year cannot be archived; an old month can */
	r = t_ctl(ci, "partition detach --month 2026-03");
	cr_expect_neq(r->rc, 0);
	cr_expect(strstr(r->err, "this year or the last"), "%s", r->err);
	r = t_ctl(ci, "--format csv partition detach --month 2024-05");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect(strstr(r->out, "2024-05,archive_usage_2024_05,1,2.50,"), "%s", r->out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.usage_records WHERE record_id = 'm-2405'"), 0);
	cr_expect_eq(count("SELECT count(*) FROM voucher.archive_usage_2024_05"), 1);
	r = t_ctl(ci, "partition detach --month 2024-05");
	cr_expect_neq(r->rc, 0, "archived twice");
	r = t_ctl(ci, "--format csv partition list");
	cr_expect(strstr(r->out, "archive_usage_2024_05,2024-05,archived,1"), "%s", r->out);
	cr_expect(strstr(r->out, "usage_other,,default,"), "%s", r->out);
	/* the archive still refuses changes, and so does a live partition */
	PGresult *x = PQexec(db, "UPDATE voucher.archive_usage_2024_05 SET amount_fen = 1");
	cr_expect_neq(PQresultStatus(x), PGRES_COMMAND_OK, "an archive was changed");
	PQclear(x);
	x = PQexec(db, "TRUNCATE voucher.usage_2026_03");
	cr_expect_neq(PQresultStatus(x), PGRES_COMMAND_OK, "a partition was truncated");
	PQclear(x);
	/* an archived month is not created again */
	r = t_ctl(ci, "--format csv partition ensure --from 2024-05 --until 2024-05");
	cr_expect(strstr(r->out, "2024-05,usage_2024_05,0,archived"), "%s", r->out);

	/* the archived record sent again: a duplicate (same content) or a conflict */
	cr_assert_eq(post_one("p-5", "m-2405", "2024-05-20T10:00:00+08:00", 250, out, sizeof out), 200, "%s", out);
	cr_expect(t_json_int(out, "accepted") == 0 && t_json_int(out, "duplicates") == 1, "%s", out);
	cr_assert_eq(post_one("p-6", "m-2405", "2024-05-20T10:00:00+08:00", 999, out, sizeof out), 200, "%s", out);
	cr_expect_str_eq(t_json_str(out, "rejected.0.code"), "conflict", "%s", out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.usage_records WHERE record_id = 'm-2405'"), 0);

	r = verify_as_auditor();
	cr_expect_eq(r->rc, 0, "%s", r->err);
}

/* Every stored record id has its record, and every record its id: a record
 * deleted, or one slipped in beside ingest, is named by audit verify. */
Test(ingest, verify_catches_a_deleted_or_slipped_in_record)
{
	start(NULL);
	char out[4096];
	cr_assert_eq(post_one("v-1", "k-1", "2026-03-10T10:00:00+08:00", 100, out, sizeof out), 200, "%s", out);
	cr_assert_eq(post_one("v-2", "k-2", "2026-03-11T10:00:00+08:00", 100, out, sizeof out), 200, "%s", out);
	struct t_ctl_run *r = verify_as_auditor();
	cr_assert_eq(r->rc, 0, "%s", r->err);
	PQclear(PQexec(db, "CREATE TABLE public.saved AS SELECT * FROM voucher.usage_records WHERE record_id = 'k-2';"
			   "ALTER TABLE voucher.usage_records DISABLE TRIGGER usage_records_append_only;"
			   "DELETE FROM voucher.usage_records WHERE record_id = 'k-2';"
			   "ALTER TABLE voucher.usage_records ENABLE TRIGGER usage_records_append_only"));
	r = verify_as_auditor();
	cr_expect_neq(r->rc, 0);
	cr_expect(strstr(r->out, "prov-a/k-2 of batch v-2 is gone"), "%s", r->out);
	PQclear(PQexec(db, "INSERT INTO voucher.usage_records SELECT * FROM public.saved"));
	r = verify_as_auditor();
	cr_expect_eq(r->rc, 0, "%s", r->err);
	/* a copy of k-1 under a new id in k-1's batch: not in the signed body, and without its id */
	PQclear(PQexec(db,
		       "INSERT INTO voucher.usage_records SELECT provider, 'k-9', batch_id, enterprise, facility, "
		       "category, purpose, quantity, unit, amount_fen, started_at, ended_at, contract_id, invoice_no, "
		       "adjusts, content_hash, received_at FROM voucher.usage_records WHERE record_id = 'k-1'"));
	r = verify_as_auditor();
	cr_expect_neq(r->rc, 0);
	cr_expect(strstr(r->out, "k-9"), "%s", r->out);
}

/* ------------------------------------------------------------ registry rows the daemon cannot use */

/* Occurrences of needle in the daemon's log. */
static int log_count(const char *needle)
{
	char *log = t_slurp(d.log, NULL);
	int n = 0;
	for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

static void insert_key(const char *prov, const char *keyid, const char *alg, const char *pem)
{
	const char *p[] = {prov, keyid, alg, pem};
	PGresult *r = PQexecParams(db,
				   "INSERT INTO voucher.provider_keys (provider, key_id, alg, public_pem, valid_from) "
				   "VALUES ($1, $2, $3, $4, '2026-01-01T00:00:00Z')",
				   4, NULL, p, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(db));
	PQclear(r);
}

#define BAD_PEM "-----BEGIN PUBLIC KEY-----\nTk9UIEEgS0VZ\n-----END PUBLIC KEY-----\n"

/* Two of prov-b's key rows cannot be used (a PEM that does not parse, an SM2
 * key registered as ed25519): the daemon (re)started on that registry still
 * serves everybody else, leaves the two rows out, logs each once (not at
 * every refresh, never the key material) and shows them in /metrics; a
 * batch signed under a left-out key id is refused like an unknown key. */
Test(ingest, a_bad_key_row_is_skipped_and_the_others_still_ingest)
{
	db = t_newdb(ci, sizeof ci);
	t_registry_setup(db);
	insert_key("prov-b", "prov-b-broken", "sm2-sm3", BAD_PEM);
	char *sm2 = t_slurp(t_vector_path("provider-b.sm2.pub"), NULL);
	insert_key("prov-b", "prov-b-wrongtype", "ed25519", sm2);
	free(sm2);
	char ing[320];
	t_conninfo_as(ci, "voucher_ingest", ing, sizeof ing);
	/* refreshing every second, to see the rows logged once, not every time */
	t_daemon_start(&d, ing, "[ingest]\nsignature_max_age_s = 0\nregistry_refresh_s = 1\n");

	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200, "%s", out);
	cr_assert_eq(post_vector("prov-b", "b", out, sizeof out), 200, "prov-b's good key still works: %s", out);
	cr_expect_eq(metric("voucherd_registry_bad_rows"), 2);
	cr_expect_eq(metric("voucherd_registry_keys"), 2);

	const char *body =
		"{\"batch_id\":\"bad-key\",\"provider\":\"prov-b\",\"records\":[{\"record_id\":\"bk-1\","
		"\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-b-wx2\",\"category\":\"model_purchase\","
		"\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":1,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		"\"ended_at\":\"2026-03-01T01:00:00+08:00\",\"contract_id\":\"C\"}]}";
	char hdr[2048], file[256];
	t_sign_as("prov-b", "prov-b-broken", (int64_t)time(NULL), body, strlen(body), file, hdr);
	int st = t_https(&d, "prov-b", "POST", "/v1/usage-batches", hdr, file, out, sizeof out);
	unlink(file);
	cr_expect_eq(st, 403, "%s", out);
	cr_expect_str_eq(t_json_str(out, "code"), "unknown_key", "%s", out);
	cr_expect(strstr(out, "could not be loaded"), "%s", out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.batches WHERE batch_id = 'bad-key'"), 0);

	/* a few refreshes later: still one line per bad row */
	usleep(2500000);
	cr_expect_eq(log_count("registry_row_skipped"), 2);
	cr_expect_eq(log_count("key_id=prov-b-broken"), 1);
	cr_expect_eq(log_count("key_id=prov-b-wrongtype"), 1);
	cr_expect_eq(log_count("Tk9UIEEgS0VZ") + log_count("BEGIN PUBLIC KEY"), 0, "key material logged");
	cr_expect_eq(metric("voucherd_registry_bad_rows"), 2);
	cr_expect_eq(post_vector("prov-a", "a", out, sizeof out), 200, "%s", out);
}

/* A bad row appearing under a running daemon: the reload on SIGHUP leaves it
 * out and still takes the good rows, so a key added beside it is used. */
Test(ingest, a_reload_beside_a_bad_row_picks_up_a_new_good_key)
{
	start("[ingest]\nsignature_max_age_s = 0\nregistry_refresh_s = 0\n");
	insert_key("prov-b", "prov-b-broken", "sm2-sm3", BAD_PEM);
	t_daemon_signal(&d, SIGHUP);
	usleep(500000);
	char out[4096];
	cr_assert_eq(post_vector("prov-a", "a", out, sizeof out), 200, "%s", out);

	/* the vector key pair of prov-a registered a second time, under a new id */
	char *ed = t_slurp(t_vector_path("provider-a.ed25519.pub"), NULL);
	insert_key("prov-a", "prov-a-2026b", "ed25519", ed);
	free(ed);
	t_daemon_signal(&d, SIGHUP);
	const char *body = HREC("\"amount_fen\":1,\"contract_id\":\"C\"");
	int st = 0;
	for (int i = 0; i < 20 && st != 200; i++) {
		usleep(250000);
		char hdr[2048], file[256];
		t_sign_as("prov-a", "prov-a-2026b", (int64_t)time(NULL), body, strlen(body), file, hdr);
		st = t_https(&d, "prov-a", "POST", "/v1/usage-batches", hdr, file, out, sizeof out);
		unlink(file);
	}
	cr_assert_eq(st, 200, "the key added beside the bad row was not loaded: %s", out);
	cr_expect_eq(metric("voucherd_registry_keys"), 3);
	cr_expect_eq(metric("voucherd_registry_bad_rows"), 1);
	cr_expect_eq(log_count("key_id=prov-b-broken"), 1);
}

/* ------------------------------------------------------------ a status lookup finishing last */

/* Starts a request in the background as prov-a; its status goes to
 * DIR/TAG.code and its answer to DIR/TAG.body (t_https would share one file
 * between requests of this process). */
static void https_async(const char *tag, const char *method, const char *path, const char *headers,
			const char *body_file)
{
	const char *pki = getenv("VOUCHER_TEST_PKI");
	buf_t cmd = BUF_INIT;
	buf_printf(&cmd,
		   "curl -sS --max-time 40 -o '%s/%s.body' -w '%%{http_code}' --cacert '%s/ca.pem' "
		   "--cert '%s/prov-a.pem' --key '%s/prov-a.key' -X %s",
		   d.dir, tag, pki, pki, pki, method);
	t_curl_request_args(&cmd, headers, body_file);
	buf_printf(&cmd, " 'https://127.0.0.1:%d%s' >'%s/%s.code' 2>/dev/null &", d.port, path, d.dir, tag);
	cr_assert_eq(t_run(cmd.data, NULL, 0, NULL, 0), 0);
	buf_free(&cmd);
}

/* The status of a background request, waiting for it up to 40 s (0: none). */
static int async_code(const char *tag)
{
	char path[400];
	snprintf(path, sizeof path, "%s/%s.code", d.dir, tag);
	for (int i = 0; i < 400; i++) {
		char *s = t_slurp(path, NULL);
		int code = s && *s ? atoi(s) : -1;
		free(s);
		if (code >= 0)
			return code;
		usleep(100000);
	}
	return 0;
}

static void wait_metric(const char *name, long want)
{
	for (int i = 0; i < 100 && metric(name) != want; i++)
		usleep(50000);
	cr_assert_eq(metric(name), want, "%s", name);
}

static void signed_file(const char *batch, char *file, char *hdr)
{
	char body[1024];
	snprintf(body, sizeof body,
		 "{\"batch_id\":\"%s\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":\"%s-1\","
		 "\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"model_purchase\","
		 "\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":1,\"started_at\":\"2026-03-01T00:00:00+08:00\","
		 "\"ended_at\":\"2026-03-01T01:00:00+08:00\",\"contract_id\":\"C\"}]}",
		 batch, batch);
	t_sign("prov-a", body, strlen(body), file, hdr);
}

/* With queue_max = 4, reading pauses at 3 requests waiting for the database
 * and resumes below 2.  One database connection; an advisory lock (the one
 * ingest_batch takes for a batch id) holds the first batch in the database
 * while a second batch and two status lookups queue behind it.  When the
 * lock goes, the first batch finishes with 3 still waiting; the second
 * batch and the lookups then run in one transaction and finish in that order,
 * so a lookup is what brings the count below the resume mark.  Reading must
 * resume then, and the next batch be served. */
Test(ingest, a_status_lookup_finishing_last_resumes_reading)
{
	start("[database]\nconnections = 1\nqueue_max = 4\n[ingest]\nsignature_max_age_s = 0\nregistry_refresh_s = 0\n");
	PGconn *lock = PQconnectdb(ci);
	cr_assert_eq(PQstatus(lock), CONNECTION_OK);
	PGresult *r = PQexec(lock, "SELECT pg_advisory_lock(hashtextextended('batch prov-a flow-0', 0))");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(lock));
	PQclear(r);

	char f0[256], h0[2048], f1[256], h1[2048];
	signed_file("flow-0", f0, h0);
	signed_file("flow-1", f1, h1);
	https_async("p0", "POST", "/v1/usage-batches", h0, f0);
	wait_metric("voucherd_db_in_flight", 1); /* held by the lock */
	https_async("p1", "POST", "/v1/usage-batches", h1, f1);
	wait_metric("voucherd_db_queue_depth", 1);
	https_async("g0", "GET", "/v1/usage-batches/flow-0", NULL, NULL);
	https_async("g1", "GET", "/v1/usage-batches/flow-1", NULL, NULL);
	/* both lookups queued, or (once a lookup counts at once) reading paused
	 * with the second one still unread */
	int i;
	for (i = 0; i < 100 && metric("voucherd_db_queue_depth") != 3 && metric("voucherd_reading_paused") != 1; i++)
		usleep(50000);
	cr_assert(metric("voucherd_db_queue_depth") == 3 || metric("voucherd_reading_paused") == 1,
		  "the lookups did not arrive");
	cr_expect_eq(metric("voucherd_requests_total{code=\"200\"}"), 0);

	r = PQexec(lock, "SELECT pg_advisory_unlock(hashtextextended('batch prov-a flow-0', 0))");
	PQclear(r);
	PQfinish(lock);
	cr_expect_eq(async_code("p0"), 200);
	cr_expect_eq(async_code("p1"), 200);
	cr_expect_eq(async_code("g0"), 200);
	cr_expect_eq(async_code("g1"), 200);
	unlink(f0);
	unlink(f1);
	cr_expect_geq(metric("voucherd_reading_pauses_total"), 1, "the scenario did not pause reading");
	for (i = 0; i < 40 && metric("voucherd_reading_paused") != 0; i++)
		usleep(50000);
	cr_assert_eq(metric("voucherd_reading_paused"), 0, "reading stayed paused after the last lookup");
	char out[4096];
	cr_expect_eq(post_one("flow-2", "flow-2-1", "2026-03-01T01:00:00+08:00", 1, out, sizeof out), 200, "%s", out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.batches"), 3);
}

/* A marketplace (a data-trading platform) registered with voucherctl pushes
 * with voucher-push, the reference client: the seller of a corpus record is
 * stored, a dataset record without one and a compute record with one are
 * refused each with its code, and audit verify holds the stored seller to
 * the signed body. */
Test(ingest, a_marketplace_batch_end_to_end)
{
	start("[ingest]\nregistry_refresh_s = 0\n");
	const char *pk = getenv("VOUCHER_TEST_PKI");
	/* its own signing key (a provider signs with its own) */
	char key[512], pub[512], cmd[4096], out[16384], err[4096];
	snprintf(key, sizeof key, "%s/prov-c.ed25519.key", d.dir);
	snprintf(pub, sizeof pub, "%s/prov-c.ed25519.pub", d.dir);
	snprintf(cmd, sizeof cmd,
		 "openssl genpkey -algorithm ed25519 -out '%s' && openssl pkey -in '%s' -pubout -out '%s'", key, key,
		 pub);
	cr_assert_eq(t_run(cmd, NULL, 0, err, sizeof err), 0, "%s", err);
	struct t_ctl_run *r =
		t_ctl(ci, "provider add prov-c --name '某数据交易中心' --uscc 91330106100000002H --kind marketplace");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	r = t_ctl(ci, "provider cert add prov-c --cert '%s/prov-c.pem'", pk);
	cr_assert_eq(r->rc, 0, "%s", r->err);
	r = t_ctl(ci, "provider key add prov-c prov-c-k1 --alg ed25519 --pub '%s' --valid-from 2026-01-01T00:00:00Z",
		  pub);
	cr_assert_eq(r->rc, 0, "%s", r->err);
	r = t_ctl(ci, "provider facility add prov-c dex-1 --division 330106 --class A");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	t_daemon_signal(&d, SIGHUP);
	usleep(500000);

	char recs[512];
	snprintf(recs, sizeof recs, "%s/market.ndjson", d.dir);
	FILE *f = fopen(recs, "w");
	cr_assert_not_null(f);
#define MREC(id, cat, extra)                                                                                          \
	"{\"record_id\":\"" id "\",\"enterprise\":\"91330483100000001E\",\"facility\":\"dex-1\",\"category\":\"" cat  \
	"\",\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":500000,\"started_at\":\"2026-03-02T10:00:00+08:00\"," \
	"\"ended_at\":\"2026-03-02T10:00:00+08:00\",\"contract_id\":\"DX-2026-7\"" extra "}\n"
	fputs(MREC("m-1", "corpus", ",\"seller\":\"12100000400000000W\"") MREC("m-2", "dataset", "")
		      MREC("m-3", "intelligent_compute", ",\"seller\":\"12100000400000000W\"")
			      MREC("m-4", "dataset", ",\"seller\":\"913202141000000038\""),
	      f);
	fclose(f);
	char push[2048];
	snprintf(push, sizeof push,
		 "%s --url https://127.0.0.1:%d --ca '%s/ca.pem' --cert '%s/prov-c.pem' --key '%s/prov-c.key' "
		 "--sign-key '%s' --key-id prov-c-k1 --alg ed25519",
		 t_root_path("bin/voucher-push"), d.port, pk, pk, pk, key);
	snprintf(cmd, sizeof cmd, "%s --records '%s' --provider prov-c --batch-prefix mkt", push, recs);
	/* exit 0: the batch was answered 200, records refused or not */
	int rc = t_run(cmd, out, sizeof out, err, sizeof err);
	cr_assert_eq(rc, 0, "%s %s", out, err);
	cr_assert(strstr(out, "status=200 accepted=2 duplicates=0 rejected=2"), "%s %s", out, err);
	cr_assert_str_eq(t_scalar(db, "SELECT string_agg(record_id || ':' || category || ':' || coalesce(seller, '-'), "
				      "' ' ORDER BY record_id) FROM voucher.usage_records"),
			 "m-1:corpus:12100000400000000W m-4:dataset:913202141000000038");
	cr_assert_str_eq(t_scalar(db, "SELECT seller FROM audit.usage_records WHERE record_id = 'm-1'"),
			 "12100000400000000W");
	/* the answer, as stored: the two refused with their codes */
	const char *answer = t_scalar(db, "SELECT answer FROM voucher.batches WHERE provider = 'prov-c'");
	cr_assert_eq(t_json_len(answer, "rejected"), 2, "%s", answer);
	cr_expect_str_eq(t_json_str(answer, "rejected.0.record_id"), "m-2", "%s", answer);
	cr_expect_str_eq(t_json_str(answer, "rejected.0.code"), "seller_required", "%s", answer);
	cr_expect_str_eq(t_json_str(answer, "rejected.1.record_id"), "m-3", "%s", answer);
	cr_expect_str_eq(t_json_str(answer, "rejected.1.code"), "seller_not_allowed", "%s", answer);
	/* the body was sent as given: the seller fields are in the signed bytes */
	cr_expect_str_eq(t_scalar(db,
				  "SELECT position('\"seller\":\"12100000400000000W\"' IN convert_from(body, 'UTF8')) "
				  "> 0 FROM voucher.batches WHERE provider = 'prov-c'"),
			 "t");

	/* an adjustment must name its target's seller; the same record again is a
	 * duplicate, with another seller a conflict */
	char body[2048];
	snprintf(
		body, sizeof body,
		"{\"batch_id\":\"mkt-adj\",\"provider\":\"prov-c\",\"records\":["
		"{\"record_id\":\"m-5\",\"enterprise\":\"91330483100000001E\",\"facility\":\"dex-1\",\"category\":\"corpus\","
		"\"quantity\":\"0\",\"unit\":\"item\",\"amount_fen\":-100,\"started_at\":\"2026-03-02T10:00:00+08:00\","
		"\"ended_at\":\"2026-03-02T10:00:00+08:00\",\"contract_id\":\"DX-2026-7\",\"adjusts\":\"m-1\","
		"\"seller\":\"913202141000000038\"},"
		"{\"record_id\":\"m-6\",\"enterprise\":\"91330483100000001E\",\"facility\":\"dex-1\",\"category\":\"corpus\","
		"\"quantity\":\"0\",\"unit\":\"item\",\"amount_fen\":-100,\"started_at\":\"2026-03-02T10:00:00+08:00\","
		"\"ended_at\":\"2026-03-02T10:00:00+08:00\",\"contract_id\":\"DX-2026-7\",\"adjusts\":\"m-1\","
		"\"seller\":\"12100000400000000W\"},"
		"%s,%s]}",
		"{\"record_id\":\"m-1\",\"enterprise\":\"91330483100000001E\",\"facility\":\"dex-1\",\"category\":\"corpus\","
		"\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":500000,\"started_at\":\"2026-03-02T10:00:00+08:00\","
		"\"ended_at\":\"2026-03-02T10:00:00+08:00\",\"contract_id\":\"DX-2026-7\",\"seller\":\"12100000400000000W\"}",
		"{\"record_id\":\"m-4\",\"enterprise\":\"91330483100000001E\",\"facility\":\"dex-1\",\"category\":\"dataset\","
		"\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":500000,\"started_at\":\"2026-03-02T10:00:00+08:00\","
		"\"ended_at\":\"2026-03-02T10:00:00+08:00\",\"contract_id\":\"DX-2026-7\",\"seller\":\"12100000400000000W\"}");
	char file[512];
	snprintf(file, sizeof file, "%s/mkt-adj.json", d.dir);
	f = fopen(file, "w");
	cr_assert_not_null(f);
	fputs(body, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s '%s'", push, file);
	rc = t_run(cmd, out, sizeof out, err, sizeof err);
	cr_assert_eq(rc, 0, "%s %s", out, err);
	cr_assert(strstr(out, "status=200 accepted=1 duplicates=1 rejected=2"), "%s %s", out, err);
	answer = t_scalar(db, "SELECT answer FROM voucher.batches WHERE batch_id = 'mkt-adj'");
	cr_expect_eq(t_json_int(answer, "accepted"), 1, "%s", answer);
	cr_expect_eq(t_json_int(answer, "duplicates"), 1, "%s", answer);
	cr_assert_eq(t_json_len(answer, "rejected"), 2, "%s", answer);
	cr_expect_str_eq(t_json_str(answer, "rejected.0.record_id"), "m-5", "%s", answer);
	cr_expect_str_eq(t_json_str(answer, "rejected.0.code"), "adjusts_mismatch", "%s", answer);
	cr_expect_str_eq(t_json_str(answer, "rejected.1.record_id"), "m-4", "%s", answer);
	cr_expect_str_eq(t_json_str(answer, "rejected.1.code"), "conflict", "%s", answer);
	cr_expect_str_eq(t_scalar(db, "SELECT seller FROM voucher.usage_records WHERE record_id = 'm-6'"),
			 "12100000400000000W");

	/* audit verify hashes the stored seller as the daemon hashed the body */
	r = verify_as_auditor();
	cr_assert_eq(r->rc, 0, "%s %s", r->out, r->err);
	as_admin("BEGIN; SET LOCAL session_replication_role = replica; "
		 "UPDATE voucher.usage_records SET seller = '913202141000000038' WHERE record_id = 'm-1'; COMMIT");
	r = verify_as_auditor();
	cr_expect_eq(r->rc, 1, "%s", r->out);
	cr_expect(strstr(r->out, "usage record m-1 differs from the signed body"), "%s %s", r->out, r->err);
}

/* voucher-bench --seller: a marketplace's corpus sales through the daemon,
 * and --copy-out writes the very rows voucherd stored, seller included, in
 * the columns tests/bench/ingest.sh copies. */
Test(ingest, voucher_bench_sends_sellers_and_copies_them_out)
{
	start(NULL);
	char args[1024], out[4096], copy[512];
	snprintf(copy, sizeof copy, "%s/rows.copy", d.dir);
	snprintf(args, sizeof args,
		 "--connections 2 --batch-size 100 --records 300 --enterprises 7 --invalid 0.01 --prefix sel "
		 "--seller 12100000400000000W --copy-out '%s'",
		 copy);
	cr_assert_eq(run_bench(args, out, sizeof out), 0, "%s", out);
	cr_expect_eq(result_field(out, "accepted"), 297, "%s", out);
	cr_expect_eq(result_field(out, "rejected"), 3, "%s", out);
	cr_assert_eq(count("SELECT count(*) FROM voucher.usage_records WHERE category = 'corpus' "
			   "AND seller = '12100000400000000W'"),
		     297);
	/* the rows written are the rows stored, column for column */
	char cmd[2048], err[4096];
	snprintf(
		cmd, sizeof cmd,
		"psql -qX '%s' -c 'CREATE TABLE public.copied (LIKE voucher.usage_records INCLUDING ALL)' "
		"-c \"\\\\copy public.copied (provider, record_id, batch_id, enterprise, facility, category, purpose, "
		"quantity, unit, amount_fen, started_at, ended_at, contract_id, invoice_no, adjusts, content_hash, seller) "
		"FROM '%s'\"",
		ci, copy);
	cr_assert_eq(t_run(cmd, NULL, 0, err, sizeof err), 0, "%s", err);
	cr_expect_eq(count("SELECT count(*) FROM public.copied"), 297);
	cr_expect_eq(
		count("SELECT count(*) FROM public.copied c JOIN voucher.usage_records u USING (provider, record_id) "
		      "WHERE (c.batch_id, c.enterprise, c.facility, c.category, c.purpose, c.quantity, c.unit, "
		      "c.amount_fen, c.started_at, c.ended_at, c.contract_id, c.invoice_no, c.content_hash, c.seller) "
		      "IS NOT DISTINCT FROM (u.batch_id, u.enterprise, u.facility, u.category, u.purpose, u.quantity, "
		      "u.unit, u.amount_fen, u.started_at, u.ended_at, u.contract_id, u.invoice_no, u.content_hash, "
		      "u.seller)"),
		297);
	/* a bad seller is a usage error */
	cr_expect_eq(run_bench("--records 1 --no-send --seller 12100000400000000X", out, sizeof out), 2, "%s", out);
}
