/* engine: docs/policies.md "Rules every programme follows" 1-7 for one run of one
 * programme, in memory (see engine.h for the contract).
 *
 * Shape of the computation, O(groups + ents log ents):
 *   validate_input   preconditions; groups sorted by ent; each USCC once
 *   collect_usage    per enterprise, one pass over its groups: rule 1, rule 7,
 *                    and sums per ordinary rate (a small table: rates are few)
 *   rule3..rule5     per enterprise, from that table; rule 2 marks the line
 *   rule6_pool       programme-wide, over the lines not withheld
 *
 * Sums of amounts that may mix signs are accumulated in 128 bits and checked
 * to fit in int64 at the end, so that whether a sum "overflows" does not
 * depend on the order of the input.  Every other addition is checked with
 * money_add / money_sub.  No floating point.
 *
 * Choices where docs/policies.md is silent are marked "CHOICE:" below. */
#include "settlement/engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/money.h"

/* Distinct ordinary rates of one enterprise: at most one per rate rule, plus
 * 0 (no rule matched). */
#define ENG_MAX_RATES (PROG_MAX_RULES + 1)

typedef __int128 i128;

/* Amounts of one enterprise's kept groups (rules 1 and 7 passed) whose
 * ordinary rate (program_rate, no small buyer, no override) is rate_bp. */
typedef struct rate_sum {
	int32_t rate_bp;
	i128 all; /* every kept group at this ordinary rate */
	i128 sb;  /* the part in the small-buyer categories */
} rate_sum_t;

typedef struct ent_usage {
	rate_sum_t r[ENG_MAX_RATES];
	int nr;
	size_t sb_groups;       /* kept groups in small-buyer categories */
	uint32_t partners_took; /* bit k: partner k took at least one group (rule 7) */
} ent_usage_t;

/* program_in_jurisdiction with a one-entry memo: an enterprise's groups
 * mostly share a division, and the lookup scans up to 128 patterns. */
typedef struct juris_memo {
	char division[7];
	bool known;
	bool in;
} juris_memo_t;

static bool fit64(i128 v, int64_t *out)
{
	if (v > INT64_MAX || v < INT64_MIN)
		return false;
	*out = (int64_t)v;
	return true;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Appends "；text" (or "text" when the note is empty): the notes (备注) are
 * Chinese, for the finance staff and the enterprises.  Truncates silently,
 * never inside a UTF-8 character (the database takes only valid UTF-8),
 * always NUL-terminated. */
static void note_add(eng_line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_add(eng_line_t *l, const char *fmt, ...)
{
	size_t n = strlen(l->note);
	if (n + 1 >= sizeof l->note)
		return;
	char part[sizeof l->note];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(part, sizeof part, fmt, ap);
	va_end(ap);
	size_t m = n;
	const char *pieces[] = {n ? "；" : "", part};
	for (int i = 0; i < 2; i++) {
		size_t len = strlen(pieces[i]), room = sizeof l->note - 1 - m;
		if (len > room)
			len = room;
		memcpy(l->note + m, pieces[i], len);
		m += len;
	}
	l->note[m] = '\0';
	if (m + 1 == sizeof l->note) { /* full: the last character may have been cut */
		size_t j = m;
		while (j > n && ((unsigned char)l->note[j - 1] & 0xc0) == 0x80)
			j--;
		if (j > n) {
			unsigned char lead = (unsigned char)l->note[j - 1];
			size_t len = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
			if (j - 1 + len > m)
				m = j - 1;
		}
	}
	l->note[m] = '\0';
}

/* Yuan with two decimals and thousands separators: "100,000.00". */
static void yuan_grouped(int64_t fen, char *out, size_t outlen)
{
	char plain[32];
	money_format_yuan(fen, plain, sizeof plain);
	const char *p = plain;
	char buf[48];
	size_t k = 0;
	if (*p == '-')
		buf[k++] = *p++;
	size_t digits = strcspn(p, ".");
	for (size_t i = 0; i < digits; i++) {
		if (i && (digits - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = p[i];
	}
	snprintf(buf + k, sizeof buf - k, "%s", p + digits);
	snprintf(out, outlen, "%s", buf);
}

/* A rate in basis points as a percentage: 4000 -> "40%", 4050 -> "40.5%". */
static void rate_percent(int32_t bp, char *out, size_t outlen)
{
	if (bp % 100 == 0)
		snprintf(out, outlen, "%d%%", (int)(bp / 100));
	else if (bp % 10 == 0)
		snprintf(out, outlen, "%d.%d%%", (int)(bp / 100), (int)(bp % 100 / 10));
	else
		snprintf(out, outlen, "%d.%02d%%", (int)(bp / 100), (int)(bp % 100));
}

/* A programme as people know it: its name (name = in the file), else its id. */
static const char *program_label(const program_t *p)
{
	return p->name[0] ? p->name : p->id;
}

static bool juris(const program_t *p, juris_memo_t *m, const char *division)
{
	if (!m->known || strcmp(m->division, division) != 0) {
		memcpy(m->division, division, sizeof m->division);
		m->in = program_in_jurisdiction(p, division);
		m->known = true;
	}
	return m->in;
}

/* ---- the rules ---------------------------------------------------------- */

/* Rule 1, "Eligibility of a record": the enterprise's division (as registered
 * on the record's date) is in the jurisdiction; the record's date is within
 * the program's dates; its category is listed; its provider is not a related
 * party of the enterprise; its facility is registered.  Returns the first
 * condition that fails, in that order of checking: category, dates,
 * jurisdiction, related party, facility (ENG_WHY_COUNTS when none does; a
 * statement names the reason, settlement needs only whether).
 * CHOICE: a facility class other than 'A' or 'B' means the facility is not
 * registered, so the group is not eligible. */
static eng_why_t rule1_why(const program_t *p, juris_memo_t *memo, const eng_group_t *g)
{
	if (!p->categories[g->category])
		return ENG_WHY_CATEGORY;
	if (!g->in_dates)
		return ENG_WHY_DATES;
	if (!juris(p, memo, g->division))
		return ENG_WHY_JURISDICTION;
	if (g->related)
		return ENG_WHY_RELATED;
	if (g->cls != 'A' && g->cls != 'B')
		return ENG_WHY_FACILITY;
	return ENG_WHY_COUNTS;
}

static bool rule1_record_eligible(const program_t *p, juris_memo_t *memo, const eng_group_t *g)
{
	return rule1_why(p, memo, g) == ENG_WHY_COUNTS;
}

/* Rule 2, "Eligibility of an enterprise in a run": not credit_blacklisted and
 * not performance_grade D on the run's date.  An ineligible enterprise's line
 * is withheld: computed and shown, paid nothing, and nothing granted before
 * is taken back.  Returns the reason, or NULL if the enterprise is eligible. */
static const char *rule2_enterprise_withheld(const eng_enterprise_t *e)
{
	if (e->blacklisted && e->grade_d)
		return "暂缓：列入严重失信名单；工业企业绩效评价 D 类";
	if (e->blacklisted)
		return "暂缓：列入严重失信名单";
	if (e->grade_d)
		return "暂缓：工业企业绩效评价 D 类";
	return NULL;
}

/* Does programme a, whose ordinary rate for a record is ra, come before b
 * (rate rb) for rule 7?  A strict total order over the programmes of a group,
 * the same whichever programme's run asks: higher rate first, then the lower
 * exclusivity_order, then (equal orders, a misconfiguration) the smaller id. */
static bool rule7_before(const program_t *a, int32_t ra, const program_t *b, int32_t rb)
{
	if (ra != rb)
		return ra > rb;
	if (a->exclusivity_order != b->exclusivity_order)
		return a->exclusivity_order < b->exclusivity_order;
	return strcmp(a->id, b->id) < 0;
}

/* Rule 7, "No duplicate subsidy (就高不重复)": a record eligible (rule 1) for
 * several programs of one group counts toward exactly one of them: the one
 * whose ordinary rate line gives the highest rate for it; ties, including no
 * rate line matching anywhere (rate 0 everywhere), to the lowest
 * exclusivity_order.  Overrides and the small-buyer rate never move a record;
 * they change the rate only inside the programme that holds it (rule 3).
 * own_rate is this programme's ordinary rate (program_rate) for the group.
 * Returns -1 if the group counts here, else the index of the partner that
 * takes it.
 * Every run of the group must decide the same for the same record, so that
 * summing over the programmes counts it exactly once: the decision depends
 * only on the programme definitions (rule 1 against each, program_rate) and
 * the group's attributes, never on an enterprise's overrides or year-to-date
 * sums, which differ between the programmes' runs.  A partner with rate 0
 * still takes the record when it comes first: otherwise, with rate 0 on both
 * sides, each side would keep it and an override on each would pay it twice.
 * CHOICE: a partner's eligibility is rule 1 against the partner (its
 *   jurisdiction, its dates via partner_in_dates, its categories, related
 *   party; the facility class is the group's own, checked by rule 1 here). */
static int rule7_exclusive(const eng_input_t *in, juris_memo_t *memos, const eng_enterprise_t *e, const eng_group_t *g,
			   int32_t own_rate)
{
	const program_t *p = in->prog;
	int best = -1;
	const program_t *bp = p;
	int32_t br = own_rate;
	for (int k = 0; k < in->npartners; k++) {
		const program_t *q = in->partners[k];
		if (!(g->partner_in_dates & (1u << k)) || g->related || !q->categories[g->category])
			continue;
		if (!juris(q, &memos[k], g->division))
			continue;
		int32_t qr = program_rate(q, g->category, g->cls, e->flags);
		if (rule7_before(q, qr, bp, br)) {
			best = k;
			bp = q;
			br = qr;
		}
	}
	return best;
}

/* Adds amount to rate_bp's slot of the enterprise's table (sb: the group is
 * in a small-buyer category). */
static bool add_rate_sum(ent_usage_t *u, int32_t rate_bp, int64_t amount, bool sb)
{
	int i;
	for (i = 0; i < u->nr; i++)
		if (u->r[i].rate_bp == rate_bp)
			break;
	if (i == u->nr) {
		if (u->nr == ENG_MAX_RATES)
			return false;
		u->r[u->nr++] = (rate_sum_t){.rate_bp = rate_bp};
	}
	u->r[i].all += amount;
	if (sb)
		u->r[i].sb += amount;
	return true;
}

/* Rule 3, "Entitlement": group the eligible records by the rate that applies
 * to them (records with the same rate form one group, whatever their category
 * or facility); entitlement = Σ over groups of floor(Σ amount_fen × rate_bp /
 * 10000).  Rounding is always down.
 * The rate of a record: the enterprise's override rate if it has one (for all
 * its eligible records); else the small-buyer rate for records of the
 * small-buyer categories while the enterprise is a small buyer (flag set and
 * year-to-date amount in those categories <= the limit, inclusive: passing it
 * puts the whole year at the ordinary rates); else program_rate.
 * CHOICE: records whose rate is 0 (no rate rule) count for nothing, and are
 *   not in eligible_ytd.
 * CHOICE: the small-buyer year-to-date amount is the net amount of the
 *   records of the small-buyer categories that pass rules 1 and 7, whatever
 *   their ordinary rate.
 * CHOICE: a negative per-rate sum (refunds above purchases) rounds down too;
 *   only the total entitlement is clamped at 0. */
static bool rule3_entitlement(const program_t *p, const eng_enterprise_t *e, const ent_usage_t *u, eng_line_t *l)
{
	rate_sum_t fin[ENG_MAX_RATES + 1]; /* final rate -> sum (only .all used) */
	int nf = 0;
	i128 sb_ytd = 0;
	for (int i = 0; i < u->nr; i++)
		sb_ytd += u->r[i].sb;

	bool small = false;
	if (e->has_rate_override) {
		i128 all = 0;
		for (int i = 0; i < u->nr; i++)
			all += u->r[i].all;
		fin[nf++] = (rate_sum_t){.rate_bp = e->override_rate_bp, .all = all};
		char pct[16];
		rate_percent(e->override_rate_bp, pct, sizeof pct);
		note_add(l, "一事一议比例 %s", pct);
	} else {
		bool sb_flag = p->has_small_buyer && (e->flags & (1u << p->small_buyer_flag));
		small = sb_flag && u->sb_groups > 0 && sb_ytd <= p->small_buyer_max_ytd_fen;
		char max[40], pct[16];
		yuan_grouped(p->small_buyer_max_ytd_fen, max, sizeof max);
		rate_percent(p->small_buyer_rate_bp, pct, sizeof pct);
		if (sb_flag && u->sb_groups > 0 && !small)
			note_add(l, "小额采购：年度累计已超过 %s 元，全年按普通比例重算", max);
		if (small)
			note_add(l, "小额采购比例 %s", pct);
		i128 sb_all = 0;
		for (int i = 0; i < u->nr; i++) {
			fin[nf++] = (rate_sum_t){
				.rate_bp = u->r[i].rate_bp,
				.all = small ? u->r[i].all - u->r[i].sb : u->r[i].all,
			};
			sb_all += u->r[i].sb;
		}
		if (small) {
			/* merge into an ordinary rate equal to the small-buyer rate */
			int j;
			for (j = 0; j < nf; j++)
				if (fin[j].rate_bp == p->small_buyer_rate_bp)
					break;
			if (j == nf)
				fin[nf++] = (rate_sum_t){.rate_bp = p->small_buyer_rate_bp};
			fin[j].all += sb_all;
		}
	}
	l->small_buyer = small;

	i128 eligible = 0, ent = 0;
	for (int i = 0; i < nf; i++) {
		if (fin[i].rate_bp == 0)
			continue;
		int64_t sum, part;
		if (!fit64(fin[i].all, &sum) || !money_apply_bp(sum, fin[i].rate_bp, &part))
			return false;
		eligible += fin[i].all;
		ent += part;
	}
	if (!fit64(eligible, &l->eligible_ytd) || !fit64(ent, &l->entitlement_ytd))
		return false;
	if (l->entitlement_ytd < 0)
		l->entitlement_ytd = 0;
	return true;
}

/* Rule 4, "Cap": capped entitlement = min(entitlement, cap), cap from the
 * enterprise's flags (program_cap: the highest matching cap line) or its
 * override.  Returns the capped entitlement. */
static int64_t rule4_cap(const program_t *p, const eng_enterprise_t *e, eng_line_t *l)
{
	l->cap = e->has_cap_override ? e->override_cap_fen : program_cap(p, e->flags);
	if (e->has_cap_override) {
		char y[40];
		yuan_grouped(l->cap, y, sizeof y);
		note_add(l, "一事一议上限 %s 元", y);
	}
	if (l->entitlement_ytd <= l->cap)
		return l->entitlement_ytd;
	char y[40];
	yuan_grouped(l->cap, y, sizeof y);
	note_add(l, "已达年度上限 %s 元", y);
	return l->cap;
}

/* Rule 5, "Cumulative settlement": the run pays the difference between the
 * capped year-to-date entitlement and what approved runs already granted;
 * a negative difference is a recovery (追回). */
static bool rule5_difference(int64_t capped, eng_line_t *l)
{
	return money_sub(capped, l->granted_before, &l->difference);
}

typedef struct pool_cand {
	int64_t rem; /* difference × left mod asked, < asked */
	const char *uscc;
	size_t line;
} pool_cand_t;

/* largest remainder first; ties to the smaller USCC (ASCII) */
static int cand_cmp(const void *a, const void *b)
{
	const pool_cand_t *x = a, *y = b;
	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return strcmp(x->uscc, y->uscc);
}

/* Rule 6, "Pool": the sum of grants in a program-year never exceeds its pool.
 * When a run's positive differences exceed what is left (pool − net granted
 * so far + this run's recoveries), each is scaled down pro rata:
 * floor(difference × left / total), with the leftover fen given one each by
 * largest remainder, ties to the smaller USCC (ASCII).  What was not paid is
 * not granted, so it is asked for again next month.
 * Withheld lines take no part (neither asks nor recoveries).  Recoveries are
 * always taken in full.  Sets payable on every line that is not withheld.
 * CHOICE: tot->pool_left is pool − net granted before this run, clamped at 0
 *   (without this run's recoveries); "left" for the scaling adds them and is
 *   clamped at 0 too. */
static bool rule6_pool(const eng_input_t *in, eng_line_t *lines, eng_totals_t *tot, char *err, size_t errlen)
{
	const program_t *p = in->prog;
	int64_t asked = 0, recov = 0;
	size_t nask = 0;
	for (size_t i = 0; i < in->nents; i++) {
		eng_line_t *l = &lines[i];
		if (l->status == ST_WITHHELD)
			continue;
		l->payable = l->difference;
		if (l->difference > 0) {
			nask++;
			if (!money_add(asked, l->difference, &asked))
				goto overflow;
		} else if (l->difference < 0 && !money_sub(recov, l->difference, &recov)) {
			goto overflow;
		}
	}
	tot->asked = asked;
	if (!p->has_pool) {
		tot->pool_left = -1;
		return true;
	}
	int64_t before, left;
	if (!money_sub(p->pool_fen, in->pool_granted_fen, &before))
		goto overflow;
	tot->pool_left = before < 0 ? 0 : before;
	if (!money_add(before, recov, &left))
		goto overflow;
	if (left < 0)
		left = 0;
	if (asked <= left)
		return true;

	/* asked > left >= 0, so asked > 0 and nask > 0 */
	pool_cand_t *c = malloc(nask * sizeof *c);
	if (!c) {
		set_err(err, errlen, "out of memory (pool)");
		return false;
	}
	size_t n = 0;
	int64_t given = 0;
	for (size_t i = 0; i < in->nents; i++) {
		eng_line_t *l = &lines[i];
		if (l->status == ST_WITHHELD || l->difference <= 0)
			continue;
		int64_t share;
		/* share < difference because left < asked: it fits */
		if (!money_muldiv_floor(l->difference, left, asked, &share) || !money_add(given, share, &given)) {
			free(c);
			goto overflow;
		}
		l->payable = share;
		c[n++] = (pool_cand_t){
			.rem = (int64_t)(((i128)l->difference * left) % asked),
			.uscc = in->ents[i].uscc,
			.line = i,
		};
	}
	/* Σ floor > left - n, so 0 <= leftover < n */
	int64_t leftover = left - given;
	if (leftover < 0 || (uint64_t)leftover > n) {
		free(c);
		set_err(err, errlen, "pool: internal inconsistency (leftover %lld of %zu)", (long long)leftover, n);
		return false;
	}
	qsort(c, n, sizeof *c, cand_cmp);
	for (size_t k = 0; k < (size_t)leftover; k++)
		lines[c[k].line].payable++;
	for (size_t k = 0; k < n; k++) {
		eng_line_t *l = &lines[c[k].line];
		if (l->payable < l->difference) {
			char a[40], b[40];
			yuan_grouped(l->difference, a, sizeof a);
			yuan_grouped(l->payable, b, sizeof b);
			l->pool_scaled = true;
			note_add(l, "资金池不足：应拨 %s 元，实拨 %s 元", a, b);
		}
	}
	free(c);
	return true;
overflow:
	set_err(err, errlen, "overflow in the pool sums");
	return false;
}

/* ---- the run ------------------------------------------------------------ */

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool program_sane(const program_t *p)
{
	return p->nrates >= 0 && p->nrates <= PROG_MAX_RULES && p->ncaps >= 0 && p->ncaps <= PROG_MAX_RULES &&
	       p->ndivisions >= 0 && p->ndivisions <= PROG_MAX_DIVISIONS && p->noptional >= 0 &&
	       p->noptional <= PROG_MAX_DIVISIONS &&
	       (!p->has_small_buyer || (p->small_buyer_flag >= 0 && p->small_buyer_flag < 32));
}

/* Preconditions, checked (false with a message if one fails):
 * - prog set and sane; 0 <= npartners <= ENG_MAX_PARTNERS; each partner set,
 *   sane, of prog's (non-empty) exclusivity group, with another id;
 * - groups sorted by ent (non-decreasing), every ent < nents (the caller
 *   sorts in SQL; the engine relies on it to stay linear);
 * - every category in range, every division and USCC NUL-terminated;
 * - overrides: rate in 0..10000 bp, cap >= 0 (ceilings are checked where the
 *   override is registered, not here);
 * - each USCC at most once (ties in rule 6 are broken by USCC). */
static bool validate_input(const eng_input_t *in, eng_line_t *lines, eng_totals_t *tot, char *err, size_t errlen)
{
	if (!in || !in->prog || !tot || (in->nents && (!lines || !in->ents)) || (in->ngroups && !in->groups)) {
		set_err(err, errlen, "engine: missing input");
		return false;
	}
	const program_t *p = in->prog;
	if (!program_sane(p)) {
		set_err(err, errlen, "programme %s: rule counts out of range", p->id);
		return false;
	}
	if (in->npartners < 0 || in->npartners > ENG_MAX_PARTNERS || (in->npartners && !p->exclusivity_group[0])) {
		set_err(err, errlen, "programme %s: bad partner list", p->id);
		return false;
	}
	for (int k = 0; k < in->npartners; k++) {
		const program_t *q = in->partners[k];
		if (!q || !program_sane(q) || strcmp(q->exclusivity_group, p->exclusivity_group) != 0 ||
		    !strcmp(q->id, p->id)) {
			set_err(err, errlen, "programme %s: partner %d is not another programme of its group", p->id,
				k);
			return false;
		}
	}
	for (size_t i = 0; i < in->ngroups; i++) {
		const eng_group_t *g = &in->groups[i];
		if (g->ent >= in->nents || (i && g->ent < in->groups[i - 1].ent)) {
			set_err(err, errlen, "group %zu: not sorted by enterprise or enterprise out of range", i);
			return false;
		}
		if (g->category < 0 || g->category >= CAT_COUNT || !memchr(g->division, 0, sizeof g->division)) {
			set_err(err, errlen, "group %zu: bad category or division", i);
			return false;
		}
	}
	for (size_t i = 0; i < in->nents; i++) {
		const eng_enterprise_t *e = &in->ents[i];
		if (!memchr(e->uscc, 0, sizeof e->uscc)) {
			set_err(err, errlen, "enterprise %zu: USCC not terminated", i);
			return false;
		}
		if ((e->has_rate_override && (e->override_rate_bp < 0 || e->override_rate_bp > 10000)) ||
		    (e->has_cap_override && e->override_cap_fen < 0)) {
			set_err(err, errlen, "enterprise %s: override out of range", e->uscc);
			return false;
		}
	}
	if (in->nents > 1) {
		const char **u = malloc(in->nents * sizeof *u);
		if (!u) {
			set_err(err, errlen, "out of memory (USCC check)");
			return false;
		}
		for (size_t i = 0; i < in->nents; i++)
			u[i] = in->ents[i].uscc;
		qsort(u, in->nents, sizeof *u, str_ptr_cmp);
		for (size_t i = 1; i < in->nents; i++)
			if (!strcmp(u[i - 1], u[i])) {
				set_err(err, errlen, "enterprise %s appears twice", u[i]);
				free(u);
				return false;
			}
		free(u);
	}
	return true;
}

/* One pass over an enterprise's groups: rule 1, then rule 7, then the
 * amount into the table by ordinary rate. */
static bool collect_usage(const eng_input_t *in, juris_memo_t *memos, const eng_enterprise_t *e, const eng_group_t *g,
			  size_t n, ent_usage_t *u)
{
	const program_t *p = in->prog;
	for (size_t i = 0; i < n; i++) {
		if (!rule1_record_eligible(p, &memos[ENG_MAX_PARTNERS], &g[i]))
			continue;
		int32_t rate = program_rate(p, g[i].category, g[i].cls, e->flags);
		int k = rule7_exclusive(in, memos, e, &g[i], rate);
		if (k >= 0) {
			u->partners_took |= 1u << k;
			continue;
		}
		bool sb = p->has_small_buyer && p->small_buyer_categories[g[i].category];
		if (sb)
			u->sb_groups++;
		if (!add_rate_sum(u, rate, g[i].amount_fen, sb))
			return false;
	}
	return true;
}

/* CHOICE: the note names one partner that took usage under rule 7, the one
 * with the smallest id, so that it does not depend on input order. */
static void note_partners(const eng_input_t *in, uint32_t took, eng_line_t *l)
{
	const program_t *first = NULL;
	int count = 0;
	for (int k = 0; k < in->npartners; k++)
		if (took & (1u << k)) {
			count++;
			if (!first || strcmp(in->partners[k]->id, first->id) < 0)
				first = in->partners[k];
		}
	if (first && count == 1)
		note_add(l, "用量已计入 %s", program_label(first));
	else if (first)
		note_add(l, "用量已计入 %s 等 %d 个项目", program_label(first), count);
}

static bool settle_enterprise(const eng_input_t *in, juris_memo_t *memos, size_t idx, const eng_group_t *g, size_t n,
			      eng_line_t *l, char *err, size_t errlen)
{
	const eng_enterprise_t *e = &in->ents[idx];
	memset(l, 0, sizeof *l);
	l->granted_before = e->granted_before;

	const char *withheld = rule2_enterprise_withheld(e);
	if (withheld) {
		l->status = ST_WITHHELD;
		note_add(l, "%s", withheld);
	}
	ent_usage_t u;
	u.nr = 0;
	u.sb_groups = 0;
	u.partners_took = 0;
	if (!collect_usage(in, memos, e, g, n, &u)) {
		set_err(err, errlen, "enterprise %s: more distinct rates than rate rules", e->uscc);
		return false;
	}
	if (!rule3_entitlement(in->prog, e, &u, l)) {
		set_err(err, errlen, "enterprise %s: overflow in the entitlement", e->uscc);
		return false;
	}
	note_partners(in, u.partners_took, l);
	int64_t capped = rule4_cap(in->prog, e, l);
	if (!rule5_difference(capped, l)) {
		set_err(err, errlen, "enterprise %s: overflow in the difference", e->uscc);
		return false;
	}
	return true;
}

bool eng_settle(const eng_input_t *in, eng_line_t *lines, eng_totals_t *tot, char *err, size_t errlen)
{
	if (!validate_input(in, lines, tot, err, errlen))
		return false;
	memset(tot, 0, sizeof *tot);

	/* memos[0..ENG_MAX_PARTNERS-1]: partners; memos[ENG_MAX_PARTNERS]: prog */
	juris_memo_t memos[ENG_MAX_PARTNERS + 1];
	memset(memos, 0, sizeof memos);
	size_t gi = 0;
	for (size_t i = 0; i < in->nents; i++) {
		size_t start = gi;
		while (gi < in->ngroups && in->groups[gi].ent == i)
			gi++;
		if (!settle_enterprise(in, memos, i, in->groups + start, gi - start, &lines[i], err, errlen))
			return false;
	}

	if (!rule6_pool(in, lines, tot, err, errlen))
		return false;

	for (size_t i = 0; i < in->nents; i++) {
		eng_line_t *l = &lines[i];
		if (l->status == ST_WITHHELD) {
			l->payable = 0;
			tot->lines_withheld++;
			continue;
		}
		if (l->payable > 0) {
			l->status = ST_PAYABLE;
			tot->lines_payable++;
			if (!money_add(tot->payable, l->payable, &tot->payable))
				goto overflow;
		} else if (l->payable < 0) {
			l->status = ST_RECOVERY;
			tot->lines_recovery++;
			note_add(l, "追回");
			if (!money_add(tot->recovered, l->payable, &tot->recovered))
				goto overflow;
		} else {
			l->status = ST_NONE;
			tot->lines_none++;
		}
	}
	return true;
overflow:
	set_err(err, errlen, "overflow in the run totals");
	return false;
}

eng_why_t eng_group_why(const eng_input_t *in, const eng_enterprise_t *e, const eng_group_t *g, int *partner,
			int32_t *ordinary_rate_bp)
{
	juris_memo_t memos[ENG_MAX_PARTNERS + 1];
	memset(memos, 0, sizeof memos);
	*partner = -1;
	*ordinary_rate_bp = 0;
	if (g->category < 0 || g->category >= CAT_COUNT)
		return ENG_WHY_CATEGORY;
	eng_why_t why = rule1_why(in->prog, &memos[ENG_MAX_PARTNERS], g);
	if (why != ENG_WHY_COUNTS)
		return why;
	*ordinary_rate_bp = program_rate(in->prog, g->category, g->cls, e->flags);
	int k = rule7_exclusive(in, memos, e, g, *ordinary_rate_bp);
	if (k >= 0) {
		*partner = k;
		return ENG_WHY_PARTNER;
	}
	return ENG_WHY_COUNTS;
}

const char *eng_status_name(eng_status_t s)
{
	switch (s) {
	case ST_NONE: return "none";
	case ST_PAYABLE: return "payable";
	case ST_RECOVERY: return "recovery";
	case ST_WITHHELD: return "withheld";
	}
	return "unknown";
}
