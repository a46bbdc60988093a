#include "common/money.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool money_add(int64_t a, int64_t b, int64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

bool money_sub(int64_t a, int64_t b, int64_t *out)
{
	return !__builtin_sub_overflow(a, b, out);
}

bool money_muldiv_floor(int64_t amount, int64_t num, int64_t den, int64_t *out)
{
	if (den <= 0)
		return false;
	__int128 p = (__int128)amount * (__int128)num;
	__int128 q = p / den;
	if ((p % den != 0) && ((p < 0) != (den < 0)))
		q -= 1; /* C division truncates towards zero; we round down */
	if (q > INT64_MAX || q < INT64_MIN)
		return false;
	*out = (int64_t)q;
	return true;
}

bool money_apply_bp(int64_t amount, int32_t bp, int64_t *out)
{
	return money_muldiv_floor(amount, bp, 10000, out);
}

void money_format_yuan(int64_t fen, char *out, size_t outlen)
{
	/* unsigned magnitude handles INT64_MIN */
	uint64_t mag = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	snprintf(out, outlen, "%s%llu.%02llu", fen < 0 ? "-" : "", (unsigned long long)(mag / 100),
		 (unsigned long long)(mag % 100));
}

void money_format_yuan_grouped(int64_t fen, char *out, size_t outlen)
{
	uint64_t mag = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	char digits[24];
	int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)(mag / 100));
	char grouped[40];
	size_t g = 0;
	if (fen < 0)
		grouped[g++] = '-';
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			grouped[g++] = ',';
		grouped[g++] = digits[i];
	}
	grouped[g] = '\0';
	snprintf(out, outlen, "%s.%02llu", grouped, (unsigned long long)(mag % 100));
}

bool money_parse_i64(const char *s, int64_t *out)
{
	if (!s)
		return false;
	/* strtoll alone takes leading blanks, a '+', and "12abc" or "12.5" as 12 */
	const char *d = s + (*s == '-');
	if (*d < '0' || *d > '9')
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return false;
	*out = (int64_t)v;
	return true;
}

bool money_parse_yuan(const char *s, int64_t *fen)
{
	bool neg = false;
	if (*s == '-') {
		neg = true;
		s++;
	}
	if (!(*s >= '0' && *s <= '9'))
		return false;
	int64_t v = 0;
	while (*s >= '0' && *s <= '9') {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
			return false;
		s++;
	}
	int frac = 0, nd = 0;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			if (++nd > 2)
				return false;
			frac = frac * 10 + (*s - '0');
			s++;
		}
		if (nd == 0)
			return false;
		if (nd == 1)
			frac *= 10;
	}
	if (*s)
		return false;
	if (__builtin_mul_overflow(v, 100, &v) || __builtin_add_overflow(v, frac, &v))
		return false;
	*fen = neg ? -v : v;
	return true;
}
