/* batch: strict parsing and field rules of usage batches (see batch.h).
 *
 * Choices where the protocol (docs/protocol.md) was silent:
 * - JSON null is never "absent": for a required or an optional field it is wrong_type.
 * - Rule order in a record: unknown keys, then the fields in protocol order, each
 *   missing -> type -> content; the first broken rule is reported.
 * - A well-formed body that is not an object (e.g. "[]", "7") is invalid_body;
 *   a missing batch_id is invalid_body, a present but bad one invalid_batch_id.
 * - Numbers JSON parsing cannot hold (integers beyond int64, reals beyond
 *   double) make the whole body malformed_json (metering/json.h).
 * - lim must not be NULL; max_records is taken literally.
 */
#include "metering/batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/pgarray.h"
#include "common/validate.h"

#define MAX_AMOUNT_FEN 1000000000000000LL /* 10^15 fen; |amount_fen| above it is refused */
#define QTY_MAX_FRAC 6

/* Record fields in protocol order (also the order of the canonical encoding). */
enum {
	F_RECORD_ID,
	F_ENTERPRISE,
	F_FACILITY,
	F_CATEGORY,
	F_PURPOSE,
	F_QUANTITY,
	F_UNIT,
	F_AMOUNT,
	F_STARTED,
	F_ENDED,
	F_CONTRACT,
	F_INVOICE,
	F_ADJUSTS,
	F_SELLER, /* hashed only when present (meter_record_hash) */
	F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"record_id",  "enterprise", "facility", "category",    "purpose",    "quantity", "unit",
	"amount_fen", "started_at", "ended_at", "contract_id", "invoice_no", "adjusts",  "seller",
};

/* seller: optional as a key, required for the seller categories (check_record) */
static const bool field_optional[F_COUNT] = {
	[F_PURPOSE] = true, [F_INVOICE] = true, [F_ADJUSTS] = true, [F_SELLER] = true};

/* The code for a string field whose content breaks its rule. */
static const char *const field_codes[F_COUNT] = {
	REJ_RECORD_ID, REJ_ENTERPRISE, REJ_FACILITY, REJ_CATEGORY, REJ_PURPOSE, REJ_QUANTITY, REJ_UNIT,
	REJ_AMOUNT,    REJ_TIME,       REJ_TIME,     REJ_CONTRACT, REJ_INVOICE, REJ_ADJUSTS,  REJ_SELLER,
};

static const char *const categories[] = {"intelligent_compute",
					 "supercomputing",
					 "general_compute",
					 "model_service",
					 "corpus",
					 "dataset",
					 "model_purchase",
					 NULL};
/* The categories bought from a third party through a marketplace provider,
 * whose records name the seller (docs/policies.md "The other voucher kinds"). */
static const char *const seller_categories[] = {"corpus", "dataset", NULL};
static const char *const purposes[] = {"training", "inference", "application", NULL};
static const char *const units[] = {"card_hour", "core_hour", "pflops_day", "tokens", "item", NULL};

static void set_msg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_msg(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Index of a record key in field_names, or -1. */
static int field_index(const char *key)
{
	for (int f = 0; f < F_COUNT; f++)
		if (field_names[f][0] == key[0] && strcmp(field_names[f], key) == 0)
			return f;
	return -1;
}

static void reject(meter_record_t *r, const char *code, int f, const char *what)
{
	r->reject_code = code;
	snprintf(r->reject_detail, sizeof r->reject_detail, "%s: %s", field_names[f], what);
}

/* The value of string field f, or NULL after rejecting r (not a string, or a
 * string with an embedded NUL). */
static const char *str_field(meter_record_t *r, const mj_value_t *v, int f)
{
	if (v->type != MJ_STRING) {
		reject(r, REJ_WRONG_TYPE, f, "must be a string");
		return NULL;
	}
	const char *s = v->u.s;
	if (strlen(s) != v->n) {
		reject(r, field_codes[f], f, "contains a NUL character");
		return NULL;
	}
	return s;
}

/* The record's members into v by field (v[f] NULL: absent), and
 * r->record_id when there is one; false after rejecting r (not an object,
 * or a key that is not a record field). */
static bool record_members(meter_record_t *r, const mj_value_t *obj, const mj_value_t **v)
{
	if (obj->type != MJ_OBJECT) {
		r->reject_code = REJ_INVALID_RECORD;
		snprintf(r->reject_detail, sizeof r->reject_detail, "record: not a JSON object");
		return false;
	}
	const char *unknown = NULL;
	for (uint32_t m = 0; m < obj->n; m++) {
		const mj_member_t *mem = &obj->u.members[m];
		int f = field_index(mem->key);
		if (f < 0 || strlen(mem->key) != mem->klen) {
			if (!unknown)
				unknown = mem->key;
		} else {
			v[f] = &mem->val;
		}
	}
	if (v[F_RECORD_ID] && v[F_RECORD_ID]->type == MJ_STRING)
		r->record_id = v[F_RECORD_ID]->u.s;
	if (unknown) {
		r->reject_code = REJ_UNKNOWN_FIELD;
		/* the key is the provider's text: name it only when it is short and plain */
		if (printable_id(unknown, 40) && !strchr(unknown, '"') && !strchr(unknown, '\\'))
			snprintf(r->reject_detail, sizeof r->reject_detail, "%s: not a record field", unknown);
		else
			snprintf(r->reject_detail, sizeof r->reject_detail, "record: has a field SPEC does not define");
		return false;
	}
	return true;
}

/* amount_fen: a JSON integer within range, negative only in an adjustment;
 * false after rejecting r */
static bool check_amount(meter_record_t *r, const mj_value_t *v, bool adjustment)
{
	const int f = F_AMOUNT;
	if (v->type != MJ_INT) {
		reject(r, REJ_WRONG_TYPE, f, "must be a JSON integer");
		return false;
	}
	int64_t a = v->u.i;
	if (a < -MAX_AMOUNT_FEN || a > MAX_AMOUNT_FEN) {
		reject(r, REJ_AMOUNT, f, "out of range");
		return false;
	}
	if (a < 0 && !adjustment) {
		reject(r, REJ_AMOUNT, f, "negative outside an adjustment");
		return false;
	}
	r->amount_fen = (int64_t)a;
	return true;
}

/* The content of string field f (s[f]; the fields before it in protocol
 * order are checked and in s); false after rejecting r. */
static bool check_string(meter_record_t *r, int f, const char *const *s, bool adjustment, int64_t future_limit_us)
{
	switch (f) {
	case F_RECORD_ID:
		if (!printable_id(s[f], METER_MAX_ID)) {
			reject(r, REJ_RECORD_ID, f, "must be 1-64 printable ASCII characters");
			return false;
		}
		return true;
	case F_ENTERPRISE:
		if (!uscc_valid(s[f])) {
			reject(r, REJ_ENTERPRISE, f, "not a valid unified social credit code");
			return false;
		}
		return true;
	case F_FACILITY:
		if (!printable_id(s[f], METER_MAX_ID)) {
			reject(r, REJ_FACILITY, f, "must be 1-64 printable ASCII characters");
			return false;
		}
		return true;
	case F_CATEGORY:
		if (!in_list(s[f], categories)) {
			reject(r, REJ_CATEGORY, f, "not a known category");
			return false;
		}
		return true;
	case F_PURPOSE:
		if (!in_list(s[f], purposes)) {
			reject(r, REJ_PURPOSE, f, "must be training, inference or application");
			return false;
		}
		return true;
	case F_QUANTITY:
		if (s[f][0] == '-' && !adjustment && decimal_valid(s[f], QTY_MAX_FRAC, true)) {
			reject(r, REJ_QUANTITY, f, "negative outside an adjustment");
			return false;
		}
		if (!decimal_valid(s[f], QTY_MAX_FRAC, adjustment) ||
		    !decimal_normalize(s[f], QTY_MAX_FRAC, r->quantity_norm, sizeof r->quantity_norm)) {
			reject(r, REJ_QUANTITY, f, "must be a decimal string with at most 6 fraction digits");
			return false;
		}
		return true;
	case F_UNIT:
		if (!in_list(s[f], units)) {
			reject(r, REJ_UNIT, f, "not a known unit");
			return false;
		}
		return true;
	case F_STARTED:
		if (!rfc3339_parse(s[f], &r->started_us)) {
			reject(r, REJ_TIME, f, "must be an RFC 3339 date-time with offset");
			return false;
		}
		return true;
	case F_ENDED:
		if (!rfc3339_parse(s[f], &r->ended_us)) {
			reject(r, REJ_TIME, f, "must be an RFC 3339 date-time with offset");
			return false;
		}
		if (r->started_us > r->ended_us) {
			reject(r, REJ_TIME_ORDER, f, "before started_at");
			return false;
		}
		if (r->ended_us > future_limit_us) {
			reject(r, REJ_FUTURE, f, "in the future beyond the allowed clock skew");
			return false;
		}
		return true;
	case F_CONTRACT:
		if (!text_field(s[f], METER_MAX_ID)) {
			reject(r, REJ_CONTRACT, f, "must be 1-64 bytes of UTF-8 text without control characters");
			return false;
		}
		return true;
	case F_INVOICE:
		if (!invoice_no_valid(s[f])) {
			reject(r, REJ_INVOICE, f, "must be 20 digits");
			return false;
		}
		return true;
	case F_ADJUSTS:
		if (!printable_id(s[f], METER_MAX_ID)) {
			reject(r, REJ_ADJUSTS, f, "must be 1-64 printable ASCII characters");
			return false;
		}
		if (strcmp(s[f], s[F_RECORD_ID]) == 0) {
			reject(r, REJ_ADJUSTS, f, "a record cannot adjust itself");
			return false;
		}
		return true;
	case F_SELLER:
		/* whatever its value: the field belongs to the seller categories only */
		if (!in_list(s[F_CATEGORY], seller_categories)) {
			reject(r, REJ_SELLER_NOT_ALLOWED, f, "only for categories corpus and dataset");
			return false;
		}
		if (!uscc_valid(s[f])) {
			reject(r, REJ_SELLER, f, "not a valid unified social credit code");
			return false;
		}
		return true;
	}
	return true;
}

/* Checks one record against every rule that needs no database; on the first
 * broken rule sets r->reject_code and stops.  Rule order: unknown keys, then
 * the fields in protocol order (missing, type, content). */
static void check_record(meter_record_t *r, const mj_value_t *obj, int64_t future_limit_us)
{
	const mj_value_t *v[F_COUNT] = {0};
	if (!record_members(r, obj, v))
		return;
	bool adjustment = v[F_ADJUSTS] != NULL;
	const char *s[F_COUNT] = {0};
	for (int f = 0; f < F_COUNT; f++) {
		if (!v[f]) {
			if (f == F_SELLER && in_list(s[F_CATEGORY], seller_categories)) {
				reject(r, REJ_SELLER_REQUIRED, f, "required for categories corpus and dataset");
				return;
			}
			if (field_optional[f])
				continue;
			reject(r, REJ_MISSING_FIELD, f, "required field is missing");
			return;
		}
		if (f == F_AMOUNT) {
			if (!check_amount(r, v[f], adjustment))
				return;
			continue;
		}
		if (!(s[f] = str_field(r, v[f], f)) || !check_string(r, f, s, adjustment, future_limit_us))
			return;
	}
	r->enterprise = s[F_ENTERPRISE];
	r->facility = s[F_FACILITY];
	r->category = s[F_CATEGORY];
	r->purpose = s[F_PURPOSE];
	r->quantity = s[F_QUANTITY];
	r->unit = s[F_UNIT];
	r->contract_id = s[F_CONTRACT];
	r->invoice_no = s[F_INVOICE];
	r->adjusts = s[F_ADJUSTS];
	r->seller = s[F_SELLER];
	meter_record_hash(r);
}

/* Decimal text of v into out (>= 21 bytes); returns the length. */
static size_t fmt_i64(int64_t v, char *out)
{
	char tmp[24];
	size_t n = 0, k = 0;
	uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[n++] = (char)('0' + m % 10);
		m /= 10;
	} while (m);
	if (v < 0)
		out[k++] = '-';
	while (n)
		out[k++] = tmp[--n];
	out[k] = '\0';
	return k;
}

static uint8_t *put_be32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)(x >> 24);
	p[1] = (uint8_t)(x >> 16);
	p[2] = (uint8_t)(x >> 8);
	p[3] = (uint8_t)x;
	return p + 4;
}

void meter_record_hash(meter_record_t *r)
{
	char amt[24], st[24], en[24];
	const char *f[F_COUNT] = {
		r->record_id,     r->enterprise, r->facility, r->category, r->purpose,
		r->quantity_norm, r->unit,       amt,         st,          en,
		r->contract_id,   r->invoice_no, r->adjusts,  r->seller,
	};
	/* seller, last, only when present: the hashes of records without one
	 * are those of before the field */
	const int nf = r->seller ? F_COUNT : F_SELLER;
	size_t len[F_COUNT];
	fmt_i64(r->amount_fen, amt);
	fmt_i64(r->started_us, st);
	fmt_i64(r->ended_us, en);
	size_t total = 0;
	for (int i = 0; i < nf; i++) {
		len[i] = f[i] ? strlen(f[i]) : 0;
		if (len[i] >= 0xffffffffu) /* cannot happen within a body size limit */
			len[i] = 0xfffffffeu;
		total += 4 + len[i];
	}
	uint8_t stack[1024];
	uint8_t *buf = total <= sizeof stack ? stack : xmalloc(total);
	uint8_t *p = buf;
	for (int i = 0; i < nf; i++) {
		if (!f[i]) {
			p = put_be32(p, 0xffffffffu); /* absent */
			continue;
		}
		p = put_be32(p, (uint32_t)len[i]);
		memcpy(p, f[i], len[i]);
		p += len[i];
	}
	SHA256(buf, total, r->content_hash);
	if (buf != stack)
		free(buf);
}

static int cmp_by_id(const void *a, const void *b)
{
	const meter_record_t *x = *(meter_record_t *const *)a;
	const meter_record_t *y = *(meter_record_t *const *)b;
	int c = strcmp(x->record_id, y->record_id);
	if (c)
		return c;
	return (x->index > y->index) - (x->index < y->index);
}

/* Marks repeated record ids among the valid records: the first occurrence
 * stands; a later one with the same hash is a duplicate, with another hash a
 * conflict.  O(n log n) by sorting (no hash table an attacker could load). */
static void mark_in_batch_duplicates(meter_batch_t *b)
{
	size_t nv = 0;
	for (size_t i = 0; i < b->n; i++)
		if (!b->recs[i].reject_code)
			nv++;
	if (nv < 2)
		return;
	meter_record_t **v = xmalloc(nv * sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < b->n; i++)
		if (!b->recs[i].reject_code)
			v[k++] = &b->recs[i];
	qsort(v, nv, sizeof *v, cmp_by_id);
	for (size_t i = 0; i < nv;) {
		size_t j = i + 1;
		for (; j < nv && strcmp(v[j]->record_id, v[i]->record_id) == 0; j++) {
			if (memcmp(v[j]->content_hash, v[i]->content_hash, sizeof v[i]->content_hash) == 0) {
				v[j]->duplicate_in_batch = true;
			} else {
				v[j]->reject_code = REJ_DUPLICATE_IN_BATCH;
				snprintf(v[j]->reject_detail, sizeof v[j]->reject_detail,
					 "record_id: used by record %d of this batch with other content", v[i]->index);
			}
		}
		i = j;
	}
	free(v);
}

/* Fails with code and message; frees whatever out holds. */
static bool fail(meter_batch_t *out, const char **code, const char *c, char *err, size_t errlen, const char *msg)
{
	meter_batch_free(out);
	if (code)
		*code = c;
	set_msg(err, errlen, "%s", msg);
	return false;
}

bool meter_batch_parse(const void *body, size_t len, const meter_limits_t *lim, meter_batch_t *out, const char **code,
		       char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (code)
		*code = NULL;
	set_msg(err, errlen, "%s", "");

	mj_error_t jerr;
	/* a well-formed scalar body is "invalid_body", not "malformed_json" */
	out->root = mj_parse(body, len, &jerr);
	if (!out->root) {
		bool dup = jerr.status == MJ_DUPLICATE_KEY;
		if (code)
			*code = dup ? "duplicate_key" : "malformed_json";
		/* never the input itself: position only */
		set_msg(err, errlen, "%s at line %d, column %d", jerr.what, jerr.line, jerr.column);
		return false;
	}
	const mj_value_t *root = mj_root(out->root);
	if (root->type != MJ_OBJECT)
		return fail(out, code, "invalid_body", err, errlen, "body is not a JSON object");
	const mj_value_t *jbatch = NULL, *jprov = NULL, *jrecs = NULL;
	for (uint32_t m = 0; m < root->n; m++) {
		const mj_member_t *mem = &root->u.members[m];
		const char *key = strlen(mem->key) == mem->klen ? mem->key : "";
		if (strcmp(key, "batch_id") == 0)
			jbatch = &mem->val;
		else if (strcmp(key, "provider") == 0)
			jprov = &mem->val;
		else if (strcmp(key, "records") == 0)
			jrecs = &mem->val;
		else
			return fail(out, code, "invalid_body", err, errlen,
				    "body has a key other than batch_id, provider and records");
	}
	if (!jbatch)
		return fail(out, code, "invalid_body", err, errlen, "batch_id is missing");
	if (!jprov)
		return fail(out, code, "invalid_body", err, errlen, "provider is missing");
	if (!jrecs)
		return fail(out, code, "invalid_body", err, errlen, "records is missing");
	if (jbatch->type != MJ_STRING || strlen(jbatch->u.s) != jbatch->n || !printable_id(jbatch->u.s, METER_MAX_ID))
		return fail(out, code, "invalid_batch_id", err, errlen,
			    "batch_id must be a string of 1-64 printable ASCII characters");
	if (jprov->type != MJ_STRING || strlen(jprov->u.s) != jprov->n || !printable_id(jprov->u.s, METER_MAX_ID))
		return fail(out, code, "invalid_body", err, errlen,
			    "provider must be a string of 1-64 printable ASCII characters");
	if (jrecs->type != MJ_ARRAY)
		return fail(out, code, "invalid_body", err, errlen, "records must be an array");
	size_t n = jrecs->n;
	if (n == 0)
		return fail(out, code, "empty_batch", err, errlen, "records is empty");
	if (n > lim->max_records) {
		char msg[96];
		snprintf(msg, sizeof msg, "%zu records, more than the limit of %zu", n, lim->max_records);
		return fail(out, code, "too_many_records", err, errlen, msg);
	}

	out->batch_id = jbatch->u.s;
	out->provider = jprov->u.s;
	out->n = n;
	out->recs = xcalloc(n, sizeof *out->recs);

	int64_t skew_us, future_limit;
	if (__builtin_mul_overflow(lim->clock_skew_s, (int64_t)1000000, &skew_us) ||
	    __builtin_add_overflow(lim->now_us, skew_us, &future_limit))
		future_limit = lim->clock_skew_s >= 0 ? INT64_MAX : INT64_MIN;

	for (size_t i = 0; i < n; i++) {
		meter_record_t *r = &out->recs[i];
		r->index = (int)i;
		check_record(r, &jrecs->u.items[i], future_limit);
	}
	mark_in_batch_duplicates(out);
	for (size_t i = 0; i < n; i++)
		if (!out->recs[i].reject_code && !out->recs[i].duplicate_in_batch)
			out->n_valid++;
	return true;
}

void meter_batch_free(meter_batch_t *b)
{
	if (!b)
		return;
	mj_free(b->root);
	free(b->recs);
	memset(b, 0, sizeof *b);
}

static void put_str_or_null(buf_t *out, const char *key, const char *s)
{
	buf_puts(out, key);
	if (s)
		buf_json_str(out, s);
	else
		buf_puts(out, "null");
}

void meter_batch_columns(const meter_batch_t *b, buf_t cols[METER_NCOLS])
{
	static const uint32_t oid[METER_NCOLS] = {
		[MC_INDEX] = PGA_INT4, [MC_ID] = PGA_TEXT,        [MC_ENT] = PGA_TEXT,       [MC_FAC] = PGA_TEXT,
		[MC_CAT] = PGA_TEXT,   [MC_PUR] = PGA_TEXT,       [MC_QTY] = PGA_TEXT,       [MC_UNIT] = PGA_TEXT,
		[MC_AMT] = PGA_INT8,   [MC_ST] = PGA_TIMESTAMPTZ, [MC_EN] = PGA_TIMESTAMPTZ, [MC_CON] = PGA_TEXT,
		[MC_INV] = PGA_TEXT,   [MC_ADJ] = PGA_TEXT,       [MC_HASH] = PGA_BYTEA,     [MC_SEL] = PGA_TEXT,
	};
	for (int c = 0; c < METER_NCOLS; c++) {
		pga_begin(&cols[c], oid[c]);
		/* records are ~40 bytes a column or less: one allocation each */
		buf_reserve(&cols[c], b->n_valid * (c == MC_HASH ? 36 : 24));
	}
	uint32_t n = 0;
	for (size_t i = 0; i < b->n; i++) {
		const meter_record_t *r = &b->recs[i];
		if (r->reject_code || r->duplicate_in_batch)
			continue;
		pga_int4(&cols[MC_INDEX], r->index);
		pga_text(&cols[MC_ID], r->record_id);
		pga_text(&cols[MC_ENT], r->enterprise);
		pga_text(&cols[MC_FAC], r->facility);
		pga_text(&cols[MC_CAT], r->category);
		pga_text(&cols[MC_PUR], r->purpose);
		pga_text(&cols[MC_QTY], r->quantity_norm);
		pga_text(&cols[MC_UNIT], r->unit);
		pga_int8(&cols[MC_AMT], r->amount_fen);
		pga_timestamptz(&cols[MC_ST], r->started_us);
		pga_timestamptz(&cols[MC_EN], r->ended_us);
		pga_text(&cols[MC_CON], r->contract_id);
		pga_text(&cols[MC_INV], r->invoice_no);
		pga_text(&cols[MC_ADJ], r->adjusts);
		pga_bytes(&cols[MC_HASH], r->content_hash, sizeof r->content_hash);
		pga_text(&cols[MC_SEL], r->seller);
		n++;
	}
	for (int c = 0; c < METER_NCOLS; c++)
		pga_end(&cols[c], n);
}

void meter_batch_rejected_json(const meter_batch_t *b, buf_t *out)
{
	bool first = true;
	buf_putc(out, '[');
	for (size_t i = 0; i < b->n; i++) {
		const meter_record_t *r = &b->recs[i];
		if (!r->reject_code)
			continue;
		char num[24];
		buf_puts(out, first ? "{\"index\":" : ",{\"index\":");
		first = false;
		fmt_i64(r->index, num);
		buf_puts(out, num);
		/* echo the id only when it is a valid one: other values may be hostile */
		put_str_or_null(out, ",\"record_id\":", printable_id(r->record_id, METER_MAX_ID) ? r->record_id : NULL);
		put_str_or_null(out, ",\"code\":", r->reject_code);
		put_str_or_null(out, ",\"detail\":", r->reject_detail);
		buf_putc(out, '}');
	}
	buf_putc(out, ']');
}
