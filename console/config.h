/* The console's INI file (README.md "voucher-console"), read against one
 * table of keys (common/ini). */
#ifndef VOUCHER_CONSOLE_CONFIG_H
#define VOUCHER_CONSOLE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct console_config {
	/* [console] */
	char *listen;
	char *tls_cert;
	char *tls_key;
	char *tls_client_ca;  /* "": no client certificate; else staff must present one (UKey) */
	char *notice_contact; /* printed on the public notice: where to raise an objection */
	int64_t session_idle_s;
	int64_t max_sessions;
	int64_t login_max_failures;             /* per user name, within login_window_s */
	int64_t login_max_failures_per_address; /* per client address (an office behind one address: higher) */
	int64_t login_window_s;
	int64_t login_lockout_s;
	/* [database] */
	char *conninfo;    /* without user or password: staff sign in as their own role */
	char *notice_user; /* the login role (member of voucher_notice) the public pages read with */
	char *notice_passfile;
	int64_t statement_timeout_ms;
	/* [log] */
	char *log_level;
} console_config_t;

console_config_t *console_config_load(const char *path, char *err, size_t errlen);
void console_config_free(console_config_t *c);

#endif
