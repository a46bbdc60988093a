/* voucherd's configuration file: every key of README.md "voucherd", defaults, and refusals
 * that name the key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"

static char path[64];

static config_t *load(const char *text, char *err, size_t errlen)
{
	snprintf(path, sizeof path, "/tmp/vcfg-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	config_t *c = config_load(path, err, errlen);
	unlink(path);
	return c;
}

#define BASE \
	"[server]\ntls_cert = s.pem\ntls_key = s.key\ntls_client_ca = ca.pem\n[database]\nconninfo = dbname=voucher\n"

Test(unit_config, spec_example_loads_with_every_key)
{
	char err[256];
	config_t *c = load("[server]\nlisten = [::1]:8443          ; host:port\ntls_cert = server.pem\n"
			   "tls_key = server.key\ntls_client_ca = providers-ca.pem ; CA\nmax_body_bytes = 16777216\n"
			   "max_records_per_batch = 10000\n[database]\n"
			   "conninfo = host=/run/postgresql dbname=voucher user=voucher_ingest\n[ingest]\n"
			   "signature_max_age_s = 3600       ; 0 switches the freshness check off\nclock_skew_s = 300\n"
			   "provider_rate_per_s = 0\n[metrics]\nlisten = 127.0.0.1:9187\n",
			   err, sizeof err);
	cr_assert(c, "%s", err);
	cr_assert_str_eq(c->listen, "[::1]:8443");
	cr_assert_str_eq(c->tls_client_ca, "providers-ca.pem");
	cr_assert_str_eq(c->conninfo, "host=/run/postgresql dbname=voucher user=voucher_ingest");
	cr_assert_eq(c->max_body_bytes, 16777216);
	cr_assert_eq(c->signature_max_age_s, 3600);
	cr_assert_str_eq(c->metrics_listen, "127.0.0.1:9187");
	config_free(c);
}

Test(unit_config, defaults_apply)
{
	char err[256];
	config_t *c = load(BASE, err, sizeof err);
	cr_assert(c, "%s", err);
	cr_assert_str_eq(c->listen, "127.0.0.1:8443");
	cr_assert_eq(c->max_records_per_batch, 10000);
	cr_assert_eq(c->clock_skew_s, 300);
	cr_assert_eq(c->provider_rate_per_s, 0);
	cr_assert_str_eq(c->metrics_listen, "127.0.0.1:9187");
	cr_assert_eq(c->queue_max, 256);
	cr_assert_eq(c->queue_max_bytes, 64 * 1024 * 1024);
	cr_assert_eq(c->group_max, 32);
	config_free(c);
}

Test(unit_config, refusals_name_the_key)
{
	struct {
		const char *text, *want;
	} cases[] = {
		{BASE "[server]\nmax_body_bytes = lots\n", "server.max_body_bytes"},
		{BASE "[server]\nmax_body_bytes = 1\n", "server.max_body_bytes"},
		{BASE "[server]\nlisten = 8443\n", "server.listen"},
		{BASE "[server]\nlisten = [::1:8443\n", "server.listen"},
		{BASE "[server]\nlisten = 127.0.0.1:70000\n", "server.listen"},
		{BASE "[server]\nlisten_typo = 1\n", "server.listen_typo: unknown key"},
		{BASE "[ingest]\nclock_skew_s = -1\n", "ingest.clock_skew_s"},
		/* more would overflow PostgreSQL's subtransaction cache */
		{BASE "[database]\ngroup_max = 65\n", "database.group_max"},
		{BASE "[database]\nqueue_max_bytes = 1000\n", "database.queue_max_bytes"},
		{BASE "[log]\nlevel = loud\n", "log.level"},
		{BASE "[nosuch]\n", "unknown section [nosuch]"},
		{"[server]\ntls_cert = a\ntls_key = b\ntls_client_ca = c\n", "database.conninfo: required"},
		{BASE "[database]\nconninfo = again\n", "database.conninfo: given twice"},
		{"key = value\n", "outside a section"},
		{BASE "[server\n", "malformed section"},
		{BASE "[server]\njust words\n", "expected key = value"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[256] = "";
		config_t *c = load(cases[i].text, err, sizeof err);
		cr_assert_null(c, "case %zu loaded", i);
		cr_assert(strstr(err, cases[i].want), "case %zu: '%s' lacks '%s'", i, err, cases[i].want);
	}
}

Test(unit_config, hostport_forms)
{
	char host[64];
	uint16_t port;
	cr_assert(config_split_hostport("127.0.0.1:8443", host, sizeof host, &port));
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(port, 8443);
	cr_assert(config_split_hostport("[::1]:9187", host, sizeof host, &port));
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(port, 9187);
	cr_assert_not(config_split_hostport("::1:9187", host, sizeof host, &port));
	cr_assert_not(config_split_hostport(":80", host, sizeof host, &port));
	cr_assert_not(config_split_hostport("h:0", host, sizeof host, &port));
	cr_assert_not(config_split_hostport("h:12x", host, sizeof host, &port));
}

/* /metrics has no authentication: only loopback unless allow_remote says otherwise */
Test(unit_config, metrics_listen_beyond_loopback_needs_allow_remote)
{
	const char *refused[] = {"0.0.0.0:9187", "[::]:9187", "10.1.2.3:9187", "metrics.example:9187",
				 "128.0.0.1:9187"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		char text[512], err[512] = "";
		snprintf(text, sizeof text, BASE "[metrics]\nlisten = %s\n", refused[i]);
		config_t *c = load(text, err, sizeof err);
		cr_assert_null(c, "%s loaded", refused[i]);
		cr_assert(strstr(err, ":8: metrics.listen: ") && strstr(err, "metrics.allow_remote = true"), "%s: %s",
			  refused[i], err);
		snprintf(text, sizeof text, BASE "[metrics]\nlisten = %s\nallow_remote = true\n", refused[i]);
		c = load(text, err, sizeof err);
		cr_assert(c, "%s with allow_remote: %s", refused[i], err);
		cr_assert(c->metrics_allow_remote);
		config_free(c);
	}
	const char *loopback[] = {"127.0.0.1:9187", "127.10.0.5:1",   "[::1]:9187",
				  "localhost:9187", "LocalHost:9187", "[::ffff:127.0.0.1]:9187"};
	for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++) {
		char text[512], err[512] = "";
		snprintf(text, sizeof text, BASE "[metrics]\nlisten = %s\n", loopback[i]);
		config_t *c = load(text, err, sizeof err);
		cr_assert(c, "%s: %s", loopback[i], err);
		cr_assert_not(c->metrics_allow_remote);
		config_free(c);
	}
	char err[512] = "";
	cr_assert_null(load(BASE "[metrics]\nallow_remote = yes\n", err, sizeof err));
	cr_assert(strstr(err, "metrics.allow_remote: 'yes' is not true or false"), "%s", err);
	config_t *c = load(BASE "[metrics]\nallow_remote = false\n", err, sizeof err);
	cr_assert(c, "%s", err);
	cr_assert_not(c->metrics_allow_remote);
	config_free(c);
}

static char changed[512];
static void note_change(const char *section, const char *key, bool reloadable, void *arg)
{
	(void)arg;
	size_t n = strlen(changed);
	snprintf(changed + n, sizeof changed - n, "%s.%s=%s ", section, key, reloadable ? "reload" : "restart");
}

/* SIGHUP applies the TLS files and names every other changed key as waiting
 * for a restart (the reloadable column of the table). */
Test(unit_config, a_reload_names_the_keys_that_need_a_restart)
{
	char err[256];
	config_t *a = load(BASE, err, sizeof err);
	cr_assert(a, "%s", err);
	config_t *b = load("[server]\ntls_cert = other.pem\ntls_key = s.key\ntls_client_ca = ca.pem\n"
			   "max_connections = 5\n[database]\nconninfo = dbname=voucher\n[log]\nlevel = debug\n",
			   err, sizeof err);
	cr_assert(b, "%s", err);
	changed[0] = '\0';
	config_changed_keys(a, a, note_change, NULL);
	cr_expect_str_eq(changed, "");
	config_changed_keys(a, b, note_change, NULL);
	cr_expect_str_eq(changed, "server.tls_cert=reload server.max_connections=restart log.level=restart ");
	config_free(a);
	config_free(b);
}
