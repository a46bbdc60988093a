/* voucher-push: the providers' reference client.
 *
 * Signs usage batches (RFC 9530 Content-Digest + RFC 9421 signature, see
 * metering/sig.h), sends them to voucherd over mutual TLS, retries safely
 * (same batch id, same body) and prints one line per batch.  See usage().
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "client/http.h"
#include "client/push.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/validate.h"
#include "metering/sig.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define DEFAULT_BATCH_SIZE 1000ul
#define MAX_BATCH_SIZE 1000000ul
#define MAX_FILE_BYTES (1024ul * 1024 * 1024)

typedef struct opts {
	const char *url, *cert, *key, *ca, *sign_key, *key_id, *alg;
	const char *records, *provider, *batch_prefix;
	unsigned long batch_size;
	bool batch_size_set;
	unsigned long retries;
	unsigned long timeout_s;
	bool quiet, verbose;
	char **files;
	int nfiles;
} opts_t;

typedef struct ctx {
	opts_t o;
	push_url_t url;
	http_client_t http;
	EVP_PKEY *sign_key;
	sig_alg_t alg;
	unsigned long batches, ok, failed;
	unsigned long accepted, duplicates, rejected;
	bool stop; /* a failure no retry can mend: send nothing more */
} ctx_t;

static void usage(FILE *out)
{
	fputs("usage: voucher-push --url URL --cert CERT --key KEY --ca CA --sign-key PEM --key-id ID\n"
	      "                    [--alg ed25519|sm2-sm3] [options] FILE...\n"
	      "       voucher-push ... --records FILE.ndjson --provider CODE [--batch-size N]\n"
	      "                    [--batch-prefix P]\n"
	      "\n"
	      "Sends usage batches to voucherd (POST /v1/usage-batches) over mutual TLS, signed\n"
	      "with the provider's key, and prints one line per batch:\n"
	      "  batch <batch_id> status=<http> accepted=<n> duplicates=<n> rejected=<n>\n"
	      "    rejected index=<i> record_id=<id> code=<code> detail=\"...\"   (each record not stored)\n"
	      "  batch <batch_id> status=<http|none> code=<code> detail=\"...\"     (a batch that failed)\n"
	      "\n"
	      "  --url URL           https://host[:port] of voucherd (IPv6 as https://[::1]:8443)\n"
	      "  --cert CERT         client certificate chain (PEM) registered to the provider\n"
	      "  --key KEY           its private key (PEM, unencrypted)\n"
	      "  --ca CA             CA certificate(s) (PEM) that issued the server's certificate\n"
	      "  --sign-key PEM      batch signing key (PKCS#8 PEM); never printed\n"
	      "  --key-id ID         the signing key's id as registered (keyid)\n"
	      "  --alg ALG           ed25519 (default) or sm2-sm3\n"
	      "  FILE...             each file is one request body, sent byte for byte\n"
	      "  --records FILE      NDJSON, one record object per line, batched here\n"
	      "  --provider CODE     the provider code put in each body (required with --records)\n"
	      "  --batch-size N      records per batch (default 1000)\n"
	      "  --batch-prefix P    batch ids are P-000001, P-000002, ...; by default P is\n"
	      "                      <file stem>-<12 hex of SHA-256 of the file>-n<batch size>,\n"
	      "                      so running the same command again re-sends the same ids\n"
	      "  --retries N         retries per batch on connection errors, timeouts, 429, 500,\n"
	      "                      502, 503, 504 (default 8; backoff 0.5 s doubling to 30 s, or the\n"
	      "                      server's Retry-After up to 120 s)\n"
	      "  --timeout S         per request, connecting included (default 30)\n"
	      "  -q, --quiet         print only batches that failed or had records rejected\n"
	      "  -v, --verbose       log each request to stderr\n"
	      "  -h, --help          this text\n"
	      "\n"
	      "Exit status: 0 every batch was answered 200 (records may still have been rejected:\n"
	      "they are listed and were not stored), 1 a batch failed, 2 bad usage or unusable\n"
	      "input (nothing was sent).\n",
	      out);
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	char *e;
	unsigned long v = strtoul(s, &e, 10);
	if (errno || *e || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* 1..max printable ASCII, spaces allowed inside (not for ids). */
static bool header_safe(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (const char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	return true;
}

/* the long options of voucher-push beyond -q, -v, -h */
enum {
	O_URL = 256,
	O_CERT,
	O_KEY,
	O_CA,
	O_SIGN,
	O_KEYID,
	O_ALG,
	O_RECORDS,
	O_PROVIDER,
	O_SIZE,
	O_PREFIX,
	O_RETRIES,
	O_TIMEOUT
};

/* One option (getopt_long's c, its value in optarg) into o: -1 to go on,
 * else the exit status (0 after --help). */
static int take_option(opts_t *o, int c, char **argv)
{
	switch (c) {
	case O_URL: o->url = optarg; return -1;
	case O_CERT: o->cert = optarg; return -1;
	case O_KEY: o->key = optarg; return -1;
	case O_CA: o->ca = optarg; return -1;
	case O_SIGN: o->sign_key = optarg; return -1;
	case O_KEYID: o->key_id = optarg; return -1;
	case O_ALG: o->alg = optarg; return -1;
	case O_RECORDS: o->records = optarg; return -1;
	case O_PROVIDER: o->provider = optarg; return -1;
	case O_PREFIX: o->batch_prefix = optarg; return -1;
	case O_SIZE:
		if (!parse_ulong(optarg, 1, MAX_BATCH_SIZE, &o->batch_size)) {
			fprintf(stderr, "voucher-push: --batch-size must be 1-%lu\n", MAX_BATCH_SIZE);
			return EXIT_USAGE;
		}
		o->batch_size_set = true;
		return -1;
	case O_RETRIES:
		if (!parse_ulong(optarg, 0, 100, &o->retries)) {
			fputs("voucher-push: --retries must be 0-100\n", stderr);
			return EXIT_USAGE;
		}
		return -1;
	case O_TIMEOUT:
		if (!parse_ulong(optarg, 1, 3600, &o->timeout_s)) {
			fputs("voucher-push: --timeout must be 1-3600 seconds\n", stderr);
			return EXIT_USAGE;
		}
		return -1;
	case 'q': o->quiet = true; return -1;
	case 'v': o->verbose = true; return -1;
	case 'h': usage(stdout); return 0;
	default:
		if (optopt && optopt < 256)
			fprintf(stderr, "voucher-push: unknown option -%c\n", optopt);
		else if (optopt)
			fprintf(stderr, "voucher-push: option %s needs a value\n", argv[optind - 1]);
		else
			fprintf(stderr, "voucher-push: unknown option %s\n", argv[optind - 1]);
		fputs("try voucher-push --help\n", stderr);
		return EXIT_USAGE;
	}
}

/* the options together: what is required, what goes with what */
static int check_options(opts_t *o)
{
	static const char *const need[] = {"--url", "--cert", "--key", "--ca", "--sign-key", "--key-id"};
	const char *have[] = {o->url, o->cert, o->key, o->ca, o->sign_key, o->key_id};
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
		if (!have[i] || !*have[i]) {
			fprintf(stderr, "voucher-push: %s is required (try --help)\n", need[i]);
			return EXIT_USAGE;
		}
	}
	if (!printable_id(o->key_id, 128)) {
		fputs("voucher-push: --key-id must be 1-128 printable ASCII characters\n", stderr);
		return EXIT_USAGE;
	}
	if (o->records && o->nfiles) {
		fputs("voucher-push: give either FILE... or --records FILE, not both\n", stderr);
		return EXIT_USAGE;
	}
	if (!o->records && !o->nfiles) {
		fputs("voucher-push: nothing to send: give FILE... or --records FILE (try --help)\n", stderr);
		return EXIT_USAGE;
	}
	if (o->records) {
		if (!o->provider || !printable_id(o->provider, 64)) {
			fputs("voucher-push: --records needs --provider CODE (1-64 printable ASCII)\n", stderr);
			return EXIT_USAGE;
		}
		if (o->batch_prefix && !header_safe(o->batch_prefix, PUSH_MAX_BATCH_ID)) {
			fputs("voucher-push: --batch-prefix must be printable ASCII\n", stderr);
			return EXIT_USAGE;
		}
	} else if (o->provider || o->batch_size_set || o->batch_prefix) {
		fputs("voucher-push: --provider, --batch-size and --batch-prefix go with --records\n", stderr);
		return EXIT_USAGE;
	}
	return -1;
}

static int parse_args(int argc, char **argv, opts_t *o)
{
	static const struct option longs[] = {
		{"url", required_argument, NULL, O_URL},
		{"cert", required_argument, NULL, O_CERT},
		{"key", required_argument, NULL, O_KEY},
		{"ca", required_argument, NULL, O_CA},
		{"sign-key", required_argument, NULL, O_SIGN},
		{"key-id", required_argument, NULL, O_KEYID},
		{"alg", required_argument, NULL, O_ALG},
		{"records", required_argument, NULL, O_RECORDS},
		{"provider", required_argument, NULL, O_PROVIDER},
		{"batch-size", required_argument, NULL, O_SIZE},
		{"batch-prefix", required_argument, NULL, O_PREFIX},
		{"retries", required_argument, NULL, O_RETRIES},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->alg = "ed25519";
	o->batch_size = DEFAULT_BATCH_SIZE;
	o->retries = 8;
	o->timeout_s = 30;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qvh", longs, NULL)) != -1) {
		int rc = take_option(o, c, argv);
		if (rc >= 0)
			return rc;
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	return check_options(o);
}

/* ------------------------------------------------------------------------ */

static void out_line(ctx_t *x, const buf_t *b)
{
	(void)x;
	fwrite(b->data, 1, b->len, stdout);
	fflush(stdout);
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double jitter(void)
{
	uint32_t r;
	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		return 0.5;
	return (double)r / 4294967296.0;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A failure line: batch <id> status=<s> code=<code> detail="..." [attempts=n] */
static void report_failure(ctx_t *x, const char *batch_id, int status, const char *code, const char *detail,
			   unsigned attempts)
{
	buf_t b = BUF_INIT;
	buf_puts(&b, "batch ");
	push_token(&b, batch_id);
	if (status > 0)
		buf_printf(&b, " status=%d", status);
	else
		buf_puts(&b, " status=none");
	buf_puts(&b, " code=");
	push_token(&b, code ? code : "-");
	buf_puts(&b, " detail=");
	push_quote(&b, detail ? detail : "", 400);
	if (attempts > 1)
		buf_printf(&b, " attempts=%u", attempts);
	buf_putc(&b, '\n');
	out_line(x, &b);
	buf_free(&b);
	x->failed++;
}

/* An error answer (problem+json, or anything else). */
static void report_error_answer(ctx_t *x, const char *batch_id, const push_resp_t *resp, unsigned attempts)
{
	json_t *j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
	const char *code = json_is_object(j) ? jstr(j, "code") : NULL;
	const char *detail = json_is_object(j) ? jstr(j, "detail") : NULL;
	if (!detail && json_is_object(j))
		detail = jstr(j, "title");
	char fallback[200];
	if (!detail) {
		/* not problem+json: show the start of whatever came */
		size_t n = resp->body.len < 120 ? resp->body.len : 120;
		snprintf(fallback, sizeof fallback, "HTTP %d; body: %.*s%s", resp->status, (int)n,
			 resp->body.data ? resp->body.data : "", resp->body.len > n ? "..." : "");
		detail = fallback;
	}
	report_failure(x, batch_id, resp->status, code, detail, attempts);
	if (resp->status == 409)
		fprintf(stderr,
			"voucher-push: batch id %s was already used for a different body; a batch id must "
			"never be reused for other content (use another --batch-prefix)\n",
			batch_id);
	json_decref(j);
}

static bool json_count(json_t *o, const char *k, json_int_t *v)
{
	json_t *n = json_object_get(o, k);
	if (!json_is_integer(n) || json_integer_value(n) < 0)
		return false;
	*v = json_integer_value(n);
	return true;
}

/* Reports a 200 answer (of the POST, or of the GET that looked the batch up).
 * false if the answer cannot be understood. */
static bool report_answer(ctx_t *x, const char *batch_id, const push_resp_t *resp, const char *our_digest,
			  bool looked_up, unsigned attempts)
{
	json_error_t je;
	json_t *j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, &je);
	json_t *a = j;
	char why[200] = "";
	json_int_t acc = 0, dup = 0;
	json_t *rej = NULL;
	if (!json_is_object(j)) {
		snprintf(why, sizeof why, "the 200 answer is not a JSON object");
		goto bad;
	}
	/* a looked-up batch may wrap the answer */
	if (json_is_object(json_object_get(j, "answer")))
		a = json_object_get(j, "answer");
	if (looked_up && our_digest) {
		const char *d = jstr(j, "content_digest");
		if (!d)
			d = jstr(j, "digest");
		if (d && strcmp(d, our_digest) != 0 && !strstr(our_digest, d)) {
			fprintf(stderr, "voucher-push: batch id %s is stored with another digest than this body's\n",
				batch_id);
			report_failure(x, batch_id, 409, "batch_conflict",
				       "this batch id is stored with a different body", attempts);
			json_decref(j);
			return true;
		}
	}
	const char *bid = jstr(a, "batch_id");
	if (!bid)
		bid = jstr(j, "batch_id");
	rej = json_object_get(a, "rejected");
	if (!json_count(a, "accepted", &acc) || !json_count(a, "duplicates", &dup) || (rej && !json_is_array(rej))) {
		snprintf(why, sizeof why, "the 200 answer lacks accepted/duplicates/rejected");
		goto bad;
	}
	if (bid && strcmp(bid, batch_id) != 0) {
		snprintf(why, sizeof why, "the answer is for another batch id");
		goto bad;
	}
	size_t nrej = json_array_size(rej);
	x->ok++;
	x->accepted += (unsigned long)acc;
	x->duplicates += (unsigned long)dup;
	x->rejected += nrej;
	if (!x->o.quiet || nrej) {
		buf_t b = BUF_INIT;
		buf_puts(&b, "batch ");
		push_token(&b, batch_id);
		buf_printf(&b,
			   " status=%d accepted=%" JSON_INTEGER_FORMAT " duplicates=%" JSON_INTEGER_FORMAT
			   " rejected=%zu",
			   resp->status, acc, dup, nrej);
		if (looked_up)
			buf_puts(&b, " (answer looked up after a lost response)");
		buf_putc(&b, '\n');
		for (size_t i = 0; i < nrej; i++) {
			json_t *r = json_array_get(rej, i);
			json_t *idx = json_object_get(r, "index");
			buf_puts(&b, "  rejected index=");
			if (json_is_integer(idx))
				buf_printf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(idx));
			else
				buf_putc(&b, '-');
			buf_puts(&b, " record_id=");
			push_token(&b, jstr(r, "record_id"));
			buf_puts(&b, " code=");
			push_token(&b, jstr(r, "code"));
			buf_puts(&b, " detail=");
			const char *d = jstr(r, "detail");
			push_quote(&b, d ? d : "", 400);
			buf_putc(&b, '\n');
		}
		out_line(x, &b);
		buf_free(&b);
	}
	json_decref(j);
	return true;
bad:
	json_decref(j);
	report_failure(x, batch_id, resp->status, "bad_answer", why, attempts);
	return false;
}

/* A retryable answer status: overload (429, 503), a gateway that lost the
 * backend (502, 504), or a server error that stored nothing (500: voucherd
 * answers it only when the transaction failed as a whole). */
static bool retryable_status(int s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

typedef enum { STEP_DONE, STEP_RETRY, STEP_RETRY_NOW } step_t;

/* GET /v1/usage-batches/{id}: was the batch stored before its answer got
 * lost?  STEP_DONE: reported (stored, or a hard failure); STEP_RETRY_NOW:
 * not stored (or cannot tell), send it; STEP_RETRY: try the look-up again
 * after a delay (*ra set if the server asked for one). */
static step_t look_up(ctx_t *x, const char *batch_id, const char *digest, unsigned attempts, char *last, size_t lastlen,
		      bool *have_ra, uint32_t *ra)
{
	buf_t path = BUF_INIT;
	buf_puts(&path, PUSH_PATH "/");
	push_path_segment(&path, batch_id);
	push_resp_t resp;
	push_resp_init(&resp, false);
	http_client_fail_t fail;
	bool reused;
	char err[256];
	step_t st = STEP_RETRY;
	log_debug("request", "method=GET batch=%s", log_q(batch_id));
	if (!http_client_request(&x->http, "GET", path.data, "", NULL, 0, &resp, &fail, &reused, err, sizeof err)) {
		log_warn("lookup_failed", "batch=%s error=%s", log_q(batch_id), log_q(err));
		snprintf(last, lastlen, "%s", err);
		if (fail == PUSH_HTTP_FAIL_FATAL || fail == PUSH_HTTP_FAIL_RESOLVE) {
			report_failure(x, batch_id, 0, fail == PUSH_HTTP_FAIL_FATAL ? "tls" : "unresolvable", err,
				       attempts);
			x->stop = true;
			st = STEP_DONE;
		}
	} else if (resp.status == 200) {
		report_answer(x, batch_id, &resp, digest, true, attempts);
		st = STEP_DONE;
	} else if (resp.status == 404) {
		log_info("lookup", "batch=%s stored=no", log_q(batch_id));
		st = STEP_RETRY_NOW;
	} else if (retryable_status(resp.status)) {
		*have_ra = push_retry_after_parse(push_resp_header(&resp, "retry-after"), time(NULL), ra);
		snprintf(last, lastlen, "look-up answered HTTP %d", resp.status);
	} else {
		/* cannot tell: re-sending is still safe (same id, same digest) */
		log_warn("lookup_unusable", "batch=%s status=%d", log_q(batch_id), resp.status);
		st = STEP_RETRY_NOW;
	}
	push_resp_free(&resp);
	buf_free(&path);
	return st;
}

/* one batch's sending, across its attempts */
typedef struct sending {
	const char *batch_id;
	const char *body;
	size_t len;
	buf_t cd, si, sg, hdrs; /* its headers, signed again for each POST */
	unsigned retry;         /* retries used */
	bool check_first;       /* an earlier attempt may have been stored */
	bool stale_retried;
	char last[300];
	const char *last_code;
	int last_status;
	push_resp_t last_resp; /* the last retryable answer */
	bool have_last_resp;
	bool have_ra; /* the server asked for this delay */
	uint32_t ra;
} sending_t;

/* A POST that got no answer: STEP_DONE after reporting a failure that
 * retrying cannot mend, STEP_RETRY_NOW for a kept-alive connection the
 * server dropped (once), else STEP_RETRY. */
static step_t post_failed(ctx_t *x, sending_t *sd, http_client_fail_t fail, bool reused, bool got_bytes,
			  const char *err)
{
	snprintf(sd->last, sizeof sd->last, "%s", err);
	sd->last_status = 0;
	sd->last_code = fail == PUSH_HTTP_FAIL_CONNECT ? "unreachable"
			: fail == PUSH_HTTP_FAIL_SEND  ? "send_failed"
						       : "no_answer";
	if (fail == PUSH_HTTP_FAIL_FATAL || fail == PUSH_HTTP_FAIL_RESOLVE) {
		report_failure(x, sd->batch_id, 0, fail == PUSH_HTTP_FAIL_FATAL ? "tls" : "unresolvable", err,
			       sd->retry + 1);
		x->stop = true;
		return STEP_DONE;
	}
	if (fail == PUSH_HTTP_FAIL_RECV)
		sd->check_first = true;
	/* a kept-alive connection the server dropped: once, at once */
	if (reused && !got_bytes && !sd->stale_retried) {
		sd->stale_retried = true;
		log_info("reconnect", "batch=%s reason=%s", log_q(sd->batch_id), log_q(err));
		return STEP_RETRY_NOW;
	}
	log_warn("send_failed", "batch=%s error=%s", log_q(sd->batch_id), log_q(err));
	return STEP_RETRY;
}

/* An answer: 200 and the final refusals are reported (STEP_DONE); 429, 500,
 * 502, 503, 504 are kept for a retry (STEP_RETRY).  Takes resp. */
static step_t post_answered(ctx_t *x, sending_t *sd, push_resp_t *resp)
{
	sd->check_first = false;
	if (resp->status == 200) {
		report_answer(x, sd->batch_id, resp, NULL, false, sd->retry + 1);
		push_resp_free(resp);
		return STEP_DONE;
	}
	if (!retryable_status(resp->status)) {
		report_error_answer(x, sd->batch_id, resp, sd->retry + 1);
		push_resp_free(resp);
		return STEP_DONE;
	}
	sd->have_ra = push_retry_after_parse(push_resp_header(resp, "retry-after"), time(NULL), &sd->ra);
	if (resp->status == 502 || resp->status == 504)
		sd->check_first = true; /* a gateway may have lost a stored batch's answer */
	sd->last_status = resp->status;
	push_resp_free(&sd->last_resp);
	sd->last_resp = *resp;
	sd->have_last_resp = true;
	json_t *pj = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
	log_warn("busy", "batch=%s status=%d code=%s", log_q(sd->batch_id), resp->status,
		 log_q(json_is_object(pj) ? jstr(pj, "code") : NULL));
	json_decref(pj);
	return STEP_RETRY;
}

/* One POST of the batch, signed now. */
static step_t post_attempt(ctx_t *x, sending_t *sd)
{
	if (!sig_make_headers(x->sign_key, x->alg, x->o.key_id, (int64_t)time(NULL), "POST", PUSH_PATH, sd->body,
			      sd->len, &sd->cd, &sd->si, &sd->sg)) {
		report_failure(x, sd->batch_id, 0, "signing", "cannot sign the batch", sd->retry + 1);
		return STEP_DONE;
	}
	buf_reset(&sd->hdrs);
	buf_printf(&sd->hdrs,
		   "Content-Type: application/json\r\nContent-Digest: %s\r\n"
		   "Signature-Input: %s\r\nSignature: %s\r\n",
		   sd->cd.data, sd->si.data, sd->sg.data);
	push_resp_t resp;
	push_resp_init(&resp, false);
	http_client_fail_t fail;
	bool reused;
	char err[256];
	log_debug("request", "method=POST batch=%s bytes=%zu attempt=%u", log_q(sd->batch_id), sd->len, sd->retry + 1);
	if (!http_client_request(&x->http, "POST", PUSH_PATH, sd->hdrs.data, sd->body, sd->len, &resp, &fail, &reused,
				 err, sizeof err)) {
		bool got_bytes = resp.got_bytes;
		push_resp_free(&resp);
		return post_failed(x, sd, fail, reused, got_bytes, err);
	}
	return post_answered(x, sd, &resp);
}

/* Before sending again after an attempt that may have been stored: the
 * look-up. */
static step_t lookup_attempt(ctx_t *x, sending_t *sd)
{
	/* the digest is what the look-up may be compared against */
	if (!sd->cd.len) {
		char d[64];
		sig_content_digest(sd->body, sd->len, d, sizeof d);
		buf_puts(&sd->cd, d);
	}
	step_t st =
		look_up(x, sd->batch_id, sd->cd.data, sd->retry + 1, sd->last, sizeof sd->last, &sd->have_ra, &sd->ra);
	if (st == STEP_RETRY_NOW)
		sd->check_first = false;
	else if (st == STEP_RETRY)
		sd->last_status = 0;
	return st;
}

/* After a failed attempt: false after reporting the batch failed (retries
 * used up), else true after the delay. */
static bool back_off(ctx_t *x, sending_t *sd)
{
	if (sd->retry >= x->o.retries) {
		if (sd->last_status && sd->have_last_resp)
			report_error_answer(x, sd->batch_id, &sd->last_resp, sd->retry + 1);
		else
			report_failure(x, sd->batch_id, 0, sd->last_code, sd->last, sd->retry + 1);
		return false;
	}
	uint32_t ms = push_retry_delay_ms(sd->retry, jitter(), sd->have_ra, sd->ra);
	log_warn("retry", "batch=%s retry=%u/%lu delay_ms=%" PRIu32, log_q(sd->batch_id), sd->retry + 1, x->o.retries,
		 ms);
	sleep_ms(ms);
	sd->retry++;
	return true;
}

/* Sends one batch until it is answered or the retries are used up; prints its line. */
static void send_batch(ctx_t *x, const char *batch_id, const char *body, size_t len)
{
	sending_t sd = {.batch_id = batch_id,
			.body = body,
			.len = len,
			.cd = BUF_INIT,
			.si = BUF_INIT,
			.sg = BUF_INIT,
			.hdrs = BUF_INIT,
			.last_code = "unreachable"};
	x->batches++;
	push_resp_init(&sd.last_resp, false);
	for (;;) {
		sd.have_ra = false;
		sd.ra = 0;
		step_t st = sd.check_first ? lookup_attempt(x, &sd) : post_attempt(x, &sd);
		if (st == STEP_DONE || (st == STEP_RETRY && !back_off(x, &sd)))
			break;
	}
	push_resp_free(&sd.last_resp);
	buf_free(&sd.cd);
	buf_free(&sd.si);
	buf_free(&sd.sg);
	buf_free(&sd.hdrs);
}

/* ------------------------------------------------------------------------ */
/* Inputs                                                                   */

static bool read_file(const char *path, buf_t *out, char *err, size_t errlen)
{
	buf_reset(out);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
		if (out->len + n > MAX_FILE_BYTES) {
			snprintf(err, errlen, "%s: larger than %lu bytes", path, MAX_FILE_BYTES);
			fclose(f);
			return false;
		}
		buf_append(out, tmp, n);
	}
	bool ok = !ferror(f);
	if (!ok)
		snprintf(err, errlen, "%s: read error", path);
	fclose(f);
	if (ok && out->len == 0) {
		snprintf(err, errlen, "%s: empty file", path);
		ok = false;
	}
	return ok;
}

/* The batch_id of a request body, checked as the server would. */
static bool body_batch_id(const char *path, const buf_t *body, char *id, size_t idlen, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(body->data, body->len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(err, errlen, "%s: not a JSON batch body: %s (line %d)", path, je.text, je.line);
		return false;
	}
	const char *bid = json_is_object(j) ? jstr(j, "batch_id") : NULL;
	bool ok = bid && printable_id(bid, PUSH_MAX_BATCH_ID) && strlen(bid) < idlen &&
		  json_is_array(json_object_get(j, "records"));
	if (ok)
		strcpy(id, bid);
	else
		snprintf(err, errlen,
			 "%s: not a batch body (an object with a batch_id of 1-64 printable ASCII "
			 "characters and a records array)",
			 path);
	json_decref(j);
	return ok;
}

static int run_files(ctx_t *x)
{
	buf_t body = BUF_INIT;
	char id[PUSH_MAX_BATCH_ID + 1], err[512];
	/* check everything before sending anything */
	for (int i = 0; i < x->o.nfiles; i++) {
		if (!read_file(x->o.files[i], &body, err, sizeof err) ||
		    !body_batch_id(x->o.files[i], &body, id, sizeof id, err, sizeof err)) {
			fprintf(stderr, "voucher-push: %s; nothing was sent\n", err);
			buf_free(&body);
			return EXIT_USAGE;
		}
	}
	for (int i = 0; i < x->o.nfiles && !x->stop; i++) {
		if (!read_file(x->o.files[i], &body, err, sizeof err) ||
		    !body_batch_id(x->o.files[i], &body, id, sizeof id, err, sizeof err)) {
			fprintf(stderr, "voucher-push: %s\n", err);
			x->batches++;
			x->failed++;
			continue;
		}
		send_batch(x, id, body.data, body.len);
	}
	buf_free(&body);
	return 0;
}

/* Pass 1 of --records: every line a record; the count and the file's
 * SHA-256.  -1 to go on, else the exit status (f is left open). */
static int records_count(FILE *f, const char *path, unsigned long *nrec, uint8_t sha[32])
{
	char err[512];
	push_ndjson_t r;
	const char *rec;
	size_t len;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		fputs("voucher-push: cannot compute SHA-256\n", stderr);
		EVP_MD_CTX_free(md);
		return EXIT_FAILED;
	}
	push_ndjson_init(&r, f, md);
	bool ok;
	while ((ok = push_ndjson_next(&r, &rec, &len, err, sizeof err)) && rec)
		;
	*nrec = r.nrec;
	push_ndjson_free(&r);
	unsigned int shalen = 0;
	bool hashed = EVP_DigestFinal_ex(md, sha, &shalen) == 1 && shalen == 32;
	EVP_MD_CTX_free(md);
	if (!ok) {
		fprintf(stderr, "voucher-push: %s: %s; nothing was sent\n", path, err);
		return EXIT_USAGE;
	}
	if (!hashed) {
		fputs("voucher-push: cannot compute SHA-256\n", stderr);
		return EXIT_FAILED;
	}
	if (*nrec == 0) {
		fprintf(stderr, "voucher-push: %s: no records; nothing to send\n", path);
		return 0;
	}
	return -1;
}

/* The batch ids' prefix: --batch-prefix, or derived from the file; checked
 * for the last batch's id.  -1 to go on, else the exit status. */
static int records_prefix(ctx_t *x, const char *path, unsigned long nrec, const uint8_t sha[32], char *prefix,
			  size_t prefixlen)
{
	unsigned long size = x->o.batch_size;
	unsigned long nbatches = nrec / size + (nrec % size != 0);
	char id[PUSH_MAX_BATCH_ID + 1];
	if (x->o.batch_prefix) {
		snprintf(prefix, prefixlen, "%s", x->o.batch_prefix);
	} else if (!push_default_prefix(path, sha, size, push_seq_digits(nrec, size), prefix, prefixlen)) {
		fputs("voucher-push: cannot derive batch ids; give --batch-prefix\n", stderr);
		return EXIT_USAGE;
	}
	if (!push_batch_id(prefix, nbatches, id, sizeof id)) {
		fprintf(stderr,
			"voucher-push: --batch-prefix too long: batch ids (\"%s-%06lu\") must be at most "
			"%d printable ASCII characters\n",
			prefix, nbatches, PUSH_MAX_BATCH_ID);
		return EXIT_USAGE;
	}
	log_info("records", "file=%s records=%lu batches=%lu prefix=%s", log_q(path), nrec, nbatches, log_q(prefix));
	return -1;
}

/* Pass 2 of --records: batch and send, checking that the file is what pass
 * 1 counted.  Returns the exit status. */
static int records_send(ctx_t *x, FILE *f, const char *path, unsigned long nrec, const char *prefix)
{
	char err[512], id[PUSH_MAX_BATCH_ID + 1];
	push_ndjson_t r;
	const char *rec;
	size_t len;
	int rc = 0;
	buf_t body = BUF_INIT;
	unsigned long size = x->o.batch_size;
	push_ndjson_init(&r, f, NULL);
	unsigned long seq = 0;
	size_t in_batch = 0;
	while (!x->stop) {
		if (!push_ndjson_next(&r, &rec, &len, err, sizeof err)) {
			fprintf(stderr, "voucher-push: %s changed while being sent: %s\n", path, err);
			rc = EXIT_FAILED;
			break;
		}
		if (rec) {
			if (in_batch == 0) {
				seq++;
				if (!push_batch_id(prefix, seq, id, sizeof id)) {
					fprintf(stderr, "voucher-push: %s changed while being sent\n", path);
					rc = EXIT_FAILED;
					break;
				}
				push_body_begin(&body, id, x->o.provider);
			}
			push_body_add(&body, in_batch, rec, len);
			in_batch++;
		}
		if (in_batch && (in_batch == size || !rec)) {
			push_body_end(&body);
			send_batch(x, id, body.data, body.len);
			in_batch = 0;
		}
		if (!rec)
			break;
	}
	if (!x->stop && r.nrec != nrec && rc == 0) {
		fprintf(stderr, "voucher-push: %s changed while being sent (%lu records, then %lu)\n", path, nrec,
			r.nrec);
		rc = EXIT_FAILED;
	}
	push_ndjson_free(&r);
	buf_free(&body);
	return rc;
}

static int run_records(ctx_t *x)
{
	const char *path = x->o.records;
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "voucher-push: %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	unsigned long nrec = 0;
	uint8_t sha[32];
	char prefix[PUSH_MAX_BATCH_ID + 1];
	int rc = records_count(f, path, &nrec, sha);
	if (rc < 0)
		rc = records_prefix(x, path, nrec, sha, prefix, sizeof prefix);
	if (rc < 0 && fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "voucher-push: %s: cannot rewind: %s\n", path, strerror(errno));
		rc = EXIT_FAILED;
	}
	if (rc < 0) {
		clearerr(f);
		rc = records_send(x, f, path, nrec, prefix);
	}
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	ctx_t x;
	memset(&x, 0, sizeof x);
	int rc = parse_args(argc, argv, &x.o);
	if (rc >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	log_set_level(x.o.quiet ? LOG_ERROR : x.o.verbose ? LOG_DEBUG : LOG_WARN);

	char err[512];
	if (!sig_alg_parse(x.o.alg, &x.alg)) {
		fputs("voucher-push: --alg must be ed25519 or sm2-sm3\n", stderr);
		return EXIT_USAGE;
	}
	if (!push_url_parse(x.o.url, &x.url, err, sizeof err)) {
		fprintf(stderr, "voucher-push: --url: %s\n", err);
		return EXIT_USAGE;
	}
	x.sign_key = sig_load_private_file(x.o.sign_key, x.alg, err, sizeof err);
	if (!x.sign_key) {
		fprintf(stderr, "voucher-push: --sign-key: %s\n", err);
		return EXIT_USAGE;
	}
	if (!http_client_init(&x.http, &x.url, x.o.cert, x.o.key, x.o.ca, (int)x.o.timeout_s, err, sizeof err)) {
		fprintf(stderr, "voucher-push: %s\n", err);
		EVP_PKEY_free(x.sign_key);
		return EXIT_USAGE;
	}

	rc = x.o.records ? run_records(&x) : run_files(&x);

	http_client_free(&x.http);
	EVP_PKEY_free(x.sign_key);
	if (rc == EXIT_USAGE)
		return rc;
	if (x.stop)
		fputs("voucher-push: stopped at a failure that retrying cannot mend (see above); "
		      "nothing more was sent\n",
		      stderr);
	if (!x.o.quiet && x.batches) {
		fprintf(stderr,
			"voucher-push: %lu batch%s: %lu answered 200, %lu failed; records: %lu accepted, "
			"%lu duplicates, %lu rejected\n",
			x.batches, x.batches == 1 ? "" : "es", x.ok, x.failed, x.accepted, x.duplicates, x.rejected);
	}
	if (x.rejected && !x.failed && !x.stop && rc == 0)
		fprintf(stderr,
			"voucher-push: every batch was answered 200, but %lu record%s rejected and NOT "
			"stored (listed above); correct and send them again\n",
			x.rejected, x.rejected == 1 ? " was" : "s were");
	if (rc == 0 && (x.failed || x.stop))
		rc = EXIT_FAILED;
	return rc;
}
