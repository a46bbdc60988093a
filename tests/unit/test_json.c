/* The strict JSON reader of request bodies (metering/json.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/buf.h"
#include "metering/json.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static mj_doc_t *parse(const char *s, mj_error_t *e)
{
	return mj_parse(s, strlen(s), e);
}

Test(unit_json, values_and_order)
{
	mj_error_t e;
	mj_doc_t *d = parse(" {\"b\": [1, -0, 2.5e1, true, false, null, \"x\"], \"a\": {}, \"c\": []}\n", &e);
	cr_assert_not_null(d, "%s", e.what);
	const mj_value_t *r = mj_root(d);
	cr_assert_eq(r->type, MJ_OBJECT);
	cr_assert_eq(r->n, 3);
	cr_expect_str_eq(r->u.members[0].key, "b");
	cr_expect_str_eq(r->u.members[1].key, "a");
	cr_expect_str_eq(r->u.members[2].key, "c");
	const mj_value_t *b = &r->u.members[0].val;
	cr_assert_eq(b->type, MJ_ARRAY);
	cr_assert_eq(b->n, 7);
	cr_expect_eq(b->u.items[0].type, MJ_INT);
	cr_expect_eq(b->u.items[0].u.i, 1);
	cr_expect_eq(b->u.items[1].type, MJ_INT);
	cr_expect_eq(b->u.items[1].u.i, 0);
	cr_expect_eq(b->u.items[2].type, MJ_REAL);
	cr_expect(b->u.items[2].u.d == 25.0);
	cr_expect_eq(b->u.items[3].type, MJ_TRUE);
	cr_expect_eq(b->u.items[4].type, MJ_FALSE);
	cr_expect_eq(b->u.items[5].type, MJ_NULL);
	cr_expect_eq(b->u.items[6].type, MJ_STRING);
	cr_expect_str_eq(b->u.items[6].u.s, "x");
	cr_expect_eq(r->u.members[1].val.type, MJ_OBJECT);
	cr_expect_eq(r->u.members[1].val.n, 0);
	cr_expect_eq(r->u.members[2].val.type, MJ_ARRAY);
	cr_expect_eq(r->u.members[2].val.n, 0);
	mj_free(d);
}

Test(unit_json, scalars_at_the_top)
{
	const char *ok[] = {"7", "\"s\"", "null", "[]", "{}", " true "};
	for (size_t i = 0; i < N(ok); i++) {
		mj_doc_t *d = parse(ok[i], NULL);
		cr_expect_not_null(d, "%s", ok[i]);
		mj_free(d);
	}
}

Test(unit_json, strings_are_decoded)
{
	static const struct {
		const char *in, *out;
		uint32_t n;
	} cases[] = {
		{"\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d", 7},
		{"\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5},
		{"\"\\u00e9\\u4E2D\"", "\xc3\xa9\xe4\xb8\xad", 5},
		{"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4},
		{"\"\xe7\xae\x97\xe5\x8a\x9b\xe5\x88\xb8\"", "\xe7\xae\x97\xe5\x8a\x9b\xe5\x88\xb8", 9},
		{"\"\xf4\x8f\xbf\xbf\"", "\xf4\x8f\xbf\xbf", 4}, /* U+10FFFF */
		{"\"\"", "", 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		mj_error_t e;
		mj_doc_t *d = parse(cases[i].in, &e);
		cr_assert_not_null(d, "case %zu: %s", i, e.what);
		const mj_value_t *v = mj_root(d);
		cr_expect_eq(v->type, MJ_STRING);
		cr_expect_eq(v->n, cases[i].n, "case %zu: length %u", i, v->n);
		cr_expect_eq(memcmp(v->u.s, cases[i].out, cases[i].n + 1), 0, "case %zu", i);
		mj_free(d);
	}
}

Test(unit_json, integers_and_reals)
{
	static const struct {
		const char *in;
		mj_type_t type;
		int64_t i;
	} cases[] = {
		{"9223372036854775807", MJ_INT, INT64_MAX},
		{"-9223372036854775808", MJ_INT, INT64_MIN},
		{"0", MJ_INT, 0},
		{"-12", MJ_INT, -12},
		{"1.0", MJ_REAL, 0},
		{"1e2", MJ_REAL, 0},
		{"1E+2", MJ_REAL, 0},
		{"1e-400", MJ_REAL, 0}, /* underflows to 0: finite */
		{"1.7976931348623157e308", MJ_REAL, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		mj_error_t e;
		mj_doc_t *d = parse(cases[i].in, &e);
		cr_assert_not_null(d, "%s: %s", cases[i].in, e.what);
		cr_expect_eq(mj_root(d)->type, cases[i].type, "%s", cases[i].in);
		if (cases[i].type == MJ_INT)
			cr_expect_eq(mj_root(d)->u.i, cases[i].i, "%s", cases[i].in);
		mj_free(d);
	}
}

Test(unit_json, refusals)
{
	static const struct {
		const char *name, *in;
		size_t len; /* 0: strlen */
		mj_status_t status;
		const char *what;
	} cases[] = {
		{"empty", "", 0, MJ_SYNTAX, "empty body"},
		{"blank", " \r\n\t", 0, MJ_SYNTAX, "empty body"},
		{"open", "[", 0, MJ_SYNTAX, "unexpected end of input"},
		{"open object", "{\"a\":1", 0, MJ_SYNTAX, "unexpected end of input"},
		{"open string", "\"abc", 0, MJ_SYNTAX, "unexpected end of input"},
		{"escape at end", "\"abc\\", 0, MJ_SYNTAX, "unexpected end of input"},
		{"after value", "{} {}", 0, MJ_SYNTAX, "data after the JSON value"},
		{"trailing comma array", "[1,]", 0, MJ_SYNTAX, "invalid JSON"},
		{"trailing comma object", "{\"a\":1,}", 0, MJ_SYNTAX, "expected a string key"},
		{"missing colon", "{\"a\" 1}", 0, MJ_SYNTAX, "expected ':'"},
		{"bare key", "{a:1}", 0, MJ_SYNTAX, "expected a string key"},
		{"missing comma", "[1 2]", 0, MJ_SYNTAX, "expected ',' or ']'"},
		{"single quotes", "['a']", 0, MJ_SYNTAX, "invalid JSON"},
		{"comment", "[1 /* c */]", 0, MJ_SYNTAX, "expected ',' or ']'"},
		{"leading zero", "01", 0, MJ_SYNTAX, "data after the JSON value"},
		{"minus alone", "-", 0, MJ_SYNTAX, "unexpected end of input"},
		{"plus", "+1", 0, MJ_SYNTAX, "invalid JSON"},
		{"dot first", ".5", 0, MJ_SYNTAX, "invalid JSON"},
		{"dot last", "1.", 0, MJ_SYNTAX, "unexpected end of input"},
		{"exponent empty", "1e", 0, MJ_SYNTAX, "unexpected end of input"},
		{"exponent sign only", "1e+x", 0, MJ_SYNTAX, "invalid number"},
		{"int overflow", "9223372036854775808", 0, MJ_SYNTAX, "number out of range"},
		{"int underflow", "-9223372036854775809", 0, MJ_SYNTAX, "number out of range"},
		{"long int", "123456789012345678901234567890", 0, MJ_SYNTAX, "number out of range"},
		{"real overflow", "1e309", 0, MJ_SYNTAX, "number out of range"},
		{"true typo", "tru", 0, MJ_SYNTAX, "invalid JSON"},
		{"NaN", "NaN", 0, MJ_SYNTAX, "invalid JSON"},
		{"raw NUL", "[\"a\0\"]", 6, MJ_SYNTAX, "NUL character in a string"},
		{"NUL outside a string", "[1,\0]", 5, MJ_SYNTAX, "invalid JSON"},
		{"escaped NUL", "\"a\\u0000\"", 0, MJ_SYNTAX, "NUL character in a string"},
		{"raw control", "\"a\x01\"", 0, MJ_SYNTAX, "control character in a string"},
		{"raw newline", "\"a\nb\"", 0, MJ_SYNTAX, "control character in a string"},
		{"bad escape", "\"\\x\"", 0, MJ_SYNTAX, "invalid escape"},
		{"short u", "\"\\u12\"", 0, MJ_SYNTAX, "invalid \\u escape"},
		{"bad hex", "\"\\u12g4\"", 0, MJ_SYNTAX, "invalid \\u escape"},
		{"lone high", "\"\\ud800\"", 0, MJ_SYNTAX, "invalid Unicode surrogate"},
		{"high then text", "\"\\ud800abcdef\"", 0, MJ_SYNTAX, "invalid Unicode surrogate"},
		{"high then high", "\"\\ud800\\ud800\"", 0, MJ_SYNTAX, "invalid Unicode surrogate"},
		{"lone low", "\"\\udc00\"", 0, MJ_SYNTAX, "invalid Unicode surrogate"},
		{"overlong 2", "\"\xc0\x80\"", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"overlong 2b", "\"\xc1\xbf\"", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"overlong 3", "\"\xe0\x80\x80\"", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"overlong 4", "\"\xf0\x80\x80\x80\"", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"UTF-8 surrogate", "\"\xed\xa0\x80\"", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"beyond U+10FFFF", "\"\xf4\x90\x80\x80\"", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"F5", "\"\xf5\x80\x80\x80\"", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"lone continuation", "\"\x80\"", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"truncated sequence", "\"\xe4\xb8\"", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"UTF-8 in a key", "{\"\xff\":1}", 0, MJ_SYNTAX, "invalid UTF-8"},
		{"duplicate", "{\"a\":1,\"b\":2,\"a\":3}", 0, MJ_DUPLICATE_KEY, "duplicate object key"},
		{"duplicate nested", "[{\"x\":{\"k\":1,\"k\":1}}]", 0, MJ_DUPLICATE_KEY, "duplicate object key"},
		{"duplicate by escape", "{\"a\":1,\"\\u0061\":2}", 0, MJ_DUPLICATE_KEY, "duplicate object key"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		mj_error_t e;
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		mj_doc_t *d = mj_parse(cases[i].in, len, &e);
		cr_expect_null(d, "%s: accepted", cases[i].name);
		if (d) {
			mj_free(d);
			continue;
		}
		cr_expect_eq(e.status, cases[i].status, "%s: status %d", cases[i].name, e.status);
		cr_expect_str_eq(e.what, cases[i].what, "%s: '%s'", cases[i].name, e.what);
		cr_expect_geq(e.line, 1);
		cr_expect_geq(e.column, 1);
	}
	/* NULL text with length 0 */
	mj_error_t e;
	cr_expect_null(mj_parse(NULL, 0, &e));
	cr_expect_str_eq(e.what, "empty body");
}

Test(unit_json, error_position)
{
	mj_error_t e;
	cr_assert_null(parse("{\n  \"a\": 1,\n  \"b\": tru\n}", &e));
	cr_expect_eq(e.line, 3);
	cr_expect_eq(e.column, 8);
}

Test(unit_json, large_objects_find_duplicates_by_sorting)
{
	buf_t b = BUF_INIT;
	buf_putc(&b, '{');
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
	buf_putc(&b, '}');
	mj_doc_t *d = mj_parse(b.data, b.len, NULL);
	cr_assert_not_null(d);
	cr_expect_eq(mj_root(d)->n, 1000);
	cr_expect_str_eq(mj_root(d)->u.members[999].key, "k999");
	mj_free(d);
	b.len--; /* drop the '}' */
	buf_puts(&b, ",\"k500\":0}");
	mj_error_t e;
	cr_expect_null(mj_parse(b.data, b.len, &e));
	cr_expect_eq(e.status, MJ_DUPLICATE_KEY);
	buf_free(&b);
}

Test(unit_json, depth_limit)
{
	for (int extra = 0; extra < 2; extra++) {
		int depth = MJ_MAX_DEPTH + extra;
		buf_t b = BUF_INIT;
		for (int i = 0; i < depth; i++)
			buf_putc(&b, '[');
		for (int i = 0; i < depth; i++)
			buf_putc(&b, ']');
		mj_error_t e;
		mj_doc_t *d = mj_parse(b.data, b.len, &e);
		if (extra == 0) {
			cr_expect_not_null(d, "depth %d: %s", depth, e.what);
		} else {
			cr_expect_null(d);
			cr_expect_str_eq(e.what, "nesting too deep");
		}
		mj_free(d);
		buf_free(&b);
	}
}

Test(unit_json, long_strings_and_many_values)
{
	/* strings longer than an arena block, and more values than the scratch stack starts with */
	buf_t b = BUF_INIT;
	buf_puts(&b, "[\"");
	for (int i = 0; i < 200000; i++)
		buf_putc(&b, (char)('a' + i % 26));
	buf_puts(&b, "\"");
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, ",{\"i\":%d,\"s\":\"v%d\"}", i, i);
	buf_puts(&b, "]");
	mj_error_t e;
	mj_doc_t *d = mj_parse(b.data, b.len, &e);
	cr_assert_not_null(d, "%s", e.what);
	const mj_value_t *r = mj_root(d);
	cr_assert_eq(r->n, 5001);
	cr_expect_eq(r->u.items[0].n, 200000);
	cr_expect_eq(r->u.items[0].u.s[199999], (char)('a' + 199999 % 26));
	cr_expect_eq(r->u.items[5000].u.members[0].val.u.i, 4999);
	cr_expect_str_eq(r->u.items[5000].u.members[1].val.u.s, "v4999");
	mj_free(d);
	buf_free(&b);
}
