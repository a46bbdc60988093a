/* X.509 for voucherctl provider cert add (see ctl/x509.h). */
#include "ctl/x509.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/hex.h"
#include "common/validate.h"

static bool asn1_time_rfc3339(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	return strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

char *x509_bio_text(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *s = xmalloc((size_t)(n > 0 ? n : 0) + 1);
	if (n > 0)
		memcpy(s, data, (size_t)n);
	s[n > 0 ? n : 0] = '\0';
	return s;
}

bool x509_cert_read(const char *what, const char *path, const buf_t *file, struct cert_facts *cf)
{
	bool ok = false;
	X509 *x = NULL, *more = NULL;
	BIO *in = NULL, *sb = NULL, *pb = NULL;
	if (file->len > INT32_MAX || !(in = BIO_new_mem_buf(file->data, (int)file->len)))
		goto oom;
	x = PEM_read_bio_X509(in, NULL, NULL, NULL);
	if (!x) {
		fprintf(stderr,
			"%s: %s holds no readable PEM certificate (-----BEGIN CERTIFICATE-----); "
			"convert a DER file with: openssl x509 -inform der -in FILE -out FILE.pem\n",
			what, path);
		goto failed;
	}
	more = PEM_read_bio_X509(in, NULL, NULL, NULL);
	if (more) {
		fprintf(stderr,
			"%s: %s holds more than one certificate; give the provider's client "
			"certificate alone (not its chain)\n",
			what, path);
		goto failed;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		goto oom;
	hex_encode(md, mdlen, cf->fingerprint);
	if (!asn1_time_rfc3339(X509_get0_notAfter(x), cf->not_after, sizeof cf->not_after) ||
	    !asn1_time_rfc3339(X509_get0_notBefore(x), cf->not_before, sizeof cf->not_before)) {
		fprintf(stderr, "%s: %s: the certificate's validity dates cannot be read\n", what, path);
		goto failed;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		fprintf(stderr,
			"%s: the certificate in %s expired at %s; ask the provider for a current "
			"one\n",
			what, path, cf->not_after);
		goto failed;
	}
	cf->not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(x)) > 0;
	if (!(sb = BIO_new(BIO_s_mem())) || !(pb = BIO_new(BIO_s_mem())))
		goto oom;
	/* RFC 2253 with UTF-8 kept as UTF-8 (Chinese organisation names); if
	 * that is not clean text (a Latin-1 or T.61 string holding control
	 * characters), RFC 2253 with every non-ASCII byte escaped */
	if (X509_NAME_print_ex(sb, X509_get_subject_name(x), 0,
			       XN_FLAG_RFC2253 & ~(unsigned long)ASN1_STRFLGS_ESC_MSB) < 0)
		goto oom;
	cf->subject = x509_bio_text(sb);
	if (cf->subject[0] && !text_field(cf->subject, 16 * 1024)) {
		free(cf->subject);
		cf->subject = NULL;
		if (BIO_reset(sb) != 1 || X509_NAME_print_ex(sb, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) < 0)
			goto oom;
		cf->subject = x509_bio_text(sb);
	}
	if (PEM_write_bio_X509(pb, x) != 1)
		goto oom;
	cf->pem = x509_bio_text(pb);
	ok = true;
	goto done;
oom:
	fprintf(stderr, "%s: %s: OpenSSL could not process the certificate\n", what, path);
failed:
	free(cf->subject);
	free(cf->pem);
	cf->subject = cf->pem = NULL;
done:
	BIO_free(pb);
	BIO_free(sb);
	BIO_free(in);
	X509_free(more);
	X509_free(x);
	ERR_clear_error();
	return ok;
}
