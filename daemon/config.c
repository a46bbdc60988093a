#include "daemon/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/ini.h"
#include "daemon/pghosts.h"

/* The one table of configuration keys: section, key, type, default (NULL =
 * required), bounds for integers, and whether SIGHUP applies a change (the
 * TLS files: a reload builds a new TLS context; every other key is read
 * once, at start, and a reload that changes it says so). */
#define S(f) offsetof(config_t, f)
static const ini_key_t keys[] = {
	{"server", "listen", INI_HOSTPORT, "127.0.0.1:8443", 0, 0, S(listen), false},
	{"server", "tls_cert", INI_STR, NULL, 0, 0, S(tls_cert), true},
	{"server", "tls_key", INI_STR, NULL, 0, 0, S(tls_key), true},
	{"server", "tls_client_ca", INI_STR, NULL, 0, 0, S(tls_client_ca), true},
	{"server", "tls_crl", INI_STR, "", 0, 0, S(tls_crl), true},
	{"server", "max_body_bytes", INI_INT, "16777216", 1024, 1073741824, S(max_body_bytes), false},
	{"server", "max_records_per_batch", INI_INT, "10000", 1, 1000000, S(max_records_per_batch), false},
	{"server", "max_header_bytes", INI_INT, "16384", 1024, 1048576, S(max_header_bytes), false},
	{"server", "idle_timeout_s", INI_INT, "30", 1, 3600, S(idle_timeout_s), false},
	{"server", "request_timeout_s", INI_INT, "60", 1, 3600, S(request_timeout_s), false},
	{"server", "max_connections", INI_INT, "1000", 1, 1000000, S(max_connections), false},
	{"server", "max_connections_per_address", INI_INT, "100", 1, 1000000, S(max_connections_per_address), false},
	{"server", "tls_session_cache", INI_INT, "0", 0, 1000000, S(tls_session_cache), false},
	{"database", "conninfo", INI_STR, NULL, 0, 0, S(conninfo), false},
	{"database", "connections", INI_INT, "2", 1, 64, S(connections), false},
	{"database", "queue_max", INI_INT, "256", 1, 1000000, S(queue_max), false},
	{"database", "group_max", INI_INT, "32", 1, 64, S(group_max), false},
	{"database", "reply_timeout_s", INI_INT, "30", 1, 3600, S(reply_timeout_s), false},
	{"database", "queue_max_bytes", INI_INT, "67108864", 1048576, 17179869184, S(queue_max_bytes), false},
	{"ingest", "signature_max_age_s", INI_INT, "3600", 0, 31622400, S(signature_max_age_s), false},
	{"ingest", "clock_skew_s", INI_INT, "300", 0, 86400, S(clock_skew_s), false},
	{"ingest", "provider_rate_per_s", INI_INT, "0", 0, 100000000, S(provider_rate_per_s), false},
	{"ingest", "registry_refresh_s", INI_INT, "60", 0, 86400, S(registry_refresh_s), false},
	{"metrics", "listen", INI_HOSTPORT, "127.0.0.1:9187", 0, 0, S(metrics_listen), false},
	{"metrics", "allow_remote", INI_BOOL, "false", 0, 0, S(metrics_allow_remote), false},
	{"log", "level", INI_LEVEL, "info", 0, 0, S(log_level), false},
	{"log", "max_lines_per_s", INI_INT, "200", 0, 1000000, S(log_max_lines_per_s), false},
};
#undef S
#define NKEYS (sizeof keys / sizeof keys[0])

bool config_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	return ini_split_hostport(s, host, hostlen, port);
}

config_t *config_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	config_t *c = config_read(f, path, err, errlen);
	fclose(f);
	return c;
}

config_t *config_read(FILE *f, const char *path, char *err, size_t errlen)
{
	config_t *c = xcalloc(1, sizeof *c);
	int lines[NKEYS] = {0};
	if (!ini_read(f, path, keys, NKEYS, c, lines, err, errlen))
		goto failed;
	/* /metrics and /healthz have no authentication: beyond this host only on purpose */
	if (!c->metrics_allow_remote && !ini_host_is_loopback(c->metrics_listen)) {
		size_t i;
		for (i = 0; i < NKEYS; i++)
			if (keys[i].off == offsetof(config_t, metrics_listen))
				break;
		snprintf(err, errlen,
			 "%s:%d: metrics.listen: '%s' is not a loopback address (127.0.0.0/8, ::1, localhost); "
			 "/metrics has no authentication: set metrics.allow_remote = true to serve it beyond this host",
			 path, lines[i], c->metrics_listen);
		goto failed;
	}
	/* the conninfo's host, hostaddr and port lists (voucherd follows the
	 * primary among them: daemon/pghosts.h) */
	pghosts_t hosts;
	char herr[400];
	if (!pghosts_parse(&hosts, c->conninfo, herr, sizeof herr)) {
		size_t i;
		for (i = 0; i < NKEYS; i++)
			if (keys[i].off == offsetof(config_t, conninfo))
				break;
		snprintf(err, errlen, "%s:%d: %s", path, lines[i], herr);
		goto failed;
	}
	pghosts_free(&hosts);
	return c;
failed:
	config_free(c);
	return NULL;
}

void config_changed_keys(const config_t *a, const config_t *b,
			 void (*fn)(const char *section, const char *key, bool reloadable, void *arg), void *arg)
{
	ini_changed(keys, NKEYS, a, b, fn, arg);
}

void config_free(config_t *c)
{
	if (!c)
		return;
	ini_free(keys, NKEYS, c);
	free(c);
}
