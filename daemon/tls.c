/* tls: mutual TLS for the ingest listener, and the per-connection watch that
 * closes connections too slow to send a whole request. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/hex.h"
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

static int client_hello_cb(SSL *ssl, int *al, void *arg);
static void info_cb(const SSL *ssl, int where, int ret);
static void alert_label(int code, char *out, size_t len);

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
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Resumption: stateless tickets by default (nothing kept per client; a
	 * cache of every session ever made grew to 355 MB under a flood).  A
	 * bounded server-side cache only if configured.  Tickets live 5 minutes,
	 * so a certificate revoked by a reloaded CRL is checked again soon (and
	 * a reload makes a new context, whose ticket keys refuse older tickets). */
	if (cfg->tls_session_cache > 0) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, cfg->tls_session_cache);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_timeout(ctx, 300);
	SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
	SSL_CTX_set_info_callback(ctx, info_cb);
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
struct tls_state;

typedef struct tls_conn {
	struct tls_conn *prev, *next;
	struct bufferevent *bev;
	int64_t deadline_ms; /* a whole request must have arrived by then */
	bool busy;           /* a request is with us: no deadline */
	bool nodelay;        /* TCP_NODELAY set on its socket */
	bool addr_known;     /* addr holds the peer; it counts for its address */
	bool handshaken;     /* the TLS handshake completed */
	bool alerted;        /* we sent a fatal alert (counted by its reason) */
	struct sockaddr_storage addr;
	/* the gate: what is read of the current request */
	enum { G_HEAD, G_BODY, G_DISCARD } gate;
	int64_t body_left;          /* G_BODY: bytes of the body still to pass */
	int64_t reserved;           /* counted in reading_bytes until the body is whole */
	struct bufferevent *filter; /* what evhttp reads: the gate over bev */
	struct event *flush_ev;     /* see out_added() */
	bool hooked;                /* conn_closing is evhttp's close callback */
	bool waiting;               /* headers read, body held back by the budget */
	void (*close_fn)(void *);   /* tls_conn_on_close */
	void *close_arg;
	struct tls_state *st; /* the module, for callbacks that get only c */
} tls_conn_t;

/* The state of this module, in server_t (srv->tls).  Three things stay
 * static, because the libraries give no other place for them: conn_idx,
 * OpenSSL's process-wide index of our data on an SSL object; accept_state,
 * because libevent calls a listener's error callback with evhttp's pointer,
 * not ours; and group, below. */
struct tls_state {
	server_t *srv;
	tls_conn_t conns; /* every open client connection, a ring */
	/* Limits on connections (server.max_connections, per address) and the
	 * accept loop's state: the listener accepts only while reading is not
	 * paused for the database, fewer than max_connections are open, and
	 * descriptors are not exhausted (EMFILE/ENFILE: retried every 250 ms
	 * and whenever a connection closes, logged once per episode). */
	int64_t nconns, max_conns, max_per_address;
	bool accept_backoff, accept_episode;
	struct event *backoff_timer;
	struct evconnlistener *metrics_listener;
	uint64_t refused_per_address, accept_errors, accept_episodes, handshakes_done, closed_in_handshake;
	uint64_t alerts_sent[256];
	/* bodies being read now (their Content-Length), beside the database's
	 * pending bytes: a new body is admitted while both together stay
	 * within twice database.queue_max_bytes */
	int64_t reading_bytes;
	int64_t gate_waiting; /* connections whose body waits for the budget */
	int64_t max_body, max_header;
	uint64_t gate_refused[8];
	int64_t request_timeout_ms;
	bool reading_paused;
	ev_ssize_t taken; /* bytes taken out of the bucket by the pause (see group) */
};

static int conn_idx = -1;
static struct tls_state *accept_state;
/* Every client connection is a member of one rate-limit group whose bucket
 * (9.2e18 bytes, refilled hourly) never runs out by reading.  Pausing empties
 * the bucket, which makes libevent suspend reading on every member; this is
 * independent of the enabling and disabling evhttp does itself, and libevent
 * keeps a connection in the group until it is finally freed, so a connection
 * being closed is never touched after its memory is gone.  Resuming puts the
 * bytes back.  It lives as long as the process: its members leave it only
 * when event_base_free runs their finalizers, and its refill timer is an event
 * of that base, so there is no moment at which it could be freed safely. */
static struct bufferevent_rate_limit_group *group;

static void listener_update(struct tls_state *T);
static SSL *request_ssl(struct evhttp_request *req);

/* A reply evhttp writes while it has writing disabled (one answered from
 * inside the read, e.g. a refusal) waits in the gate's output buffer, and
 * enabling writing on a filter does not move it on: flush it from the loop,
 * once evhttp has enabled writing. */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tls_conn_t *c = arg;
	if (c->filter)
		bufferevent_flush(c->filter, EV_WRITE, BEV_NORMAL);
}

static void out_added(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	(void)buf;
	tls_conn_t *c = arg;
	if (info->n_added && c->flush_ev)
		event_active(c->flush_ev, EV_TIMEOUT, 0);
}

/* evhttp closes a connection (after an answer with Connection: close, or a
 * client's EOF) as soon as the gate's output is empty, which is before TLS
 * has written the bytes, and then shuts the socket down: write what TLS still
 * holds now, while the socket is open.  An answer is small; what does not go
 * at once is dropped, as the connection is closing anyway. */
static void conn_closing(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	tls_conn_t *c = arg;
	SSL *ssl = c->bev ? bufferevent_openssl_get_ssl(c->bev) : NULL;
	struct evbuffer *out = c->bev ? bufferevent_get_output(c->bev) : NULL;
	for (int i = 0; ssl && out && evbuffer_get_length(out) > 0 && i < 64; i++) {
		size_t n = evbuffer_get_length(out) < 16384 ? evbuffer_get_length(out) : 16384;
		unsigned char *p = evbuffer_pullup(out, (ev_ssize_t)n);
		int w = p ? SSL_write(ssl, p, (int)n) : -1;
		if (w <= 0) {
			ERR_clear_error();
			break;
		}
		evbuffer_drain(out, (size_t)w);
	}
	if (c->close_fn) {
		void (*fn)(void *) = c->close_fn;
		c->close_fn = NULL;
		fn(c->close_arg);
	}
}

void tls_conn_on_close(struct evhttp_request *req, void (*fn)(void *), void *arg)
{
	SSL *ssl = request_ssl(req);
	tls_conn_t *c = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
	if (!c)
		return;
	c->close_fn = fn;
	c->close_arg = arg;
}

static enum bufferevent_filter_result gate_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
					      enum bufferevent_flush_mode mode, void *ctx);

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
	struct tls_state *T = c->st;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	if (!c->handshaken && !c->alerted)
		T->closed_in_handshake++;
	T->reading_bytes -= c->reserved;
	if (c->waiting)
		T->gate_waiting--;
	if (c->flush_ev)
		event_free(c->flush_ev);
	free(c);
	T->nconns--;
	listener_update(T); /* below the limit again, or a descriptor is free */
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
	server_t *srv = arg;
	struct tls_state *T = srv->tls;
	SSL *ssl = SSL_new(srv->ssl_ctx);
	if (!ssl)
		return NULL; /* evhttp then drops the connection */
	tls_conn_t *c = xcalloc(1, sizeof *c);
	c->st = T;
	c->deadline_ms = now_ms() + T->request_timeout_ms;
	c->next = T->conns.next;
	c->prev = &T->conns;
	T->conns.next->prev = c;
	T->conns.next = c;
	T->nconns++; /* conn_free_cb counts it out, whichever way it goes */
	SSL_set_ex_data(ssl, conn_idx, c);
	struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
								 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!bev) {
		SSL_free(ssl); /* frees c through the ex_data callback */
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	c->bev = bev;
	if (group)
		bufferevent_add_to_rate_limit_group(bev, group);
	/* evhttp reads through the gate, which sees each request's headers
	 * before any of its body is passed on */
	struct bufferevent *f = bufferevent_filter_new(bev, gate_in, NULL, BEV_OPT_CLOSE_ON_FREE, NULL, c);
	if (!f) {
		bufferevent_free(bev); /* frees c */
		return NULL;
	}
	c->filter = f;
	c->flush_ev = evtimer_new(base, flush_cb, c);
	evbuffer_add_cb(bufferevent_get_output(f), out_added, c);
	if (T->accept_episode) {
		T->accept_episode = false;
		log_info("accept_resumed", "open_connections=%" PRId64, T->nconns);
	}
	if (T->nconns >= T->max_conns)
		listener_update(T);
	return f;
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
	return false;
}

/* At the ClientHello, before any costly cryptography: the per-address limit. */
static int client_hello_cb(SSL *ssl, int *al, void *arg)
{
	(void)arg;
	tls_conn_t *c = conn_idx >= 0 ? SSL_get_ex_data(ssl, conn_idx) : NULL;
	int fd = SSL_get_fd(ssl);
	if (!c || c->addr_known || fd < 0)
		return SSL_CLIENT_HELLO_SUCCESS;
	socklen_t len = sizeof c->addr;
	if (getpeername(fd, (struct sockaddr *)&c->addr, &len) != 0)
		return SSL_CLIENT_HELLO_SUCCESS;
	struct tls_state *T = c->st;
	int64_t same = 0;
	for (tls_conn_t *o = T->conns.next; o != &T->conns; o = o->next)
		if (o != c && o->addr_known && same_host(&o->addr, &c->addr))
			same++;
	if (same >= T->max_per_address) {
		T->refused_per_address++;
		char host[INET6_ADDRSTRLEN] = "?";
		if (c->addr.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&c->addr)->sin_addr, host, sizeof host);
		else if (c->addr.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&c->addr)->sin6_addr, host, sizeof host);
		log_warn("connection_refused", "reason=per_address_limit address=%s open=%" PRId64, host, same);
		*al = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_CLIENT_HELLO_ERROR;
	}
	c->addr_known = true;
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Handshakes completed, and fatal alerts we sent (why a handshake failed). */
static void info_cb(const SSL *ssl, int where, int ret)
{
	tls_conn_t *c = conn_idx >= 0 ? SSL_get_ex_data(ssl, conn_idx) : NULL;
	if (!c)
		return; /* not one of our connections */
	struct tls_state *T = c->st;
	if ((where & SSL_CB_HANDSHAKE_DONE) && !c->handshaken) {
		c->handshaken = true;
		T->handshakes_done++;
	} else if ((where & SSL_CB_ALERT) && (where & SSL_CB_WRITE) && (ret >> 8) == SSL3_AL_FATAL) {
		T->alerts_sent[ret & 0xff]++;
		if (!c->handshaken && !c->alerted) {
			c->alerted = true;
			char why[64];
			alert_label(ret & 0xff, why, sizeof why);
			log_info("tls_handshake_failed", "reason=%s", why);
		}
	}
}

static void listener_update(struct tls_state *T)
{
	if (!T || !T->srv)
		return;
	if (T->metrics_listener) {
		if (T->accept_backoff)
			evconnlistener_disable(T->metrics_listener);
		else
			evconnlistener_enable(T->metrics_listener);
	}
	struct evconnlistener *l = T->srv->https_sock ? evhttp_bound_socket_get_listener(T->srv->https_sock) : NULL;
	if (!l)
		return;
	if (!T->reading_paused && !T->accept_backoff && T->nconns < T->max_conns)
		evconnlistener_enable(l);
	else
		evconnlistener_disable(l);
}

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tls_state *T = arg;
	T->accept_backoff = false;
	listener_update(T);
}

/* accept() failed.  Out of descriptors: stop accepting (the kernel's backlog
 * holds the clients) until a connection closes or 250 ms pass; without this
 * the listening socket stays readable and the loop spins. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg; /* evhttp's, not ours: see accept_state */
	int err = EVUTIL_SOCKET_ERROR();
	struct tls_state *T = accept_state;
	if (!T)
		return;
	T->accept_errors++;
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		if (!T->accept_episode) {
			T->accept_episode = true;
			T->accept_episodes++;
			log_warn("accept_paused", "reason=%s open_connections=%" PRId64, log_q(strerror(err)),
				 T->nconns);
		}
		T->accept_backoff = true;
		listener_update(T);
		struct timeval retry = {0, 250000};
		if (T->backoff_timer)
			evtimer_add(T->backoff_timer, &retry);
		return;
	}
	log_warn("accept_error", "reason=%s", log_q(strerror(err)));
}

void tls_listening(server_t *srv, struct evhttp_bound_socket *metrics)
{
	struct tls_state *T = srv->tls;
	accept_state = T;
	struct evconnlistener *l = srv->https_sock ? evhttp_bound_socket_get_listener(srv->https_sock) : NULL;
	if (l)
		evconnlistener_set_error_cb(l, accept_error_cb);
	/* the metrics listener shares the descriptors, so it pauses with it */
	T->metrics_listener = metrics ? evhttp_bound_socket_get_listener(metrics) : NULL;
	if (T->metrics_listener)
		evconnlistener_set_error_cb(T->metrics_listener, accept_error_cb);
}

void tls_detach(server_t *srv)
{
	struct tls_state *T = srv->tls;
	accept_state = NULL;
	T->srv = NULL;
	T->metrics_listener = NULL;
	if (T->backoff_timer)
		event_free(T->backoff_timer);
	T->backoff_timer = NULL;
}

void tls_free(server_t *srv)
{
	struct tls_state *T = srv->tls;
	if (!T)
		return;
	free(T);
	srv->tls = NULL;
}

/* "handshake failure" -> handshake_failure; TLS 1.3's newer alerts, which
 * OpenSSL's table calls "unknown", by their RFC 8446 names */
static void alert_label(int code, char *out, size_t len)
{
	const char *s = code == 109   ? "missing extension"
			: code == 116 ? "certificate required"
			: code == 120 ? "no application protocol"
				      : SSL_alert_desc_string_long(code);
	if (!strcmp(s, "unknown")) {
		snprintf(out, len, "alert_%d", code);
		return;
	}
	size_t i = 0;
	for (; s[i] && i + 1 < len; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : (s[i] == ' ' ? '_' : s[i]);
	out[i] = '\0';
}

/* ------------------------------------------------------------ the gate
 *
 * Who you are before what you send.  Every byte evhttp reads passes here.
 * When a request's headers are whole, and before any of its body is read:
 * an unregistered client certificate (403), a Content-Length that is
 * missing on a POST (411), repeated, or not plain digits (400), over
 * server.max_body_bytes (413), or a Transfer-Encoding (411) is refused.  A
 * body the memory budget cannot take now (the bodies being read and the
 * requests waiting for the database together over twice
 * database.queue_max_bytes) waits, unread, until there is room.  A refused request goes
 * on to evhttp without a body and marked in a header of ours (a client's own
 * header of that name is refused), so that ingest answers it as problem+json
 * and closes the connection; the rest of what the client sends is dropped
 * unread.  Bodies pass through without copying (evbuffer chains move). */

#define GATE_HEADER "X-Voucherd-Gate"

static const struct gate_reason {
	int status;
	const char *code, *detail;
	int retry_after_s;
} gate_reasons[] = {
	{0, NULL, NULL, 0},
	{403, "unknown_certificate", "the client certificate is not registered to a provider", 0},
	{400, "invalid_content_length", "Content-Length must appear once, as digits only", 0},
	{411, "length_required", "a request body needs one Content-Length (no Transfer-Encoding)", 0},
	{413, "body_too_large", "the body is larger than server.max_body_bytes", 0},
	{503, "server_busy", "(not an answer: such a request waits for room)", 1},
	{400, "invalid_header", "X-Voucherd-Gate is reserved", 0},
};
enum { GR_OK, GR_CERT, GR_CL, GR_LENGTH, GR_TOO_LARGE, GR_BUSY, GR_RESERVED, GR_N };

static bool name_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && line[n] == ':' && !strncasecmp(line, name, n);
}

/* one Content-Length value: optional single space or tab, then 1-18 digits */
static bool content_length_value(const char *v, size_t len, int64_t *out)
{
	if (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	if (len == 0 || len > 18)
		return false;
	int64_t x = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return true;
}

/* The verdict on one header block (head[0..len), CRLF or LF lines, the
 * request line first).  *cl: the Content-Length (0 if none). */
static int gate_verdict(tls_conn_t *c, const char *head, size_t len, int64_t *cl)
{
	struct tls_state *T = c->st;
	*cl = 0;
	int ncl = 0, te = 0;
	bool bad_cl = false, post = len > 5 && !strncmp(head, "POST ", 5), reserved = false;
	const char *p = memchr(head, '\n', len);
	while (p && (size_t)(p + 1 - head) < len) {
		const char *line = p + 1;
		const char *nl = memchr(line, '\n', len - (size_t)(line - head));
		size_t ll = nl ? (size_t)(nl - line) : len - (size_t)(line - head);
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (name_is(line, ll, "Content-Length")) {
			ncl++;
			size_t off = strlen("Content-Length") + 1;
			if (!content_length_value(line + off, ll - off, cl))
				bad_cl = true;
		} else if (name_is(line, ll, "Transfer-Encoding")) {
			te++;
		} else if (name_is(line, ll, GATE_HEADER)) {
			reserved = true;
		}
		p = nl;
	}
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	if (peer && T->srv && T->srv->registry) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		char fp[65];
		if (X509_digest(peer, EVP_sha256(), md, &mdlen) && mdlen == 32) {
			hex_encode(md, 32, fp);
			if (!registry_provider(T->srv->registry, fp))
				return GR_CERT;
		}
	}
	if (reserved)
		return GR_RESERVED;
	if (ncl > 1 || bad_cl)
		return GR_CL;
	if (te || (post && ncl == 0))
		return GR_LENGTH;
	if (*cl > T->max_body)
		return GR_TOO_LARGE;
	if (*cl > 0 && T->srv) {
		int64_t budget = 2 * T->srv->cfg->queue_max_bytes;
		if ((int64_t)T->srv->pending_bytes + T->reading_bytes + *cl > budget)
			return GR_BUSY;
	}
	return GR_OK;
}

/* the end of the header block in b[0..n): just after its empty line, or 0 */
static size_t head_end(const char *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* the request line and every header but the framing ones, then our mark */
static void pass_refused(struct evbuffer *dst, const char *head, size_t len, int why)
{
	const char *p = head, *end = head + len;
	bool first = true;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t cl = ll && p[ll - 1] == '\r' ? ll - 1 : ll;
		if (cl == 0)
			break;
		if (first ||
		    !(name_is(p, cl, "Content-Length") || name_is(p, cl, "Transfer-Encoding") ||
		      name_is(p, cl, GATE_HEADER) || name_is(p, cl, "Connection") || name_is(p, cl, "Expect"))) {
			evbuffer_add(dst, p, cl);
			evbuffer_add(dst, "\r\n", 2);
		}
		first = false;
		p = nl ? nl + 1 : end;
	}
	evbuffer_add_printf(dst, GATE_HEADER ": %d\r\nConnection: close\r\n\r\n", why);
}

static enum bufferevent_filter_result gate_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
					      enum bufferevent_flush_mode mode, void *ctx)
{
	(void)limit;
	(void)mode;
	tls_conn_t *c = ctx;
	struct tls_state *T = c->st;
	if (!c->hooked && c->filter) {
		/* the filter's callbacks are evhttp's, with its connection as arg */
		void *evcon = NULL;
		bufferevent_getcb(c->filter, NULL, NULL, NULL, &evcon);
		if (evcon) {
			evhttp_connection_set_closecb(evcon, conn_closing, c);
			c->hooked = true;
		}
	}
	for (;;) {
		size_t n = evbuffer_get_length(src);
		if (n == 0)
			return BEV_OK;
		if (c->gate == G_DISCARD) {
			evbuffer_drain(src, n);
			return BEV_OK;
		}
		if (c->gate == G_BODY) {
			size_t take = (int64_t)n > c->body_left ? (size_t)c->body_left : n;
			evbuffer_remove_buffer(src, dst, take);
			c->body_left -= (int64_t)take;
			if (c->body_left > 0)
				return BEV_OK;
			/* whole: ingest counts it from here on (pending_bytes) */
			T->reading_bytes -= c->reserved;
			c->reserved = 0;
			c->gate = G_HEAD;
			if (T->srv)
				tls_gate_wake(T->srv);
			continue;
		}
		size_t look = n < (size_t)T->max_header + 4 ? n : (size_t)T->max_header + 4;
		const char *b = (const char *)evbuffer_pullup(src, (ev_ssize_t)look);
		size_t hlen = b ? head_end(b, look) : 0;
		if (!hlen) {
			if (n <= (size_t)T->max_header)
				return BEV_NEED_MORE;
			/* headers too long: evhttp refuses them itself */
			evbuffer_add_buffer(dst, src);
			c->gate = G_DISCARD;
			return BEV_OK;
		}
		int64_t cl;
		int why = gate_verdict(c, b, hlen, &cl);
		if (why == GR_BUSY) {
			/* the budget is spent: this request waits, its bytes unread
			 * (reading of this connection stops at what it holds), until
			 * tls_gate_wake() finds room */
			if (!c->waiting) {
				c->waiting = true;
				T->gate_waiting++;
			}
			bufferevent_setwatermark(c->bev, EV_READ, 0, n);
			return BEV_NEED_MORE;
		}
		if (c->waiting) {
			c->waiting = false;
			T->gate_waiting--;
			bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
		}
		if (why != GR_OK) {
			T->gate_refused[why]++;
			pass_refused(dst, b, hlen, why);
			evbuffer_drain(src, evbuffer_get_length(src));
			c->gate = G_DISCARD;
			return BEV_OK;
		}
		evbuffer_remove_buffer(src, dst, hlen);
		if (cl > 0) {
			c->gate = G_BODY;
			c->body_left = cl;
			c->reserved = cl;
			T->reading_bytes += cl;
		}
	}
}

void tls_gate_wake(server_t *srv)
{
	struct tls_state *T = srv->tls;
	if (!T || T->gate_waiting == 0)
		return;
	int64_t room = 2 * srv->cfg->queue_max_bytes - (int64_t)srv->pending_bytes - T->reading_bytes;
	if (room <= 0)
		return;
	for (tls_conn_t *c = T->conns.next; c != &T->conns; c = c->next)
		if (c->waiting && c->bev)
			/* deferred: the gate runs from the loop, not inside our caller */
			bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

server_t *tls_request_server(struct evhttp_request *req)
{
	SSL *ssl = request_ssl(req);
	tls_conn_t *c = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
	return c ? c->st->srv : NULL;
}

bool tls_gate_refusal(struct evhttp_request *req, int *status, const char **code, const char **detail,
		      int *retry_after_s)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), GATE_HEADER);
	if (!v)
		return false;
	int why = atoi(v);
	if (why <= GR_OK || why >= GR_N)
		why = GR_RESERVED;
	*status = gate_reasons[why].status;
	*code = gate_reasons[why].code;
	*detail = gate_reasons[why].detail;
	*retry_after_s = gate_reasons[why].retry_after_s;
	return true;
}

void tls_metrics(const server_t *srv, buf_t *b)
{
	const struct tls_state *T = srv->tls;
	buf_printf(
		b,
		"# HELP voucherd_connections Open client connections.\n"
		"# TYPE voucherd_connections gauge\n"
		"voucherd_connections %" PRId64 "\n"
		"# HELP voucherd_connections_max server.max_connections: past it, accepting stops.\n"
		"# TYPE voucherd_connections_max gauge\n"
		"voucherd_connections_max %" PRId64 "\n"
		"# HELP voucherd_connections_per_address_max server.max_connections_per_address.\n"
		"# TYPE voucherd_connections_per_address_max gauge\n"
		"voucherd_connections_per_address_max %" PRId64 "\n"
		"# HELP voucherd_connections_refused_total Connections refused at the TLS ClientHello for the per-address limit.\n"
		"# TYPE voucherd_connections_refused_total counter\n"
		"voucherd_connections_refused_total{reason=\"per_address\"} %" PRIu64 "\n"
		"# HELP voucherd_accepting 1 while new connections are accepted.\n"
		"# TYPE voucherd_accepting gauge\n"
		"voucherd_accepting %d\n"
		"# HELP voucherd_accept_errors_total accept() failures (EMFILE, ENFILE and others).\n"
		"# TYPE voucherd_accept_errors_total counter\n"
		"voucherd_accept_errors_total %" PRIu64 "\n"
		"# HELP voucherd_accept_paused_total Episodes of accepting paused for want of descriptors.\n"
		"# TYPE voucherd_accept_paused_total counter\n"
		"voucherd_accept_paused_total %" PRIu64 "\n"
		"# HELP voucherd_tls_handshakes_total TLS handshakes completed.\n"
		"# TYPE voucherd_tls_handshakes_total counter\n"
		"voucherd_tls_handshakes_total %" PRIu64 "\n"
		"# HELP voucherd_tls_handshake_failures_total Failed TLS handshakes, by the alert sent (closed: the client left first).\n"
		"# TYPE voucherd_tls_handshake_failures_total counter\n"
		"voucherd_tls_handshake_failures_total{reason=\"closed\"} %" PRIu64 "\n",
		T->nconns, T->max_conns, T->max_per_address, T->refused_per_address,
		!T->reading_paused && !T->accept_backoff && T->nconns < T->max_conns && !srv->draining ? 1 : 0,
		T->accept_errors, T->accept_episodes, T->handshakes_done, T->closed_in_handshake);
	for (int i = 0; i < 256; i++)
		if (T->alerts_sent[i]) {
			char label[64];
			alert_label(i, label, sizeof label);
			buf_printf(b, "voucherd_tls_handshake_failures_total{reason=\"%s\"} %" PRIu64 "\n", label,
				   T->alerts_sent[i]);
		}
	buf_printf(b,
		   "# HELP voucherd_gate_refused_total Requests refused from their headers, before any body was read.\n"
		   "# TYPE voucherd_gate_refused_total counter\n");
	for (int i = GR_OK + 1; i < GR_N; i++)
		buf_printf(b, "voucherd_gate_refused_total{code=\"%s\"} %" PRIu64 "\n", gate_reasons[i].code,
			   T->gate_refused[i]);
	buf_printf(b,
		   "# HELP voucherd_reading_bytes Content-Length of the bodies being received.\n"
		   "# TYPE voucherd_reading_bytes gauge\n"
		   "voucherd_reading_bytes %" PRId64 "\n"
		   "# HELP voucherd_gate_waiting Requests whose body waits for room in the memory budget.\n"
		   "# TYPE voucherd_gate_waiting gauge\n"
		   "voucherd_gate_waiting %" PRId64 "\n",
		   T->reading_bytes, T->gate_waiting);
	buf_printf(b,
		   "# HELP voucherd_log_suppressed_total Log lines left out by log.max_lines_per_s (per event kind).\n"
		   "# TYPE voucherd_log_suppressed_total counter\n"
		   "voucherd_log_suppressed_total %" PRIu64 "\n",
		   log_suppressed_total());
	long cached = srv->ssl_ctx ? SSL_CTX_sess_number(srv->ssl_ctx) : 0;
	buf_printf(
		b,
		"# HELP voucherd_tls_session_cache_sessions Sessions in the server-side cache (0 with stateless tickets).\n"
		"# TYPE voucherd_tls_session_cache_sessions gauge\n"
		"voucherd_tls_session_cache_sessions %ld\n",
		cached);
}

void tls_attach(server_t *srv)
{
	if (!group) {
		struct timeval hour = {3600, 0};
		struct ev_token_bucket_cfg *cfg = ev_token_bucket_cfg_new(EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX,
									  EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX, &hour);
		if (cfg) {
			group = bufferevent_rate_limit_group_new(srv->base, cfg); /* copies cfg */
			ev_token_bucket_cfg_free(cfg);
		}
	}
	if (conn_idx < 0)
		conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free_cb);
	struct tls_state *T = srv->tls = xcalloc(1, sizeof *srv->tls);
	T->conns.prev = T->conns.next = &T->conns;
	T->request_timeout_ms = srv->cfg->request_timeout_s * 1000;
	T->max_conns = srv->cfg->max_connections;
	T->max_per_address = srv->cfg->max_connections_per_address;
	T->max_body = srv->cfg->max_body_bytes;
	T->max_header = srv->cfg->max_header_bytes;
	T->srv = srv;
	T->backoff_timer = evtimer_new(srv->base, backoff_cb, T);
	evhttp_set_bevcb(srv->https, bevcb, srv);
}

static SSL *request_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (!evcon)
		return NULL;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	struct bufferevent *under = bev ? bufferevent_get_underlying(bev) : NULL;
	return under ? bufferevent_openssl_get_ssl(under) : bev ? bufferevent_openssl_get_ssl(bev) : NULL;
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
	hex_encode(md, 32, fp);
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
		c->deadline_ms = now_ms() + c->st->request_timeout_ms;
}

void tls_pause_reading(server_t *srv, bool pause)
{
	struct tls_state *T = srv->tls;
	if (pause == T->reading_paused || !group)
		return;
	T->reading_paused = pause;
	if (pause) {
		T->taken = bufferevent_rate_limit_group_get_read_limit(group);
		bufferevent_rate_limit_group_decrement_read(group, T->taken);
	} else {
		/* back to what it held (an hourly refill may have filled it meanwhile) */
		ev_ssize_t now_held = bufferevent_rate_limit_group_get_read_limit(group);
		bufferevent_rate_limit_group_decrement_read(group, now_held - T->taken);
		/* time spent paused does not count against a request */
		int64_t now = now_ms();
		for (tls_conn_t *c = T->conns.next; c != &T->conns; c = c->next)
			if (!c->busy)
				c->deadline_ms = now + T->request_timeout_ms;
	}
	listener_update(T);
}

void tls_sweep(server_t *srv)
{
	struct tls_state *T = srv->tls;
	if (T->reading_paused)
		return; /* nobody can send while we do not read */
	int64_t now = now_ms();
	for (tls_conn_t *c = T->conns.next; c != &T->conns; c = c->next) {
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
