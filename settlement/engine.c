/* engine: docs/policies.md "Rules every programme follows" 1-7, 9 and 10 for one run of one
 * programme, in memory (see engine.h for the contract).
 *
 * Shape of the computation, O(groups + ents log ents):
 *   validate_input   preconditions; groups sorted by ent; each USCC once
 *   collect_usage    per enterprise, one pass over its groups: rule 1, rule 7,
 *                    rules 9 and 10, and sums per rate key (a small table:
 *                    the key is a function of category, class and whether the
 *                    group is stacked, so there are few)
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

/* Distinct rate keys of one enterprise: the key is a function of the
 * group's category and class (and the enterprise), and of whether it is
 * stacked (rule 9), so at most CAT_COUNT x 2 x 2. */
#define ENG_MAX_RATES (CAT_COUNT * 2 * 2 + 1)

typedef __int128 i128;

/* What decides the rate of a kept group (rules 1 and 7 passed), before the
 * enterprise's year is known: rule 3 then picks the rate from it once
 * whether the enterprise is a small buyer is known (rule3_rate). */
typedef struct rate_key {
	int32_t ordinary; /* program_rate: no small buyer, no override */
	bool sb;          /* in a small-buyer category */
	int32_t limit;    /* rule 9: the ceiling less the first programme's rate; -1: not stacked */
	int32_t fixed;    /* rule 10: the match rate (already within limit); -1: none */
	int32_t first;    /* the first programme's rate (shown; not part of the key) */
} rate_key_t;

/* Amounts of one enterprise's kept groups with one rate key. */
typedef struct rate_sum {
	rate_key_t key;
	i128 all;
} rate_sum_t;

typedef struct ent_usage {
	rate_sum_t r[ENG_MAX_RATES];
	int nr;
	size_t sb_groups;       /* kept groups in small-buyer categories */
	uint32_t partners_took; /* bit k: partner k took at least one group (rule 7) */
	int first;              /* the stacking partner of the stacked groups, -1: none */
	bool matched;           /* rule 10 applied to some group */
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

/* Rule 1, recipients: the programme pays this kind of holder of a credit
 * code (enterprise: registration-authority code 9; institution: 1 or 5). */
static bool rule1_recipient(const program_t *p, const eng_enterprise_t *e)
{
	int r = recipient_of_uscc(e->uscc);
	return r >= 0 && p->recipients[r];
}

/* Rule 1, marketplace-only categories ("The other voucher kinds": bought
 * through a compliant data-trading platform or trusted data space): corpus
 * and dataset records count only when pushed by a marketplace provider.
 * The one place that says which categories these are. */
static bool rule1_marketplace_only(int category)
{
	return category == CAT_CORPUS || category == CAT_DATASET;
}

bool eng_marketplace_only(int category)
{
	return category >= 0 && category < CAT_COUNT && rule1_marketplace_only(category);
}

/* Rule 1, "Eligibility of a record": the enterprise's division (as registered
 * on the record's date) is in the jurisdiction; the record's date is within
 * the program's dates (in_dates: g->in_dates for the programme itself, a
 * partner's bit for a partner); its category is listed; the programme pays
 * the enterprise's kind of credit code (recipients); a corpus or dataset
 * record comes from a marketplace; neither its provider nor its seller is a
 * related party of the enterprise; its facility is registered.  Returns the
 * first condition that fails, in that order of checking (ENG_WHY_COUNTS when
 * none does; a statement names the reason, settlement needs only whether).
 * CHOICE: a facility class other than 'A' or 'B' means the facility is not
 * registered, so the group is not eligible. */
static eng_why_t rule1_why(const program_t *p, juris_memo_t *memo, const eng_enterprise_t *e, const eng_group_t *g,
			   bool in_dates)
{
	if (!p->categories[g->category])
		return ENG_WHY_CATEGORY;
	if (!in_dates)
		return ENG_WHY_DATES;
	if (!juris(p, memo, g->division))
		return ENG_WHY_JURISDICTION;
	if (!rule1_recipient(p, e))
		return ENG_WHY_RECIPIENT;
	if (rule1_marketplace_only(g->category) && !g->marketplace)
		return ENG_WHY_MARKETPLACE;
	if (g->related)
		return ENG_WHY_RELATED;
	if (g->seller_related)
		return ENG_WHY_SELLER_RELATED;
	if (g->cls != 'A' && g->cls != 'B')
		return ENG_WHY_FACILITY;
	return ENG_WHY_COUNTS;
}

static bool rule1_record_eligible(const program_t *p, juris_memo_t *memo, const eng_enterprise_t *e,
				  const eng_group_t *g)
{
	return rule1_why(p, memo, e, g, g->in_dates) == ENG_WHY_COUNTS;
}

/* Rule 1 for partner k of the run's programme: its own jurisdiction, dates,
 * categories, recipients; the record's own provider, seller and facility. */
static bool rule1_partner_eligible(const eng_input_t *in, juris_memo_t *memos, int k, const eng_enterprise_t *e,
				   const eng_group_t *g)
{
	return rule1_why(in->partners[k], &memos[k], e, g, (g->partner_in_dates >> k) & 1u) == ENG_WHY_COUNTS;
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
 *   jurisdiction, its dates via partner_in_dates, its categories, its
 *   recipients; the record's provider, seller and facility).
 * Only the partners of prog's exclusivity group take part (the others are
 * its stacking partners, rule 9). */
static int rule7_exclusive(const eng_input_t *in, juris_memo_t *memos, const eng_enterprise_t *e, const eng_group_t *g,
			   int32_t own_rate)
{
	const program_t *p = in->prog;
	int best = -1;
	const program_t *bp = p;
	int32_t br = own_rate;
	for (int k = 0; k < in->npartners; k++) {
		const program_t *q = in->partners[k];
		if (!p->exclusivity_group[0] || strcmp(q->exclusivity_group, p->exclusivity_group) != 0)
			continue;
		if (!rule1_partner_eligible(in, memos, k, e, g))
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

/* The first programme of prog's stacking group among the partners (its
 * index), or -1: prog is in no stacking group, is the first itself, or the
 * first is not loaded. */
static int stacking_first(const eng_input_t *in)
{
	const program_t *p = in->prog;
	if (!p->stacking_group[0] || p->stacking_order == 1)
		return -1;
	for (int k = 0; k < in->npartners; k++) {
		const program_t *q = in->partners[k];
		if (q->stacking_order == 1 && !strcmp(q->stacking_group, p->stacking_group))
			return k;
	}
	return -1;
}

/* Rule 9, "Stacking (叠加)": programmes of one stacking group each pay for
 * the same record, but the sum of their rates on a record is at most the
 * group's ceiling for the record's facility class.  The first programme F
 * keeps its rate; on a record also eligible for F (rule 1 against F: its
 * jurisdiction, dates, categories, recipients; the record's provider,
 * seller and facility), this programme's rate is min(its own rate for the
 * record, ceiling − F's rate for the record).  F's rate is its ordinary rate
 * (program_rate with the enterprise's flags): F may have no small-buyer rate,
 * rate override or exclusivity group (program.c refuses them), so that is
 * what F pays, known from the record, the facility and the registry alone,
 * and each programme settles on its own.
 * Returns the limit (ceiling − F's rate, at least 0) and F's rate in *first_rate,
 * or -1 when the record is not stacked (no first programme loaded, or the
 * record not eligible for it).  Its own rate is rule 3's (override, small
 * buyer or ordinary); the minimum is taken in rule3_rate, once the year
 * says whether the enterprise is a small buyer. */
static int32_t rule9_stacked(const eng_input_t *in, juris_memo_t *memos, int first, const eng_enterprise_t *e,
			     const eng_group_t *g, int32_t *first_rate)
{
	*first_rate = 0;
	if (first < 0 || !rule1_partner_eligible(in, memos, first, e, g))
		return -1;
	*first_rate = program_rate(in->partners[first], g->category, g->cls, e->flags);
	int32_t limit = program_class_bp(in->prog->stacking_ceiling, g->cls) - *first_rate;
	return limit < 0 ? 0 : limit;
}

/* Rule 10, "免审配套": an enterprise holding the programme's match_flag
 * (intelligent_match) has chosen automatic matching: on records also
 * eligible for the group's first programme (limit >= 0, rule 9) this
 * programme pays its match rate for the facility class instead of its own
 * rate.  Records not eligible for the first are unaffected.  Returns the
 * match rate, or -1 when it does not apply.
 * CHOICE: the match rate too stays within the ceiling (min with the limit),
 *   so that the group's ceiling holds whatever the files say. */
static int32_t rule10_match(const program_t *p, const eng_enterprise_t *e, const eng_group_t *g, int32_t limit)
{
	if (limit < 0 || p->match_flag < 0 || !(e->flags & (1u << p->match_flag)))
		return -1;
	int32_t m = program_class_bp(p->match_rate, g->cls);
	return m < limit ? m : limit;
}

/* The rate key of a kept group (rules 1 and 7 passed): its ordinary rate and
 * what rules 9 and 10 make of it. */
static rate_key_t group_key(const eng_input_t *in, juris_memo_t *memos, int first, const eng_enterprise_t *e,
			    const eng_group_t *g, int32_t ordinary)
{
	const program_t *p = in->prog;
	rate_key_t k = {.ordinary = ordinary, .sb = p->has_small_buyer && p->small_buyer_categories[g->category]};
	k.limit = rule9_stacked(in, memos, first, e, g, &k.first);
	k.fixed = rule10_match(p, e, g, k.limit);
	return k;
}

/* Rule 3's rate for a key: the match rate (rule 10); else the override's,
 * else the small-buyer rate for small-buyer categories while the enterprise
 * is a small buyer, else the ordinary rate; then at most the limit of rule 9. */
static int32_t rule3_rate(const program_t *p, const eng_enterprise_t *e, const rate_key_t *k, bool small)
{
	if (k->fixed >= 0)
		return k->fixed;
	int32_t r = e->has_rate_override ? e->override_rate_bp : small && k->sb ? p->small_buyer_rate_bp : k->ordinary;
	return k->limit >= 0 && r > k->limit ? k->limit : r;
}

/* Adds amount to its key's slot of the enterprise's table. */
static bool add_rate_sum(ent_usage_t *u, const rate_key_t *k, int64_t amount)
{
	int i;
	for (i = 0; i < u->nr; i++) {
		const rate_key_t *o = &u->r[i].key;
		if (o->ordinary == k->ordinary && o->sb == k->sb && o->limit == k->limit && o->fixed == k->fixed)
			break;
	}
	if (i == u->nr) {
		if (u->nr == ENG_MAX_RATES)
			return false;
		u->r[u->nr++] = (rate_sum_t){.key = *k};
	}
	u->r[i].all += amount;
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
 * puts the whole year at the ordinary rates); else program_rate; rules 9 and
 * 10 then limit or replace it on stacked records (rule3_rate).  Stacked
 * rates form their own groups like any other rate.
 * CHOICE: records whose rate is 0 (no rate rule) count for nothing, and are
 *   not in eligible_ytd.
 * CHOICE: the small-buyer year-to-date amount is the net amount of the
 *   records of the small-buyer categories that pass rules 1 and 7, whatever
 *   their ordinary rate.
 * CHOICE: a negative per-rate sum (refunds above purchases) rounds down too;
 *   only the total entitlement is clamped at 0. */
static bool rule3_entitlement(const program_t *p, const eng_enterprise_t *e, const ent_usage_t *u, eng_line_t *l)
{
	struct {
		int32_t rate_bp;
		i128 all;
	} fin[ENG_MAX_RATES]; /* final rate -> sum */
	int nf = 0;
	i128 sb_ytd = 0;
	for (int i = 0; i < u->nr; i++)
		if (u->r[i].key.sb)
			sb_ytd += u->r[i].all;

	bool small = false;
	if (e->has_rate_override) {
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
	}
	l->small_buyer = small;
	/* records with the same rate form one group, whatever their key */
	for (int i = 0; i < u->nr; i++) {
		int32_t r = rule3_rate(p, e, &u->r[i].key, small);
		int j;
		for (j = 0; j < nf; j++)
			if (fin[j].rate_bp == r)
				break;
		if (j == nf) {
			fin[nf].rate_bp = r;
			fin[nf++].all = 0;
		}
		fin[j].all += u->r[i].all;
	}

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
	if (in->npartners < 0 || in->npartners > ENG_MAX_PARTNERS ||
	    (in->npartners && !p->exclusivity_group[0] && !p->stacking_group[0])) {
		set_err(err, errlen, "programme %s: bad partner list", p->id);
		return false;
	}
	for (int k = 0; k < in->npartners; k++) {
		const program_t *q = in->partners[k];
		bool excl = q && p->exclusivity_group[0] && !strcmp(q->exclusivity_group, p->exclusivity_group);
		bool stack = q && p->stacking_group[0] && !strcmp(q->stacking_group, p->stacking_group);
		if (!q || !program_sane(q) || !(excl || stack) || !strcmp(q->id, p->id)) {
			set_err(err, errlen, "programme %s: partner %d is not another programme of its groups", p->id,
				k);
			return false;
		}
		if (!stack)
			continue;
		/* rule 9: one first member; the ceiling stated identically in each */
		if (q->stacking_order == p->stacking_order) {
			set_err(err, errlen, "stacking group %s: %s and %s both have order %d", p->stacking_group,
				p->id, q->id, p->stacking_order);
			return false;
		}
		if (memcmp(q->stacking_ceiling, p->stacking_ceiling, sizeof p->stacking_ceiling) != 0) {
			set_err(err, errlen,
				"stacking group %s: %s states the ceiling A:%d, B:%d but %s A:%d, B:%d; "
				"load both with the same ceiling",
				p->stacking_group, p->id, (int)p->stacking_ceiling[0], (int)p->stacking_ceiling[1],
				q->id, (int)q->stacking_ceiling[0], (int)q->stacking_ceiling[1]);
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
	int first = stacking_first(in);
	for (size_t i = 0; i < n; i++) {
		if (!rule1_record_eligible(p, &memos[ENG_MAX_PARTNERS], e, &g[i]))
			continue;
		int32_t rate = program_rate(p, g[i].category, g[i].cls, e->flags);
		int k = rule7_exclusive(in, memos, e, &g[i], rate);
		if (k >= 0) {
			u->partners_took |= 1u << k;
			continue;
		}
		rate_key_t key = group_key(in, memos, first, e, &g[i], rate);
		if (key.sb)
			u->sb_groups++;
		if (key.limit >= 0)
			u->first = first;
		if (key.fixed >= 0)
			u->matched = true;
		if (!add_rate_sum(u, &key, g[i].amount_fen))
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
	u.first = -1;
	u.matched = false;
	if (!collect_usage(in, memos, e, g, n, &u)) {
		set_err(err, errlen, "enterprise %s: more distinct rate keys than categories and classes allow",
			e->uscc);
		return false;
	}
	if (!rule3_entitlement(in->prog, e, &u, l)) {
		set_err(err, errlen, "enterprise %s: overflow in the entitlement", e->uscc);
		return false;
	}
	note_partners(in, u.partners_took, l);
	if (u.first >= 0) {
		l->stacked = true;
		l->matched = u.matched;
		note_add(l, "%s：与 %s 叠加", u.matched ? "免审配套" : "叠加补贴",
			 program_label(in->partners[u.first]));
	}
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
	eng_why_t why = rule1_why(in->prog, &memos[ENG_MAX_PARTNERS], e, g, g->in_dates);
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

int32_t eng_group_rate(const eng_input_t *in, const eng_enterprise_t *e, const eng_group_t *g, bool small_buyer,
		       int *first, int32_t *first_rate_bp)
{
	juris_memo_t memos[ENG_MAX_PARTNERS + 1];
	memset(memos, 0, sizeof memos);
	*first = -1;
	*first_rate_bp = 0;
	if (g->category < 0 || g->category >= CAT_COUNT)
		return 0;
	int f = stacking_first(in);
	rate_key_t key = group_key(in, memos, f, e, g, program_rate(in->prog, g->category, g->cls, e->flags));
	if (key.limit >= 0) {
		*first = f;
		*first_rate_bp = key.first;
	}
	return rule3_rate(in->prog, e, &key, small_buyer);
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
