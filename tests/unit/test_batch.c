/* Table-driven tests of metering/batch.c. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "common/buf.h"
#include "common/validate.h"
#include "metering/batch.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Exact copies of tests/vectors/batch-a.json and batch-b.json. */
static const char BATCH_A[] =
	"{\"batch_id\":\"prov-a-20260302-000001\",\"provider\":\"prov-a\",\"records\":[{\"record_id\":\"r-000001\","
	"\"enterprise\":\"91330483100000001E\",\"facility\":\"prov-a-wz1\",\"category\":\"intelligent_compute\","
	"\"purpose\":\"training\",\"quantity\":\"128.5\",\"unit\":\"card_hour\",\"amount_fen\":1234500,"
	"\"started_at\":\"2026-03-01T00:00:00+08:00\",\"ended_at\":\"2026-03-01T08:00:00+08:00\","
	"\"contract_id\":\"HT-2026-0001\"},{\"record_id\":\"r-000002\",\"enterprise\":\"91330106100000002H\","
	"\"facility\":\"prov-a-wz1\",\"category\":\"model_service\",\"purpose\":\"application\",\"quantity\":"
	"\"5000000\",\"unit\":\"tokens\",\"amount_fen\":8800,\"started_at\":\"2026-03-02T10:00:00+08:00\","
	"\"ended_at\":\"2026-03-02T11:00:00+08:00\",\"contract_id\":\"HT-2026-0002\",\"invoice_no\":"
	"\"26332000000012345678\"},{\"record_id\":\"r-000003\",\"enterprise\":\"91330483100000001E\",\"facility\":"
	"\"prov-a-wz1\",\"category\":\"intelligent_compute\",\"purpose\":\"training\",\"quantity\":\"-8.5\",\"unit\":"
	"\"card_hour\",\"amount_fen\":-81650,\"started_at\":\"2026-03-01T00:00:00+08:00\",\"ended_at\":"
	"\"2026-03-01T08:00:00+08:00\",\"contract_id\":\"HT-2026-0001\",\"adjusts\":\"r-000001\"}]}";

static const char BATCH_B[] =
	"{\"batch_id\":\"prov-b-20260302-000001\",\"provider\":\"prov-b\",\"records\":[{\"record_id\":\"wx-77\","
	"\"enterprise\":\"913202141000000038\",\"facility\":\"prov-b-wx2\",\"category\":\"supercomputing\","
	"\"purpose\":\"training\",\"quantity\":\"4096\",\"unit\":\"core_hour\",\"amount_fen\":250000,"
	"\"started_at\":\"2026-03-03T00:00:00+08:00\",\"ended_at\":\"2026-03-03T23:59:59+08:00\","
	"\"contract_id\":\"WX-HT-9\"}]}";

/* 2026-03-05T00:00:00Z */
#define NOW_US 1772668800000000LL

static const meter_limits_t LIM = {.max_records = 10000, .now_us = NOW_US, .clock_skew_s = 300};

static bool parse_str(const char *body, const meter_limits_t *lim, meter_batch_t *b, const char **code)
{
	char err[256];
	return meter_batch_parse(body, strlen(body), lim, b, code, err, sizeof err);
}

/* A body around the given records text. */
static char *wrap(const char *records)
{
	buf_t b = BUF_INIT;
	buf_printf(&b, "{\"batch_id\":\"b-1\",\"provider\":\"prov-a\",\"records\":[%s]}", records);
	return buf_steal(&b);
}

/* ---- the vectors ---- */

Test(unit_batch, vector_a)
{
	meter_batch_t b;
	const char *code = NULL;
	char err[256];
	cr_assert(meter_batch_parse(BATCH_A, strlen(BATCH_A), &LIM, &b, &code, err, sizeof err), "%s", err);
	cr_expect_str_eq(b.batch_id, "prov-a-20260302-000001");
	cr_expect_str_eq(b.provider, "prov-a");
	cr_assert_eq(b.n, 3);
	cr_expect_eq(b.n_valid, 3);
	for (size_t i = 0; i < b.n; i++) {
		cr_expect_null(b.recs[i].reject_code, "record %zu: %s", i, b.recs[i].reject_detail);
		cr_expect(!b.recs[i].duplicate_in_batch);
		cr_expect_eq(b.recs[i].index, (int)i);
	}
	meter_record_t *r = &b.recs[0];
	cr_expect_str_eq(r->record_id, "r-000001");
	cr_expect_str_eq(r->enterprise, "91330483100000001E");
	cr_expect_str_eq(r->facility, "prov-a-wz1");
	cr_expect_str_eq(r->category, "intelligent_compute");
	cr_expect_str_eq(r->purpose, "training");
	cr_expect_str_eq(r->quantity, "128.5");
	cr_expect_str_eq(r->quantity_norm, "128.5");
	cr_expect_str_eq(r->unit, "card_hour");
	cr_expect_eq(r->amount_fen, 1234500);
	cr_expect_eq(r->started_us, 1772294400000000LL);
	cr_expect_eq(r->ended_us, 1772294400000000LL + 8LL * 3600 * 1000000);
	cr_expect_str_eq(r->contract_id, "HT-2026-0001");
	cr_expect_null(r->invoice_no);
	cr_expect_null(r->adjusts);
	cr_expect_str_eq(b.recs[1].invoice_no, "26332000000012345678");
	r = &b.recs[2];
	cr_expect_eq(r->amount_fen, -81650);
	cr_expect_str_eq(r->quantity_norm, "-8.5");
	cr_expect_str_eq(r->adjusts, "r-000001");
	meter_batch_free(&b);
	cr_expect_null(b.root);
	cr_expect_null(b.recs);
}

Test(unit_batch, vector_b)
{
	meter_batch_t b;
	const char *code = NULL;
	cr_assert(parse_str(BATCH_B, &LIM, &b, &code));
	cr_assert_eq(b.n, 1);
	cr_expect_eq(b.n_valid, 1);
	cr_expect_null(b.recs[0].reject_code, "%s", b.recs[0].reject_detail);
	cr_expect_str_eq(b.recs[0].quantity_norm, "4096");
	cr_expect_eq(b.recs[0].ended_us, 1772553599000000LL); /* 2026-03-03T15:59:59Z */
	meter_batch_free(&b);
}

/* ---- bodies refused whole ---- */

#define REC_OK                                                                                          \
	"{\"record_id\":\"r1\",\"enterprise\":\"91330483100000001E\",\"facility\":\"f1\",\"category\":" \
	"\"model_purchase\",\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":100,\"started_at\":"    \
	"\"2026-03-01T00:00:00Z\",\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"c1\"}"

Test(unit_batch, body_errors)
{
	static const struct {
		const char *name;
		const char *body;
		size_t len; /* 0: strlen(body) */
		size_t max_records;
		const char *code;
	} cases[] = {
		{"empty", "", 0, 10, "malformed_json"},
		{"whitespace", "  \n", 0, 10, "malformed_json"},
		{"truncated", "{\"batch_id\":\"b\"", 0, 10, "malformed_json"},
		{"not json", "batch", 0, 10, "malformed_json"},
		{"single quotes", "{'batch_id':'b'}", 0, 10, "malformed_json"},
		{"trailing garbage", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[" REC_OK "]}x", 0, 10,
		 "malformed_json"},
		{"two documents", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[" REC_OK "]}{}", 0, 10,
		 "malformed_json"},
		{"trailing comma", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[" REC_OK ",]}", 0, 10,
		 "malformed_json"},
		{"NUL escape", "{\"batch_id\":\"b\\u0000x\",\"provider\":\"p\",\"records\":[" REC_OK "]}", 0, 10,
		 "malformed_json"},
		{"raw NUL", "{\"batch_id\":\"b\",\0\"provider\":\"p\"}", 32, 10, "malformed_json"},
		{"invalid UTF-8", "{\"batch_id\":\"b\xff\",\"provider\":\"p\",\"records\":[" REC_OK "]}", 0, 10,
		 "malformed_json"},
		{"lone surrogate", "{\"batch_id\":\"\\ud800\",\"provider\":\"p\",\"records\":[]}", 0, 10,
		 "malformed_json"},
		{"integer overflow", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[99999999999999999999]}", 0,
		 10, "malformed_json"},
		{"real overflow", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[1e400]}", 0, 10,
		 "malformed_json"},
		{"duplicate top-level key", "{\"batch_id\":\"b\",\"batch_id\":\"c\",\"provider\":\"p\",\"records\":[]}",
		 0, 10, "duplicate_key"},
		{"duplicate key in record",
		 "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[{\"record_id\":\"r1\",\"record_id\":\"r1\"}]}", 0,
		 10, "duplicate_key"},
		{"duplicate key deep", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[[{\"a\":1,\"a\":1}]]}", 0,
		 10, "duplicate_key"},
		{"array", "[]", 0, 10, "invalid_body"},
		{"number", "123", 0, 10, "invalid_body"},
		{"string", "\"x\"", 0, 10, "invalid_body"},
		{"null", "null", 0, 10, "invalid_body"},
		{"empty object", "{}", 0, 10, "invalid_body"},
		{"missing batch_id", "{\"provider\":\"p\",\"records\":[" REC_OK "]}", 0, 10, "invalid_body"},
		{"missing provider", "{\"batch_id\":\"b\",\"records\":[" REC_OK "]}", 0, 10, "invalid_body"},
		{"missing records", "{\"batch_id\":\"b\",\"provider\":\"p\"}", 0, 10, "invalid_body"},
		{"unknown key", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[" REC_OK "],\"x\":1}", 0, 10,
		 "invalid_body"},
		{"records not array", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":{}}", 0, 10, "invalid_body"},
		{"records null", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":null}", 0, 10, "invalid_body"},
		{"provider number", "{\"batch_id\":\"b\",\"provider\":7,\"records\":[" REC_OK "]}", 0, 10,
		 "invalid_body"},
		{"provider empty", "{\"batch_id\":\"b\",\"provider\":\"\",\"records\":[" REC_OK "]}", 0, 10,
		 "invalid_body"},
		{"provider space", "{\"batch_id\":\"b\",\"provider\":\"p q\",\"records\":[" REC_OK "]}", 0, 10,
		 "invalid_body"},
		{"batch_id number", "{\"batch_id\":1,\"provider\":\"p\",\"records\":[" REC_OK "]}", 0, 10,
		 "invalid_batch_id"},
		{"batch_id null", "{\"batch_id\":null,\"provider\":\"p\",\"records\":[" REC_OK "]}", 0, 10,
		 "invalid_batch_id"},
		{"batch_id empty", "{\"batch_id\":\"\",\"provider\":\"p\",\"records\":[" REC_OK "]}", 0, 10,
		 "invalid_batch_id"},
		{"batch_id space", "{\"batch_id\":\"b 1\",\"provider\":\"p\",\"records\":[" REC_OK "]}", 0, 10,
		 "invalid_batch_id"},
		{"batch_id non-ASCII", "{\"batch_id\":\"\xe6\x89\xb9\",\"provider\":\"p\",\"records\":[" REC_OK "]}", 0,
		 10, "invalid_batch_id"},
		{"batch_id 65",
		 "{\"batch_id\":\"12345678901234567890123456789012345678901234567890123456789012345\",\"provider\":"
		 "\"p\",\"records\":[" REC_OK "]}",
		 0, 10, "invalid_batch_id"},
		{"empty records", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[]}", 0, 10, "empty_batch"},
		{"too many", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[" REC_OK "," REC_OK "," REC_OK "]}",
		 0, 2, "too_many_records"},
		{"at the limit", "{\"batch_id\":\"b\",\"provider\":\"p\",\"records\":[" REC_OK "," REC_OK "]}", 0, 2,
		 NULL},
		{"batch_id 64",
		 "{\"batch_id\":\"1234567890123456789012345678901234567890123456789012345678901234\",\"provider\":"
		 "\"p\",\"records\":[" REC_OK "]}",
		 0, 10, NULL},
	};
	for (size_t i = 0; i < N(cases); i++) {
		meter_limits_t lim = LIM;
		lim.max_records = cases[i].max_records;
		meter_batch_t b;
		const char *code = "unset";
		char err[256] = "unset";
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
		bool ok = meter_batch_parse(cases[i].body, len, &lim, &b, &code, err, sizeof err);
		if (!cases[i].code) {
			cr_expect(ok, "%s: refused with %s (%s)", cases[i].name, code, err);
			if (ok)
				meter_batch_free(&b);
			continue;
		}
		cr_expect(!ok, "%s: accepted", cases[i].name);
		if (ok) {
			meter_batch_free(&b);
			continue;
		}
		cr_expect_str_eq(code, cases[i].code, "%s: code %s, want %s", cases[i].name, code, cases[i].code);
		cr_expect(err[0] != '\0' && strcmp(err, "unset") != 0, "%s: no message", cases[i].name);
		cr_expect_null(strchr(err, '\n'), "%s: message not one line", cases[i].name);
		cr_expect_null(b.root, "%s", cases[i].name);
		cr_expect_null(b.recs, "%s", cases[i].name);
	}
}

Test(unit_batch, null_body)
{
	meter_batch_t b;
	const char *code = NULL;
	char err[64];
	cr_expect(!meter_batch_parse(NULL, 0, &LIM, &b, &code, err, sizeof err));
	cr_expect_str_eq(code, "malformed_json");
	/* code and err are optional */
	cr_expect(!meter_batch_parse("[", 1, &LIM, &b, NULL, NULL, 0));
}

Test(unit_batch, deep_nesting)
{
	static const char *const opens[] = {"[", "{\"a\":"};
	for (size_t k = 0; k < N(opens); k++) {
		size_t depth = 100000, ol = strlen(opens[k]);
		char *body = malloc(depth * ol + 1);
		cr_assert_not_null(body);
		for (size_t i = 0; i < depth; i++)
			memcpy(body + i * ol, opens[k], ol);
		body[depth * ol] = '\0';
		meter_batch_t b;
		const char *code = NULL;
		cr_expect(!parse_str(body, &LIM, &b, &code));
		cr_expect_str_eq(code, "malformed_json");
		free(body);
	}
	/* nesting inside records within the parser's limit: the record is rejected */
	buf_t rec = BUF_INIT;
	for (int i = 0; i < 1000; i++)
		buf_putc(&rec, '[');
	for (int i = 0; i < 1000; i++)
		buf_putc(&rec, ']');
	char *body = wrap(rec.data);
	meter_batch_t b;
	const char *code = NULL;
	cr_assert(parse_str(body, &LIM, &b, &code));
	cr_expect_str_eq(b.recs[0].reject_code, REJ_INVALID_RECORD);
	meter_batch_free(&b);
	free(body);
	buf_free(&rec);
}

/* ---- record rules ---- */

struct kv {
	const char *k;
	const char *v; /* JSON text; NULL removes k */
};

static const struct kv base_record[] = {
	{"record_id", "\"r-1\""},
	{"enterprise", "\"91330483100000001E\""},
	{"facility", "\"prov-a-wz1\""},
	{"category", "\"intelligent_compute\""},
	{"purpose", "\"training\""},
	{"quantity", "\"128.5\""},
	{"unit", "\"card_hour\""},
	{"amount_fen", "1234500"},
	{"started_at", "\"2026-03-01T00:00:00+08:00\""},
	{"ended_at", "\"2026-03-01T08:00:00+08:00\""},
	{"contract_id", "\"HT-2026-0001\""},
};

/* The base record with up to three changes applied (replaced, removed or appended). */
static void build_record(buf_t *out, const struct kv *set, size_t nset)
{
	bool used[3] = {false, false, false};
	bool first = true;
	buf_putc(out, '{');
	for (size_t i = 0; i < N(base_record); i++) {
		const char *v = base_record[i].v;
		for (size_t j = 0; j < nset; j++)
			if (set[j].k && strcmp(set[j].k, base_record[i].k) == 0) {
				v = set[j].v;
				used[j] = true;
			}
		if (!v)
			continue;
		buf_printf(out, "%s\"%s\":%s", first ? "" : ",", base_record[i].k, v);
		first = false;
	}
	for (size_t j = 0; j < nset; j++)
		if (set[j].k && !used[j] && set[j].v) {
			buf_printf(out, "%s\"%s\":%s", first ? "" : ",", set[j].k, set[j].v);
			first = false;
		}
	buf_putc(out, '}');
}

#define ADJ                          \
	{                            \
		"adjusts", "\"r-0\"" \
	}

Test(unit_batch, record_rules)
{
	static const struct {
		const char *name;
		struct kv set[3];
		const char *raw;  /* the whole record text instead of the base */
		const char *code; /* NULL: valid */
	} cases[] = {
		{"base", {{0}}, NULL, NULL},
		{"no purpose", {{"purpose", NULL}}, NULL, NULL},
		{"with invoice", {{"invoice_no", "\"26332000000012345678\""}}, NULL, NULL},
		{"adjustment negative", {ADJ, {"amount_fen", "-81650"}, {"quantity", "\"-8.5\""}}, NULL, NULL},
		{"adjustment zero", {ADJ, {"amount_fen", "0"}, {"quantity", "\"0\""}}, NULL, NULL},
		{"adjustment positive", {ADJ, {"amount_fen", "5"}}, NULL, NULL},
		{"amount 0", {{"amount_fen", "0"}}, NULL, NULL},
		{"amount -0", {{"amount_fen", "-0"}}, NULL, NULL},
		{"amount max", {{"amount_fen", "1000000000000000"}}, NULL, NULL},
		{"adjustment amount min", {ADJ, {"amount_fen", "-1000000000000000"}}, NULL, NULL},
		{"quantity 6 fraction digits", {{"quantity", "\"0.000001\""}}, NULL, NULL},
		{"quantity trailing zeros", {{"quantity", "\"128.500\""}}, NULL, NULL},
		{"started == ended", {{"ended_at", "\"2026-03-01T00:00:00+08:00\""}}, NULL, NULL},
		{"ended at now + skew", {{"ended_at", "\"2026-03-05T00:05:00Z\""}}, NULL, NULL},
		{"contract CJK", {{"contract_id", "\"\xe5\x90\x88\xe5\x90\x8c-2026\""}}, NULL, NULL},
		{"contract with space", {{"contract_id", "\"HT 2026\""}}, NULL, NULL},
		{"key order free",
		 {{0}},
		 "{\"contract_id\":\"c\",\"ended_at\":\"2026-03-01T01:00:00Z\",\"started_at\":\"2026-03-01T00:00:00Z\","
		 "\"amount_fen\":1,\"unit\":\"tokens\",\"quantity\":\"1\",\"seller\":\"91330106100000002H\","
		 "\"category\":\"dataset\",\"facility\":\"f\",\"enterprise\":\"913202141000000038\",\"record_id\":\"r\"}",
		 NULL},
		{"corpus with seller", {{"category", "\"corpus\""}, {"seller", "\"91330106100000002H\""}}, NULL, NULL},
		{"dataset, an institution sells", /* registration authority 1: 机构编制 */
		 {{"category", "\"dataset\""}, {"seller", "\"12100000400000000W\""}},
		 NULL,
		 NULL},
		{"model_purchase without seller",
		 {{"category", "\"model_purchase\""}, {"unit", "\"item\""}},
		 NULL,
		 NULL},
		{"corpus adjustment with seller",
		 {{"category", "\"corpus\""}, {"seller", "\"91330106100000002H\""}, ADJ},
		 NULL,
		 NULL},

		{"not an object", {{0}}, "42", REJ_INVALID_RECORD},
		{"array record", {{0}}, "[]", REJ_INVALID_RECORD},
		{"null record", {{0}}, "null", REJ_INVALID_RECORD},
		{"missing record_id", {{"record_id", NULL}}, NULL, REJ_MISSING_FIELD},
		{"missing enterprise", {{"enterprise", NULL}}, NULL, REJ_MISSING_FIELD},
		{"missing amount_fen", {{"amount_fen", NULL}}, NULL, REJ_MISSING_FIELD},
		{"missing ended_at", {{"ended_at", NULL}}, NULL, REJ_MISSING_FIELD},
		{"missing contract_id", {{"contract_id", NULL}}, NULL, REJ_MISSING_FIELD},
		{"empty object", {{0}}, "{}", REJ_MISSING_FIELD},
		{"unknown field", {{"colour", "\"red\""}}, NULL, REJ_UNKNOWN_FIELD},
		{"case matters", {{"Record_id", "\"x\""}}, NULL, REJ_UNKNOWN_FIELD},
		{"amount real", {{"amount_fen", "1.0"}}, NULL, REJ_WRONG_TYPE},
		{"amount exponent", {{"amount_fen", "1e3"}}, NULL, REJ_WRONG_TYPE},
		{"amount string", {{"amount_fen", "\"100\""}}, NULL, REJ_WRONG_TYPE},
		{"amount null", {{"amount_fen", "null"}}, NULL, REJ_WRONG_TYPE},
		{"amount bool", {{"amount_fen", "true"}}, NULL, REJ_WRONG_TYPE},
		{"record_id number", {{"record_id", "5"}}, NULL, REJ_WRONG_TYPE},
		{"enterprise null", {{"enterprise", "null"}}, NULL, REJ_WRONG_TYPE},
		{"purpose null", {{"purpose", "null"}}, NULL, REJ_WRONG_TYPE},
		{"quantity number", {{"quantity", "128.5"}}, NULL, REJ_WRONG_TYPE},
		{"started_at number", {{"started_at", "0"}}, NULL, REJ_WRONG_TYPE},
		{"adjusts object", {{"adjusts", "{}"}}, NULL, REJ_WRONG_TYPE},
		{"record_id empty", {{"record_id", "\"\""}}, NULL, REJ_RECORD_ID},
		{"record_id space", {{"record_id", "\"r 1\""}}, NULL, REJ_RECORD_ID},
		{"record_id 65",
		 {{"record_id", "\"12345678901234567890123456789012345678901234567890123456789012345\""}},
		 NULL,
		 REJ_RECORD_ID},
		{"enterprise check char", {{"enterprise", "\"91330483100000001F\""}}, NULL, REJ_ENTERPRISE},
		{"enterprise lower case", {{"enterprise", "\"91350100m000100y43\""}}, NULL, REJ_ENTERPRISE},
		{"facility empty", {{"facility", "\"\""}}, NULL, REJ_FACILITY},
		{"facility tab", {{"facility", "\"f\\t1\""}}, NULL, REJ_FACILITY},
		{"category", {{"category", "\"gpu\""}}, NULL, REJ_CATEGORY},
		{"category case", {{"category", "\"Corpus\""}}, NULL, REJ_CATEGORY},
		{"purpose", {{"purpose", "\"mining\""}}, NULL, REJ_PURPOSE},
		{"quantity exponent", {{"quantity", "\"1e3\""}}, NULL, REJ_QUANTITY},
		{"quantity 7 fraction digits", {{"quantity", "\"0.0000001\""}}, NULL, REJ_QUANTITY},
		{"quantity leading zero", {{"quantity", "\"01\""}}, NULL, REJ_QUANTITY},
		{"quantity negative", {{"quantity", "\"-8.5\""}}, NULL, REJ_QUANTITY},
		{"quantity -0", {{"quantity", "\"-0\""}}, NULL, REJ_QUANTITY},
		{"quantity empty", {{"quantity", "\"\""}}, NULL, REJ_QUANTITY},
		{"quantity plus", {{"quantity", "\"+1\""}}, NULL, REJ_QUANTITY},
		{"unit", {{"unit", "\"hours\""}}, NULL, REJ_UNIT},
		{"amount negative", {{"amount_fen", "-1"}}, NULL, REJ_AMOUNT},
		{"amount too big", {{"amount_fen", "1000000000000001"}}, NULL, REJ_AMOUNT},
		{"adjustment amount too small", {{"amount_fen", "-1000000000000001"}, ADJ}, NULL, REJ_AMOUNT},
		{"amount int64 max", {{"amount_fen", "9223372036854775807"}}, NULL, REJ_AMOUNT},
		{"amount int64 min", {{"amount_fen", "-9223372036854775808"}, ADJ}, NULL, REJ_AMOUNT},
		{"started no offset", {{"started_at", "\"2026-03-01T00:00:00\""}}, NULL, REJ_TIME},
		{"ended impossible date", {{"ended_at", "\"2026-02-30T00:00:00Z\""}}, NULL, REJ_TIME},
		{"ended date only", {{"ended_at", "\"2026-03-01\""}}, NULL, REJ_TIME},
		{"time order", {{"started_at", "\"2026-03-01T08:00:00.000001+08:00\""}}, NULL, REJ_TIME_ORDER},
		{"future", {{"ended_at", "\"2027-01-01T00:00:00Z\""}}, NULL, REJ_FUTURE},
		{"future by 1 us", {{"ended_at", "\"2026-03-05T00:05:00.000001Z\""}}, NULL, REJ_FUTURE},
		{"contract empty", {{"contract_id", "\"\""}}, NULL, REJ_CONTRACT},
		{"contract control", {{"contract_id", "\"HT\\u0001\""}}, NULL, REJ_CONTRACT},
		{"contract newline", {{"contract_id", "\"HT\\n1\""}}, NULL, REJ_CONTRACT},
		{"contract 65 bytes",
		 {{"contract_id", "\"12345678901234567890123456789012345678901234567890123456789012345\""}},
		 NULL,
		 REJ_CONTRACT},
		{"invoice short", {{"invoice_no", "\"123\""}}, NULL, REJ_INVOICE},
		{"invoice letters", {{"invoice_no", "\"2633200000001234567X\""}}, NULL, REJ_INVOICE},
		{"invoice number", {{"invoice_no", "2633200000"}}, NULL, REJ_WRONG_TYPE},
		{"adjusts itself", {{"adjusts", "\"r-1\""}}, NULL, REJ_ADJUSTS},
		{"adjusts empty", {{"adjusts", "\"\""}}, NULL, REJ_ADJUSTS},
		{"adjusts space", {{"adjusts", "\"r 0\""}}, NULL, REJ_ADJUSTS},
		/* seller: required for corpus and dataset, refused for the others */
		{"corpus without seller", {{"seller", NULL}, {"category", "\"corpus\""}}, NULL, REJ_SELLER_REQUIRED},
		{"dataset without seller", {{"seller", NULL}, {"category", "\"dataset\""}}, NULL, REJ_SELLER_REQUIRED},
		{"corpus adjustment without seller",
		 {{"seller", NULL}, {"category", "\"corpus\""}, ADJ},
		 NULL,
		 REJ_SELLER_REQUIRED},
		{"seller on intelligent_compute", {{"seller", "\"91330106100000002H\""}}, NULL, REJ_SELLER_NOT_ALLOWED},
		{"seller on model_purchase",
		 {{"seller", "\"91330106100000002H\""}, {"category", "\"model_purchase\""}},
		 NULL,
		 REJ_SELLER_NOT_ALLOWED},
		{"seller on model_service, even a bad one",
		 {{"seller", "\"x\""}, {"category", "\"model_service\""}},
		 NULL,
		 REJ_SELLER_NOT_ALLOWED},
		{"seller check char",
		 {{"seller", "\"91330106100000002J\""}, {"category", "\"corpus\""}},
		 NULL,
		 REJ_SELLER},
		{"seller lower case",
		 {{"seller", "\"91350100m000100y43\""}, {"category", "\"dataset\""}},
		 NULL,
		 REJ_SELLER},
		{"seller 17", {{"seller", "\"91330106100000002\""}, {"category", "\"corpus\""}}, NULL, REJ_SELLER},
		{"seller empty", {{"seller", "\"\""}, {"category", "\"corpus\""}}, NULL, REJ_SELLER},
		{"seller number", {{"seller", "91330106"}, {"category", "\"corpus\""}}, NULL, REJ_WRONG_TYPE},
		{"seller null on corpus", {{"seller", "null"}, {"category", "\"corpus\""}}, NULL, REJ_WRONG_TYPE},
		{"seller null on another category", {{"seller", "null"}}, NULL, REJ_WRONG_TYPE},
		/* the fields before it first */
		{"corpus without seller, bad unit",
		 {{"unit", "\"hours\""}, {"category", "\"corpus\""}, {"seller", NULL}},
		 NULL,
		 REJ_UNIT},
	};
	for (size_t i = 0; i < N(cases); i++) {
		buf_t rec = BUF_INIT;
		if (cases[i].raw)
			buf_puts(&rec, cases[i].raw);
		else
			build_record(&rec, cases[i].set, 3);
		char *body = wrap(rec.data);
		meter_batch_t b;
		const char *code = NULL;
		char err[256];
		bool ok = meter_batch_parse(body, strlen(body), &LIM, &b, &code, err, sizeof err);
		cr_assert(ok, "%s: body refused: %s %s", cases[i].name, code, err);
		cr_assert_eq(b.n, 1);
		const meter_record_t *r = &b.recs[0];
		if (!cases[i].code) {
			cr_expect_null(r->reject_code, "%s: rejected %s (%s)", cases[i].name, r->reject_code,
				       r->reject_detail);
			cr_expect_eq(b.n_valid, 1, "%s", cases[i].name);
		} else {
			cr_expect(r->reject_code && strcmp(r->reject_code, cases[i].code) == 0,
				  "%s: got %s (%s), want %s", cases[i].name, r->reject_code ? r->reject_code : "valid",
				  r->reject_detail, cases[i].code);
			cr_expect_eq(b.n_valid, 0, "%s", cases[i].name);
			cr_expect(r->reject_detail[0] != '\0', "%s: no detail", cases[i].name);
			/* the detail names the field, and a string value is never echoed */
			const char *field = cases[i].set[0].k;
			if (field && strcmp(cases[i].code, REJ_TIME_ORDER) != 0)
				cr_expect_not_null(strstr(r->reject_detail, field), "%s: detail \"%s\" lacks %s",
						   cases[i].name, r->reject_detail, field);
			const char *v = cases[i].set[0].v;
			if (v && v[0] == '"' && strlen(v) > 4) {
				char inner[128];
				snprintf(inner, sizeof inner, "%.*s", (int)strlen(v) - 2, v + 1);
				cr_expect_null(strstr(r->reject_detail, inner), "%s: detail echoes the value",
					       cases[i].name);
			}
		}
		meter_batch_free(&b);
		free(body);
		buf_free(&rec);
	}
}

Test(unit_batch, first_rule_wins)
{
	/* unknown fields first, then the fields in protocol order */
	static const struct {
		const char *name;
		struct kv set[3];
		const char *code;
	} cases[] = {
		{"unknown before missing", {{"record_id", NULL}, {"zz", "1"}}, REJ_UNKNOWN_FIELD},
		{"record_id before enterprise", {{"record_id", "\"\""}, {"enterprise", "\"x\""}}, REJ_RECORD_ID},
		{"enterprise before amount", {{"enterprise", "\"x\""}, {"amount_fen", "-1"}}, REJ_ENTERPRISE},
		{"quantity before unit", {{"quantity", "\"x\""}, {"unit", "\"x\""}}, REJ_QUANTITY},
		{"missing unit before bad amount", {{"unit", NULL}, {"amount_fen", "1.5"}}, REJ_MISSING_FIELD},
	};
	for (size_t i = 0; i < N(cases); i++) {
		buf_t rec = BUF_INIT;
		build_record(&rec, cases[i].set, 3);
		char *body = wrap(rec.data);
		meter_batch_t b;
		const char *code = NULL;
		cr_assert(parse_str(body, &LIM, &b, &code), "%s", cases[i].name);
		cr_expect(b.recs[0].reject_code && strcmp(b.recs[0].reject_code, cases[i].code) == 0, "%s: got %s",
			  cases[i].name, b.recs[0].reject_code ? b.recs[0].reject_code : "valid");
		meter_batch_free(&b);
		free(body);
		buf_free(&rec);
	}
}

Test(unit_batch, clock_skew_and_now)
{
	static const struct {
		int64_t skew_s;
		const char *ended;
		bool ok;
	} cases[] = {
		{0, "\"2026-03-05T00:00:00Z\"", true},         {0, "\"2026-03-05T00:00:00.000001Z\"", false},
		{300, "\"2026-03-05T08:05:00+08:00\"", true},  {300, "\"2026-03-05T08:05:01+08:00\"", false},
		{INT64_MAX, "\"9999-12-31T23:59:59Z\"", true}, /* saturates rather than overflowing */
	};
	for (size_t i = 0; i < N(cases); i++) {
		meter_limits_t lim = LIM;
		lim.clock_skew_s = cases[i].skew_s;
		struct kv set[3] = {{"ended_at", cases[i].ended}};
		buf_t rec = BUF_INIT;
		build_record(&rec, set, 3);
		char *body = wrap(rec.data);
		meter_batch_t b;
		const char *code = NULL;
		cr_assert(parse_str(body, &lim, &b, &code));
		cr_expect_eq(b.recs[0].reject_code == NULL, cases[i].ok, "case %zu: %s", i,
			     b.recs[0].reject_code ? b.recs[0].reject_code : "valid");
		meter_batch_free(&b);
		free(body);
		buf_free(&rec);
	}
}

/* ---- duplicates within a batch ---- */

static char *batch_of(const char *const *recs, size_t n)
{
	buf_t all = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&all, ',');
		buf_puts(&all, recs[i]);
	}
	char *body = wrap(all.data);
	buf_free(&all);
	return body;
}

#define R_A REC_OK
/* same content as R_A, other key order and an unnormalised quantity */
#define R_A2                                                                                             \
	"{\"enterprise\":\"91330483100000001E\",\"record_id\":\"r1\",\"facility\":\"f1\",\"category\":"  \
	"\"model_purchase\",\"quantity\":\"1.000\",\"unit\":\"item\",\"amount_fen\":100,\"started_at\":" \
	"\"2026-03-01T08:00:00+08:00\",\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"c1\"}"
/* same id as R_A, other amount */
#define R_B                                                                                             \
	"{\"record_id\":\"r1\",\"enterprise\":\"91330483100000001E\",\"facility\":\"f1\",\"category\":" \
	"\"model_purchase\",\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":101,\"started_at\":"    \
	"\"2026-03-01T00:00:00Z\",\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"c1\"}"
/* same id as R_A, invalid */
#define R_BAD                                                                                        \
	"{\"record_id\":\"r1\",\"enterprise\":\"x\",\"facility\":\"f1\",\"category\":"               \
	"\"model_purchase\",\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":101,\"started_at\":" \
	"\"2026-03-01T00:00:00Z\",\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"c1\"}"
/* another id */
#define R_C                                                                                             \
	"{\"record_id\":\"r2\",\"enterprise\":\"91330483100000001E\",\"facility\":\"f1\",\"category\":" \
	"\"model_purchase\",\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":100,\"started_at\":"    \
	"\"2026-03-01T00:00:00Z\",\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"c1\"}"

/* Per record: 'v' valid, 'd' duplicate_in_batch, 'c' conflict, 'x' rejected otherwise. */
Test(unit_batch, duplicates_in_batch)
{
	static const struct {
		const char *name;
		const char *recs[4];
		size_t n;
		const char *want;
		size_t n_valid;
	} cases[] = {
		{"distinct", {R_A, R_C}, 2, "vv", 2},
		{"identical", {R_A, R_A}, 2, "vd", 1},
		{"identical after normalisation", {R_A, R_A2}, 2, "vd", 1},
		{"different content", {R_A, R_B}, 2, "vc", 1},
		{"conflict then duplicate", {R_B, R_A, R_B, R_C}, 4, "vcdv", 2},
		{"invalid first does not count", {R_BAD, R_B, R_A}, 3, "xvc", 1},
		{"three identical", {R_A, R_A, R_A}, 3, "vdd", 1},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char *body = batch_of(cases[i].recs, cases[i].n);
		meter_batch_t b;
		const char *code = NULL;
		cr_assert(parse_str(body, &LIM, &b, &code), "%s", cases[i].name);
		cr_assert_eq(b.n, cases[i].n);
		for (size_t k = 0; k < b.n; k++) {
			const meter_record_t *r = &b.recs[k];
			char got = r->reject_code ? (strcmp(r->reject_code, REJ_DUPLICATE_IN_BATCH) == 0 ? 'c' : 'x')
						  : (r->duplicate_in_batch ? 'd' : 'v');
			cr_expect_eq(got, cases[i].want[k], "%s: record %zu is '%c', want '%c' (%s)", cases[i].name, k,
				     got, cases[i].want[k], r->reject_detail);
		}
		cr_expect_eq(b.n_valid, cases[i].n_valid, "%s: n_valid %zu", cases[i].name, b.n_valid);
		meter_batch_free(&b);
		free(body);
	}
}

Test(unit_batch, large_batch)
{
	/* 10000 records: distinct ids, then all the same id (identical / alternating content) */
	for (int mode = 0; mode < 3; mode++) {
		buf_t recs = BUF_INIT;
		for (int i = 0; i < 10000; i++)
			buf_printf(
				&recs,
				"%s{\"record_id\":\"r%d\",\"enterprise\":\"91330483100000001E\",\"facility\":\"f\","
				"\"category\":\"model_purchase\",\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":%d,"
				"\"started_at\":\"2026-03-01T00:00:00Z\",\"ended_at\":\"2026-03-01T01:00:00Z\","
				"\"contract_id\":\"c\"}",
				i ? "," : "", mode == 0 ? i : 0, mode == 2 ? i % 2 : 0);
		char *body = wrap(recs.data);
		meter_batch_t b;
		const char *code = NULL;
		cr_assert(parse_str(body, &LIM, &b, &code), "mode %d: %s", mode, code);
		cr_assert_eq(b.n, 10000);
		size_t want = mode == 0 ? 10000 : 1;
		cr_expect_eq(b.n_valid, want, "mode %d: n_valid %zu", mode, b.n_valid);
		if (mode == 2) {
			cr_expect_str_eq(b.recs[1].reject_code, REJ_DUPLICATE_IN_BATCH);
			cr_expect(b.recs[2].duplicate_in_batch);
		}
		meter_batch_free(&b);
		free(body);
		buf_free(&recs);
	}
}

/* ---- output ---- */

/* Decodes a one-dimensional binary array (array_send format) into its
 * elements: ptr/len each, len -1 for NULL; returns the count or -1. */
typedef struct {
	const unsigned char *p;
	int32_t len;
} elem_t;

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int decode_array(const buf_t *a, uint32_t oid, elem_t *out, int cap)
{
	const unsigned char *p = (const unsigned char *)a->data;
	if (a->len < 12 || be32(p + 4) != 0 || be32(p + 8) != oid)
		return -1;
	if (be32(p) == 0)
		return a->len == 12 ? 0 : -1;
	if (be32(p) != 1 || a->len < 20 || be32(p + 16) != 1)
		return -1;
	int n = (int)be32(p + 12);
	size_t off = 20;
	for (int i = 0; i < n; i++) {
		if (i >= cap || off + 4 > a->len)
			return -1;
		int32_t l = (int32_t)be32(p + off);
		off += 4;
		if (l >= 0 && off + (size_t)l > a->len)
			return -1;
		out[i].p = p + off;
		out[i].len = l;
		off += l < 0 ? 0 : (size_t)l;
	}
	return off == a->len ? n : -1;
}

static bool elem_is(elem_t e, const char *s)
{
	return s ? e.len == (int32_t)strlen(s) && memcmp(e.p, s, strlen(s)) == 0 : e.len == -1;
}

static int64_t elem_i64(elem_t e)
{
	return (int64_t)((uint64_t)be32(e.p) << 32 | be32(e.p + 4));
}

#define PG_EPOCH_US (INT64_C(946684800) * 1000000)

static void columns_of(const meter_batch_t *b, buf_t cols[METER_NCOLS])
{
	for (int c = 0; c < METER_NCOLS; c++)
		cols[c] = (buf_t)BUF_INIT;
	meter_batch_columns(b, cols);
}

static void columns_free(buf_t cols[METER_NCOLS])
{
	for (int c = 0; c < METER_NCOLS; c++)
		buf_free(&cols[c]);
}

Test(unit_batch, columns)
{
	meter_batch_t b;
	const char *code = NULL;
	cr_assert(parse_str(BATCH_A, &LIM, &b, &code));
	buf_t cols[METER_NCOLS];
	columns_of(&b, cols);
	meter_batch_columns(&b, cols); /* again: each column is reset first */
	static const uint32_t oid[METER_NCOLS] = {23, 25, 25, 25, 25, 25, 25, 25, 20, 1184, 1184, 25, 25, 25, 17, 25};
	elem_t e[METER_NCOLS][4];
	for (int c = 0; c < METER_NCOLS; c++)
		cr_assert_eq(decode_array(&cols[c], oid[c], e[c], 4), 3, "column %d", c);
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(e[MC_INDEX][i].len, 4);
		cr_expect_eq(be32(e[MC_INDEX][i].p), (uint32_t)i);
		cr_expect_eq(e[MC_HASH][i].len, 32);
		cr_expect_eq(memcmp(e[MC_HASH][i].p, b.recs[i].content_hash, 32), 0, "record %d hash", i);
	}
	cr_expect(elem_is(e[MC_ID][0], "r-000001"));
	cr_expect(elem_is(e[MC_ENT][0], "91330483100000001E"));
	cr_expect(elem_is(e[MC_FAC][0], "prov-a-wz1"));
	cr_expect(elem_is(e[MC_CAT][0], "intelligent_compute"));
	cr_expect(elem_is(e[MC_PUR][0], "training"));
	cr_expect(elem_is(e[MC_QTY][0], "128.5"));
	cr_expect(elem_is(e[MC_UNIT][0], "card_hour"));
	cr_expect_eq(e[MC_AMT][0].len, 8);
	cr_expect_eq(elem_i64(e[MC_AMT][0]), 1234500);
	/* 2026-02-28T16:00:00Z and 2026-03-01T00:00:00Z, from PostgreSQL's epoch */
	cr_expect_eq(elem_i64(e[MC_ST][0]), INT64_C(1772294400) * 1000000 - PG_EPOCH_US);
	cr_expect_eq(elem_i64(e[MC_EN][0]), INT64_C(1772323200) * 1000000 - PG_EPOCH_US);
	cr_expect(elem_is(e[MC_CON][0], "HT-2026-0001"));
	cr_expect(elem_is(e[MC_INV][0], NULL));
	cr_expect(elem_is(e[MC_ADJ][0], NULL));
	cr_expect(elem_is(e[MC_INV][1], "26332000000012345678"));
	cr_expect_eq(elem_i64(e[MC_AMT][2]), -81650);
	cr_expect(elem_is(e[MC_QTY][2], "-8.5"));
	cr_expect(elem_is(e[MC_ADJ][2], "r-000001"));
	for (int i = 0; i < 3; i++)
		cr_expect(elem_is(e[MC_SEL][i], NULL), "record %d has no seller", i);

	/* nothing rejected */
	buf_t out = BUF_INIT;
	meter_batch_rejected_json(&b, &out);
	cr_expect_str_eq(out.data, "[]");
	buf_free(&out);
	columns_free(cols);
	meter_batch_free(&b);
}

Test(unit_batch, columns_keep_bytes_and_skip)
{
	const char *recs[] = {
		"{\"record_id\":\"r\\\"1\",\"enterprise\":\"91330483100000001E\",\"facility\":\"f\\\\1\",\"category\":"
		"\"model_purchase\",\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":1,\"started_at\":"
		"\"2026-03-01T00:00:00Z\",\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"\xe5\x90\x88\\\"\"}",
		R_A,
		R_A,
		R_BAD,
	};
	char *body = batch_of(recs, N(recs));
	meter_batch_t b;
	const char *code = NULL;
	cr_assert(parse_str(body, &LIM, &b, &code));
	cr_expect_eq(b.n_valid, 2);
	buf_t cols[METER_NCOLS];
	columns_of(&b, cols);
	elem_t e[4];
	/* the duplicate and the invalid one are left out */
	cr_assert_eq(decode_array(&cols[MC_ID], 25, e, 4), 2);
	cr_expect(elem_is(e[0], "r\"1"));
	cr_assert_eq(decode_array(&cols[MC_FAC], 25, e, 4), 2);
	cr_expect(elem_is(e[0], "f\\1"));
	cr_assert_eq(decode_array(&cols[MC_CON], 25, e, 4), 2);
	cr_expect(elem_is(e[0], "\xe5\x90\x88\""));
	cr_assert_eq(decode_array(&cols[MC_PUR], 25, e, 4), 2);
	cr_expect(elem_is(e[0], NULL));
	cr_assert_eq(decode_array(&cols[MC_INDEX], 23, e, 4), 2);
	cr_expect_eq(be32(e[1].p), 1u);
	columns_free(cols);
	meter_batch_free(&b);
	free(body);
}

Test(unit_batch, columns_of_no_records_are_empty_arrays)
{
	const char *recs[] = {R_BAD};
	char *body = batch_of(recs, N(recs));
	meter_batch_t b;
	const char *code = NULL;
	cr_assert(parse_str(body, &LIM, &b, &code));
	cr_assert_eq(b.n_valid, 0);
	buf_t cols[METER_NCOLS];
	columns_of(&b, cols);
	elem_t e[1];
	cr_expect_eq(decode_array(&cols[MC_ID], 25, e, 1), 0);
	cr_expect_eq(decode_array(&cols[MC_HASH], 17, e, 1), 0);
	columns_free(cols);
	meter_batch_free(&b);
	free(body);
}

Test(unit_batch, rejected_json)
{
	const char *recs[] = {
		R_A,
		R_B, /* conflict */
		"7",
		/* hostile values: neither echoed in the detail nor in record_id */
		"{\"record_id\":\"<script> alert(1)</script>\",\"enterprise\":\"x\"}",
		"{\"record_id\":\"r9\",\"enterprise\":\"EVIL\\u001b[31mVALUE\",\"facility\":\"f\"}",
	};
	char *body = batch_of(recs, N(recs));
	meter_batch_t b;
	const char *code = NULL;
	cr_assert(parse_str(body, &LIM, &b, &code));
	buf_t out = BUF_INIT;
	meter_batch_rejected_json(&b, &out);
	cr_expect_null(strstr(out.data, "script"), "%s", out.data);
	cr_expect_null(strstr(out.data, "EVIL"), "%s", out.data);
	json_t *arr = json_loads(out.data, JSON_REJECT_DUPLICATES, NULL);
	cr_assert_not_null(arr, "%s", out.data);
	cr_assert_eq(json_array_size(arr), 4);
	static const struct {
		int index;
		const char *record_id; /* NULL: JSON null */
		const char *code;
	} want[] = {
		{1, "r1", "conflict"},
		{2, NULL, REJ_INVALID_RECORD},
		{3, NULL, REJ_RECORD_ID},
		{4, "r9", REJ_ENTERPRISE},
	};
	for (size_t i = 0; i < N(want); i++) {
		json_t *o = json_array_get(arr, i);
		cr_expect_eq(json_object_size(o), 4);
		cr_expect_eq(json_integer_value(json_object_get(o, "index")), want[i].index);
		if (want[i].record_id)
			cr_expect_str_eq(json_string_value(json_object_get(o, "record_id")), want[i].record_id);
		else
			cr_expect(json_is_null(json_object_get(o, "record_id")), "entry %zu", i);
		cr_expect_str_eq(json_string_value(json_object_get(o, "code")), want[i].code);
		cr_expect(json_is_string(json_object_get(o, "detail")));
	}
	json_decref(arr);
	buf_free(&out);
	meter_batch_free(&b);
	free(body);
}

/* ---- the content hash ---- */

static void put_field(buf_t *b, const char *s)
{
	if (!s) {
		buf_append(b, "\xff\xff\xff\xff", 4);
		return;
	}
	size_t n = strlen(s);
	unsigned char l[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
			      (unsigned char)n};
	buf_append(b, l, 4);
	buf_append(b, s, n);
}

static meter_record_t sample_record(void)
{
	meter_record_t r;
	memset(&r, 0, sizeof r);
	r.record_id = "r-000003";
	r.enterprise = "91330483100000001E";
	r.facility = "prov-a-wz1";
	r.category = "intelligent_compute";
	r.purpose = "training";
	r.quantity = "-8.50";
	strcpy(r.quantity_norm, "-8.5");
	r.unit = "card_hour";
	r.amount_fen = -81650;
	r.started_us = 1772294400000000LL;
	r.ended_us = 1772323200000000LL;
	r.contract_id = "HT-2026-0001";
	r.invoice_no = NULL;
	r.adjusts = "r-000001";
	return r;
}

Test(unit_batch, hash_encoding)
{
	meter_record_t r = sample_record();
	meter_record_hash(&r);
	buf_t enc = BUF_INIT;
	const char *fields[] = {"r-000003",         "91330483100000001E",
				"prov-a-wz1",       "intelligent_compute",
				"training",         "-8.5",
				"card_hour",        "-81650",
				"1772294400000000", "1772323200000000",
				"HT-2026-0001",     NULL,
				"r-000001"};
	for (size_t i = 0; i < N(fields); i++)
		put_field(&enc, fields[i]);
	unsigned char want[32];
	SHA256((const unsigned char *)enc.data, enc.len, want);
	cr_expect_eq(memcmp(r.content_hash, want, 32), 0, "hash differs from the documented encoding");
	buf_free(&enc);

	/* the raw quantity text is not hashed, only its normal form */
	meter_record_t r2 = sample_record();
	r2.quantity = "-8.5";
	meter_record_hash(&r2);
	cr_expect_eq(memcmp(r.content_hash, r2.content_hash, 32), 0);

	/* the vector's adjustment record hashes the same */
	meter_batch_t b;
	const char *code = NULL;
	cr_assert(parse_str(BATCH_A, &LIM, &b, &code));
	cr_expect_eq(memcmp(b.recs[2].content_hash, want, 32), 0);
	meter_batch_free(&b);
}

Test(unit_batch, hash_differs_per_field)
{
	meter_record_t base = sample_record();
	meter_record_hash(&base);
	meter_record_t again = sample_record();
	meter_record_hash(&again);
	cr_expect_eq(memcmp(base.content_hash, again.content_hash, 32), 0, "hash not stable");

	for (int f = 0; f < 15; f++) {
		meter_record_t r = sample_record();
		switch (f) {
		case 0: r.record_id = "r-000004"; break;
		case 1: r.enterprise = "91330106100000002H"; break;
		case 2: r.facility = "prov-a-wz2"; break;
		case 3: r.category = "supercomputing"; break;
		case 4: r.purpose = NULL; break;
		case 5: strcpy(r.quantity_norm, "-8.6"); break;
		case 6: r.unit = "core_hour"; break;
		case 7: r.amount_fen = -81651; break;
		case 8: r.started_us += 1; break;
		case 9: r.ended_us += 1; break;
		case 10: r.contract_id = "HT-2026-0002"; break;
		case 11: r.invoice_no = "26332000000012345678"; break;
		case 12: r.adjusts = NULL; break;
		case 13: r.purpose = ""; break; /* empty differs from absent */
		case 14: r.invoice_no = ""; break;
		}
		meter_record_hash(&r);
		cr_expect_neq(memcmp(base.content_hash, r.content_hash, 32), 0, "change %d: same hash", f);
	}
	/* length prefixes keep field boundaries apart */
	meter_record_t x = sample_record(), y = sample_record();
	x.record_id = "ab";
	x.enterprise = "c";
	y.record_id = "a";
	y.enterprise = "bc";
	meter_record_hash(&x);
	meter_record_hash(&y);
	cr_expect_neq(memcmp(x.content_hash, y.content_hash, 32), 0);
}

/* seller: hashed after the other fields, only when present, so that every
 * record without one keeps the hash it had before the field existed (a
 * record stored then and sent again is still a duplicate, not a conflict) */
Test(unit_batch, hash_of_the_seller)
{
	meter_record_t r = sample_record();
	r.category = "corpus";
	r.seller = "12100000400000000W";
	meter_record_hash(&r);
	buf_t enc = BUF_INIT;
	const char *fields[] = {"r-000003",         "91330483100000001E",
				"prov-a-wz1",       "corpus",
				"training",         "-8.5",
				"card_hour",        "-81650",
				"1772294400000000", "1772323200000000",
				"HT-2026-0001",     NULL,
				"r-000001",         "12100000400000000W"};
	for (size_t i = 0; i < N(fields); i++)
		put_field(&enc, fields[i]);
	unsigned char want[32];
	SHA256((const unsigned char *)enc.data, enc.len, want);
	cr_expect_eq(memcmp(r.content_hash, want, 32), 0, "hash differs from the documented encoding");
	buf_free(&enc);

	/* another seller, or none, is other content */
	meter_record_t other = r, none = r;
	other.seller = "91330106100000002H";
	none.seller = NULL;
	meter_record_hash(&other);
	meter_record_hash(&none);
	cr_expect_neq(memcmp(r.content_hash, other.content_hash, 32), 0);
	cr_expect_neq(memcmp(r.content_hash, none.content_hash, 32), 0);
	/* ... and none is the encoding without the field at all (not an absent marker) */
	buf_t old = BUF_INIT;
	for (size_t i = 0; i + 1 < N(fields); i++)
		put_field(&old, fields[i]);
	SHA256((const unsigned char *)old.data, old.len, want);
	cr_expect_eq(memcmp(none.content_hash, want, 32), 0, "a record without seller hashes as before");
	buf_free(&old);

	/* in a batch: the same record id with another seller is a conflict, the
	 * same seller a duplicate; the seller reaches its column */
#define SELLER_REC(seller)                                                                                         \
	"{\"record_id\":\"c-1\",\"enterprise\":\"91330483100000001E\",\"facility\":\"f\",\"category\":\"corpus\"," \
	"\"quantity\":\"1\",\"unit\":\"item\",\"amount_fen\":100,\"started_at\":\"2026-03-01T00:00:00Z\","         \
	"\"ended_at\":\"2026-03-01T01:00:00Z\",\"contract_id\":\"c\",\"seller\":\"" seller "\"}"
	buf_t body = BUF_INIT;
	buf_puts(&body, "{\"batch_id\":\"b-1\",\"provider\":\"prov-a\",\"records\":[");
	buf_puts(&body, SELLER_REC("12100000400000000W") "," SELLER_REC("12100000400000000W") "," SELLER_REC(
				"91330106100000002H"));
#undef SELLER_REC
	buf_puts(&body, "]}");
	meter_batch_t b;
	const char *code = NULL;
	cr_assert(parse_str(body.data, &LIM, &b, &code), "%s", code);
	cr_expect_null(b.recs[0].reject_code);
	cr_expect_str_eq(b.recs[0].seller, "12100000400000000W");
	cr_expect(b.recs[1].duplicate_in_batch);
	cr_expect_str_eq(b.recs[2].reject_code, REJ_DUPLICATE_IN_BATCH);
	buf_t cols[METER_NCOLS];
	columns_of(&b, cols);
	elem_t e[4];
	cr_assert_eq(decode_array(&cols[MC_SEL], 25, e, 4), 1);
	cr_expect(elem_is(e[0], "12100000400000000W"));
	columns_free(cols);
	meter_batch_free(&b);
	buf_free(&body);
}
