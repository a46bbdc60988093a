/* settlement/engine.c for the other voucher kinds (docs/policies.md "The other
 * voucher kinds"): recipients, marketplace-only categories and related
 * sellers (rule 1), stacking (rule 9) and 免审配套 (rule 10), with figures
 * worked out by hand in the comments.  Programmes are built as structs
 * following the docs/policies.md tables, as in test_engine.c; the last tests
 * parse the shipped Hangzhou pair and the made-up Ningbo pair, to show that
 * another ceiling is a file and not code.
 *
 * Units: amounts in fen (100,000 fen = 1,000 yuan); rates in bp. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settlement/engine.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define WAN(x) ((int64_t)(x)*1000000) /* x 万元 in fen */

#define IC CAT_INTELLIGENT_COMPUTE
#define MS CAT_MODEL_SERVICE
#define CO CAT_CORPUS
#define DS CAT_DATASET
#define MP CAT_MODEL_PURCHASE

/* ---- programmes ---------------------------------------------------------- */

static void base(program_t *p, const char *id, const char *name, const char *from, const char *to)
{
	memset(p, 0, sizeof *p);
	strcpy(p->id, id);
	strcpy(p->name, name);
	strcpy(p->valid_from, from);
	strcpy(p->valid_to, to);
	p->recipients[RECIPIENT_ENTERPRISE] = true;
	p->match_flag = -1;
	p->small_buyer_flag = -1;
}

static void rate(program_t *p, int32_t bp, int cat, char cls)
{
	p->rates[p->nrates++] = (rate_rule_t){.rate_bp = bp, .category = cat, .cls = cls, .flag = -1};
}

static void cap(program_t *p, int64_t fen)
{
	p->caps[p->ncaps++] = (cap_rule_t){.cap_fen = fen, .flag = -1};
}

static void div_(program_t *p, const char *d)
{
	strcpy(p->divisions[p->ndivisions++], d);
}

static void stacking(program_t *p, const char *group, int order, int32_t a, int32_t b)
{
	strcpy(p->stacking_group, group);
	p->stacking_order = order;
	p->stacking_ceiling[0] = a;
	p->stacking_ceiling[1] = b;
}

/* hangzhou-intelligent (智能券): 3301xx, IC, class A 3000, B 1000; enterprises
 * and institutions; no cap stated (the format's largest); first of hangzhou-ai
 * with the ceiling A 6000, B 3000 */
static void prog_hzi(program_t *p)
{
	base(p, "hangzhou-intelligent", "杭州市智能券", "2025-06-13", "");
	p->kind = KIND_INTELLIGENT;
	p->recipients[RECIPIENT_INSTITUTION] = true;
	div_(p, "3301");
	p->categories[IC] = true;
	rate(p, 3000, -1, 'A');
	rate(p, 1000, -1, 'B');
	cap(p, WAN(100000000));
	stacking(p, "hangzhou-ai", 1, 6000, 3000);
}

/* hangzhou-compute (杭州算力券): as test_engine.c's, plus second of hangzhou-ai
 * and 免审配套 15% / 10% for intelligent_match */
static void prog_hz(program_t *p)
{
	base(p, "hangzhou-compute", "杭州算力券", "2025-06-13", "");
	div_(p, "3301");
	p->categories[IC] = p->categories[CAT_SUPERCOMPUTING] = p->categories[MS] = true;
	rate(p, 3000, MS, 0);
	rate(p, 3000, -1, 'A');
	rate(p, 2000, -1, 'B');
	p->has_small_buyer = true;
	p->small_buyer_flag = FLAG_SME;
	p->small_buyer_max_ytd_fen = WAN(50);
	p->small_buyer_categories[IC] = true;
	p->small_buyer_rate_bp = 5000;
	cap(p, WAN(800));
	p->has_pool = true;
	p->pool_fen = WAN(25000);
	stacking(p, "hangzhou-ai", 2, 6000, 3000);
	p->match_flag = FLAG_INTELLIGENT_MATCH;
	p->match_rate[0] = 1500;
	p->match_rate[1] = 1000;
}

/* jiaxing-compute: enterprises only */
static void prog_jx(program_t *p)
{
	base(p, "jiaxing-compute", "嘉兴市算力券", "2025-05-13", "2027-12-31");
	div_(p, "330402");
	div_(p, "330411");
	p->categories[IC] = p->categories[CAT_SUPERCOMPUTING] = true;
	rate(p, 5000, -1, 0);
	cap(p, WAN(100));
}

/* wuxi-compute: 企业、高校以及科研机构 */
static void prog_wx(program_t *p)
{
	base(p, "wuxi-compute", "无锡市算力券", "2025-05-23", "2027-12-31");
	p->recipients[RECIPIENT_INSTITUTION] = true;
	div_(p, "320214");
	p->categories[IC] = true;
	rate(p, 3000, -1, 0);
	cap(p, WAN(200));
}

/* tongxiang-corpus (语料券), wuxi-data (数据券), tongxiang-model and
 * tongxiang-compute (group tongxiang) */
static void prog_txc(program_t *p)
{
	base(p, "tongxiang-corpus", "桐乡市语料券", "2026-01-01", "2028-12-31");
	p->kind = KIND_CORPUS;
	div_(p, "330483");
	p->categories[CO] = true;
	rate(p, 3000, -1, 0);
	cap(p, WAN(200));
}

static void prog_wxd(program_t *p)
{
	base(p, "wuxi-data", "无锡市数据券", "2025-05-23", "2027-12-31");
	p->kind = KIND_DATA;
	div_(p, "320214");
	p->categories[DS] = true;
	rate(p, 3000, -1, 0);
	cap(p, WAN(200));
}

static void prog_tx(program_t *p)
{
	base(p, "tongxiang-compute", "桐乡市算力券", "2026-01-01", "2028-12-31");
	div_(p, "330483");
	p->categories[IC] = p->categories[CAT_SUPERCOMPUTING] = true;
	rate(p, 5000, -1, 0);
	cap(p, WAN(200));
	strcpy(p->exclusivity_group, "tongxiang");
	p->exclusivity_order = 1;
}

static void prog_txm(program_t *p)
{
	base(p, "tongxiang-model", "桐乡市模型购买资助", "2026-01-01", "2028-12-31");
	p->kind = KIND_MODEL;
	div_(p, "330483");
	p->categories[MP] = true;
	rate(p, 3000, -1, 0);
	cap(p, WAN(200));
	strcpy(p->exclusivity_group, "tongxiang");
	p->exclusivity_order = 2;
}

enum { P_NONE = -1, P_HZI, P_HZ, P_JX, P_WX, P_TXC, P_WXD, P_TX, P_TXM, P_N };

static void get(int which, program_t *p)
{
	static void (*const make[P_N])(program_t *) = {prog_hzi, prog_hz,  prog_jx, prog_wx,
						       prog_txc, prog_wxd, prog_tx, prog_txm};
	make[which](p);
}

/* ---- the cases: one enterprise, one programme and its partners ----------- */

#define ENT "91330106100000001X"  /* an enterprise (registration-authority code 9) in Hangzhou */
#define UNIV "12330106400000001X" /* a university (code 1) */
#define INST "52330106MJ0000001X" /* a research institute (code 5, 民政) */
#define SME (1u << FLAG_SME)
#define MATCH (1u << FLAG_INTELLIGENT_MATCH)

/* a group of enterprise 0; bits: partner_in_dates (bit 0: the first partner) */
#define GX(cat, c, div, amt, market, srel, bits)                                                                     \
	{                                                                                                            \
		.ent = 0, .category = (cat), .cls = (c), .division = div, .in_dates = true, .marketplace = (market), \
		.seller_related = (srel), .partner_in_dates = (bits), .amount_fen = (amt)                            \
	}
/* in Hangzhou, within the partner's dates */
#define GH(cat, c, amt) GX(cat, c, "330106", amt, false, false, 1u)

struct kcase {
	const char *what;
	int prog, partner; /* partner P_NONE: none loaded */
	const char *uscc;
	uint32_t flags;
	size_t ng;
	eng_group_t g[3];
	int64_t eligible, entitlement, payable;
	bool stacked, matched;
	const char *note; /* substring; NULL: not checked */
};

static const struct kcase cases[] = {
	/* ---- rule 9: stacking (杭州智能券 + 杭州算力券, ceiling A 6000, B 3000) ---- */
	/* the 智能券 keeps its rate: class A 100,000 × 3000 bp = 30,000 */
	{"智能券, class A", P_HZI, P_HZ, ENT, SME, 1, {GH(IC, 'A', 100000)}, 100000, 30000, 30000, false, false, ""},
	/* a small buyer's class-A record: 算力券 min(own 5000 (small buyer), 6000 − 3000) = 3000:
	 * 100,000 × 0.3 = 30,000; with the 智能券's 30,000, 60% together */
	{"small buyer, class A: 30% + 30%",
	 P_HZ,
	 P_HZI,
	 ENT,
	 SME,
	 1,
	 {GH(IC, 'A', 100000)},
	 100000,
	 30000,
	 30000,
	 true,
	 false,
	 "叠加补贴：与 杭州市智能券 叠加"},
	/* class B: 智能券 1000 bp = 10,000; 算力券 min(own 2000, 3000 − 1000) = 2000 = 20,000: 10% + 20% */
	{"智能券, class B", P_HZI, P_HZ, ENT, 0, 1, {GH(IC, 'B', 100000)}, 100000, 10000, 10000, false, false, ""},
	{"class B: 10% + 20%", P_HZ, P_HZI, ENT, 0, 1, {GH(IC, 'B', 100000)}, 100000, 20000, 20000, true, false, NULL},
	/* a small buyer at class B: min(5000, 3000 − 1000) = 2000 → 20,000 */
	{"small buyer, class B: limited to 20%",
	 P_HZ,
	 P_HZI,
	 ENT,
	 SME,
	 1,
	 {GH(IC, 'B', 100000)},
	 100000,
	 20000,
	 20000,
	 true,
	 false,
	 "小额采购比例 50%"},
	/* not a small buyer, class A: min(3000, 6000 − 3000) = 3000: the ceiling does not bite */
	{"class A, ordinary rate",
	 P_HZ,
	 P_HZI,
	 ENT,
	 0,
	 1,
	 {GH(IC, 'A', 100000)},
	 100000,
	 30000,
	 30000,
	 true,
	 false,
	 NULL},
	/* a small buyer with A and B: A min(5000, 3000) = 3000 → 30,000; B min(5000, 2000) = 2000 →
	 * 20,000; 50,000 in all (two rate groups) */
	{"small buyer, A and B",
	 P_HZ,
	 P_HZI,
	 ENT,
	 SME,
	 2,
	 {GH(IC, 'A', 100000), GH(IC, 'B', 100000)},
	 200000,
	 50000,
	 50000,
	 true,
	 false,
	 NULL},
	/* a stacked rate groups with an equal unstacked one (rule 3): model_service at 3000 (the 智能券
	 * does not list it: not stacked) and IC class A at min(5000, 3000) = 3000: floor((5 + 5) ×
	 * 0.3) = 3, not floor(1.5) + floor(1.5) = 2 */
	{"stacked and unstacked rates of 3000 form one group",
	 P_HZ,
	 P_HZI,
	 ENT,
	 SME,
	 2,
	 {GH(MS, 'A', 5), GH(IC, 'A', 5)},
	 10,
	 3,
	 3,
	 true,
	 false,
	 NULL},
	/* without the 智能券 loaded the 算力券 pays its own rate: 100,000 × 0.5 = 50,000 */
	{"first not loaded",
	 P_HZ,
	 P_NONE,
	 ENT,
	 SME,
	 1,
	 {GH(IC, 'A', 100000)},
	 100000,
	 50000,
	 50000,
	 false,
	 false,
	 "小额采购比例 50%"},
	/* a record outside the 智能券's dates (bit 0 clear) is not also eligible: own rate 5000 */
	{"not within the first's dates",
	 P_HZ,
	 P_HZI,
	 ENT,
	 SME,
	 1,
	 {GX(IC, 'A', "330106", 100000, false, false, 0u)},
	 100000,
	 50000,
	 50000,
	 false,
	 false,
	 NULL},
	/* ---- rule 10: 免审配套 ---- */
	/* intelligent_match, class A: 1500 bp instead: 15,000 (30% + 15%) */
	{"免审配套, class A: 30% + 15%",
	 P_HZ,
	 P_HZI,
	 ENT,
	 MATCH,
	 1,
	 {GH(IC, 'A', 100000)},
	 100000,
	 15000,
	 15000,
	 true,
	 true,
	 "免审配套：与 杭州市智能券 叠加"},
	/* class B: 1000 bp: 10,000 (10% + 10%); a small buyer's flag changes nothing: the match rate
	 * replaces the rate */
	{"免审配套, class B, small buyer too",
	 P_HZ,
	 P_HZI,
	 ENT,
	 MATCH | SME,
	 1,
	 {GH(IC, 'B', 100000)},
	 100000,
	 10000,
	 10000,
	 true,
	 true,
	 NULL},
	/* records not eligible for the 智能券 (model_service) are unaffected: 3000 → 30,000; plus IC A
	 * at 1500 → 15,000: 45,000 */
	{"免审配套 leaves model_service alone",
	 P_HZ,
	 P_HZI,
	 ENT,
	 MATCH,
	 2,
	 {GH(MS, 'A', 100000), GH(IC, 'A', 100000)},
	 200000,
	 45000,
	 45000,
	 true,
	 true,
	 NULL},
	/* the 智能券 ignores the flag: 30,000 */
	{"智能券 ignores 免审配套",
	 P_HZI,
	 P_HZ,
	 ENT,
	 MATCH,
	 1,
	 {GH(IC, 'A', 100000)},
	 100000,
	 30000,
	 30000,
	 false,
	 false,
	 ""},
	/* ---- rule 1: recipients ---- */
	/* a university in Hangzhou: the 智能券 pays institutions (30,000), the 算力券 does not (0) */
	{"university, 智能券",
	 P_HZI,
	 P_HZ,
	 UNIV,
	 0,
	 1,
	 {GH(IC, 'A', 100000)},
	 100000,
	 30000,
	 30000,
	 false,
	 false,
	 NULL},
	{"research institute (5), 智能券",
	 P_HZI,
	 P_HZ,
	 INST,
	 0,
	 1,
	 {GH(IC, 'B', 100000)},
	 100000,
	 10000,
	 10000,
	 false,
	 false,
	 NULL},
	{"university, 算力券 pays enterprises only",
	 P_HZ,
	 P_HZI,
	 UNIV,
	 0,
	 1,
	 {GH(IC, 'A', 100000)},
	 0,
	 0,
	 0,
	 false,
	 false,
	 NULL},
	/* a university in Wuxi: 企业、高校以及科研机构: 1,000,000 × 0.3 = 300,000 */
	{"university, Wuxi's 算力券",
	 P_WX,
	 P_NONE,
	 "12320214400000001X",
	 0,
	 1,
	 {GX(IC, 'A', "320214", 1000000, false, false, 0u)},
	 1000000,
	 300000,
	 300000,
	 false,
	 false,
	 NULL},
	/* ... but not by Jiaxing's (enterprises only): nothing */
	{"university, Jiaxing's 算力券",
	 P_JX,
	 P_NONE,
	 "12330402400000001X",
	 0,
	 1,
	 {GX(IC, 'A', "330402", 1000000, false, false, 0u)},
	 0,
	 0,
	 0,
	 false,
	 false,
	 NULL},
	/* a credit code of another authority (3: 外交) is neither */
	{"neither enterprise nor institution",
	 P_WX,
	 P_NONE,
	 "31320214400000001X",
	 0,
	 1,
	 {GX(IC, 'A', "320214", 1000000, false, false, 0u)},
	 0,
	 0,
	 0,
	 false,
	 false,
	 NULL},
	/* ---- rule 1: marketplace-only categories and related sellers ---- */
	/* corpus through a marketplace from an unrelated seller: 1,000,000 × 0.3 = 300,000 */
	{"corpus through a marketplace",
	 P_TXC,
	 P_NONE,
	 "91330483100000001X",
	 0,
	 1,
	 {GX(CO, 'A', "330483", 1000000, true, false, 0u)},
	 1000000,
	 300000,
	 300000,
	 false,
	 false,
	 NULL},
	/* the same pushed by a compute provider: nothing (非交易平台购买) */
	{"corpus from a compute provider",
	 P_TXC,
	 P_NONE,
	 "91330483100000001X",
	 0,
	 1,
	 {GX(CO, 'A', "330483", 1000000, false, false, 0u)},
	 0,
	 0,
	 0,
	 false,
	 false,
	 NULL},
	/* a related seller: nothing, though through a marketplace; the unrelated 10,000 pays 3,000 */
	{"corpus from a related seller",
	 P_TXC,
	 P_NONE,
	 "91330483100000001X",
	 0,
	 2,
	 {GX(CO, 'A', "330483", 1000000, true, true, 0u), GX(CO, 'B', "330483", 10000, true, false, 0u)},
	 10000,
	 3000,
	 3000,
	 false,
	 false,
	 NULL},
	/* a dataset in Wuxi: 300,000 through a marketplace, nothing from a compute provider */
	{"dataset, Wuxi's 数据券",
	 P_WXD,
	 P_NONE,
	 "91320214100000001X",
	 0,
	 2,
	 {GX(DS, 'A', "320214", 1000000, true, false, 0u), GX(DS, 'A', "320214", 500000, false, false, 0u)},
	 1000000,
	 300000,
	 300000,
	 false,
	 false,
	 NULL},
	/* ---- model purchase (模型券) ---- */
	/* Tongxiang's model programme pays a model purchase, 1,000,000 × 0.3 = 300,000 ... */
	{"model purchase, Tongxiang's model programme",
	 P_TXM,
	 P_TX,
	 "91330483100000001X",
	 0,
	 2,
	 {GX(MP, 'A', "330483", 1000000, false, false, 1u), GX(IC, 'A', "330483", 100000, false, false, 1u)},
	 1000000,
	 300000,
	 300000,
	 false,
	 false,
	 ""},
	/* ... while the compute programme pays nothing for it, and 50% of the IC record: 50,000 */
	{"model purchase, Tongxiang's compute programme",
	 P_TX,
	 P_TXM,
	 "91330483100000001X",
	 0,
	 2,
	 {GX(MP, 'A', "330483", 1000000, false, false, 1u), GX(IC, 'A', "330483", 100000, false, false, 1u)},
	 100000,
	 50000,
	 50000,
	 false,
	 false,
	 ""},
};

static void settle_case(const struct kcase *c, program_t *p, program_t *q, eng_line_t *l)
{
	get(c->prog, p);
	eng_enterprise_t e;
	memset(&e, 0, sizeof e);
	snprintf(e.uscc, sizeof e.uscc, "%s", c->uscc);
	e.flags = c->flags;
	eng_input_t in = {.prog = p, .ents = &e, .nents = 1, .groups = c->g, .ngroups = c->ng};
	if (c->partner != P_NONE) {
		get(c->partner, q);
		in.partners[0] = q;
		in.npartners = 1;
	}
	eng_totals_t t;
	char err[256] = "";
	cr_assert(eng_settle(&in, l, &t, err, sizeof err), "%s: %s", c->what, err);
}

Test(unit_engine_kinds, table)
{
	for (size_t i = 0; i < N(cases); i++) {
		const struct kcase *c = &cases[i];
		program_t p, q;
		eng_line_t l;
		settle_case(c, &p, &q, &l);
		cr_expect_eq(l.eligible_ytd, c->eligible, "%s: eligible %lld", c->what, (long long)l.eligible_ytd);
		cr_expect_eq(l.entitlement_ytd, c->entitlement, "%s: entitlement %lld", c->what,
			     (long long)l.entitlement_ytd);
		cr_expect_eq(l.payable, c->payable, "%s: payable %lld", c->what, (long long)l.payable);
		cr_expect_eq(l.stacked, c->stacked, "%s: stacked", c->what);
		cr_expect_eq(l.matched, c->matched, "%s: matched", c->what);
		if (c->note && !c->note[0])
			cr_expect_str_empty(l.note, "%s: note \"%s\"", c->what, l.note);
		else if (c->note)
			cr_expect(strstr(l.note, c->note), "%s: note \"%s\" lacks \"%s\"", c->what, l.note, c->note);
	}
}

/* Over the stacking cases: the two programmes' rates on one record never
 * sum above the ceiling, whatever the flags, class and category. */
Test(unit_engine_kinds, stacked_rates_stay_within_the_ceiling)
{
	program_t hz, hzi;
	prog_hz(&hz);
	prog_hzi(&hzi);
	const program_t *with_hzi[] = {&hzi}, *with_hz[] = {&hz};
	eng_input_t in_hz = {.prog = &hz, .npartners = 1, .partners = {with_hzi[0]}};
	eng_input_t in_hzi = {.prog = &hzi, .npartners = 1, .partners = {with_hz[0]}};
	const int cats[] = {IC, CAT_SUPERCOMPUTING, MS};
	for (uint32_t flags = 0; flags < 4; flags++) {
		eng_enterprise_t e;
		memset(&e, 0, sizeof e);
		strcpy(e.uscc, ENT);
		e.flags = (flags & 1 ? SME : 0) | (flags & 2 ? MATCH : 0);
		for (size_t k = 0; k < N(cats); k++)
			for (char cls = 'A'; cls <= 'B'; cls++)
				for (int small = 0; small < 2; small++) {
					eng_group_t g = GH(cats[k], cls, 100);
					int first, f2;
					int32_t frate, fr2;
					int32_t r = eng_group_rate(&in_hz, &e, &g, small, &first, &frate);
					int32_t ri = eng_group_rate(&in_hzi, &e, &g, false, &f2, &fr2);
					bool hzi_counts = cats[k] == IC;
					cr_expect_eq(first, hzi_counts ? 0 : -1);
					cr_expect_eq(f2, -1, "the first is stacked on nothing");
					cr_expect_eq(frate, hzi_counts ? ri : 0,
						     "the first's rate as its own run pays it");
					if (hzi_counts)
						cr_expect_leq(r + ri, program_class_bp(hz.stacking_ceiling, cls),
							      "flags %u %c small %d: %d + %d", (unsigned)flags, cls,
							      small, (int)r, (int)ri);
				}
	}
}

/* Rule 1's reasons, as a statement names them. */
Test(unit_engine_kinds, group_why_new_reasons)
{
	program_t txc, hz, hzi;
	prog_txc(&txc);
	prog_hz(&hz);
	prog_hzi(&hzi);
	eng_enterprise_t ent, univ;
	memset(&ent, 0, sizeof ent);
	memset(&univ, 0, sizeof univ);
	strcpy(ent.uscc, "91330483100000001X");
	strcpy(univ.uscc, UNIV);
	eng_input_t in = {.prog = &txc};
	int partner;
	int32_t ordinary;
	eng_group_t g = GX(CO, 'A', "330483", 100, false, false, 0u);
	cr_expect_eq(eng_group_why(&in, &ent, &g, &partner, &ordinary), ENG_WHY_MARKETPLACE);
	g.marketplace = true;
	cr_expect_eq(eng_group_why(&in, &ent, &g, &partner, &ordinary), ENG_WHY_COUNTS);
	cr_expect_eq(ordinary, 3000);
	g.seller_related = true;
	cr_expect_eq(eng_group_why(&in, &ent, &g, &partner, &ordinary), ENG_WHY_SELLER_RELATED);
	g.related = true; /* the provider too: the provider is named first */
	cr_expect_eq(eng_group_why(&in, &ent, &g, &partner, &ordinary), ENG_WHY_RELATED);
	eng_input_t in2 = {.prog = &hz, .npartners = 1, .partners = {&hzi}};
	eng_group_t h = GH(IC, 'A', 100);
	cr_expect_eq(eng_group_why(&in2, &univ, &h, &partner, &ordinary), ENG_WHY_RECIPIENT);
	/* the stacked record's two rates, for the statement */
	eng_enterprise_t sme = ent;
	strcpy(sme.uscc, ENT);
	sme.flags = SME;
	int first;
	int32_t frate;
	cr_expect_eq(eng_group_rate(&in2, &sme, &h, true, &first, &frate), 3000);
	cr_expect_eq(first, 0);
	cr_expect_eq(frate, 3000);
	h.cls = 'B';
	cr_expect_eq(eng_group_rate(&in2, &sme, &h, true, &first, &frate), 2000);
	cr_expect_eq(frate, 1000);
}

/* The ceiling is stated identically in every member: a mismatch is refused
 * when both are loaded, and so are two members of one order. */
Test(unit_engine_kinds, ceiling_mismatch_refused)
{
	program_t hz, hzi;
	prog_hz(&hz);
	prog_hzi(&hzi);
	hzi.stacking_ceiling[1] = 2500;
	eng_enterprise_t e;
	memset(&e, 0, sizeof e);
	strcpy(e.uscc, ENT);
	eng_group_t g = GH(IC, 'A', 100);
	eng_input_t in = {
		.prog = &hz, .npartners = 1, .partners = {&hzi}, .ents = &e, .nents = 1, .groups = &g, .ngroups = 1};
	eng_line_t l;
	eng_totals_t t;
	char err[256] = "";
	cr_expect_not(eng_settle(&in, &l, &t, err, sizeof err));
	cr_expect(strstr(err, "stacking group hangzhou-ai: hangzhou-compute states the ceiling A:6000, B:3000 but "
			      "hangzhou-intelligent A:6000, B:2500"),
		  "%s", err);
	hzi.stacking_ceiling[1] = 3000;
	hzi.stacking_order = 2;
	cr_expect_not(eng_settle(&in, &l, &t, err, sizeof err));
	cr_expect(strstr(err, "both have order 2"), "%s", err);
	/* a partner in neither of its groups */
	hzi.stacking_order = 1;
	strcpy(hzi.stacking_group, "other");
	cr_expect_not(eng_settle(&in, &l, &t, err, sizeof err));
	cr_expect(strstr(err, "is not another programme of its groups"), "%s", err);
}

/* ---- the files: Hangzhou's pair, and another city's ceiling ---------------- */

static program_t load(const char *rel)
{
	const char *r = getenv("VOUCHER_TEST_ROOT");
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", r && *r ? r : ".", rel);
	FILE *f = fopen(path, "rb");
	cr_assert(f, "cannot open %s", path);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	program_t p;
	char err[512] = "";
	cr_assert(program_parse(buf, n, &p, err, sizeof err), "%s: %s", rel, err);
	return p;
}

/* one record of 100,000 fen of class cls for an enterprise with flags in
 * division div, under prog with first as its stacking partner */
static int64_t pay_one(const program_t *prog, const program_t *first, uint32_t flags, char cls, const char *div)
{
	eng_enterprise_t e;
	memset(&e, 0, sizeof e);
	snprintf(e.uscc, sizeof e.uscc, "91%s100000001X", div);
	e.flags = flags;
	eng_group_t g = GX(IC, cls, "", 100000, false, false, 1u);
	strcpy(g.division, div);
	eng_input_t in = {.prog = prog, .ents = &e, .nents = 1, .groups = &g, .ngroups = 1};
	if (first) {
		in.partners[0] = first;
		in.npartners = 1;
	}
	eng_line_t l;
	eng_totals_t t;
	char err[256] = "";
	cr_assert(eng_settle(&in, &l, &t, err, sizeof err), "%s", err);
	return l.entitlement_ytd;
}

/* The shipped files give the figures of docs/policies.md rule 9 and 10. */
Test(unit_engine_kinds, hangzhou_files)
{
	program_t hz = load("settlement/programs/hangzhou-compute.conf");
	program_t hzi = load("settlement/programs/hangzhou-intelligent.conf");
	/* small buyer, class A: 30,000 + min(5000, 6000 − 3000) → 30,000 */
	cr_expect_eq(pay_one(&hzi, &hz, SME, 'A', "330106"), 30000);
	cr_expect_eq(pay_one(&hz, &hzi, SME, 'A', "330106"), 30000);
	/* class B: 10,000 + 20,000 */
	cr_expect_eq(pay_one(&hzi, &hz, 0, 'B', "330106"), 10000);
	cr_expect_eq(pay_one(&hz, &hzi, 0, 'B', "330106"), 20000);
	/* 免审配套: 30,000 + 15,000 */
	cr_expect_eq(pay_one(&hz, &hzi, MATCH, 'A', "330106"), 15000);
}

/* Another city's ceiling is a pair of files (tests/unit/fixtures/ningbo-*):
 * ceiling A 5000, B 2500; the 智能券 20% / 10%; the 算力券 40% / 30%;
 * 免审配套 10% / 5%.  Per 100,000 fen:
 *   class A: 智能券 20,000; 算力券 min(4000, 5000 − 2000) = 3000 → 30,000 (50% together;
 *            Hangzhou's ceiling would have left 4000 → 40,000)
 *   class B: 智能券 10,000; 算力券 min(3000, 2500 − 1000) = 1500 → 15,000 (25%)
 *   免审配套: A 1000 → 10,000; B 500 → 5,000
 *   outside the 智能券 (no partner loaded): A 4000 → 40,000 */
Test(unit_engine_kinds, another_ceiling_is_a_file)
{
	program_t nc = load("tests/unit/fixtures/ningbo-compute.conf");
	program_t ni = load("tests/unit/fixtures/ningbo-intelligent.conf");
	cr_expect_eq(pay_one(&ni, &nc, 0, 'A', "330203"), 20000);
	cr_expect_eq(pay_one(&nc, &ni, 0, 'A', "330203"), 30000);
	cr_expect_eq(pay_one(&ni, &nc, 0, 'B', "330203"), 10000);
	cr_expect_eq(pay_one(&nc, &ni, 0, 'B', "330203"), 15000);
	cr_expect_eq(pay_one(&nc, &ni, MATCH, 'A', "330203"), 10000);
	cr_expect_eq(pay_one(&nc, &ni, MATCH, 'B', "330203"), 5000);
	cr_expect_eq(pay_one(&nc, NULL, 0, 'A', "330203"), 40000);
	/* the same compute file against a first with Hangzhou's ceiling is refused */
	program_t hzi = load("settlement/programs/hangzhou-intelligent.conf");
	strcpy(hzi.stacking_group, "ningbo-ai");
	eng_enterprise_t e;
	memset(&e, 0, sizeof e);
	strcpy(e.uscc, "91330203100000001X");
	eng_input_t in = {.prog = &nc, .npartners = 1, .partners = {&hzi}, .ents = &e, .nents = 1};
	eng_line_t l;
	eng_totals_t t;
	char err[256] = "";
	cr_expect_not(eng_settle(&in, &l, &t, err, sizeof err));
	cr_expect(strstr(err, "ceiling"), "%s", err);
}
