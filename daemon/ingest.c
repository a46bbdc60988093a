/* ingest: the provider-facing HTTPS handlers.
 *
 *   POST /v1/usage-batches        a signed batch of usage records
 *   GET  /v1/usage-batches/{id}   the answer to one of the caller's batches
 *
 * A POST goes through these checks in order, each refusing the whole batch
 * with a problem+json answer and storing nothing: verified TLS peer with a
 * registered certificate (403), method and media type (405, 415), headers and
 * signature (400, 401, 403), body shape (400, 413), provider in the body is the
 * caller (403), rate (429).  Then the batch goes to the database writer; the
 * answer is sent only after its transaction has committed.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/hex.h"
#include "common/log.h"
#include "daemon/server.h"
#include "metering/batch.h"
#include "metering/sig.h"

#define PATH_BATCHES "/v1/usage-batches"

/* $1-$13 the batch (the body $10 binary), $14-$29 the records: one binary
 * array per column, in the order of meter_batch_columns() */
static const char *const INGEST_SQL =
	"SELECT status, answer, replay FROM voucher.ingest_batch($1, $2, $3, $4, $5, "
	"to_timestamp($6::bigint), $7, $8, $9, $10::bytea, $11::integer, $12::jsonb, $13::integer, "
	"$14::int4[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], "
	"$21::text[], $22::int8[], $23::timestamptz[], $24::timestamptz[], $25::text[], $26::text[], "
	"$27::text[], $28::bytea[], $29::text[])";
#define INGEST_NPARAMS (13 + METER_NCOLS)
_Static_assert(INGEST_NPARAMS <= WJOB_MAX_PARAMS, "ingest parameters");
static const char *const ANSWER_SQL = "SELECT voucher.batch_answer($1, $2)";
/* what can be checked without storing anything: a full disk shows only when
 * the next batch is stored (or fails again) */
static const char *const PROBE_SQL =
	"SELECT NOT pg_is_in_recovery() AND NOT current_setting('transaction_read_only')::boolean "
	"AND coalesce((SELECT bool_and(has_function_privilege(p.oid, 'EXECUTE')) FROM pg_proc p "
	"JOIN pg_namespace n ON n.oid = p.pronamespace "
	"WHERE n.nspname = 'voucher' AND p.proname = 'ingest_batch'), false)";

struct rate_bucket {
	rate_bucket_t *next;
	char provider[65];
	int64_t tokens; /* records; may go negative (a batch may borrow) */
	int64_t last_ms;
};

typedef enum { IR_INGEST, IR_ANSWER, IR_REGISTRY, IR_PROBE } ir_kind_t;

/* One request waiting for the database.  Owns copies of everything the job's
 * parameters point to, because the HTTP request may be freed (the client
 * went away) while the job is in the database. */
typedef struct ingest_req {
	server_t *srv;
	ir_kind_t kind;
	struct evhttp_request *req; /* NULL once the connection closed */
	wjob_t job;
	int64_t t0_us;
	char provider[65];
	char batch_id[65];
	char digest_hex[65];
	char key_id[129];
	char created[24];
	char nrec[16];
	char ndup[16];
	char *hdr_cd, *hdr_si, *hdr_sig;
	struct evbuffer *body;
	buf_t cols[METER_NCOLS], rejected;
	uint64_t bytes; /* counted in srv->pending_bytes */
} ingest_req_t;

/* ------------------------------------------------------------ answers */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

static void send_json(struct evhttp_request *req, int status, const char *ctype, const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	struct evbuffer *out = evbuffer_new();
	evbuffer_add(out, body, len);
	server_t *srv = tls_request_server(req);
	evhttp_send_reply(req, status, reason(status), out);
	evbuffer_free(out);
	metrics_request(srv, status);
}

void http_problem(struct evhttp_request *req, int status, const char *code, const char *detail, int retry_after_s)
{
	buf_t b = BUF_INIT;
	buf_printf(&b, "{\"type\":\"urn:voucherd:problem:%s\",\"title\":\"%s\",\"status\":%d,\"code\":", code,
		   reason(status), status);
	buf_json_str(&b, code);
	buf_puts(&b, ",\"detail\":");
	buf_json_str(&b, detail);
	buf_puts(&b, "}\n");
	if (retry_after_s > 0) {
		char ra[16];
		snprintf(ra, sizeof ra, "%d", retry_after_s);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
	}
	send_json(req, status, "application/problem+json", b.data, b.len);
	buf_free(&b);
}

/* ------------------------------------------------------------ waiting requests */

static void on_conn_close(void *arg)
{
	ingest_req_t *ir = arg;
	ir->req = NULL;
}

static ingest_req_t *ir_new(server_t *srv, struct evhttp_request *req, ir_kind_t kind)
{
	ingest_req_t *ir = xcalloc(1, sizeof *ir);
	ir->srv = srv;
	ir->kind = kind;
	ir->req = req;
	ir->t0_us = now_us();
	ir->job.arg = ir;
	if (req) {
		tls_conn_on_close(req, on_conn_close, ir);
		tls_conn_busy(req, true);
	}
	return ir;
}

/* Detaches ir from its connection; returns the request to answer, or NULL. */
static struct evhttp_request *ir_release(ingest_req_t *ir)
{
	struct evhttp_request *req = ir->req;
	if (req) {
		tls_conn_on_close(req, NULL, NULL);
		tls_conn_busy(req, false);
	}
	return req;
}

static void ir_free(ingest_req_t *ir)
{
	free(ir->hdr_cd);
	free(ir->hdr_si);
	free(ir->hdr_sig);
	if (ir->body)
		evbuffer_free(ir->body);
	for (int c = 0; c < METER_NCOLS; c++)
		buf_free(&ir->cols[c]);
	buf_free(&ir->rejected);
	free(ir);
}

static void count_answer(server_t *srv, const char *answer)
{
	json_error_t e;
	json_t *a = json_loads(answer, 0, &e);
	if (!a)
		return;
	metrics_records(srv, (int)json_integer_value(json_object_get(a, "accepted")),
			(int)json_integer_value(json_object_get(a, "duplicates")));
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(a, "rejected"), i, r) metrics_rejected(
		srv,
		json_string_value(json_object_get(r, "code")) ? json_string_value(json_object_get(r, "code")) : "other",
		1);
	json_decref(a);
}

void ingest_flow(server_t *srv)
{
	const config_t *cfg = srv->cfg;
	uint64_t jobs_max = (uint64_t)cfg->queue_max, bytes_max = (uint64_t)cfg->queue_max_bytes;
	if (!srv->paused && (srv->pending_bytes >= bytes_max || srv->pending * 4 >= jobs_max * 3)) {
		srv->paused = true;
		srv->pauses++;
		tls_pause_reading(srv, true);
		log_debug("reading_paused", "pending=%" PRIu64 " pending_bytes=%" PRIu64, srv->pending,
			  srv->pending_bytes);
	} else if (srv->paused && srv->pending_bytes < bytes_max / 2 && srv->pending * 2 < jobs_max) {
		srv->paused = false;
		tls_pause_reading(srv, false);
		log_debug("reading_resumed", "pending=%" PRIu64 " pending_bytes=%" PRIu64, srv->pending,
			  srv->pending_bytes);
	}
	tls_gate_wake(srv);
}

/* The only two places that change what the waiting requests hold.  Each
 * re-evaluates reading at once: a request that lowers the count without
 * asking ingest_flow() could leave reading paused with nothing left to
 * resume it (a status lookup finishing last did exactly that). */
static void pending_take(server_t *srv, ingest_req_t *ir)
{
	srv->pending++;
	srv->pending_bytes += ir->bytes;
	ingest_flow(srv);
}

static void pending_release(server_t *srv, ingest_req_t *ir)
{
	srv->pending--;
	srv->pending_bytes -= ir->bytes;
	ir->bytes = 0;
	ingest_flow(srv);
}

/* A statement failed for the database's own reasons (see
 * writer_sqlstate_db_fault): not the batch's fault, so 503 and retry. */
static bool db_fault(server_t *srv, const wjob_t *job)
{
	if (job->status != WJOB_ERROR || !writer_sqlstate_db_fault(job->sqlstate))
		return false;
	if (!srv->db_failing)
		log_warn("db_failing", "sqlstate=%s reason=%s", job->sqlstate[0] ? job->sqlstate : "-",
			 log_q(job->error));
	srv->db_failing = true;
	return true;
}

static void db_recovered(server_t *srv, const char *via)
{
	if (!srv->db_failing)
		return;
	srv->db_failing = false;
	log_info("db_recovered", "via=%s", via);
}

static void ingest_done(wjob_t *job)
{
	ingest_req_t *ir = job->arg;
	server_t *srv = ir->srv;
	struct evhttp_request *req = ir_release(ir);
	PGresult *r = job->result;
	if (job->status == WJOB_DB_DOWN) {
		if (req)
			http_problem(req, 503, "database_unavailable",
				     "the database is unavailable; retry the same batch later", 2);
		log_warn("batch_deferred", "provider=%s batch=%s reason=database_unavailable", log_q(ir->provider),
			 log_q(ir->batch_id));
	} else if (db_fault(srv, job)) {
		if (req)
			http_problem(req, 503, "database_error",
				     "the database could not store the batch, through no fault of the batch; "
				     "nothing was stored; retry the same batch later",
				     2);
		log_warn("batch_deferred", "provider=%s batch=%s reason=database_error sqlstate=%s",
			 log_q(ir->provider), log_q(ir->batch_id), job->sqlstate[0] ? job->sqlstate : "-");
	} else if (job->status != WJOB_OK || PQntuples(r) != 1) {
		/* the database refused what we validated: a bug here or in the SQL */
		if (req)
			http_problem(req, 500, "internal_error",
				     "the batch could not be stored; nothing was stored; retry later", 0);
		log_error("batch_failed", "provider=%s batch=%s sqlstate=%s reason=%s", log_q(ir->provider),
			  log_q(ir->batch_id), job->sqlstate, log_q(job->error));
	} else {
		int status = atoi(PQgetvalue(r, 0, 0));
		const char *answer = PQgetvalue(r, 0, 1);
		bool replay = PQgetvalue(r, 0, 2)[0] == 't';
		int64_t us = now_us() - ir->t0_us;
		if (status == 200) {
			if (!replay)
				db_recovered(srv, "batch_stored"); /* a replay may have written nothing */
			if (req)
				send_json(req, 200, "application/json", answer, strlen(answer));
			if (!replay)
				count_answer(srv, answer);
			metrics_batch_latency_us(srv, us);
			log_info(replay ? "batch_replayed" : "batch_stored",
				 "provider=%s batch=%s records=%s ms=%" PRId64 "%s", log_q(ir->provider),
				 log_q(ir->batch_id), ir->nrec, us / 1000, req ? "" : " client=gone");
		} else if (status == 409) {
			if (req)
				http_problem(req, 409, "batch_conflict",
					     "this batch_id was stored before with a different body", 0);
			log_info("batch_conflict", "provider=%s batch=%s", log_q(ir->provider), log_q(ir->batch_id));
		} else {
			if (req)
				http_problem(
					req, 403, answer,
					"the signing key is unknown, revoked or not valid at the signature's created time",
					0);
			log_info("batch_refused", "provider=%s batch=%s code=%s", log_q(ir->provider),
				 log_q(ir->batch_id), log_q(answer));
		}
	}
	if (r)
		PQclear(r);
	/* after the answer is queued: resuming may read the next request */
	pending_release(srv, ir);
	ir_free(ir);
}

/* ------------------------------------------------------------ rate */

static bool rate_take(server_t *srv, const char *provider, int64_t n, int *retry_after)
{
	int64_t rate = srv->cfg->provider_rate_per_s;
	if (rate <= 0)
		return true;
	rate_bucket_t *b;
	for (b = srv->buckets; b; b = b->next)
		if (!strcmp(b->provider, provider))
			break;
	int64_t now = now_ms();
	if (!b) {
		b = xcalloc(1, sizeof *b);
		snprintf(b->provider, sizeof b->provider, "%s", provider);
		b->tokens = rate;
		b->last_ms = now;
		b->next = srv->buckets;
		srv->buckets = b;
	}
	b->tokens += (now - b->last_ms) * rate / 1000;
	if (b->tokens > rate)
		b->tokens = rate; /* at most one second of burst */
	b->last_ms = now;
	if (b->tokens <= 0) {
		*retry_after = (int)((-b->tokens) / rate) + 1;
		return false;
	}
	b->tokens -= n;
	return true;
}

/* ------------------------------------------------------------ handlers */

static const char *header(struct evhttp_request *req, const char *name)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
	return v && *v ? v : NULL;
}

static bool media_is_json(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return false;
	const char *p = ct + n;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == ';';
}

/* The caller's provider code, or NULL after answering 403. */
static const char *authenticate(server_t *srv, struct evhttp_request *req)
{
	char fp[65];
	if (!tls_peer_fingerprint(req, fp)) {
		http_problem(req, 403, "tls_required",
			     "a TLS connection with a verified client certificate is required", 0);
		return NULL;
	}
	const char *prov = registry_provider(srv->registry, fp);
	if (!prov) {
		http_problem(req, 403, "unknown_certificate", "the client certificate is not registered to a provider",
			     0);
		log_info("request_refused", "code=unknown_certificate fingerprint=%s", fp);
		return NULL;
	}
	return prov;
}

static void refuse(struct evhttp_request *req, const char *provider, int status, const char *code, const char *detail)
{
	http_problem(req, status, code, detail, 0);
	log_info("batch_refused", "provider=%s status=%d code=%s", log_q(provider), status, code);
}

/* what handle_post's steps pass on: the request, its headers and body, and
 * what the checks found */
typedef struct post {
	server_t *srv;
	struct evhttp_request *req;
	const char *provider;
	const char *cd, *si, *sg; /* Content-Digest, Signature-Input, Signature */
	struct evbuffer *in;
	const uint8_t *body;
	size_t len;
	uint8_t claimed[32]; /* the body's SHA-256, as Content-Digest claims and the body matches */
	sig_input_t sin;
} post_t;

/* Content-Type, the signature and digest headers, the body's size; false
 * after answering */
static bool post_headers(post_t *p)
{
	struct evhttp_request *req = p->req;
	if (!media_is_json(header(req, "Content-Type"))) {
		refuse(req, p->provider, 415, "unsupported_media_type", "Content-Type must be application/json");
		return false;
	}
	p->cd = header(req, "Content-Digest");
	p->si = header(req, "Signature-Input");
	p->sg = header(req, "Signature");
	if (!p->si || !p->sg) {
		refuse(req, p->provider, 401, "signature_missing",
		       "Signature-Input and Signature headers are required (RFC 9421)");
		return false;
	}
	if (!p->cd) {
		refuse(req, p->provider, 400, "digest_missing", "the Content-Digest header is required (RFC 9530)");
		return false;
	}
	p->in = evhttp_request_get_input_buffer(req);
	p->len = evbuffer_get_length(p->in);
	if ((int64_t)p->len > p->srv->cfg->max_body_bytes) {
		refuse(req, p->provider, 413, "body_too_large", "the body is larger than the server accepts");
		return false;
	}
	p->body = evbuffer_pullup(p->in, -1);
	if (!p->body)
		p->body = (const uint8_t *)"";
	return true;
}

/* the body against its Content-Digest; false after answering */
static bool post_digest(post_t *p)
{
	switch (sig_digest_check(p->cd, p->body, p->len, p->claimed)) {
	case SIG_OK: return true;
	case SIG_MISMATCH:
		refuse(p->req, p->provider, 401, "digest_mismatch",
		       "the body does not match its Content-Digest: it was changed after signing");
		return false;
	case SIG_UNSUPPORTED:
		refuse(p->req, p->provider, 400, "invalid_content_digest", "Content-Digest must include sha-256");
		return false;
	default:
		refuse(p->req, p->provider, 400, "invalid_content_digest", "Content-Digest is malformed");
		return false;
	}
}

/* Signature-Input into p->sin and Signature into sigbytes; false after
 * answering */
static bool post_sig_headers(post_t *p, uint8_t *sigbytes, size_t sigcap, size_t *siglen)
{
	switch (sig_input_parse(p->si, &p->sin)) {
	case SIG_OK: break;
	case SIG_COMPONENTS:
		refuse(p->req, p->provider, 401, "signature_components",
		       "the signature must cover exactly (\"@method\" \"@path\" \"content-digest\")");
		return false;
	case SIG_UNSUPPORTED:
		refuse(p->req, p->provider, 401, "unsupported_alg", "alg must be ed25519 or sm2-sm3");
		return false;
	case SIG_MISSING:
		refuse(p->req, p->provider, 401, "signature_missing", "Signature-Input is empty");
		return false;
	default:
		refuse(p->req, p->provider, 400, "invalid_signature_input",
		       "Signature-Input is malformed (one signature with created, keyid and alg)");
		return false;
	}
	switch (sig_value_parse(p->sg, p->sin.label, sigbytes, sigcap, siglen)) {
	case SIG_OK: return true;
	case SIG_MISSING:
		refuse(p->req, p->provider, 401, "signature_missing",
		       "Signature has no member for the Signature-Input label");
		return false;
	default: refuse(p->req, p->provider, 400, "invalid_signature", "Signature is malformed"); return false;
	}
}

/* the signing key: the caller's, of the alg, not revoked, valid at created;
 * NULL after answering */
static const reg_key_t *post_key(post_t *p)
{
	struct evhttp_request *req = p->req;
	const char *provider = p->provider;
	const reg_key_t *key = registry_key(p->srv->registry, provider, p->sin.keyid);
	if (!key && registry_bad(p->srv->registry, "key", provider, p->sin.keyid)) {
		/* registered, but its row could not be loaded (logged at load): to
		 * the caller it is as unknown as a key never registered, since we
		 * cannot check with it; the detail says where to look */
		refuse(req, provider, 403, "unknown_key",
		       "keyid is registered to the calling provider but its public key could not be loaded; "
		       "ask the operator to register it again");
		return NULL;
	}
	if (!key) {
		refuse(req, provider, 403, "unknown_key", "keyid is not a key of the calling provider");
		return NULL;
	}
	if (key->alg != p->sin.alg) {
		refuse(req, provider, 403, "alg_mismatch", "alg is not the algorithm registered for keyid");
		return NULL;
	}
	if (key->revoked) {
		refuse(req, provider, 403, "key_revoked", "the signing key is revoked");
		return NULL;
	}
	if (p->sin.created < key->valid_from || (key->valid_to && p->sin.created >= key->valid_to)) {
		refuse(req, provider, 403, "key_not_valid",
		       "the signing key is not valid at the signature's created time");
		return NULL;
	}
	return key;
}

/* the signature: its headers, its key, its freshness, then the
 * cryptography; false after answering */
static bool post_signature(post_t *p)
{
	uint8_t sigbytes[256];
	size_t siglen = 0;
	if (!post_sig_headers(p, sigbytes, sizeof sigbytes, &siglen))
		return false;
	const reg_key_t *key = post_key(p);
	if (!key)
		return false;
	int64_t now_s = (int64_t)time(NULL);
	int64_t max_age = p->srv->cfg->signature_max_age_s, skew = p->srv->cfg->clock_skew_s;
	if (max_age > 0 && (p->sin.created < now_s - max_age || p->sin.created > now_s + skew)) {
		char detail[256];
		snprintf(detail, sizeof detail,
			 "the signature's created time is more than %" PRId64 " s old or in the future", max_age);
		refuse(p->req, p->provider, 401, "signature_stale", detail);
		return false;
	}
	buf_t base = BUF_INIT;
	sig_base(&base, "POST", PATH_BATCHES, p->cd, &p->sin);
	bool good = sig_verify(key->pub, key->alg, base.data, base.len, sigbytes, siglen);
	buf_free(&base);
	if (!good) {
		refuse(p->req, p->provider, 401, "signature_invalid", "the signature does not verify with keyid");
		return false;
	}
	return true;
}

/* the body parsed and validated into b, for the caller's provider and
 * within its rate; false after answering (b freed) */
static bool post_batch(post_t *p, meter_batch_t *b)
{
	const char *provider = p->provider;
	char detail[256];
	meter_limits_t lim = {
		.max_records = (size_t)p->srv->cfg->max_records_per_batch,
		.now_us = (int64_t)time(NULL) * 1000000,
		.clock_skew_s = p->srv->cfg->clock_skew_s,
	};
	const char *code = NULL;
	if (!meter_batch_parse(p->body, p->len, &lim, b, &code, detail, sizeof detail)) {
		refuse(p->req, provider, strcmp(code, "too_many_records") == 0 ? 413 : 400, code, detail);
		return false;
	}
	if (strcmp(b->provider, provider) != 0) {
		meter_batch_free(b);
		refuse(p->req, provider, 403, "provider_mismatch",
		       "the body names another provider than the client certificate's");
		return false;
	}
	int retry_after = 0;
	if (!rate_take(p->srv, provider, (int64_t)b->n, &retry_after)) {
		meter_batch_free(b);
		http_problem(p->req, 429, "rate_limited", "this provider is over its record rate", retry_after);
		log_info("batch_refused", "provider=%s status=429 code=rate_limited", log_q(provider));
		return false;
	}
	return true;
}

/* the writer's job: ingest_batch's parameters, pointing into ir */
static void post_job(ingest_req_t *ir, const post_t *p)
{
	const char *body_bytes = (const char *)evbuffer_pullup(ir->body, -1);
	wjob_t *j = &ir->job;
	j->sql = INGEST_SQL;
	j->nparams = INGEST_NPARAMS;
	const char *v[13] = {ir->provider, ir->batch_id,      ir->digest_hex, ir->key_id,  sig_alg_name(p->sin.alg),
			     ir->created,  ir->hdr_cd,        ir->hdr_si,     ir->hdr_sig, body_bytes ? body_bytes : "",
			     ir->nrec,     ir->rejected.data, ir->ndup};
	for (int i = 0; i < 13; i++) {
		j->values[i] = v[i];
		j->lengths[i] = 0;
		j->formats[i] = 0;
	}
	j->lengths[9] = (int)p->len;
	j->formats[9] = 1; /* body as binary bytea */
	for (int c = 0; c < METER_NCOLS; c++) {
		j->values[13 + c] = ir->cols[c].data;
		j->lengths[13 + c] = (int)ir->cols[c].len;
		j->formats[13 + c] = 1;
		ir->bytes += ir->cols[c].len;
	}
	ir->bytes += p->len + ir->rejected.len;
	j->groupable = true;
	j->done = ingest_done;
}

/* a batch that passed every check, handed to the writer (b is freed) */
static void post_submit(post_t *p, meter_batch_t *b)
{
	server_t *srv = p->srv;
	ingest_req_t *ir = ir_new(srv, p->req, IR_INGEST);
	snprintf(ir->provider, sizeof ir->provider, "%s", p->provider);
	snprintf(ir->batch_id, sizeof ir->batch_id, "%s", b->batch_id);
	snprintf(ir->key_id, sizeof ir->key_id, "%s", p->sin.keyid);
	snprintf(ir->created, sizeof ir->created, "%" PRId64, p->sin.created);
	snprintf(ir->nrec, sizeof ir->nrec, "%zu", b->n);
	size_t ndup = 0;
	for (size_t i = 0; i < b->n; i++)
		ndup += b->recs[i].duplicate_in_batch;
	snprintf(ir->ndup, sizeof ir->ndup, "%zu", ndup);
	hex_encode(p->claimed, 32, ir->digest_hex);
	ir->hdr_cd = xstrdup(p->cd);
	ir->hdr_si = xstrdup(p->si);
	ir->hdr_sig = xstrdup(p->sg);
	meter_batch_columns(b, ir->cols);
	meter_batch_rejected_json(b, &ir->rejected);
	meter_batch_free(b);
	/* keep the body bytes without copying: move the chain out of the request */
	ir->body = evbuffer_new();
	evbuffer_add_buffer(ir->body, p->in);
	post_job(ir, p);
	/* counted before it is submitted: the writer may finish the job (and its
	 * done callback release and free ir) before writer_submit returns, when
	 * it finds the database gone */
	pending_take(srv, ir);
	if (writer_submit(srv->writer, &ir->job) != WJOB_OK) {
		pending_release(srv, ir);
		ir_release(ir);
		ir_free(ir);
		http_problem(p->req, 503, "database_unavailable",
			     "the database is unavailable or busy; retry the same batch later", 2);
	}
}

/* POST /v1/usage-batches: the checks of README.md "The ingest protocol in
 * short", in order; each step answers its own refusal */
static void handle_post(server_t *srv, struct evhttp_request *req, const char *provider)
{
	post_t p = {.srv = srv, .req = req, .provider = provider};
	meter_batch_t b;
	if (post_headers(&p) && post_digest(&p) && post_signature(&p) && post_batch(&p, &b))
		post_submit(&p, &b);
}

static void answer_done(wjob_t *job)
{
	ingest_req_t *ir = job->arg;
	struct evhttp_request *req = ir_release(ir);
	PGresult *r = job->result;
	if (req) {
		if (job->status == WJOB_DB_DOWN)
			http_problem(req, 503, "database_unavailable", "the database is unavailable; retry later", 2);
		else if (db_fault(ir->srv, job))
			http_problem(req, 503, "database_error", "the database failed the lookup; retry later", 2);
		else if (job->status != WJOB_OK || PQntuples(r) != 1)
			http_problem(req, 500, "internal_error", "the lookup failed; retry later", 0);
		else if (PQgetisnull(r, 0, 0))
			http_problem(req, 404, "batch_not_found", "no batch with this id was stored for the caller", 0);
		else
			send_json(req, 200, "application/json", PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
	}
	if (r)
		PQclear(r);
	pending_release(ir->srv, ir);
	ir_free(ir);
}

static void handle_get(server_t *srv, struct evhttp_request *req, const char *provider, const char *rest)
{
	char *id = evhttp_uridecode(rest, 0, NULL);
	if (!id || !*id || strlen(id) > 64 ||
	    strspn(id, "!\"#$%&'()*+,-./0123456789:;<=>?@"
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != strlen(id)) {
		free(id);
		http_problem(req, 404, "batch_not_found", "no batch with this id was stored for the caller", 0);
		return;
	}
	ingest_req_t *ir = ir_new(srv, req, IR_ANSWER);
	snprintf(ir->provider, sizeof ir->provider, "%s", provider);
	snprintf(ir->batch_id, sizeof ir->batch_id, "%s", id);
	free(id);
	wjob_t *j = &ir->job;
	j->sql = ANSWER_SQL;
	j->nparams = 2;
	j->values[0] = ir->provider;
	j->values[1] = ir->batch_id;
	j->lengths[0] = j->lengths[1] = 0;
	j->formats[0] = j->formats[1] = 0;
	j->groupable = true;
	j->done = answer_done;
	/* a lookup holds no bytes but takes a place in the queue like a batch;
	 * counted before it is submitted, as in post_submit */
	pending_take(srv, ir);
	if (writer_submit(srv->writer, j) != WJOB_OK) {
		pending_release(srv, ir);
		ir_release(ir);
		ir_free(ir);
		http_problem(req, 503, "database_unavailable", "the database is unavailable; retry later", 2);
	}
}

static void dispatch(struct evhttp_request *req, void *arg)
{
	server_t *srv = arg;
	if (srv->draining) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		http_problem(req, 503, "shutting_down", "the server is shutting down; retry", 1);
		return;
	}
	int gst, gretry;
	const char *gcode, *gdetail;
	if (tls_gate_refusal(req, &gst, &gcode, &gdetail, &gretry)) {
		/* refused from its headers: no body was read, and the connection
		 * closes after this answer */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		http_problem(req, gst, gcode, gdetail, gretry);
		log_info("request_refused", "code=%s status=%d", gcode, gst);
		return;
	}
	const char *provider = NULL;
	if (!srv->registry) {
		/* before the registry loads we cannot tell who is calling */
		char fp[65];
		if (!tls_peer_fingerprint(req, fp))
			http_problem(req, 403, "tls_required",
				     "a TLS connection with a verified client certificate is required", 0);
		else
			http_problem(req, 503, "registry_unavailable",
				     "the provider registry is not loaded yet (database unavailable); retry", 2);
		return;
	}
	if (!(provider = authenticate(srv, req)))
		return;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (path && !strcmp(path, PATH_BATCHES)) {
		if (cmd != EVHTTP_REQ_POST) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
			http_problem(req, 405, "method_not_allowed", "use POST", 0);
			return;
		}
		handle_post(srv, req, provider);
		return;
	}
	if (path && !strncmp(path, PATH_BATCHES "/", strlen(PATH_BATCHES) + 1)) {
		if (cmd != EVHTTP_REQ_GET) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
			http_problem(req, 405, "method_not_allowed", "use GET", 0);
			return;
		}
		handle_get(srv, req, provider, path + strlen(PATH_BATCHES) + 1);
		return;
	}
	http_problem(req, 404, "not_found", "unknown path", 0);
}

/* ------------------------------------------------------------ registry */

/* Logs the rows of reg left out that prev did not leave out too: a bad row is
 * logged once when it first appears (or appears again after it was fixed),
 * not at every refresh.  Names the row, never its key material. */
static void log_bad_rows(const registry_t *prev, const registry_t *reg)
{
	for (size_t i = 0; i < reg->nbad; i++) {
		const reg_bad_t *b = &reg->bad[i];
		const reg_bad_t *p = registry_bad(prev, b->kind, b->provider, b->ident);
		if (p && !strcmp(p->reason, b->reason))
			continue;
		log_error("registry_row_skipped", "kind=%s provider=%s %s=%s reason=%s", b->kind, log_q(b->provider),
			  strcmp(b->kind, "cert") ? "key_id" : "fingerprint", log_q(b->ident), log_q(b->reason));
	}
}

static void registry_done(wjob_t *job)
{
	ingest_req_t *ir = job->arg;
	server_t *srv = ir->srv;
	srv->registry_loading = false;
	if (job->status == WJOB_OK) {
		char err[256];
		registry_t *reg = registry_build(job->result, err, sizeof err);
		if (reg) {
			bool first = srv->registry == NULL;
			bool same = !first && srv->registry->ncerts == reg->ncerts &&
				    srv->registry->nkeys == reg->nkeys && srv->registry->nbad == reg->nbad;
			log_bad_rows(srv->registry, reg);
			registry_free(srv->registry);
			srv->registry = reg;
			log_emit(same ? LOG_DEBUG : LOG_INFO, "registry_loaded",
				 "certificates=%zu keys=%zu bad_rows=%zu", reg->ncerts, reg->nkeys, reg->nbad);
		} else {
			log_error("registry_invalid", "reason=%s", log_q(err));
		}
		PQclear(job->result);
	} else {
		log_warn("registry_load_failed", "reason=%s", log_q(job->error));
	}
	ir_free(ir);
	if (!srv->registry) {
		struct timeval tv = {1, 0};
		evtimer_add(srv->refresh_timer, &tv);
	}
}

void ingest_reload_registry(server_t *srv)
{
	if (srv->registry_loading || srv->draining)
		return;
	ingest_req_t *ir = ir_new(srv, NULL, IR_REGISTRY);
	wjob_t *j = &ir->job;
	j->sql = REGISTRY_SQL;
	j->nparams = 0;
	j->groupable = false;
	j->done = registry_done;
	if (writer_submit(srv->writer, j) != WJOB_OK) {
		ir_free(ir);
		struct timeval tv = {1, 0};
		evtimer_add(srv->refresh_timer, &tv);
		return;
	}
	srv->registry_loading = true;
}

static void probe_done(wjob_t *job)
{
	ingest_req_t *ir = job->arg;
	server_t *srv = ir->srv;
	srv->db_probing = false;
	if (job->status == WJOB_OK && PQntuples(job->result) == 1 && PQgetvalue(job->result, 0, 0)[0] == 't')
		db_recovered(srv, "probe");
	else
		log_debug("db_probe_failed", "sqlstate=%s reason=%s", job->sqlstate[0] ? job->sqlstate : "-",
			  log_q(job->status == WJOB_OK ? "read only, a standby or no EXECUTE on ingest_batch"
						       : job->error));
	if (job->result)
		PQclear(job->result);
	ir_free(ir);
}

void ingest_probe(server_t *srv)
{
	if (!srv->db_failing || srv->db_probing || srv->draining)
		return;
	ingest_req_t *ir = ir_new(srv, NULL, IR_PROBE);
	wjob_t *j = &ir->job;
	j->sql = PROBE_SQL;
	j->nparams = 0;
	j->groupable = false;
	j->done = probe_done;
	if (writer_submit(srv->writer, j) != WJOB_OK) {
		ir_free(ir);
		return;
	}
	srv->db_probing = true;
}

void ingest_attach(server_t *srv, struct evhttp *http)
{
	evhttp_set_gencb(http, dispatch, srv);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						 EVHTTP_REQ_DELETE);
}
