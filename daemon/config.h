/* config: voucherd's INI file, read against one table of known keys (see
 * config.c).  A file with an unknown section or key, a missing required key or
 * a value out of range is refused with a message naming "section.key" and the
 * line.  Loading builds a whole new config_t; the caller swaps it in only when
 * every key is valid. */
#ifndef VOUCHER_CONFIG_H
#define VOUCHER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct config {
	/* [server] */
	char *listen; /* host:port, IPv6 as [::1]:8443 */
	char *tls_cert;
	char *tls_key;
	char *tls_client_ca;
	char *tls_crl; /* optional CRL file for client certificates */
	int64_t max_body_bytes;
	int64_t max_records_per_batch;
	int64_t max_header_bytes;
	int64_t idle_timeout_s;              /* a connection silent this long is closed */
	int64_t request_timeout_s;           /* a request must arrive whole within this */
	int64_t max_connections;             /* open client connections; past it, accepting stops */
	int64_t max_connections_per_address; /* from one client address */
	int64_t tls_session_cache;           /* sessions kept for resumption; 0: stateless tickets only */
	/* [database] */
	char *conninfo;
	int64_t connections;     /* libpq connections of the writer */
	int64_t queue_max;       /* batches waiting for the database before 503 */
	int64_t queue_max_bytes; /* bytes they hold before reading stops */
	int64_t group_max;       /* batches committed together in one transaction */
	int64_t reply_timeout_s; /* a transaction unanswered this long: reconnect, run it again */
	/* [ingest] */
	int64_t signature_max_age_s;
	int64_t clock_skew_s;
	int64_t provider_rate_per_s;
	int64_t registry_refresh_s;
	/* [metrics] */
	char *metrics_listen;
	bool metrics_allow_remote; /* metrics_listen may be other than loopback */
	/* [log] */
	char *log_level;
	int64_t log_max_lines_per_s; /* per event kind; 0: no limit */
} config_t;

/* Reads path.  On failure returns NULL and writes "path:line: section.key: why"
 * (or "path: ...") into err. */
config_t *config_load(const char *path, char *err, size_t errlen);
/* The same from an open stream; path names it in messages. */
config_t *config_read(FILE *f, const char *path, char *err, size_t errlen);
void config_free(config_t *c);
/* Calls fn for every key whose value differs between a and b. */
void config_changed_keys(const config_t *a, const config_t *b,
			 void (*fn)(const char *section, const char *key, bool reloadable, void *arg), void *arg);

/* Splits "host:port" / "[v6]:port" into host (no brackets) and port. */
bool config_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
