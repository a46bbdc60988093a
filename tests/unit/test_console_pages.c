/* The pure pieces of the console's 资金概览, 一事一议 and 审计 pages: the bar
 * scaling and the SVG charts (console/chart.c), the rate and cap typed in the
 * override form, the pasted checkpoint, the exceptions' kinds, and the
 * Chinese of the override refusals as the database words them. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "console/chart.h"
#include "console/messages.h"
#include "console/pages.h"

Test(unit_console_pages, bar_scaling_is_integer_and_bounded)
{
	struct {
		int64_t value, max;
		int full, want;
	} cases[] = {
		{0, 100, 200, 0},
		{-5, 100, 200, 0},
		{5, 0, 200, 0},
		{5, -1, 200, 0},
		{5, 100, 0, 0},
		{50, 100, 200, 100},
		{99, 100, 200, 198},
		{100, 100, 200, 200},
		{150, 100, 200, 200},                        /* past the end: cut at it */
		{1, 1000000000000000000, 200, 1},            /* tiny but positive: one pixel */
		{199109, 200000, 200, 199},                  /* floor, not rounding */
		{INT64_MAX - 1, INT64_MAX, 200, 199},        /* value * full overflows 64 bits */
		{INT64_MAX / 2, INT64_MAX, 480, 239},        /* 128-bit product */
		{4611686018427387904, INT64_MAX, 1000, 500}, /* 2^62 of 2^63 - 1 */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_assert_eq(chart_scale(cases[i].value, cases[i].max, cases[i].full), cases[i].want,
			     "chart_scale(%lld, %lld, %d) = %d, want %d", (long long)cases[i].value,
			     (long long)cases[i].max, cases[i].full,
			     chart_scale(cases[i].value, cases[i].max, cases[i].full), cases[i].want);
}

Test(unit_console_pages, the_scale_ends_on_a_round_amount)
{
	struct {
		int64_t max, want;
	} cases[] = {
		{-1, 100},
		{0, 100},
		{1, 100},
		{100, 100},
		{101, 200},
		{200, 200},
		{201, 500},
		{501, 1000},
		{199109, 200000},
		{125105, 200000},
		{2500000000000, 5000000000000},
		{500000000000000001, 1000000000000000000},
		{1000000000000000001, 2000000000000000000},
		{5000000000000000000, 5000000000000000000},
		{5000000000000000001, 5000000000000000001}, /* nothing round fits in int64 above it */
		{INT64_MAX, INT64_MAX},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_assert_eq(chart_nice_max(cases[i].max), cases[i].want, "chart_nice_max(%lld) = %lld, want %lld",
			     (long long)cases[i].max, (long long)chart_nice_max(cases[i].max),
			     (long long)cases[i].want);
	/* quarters of every round end are whole fen: the axis labels are exact */
	int64_t p = 100;
	for (int e = 2; e <= 18; e++, p = e <= 18 ? p * 10 : p)
		for (int k = 1; k <= 5; k += (k == 1 ? 1 : 3))
			cr_assert_eq(chart_nice_max(p * k) % 4, 0, "%lld", (long long)(p * k));
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

Test(unit_console_pages, month_chart_is_inline_svg_without_style)
{
	const char *labels[3] = {"1月", "2月", "<b>3月</b>"};
	const char *names[3] = {"已批准补助", "已拨付", "追回"};
	/* granted 1,991.09 yuan in March: the end is 2,000 yuan, 200 pixels */
	int64_t v[9] = {0, 0, 0, 0, 0, 0, 199109, 100000, 1};
	buf_t b = BUF_INIT;
	chart_columns(&b, "chart-months", "按月", 3, labels, 3, names, v);
	const char *s = b.data;
	cr_assert(!strncmp(s, "<svg class=\"chart\" id=\"chart-months\"", 36), "%s", s);
	cr_assert_eq(count(s, "<svg"), 1);
	cr_assert_eq(count(s, "</svg>"), 1);
	cr_assert_null(strstr(s, "style="), "no style attribute (the CSP forbids it)");
	cr_assert_null(strstr(s, "<b>"), "labels are escaped");
	cr_assert(strstr(s, "&lt;b&gt;3月&lt;/b&gt;"));
	/* one bar per positive amount, each with its tooltip in yuan */
	cr_assert_eq(count(s, "<rect"), 3 + 3, "three legend squares and three bars:\n%s", s);
	cr_assert(
		strstr(s,
		       "height=\"199\" fill=\"#8c1c13\"><title>&lt;b&gt;3月&lt;/b&gt; 已批准补助：1,991.09 元</title>"),
		"%s", s);
	cr_assert(
		strstr(s, "height=\"100\" fill=\"#2e7d32\"><title>&lt;b&gt;3月&lt;/b&gt; 已拨付：1,000.00 元</title>"),
		"%s", s);
	cr_assert(strstr(s, "height=\"1\" fill=\"#d08a1a\"><title>&lt;b&gt;3月&lt;/b&gt; 追回：0.01 元</title>"), "%s",
		  s);
	/* the axis in yuan: 0, 500, 1,000, 1,500, 2,000 */
	cr_assert(strstr(s, ">0.00</text>") && strstr(s, ">500.00</text>") && strstr(s, ">2,000.00</text>"), "%s", s);
	buf_free(&b);
}

Test(unit_console_pages, district_chart_writes_each_amount)
{
	const char *labels[2] = {"南湖区", "秀洲区"};
	const char *names[3] = {"已批准补助", "已拨付", "追回"};
	int64_t v[6] = {900000000, 500000000, 0, 4000000000000, 0, 7};
	buf_t b = BUF_INIT;
	chart_hbars(&b, "chart-districts", "按区县", 2, labels, 3, names, v);
	const char *s = b.data;
	cr_assert_null(strstr(s, "style="));
	cr_assert_eq(count(s, "<rect"), 3 + 4, "%s", s);
	/* 40,000,000,000.00 yuan is the end (5e12 fen): 4e12 is 384 of 480 pixels */
	cr_assert(
		strstr(s, "width=\"384\" height=\"9\" fill=\"#8c1c13\"><title>秀洲区 已批准补助：40,000,000,000.00 元"),
		"%s", s);
	cr_assert(strstr(s, ">9,000,000.00</text>") && strstr(s, ">0.07</text>"), "%s", s);
	cr_assert(strstr(s, ">50,000,000,000.00</text>"), "the axis ends on a round amount:\n%s", s);
	buf_free(&b);
}

Test(unit_console_pages, overview_months_belong_to_the_year)
{
	cr_assert_eq(overview_month("2026-03", "2026"), 3);
	cr_assert_eq(overview_month("2026-12", "2026"), 12);
	cr_assert_eq(overview_month("2026-01", "2026"), 1);
	cr_assert_eq(overview_month("2025-03", "2026"), 0);
	cr_assert_eq(overview_month("2026-13", "2026"), 0);
	cr_assert_eq(overview_month("2026-00", "2026"), 0);
	cr_assert_eq(overview_month("2026-3", "2026"), 0);
	cr_assert_eq(overview_month(NULL, "2026"), 0);
}

Test(unit_console_pages, rates_typed_as_percent_become_basis_points)
{
	struct {
		const char *in;
		bool ok;
		int64_t bp;
	} cases[] = {
		{"60", true, 6000},
		{"60.5", true, 6050},
		{"60.25", true, 6025},
		{" 7.5% ", true, 750},
		{"0.01", true, 1},
		{"0", true, 0},
		{"100", true, 10000},
		{"150", true, 15000}, /* the database refuses */
		{"999999.99", true, 99999999},
		{"1000000", false, 0},
		{"60.255", false, 0},
		{"60.", false, 0},
		{".5", false, 0},
		{"-5", false, 0},
		{"6e1", false, 0},
		{"", false, 0},
		{"%", false, 0},
		{"60 %", true, 6000},
		{"6 0", false, 0},
		{"60%%", false, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t bp = -1;
		bool ok = override_parse_percent(cases[i].in, &bp);
		cr_assert_eq(ok, cases[i].ok, "\"%s\"", cases[i].in);
		if (ok)
			cr_assert_eq(bp, cases[i].bp, "\"%s\" -> %lld bp", cases[i].in, (long long)bp);
	}
	cr_assert_not(override_parse_percent(NULL, &(int64_t){0}));
}

Test(unit_console_pages, caps_typed_in_yuan_become_fen)
{
	struct {
		const char *in;
		bool ok;
		int64_t fen;
	} cases[] = {
		{"10000000", true, 1000000000},
		{"10,000,000", true, 1000000000},
		{" 5,000,000.50 ", true, 500000050},
		{"0.01", true, 1},
		{"0", true, 0},
		{"12.3", true, 1230},
		{"1,000", true, 100000},
		{"999,999.99", true, 99999999},
		{"1,0", false, 0}, /* commas only between groups of three */
		{"1234,567", false, 0},
		{"1,2345", false, 0},
		{"1.5,0", false, 0},
		{".5", false, 0},
		{"-1", false, 0},
		{"1.234", false, 0},
		{",100", false, 0},
		{"100,", false, 0},
		{"1,,000", false, 0},
		{"1.000,5", false, 0},
		{"1e6", false, 0},
		{"", false, 0},
		{"99999999999999999999", false, 0}, /* past int64 fen */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t fen = -1;
		bool ok = override_parse_yuan(cases[i].in, &fen);
		cr_assert_eq(ok, cases[i].ok, "\"%s\"", cases[i].in);
		if (ok)
			cr_assert_eq(fen, cases[i].fen, "\"%s\" -> %lld fen", cases[i].in, (long long)fen);
	}
}

Test(unit_console_pages, basis_points_shown_as_percent)
{
	struct {
		int64_t bp;
		const char *want;
	} cases[] = {{6000, "60%"}, {6050, "60.5%"}, {6025, "60.25%"}, {1, "0.01%"}, {10000, "100%"}, {0, "0%"}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[32];
		override_format_percent(cases[i].bp, out, sizeof out);
		cr_assert_str_eq(out, cases[i].want);
	}
}

Test(unit_console_pages, pasted_checkpoint_gets_the_file_bytes_back)
{
	struct {
		const char *in, *want;
	} cases[] = {
		{"voucherd-checkpoint v1\r\ntime 2026\r\nsignature AAA=\r\n",
		 "voucherd-checkpoint v1\ntime 2026\nsignature AAA=\n"},
		{"\r\n  voucherd-checkpoint v1\ntime 2026\nsignature AAA=",
		 "voucherd-checkpoint v1\ntime 2026\nsignature AAA=\n"},
		{"a\rb\n\n\n  \t", "a\nb\n"},
		{"a\n\nb\n", "a\n\nb\n"}, /* inside the text nothing changes: a changed file must fail */
		{"a  b\n", "a  b\n"},
		{"", ""},
		{" \r\n\t", ""},
	};
	buf_t b = BUF_INIT;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		audit_checkpoint_normalize(cases[i].in, &b);
		cr_assert_str_eq(b.data ? b.data : "", cases[i].want, "case %zu", i);
	}
	audit_checkpoint_normalize(NULL, &b);
	cr_assert_eq(b.len, 0);
	buf_free(&b);
}

Test(unit_console_pages, exception_kinds_in_chinese)
{
	cr_assert_str_eq(zh_exception_kind("superuser act"), "超级用户操作");
	cr_assert_str_eq(zh_exception_kind("draft returned"), "草稿被退回");
	cr_assert_str_eq(zh_exception_kind("override confirmed"), "一事一议确认");
	cr_assert_str_eq(zh_exception_kind("objection upheld"), "异议成立");
	cr_assert_str_eq(zh_exception_kind("unregistered usage"), "未登记企业的用量");
	cr_assert_str_eq(zh_exception_kind("something new"), "something new");
	cr_assert_str_eq(zh_exception_kind(NULL), "");
}

/* the refusals of voucher.override_propose / override_confirm, word for word
 * as PostgreSQL 15 sent them to the console (tried on a real stack) */
Test(unit_console_pages, override_refusals_in_chinese)
{
	struct {
		const char *pg, *zh;
	} cases[] = {
		{"ERROR:  override confirm: override 1 was proposed by prep: another finance user must confirm it\n",
		 "一事一议 1 由 prep 提出：须由另一名财务人员确认。"},
		{"ERROR:  override: 7000 bp is above programme wuxi-compute's ceiling of 6000 bp\n",
		 "补贴比例 7000 基点超过项目 wuxi-compute 规定的上限 6000 基点（100 基点 = 1%）。"},
		{"ERROR:  override: a cap of 20000000.00 yuan is above programme wuxi-compute's ceiling of 10000000 yuan\n",
		 "上限 20000000.00 元超过项目 wuxi-compute 规定的最高额 10000000 元。"},
		{"ERROR:  override: programme jiaxing-compute allows no rate overrides\n",
		 "项目 jiaxing-compute 不允许调整补贴比例。"},
		{"ERROR:  override: programme tongxiang-compute allows no cap overrides\n",
		 "项目 tongxiang-compute 不允许调整上限。"},
		{"ERROR:  override: programme hangzhou-compute only raises the cap above its 8000000 yuan; a cap of 100.00 "
		 "yuan is refused\n",
		 "项目 hangzhou-compute 只能将上限调高到 8000000 元以上；100.00 元不被接受。"},
		{"ERROR:  override: programme hangzhou-compute takes overrides only for enterprises flagged foundation_model, "
		 "and 913301081000000081 is not (in the registry version in force today)\n",
		 "项目 hangzhou-compute 只为登记为基础大模型企业（foundation_model）的企业一事一议，企业 913301081000000081 "
		 "在现行企业名录中没有该标记。"},
		{"ERROR:  override: programme ningbo is not loaded\n", "项目 ningbo 未加载。"},
		{"ERROR:  override propose: enterprise 913304831000000778 is not registered\n",
		 "企业 913304831000000778 未在企业名录中登记。"},
		{"ERROR:  new row for relation \"overrides\" violates check constraint \"overrides_rate_bp_check\"\n"
		 "DETAIL:  Failing row contains (3, wuxi-compute, ...).\n",
		 "补贴比例须在 0.01% 至 100% 之间（1 至 10000 基点）。"},
		{"ERROR:  new row for relation \"overrides\" violates check constraint \"overrides_ref_check\"\n",
		 "文件依据须为 1 至 300 个字符。"},
		{"ERROR:  override confirm: there is no override 99\n", "一事一议 99 不存在。"},
		{"ERROR:  override confirm: override 1 was confirmed at 2026-12-03 06:33:55.592431+00 by appr\n",
		 "一事一议 1 已于 2026-12-03 06:33:55.592431+00 由 appr 确认。"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_t b = BUF_INIT;
		msg_chinese(cases[i].pg, &b);
		cr_assert_str_eq(b.data, cases[i].zh);
		buf_free(&b);
	}
}
