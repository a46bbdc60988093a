/* make bench-parse: parsing one batch body of 1,000 records (~320 KB), the
 * voucherd hot path, beside jansson loading the same bytes (what
 * meter_batch_parse used before metering/json).  Prints the median of 9 runs
 * of 50 parses each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/validate.h"
#include "metering/batch.h"
#include "metering/json.h"

#define ROUNDS 9
#define PER_ROUND 50

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

enum { JANSSON, MJ_PARSE, BATCH_PARSE };

static double median_ms(const buf_t *body, int what)
{
	meter_limits_t lim = {.max_records = 100000, .now_us = (int64_t)time(NULL) * 1000000, .clock_skew_s = 300};
	double t[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_s();
		for (int i = 0; i < PER_ROUND; i++) {
			if (what == JANSSON) {
				json_error_t e;
				json_t *j = json_loadb(body->data, body->len, JSON_REJECT_DUPLICATES, &e);
				if (!j)
					abort();
				json_decref(j);
			} else if (what == MJ_PARSE) {
				mj_doc_t *d = mj_parse(body->data, body->len, NULL);
				if (!d)
					abort();
				mj_free(d);
			} else {
				meter_batch_t b;
				const char *code;
				char err[256];
				if (!meter_batch_parse(body->data, body->len, &lim, &b, &code, err, sizeof err) ||
				    b.n_valid != 1000)
					abort();
				meter_batch_free(&b);
			}
		}
		t[r] = (now_s() - t0) / PER_ROUND * 1e3;
	}
	qsort(t, ROUNDS, sizeof t[0], cmp_d);
	return t[ROUNDS / 2];
}

int main(void)
{
	buf_t b = BUF_INIT;
	buf_puts(&b, "{\"batch_id\":\"b1\",\"provider\":\"p\",\"records\":[");
	for (int k = 0; k < 1000; k++) {
		char ent[19];
		snprintf(ent, sizeof ent, "91330106%09d", k);
		ent[17] = uscc_check_char(ent);
		ent[18] = '\0';
		buf_printf(&b,
			   "%s{\"record_id\":\"bench-r%d\",\"enterprise\":\"%s\",\"facility\":\"f1\","
			   "\"category\":\"model_service\",\"purpose\":\"inference\",\"quantity\":\"%d.5\","
			   "\"unit\":\"tokens\",\"amount_fen\":%d,\"started_at\":\"2026-09-01T00:00:00.000000Z\","
			   "\"ended_at\":\"2026-09-01T00:01:00.000000Z\",\"contract_id\":\"C-%d\","
			   "\"invoice_no\":\"%020d\"}",
			   k ? "," : "", k, ent, k, k * 7, k, k);
	}
	buf_puts(&b, "]}");
	printf("body: 1000 records, %zu bytes; median of %d rounds of %d\n", b.len, ROUNDS, PER_ROUND);
	double j = median_ms(&b, JANSSON), m = median_ms(&b, MJ_PARSE), p = median_ms(&b, BATCH_PARSE);
	printf("jansson json_loadb (JSON_REJECT_DUPLICATES): %.2f ms\n", j);
	printf("metering/json mj_parse:                      %.2f ms (%.1fx faster)\n", m, j / m);
	printf("meter_batch_parse (parse, validate, hash):   %.2f ms\n", p);
	buf_free(&b);
	return 0;
}
