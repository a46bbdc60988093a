/* X.509 for voucherctl provider cert add: reading a provider's client
 * certificate and the facts the registry stores of it. */
#ifndef VOUCHER_CTL_X509_H
#define VOUCHER_CTL_X509_H

#include <stdbool.h>

#include <openssl/bio.h>

#include "common/buf.h"

/* The certificate's facts, as stored. */
struct cert_facts {
	char fingerprint[65];
	char not_after[32]; /* RFC 3339, UTC */
	char not_before[32];
	char *subject; /* RFC 2253, UTF-8 */
	char *pem;     /* the certificate alone, re-encoded */
	bool not_yet_valid;
};

/* Reads exactly one PEM certificate from file (read from path); false with a
 * message naming `what` on anything else, or if it has expired.  On success
 * the caller frees cf->subject and cf->pem. */
bool x509_cert_read(const char *what, const char *path, const buf_t *file, struct cert_facts *cf)
	__attribute__((warn_unused_result));

/* The contents of a memory BIO as a NUL-terminated string (to free). */
char *x509_bio_text(BIO *b);

#endif
