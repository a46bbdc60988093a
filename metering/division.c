/* division: lookups in the GB/T 2260 table generated from metering/gb2260.txt
 * (metering/division.h). */
#include "metering/division.h"

#include <stdio.h>
#include <string.h>

static bool six_digits(const char *s)
{
	if (!s)
		return false;
	for (int i = 0; i < 6; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[6] == '\0';
}

const division_t *division_find(const char *code)
{
	if (!six_digits(code))
		return NULL;
	size_t lo = 0, hi = division_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(division_table[mid].code, code);
		if (c == 0)
			return &division_table[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool division_province_complete(const char *code)
{
	if (!code || !code[0] || !code[1])
		return false;
	for (const char *const *p = division_complete; *p; p++)
		if ((*p)[0] == code[0] && (*p)[1] == code[1])
			return true;
	return false;
}

/* The code of code's province ("330000") or prefecture ("330100"). */
static void parent(const char *code, int keep, char out[7])
{
	memcpy(out, code, (size_t)keep);
	memset(out + keep, '0', (size_t)(6 - keep));
	out[6] = '\0';
}

static void abolished_why(const division_t *d, char *why, size_t whylen)
{
	int n = snprintf(why, whylen, "%s %s was abolished in %d (merged into ", d->code, d->name, d->abolished);
	for (int i = 0; d->successor[i] && n >= 0 && (size_t)n < whylen; i++) {
		const division_t *s = division_find(d->successor[i]);
		n += snprintf(why + n, whylen - (size_t)n, "%s%s %s", i ? " and " : "", d->successor[i],
			      s ? s->name : "?");
	}
	if (n >= 0 && (size_t)n < whylen)
		n += snprintf(why + n, whylen - (size_t)n, "); use ");
	for (int i = 0; d->successor[i] && n >= 0 && (size_t)n < whylen; i++)
		n += snprintf(why + n, whylen - (size_t)n, "%s%s", i ? " or " : "", d->successor[i]);
	if (d->successor[1] && n >= 0 && (size_t)n < whylen)
		snprintf(why + n, whylen - (size_t)n, " (whichever now holds the enterprise's address)");
}

division_verdict_t division_check(const char *code, const division_t **found, char *why, size_t whylen)
{
	if (found)
		*found = NULL;
	if (whylen)
		why[0] = '\0';
	if (!six_digits(code)) {
		snprintf(why, whylen, "'%.20s' is not a six-digit GB/T 2260 code", code ? code : "");
		return DIVISION_UNKNOWN;
	}
	const division_t *d = division_find(code);
	if (found)
		*found = d;
	if (d && d->abolished) {
		abolished_why(d, why, whylen);
		return DIVISION_ABOLISHED;
	}
	if (d)
		return DIVISION_IN_FORCE;
	char prov[7], pref[7];
	parent(code, 2, prov);
	parent(code, 4, pref);
	const division_t *p = division_find(prov), *q = division_find(pref);
	if (!p) {
		snprintf(why, whylen, "%s is not a GB/T 2260 code: there is no province %s", code, prov);
		return DIVISION_UNKNOWN;
	}
	if (!q || !strcmp(pref, code)) {
		snprintf(why, whylen, "%s is not a GB/T 2260 code: %s has no prefecture-level division %s", code,
			 p->full_name, pref);
		return DIVISION_UNKNOWN;
	}
	if (q->abolished) {
		snprintf(why, whylen, "%s is not a GB/T 2260 code in force: its prefecture %s %s was abolished in %d",
			 code, q->code, q->name, q->abolished);
		return DIVISION_UNKNOWN;
	}
	if (division_province_complete(code)) {
		snprintf(why, whylen, "%s is not a GB/T 2260 code: %s has no county-level division %s", code,
			 q->full_name, code);
		return DIVISION_UNKNOWN;
	}
	snprintf(why, whylen, "%s: %s is not listed at county level; its province and prefecture (%s) exist", code,
		 p->name, q->full_name);
	return DIVISION_UNLISTED;
}

void division_label(const char *code, char *out, size_t outlen)
{
	const division_t *d = division_find(code);
	if (!d)
		snprintf(out, outlen, "%s", code ? code : "");
	else
		snprintf(out, outlen, "%s %s%s", d->code, d->name, d->abolished ? "（已撤销）" : "");
}
