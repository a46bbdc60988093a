#include "daemon/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"

typedef enum { CT_STR, CT_INT, CT_HOSTPORT, CT_LEVEL, CT_BOOL } ctype_t;

/* The one table of configuration keys: section, key, type, default (NULL =
 * required), bounds for integers, and whether SIGHUP applies a change (the
 * TLS files: a reload builds a new TLS context; every other key is read
 * once, at start, and a reload that changes it says so). */
struct key {
	const char *section;
	const char *name;
	ctype_t type;
	const char *dflt;
	int64_t min, max;
	size_t off;
	bool reloadable;
};

#define S(f) offsetof(config_t, f)
static const struct key keys[] = {
	{"server", "listen", CT_HOSTPORT, "127.0.0.1:8443", 0, 0, S(listen), false},
	{"server", "tls_cert", CT_STR, NULL, 0, 0, S(tls_cert), true},
	{"server", "tls_key", CT_STR, NULL, 0, 0, S(tls_key), true},
	{"server", "tls_client_ca", CT_STR, NULL, 0, 0, S(tls_client_ca), true},
	{"server", "tls_crl", CT_STR, "", 0, 0, S(tls_crl), true},
	{"server", "max_body_bytes", CT_INT, "16777216", 1024, 1073741824, S(max_body_bytes), false},
	{"server", "max_records_per_batch", CT_INT, "10000", 1, 1000000, S(max_records_per_batch), false},
	{"server", "max_header_bytes", CT_INT, "16384", 1024, 1048576, S(max_header_bytes), false},
	{"server", "idle_timeout_s", CT_INT, "30", 1, 3600, S(idle_timeout_s), false},
	{"server", "request_timeout_s", CT_INT, "60", 1, 3600, S(request_timeout_s), false},
	{"server", "max_connections", CT_INT, "1000", 1, 1000000, S(max_connections), false},
	{"server", "max_connections_per_address", CT_INT, "100", 1, 1000000, S(max_connections_per_address), false},
	{"server", "tls_session_cache", CT_INT, "0", 0, 1000000, S(tls_session_cache), false},
	{"database", "conninfo", CT_STR, NULL, 0, 0, S(conninfo), false},
	{"database", "connections", CT_INT, "2", 1, 64, S(connections), false},
	{"database", "queue_max", CT_INT, "256", 1, 1000000, S(queue_max), false},
	{"database", "group_max", CT_INT, "32", 1, 64, S(group_max), false},
	{"database", "queue_max_bytes", CT_INT, "67108864", 1048576, 17179869184, S(queue_max_bytes), false},
	{"ingest", "signature_max_age_s", CT_INT, "3600", 0, 31622400, S(signature_max_age_s), false},
	{"ingest", "clock_skew_s", CT_INT, "300", 0, 86400, S(clock_skew_s), false},
	{"ingest", "provider_rate_per_s", CT_INT, "0", 0, 100000000, S(provider_rate_per_s), false},
	{"ingest", "registry_refresh_s", CT_INT, "60", 0, 86400, S(registry_refresh_s), false},
	{"metrics", "listen", CT_HOSTPORT, "127.0.0.1:9187", 0, 0, S(metrics_listen), false},
	{"metrics", "allow_remote", CT_BOOL, "false", 0, 0, S(metrics_allow_remote), false},
	{"log", "level", CT_LEVEL, "info", 0, 0, S(log_level), false},
	{"log", "max_lines_per_s", CT_INT, "200", 0, 1000000, S(log_max_lines_per_s), false},
};
#undef S
#define NKEYS (sizeof keys / sizeof keys[0])

bool config_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	size_t hl;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return false;
		hl = (size_t)(end - s - 1);
		s++;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return false;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p < 1 || p > 65535)
		return false;
	*port = (uint16_t)p;
	return true;
}

static bool set_value(config_t *c, const struct key *k, const char *v, char *why, size_t whylen)
{
	void *field = (char *)c + k->off;
	switch (k->type) {
	case CT_INT: {
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (errno || *end || end == v) {
			snprintf(why, whylen, "'%s' is not an integer", v);
			return false;
		}
		if (n < k->min || n > k->max) {
			snprintf(why, whylen, "%lld is out of range %lld..%lld", n, (long long)k->min,
				 (long long)k->max);
			return false;
		}
		*(int64_t *)field = n;
		return true;
	}
	case CT_HOSTPORT: {
		char host[256];
		uint16_t port;
		if (!config_split_hostport(v, host, sizeof host, &port)) {
			snprintf(why, whylen, "'%s' is not host:port (IPv6 as [::1]:8443)", v);
			return false;
		}
		break;
	}
	case CT_LEVEL:
		if (strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") && strcmp(v, "error")) {
			snprintf(why, whylen, "'%s' is not one of debug, info, warn, error", v);
			return false;
		}
		break;
	case CT_BOOL:
		if (strcmp(v, "true") && strcmp(v, "false")) {
			snprintf(why, whylen, "'%s' is not true or false", v);
			return false;
		}
		*(bool *)field = !strcmp(v, "true");
		return true;
	case CT_STR: break;
	}
	char **s = field;
	free(*s);
	*s = xstrdup(v);
	return true;
}

/* localhost, 127.0.0.0/8 or ::1 (also as ::ffff:127.x.x.x) */
static bool host_is_loopback(const char *hostport)
{
	char host[256];
	uint16_t port;
	if (!config_split_hostport(hostport, host, sizeof host, &port))
		return false;
	if (!strcasecmp(host, "localhost"))
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	struct in6_addr a6;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false; /* a name could resolve anywhere */
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Strips a trailing ";" or "#" comment that is preceded by white space. */
static void strip_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if ((*p == ';' || *p == '#') && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
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
	bool seen[NKEYS] = {false};
	int lines[NKEYS] = {0};
	char line[4096], section[64] = "";
	int lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto failed;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || *trim(e + 1) != '\0' || e - s - 1 <= 0 || (size_t)(e - s - 1) >= sizeof section) {
				snprintf(err, errlen, "%s:%d: malformed section header", path, lineno);
				goto failed;
			}
			*e = '\0';
			snprintf(section, sizeof section, "%s", s + 1);
			bool known = false;
			for (size_t i = 0; i < NKEYS; i++)
				known |= !strcmp(keys[i].section, section);
			if (!known) {
				snprintf(err, errlen, "%s:%d: unknown section [%s]", path, lineno, section);
				goto failed;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
			goto failed;
		}
		*eq = '\0';
		char *name = trim(s);
		char *val = eq + 1;
		strip_comment(val);
		val = trim(val);
		if (!*section) {
			snprintf(err, errlen, "%s:%d: %s: key outside a section", path, lineno, name);
			goto failed;
		}
		size_t i;
		for (i = 0; i < NKEYS; i++)
			if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
				break;
		if (i == NKEYS) {
			snprintf(err, errlen, "%s:%d: %s.%s: unknown key", path, lineno, section, name);
			goto failed;
		}
		if (seen[i]) {
			snprintf(err, errlen, "%s:%d: %s.%s: given twice", path, lineno, section, name);
			goto failed;
		}
		seen[i] = true;
		lines[i] = lineno;
		char why[256];
		if (!set_value(c, &keys[i], val, why, sizeof why)) {
			snprintf(err, errlen, "%s:%d: %s.%s: %s", path, lineno, section, name, why);
			goto failed;
		}
	}
	for (size_t i = 0; i < NKEYS; i++) {
		if (seen[i])
			continue;
		if (!keys[i].dflt) {
			snprintf(err, errlen, "%s: %s.%s: required key is missing", path, keys[i].section,
				 keys[i].name);
			goto failed;
		}
		char why[256];
		if (!set_value(c, &keys[i], keys[i].dflt, why, sizeof why)) {
			snprintf(err, errlen, "%s: %s.%s: bad default: %s", path, keys[i].section, keys[i].name, why);
			goto failed;
		}
	}
	/* /metrics and /healthz have no authentication: beyond this host only on purpose */
	if (!c->metrics_allow_remote && !host_is_loopback(c->metrics_listen)) {
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
	return c;
failed:
	config_free(c);
	return NULL;
}

void config_changed_keys(const config_t *a, const config_t *b,
			 void (*fn)(const char *section, const char *key, bool reloadable, void *arg), void *arg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const void *fa = (const char *)a + keys[i].off, *fb = (const char *)b + keys[i].off;
		bool same;
		if (keys[i].type == CT_INT)
			same = *(const int64_t *)fa == *(const int64_t *)fb;
		else if (keys[i].type == CT_BOOL)
			same = *(const bool *)fa == *(const bool *)fb;
		else
			same = !strcmp(*(char *const *)fa ? *(char *const *)fa : "",
				       *(char *const *)fb ? *(char *const *)fb : "");
		if (!same)
			fn(keys[i].section, keys[i].name, keys[i].reloadable, arg);
	}
}

void config_free(config_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type != CT_INT && keys[i].type != CT_BOOL)
			free(*(char **)((char *)c + keys[i].off));
	free(c);
}
