/* voucher-bench: a load generator for voucherd.
 *
 * Builds every batch body and signs it before the clock starts, then sends
 * them over K concurrent mutual-TLS connections (one thread each, the blocking
 * client of voucher-push) and prints records/s, the batch-answer latency
 * (p50, p99, max) and the answers by status and code.  With --rate it paces
 * the batches to that many records per second instead of sending as fast as
 * the server answers.  With --copy-out it also writes the rows the server
 * would store, in COPY text format, for a bare-COPY baseline of the same data
 * (tests/bench/ingest.sh).  See usage().
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "client/http.h"
#include "client/push.h"
#include "common/buf.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/validate.h"
#include "metering/batch.h"
#include "metering/sig.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define MAX_GAPS 64
#define MAX_CODES 64

typedef struct opts {
	const char *url, *cert, *key, *ca, *sign_key, *key_id, *alg, *provider, *facility;
	const char *prefix, *copy_out;
	const char *stop_file; /* once it exists, no new batch is started */
	const char *seller;    /* NULL, or: every record a corpus sale by this seller */
	unsigned long connections, batch_size, records, enterprises, timeout_s;
	unsigned long duplicates_ppm, invalid_ppm; /* fractions, in parts per million */
	unsigned long rate;                        /* records/s, 0: as fast as answered */
	unsigned long attempts;                    /* sends of one batch before it counts as failed */
	unsigned long gap_ms;                      /* report stretches without a 200 this long; 0: none */
	bool quiet, no_send;
} opts_t;

typedef struct batch {
	char id[PUSH_MAX_BATCH_ID + 1];
	buf_t body, hdrs;
	unsigned long nrec;
	bool started;
} batch_t;

typedef struct code_count {
	int status;
	char code[48];
	unsigned long n;
} code_count_t;

typedef struct bench {
	opts_t o;
	push_url_t url;
	batch_t *batches;
	unsigned long nbatches;
	atomic_ulong next;  /* the next batch to send */
	int64_t t0_us;      /* the start of the clock */
	int64_t *lat_us;    /* per batch: the latency of its final answer */
	pthread_mutex_t mu; /* guards the counts below */
	code_count_t codes[MAX_CODES];
	int ncodes;
	unsigned long accepted, duplicates, rejected, failed, retries;
	int64_t last_ok_ms;                           /* wall clock of the last 200 */
	int64_t gap_from[MAX_GAPS], gap_to[MAX_GAPS]; /* stretches without a 200 */
	int ngaps;
	atomic_ulong late; /* batches sent behind the --rate schedule */
	atomic_bool stop;
} bench_t;

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *out)
{
	fputs("usage: voucher-bench --url URL --cert CERT --key KEY --ca CA --sign-key PEM --key-id ID\n"
	      "                     --provider CODE --facility F [options]\n"
	      "\n"
	      "Sends synthetic, pre-signed usage batches to voucherd over K concurrent mutual-TLS\n"
	      "connections and prints, on standard output:\n"
	      "  result records=<n> batches=<n> connections=<k> batch_size=<n> seconds=<s>\n"
	      "         records_per_s=<r> p50_ms=<ms> p99_ms=<ms> max_ms=<ms>\n"
	      "         accepted=<n> duplicates=<n> rejected=<n> failed=<n> retries=<n> late=<n>\n"
	      "  answers status=<http> code=<code> count=<n>      (one line per kind of answer)\n"
	      "  gap from=<unix s> to=<unix s> ms=<ms>            (with --gaps: no 200 that long)\n"
	      "Latency is from the start of a batch's last attempt to its answer.  A batch answered\n"
	      "503 or 429, or whose connection failed, is sent again (up to --attempts times, with\n"
	      "a pause of 0.1 s growing to 1 s) and counted under retries; 'failed' counts batches\n"
	      "with no 200 in the end.\n"
	      "\n"
	      "  --url, --cert, --key, --ca, --sign-key, --key-id, --alg   as for voucher-push\n"
	      "  --provider CODE      the provider the certificate is registered to\n"
	      "  --facility F         a facility registered to that provider\n"
	      "  --connections K      concurrent connections (default 8)\n"
	      "  --batch-size N       records per batch (default 1000)\n"
	      "  --records N          records in all (default 100000)\n"
	      "  --enterprises N      distinct enterprises the records are spread over (default 1000)\n"
	      "  --duplicates F       fraction of each batch that repeats records of the batch before\n"
	      "                       it, content and all (answered as duplicates; default 0)\n"
	      "  --invalid F          fraction of each batch with a bad credit code (rejected; default 0)\n"
	      "  --seller USCC        every record a marketplace's sale of corpus (category corpus,\n"
	      "                       unit item) by this seller (default: compute records, no seller)\n"
	      "  --rate R             send at most R records/s, batches spread evenly (default: as\n"
	      "                       fast as the answers come); 'late' counts batches sent behind\n"
	      "                       that schedule\n"
	      "  --prefix P           prefix of batch and record ids (default: bench-<time>-<pid>);\n"
	      "                       the same prefix twice sends the same batches again\n"
	      "  --copy-out FILE      also write the rows voucherd would store (COPY text format,\n"
	      "                       columns of voucher.usage_records without received_at:\n"
	      "                       provider ... adjusts, content_hash, seller)\n"
	      "  --no-send            build (and --copy-out) only; send nothing\n"
	      "  --timeout S          per request (default 60)\n"
	      "  --attempts N         sends of one batch before it counts as failed (default 20)\n"
	      "  --stop-file PATH     start no new batch once PATH exists (those started are still\n"
	      "                       sent until answered); the result counts the batches started\n"
	      "  --gaps MS            print each stretch of MS ms or more in which no batch was\n"
	      "                       answered 200 (a database failover, say), with wall-clock times\n"
	      "  -q, --quiet          no progress on standard error\n"
	      "  -h, --help\n",
	      out);
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* A fraction written as a decimal ("0.25", at most 6 fraction digits) in
 * parts per million, at most max_ppm; no floating point. */
static bool parse_ppm(const char *s, unsigned long max_ppm, unsigned long *out)
{
	if (!decimal_valid(s, 6, false))
		return false;
	const char *dot = strchr(s, '.');
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
	if (ilen > 1)
		return false; /* 0 or 1 before the point */
	unsigned long v = (unsigned long)(s[0] - '0') * 1000000ul, scale = 100000ul;
	for (const char *p = dot ? dot + 1 : ""; *p; p++, scale /= 10)
		v += (unsigned long)(*p - '0') * scale;
	if (v > max_ppm)
		return false;
	*out = v;
	return true;
}

/* -1 to go on, else the exit status (0 after --help), as voucher-push and
 * voucherctl parse their arguments.  Long but whole: one flat getopt switch,
 * an option per case; split up it would only scatter the table. */
static int parse_args(int argc, char **argv, opts_t *o)
{
	enum {
		O_URL = 256,
		O_CERT,
		O_KEY,
		O_CA,
		O_SIGN,
		O_KEYID,
		O_ALG,
		O_PROV,
		O_FAC,
		O_CONN,
		O_BSIZE,
		O_REC,
		O_ENT,
		O_DUP,
		O_INV,
		O_RATE,
		O_PREFIX,
		O_COPY,
		O_TIMEOUT,
		O_NOSEND,
		O_SELLER,
		O_ATTEMPTS,
		O_GAPS,
		O_STOPFILE
	};
	static const struct option longs[] = {{"url", 1, 0, O_URL},
					      {"cert", 1, 0, O_CERT},
					      {"key", 1, 0, O_KEY},
					      {"ca", 1, 0, O_CA},
					      {"sign-key", 1, 0, O_SIGN},
					      {"key-id", 1, 0, O_KEYID},
					      {"alg", 1, 0, O_ALG},
					      {"provider", 1, 0, O_PROV},
					      {"facility", 1, 0, O_FAC},
					      {"connections", 1, 0, O_CONN},
					      {"batch-size", 1, 0, O_BSIZE},
					      {"records", 1, 0, O_REC},
					      {"enterprises", 1, 0, O_ENT},
					      {"duplicates", 1, 0, O_DUP},
					      {"invalid", 1, 0, O_INV},
					      {"rate", 1, 0, O_RATE},
					      {"prefix", 1, 0, O_PREFIX},
					      {"copy-out", 1, 0, O_COPY},
					      {"timeout", 1, 0, O_TIMEOUT},
					      {"no-send", 0, 0, O_NOSEND},
					      {"seller", 1, 0, O_SELLER},
					      {"attempts", 1, 0, O_ATTEMPTS},
					      {"gaps", 1, 0, O_GAPS},
					      {"stop-file", 1, 0, O_STOPFILE},
					      {"quiet", 0, 0, 'q'},
					      {"help", 0, 0, 'h'},
					      {0, 0, 0, 0}};
	*o = (opts_t){.alg = "ed25519",
		      .connections = 8,
		      .batch_size = 1000,
		      .records = 100000,
		      .enterprises = 1000,
		      .timeout_s = 60,
		      .attempts = 20};
	int c;
	const char *bad = NULL;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", longs, NULL)) != -1) {
		switch (c) {
		case O_URL: o->url = optarg; break;
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CA: o->ca = optarg; break;
		case O_SIGN: o->sign_key = optarg; break;
		case O_KEYID: o->key_id = optarg; break;
		case O_ALG: o->alg = optarg; break;
		case O_PROV: o->provider = optarg; break;
		case O_FAC: o->facility = optarg; break;
		case O_PREFIX: o->prefix = optarg; break;
		case O_COPY: o->copy_out = optarg; break;
		case O_CONN:
			if (!parse_ulong(optarg, 1, 1024, &o->connections))
				bad = "--connections must be 1..1024";
			break;
		case O_BSIZE:
			if (!parse_ulong(optarg, 1, 1000000, &o->batch_size))
				bad = "--batch-size must be 1..1000000";
			break;
		case O_REC:
			if (!parse_ulong(optarg, 1, 100000000, &o->records))
				bad = "--records must be 1..100000000";
			break;
		case O_ENT:
			if (!parse_ulong(optarg, 1, 999999999, &o->enterprises))
				bad = "--enterprises must be 1..999999999";
			break;
		case O_TIMEOUT:
			if (!parse_ulong(optarg, 1, 3600, &o->timeout_s))
				bad = "--timeout must be 1..3600 seconds";
			break;
		case O_DUP:
			if (!parse_ppm(optarg, 900000, &o->duplicates_ppm))
				bad = "--duplicates must be a fraction 0..0.9";
			break;
		case O_INV:
			if (!parse_ppm(optarg, 1000000, &o->invalid_ppm))
				bad = "--invalid must be a fraction 0..1";
			break;
		case O_RATE:
			if (!parse_ulong(optarg, 1, 1000000000, &o->rate))
				bad = "--rate must be 1..1000000000 records/s";
			break;
		case O_NOSEND: o->no_send = true; break;
		case O_STOPFILE: o->stop_file = optarg; break;
		case O_ATTEMPTS:
			if (!parse_ulong(optarg, 1, 100000, &o->attempts))
				bad = "--attempts must be 1..100000";
			break;
		case O_GAPS:
			if (!parse_ulong(optarg, 1, 3600000, &o->gap_ms))
				bad = "--gaps must be 1..3600000 ms";
			break;
		case O_SELLER:
			o->seller = optarg;
			if (!uscc_valid(optarg))
				bad = "--seller must be a credit code with a valid check character";
			break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "voucher-bench: unknown or incomplete option %s\n", argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (bad) {
			fprintf(stderr, "voucher-bench: %s\n", bad);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "voucher-bench: unexpected argument %s\n", argv[optind]);
		return EXIT_USAGE;
	}
	const char *need[][2] = {{o->url, "--url"},           {o->cert, "--cert"},
				 {o->key, "--key"},           {o->ca, "--ca"},
				 {o->sign_key, "--sign-key"}, {o->key_id, "--key-id"},
				 {o->provider, "--provider"}, {o->facility, "--facility"}};
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		if (!need[i][0]) {
			fprintf(stderr, "voucher-bench: %s is required (see --help)\n", need[i][1]);
			return EXIT_USAGE;
		}
	return -1;
}

/* ------------------------------------------------------------ the data */

static void enterprise_code(unsigned long e, char out[19])
{
	snprintf(out, 19, "91330106%09lu", e % 1000000000ul);
	out[17] = uscc_check_char(out);
	out[18] = '\0';
}

/* Record number k (global, so that a duplicate is the same record again). */
static void put_record(buf_t *b, const opts_t *o, const char *prefix, unsigned long k, bool invalid)
{
	static const char *const cats[] = {"model_service", "intelligent_compute", "general_compute"};
	static const char *const units[] = {"tokens", "card_hour", "core_hour"};
	char ent[19], st[32], en[32];
	enterprise_code(k % o->enterprises, ent);
	if (invalid)
		ent[17] = ent[17] == '0' ? '1' : '0';                                     /* a wrong check character */
	int64_t start = (int64_t)1788192000 * 1000000 + (int64_t)(k % 2592000) * 1000000; /* 2026-09 */
	rfc3339_format_utc(start, st, sizeof st);
	rfc3339_format_utc(start + 60 * 1000000, en, sizeof en);
	buf_printf(b,
		   "{\"record_id\":\"%s-r%lu\",\"enterprise\":\"%s\",\"facility\":\"%s\","
		   "\"category\":\"%s\",\"purpose\":\"inference\",\"quantity\":\"%lu.5\",\"unit\":\"%s\","
		   "\"amount_fen\":%lu,\"started_at\":\"%s\",\"ended_at\":\"%s\",\"contract_id\":\"C-%lu\","
		   "\"invoice_no\":\"%020lu\"",
		   prefix, k, ent, o->facility, o->seller ? "corpus" : cats[k % 3], 1 + k % 100000,
		   o->seller ? "item" : units[k % 3], 100 + (k * 7919) % 1000000, st, en, k % o->enterprises, k);
	if (o->seller)
		buf_printf(b, ",\"seller\":\"%s\"", o->seller);
	buf_putc(b, '}');
}

static void copy_field(FILE *f, const char *s, bool last)
{
	if (!s)
		fputs("\\N", f);
	else
		for (; *s; s++) {
			if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r')
				fputc('\\', f);
			fputc(*s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : *s, f);
		}
	fputc(last ? '\n' : '\t', f);
}

/* The rows the server stores for one body: parse it as voucherd does. */
static bool copy_rows(FILE *f, const char *provider, const buf_t *body)
{
	meter_limits_t lim = {.max_records = 1000000, .now_us = (int64_t)time(NULL) * 1000000, .clock_skew_s = 300};
	meter_batch_t b;
	const char *code;
	char err[256];
	if (!meter_batch_parse(body->data, body->len, &lim, &b, &code, err, sizeof err)) {
		fprintf(stderr, "voucher-bench: a generated body does not parse: %s\n", err);
		return false;
	}
	for (size_t i = 0; i < b.n; i++) {
		const meter_record_t *r = &b.recs[i];
		if (r->reject_code || r->duplicate_in_batch)
			continue;
		char amt[24], st[32], en[32], h[3 + 65];
		snprintf(amt, sizeof amt, "%" PRId64, r->amount_fen);
		rfc3339_format_utc(r->started_us, st, sizeof st);
		rfc3339_format_utc(r->ended_us, en, sizeof en);
		strcpy(h, "\\\\x");
		hex_encode(r->content_hash, 32, h + 3);
		/* "\\x" in COPY text is a literal backslash-x: the bytea hex form */
		const char *cols[] = {provider,    r->record_id, b.batch_id,       r->enterprise, r->facility,
				      r->category, r->purpose,   r->quantity_norm, r->unit,       amt,
				      st,          en,           r->contract_id,   r->invoice_no, r->adjusts};
		for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
			copy_field(f, cols[c], false);
		fputs(h, f);
		fputc('\t', f);
		copy_field(f, r->seller, true);
	}
	meter_batch_free(&b);
	return !ferror(f);
}

static bool build(bench_t *x, EVP_PKEY *key, sig_alg_t alg)
{
	const opts_t *o = &x->o;
	char prefix[40];
	if (o->prefix)
		snprintf(prefix, sizeof prefix, "%s", o->prefix);
	else
		snprintf(prefix, sizeof prefix, "bench-%ld-%d", (long)time(NULL), (int)getpid());
	FILE *copy = NULL;
	if (o->copy_out && !(copy = fopen(o->copy_out, "w"))) {
		fprintf(stderr, "voucher-bench: --copy-out %s: %s\n", o->copy_out, strerror(errno));
		return false;
	}
	x->nbatches = (o->records + o->batch_size - 1) / o->batch_size;
	x->batches = xcalloc(x->nbatches, sizeof *x->batches);
	x->lat_us = xcalloc(x->nbatches, sizeof *x->lat_us);
	/* each batch: ndup records repeating the first new ones of the batch
	 * before, then new valid records, then ninv new invalid ones */
	unsigned long k = 0, prev_first = 0, prev_valid = 0;
	unsigned long ndup = o->duplicates_ppm * o->batch_size / 1000000ul;
	unsigned long ninv = (o->invalid_ppm * o->batch_size + 500000ul) / 1000000ul;
	buf_t cd = BUF_INIT, si = BUF_INIT, sg = BUF_INIT, rec = BUF_INIT;
	bool ok = true;
	for (unsigned long bi = 0; bi < x->nbatches && ok; bi++) {
		batch_t *b = &x->batches[bi];
		unsigned long left = o->records - bi * o->batch_size;
		b->nrec = left < o->batch_size ? left : o->batch_size;
		snprintf(b->id, sizeof b->id, "%s-b%lu", prefix, bi);
		push_body_begin(&b->body, b->id, o->provider);
		unsigned long dups = ndup < prev_valid ? ndup : prev_valid;
		unsigned long first = k, valid = 0;
		for (unsigned long i = 0; i < b->nrec; i++) {
			buf_reset(&rec);
			if (i < dups) {
				put_record(&rec, o, prefix, prev_first + i, false);
			} else {
				bool invalid = i >= b->nrec - (ninv < b->nrec ? ninv : b->nrec);
				put_record(&rec, o, prefix, k++, invalid);
				valid += !invalid;
			}
			push_body_add(&b->body, i, rec.data, rec.len);
		}
		prev_first = first;
		prev_valid = valid;
		push_body_end(&b->body);
		if (!sig_make_headers(key, alg, o->key_id, (int64_t)time(NULL), "POST", PUSH_PATH, b->body.data,
				      b->body.len, &cd, &si, &sg)) {
			fputs("voucher-bench: cannot sign a batch\n", stderr);
			ok = false;
			break;
		}
		buf_printf(&b->hdrs,
			   "Content-Type: application/json\r\nContent-Digest: %s\r\n"
			   "Signature-Input: %s\r\nSignature: %s\r\n",
			   cd.data, si.data, sg.data);
		if (copy && !copy_rows(copy, o->provider, &b->body))
			ok = false;
	}
	buf_free(&cd);
	buf_free(&si);
	buf_free(&sg);
	buf_free(&rec);
	if (copy && fclose(copy) != 0 && ok) {
		fprintf(stderr, "voucher-bench: --copy-out %s: %s\n", o->copy_out, strerror(errno));
		ok = false;
	}
	return ok;
}

/* ------------------------------------------------------------ sending */

static void count_code(bench_t *x, int status, const char *code)
{
	for (int i = 0; i < x->ncodes; i++)
		if (x->codes[i].status == status && !strcmp(x->codes[i].code, code)) {
			x->codes[i].n++;
			return;
		}
	if (x->ncodes < MAX_CODES) {
		code_count_t *c = &x->codes[x->ncodes++];
		c->status = status;
		snprintf(c->code, sizeof c->code, "%s", code);
		c->n = 1;
	}
}

/* Counts one answer; true if the batch is done (no retry). */
static bool take_answer(bench_t *x, const push_resp_t *r)
{
	json_error_t e;
	json_t *a = json_loadb(r->body.data, r->body.len, 0, &e);
	const char *code = a ? json_string_value(json_object_get(a, "code")) : NULL;
	bool done = r->status != 503 && r->status != 429;
	pthread_mutex_lock(&x->mu);
	count_code(x, r->status, r->status == 200 ? "ok" : code ? code : "-");
	if (r->status == 200 && x->o.gap_ms) {
		int64_t now = wall_ms();
		if (x->last_ok_ms && now - x->last_ok_ms >= (int64_t)x->o.gap_ms && x->ngaps < MAX_GAPS) {
			x->gap_from[x->ngaps] = x->last_ok_ms;
			x->gap_to[x->ngaps++] = now;
		}
		if (now > x->last_ok_ms)
			x->last_ok_ms = now;
	}
	if (r->status == 200 && a) {
		x->accepted += (unsigned long)json_integer_value(json_object_get(a, "accepted"));
		x->duplicates += (unsigned long)json_integer_value(json_object_get(a, "duplicates"));
		x->rejected += (unsigned long)json_array_size(json_object_get(a, "rejected"));
	} else if (done) {
		x->failed++;
	} else {
		x->retries++;
	}
	pthread_mutex_unlock(&x->mu);
	json_decref(a);
	return done;
}

static void *sender(void *arg)
{
	bench_t *x = arg;
	const opts_t *o = &x->o;
	http_client_t http;
	char err[512];
	if (!http_client_init(&http, &x->url, o->cert, o->key, o->ca, (int)o->timeout_s, err, sizeof err)) {
		fprintf(stderr, "voucher-bench: %s\n", err);
		atomic_store(&x->stop, true);
		return NULL;
	}
	for (;;) {
		unsigned long bi = atomic_fetch_add(&x->next, 1);
		if (bi >= x->nbatches || x->stop || (o->stop_file && access(o->stop_file, F_OK) == 0))
			break;
		batch_t *b = &x->batches[bi];
		b->started = true;
		if (o->rate) {
			/* batch bi is due when the records before it have had their time */
			/* bi * batch_size <= 10^8 records: times 10^6 fits in int64 */
			int64_t due = x->t0_us + (int64_t)(bi * o->batch_size) * 1000000 / (int64_t)o->rate;
			int64_t now = mono_us();
			if (due > now)
				usleep((useconds_t)(due - now));
			else if (now - due > 10000)
				atomic_fetch_add(&x->late, 1);
		}
		for (unsigned long attempt = 0; attempt < o->attempts; attempt++) {
			push_resp_t resp;
			push_resp_init(&resp, false);
			http_client_fail_t fail;
			bool reused;
			int64_t t = mono_us();
			bool got = http_client_request(&http, "POST", PUSH_PATH, b->hdrs.data, b->body.data,
						       b->body.len, &resp, &fail, &reused, err, sizeof err);
			int64_t lat = mono_us() - t;
			bool done;
			if (got) {
				done = take_answer(x, &resp);
			} else {
				pthread_mutex_lock(&x->mu);
				count_code(x, 0, fail == PUSH_HTTP_FAIL_CONNECT ? "connect_failed" : "no_answer");
				done = fail == PUSH_HTTP_FAIL_FATAL || fail == PUSH_HTTP_FAIL_RESOLVE;
				if (done) {
					x->failed++;
					x->stop = true;
					fprintf(stderr, "voucher-bench: %s\n", err);
				} else {
					x->retries++;
				}
				pthread_mutex_unlock(&x->mu);
			}
			push_resp_free(&resp);
			x->lat_us[bi] = lat;
			if (done)
				break;
			if (attempt + 1 == o->attempts) {
				pthread_mutex_lock(&x->mu);
				x->failed++;
				pthread_mutex_unlock(&x->mu);
				break;
			}
			usleep(100000u * (unsigned)(attempt < 10 ? attempt + 1 : 10));
		}
	}
	http_client_free(&http);
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* the nearest-rank p-th percentile (1..100) of sorted values */
static int64_t pct(const int64_t *v, unsigned long n, unsigned long p)
{
	if (!n)
		return 0;
	unsigned long r = (p * n + 99) / 100; /* ceil(p/100 * n) */
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return v[r - 1];
}

/* microseconds as "<ms>.<tenths>" */
static const char *ms1(int64_t us, char out[32])
{
	snprintf(out, 32, "%" PRId64 ".%" PRId64, us / 1000, us % 1000 / 100);
	return out;
}

static void *progress(void *arg)
{
	bench_t *x = arg;
	while (!x->stop) {
		sleep(1);
		unsigned long sent = atomic_load(&x->next);
		if (sent > x->nbatches)
			sent = x->nbatches;
		fprintf(stderr, "voucher-bench: %" PRId64 " s, %lu of %lu batches started\n",
			(mono_us() - x->t0_us) / 1000000, sent, x->nbatches);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	bench_t x;
	memset(&x, 0, sizeof x);
	int rc = parse_args(argc, argv, &x.o);
	if (rc >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	char err[512];
	sig_alg_t alg;
	if (!sig_alg_parse(x.o.alg, &alg)) {
		fputs("voucher-bench: --alg must be ed25519 or sm2-sm3\n", stderr);
		return EXIT_USAGE;
	}
	if (!push_url_parse(x.o.url, &x.url, err, sizeof err)) {
		fprintf(stderr, "voucher-bench: --url: %s\n", err);
		return EXIT_USAGE;
	}
	EVP_PKEY *key = sig_load_private_file(x.o.sign_key, alg, err, sizeof err);
	if (!key) {
		fprintf(stderr, "voucher-bench: --sign-key: %s\n", err);
		return EXIT_USAGE;
	}
	pthread_mutex_init(&x.mu, NULL);
	if (!x.o.quiet)
		fprintf(stderr, "voucher-bench: building and signing %lu records in batches of %lu...\n", x.o.records,
			x.o.batch_size);
	bool built = build(&x, key, alg);
	EVP_PKEY_free(key);
	if (!built || x.o.no_send) {
		for (unsigned long i = 0; i < x.nbatches; i++) {
			buf_free(&x.batches[i].body);
			buf_free(&x.batches[i].hdrs);
		}
		free(x.batches);
		free(x.lat_us);
		return built ? 0 : EXIT_FAILED;
	}

	pthread_t *th = xcalloc(x.o.connections, sizeof *th);
	pthread_t prog;
	x.t0_us = mono_us();
	for (unsigned long i = 0; i < x.o.connections; i++)
		if (pthread_create(&th[i], NULL, sender, &x) != 0) {
			fputs("voucher-bench: cannot start a thread\n", stderr);
			return EXIT_FAILED;
		}
	bool have_prog = !x.o.quiet && pthread_create(&prog, NULL, progress, &x) == 0;
	for (unsigned long i = 0; i < x.o.connections; i++)
		pthread_join(th[i], NULL);
	int64_t elapsed = mono_us() - x.t0_us;
	atomic_store(&x.stop, true);
	if (have_prog)
		pthread_join(prog, NULL);

	/* the batches started (all, without --stop-file) */
	unsigned long nsent = 0, records_sent = 0;
	for (unsigned long i = 0; i < x.nbatches; i++)
		if (x.batches[i].started) {
			x.lat_us[nsent++] = x.lat_us[i];
			records_sent += x.batches[i].nrec;
		}
	qsort(x.lat_us, nsent, sizeof *x.lat_us, cmp_i64);
	if (elapsed < 1)
		elapsed = 1;
	char p50[32], p99[32], pmax[32];
	printf("result records=%lu batches=%lu connections=%lu batch_size=%lu seconds=%" PRId64 ".%03" PRId64 " "
	       "records_per_s=%" PRId64 " p50_ms=%s p99_ms=%s max_ms=%s accepted=%lu duplicates=%lu "
	       "rejected=%lu failed=%lu retries=%lu late=%lu\n",
	       records_sent, nsent, x.o.connections, x.o.batch_size, elapsed / 1000000, elapsed / 1000 % 1000,
	       (int64_t)records_sent * 1000000 / elapsed, ms1(pct(x.lat_us, nsent, 50), p50),
	       ms1(pct(x.lat_us, nsent, 99), p99), ms1(pct(x.lat_us, nsent, 100), pmax), x.accepted, x.duplicates,
	       x.rejected, x.failed, x.retries, (unsigned long)atomic_load(&x.late));
	for (int i = 0; i < x.ncodes; i++)
		printf("answers status=%d code=%s count=%lu\n", x.codes[i].status, x.codes[i].code, x.codes[i].n);
	for (int i = 0; i < x.ngaps; i++)
		printf("gap from=%" PRId64 ".%03" PRId64 " to=%" PRId64 ".%03" PRId64 " ms=%" PRId64 "\n",
		       x.gap_from[i] / 1000, x.gap_from[i] % 1000, x.gap_to[i] / 1000, x.gap_to[i] % 1000,
		       x.gap_to[i] - x.gap_from[i]);
	for (unsigned long i = 0; i < x.nbatches; i++) {
		buf_free(&x.batches[i].body);
		buf_free(&x.batches[i].hdrs);
	}
	free(x.batches);
	free(x.lat_us);
	free(th);
	pthread_mutex_destroy(&x.mu);
	return x.failed ? EXIT_FAILED : 0;
}
