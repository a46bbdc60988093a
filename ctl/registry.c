/* voucherctl provider ... / enterprise ...: the registry.
 *
 * Providers with their TLS client certificates, batch-signing keys and
 * facilities; enterprises with their effective-dated registry facts; related
 * parties.  Every argument is checked before the database is touched, every
 * statement is parameterized, and every change is one transaction: a command
 * that fails has changed nothing.
 *
 * Exit codes: 0 done (also "already related": relating is idempotent),
 * 1 refused or failed (the message says what to do), 2 the command line is
 * wrong (a missing or unknown option, or a value that can never be right). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/db.h"
#include "common/validate.h"
#include "ctl/ctl.h"
#include "ctl/output.h"
#include "metering/sig.h"

#define NAME_MAX_CHARS 200      /* providers.name, enterprise_versions.name */
#define CODE_MAX 64             /* providers.code, facilities.facility */
#define KEY_ID_MAX 128          /* provider_keys.key_id */
#define PEM_MAX (1024 * 1024)   /* a certificate or public key file */
#define CSV_MAX ((size_t)2 << 30)
#define IMPORT_PROGRESS 50000   /* rows between progress lines */

/* SQL for "today" in the bureaus' time zone */
#define TODAY_CN "(now() AT TIME ZONE 'Asia/Shanghai')::date"

/* ------------------------------------------------------------------ usage */

static const char usage_provider[] =
	"usage: voucherctl provider add CODE --name NAME --uscc USCC\n"
	"       voucherctl provider list\n"
	"       voucherctl provider show CODE\n"
	"       voucherctl provider cert add CODE --cert FILE.pem\n"
	"       voucherctl provider key add CODE KEYID --alg ed25519|sm2-sm3 --pub FILE.pem\n"
	"                                 [--valid-from T] [--valid-to T]\n"
	"       voucherctl provider key revoke CODE KEYID\n"
	"       voucherctl provider facility add CODE FACILITY --division DIV --class A|B\n"
	"Run 'voucherctl provider SUBCOMMAND --help' for details.\n";

static const char usage_provider_add[] =
	"usage: voucherctl provider add CODE --name NAME --uscc USCC\n"
	"Registers a compute provider (算力服务商).\n"
	"  CODE   1-64 printable ASCII characters, no spaces (the provider field of batches)\n"
	"  NAME   the registered name, 1-200 characters\n"
	"  USCC   its unified social credit code (18 characters, GB 32100-2015)\n";

static const char usage_provider_list[] =
	"usage: voucherctl [--format table|csv|json] provider list\n"
	"Lists the providers with their counts of valid certificates, usable keys and facilities.\n";

static const char usage_provider_show[] =
	"usage: voucherctl [--format table|csv|json] provider show CODE\n"
	"Shows a provider, its certificates, keys, facilities and related enterprises.\n";

static const char usage_cert_add[] =
	"usage: voucherctl provider cert add CODE --cert FILE.pem\n"
	"Registers a TLS client certificate of the provider: the daemon accepts a client\n"
	"whose certificate has this SHA-256 fingerprint (of the DER) as this provider.\n"
	"FILE.pem holds exactly one PEM certificate; an expired certificate, or one\n"
	"registered before (to any provider), is refused.  Prints the fingerprint.\n";

static const char usage_key_add[] =
	"usage: voucherctl provider key add CODE KEYID --alg ed25519|sm2-sm3 --pub FILE.pem\n"
	"                                 [--valid-from T] [--valid-to T]\n"
	"Registers a batch-signing public key (the keyid of the Signature-Input header).\n"
	"  KEYID         1-128 printable ASCII characters, unique per provider\n"
	"  --pub FILE    the public key, PEM (SPKI): openssl pkey -in KEY -pubout\n"
	"  --valid-from  RFC 3339 time with offset, e.g. 2026-01-01T00:00:00+08:00 (default now)\n"
	"  --valid-to    RFC 3339; the key signs nothing created at or after it (default: no end)\n";

static const char usage_key_revoke[] =
	"usage: voucherctl provider key revoke CODE KEYID\n"
	"Revokes a signing key now: batches signed with it are refused from now on.\n"
	"A key is revoked once; it cannot be un-revoked (register a new key id).\n";

static const char usage_facility_add[] =
	"usage: voucherctl provider facility add CODE FACILITY --division DIV --class A|B\n"
	"Registers a facility of the provider (the facility field of records).\n"
	"  FACILITY    1-64 printable ASCII characters, unique per provider\n"
	"  --division  GB/T 2260 six-digit code of the county-level division it is in\n"
	"  --class     A or B: the bureau's facility class (Hangzhou: A gets the higher rate)\n";

static const char usage_enterprise[] =
	"usage: voucherctl enterprise import FILE.csv\n"
	"       voucherctl enterprise list\n"
	"       voucherctl enterprise show USCC\n"
	"       voucherctl enterprise relate USCC --provider CODE [--backdate]\n"
	"Run 'voucherctl enterprise SUBCOMMAND --help' for details.\n";

static const char usage_import[] =
	"usage: voucherctl enterprise import FILE.csv [--backdate]\n"
	"Imports the bureau's enterprise registry.  FILE.csv is UTF-8 (a BOM is allowed),\n"
	"RFC 4180 (quote a field that contains a comma or a quote, doubling the quote),\n"
	"CRLF or LF line ends, with exactly this header:\n"
	"  uscc,name,division,sme,model_developer,maas_builder,model_registered,\n"
	"  foundation_model,credit_blacklisted,performance_grade[,valid_from]\n"
	"Flags are 1 or 0 (empty = 0), performance_grade A-D or empty, valid_from\n"
	"YYYY-MM-DD (default today, China time).  Each row becomes the version of the\n"
	"enterprise's facts in force from valid_from.  Nothing is overwritten: importing\n"
	"the same uscc and valid_from again with other facts adds a newer import of that\n"
	"version, which runs prepared after it use; approved runs keep recomputing from\n"
	"the imports they saw.  A row whose facts equal the version in force is left\n"
	"alone.  Every row is checked first: if any row is wrong, all wrong rows are\n"
	"listed as FILE:LINE and nothing is imported.\n"
	"A version effective in a month that an approved run already settled is refused\n"
	"unless --backdate is given; it is then recorded as backdated (audit exceptions).\n";

static const char usage_enterprise_list[] =
	"usage: voucherctl [--format table|csv|json] enterprise list\n"
	"Lists every registered enterprise with the version of its facts in force today\n"
	"(or, for one registered only from a later date, that first version).\n";

static const char usage_enterprise_show[] =
	"usage: voucherctl [--format table|csv|json] enterprise show USCC\n"
	"Shows the facts in force today, every version, and the related providers.\n";

static const char usage_relate[] =
	"usage: voucherctl enterprise relate USCC --provider CODE [--backdate]\n"
	"Records that the provider is a related party (关联方) of the enterprise: the\n"
	"provider's records for this enterprise count for nothing in settlement.\n"
	"Both must be registered.  Relating twice changes nothing.  A relation counts\n"
	"for every record of the enterprise, past ones included, so once any run is\n"
	"approved it is a backdated change: refused unless --backdate is given, and then\n"
	"recorded as such (audit exceptions).\n";

/* ------------------------------------------------------------------ arguments */

/* ------------------------------------------------------------------ values */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n++;
	return n;
}

/* What is wrong with a name, or NULL.  text_field() checks the characters;
 * the length is counted in characters, as the database's length() does. */
static const char *name_problem(const char *s)
{
	if (!*s)
		return "is empty";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "contains a control character (a line break or tab?)";
	if (!text_field(s, 4 * NAME_MAX_CHARS + 1))
		return utf8_chars(s) > NAME_MAX_CHARS ? "is longer than 200 characters"
						      : "is not valid UTF-8 (save the file as UTF-8)";
	if (utf8_chars(s) > NAME_MAX_CHARS)
		return "is longer than 200 characters";
	return NULL;
}

/* ------------------------------------------------------------------ database */

/* Returns 1 if the query has a row, 0 if not, -1 on error (printed). */
static int has_row(PGconn *c, const char *what, const char *sql, int n, const char *const *p)
{
	PGresult *r = db_exec(c, what, sql, n, p);
	if (!r)
		return -1;
	int found = PQntuples(r) > 0;
	PQclear(r);
	return found;
}

/* Inside a transaction: true if the provider exists; else prints what to do. */
static bool provider_exists(PGconn *c, const char *what, const char *code)
{
	const char *p[] = {code};
	int found = has_row(c, what, "SELECT 1 FROM voucher.providers WHERE code = $1", 1, p);
	if (found == 0)
		fprintf(stderr,
			"%s: provider '%s' is not registered (voucherctl provider list shows the "
			"providers; voucherctl provider add registers one)\n",
			what, code);
	return found == 1;
}

static bool enterprise_exists(PGconn *c, const char *what, const char *uscc)
{
	const char *p[] = {uscc};
	int found = has_row(c, what, "SELECT 1 FROM voucher.enterprises WHERE uscc = $1", 1, p);
	if (found == 0)
		fprintf(stderr,
			"%s: enterprise %s is not registered (voucherctl enterprise import FILE.csv "
			"registers enterprises)\n",
			what, uscc);
	return found == 1;
}

static bool begin_read(PGconn *c)
{
	return db_run(c, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
}

static const char bad_uscc_hint[] = "is not a valid unified social credit code "
				   "(18 characters from 0-9 and A-Y without I, O, S, V, Z, with the "
				   "GB 32100-2015 check character)";

/* ------------------------------------------------------------------ provider add */

static int provider_add(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "provider add";
	const char *name = NULL, *uscc = NULL, *pos[1];
	const struct ctl_opt opts[] = {{"--name", &name, false}, {"--uscc", &uscc, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, pos, 1, what, usage_provider_add);
	if (rc >= 0)
		return rc;
	const char *code = pos[0];
	if (!name || !uscc)
		return ctl_usage_error(usage_provider_add, "%s: --name and --uscc are required", what);
	if (!printable_id(code, CODE_MAX))
		return ctl_usage_error(usage_provider_add,
				   "%s: CODE must be 1-64 printable ASCII characters without spaces", what);
	const char *np = name_problem(name);
	if (np)
		return ctl_usage_error(usage_provider_add, "%s: NAME %s", what, np);
	if (!uscc_valid(uscc))
		return ctl_usage_error(usage_provider_add, "%s: USCC '%s' %s", what, uscc, bad_uscc_hint);

	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	const char *p[] = {code, name, uscc};
	PGresult *r = db_exec(c, what,
			      "SELECT * FROM voucher.provider_add($1, $2, $3)",
			      3, p);
	if (!r)
		return CTL_FAIL;
	int added = PQntuples(r);
	PQclear(r);
	if (!added) {
		fprintf(stderr,
			"%s: provider '%s' already exists; nothing changed (voucherctl provider show %s)\n",
			what, code, code);
		return CTL_FAIL;
	}
	printf("added provider %s (%s)\n", code, name);
	return CTL_OK;
}

/* ------------------------------------------------------------------ provider list / show */

static int provider_list(ctl_t *ctx, int argc, char **argv)
{
	int rc = ctl_parse_args(argc, argv, 2, NULL, NULL, 0, "provider list", usage_provider_list);
	if (rc >= 0)
		return rc;
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	static const out_col_t cols[] = {
		{"code", OUT_TEXT},        {"name", OUT_TEXT},        {"uscc", OUT_TEXT},
		{"valid_certs", OUT_INT},  {"usable_keys", OUT_INT},  {"facilities", OUT_INT},
		{"created_at", OUT_TIMESTAMP},
	};
	PGresult *r = db_exec(
		c, "provider list",
		"SELECT p.code, p.name, p.uscc, "
		"  (SELECT count(*) FROM voucher.provider_certs x "
		"    WHERE x.provider = p.code AND x.not_after > now()), "
		"  (SELECT count(*) FROM voucher.provider_keys k WHERE k.provider = p.code "
		"    AND k.revoked_at IS NULL AND (k.valid_to IS NULL OR k.valid_to > now())), "
		"  (SELECT count(*) FROM voucher.facilities f WHERE f.provider = p.code), "
		"  p.created_at "
		"FROM voucher.providers p ORDER BY p.code",
		0, NULL);
	if (!r)
		return CTL_FAIL;
	bool ok = out_print(stdout, ctx->format, cols, (int)(sizeof cols / sizeof cols[0]), r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

static int provider_show(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "provider show";
	const char *pos[1];
	int rc = ctl_parse_args(argc, argv, 2, NULL, pos, 1, what, usage_provider_show);
	if (rc >= 0)
		return rc;
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	static const out_col_t pcols[] = {
		{"code", OUT_TEXT}, {"name", OUT_TEXT}, {"uscc", OUT_TEXT},
		{"created_at", OUT_TIMESTAMP}, {"created_by", OUT_TEXT},
	};
	static const out_col_t ccols[] = {
		{"fingerprint", OUT_TEXT}, {"subject", OUT_TEXT}, {"not_after", OUT_TIMESTAMP},
		{"status", OUT_TEXT}, {"added_at", OUT_TIMESTAMP}, {"added_by", OUT_TEXT},
	};
	static const out_col_t kcols[] = {
		{"key_id", OUT_TEXT},          {"alg", OUT_TEXT},
		{"valid_from", OUT_TIMESTAMP}, {"valid_to", OUT_TIMESTAMP},
		{"revoked_at", OUT_TIMESTAMP}, {"status", OUT_TEXT},
		{"added_at", OUT_TIMESTAMP},   {"added_by", OUT_TEXT},
	};
	static const out_col_t fcols[] = {
		{"facility", OUT_TEXT}, {"division", OUT_TEXT}, {"class", OUT_TEXT},
		{"added_at", OUT_TIMESTAMP}, {"added_by", OUT_TEXT},
	};
	static const out_col_t ecols[] = {
		{"uscc", OUT_TEXT}, {"name", OUT_TEXT}, {"added_at", OUT_TIMESTAMP}, {"added_by", OUT_TEXT},
	};
	const char *p[] = {pos[0]};
	PGresult *pr = NULL, *cr = NULL, *kr = NULL, *fr = NULL, *er = NULL;
	rc = CTL_FAIL;
	if (!begin_read(c))
		return CTL_FAIL;
	pr = db_exec(c, what,
		     "SELECT code, name, uscc, created_at, created_by FROM voucher.providers "
		     "WHERE code = $1",
		     1, p);
	if (!pr)
		goto failed;
	if (PQntuples(pr) == 0) {
		fprintf(stderr, "%s: provider '%s' is not registered (voucherctl provider list)\n", what,
			pos[0]);
		goto failed;
	}
	cr = db_exec(c, what,
		     "SELECT fingerprint, subject, not_after, "
		     "  CASE WHEN not_after <= now() THEN 'expired' ELSE 'valid' END, "
		     "  added_at, added_by "
		     "FROM voucher.provider_certs WHERE provider = $1 ORDER BY added_at, fingerprint",
		     1, p);
	kr = cr ? db_exec(c, what,
			  "SELECT key_id, alg, valid_from, valid_to, revoked_at, "
			  "  CASE WHEN revoked_at IS NOT NULL THEN 'revoked' "
			  "       WHEN valid_to IS NOT NULL AND valid_to <= now() THEN 'expired' "
			  "       WHEN valid_from > now() THEN 'not yet valid' ELSE 'usable' END, "
			  "  added_at, added_by "
			  "FROM voucher.provider_keys WHERE provider = $1 ORDER BY added_at, key_id",
			  1, p)
		: NULL;
	fr = kr ? db_exec(c, what,
			  "SELECT facility, division, class, added_at, added_by "
			  "FROM voucher.facilities WHERE provider = $1 ORDER BY facility",
			  1, p)
		: NULL;
	er = fr ? db_exec(c, what,
			  "SELECT r.uscc, (SELECT v.name FROM voucher.enterprise_registry v "
			  "    WHERE v.uscc = r.uscc ORDER BY v.valid_from <= " TODAY_CN " DESC, "
			  "    CASE WHEN v.valid_from <= " TODAY_CN " THEN v.valid_from END DESC, "
			  "    v.valid_from LIMIT 1), r.added_at, r.added_by "
			  "FROM voucher.related_parties r WHERE r.provider = $1 ORDER BY r.uscc",
			  1, p)
		: NULL;
	if (!er)
		goto failed;
	out_rows_t prow = out_rows_pg(pr), crow = out_rows_pg(cr), krow = out_rows_pg(kr),
		   frow = out_rows_pg(fr), erow = out_rows_pg(er);
	out_doc_t d;
	out_doc_begin(&d, stdout, ctx->format);
	out_doc_record(&d, "provider", pcols, 5, &prow, 0);
	out_doc_list(&d, "certificates", ccols, 6, &crow);
	out_doc_list(&d, "keys", kcols, 8, &krow);
	out_doc_list(&d, "facilities", fcols, 5, &frow);
	out_doc_list(&d, "related_enterprises", ecols, 4, &erow);
	rc = out_doc_end(&d) ? CTL_OK : CTL_FAIL;
failed:
	PQclear(er);
	PQclear(fr);
	PQclear(kr);
	PQclear(cr);
	PQclear(pr);
	db_rollback(c); /* read only */
	return rc;
}

/* ------------------------------------------------------------------ certificates */

/* The certificate's facts, as stored. */
struct cert_facts {
	char fingerprint[65];
	char not_after[32];  /* RFC 3339, UTC */
	char not_before[32];
	char *subject;       /* RFC 2253, UTF-8 */
	char *pem;           /* the certificate alone, re-encoded */
	bool not_yet_valid;
};

static bool asn1_time_rfc3339(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	return strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

static char *bio_text(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *s = xmalloc((size_t)(n > 0 ? n : 0) + 1);
	if (n > 0)
		memcpy(s, data, (size_t)n);
	s[n > 0 ? n : 0] = '\0';
	return s;
}

/* Reads exactly one PEM certificate; false with a message on anything else. */
static bool cert_read(const char *what, const char *path, const buf_t *file, struct cert_facts *cf)
	__attribute__((warn_unused_result));

static bool cert_read(const char *what, const char *path, const buf_t *file, struct cert_facts *cf)
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
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(cf->fingerprint + 2 * i, 3, "%02x", md[i]);
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
	cf->subject = bio_text(sb);
	if (cf->subject[0] && !text_field(cf->subject, 16 * 1024)) {
		free(cf->subject);
		cf->subject = NULL;
		if (BIO_reset(sb) != 1 ||
		    X509_NAME_print_ex(sb, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) < 0)
			goto oom;
		cf->subject = bio_text(sb);
	}
	if (PEM_write_bio_X509(pb, x) != 1)
		goto oom;
	cf->pem = bio_text(pb);
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

static int cert_add(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "provider cert add";
	const char *certfile = NULL, *pos[1];
	const struct ctl_opt opts[] = {{"--cert", &certfile, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 3, opts, pos, 1, what, usage_cert_add);
	if (rc >= 0)
		return rc;
	const char *code = pos[0];
	if (!certfile)
		return ctl_usage_error(usage_cert_add, "%s: --cert FILE.pem is required", what);
	if (!printable_id(code, CODE_MAX))
		return ctl_usage_error(usage_cert_add, "%s: '%s' is not a provider code", what, code);

	buf_t file = BUF_INIT;
	struct cert_facts cf = {.subject = NULL, .pem = NULL};
	PGconn *c = NULL;
	PGresult *r = NULL;
	rc = CTL_FAIL;
	if (!ctl_read_file(what, certfile, PEM_MAX, &file) || !cert_read(what, certfile, &file, &cf))
		goto done;
	if (!(c = ctl_conn(ctx)) || !db_begin(c))
		goto done;
	if (!provider_exists(c, what, code))
		goto failed;
	const char *fp[] = {cf.fingerprint};
	r = db_exec(c, what, "SELECT provider, added_at FROM voucher.provider_certs WHERE fingerprint = $1",
		    1, fp);
	if (!r)
		goto failed;
	if (PQntuples(r) > 0) {
		fprintf(stderr,
			"%s: this certificate (SHA-256 %s) is already registered to provider '%s' "
			"(since %s); nothing changed\n",
			what, cf.fingerprint, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		goto failed;
	}
	PQclear(r);
	const char *p[] = {cf.fingerprint, code, cf.subject, cf.not_after, cf.pem};
	r = db_exec(c, what,
		    "SELECT * FROM voucher.provider_cert_add($1, $2, $3, $4::timestamptz, $5)",
		    5, p);
	if (!r)
		goto failed;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "%s: this certificate (SHA-256 %s) was registered meanwhile; nothing changed\n",
			what, cf.fingerprint);
		goto failed;
	}
	if (!db_commit(c))
		goto done;
	printf("registered certificate for provider %s\n"
	       "fingerprint: %s\n"
	       "subject:     %s\n"
	       "not after:   %s\n",
	       code, cf.fingerprint, cf.subject, cf.not_after);
	if (cf.not_yet_valid)
		fprintf(stderr,
			"note: the certificate is valid only from %s; the daemon's TLS handshake "
			"refuses it until then\n",
			cf.not_before);
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
done:
	PQclear(r);
	free(cf.pem);
	free(cf.subject);
	buf_free(&file);
	return rc;
}

/* ------------------------------------------------------------------ keys */

static int key_add(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "provider key add";
	const char *algname = NULL, *pubfile = NULL, *from = NULL, *to = NULL, *pos[2];
	const struct ctl_opt opts[] = {{"--alg", &algname, false},
				   {"--pub", &pubfile, false},
				   {"--valid-from", &from, false},
				   {"--valid-to", &to, false},
				   {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 3, opts, pos, 2, what, usage_key_add);
	if (rc >= 0)
		return rc;
	const char *code = pos[0], *keyid = pos[1];
	sig_alg_t alg;
	int64_t from_us = 0, to_us = 0;
	if (!algname || !pubfile)
		return ctl_usage_error(usage_key_add, "%s: --alg and --pub are required", what);
	if (!printable_id(code, CODE_MAX))
		return ctl_usage_error(usage_key_add, "%s: '%s' is not a provider code", what, code);
	if (!printable_id(keyid, KEY_ID_MAX))
		return ctl_usage_error(usage_key_add,
				   "%s: KEYID must be 1-128 printable ASCII characters without spaces", what);
	if (!sig_alg_parse(algname, &alg))
		return ctl_usage_error(usage_key_add, "%s: --alg must be ed25519 or sm2-sm3", what);
	if (from && !rfc3339_parse(from, &from_us))
		return ctl_usage_error(usage_key_add,
				   "%s: --valid-from '%s' is not an RFC 3339 time with offset "
				   "(e.g. 2026-01-01T00:00:00+08:00)",
				   what, from);
	if (to && !rfc3339_parse(to, &to_us))
		return ctl_usage_error(usage_key_add,
				   "%s: --valid-to '%s' is not an RFC 3339 time with offset "
				   "(e.g. 2027-01-01T00:00:00+08:00)",
				   what, to);
	if (to && to_us <= (from ? from_us : (int64_t)time(NULL) * 1000000))
		return ctl_usage_error(usage_key_add, "%s: --valid-to must be later than %s", what,
				   from ? "--valid-from" : "now (the default --valid-from)");

	buf_t file = BUF_INIT;
	EVP_PKEY *pk = NULL;
	BIO *pb = NULL;
	char *pem = NULL;
	PGconn *c = NULL;
	PGresult *r = NULL;
	rc = CTL_FAIL;
	if (!ctl_read_file(what, pubfile, PEM_MAX, &file))
		goto done;
	if (strstr(file.data, "PRIVATE KEY-----")) {
		fprintf(stderr,
			"%s: %s holds a private key; the registry takes only the public key "
			"(openssl pkey -in %s -pubout -out KEY.pub), and the private key stays with "
			"the provider\n",
			what, pubfile, pubfile);
		goto done;
	}
	char err[256];
	pk = sig_load_public(file.data, file.len, alg, err, sizeof err);
	if (!pk) {
		fprintf(stderr, "%s: %s: %s (for --alg %s)\n", what, pubfile, err, algname);
		goto done;
	}
	/* store the key alone, in canonical SPKI PEM, whatever else the file held */
	if (!(pb = BIO_new(BIO_s_mem())) || PEM_write_bio_PUBKEY(pb, pk) != 1) {
		fprintf(stderr, "%s: %s: OpenSSL could not encode the public key\n", what, pubfile);
		goto done;
	}
	pem = bio_text(pb);
	if (!(c = ctl_conn(ctx)) || !db_begin(c))
		goto done;
	if (!provider_exists(c, what, code))
		goto failed;
	const char *q[] = {code, pem};
	r = db_exec(c, what,
		    "SELECT provider, key_id FROM voucher.provider_keys "
		    "WHERE public_pem = $2 AND provider <> $1 LIMIT 1",
		    2, q);
	if (!r)
		goto failed;
	if (PQntuples(r) > 0) {
		fprintf(stderr,
			"%s: this public key is already registered to provider '%s' as key '%s'; "
			"each provider must sign with its own key\n",
			what, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		goto failed;
	}
	PQclear(r);
	const char *p[] = {code, keyid, sig_alg_name(alg), pem, from, to};
	r = db_exec(c, what,
		    "SELECT * FROM voucher.provider_key_add($1, $2, $3, $4, $5::timestamptz, $6::timestamptz)",
		    6, p);
	if (!r)
		goto failed;
	if (PQntuples(r) == 0) {
		fprintf(stderr,
			"%s: provider '%s' already has a key '%s'; a key id is never reused: "
			"register the new key under a new key id (and revoke the old one with "
			"voucherctl provider key revoke)\n",
			what, code, keyid);
		goto failed;
	}
	if (!db_commit(c))
		goto done;
	printf("added key %s (%s) for provider %s, valid from %s%s%s\n", keyid, sig_alg_name(alg), code,
	       PQgetvalue(r, 0, 0), PQgetisnull(r, 0, 1) ? "" : " to ",
	       PQgetisnull(r, 0, 1) ? "" : PQgetvalue(r, 0, 1));
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
done:
	PQclear(r);
	free(pem);
	BIO_free(pb);
	EVP_PKEY_free(pk);
	buf_free(&file);
	ERR_clear_error();
	return rc;
}

static int key_revoke(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "provider key revoke";
	const char *pos[2];
	int rc = ctl_parse_args(argc, argv, 3, NULL, pos, 2, what, usage_key_revoke);
	if (rc >= 0)
		return rc;
	const char *code = pos[0], *keyid = pos[1];
	if (!printable_id(code, CODE_MAX) || !printable_id(keyid, KEY_ID_MAX))
		return ctl_usage_error(usage_key_revoke, "%s: CODE and KEYID are printable ASCII without spaces",
				   what);
	PGconn *c = ctl_conn(ctx);
	if (!c || !db_begin(c))
		return CTL_FAIL;
	PGresult *r = NULL;
	rc = CTL_FAIL;
	if (!provider_exists(c, what, code))
		goto failed;
	const char *p[] = {code, keyid};
	r = db_exec(c, what,
		    "SELECT revoked_at FROM voucher.provider_keys WHERE provider = $1 AND key_id = $2",
		    2, p);
	if (!r)
		goto failed;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "%s: provider '%s' has no key '%s' (voucherctl provider show %s lists its keys)\n",
			what, code, keyid, code);
		goto failed;
	}
	if (!PQgetisnull(r, 0, 0)) {
		fprintf(stderr, "%s: key '%s' of provider '%s' was already revoked at %s; nothing changed\n",
			what, keyid, code, PQgetvalue(r, 0, 0));
		goto failed;
	}
	PQclear(r);
	r = db_exec(c, what,
		    "SELECT r FROM voucher.provider_key_revoke($1, $2) r WHERE r IS NOT NULL",
		    2, p);
	if (!r)
		goto failed;
	if (PQntuples(r) != 1) {
		fprintf(stderr, "%s: key '%s' of provider '%s' changed meanwhile; nothing changed\n", what,
			keyid, code);
		goto failed;
	}
	if (!db_commit(c))
		goto done;
	printf("revoked key %s of provider %s at %s\n", keyid, code, PQgetvalue(r, 0, 0));
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
done:
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------------ facilities */

static int facility_add(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "provider facility add";
	const char *division = NULL, *class = NULL, *pos[2];
	const struct ctl_opt opts[] = {{"--division", &division, false}, {"--class", &class, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 3, opts, pos, 2, what, usage_facility_add);
	if (rc >= 0)
		return rc;
	const char *code = pos[0], *facility = pos[1];
	if (!division || !class)
		return ctl_usage_error(usage_facility_add, "%s: --division and --class are required", what);
	if (!printable_id(code, CODE_MAX))
		return ctl_usage_error(usage_facility_add, "%s: '%s' is not a provider code", what, code);
	if (!printable_id(facility, CODE_MAX))
		return ctl_usage_error(usage_facility_add,
				   "%s: FACILITY must be 1-64 printable ASCII characters without spaces",
				   what);
	if (!division_valid(division))
		return ctl_usage_error(usage_facility_add,
				   "%s: --division '%s' is not a GB/T 2260 county-level division code "
				   "(six digits, e.g. 330483)",
				   what, division);
	if (strcmp(class, "A") != 0 && strcmp(class, "B") != 0)
		return ctl_usage_error(usage_facility_add, "%s: --class must be A or B", what);

	PGconn *c = ctl_conn(ctx);
	if (!c || !db_begin(c))
		return CTL_FAIL;
	PGresult *r = NULL;
	rc = CTL_FAIL;
	if (!provider_exists(c, what, code))
		goto failed;
	const char *p[] = {code, facility, division, class};
	r = db_exec(c, what,
		    "SELECT * FROM voucher.facility_add($1, $2, $3, $4)",
		    4, p);
	if (!r)
		goto failed;
	if (PQntuples(r) == 0) {
		PQclear(r);
		r = db_exec(c, what,
			    "SELECT division, class FROM voucher.facilities "
			    "WHERE provider = $1 AND facility = $2",
			    2, p);
		if (r && PQntuples(r) == 1)
			fprintf(stderr,
				"%s: provider '%s' already has a facility '%s' (division %s, class %s); "
				"nothing changed\n",
				what, code, facility, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		goto failed;
	}
	if (!db_commit(c))
		goto done;
	printf("added facility %s of provider %s (division %s, class %s)\n", facility, code, division,
	       class);
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
done:
	PQclear(r);
	return rc;
}

int cmd_provider(ctl_t *ctx, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	const char *sub2 = argc > 2 ? argv[2] : NULL;
	if (!sub)
		return ctl_usage_error(usage_provider, "provider: which subcommand?");
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		fputs(usage_provider, stdout);
		return CTL_OK;
	}
	if (!strcmp(sub, "add"))
		return provider_add(ctx, argc, argv);
	if (!strcmp(sub, "list"))
		return provider_list(ctx, argc, argv);
	if (!strcmp(sub, "show"))
		return provider_show(ctx, argc, argv);
	if (!strcmp(sub, "cert") && sub2 && !strcmp(sub2, "add"))
		return cert_add(ctx, argc, argv);
	if (!strcmp(sub, "key") && sub2 && !strcmp(sub2, "add"))
		return key_add(ctx, argc, argv);
	if (!strcmp(sub, "key") && sub2 && !strcmp(sub2, "revoke"))
		return key_revoke(ctx, argc, argv);
	if (!strcmp(sub, "facility") && sub2 && !strcmp(sub2, "add"))
		return facility_add(ctx, argc, argv);
	if (!strcmp(sub, "cert") || !strcmp(sub, "key") || !strcmp(sub, "facility")) {
		if (sub2 && (!strcmp(sub2, "--help") || !strcmp(sub2, "-h"))) {
			fputs(!strcmp(sub, "cert")	   ? usage_cert_add
			      : !strcmp(sub, "facility") ? usage_facility_add
							   : usage_key_add,
			      stdout);
			if (!strcmp(sub, "key"))
				fputs(usage_key_revoke, stdout);
			return CTL_OK;
		}
		return ctl_usage_error(usage_provider, "provider %s: unknown or missing subcommand '%s'", sub,
				   sub2 ? sub2 : "");
	}
	return ctl_usage_error(usage_provider, "provider: unknown subcommand '%s'", sub);
}

/* ------------------------------------------------------------------ CSV */

/* An RFC 4180 reader over a file held in memory.  Records end with CRLF or
 * LF; a quoted field may hold commas, doubled quotes and line breaks. */
#define CSV_MAX_FIELDS 32

typedef struct csv {
	const char *p, *end;
	long line; /* physical line of p, 1-based */
} csv_t;

typedef struct csv_rec {
	buf_t text;                   /* the fields, each NUL-terminated */
	size_t off[CSV_MAX_FIELDS];
	int n;
	long line;                    /* the line the record starts on */
} csv_rec_t;

static const char *csv_field(const csv_rec_t *r, int i)
{
	return r->text.data + r->off[i];
}

/* Skips to the start of the next line after an error. */
static void csv_skip_line(csv_t *c)
{
	while (c->p < c->end && *c->p != '\n')
		c->p++;
	if (c->p < c->end) {
		c->p++;
		c->line++;
	}
}

/* Reads the next record.  Returns 1 and fills r, 0 at the end of the input,
 * -1 with a message in err (the reader then stands at the next line).  A
 * blank line is returned as a record of one empty field. */
static int csv_next(csv_t *c, csv_rec_t *r, char *err, size_t errlen)
{
	if (c->p >= c->end)
		return 0;
	r->line = c->line;
	r->n = 0;
	buf_reset(&r->text);
	for (;;) {
		if (r->n == CSV_MAX_FIELDS) {
			snprintf(err, errlen, "more than %d fields", CSV_MAX_FIELDS);
			csv_skip_line(c);
			return -1;
		}
		r->off[r->n] = r->text.len;
		if (c->p < c->end && *c->p == '"') {
			long qline = c->line;
			c->p++;
			for (;;) {
				if (c->p >= c->end) {
					snprintf(err, errlen,
						 "the quoted field opened on line %ld is never closed", qline);
					return -1;
				}
				if (*c->p == '"') {
					if (c->p + 1 < c->end && c->p[1] == '"') {
						buf_putc(&r->text, '"');
						c->p += 2;
						continue;
					}
					c->p++;
					break;
				}
				if (*c->p == '\n')
					c->line++;
				buf_putc(&r->text, *c->p++);
			}
			if (c->p < c->end && *c->p != ',' && *c->p != '\n' &&
			    !(*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')) {
				snprintf(err, errlen,
					 "text after the closing quote of field %d (a quote inside a "
					 "quoted field must be doubled: \"\")",
					 r->n + 1);
				csv_skip_line(c);
				return -1;
			}
		} else {
			while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
				if (*c->p == '"') {
					snprintf(err, errlen,
						 "a quote inside unquoted field %d (put the whole field in "
						 "quotes and double the quote: \"\")",
						 r->n + 1);
					csv_skip_line(c);
					return -1;
				}
				buf_putc(&r->text, *c->p++);
			}
		}
		buf_putc(&r->text, '\0');
		r->n++;
		if (c->p >= c->end)
			return 1;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		if (*c->p == '\r') {
			if (c->p + 1 < c->end && c->p[1] == '\n') {
				c->p += 2;
				c->line++;
				return 1;
			}
			snprintf(err, errlen, "a carriage return without a line feed");
			csv_skip_line(c);
			return -1;
		}
		/* '\n' */
		c->p++;
		c->line++;
		return 1;
	}
}

/* ------------------------------------------------------------------ enterprise import */

static const char *const import_cols[] = {
	"uscc", "name", "division", "sme", "model_developer", "maas_builder", "model_registered",
	"foundation_model", "credit_blacklisted", "performance_grade", "valid_from",
};
enum { IC_USCC, IC_NAME, IC_DIVISION, IC_FLAG0, IC_GRADE = 9, IC_VALID_FROM = 10 };
#define IMPORT_FLAGS 6

struct imp_row {
	long line;
	char uscc[19];
	char division[7];
	char grade;         /* 0 = none */
	char valid_from[11]; /* "" = today */
	bool flag[IMPORT_FLAGS];
	char *name;
};

/* Open-addressing set of usccs -> row index, to find a uscc given twice. */
struct uscc_set {
	int *slot; /* row index + 1, 0 = empty */
	size_t cap, n;
};

static uint64_t uscc_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Returns the index of the row that had this uscc, or -1 after adding it. */
static int uscc_set_add(struct uscc_set *s, const struct imp_row *rows, int idx)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 1024;
		int *nslot = xcalloc(ncap, sizeof *nslot);
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slot[i])
				continue;
			size_t j = uscc_hash(rows[s->slot[i] - 1].uscc) & (ncap - 1);
			while (nslot[j])
				j = (j + 1) & (ncap - 1);
			nslot[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = nslot;
		s->cap = ncap;
	}
	size_t j = uscc_hash(rows[idx].uscc) & (s->cap - 1);
	while (s->slot[j]) {
		if (!strcmp(rows[s->slot[j] - 1].uscc, rows[idx].uscc))
			return s->slot[j] - 1;
		j = (j + 1) & (s->cap - 1);
	}
	s->slot[j] = idx + 1;
	s->n++;
	return -1;
}

/* Appends a COPY text-format field. */
static void copy_text(buf_t *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': buf_puts(b, "\\\\"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		default: buf_putc(b, *s);
		}
	}
}

/* Checks one data record; appends what is wrong (if anything) to problems. */
static void import_check(const csv_rec_t *rec, int ncols, struct imp_row *row, buf_t *problems)
{
#define PROBLEM(...)                                        \
	do {                                                \
		if (problems->len)                          \
			buf_puts(problems, "; ");           \
		buf_printf(problems, __VA_ARGS__);          \
	} while (0)
	if (rec->n != ncols) {
		PROBLEM("%d fields, the header has %d", rec->n, ncols);
		return;
	}
	const char *uscc = csv_field(rec, IC_USCC);
	if (uscc_valid(uscc))
		memcpy(row->uscc, uscc, 19);
	else
		PROBLEM("uscc '%.40s' %s", uscc, bad_uscc_hint);
	const char *name = csv_field(rec, IC_NAME);
	const char *np = name_problem(name);
	if (np)
		PROBLEM("name %s", np);
	else
		row->name = xstrdup(name);
	const char *div = csv_field(rec, IC_DIVISION);
	if (division_valid(div))
		memcpy(row->division, div, 7);
	else
		PROBLEM("division '%.20s' is not a GB/T 2260 county-level code (six digits, e.g. 330483)",
			div);
	for (int i = 0; i < IMPORT_FLAGS; i++) {
		const char *f = csv_field(rec, IC_FLAG0 + i);
		if (!strcmp(f, "1"))
			row->flag[i] = true;
		else if (!strcmp(f, "0") || !*f)
			row->flag[i] = false;
		else
			PROBLEM("%s must be 1, 0 or empty, not '%.20s'", import_cols[IC_FLAG0 + i], f);
	}
	const char *g = csv_field(rec, IC_GRADE);
	if (!*g)
		row->grade = 0;
	else if (g[0] >= 'A' && g[0] <= 'D' && !g[1])
		row->grade = g[0];
	else
		PROBLEM("performance_grade must be A, B, C, D or empty, not '%.20s'", g);
	if (ncols > IC_VALID_FROM) {
		const char *v = csv_field(rec, IC_VALID_FROM);
		if (!*v)
			row->valid_from[0] = '\0';
		else if (ctl_date_valid(v))
			memcpy(row->valid_from, v, 11);
		else
			PROBLEM("valid_from '%.20s' is not a real date YYYY-MM-DD", v);
	}
#undef PROBLEM
}

/* Sends the rows with COPY into the temporary table enterprise_import. */
static bool import_copy(PGconn *c, const char *what, const struct imp_row *rows, int nrows)
{
	PGresult *r = PQexec(c, "COPY pg_temp.enterprise_import (line, uscc, valid_from, name, "
				"division, sme, model_developer, maas_builder, model_registered, "
				"foundation_model, credit_blacklisted, performance_grade) FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		fprintf(stderr, "%s: %s", what, PQerrorMessage(c));
		PQclear(r);
		return false;
	}
	PQclear(r);
	buf_t b = BUF_INIT;
	bool ok = true;
	for (int i = 0; i < nrows && ok; i++) {
		const struct imp_row *w = &rows[i];
		buf_printf(&b, "%ld\t%s\t%s\t", w->line, w->uscc, w->valid_from[0] ? w->valid_from : "\\N");
		copy_text(&b, w->name);
		buf_printf(&b, "\t%s", w->division);
		for (int f = 0; f < IMPORT_FLAGS; f++)
			buf_puts(&b, w->flag[f] ? "\tt" : "\tf");
		if (w->grade)
			buf_printf(&b, "\t%c\n", w->grade);
		else
			buf_puts(&b, "\t\\N\n");
		if (b.len >= 256 * 1024 || i + 1 == nrows) {
			ok = PQputCopyData(c, b.data, (int)b.len) == 1;
			buf_reset(&b);
		}
		if ((i + 1) % IMPORT_PROGRESS == 0 && i + 1 < nrows)
			fprintf(stderr, "%s: %d of %d rows sent\n", what, i + 1, nrows);
	}
	buf_free(&b);
	if (PQputCopyEnd(c, ok ? NULL : "voucherctl: sending failed") != 1)
		ok = false;
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			fprintf(stderr, "%s: %s\n", what, msg ? msg : PQerrorMessage(c));
			ok = false;
		}
		PQclear(r);
	}
	return ok;
}

static int enterprise_import(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "enterprise import";
	const char *pos[1], *backdate = NULL;
	const struct ctl_opt opts[] = {{"--backdate", &backdate, true}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, pos, 1, what, usage_import);
	if (rc >= 0)
		return rc;
	const char *path = pos[0];
	buf_t file = BUF_INIT, problems = BUF_INIT;
	csv_rec_t rec = {.text = BUF_INIT, .n = 0, .line = 0};
	struct imp_row *rows = NULL;
	struct uscc_set seen = {NULL, 0, 0};
	int nrows = 0, caprows = 0, nbad = 0;
	PGconn *c = NULL;
	rc = CTL_FAIL;

	if (!ctl_read_file(what, path, CSV_MAX, &file))
		goto done;
	if (file.len >= 2 && ((unsigned char)file.data[0] == 0xff || (unsigned char)file.data[0] == 0xfe) &&
	    ((unsigned char)file.data[1] == 0xfe || (unsigned char)file.data[1] == 0xff)) {
		fprintf(stderr, "%s: %s is UTF-16; save it as \"CSV UTF-8\"\n", what, path);
		goto done;
	}
	if (memchr(file.data, '\0', file.len)) {
		fprintf(stderr, "%s: %s holds NUL bytes: it is not a UTF-8 text file (save it as \"CSV UTF-8\")\n",
			what, path);
		goto done;
	}
	csv_t csv = {file.data, file.data + file.len, 1};
	if (file.len >= 3 && !memcmp(file.data, "\xef\xbb\xbf", 3))
		csv.p += 3;

	/* the header */
	char err[256];
	int got = csv_next(&csv, &rec, err, sizeof err);
	if (got <= 0) {
		fprintf(stderr, "%s:1: %s\n", path, got == 0 ? "the file is empty: the header is missing" : err);
		goto done;
	}
	int ncols = rec.n;
	bool header_ok = ncols == 10 || ncols == 11;
	for (int i = 0; header_ok && i < ncols; i++)
		header_ok = !strcmp(csv_field(&rec, i), import_cols[i]);
	if (!header_ok) {
		fprintf(stderr,
			"%s:1: the header must be exactly\n  uscc,name,division,sme,model_developer,"
			"maas_builder,model_registered,foundation_model,credit_blacklisted,"
			"performance_grade\nwith an optional ,valid_from at the end\n",
			path);
		goto done;
	}

	/* every row, checked; nothing is sent before all are good */
	for (;;) {
		got = csv_next(&csv, &rec, err, sizeof err);
		if (got == 0)
			break;
		if (got < 0) {
			fprintf(stderr, "%s:%ld: %s\n", path, rec.line, err);
			nbad++;
			continue;
		}
		if (rec.n == 1 && csv_field(&rec, 0)[0] == '\0')
			continue; /* a blank line */
		if (nrows == caprows) {
			caprows = caprows ? 2 * caprows : 1024;
			rows = xrealloc(rows, (size_t)caprows * sizeof *rows);
		}
		struct imp_row *row = &rows[nrows];
		memset(row, 0, sizeof *row);
		row->line = rec.line;
		buf_reset(&problems);
		import_check(&rec, ncols, row, &problems);
		nrows++;
		if (row->uscc[0]) {
			int prev = uscc_set_add(&seen, rows, nrows - 1);
			if (prev >= 0) {
				if (problems.len)
					buf_puts(&problems, "; ");
				buf_printf(&problems, "uscc %s is already on line %ld (one row per enterprise)",
					   row->uscc, rows[prev].line);
			}
		}
		if (problems.len) {
			fprintf(stderr, "%s:%ld: %s\n", path, row->line, problems.data);
			nbad++;
		}
	}
	if (nbad) {
		fprintf(stderr, "%s: %d bad row%s; nothing was imported\n", what, nbad, nbad == 1 ? "" : "s");
		goto done;
	}
	if (nrows == 0) {
		fprintf(stderr, "%s: %s has a header but no rows; nothing was imported\n", what, path);
		goto done;
	}

	if (!(c = ctl_conn(ctx)) || !db_begin(c))
		goto done;
	if (!db_run(c, what,
		    "CREATE TEMP TABLE enterprise_import (line bigint, uscc text, valid_from date, name text, "
		    "division text, sme boolean, model_developer boolean, maas_builder boolean, "
		    "model_registered boolean, foundation_model boolean, credit_blacklisted boolean, "
		    "performance_grade text) ON COMMIT DROP",
		    0, NULL) ||
	    !import_copy(c, what, rows, nrows))
		goto failed;
	/* the owner's function reads the rows staged here: a version with the
	 * same facts as the one in force is left alone (who imported it stays
	 * true), any other row is a new version; nothing is overwritten */
	if (!db_run(c, what, "GRANT SELECT ON pg_temp.enterprise_import TO voucher_owner", 0, NULL))
		goto failed;
	const char *ip[] = {backdate ? "true" : "false"};
	PGresult *ir = db_exec(c, what, "SELECT * FROM voucher.enterprise_import($1::boolean)", 1, ip);
	if (!ir)
		goto failed;
	long added = atol(PQgetvalue(ir, 0, 0)), changed = atol(PQgetvalue(ir, 0, 1)),
	     backdated = atol(PQgetvalue(ir, 0, 2));
	PQclear(ir);
	if (!db_commit(c))
		goto done;
	long unchanged = nrows - changed, updated = changed - added;
	printf("imported %d enterprises (%ld new, %ld updated", nrows, added, updated);
	if (unchanged > 0)
		printf(", %ld unchanged", unchanged);
	if (backdated > 0)
		printf(", %ld versions backdated", backdated);
	printf(")\n");
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
	fprintf(stderr, "%s: nothing was imported\n", what);
done:
	for (int i = 0; i < nrows; i++)
		free(rows[i].name);
	free(rows);
	free(seen.slot);
	buf_free(&rec.text);
	buf_free(&problems);
	buf_free(&file);
	return rc;
}

/* ------------------------------------------------------------------ enterprise list / show */

static const out_col_t version_cols[] = {
	{"uscc", OUT_TEXT},
	{"name", OUT_TEXT},
	{"division", OUT_TEXT},
	{"sme", OUT_BOOL},
	{"model_developer", OUT_BOOL},
	{"maas_builder", OUT_BOOL},
	{"model_registered", OUT_BOOL},
	{"foundation_model", OUT_BOOL},
	{"credit_blacklisted", OUT_BOOL},
	{"performance_grade", OUT_TEXT},
	{"valid_from", OUT_TEXT},
	{"imported_at", OUT_TIMESTAMP},
	{"imported_by", OUT_TEXT},
};
#define VERSION_FACTS "v.name, v.division, v.sme, v.model_developer, v.maas_builder, " \
		      "v.model_registered, v.foundation_model, v.credit_blacklisted, "  \
		      "v.performance_grade, v.valid_from, v.imported_at, v.imported_by"
#define VERSION_COLS "v.uscc, " VERSION_FACTS
#define NVERSION_COLS ((int)(sizeof version_cols / sizeof version_cols[0]))
/* the version in force today first, else the earliest later one */
#define CURRENT_ORDER "v.valid_from <= " TODAY_CN " DESC, " \
		      "CASE WHEN v.valid_from <= " TODAY_CN " THEN v.valid_from END DESC, v.valid_from"

static int enterprise_list(ctl_t *ctx, int argc, char **argv)
{
	int rc = ctl_parse_args(argc, argv, 2, NULL, NULL, 0, "enterprise list", usage_enterprise_list);
	if (rc >= 0)
		return rc;
	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	PGresult *r = db_exec(c, "enterprise list",
			      "SELECT DISTINCT ON (v.uscc) " VERSION_COLS
			      " FROM voucher.enterprise_registry v ORDER BY v.uscc, " CURRENT_ORDER,
			      0, NULL);
	if (!r)
		return CTL_FAIL;
	/* imported_at/by are in show; the list stays narrow */
	bool ok = out_print(stdout, ctx->format, version_cols, NVERSION_COLS - 2, r);
	PQclear(r);
	return ok ? CTL_OK : CTL_FAIL;
}

static int enterprise_show(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "enterprise show";
	const char *pos[1];
	int rc = ctl_parse_args(argc, argv, 2, NULL, pos, 1, what, usage_enterprise_show);
	if (rc >= 0)
		return rc;
	const char *uscc = pos[0];
	if (!uscc_valid(uscc))
		return ctl_usage_error(usage_enterprise_show, "%s: '%s' %s", what, uscc, bad_uscc_hint);
	static const out_col_t rcols[] = {
		{"provider", OUT_TEXT}, {"name", OUT_TEXT}, {"added_at", OUT_TIMESTAMP}, {"added_by", OUT_TEXT},
	};
	PGconn *c = ctl_conn(ctx);
	if (!c || !begin_read(c))
		return CTL_FAIL;
	const char *p[] = {uscc};
	PGresult *cur = NULL, *all = NULL, *rel = NULL;
	rc = CTL_FAIL;
	if (!enterprise_exists(c, what, uscc))
		goto failed;
	cur = db_exec(c, what,
		      "SELECT " VERSION_COLS " FROM voucher.enterprise_registry v "
		      "WHERE v.uscc = $1 AND v.valid_from <= " TODAY_CN
		      " ORDER BY v.valid_from DESC LIMIT 1",
		      1, p);
	all = cur ? db_exec(c, what,
			    "SELECT " VERSION_FACTS " FROM voucher.enterprise_registry v "
			    "WHERE v.uscc = $1 ORDER BY v.valid_from",
			    1, p)
		  : NULL;
	rel = all ? db_exec(c, what,
			    "SELECT r.provider, p.name, r.added_at, r.added_by "
			    "FROM voucher.related_parties r JOIN voucher.providers p ON p.code = r.provider "
			    "WHERE r.uscc = $1 ORDER BY r.provider",
			    1, p)
		  : NULL;
	if (!rel)
		goto failed;
	out_rows_t crow = out_rows_pg(cur), arow = out_rows_pg(all), rrow = out_rows_pg(rel);
	out_doc_t d;
	out_doc_begin(&d, stdout, ctx->format);
	out_doc_record(&d, "current", version_cols, NVERSION_COLS, &crow, 0);
	/* the versions without the uscc column: it would repeat the same value */
	out_doc_list(&d, "versions", version_cols + 1, NVERSION_COLS - 1, &arow);
	out_doc_list(&d, "related_providers", rcols, 4, &rrow);
	rc = out_doc_end(&d) ? CTL_OK : CTL_FAIL;
failed:
	PQclear(rel);
	PQclear(all);
	PQclear(cur);
	db_rollback(c); /* read only */
	return rc;
}

/* ------------------------------------------------------------------ enterprise relate */

static int enterprise_relate(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "enterprise relate";
	const char *provider = NULL, *backdate = NULL, *pos[1];
	const struct ctl_opt opts[] = {{"--provider", &provider, false}, {"--backdate", &backdate, true},
				       {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, pos, 1, what, usage_relate);
	if (rc >= 0)
		return rc;
	const char *uscc = pos[0];
	if (!provider)
		return ctl_usage_error(usage_relate, "%s: --provider CODE is required", what);
	if (!uscc_valid(uscc))
		return ctl_usage_error(usage_relate, "%s: '%s' %s", what, uscc, bad_uscc_hint);
	if (!printable_id(provider, CODE_MAX))
		return ctl_usage_error(usage_relate, "%s: '%s' is not a provider code", what, provider);
	PGconn *c = ctl_conn(ctx);
	if (!c || !db_begin(c))
		return CTL_FAIL;
	PGresult *r = NULL;
	rc = CTL_FAIL;
	if (!enterprise_exists(c, what, uscc) || !provider_exists(c, what, provider))
		goto failed;
	const char *p[] = {uscc, provider, backdate ? "true" : "false"};
	r = db_exec(c, what, "SELECT * FROM voucher.relate($1, $2, $3::boolean)", 3, p);
	if (!r)
		goto failed;
	if (PQntuples(r) == 0) {
		PQclear(r);
		r = db_exec(c, what,
			    "SELECT added_at, added_by FROM voucher.related_parties "
			    "WHERE uscc = $1 AND provider = $2",
			    2, p);
		if (!r || PQntuples(r) != 1)
			goto failed;
		printf("enterprise %s is already related to provider %s (since %s, by %s); nothing changed\n",
		       uscc, provider, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		db_rollback(c);
		rc = CTL_OK;
		goto done;
	}
	if (!db_commit(c))
		goto done;
	printf("enterprise %s is now related to provider %s: that provider's records for it count for "
	       "nothing\n",
	       uscc, provider);
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
done:
	PQclear(r);
	return rc;
}

int cmd_enterprise(ctl_t *ctx, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	if (!sub)
		return ctl_usage_error(usage_enterprise, "enterprise: which subcommand?");
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		fputs(usage_enterprise, stdout);
		return CTL_OK;
	}
	if (!strcmp(sub, "import"))
		return enterprise_import(ctx, argc, argv);
	if (!strcmp(sub, "list"))
		return enterprise_list(ctx, argc, argv);
	if (!strcmp(sub, "show"))
		return enterprise_show(ctx, argc, argv);
	if (!strcmp(sub, "relate"))
		return enterprise_relate(ctx, argc, argv);
	return ctl_usage_error(usage_enterprise, "enterprise: unknown subcommand '%s'", sub);
}
