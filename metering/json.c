/* json: a strict one-pass JSON reader into an arena (see json.h).
 *
 * Recursive descent, depth-limited.  The children of the container being
 * read wait on one scratch stack; when the container closes they are copied
 * into the arena in one piece, so a document costs its values and strings and
 * a few large allocations.  Duplicate keys are found when an object closes:
 * pairwise for small objects, by sorting for large ones (no hash table an
 * attacker could load).
 */
#include "metering/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define BLOCK_BYTES (64 * 1024)
#define SMALL_OBJECT 16

typedef struct block {
	struct block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
} block_t;

struct mj_doc {
	block_t *blocks;
	mj_value_t root;
};

typedef struct parser {
	const unsigned char *start, *p, *end;
	mj_doc_t *doc;
	mj_member_t *stack; /* children of the open containers */
	size_t top, cap;
	int depth;
	mj_error_t *e;
} parser_t;

/* ----------------------------------------------------------------- arena */

static void *arena_alloc(mj_doc_t *d, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	block_t *b = d->blocks;
	if (b && b->cap - b->used >= n) {
		void *p = b->data + b->used;
		b->used += n;
		return p;
	}
	if (n > BLOCK_BYTES / 4 && b) {
		/* a large piece gets a block of its own behind the current one */
		block_t *big = xmalloc(sizeof *big + n);
		big->cap = big->used = n;
		big->next = b->next;
		b->next = big;
		return big->data;
	}
	size_t cap = n > BLOCK_BYTES ? n : BLOCK_BYTES;
	b = xmalloc(sizeof *b + cap);
	b->cap = cap;
	b->used = n;
	b->next = d->blocks;
	d->blocks = b;
	return b->data;
}

void mj_free(mj_doc_t *doc)
{
	if (!doc)
		return;
	block_t *b = doc->blocks;
	while (b) {
		block_t *next = b->next;
		free(b);
		b = next;
	}
	free(doc);
}

const mj_value_t *mj_root(const mj_doc_t *doc)
{
	return &doc->root;
}

/* ----------------------------------------------------------------- errors */

static bool fail_at(parser_t *ps, const unsigned char *at, const char *what)
{
	int line = 1, col = 1;
	for (const unsigned char *q = ps->start; q < at && q < ps->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	ps->e->status = MJ_SYNTAX;
	ps->e->what = what;
	ps->e->line = line;
	ps->e->column = col;
	return false;
}

static bool fail(parser_t *ps, const char *what)
{
	return fail_at(ps, ps->p, what);
}

static bool fail_end_or(parser_t *ps, const char *what)
{
	return fail(ps, ps->p >= ps->end ? "unexpected end of input" : what);
}

/* ----------------------------------------------------------------- scalars */

static void skip_ws(parser_t *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

static bool is_digit(const parser_t *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static bool parse_number(parser_t *ps, mj_value_t *out)
{
	const unsigned char *s = ps->p;
	bool neg = false, integer = true;
	if (*ps->p == '-') {
		neg = true;
		ps->p++;
	}
	if (!is_digit(ps))
		return fail_end_or(ps, "invalid number");
	if (*ps->p == '0')
		ps->p++;
	else
		while (is_digit(ps))
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		integer = false;
		ps->p++;
		if (!is_digit(ps))
			return fail_end_or(ps, "invalid number");
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		integer = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!is_digit(ps))
			return fail_end_or(ps, "invalid number");
		while (is_digit(ps))
			ps->p++;
	}
	if (integer) {
		uint64_t acc = 0;
		for (const unsigned char *q = s + neg; q < ps->p; q++) {
			unsigned d = (unsigned)(*q - '0');
			if (acc > (UINT64_MAX - d) / 10)
				return fail_at(ps, s, "number out of range");
			acc = acc * 10 + d;
		}
		if (neg ? acc > (uint64_t)INT64_MAX + 1 : acc > (uint64_t)INT64_MAX)
			return fail_at(ps, s, "number out of range");
		out->type = MJ_INT;
		out->u.i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
		return true;
	}
	size_t len = (size_t)(ps->p - s);
	char small[64];
	char *tmp = len < sizeof small ? small : xmalloc(len + 1);
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	double d = strtod(tmp, NULL); /* voucherd keeps the C locale */
	if (tmp != small)
		free(tmp);
	if (!isfinite(d))
		return fail_at(ps, s, "number out of range");
	out->type = MJ_REAL;
	out->u.d = d;
	return true;
}

static int hex4(const unsigned char *q)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int c = q[i], h;
		if (c >= '0' && c <= '9')
			h = c - '0';
		else if (c >= 'a' && c <= 'f')
			h = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			h = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* The length of the well-formed UTF-8 sequence at q (lead byte >= 0x80), or 0.
 * Reads no further than it must: the closing quote is never a continuation. */
static size_t utf8_len(const unsigned char *q)
{
	unsigned c = q[0];
	unsigned lo = 0x80, hi = 0xBF;
	size_t n;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* no overlong forms */
		if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F; /* nothing past U+10FFFF */
	} else
		return 0;
	if (q[1] < lo || q[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (q[i] < 0x80 || q[i] > 0xBF)
			return 0;
	return n;
}

/* A string starting at the opening quote: decoded into the arena. */
static bool parse_string(parser_t *ps, const char **str, uint32_t *slen)
{
	const unsigned char *q = ++ps->p, *close = q;
	/* find the closing quote first: the decoded string is never longer */
	while (close < ps->end && *close != '"')
		close += *close == '\\' ? 2 : 1;
	if (close >= ps->end) {
		ps->p = ps->end;
		return fail(ps, "unexpected end of input");
	}
	if ((size_t)(close - q) >= UINT32_MAX)
		return fail(ps, "string too long");
	char *out = arena_alloc(ps->doc, (size_t)(close - q) + 1), *o = out;
	while (q < close) {
		unsigned c = *q;
		if (c >= 0x20 && c != '\\' && c < 0x80) {
			*o++ = (char)c;
			q++;
			continue;
		}
		if (c < 0x20)
			return fail_at(ps, q, c == 0 ? "NUL character in a string" : "control character in a string");
		if (c >= 0x80) {
			size_t n = utf8_len(q);
			if (!n)
				return fail_at(ps, q, "invalid UTF-8");
			memcpy(o, q, n);
			o += n;
			q += n;
			continue;
		}
		/* an escape */
		const unsigned char *esc = q++;
		switch (*q) {
		case '"':
			*o++ = '"';
			q++;
			continue;
		case '\\':
			*o++ = '\\';
			q++;
			continue;
		case '/':
			*o++ = '/';
			q++;
			continue;
		case 'b':
			*o++ = '\b';
			q++;
			continue;
		case 'f':
			*o++ = '\f';
			q++;
			continue;
		case 'n':
			*o++ = '\n';
			q++;
			continue;
		case 'r':
			*o++ = '\r';
			q++;
			continue;
		case 't':
			*o++ = '\t';
			q++;
			continue;
		case 'u': break;
		default: return fail_at(ps, esc, "invalid escape");
		}
		if (close - q < 5)
			return fail_at(ps, esc, "invalid \\u escape");
		int cp = hex4(q + 1);
		if (cp < 0)
			return fail_at(ps, esc, "invalid \\u escape");
		q += 5;
		if (cp == 0)
			return fail_at(ps, esc, "NUL character in a string");
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return fail_at(ps, esc, "invalid Unicode surrogate");
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			int lo = close - q >= 6 && q[0] == '\\' && q[1] == 'u' ? hex4(q + 2) : -1;
			if (lo < 0xDC00 || lo > 0xDFFF)
				return fail_at(ps, esc, "invalid Unicode surrogate");
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			q += 6;
		}
		o += put_utf8(o, (uint32_t)cp);
	}
	*o = '\0';
	*str = out;
	*slen = (uint32_t)(o - out);
	ps->p = close + 1;
	return true;
}

static bool literal(parser_t *ps, const char *word, mj_type_t type, mj_value_t *out)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "invalid JSON");
	ps->p += n;
	out->type = type;
	return true;
}

/* ----------------------------------------------------------------- containers */

static size_t push(parser_t *ps)
{
	if (ps->top == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 256;
		ps->stack = xrealloc(ps->stack, ps->cap * sizeof *ps->stack);
	}
	return ps->top++;
}

static int cmp_keys(const void *a, const void *b)
{
	const mj_member_t *x = *(const mj_member_t *const *)a, *y = *(const mj_member_t *const *)b;
	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	return memcmp(x->key, y->key, x->klen);
}

static bool has_duplicate(const mj_member_t *m, size_t n)
{
	if (n <= SMALL_OBJECT) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (m[i].klen == m[j].klen && memcmp(m[i].key, m[j].key, m[i].klen) == 0)
					return true;
		return false;
	}
	const mj_member_t **v = xmalloc(n * sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = &m[i];
	qsort(v, n, sizeof *v, cmp_keys);
	bool dup = false;
	for (size_t i = 1; i < n && !dup; i++)
		dup = cmp_keys(&v[i - 1], &v[i]) == 0;
	free(v);
	return dup;
}

static bool parse_value(parser_t *ps, mj_value_t *out);

static bool parse_array(parser_t *ps, mj_value_t *out)
{
	size_t base = ps->top;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
	} else {
		for (;;) {
			size_t i = push(ps);
			mj_value_t v;
			if (!parse_value(ps, &v))
				return false;
			ps->stack[i].key = NULL;
			ps->stack[i].klen = 0;
			ps->stack[i].val = v;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == ']') {
				ps->p++;
				break;
			}
			return fail_end_or(ps, "expected ',' or ']'");
		}
	}
	size_t n = ps->top - base;
	if (n > UINT32_MAX)
		return fail(ps, "array too long");
	out->type = MJ_ARRAY;
	out->n = (uint32_t)n;
	out->u.items = NULL;
	if (n) {
		out->u.items = arena_alloc(ps->doc, n * sizeof *out->u.items);
		for (size_t i = 0; i < n; i++)
			out->u.items[i] = ps->stack[base + i].val;
	}
	ps->top = base;
	return true;
}

static bool parse_object(parser_t *ps, mj_value_t *out)
{
	const unsigned char *open = ps->p;
	size_t base = ps->top;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
	} else {
		for (;;) {
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != '"')
				return fail_end_or(ps, "expected a string key");
			size_t i = push(ps);
			const char *key;
			uint32_t klen;
			if (!parse_string(ps, &key, &klen))
				return false;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail_end_or(ps, "expected ':'");
			ps->p++;
			mj_value_t v;
			if (!parse_value(ps, &v))
				return false;
			ps->stack[i].key = key;
			ps->stack[i].klen = klen;
			ps->stack[i].val = v;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == '}') {
				ps->p++;
				break;
			}
			return fail_end_or(ps, "expected ',' or '}'");
		}
	}
	size_t n = ps->top - base;
	if (n > UINT32_MAX)
		return fail(ps, "object too long");
	if (n > 1 && has_duplicate(ps->stack + base, n)) {
		fail_at(ps, open, "duplicate object key");
		ps->e->status = MJ_DUPLICATE_KEY;
		return false;
	}
	out->type = MJ_OBJECT;
	out->n = (uint32_t)n;
	out->u.members = NULL;
	if (n) {
		out->u.members = arena_alloc(ps->doc, n * sizeof *out->u.members);
		memcpy(out->u.members, ps->stack + base, n * sizeof *out->u.members);
	}
	ps->top = base;
	return true;
}

static bool parse_value(parser_t *ps, mj_value_t *out)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of input");
	out->n = 0;
	out->u.i = 0;
	switch (*ps->p) {
	case '{':
	case '[': {
		if (ps->depth >= MJ_MAX_DEPTH)
			return fail(ps, "nesting too deep");
		ps->depth++;
		bool ok = *ps->p == '{' ? parse_object(ps, out) : parse_array(ps, out);
		ps->depth--;
		return ok;
	}
	case '"': {
		const char *s;
		uint32_t n;
		if (!parse_string(ps, &s, &n))
			return false;
		out->type = MJ_STRING;
		out->n = n;
		out->u.s = s;
		return true;
	}
	case 't': return literal(ps, "true", MJ_TRUE, out);
	case 'f': return literal(ps, "false", MJ_FALSE, out);
	case 'n': return literal(ps, "null", MJ_NULL, out);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps, out);
		return fail(ps, "invalid JSON");
	}
}

mj_doc_t *mj_parse(const void *text, size_t len, mj_error_t *e)
{
	mj_error_t scratch;
	if (!e)
		e = &scratch;
	memset(e, 0, sizeof *e);
	mj_doc_t *doc = xcalloc(1, sizeof *doc);
	const unsigned char *t = text ? text : (const unsigned char *)"";
	parser_t ps = {.start = t, .p = t, .end = t + (text ? len : 0), .doc = doc, .e = e};
	skip_ws(&ps);
	bool ok;
	if (ps.p >= ps.end) {
		ok = fail(&ps, "empty body");
	} else {
		ok = parse_value(&ps, &doc->root);
		if (ok) {
			skip_ws(&ps);
			if (ps.p < ps.end)
				ok = fail(&ps, "data after the JSON value");
		}
	}
	free(ps.stack);
	if (!ok) {
		mj_free(doc);
		return NULL;
	}
	return doc;
}
