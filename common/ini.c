#include "common/ini.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"

bool ini_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
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

bool ini_host_is_loopback(const char *hostport)
{
	char host[256];
	uint16_t port;
	if (!ini_split_hostport(hostport, host, sizeof host, &port))
		return false;
	if (!strcasecmp(host, "localhost"))
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	struct in6_addr a6;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

static bool set_value(void *base, const ini_key_t *k, const char *v, char *why, size_t whylen)
{
	void *field = (char *)base + k->off;
	switch (k->type) {
	case INI_INT: {
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
	case INI_HOSTPORT: {
		char host[256];
		uint16_t port;
		if (!ini_split_hostport(v, host, sizeof host, &port)) {
			snprintf(why, whylen, "'%s' is not host:port (IPv6 as [::1]:8443)", v);
			return false;
		}
		break;
	}
	case INI_LEVEL:
		if (strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") && strcmp(v, "error")) {
			snprintf(why, whylen, "'%s' is not one of debug, info, warn, error", v);
			return false;
		}
		break;
	case INI_BOOL:
		if (strcmp(v, "true") && strcmp(v, "false")) {
			snprintf(why, whylen, "'%s' is not true or false", v);
			return false;
		}
		*(bool *)field = !strcmp(v, "true");
		return true;
	case INI_STR: break;
	}
	char **s = field;
	free(*s);
	*s = xstrdup(v);
	return true;
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

/* The index of section.name in keys, or n. */
static size_t key_index(const ini_key_t *keys, size_t n, const char *section, const char *name)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (!strcmp(keys[i].section, section) && (!name || !strcmp(keys[i].name, name)))
			break;
	return i;
}

bool ini_read(FILE *f, const char *path, const ini_key_t *keys, size_t n, void *base, int *lines, char *err,
	      size_t errlen)
{
	bool *seen = xcalloc(n ? n : 1, sizeof *seen);
	char line[4096], section[64] = "", why[256];
	int lineno = 0;
	bool ok = false;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto done;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || *trim(e + 1) != '\0' || e - s - 1 <= 0 || (size_t)(e - s - 1) >= sizeof section) {
				snprintf(err, errlen, "%s:%d: malformed section header", path, lineno);
				goto done;
			}
			*e = '\0';
			snprintf(section, sizeof section, "%s", s + 1);
			if (key_index(keys, n, section, NULL) == n) {
				snprintf(err, errlen, "%s:%d: unknown section [%s]", path, lineno, section);
				goto done;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
			goto done;
		}
		*eq = '\0';
		char *name = trim(s);
		char *val = eq + 1;
		strip_comment(val);
		val = trim(val);
		if (!*section) {
			snprintf(err, errlen, "%s:%d: %s: key outside a section", path, lineno, name);
			goto done;
		}
		size_t i = key_index(keys, n, section, name);
		if (i == n) {
			snprintf(err, errlen, "%s:%d: %s.%s: unknown key", path, lineno, section, name);
			goto done;
		}
		if (seen[i]) {
			snprintf(err, errlen, "%s:%d: %s.%s: given twice", path, lineno, section, name);
			goto done;
		}
		seen[i] = true;
		if (lines)
			lines[i] = lineno;
		if (!set_value(base, &keys[i], val, why, sizeof why)) {
			snprintf(err, errlen, "%s:%d: %s.%s: %s", path, lineno, section, name, why);
			goto done;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (seen[i])
			continue;
		if (lines)
			lines[i] = 0;
		if (!keys[i].dflt) {
			snprintf(err, errlen, "%s: %s.%s: required key is missing", path, keys[i].section,
				 keys[i].name);
			goto done;
		}
		if (!set_value(base, &keys[i], keys[i].dflt, why, sizeof why)) {
			snprintf(err, errlen, "%s: %s.%s: bad default: %s", path, keys[i].section, keys[i].name, why);
			goto done;
		}
	}
	ok = true;
done:
	free(seen);
	return ok;
}

void ini_changed(const ini_key_t *keys, size_t n, const void *a, const void *b,
		 void (*fn)(const char *section, const char *key, bool reloadable, void *arg), void *arg)
{
	for (size_t i = 0; i < n; i++) {
		const void *fa = (const char *)a + keys[i].off, *fb = (const char *)b + keys[i].off;
		bool same;
		if (keys[i].type == INI_INT)
			same = *(const int64_t *)fa == *(const int64_t *)fb;
		else if (keys[i].type == INI_BOOL)
			same = *(const bool *)fa == *(const bool *)fb;
		else
			same = !strcmp(*(char *const *)fa ? *(char *const *)fa : "",
				       *(char *const *)fb ? *(char *const *)fb : "");
		if (!same)
			fn(keys[i].section, keys[i].name, keys[i].reloadable, arg);
	}
}

void ini_free(const ini_key_t *keys, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i].type != INI_INT && keys[i].type != INI_BOOL)
			free(*(char **)((char *)base + keys[i].off));
}
