/* settlement/statement.c's pure pieces: the reasons in Chinese, the records'
 * shares of a rate group's subsidy, and settlement/engine.c's eng_group_why,
 * which says why a record counts or not as eng_settle decides it. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "settlement/engine.h"
#include "settlement/statement.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(unit_statement, reasons_in_chinese)
{
	static const struct {
		st_why_t why;
		const char *detail, *want;
	} cases[] = {
		{ST_WHY_COUNTS, NULL, ""},
		{ST_WHY_CATEGORY, NULL, "类别不在补助范围"},
		{ST_WHY_DATES, NULL, "不在项目有效期内"},
		{ST_WHY_JURISDICTION, "330411", "不在本项目辖区（当日登记区划 330411）"},
		{ST_WHY_JURISDICTION, NULL, "不在本项目辖区（当日未登记）"},
		{ST_WHY_RELATED, NULL, "关联方交易"},
		{ST_WHY_FACILITY, NULL, "算力设施未登记"},
		{ST_WHY_PARTNER, "桐乡市模型服务资助", "已计入 桐乡市模型服务资助（就高不重复）"},
		{ST_WHY_PARTNER, NULL, "已计入 同组其他项目（就高不重复）"},
		{ST_WHY_NO_RATE, NULL, "无适用的补助比例"},
		{ST_WHY_WITHHELD, "blacklisted", "暂缓（失信）"},
		{ST_WHY_WITHHELD, NULL, "暂缓（失信）"},
		{ST_WHY_WITHHELD, "grade_d", "暂缓（绩效评价 D 类）"},
		{ST_WHY_WITHHELD, "blacklisted grade_d", "暂缓（失信；绩效评价 D 类）"},
		/* issue 14: recipients, marketplaces, related sellers */
		{ST_WHY_RECIPIENT, "enterprise", "领取对象不符（仅限企业）"},
		{ST_WHY_RECIPIENT, NULL, "领取对象不符（仅限企业）"},
		{ST_WHY_RECIPIENT, "enterprise,institution", "领取对象不符（仅限企业、高校及科研机构）"},
		{ST_WHY_RECIPIENT, "institution", "领取对象不符（仅限高校及科研机构）"},
		{ST_WHY_MARKETPLACE, NULL, "非交易平台购买"},
		{ST_WHY_SELLER, NULL, "卖方为关联方"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[200];
		statement_why_zh(cases[i].why, cases[i].detail, out, sizeof out);
		cr_expect_str_eq(out, cases[i].want, "case %zu", i);
	}
	/* a short buffer is cut, never overrun */
	char small[8];
	statement_why_zh(ST_WHY_CATEGORY, NULL, small, sizeof small);
	cr_expect_lt(strlen(small), sizeof small);
}

/* The shares of each rate add up to floor(Σ amount × rate / 10000), the
 * leftover fen one each to the largest remainders, ties to the earlier. */
Test(unit_statement, shares_add_up_per_rate)
{
	/* 3 × 3 fen at 50%: 1.5 each, floor 1 each, 4.5 -> 4: the first gets the
	 * leftover fen; at 30%: 0.9, 0.3, 0.6 -> floor(1.8) = 1 to the 0.9;
	 * rate 0 gets nothing */
	int64_t amount[] = {3, 3, 3, 3, 1, 2, 1000};
	int32_t rate[] = {5000, 5000, 5000, 3000, 3000, 3000, 0};
	int64_t share[N(amount)];
	cr_assert(statement_shares(N(amount), amount, rate, share));
	int64_t want[] = {2, 1, 1, 1, 0, 0, 0};
	for (size_t i = 0; i < N(want); i++)
		cr_expect_eq(share[i], want[i], "share %zu: %lld", i, (long long)share[i]);
	/* seven records of 1 fen at 15%: 0.15 each, floor(1.05) = 1 fen in all */
	int64_t a2[] = {1, 1, 1, 1, 1, 1, 1};
	int32_t r2[] = {1500, 1500, 1500, 1500, 1500, 1500, 1500};
	int64_t s2[N(a2)];
	cr_assert(statement_shares(N(a2), a2, r2, s2));
	int64_t sum = 0;
	for (size_t i = 0; i < N(a2); i++)
		sum += s2[i];
	cr_expect_eq(sum, 1);
	cr_expect_eq(s2[0], 1);
}

/* Adjustments are negative: each share rounds down (floor), and the shares
 * still add up to the group's floor: floor((1001 - 1) × 50%) = 500. */
Test(unit_statement, shares_with_negative_amounts)
{
	int64_t amount[] = {1001, -1};
	int32_t rate[] = {5000, 5000};
	int64_t share[2];
	cr_assert(statement_shares(2, amount, rate, share));
	/* 500.5 -> 500 and -0.5 -> -1 (remainders 0.5 each), Σ 499; the
	 * leftover fen to the earlier */
	cr_expect_eq(share[0], 501);
	cr_expect_eq(share[1], -1);
}

Test(unit_statement, shares_overflow_refused)
{
	/* a share beyond 64 bits is refused, not wrapped */
	int64_t big[] = {INT64_MAX};
	int32_t full[] = {20000};
	int64_t s[1];
	cr_expect(!statement_shares(1, big, full, s));
	cr_expect(statement_shares(0, NULL, NULL, NULL));
}

/* ---- eng_group_why: rules 1 and 7 as eng_settle applies them ---- */

static void prog(program_t *p, const char *id, const char *from, int order)
{
	memset(p, 0, sizeof *p);
	p->recipients[RECIPIENT_ENTERPRISE] = true; /* as the parser's default */
	p->match_flag = -1;
	snprintf(p->id, sizeof p->id, "%s", id);
	snprintf(p->name, sizeof p->name, "%s 项目", id);
	snprintf(p->valid_from, sizeof p->valid_from, "%s", from);
	snprintf(p->exclusivity_group, sizeof p->exclusivity_group, "g");
	p->exclusivity_order = order;
	snprintf(p->divisions[p->ndivisions++], 7, "330402");
	p->categories[CAT_INTELLIGENT_COMPUTE] = true;
}

static eng_group_t group(char cls, const char *div, bool in_dates, bool related, int cat, uint32_t partner_dates)
{
	eng_group_t g;
	memset(&g, 0, sizeof g);
	g.category = cat;
	g.cls = cls;
	snprintf(g.division, sizeof g.division, "%s", div);
	g.in_dates = in_dates;
	g.related = related;
	g.partner_in_dates = partner_dates;
	g.amount_fen = 100;
	return g;
}

Test(unit_statement, group_why_rule1_then_rule7)
{
	program_t a, b;
	prog(&a, "a", "2026-01-01", 1);
	prog(&b, "b", "2026-01-01", 2);
	a.rates[a.nrates++] = (rate_rule_t){.rate_bp = 5000, .category = -1, .cls = 'A', .flag = -1};
	b.rates[b.nrates++] = (rate_rule_t){.rate_bp = 6000, .category = -1, .cls = 'B', .flag = -1};
	b.rates[b.nrates++] = (rate_rule_t){.rate_bp = 1000, .category = -1, .cls = 0, .flag = -1};
	eng_enterprise_t e;
	memset(&e, 0, sizeof e);
	snprintf(e.uscc, sizeof e.uscc, "91330402000000301X");
	eng_input_t in;
	memset(&in, 0, sizeof in);
	in.prog = &a;
	in.partners[0] = &b;
	in.npartners = 1;
	in.ents = &e;
	in.nents = 1;
	static const struct {
		char cls;
		const char *div;
		bool in_dates, related;
		int cat;
		uint32_t pd;
		eng_why_t want;
		int partner;
		int32_t rate;
	} cases[] = {
		{'A', "330402", true, false, CAT_INTELLIGENT_COMPUTE, 1, ENG_WHY_COUNTS, -1, 5000},
		{'A', "330402", true, false, CAT_GENERAL_COMPUTE, 1, ENG_WHY_CATEGORY, -1, 0},
		{'A', "330402", false, false, CAT_INTELLIGENT_COMPUTE, 1, ENG_WHY_DATES, -1, 0},
		{'A', "330411", true, false, CAT_INTELLIGENT_COMPUTE, 1, ENG_WHY_JURISDICTION, -1, 0},
		{'A', "", true, false, CAT_INTELLIGENT_COMPUTE, 1, ENG_WHY_JURISDICTION, -1, 0},
		{'A', "330402", true, true, CAT_INTELLIGENT_COMPUTE, 1, ENG_WHY_RELATED, -1, 0},
		{0, "330402", true, false, CAT_INTELLIGENT_COMPUTE, 1, ENG_WHY_FACILITY, -1, 0},
		/* class B: a's rate 0, b's 6000: b takes it */
		{'B', "330402", true, false, CAT_INTELLIGENT_COMPUTE, 1, ENG_WHY_PARTNER, 0, 0},
		/* not in b's dates: a keeps it (at a's rate 0 for class B) */
		{'B', "330402", true, false, CAT_INTELLIGENT_COMPUTE, 0, ENG_WHY_COUNTS, -1, 0},
		/* the first failing condition is named: category before dates */
		{0, "330411", false, true, CAT_CORPUS, 1, ENG_WHY_CATEGORY, -1, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		eng_group_t g = group(cases[i].cls, cases[i].div, cases[i].in_dates, cases[i].related, cases[i].cat,
				      cases[i].pd);
		int partner = 99;
		int32_t rate = 99;
		cr_expect_eq(eng_group_why(&in, &e, &g, &partner, &rate), cases[i].want, "case %zu", i);
		cr_expect_eq(partner, cases[i].partner, "case %zu: partner %d", i, partner);
		cr_expect_eq(rate, cases[i].rate, "case %zu: rate %d", i, rate);
	}
}

/* eng_group_why agrees with eng_settle: the groups it says count (at a rate
 * above 0) are exactly those in the line's eligible amount. */
Test(unit_statement, group_why_agrees_with_settle)
{
	program_t a, b;
	prog(&a, "a", "2026-01-01", 1);
	prog(&b, "b", "2026-01-01", 2);
	a.categories[CAT_SUPERCOMPUTING] = true;
	a.rates[a.nrates++] = (rate_rule_t){.rate_bp = 5000, .category = CAT_INTELLIGENT_COMPUTE, .cls = 0, .flag = -1};
	b.rates[b.nrates++] = (rate_rule_t){.rate_bp = 6000, .category = -1, .cls = 'B', .flag = -1};
	eng_enterprise_t e;
	memset(&e, 0, sizeof e);
	snprintf(e.uscc, sizeof e.uscc, "91330402000000301X");
	eng_group_t g[] = {
		group('A', "330402", true, false, CAT_INTELLIGENT_COMPUTE, 1), /* counts, 5000 */
		group('B', "330402", true, false, CAT_INTELLIGENT_COMPUTE, 1), /* b takes it */
		group('A', "330402", true, false, CAT_SUPERCOMPUTING, 1),      /* rate 0 */
		group('A', "330402", true, true, CAT_INTELLIGENT_COMPUTE, 1),  /* related */
		group('A', "330411", true, false, CAT_INTELLIGENT_COMPUTE, 1), /* jurisdiction */
		group('A', "330402", true, false, CAT_INTELLIGENT_COMPUTE, 1), /* counts, 5000 */
	};
	g[5].amount_fen = 33;
	eng_input_t in;
	memset(&in, 0, sizeof in);
	in.prog = &a;
	in.partners[0] = &b;
	in.npartners = 1;
	in.ents = &e;
	in.nents = 1;
	in.groups = g;
	in.ngroups = N(g);
	eng_line_t line;
	eng_totals_t tot;
	char err[200];
	cr_assert(eng_settle(&in, &line, &tot, err, sizeof err), "%s", err);
	int64_t eligible = 0, amounts[N(g)], share[N(g)];
	int32_t rates[N(g)];
	for (size_t i = 0; i < N(g); i++) {
		int partner;
		int32_t rate;
		eng_why_t why = eng_group_why(&in, &e, &g[i], &partner, &rate);
		rates[i] = why == ENG_WHY_COUNTS ? rate : 0;
		amounts[i] = g[i].amount_fen;
		if (rates[i])
			eligible += g[i].amount_fen;
	}
	cr_expect_eq(eligible, line.eligible_ytd);
	cr_expect_eq(eligible, 133);
	cr_assert(statement_shares(N(g), amounts, rates, share));
	int64_t sum = 0;
	for (size_t i = 0; i < N(g); i++)
		sum += share[i];
	cr_expect_eq(sum, line.entitlement_ytd); /* floor(133 × 50%) = 66 */
	cr_expect_eq(sum, 66);
}
