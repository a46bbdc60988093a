/* Table-driven tests of metering/division.c and its table (metering/gb2260.txt). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "metering/division.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct find_case {
	const char *code, *name, *full_name;
	division_level_t level;
	int abolished;
	const char *successor0, *successor1;
};

Test(unit_division, find)
{
	static const struct find_case cases[] = {
		{"330000", "浙江省", "浙江省", DIV_PROVINCE, 0, NULL, NULL},
		{"320000", "江苏省", "江苏省", DIV_PROVINCE, 0, NULL, NULL},
		{"650000", "新疆维吾尔自治区", "新疆维吾尔自治区", DIV_PROVINCE, 0, NULL, NULL},
		{"330100", "杭州市", "浙江省 杭州市", DIV_PREFECTURE, 0, NULL, NULL},
		{"110100", "市辖区", "北京市", DIV_PREFECTURE, 0, NULL, NULL},
		{"441900", "东莞市", "广东省 东莞市", DIV_PREFECTURE, 0, NULL, NULL},
		{"330106", "西湖区", "浙江省 杭州市 西湖区", DIV_COUNTY, 0, NULL, NULL},
		{"330102", "上城区", "浙江省 杭州市 上城区", DIV_COUNTY, 0, NULL, NULL},
		{"330105", "拱墅区", "浙江省 杭州市 拱墅区", DIV_COUNTY, 0, NULL, NULL},
		{"330110", "余杭区", "浙江省 杭州市 余杭区", DIV_COUNTY, 0, NULL, NULL},
		{"330113", "临平区", "浙江省 杭州市 临平区", DIV_COUNTY, 0, NULL, NULL},
		{"330114", "钱塘区", "浙江省 杭州市 钱塘区", DIV_COUNTY, 0, NULL, NULL},
		{"330402", "南湖区", "浙江省 嘉兴市 南湖区", DIV_COUNTY, 0, NULL, NULL},
		{"330411", "秀洲区", "浙江省 嘉兴市 秀洲区", DIV_COUNTY, 0, NULL, NULL},
		{"330483", "桐乡市", "浙江省 嘉兴市 桐乡市", DIV_COUNTY, 0, NULL, NULL},
		{"330383", "龙港市", "浙江省 温州市 龙港市", DIV_COUNTY, 0, NULL, NULL},
		{"331127", "景宁畲族自治县", "浙江省 丽水市 景宁畲族自治县", DIV_COUNTY, 0, NULL, NULL},
		{"320205", "锡山区", "江苏省 无锡市 锡山区", DIV_COUNTY, 0, NULL, NULL},
		{"320213", "梁溪区", "江苏省 无锡市 梁溪区", DIV_COUNTY, 0, NULL, NULL},
		{"320214", "新吴区", "江苏省 无锡市 新吴区", DIV_COUNTY, 0, NULL, NULL},
		{"320281", "江阴市", "江苏省 无锡市 江阴市", DIV_COUNTY, 0, NULL, NULL},
		{"320282", "宜兴市", "江苏省 无锡市 宜兴市", DIV_COUNTY, 0, NULL, NULL},
		{"320508", "姑苏区", "江苏省 苏州市 姑苏区", DIV_COUNTY, 0, NULL, NULL},
		{"330103", "下城区", "浙江省 杭州市 下城区", DIV_COUNTY, 2021, "330105", NULL},
		{"330104", "江干区", "浙江省 杭州市 江干区", DIV_COUNTY, 2021, "330102", "330114"},
		{"330185", "临安市", "浙江省 杭州市 临安市", DIV_COUNTY, 2017, "330112", NULL},
		{"330204", "江东区", "浙江省 宁波市 江东区", DIV_COUNTY, 2016, "330212", NULL},
		{"320202", "崇安区", "江苏省 无锡市 崇安区", DIV_COUNTY, 2015, "320213", NULL},
		{"320684", "海门市", "江苏省 南通市 海门市", DIV_COUNTY, 2020, "320614", NULL},
	};
	for (size_t i = 0; i < N(cases); i++) {
		const struct find_case *c = &cases[i];
		const division_t *d = division_find(c->code);
		cr_assert_not_null(d, "%s", c->code);
		cr_expect_str_eq(d->code, c->code);
		cr_expect_str_eq(d->name, c->name, "%s", c->code);
		cr_expect_str_eq(d->full_name, c->full_name, "%s", c->code);
		cr_expect_eq(d->level, c->level, "%s", c->code);
		cr_expect_eq(d->abolished, c->abolished, "%s", c->code);
		if (c->successor0)
			cr_expect_str_eq(d->successor[0], c->successor0, "%s", c->code);
		else
			cr_expect_null(d->successor[0], "%s", c->code);
		if (c->successor1)
			cr_expect_str_eq(d->successor[1], c->successor1, "%s", c->code);
		else if (c->successor0)
			cr_expect_null(d->successor[1], "%s", c->code);
	}
	static const char *const absent[] = {"330199",  "330107", "110105", "990000", "33010",
					     "3301060", "",       "abcdef", NULL};
	for (size_t i = 0; i < N(absent); i++)
		cr_expect_null(division_find(absent[i]), "%s", absent[i] ? absent[i] : "NULL");
}

/* The table is sorted (binary search) and every successor is a code in force. */
Test(unit_division, table_consistent)
{
	cr_assert_gt(division_count, 500);
	int provinces = 0;
	for (size_t i = 0; i < division_count; i++) {
		const division_t *d = &division_table[i];
		if (i)
			cr_expect_lt(strcmp(division_table[i - 1].code, d->code), 0, "%s", d->code);
		cr_expect_eq(division_find(d->code), d);
		if (d->level == DIV_PROVINCE)
			provinces++;
		cr_expect_eq(d->abolished != 0, d->successor[0] != NULL, "%s", d->code);
		for (int k = 0; d->successor[k]; k++) {
			const division_t *s = division_find(d->successor[k]);
			cr_expect(s && !s->abolished, "%s -> %s", d->code, d->successor[k]);
		}
	}
	cr_expect_eq(provinces, 34); /* 23 provinces (Taiwan included), 5 regions, 4 municipalities, 2 SARs */
	cr_expect(division_province_complete("330106"));
	cr_expect(division_province_complete("320214"));
	cr_expect(!division_province_complete("110105"));
}

struct check_case {
	const char *code;
	division_verdict_t verdict;
	const char *why; /* a part of the explanation, or NULL */
};

Test(unit_division, check)
{
	static const struct check_case cases[] = {
		{"330106", DIVISION_IN_FORCE, NULL},
		{"320214", DIVISION_IN_FORCE, NULL},
		{"330103", DIVISION_ABOLISHED,
		 "330103 下城区 was abolished in 2021 (merged into 330105 拱墅区); use 330105"},
		{"330104", DIVISION_ABOLISHED,
		 "330104 江干区 was abolished in 2021 (merged into 330102 上城区 and 330114 钱塘区); use 330102 or 330114"},
		{"320204", DIVISION_ABOLISHED, "use 320213"},
		{"330199", DIVISION_UNKNOWN, "浙江省 杭州市 has no county-level division 330199"},
		{"331299", DIVISION_UNKNOWN, "浙江省 has no prefecture-level division 331200"},
		{"320299", DIVISION_UNKNOWN, "江苏省 无锡市 has no county-level division 320299"},
		{"990101", DIVISION_UNKNOWN, "there is no province 990000"},
		{"110105", DIVISION_UNLISTED, NULL}, /* 北京市 朝阳区: 北京 not listed at county level */
		{"440305", DIVISION_UNLISTED, NULL}, /* 广东省 深圳市 南山区 */
		{"429004", DIVISION_UNLISTED, NULL}, /* 湖北省 省直辖 仙桃市 */
		{"440199", DIVISION_UNLISTED, NULL}, /* not checked below prefecture outside 32, 33 */
		{"441099", DIVISION_UNKNOWN, "广东省 has no prefecture-level division 441000"},
		{"110905", DIVISION_UNKNOWN, "北京市 has no prefecture-level division 110900"},
		{"371202", DIVISION_UNKNOWN, "its prefecture 371200 莱芜市 was abolished in 2019"},
		{"33010x", DIVISION_UNKNOWN, "not a six-digit"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char why[300];
		const division_t *d;
		division_verdict_t v = division_check(cases[i].code, &d, why, sizeof why);
		cr_expect_eq(v, cases[i].verdict, "%s: %d (%s)", cases[i].code, (int)v, why);
		if (cases[i].why)
			cr_expect_not_null(strstr(why, cases[i].why), "%s: %s", cases[i].code, why);
		if (v == DIVISION_IN_FORCE || v == DIVISION_ABOLISHED)
			cr_expect(d && !strcmp(d->code, cases[i].code));
	}
	/* a short buffer truncates, never overflows */
	char small[12];
	cr_expect_eq(division_check("330104", NULL, small, sizeof small), DIVISION_ABOLISHED);
	cr_expect_eq(strlen(small), sizeof small - 1);
}

Test(unit_division, label)
{
	char out[64];
	division_label("330106", out, sizeof out);
	cr_expect_str_eq(out, "330106 西湖区");
	division_label("330103", out, sizeof out);
	cr_expect_str_eq(out, "330103 下城区（已撤销）");
	division_label("110105", out, sizeof out);
	cr_expect_str_eq(out, "110105");
}
