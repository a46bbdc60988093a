/* libFuzzer: a POST body through the daemon's parser and record rules
 * (metering/json, metering/batch), and the column arrays built from it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metering/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	meter_limits_t lim = {.max_records = 10000, .now_us = INT64_C(1790000000) * 1000000, .clock_skew_s = 300};
	meter_batch_t b;
	const char *code = NULL;
	char err[256];
	if (!meter_batch_parse(data, size, &lim, &b, &code, err, sizeof err)) {
		if (!code || !err[0] || strchr(err, '\n'))
			abort(); /* a refusal always has a code and a one-line message */
		return 0;
	}
	size_t valid = 0;
	for (size_t i = 0; i < b.n; i++) {
		const meter_record_t *r = &b.recs[i];
		if (r->reject_code && !r->reject_detail[0])
			abort();
		valid += !r->reject_code && !r->duplicate_in_batch;
	}
	if (valid != b.n_valid)
		abort();
	buf_t cols[METER_NCOLS];
	for (int c = 0; c < METER_NCOLS; c++)
		cols[c] = (buf_t)BUF_INIT;
	meter_batch_columns(&b, cols);
	buf_t rej = BUF_INIT;
	meter_batch_rejected_json(&b, &rej);
	for (int c = 0; c < METER_NCOLS; c++)
		buf_free(&cols[c]);
	buf_free(&rej);
	meter_batch_free(&b);
	return 0;
}
