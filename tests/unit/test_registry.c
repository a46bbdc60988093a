/* Unit tests for daemon/registry.c: registry_build() on results made by
 * hand (libpq can build a PGresult without a server), one row of each kind
 * the daemon cannot use beside good ones. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "daemon/registry.h"

static char *slurp_vector(const char *name)
{
	char path[4096];
	const char *dir = getenv("VOUCHER_VECTORS");
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/vectors", name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	static char data[8192];
	size_t n = fread(data, 1, sizeof data - 1, f);
	fclose(f);
	data[n] = '\0';
	return data;
}

/* a result with REGISTRY_SQL's eight columns */
static PGresult *result(void)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc att[8];
	static char *names[8] = {"kind", "provider", "ident", "alg", "pem", "valid_from", "valid_to", "revoked"};
	memset(att, 0, sizeof att);
	for (int i = 0; i < 8; i++) {
		att[i].name = names[i];
		att[i].typlen = -1;
	}
	cr_assert(PQsetResultAttrs(r, 8, att));
	return r;
}

/* pem NULL: SQL NULL */
static void row(PGresult *r, const char *kind, const char *prov, const char *ident, const char *alg, const char *pem)
{
	int t = PQntuples(r);
	const char *v[8] = {kind, prov, ident, alg, pem, "1767225600", "0", "f"};
	for (int i = 0; i < 8; i++)
		cr_assert(PQsetvalue(r, t, i, (char *)v[i], v[i] ? (int)strlen(v[i]) : -1));
}

Test(unit_registry, bad_rows_are_left_out_and_the_rest_loads)
{
	char ed[8192], sm2[8192];
	snprintf(ed, sizeof ed, "%s", slurp_vector("provider-a.ed25519.pub"));
	snprintf(sm2, sizeof sm2, "%s", slurp_vector("provider-b.sm2.pub"));
	char longid[200];
	memset(longid, 'k', 150);
	longid[150] = '\0';
	const char *fp = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	PGresult *r = result();
	row(r, "cert", "prov-a", fp, NULL, NULL);
	row(r, "cert", "prov-b", "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", NULL, NULL);
	row(r, "cert", "prov-b", "abc", NULL, NULL);
	row(r, "key", "prov-a", "prov-a-2026a", "ed25519", ed);
	row(r, "key", "prov-a", "garbage", "ed25519", "-----BEGIN PUBLIC KEY-----\nTk9U\n-----END PUBLIC KEY-----\n");
	row(r, "key", "prov-a", "wrongtype", "ed25519", sm2);
	row(r, "key", "prov-a", "noalg", "rsa", ed);
	row(r, "key", "prov-a", "nopem", "ed25519", NULL);
	row(r, "key", "prov-a", longid, "ed25519", ed);
	row(r, "key", "prov-b", "prov-b-2026a", "sm2-sm3", sm2);
	row(r, "other", "prov-b", "x", NULL, NULL);

	char err[256] = "";
	registry_t *reg = registry_build(r, err, sizeof err);
	cr_assert_not_null(reg, "%s", err);
	cr_expect_eq(reg->ncerts, 1);
	cr_expect_eq(reg->nkeys, 2);
	cr_expect_eq(reg->nbad, 8);
	cr_expect_str_eq(registry_provider(reg, fp), "prov-a");
	cr_expect_not_null(registry_key(reg, "prov-a", "prov-a-2026a"));
	cr_expect_not_null(registry_key(reg, "prov-b", "prov-b-2026a"));
	static const char *const bad_keys[] = {"garbage", "wrongtype", "noalg", "nopem"};
	for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
		cr_expect_null(registry_key(reg, "prov-a", bad_keys[i]), "%s", bad_keys[i]);
		const reg_bad_t *b = registry_bad(reg, "key", "prov-a", bad_keys[i]);
		cr_assert_not_null(b, "%s", bad_keys[i]);
		cr_expect(*b->reason, "%s has a reason", bad_keys[i]);
		cr_expect_null(strstr(b->reason, "BEGIN"), "%s", b->reason);
	}
	cr_expect_not_null(registry_bad(reg, "cert", "prov-b", "abc"));
	cr_expect_null(registry_bad(reg, "key", "prov-a", "prov-a-2026a"));
	cr_expect_str_eq(reg->bad[6].reason, "identifier empty or too long");
	cr_expect_str_eq(reg->bad[7].kind, "?");
	registry_free(reg);
	PQclear(r);
}

Test(unit_registry, a_result_of_other_columns_is_refused)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	char err[256] = "";
	cr_expect_null(registry_build(r, err, sizeof err));
	cr_expect(strstr(err, "columns"), "%s", err);
	PQclear(r);
}
