/* sfv: RFC 8941 structured field values (see metering/sfv.h). */
#include "metering/sfv.h"

#include <string.h>

#include "common/b64.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_tchar(char c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_sp(const char **pp)
{
	while (**pp == ' ')
		(*pp)++;
}

static void skip_ows(const char **pp)
{
	while (**pp == ' ' || **pp == '\t')
		(*pp)++;
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static bool sf_key(const char **pp, const char **key, size_t *keylen)
{
	const char *p = *pp;
	if (!is_lcalpha(*p) && *p != '*')
		return false;
	p++;
	while (is_lcalpha(*p) || is_digit(*p) || *p == '_' || *p == '-' || *p == '.' || *p == '*')
		p++;
	*key = *pp;
	*keylen = (size_t)(p - *pp);
	*pp = p;
	return true;
}

/* RFC 8941 4.2.4: integers of at most 15 digits, decimals of at most 12 + 3. */
static bool sf_number(const char **pp, sfv_item_t *it)
{
	const char *p = *pp;
	bool neg = false, dec = false;
	size_t ndig = 0, nfrac = 0;
	int64_t v = 0;
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!is_digit(*p))
		return false;
	for (;; p++) {
		if (is_digit(*p)) {
			ndig++;
			if (dec)
				nfrac++;
			else
				v = v * 10 + (*p - '0');
		} else if (!dec && *p == '.') {
			if (ndig > 12)
				return false;
			dec = true;
		} else {
			break;
		}
		if (!dec && ndig > 15)
			return false;
		if (dec && ndig > 15) /* 16 characters including the dot */
			return false;
	}
	if (dec && (nfrac == 0 || nfrac > 3))
		return false;
	it->kind = dec ? SF_DECIMAL : SF_INTEGER;
	it->num = dec ? 0 : (neg ? -v : v);
	it->start = *pp;
	it->end = p;
	*pp = p;
	return true;
}

/* sf-string: printable ASCII; the only escapes are \" and \\. */
static bool sf_string(const char **pp, sfv_item_t *it)
{
	const char *p = *pp + 1; /* past the opening quote */
	for (;;) {
		char c = *p;
		if (c == '\\') {
			if (p[1] != '"' && p[1] != '\\')
				return false;
			p += 2;
		} else if (c == '"') {
			p++;
			break;
		} else if (c < 0x20 || c > 0x7e) { /* also NUL: unterminated */
			return false;
		} else {
			p++;
		}
	}
	it->kind = SF_STRING;
	it->start = *pp;
	it->end = p;
	*pp = p;
	return true;
}

static bool sf_bytes(const char **pp, sfv_item_t *it)
{
	const char *s = *pp + 1, *p = s;
	while (b64_is_char((unsigned char)*p) || *p == '=')
		p++;
	if (*p != ':')
		return false;
	size_t n;
	if (!b64_check(s, (size_t)(p - s), &n))
		return false;
	it->kind = SF_BYTES;
	it->start = s;
	it->end = p;
	*pp = p + 1;
	return true;
}

static bool sf_bare_item(const char **pp, sfv_item_t *it)
{
	const char *p = *pp;
	if (*p == '-' || is_digit(*p))
		return sf_number(pp, it);
	if (*p == '"')
		return sf_string(pp, it);
	if (*p == ':')
		return sf_bytes(pp, it);
	if (*p == '?') {
		if (p[1] != '0' && p[1] != '1')
			return false;
		it->kind = SF_BOOLEAN;
		it->num = p[1] == '1';
		it->start = p;
		it->end = p + 2;
		*pp = p + 2;
		return true;
	}
	if (is_alpha(*p) || *p == '*') {
		p++;
		while (is_tchar(*p) || *p == ':' || *p == '/')
			p++;
		it->kind = SF_TOKEN;
		it->start = *pp;
		it->end = p;
		*pp = p;
		return true;
	}
	return false;
}

/* One parameter, if the next character is ';'.  Returns 1 when one was parsed
 * (a bare key gives Boolean true), 0 when there is none, -1 on a syntax error. */
int sfv_param_next(const char **pp, const char **key, size_t *keylen, sfv_item_t *val)
{
	const char *p = *pp;
	if (*p != ';')
		return 0;
	p++;
	skip_sp(&p);
	if (!sf_key(&p, key, keylen))
		return -1;
	if (*p == '=') {
		p++;
		if (!sf_bare_item(&p, val))
			return -1;
	} else {
		val->kind = SF_BOOLEAN;
		val->num = 1;
		val->start = val->end = p;
	}
	*pp = p;
	return 1;
}

/* Skips over parameters; false on a syntax error. */
static bool sf_params_skip(const char **pp)
{
	const char *k;
	size_t kl;
	sfv_item_t v;
	int r;
	while ((r = sfv_param_next(pp, &k, &kl, &v)) == 1)
		;
	return r == 0;
}

/* item-or-inner-list with parameters, after "key=". */
static bool sf_member_value(const char **pp, sfv_member_t *m)
{
	const char *p = *pp;
	m->vstart = p;
	if (*p == '(') {
		m->inner = true;
		p++;
		for (;;) {
			skip_sp(&p);
			if (*p == ')') {
				p++;
				break;
			}
			sfv_item_t it;
			if (!sf_bare_item(&p, &it))
				return false;
			bool has_params = *p == ';';
			if (!sf_params_skip(&p))
				return false;
			if (m->nitems < SF_MAX_INNER) {
				m->items[m->nitems] = it;
				m->item_params[m->nitems] = has_params;
			}
			m->nitems++;
			if (*p != ' ' && *p != ')')
				return false;
		}
	} else {
		if (!sf_bare_item(&p, &m->item))
			return false;
	}
	m->params = p;
	if (!sf_params_skip(&p))
		return false;
	m->vend = p;
	*pp = p;
	return true;
}

/* Parses a whole field value as a dictionary (RFC 8941 4.2 and 4.2.2).
 * SFV_EMPTY for an absent or empty field, SFV_SYNTAX for bad syntax,
 * a duplicate key or more than max members. */
sfv_status_t sfv_dict(const char *hdr, sfv_member_t *m, size_t max, size_t *n)
{
	*n = 0;
	if (!hdr)
		return SFV_EMPTY;
	const char *p = hdr;
	skip_sp(&p);
	if (!*p)
		return SFV_EMPTY;
	for (;;) {
		if (*n >= max)
			return SFV_SYNTAX;
		sfv_member_t *cur = &m[*n];
		memset(cur, 0, sizeof *cur);
		if (!sf_key(&p, &cur->key, &cur->keylen))
			return SFV_SYNTAX;
		for (size_t i = 0; i < *n; i++)
			if (m[i].keylen == cur->keylen && !memcmp(m[i].key, cur->key, cur->keylen))
				return SFV_SYNTAX;
		if (*p == '=') {
			p++;
			if (!sf_member_value(&p, cur))
				return SFV_SYNTAX;
		} else { /* bare key: Boolean true with parameters */
			cur->vstart = p;
			cur->item.kind = SF_BOOLEAN;
			cur->item.num = 1;
			cur->item.start = cur->item.end = p;
			cur->params = p;
			if (!sf_params_skip(&p))
				return SFV_SYNTAX;
			cur->vend = p;
		}
		(*n)++;
		skip_ows(&p);
		if (!*p)
			return SFV_OK;
		if (*p != ',')
			return SFV_SYNTAX;
		p++;
		skip_ows(&p);
		if (!*p) /* trailing comma */
			return SFV_SYNTAX;
	}
}

const sfv_member_t *sfv_find(const sfv_member_t *m, size_t n, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < n; i++)
		if (m[i].keylen == kl && !memcmp(m[i].key, key, kl))
			return &m[i];
	return NULL;
}

/* Unescapes a string item into out (cap includes the NUL); false if it does
 * not fit. */
bool sfv_string_value(const sfv_item_t *it, char *out, size_t cap, size_t *len)
{
	size_t n = 0;
	for (const char *p = it->start + 1; p < it->end - 1; p++) {
		if (*p == '\\')
			p++;
		if (n + 1 >= cap)
			return false;
		out[n++] = *p;
	}
	out[n] = '\0';
	*len = n;
	return true;
}

bool sfv_item_is(const sfv_item_t *it, const char *raw)
{
	size_t n = strlen(raw);
	return (size_t)(it->end - it->start) == n && !memcmp(it->start, raw, n);
}
