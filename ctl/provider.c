/* voucherctl provider ...: the providers of the registry.
 *
 * Providers with their TLS client certificates, batch-signing keys and
 * facilities.  Every argument is checked before the database is touched,
 * every statement is parameterized, and every change is one transaction: a
 * command that fails has changed nothing.
 *
 * Exit codes: 0 done, 1 refused or failed (the message says what to do),
 * 2 the command line is wrong (a missing or unknown option, or a value that
 * can never be right). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/buf.h"
#include "common/db.h"
#include "common/validate.h"
#include "ctl/ctl.h"
#include "ctl/output.h"
#include "ctl/registry.h"
#include "ctl/x509.h"
#include "metering/sig.h"

#define KEY_ID_MAX 128        /* provider_keys.key_id */
#define PEM_MAX (1024 * 1024) /* a certificate or public key file */

/* ------------------------------------------------------------------ usage */

static const char usage_provider[] =
	"usage: voucherctl provider add CODE --name NAME --uscc USCC [--kind compute|marketplace]\n"
	"       voucherctl provider list\n"
	"       voucherctl provider show CODE\n"
	"       voucherctl provider cert add CODE --cert FILE.pem\n"
	"       voucherctl provider key add CODE KEYID --alg ed25519|sm2-sm3 --pub FILE.pem\n"
	"                                 [--valid-from T] [--valid-to T]\n"
	"       voucherctl provider key revoke CODE KEYID\n"
	"       voucherctl provider facility add CODE FACILITY --division DIV --class A|B\n"
	"Run 'voucherctl provider SUBCOMMAND --help' for details.\n";

static const char usage_provider_add[] =
	"usage: voucherctl provider add CODE --name NAME --uscc USCC [--kind compute|marketplace]\n"
	"Registers a provider.\n"
	"  CODE    1-64 printable ASCII characters, no spaces (the provider field of batches)\n"
	"  NAME    the registered name, 1-200 characters\n"
	"  USCC    its unified social credit code (18 characters, GB 32100-2015)\n"
	"  --kind  compute (the default): a compute or model service provider (算力服务商),\n"
	"          selling its own service; marketplace: a compliant data-trading platform or\n"
	"          trusted data space (数据交易平台、数据可信空间), whose corpus and dataset\n"
	"          records name the seller.  Corpus and dataset records count for the corpus\n"
	"          and data vouchers only when a marketplace pushed them.  A provider's kind\n"
	"          never changes.\n";

static const char usage_provider_list[] =
	"usage: voucherctl [--format table|csv|json] provider list\n"
	"Lists the providers with their kind and their counts of valid certificates, usable\n"
	"keys and facilities.\n";

static const char usage_provider_show[] =
	"usage: voucherctl [--format table|csv|json] provider show CODE\n"
	"Shows a provider, its certificates, keys, facilities and related enterprises.\n";

static const char usage_cert_add[] = "usage: voucherctl provider cert add CODE --cert FILE.pem\n"
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

static const char usage_key_revoke[] = "usage: voucherctl provider key revoke CODE KEYID\n"
				       "Revokes a signing key now: batches signed with it are refused from now on.\n"
				       "A key is revoked once; it cannot be un-revoked (register a new key id).\n";

static const char usage_facility_add[] =
	"usage: voucherctl provider facility add CODE FACILITY --division DIV --class A|B\n"
	"Registers a facility of the provider (the facility field of records).\n"
	"  FACILITY    1-64 printable ASCII characters, unique per provider\n"
	"  --division  GB/T 2260 six-digit code of the county-level division it is in\n"
	"  --class     A or B: the bureau's facility class (Hangzhou: A gets the higher rate)\n";

/* ------------------------------------------------------------------ provider add */

static int provider_add(ctl_t *ctx, int argc, char **argv)
{
	const char *what = "provider add";
	const char *name = NULL, *uscc = NULL, *kind = NULL, *pos[1];
	const struct ctl_opt opts[] = {
		{"--name", &name, false}, {"--uscc", &uscc, false}, {"--kind", &kind, false}, {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 2, opts, pos, 1, what, usage_provider_add);
	if (rc >= 0)
		return rc;
	const char *code = pos[0];
	if (!name || !uscc)
		return ctl_usage_error(usage_provider_add, "%s: --name and --uscc are required", what);
	if (!printable_id(code, CODE_MAX))
		return ctl_usage_error(usage_provider_add,
				       "%s: CODE must be 1-64 printable ASCII characters without spaces", what);
	const char *np = reg_name_problem(name);
	if (np)
		return ctl_usage_error(usage_provider_add, "%s: NAME %s", what, np);
	if (!uscc_valid(uscc))
		return ctl_usage_error(usage_provider_add, "%s: USCC '%s' %s", what, uscc, reg_bad_uscc_hint);
	if (!kind)
		kind = "compute";
	else if (strcmp(kind, "compute") != 0 && strcmp(kind, "marketplace") != 0)
		return ctl_usage_error(usage_provider_add, "%s: --kind must be compute or marketplace, not '%s'", what,
				       kind);

	PGconn *c = ctl_conn(ctx);
	if (!c)
		return CTL_FAIL;
	const char *p[] = {code, name, uscc, kind};
	PGresult *r = db_exec(c, what, "SELECT * FROM voucher.provider_add($1, $2, $3, $4)", 4, p);
	if (!r)
		return CTL_FAIL;
	int added = PQntuples(r);
	PQclear(r);
	if (!added) {
		fprintf(stderr, "%s: provider '%s' already exists; nothing changed (voucherctl provider show %s)\n",
			what, code, code);
		return CTL_FAIL;
	}
	printf("added provider %s (%s), %s\n", code, name, kind);
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
		{"code", OUT_TEXT},       {"name", OUT_TEXT},
		{"uscc", OUT_TEXT},       {"kind", OUT_TEXT},
		{"valid_certs", OUT_INT}, {"usable_keys", OUT_INT},
		{"facilities", OUT_INT},  {"created_at", OUT_TIMESTAMP},
	};
	PGresult *r = db_exec(c, "provider list",
			      "SELECT p.code, p.name, p.uscc, p.kind, "
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
		{"code", OUT_TEXT},
		{"name", OUT_TEXT},
		{"uscc", OUT_TEXT},
		{"kind", OUT_TEXT},
		{"created_at", OUT_TIMESTAMP},
		{"created_by", OUT_TEXT},
	};
	static const out_col_t ccols[] = {
		{"fingerprint", OUT_TEXT}, {"subject", OUT_TEXT},       {"not_after", OUT_TIMESTAMP},
		{"status", OUT_TEXT},      {"added_at", OUT_TIMESTAMP}, {"added_by", OUT_TEXT},
	};
	static const out_col_t kcols[] = {
		{"key_id", OUT_TEXT},          {"alg", OUT_TEXT},
		{"valid_from", OUT_TIMESTAMP}, {"valid_to", OUT_TIMESTAMP},
		{"revoked_at", OUT_TIMESTAMP}, {"status", OUT_TEXT},
		{"added_at", OUT_TIMESTAMP},   {"added_by", OUT_TEXT},
	};
	static const out_col_t fcols[] = {
		{"facility", OUT_TEXT},      {"division", OUT_TEXT}, {"class", OUT_TEXT},
		{"added_at", OUT_TIMESTAMP}, {"added_by", OUT_TEXT},
	};
	static const out_col_t ecols[] = {
		{"uscc", OUT_TEXT},
		{"name", OUT_TEXT},
		{"added_at", OUT_TIMESTAMP},
		{"added_by", OUT_TEXT},
	};
	const char *p[] = {pos[0]};
	PGresult *pr = NULL, *cr = NULL, *kr = NULL, *fr = NULL, *er = NULL;
	rc = CTL_FAIL;
	if (!reg_begin_read(c))
		return CTL_FAIL;
	pr = db_exec(c, what,
		     "SELECT code, name, uscc, kind, created_at, created_by FROM voucher.providers "
		     "WHERE code = $1",
		     1, p);
	if (!pr)
		goto failed;
	if (PQntuples(pr) == 0) {
		fprintf(stderr, "%s: provider '%s' is not registered (voucherctl provider list)\n", what, pos[0]);
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
	out_rows_t prow = out_rows_pg(pr), crow = out_rows_pg(cr), krow = out_rows_pg(kr), frow = out_rows_pg(fr),
		   erow = out_rows_pg(er);
	out_doc_t d;
	out_doc_begin(&d, stdout, ctx->format);
	out_doc_record(&d, "provider", pcols, 6, &prow, 0);
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
	if (!ctl_read_file(what, certfile, PEM_MAX, &file) || !x509_cert_read(what, certfile, &file, &cf))
		goto done;
	if (!(c = ctl_conn(ctx)) || !db_begin(c))
		goto done;
	if (!reg_provider_exists(c, what, code))
		goto failed;
	const char *fp[] = {cf.fingerprint};
	r = db_exec(c, what, "SELECT provider, added_at FROM voucher.provider_certs WHERE fingerprint = $1", 1, fp);
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
	r = db_exec(c, what, "SELECT * FROM voucher.provider_cert_add($1, $2, $3, $4::timestamptz, $5)", 5, p);
	if (!r)
		goto failed;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "%s: this certificate (SHA-256 %s) was registered meanwhile; nothing changed\n", what,
			cf.fingerprint);
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

struct key_args {
	const char *code, *keyid, *algname, *pubfile, *from, *to;
	sig_alg_t alg;
};

/* Parses and checks the arguments of key add: -1 to go on, else the exit code. */
static int key_add_args(int argc, char **argv, struct key_args *a)
{
	const char *what = "provider key add";
	const char *pos[2];
	a->algname = a->pubfile = a->from = a->to = NULL;
	const struct ctl_opt opts[] = {{"--alg", &a->algname, false},
				       {"--pub", &a->pubfile, false},
				       {"--valid-from", &a->from, false},
				       {"--valid-to", &a->to, false},
				       {NULL, NULL, false}};
	int rc = ctl_parse_args(argc, argv, 3, opts, pos, 2, what, usage_key_add);
	if (rc >= 0)
		return rc;
	a->code = pos[0];
	a->keyid = pos[1];
	const char *from = a->from, *to = a->to;
	int64_t from_us = 0, to_us = 0;
	if (!a->algname || !a->pubfile)
		return ctl_usage_error(usage_key_add, "%s: --alg and --pub are required", what);
	if (!printable_id(a->code, CODE_MAX))
		return ctl_usage_error(usage_key_add, "%s: '%s' is not a provider code", what, a->code);
	if (!printable_id(a->keyid, KEY_ID_MAX))
		return ctl_usage_error(usage_key_add,
				       "%s: KEYID must be 1-128 printable ASCII characters without spaces", what);
	if (!sig_alg_parse(a->algname, &a->alg))
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
	return -1;
}

/* The public key of --pub alone, in canonical SPKI PEM (to free), whatever
 * else the file held; NULL (printed) if the file holds no key of --alg. */
static char *key_pem(const char *what, const struct key_args *a)
{
	buf_t file = BUF_INIT;
	EVP_PKEY *pk = NULL;
	BIO *pb = NULL;
	char *pem = NULL;
	if (!ctl_read_file(what, a->pubfile, PEM_MAX, &file))
		goto done;
	if (strstr(file.data, "PRIVATE KEY-----")) {
		fprintf(stderr,
			"%s: %s holds a private key; the registry takes only the public key "
			"(openssl pkey -in %s -pubout -out KEY.pub), and the private key stays with "
			"the provider\n",
			what, a->pubfile, a->pubfile);
		goto done;
	}
	char err[256];
	pk = sig_load_public(file.data, file.len, a->alg, err, sizeof err);
	if (!pk) {
		fprintf(stderr, "%s: %s: %s (for --alg %s)\n", what, a->pubfile, err, a->algname);
		goto done;
	}
	if (!(pb = BIO_new(BIO_s_mem())) || PEM_write_bio_PUBKEY(pb, pk) != 1) {
		fprintf(stderr, "%s: %s: OpenSSL could not encode the public key\n", what, a->pubfile);
		goto done;
	}
	pem = x509_bio_text(pb);
done:
	BIO_free(pb);
	EVP_PKEY_free(pk);
	buf_free(&file);
	ERR_clear_error();
	return pem;
}

/* Registers the key in one transaction: CTL_OK, or CTL_FAIL (printed). */
static int key_store(ctl_t *ctx, const char *what, const struct key_args *a, const char *pem)
{
	const char *code = a->code, *keyid = a->keyid;
	PGconn *c = ctl_conn(ctx);
	PGresult *r = NULL;
	int rc = CTL_FAIL;
	if (!c || !db_begin(c))
		return CTL_FAIL;
	if (!reg_provider_exists(c, what, code))
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
	const char *p[] = {code, keyid, sig_alg_name(a->alg), pem, a->from, a->to};
	r = db_exec(c, what, "SELECT * FROM voucher.provider_key_add($1, $2, $3, $4, $5::timestamptz, $6::timestamptz)",
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
	printf("added key %s (%s) for provider %s, valid from %s%s%s\n", keyid, sig_alg_name(a->alg), code,
	       PQgetvalue(r, 0, 0), PQgetisnull(r, 0, 1) ? "" : " to ",
	       PQgetisnull(r, 0, 1) ? "" : PQgetvalue(r, 0, 1));
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
done:
	PQclear(r);
	return rc;
}

static int key_add(ctl_t *ctx, int argc, char **argv)
{
	struct key_args a;
	int rc = key_add_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	char *pem = key_pem("provider key add", &a);
	if (!pem)
		return CTL_FAIL;
	rc = key_store(ctx, "provider key add", &a, pem);
	free(pem);
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
		return ctl_usage_error(usage_key_revoke, "%s: CODE and KEYID are printable ASCII without spaces", what);
	PGconn *c = ctl_conn(ctx);
	if (!c || !db_begin(c))
		return CTL_FAIL;
	PGresult *r = NULL;
	rc = CTL_FAIL;
	if (!reg_provider_exists(c, what, code))
		goto failed;
	const char *p[] = {code, keyid};
	r = db_exec(c, what, "SELECT revoked_at FROM voucher.provider_keys WHERE provider = $1 AND key_id = $2", 2, p);
	if (!r)
		goto failed;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "%s: provider '%s' has no key '%s' (voucherctl provider show %s lists its keys)\n",
			what, code, keyid, code);
		goto failed;
	}
	if (!PQgetisnull(r, 0, 0)) {
		fprintf(stderr, "%s: key '%s' of provider '%s' was already revoked at %s; nothing changed\n", what,
			keyid, code, PQgetvalue(r, 0, 0));
		goto failed;
	}
	PQclear(r);
	r = db_exec(c, what, "SELECT r FROM voucher.provider_key_revoke($1, $2) r WHERE r IS NOT NULL", 2, p);
	if (!r)
		goto failed;
	if (PQntuples(r) != 1) {
		fprintf(stderr, "%s: key '%s' of provider '%s' changed meanwhile; nothing changed\n", what, keyid,
			code);
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
	const struct ctl_opt opts[] = {
		{"--division", &division, false}, {"--class", &class, false}, {NULL, NULL, false}};
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
				       "%s: FACILITY must be 1-64 printable ASCII characters without spaces", what);
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
	if (!reg_provider_exists(c, what, code))
		goto failed;
	const char *p[] = {code, facility, division, class};
	r = db_exec(c, what, "SELECT * FROM voucher.facility_add($1, $2, $3, $4)", 4, p);
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
	printf("added facility %s of provider %s (division %s, class %s)\n", facility, code, division, class);
	rc = CTL_OK;
	goto done;
failed:
	db_rollback(c);
done:
	PQclear(r);
	return rc;
}

/* provider cert|key|facility SUB: the second word picks the command */
static const struct {
	const char *sub, *sub2;
	int (*fn)(ctl_t *ctx, int argc, char **argv);
} nested[] = {{"cert", "add", cert_add},
	      {"key", "add", key_add},
	      {"key", "revoke", key_revoke},
	      {"facility", "add", facility_add}};

static int provider_nested(ctl_t *ctx, int argc, char **argv)
{
	const char *sub = argv[1], *sub2 = argc > 2 ? argv[2] : NULL;
	for (size_t i = 0; sub2 && i < sizeof nested / sizeof nested[0]; i++)
		if (!strcmp(sub, nested[i].sub) && !strcmp(sub2, nested[i].sub2))
			return nested[i].fn(ctx, argc, argv);
	if (sub2 && (!strcmp(sub2, "--help") || !strcmp(sub2, "-h"))) {
		fputs(!strcmp(sub, "cert")       ? usage_cert_add
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

int cmd_provider(ctl_t *ctx, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {{"add", provider_add},
					      {"list", provider_list},
					      {"show", provider_show},
					      {"cert", provider_nested},
					      {"key", provider_nested},
					      {"facility", provider_nested},
					      {NULL, NULL}};
	return ctl_dispatch(ctx, argc, argv, "provider", subs, usage_provider);
}
