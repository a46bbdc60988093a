/* tls: mutual TLS for the ingest listener, and the per-connection watch that
 * closes connections too slow to send a whole request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/log.h"
#include "daemon/server.h"

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void ssl_err(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char msg[256] = "";
	if (e)
		ERR_error_string_n(e, msg, sizeof msg);
	ERR_clear_error();
	snprintf(err, errlen, "%s %s: %s", what, path, msg);
}

SSL_CTX *tls_ctx_new(const config_t *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_err(err, errlen, "cannot create TLS context", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	/* TLS 1.2: forward-secret AEAD suites only */
	SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		ssl_err(err, errlen, "server.tls_cert: cannot load", cfg->tls_cert);
		goto failed;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
		ssl_err(err, errlen, "server.tls_key: cannot load", cfg->tls_key);
		goto failed;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err(err, errlen, "server.tls_key: does not match server.tls_cert", cfg->tls_key);
		goto failed;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca, NULL) != 1) {
		ssl_err(err, errlen, "server.tls_client_ca: cannot load", cfg->tls_client_ca);
		goto failed;
	}
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_client_ca);
	if (!names) {
		ssl_err(err, errlen, "server.tls_client_ca: no certificate in", cfg->tls_client_ca);
		goto failed;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	if (cfg->tls_crl && *cfg->tls_crl) {
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);
		X509_LOOKUP *lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());
		if (!lu || X509_load_crl_file(lu, cfg->tls_crl, X509_FILETYPE_PEM) <= 0) {
			ssl_err(err, errlen, "server.tls_crl: cannot load", cfg->tls_crl);
			goto failed;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	static const unsigned char sid[] = "voucherd";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
	return ctx;
failed:
	SSL_CTX_free(ctx);
	return NULL;
}

/* ------------------------------------------------------------ connections */

/* One per accepted connection, hung on its SSL object (ex_data), so that it is
 * freed with the SSL whenever libevent frees the connection. */
typedef struct tls_conn {
	struct tls_conn *prev, *next;
	struct bufferevent *bev;
	int64_t deadline_ms; /* a whole request must have arrived by then */
	bool busy;           /* a request is with us: no deadline */
	bool nodelay;        /* TCP_NODELAY set on its socket */
} tls_conn_t;

static tls_conn_t conns = {&conns, &conns, NULL, 0, false, false};
static int conn_idx = -1;
static int64_t request_timeout_ms = 60000;
static bool reading_paused;
/* Every client connection is a member of one rate-limit group whose bucket
 * (9.2e18 bytes, refilled hourly) never runs out by reading.  Pausing empties
 * the bucket, which makes libevent suspend reading on every member; this is
 * independent of the enabling and disabling evhttp does itself, and libevent
 * keeps a connection in the group until it is finally freed, so a connection
 * being closed is never touched after its memory is gone.  Resuming puts the
 * bytes back. */
static struct bufferevent_rate_limit_group *group;
static ev_ssize_t taken; /* bytes taken out of the bucket by the pause */

static void conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	tls_conn_t *c = ptr;
	if (!c)
		return;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	free(c);
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
	server_t *srv = arg;
	SSL *ssl = SSL_new(srv->ssl_ctx);
	if (!ssl)
		return NULL; /* evhttp then drops the connection */
	tls_conn_t *c = xcalloc(1, sizeof *c);
	c->deadline_ms = now_ms() + request_timeout_ms;
	c->next = conns.next;
	c->prev = &conns;
	conns.next->prev = c;
	conns.next = c;
	SSL_set_ex_data(ssl, conn_idx, c);
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev) {
		SSL_free(ssl); /* frees c through the ex_data callback */
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	c->bev = bev;
	if (group)
		bufferevent_add_to_rate_limit_group(bev, group);
	return bev;
}

void tls_attach(server_t *srv)
{
	if (!group) {
		struct timeval hour = {3600, 0};
		struct ev_token_bucket_cfg *cfg = ev_token_bucket_cfg_new(
			EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX, &hour);
		if (cfg) {
			group = bufferevent_rate_limit_group_new(srv->base, cfg); /* copies cfg */
			ev_token_bucket_cfg_free(cfg);
		}
	}
	if (conn_idx < 0)
		conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free_cb);
	request_timeout_ms = srv->cfg->request_timeout_s * 1000;
	evhttp_set_bevcb(srv->https, bevcb, srv);
}

static SSL *request_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (!evcon)
		return NULL;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	return bev ? bufferevent_openssl_get_ssl(bev) : NULL;
}

bool tls_peer_fingerprint(struct evhttp_request *req, char fp[65])
{
	SSL *ssl = request_ssl(req);
	if (!ssl || !SSL_is_init_finished(ssl))
		return false;
	X509 *peer = SSL_get0_peer_certificate(ssl);
	if (!peer || SSL_get_verify_result(ssl) != X509_V_OK)
		return false;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!X509_digest(peer, EVP_sha256(), md, &len) || len != 32)
		return false;
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < 32; i++) {
		fp[2 * i] = hex[md[i] >> 4];
		fp[2 * i + 1] = hex[md[i] & 15];
	}
	fp[64] = '\0';
	return true;
}

void tls_conn_busy(struct evhttp_request *req, bool busy)
{
	SSL *ssl = request_ssl(req);
	tls_conn_t *c = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
	if (!c)
		return;
	if (!c->nodelay) {
		/* answers go out as soon as they are written: without this, the TLS
		 * records of an answer after the first wait for the client's delayed
		 * ACK (Nagle), up to 40 ms a request */
		int fd = c->bev ? bufferevent_getfd(c->bev) : -1;
		int one = 1;
		if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
			c->nodelay = true;
	}
	c->busy = busy;
	if (!busy)
		c->deadline_ms = now_ms() + request_timeout_ms;
}

void tls_pause_reading(server_t *srv, bool pause)
{
	if (pause == reading_paused || !group)
		return;
	reading_paused = pause;
	if (pause) {
		taken = bufferevent_rate_limit_group_get_read_limit(group);
		bufferevent_rate_limit_group_decrement_read(group, taken);
	} else {
		/* back to what it held (an hourly refill may have filled it meanwhile) */
		ev_ssize_t now_held = bufferevent_rate_limit_group_get_read_limit(group);
		bufferevent_rate_limit_group_decrement_read(group, now_held - taken);
		/* time spent paused does not count against a request */
		int64_t now = now_ms();
		for (tls_conn_t *c = conns.next; c != &conns; c = c->next)
			if (!c->busy)
				c->deadline_ms = now + request_timeout_ms;
	}
	struct evconnlistener *l = srv->https_sock ? evhttp_bound_socket_get_listener(srv->https_sock) : NULL;
	if (l) {
		if (pause)
			evconnlistener_disable(l);
		else
			evconnlistener_enable(l);
	}
}

void tls_sweep(server_t *srv)
{
	(void)srv;
	if (reading_paused)
		return; /* nobody can send while we do not read */
	int64_t now = now_ms();
	for (tls_conn_t *c = conns.next; c != &conns; c = c->next) {
		if (c->busy || now < c->deadline_ms || !c->bev)
			continue;
		int fd = bufferevent_getfd(c->bev);
		log_info("connection_timeout", "fd=%d reason=request_not_complete_in_time", fd);
		/* libevent sees EOF and frees the connection (and c) itself */
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
		c->deadline_ms = now + 5000; /* do not repeat every sweep */
	}
}
