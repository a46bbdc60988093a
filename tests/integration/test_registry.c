/* voucherctl provider ... / enterprise ...: the real binary against a fresh
 * database per test. */
#include <criterion/criterion.h>

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/support.h"

static char conninfo[512];
static PGconn *db;
static char tmpdir[64];

static void setup(void)
{
	db = t_newdb(conninfo, sizeof conninfo);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/vreg-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	if (db)
		PQfinish(db);
	if (tmpdir[0] && strncmp(tmpdir, "/tmp/vreg-", 10) == 0) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		t_run(cmd, NULL, 0, NULL, 0);
	}
}

#define ctl(...) t_ctl(conninfo, __VA_ARGS__)

/* Runs a shell command in the test's directory; asserts it succeeds. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char args[4096], cmd[8192], err[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "cd '%s' && %s", tmpdir, args);
	int rc = t_run(cmd, NULL, 0, err, sizeof err);
	cr_assert_eq(rc, 0, "%s: %s", args, err);
}

static void write_file(const char *name, const char *content)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	fputs(content, f);
	fclose(f);
}

static const char *path_of(const char *name)
{
	static char slots[4][256];
	static unsigned i;
	char *p = slots[i++ % 4];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	return p;
}

static long count(const char *sql)
{
	return atol(t_scalar(db, sql));
}

static void add_provider(const char *code, const char *uscc)
{
	struct t_ctl_run *r = ctl("provider add %s --name '%s 算力' --uscc %s", code, code, uscc);
	cr_assert_eq(r->rc, 0, "provider add: %s", r->err);
}

/* A self-signed Ed25519 certificate valid for a day: DIR/<name>.pem */
static void make_cert(const char *name, const char *cn)
{
	sh("openssl req -x509 -newkey ed25519 -nodes -subj /CN=%s -days 1 -keyout %s.key -out %s.pem "
	   "2>/dev/null",
	   cn, name, name);
}

/* openssl's SHA-256 fingerprint of DIR/<name>.pem, lower case, no colons */
static void openssl_fingerprint(const char *name, char *out)
{
	char cmd[512], o[512];
	snprintf(cmd, sizeof cmd, "openssl x509 -in '%s' -noout -fingerprint -sha256", path_of(name));
	cr_assert_eq(t_run(cmd, o, sizeof o, NULL, 0), 0);
	const char *p = strchr(o, '=');
	cr_assert_not_null(p, "%s", o);
	size_t n = 0;
	for (p++; *p && *p != '\n'; p++)
		if (*p != ':')
			out[n++] = (char)tolower((unsigned char)*p);
	out[n] = '\0';
	cr_assert_eq(n, 64, "fingerprint %s", out);
}

TestSuite(registry, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------ providers */

Test(registry, provider_add)
{
	struct t_ctl_run *r = ctl("provider add prov-a --name '桐乡算力, \"甲\"' --uscc 91330483100000001E");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(t_scalar(db, "SELECT name FROM voucher.providers WHERE code = 'prov-a'"), "桐乡算力, \"甲\"");
	cr_expect_str_eq(t_scalar(db, "SELECT uscc FROM voucher.providers WHERE code = 'prov-a'"),
			 "91330483100000001E");

	r = ctl("provider add prov-a --name other --uscc 91330106100000002H");
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "already exists"), "%s", r->err);
	cr_expect_str_eq(t_scalar(db, "SELECT name FROM voucher.providers WHERE code = 'prov-a'"), "桐乡算力, \"甲\"");
}

Test(registry, provider_add_bad_uscc)
{
	/* wrong check character, lower case, too short */
	const char *bad[] = {"91330483100000001F", "91330483100000001e", "9133048310000000"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct t_ctl_run *r = ctl("provider add prov-x --name x --uscc %s", bad[i]);
		cr_expect_eq(r->rc, 2, "uscc %s: rc %d", bad[i], r->rc);
		cr_expect_not_null(strstr(r->err, "unified social credit code"), "%s", r->err);
	}
	struct t_ctl_run *r = ctl("provider add prov-x --name x");
	cr_expect_eq(r->rc, 2);
	r = ctl("provider add 'a b' --name x --uscc 91330483100000001E");
	cr_expect_eq(r->rc, 2);
	r = ctl("provider add prov-x --name x --uscc 91330483100000001E --bogus 1");
	cr_expect_eq(r->rc, 2);
	cr_expect_eq(count("SELECT count(*) FROM voucher.providers"), 0);
}

Test(registry, provider_help)
{
	struct t_ctl_run *r = ctl("provider add --help");
	cr_expect_eq(r->rc, 0);
	cr_expect_not_null(strstr(r->out, "usage: voucherctl provider add"));
	r = ctl("provider frobnicate");
	cr_expect_eq(r->rc, 2);
	r = ctl("enterprise --help");
	cr_expect_eq(r->rc, 0);
}

/* ------------------------------------------------------------------ certificates */

Test(registry, cert_add_fingerprint)
{
	add_provider("prov-a", "91330483100000001E");
	make_cert("c", "prov-a-client");
	char want[65];
	openssl_fingerprint("c.pem", want);
	struct t_ctl_run *r = ctl("provider cert add prov-a --cert '%s'", path_of("c.pem"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, want), "fingerprint %s not in: %s", want, r->out);
	cr_expect_str_eq(t_scalar(db, "SELECT fingerprint FROM voucher.provider_certs"), want);
	cr_expect_str_eq(t_scalar(db, "SELECT provider || ' ' || subject FROM voucher.provider_certs"),
			 "prov-a CN=prov-a-client");
	cr_expect_str_eq(t_scalar(db, "SELECT not_after > now() AND not_after < now() + interval '2 days' "
				      "FROM voucher.provider_certs"),
			 "t");
	cr_expect_str_eq(t_scalar(db, "SELECT pem LIKE '-----BEGIN CERTIFICATE-----%' "
				      "AND pem NOT LIKE '%PRIVATE%' FROM voucher.provider_certs"),
			 "t");
}

Test(registry, cert_add_refusals)
{
	add_provider("prov-a", "91330483100000001E");
	add_provider("prov-b", "91330106100000002H");
	make_cert("c", "x");
	struct t_ctl_run *r = ctl("provider cert add prov-a --cert '%s'", path_of("c.pem"));
	cr_assert_eq(r->rc, 0, "%s", r->err);

	/* the same certificate again, to any provider */
	r = ctl("provider cert add prov-b --cert '%s'", path_of("c.pem"));
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "already registered to provider 'prov-a'"), "%s", r->err);
	r = ctl("provider cert add prov-a --cert '%s'", path_of("c.pem"));
	cr_expect_eq(r->rc, 1);

	/* not a certificate, missing file, unknown provider */
	r = ctl("provider cert add prov-b --cert '%s'", path_of("c.key"));
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "no readable PEM certificate"), "%s", r->err);
	r = ctl("provider cert add prov-b --cert '%s'", path_of("nonexistent.pem"));
	cr_expect_eq(r->rc, 1);
	make_cert("d", "y");
	r = ctl("provider cert add nobody --cert '%s'", path_of("d.pem"));
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "not registered"), "%s", r->err);

	/* a chain instead of one certificate */
	sh("cat c.pem d.pem > chain.pem");
	r = ctl("provider cert add prov-b --cert '%s'", path_of("chain.pem"));
	cr_expect_eq(r->rc, 1);

	/* expired yesterday */
	sh("openssl genpkey -algorithm ed25519 -out old.key && "
	   "openssl req -new -key old.key -subj /CN=old -out old.csr && "
	   "openssl x509 -req -in old.csr -signkey old.key -days -1 -out old.pem 2>/dev/null");
	r = ctl("provider cert add prov-b --cert '%s'", path_of("old.pem"));
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "expired"), "%s", r->err);

	cr_expect_eq(count("SELECT count(*) FROM voucher.provider_certs"), 1);
}

/* ------------------------------------------------------------------ keys */

Test(registry, key_add)
{
	add_provider("prov-a", "91330483100000001E");
	add_provider("prov-b", "91330106100000002H");
	struct t_ctl_run *r = ctl("provider key add prov-a prov-a-2026a --alg ed25519 --pub '%s'",
				  t_vector_path("provider-a.ed25519.pub"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	r = ctl("provider key add prov-b prov-b-2026a --alg sm2-sm3 --pub '%s' "
		"--valid-from 2026-01-01T00:00:00+08:00 --valid-to 2027-01-01T00:00:00+08:00",
		t_vector_path("provider-b.sm2.pub"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(t_scalar(db, "SELECT alg || ' ' || (valid_from = '2026-01-01T00:00:00+08:00') || ' ' "
				      "|| (valid_to = '2026-12-31T16:00:00Z') FROM voucher.provider_keys "
				      "WHERE key_id = 'prov-b-2026a'"),
			 "sm2-sm3 true true");
	cr_expect_str_eq(t_scalar(db, "SELECT public_pem FROM voucher.provider_keys WHERE key_id = 'prov-a-2026a'"),
			 "-----BEGIN PUBLIC KEY-----\n"
			 "MCowBQYDK2VwAyEAu84YX/W0IWYK4OSajFmWa3HlEqGe810/ht4apgExnBI=\n"
			 "-----END PUBLIC KEY-----\n");
	cr_expect_str_eq(t_scalar(db, "SELECT revoked_at IS NULL AND valid_from <= now() "
				      "FROM voucher.provider_keys WHERE key_id = 'prov-a-2026a'"),
			 "t");

	/* the key id is taken */
	r = ctl("provider key add prov-a prov-a-2026a --alg ed25519 --pub '%s'",
		t_vector_path("provider-a.ed25519.pub"));
	cr_expect_eq(r->rc, 1);
	cr_expect_eq(count("SELECT count(*) FROM voucher.provider_keys"), 2);
}

Test(registry, key_add_refusals)
{
	add_provider("prov-a", "91330483100000001E");
	/* an Ed25519 key is not an SM2 key */
	struct t_ctl_run *r =
		ctl("provider key add prov-a k1 --alg sm2-sm3 --pub '%s'", t_vector_path("provider-a.ed25519.pub"));
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "provider-a.ed25519.pub"), "%s", r->err);
	r = ctl("provider key add prov-a k1 --alg ed25519 --pub '%s'", t_vector_path("provider-b.sm2.pub"));
	cr_expect_eq(r->rc, 1);
	/* a private key is never stored */
	r = ctl("provider key add prov-a k1 --alg ed25519 --pub '%s'", t_vector_path("provider-a.ed25519.key"));
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "private key"), "%s", r->err);
	/* usage: bad alg, bad times, valid_to before valid_from */
	r = ctl("provider key add prov-a k1 --alg rsa --pub '%s'", t_vector_path("provider-a.ed25519.pub"));
	cr_expect_eq(r->rc, 2);
	r = ctl("provider key add prov-a k1 --alg ed25519 --pub '%s' --valid-from 2026-01-01",
		t_vector_path("provider-a.ed25519.pub"));
	cr_expect_eq(r->rc, 2);
	r = ctl("provider key add prov-a k1 --alg ed25519 --pub '%s' --valid-from 2026-02-01T00:00:00Z "
		"--valid-to 2026-01-01T00:00:00Z",
		t_vector_path("provider-a.ed25519.pub"));
	cr_expect_eq(r->rc, 2);
	/* unknown provider */
	r = ctl("provider key add nobody k1 --alg ed25519 --pub '%s'", t_vector_path("provider-a.ed25519.pub"));
	cr_expect_eq(r->rc, 1);
	cr_expect_eq(count("SELECT count(*) FROM voucher.provider_keys"), 0);
}

Test(registry, key_revoke)
{
	add_provider("prov-a", "91330483100000001E");
	struct t_ctl_run *r = ctl("provider key add prov-a prov-a-2026a --alg ed25519 --pub '%s'",
				  t_vector_path("provider-a.ed25519.pub"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	r = ctl("provider key revoke prov-a prov-a-2026a");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(t_scalar(db, "SELECT revoked_at IS NOT NULL FROM voucher.provider_keys"), "t");
	char first[64];
	snprintf(first, sizeof first, "%s", t_scalar(db, "SELECT revoked_at FROM voucher.provider_keys"));

	r = ctl("provider key revoke prov-a prov-a-2026a");
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "already revoked at"), "%s", r->err);
	cr_expect_str_eq(t_scalar(db, "SELECT revoked_at FROM voucher.provider_keys"), first);

	r = ctl("provider key revoke prov-a no-such-key");
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "has no key"), "%s", r->err);
}

/* ------------------------------------------------------------------ facilities */

Test(registry, facility_add)
{
	add_provider("prov-a", "91330483100000001E");
	struct t_ctl_run *r = ctl("provider facility add prov-a gpu-1 --division 330483 --class A");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(t_scalar(db, "SELECT division || class FROM voucher.facilities WHERE facility = 'gpu-1'"),
			 "330483A");
	/* not a county-level code, a province, letters */
	const char *bad[] = {"330000", "330400", "990483", "33048A", "3304831"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = ctl("provider facility add prov-a gpu-2 --division %s --class A", bad[i]);
		cr_expect_eq(r->rc, 2, "division %s: rc %d", bad[i], r->rc);
	}
	r = ctl("provider facility add prov-a gpu-2 --division 330483 --class C");
	cr_expect_eq(r->rc, 2);
	r = ctl("provider facility add prov-a gpu-1 --division 330106 --class B");
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "already has a facility"), "%s", r->err);
	cr_expect_eq(count("SELECT count(*) FROM voucher.facilities"), 1);
}

Test(registry, provider_show_and_list)
{
	add_provider("prov-a", "91330483100000001E");
	make_cert("c", "x");
	char fp[65];
	openssl_fingerprint("c.pem", fp);
	cr_assert_eq(ctl("provider cert add prov-a --cert '%s'", path_of("c.pem"))->rc, 0);
	cr_assert_eq(
		ctl("provider key add prov-a ka --alg ed25519 --pub '%s'", t_vector_path("provider-a.ed25519.pub"))->rc,
		0);
	cr_assert_eq(ctl("provider facility add prov-a gpu-1 --division 330483 --class B")->rc, 0);

	struct t_ctl_run *r = ctl("provider show prov-a");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, fp));
	cr_expect_not_null(strstr(r->out, "ka"));
	cr_expect_not_null(strstr(r->out, "gpu-1"));

	r = ctl("--format json provider show prov-a");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	json_error_t e;
	json_t *j = json_loads(r->out, JSON_REJECT_DUPLICATES, &e);
	cr_assert_not_null(j, "%s: %s", e.text, r->out);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "provider"), "code")), "prov-a");
	json_t *certs = json_object_get(j, "certificates");
	cr_expect_eq(json_array_size(certs), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(certs, 0), "fingerprint")), fp);
	cr_expect_eq(json_array_size(json_object_get(j, "keys")), 1);
	cr_expect_eq(json_array_size(json_object_get(j, "facilities")), 1);
	json_decref(j);

	r = ctl("--format json provider list");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	j = json_loads(r->out, JSON_REJECT_DUPLICATES, &e);
	cr_assert_not_null(j, "%s: %s", e.text, r->out);
	cr_expect_eq(json_array_size(j), 1);
	json_t *p = json_array_get(j, 0);
	cr_expect_eq(json_integer_value(json_object_get(p, "valid_certs")), 1);
	cr_expect_eq(json_integer_value(json_object_get(p, "usable_keys")), 1);
	cr_expect_eq(json_integer_value(json_object_get(p, "facilities")), 1);
	json_decref(j);

	r = ctl("provider show nobody");
	cr_expect_eq(r->rc, 1);
}

/* ------------------------------------------------------------------ enterprises */

static const char header[] = "uscc,name,division,sme,model_developer,maas_builder,model_registered,foundation_model,"
			     "credit_blacklisted,performance_grade";

Test(registry, import_good_file)
{
	char csv[2048];
	snprintf(csv, sizeof csv,
		 "\xef\xbb\xbf%s\r\n"
		 "91330483100000001E,\"桐乡某某科技有限公司, 分公司\",330483,1,0,,1,0,0,A\r\n"
		 "91330106100000002H,\"Hangzhou \"\"Quote\"\" AI\",330106,0,0,0,0,1,0,\r\n"
		 "\r\n"
		 "913202141000000038,无锡某某,320214,1,1,1,1,1,1,D\r\n",
		 header);
	write_file("e.csv", csv);
	struct t_ctl_run *r = ctl("enterprise import '%s'", path_of("e.csv"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "imported 3 enterprises (3 new, 0 updated)"), "%s", r->out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprises"), 3);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprise_versions"), 3);
	cr_expect_str_eq(t_scalar(db, "SELECT name FROM voucher.enterprise_versions "
				      "WHERE uscc = '91330483100000001E'"),
			 "桐乡某某科技有限公司, 分公司");
	cr_expect_str_eq(t_scalar(db, "SELECT name FROM voucher.enterprise_versions "
				      "WHERE uscc = '91330106100000002H'"),
			 "Hangzhou \"Quote\" AI");
	cr_expect_str_eq(t_scalar(db, "SELECT concat_ws(',', sme, model_developer, maas_builder, "
				      "model_registered, foundation_model, credit_blacklisted, "
				      "coalesce(performance_grade, '-'), division) "
				      "FROM voucher.enterprise_versions WHERE uscc = '91330483100000001E'"),
			 "t,f,f,t,f,f,A,330483");
	cr_expect_str_eq(t_scalar(db, "SELECT coalesce(performance_grade, 'null') FROM voucher.enterprise_versions "
				      "WHERE uscc = '91330106100000002H'"),
			 "null");
	/* valid_from defaults to today in China */
	cr_expect_str_eq(t_scalar(db, "SELECT bool_and(valid_from = (now() AT TIME ZONE 'Asia/Shanghai')::date) "
				      "FROM voucher.enterprise_versions"),
			 "t");

	/* the same file again changes nothing */
	r = ctl("enterprise import '%s'", path_of("e.csv"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "(0 new, 0 updated"), "%s", r->out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprise_versions"), 3);
}

Test(registry, import_bad_rows_import_nothing)
{
	char csv[2048];
	snprintf(csv, sizeof csv,
		 "%s\n"
		 "91330483100000001E,good one,330483,1,0,0,0,0,0,A\n"
		 "91330483100000001F,bad check char,330483,1,0,0,0,0,0,A\n"
		 "91330106100000002H,good two,330106,0,0,0,0,0,0,\n"
		 "913202141000000038,bad flag and grade,320214,2,0,0,0,0,0,E\n",
		 header);
	write_file("bad.csv", csv);
	struct t_ctl_run *r = ctl("enterprise import '%s'", path_of("bad.csv"));
	cr_expect_eq(r->rc, 1);
	char l3[300], l5[300];
	snprintf(l3, sizeof l3, "%s:3: uscc '91330483100000001F'", path_of("bad.csv"));
	snprintf(l5, sizeof l5, "%s:5: ", path_of("bad.csv"));
	cr_expect_not_null(strstr(r->err, l3), "%s", r->err);
	cr_expect_not_null(strstr(r->err, l5), "%s", r->err);
	cr_expect_not_null(strstr(r->err, "sme must be 1, 0 or empty"), "%s", r->err);
	cr_expect_not_null(strstr(r->err, "performance_grade"), "%s", r->err);
	cr_expect_null(strstr(r->err, ":2:"), "%s", r->err);
	cr_expect_null(strstr(r->err, ":4:"), "%s", r->err);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprises"), 0);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprise_versions"), 0);
}

/* Divisions are checked against the shipped GB/T 2260 table (metering/gb2260.txt):
 * a code that does not exist and an abolished one are refused, naming the
 * row (and the successor); nothing is imported if any row is refused. */
Test(registry, import_checks_divisions)
{
	char csv[2048];
	snprintf(csv, sizeof csv,
		 "%s\n"
		 "91330483100000001E,good,330106,1,0,0,0,0,0,A\n"
		 "91330106100000002H,no such code,330199,0,0,0,0,0,0,\n"
		 "913202141000000038,abolished,330103,0,0,0,0,0,0,\n"
		 "91350100M000100Y43,北京 (not listed by county),110105,0,0,0,0,0,0,\n",
		 header);
	write_file("div.csv", csv);
	struct t_ctl_run *r = ctl("enterprise import '%s'", path_of("div.csv"));
	cr_expect_eq(r->rc, 1);
	char l3[300], l4[300];
	snprintf(l3, sizeof l3,
		 "%s:3: division 330199 is not a GB/T 2260 code: 浙江省 杭州市 has no county-level division 330199",
		 path_of("div.csv"));
	snprintf(l4, sizeof l4,
		 "%s:4: division 330103 下城区 was abolished in 2021 (merged into 330105 拱墅区); use 330105",
		 path_of("div.csv"));
	cr_expect_not_null(strstr(r->err, l3), "%s", r->err);
	cr_expect_not_null(strstr(r->err, l4), "%s", r->err);
	cr_expect_null(strstr(r->err, ":2:"), "%s", r->err);
	cr_expect_null(strstr(r->err, ":5:"), "%s", r->err);
	cr_expect_not_null(strstr(r->err, "2 bad rows; nothing was imported"), "%s", r->err);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprise_versions"), 0);

	/* the good rows alone import, the Beijing code included */
	snprintf(csv, sizeof csv,
		 "%s\n"
		 "91330483100000001E,good,330106,1,0,0,0,0,0,A\n"
		 "91350100M000100Y43,北京 (not listed by county),110105,0,0,0,0,0,0,\n",
		 header);
	write_file("div.csv", csv);
	r = ctl("enterprise import '%s'", path_of("div.csv"));
	cr_expect_eq(r->rc, 0, "%s", r->err);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprise_versions"), 2);
}

Test(registry, import_refusals)
{
	char csv[2048];
	/* the same uscc twice, a bad date, a bad division, too few fields, an open quote */
	snprintf(csv, sizeof csv,
		 "%s,valid_from\r\n"
		 "91330483100000001E,a,330483,1,0,0,0,0,0,A,2026-01-01\r\n"
		 "91330106100000002H,b,330106,0,0,0,0,0,0,,2026-02-30\r\n"
		 "91330483100000001E,c,330483,1,0,0,0,0,0,A,2026-03-01\r\n"
		 "913202141000000038,d,320200,0,0,0,0,0,0,,\r\n"
		 "913202141000000038,e\r\n"
		 "913202141000000038,\"f,320214,0,0,0,0,0,0,,\r\n",
		 header);
	write_file("r.csv", csv);
	struct t_ctl_run *r = ctl("enterprise import '%s'", path_of("r.csv"));
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, ":3: valid_from '2026-02-30'"), "%s", r->err);
	cr_expect_not_null(strstr(r->err, ":4: uscc 91330483100000001E is already on line 2"), "%s", r->err);
	cr_expect_not_null(strstr(r->err, ":5: division '320200'"), "%s", r->err);
	cr_expect_not_null(strstr(r->err, ":6: 2 fields"), "%s", r->err);
	cr_expect_not_null(strstr(r->err, ":7: the quoted field"), "%s", r->err);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprises"), 0);

	write_file("h.csv", "uscc,name,division\n91330483100000001E,a,330483\n");
	r = ctl("enterprise import '%s'", path_of("h.csv"));
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, ":1: the header must be"), "%s", r->err);
	r = ctl("enterprise import '%s'", path_of("missing.csv"));
	cr_expect_eq(r->rc, 1);
}

Test(registry, reimport_later_version)
{
	char csv[2048];
	snprintf(csv, sizeof csv,
		 "%s,valid_from\n"
		 "91330483100000001E,桐乡某某,330483,1,0,0,0,0,0,A,2026-01-01\n"
		 "91330106100000002H,杭州某某,330106,1,0,0,0,0,0,B,2026-01-01\n",
		 header);
	write_file("v1.csv", csv);
	struct t_ctl_run *r = ctl("enterprise import '%s'", path_of("v1.csv"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	snprintf(csv, sizeof csv,
		 "%s,valid_from\n"
		 "91330483100000001E,桐乡某某,330483,1,0,0,0,0,1,D,2026-07-01\n",
		 header);
	write_file("v2.csv", csv);
	r = ctl("enterprise import '%s'", path_of("v2.csv"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "imported 1 enterprises (0 new, 1 updated)"), "%s", r->out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprise_versions WHERE uscc = '91330483100000001E'"), 2);
	cr_expect_str_eq(t_scalar(db, "SELECT string_agg(valid_from || ':' || credit_blacklisted || "
				      "performance_grade, ' ' ORDER BY valid_from) FROM voucher.enterprise_versions "
				      "WHERE uscc = '91330483100000001E'"),
			 "2026-01-01:falseA 2026-07-01:trueD");

	/* a correction of the same valid_from is a newer import of that version:
	 * it is the one in force, and the corrected one stays on record */
	snprintf(csv, sizeof csv,
		 "%s,valid_from\n"
		 "91330483100000001E,桐乡某某,330483,1,0,0,0,0,1,C,2026-07-01\n",
		 header);
	write_file("v3.csv", csv);
	r = ctl("enterprise import '%s'", path_of("v3.csv"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(t_scalar(db, "SELECT performance_grade FROM voucher.enterprise_registry "
				      "WHERE uscc = '91330483100000001E' AND valid_from = '2026-07-01'"),
			 "C");
	cr_expect_str_eq(t_scalar(db, "SELECT string_agg(performance_grade, ' ' ORDER BY id) "
				      "FROM voucher.enterprise_versions "
				      "WHERE uscc = '91330483100000001E' AND valid_from = '2026-07-01'"),
			 "D C");
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprise_registry"), 3);
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprise_versions"), 4);

	r = ctl("enterprise show 91330483100000001E");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "2026-01-01"), "%s", r->out);
	cr_expect_not_null(strstr(r->out, "2026-07-01"), "%s", r->out);
	r = ctl("enterprise show 91350100M000100Y43");
	cr_expect_eq(r->rc, 1);
	r = ctl("enterprise show 91350100M000100Y44");
	cr_expect_eq(r->rc, 2);
}

Test(registry, relate)
{
	add_provider("prov-a", "91330483100000001E");
	char csv[1024];
	snprintf(csv, sizeof csv, "%s\n91330106100000002H,杭州某某,330106,1,0,0,0,0,0,\n", header);
	write_file("e.csv", csv);
	cr_assert_eq(ctl("enterprise import '%s'", path_of("e.csv"))->rc, 0);

	struct t_ctl_run *r = ctl("enterprise relate 91330106100000002H --provider prov-a");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_eq(count("SELECT count(*) FROM voucher.related_parties"), 1);
	r = ctl("enterprise relate 91330106100000002H --provider prov-a");
	cr_expect_eq(r->rc, 0);
	cr_expect_not_null(strstr(r->out, "already related"), "%s", r->out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.related_parties"), 1);

	r = ctl("enterprise relate 91330106100000002H --provider nobody");
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "not registered"), "%s", r->err);
	r = ctl("enterprise relate 91330483100000001E --provider prov-a"); /* not imported */
	cr_expect_eq(r->rc, 1);
	r = ctl("enterprise relate 91330106100000002H");
	cr_expect_eq(r->rc, 2);

	r = ctl("--format json enterprise show 91330106100000002H");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	json_error_t e;
	json_t *j = json_loads(r->out, JSON_REJECT_DUPLICATES, &e);
	cr_assert_not_null(j, "%s: %s", e.text, r->out);
	json_t *rel = json_object_get(j, "related_providers");
	cr_expect_eq(json_array_size(rel), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(rel, 0), "provider")), "prov-a");
	cr_expect(json_is_true(json_object_get(json_object_get(j, "current"), "sme")));
	json_decref(j);
}

/* ------------------------------------------------------------------ output formats */

Test(registry, listing_formats)
{
	char csv[1024];
	snprintf(csv, sizeof csv,
		 "%s\n"
		 "91330483100000001E,\"桐乡某某, 分公司\",330483,1,0,0,0,0,0,A\n"
		 "91330106100000002H,=HYPERLINK(\"x\"),330106,0,0,0,0,0,0,\n",
		 header);
	write_file("e.csv", csv);
	/* the name on line 3 holds quotes in an unquoted field: refused */
	cr_expect_eq(ctl("enterprise import '%s'", path_of("e.csv"))->rc, 1);
	snprintf(csv, sizeof csv,
		 "%s\n"
		 "91330483100000001E,\"桐乡某某, 分公司\",330483,1,0,0,0,0,0,A\n"
		 "91330106100000002H,\"=HYPERLINK(\"\"x\"\")\",330106,0,0,0,0,0,0,\n",
		 header);
	write_file("e.csv", csv);
	struct t_ctl_run *r = ctl("enterprise import '%s'", path_of("e.csv"));
	cr_assert_eq(r->rc, 0, "%s", r->err);

	r = ctl("--format csv enterprise list");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_eq(memcmp(r->out, "\xef\xbb\xbfuscc,name,division,", 21), 0, "%s", r->out);
	cr_expect_not_null(strstr(r->out, "91330483100000001E,\"桐乡某某, 分公司\",330483,1,0,0,0,0,0,A,"), "%s",
			   r->out);
	cr_expect_not_null(strstr(r->out, "91330106100000002H,\"'=HYPERLINK(\"\"x\"\")\",330106,0,"), "%s", r->out);

	r = ctl("--format json enterprise list");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	json_error_t e;
	json_t *j = json_loads(r->out, JSON_REJECT_DUPLICATES, &e);
	cr_assert_not_null(j, "%s: %s", e.text, r->out);
	cr_assert_eq(json_array_size(j), 2);
	json_t *a = json_array_get(j, 1); /* ordered by uscc */
	cr_expect_str_eq(json_string_value(json_object_get(a, "uscc")), "91330483100000001E");
	cr_expect_str_eq(json_string_value(json_object_get(a, "name")), "桐乡某某, 分公司");
	cr_expect(json_is_true(json_object_get(a, "sme")));
	cr_expect(json_is_false(json_object_get(a, "foundation_model")));
	cr_expect(json_is_null(json_object_get(json_array_get(j, 0), "performance_grade")));
	json_decref(j);

	r = ctl("enterprise list");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "桐乡某某, 分公司"), "%s", r->out);
}

/* ------------------------------------------------------------------ the other voucher kinds */

/* A provider has a kind: compute by default, or marketplace (a data-trading
 * platform); the kind is shown by list and show, and nothing else is one. */
Test(registry, provider_kind)
{
	struct t_ctl_run *r = ctl("provider add prov-a --name a --uscc 91330483100000001E");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "compute"), "%s", r->out);
	r = ctl("provider add mkt-1 --name '浙江大数据交易中心' --uscc 91330106100000002H --kind marketplace");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "marketplace"), "%s", r->out);
	r = ctl("provider add prov-c --name c --uscc 913202141000000038 --kind compute");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(t_scalar(db, "SELECT string_agg(code || ':' || kind, ' ' ORDER BY code) FROM audit.providers"),
			 "mkt-1:marketplace prov-a:compute prov-c:compute");

	/* a kind that is not one: a usage error, nothing added */
	r = ctl("provider add prov-x --name x --uscc 91330483100000001E --kind data");
	cr_expect_eq(r->rc, 2);
	cr_expect_not_null(strstr(r->err, "--kind must be compute or marketplace"), "%s", r->err);
	r = ctl("provider add prov-x --name x --uscc 91330483100000001E --kind Marketplace");
	cr_expect_eq(r->rc, 2);
	cr_expect_eq(count("SELECT count(*) FROM voucher.providers"), 3);
	/* nor in the database, whoever calls */
	PGresult *q = PQexec(db, "SELECT * FROM voucher.provider_add('prov-y', 'y', '91330483100000001E', 'broker')");
	cr_expect_eq(PQresultStatus(q), PGRES_FATAL_ERROR);
	PQclear(q);
	/* and it never changes */
	q = PQexec(db, "UPDATE voucher.providers SET kind = 'compute' WHERE code = 'mkt-1'");
	cr_expect_eq(PQresultStatus(q), PGRES_FATAL_ERROR);
	PQclear(q);

	r = ctl("--format json provider list");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	json_t *j = t_json(r->out);
	cr_assert_eq(json_array_size(j), 3, "%s", r->out);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "code")), "mkt-1");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "kind")), "marketplace");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "kind")), "compute");
	json_decref(j);
	r = ctl("--format json provider show mkt-1");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(t_json_str(r->out, "provider.kind"), "marketplace", "%s", r->out);
	r = ctl("provider list");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "marketplace"), "%s", r->out);
}

/* 关联方 among sellers: any credit code may be related to a registered
 * enterprise; exactly one of --provider and --seller. */
Test(registry, relate_seller)
{
	add_provider("prov-a", "91330483100000001E");
	char csv[1024];
	snprintf(
		csv, sizeof csv,
		"%s\n91330106100000002H,杭州某某,330106,1,0,0,0,0,0,\n12100000400000000W,某研究院,330106,0,0,0,0,0,0,\n",
		header);
	write_file("e.csv", csv);
	cr_assert_eq(ctl("enterprise import '%s'", path_of("e.csv"))->rc, 0);

	/* an unregistered seller, and a registered institution */
	struct t_ctl_run *r = ctl("enterprise relate 91330106100000002H --seller 913202141000000038");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "related to seller 913202141000000038"), "%s", r->out);
	r = ctl("enterprise relate 91330106100000002H --seller 12100000400000000W");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_eq(count("SELECT count(*) FROM voucher.related_sellers"), 2);
	cr_expect_str_eq(t_scalar(db, "SELECT string_agg(seller || ':' || backdated, ' ' ORDER BY seller) "
				      "FROM audit.related_sellers WHERE uscc = '91330106100000002H'"),
			 "12100000400000000W:false 913202141000000038:false");
	r = ctl("enterprise relate 91330106100000002H --seller 913202141000000038");
	cr_expect_eq(r->rc, 0);
	cr_expect_not_null(strstr(r->out, "already related to seller"), "%s", r->out);
	cr_expect_eq(count("SELECT count(*) FROM voucher.related_sellers"), 2);
	/* a relation to a provider is another table */
	cr_expect_eq(count("SELECT count(*) FROM voucher.related_parties"), 0);

	/* the seller's code is checked; exactly one of the two options */
	r = ctl("enterprise relate 91330106100000002H --seller 913202141000000039");
	cr_expect_eq(r->rc, 2);
	cr_expect_not_null(strstr(r->err, "--seller '913202141000000039' is not a valid"), "%s", r->err);
	r = ctl("enterprise relate 91330106100000002H --seller 913202141000000038 --provider prov-a");
	cr_expect_eq(r->rc, 2);
	cr_expect_not_null(strstr(r->err, "exactly one of --provider CODE and --seller USCC"), "%s", r->err);
	r = ctl("enterprise relate 91330106100000002H");
	cr_expect_eq(r->rc, 2);
	/* the enterprise must be registered */
	r = ctl("enterprise relate 91330483100000001E --seller 913202141000000038");
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, "not registered"), "%s", r->err);
	cr_expect_eq(count("SELECT count(*) FROM voucher.related_sellers"), 2);
	/* nor in the database: the seller's shape, and append only */
	PGresult *q = PQexec(db, "SELECT * FROM voucher.relate_seller('91330106100000002H', 'nobody', false)");
	cr_expect_eq(PQresultStatus(q), PGRES_FATAL_ERROR);
	PQclear(q);
	q = PQexec(db, "DELETE FROM voucher.related_sellers");
	cr_expect_eq(PQresultStatus(q), PGRES_FATAL_ERROR);
	PQclear(q);

	/* listed by enterprise show, with the seller's name when the registry knows it */
	r = ctl("--format json enterprise show 91330106100000002H");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_eq(t_json_len(r->out, "related_sellers"), 2, "%s", r->out);
	cr_expect_str_eq(t_json_str(r->out, "related_sellers.0.seller"), "12100000400000000W", "%s", r->out);
	cr_expect_str_eq(t_json_str(r->out, "related_sellers.0.name"), "某研究院", "%s", r->out);
	cr_expect_str_eq(t_json_str(r->out, "related_sellers.1.seller"), "913202141000000038", "%s", r->out);
	cr_expect_eq(t_json_len(r->out, "related_providers"), 0, "%s", r->out);
	r = ctl("enterprise show 91330106100000002H");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "913202141000000038"), "%s", r->out);
}

/* Institutions (registration authority 1 or 5: universities, research
 * institutes) are registered like enterprises; the optional columns go by
 * name, intelligent_match among them. */
Test(registry, import_institutions_and_intelligent_match)
{
	char csv[2048];
	snprintf(csv, sizeof csv,
		 "%s,intelligent_match,valid_from\n"
		 "91330106100000002H,杭州某某,330106,1,0,0,0,0,0,A,1,2026-01-01\n"
		 "12330100470000002G,浙江某大学,330106,0,0,0,0,0,0,,0,2026-01-01\n"
		 "52330106MJ0000001P,某民办研究院,330106,0,0,0,0,0,0,,,2026-01-01\n",
		 header);
	write_file("i.csv", csv);
	struct t_ctl_run *r = ctl("enterprise import '%s'", path_of("i.csv"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "imported 3 enterprises (3 new, 0 updated)"), "%s", r->out);
	cr_expect_str_eq(t_scalar(db,
				  "SELECT string_agg(left(uscc, 1) || ':' || intelligent_match || ':' || valid_from, "
				  "' ' ORDER BY uscc) FROM voucher.enterprise_registry"),
			 "1:false:2026-01-01 5:false:2026-01-01 9:true:2026-01-01");
	cr_expect_str_eq(t_scalar(db, "SELECT string_agg(intelligent_match::text, ' ' ORDER BY uscc) "
				      "FROM audit.enterprise_versions"),
			 "false false true");

	/* without the column: false; the flag alone changing is a new version */
	snprintf(csv, sizeof csv, "%s,valid_from\n91330106100000002H,杭州某某,330106,1,0,0,0,0,0,A,2026-01-01\n",
		 header);
	write_file("j.csv", csv);
	r = ctl("enterprise import '%s'", path_of("j.csv"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "(0 new, 1 updated)"), "%s", r->out);
	cr_expect_str_eq(t_scalar(db, "SELECT intelligent_match FROM voucher.enterprise_registry "
				      "WHERE uscc = '91330106100000002H'"),
			 "f");
	r = ctl("enterprise import '%s'", path_of("i.csv"));
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_not_null(strstr(r->out, "(0 new, 1 updated, 2 unchanged)"), "%s", r->out);
	r = ctl("--format json enterprise list");
	cr_assert_eq(r->rc, 0, "%s", r->err);
	cr_expect_str_eq(t_json_str(r->out, "2.uscc"), "91330106100000002H", "%s", r->out);
	cr_expect(t_json_bool(r->out, "2.intelligent_match"), "%s", r->out);
	cr_expect(!t_json_bool(r->out, "0.intelligent_match"), "%s", r->out);

	/* a bad flag, the column twice, a column that is not one: refused */
	snprintf(csv, sizeof csv, "%s,intelligent_match\n12330483470000003A,某大学,330483,0,0,0,0,0,0,,yes\n", header);
	write_file("k.csv", csv);
	r = ctl("enterprise import '%s'", path_of("k.csv"));
	cr_expect_eq(r->rc, 1);
	cr_expect_not_null(strstr(r->err, ":2: intelligent_match must be 1, 0 or empty, not 'yes'"), "%s", r->err);
	const char *heads[] = {",intelligent_match,intelligent_match", ",valid_from,valid_from", ",kind",
			       ",intelligent_match,valid_from,x"};
	for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
		snprintf(csv, sizeof csv, "%s%s\n", header, heads[i]);
		write_file("h.csv", csv);
		r = ctl("enterprise import '%s'", path_of("h.csv"));
		cr_expect_eq(r->rc, 1, "%s", heads[i]);
		cr_expect_not_null(strstr(r->err, ":1: the header must be"), "%s: %s", heads[i], r->err);
	}
	cr_expect_eq(count("SELECT count(*) FROM voucher.enterprises"), 3);
}
