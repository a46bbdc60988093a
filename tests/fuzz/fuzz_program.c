/* libFuzzer: the programme file parser (settlement/program). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "settlement/program.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	program_t p;
	char err[256] = "";
	memset(&p, 0, sizeof p);
	if (!program_parse((const char *)data, size, &p, err, sizeof err) && !err[0])
		abort(); /* a refusal always says why */
	return 0;
}
