#include "console/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/ini.h"

#include <libpq-fe.h>

#define S(f) offsetof(console_config_t, f)
static const ini_key_t keys[] = {
	{"console", "listen", INI_HOSTPORT, "127.0.0.1:8444", 0, 0, S(listen), false},
	{"console", "tls_cert", INI_STR, NULL, 0, 0, S(tls_cert), false},
	{"console", "tls_key", INI_STR, NULL, 0, 0, S(tls_key), false},
	{"console", "tls_client_ca", INI_STR, "", 0, 0, S(tls_client_ca), false},
	{"console", "notice_contact", INI_STR, NULL, 0, 0, S(notice_contact), false},
	{"console", "session_idle_s", INI_INT, "900", 5, 86400, S(session_idle_s), false},
	{"console", "max_sessions", INI_INT, "200", 1, 100000, S(max_sessions), false},
	{"console", "login_max_failures", INI_INT, "5", 1, 1000, S(login_max_failures), false},
	{"console", "login_max_failures_per_address", INI_INT, "20", 1, 100000, S(login_max_failures_per_address),
	 false},
	{"console", "login_window_s", INI_INT, "900", 1, 86400, S(login_window_s), false},
	{"console", "login_lockout_s", INI_INT, "900", 1, 86400, S(login_lockout_s), false},
	{"database", "conninfo", INI_STR, NULL, 0, 0, S(conninfo), false},
	{"database", "notice_user", INI_STR, "", 0, 0, S(notice_user), false},
	{"database", "notice_passfile", INI_STR, "", 0, 0, S(notice_passfile), false},
	{"database", "statement_timeout_ms", INI_INT, "30000", 100, 3600000, S(statement_timeout_ms), false},
	{"log", "level", INI_LEVEL, "info", 0, 0, S(log_level), false},
};
#undef S
#define NKEYS (sizeof keys / sizeof keys[0])

/* conninfo must not carry a user, password or passfile: the console
 * connects as the person who signs in.  libpq parses it (key=value or URI). */
static bool conninfo_has_identity(const char *conninfo, char *why, size_t whylen)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	if (!opts) {
		snprintf(why, whylen, "cannot be parsed: %s", perr ? perr : "out of memory");
		PQfreemem(perr);
		return true;
	}
	bool bad = false;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && *o->val &&
		    (!strcmp(o->keyword, "user") || !strcmp(o->keyword, "password") ||
		     !strcmp(o->keyword, "passfile"))) {
			snprintf(why, whylen,
				 "must not name a %s: staff sign in as their own database role (the public "
				 "notice reads as database.notice_user)",
				 o->keyword);
			bad = true;
		}
	PQconninfoFree(opts);
	return bad;
}

console_config_t *console_config_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	console_config_t *c = xcalloc(1, sizeof *c);
	bool ok = ini_read(f, path, keys, NKEYS, c, NULL, err, errlen);
	fclose(f);
	char why[512];
	if (ok && conninfo_has_identity(c->conninfo, why, sizeof why)) {
		snprintf(err, errlen, "%s: database.conninfo: %s", path, why);
		ok = false;
	}
	if (!ok) {
		console_config_free(c);
		return NULL;
	}
	return c;
}

void console_config_free(console_config_t *c)
{
	if (!c)
		return;
	ini_free(keys, NKEYS, c);
	free(c);
}
