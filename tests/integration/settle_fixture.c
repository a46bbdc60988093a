#include "tests/integration/settle_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/validate.h"
#include "metering/sig.h"
#include "tests/integration/support.h"

PGconn *sf_db;
char sf_ci[256];
static int rec_no;

void sf_sql(const char *q)
{
	PGresult *r = PQexec(sf_db, q);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q,
		  PQerrorMessage(sf_db));
	PQclear(r);
}

void sf_sqlp(const char *q, int n, const char *const *p)
{
	PGresult *r = PQexecParams(sf_db, q, n, NULL, p, NULL, NULL, 0);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q,
		  PQerrorMessage(sf_db));
	PQclear(r);
}

const char *sf_uscc(const char *division, int n)
{
	return sf_code("91", division, n);
}

const char *sf_code(const char *head, const char *division, int n)
{
	static char slots[16][19];
	static unsigned k;
	char *o = slots[k++ % 16];
	snprintf(o, 19, "%.2s%s%09d", head, division, n);
	o[17] = uscc_check_char(o);
	o[18] = '\0';
	cr_assert(uscc_valid(o), "%s", o);
	return o;
}

/* the vector signing keys of the fixture's providers */
static void provider_key(const char *provider, sig_alg_t *alg, const char **keyfile, const char **keyid)
{
	static char id[80];
	bool r = !strcmp(provider, "prov-r");
	*alg = r ? SIG_ALG_SM2_SM3 : SIG_ALG_ED25519;
	*keyfile = r ? "provider-b.sm2.key" : "provider-a.ed25519.key";
	snprintf(id, sizeof id, "%s-2026a", provider);
	*keyid = id;
}

static void register_key(const char *provider)
{
	sig_alg_t alg;
	const char *keyfile, *keyid;
	provider_key(provider, &alg, &keyfile, &keyid);
	char *pem =
		t_slurp(t_vector_path(alg == SIG_ALG_SM2_SM3 ? "provider-b.sm2.pub" : "provider-a.ed25519.pub"), NULL);
	const char *kp[] = {provider, keyid, sig_alg_name(alg), pem};
	sf_sqlp("INSERT INTO voucher.provider_keys (provider, key_id, alg, public_pem, valid_from) "
		"VALUES ($1, $2, $3, $4, '2026-01-01T00:00:00Z')",
		4, kp);
	free(pem);
}

/* stores a batch with this body, signed with the provider's key, as the
 * daemon would have */
static void signed_batch(const char *provider, const char *batch_id, const char *body)
{
	sig_alg_t alg;
	const char *keyfile, *keyid;
	provider_key(provider, &alg, &keyfile, &keyid);
	size_t len = strlen(body);
	char err[256];
	EVP_PKEY *k = sig_load_private_file(t_vector_path(keyfile), alg, err, sizeof err);
	cr_assert(k, "%s", err);
	int64_t created = (int64_t)time(NULL) - 1;
	char created_txt[24];
	snprintf(created_txt, sizeof created_txt, "%lld", (long long)created);
	buf_t cd = BUF_INIT, si = BUF_INIT, sg = BUF_INIT;
	cr_assert(sig_make_headers(k, alg, keyid, created, "POST", "/v1/usage-batches", body, len, &cd, &si, &sg));
	EVP_PKEY_free(k);
	uint8_t raw[32];
	cr_assert_eq(sig_digest_check(cd.data, body, len, raw), SIG_OK);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	const char *bp[] = {provider, hex,     keyid, sig_alg_name(alg), cd.data,
			    si.data,  sg.data, body,  created_txt,       batch_id};
	int lens[10] = {0, 0, 0, 0, 0, 0, 0, (int)len, 0, 0};
	int fmts[10] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
	PGresult *r = PQexecParams(
		sf_db,
		"INSERT INTO voucher.batches (provider, batch_id, digest, key_id, alg, sig_created, "
		"content_digest, signature_input, signature, body, record_count, accepted, duplicates, "
		"rejected, answer) VALUES ($1, $10, $2, $3, $4, to_timestamp($9::bigint), $5, $6, $7, $8, 0, 0, 0, "
		"0, '{}')",
		10, NULL, bp, lens, fmts, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(sf_db));
	PQclear(r);
	buf_free(&cd);
	buf_free(&si);
	buf_free(&sg);
}

/* finance users are login roles, members of voucher_finance (cluster-wide) */
void sf_user(const char *name)
{
	char q[512];
	snprintf(q, sizeof q,
		 "DO $$ BEGIN CREATE ROLE %s LOGIN IN ROLE voucher_finance; "
		 "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
		 name);
	sf_sql(q);
}

void sf_setup(void)
{
	rec_no = 0;
	sf_db = t_newdb(sf_ci, sizeof sf_ci);
	sf_user("alice");
	sf_user("bob");
	sf_sql("INSERT INTO voucher.providers (code, name, uscc) VALUES ('prov-a', 'A', '91330483100000001E'), "
	       "('prov-r', 'Related', '91330483100000001E')");
	sf_sql("INSERT INTO voucher.facilities VALUES ('prov-a', 'fa', '330402', 'A'), "
	       "('prov-a', 'fb', '330402', 'B'), ('prov-r', 'fr', '330402', 'A')");
	/* every record of the tests arrives in a batch of its own, really
	 * signed, so that audit verify's checks of batches and records hold */
	register_key("prov-a");
	register_key("prov-r");
}

void sf_teardown(void)
{
	if (sf_db)
		PQfinish(sf_db);
	sf_db = NULL;
}

void sf_enterprise(const char *u, const char *division, const char *name)
{
	const char *p[] = {u, division, name};
	sf_sqlp("INSERT INTO voucher.enterprises (uscc) VALUES ($1)", 1, p);
	sf_sqlp("INSERT INTO voucher.enterprise_versions (uscc, valid_from, name, division) "
		"VALUES ($1, '2025-01-01', coalesce($3, '企业 ' || right($1, 4)), $2)",
		3, p);
}

void sf_flag(const char *u, const char *column)
{
	char q[768];
	/* enterprise versions are history: a changed fact is a newer import */
	snprintf(q, sizeof q,
		 "INSERT INTO voucher.enterprise_versions SELECT (jsonb_populate_record("
		 "NULL::voucher.enterprise_versions, to_jsonb(x) || jsonb_build_object('%s', true, "
		 "'imported_at', clock_timestamp(), 'id', nextval('voucher.enterprise_versions_id_seq')))).* "
		 "FROM voucher.enterprise_registry r JOIN voucher.enterprise_versions x ON x.id = r.id "
		 "WHERE r.uscc = $1",
		 column);
	sf_sqlp(q, 1, &u);
}

void sf_provider(const char *code, const char *kind, const char *facility)
{
	const char *p[] = {code, kind, facility};
	sf_sqlp("INSERT INTO voucher.providers (code, name, uscc, kind) VALUES ($1, $1, '91330483100000001E', $2)", 2,
		p);
	const char *f[] = {code, facility};
	sf_sqlp("INSERT INTO voucher.facilities VALUES ($1, $2, '330402', 'A')", 2, f);
	register_key(code);
}

static void record_with(const char *provider, const char *u, const char *facility, const char *category,
			long long amount, const char *ended_at, const char *adjusts, const char *seller);

void sf_record(const char *provider, const char *u, const char *facility, const char *category, long long amount,
	       const char *ended_at, const char *adjusts)
{
	record_with(provider, u, facility, category, amount, ended_at, adjusts, NULL);
}

void sf_record_seller(const char *provider, const char *u, const char *facility, const char *category, long long amount,
		      const char *ended_at, const char *seller)
{
	record_with(provider, u, facility, category, amount, ended_at, NULL, seller);
}

static void record_with(const char *provider, const char *u, const char *facility, const char *category,
			long long amount, const char *ended_at, const char *adjusts, const char *seller)
{
	char id[32], amt[32], batch[40], started[40], ended[40];
	snprintf(id, sizeof id, "r%d", ++rec_no);
	snprintf(batch, sizeof batch, "b-%s", id);
	snprintf(amt, sizeof amt, "%lld", amount);
	int64_t end_us;
	cr_assert(rfc3339_parse(ended_at, &end_us), "%s", ended_at);
	rfc3339_format_utc(end_us, ended, sizeof ended);
	rfc3339_format_utc(end_us - 3600 * (int64_t)1000000, started, sizeof started);
	buf_t body = BUF_INIT;
	buf_printf(&body,
		   "{\"batch_id\":\"%s\",\"provider\":\"%s\",\"records\":[{\"record_id\":\"%s\","
		   "\"enterprise\":\"%s\",\"facility\":\"%s\",\"category\":\"%s\",\"quantity\":\"1\","
		   "\"unit\":\"card_hour\",\"amount_fen\":%s,\"started_at\":\"%s\",\"ended_at\":\"%s\","
		   "\"contract_id\":\"C\"",
		   batch, provider, id, u, facility, category, amt, started, ended);
	if (adjusts)
		buf_printf(&body, ",\"adjusts\":\"%s\"", adjusts);
	if (seller)
		buf_printf(&body, ",\"seller\":\"%s\"", seller);
	buf_puts(&body, "}]}");
	signed_batch(provider, batch, body.data);
	buf_free(&body);
	const char *p[] = {provider, id, u, facility, category, amt, started, ended, adjusts, batch, seller};
	sf_sqlp("INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility, category, "
		"quantity, unit, amount_fen, started_at, ended_at, contract_id, adjusts, content_hash, seller) VALUES "
		"($1, $2, $10, $3, $4, $5, 1, 'card_hour', $6::bigint, $7::timestamptz, $8::timestamptz, 'C', $9, '\\x00', "
		"$11)",
		11, p);
	/* and its record id, as ingest keeps it */
	const char *k[] = {provider, id, ended, batch};
	sf_sqlp("INSERT INTO voucher.usage_keys (provider, record_id, ended_at, batch_id, content_hash) "
		"VALUES ($1, $2, $3::timestamptz, $4, '\\x00')",
		4, k);
}

int sf_ctl(const char *user, const char *args, char *out, size_t outcap, char *err, size_t errcap)
{
	char as[320];
	t_conninfo_as(sf_ci, user, as, sizeof as);
	buf_t cmd = BUF_INIT;
	buf_printf(&cmd, "cd '%s' && bin/voucherctl --db '%s' %s", t_root_path(""), as, args);
	int rc = t_run(cmd.data, out, outcap, err, errcap);
	buf_free(&cmd);
	return rc;
}

long long sf_settle(const char *user, const char *program, const char *period)
{
	char args[256], out[4096], err[4096];
	snprintf(args, sizeof args, "settle --program %s --period %s", program, period);
	cr_assert_eq(sf_ctl(user, args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	cr_assert(!strncmp(out, "run ", 4), "%s", out);
	return atoll(out + 4);
}

void sf_approve(const char *user, long long run)
{
	char args[64], out[2048], err[2048];
	snprintf(args, sizeof args, "run approve %lld", run);
	cr_assert_eq(sf_ctl(user, args, out, sizeof out, err, sizeof err), 0, "%s", err);
}

void sf_load_program(const char *path)
{
	char args[512], out[4096], err[4096];
	snprintf(args, sizeof args, "program load '%s'", path);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s %s", out, err);
}

PGconn *sf_as(const char *role)
{
	char ci[400];
	t_conninfo_as(sf_ci, role, ci, sizeof ci);
	PGconn *c = PQconnectdb(ci);
	cr_assert(PQstatus(c) == CONNECTION_OK, "%s: %s", role, PQerrorMessage(c));
	return c;
}

const char *sf_state_of(PGconn *c, const char *q)
{
	static char st[8];
	PGresult *r = PQexec(c, q);
	ExecStatusType s = PQresultStatus(r);
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		st[0] = '\0';
	else
		snprintf(st, sizeof st, "%s",
			 PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "?");
	PQclear(r);
	return st;
}
