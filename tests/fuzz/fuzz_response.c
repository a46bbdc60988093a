/* libFuzzer: voucher-push's HTTP/1.x response parser (client/push.c:
 * push_resp_feed, push_resp_eof, push_resp_header), which reads what the
 * server, or anything in between, sends back.
 *
 * Input: byte 0 bit 0 = the request was HEAD; byte 1 = the size of the pieces
 * (1 to 256 bytes) in which the rest is fed a second time.  The rest is the
 * response.  Beside the parser's own limits, the response fed at once and in
 * pieces must give the same result: a TCP segmentation must not change what
 * voucher-push makes of an answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/push.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* feeds data in pieces of step bytes, then the end of the connection */
static bool parse(push_resp_t *r, bool head, const uint8_t *data, size_t size, size_t step, bool *done)
{
	push_resp_init(r, head);
	*done = false;
	for (size_t off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;
		if (!push_resp_feed(r, data + off, n, done))
			return false;
	}
	if (*done)
		return true;
	return push_resp_eof(r, done);
}

static void check(const push_resp_t *r)
{
	if (r->status < 100 || r->status > 999)
		abort();
	if (r->nhdrs > PUSH_MAX_HEADERS || r->body.len > PUSH_MAX_BODY_BYTES)
		abort();
	/* every header: a lower-case name and a value, each NUL-terminated */
	const char *p = r->hdrs.data, *end = r->hdrs.len ? r->hdrs.data + r->hdrs.len : p;
	for (size_t i = 0; i < r->nhdrs; i++) {
		for (int k = 0; k < 2; k++) {
			const char *z = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
			if (!z)
				abort();
			if (k == 0)
				for (const char *c = p; c < z; c++)
					if (*c >= 'A' && *c <= 'Z')
						abort();
			p = z + 1;
		}
	}
	if (p != end && r->nhdrs)
		abort();
	const char *names[] = {"content-type", "Content-Length", "retry-after", "CONNECTION", "x-none"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *v = push_resp_header(r, names[i]);
		if (v && strlen(v) > r->hdrs.len)
			abort();
	}
	(void)push_resp_header_has_token(r, "connection", "close");
}

static bool same(const push_resp_t *a, const push_resp_t *b)
{
	return a->status == b->status && a->minor == b->minor && a->nhdrs == b->nhdrs &&
	       a->keep_alive == b->keep_alive && a->extra == b->extra && a->hdrs.len == b->hdrs.len &&
	       a->body.len == b->body.len && (!a->hdrs.len || !memcmp(a->hdrs.data, b->hdrs.data, a->hdrs.len)) &&
	       (!a->body.len || !memcmp(a->body.data, b->body.data, a->body.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	bool head = data[0] & 1;
	size_t step = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	push_resp_t whole, pieces;
	bool done1, done2;
	bool ok1 = parse(&whole, head, data, size, size ? size : 1, &done1);
	bool ok2 = parse(&pieces, head, data, size, step, &done2);
	if (ok1 && done1)
		check(&whole);
	if (ok2 && done2)
		check(&pieces);
	if (ok1 != ok2 || done1 != done2 || (ok1 && done1 && !same(&whole, &pieces)))
		abort();
	push_resp_free(&whole);
	push_resp_free(&pieces);
	return 0;
}
