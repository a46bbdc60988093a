/* metrics: counters for /metrics (Prometheus text format 0.0.4) and /healthz,
 * on their own plain-HTTP listener (loopback by default). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "common/buf.h"
#include "daemon/server.h"
#include "metering/batch.h"

static const int status_codes[] = {200, 400, 401, 403, 404, 405, 409, 411, 413, 415, 429, 500, 503};
#define NSTATUS (sizeof status_codes / sizeof status_codes[0])

/* the record codes of metering/codes.h that are labels, then "other" */
#define REJECT_LABEL(name, code, by, detail) METER_CODE_LABEL(by, REJ_##name)
static const char *const reject_codes[] = {
	METER_RECORD_CODES(REJECT_LABEL) "other",
};
#undef REJECT_LABEL
#define NREJ (sizeof reject_codes / sizeof reject_codes[0])

/* batch answer latency, microseconds */
static const int64_t bounds_us[] = {1000,   2500,   5000,    10000,   25000,   50000,   100000,
				    250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define NBOUNDS (sizeof bounds_us / sizeof bounds_us[0])

/* The counters, in server_t (srv->metrics). */
struct metrics_state {
	uint64_t requests[NSTATUS + 1]; /* last: other */
	uint64_t rejected[NREJ];
	uint64_t accepted_total, duplicates_total;
	uint64_t lat_buckets[NBOUNDS];
	uint64_t lat_count;
	int64_t lat_sum_us;
};

void metrics_request(server_t *srv, int status)
{
	struct metrics_state *M = srv ? srv->metrics : NULL;
	if (!M)
		return;
	size_t i;
	for (i = 0; i < NSTATUS; i++)
		if (status_codes[i] == status)
			break;
	M->requests[i]++;
}

void metrics_records(server_t *srv, int accepted, int duplicates)
{
	srv->metrics->accepted_total += (uint64_t)accepted;
	srv->metrics->duplicates_total += (uint64_t)duplicates;
}

void metrics_rejected(server_t *srv, const char *code, int n)
{
	size_t i;
	for (i = 0; i < NREJ - 1; i++)
		if (!strcmp(reject_codes[i], code))
			break;
	srv->metrics->rejected[i] += (uint64_t)n;
}

void metrics_batch_latency_us(server_t *srv, int64_t us)
{
	struct metrics_state *M = srv->metrics;
	for (size_t i = 0; i < NBOUNDS; i++)
		if (us <= bounds_us[i])
			M->lat_buckets[i]++;
	M->lat_count++;
	M->lat_sum_us += us;
}

/* microseconds as a decimal number of seconds, without floating point */
static void put_seconds(buf_t *b, int64_t us)
{
	buf_printf(b, "%" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
}

/* a Prometheus label value: backslash, quote and newline escaped */
static void prom_label(buf_t *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_putc(b, '\\');
		if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *s);
	}
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
	server_t *srv = arg;
	const struct metrics_state *M = srv->metrics;
	buf_t b = BUF_INIT;
	buf_puts(&b, "# HELP voucherd_requests_total Ingest requests answered, by HTTP status.\n"
		     "# TYPE voucherd_requests_total counter\n");
	for (size_t i = 0; i < NSTATUS; i++)
		buf_printf(&b, "voucherd_requests_total{code=\"%d\"} %" PRIu64 "\n", status_codes[i], M->requests[i]);
	buf_printf(&b, "voucherd_requests_total{code=\"other\"} %" PRIu64 "\n", M->requests[NSTATUS]);
	buf_printf(&b,
		   "# HELP voucherd_records_accepted_total Usage records stored.\n"
		   "# TYPE voucherd_records_accepted_total counter\n"
		   "voucherd_records_accepted_total %" PRIu64 "\n"
		   "# HELP voucherd_records_duplicate_total Records already stored with identical content.\n"
		   "# TYPE voucherd_records_duplicate_total counter\n"
		   "voucherd_records_duplicate_total %" PRIu64 "\n"
		   "# HELP voucherd_records_rejected_total Records rejected, by code.\n"
		   "# TYPE voucherd_records_rejected_total counter\n",
		   M->accepted_total, M->duplicates_total);
	for (size_t i = 0; i < NREJ; i++)
		buf_printf(&b, "voucherd_records_rejected_total{code=\"%s\"} %" PRIu64 "\n", reject_codes[i],
			   M->rejected[i]);
	buf_puts(&b, "# HELP voucherd_batch_seconds Time from a whole request to its answer.\n"
		     "# TYPE voucherd_batch_seconds histogram\n");
	for (size_t i = 0; i < NBOUNDS; i++) {
		buf_puts(&b, "voucherd_batch_seconds_bucket{le=\"");
		put_seconds(&b, bounds_us[i]);
		buf_printf(&b, "\"} %" PRIu64 "\n", M->lat_buckets[i]);
	}
	buf_printf(&b, "voucherd_batch_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", M->lat_count);
	buf_puts(&b, "voucherd_batch_seconds_sum ");
	put_seconds(&b, M->lat_sum_us);
	buf_printf(&b, "\nvoucherd_batch_seconds_count %" PRIu64 "\n", M->lat_count);
	writer_stats_t st;
	writer_get_stats(srv->writer, &st);
	buf_printf(&b,
		   "# HELP voucherd_db_queue_depth Batches waiting for a database connection.\n"
		   "# TYPE voucherd_db_queue_depth gauge\n"
		   "voucherd_db_queue_depth %zu\n"
		   "# HELP voucherd_db_in_flight Batches sent to the database, not yet committed.\n"
		   "# TYPE voucherd_db_in_flight gauge\n"
		   "voucherd_db_in_flight %zu\n"
		   "# HELP voucherd_db_connections_up Database connections ready.\n"
		   "# TYPE voucherd_db_connections_up gauge\n"
		   "voucherd_db_connections_up %d\n"
		   "# HELP voucherd_db_transactions_total Transactions committed (each may hold many batches).\n"
		   "# TYPE voucherd_db_transactions_total counter\n"
		   "voucherd_db_transactions_total %" PRIu64 "\n"
		   "# HELP voucherd_db_reconnects_total Database connections lost or failed.\n"
		   "# TYPE voucherd_db_reconnects_total counter\n"
		   "voucherd_db_reconnects_total %" PRIu64 "\n"
		   "# HELP voucherd_pending_bytes Bytes held by requests waiting for the database.\n"
		   "# TYPE voucherd_pending_bytes gauge\n"
		   "voucherd_pending_bytes %" PRIu64 "\n"
		   "# HELP voucherd_reading_paused 1 while voucherd reads from no client (database queue full).\n"
		   "# TYPE voucherd_reading_paused gauge\n"
		   "voucherd_reading_paused %d\n"
		   "# HELP voucherd_reading_pauses_total Times reading was paused for the database queue.\n"
		   "# TYPE voucherd_reading_pauses_total counter\n"
		   "voucherd_reading_pauses_total %" PRIu64 "\n",
		   st.queued, st.in_flight, st.conns_up, st.groups_committed, st.reconnects, srv->pending_bytes,
		   srv->paused ? 1 : 0, srv->pauses);
	/* the node voucherd writes to, and how often that changed (a failover
	 * formation lists several hosts in database.conninfo) */
	buf_puts(&b, "# HELP voucherd_db_primary The database node voucherd last connected to for writing.\n"
		     "# TYPE voucherd_db_primary gauge\n"
		     "voucherd_db_primary{node=\"");
	prom_label(&b, st.primary);
	buf_printf(
		&b,
		"\"} 1\n"
		"# HELP voucherd_db_hosts Hosts listed in database.conninfo.\n"
		"# TYPE voucherd_db_hosts gauge\n"
		"voucherd_db_hosts %d\n"
		"# HELP voucherd_db_primary_switches_total Times the primary was found on another node than before.\n"
		"# TYPE voucherd_db_primary_switches_total counter\n"
		"voucherd_db_primary_switches_total %" PRIu64 "\n",
		st.hosts, st.primary_switches);
	/* the registry as last loaded: rows left out stay out until fixed, so
	 * this stays above 0 (and can be alerted on) as long as one is broken */
	const registry_t *reg = srv->registry;
	buf_printf(
		&b,
		"# HELP voucherd_registry_certificates Client certificates in the loaded registry.\n"
		"# TYPE voucherd_registry_certificates gauge\n"
		"voucherd_registry_certificates %zu\n"
		"# HELP voucherd_registry_keys Signing keys in the loaded registry.\n"
		"# TYPE voucherd_registry_keys gauge\n"
		"voucherd_registry_keys %zu\n"
		"# HELP voucherd_registry_bad_rows Registry rows left out of the last load (unusable key or certificate row).\n"
		"# TYPE voucherd_registry_bad_rows gauge\n"
		"voucherd_registry_bad_rows %zu\n",
		reg ? reg->ncerts : 0, reg ? reg->nkeys : 0, reg ? reg->nbad : 0);
	tls_metrics(srv, &b);
	struct evbuffer *out = evbuffer_new();
	evbuffer_add(out, b.data, b.len);
	buf_free(&b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void healthz_cb(struct evhttp_request *req, void *arg)
{
	server_t *srv = arg;
	bool db = writer_db_up(srv->writer) && !srv->db_failing;
	bool reg = srv->registry != NULL;
	writer_stats_t st;
	writer_get_stats(srv->writer, &st);
	buf_t b = BUF_INIT;
	buf_printf(&b, "{\"status\":\"%s\",\"database\":%s,\"registry\":%s,\"draining\":%s,\"primary\":",
		   db && reg && !srv->draining ? "ok" : "unavailable", db ? "true" : "false", reg ? "true" : "false",
		   srv->draining ? "true" : "false");
	buf_json_str(&b, st.primary);
	buf_printf(&b, ",\"primary_switches\":%" PRIu64 "}\n", st.primary_switches);
	struct evbuffer *out = evbuffer_new();
	evbuffer_add(out, b.data, b.len);
	buf_free(&b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	int code = db && reg && !srv->draining ? 200 : 503;
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Service Unavailable", out);
	evbuffer_free(out);
}

/* Not through http_problem(): voucherd_requests_total counts ingest requests
 * only, and a scraper's typo must not show up there. */
static void notfound_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	static const char body[] =
		"{\"type\":\"urn:voucherd:problem:not_found\",\"title\":\"Not Found\",\"status\":404,"
		"\"code\":\"not_found\",\"detail\":\"only /healthz and /metrics are served here\"}\n";
	struct evbuffer *out = evbuffer_new();
	evbuffer_add(out, body, sizeof body - 1);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/problem+json");
	evhttp_send_reply(req, 404, "Not Found", out);
	evbuffer_free(out);
}

void metrics_attach(server_t *srv, struct evhttp *http)
{
	srv->metrics = xcalloc(1, sizeof *srv->metrics);
	evhttp_set_cb(http, "/metrics", metrics_cb, srv);
	evhttp_set_cb(http, "/healthz", healthz_cb, srv);
	evhttp_set_gencb(http, notfound_cb, srv);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
}

void metrics_free(server_t *srv)
{
	free(srv->metrics);
	srv->metrics = NULL;
}
