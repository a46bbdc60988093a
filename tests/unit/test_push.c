/* Unit tests of client/push.c: the pure parts of voucher-push. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "client/push.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* --url                                                                    */

struct url_case {
	const char *in;
	bool ok;
	const char *host, *port, *authority;
	bool is_ip;
};

Test(unit_push_url, table)
{
	static const struct url_case cases[] = {
		{"https://127.0.0.1:8443", true, "127.0.0.1", "8443", "127.0.0.1:8443", true},
		{"https://127.0.0.1:8443/", true, "127.0.0.1", "8443", "127.0.0.1:8443", true},
		{"HTTPS://127.0.0.1:8443", true, "127.0.0.1", "8443", "127.0.0.1:8443", true},
		{"https://[::1]:8443", true, "::1", "8443", "[::1]:8443", true},
		{"https://[::1]:8443/", true, "::1", "8443", "[::1]:8443", true},
		{"https://[2001:db8::7]", true, "2001:db8::7", "443", "[2001:db8::7]", true},
		{"https://voucher.example.cn", true, "voucher.example.cn", "443", "voucher.example.cn", false},
		{"https://voucher.example.cn:443", true, "voucher.example.cn", "443", "voucher.example.cn", false},
		{"https://ingest-1.example:65535/v1/usage-batches", true, "ingest-1.example", "65535",
		 "ingest-1.example:65535", false},
		{"https://localhost:8443/v1/usage-batches/", true, "localhost", "8443", "localhost:8443", false},
		{"https://h:1", true, "h", "1", "h:1", false},
		/* refused */
		{"http://127.0.0.1:8443", false, NULL, NULL, NULL, false},
		{"127.0.0.1:8443", false, NULL, NULL, NULL, false},
		{"https://", false, NULL, NULL, NULL, false},
		{"https:///v1", false, NULL, NULL, NULL, false},
		{"https://:8443", false, NULL, NULL, NULL, false},
		{"https://host:", false, NULL, NULL, NULL, false},
		{"https://host:0", false, NULL, NULL, NULL, false},
		{"https://host:65536", false, NULL, NULL, NULL, false},
		{"https://host:123456", false, NULL, NULL, NULL, false},
		{"https://host:84a3", false, NULL, NULL, NULL, false},
		{"https://host:-1", false, NULL, NULL, NULL, false},
		{"https://::1:8443", false, NULL, NULL, NULL, false},
		{"https://[::1", false, NULL, NULL, NULL, false},
		{"https://[::1]x", false, NULL, NULL, NULL, false},
		{"https://[::1]:", false, NULL, NULL, NULL, false},
		{"https://[fe80::1%25eth0]:8443", false, NULL, NULL, NULL, false},
		{"https://[not-v6]:8443", false, NULL, NULL, NULL, false},
		{"https://[127.0.0.1]:8443", false, NULL, NULL, NULL, false},
		{"https://user@host:8443", false, NULL, NULL, NULL, false},
		{"https://user:pw@host:8443", false, NULL, NULL, NULL, false},
		{"https://host:8443/prefix", false, NULL, NULL, NULL, false},
		{"https://host:8443/prefix/v1/usage-batches", false, NULL, NULL, NULL, false},
		{"https://host:8443/v1/usage-batches/x", false, NULL, NULL, NULL, false},
		{"https://host:8443//", false, NULL, NULL, NULL, false},
		{"https://host:8443/?a=1", false, NULL, NULL, NULL, false},
		{"https://host:8443#f", false, NULL, NULL, NULL, false},
		{"https://ho st:8443", false, NULL, NULL, NULL, false},
		{"https://host\r\nX: y", false, NULL, NULL, NULL, false},
		{"https://256.1.1.1:8443", false, NULL, NULL, NULL, false},
		{"https://127.1:8443", false, NULL, NULL, NULL, false},
	};
	for (size_t i = 0; i < N(cases); i++) {
		push_url_t u;
		char err[160] = "";
		bool ok = push_url_parse(cases[i].in, &u, err, sizeof err);
		cr_expect_eq(ok, cases[i].ok, "%s: got %d (%s)", cases[i].in, ok, err);
		if (!ok) {
			cr_expect(err[0] != '\0', "%s: no message", cases[i].in);
			continue;
		}
		if (!cases[i].ok)
			continue;
		cr_expect_str_eq(u.host, cases[i].host, "%s", cases[i].in);
		cr_expect_str_eq(u.port, cases[i].port, "%s", cases[i].in);
		cr_expect_str_eq(u.authority, cases[i].authority, "%s", cases[i].in);
		cr_expect_eq(u.is_ip, cases[i].is_ip, "%s", cases[i].in);
	}
}

Test(unit_push_url, null_and_overlong)
{
	push_url_t u;
	char err[100];
	cr_expect(!push_url_parse(NULL, &u, err, sizeof err));
	char big[400] = "https://";
	memset(big + 8, 'a', 300);
	big[308] = '\0';
	cr_expect(!push_url_parse(big, &u, err, sizeof err));
	/* a NULL err buffer is allowed */
	cr_expect(!push_url_parse("ftp://x", &u, NULL, 0));
}

Test(unit_push_url, path_segment)
{
	static const char *const cases[][2] = {
		{"prov-a-20260302-000001", "prov-a-20260302-000001"},
		{"a.b_c~d", "a.b_c~d"},
		{"a/b", "a%2Fb"},
		{"a?b#c", "a%3Fb%23c"},
		{"100%", "100%25"},
		{"x+y=z", "x%2By%3Dz"},
		{"\"'<>", "%22%27%3C%3E"},
		{"", ""},
	};
	for (size_t i = 0; i < N(cases); i++) {
		buf_t b = BUF_INIT;
		push_path_segment(&b, cases[i][0]);
		cr_expect_str_eq(b.data ? b.data : "", cases[i][1]);
		buf_free(&b);
	}
}

/* ------------------------------------------------------------------------ */
/* NDJSON                                                                   */

/* Reads all records of text; returns them joined by '|' or "ERR:<message>". */
static void read_all(const char *text, size_t len, buf_t *out)
{
	FILE *f = fmemopen((void *)text, len, "rb");
	cr_assert(f);
	push_ndjson_t r;
	push_ndjson_init(&r, f, NULL);
	const char *rec;
	size_t l;
	char err[200];
	buf_reset(out);
	for (;;) {
		if (!push_ndjson_next(&r, &rec, &l, err, sizeof err)) {
			buf_reset(out);
			buf_printf(out, "ERR:%s", err);
			break;
		}
		if (!rec)
			break;
		cr_expect_eq(strlen(rec), l);
		if (out->len)
			buf_putc(out, '|');
		buf_append(out, rec, l);
	}
	push_ndjson_free(&r);
	fclose(f);
}

Test(unit_push_ndjson, lines)
{
	static const char *const cases[][2] = {
		{"{\"a\":1}\n{\"b\":2}\n", "{\"a\":1}|{\"b\":2}"},
		{"{\"a\":1}\n{\"b\":2}", "{\"a\":1}|{\"b\":2}"},       /* no final newline */
		{"{\"a\":1}\r\n{\"b\":2}\r\n", "{\"a\":1}|{\"b\":2}"}, /* CRLF */
		{"\n\n  \t\n{\"a\":1}\n\n", "{\"a\":1}"},              /* blank lines */
		{"  {\"a\" : 1 }  \n", "{\"a\" : 1 }"},                /* inner text kept */
		{"\xEF\xBB\xBF{\"a\":1}\n", "{\"a\":1}"},              /* BOM */
		{"{\"q\":\"128.50\",\"n\":1.0e2,\"x\":12345678901234567}\n",
		 "{\"q\":\"128.50\",\"n\":1.0e2,\"x\":12345678901234567}"}, /* numbers not re-serialized */
		{"{\"s\":\"\xE6\xB5\x99\xE6\xB1\x9F\"}\n", "{\"s\":\"\xE6\xB5\x99\xE6\xB1\x9F\"}"},
		{"", ""},
		{"\n\n", ""},
	};
	buf_t out = BUF_INIT;
	for (size_t i = 0; i < N(cases); i++) {
		read_all(cases[i][0], strlen(cases[i][0]), &out);
		cr_expect_str_eq(out.data ? out.data : "", cases[i][1], "case %zu", i);
	}
	buf_free(&out);
}

Test(unit_push_ndjson, bad_lines)
{
	static const char *const cases[][2] = {
		{"{\"a\":1}\n{\"a\":1,\"a\":2}\n", "ERR:line 2:"}, /* duplicate key */
		{"{\"a\":{\"b\":1,\"b\":1}}\n", "ERR:line 1:"},    /* nested duplicate */
		{"{\"a\":1}\n\n[1,2]\n", "ERR:line 3: a record must be a JSON object"},
		{"42\n", "ERR:line 1: not a JSON record"},
		{"\"x\"\n", "ERR:line 1: not a JSON record"},
		{"{\"a\":1} {\"b\":2}\n", "ERR:line 1:"},              /* two values on a line */
		{"{\"a\":1,\n\"b\":2}\n", "ERR:line 1:"},              /* pretty-printed JSON */
		{"{\"a\":\"\xff\"}\n", "ERR:line 1:"},                 /* invalid UTF-8 */
		{"{\"a\":1}\n\xEF\xBB\xBF{\"a\":1}\n", "ERR:line 2:"}, /* BOM only at the start */
		{"{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[]}\n",
		 "ERR:line 1: a whole batch body, not a record"},
	};
	buf_t out = BUF_INIT;
	for (size_t i = 0; i < N(cases); i++) {
		read_all(cases[i][0], strlen(cases[i][0]), &out);
		cr_expect(strncmp(out.data, cases[i][1], strlen(cases[i][1])) == 0, "case %zu: %s", i, out.data);
	}
	/* a NUL byte inside a line */
	static const char nul[] = "{\"a\":1}\n{\"b\":\0}\n";
	read_all(nul, sizeof nul - 1, &out);
	cr_expect_str_eq(out.data, "ERR:line 2: contains a NUL byte");
	buf_free(&out);
}

Test(unit_push_ndjson, hashes_raw_bytes_and_counts)
{
	static const char text[] = "\xEF\xBB\xBF{\"a\":1}\r\n\n{\"b\":2}";
	FILE *f = fmemopen((void *)text, sizeof text - 1, "rb");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	cr_assert(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
	push_ndjson_t r;
	push_ndjson_init(&r, f, md);
	const char *rec;
	size_t l;
	char err[100];
	int n = 0;
	while (push_ndjson_next(&r, &rec, &l, err, sizeof err) && rec)
		n++;
	cr_expect_eq(n, 2);
	cr_expect_eq(r.nrec, 2);
	cr_expect_eq(r.lineno, 3);
	uint8_t got[32], want[32];
	unsigned int gl;
	cr_assert(EVP_DigestFinal_ex(md, got, &gl) == 1);
	SHA256((const unsigned char *)text, sizeof text - 1, want);
	cr_expect(memcmp(got, want, 32) == 0, "the hash covers every byte of the file");
	EVP_MD_CTX_free(md);
	push_ndjson_free(&r);
	fclose(f);
}

Test(unit_push_ndjson, overlong_line)
{
	size_t n = PUSH_MAX_RECORD_LINE + 10;
	char *big = malloc(n + 1);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 2] = '}';
	big[n - 1] = '\n';
	big[n] = '\0';
	buf_t out = BUF_INIT;
	read_all(big, n, &out);
	cr_expect(strncmp(out.data, "ERR:line 1: longer than", 23) == 0, "%s", out.data);
	buf_free(&out);
	free(big);
}

Test(unit_push_body, build)
{
	buf_t b = BUF_INIT;
	push_body_begin(&b, "p-000001", "prov-a");
	push_body_end(&b);
	cr_expect_str_eq(b.data, "{\"batch_id\":\"p-000001\",\"provider\":\"prov-a\",\"records\":[]}");

	static const char *const recs[] = {"{\"record_id\":\"r1\",\"quantity\":\"128.50\"}",
					   "{\"record_id\":\"r2\",\"amount_fen\":100}", "{ \"record_id\" : \"r3\" }"};
	push_body_begin(&b, "we\"ird\\id", "prov-b");
	for (size_t i = 0; i < N(recs); i++)
		push_body_add(&b, i, recs[i], strlen(recs[i]));
	push_body_end(&b);
	cr_expect_str_eq(b.data, "{\"batch_id\":\"we\\\"ird\\\\id\",\"provider\":\"prov-b\",\"records\":["
				 "{\"record_id\":\"r1\",\"quantity\":\"128.50\"},"
				 "{\"record_id\":\"r2\",\"amount_fen\":100},"
				 "{ \"record_id\" : \"r3\" }]}");
	/* it is one JSON document with the batch's shape */
	json_error_t je;
	json_t *j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
	cr_assert(j, "%s", je.text);
	cr_expect_str_eq(json_string_value(json_object_get(j, "batch_id")), "we\"ird\\id");
	cr_expect_eq(json_array_size(json_object_get(j, "records")), 3);
	json_decref(j);
	buf_free(&b);
}

Test(unit_push_body, batch_ids)
{
	char id[PUSH_MAX_BATCH_ID + 1];
	cr_expect(push_batch_id("p", 1, id, sizeof id));
	cr_expect_str_eq(id, "p-000001");
	cr_expect(push_batch_id("usage-3f2a", 1234567, id, sizeof id));
	cr_expect_str_eq(id, "usage-3f2a-1234567");
	char p57[58];
	memset(p57, 'x', 57);
	p57[57] = '\0';
	cr_expect(push_batch_id(p57, 999999, id, sizeof id), "57 + 1 + 6 = 64 characters");
	cr_expect_eq(strlen(id), 64);
	cr_expect(!push_batch_id(p57, 1000000, id, sizeof id), "65 characters");
	cr_expect(!push_batch_id("has space", 1, id, sizeof id));
	cr_expect(!push_batch_id("tab\t", 1, id, sizeof id));
	cr_expect(!push_batch_id("\xE6\xB5\x99", 1, id, sizeof id));
	char small[5];
	cr_expect(!push_batch_id("p", 1, small, sizeof small));

	cr_expect_eq(push_seq_digits(0, 10), 6);
	cr_expect_eq(push_seq_digits(25, 10), 6);
	cr_expect_eq(push_seq_digits(9999990, 10), 6); /* 999999 batches */
	cr_expect_eq(push_seq_digits(9999991, 10), 7); /* 1000000 batches */
	cr_expect_eq(push_seq_digits(123456789012ul, 1), 12);
}

Test(unit_push_body, default_prefix)
{
	uint8_t sha[32];
	SHA256((const unsigned char *)"x", 1, sha); /* 2d711642b726... */
	char p[PUSH_MAX_BATCH_ID + 1];
	cr_assert(push_default_prefix("/data/usage-2026-03.ndjson", sha, 500, 6, p, sizeof p));
	cr_expect_str_eq(p, "usage-2026-03-2d711642b726-n500");
	cr_assert(push_default_prefix("usage march.v2.ndjson", sha, 1000, 6, p, sizeof p));
	cr_expect_str_eq(p, "usage_march.v2-2d711642b726-n1000");
	cr_assert(push_default_prefix("dir.d/records", sha, 1, 6, p, sizeof p));
	cr_expect_str_eq(p, "records-2d711642b726-n1");
	cr_assert(push_default_prefix(".hidden", sha, 1, 6, p, sizeof p));
	cr_expect_str_eq(p, ".hidden-2d711642b726-n1");
	cr_assert(push_default_prefix("/x/.ndjson", sha, 1, 6, p, sizeof p));
	cr_expect_str_eq(p, ".ndjson-2d711642b726-n1");
	cr_assert(push_default_prefix("/x/", sha, 1, 6, p, sizeof p));
	cr_expect_str_eq(p, "records-2d711642b726-n1");
	cr_assert(push_default_prefix("\xE7\x94\xA8\xE9\x87\x8F.ndjson", sha, 7, 6, p, sizeof p));
	cr_expect_str_eq(p, "______-2d711642b726-n7");

	/* long stems are cut so that the whole id fits in 64 */
	char longname[200];
	memset(longname, 'a', 150);
	strcpy(longname + 150, ".ndjson");
	cr_assert(push_default_prefix(longname, sha, 1000000, 6, p, sizeof p));
	char id[PUSH_MAX_BATCH_ID + 1];
	cr_expect(push_batch_id(p, 999999, id, sizeof id), "%s", p);
	cr_assert(push_default_prefix(longname, sha, 1000000, 12, p, sizeof p));
	cr_expect(push_batch_id(p, 999999999999ul, id, sizeof id), "%s", p);
	cr_expect(strlen(id) <= 64);

	/* deterministic; depends on the content and the batch size */
	char a[65], b[65], c[65];
	cr_assert(push_default_prefix("f.ndjson", sha, 10, 6, a, sizeof a));
	cr_assert(push_default_prefix("f.ndjson", sha, 10, 6, b, sizeof b));
	cr_expect_str_eq(a, b);
	cr_assert(push_default_prefix("f.ndjson", sha, 11, 6, c, sizeof c));
	cr_expect_str_neq(a, c);
	uint8_t sha2[32];
	SHA256((const unsigned char *)"y", 1, sha2);
	cr_assert(push_default_prefix("f.ndjson", sha2, 10, 6, c, sizeof c));
	cr_expect_str_neq(a, c);

	char tiny[8];
	cr_expect(!push_default_prefix("f", sha, 10, 6, tiny, sizeof tiny));
}

/* ------------------------------------------------------------------------ */
/* HTTP responses                                                           */

/* Feeds text in pieces of step bytes (0: all at once), then EOF if eof. */
static bool parse(push_resp_t *r, const char *text, size_t len, size_t step, bool eof, bool *done)
{
	push_resp_init(r, false);
	*done = false;
	size_t off = 0;
	if (!step)
		step = len ? len : 1;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		if (!push_resp_feed(r, text + off, n, done))
			return false;
		off += n;
	}
	if (eof && !*done)
		return push_resp_eof(r, done);
	return true;
}

struct resp_case {
	const char *text;
	bool ok, done;
	int status;
	const char *body;
	bool keep_alive;
	bool eof; /* deliver EOF after the bytes */
};

Test(unit_push_http, responses)
{
	static const struct resp_case cases[] = {
		{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", true, true, 200,
		 "{}", true, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", true, true, 200, "{}", false,
		 false},
		{"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n", true, true, 200, "",
		 false, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", true, true, 200, "{}", false, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}", true, true, 200, "{}",
		 true, false},
		/* bare LF line endings, no reason phrase, odd spacing */
		{"HTTP/1.1 404\nContent-Length:  3 \n\nabc", true, true, 404, "abc", true, false},
		{"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n", true, true, 503, "",
		 true, false},
		/* chunked, with extensions and a trailer */
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "5;name=val\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n",
		 true, true, 200, "hello 0123456789", true, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", true, true, 200, "", true, false},
		/* chunked wins over Content-Length, and the connection is not reused */
		{"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		 true, true, 200, "ok", false, false},
		/* no length: the body runs to the end of the connection */
		{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}", true, true, 200, "{\"a\":1}",
		 false, true},
		{"HTTP/1.0 200 OK\r\n\r\n", true, true, 200, "", false, true},
		/* interim responses are skipped */
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\n"
		 "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx",
		 true, true, 201, "x", true, false},
		/* no body for 204 / 304 */
		{"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", true, true, 204, "", true, false},
		{"HTTP/1.1 304 Not Modified\r\n\r\n", true, true, 304, "", true, false},
		/* empty lines before the status line are tolerated */
		{"\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, true, 200, "", true, false},
		/* repeated equal Content-Length */
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", true, true, 200, "ab", true,
		 false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab", true, true, 200, "ab", true, false},
		/* obsolete folding */
		{"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n", true, true, 200, "", true, false},
		/* incomplete: more needed */
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true, false, 200, "ab", true, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", true, false, 200, "hel", true, false},
		{"HTTP/1.1 200 OK\r\nContent-", true, false, 200, "", false, false},
		{"", true, false, 0, "", false, false},
		/* malformed */
		{"HTTP/2 200\r\n\r\n", false, false, 0, NULL, false, false},
		{"ICY 200 OK\r\n\r\n", false, false, 0, NULL, false, false},
		{"HTTP/1.1 20 OK\r\n\r\n", false, false, 0, NULL, false, false},
		{"HTTP/1.1 2000 OK\r\n\r\n", false, false, 0, NULL, false, false},
		{"HTTP/1.1 099 OK\r\n\r\n", false, false, 0, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nName : x\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\n folded-first\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab", false, false, 200, NULL, false,
		 false},
		{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", false, false, 200, NULL, false,
		 false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", false, false, 200, NULL, false, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", false, false, 200, NULL, false,
		 false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", false, false, 200, NULL,
		 false, false},
		{"HTTP/1.1 101 Switching Protocols\r\n\r\n", false, false, 101, NULL, false, false},
		/* EOF before the end */
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false, false, 200, NULL, false, true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", false, false, 200, NULL, false,
		 true},
		{"HTTP/1.1 200 OK\r\n", false, false, 200, NULL, false, true},
		{"", false, false, 0, NULL, false, true},
	};
	static const size_t steps[] = {0, 1, 2, 7};
	for (size_t i = 0; i < N(cases); i++) {
		const struct resp_case *c = &cases[i];
		for (size_t s = 0; s < N(steps); s++) {
			push_resp_t r;
			bool done;
			bool ok = parse(&r, c->text, strlen(c->text), steps[s], c->eof, &done);
			cr_expect_eq(ok, c->ok, "case %zu step %zu: ok=%d (%s)", i, steps[s], ok, r.err);
			if (ok) {
				cr_expect_eq(done, c->done, "case %zu step %zu: done=%d", i, steps[s], done);
				if (c->status)
					cr_expect_eq(r.status, c->status, "case %zu", i);
				cr_expect_str_eq(r.body.data ? r.body.data : "", c->body, "case %zu step %zu", i,
						 steps[s]);
				if (done)
					cr_expect_eq(r.keep_alive, c->keep_alive, "case %zu step %zu: keep_alive", i,
						     steps[s]);
			} else {
				cr_expect(r.err[0], "case %zu: no error message", i);
				bool d2;
				cr_expect(!push_resp_feed(&r, "x", 1, &d2), "stays failed");
			}
			push_resp_free(&r);
		}
	}
}

Test(unit_push_http, headers)
{
	static const char text[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Content-Type: application/problem+json\r\n"
				   "retry-after:   7  \r\n"
				   "Connection: keep-alive\r\n"
				   "Vary: a\r\n"
				   "VARY: b, Accept\r\n"
				   "X-Folded: one\r\n\ttwo\r\n"
				   "Empty:\r\n"
				   "Content-Length: 0\r\n\r\n";
	push_resp_t r;
	bool done;
	cr_assert(parse(&r, text, sizeof text - 1, 3, false, &done));
	cr_assert(done);
	cr_expect_eq(r.minor, 1);
	cr_expect_str_eq(push_resp_header(&r, "Retry-After"), "7");
	cr_expect_str_eq(push_resp_header(&r, "CONTENT-TYPE"), "application/problem+json");
	cr_expect_str_eq(push_resp_header(&r, "vary"), "a", "the first of repeated headers");
	cr_expect(push_resp_header_has_token(&r, "vary", "accept"), "tokens of every occurrence");
	cr_expect(push_resp_header_has_token(&r, "Vary", "A"));
	cr_expect(!push_resp_header_has_token(&r, "vary", "acc"));
	cr_expect_str_eq(push_resp_header(&r, "x-folded"), "one two");
	cr_expect_str_eq(push_resp_header(&r, "empty"), "");
	cr_expect_null(push_resp_header(&r, "x-missing"));
	cr_expect(r.keep_alive);
	push_resp_free(&r);
}

Test(unit_push_http, extra_bytes_and_after_done)
{
	static const char text[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
	push_resp_t r;
	bool done;
	cr_assert(parse(&r, text, sizeof text - 1, 0, false, &done));
	cr_expect(done);
	cr_expect_str_eq(r.body.data, "ok");
	cr_expect_eq(r.extra, sizeof "HTTP/1.1 200 OK\r\n" - 1);
	cr_expect(!r.keep_alive, "a connection with stray bytes is not reused");
	cr_expect(push_resp_feed(&r, "more", 4, &done) && done);
	cr_expect_eq(r.extra, sizeof "HTTP/1.1 200 OK\r\n" - 1 + 4);
	cr_expect(push_resp_eof(&r, &done) && done);
	push_resp_free(&r);
}

Test(unit_push_http, head_request_and_got_bytes)
{
	push_resp_t r;
	bool done;
	push_resp_init(&r, true);
	cr_expect(!r.got_bytes);
	static const char text[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
	cr_assert(push_resp_feed(&r, text, sizeof text - 1, &done));
	cr_expect(done, "HEAD: no body whatever Content-Length says");
	cr_expect(r.got_bytes);
	push_resp_free(&r);

	push_resp_init(&r, false);
	cr_expect(!push_resp_eof(&r, &done));
	cr_expect_str_eq(r.err, "connection closed without a response");
	push_resp_free(&r);
}

Test(unit_push_http, limits)
{
	/* a header block over the limit */
	buf_t b = BUF_INIT;
	buf_puts(&b, "HTTP/1.1 200 OK\r\n");
	while (b.len < PUSH_MAX_HEADER_BYTES + 100) {
		buf_puts(&b, "X-Filler: ");
		for (int i = 0; i < 100; i++)
			buf_puts(&b, "0123456789");
		buf_puts(&b, "\r\n");
	}
	push_resp_t r;
	bool done;
	cr_expect(!parse(&r, b.data, b.len, 1000, false, &done));
	cr_expect_str_eq(r.err, "response header too large");
	push_resp_free(&r);

	/* one endless header line */
	buf_reset(&b);
	buf_puts(&b, "HTTP/1.1 200 OK\r\nX: ");
	while (b.len < PUSH_MAX_HEADER_BYTES + 100)
		buf_puts(&b, "aaaaaaaaaaaaaaaa");
	cr_expect(!parse(&r, b.data, b.len, 4096, false, &done));
	push_resp_free(&r);

	/* too many headers */
	buf_reset(&b);
	buf_puts(&b, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= PUSH_MAX_HEADERS; i++)
		buf_printf(&b, "X-%d: 1\r\n", i);
	buf_puts(&b, "\r\n");
	cr_expect(!parse(&r, b.data, b.len, 0, false, &done));
	cr_expect_str_eq(r.err, "too many headers");
	push_resp_free(&r);

	/* NUL in a header */
	static const char nul[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
	cr_expect(!parse(&r, nul, sizeof nul - 1, 0, false, &done));
	push_resp_free(&r);

	/* a long chunked body in small pieces */
	buf_reset(&b);
	buf_puts(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 1000; i++)
		buf_puts(&b, "3\r\nabc\r\n");
	buf_puts(&b, "0\r\n\r\n");
	cr_expect(parse(&r, b.data, b.len, 5, false, &done));
	cr_expect(done);
	cr_expect_eq(r.body.len, 3000);
	push_resp_free(&r);
	buf_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Retry timing                                                             */

Test(unit_push_retry, retry_after)
{
	const time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	struct {
		const char *v;
		bool ok;
		uint32_t secs;
	} cases[] = {
		{"0", true, 0},
		{"2", true, 2},
		{" 120 ", true, 120},
		{"\t30", true, 30},
		{"00007", true, 7},
		{"4294967295", true, UINT32_MAX},
		{"99999999999999999999999", true, UINT32_MAX},
		{"Sun, 06 Nov 1994 08:49:37 GMT", true, 0},
		{"Sun, 06 Nov 1994 08:50:37 GMT", true, 60},
		{"Sun, 06 Nov 1994 08:40:00 GMT", true, 0}, /* in the past */
		{"Mon, 07 Nov 1994 08:49:37 GMT", true, 86400},
		{"Sunday, 06-Nov-94 08:49:47 GMT", true, 10}, /* RFC 850 */
		{"Sun Nov  6 08:49:57 1994", true, 20},       /* asctime */
		{"", false, 0},
		{"   ", false, 0},
		{"-1", false, 0},
		{"1.5", false, 0},
		{"10s", false, 0},
		{"+5", false, 0},
		{"1 2", false, 0},
		{"soon", false, 0},
		{"Sun, 06 Nov 1994 08:49:37", false, 0},
		{"Sun, 06 Nov 1994 08:49:37 GMT trailing", false, 0},
		{"Sun, 32 Nov 1994 08:49:37 GMT", false, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		uint32_t s = 12345;
		bool ok = push_retry_after_parse(cases[i].v, now, &s);
		cr_expect_eq(ok, cases[i].ok, "'%s'", cases[i].v);
		if (ok)
			cr_expect_eq(s, cases[i].secs, "'%s': %u", cases[i].v, s);
	}
	uint32_t s;
	cr_expect(!push_retry_after_parse(NULL, now, &s));
}

Test(unit_push_retry, backoff_schedule)
{
	static const uint32_t want[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
	for (unsigned a = 0; a < N(want); a++)
		cr_expect_eq(push_backoff_ms(a, 0), want[a], "attempt %u", a);
	cr_expect_eq(push_backoff_ms(40, 0), 30000);
	cr_expect_eq(push_backoff_ms(1000, 0), 30000);
	cr_expect_eq(push_backoff_ms(UINT32_MAX, 0), 30000);
	/* jitter takes off at most a quarter */
	for (unsigned a = 0; a < 10; a++) {
		uint32_t full = push_backoff_ms(a, 0);
		for (double j = 0; j < 1; j += 0.125) {
			uint32_t d = push_backoff_ms(a, j);
			cr_expect(d <= full && d >= full - full / 4, "attempt %u jitter %f: %u", a, j, d);
		}
		cr_expect(push_backoff_ms(a, 0.9999) < full || full < 4);
		/* out-of-range jitter is clamped */
		cr_expect_eq(push_backoff_ms(a, -3), full);
		cr_expect(push_backoff_ms(a, 7) >= full - full / 4);
		cr_expect_eq(push_backoff_ms(a, 0.0 / 0.0), full);
	}
	/* the default budget (8 retries) waits about a minute and a half */
	uint64_t total = 0;
	for (unsigned a = 0; a < 8; a++)
		total += push_backoff_ms(a, 0);
	cr_expect_eq(total, 500 + 1000 + 2000 + 4000 + 8000 + 16000 + 30000 + 30000);
}

Test(unit_push_retry, delay_prefers_retry_after)
{
	cr_expect_eq(push_retry_delay_ms(0, 0, true, 2), 2000);
	cr_expect_eq(push_retry_delay_ms(5, 0, true, 0), 0, "the server said: now");
	cr_expect_eq(push_retry_delay_ms(0, 0, true, 100000), PUSH_RETRY_AFTER_CAP_S * 1000, "capped");
	cr_expect_eq(push_retry_delay_ms(0, 0, true, UINT32_MAX), PUSH_RETRY_AFTER_CAP_S * 1000);
	cr_expect_eq(push_retry_delay_ms(3, 0, false, 99), 4000);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

Test(unit_push_output, quote)
{
	static const char *const cases[][2] = {
		{"plain text", "\"plain text\""},
		{"say \"hi\" \\ bye", "\"say \\\"hi\\\" \\\\ bye\""},
		{"line\nbreak\ttab\r", "\"line\\x0abreak\\x09tab\\x0d\""},
		{"\x1b[31mred", "\"\\x1b[31mred\""},
		{"del\x7f", "\"del\\x7f\""},
		{"\xE6\xB5\x99\xE6\xB1\x9F", "\"\xE6\xB5\x99\xE6\xB1\x9F\""}, /* UTF-8 kept */
		{"\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\""},
		{"bad\xff", "\"bad\\xff\""},
		{"\xC2\x9B"
		 "31m",
		 "\"\\xc2\\x9b31m\""},                   /* C1 control */
		{"\xC0\xAF", "\"\\xc0\\xaf\""},          /* overlong */
		{"\xED\xA0\x80", "\"\\xed\\xa0\\x80\""}, /* surrogate */
		{"\xE6\xB5", "\"\\xe6\\xb5\""},          /* truncated */
		{"", "\"\""},
	};
	for (size_t i = 0; i < N(cases); i++) {
		buf_t b = BUF_INIT;
		push_quote(&b, cases[i][0], 100);
		cr_expect_str_eq(b.data, cases[i][1], "case %zu", i);
		buf_free(&b);
	}
	buf_t b = BUF_INIT;
	push_quote(&b, "abcdefgh", 4);
	cr_expect_str_eq(b.data, "\"abcd...\"");
	buf_free(&b);
}

Test(unit_push_output, token)
{
	static const char *const cases[][2] = {
		{"r-000001", "r-000001"}, {"a=b", "a=b"}, {"has space", "\"has space\""},
		{"q\"", "\"q\\\"\""},     {"", "\"\""},   {"\xE6\xB5\x99", "\"\xE6\xB5\x99\""},
	};
	for (size_t i = 0; i < N(cases); i++) {
		buf_t b = BUF_INIT;
		push_token(&b, cases[i][0]);
		cr_expect_str_eq(b.data, cases[i][1], "case %zu", i);
		buf_free(&b);
	}
	buf_t b = BUF_INIT;
	push_token(&b, NULL);
	cr_expect_str_eq(b.data, "-");
	buf_free(&b);
}

/* A chunk-size line over 1024 bytes, or with a NUL in it, is refused the
 * same whether it arrives whole or in pieces (found by fuzz_response: whole,
 * the line was accepted; in pieces, refused). */
Test(unit_push_http, chunk_size_lines_are_refused_alike_whole_or_in_pieces)
{
	buf_t b = BUF_INIT;
	buf_puts(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;");
	for (int i = 0; i < 1100; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "\r\nz\r\n0\r\n\r\n");
	static const char nul[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\0zz\r\nz\r\n0\r\n\r\n";
	const struct {
		const char *data;
		size_t len;
	} cases[] = {{b.data, b.len}, {nul, sizeof nul - 1}};
	for (size_t i = 0; i < 2; i++) {
		const size_t steps[] = {1, 5, 85, cases[i].len}; /* the last: the whole response at once */
		for (size_t k = 0; k < 4; k++) {
			push_resp_t r;
			bool done;
			cr_expect(!parse(&r, cases[i].data, cases[i].len, steps[k], false, &done), "case %zu step %zu",
				  i, steps[k]);
			cr_expect_str_eq(r.err, "bad chunk size line", "case %zu step %zu", i, steps[k]);
			push_resp_free(&r);
		}
	}
	buf_free(&b);
}
