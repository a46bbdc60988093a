/* libFuzzer: voucherd's configuration file reader (daemon/config). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0; /* fmemopen refuses an empty buffer */
	FILE *f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	char err[512] = "";
	config_t *c = config_read(f, "fuzz.conf", err, sizeof err);
	fclose(f);
	if (!c && !err[0])
		abort(); /* a refusal always names the problem */
	config_free(c);
	return 0;
}
