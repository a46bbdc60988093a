#include "common/validate.h"

#include "common/date.h"

#include <stdio.h>
#include <string.h>

#include "common/date.h"

/* ---- unified social credit code (GB 32100-2015) ---- */

static const char uscc_charset[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* Value of c in uscc_charset plus one; 0 for a character outside it. */
static const unsigned char uscc_val1[128] = {
	['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
	['8'] = 9,  ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
	['G'] = 17, ['H'] = 18, ['J'] = 19, ['K'] = 20, ['L'] = 21, ['M'] = 22, ['N'] = 23, ['P'] = 24,
	['Q'] = 25, ['R'] = 26, ['T'] = 27, ['U'] = 28, ['W'] = 29, ['X'] = 30, ['Y'] = 31,
};

static const int uscc_weights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

/* -1 if c is not in the charset. */
static int uscc_value(char c)
{
	unsigned char u = (unsigned char)c;
	return u < 128 ? (int)uscc_val1[u] - 1 : -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

char uscc_check_char(const char *first17)
{
	if (!first17)
		return 0;
	int sum = 0;
	for (int i = 0; i < 17; i++) {
		int v = uscc_value(first17[i]); /* a NUL stops here: not in the charset */
		if (v < 0)
			return 0;
		if (i >= 2 && i < 8 && !is_digit(first17[i]))
			return 0; /* chars 3-8: the division code */
		sum += v * uscc_weights[i];
	}
	return uscc_charset[(31 - sum % 31) % 31];
}

bool uscc_valid(const char *s)
{
	if (!s)
		return false;
	char c = uscc_check_char(s);
	return c != 0 && s[17] == c && s[18] == '\0';
}

/* ---- GB/T 2260 division codes ---- */

static bool province_valid(int p)
{
	return (p >= 11 && p <= 15) || (p >= 21 && p <= 23) || (p >= 31 && p <= 37) || (p >= 41 && p <= 46) ||
	       (p >= 50 && p <= 54) || (p >= 61 && p <= 65) || p == 71 || p == 81 || p == 82;
}

bool division_valid(const char *s)
{
	if (!s)
		return false;
	for (int i = 0; i < 6; i++)
		if (!is_digit(s[i]))
			return false;
	if (s[6] != '\0')
		return false;
	int prov = (s[0] - '0') * 10 + (s[1] - '0');
	return province_valid(prov) && !(s[2] == '0' && s[3] == '0') && !(s[4] == '0' && s[5] == '0');
}

/* ---- decimal strings ---- */

#define DEC_MAX_INT_DIGITS 18

typedef struct dec_parts {
	bool neg;
	const char *ip; /* integer digits */
	size_t ilen;
	const char *fp; /* fraction digits, NULL if none */
	size_t flen;
} dec_parts_t;

static bool dec_scan(const char *s, int max_frac, bool allow_negative, dec_parts_t *d)
{
	if (!s)
		return false;
	memset(d, 0, sizeof *d);
	if (*s == '-') {
		if (!allow_negative)
			return false;
		d->neg = true;
		s++;
	}
	d->ip = s;
	while (is_digit(*s)) {
		if (++d->ilen > DEC_MAX_INT_DIGITS)
			return false;
		s++;
	}
	if (d->ilen == 0 || (d->ilen > 1 && d->ip[0] == '0'))
		return false;
	if (*s == '.') {
		s++;
		d->fp = s;
		while (is_digit(*s)) {
			if (max_frac < 0 || ++d->flen > (size_t)max_frac)
				return false;
			s++;
		}
		if (d->flen == 0)
			return false;
	}
	return *s == '\0';
}

bool decimal_valid(const char *s, int max_frac, bool allow_negative)
{
	dec_parts_t d;
	return dec_scan(s, max_frac, allow_negative, &d);
}

bool decimal_normalize(const char *s, int max_frac, char *out, size_t outlen)
{
	dec_parts_t d;
	if (!out || !dec_scan(s, max_frac, true, &d))
		return false;
	while (d.flen > 0 && d.fp[d.flen - 1] == '0')
		d.flen--;
	if (d.ilen == 1 && d.ip[0] == '0' && d.flen == 0)
		d.neg = false; /* "-0", "-0.000" */
	size_t need = (d.neg ? 1 : 0) + d.ilen + (d.flen ? 1 + d.flen : 0) + 1;
	if (need > outlen)
		return false;
	char *o = out;
	if (d.neg)
		*o++ = '-';
	memcpy(o, d.ip, d.ilen);
	o += d.ilen;
	if (d.flen) {
		*o++ = '.';
		memcpy(o, d.fp, d.flen);
		o += d.flen;
	}
	*o = '\0';
	return true;
}

/* ---- RFC 3339 ---- */

/* n ASCII digits at p into *v; stops at (and fails on) a NUL, never reads past it. */
static bool take_digits(const char *p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
		x = x * 10 + (p[i] - '0');
	}
	*v = x;
	return true;
}

bool rfc3339_parse(const char *s, int64_t *us)
{
	int y, mo, d, h, mi, sec;
	if (!s || !us)
		return false;
	if (!take_digits(s, 4, &y) || s[4] != '-' || !take_digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !take_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !take_digits(s + 11, 2, &h) ||
	    s[13] != ':' || !take_digits(s + 14, 2, &mi) || s[16] != ':' || !take_digits(s + 17, 2, &sec))
		return false;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > date_days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 59)
		return false;
	const char *p = s + 19;
	int64_t frac = 0;
	if (*p == '.') {
		p++;
		int nd = 0;
		while (is_digit(*p)) {
			if (++nd > 6)
				return false;
			frac = frac * 10 + (*p - '0');
			p++;
		}
		if (nd == 0)
			return false;
		for (; nd < 6; nd++)
			frac *= 10;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (!take_digits(p + 1, 2, &oh) || p[3] != ':' || !take_digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return false;
		off = (int64_t)oh * 3600 + om * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		return false;
	}
	if (*p != '\0')
		return false;
	int64_t secs = date_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + sec - off;
	*us = secs * 1000000 + frac;
	return true;
}

/* Writes v (>= 0) as exactly n digits, zero padded. */
static void put_digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void rfc3339_format_utc(int64_t us, char *out, size_t outlen)
{
	if (!out || outlen == 0)
		return;
	int64_t secs = us / 1000000, frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs -= 1;
	}
	int64_t days = secs / 86400, sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days -= 1;
	}
	int64_t y;
	int m, d;
	date_civil_from_days(days, &y, &m, &d);
	int hh = (int)(sod / 3600), mi = (int)(sod / 60 % 60), ss = (int)(sod % 60);
	if (y < 0 || y > 9999 || outlen < 28) { /* rare: let snprintf size and cut it */
		snprintf(out, outlen, "%04lld-%02d-%02dT%02d:%02d:%02d.%06dZ", (long long)y, m, d, hh, mi, ss,
			 (int)frac);
		return;
	}
	/* the common case by hand: this runs for every stored record */
	char *o = out;
	put_digits(o, (int)y, 4);
	put_digits(o + 5, m, 2);
	put_digits(o + 8, d, 2);
	put_digits(o + 11, hh, 2);
	put_digits(o + 14, mi, 2);
	put_digits(o + 17, ss, 2);
	put_digits(o + 20, (int)frac, 6);
	o[4] = o[7] = '-';
	o[10] = 'T';
	o[13] = o[16] = ':';
	o[19] = '.';
	o[26] = 'Z';
	o[27] = '\0';
}

/* ---- identifiers and text ---- */

bool printable_id(const char *s, size_t maxlen)
{
	if (!s)
		return false;
	size_t n = 0;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (n >= maxlen || c < 0x21 || c > 0x7e)
			return false;
	}
	return n >= 1;
}

/* Length of the well-formed UTF-8 sequence of a non-ASCII character at p, or 0.
 * Refuses overlong forms, surrogates, code points above U+10FFFF and the C1
 * controls U+0080-U+009F. */
static size_t utf8_char_len(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		if (c == 0xc2)
			lo = 0xa0; /* U+0080-U+009F are C1 controls */
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf) /* a NUL fails here, so no overread */
			return 0;
	return n;
}

bool text_field(const char *s, size_t maxlen)
{
	if (!s)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	while (p[n]) {
		unsigned char c = p[n];
		size_t k = 1;
		if (c >= 0x80) {
			k = utf8_char_len(p + n);
			if (k == 0)
				return false;
		} else if (c < 0x20 || c == 0x7f) {
			return false;
		}
		n += k;
		if (n > maxlen)
			return false;
	}
	return n >= 1;
}

bool invoice_no_valid(const char *s)
{
	if (!s)
		return false;
	for (int i = 0; i < 20; i++)
		if (!is_digit(s[i]))
			return false;
	return s[20] == '\0';
}
