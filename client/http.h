/* http: one HTTPS/1.1 connection with a client certificate, blocking
 * sockets, OpenSSL directly.  Used by voucher-push.
 *
 * TLS 1.2 minimum (1.3 preferred), the server's chain verified against the
 * given CA file and its name or IP address checked against the URL.  The
 * connection is kept open between requests when the server allows it and
 * re-opened (resuming the TLS session) when it does not.
 */
#ifndef VOUCHER_HTTP_H
#define VOUCHER_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "client/push.h"

typedef enum {
	PUSH_HTTP_FAIL_NONE = 0,
	PUSH_HTTP_FAIL_CONNECT, /* no connection or no TLS session: nothing was sent */
	PUSH_HTTP_FAIL_SEND,    /* the request was not sent completely: it cannot have been processed */
	PUSH_HTTP_FAIL_RECV,    /* the request was sent but no complete answer came: it may have been processed */
	PUSH_HTTP_FAIL_FATAL,   /* TLS authentication failed either way, or the peer does not speak TLS:
	                      retrying cannot help */
	PUSH_HTTP_FAIL_RESOLVE, /* the host name does not exist (a temporary DNS failure is CONNECT) */
} http_client_fail_t;

typedef struct http_client {
	SSL_CTX *ctx;
	push_url_t url;
	int timeout_ms;
	SSL *ssl; /* the open connection, or NULL */
	int fd;
	SSL_SESSION *session; /* for resumption on the next connection */
	unsigned long used;   /* requests sent on the open connection */
} http_client_t;

/* Loads the client certificate chain (cert, PEM), its private key (key, PEM,
 * unencrypted; never prompts) and the CA file that must have issued the
 * server's certificate.  On false, err says which file and why. */
bool http_client_init(http_client_t *c, const push_url_t *url, const char *cert, const char *key, const char *ca,
		      int timeout_s, char *err, size_t errlen);
void http_client_free(http_client_t *c);
/* Closes the open connection, if any. */
void http_client_close(http_client_t *c);

/* Sends one request and reads its response into resp (which the caller has
 * push_resp_init()ed and frees), within the timeout.  extra_headers is ""
 * or complete "Name: value\r\n" lines; Host, User-Agent, Accept,
 * Content-Length (when body is not NULL) and Connection are added here.
 * true: resp holds a complete response.  false: *fail says how far it got and
 * err why; *reused tells whether an already open connection was used. */
bool http_client_request(http_client_t *c, const char *method, const char *path, const char *extra_headers,
			 const void *body, size_t len, push_resp_t *resp, http_client_fail_t *fail, bool *reused,
			 char *err, size_t errlen);

#endif
