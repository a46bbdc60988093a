/* libFuzzer: the record field validators (common/validate), with their
 * round-trip properties: a normalized decimal is valid and normalizes to
 * itself; a parsed RFC 3339 time formats to a string that parses to the
 * same instant; a valid credit code has its own check character. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (uscc_valid(s) && (strlen(s) != 18 || uscc_check_char(s) != s[17]))
		abort();
	division_valid(s);
	printable_id(s, 64);
	text_field(s, 64);
	invoice_no_valid(s);
	for (int neg = 0; neg < 2; neg++) {
		char norm[64], again[64];
		if (decimal_valid(s, 6, neg) && decimal_normalize(s, 6, norm, sizeof norm)) {
			if (!decimal_valid(norm, 6, true) || !decimal_normalize(norm, 6, again, sizeof again) ||
			    strcmp(norm, again) != 0)
				abort();
		}
	}
	int64_t us, us2;
	if (rfc3339_parse(s, &us)) {
		char out[40];
		rfc3339_format_utc(us, out, sizeof out);
		if (!rfc3339_parse(out, &us2) || us2 != us)
			abort();
	}
	free(s);
	return 0;
}
