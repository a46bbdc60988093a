/* settlement/engine.c: docs/policies.md rules 1-7, with figures worked out by hand
 * from the policy text.  Programmes are built here as structs (not parsed),
 * following the table in docs/policies.md "The four compute-voucher programmes".
 *
 * Units: amounts in fen; 1万元 = 1,000,000 fen; rates in bp (5000 = 50%). */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "settlement/engine.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define WAN(x) ((int64_t)(x)*1000000) /* x 万元 in fen */

/* ---- programmes ---------------------------------------------------------- */

static void add_rate(program_t *p, int32_t bp, int cat, char cls, int flag)
{
	p->rates[p->nrates++] = (rate_rule_t){.rate_bp = bp, .category = cat, .cls = cls, .flag = flag};
}

static void add_cap(program_t *p, int64_t fen, int flag)
{
	p->caps[p->ncaps++] = (cap_rule_t){.cap_fen = fen, .flag = flag};
}

static void add_div(program_t *p, const char *d)
{
	strcpy(p->divisions[p->ndivisions++], d);
}

static void add_opt_div(program_t *p, const char *d)
{
	strcpy(p->optional_divisions[p->noptional++], d);
}

static void base(program_t *p, const char *id, const char *from, const char *to)
{
	memset(p, 0, sizeof *p);
	p->recipients[RECIPIENT_ENTERPRISE] = true; /* as the parser's default */
	p->match_flag = -1;
	strcpy(p->id, id);
	strcpy(p->valid_from, from);
	strcpy(p->valid_to, to);
}

/* jiaxing-compute: 330402, 330411; IC + SC at 5000; cap 100万, 200万 if
 * model_developer; pool 1亿 */
static void prog_jiaxing(program_t *p)
{
	base(p, "jiaxing-compute", "2025-05-13", "2027-12-31");
	add_div(p, "330402");
	add_div(p, "330411");
	p->categories[CAT_INTELLIGENT_COMPUTE] = p->categories[CAT_SUPERCOMPUTING] = true;
	add_rate(p, 5000, -1, 0, -1);
	add_cap(p, WAN(100), -1);
	add_cap(p, WAN(200), FLAG_MODEL_DEVELOPER);
	p->has_pool = true;
	p->pool_fen = WAN(10000);
}

/* hangzhou-compute: 3301xx; model_service 3000, class A 3000, class B 2000
 * (first match wins); small buyer: sme, intelligent_compute YTD <= 50万,
 * 5000; cap 800万; pool 2.5亿 */
static void prog_hangzhou(program_t *p)
{
	base(p, "hangzhou-compute", "2025-06-13", "");
	add_div(p, "3301");
	p->categories[CAT_INTELLIGENT_COMPUTE] = p->categories[CAT_SUPERCOMPUTING] = p->categories[CAT_MODEL_SERVICE] =
		true;
	add_rate(p, 3000, CAT_MODEL_SERVICE, 0, -1);
	add_rate(p, 3000, -1, 'A', -1);
	add_rate(p, 2000, -1, 'B', -1);
	p->has_small_buyer = true;
	p->small_buyer_flag = FLAG_SME;
	p->small_buyer_max_ytd_fen = WAN(50);
	p->small_buyer_categories[CAT_INTELLIGENT_COMPUTE] = true;
	p->small_buyer_rate_bp = 5000;
	add_cap(p, WAN(800), -1);
	p->has_pool = true;
	p->pool_fen = WAN(25000);
	p->override_cap_allowed = true;
	p->override_cap_unlimited = true;
}

/* wuxi-compute: 320205/06/11/13/14, 320281 and 320282 only if switched on;
 * IC at 3000; cap 200万; no pool; overrides up to 6000 bp and 1000万 */
static void prog_wuxi(program_t *p, bool optional_on)
{
	base(p, "wuxi-compute", "2025-05-23", "2027-12-31");
	static const char *const d[] = {"320205", "320206", "320211", "320213", "320214"};
	for (size_t i = 0; i < N(d); i++)
		add_div(p, d[i]);
	add_opt_div(p, "320281");
	add_opt_div(p, "320282");
	p->optional_enabled = optional_on;
	p->categories[CAT_INTELLIGENT_COMPUTE] = true;
	add_rate(p, 3000, -1, 0, -1);
	add_cap(p, WAN(200), -1);
	p->override_rate_allowed = true;
	p->override_max_rate_bp = 6000;
	p->override_cap_allowed = true;
	p->override_max_cap_fen = WAN(1000);
}

enum { P_JX, P_JX_IC_ONLY, P_HZ, P_HZ_MS5000, P_WX, P_WX_OPT };

static void get_prog(int which, program_t *p)
{
	switch (which) {
	case P_JX: prog_jiaxing(p); break;
	case P_JX_IC_ONLY:
		/* supercomputing still listed, but no rate rule matches it */
		prog_jiaxing(p);
		p->rates[0].category = CAT_INTELLIGENT_COMPUTE;
		break;
	case P_HZ: prog_hangzhou(p); break;
	case P_HZ_MS5000:
		/* a Hangzhou variant whose model_service rate equals the small-buyer rate */
		prog_hangzhou(p);
		p->rates[0].rate_bp = 5000;
		break;
	case P_WX: prog_wuxi(p, false); break;
	default: prog_wuxi(p, true); break;
	}
}

/* ---- one enterprise, table-driven --------------------------------------- */

#define IC CAT_INTELLIGENT_COMPUTE
#define SC CAT_SUPERCOMPUTING
#define GC CAT_GENERAL_COMPUTE
#define MS CAT_MODEL_SERVICE

/* an eligible-looking group of enterprise 0 */
#define GE(ent_, cat, c, div, amt)                                                                                   \
	{                                                                                                            \
		.ent = (ent_), .category = (cat), .cls = (c), .division = div, .in_dates = true, .amount_fen = (amt) \
	}
#define G(cat, c, div, amt) GE(0, cat, c, div, amt)

struct want {
	int64_t eligible, entitlement, cap, difference, payable;
	eng_status_t status;
	bool small_buyer;
	const char *note; /* substring of the note; "" = the note is empty; NULL = not checked */
};

struct ent_case {
	const char *what;
	int prog;
	eng_enterprise_t e;
	size_t ng;
	eng_group_t g[4];
	struct want w;
};

#define USCC1 "91330402100000001X"

static const struct ent_case jiaxing_cases[] = {
	/* 1 234 567 × 5000 / 10000 = 617 283.5 → 617 283 (down) */
	{"plain 50%",
	 P_JX,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 'A', "330402", 1234567)},
	 {1234567, 617283, WAN(100), 617283, 617283, ST_PAYABLE, false, ""}},
	/* 199 × 0.5 = 99.5 → 99: rounding is always down */
	{"rounding down",
	 P_JX,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 'A', "330402", 199)},
	 {199, 99, WAN(100), 99, 99, ST_PAYABLE, false, ""}},
	/* IC 1 and SC 1 share the rate 5000: floor((1+1) × 0.5) = 1, not 0 + 0 */
	{"same rate grouped before rounding",
	 P_JX,
	 {.uscc = USCC1},
	 2,
	 {G(IC, 'A', "330402", 1), G(SC, 'B', "330411", 1)},
	 {2, 1, WAN(100), 1, 1, ST_PAYABLE, false, ""}},
	/* 300万 = 300 000 000 × 0.5 = 150 000 000 > cap 100万 = 100 000 000 */
	{"cap hit",
	 P_JX,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 'A', "330402", WAN(300))},
	 {WAN(300), WAN(150), WAN(100), WAN(100), WAN(100), ST_PAYABLE, false, "已达年度上限 1,000,000.00 元"}},
	/* model_developer: cap 200万; 300万 × 0.5 = 150万 < 200万 */
	{"cap by flag, under",
	 P_JX,
	 {.uscc = USCC1, .flags = 1u << FLAG_MODEL_DEVELOPER},
	 1,
	 {G(IC, 'A', "330402", WAN(300))},
	 {WAN(300), WAN(150), WAN(200), WAN(150), WAN(150), ST_PAYABLE, false, ""}},
	/* model_developer: 500万 × 0.5 = 250万 > 200万 */
	{"cap by flag, hit",
	 P_JX,
	 {.uscc = USCC1, .flags = 1u << FLAG_MODEL_DEVELOPER},
	 1,
	 {G(IC, 'A', "330402", WAN(500))},
	 {WAN(500), WAN(250), WAN(200), WAN(200), WAN(200), ST_PAYABLE, false, "已达年度上限 2,000,000.00 元"}},
	/* month 1 granted 1 000 000 × 0.5 = 500 000; a late record of 300 001 arrives:
	 * (1 000 000 + 300 001) × 0.5 = 650 000.5 → 650 000; 650 000 − 500 000 = 150 000 */
	{"late record",
	 P_JX,
	 {.uscc = USCC1, .granted_before = 500000},
	 2,
	 {G(IC, 'A', "330402", 1000000), G(IC, 'B', "330402", 300001)},
	 {1300001, 650000, WAN(100), 150000, 150000, ST_PAYABLE, false, ""}},
	/* granted 500 000; then a refund of 400 000: (1 000 000 − 400 000) × 0.5 =
	 * 300 000; 300 000 − 500 000 = −200 000, a recovery */
	{"refund after grant",
	 P_JX,
	 {.uscc = USCC1, .granted_before = 500000},
	 2,
	 {G(IC, 'A', "330402", 1000000), G(IC, 'B', "330402", -400000)},
	 {600000, 300000, WAN(100), -200000, -200000, ST_RECOVERY, false, "追回"}},
	/* the same month again, no new data: 617 283 − 617 283 = 0 */
	{"rerun pays nothing",
	 P_JX,
	 {.uscc = USCC1, .granted_before = 617283},
	 1,
	 {G(IC, 'A', "330402", 1234567)},
	 {1234567, 617283, WAN(100), 0, 0, ST_NONE, false, ""}},
	/* 100 − 301 = −201; −201 × 0.5 = −100.5 → −101 (down); total clamped at 0 */
	{"negative net clamps at 0",
	 P_JX,
	 {.uscc = USCC1},
	 2,
	 {G(IC, 'A', "330402", 100), G(SC, 'A', "330402", -301)},
	 {-201, 0, WAN(100), 0, 0, ST_NONE, false, ""}},
	/* rule 1: outside the programme's dates → nothing */
	{"out of dates",
	 P_JX,
	 {.uscc = USCC1},
	 1,
	 {{.category = IC, .cls = 'A', .division = "330402", .in_dates = false, .amount_fen = 1000000}},
	 {0, 0, WAN(100), 0, 0, ST_NONE, false, ""}},
	/* rule 1: 330483 (Tongxiang) is not in jiaxing-compute */
	{"outside jurisdiction",
	 P_JX,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 'A', "330483", 1000000)},
	 {0, 0, WAN(100), 0, 0, ST_NONE, false, ""}},
	/* rule 1: related-party provider → nothing */
	{"related party",
	 P_JX,
	 {.uscc = USCC1},
	 1,
	 {{.category = IC, .cls = 'A', .division = "330402", .in_dates = true, .related = true, .amount_fen = 1000000}},
	 {0, 0, WAN(100), 0, 0, ST_NONE, false, ""}},
	/* rule 1: general_compute is listed by none of the four */
	{"unlisted category",
	 P_JX,
	 {.uscc = USCC1},
	 1,
	 {G(GC, 'A', "330402", 1000000)},
	 {0, 0, WAN(100), 0, 0, ST_NONE, false, ""}},
	/* rule 1: facility not registered (no class) → nothing */
	{"unregistered facility",
	 P_JX,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 0, "330402", 1000000)},
	 {0, 0, WAN(100), 0, 0, ST_NONE, false, ""}},
	/* only the eligible 2 000 000 counts: × 0.5 = 1 000 000 */
	{"eligible among ineligible",
	 P_JX,
	 {.uscc = USCC1},
	 3,
	 {G(IC, 'A', "330411", 2000000),
	  {.category = IC, .cls = 'A', .division = "330411", .in_dates = true, .related = true, .amount_fen = 1000000},
	  {.category = SC, .cls = 'A', .division = "330411", .in_dates = false, .amount_fen = 1000000}},
	 {2000000, 1000000, WAN(100), 1000000, 1000000, ST_PAYABLE, false, ""}},
	/* listed category without a matching rate rule: rate 0, counts for nothing
	 * and is left out of eligible_ytd; IC 1 000 × 0.5 = 500 */
	{"rate 0 counts for nothing",
	 P_JX_IC_ONLY,
	 {.uscc = USCC1},
	 2,
	 {G(IC, 'A', "330402", 1000), G(SC, 'A', "330402", 1000)},
	 {1000, 500, WAN(100), 500, 500, ST_PAYABLE, false, ""}},
	/* rule 2: blacklisted, granted 500 000, entitlement now 600 000 × 0.5 =
	 * 300 000: difference −200 000 shown, nothing recovered, nothing paid */
	{"withheld blacklisted",
	 P_JX,
	 {.uscc = USCC1, .blacklisted = true, .granted_before = 500000},
	 1,
	 {G(IC, 'A', "330402", 600000)},
	 {600000, 300000, WAN(100), -200000, 0, ST_WITHHELD, false, "暂缓：列入严重失信名单"}},
	/* rule 2: grade D, 1 000 000 × 0.5 = 500 000 asked, nothing paid */
	{"withheld grade D",
	 P_JX,
	 {.uscc = USCC1, .grade_d = true},
	 1,
	 {G(IC, 'A', "330402", 1000000)},
	 {1000000, 500000, WAN(100), 500000, 0, ST_WITHHELD, false, "暂缓：工业企业绩效评价 D 类"}},
};

static const struct ent_case hangzhou_cases[] = {
	/* rate 3000: IC/A 1 000 000 + MS 1 000 000 + SC/A 1 000 001 = 3 000 001
	 *   × 0.3 = 900 000.3 → 900 000
	 * rate 2000: IC/B 1 000 000 × 0.2 = 200 000
	 * entitlement 1 100 000 */
	{"rates by category and class",
	 P_HZ,
	 {.uscc = USCC1},
	 4,
	 {G(IC, 'A', "330106", 1000000), G(IC, 'B', "330106", 1000000), G(MS, 'B', "330106", 1000000),
	  G(SC, 'A', "330106", 1000001)},
	 {4000001, 1100000, WAN(800), 1100000, 1100000, ST_PAYABLE, false, ""}},
	/* sme, IC YTD 30 000 000 + 20 000 000 = 50 000 000 = 50万 (inclusive):
	 * IC at 5000: 50 000 000 × 0.5 = 25 000 000; MS 1 000 000 × 0.3 = 300 000;
	 * 25 300 000 */
	{"small buyer at exactly 50万",
	 P_HZ,
	 {.uscc = USCC1, .flags = 1u << FLAG_SME},
	 3,
	 {G(IC, 'A', "330106", 30000000), G(IC, 'B', "330106", 20000000), G(MS, 'A', "330106", 1000000)},
	 {51000000, 25300000, WAN(800), 25300000, 25300000, ST_PAYABLE, true, "小额采购比例 50%"}},
	/* the next run: one more fen of IC, YTD 50 000 001 > 50万: the whole year at
	 * ordinary rates: 3000: IC/A 30 000 000 + MS 1 000 000 = 31 000 000 → 9 300 000;
	 * 2000: IC/B 20 000 001 → 4 000 000.2 → 4 000 000; 13 300 000;
	 * granted 25 300 000 → −12 000 000 recovered */
	{"small buyer lost, recovery",
	 P_HZ,
	 {.uscc = USCC1, .flags = 1u << FLAG_SME, .granted_before = 25300000},
	 3,
	 {G(IC, 'A', "330106", 30000000), G(IC, 'B', "330106", 20000001), G(MS, 'A', "330106", 1000000)},
	 {51000001, 13300000, WAN(800), -12000000, -12000000, ST_RECOVERY, false,
	  "小额采购：年度累计已超过 500,000.00 元，全年按普通比例重算"}},
	/* not sme: 30 000 000 × 0.3 + 20 000 000 × 0.2 = 9 000 000 + 4 000 000 */
	{"not sme: ordinary rates",
	 P_HZ,
	 {.uscc = USCC1},
	 2,
	 {G(IC, 'A', "330106", 30000000), G(IC, 'B', "330106", 20000000)},
	 {50000000, 13000000, WAN(800), 13000000, 13000000, ST_PAYABLE, false, ""}},
	/* sme with supercomputing only (not a small-buyer category): 1 000 000 × 0.3 */
	{"sme, no IC",
	 P_HZ,
	 {.uscc = USCC1, .flags = 1u << FLAG_SME},
	 1,
	 {G(SC, 'A', "330106", 1000000)},
	 {1000000, 300000, WAN(800), 300000, 300000, ST_PAYABLE, false, ""}},
	/* net amounts: 60 000 000 − 10 000 000 refunded = 50 000 000 <= 50万 →
	 * small buyer: 50 000 000 × 0.5 = 25 000 000 */
	{"small buyer on net amounts",
	 P_HZ,
	 {.uscc = USCC1, .flags = 1u << FLAG_SME},
	 2,
	 {G(IC, 'A', "330106", 60000000), G(IC, 'B', "330106", -10000000)},
	 {50000000, 25000000, WAN(800), 25000000, 25000000, ST_PAYABLE, true, "小额采购比例 50%"}},
	/* an override rate beats the small-buyer rate: 1 000 000 × 0.4 = 400 000 */
	{"override rate over small buyer",
	 P_HZ,
	 {.uscc = USCC1, .flags = 1u << FLAG_SME, .has_rate_override = true, .override_rate_bp = 4000},
	 1,
	 {G(IC, 'A', "330106", 1000000)},
	 {1000000, 400000, WAN(800), 400000, 400000, ST_PAYABLE, false, "一事一议比例 40%"}},
	/* foundation_model, override cap 2000万: 1亿 = 10 000 000 000 × 0.3 =
	 * 3 000 000 000 > 2 000 000 000 */
	{"override cap",
	 P_HZ,
	 {.uscc = USCC1, .flags = 1u << FLAG_FOUNDATION_MODEL, .has_cap_override = true, .override_cap_fen = WAN(2000)},
	 1,
	 {G(IC, 'A', "330106", WAN(10000))},
	 {WAN(10000), WAN(3000), WAN(2000), WAN(2000), WAN(2000), ST_PAYABLE, false, "已达年度上限 20,000,000.00 元"}},
	/* 330483 is not 3301xx */
	{"outside Hangzhou",
	 P_HZ,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 'A', "330483", 1000000)},
	 {0, 0, WAN(800), 0, 0, ST_NONE, false, ""}},
	/* small-buyer IC 1 at 5000 and MS 1 at 5000 form one group: floor(2 × 0.5) = 1 */
	{"small-buyer rate merges with an equal ordinary rate",
	 P_HZ_MS5000,
	 {.uscc = USCC1, .flags = 1u << FLAG_SME},
	 2,
	 {G(IC, 'B', "330106", 1), G(MS, 'B', "330106", 1)},
	 {2, 1, WAN(800), 1, 1, ST_PAYABLE, true, "小额采购比例 50%"}},
};

static const struct ent_case wuxi_cases[] = {
	/* 1 000 000 × 0.3 = 300 000 */
	{"wuxi city district",
	 P_WX,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 'A', "320214", 1000000)},
	 {1000000, 300000, WAN(200), 300000, 300000, ST_PAYABLE, false, ""}},
	/* 江阴 320281 with the switch off → nothing */
	{"jiangyin, switch off",
	 P_WX,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 'A', "320281", 1000000)},
	 {0, 0, WAN(200), 0, 0, ST_NONE, false, ""}},
	/* switch on → 1 000 000 × 0.3 = 300 000 */
	{"jiangyin, switch on",
	 P_WX_OPT,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 'A', "320281", 1000000)},
	 {1000000, 300000, WAN(200), 300000, 300000, ST_PAYABLE, false, ""}},
	/* 宜兴 320282 with the switch on */
	{"yixing, switch on",
	 P_WX_OPT,
	 {.uscc = USCC1},
	 1,
	 {G(IC, 'B', "320282", 10)},
	 {10, 3, WAN(200), 3, 3, ST_PAYABLE, false, ""}},
	/* override 6000 bp: 10 000 001 × 0.6 = 6 000 000.6 → 6 000 000 */
	{"override rate",
	 P_WX,
	 {.uscc = USCC1, .has_rate_override = true, .override_rate_bp = 6000},
	 1,
	 {G(IC, 'A', "320205", 10000001)},
	 {10000001, 6000000, WAN(200), 6000000, 6000000, ST_PAYABLE, false, "一事一议比例 60%"}},
	/* override 6000 bp and cap 1000万: 5000万 × 0.6 = 3000万 > 1000万 */
	{"override rate and cap",
	 P_WX,
	 {.uscc = USCC1,
	  .has_rate_override = true,
	  .override_rate_bp = 6000,
	  .has_cap_override = true,
	  .override_cap_fen = WAN(1000)},
	 1,
	 {G(IC, 'A', "320205", WAN(5000))},
	 {WAN(5000), WAN(3000), WAN(1000), WAN(1000), WAN(1000), ST_PAYABLE, false, "一事一议上限 10,000,000.00 元"}},
	/* an override does not make an unlisted category eligible */
	{"override, unlisted category",
	 P_WX,
	 {.uscc = USCC1, .has_rate_override = true, .override_rate_bp = 6000},
	 1,
	 {G(SC, 'A', "320205", 1000000)},
	 {0, 0, WAN(200), 0, 0, ST_NONE, false, NULL}},
};

static void run_cases(const struct ent_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ent_case *c = &cases[i];
		program_t p;
		get_prog(c->prog, &p);
		eng_input_t in = {.prog = &p, .ents = &c->e, .nents = 1, .groups = c->g, .ngroups = c->ng};
		eng_line_t l;
		eng_totals_t t;
		char err[256] = "";
		cr_assert(eng_settle(&in, &l, &t, err, sizeof err), "%s: %s", c->what, err);
		cr_expect_eq(l.eligible_ytd, c->w.eligible, "%s: eligible %lld", c->what, (long long)l.eligible_ytd);
		cr_expect_eq(l.entitlement_ytd, c->w.entitlement, "%s: entitlement %lld", c->what,
			     (long long)l.entitlement_ytd);
		cr_expect_eq(l.cap, c->w.cap, "%s: cap %lld", c->what, (long long)l.cap);
		cr_expect_eq(l.granted_before, c->e.granted_before, "%s: granted_before", c->what);
		cr_expect_eq(l.difference, c->w.difference, "%s: difference %lld", c->what, (long long)l.difference);
		cr_expect_eq(l.payable, c->w.payable, "%s: payable %lld", c->what, (long long)l.payable);
		cr_expect_eq(l.status, c->w.status, "%s: status %s", c->what, eng_status_name(l.status));
		cr_expect_eq(l.small_buyer, c->w.small_buyer, "%s: small_buyer", c->what);
		cr_expect_not(l.pool_scaled, "%s: pool_scaled", c->what);
		if (c->w.note && !c->w.note[0])
			cr_expect_str_empty(l.note, "%s: note \"%s\"", c->what, l.note);
		else if (c->w.note)
			cr_expect(strstr(l.note, c->w.note), "%s: note \"%s\" lacks \"%s\"", c->what, l.note,
				  c->w.note);
		/* totals of a one-line run */
		cr_expect_eq(t.payable, l.payable > 0 ? l.payable : 0, "%s: total payable", c->what);
		cr_expect_eq(t.recovered, l.payable < 0 ? l.payable : 0, "%s: total recovered", c->what);
		cr_expect_eq(t.lines_payable + t.lines_recovery + t.lines_withheld + t.lines_none, 1);
	}
}

Test(unit_engine, jiaxing_table)
{
	run_cases(jiaxing_cases, N(jiaxing_cases));
}

Test(unit_engine, hangzhou_table)
{
	run_cases(hangzhou_cases, N(hangzhou_cases));
}

Test(unit_engine, wuxi_table)
{
	run_cases(wuxi_cases, N(wuxi_cases));
}

/* ---- several enterprises ------------------------------------------------ */

/* runs prog over ents/groups; asserts success */
static void settle(const program_t *p, const program_t *const *partners, int npartners, const eng_enterprise_t *e,
		   size_t ne, const eng_group_t *g, size_t ng, int64_t pool_granted, eng_line_t *l, eng_totals_t *t)
{
	eng_input_t in = {.prog = p,
			  .npartners = npartners,
			  .ents = e,
			  .nents = ne,
			  .groups = g,
			  .ngroups = ng,
			  .pool_granted_fen = pool_granted};
	for (int k = 0; k < npartners; k++)
		in.partners[k] = partners[k];
	char err[256] = "";
	cr_assert(eng_settle(&in, l, t, err, sizeof err), "%s", err);
}

/* an IC class A group in Nanhu for enterprise ent: amount 2d asks d at 5000 bp */
#define JG(ent_, amt) GE(ent_, IC, 'A', "330402", amt)

/* Pool 1000 fen, 990 granted: left = 10.  Asks 7, 7, 9 (amounts 14, 14, 18):
 * asked 23 > 10.
 *   7 × 10 = 70 = 3 × 23 + 1  → 3, remainder 1
 *   7 × 10 = 70 = 3 × 23 + 1  → 3, remainder 1
 *   9 × 10 = 90 = 3 × 23 + 21 → 3, remainder 21
 * Σ = 9, leftover 1 → the largest remainder (21): payables 3, 3, 4 = 10.
 * Then left = 11 (989 granted):
 *   77 = 3 × 23 + 8 → 3 r 8;  77 → 3 r 8;  99 = 4 × 23 + 7 → 4 r 7
 * Σ = 10, leftover 1 → a tie at 8 between the two 7s → the smaller USCC:
 * payables 4 (…01), 3 (…02), 4 = 11. */
Test(unit_engine, pool_largest_remainder_and_uscc_tie)
{
	program_t p;
	prog_jiaxing(&p);
	p.pool_fen = 1000;
	/* the larger USCC first, so that input order cannot be what decides */
	const eng_enterprise_t e[] = {
		{.uscc = "91330402100000002X"}, {.uscc = "91330402100000001X"}, {.uscc = "91330402100000003X"}};
	const eng_group_t g[] = {JG(0, 14), JG(1, 14), JG(2, 18)};
	eng_line_t l[3];
	eng_totals_t t;

	static const struct {
		int64_t granted;
		int64_t pay[3];
		int64_t left;
	} cases[] = {
		{990, {3, 3, 4}, 10},
		{989, {3, 4, 4}, 11},
	};
	for (size_t c = 0; c < N(cases); c++) {
		settle(&p, NULL, 0, e, 3, g, 3, cases[c].granted, l, &t);
		for (int i = 0; i < 3; i++) {
			cr_expect_eq(l[i].difference, g[i].amount_fen / 2);
			cr_expect_eq(l[i].payable, cases[c].pay[i], "case %zu line %d: payable %lld", c, i,
				     (long long)l[i].payable);
			cr_expect(l[i].pool_scaled);
			cr_expect_eq(l[i].status, ST_PAYABLE);
		}
		cr_expect_eq(t.asked, 23);
		cr_expect_eq(t.payable, cases[c].left);
		cr_expect_eq(t.pool_left, cases[c].left);
		cr_expect_eq(t.lines_payable, 3);
	}
	cr_expect_str_eq(l[0].note, "资金池不足：应拨 0.07 元，实拨 0.03 元");
	cr_expect_str_eq(l[1].note, "资金池不足：应拨 0.07 元，实拨 0.04 元");
}

/* The same run with the enterprises in every order gives the same line per
 * USCC (left 11, as above). */
Test(unit_engine, pool_independent_of_input_order)
{
	program_t p;
	prog_jiaxing(&p);
	p.pool_fen = 1000;
	static const char *const uscc[3] = {"91330402100000001X", "91330402100000002X", "91330402100000003X"};
	static const int64_t amount[3] = {14, 14, 18};
	static const int64_t want[3] = {4, 3, 4};
	static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	for (int k = 0; k < 6; k++) {
		eng_enterprise_t e[3];
		eng_group_t g[3];
		memset(e, 0, sizeof e);
		for (int i = 0; i < 3; i++) {
			strcpy(e[i].uscc, uscc[perms[k][i]]);
			g[i] = (eng_group_t)JG((uint32_t)i, amount[perms[k][i]]);
		}
		eng_line_t l[3];
		eng_totals_t t;
		settle(&p, NULL, 0, e, 3, g, 3, 989, l, &t);
		for (int i = 0; i < 3; i++)
			cr_expect_eq(l[i].payable, want[perms[k][i]], "perm %d, %s", k, uscc[perms[k][i]]);
	}
}

/* Pool 1000 fully granted (left 0 before the run).  Enterprise 1 recovers:
 * granted 10, amount now 8 → 4, difference −6.  Enterprises 2 and 3 ask 4 and
 * 8 (amounts 8 and 16): asked 12 > left 0 + 6.
 *   4 × 6 / 12 = 2 r 0;  8 × 6 / 12 = 4 r 0 → 2 + 4 = 6, what was recovered.
 * With a recovery of 12 instead (granted 16, entitlement 4): left 12 >= 12,
 * both paid in full.
 * A withheld enterprise (blacklisted) asking 100 and one withheld with a
 * recovery of 50 take no part: neither asks nor adds to what is left. */
Test(unit_engine, pool_recovery_adds_to_left)
{
	program_t p;
	prog_jiaxing(&p);
	p.pool_fen = 1000;
	eng_enterprise_t e[] = {{.uscc = "91330402100000001X", .granted_before = 10},
				{.uscc = "91330402100000002X"},
				{.uscc = "91330402100000003X"},
				{.uscc = "91330402100000004X", .blacklisted = true},
				{.uscc = "91330402100000005X", .grade_d = true, .granted_before = 60}};
	const eng_group_t g[] = {JG(0, 8), JG(1, 8), JG(2, 16), JG(3, 200), JG(4, 20)};
	eng_line_t l[5];
	eng_totals_t t;

	settle(&p, NULL, 0, e, 5, g, 5, 1000, l, &t);
	static const int64_t pay1[] = {-6, 2, 4, 0, 0};
	static const eng_status_t st[] = {ST_RECOVERY, ST_PAYABLE, ST_PAYABLE, ST_WITHHELD, ST_WITHHELD};
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(l[i].payable, pay1[i], "line %d: %lld", i, (long long)l[i].payable);
		cr_expect_eq(l[i].status, st[i]);
	}
	cr_expect_eq(l[3].difference, 100);
	cr_expect_eq(l[4].difference, -50);
	cr_expect(l[1].pool_scaled && l[2].pool_scaled && !l[0].pool_scaled);
	cr_expect_eq(t.pool_left, 0);
	cr_expect_eq(t.asked, 12);
	cr_expect_eq(t.payable, 6);
	cr_expect_eq(t.recovered, -6);
	cr_expect_eq(t.lines_payable, 2);
	cr_expect_eq(t.lines_recovery, 1);
	cr_expect_eq(t.lines_withheld, 2);
	cr_expect_eq(t.lines_none, 0);
	cr_expect(strstr(l[0].note, "追回"));

	e[0].granted_before = 16;
	settle(&p, NULL, 0, e, 5, g, 5, 1000, l, &t);
	cr_expect_eq(l[0].payable, -12);
	cr_expect_eq(l[1].payable, 4);
	cr_expect_eq(l[2].payable, 8);
	cr_expect(!l[1].pool_scaled && !l[2].pool_scaled);
}

/* Withheld lines take no part in the pool: left 10 (990 granted), asks 6
 * (amount 12) and 4 (amount 8) = 10 <= 10: paid in full although a withheld
 * line asks 6 more. */
Test(unit_engine, pool_ignores_withheld_asks)
{
	program_t p;
	prog_jiaxing(&p);
	p.pool_fen = 1000;
	const eng_enterprise_t e[] = {{.uscc = "91330402100000001X"},
				      {.uscc = "91330402100000002X", .grade_d = true},
				      {.uscc = "91330402100000003X"}};
	const eng_group_t g[] = {JG(0, 12), JG(1, 12), JG(2, 8)};
	eng_line_t l[3];
	eng_totals_t t;
	settle(&p, NULL, 0, e, 3, g, 3, 990, l, &t);
	cr_expect_eq(l[0].payable, 6);
	cr_expect_eq(l[1].payable, 0);
	cr_expect_eq(l[1].difference, 6);
	cr_expect_eq(l[2].payable, 4);
	cr_expect_eq(t.asked, 10);
	cr_expect_eq(t.payable, 10);
}

/* No pool: everything asked is paid; pool_left is -1. */
Test(unit_engine, no_pool)
{
	program_t p;
	prog_wuxi(&p, false);
	const eng_enterprise_t e[] = {{.uscc = "91320214100000001X"}, {.uscc = "91320214100000002X"}};
	/* 10 × 0.3 = 3; 20 × 0.3 = 6 */
	const eng_group_t g[] = {GE(0, IC, 'A', "320214", 10), GE(1, IC, 'B', "320214", 20)};
	eng_line_t l[2];
	eng_totals_t t;
	settle(&p, NULL, 0, e, 2, g, 2, 0, l, &t);
	cr_expect_eq(l[0].payable, 3);
	cr_expect_eq(l[1].payable, 6);
	cr_expect_eq(t.pool_left, -1);
	cr_expect_eq(t.payable, 9);
}

/* An enterprise with no usage still gets a line: granted 100 before, nothing
 * eligible now (say a full refund netted to 0 elsewhere) → −100 recovered. */
Test(unit_engine, enterprise_without_groups)
{
	program_t p;
	prog_wuxi(&p, false);
	const eng_enterprise_t e[] = {{.uscc = "91320214100000001X", .granted_before = 100}};
	eng_line_t l[1];
	eng_totals_t t;
	settle(&p, NULL, 0, e, 1, NULL, 0, 0, l, &t);
	cr_expect_eq(l[0].difference, -100);
	cr_expect_eq(l[0].payable, -100);
	cr_expect_eq(l[0].status, ST_RECOVERY);
}

/* ---- rule 7 ------------------------------------------------------------- */

/* Two programmes of one exclusivity group "tx" over 330483:
 *   X (order 1): IC 3000, SC 4000
 *   Y (order 2): IC 5000, SC 4000
 * Enterprise 0 has IC 1000 and SC 1000.
 *   IC: Y's 5000 > X's 3000 → counts toward Y only: 1000 × 0.5 = 500
 *   SC: tie 4000 → X, listed first: 1000 × 0.4 = 400
 * So X pays 400 (eligible 1000), Y pays 500 (eligible 1000): never both. */
static void prog_tx(program_t *p, const char *id, int order, int32_t ic, int32_t sc)
{
	base(p, id, "2026-01-01", "2028-12-31");
	add_div(p, "330483");
	p->categories[IC] = p->categories[SC] = true;
	add_rate(p, ic, IC, 0, -1);
	add_rate(p, sc, SC, 0, -1);
	add_cap(p, WAN(200), -1);
	strcpy(p->exclusivity_group, "tx");
	p->exclusivity_order = order;
}

Test(unit_engine, exclusive_higher_rate_then_order)
{
	program_t x, y;
	prog_tx(&x, "tx-x", 1, 3000, 4000);
	prog_tx(&y, "tx-y", 2, 5000, 4000);
	const program_t *px[] = {&y}, *py[] = {&x};
	const eng_enterprise_t e[] = {{.uscc = "91330483100000001E"}};
	eng_group_t g[] = {
		{.category = IC,
		 .cls = 'A',
		 .division = "330483",
		 .in_dates = true,
		 .partner_in_dates = 1,
		 .amount_fen = 1000},
		{.category = SC,
		 .cls = 'A',
		 .division = "330483",
		 .in_dates = true,
		 .partner_in_dates = 1,
		 .amount_fen = 1000},
	};
	eng_line_t l;
	eng_totals_t t;

	settle(&x, px, 1, e, 1, g, 2, 0, &l, &t);
	cr_expect_eq(l.eligible_ytd, 1000);
	cr_expect_eq(l.payable, 400);
	cr_expect(strstr(l.note, "用量已计入 tx-y"), "%s", l.note);
	settle(&y, py, 1, e, 1, g, 2, 0, &l, &t);
	cr_expect_eq(l.eligible_ytd, 1000);
	cr_expect_eq(l.payable, 500);

	/* swap the orders: the SC tie now goes to Y: X gets nothing, Y 500 + 400 */
	x.exclusivity_order = 2;
	y.exclusivity_order = 1;
	settle(&x, px, 1, e, 1, g, 2, 0, &l, &t);
	cr_expect_eq(l.payable, 0);
	cr_expect_eq(l.eligible_ytd, 0);
	settle(&y, py, 1, e, 1, g, 2, 0, &l, &t);
	cr_expect_eq(l.payable, 900);
}

/* The partner only takes a record it could subsidise: outside its dates
 * (bit clear), outside its jurisdiction, or a category it does not list,
 * the record stays with X: 1000 × 0.3 = 300 each time. */
Test(unit_engine, exclusive_only_when_partner_eligible)
{
	program_t x, y;
	prog_tx(&x, "tx-x", 1, 3000, 4000);
	prog_tx(&y, "tx-y", 2, 5000, 4000);
	const program_t *px[] = {&y};
	const eng_enterprise_t e[] = {{.uscc = "91330483100000001E"}};
	eng_line_t l;
	eng_totals_t t;

	eng_group_t g = {.category = IC,
			 .cls = 'A',
			 .division = "330483",
			 .in_dates = true,
			 .partner_in_dates = 0,
			 .amount_fen = 1000};
	settle(&x, px, 1, e, 1, &g, 1, 0, &l, &t);
	cr_expect_eq(l.payable, 300, "partner out of dates");

	program_t y2 = y;
	strcpy(y2.divisions[0], "330402");
	const program_t *px2[] = {&y2};
	g.partner_in_dates = 1;
	settle(&x, px2, 1, e, 1, &g, 1, 0, &l, &t);
	cr_expect_eq(l.payable, 300, "partner jurisdiction");

	program_t y3 = y;
	y3.categories[IC] = false;
	const program_t *px3[] = {&y3};
	settle(&x, px3, 1, e, 1, &g, 1, 0, &l, &t);
	cr_expect_eq(l.payable, 300, "partner does not list IC");

	settle(&x, px, 1, e, 1, &g, 1, 0, &l, &t);
	cr_expect_eq(l.payable, 0, "partner eligible with a higher rate");
}

/* The double pay seen in production.  X (order 1) and Y (order 2) both list
 * IC but have rate lines for class A only; enterprise 0's IC record of 1000
 * is at a class-B facility, so no ordinary rate line matches in either.  It
 * holds a rate override of 6000 bp in each programme.  By rule 7 the record
 * is X's alone (no match anywhere: the lowest exclusivity_order), and Y's
 * override does not move it: X pays 1000 × 0.6 = 600, Y nothing.  (Each
 * side used to keep it because the other's rate was 0, and both paid 600:
 * 1200 on a purchase of 1000.) */
Test(unit_engine, exclusive_no_rate_line_overrides_pay_once)
{
	program_t x, y;
	prog_tx(&x, "tx-x", 1, 3000, 4000);
	prog_tx(&y, "tx-y", 2, 5000, 4000);
	x.rates[0].cls = y.rates[0].cls = 'A';
	x.override_rate_allowed = y.override_rate_allowed = true;
	x.override_max_rate_bp = y.override_max_rate_bp = 6000;
	const program_t *px[] = {&y}, *py[] = {&x};
	const eng_enterprise_t e[] = {
		{.uscc = "91330483100000001E", .has_rate_override = true, .override_rate_bp = 6000}};
	const eng_group_t g = {.category = IC,
			       .cls = 'B',
			       .division = "330483",
			       .in_dates = true,
			       .partner_in_dates = 1,
			       .amount_fen = 1000};
	eng_line_t lx, ly;
	eng_totals_t t;

	settle(&x, px, 1, e, 1, &g, 1, 0, &lx, &t);
	settle(&y, py, 1, e, 1, &g, 1, 0, &ly, &t);
	cr_expect_eq(lx.eligible_ytd, 1000, "X holds the record: %lld", (long long)lx.eligible_ytd);
	cr_expect_eq(lx.payable, 600);
	cr_expect_eq(ly.eligible_ytd, 0, "Y must not count it: %lld", (long long)ly.eligible_ytd);
	cr_expect_eq(ly.payable, 0);
	cr_expect(strstr(ly.note, "用量已计入 tx-x"), "%s", ly.note);
	cr_expect_leq(lx.payable + ly.payable, g.amount_fen, "paid %lld on a purchase of %lld",
		      (long long)(lx.payable + ly.payable), (long long)g.amount_fen);

	/* the orders swapped: Y holds it, with its own override */
	x.exclusivity_order = 2;
	y.exclusivity_order = 1;
	settle(&x, px, 1, e, 1, &g, 1, 0, &lx, &t);
	settle(&y, py, 1, e, 1, &g, 1, 0, &ly, &t);
	cr_expect_eq(lx.eligible_ytd, 0);
	cr_expect_eq(ly.eligible_ytd, 1000);
	cr_expect_eq(lx.payable + ly.payable, 600);
}

/* ---- rule 7, property ------------------------------------------------------ */

/* Random programmes of one exclusivity group, each settled on its own as the
 * real system does (its run sees the partners' definitions, its own overrides
 * and its own date bits), over the same random usage.  Checked per group of
 * identical records: an enterprise's groups have the amounts 1, 2, 4, ... so
 * that each line's eligible_ytd says exactly which groups it counted.
 *   - no group is counted by two programmes;
 *   - a group eligible (rule 1) for none is counted by none;
 *   - otherwise only the holder may count it: the eligible programme with the
 *     highest ordinary rate (ties: lowest order, then smaller id), whatever
 *     the overrides and small-buyer rates; it counts it exactly when the rate
 *     that applies there (override, small-buyer or ordinary) is not 0;
 *   - the group pays no more, over the whole group of programmes, than the
 *     amounts eligible somewhere. */

#define PR_CASES 4000
#define PR_MAXP 4
#define PR_MAXE 6
#define PR_MAXG 12
#define PR_NCAT 4 /* IC, SC, GC, MS */

static uint64_t pr_state;

static uint64_t pr_next(void)
{
	/* splitmix64: fixed seed, so every run checks the same cases */
	uint64_t z = (pr_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* 0 .. n-1 */
static int pr_int(int n)
{
	return (int)(pr_next() % (uint64_t)n);
}

static bool pr_chance(int percent)
{
	return pr_int(100) < percent;
}

static const char *const pr_days[] = {"2025-03-01", "2025-07-15", "2025-12-31", "2026-01-01",
				      "2026-06-30", "2026-07-01", "2027-02-02"};
static const char *const pr_divs[] = {"330402", "330411", "330483", "330106", "330108", "320214", "320281"};
static const int32_t pr_rates[] = {1000, 2000, 3000, 3000, 5000, 6000, 10000};

static void pr_program(program_t *p, int i)
{
	static const char *const from[] = {"2025-01-01", "2025-06-13", "2026-01-01"};
	static const char *const to[] = {"", "2025-12-31", "2026-06-30", "2027-12-31"};
	memset(p, 0, sizeof *p);
	p->recipients[RECIPIENT_ENTERPRISE] = true; /* as the parser's default */
	p->match_flag = -1;
	snprintf(p->id, sizeof p->id, "grp-%c", 'a' + i);
	strcpy(p->exclusivity_group, "grp");
	p->exclusivity_order = 1 + pr_int(3); /* equal orders now and then */
	strcpy(p->valid_from, from[pr_int(3)]);
	const char *t = to[pr_int(4)];
	if (t[0] && strcmp(t, p->valid_from) >= 0)
		strcpy(p->valid_to, t);
	/* jurisdictions that overlap: codes and the 3301 prefix */
	static const char *const pats[] = {"330402", "330411", "330483", "3301", "320214"};
	for (int k = 0; k < 5; k++)
		if (pr_chance(45))
			strcpy(p->divisions[p->ndivisions++], pats[k]);
	if (!p->ndivisions)
		strcpy(p->divisions[p->ndivisions++], pats[pr_int(5)]);
	if (pr_chance(30)) {
		strcpy(p->optional_divisions[p->noptional++], "320281");
		p->optional_enabled = pr_chance(50);
	}
	for (int c = 0; c < PR_NCAT; c++)
		p->categories[c] = pr_chance(60);
	p->categories[pr_int(PR_NCAT)] = true;
	/* rate lines: qualifiers at random, so that often none matches */
	int nr = 1 + pr_int(4);
	for (int k = 0; k < nr; k++) {
		int cat = pr_chance(50) ? pr_int(PR_NCAT) : -1;
		char cls = pr_chance(50) ? (pr_chance(50) ? 'A' : 'B') : 0;
		int flag = pr_chance(30) ? pr_int(FLAG_CREDIT_BLACKLISTED) : -1;
		add_rate(p, pr_rates[pr_int((int)N(pr_rates))], cat, cls, flag);
	}
	if (pr_chance(40)) {
		p->has_small_buyer = true;
		p->small_buyer_flag = pr_int(FLAG_CREDIT_BLACKLISTED);
		p->small_buyer_max_ytd_fen = pr_int(1 << PR_MAXG);
		for (int c = 0; c < PR_NCAT; c++)
			p->small_buyer_categories[c] = p->categories[c] && pr_chance(50);
		p->small_buyer_rate_bp = pr_rates[pr_int((int)N(pr_rates))];
	}
	add_cap(p, pr_chance(50) ? WAN(200) : 1 + pr_int(1 << PR_MAXG), -1);
	if (pr_chance(30))
		add_cap(p, WAN(500), FLAG_MAAS_BUILDER);
}

/* rule 1 for programme p, from the record's facts */
static bool pr_eligible(const program_t *p, const eng_group_t *g, const char *day)
{
	return (g->cls == 'A' || g->cls == 'B') && !g->related && p->categories[g->category] &&
	       program_in_jurisdiction(p, g->division) && program_in_dates(p, day);
}

static bool pr_before(const program_t *a, int32_t ra, const program_t *b, int32_t rb)
{
	if (ra != rb)
		return ra > rb;
	if (a->exclusivity_order != b->exclusivity_order)
		return a->exclusivity_order < b->exclusivity_order;
	return strcmp(a->id, b->id) < 0;
}

Test(unit_engine, exclusive_property_counted_once, .timeout = 120)
{
	pr_state = 20260301;
	size_t checked = 0, contested = 0, override_held = 0;
	for (int cs = 0; cs < PR_CASES; cs++) {
		int np = 2 + pr_int(PR_MAXP - 1);
		program_t progs[PR_MAXP];
		for (int i = 0; i < np; i++)
			pr_program(&progs[i], i);

		int ne = 1 + pr_int(PR_MAXE);
		eng_enterprise_t base_e[PR_MAXE];
		eng_enterprise_t ents[PR_MAXP][PR_MAXE]; /* per programme: its own overrides */
		memset(base_e, 0, sizeof base_e);
		memset(ents, 0, sizeof ents);
		eng_group_t g[PR_MAXE * PR_MAXG];
		const char *day[PR_MAXE * PR_MAXG];
		int ngroups = 0, first[PR_MAXE + 1];
		for (int e = 0; e < ne; e++) {
			snprintf(base_e[e].uscc, sizeof base_e[e].uscc, "91330402100000%03uX", (unsigned)e % 1000u);
			base_e[e].flags = (uint32_t)pr_int(1 << FLAG_CREDIT_BLACKLISTED);
			base_e[e].blacklisted = pr_chance(5);
			for (int i = 0; i < np; i++) {
				eng_enterprise_t *x = &ents[i][e];
				*x = base_e[e];
				if ((x->has_rate_override = pr_chance(40)))
					x->override_rate_bp = pr_chance(10) ? 0 : pr_rates[pr_int((int)N(pr_rates))];
				if ((x->has_cap_override = pr_chance(20)))
					x->override_cap_fen = pr_int(1 << PR_MAXG);
			}
			first[e] = ngroups;
			int n = pr_int(PR_MAXG + 1);
			for (int j = 0; j < n; j++) {
				eng_group_t *x = &g[ngroups];
				memset(x, 0, sizeof *x);
				x->ent = (uint32_t)e;
				x->category = pr_int(PR_NCAT);
				x->cls = pr_chance(3) ? 'C' : (pr_chance(50) ? 'A' : 'B');
				strcpy(x->division, pr_divs[pr_int((int)N(pr_divs))]);
				x->related = pr_chance(5);
				x->amount_fen = (int64_t)1 << j;
				day[ngroups] = pr_days[pr_int((int)N(pr_days))];
				ngroups++;
			}
		}
		first[ne] = ngroups;

		/* each programme's run: its own dates bit, its partners' bits in
		 * the (shuffled) order of its partner list */
		eng_line_t lines[PR_MAXP][PR_MAXE];
		for (int i = 0; i < np; i++) {
			const program_t *partners[PR_MAXP];
			int npart = 0;
			for (int k = 0; k < np; k++)
				if (k != i)
					partners[npart++] = &progs[k];
			for (int k = npart - 1; k > 0; k--) {
				int r = pr_int(k + 1);
				const program_t *t = partners[k];
				partners[k] = partners[r];
				partners[r] = t;
			}
			eng_group_t gi[PR_MAXE * PR_MAXG];
			for (int j = 0; j < ngroups; j++) {
				gi[j] = g[j];
				gi[j].in_dates = program_in_dates(&progs[i], day[j]);
				gi[j].partner_in_dates = 0;
				for (int k = 0; k < npart; k++)
					if (program_in_dates(partners[k], day[j]))
						gi[j].partner_in_dates |= 1u << k;
			}
			eng_totals_t t;
			settle(&progs[i], partners, npart, ents[i], (size_t)ne, gi, (size_t)ngroups, 0, lines[i], &t);
		}

		for (int e = 0; e < ne; e++) {
			/* the holder of each group, from the definitions alone */
			int holder[PR_MAXG];
			int64_t eligible_any = 0;
			for (int j = first[e]; j < first[e + 1]; j++) {
				int h = -1, neligible = 0;
				for (int i = 0; i < np; i++) {
					if (!pr_eligible(&progs[i], &g[j], day[j]))
						continue;
					neligible++;
					int32_t r = program_rate(&progs[i], g[j].category, g[j].cls, base_e[e].flags);
					if (h < 0 || pr_before(&progs[i], r, &progs[h],
							       program_rate(&progs[h], g[j].category, g[j].cls,
									    base_e[e].flags)))
						h = i;
				}
				holder[j - first[e]] = h;
				contested += neligible > 1;
				if (h >= 0)
					eligible_any += g[j].amount_fen;
			}
			int64_t paid = 0;
			for (int i = 0; i < np; i++) {
				const eng_line_t *l = &lines[i][e];
				const eng_enterprise_t *x = &ents[i][e];
				int n = first[e + 1] - first[e];
				cr_assert(l->eligible_ytd >= 0 && l->eligible_ytd < ((int64_t)1 << n),
					  "case %d %s ent %d: eligible_ytd %lld", cs, progs[i].id, e,
					  (long long)l->eligible_ytd);
				paid += l->entitlement_ytd;
				/* is the holder a small buyer here? (rule 3, its own groups) */
				const program_t *p = &progs[i];
				int64_t sb_ytd = 0;
				int sb_groups = 0;
				for (int j = 0; j < n; j++)
					if (holder[j] == i && p->has_small_buyer &&
					    p->small_buyer_categories[g[first[e] + j].category]) {
						sb_ytd += g[first[e] + j].amount_fen;
						sb_groups++;
					}
				bool small = !x->has_rate_override && p->has_small_buyer &&
					     (x->flags & (1u << p->small_buyer_flag)) && sb_groups > 0 &&
					     sb_ytd <= p->small_buyer_max_ytd_fen;
				for (int j = 0; j < n; j++) {
					const eng_group_t *gj = &g[first[e] + j];
					bool counted = (l->eligible_ytd >> j) & 1;
					int32_t rate = program_rate(p, gj->category, gj->cls, x->flags);
					if (x->has_rate_override)
						rate = x->override_rate_bp;
					else if (small && p->small_buyer_categories[gj->category])
						rate = p->small_buyer_rate_bp;
					bool want = holder[j] == i && rate > 0;
					checked++;
					override_held += want && x->has_rate_override;
					cr_assert_eq(counted, want,
						     "case %d, %s, enterprise %d, group %d (%s %c %s %s): counted %d, "
						     "holder %s, rate %d",
						     cs, p->id, e, j, category_name((category_t)gj->category), gj->cls,
						     gj->division, day[first[e] + j], counted,
						     holder[j] < 0 ? "none" : progs[holder[j]].id, (int)rate);
				}
			}
			/* over the whole group, never more than the purchases */
			cr_assert_leq(paid, eligible_any, "case %d enterprise %d: entitlements %lld on %lld", cs, e,
				      (long long)paid, (long long)eligible_any);
		}
	}
	cr_log_info("rule 7 property: %zu (programme, group) checks, %zu contested groups, %zu held with an override",
		    checked, contested, override_held);
	cr_expect_gt(contested, 1000);
	cr_expect_gt(override_held, 1000);
}

/* ---- refusals ------------------------------------------------------------ */

static bool try_settle(const eng_input_t *in, eng_line_t *l, char *err, size_t errlen)
{
	eng_totals_t t;
	return eng_settle(in, l, &t, err, errlen);
}

Test(unit_engine, overflow_refused)
{
	program_t p;
	prog_wuxi(&p, false);
	char err[256];
	eng_line_t l[2];

	/* two groups of INT64_MAX: the year's sum does not fit in int64 */
	eng_enterprise_t e1[] = {{.uscc = "91320214100000001X"}};
	eng_group_t g1[] = {GE(0, IC, 'A', "320214", INT64_MAX), GE(0, IC, 'B', "320214", INT64_MAX)};
	eng_input_t in = {.prog = &p, .ents = e1, .nents = 1, .groups = g1, .ngroups = 2};
	cr_expect_not(try_settle(&in, l, err, sizeof err));
	cr_expect(strstr(err, "overflow"), "%s", err);

	/* one group of INT64_MAX is fine (× 0.3, capped) ... */
	in.ngroups = 1;
	cr_expect(try_settle(&in, l, err, sizeof err), "%s", err);
	cr_expect_eq(l[0].payable, WAN(200));

	/* ... but a difference past INT64_MAX is not */
	e1[0].granted_before = INT64_MIN;
	cr_expect_not(try_settle(&in, l, err, sizeof err));
	cr_expect(strstr(err, "overflow"), "%s", err);

	/* two enterprises asking INT64_MAX each (override 10000 bp, cap
	 * INT64_MAX): the sum asked does not fit */
	p.has_pool = true;
	p.pool_fen = 1000;
	eng_enterprise_t e2[] = {
		{.uscc = "91320214100000001X",
		 .has_rate_override = true,
		 .override_rate_bp = 10000,
		 .has_cap_override = true,
		 .override_cap_fen = INT64_MAX},
		{.uscc = "91320214100000002X",
		 .has_rate_override = true,
		 .override_rate_bp = 10000,
		 .has_cap_override = true,
		 .override_cap_fen = INT64_MAX},
	};
	eng_group_t g2[] = {GE(0, IC, 'A', "320214", INT64_MAX), GE(1, IC, 'A', "320214", INT64_MAX)};
	eng_input_t in2 = {.prog = &p, .ents = e2, .nents = 2, .groups = g2, .ngroups = 2};
	cr_expect_not(try_settle(&in2, l, err, sizeof err));
	cr_expect(strstr(err, "overflow"), "%s", err);

	/* one of them alone: asks INT64_MAX, gets the pool's 1000 */
	in2.nents = 1;
	in2.ngroups = 1;
	cr_expect(try_settle(&in2, l, err, sizeof err), "%s", err);
	cr_expect_eq(l[0].difference, INT64_MAX);
	cr_expect_eq(l[0].payable, 1000);
}

Test(unit_engine, bad_input_refused)
{
	program_t p;
	prog_jiaxing(&p);
	char err[256];
	eng_line_t l[2];
	eng_enterprise_t e[] = {{.uscc = "91330402100000001X"}, {.uscc = "91330402100000002X"}};
	eng_group_t g[] = {JG(1, 10), JG(0, 10)};
	eng_input_t in = {.prog = &p, .ents = e, .nents = 2, .groups = g, .ngroups = 2};

	cr_expect_not(try_settle(&in, l, err, sizeof err), "unsorted groups");
	cr_expect(strstr(err, "sorted"), "%s", err);

	g[0].ent = 0;
	g[1].ent = 2;
	cr_expect_not(try_settle(&in, l, err, sizeof err), "enterprise out of range");

	g[1].ent = 1;
	cr_expect(try_settle(&in, l, err, sizeof err), "%s", err);

	strcpy(e[1].uscc, e[0].uscc);
	cr_expect_not(try_settle(&in, l, err, sizeof err), "the same USCC twice");
	strcpy(e[1].uscc, "91330402100000002X");

	g[1].category = CAT_COUNT;
	cr_expect_not(try_settle(&in, l, err, sizeof err), "category out of range");
	g[1].category = IC;

	e[0].has_rate_override = true;
	e[0].override_rate_bp = -1;
	cr_expect_not(try_settle(&in, l, err, sizeof err), "negative override rate");
	e[0].has_rate_override = false;

	program_t q;
	prog_jiaxing(&q);
	in.partners[0] = &q;
	in.npartners = 1;
	cr_expect_not(try_settle(&in, l, err, sizeof err), "a partner outside any exclusivity group");
	in.npartners = 0;

	in.prog = NULL;
	cr_expect_not(try_settle(&in, l, err, sizeof err), "no programme");
}

Test(unit_engine, status_names)
{
	cr_expect_str_eq(eng_status_name(ST_NONE), "none");
	cr_expect_str_eq(eng_status_name(ST_PAYABLE), "payable");
	cr_expect_str_eq(eng_status_name(ST_RECOVERY), "recovery");
	cr_expect_str_eq(eng_status_name(ST_WITHHELD), "withheld");
}

/* ---- scale ---------------------------------------------------------------- */

/* 100 000 enterprises × 10 groups under Hangzhou with a pool too small:
 * every line is scaled, the grants sum to exactly what is left, and each
 * share is floor(d × left / asked) or one more.  Linear time: a generous
 * bound (sanitizers on) that an O(n²) engine could not meet. */
Test(unit_engine, scale_100k_enterprises_1m_groups, .timeout = 60)
{
	const size_t ne = 100000, per = 10;
	program_t p;
	prog_hangzhou(&p);
	p.pool_fen = WAN(1000);
	eng_enterprise_t *e = calloc(ne, sizeof *e);
	eng_group_t *g = calloc(ne * per, sizeof *g);
	eng_line_t *l = calloc(ne, sizeof *l);
	cr_assert(e && g && l);
	for (size_t i = 0; i < ne; i++) {
		/* descending USCCs: the engine must not care */
		snprintf(e[i].uscc, sizeof e[i].uscc, "913301%011zuX", ne - i);
		e[i].flags = (i % 3 == 0) ? 1u << FLAG_SME : 0;
		for (size_t k = 0; k < per; k++) {
			eng_group_t *x = &g[i * per + k];
			x->ent = (uint32_t)i;
			x->category = (int)(k % 4);
			x->cls = (k & 1) ? 'B' : 'A';
			strcpy(x->division, k == 9 ? "330483" : "330106");
			x->in_dates = true;
			x->amount_fen = (int64_t)(1000003 * (k + 1) + i);
		}
	}
	eng_totals_t t;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	settle(&p, NULL, 0, e, ne, g, ne * per, 0, l, &t);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long ms = (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_log_info("eng_settle: %zu enterprises, %zu groups: %lld ms", ne, ne * per, ms);
	cr_expect_lt(ms, 10000, "took %lld ms", ms);

	cr_expect_gt(t.asked, WAN(1000));
	cr_expect_eq(t.payable, WAN(1000));
	int64_t sum = 0;
	for (size_t i = 0; i < ne; i++) {
		__int128 prod = (__int128)l[i].difference * WAN(1000);
		int64_t floor_share = (int64_t)(prod / t.asked);
		cr_assert(l[i].payable == floor_share || l[i].payable == floor_share + 1, "line %zu", i);
		cr_assert(l[i].pool_scaled);
		sum += l[i].payable;
	}
	cr_expect_eq(sum, WAN(1000));
	free(e);
	free(g);
	free(l);
}
