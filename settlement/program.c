/* program: the reader of programme files (settlement/programs/NAME.conf).
 *
 * The format is summarised in program.h and described completely in
 * settlement/programs/README.md.  The reader is strict on purpose: a
 * programme file decides who is paid how much, so anything it does not
 * understand exactly (an unknown key, a second value for a single key, a rate
 * line that can never apply, an amount with three decimals) is refused with
 * the line and the key, never guessed at.
 *
 * Contract of program_parse():
 *   - reads text[0..len) and nothing past it; text need not be NUL-terminated
 *     and may not contain NUL bytes;
 *   - allocates nothing: the whole programme is built in a program_t on the
 *     stack and copied to *p only when all of it is valid, so on failure *p
 *     is left exactly as it was;
 *   - no floating point: rates are integer basis points, amounts integer fen.
 */
#include "settlement/program.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/date.h"
#include "common/money.h"
#include "common/validate.h"

/* the longest line accepted, in bytes, without its line ending */
#define LINE_MAX_BYTES 4096
/* the largest amount a file may state: 10^12 yuan, in fen */
#define AMOUNT_MAX_FEN 100000000000000LL
/* the longest item of a list or token of a rate/cap line (names are short) */
#define TOKEN_MAX 64

typedef enum {
	SEC_PROGRAM,
	SEC_JURISDICTION,
	SEC_RECORDS,
	SEC_RATES,
	SEC_SMALL_BUYER,
	SEC_CAPS,
	SEC_OVERRIDES,
	SEC_STACKING,
	SEC_COUNT
} section_t;

static const char *const section_names[SEC_COUNT] = {
	"program", "jurisdiction", "records", "rates", "small_buyer", "caps", "overrides", "stacking",
};

/* Every key, in the order "missing" is reported. */
typedef enum {
	K_ID,
	K_NAME,
	K_KIND,
	K_SOURCE,
	K_VALID_FROM,
	K_VALID_TO,
	K_PAYEE,
	K_RECIPIENTS,
	K_POOL,
	K_EXCL_GROUP,
	K_EXCL_ORDER,
	K_DIVISIONS,
	K_OPT_DIVISIONS,
	K_OPT_ENABLED,
	K_CATEGORIES,
	K_RATE,
	K_SB_FLAG,
	K_SB_MAX_YTD,
	K_SB_CATEGORIES,
	K_SB_RATE,
	K_CAP,
	K_MAX_RATE,
	K_MAX_CAP,
	K_OVR_FLAG,
	K_OVR_RAISE,
	K_ST_GROUP,
	K_ST_ORDER,
	K_ST_CEILING,
	K_ST_MATCH_FLAG,
	K_ST_MATCH_RATE,
	NKEYS
} key_id_t;

/* The state of one parse: the programme being built and where each thing was
 * said, so that a check made after the last line can still name its line. */
struct parse {
	program_t p;
	int key_line[NKEYS];         /* first line of each key; 0 = absent */
	int section_line[SEC_COUNT]; /* 0 = absent */
	int rate_line[PROG_MAX_RULES];
	int cap_line[PROG_MAX_RULES];
	int line; /* the line being read */
};

/* A setter stores one value; on refusal it writes what is wrong to why
 * (without line or key: the caller adds them) and returns false. */
typedef bool (*set_fn)(struct parse *st, const char *v, char *why, size_t whylen);

typedef enum {
	NEED_OPTIONAL,
	NEED_REQUIRED,
	NEED_WITH_SECTION, /* required when its section is present */
} need_t;

struct key {
	section_t section;
	const char *name;
	need_t need;
	bool repeat; /* may be given on several lines (rate, cap) */
	set_fn set;
};

static bool why_set(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return false;
}

/* err may be NULL or errlen 0: the caller then learns only that it failed. */
static bool fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* ---- lexical helpers ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Trims spaces and tabs at both ends, in place. */
static char *trim(char *s)
{
	while (is_space(*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		*--e = '\0';
	return s;
}

/* Cuts a comment: ';' or '#' at the start of the line or after a space or
 * tab.  A ';' or '#' right after another character is part of the value. */
static void strip_comment(char *s)
{
	for (char *q = s; *q; q++) {
		if ((*q == ';' || *q == '#') && (q == s || is_space(q[-1]))) {
			*q = '\0';
			return;
		}
	}
}

/* Length of a well-formed UTF-8 sequence for a non-ASCII character at q
 * (NUL-terminated), or 0.  Refuses overlong forms, surrogates, code points
 * above U+10FFFF and the C1 controls U+0080-U+009F; a NUL stops it. */
static size_t utf8_len(const unsigned char *q)
{
	unsigned char c = q[0], lo = 0x80, hi = 0xbf;
	size_t n;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		if (c == 0xc2)
			lo = 0xa0;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (q[1] < lo || q[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (q[i] < 0x80 || q[i] > 0xbf)
			return 0;
	return n;
}

/* A line is UTF-8 text: tabs allowed, no other control character. */
static bool line_text_ok(const char *s)
{
	const unsigned char *q = (const unsigned char *)s;
	while (*q) {
		if (*q >= 0x80) {
			size_t n = utf8_len(q);
			if (!n)
				return false;
			q += n;
		} else if ((*q < 0x20 && *q != '\t') || *q == 0x7f) {
			return false;
		} else {
			q++;
		}
	}
	return true;
}

typedef enum { ITEM_OK, ITEM_END, ITEM_EMPTY, ITEM_LONG } item_t;

/* The next comma-separated item of a list, trimmed, into item (TOKEN_MAX
 * bytes).  *s advances past the item and its comma.  "a,,b" and "a," have an
 * empty item; "" has none. */
static item_t list_next(const char **s, char *item)
{
	const char *q = *s;
	if (!q)
		return ITEM_END;
	const char *e = strchr(q, ',');
	const char *end = e ? e : q + strlen(q);
	*s = e ? e + 1 : NULL;
	while (q < end && is_space(*q))
		q++;
	while (end > q && is_space(end[-1]))
		end--;
	size_t n = (size_t)(end - q);
	if (n == 0)
		return ITEM_EMPTY;
	if (n >= TOKEN_MAX)
		return ITEM_LONG;
	memcpy(item, q, n);
	item[n] = '\0';
	return ITEM_OK;
}

/* The next whitespace-separated token into tok (TOKEN_MAX bytes). */
static item_t token_next(const char **s, char *tok)
{
	const char *q = *s;
	while (is_space(*q))
		q++;
	if (!*q)
		return ITEM_END;
	const char *e = q;
	while (*e && !is_space(*e))
		e++;
	*s = e;
	size_t n = (size_t)(e - q);
	if (n >= TOKEN_MAX)
		return ITEM_LONG;
	memcpy(tok, q, n);
	tok[n] = '\0';
	return ITEM_OK;
}

/* ---- value checks ---- */

/* ^[a-z0-9][a-z0-9-]{0,63}$ */
static bool id_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		bool ok = (c >= 'a' && c <= 'z') || is_digit(c) || (c == '-' && n > 0);
		if (!ok || n >= 64)
			return false;
	}
	return n >= 1;
}

/* A real calendar date YYYY-MM-DD, years 1970-9999. */
static bool date_valid(const char *s)
{
	return date_parse(s, 1970, NULL, NULL, NULL);
}

/* A whole number min..max written plainly: digits, no sign, no leading zero. */
static bool parse_int(const char *s, int32_t min, int32_t max, int32_t *out)
{
	if (!decimal_valid(s, 0, false) || strlen(s) > 9)
		return false;
	int32_t v = 0;
	for (; *s; s++)
		v = v * 10 + (*s - '0');
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* An amount in yuan, at most two decimals, 0..10^12 yuan, into fen. */
static bool parse_amount(const char *s, int64_t *fen, char *why, size_t whylen)
{
	if (*s == '-')
		return why_set(why, whylen, "'%.64s': amounts may not be negative", s);
	if (!decimal_valid(s, 2, false))
		return why_set(why, whylen, "'%.64s' is not an amount in yuan (digits, at most two decimals)", s);
	int64_t v;
	if (!money_parse_yuan(s, &v) || v > AMOUNT_MAX_FEN)
		return why_set(why, whylen, "'%.64s' is over the limit of 1000000000000 yuan", s);
	*fen = v;
	return true;
}

static bool parse_rate_bp(const char *s, int32_t *bp, char *why, size_t whylen)
{
	if (!parse_int(s, 1, 10000, bp))
		return why_set(why, whylen, "'%.64s' is not a rate in basis points 1..10000", s);
	return true;
}

/* Does a division pattern (six digits, or a four-digit prefix as stored)
 * overlap another: equal, or one a prefix of the other? */
static bool divisions_overlap(const char *a, const char *b)
{
	size_t n = strlen(a) < strlen(b) ? strlen(a) : strlen(b);
	return !strncmp(a, b, n);
}

/* A comma-separated list of divisions into out[] (at most
 * PROG_MAX_DIVISIONS): six-digit codes that pass division_valid(), or a
 * four-digit prefix followed by '*', stored as the four digits (that is what
 * program_in_jurisdiction() matches on).  A prefix must name a real province
 * and a city part other than "00".  Overlapping entries are refused. */
static bool parse_divisions(const char *v, char out[][7], int *n, char *why, size_t whylen)
{
	char item[TOKEN_MAX];
	item_t r;
	*n = 0;
	while ((r = list_next(&v, item)) != ITEM_END) {
		if (r == ITEM_EMPTY)
			return why_set(why, whylen, "empty item in the list");
		if (r == ITEM_LONG)
			return why_set(why, whylen, "a list item is too long");
		char code[7];
		size_t len = strlen(item);
		if (len == 6 && division_valid(item)) {
			memcpy(code, item, 7);
		} else if (len == 5 && item[4] == '*' && is_digit(item[0]) && is_digit(item[1]) && is_digit(item[2]) &&
			   is_digit(item[3])) {
			char probe[7] = {item[0], item[1], item[2], item[3], '0', '1', '\0'};
			if (!division_valid(probe))
				return why_set(why, whylen, "'%s': no such province or city prefix", item);
			memcpy(code, item, 4);
			code[4] = '\0';
		} else if (len == 6 && strspn(item, "0123456789") == 6) {
			return why_set(why, whylen, "'%s' is not a GB/T 2260 county-level division code", item);
		} else {
			return why_set(
				why, whylen,
				"'%s' is neither a six-digit division code nor a four-digit prefix followed by '*'",
				item);
		}
		for (int i = 0; i < *n; i++)
			if (divisions_overlap(out[i], code))
				return why_set(why, whylen, "'%s' overlaps '%s%s' listed before", item, out[i],
					       strlen(out[i]) == 4 ? "*" : "");
		if (*n >= PROG_MAX_DIVISIONS)
			return why_set(why, whylen, "more than %d divisions", PROG_MAX_DIVISIONS);
		memcpy(out[(*n)++], code, 7);
	}
	return true;
}

/* A comma-separated list of category names, each at most once, at least one. */
static bool parse_categories(const char *v, bool out[CAT_COUNT], char *why, size_t whylen)
{
	char item[TOKEN_MAX];
	item_t r;
	bool any = false;
	memset(out, 0, CAT_COUNT * sizeof out[0]);
	while ((r = list_next(&v, item)) != ITEM_END) {
		if (r == ITEM_EMPTY)
			return why_set(why, whylen, "empty item in the list");
		if (r == ITEM_LONG)
			return why_set(why, whylen, "a list item is too long");
		int c = category_parse(item);
		if (c < 0)
			return why_set(why, whylen, "unknown category '%s'", item);
		if (out[c])
			return why_set(why, whylen, "category '%s' listed twice", item);
		out[c] = true;
		any = true;
	}
	if (!any)
		return why_set(why, whylen, "no category");
	return true;
}

static bool parse_flag(const char *s, int *flag, char *why, size_t whylen)
{
	*flag = flag_parse(s);
	if (*flag < 0)
		return why_set(why, whylen, "unknown flag '%.64s'", s);
	return true;
}

/* ---- setters, one per key ---- */

static bool set_id(struct parse *st, const char *v, char *why, size_t whylen)
{
	if (!id_valid(v))
		return why_set(why, whylen,
			       "'%.64s' is not an id (a-z, 0-9 and '-', not starting with '-', 1-64 characters)", v);
	snprintf(st->p.id, sizeof st->p.id, "%s", v);
	return true;
}

/* Free text (UTF-8, no control characters, not even a tab) of 1..size-1 bytes. */
static bool set_text(char *out, size_t size, const char *v, char *why, size_t whylen)
{
	if (strlen(v) > size - 1)
		return why_set(why, whylen, "longer than %zu bytes", size - 1);
	if (!text_field(v, size - 1))
		return why_set(why, whylen, "contains a tab or another control character");
	memcpy(out, v, strlen(v) + 1);
	return true;
}

static bool set_name(struct parse *st, const char *v, char *why, size_t whylen)
{
	return set_text(st->p.name, sizeof st->p.name, v, why, whylen);
}

static bool set_source(struct parse *st, const char *v, char *why, size_t whylen)
{
	return set_text(st->p.source, sizeof st->p.source, v, why, whylen);
}

static bool set_date(char *out, const char *v, char *why, size_t whylen)
{
	if (!date_valid(v))
		return why_set(why, whylen, "'%.64s' is not a real date YYYY-MM-DD", v);
	memcpy(out, v, 11);
	return true;
}

static bool set_valid_from(struct parse *st, const char *v, char *why, size_t whylen)
{
	return set_date(st->p.valid_from, v, why, whylen);
}

static bool set_valid_to(struct parse *st, const char *v, char *why, size_t whylen)
{
	return set_date(st->p.valid_to, v, why, whylen);
}

static bool set_payee(struct parse *st, const char *v, char *why, size_t whylen)
{
	if (!strcmp(v, "enterprise"))
		st->p.payee_provider = false;
	else if (!strcmp(v, "provider"))
		st->p.payee_provider = true;
	else
		return why_set(why, whylen, "'%.64s' is neither enterprise nor provider", v);
	return true;
}

static bool set_kind(struct parse *st, const char *v, char *why, size_t whylen)
{
	int k = voucher_kind_parse(v);
	if (k < 0)
		return why_set(why, whylen, "'%.64s' is not a voucher kind (compute, corpus, data, model, intelligent)",
			       v);
	st->p.kind = k;
	return true;
}

/* "enterprise" or "institution", comma-separated, each at most once. */
static bool set_recipients(struct parse *st, const char *v, char *why, size_t whylen)
{
	char item[TOKEN_MAX];
	item_t r;
	memset(st->p.recipients, 0, sizeof st->p.recipients);
	while ((r = list_next(&v, item)) != ITEM_END) {
		if (r == ITEM_EMPTY)
			return why_set(why, whylen, "empty item in the list");
		if (r == ITEM_LONG)
			return why_set(why, whylen, "a list item is too long");
		int k = recipient_parse(item);
		if (k < 0)
			return why_set(why, whylen, "'%s' is neither enterprise nor institution", item);
		if (st->p.recipients[k])
			return why_set(why, whylen, "'%s' listed twice", item);
		st->p.recipients[k] = true;
	}
	return true;
}

static bool set_pool(struct parse *st, const char *v, char *why, size_t whylen)
{
	if (!parse_amount(v, &st->p.pool_fen, why, whylen))
		return false;
	st->p.has_pool = true;
	return true;
}

static bool set_excl_group(struct parse *st, const char *v, char *why, size_t whylen)
{
	if (!id_valid(v))
		return why_set(why, whylen, "'%.64s' is not a group name (a-z, 0-9 and '-', 1-64 characters)", v);
	snprintf(st->p.exclusivity_group, sizeof st->p.exclusivity_group, "%s", v);
	return true;
}

static bool set_excl_order(struct parse *st, const char *v, char *why, size_t whylen)
{
	int32_t n;
	if (!parse_int(v, 1, 1000, &n))
		return why_set(why, whylen, "'%.64s' is not a whole number 1..1000", v);
	st->p.exclusivity_order = n;
	return true;
}

static bool set_divisions(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_divisions(v, st->p.divisions, &st->p.ndivisions, why, whylen);
}

static bool set_opt_divisions(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_divisions(v, st->p.optional_divisions, &st->p.noptional, why, whylen);
}

static bool set_opt_enabled(struct parse *st, const char *v, char *why, size_t whylen)
{
	if (!strcmp(v, "yes"))
		st->p.optional_enabled = true;
	else if (!strcmp(v, "no"))
		st->p.optional_enabled = false;
	else
		return why_set(why, whylen, "'%.64s' is neither yes nor no", v);
	return true;
}

static bool set_categories(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_categories(v, st->p.categories, why, whylen);
}

/* "BP [category=C] [class=A|B] [flag=F]", qualifiers in any order, each at
 * most once.  A line that an earlier line already matches whenever it would
 * match (a duplicate, or one behind a more general line) can never apply,
 * because the first matching line wins: refused. */
static bool set_rate(struct parse *st, const char *v, char *why, size_t whylen)
{
	char tok[TOKEN_MAX];
	item_t r = token_next(&v, tok);
	if (r == ITEM_LONG)
		return why_set(why, whylen, "the rate is too long");
	if (r != ITEM_OK)
		return why_set(why, whylen, "no rate");
	rate_rule_t rule = {.category = -1, .cls = 0, .flag = -1};
	if (!parse_rate_bp(tok, &rule.rate_bp, why, whylen))
		return false;
	bool seen_cat = false, seen_cls = false, seen_flag = false;
	while ((r = token_next(&v, tok)) != ITEM_END) {
		if (r == ITEM_LONG)
			return why_set(why, whylen, "a qualifier is too long");
		char *eq = strchr(tok, '=');
		if (!eq)
			return why_set(why, whylen, "'%s' is not a qualifier name=value", tok);
		*eq = '\0';
		const char *qv = eq + 1;
		if (!strcmp(tok, "category")) {
			if (seen_cat)
				return why_set(why, whylen, "category= given twice");
			seen_cat = true;
			rule.category = category_parse(qv);
			if (rule.category < 0)
				return why_set(why, whylen, "unknown category '%s'", qv);
		} else if (!strcmp(tok, "class")) {
			if (seen_cls)
				return why_set(why, whylen, "class= given twice");
			seen_cls = true;
			if (strcmp(qv, "A") && strcmp(qv, "B"))
				return why_set(why, whylen, "class '%s' is neither A nor B", qv);
			rule.cls = qv[0];
		} else if (!strcmp(tok, "flag")) {
			if (seen_flag)
				return why_set(why, whylen, "flag= given twice");
			seen_flag = true;
			if (!parse_flag(qv, &rule.flag, why, whylen))
				return false;
		} else {
			return why_set(why, whylen, "unknown qualifier '%s' (category=, class=, flag=)", tok);
		}
	}
	for (int i = 0; i < st->p.nrates; i++) {
		const rate_rule_t *e = &st->p.rates[i];
		bool covers = (e->category < 0 || e->category == rule.category) && (!e->cls || e->cls == rule.cls) &&
			      (e->flag < 0 || e->flag == rule.flag);
		if (!covers)
			continue;
		if (e->category == rule.category && e->cls == rule.cls && e->flag == rule.flag)
			return why_set(why, whylen, "duplicate of line %d", st->rate_line[i]);
		return why_set(why, whylen,
			       "never applies: line %d matches everything this line matches, and the first match wins",
			       st->rate_line[i]);
	}
	if (st->p.nrates >= PROG_MAX_RULES)
		return why_set(why, whylen, "more than %d rate lines", PROG_MAX_RULES);
	st->rate_line[st->p.nrates] = st->line;
	st->p.rates[st->p.nrates++] = rule;
	return true;
}

/* "YUAN [flag=F]": without a flag the default cap; each flag at most once. */
static bool set_cap(struct parse *st, const char *v, char *why, size_t whylen)
{
	char tok[TOKEN_MAX];
	item_t r = token_next(&v, tok);
	if (r == ITEM_LONG)
		return why_set(why, whylen, "the amount is too long");
	if (r != ITEM_OK)
		return why_set(why, whylen, "no amount");
	cap_rule_t rule = {.flag = -1};
	if (!parse_amount(tok, &rule.cap_fen, why, whylen))
		return false;
	r = token_next(&v, tok);
	if (r == ITEM_LONG)
		return why_set(why, whylen, "a qualifier is too long");
	if (r == ITEM_OK) {
		if (strncmp(tok, "flag=", 5))
			return why_set(why, whylen, "'%s' is not a qualifier flag=F (the only one a cap takes)", tok);
		if (!parse_flag(tok + 5, &rule.flag, why, whylen))
			return false;
		r = token_next(&v, tok);
		if (r != ITEM_END)
			return why_set(why, whylen, "more than one qualifier (a cap takes only flag=F)");
	}
	for (int i = 0; i < st->p.ncaps; i++)
		if (st->p.caps[i].flag == rule.flag)
			return why_set(why, whylen, "a cap %s%s was given on line %d already",
				       rule.flag < 0 ? "without flag" : "for flag ",
				       rule.flag < 0 ? "" : flag_name((flag_t)rule.flag), st->cap_line[i]);
	if (st->p.ncaps >= PROG_MAX_RULES)
		return why_set(why, whylen, "more than %d cap lines", PROG_MAX_RULES);
	st->cap_line[st->p.ncaps] = st->line;
	st->p.caps[st->p.ncaps++] = rule;
	return true;
}

static bool set_sb_flag(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_flag(v, &st->p.small_buyer_flag, why, whylen);
}

static bool set_sb_max_ytd(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_amount(v, &st->p.small_buyer_max_ytd_fen, why, whylen);
}

static bool set_sb_categories(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_categories(v, st->p.small_buyer_categories, why, whylen);
}

static bool set_sb_rate(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_rate_bp(v, &st->p.small_buyer_rate_bp, why, whylen);
}

static bool set_max_rate(struct parse *st, const char *v, char *why, size_t whylen)
{
	if (!parse_rate_bp(v, &st->p.override_max_rate_bp, why, whylen))
		return false;
	st->p.override_rate_allowed = true;
	return true;
}

static bool set_max_cap(struct parse *st, const char *v, char *why, size_t whylen)
{
	if (!strcmp(v, "unlimited")) {
		st->p.override_cap_unlimited = true;
		st->p.override_max_cap_fen = 0;
	} else if (!parse_amount(v, &st->p.override_max_cap_fen, why, whylen)) {
		if (*v != '-' && !is_digit(*v))
			why_set(why, whylen, "'%.64s' is neither an amount in yuan nor unlimited", v);
		return false;
	}
	st->p.override_cap_allowed = true;
	return true;
}

static bool set_ovr_flag(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_flag(v, &st->p.override_flag, why, whylen);
}

static bool set_ovr_raise(struct parse *st, const char *v, char *why, size_t whylen)
{
	if (!strcmp(v, "yes"))
		st->p.override_cap_raise_only = true;
	else if (!strcmp(v, "no"))
		st->p.override_cap_raise_only = false;
	else
		return why_set(why, whylen, "'%.64s' is neither yes nor no", v);
	return true;
}

static bool set_st_group(struct parse *st, const char *v, char *why, size_t whylen)
{
	if (!id_valid(v))
		return why_set(why, whylen, "'%.64s' is not a group name (a-z, 0-9 and '-', 1-64 characters)", v);
	snprintf(st->p.stacking_group, sizeof st->p.stacking_group, "%s", v);
	return true;
}

static bool set_st_order(struct parse *st, const char *v, char *why, size_t whylen)
{
	/* a stacking group is the first programme and one more (docs/policies.md
	 * rule 9): a third would need the second's rate, which is not known from
	 * the record alone (its own small-buyer rate depends on the year) */
	int32_t n;
	if (!parse_int(v, 1, 2, &n))
		return why_set(why, whylen, "'%.64s' is 1 (the first) or 2", v);
	st->p.stacking_order = n;
	return true;
}

/* "A:BP, B:BP": a rate in basis points for each facility class, both
 * given, each once (0 allowed: a class the group pays nothing on). */
static bool parse_class_bp(const char *v, int32_t out[2], char *why, size_t whylen)
{
	char item[TOKEN_MAX];
	item_t r;
	bool seen[2] = {false, false};
	while ((r = list_next(&v, item)) != ITEM_END) {
		if (r == ITEM_EMPTY)
			return why_set(why, whylen, "empty item in the list");
		if (r == ITEM_LONG)
			return why_set(why, whylen, "a list item is too long");
		if ((item[0] != 'A' && item[0] != 'B') || item[1] != ':')
			return why_set(why, whylen, "'%s' is not CLASS:BP (class A or B)", item);
		int c = item[0] - 'A';
		if (seen[c])
			return why_set(why, whylen, "class %c given twice", item[0]);
		seen[c] = true;
		if (!parse_int(item + 2, 0, 10000, &out[c]))
			return why_set(why, whylen, "'%s' is not a rate in basis points 0..10000", item + 2);
	}
	if (!seen[0] || !seen[1])
		return why_set(why, whylen, "give both classes: A:BP, B:BP");
	return true;
}

static bool set_st_ceiling(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_class_bp(v, st->p.stacking_ceiling, why, whylen);
}

static bool set_st_match_flag(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_flag(v, &st->p.match_flag, why, whylen);
}

static bool set_st_match_rate(struct parse *st, const char *v, char *why, size_t whylen)
{
	return parse_class_bp(v, st->p.match_rate, why, whylen);
}

/* The one table of keys. */
static const struct key keys[NKEYS] = {
	[K_ID] = {SEC_PROGRAM, "id", NEED_REQUIRED, false, set_id},
	[K_NAME] = {SEC_PROGRAM, "name", NEED_REQUIRED, false, set_name},
	[K_KIND] = {SEC_PROGRAM, "kind", NEED_OPTIONAL, false, set_kind},
	[K_SOURCE] = {SEC_PROGRAM, "source", NEED_OPTIONAL, false, set_source},
	[K_VALID_FROM] = {SEC_PROGRAM, "valid_from", NEED_REQUIRED, false, set_valid_from},
	[K_VALID_TO] = {SEC_PROGRAM, "valid_to", NEED_OPTIONAL, false, set_valid_to},
	[K_PAYEE] = {SEC_PROGRAM, "payee", NEED_REQUIRED, false, set_payee},
	[K_RECIPIENTS] = {SEC_PROGRAM, "recipients", NEED_OPTIONAL, false, set_recipients},
	[K_POOL] = {SEC_PROGRAM, "pool_yuan", NEED_OPTIONAL, false, set_pool},
	[K_EXCL_GROUP] = {SEC_PROGRAM, "exclusivity_group", NEED_OPTIONAL, false, set_excl_group},
	[K_EXCL_ORDER] = {SEC_PROGRAM, "exclusivity_order", NEED_OPTIONAL, false, set_excl_order},
	[K_DIVISIONS] = {SEC_JURISDICTION, "divisions", NEED_REQUIRED, false, set_divisions},
	[K_OPT_DIVISIONS] = {SEC_JURISDICTION, "optional_divisions", NEED_OPTIONAL, false, set_opt_divisions},
	[K_OPT_ENABLED] = {SEC_JURISDICTION, "optional_enabled", NEED_OPTIONAL, false, set_opt_enabled},
	[K_CATEGORIES] = {SEC_RECORDS, "categories", NEED_REQUIRED, false, set_categories},
	[K_RATE] = {SEC_RATES, "rate", NEED_REQUIRED, true, set_rate},
	[K_SB_FLAG] = {SEC_SMALL_BUYER, "flag", NEED_WITH_SECTION, false, set_sb_flag},
	[K_SB_MAX_YTD] = {SEC_SMALL_BUYER, "max_ytd_yuan", NEED_WITH_SECTION, false, set_sb_max_ytd},
	[K_SB_CATEGORIES] = {SEC_SMALL_BUYER, "categories", NEED_WITH_SECTION, false, set_sb_categories},
	[K_SB_RATE] = {SEC_SMALL_BUYER, "rate_bp", NEED_WITH_SECTION, false, set_sb_rate},
	[K_CAP] = {SEC_CAPS, "cap", NEED_REQUIRED, true, set_cap},
	[K_MAX_RATE] = {SEC_OVERRIDES, "max_rate_bp", NEED_OPTIONAL, false, set_max_rate},
	[K_MAX_CAP] = {SEC_OVERRIDES, "max_cap_yuan", NEED_OPTIONAL, false, set_max_cap},
	[K_OVR_FLAG] = {SEC_OVERRIDES, "requires_flag", NEED_OPTIONAL, false, set_ovr_flag},
	[K_OVR_RAISE] = {SEC_OVERRIDES, "cap_raise_only", NEED_OPTIONAL, false, set_ovr_raise},
	[K_ST_GROUP] = {SEC_STACKING, "group", NEED_WITH_SECTION, false, set_st_group},
	[K_ST_ORDER] = {SEC_STACKING, "order", NEED_WITH_SECTION, false, set_st_order},
	[K_ST_CEILING] = {SEC_STACKING, "ceiling", NEED_WITH_SECTION, false, set_st_ceiling},
	[K_ST_MATCH_FLAG] = {SEC_STACKING, "match_flag", NEED_OPTIONAL, false, set_st_match_flag},
	[K_ST_MATCH_RATE] = {SEC_STACKING, "match_rate", NEED_OPTIONAL, false, set_st_match_rate},
};

#define KEY_ERR(st, k, fmt, ...)                                                                                   \
	fail(err, errlen, "line %d: %s.%s: " fmt, (st)->key_line[k], section_names[keys[k].section], keys[k].name, \
	     __VA_ARGS__)

/* [stacking] (docs/policies.md rule 9): the first member's rate on a record
 * must be known from the record, the facility and the registry alone, since
 * the other members' runs compute it on their own: so it has no small-buyer
 * rate (which depends on the year's sums), no rate override and no
 * exclusivity group (which would make its rate depend on other programmes).
 * 免审配套 (rule 10) replaces a later member's rate on records the first
 * pays for, so it belongs to a later member only. */
static bool check_stacking(struct parse *st, char *err, size_t errlen)
{
	program_t *p = &st->p;
	if (!st->key_line[K_ST_MATCH_FLAG])
		p->match_flag = -1;
	if (!st->section_line[SEC_STACKING])
		return true;
	if (st->key_line[K_ST_MATCH_FLAG] && !st->key_line[K_ST_MATCH_RATE])
		return fail(err, errlen, "stacking.match_rate: missing (match_flag is given on line %d)",
			    st->key_line[K_ST_MATCH_FLAG]);
	if (st->key_line[K_ST_MATCH_RATE] && !st->key_line[K_ST_MATCH_FLAG])
		return fail(err, errlen, "stacking.match_flag: missing (match_rate is given on line %d)",
			    st->key_line[K_ST_MATCH_RATE]);
	if (p->stacking_order == 1) {
		if (st->key_line[K_ST_MATCH_FLAG])
			return KEY_ERR(st, K_ST_MATCH_FLAG, "%s",
				       "only a member listed after the first (order 2 or more) takes a match rate");
		if (st->section_line[SEC_SMALL_BUYER])
			return fail(err, errlen,
				    "line %d: [small_buyer]: the first member of stacking group %s may have none "
				    "(its rate must be known from the record alone)",
				    st->section_line[SEC_SMALL_BUYER], p->stacking_group);
		if (st->key_line[K_MAX_RATE])
			return KEY_ERR(st, K_MAX_RATE,
				       "the first member of stacking group %s takes no rate override "
				       "(its rate must be known from the record alone)",
				       p->stacking_group);
		if (st->key_line[K_EXCL_GROUP])
			return KEY_ERR(st, K_EXCL_GROUP,
				       "the first member of stacking group %s may not be in an exclusivity group "
				       "(its rate must be known from the record alone)",
				       p->stacking_group);
	}
	for (int c = 0; c < 2; c++)
		if (st->key_line[K_ST_MATCH_RATE] && p->match_rate[c] > p->stacking_ceiling[c])
			return KEY_ERR(st, K_ST_MATCH_RATE, "class %c: %d bp is above the ceiling of %d bp", 'A' + c,
				       (int)p->match_rate[c], (int)p->stacking_ceiling[c]);
	return true;
}

/* The rules that tie keys together, checked after the last line. */
static bool check_whole(struct parse *st, char *err, size_t errlen)
{
	program_t *p = &st->p;
	for (int k = 0; k < NKEYS; k++) {
		bool needed = keys[k].need == NEED_REQUIRED ||
			      (keys[k].need == NEED_WITH_SECTION && st->section_line[keys[k].section]);
		if (needed && !st->key_line[k])
			return fail(err, errlen, "%s.%s: missing", section_names[keys[k].section], keys[k].name);
	}
	if (st->key_line[K_EXCL_GROUP] && !st->key_line[K_EXCL_ORDER])
		return fail(err, errlen, "program.exclusivity_order: missing (exclusivity_group is given on line %d)",
			    st->key_line[K_EXCL_GROUP]);
	if (st->key_line[K_EXCL_ORDER] && !st->key_line[K_EXCL_GROUP])
		return fail(err, errlen, "program.exclusivity_group: missing (exclusivity_order is given on line %d)",
			    st->key_line[K_EXCL_ORDER]);
	if (!st->key_line[K_RECIPIENTS])
		p->recipients[RECIPIENT_ENTERPRISE] = true; /* the default: enterprises only */
	if (!check_stacking(st, err, errlen))
		return false;
	if (p->valid_to[0] && strcmp(p->valid_to, p->valid_from) < 0)
		return KEY_ERR(st, K_VALID_TO, "%s is before valid_from %s", p->valid_to, p->valid_from);
	if (p->optional_enabled && !p->noptional)
		return KEY_ERR(st, K_OPT_ENABLED, "%s", "yes, but there are no optional_divisions");
	for (int i = 0; i < p->noptional; i++)
		for (int j = 0; j < p->ndivisions; j++)
			if (divisions_overlap(p->optional_divisions[i], p->divisions[j]))
				return KEY_ERR(st, K_OPT_DIVISIONS, "%s%s overlaps %s%s of jurisdiction.divisions",
					       p->optional_divisions[i],
					       strlen(p->optional_divisions[i]) == 4 ? "*" : "", p->divisions[j],
					       strlen(p->divisions[j]) == 4 ? "*" : "");
	for (int i = 0; i < p->nrates; i++) {
		int c = p->rates[i].category;
		if (c >= 0 && !p->categories[c])
			return fail(err, errlen, "line %d: rates.rate: category %s is not in records.categories",
				    st->rate_line[i], category_name((category_t)c));
	}
	if (st->section_line[SEC_SMALL_BUYER]) {
		p->has_small_buyer = true;
		for (int c = 0; c < CAT_COUNT; c++)
			if (p->small_buyer_categories[c] && !p->categories[c])
				return KEY_ERR(st, K_SB_CATEGORIES, "category %s is not in records.categories",
					       category_name((category_t)c));
	} else {
		p->small_buyer_flag = -1;
	}
	if (!st->key_line[K_OVR_FLAG])
		p->override_flag = -1;
	if (p->override_cap_raise_only && !p->override_cap_allowed)
		return KEY_ERR(st, K_OVR_RAISE, "%s", "needs max_cap_yuan: no cap override is allowed");
	const cap_rule_t *dflt = NULL;
	for (int i = 0; i < p->ncaps; i++)
		if (p->caps[i].flag < 0)
			dflt = &p->caps[i];
	if (!dflt)
		return fail(err, errlen, "caps.cap: missing the default cap (a cap line without flag=)");
	/* the highest matching cap wins, so a flag's cap not above the default never applies */
	for (int i = 0; i < p->ncaps; i++)
		if (p->caps[i].flag >= 0 && p->caps[i].cap_fen <= dflt->cap_fen)
			return fail(
				err, errlen,
				"line %d: caps.cap: the cap for flag %s is not above the default cap, so it never applies",
				st->cap_line[i], flag_name((flag_t)p->caps[i].flag));
	return true;
}

/* One line without its line ending, NUL-terminated, already checked to be
 * UTF-8 text.  *section is the current section (-1 before the first). */
static bool parse_line(struct parse *st, char *line, int *section, char *err, size_t errlen)
{
	strip_comment(line);
	char *s = trim(line);
	if (!*s)
		return true;
	if (*s == '[') {
		size_t n = strlen(s);
		if (n < 3 || s[n - 1] != ']')
			return fail(err, errlen, "line %d: malformed section header", st->line);
		s[n - 1] = '\0';
		const char *name = s + 1;
		for (int i = 0; i < SEC_COUNT; i++) {
			if (strcmp(section_names[i], name))
				continue;
			if (st->section_line[i])
				return fail(err, errlen, "line %d: section [%s] given twice (first on line %d)",
					    st->line, name, st->section_line[i]);
			st->section_line[i] = st->line;
			*section = i;
			return true;
		}
		return fail(err, errlen, "line %d: unknown section [%.64s]", st->line, name);
	}
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(err, errlen, "line %d: expected key = value", st->line);
	*eq = '\0';
	char *name = trim(s);
	char *val = trim(eq + 1);
	if (*section < 0)
		return fail(err, errlen, "line %d: %.64s: key outside a section", st->line, name);
	const char *sec = section_names[*section];
	int k;
	for (k = 0; k < NKEYS; k++)
		if ((int)keys[k].section == *section && !strcmp(keys[k].name, name))
			break;
	if (k == NKEYS)
		return fail(err, errlen, "line %d: %s.%.64s: unknown key", st->line, sec, name);
	if (st->key_line[k] && !keys[k].repeat)
		return fail(err, errlen, "line %d: %s.%s: given twice (first on line %d)", st->line, sec, name,
			    st->key_line[k]);
	if (!*val)
		return fail(err, errlen, "line %d: %s.%s: empty value (leave the key out instead)", st->line, sec,
			    name);
	if (!st->key_line[k])
		st->key_line[k] = st->line;
	char why[256];
	if (!keys[k].set(st, val, why, sizeof why))
		return fail(err, errlen, "line %d: %s.%s: %s", st->line, sec, name, why);
	return true;
}

bool program_parse(const char *text, size_t len, program_t *p, char *err, size_t errlen)
{
	struct parse st;
	memset(&st, 0, sizeof st);
	if (!p || (!text && len))
		return fail(err, errlen, "program_parse: no text or no programme");
	size_t pos = 0;
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		pos = 3; /* a UTF-8 byte order mark, as some editors write */
	int section = -1;
	char line[LINE_MAX_BYTES + 2];
	while (pos < len) {
		st.line++;
		size_t start = pos;
		while (pos < len && text[pos] != '\n') {
			if (text[pos] == '\0')
				return fail(err, errlen, "line %d: NUL byte", st.line);
			pos++;
		}
		size_t n = pos - start;
		if (pos < len)
			pos++; /* the '\n' */
		if (n > 0 && text[start + n - 1] == '\r')
			n--; /* CRLF */
		if (n > LINE_MAX_BYTES)
			return fail(err, errlen, "line %d: longer than %d bytes", st.line, LINE_MAX_BYTES);
		memcpy(line, text + start, n);
		line[n] = '\0';
		if (!line_text_ok(line))
			return fail(err, errlen, "line %d: not UTF-8 text (bad byte sequence or control character)",
				    st.line);
		if (!parse_line(&st, line, &section, err, errlen))
			return false;
	}
	if (!check_whole(&st, err, errlen))
		return false;
	*p = st.p;
	return true;
}
