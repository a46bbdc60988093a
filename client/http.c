/* http: HTTPS/1.1 over OpenSSL with blocking sockets (see http.h). */
#include "client/http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#define USER_AGENT "voucher-push/1.0"

/* The oldest OpenSSL error as text ("" if none); clears the queue. */
static const char *ssl_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();
	buf[0] = '\0';
	if (e)
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Never prompt for a passphrase: an encrypted key simply fails to load. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

bool http_client_init(http_client_t *c, const push_url_t *url, const char *cert, const char *key, const char *ca,
		      int timeout_s, char *err, size_t errlen)
{
	char e[256];
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->url = *url;
	c->timeout_ms = timeout_s * 1000;
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		push_set_err(err, errlen, "cannot create a TLS context: %s", ssl_errstr(e, sizeof e));
		return false;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_default_passwd_cb(c->ctx, no_password);
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT);
	if (SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1) {
		push_set_err(err, errlen, "--ca %s: cannot load CA certificates: %s", ca, ssl_errstr(e, sizeof e));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(c->ctx, cert) != 1) {
		push_set_err(err, errlen, "--cert %s: cannot load the client certificate: %s", cert,
			     ssl_errstr(e, sizeof e));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1) {
		push_set_err(err, errlen, "--key %s: cannot load the private key (PEM, unencrypted): %s", key,
			     ssl_errstr(e, sizeof e));
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ctx) != 1) {
		ERR_clear_error();
		push_set_err(err, errlen, "--key %s does not belong to the certificate in --cert %s", key, cert);
		goto fail;
	}
	return true;
fail:
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
	return false;
}

void http_client_close(http_client_t *c)
{
	if (c->ssl) {
		SSL_SESSION *s = SSL_get1_session(c->ssl);
		if (s && SSL_SESSION_is_resumable(s)) {
			SSL_SESSION_free(c->session);
			c->session = s;
		} else {
			SSL_SESSION_free(s);
		}
		/* Send close_notify without waiting for the peer's (never blocks long:
		 * the socket has a send timeout). */
		if (!(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN) && SSL_is_init_finished(c->ssl))
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->used = 0;
}

void http_client_free(http_client_t *c)
{
	http_client_close(c);
	SSL_SESSION_free(c->session);
	c->session = NULL;
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}

/* Sets the socket's send and receive timeouts to what is left until deadline;
 * false if nothing is left. */
static bool arm(int fd, int64_t deadline)
{
	int64_t left = deadline - now_ms();
	if (left <= 0)
		return false;
	struct timeval tv = {.tv_sec = (time_t)(left / 1000), .tv_usec = (suseconds_t)(left % 1000) * 1000};
	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
	       setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0;
}

static bool tcp_connect(http_client_t *c, int64_t deadline, bool *noname, char *err, size_t errlen)
{
	*noname = false;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (c->url.is_ip ? AI_NUMERICHOST : AI_ADDRCONFIG);
	int rc = getaddrinfo(c->url.host, c->url.port, &hints, &res);
	if (rc != 0) {
		push_set_err(err, errlen, "cannot resolve %s: %s", c->url.host, gai_strerror(rc));
		*noname = rc != EAI_AGAIN && rc != EAI_SYSTEM && rc != EAI_MEMORY;
		return false;
	}
	int last = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			if (errno != EINPROGRESS) {
				last = errno;
				close(fd);
				continue;
			}
			int64_t left = deadline - now_ms();
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int pr;
			do
				pr = poll(&pfd, 1, left > 0 ? (int)left : 0);
			while (pr < 0 && errno == EINTR && (left = deadline - now_ms()) > 0);
			int soerr = 0;
			socklen_t sl = sizeof soerr;
			if (pr <= 0) {
				last = pr == 0 ? ETIMEDOUT : errno;
				close(fd);
				continue;
			}
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
				last = soerr ? soerr : errno;
				close(fd);
				continue;
			}
		}
		int fl = fcntl(fd, F_GETFL);
		int one = 1;
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
			last = errno;
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->fd = fd;
		freeaddrinfo(res);
		return true;
	}
	freeaddrinfo(res);
	push_set_err(err, errlen, "cannot connect to %s port %s: %s", c->url.host, c->url.port,
		     strerror(last ? last : ECONNREFUSED));
	return false;
}

/* An error the peer or the local TLS configuration caused, that no retry can
 * mend: a verification failure, an alert the server sent (unknown CA, bad
 * certificate, certificate required, protocol version...), or a peer that
 * does not speak TLS.  An unexpected EOF is not one of them. */
static bool tls_fatal(unsigned long e)
{
	if (!e || ERR_GET_LIB(e) != ERR_LIB_SSL)
		return false;
	int reason = ERR_GET_REASON(e);
	/* a broken connection, or a server in trouble: worth another try */
	if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING || reason == SSL_R_TLSV1_ALERT_INTERNAL_ERROR)
		return false;
	return true;
}

/* Describes why an SSL call failed (ret its return value), sets *fatal. */
static void tls_failure(SSL *ssl, int ret, const char *what, bool *fatal, char *err, size_t errlen)
{
	int se = SSL_get_error(ssl, ret);
	int en = errno;
	unsigned long e = ERR_peek_error();
	char es[256];
	*fatal = false;
	if (what && strcmp(what, "TLS handshake") == 0 && SSL_get_verify_result(ssl) != X509_V_OK) {
		*fatal = true;
		push_set_err(err, errlen,
			     "the server's certificate was not accepted: %s (check --ca and the host in --url)",
			     X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
		ERR_clear_error();
		return;
	}
	switch (se) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: push_set_err(err, errlen, "%s: timed out", what); break;
	case SSL_ERROR_ZERO_RETURN: push_set_err(err, errlen, "%s: the server closed the connection", what); break;
	case SSL_ERROR_SYSCALL:
		if (e)
			push_set_err(err, errlen, "%s: %s", what, ssl_errstr(es, sizeof es));
		else if (en == EAGAIN || en == EWOULDBLOCK)
			push_set_err(err, errlen, "%s: timed out", what);
		else if (en)
			push_set_err(err, errlen, "%s: %s", what, strerror(en));
		else
			push_set_err(err, errlen, "%s: the server closed the connection", what);
		break;
	default:
		*fatal = tls_fatal(e);
		push_set_err(err, errlen, "%s: %s", what, e ? ssl_errstr(es, sizeof es) : "TLS error");
		break;
	}
	ERR_clear_error();
}

static bool tls_connect(http_client_t *c, int64_t deadline, bool *fatal, bool *noname, char *err, size_t errlen)
{
	*fatal = false;
	if (!tcp_connect(c, deadline, noname, err, errlen))
		return false;
	if (!arm(c->fd, deadline)) {
		push_set_err(err, errlen, "TLS handshake: timed out");
		http_client_close(c);
		return false;
	}
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		char es[256];
		push_set_err(err, errlen, "cannot set up TLS: %s", ssl_errstr(es, sizeof es));
		http_client_close(c);
		return false;
	}
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
	bool ok;
	if (c->url.is_ip) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(vp, c->url.host) == 1;
	} else {
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = X509_VERIFY_PARAM_set1_host(vp, c->url.host, 0) == 1 &&
		     SSL_set_tlsext_host_name(c->ssl, c->url.host) == 1;
	}
	if (!ok) {
		ERR_clear_error();
		push_set_err(err, errlen, "cannot set the expected server name %s", c->url.host);
		*fatal = true;
		http_client_close(c);
		return false;
	}
	if (c->session)
		SSL_set_session(c->ssl, c->session);
	int r = SSL_connect(c->ssl);
	if (r != 1) {
		tls_failure(c->ssl, r, "TLS handshake", fatal, err, errlen);
		/* Nothing useful to resume after a failure. */
		SSL_SESSION_free(c->session);
		c->session = NULL;
		SSL_free(c->ssl);
		c->ssl = NULL;
		close(c->fd);
		c->fd = -1;
		return false;
	}
	c->used = 0;
	return true;
}

/* An idle kept-alive connection the server has closed (or sent anything on)
 * is not worth a request. */
static bool idle_conn_usable(http_client_t *c)
{
	if (!c->ssl || SSL_pending(c->ssl) > 0)
		return false;
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static bool write_all(http_client_t *c, const void *data, size_t len, int64_t deadline, bool *fatal, char *err,
		      size_t errlen)
{
	const char *p = data;
	while (len) {
		if (!arm(c->fd, deadline)) {
			push_set_err(err, errlen, "sending the request: timed out");
			return false;
		}
		int chunk = len > (1 << 30) ? (1 << 30) : (int)len;
		int w = SSL_write(c->ssl, p, chunk);
		if (w <= 0) {
			tls_failure(c->ssl, w, "sending the request", fatal, err, errlen);
			return false;
		}
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* Reads until resp is complete.  false with err on a broken connection, a
 * timeout or a response that is not HTTP. */
static bool read_response(http_client_t *c, push_resp_t *resp, int64_t deadline, bool *fatal, char *err, size_t errlen)
{
	char buf[16384];
	bool done = false;
	*fatal = false;
	while (!done) {
		if (!arm(c->fd, deadline)) {
			push_set_err(err, errlen, "waiting for the answer: timed out");
			return false;
		}
		errno = 0;
		int n = SSL_read(c->ssl, buf, sizeof buf);
		if (n > 0) {
			if (!push_resp_feed(resp, buf, (size_t)n, &done)) {
				push_set_err(err, errlen, "the answer is not valid HTTP: %s", resp->err);
				return false;
			}
			continue;
		}
		int se = SSL_get_error(c->ssl, n);
		unsigned long e = ERR_peek_error();
		bool eof =
			se == SSL_ERROR_ZERO_RETURN || (se == SSL_ERROR_SYSCALL && !e && errno == 0) ||
			(e && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
		if (eof) {
			ERR_clear_error();
			if (push_resp_eof(resp, &done) && done)
				return true;
			push_set_err(err, errlen, "%s", resp->err);
			return false;
		}
		tls_failure(c->ssl, n, "waiting for the answer", fatal, err, errlen);
		return false;
	}
	return true;
}

bool http_client_request(http_client_t *c, const char *method, const char *path, const char *extra_headers,
			 const void *body, size_t len, push_resp_t *resp, http_client_fail_t *fail, bool *reused,
			 char *err, size_t errlen)
{
	int64_t deadline = now_ms() + c->timeout_ms;
	bool fatal = false, noname = false;
	*fail = PUSH_HTTP_FAIL_NONE;
	*reused = false;
	if (c->ssl && !idle_conn_usable(c))
		http_client_close(c);
	if (c->ssl) {
		*reused = true;
	} else if (!tls_connect(c, deadline, &fatal, &noname, err, errlen)) {
		*fail = noname ? PUSH_HTTP_FAIL_RESOLVE : fatal ? PUSH_HTTP_FAIL_FATAL : PUSH_HTTP_FAIL_CONNECT;
		return false;
	}

	buf_t head = BUF_INIT;
	buf_printf(&head,
		   "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " USER_AGENT "\r\n"
		   "Accept: application/json, application/problem+json\r\n%s",
		   method, path, c->url.authority, extra_headers ? extra_headers : "");
	if (body)
		buf_printf(&head, "Content-Length: %zu\r\n", len);
	buf_puts(&head, "Connection: keep-alive\r\n\r\n");
	/* small requests go out in one write */
	bool together = body && len <= 65536;
	if (together) {
		buf_append(&head, body, len);
	}
	c->used++;
	bool sent = write_all(c, head.data, head.len, deadline, &fatal, err, errlen) &&
		    (together || !body || write_all(c, body, len, deadline, &fatal, err, errlen));
	buf_free(&head);
	if (!sent) {
		/* The server may have answered early (e.g. 413) and closed; take
		 * that answer if it is all there. */
		char e2[256];
		int64_t short_deadline = now_ms() + 2000;
		if (!fatal && read_response(c, resp, short_deadline < deadline ? short_deadline : deadline, &fatal, e2,
					    sizeof e2)) {
			http_client_close(c);
			return true;
		}
		if (fatal)
			push_set_err(err, errlen, "%s", e2);
		http_client_close(c);
		*fail = fatal ? PUSH_HTTP_FAIL_FATAL : PUSH_HTTP_FAIL_SEND;
		return false;
	}
	if (!read_response(c, resp, deadline, &fatal, err, errlen)) {
		http_client_close(c);
		*fail = fatal ? PUSH_HTTP_FAIL_FATAL : PUSH_HTTP_FAIL_RECV;
		return false;
	}
	if (!resp->keep_alive)
		http_client_close(c);
	return true;
}
