/* server: the state voucherd's modules share.  One event loop, one thread. */
#ifndef VOUCHER_SERVER_H
#define VOUCHER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "daemon/config.h"
#include "daemon/registry.h"
#include "daemon/writer.h"

typedef struct rate_bucket rate_bucket_t;
struct tls_state;
struct metrics_state;

typedef struct server {
	struct event_base *base;
	const char *config_path;
	config_t *cfg;
	SSL_CTX *ssl_ctx; /* current; connections hold their own reference */
	struct evhttp *https;
	struct evhttp *metrics_http;
	struct evhttp_bound_socket *https_sock;
	writer_t *writer;
	registry_t *registry; /* NULL until first loaded */
	bool registry_loading;
	bool db_failing; /* the database failed a statement on its own (read only,
				     * disk full, privileges): /healthz says 503 until a batch
				     * is stored or ingest_probe() finds it writable again */
	bool db_probing;
	struct event *refresh_timer;
	struct event *sweep_timer;
	struct event *drain_timer;
	struct event *signals[3];
	rate_bucket_t *buckets;
	bool draining;
	int64_t drain_started_ms;
	uint64_t pending;              /* requests waiting for the database */
	uint64_t pending_bytes;        /* what they hold: bodies and record arrays */
	bool paused;                   /* not reading from sockets: see ingest_flow() */
	uint64_t pauses;               /* times reading was paused */
	struct tls_state *tls;         /* tls.c's state: connections, limits, the gate */
	struct metrics_state *metrics; /* metrics.c's counters */
} server_t;

int64_t now_ms(void);
int64_t now_us(void);

/* tls.c */
/* Builds a server SSL_CTX from the config: TLS 1.2+, client certificate required
 * and verified against tls_client_ca (and tls_crl if set).  NULL with err. */
SSL_CTX *tls_ctx_new(const config_t *cfg, char *err, size_t errlen);
/* Installs the bufferevent callback that wraps each accepted socket in TLS. */
void tls_attach(server_t *srv);
/* The verified peer of a request: fills the lowercase hex SHA-256 fingerprint of
 * its certificate.  False if the connection is not TLS or has no verified peer
 * certificate (libevent would otherwise serve plain HTTP silently). */
bool tls_peer_fingerprint(struct evhttp_request *req, char fp[65]);
/* Marks the connection of req busy (waiting for us) or done with a request, for
 * the slow-connection sweep; and runs the sweep. */
void tls_conn_busy(struct evhttp_request *req, bool busy);
/* fn(arg) runs when the connection of req closes (NULL: nothing). */
void tls_conn_on_close(struct evhttp_request *req, void (*fn)(void *), void *arg);
void tls_sweep(server_t *srv);
/* Stops (pause true) or resumes reading from every client connection and
 * accepting new ones.  A paused connection keeps its socket; the kernel's
 * buffers and then TCP flow control hold the client back. */
void tls_pause_reading(server_t *srv, bool pause);
/* A request the gate refused from its headers: its answer.  False for a
 * request that passed. */
/* The server a request came to (through its TLS connection), or NULL. */
server_t *tls_request_server(struct evhttp_request *req);
bool tls_gate_refusal(struct evhttp_request *req, int *status, const char **code, const char **detail,
		      int *retry_after_s);
/* Lets requests waiting for room in the memory budget go on if there is
 * room now (called whenever the pending bytes change). */
void tls_gate_wake(server_t *srv);
/* Connection limits, accept errors and handshakes, as Prometheus text. */
struct buf;
void tls_metrics(const server_t *srv, struct buf *b);
/* After the listeners are bound: handle accept() errors (EMFILE) on both. */
void tls_listening(server_t *srv, struct evhttp_bound_socket *metrics);
/* At exit: tls_detach before evhttp_free (nothing may touch the listeners),
 * tls_free after it (the connections it frees still count themselves out). */
void tls_detach(server_t *srv);
void tls_free(server_t *srv);

/* metrics.c */
void metrics_request(server_t *srv, int status);
void metrics_records(server_t *srv, int accepted, int duplicates);
void metrics_rejected(server_t *srv, const char *code, int n);
void metrics_batch_latency_us(server_t *srv, int64_t us);
void metrics_attach(server_t *srv, struct evhttp *http);
void metrics_free(server_t *srv);

/* ingest.c */
void ingest_attach(server_t *srv, struct evhttp *http);
void ingest_reload_registry(server_t *srv);
/* Pauses reading when the requests waiting for the database hold
 * database.queue_max_bytes or three quarters of database.queue_max, and
 * resumes below half of both.  Called whenever those change. */
void ingest_flow(server_t *srv);
/* While db_failing, asks the database whether voucher_ingest could write
 * (not read only, not a standby, EXECUTE on ingest_batch); called each second. */
void ingest_probe(server_t *srv);
/* Records a problem response: RFC 9457 problem+json with a stable code. */
void http_problem(struct evhttp_request *req, int status, const char *code, const char *detail, int retry_after_s);

#endif
