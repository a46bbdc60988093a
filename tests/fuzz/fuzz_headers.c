/* libFuzzer: the Signature-Input, Signature and Content-Digest header parsers
 * (metering/sig), each given the input as a header value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metering/sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h = malloc(size + 1);
	if (!h)
		return 0;
	memcpy(h, data, size);
	h[size] = '\0';
	sig_input_t in;
	if (sig_input_parse(h, &in) == SIG_OK) {
		if (!in.label[0] || !in.keyid[0] || !in.params[0] ||
		    (in.alg != SIG_ALG_ED25519 && in.alg != SIG_ALG_SM2_SM3))
			abort();
		buf_t base = BUF_INIT;
		sig_base(&base, "POST", "/v1/usage-batches", "sha-256=:x:", &in);
		buf_free(&base);
	}
	uint8_t sig[256];
	size_t siglen = 0;
	if (sig_value_parse(h, "sig1", sig, sizeof sig, &siglen) == SIG_OK && siglen > sizeof sig)
		abort();
	uint8_t raw[32];
	sig_digest_check(h, data, size, raw);
	free(h);
	return 0;
}
