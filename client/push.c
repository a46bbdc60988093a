/* push: pure parts of voucher-push (see push.h). */
#include "client/push.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/hex.h"
#include "common/validate.h"

void push_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------------------ */
/* --url                                                                    */

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* Long but whole: one top-to-bottom pass over the URL (scheme, host, port,
 * path), each step relying on the pointers the one before left. */
bool push_url_parse(const char *url, push_url_t *u, char *err, size_t errlen)
{
	static const char scheme[] = "https://";
	memset(u, 0, sizeof *u);
	if (!url || strncasecmp(url, scheme, sizeof scheme - 1) != 0) {
		push_set_err(err, errlen, "the URL must start with https://");
		return false;
	}
	const char *p = url + sizeof scheme - 1;
	if (strpbrk(p, "?#")) {
		push_set_err(err, errlen, "the URL must not have a query or a fragment");
		return false;
	}
	size_t alen = strcspn(p, "/");
	const char *path = p + alen;
	if (memchr(p, '@', alen)) {
		push_set_err(err, errlen, "the URL must not carry user information");
		return false;
	}
	const char *hs, *he, *q; /* host start, host end, after the host */
	if (*p == '[') {
		hs = p + 1;
		he = memchr(hs, ']', (size_t)(p + alen - hs));
		if (!he) {
			push_set_err(err, errlen, "unterminated [IPv6] address in the URL");
			return false;
		}
		q = he + 1;
	} else {
		hs = p;
		he = p + strcspn(p, ":/");
		if (he > p + alen)
			he = p + alen;
		q = he;
	}
	size_t hlen = (size_t)(he - hs);
	if (hlen == 0 || hlen >= sizeof u->host) {
		push_set_err(err, errlen, "the URL has no host or an overlong one");
		return false;
	}
	memcpy(u->host, hs, hlen);
	u->host[hlen] = '\0';

	if (*p == '[') {
		struct in6_addr a6;
		if (strchr(u->host, '%')) {
			push_set_err(err, errlen, "IPv6 zone ids are not supported in the URL");
			return false;
		}
		if (inet_pton(AF_INET6, u->host, &a6) != 1) {
			push_set_err(err, errlen, "'%s' is not an IPv6 address", u->host);
			return false;
		}
		u->is_ip = true;
	} else {
		struct in_addr a4;
		bool digits_dots = true;
		for (const char *c = u->host; *c; c++) {
			if (!host_char(*c)) {
				push_set_err(err, errlen,
					     "invalid character in the URL's host (IPv6 addresses go in [brackets])");
				return false;
			}
			if (!is_digit(*c) && *c != '.')
				digits_dots = false;
		}
		if (inet_pton(AF_INET, u->host, &a4) == 1) {
			u->is_ip = true;
		} else if (digits_dots) {
			push_set_err(err, errlen, "'%s' is not an IPv4 address", u->host);
			return false;
		}
	}

	/* port */
	const char *ae = p + alen;
	if (q < ae) {
		if (*q != ':' || q + 1 == ae) {
			push_set_err(err, errlen, "bad port in the URL");
			return false;
		}
		unsigned long port = 0;
		for (const char *c = q + 1; c < ae; c++) {
			if (!is_digit(*c) || c - q > 5) {
				push_set_err(err, errlen, "bad port in the URL");
				return false;
			}
			port = port * 10 + (unsigned long)(*c - '0');
		}
		if (port == 0 || port > 65535) {
			push_set_err(err, errlen, "the URL's port must be 1-65535");
			return false;
		}
		snprintf(u->port, sizeof u->port, "%lu", port);
	} else {
		strcpy(u->port, "443");
	}

	/* path: nothing, "/" or the endpoint itself */
	if (!(strcmp(path, "") == 0 || strcmp(path, "/") == 0 || strcmp(path, PUSH_PATH) == 0 ||
	      strcmp(path, PUSH_PATH "/") == 0)) {
		push_set_err(err, errlen, "the URL must be https://host[:port] (the path is always %s)", PUSH_PATH);
		return false;
	}

	bool v6 = *p == '[';
	bool default_port = strcmp(u->port, "443") == 0;
	snprintf(u->authority, sizeof u->authority, "%s%s%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "",
		 default_port ? "" : ":", default_port ? "" : u->port);
	return true;
}

void push_path_segment(buf_t *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			buf_putc(out, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_append(out, e, 3);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* NDJSON                                                                   */

void push_ndjson_init(push_ndjson_t *r, FILE *f, EVP_MD_CTX *md)
{
	memset(r, 0, sizeof *r);
	r->f = f;
	r->md = md;
}

void push_ndjson_free(push_ndjson_t *r)
{
	free(r->line);
	r->line = NULL;
	r->cap = 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool push_ndjson_next(push_ndjson_t *r, const char **rec, size_t *len, char *err, size_t errlen)
{
	*rec = NULL;
	*len = 0;
	for (;;) {
		errno = 0;
		ssize_t n = getline(&r->line, &r->cap, r->f);
		if (n < 0) {
			if (ferror(r->f)) {
				push_set_err(err, errlen, "read error after line %lu: %s", r->lineno,
					     strerror(errno ? errno : EIO));
				return false;
			}
			return true; /* end */
		}
		r->lineno++;
		if (r->md && EVP_DigestUpdate(r->md, r->line, (size_t)n) != 1) {
			push_set_err(err, errlen, "cannot hash the input");
			return false;
		}
		if ((size_t)n > PUSH_MAX_RECORD_LINE) {
			push_set_err(err, errlen, "line %lu: longer than %d bytes", r->lineno, PUSH_MAX_RECORD_LINE);
			return false;
		}
		if (memchr(r->line, '\0', (size_t)n)) {
			push_set_err(err, errlen, "line %lu: contains a NUL byte", r->lineno);
			return false;
		}
		char *s = r->line;
		size_t l = (size_t)n;
		if (r->lineno == 1 && l >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
			s += 3, l -= 3;
		while (l && blank(s[l - 1]))
			l--;
		while (l && blank(*s))
			s++, l--;
		if (l == 0)
			continue;
		s[l] = '\0';
		json_error_t je;
		json_t *j = json_loadb(s, l, JSON_REJECT_DUPLICATES, &je);
		if (!j) {
			push_set_err(err, errlen, "line %lu: not a JSON record: %s (column %d)", r->lineno, je.text,
				     je.column);
			return false;
		}
		bool obj = json_is_object(j);
		bool whole = obj && json_object_get(j, "batch_id") && json_object_get(j, "records");
		json_decref(j);
		if (!obj) {
			push_set_err(err, errlen, "line %lu: a record must be a JSON object", r->lineno);
			return false;
		}
		if (whole) {
			push_set_err(err, errlen,
				     "line %lu: a whole batch body, not a record (send batch files as FILE "
				     "arguments, without --records)",
				     r->lineno);
			return false;
		}
		r->nrec++;
		*rec = s;
		*len = l;
		return true;
	}
}

void push_body_begin(buf_t *b, const char *batch_id, const char *provider)
{
	buf_reset(b);
	buf_puts(b, "{\"batch_id\":");
	buf_json_str(b, batch_id);
	buf_puts(b, ",\"provider\":");
	buf_json_str(b, provider);
	buf_puts(b, ",\"records\":[");
}

void push_body_add(buf_t *b, size_t n, const char *rec, size_t len)
{
	if (n > 0)
		buf_putc(b, ',');
	buf_append(b, rec, len);
}

void push_body_end(buf_t *b)
{
	buf_puts(b, "]}");
}

int push_seq_digits(unsigned long nrec, unsigned long size)
{
	unsigned long nb = size ? nrec / size + (nrec % size != 0) : 0;
	int d = 1;
	while (nb >= 10)
		nb /= 10, d++;
	return d < 6 ? 6 : d;
}

bool push_default_prefix(const char *path, const uint8_t sha256[32], unsigned long batch_size, int seq_digits,
			 char *out, size_t outlen)
{
	char suffix[64];
	char h[13];
	hex_encode(sha256, 6, h);
	snprintf(suffix, sizeof suffix, "-%s-n%lu", h, batch_size);

	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t blen = strlen(base);
	const char *dot = strrchr(base, '.');
	if (dot && dot != base)
		blen = (size_t)(dot - base);

	long room = PUSH_MAX_BATCH_ID - 1 - seq_digits - (long)strlen(suffix);
	if (room < 1)
		return false;
	size_t take = blen < (size_t)room ? blen : (size_t)room;
	if (take > 32)
		take = 32;
	char stem[33];
	for (size_t i = 0; i < take; i++) {
		char c = base[i];
		stem[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '_' ||
			   c == '-')
				  ? c
				  : '_';
	}
	stem[take] = '\0';
	if (take == 0)
		strcpy(stem, "records");
	int n = snprintf(out, outlen, "%s%s", stem, suffix);
	return n > 0 && (size_t)n < outlen;
}

bool push_batch_id(const char *prefix, unsigned long seq, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s-%06lu", prefix, seq);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			out[0] = '\0';
		return false;
	}
	return printable_id(out, PUSH_MAX_BATCH_ID);
}

/* ------------------------------------------------------------------------ */
/* HTTP responses                                                           */

enum {
	S_STATUS,
	S_HEADER,
	S_BODY_LEN,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_END,
	S_TRAILER,
	S_BODY_EOF,
	S_DONE,
	S_ERROR,
};

void push_resp_init(push_resp_t *r, bool head_request)
{
	memset(r, 0, sizeof *r);
	r->state = S_STATUS;
	r->no_body = head_request;
}

void push_resp_free(push_resp_t *r)
{
	buf_free(&r->hdrs);
	buf_free(&r->body);
	buf_free(&r->in);
}

static bool resp_fail(push_resp_t *r, const char *msg)
{
	snprintf(r->err, sizeof r->err, "%s", msg);
	r->state = S_ERROR;
	r->keep_alive = false;
	return false;
}

const char *push_resp_header(const push_resp_t *r, const char *name)
{
	const char *p = r->hdrs.data;
	for (size_t i = 0; i < r->nhdrs; i++) {
		const char *v = p + strlen(p) + 1;
		if (strcasecmp(p, name) == 0)
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}

static bool token_in_list(const char *list, const char *token)
{
	size_t tl = strlen(token);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *e = p + strcspn(p, ",");
		const char *t = e;
		while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0)
			return true;
		p = e;
	}
	return false;
}

bool push_resp_header_has_token(const push_resp_t *r, const char *name, const char *token)
{
	const char *p = r->hdrs.data;
	for (size_t i = 0; i < r->nhdrs; i++) {
		const char *v = p + strlen(p) + 1;
		if (strcasecmp(p, name) == 0 && token_in_list(v, token))
			return true;
		p = v + strlen(v) + 1;
	}
	return false;
}

/* The next line of r->in (without CR LF / LF, NUL-terminated in place), or
 * NULL if no full line is buffered yet. */
static char *next_line(push_resp_t *r, size_t *len)
{
	char *s = r->in.data + r->pos;
	char *nl = memchr(s, '\n', r->in.len - r->pos);
	if (!nl)
		return NULL;
	size_t l = (size_t)(nl - s);
	r->pos += l + 1;
	r->head_bytes += l + 1;
	if (l && s[l - 1] == '\r')
		l--;
	s[l] = '\0';
	*len = l;
	return s;
}

static bool tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static bool parse_status(push_resp_t *r, const char *s, size_t l)
{
	if (l < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !is_digit(s[7]) || s[8] != ' ' || !is_digit(s[9]) ||
	    !is_digit(s[10]) || !is_digit(s[11]) || (l > 12 && s[12] != ' '))
		return resp_fail(r, "not an HTTP/1.x status line");
	r->minor = s[7] - '0';
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (r->status < 100)
		return resp_fail(r, "bad HTTP status code");
	return true;
}

static bool add_header(push_resp_t *r, char *s, size_t l)
{
	if (l && (s[0] == ' ' || s[0] == '\t')) {
		/* obsolete line folding: continue the previous value */
		if (r->nhdrs == 0)
			return resp_fail(r, "header continuation without a header");
		while (*s == ' ' || *s == '\t')
			s++;
		r->hdrs.len--; /* drop the value's NUL */
		buf_putc(&r->hdrs, ' ');
		buf_puts(&r->hdrs, s);
		buf_putc(&r->hdrs, '\0');
		return true;
	}
	char *colon = memchr(s, ':', l);
	if (!colon || colon == s)
		return resp_fail(r, "malformed header line");
	for (char *c = s; c < colon; c++) {
		if (!tchar((unsigned char)*c))
			return resp_fail(r, "malformed header name");
		*c = (char)tolower((unsigned char)*c);
	}
	if (++r->nhdrs > PUSH_MAX_HEADERS)
		return resp_fail(r, "too many headers");
	char *v = colon + 1, *e = s + l;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	buf_append(&r->hdrs, s, (size_t)(colon - s));
	buf_putc(&r->hdrs, '\0');
	buf_append(&r->hdrs, v, (size_t)(e - v));
	buf_putc(&r->hdrs, '\0');
	return true;
}

/* Every Content-Length value (and every element of a list) must be the same number. */
static bool content_length(push_resp_t *r, bool *have, uint64_t *len)
{
	*have = false;
	const char *p = r->hdrs.data;
	for (size_t i = 0; i < r->nhdrs; i++) {
		const char *v = p + strlen(p) + 1;
		if (strcmp(p, "content-length") == 0) {
			const char *c = v;
			for (;;) {
				while (*c == ' ' || *c == '\t')
					c++;
				if (!is_digit(*c))
					return resp_fail(r, "bad Content-Length");
				uint64_t n = 0;
				for (; is_digit(*c); c++) {
					if (n > (UINT64_MAX - 9) / 10)
						return resp_fail(r, "bad Content-Length");
					n = n * 10 + (uint64_t)(*c - '0');
				}
				while (*c == ' ' || *c == '\t')
					c++;
				if (*have && n != *len)
					return resp_fail(r, "conflicting Content-Length headers");
				*have = true;
				*len = n;
				if (*c == '\0')
					break;
				if (*c != ',')
					return resp_fail(r, "bad Content-Length");
				c++;
			}
		}
		p = v + strlen(v) + 1;
	}
	return true;
}

/* Decides how the body is framed once the header block ended. */
static bool headers_done(push_resp_t *r, bool *done)
{
	if (r->status < 200) {
		if (r->status == 101)
			return resp_fail(r, "unexpected 101 Switching Protocols");
		/* an interim response: forget it, read the next status line */
		buf_reset(&r->hdrs);
		r->nhdrs = 0;
		r->head_bytes = 0;
		r->state = S_STATUS;
		return true;
	}
	if (r->minor >= 1)
		r->keep_alive = !push_resp_header_has_token(r, "connection", "close");
	else
		r->keep_alive = push_resp_header_has_token(r, "connection", "keep-alive");

	if (r->no_body || r->status == 204 || r->status == 304) {
		r->state = S_DONE;
		*done = true;
		return true;
	}
	const char *te = push_resp_header(r, "transfer-encoding");
	if (te) {
		/* only "chunked" can be decoded (we never ask for other codings) */
		const char *p = r->hdrs.data;
		size_t codings = 0;
		for (size_t i = 0; i < r->nhdrs; i++) {
			const char *v = p + strlen(p) + 1;
			if (strcmp(p, "transfer-encoding") == 0) {
				for (const char *c = v; *c; c++)
					if (*c == ',')
						codings++;
				codings++;
			}
			p = v + strlen(v) + 1;
		}
		if (codings != 1 || !push_resp_header_has_token(r, "transfer-encoding", "chunked"))
			return resp_fail(r, "unsupported Transfer-Encoding");
		if (push_resp_header(r, "content-length"))
			r->keep_alive = false; /* RFC 9112 6.3: close after such a response */
		r->state = S_CHUNK_SIZE;
		return true;
	}
	bool have;
	uint64_t len = 0;
	if (!content_length(r, &have, &len))
		return false;
	if (have) {
		if (len > PUSH_MAX_BODY_BYTES)
			return resp_fail(r, "response body too large");
		r->remaining = len;
		r->state = len ? S_BODY_LEN : S_DONE;
		*done = len == 0;
		return true;
	}
	r->keep_alive = false;
	r->state = S_BODY_EOF;
	return true;
}

static bool take_body(push_resp_t *r, uint64_t max, size_t *took)
{
	size_t avail = r->in.len - r->pos;
	size_t n = (uint64_t)avail < max ? avail : (size_t)max;
	if (r->body.len + n > PUSH_MAX_BODY_BYTES)
		return resp_fail(r, "response body too large");
	buf_append(&r->body, r->in.data + r->pos, n);
	r->pos += n;
	*took = n;
	return true;
}

static bool parse_chunk_size(push_resp_t *r, const char *s)
{
	uint64_t n = 0;
	int digits = 0;
	for (; isxdigit((unsigned char)*s); s++) {
		if (++digits > 15)
			return resp_fail(r, "chunk size too large");
		int v = is_digit(*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10);
		n = n * 16 + (uint64_t)v;
	}
	if (!digits)
		return resp_fail(r, "bad chunk size");
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s && *s != ';')
		return resp_fail(r, "bad chunk size");
	if (r->body.len + n > PUSH_MAX_BODY_BYTES)
		return resp_fail(r, "response body too large");
	r->remaining = n;
	r->state = n ? S_CHUNK_DATA : S_TRAILER;
	return true;
}

/* Long but whole: one state machine over the response (status, headers,
 * body, chunks, trailer); its switch reads best in one place. */
bool push_resp_feed(push_resp_t *r, const void *data, size_t len, bool *done)
{
	*done = r->state == S_DONE;
	if (r->state == S_ERROR)
		return false;
	if (len)
		r->got_bytes = true;
	if (r->state == S_DONE) {
		r->extra += len;
		r->keep_alive = false;
		return true;
	}
	buf_append(&r->in, data, len);

	for (;;) {
		size_t l, took;
		char *s;
		switch (r->state) {
		case S_STATUS:
		case S_HEADER:
		case S_TRAILER:
			s = next_line(r, &l);
			if (!s) {
				if (r->head_bytes + (r->in.len - r->pos) > PUSH_MAX_HEADER_BYTES)
					return resp_fail(r, "response header too large");
				goto more;
			}
			if (r->head_bytes > PUSH_MAX_HEADER_BYTES)
				return resp_fail(r, "response header too large");
			if (memchr(s, '\0', l))
				return resp_fail(r, "NUL byte in the response header");
			if (r->state == S_STATUS) {
				if (l == 0)
					continue; /* tolerate empty lines before the status line */
				if (!parse_status(r, s, l))
					return false;
				r->state = S_HEADER;
			} else if (r->state == S_HEADER) {
				if (l == 0) {
					if (!headers_done(r, done))
						return false;
				} else if (!add_header(r, s, l)) {
					return false;
				}
			} else if (l == 0) { /* end of the trailer section */
				r->state = S_DONE;
				*done = true;
			}
			break;
		case S_BODY_LEN:
		case S_CHUNK_DATA:
			if (!take_body(r, r->remaining, &took))
				return false;
			r->remaining -= took;
			if (r->remaining)
				goto more;
			if (r->state == S_BODY_LEN) {
				r->state = S_DONE;
				*done = true;
			} else {
				r->state = S_CHUNK_END;
			}
			break;
		case S_CHUNK_SIZE:
			s = next_line(r, &l);
			if (!s) {
				if (r->in.len - r->pos > 1024)
					return resp_fail(r, "bad chunk size line");
				goto more;
			}
			/* the same limits whether the line came whole or in pieces */
			if (l > 1024 || memchr(s, '\0', l))
				return resp_fail(r, "bad chunk size line");
			if (!parse_chunk_size(r, s))
				return false;
			break;
		case S_CHUNK_END:
			s = next_line(r, &l);
			if (!s) {
				if (r->in.len - r->pos > 2)
					return resp_fail(r, "missing CRLF after a chunk");
				goto more;
			}
			if (l != 0)
				return resp_fail(r, "missing CRLF after a chunk");
			r->state = S_CHUNK_SIZE;
			break;
		case S_BODY_EOF:
			if (!take_body(r, UINT64_MAX, &took))
				return false;
			goto more;
		case S_DONE:
			r->extra += r->in.len - r->pos;
			if (r->extra)
				r->keep_alive = false;
			r->pos = r->in.len;
			goto more;
		default: return false;
		}
	}
more:
	/* compact */
	if (r->pos) {
		memmove(r->in.data, r->in.data + r->pos, r->in.len - r->pos);
		r->in.len -= r->pos;
		r->in.data[r->in.len] = '\0';
		r->pos = 0;
	}
	return true;
}

bool push_resp_eof(push_resp_t *r, bool *done)
{
	*done = false;
	switch (r->state) {
	case S_DONE: *done = true; return true;
	case S_BODY_EOF:
		r->state = S_DONE;
		r->keep_alive = false;
		*done = true;
		return true;
	case S_ERROR: return false;
	case S_STATUS:
		if (!r->got_bytes)
			return resp_fail(r, "connection closed without a response");
		/* fall through */
	default: return resp_fail(r, "connection closed in the middle of the response");
	}
}

/* ------------------------------------------------------------------------ */
/* Retry timing                                                             */

bool push_retry_after_parse(const char *v, time_t now, uint32_t *secs)
{
	*secs = 0;
	if (!v)
		return false;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t l = strlen(v);
	while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
		l--;
	if (l == 0)
		return false;
	if (is_digit(v[0])) {
		uint64_t n = 0;
		for (size_t i = 0; i < l; i++) {
			if (!is_digit(v[i]))
				return false;
			if (n < UINT32_MAX)
				n = n * 10 + (uint64_t)(v[i] - '0');
		}
		*secs = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		return true;
	}
	static const char *const fmts[] = {
		"%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
		"%a %b %e %H:%M:%S %Y",      /* asctime */
	};
	char tmp[64];
	if (l >= sizeof tmp)
		return false;
	memcpy(tmp, v, l);
	tmp[l] = '\0';
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		const char *e = strptime(tmp, fmts[i], &tm);
		if (!e || *e)
			continue;
		time_t t = timegm(&tm);
		if (t == (time_t)-1)
			return false;
		if (t <= now)
			*secs = 0;
		else if ((uint64_t)(t - now) > UINT32_MAX)
			*secs = UINT32_MAX;
		else
			*secs = (uint32_t)(t - now);
		return true;
	}
	return false;
}

uint32_t push_backoff_ms(unsigned attempt, double jitter)
{
	uint32_t d = PUSH_BACKOFF_MAX_MS;
	if (attempt < 16) {
		uint64_t x = (uint64_t)PUSH_BACKOFF_BASE_MS << attempt;
		if (x < PUSH_BACKOFF_MAX_MS)
			d = (uint32_t)x;
	}
	if (!(jitter > 0)) /* also NaN */
		jitter = 0;
	if (jitter >= 1)
		jitter = 0.999999;
	return d - (uint32_t)((double)(d / 4) * jitter);
}

uint32_t push_retry_delay_ms(unsigned attempt, double jitter, bool have_retry_after, uint32_t retry_after_s)
{
	if (have_retry_after) {
		uint32_t s = retry_after_s < PUSH_RETRY_AFTER_CAP_S ? retry_after_s : PUSH_RETRY_AFTER_CAP_S;
		return s * 1000u;
	}
	return push_backoff_ms(attempt, jitter);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

/* Length of a well-formed UTF-8 sequence at p (n bytes available) that is
 * not a C1 control, or 0. */
static size_t utf8_ok(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t cp;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F))
		return 0;
	return len;
}

void push_quote(buf_t *out, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	buf_putc(out, '"');
	size_t i = 0;
	while (i < n) {
		if (i >= max) {
			buf_puts(out, "...");
			break;
		}
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			buf_putc(out, '\\');
			buf_putc(out, (char)c);
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			buf_putc(out, (char)c);
			i++;
		} else {
			size_t l = c >= 0x80 ? utf8_ok(p + i, n - i) : 0;
			if (l) {
				buf_append(out, p + i, l);
				i += l;
			} else {
				char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
				buf_append(out, e, 4);
				i++;
			}
		}
	}
	buf_putc(out, '"');
}

void push_token(buf_t *out, const char *s)
{
	if (!s)
		buf_putc(out, '-');
	else if (printable_id(s, 64) && !strpbrk(s, "\"\\"))
		buf_puts(out, s);
	else
		push_quote(out, s, 128);
}
