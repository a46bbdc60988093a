/* libFuzzer: the RFC 4180 CSV reader (common/csv), as voucherctl enterprise
 * import uses it on the bureau's file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so that ASan sees any read past the end */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	csv_t c;
	csv_init(&c, text, size);
	csv_rec_t r = CSV_REC_INIT;
	long last = 0;
	for (;;) {
		char err[256] = "";
		const char *before = c.p;
		int got = csv_next(&c, &r, err, sizeof err);
		if (got == 0)
			break;
		if (got < 0) {
			if (!err[0])
				abort(); /* a refusal always says why */
			if (c.p == before && c.p < c.end)
				abort(); /* no progress: an endless loop */
			continue;
		}
		if (r.n < 1 || r.n > CSV_MAX_FIELDS || r.line < 1 || r.line < last)
			abort();
		last = r.line;
		for (int i = 0; i < r.n; i++)
			if (strlen(csv_field(&r, i)) > size)
				abort();
		if (c.p == before)
			abort();
	}
	csv_rec_free(&r);
	free(text);
	return 0;
}
