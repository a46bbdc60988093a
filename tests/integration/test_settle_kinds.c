/* The other voucher kinds through voucherctl against a real database
 * (docs/policies.md "The other voucher kinds", rules 1, 9 and 10): each
 * programme loads, settles, exports and verifies; figures worked out by hand
 * in the comments (amounts in fen; run show prints yuan). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "tests/integration/settle_fixture.h"
#include "tests/integration/support.h"

TestSuite(settle_kinds, .fini = sf_teardown, .timeout = 180);

/* run show columns */
enum {
	C_RUN,
	C_PROG,
	C_PERIOD,
	C_USCC,
	C_NAME,
	C_DIV,
	C_ELIG,
	C_ENT,
	C_CAP,
	C_BEFORE,
	C_DIFF,
	C_PAY,
	C_STATUS,
	C_NOTE
};

/* the run show csv row of an enterprise, or "" */
static const char *line_of(long long run, const char *u)
{
	static char out[65536];
	char args[128], err[4096];
	snprintf(args, sizeof args, "--format csv run show %lld", run);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	const char *p = strstr(out, u);
	if (!p)
		return "";
	static char line[1024];
	while (p > out && p[-1] != '\n')
		p--;
	snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\r\n"), p);
	return line;
}

/* field i of it (no quoted commas in these rows) */
static const char *field(long long run, const char *u, int i)
{
	static char f[512];
	const char *line = line_of(run, u);
	for (int k = 0; k < i && *line; k++) {
		line = strchr(line, ',');
		line = line ? line + 1 : "";
	}
	snprintf(f, sizeof f, "%.*s", (int)strcspn(line, ","), line);
	return f;
}

static void copy(char out[19], const char *u)
{
	snprintf(out, 19, "%s", u);
}

/* exports the run as csv: its lines name the programme and its kind */
static void export_names_kind(long long run, const char *name, const char *kind)
{
	char path[256], args[512], out[4096], err[4096];
	snprintf(path, sizeof path, "%s/kinds-%lld-%d.csv",
		 getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp", run, (int)getpid());
	unlink(path);
	snprintf(args, sizeof args, "export %lld --format csv --out '%s'", run, path);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	char *text = t_slurp(path, NULL);
	char want[256];
	snprintf(want, sizeof want, "\r\n%lld,%s,%s,", run, name, kind);
	cr_assert(strstr(text, want), "want %s in\n%s", want, text);
	free(text);
	unlink(path);
}

/* audit verify as the auditor: every check passes, and runs approved runs
 * are recomputed (stacked ones with their partner's version in force) */
static void verify_passes(int runs)
{
	char out[16384], err[16384];
	int rc = sf_ctl("voucher_auditor", "audit verify", out, sizeof out, err, sizeof err);
	cr_assert_eq(rc, 0, "audit verify: %s\n%s", out, err);
	int n = 0;
	for (const char *p = strstr(err, "recomputed ("); p; p = strstr(p + 1, "recomputed ("))
		n++;
	cr_assert_eq(n, runs, "%d runs recomputed:\n%s\n%s", n, out, err);
}

/* the statement of an enterprise, as json */
static json_t *statement(const char *u, const char *program)
{
	static char out[262144];
	char args[256], err[4096];
	snprintf(args, sizeof args, "--format json statement --enterprise %s --year 2026 --program %s", u, program);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	json_error_t je;
	json_t *doc = json_loads(out, 0, &je);
	cr_assert(doc, "%s: %s", je.text, out);
	return doc;
}

static json_t *record_of(json_t *doc, const char *id)
{
	json_t *recs = json_object_get(doc, "records");
	for (size_t i = 0; i < json_array_size(recs); i++) {
		json_t *r = json_array_get(recs, i);
		if (!strcmp(json_string_value(json_object_get(r, "record_id")), id))
			return r;
	}
	cr_assert_fail("record %s is not in the statement", id);
	return NULL;
}

/* a record's line of the statement: counted, why not, the rate applied and
 * its subsidy (rate < 0: none), and the stacking partner's name and rate
 * (first NULL: not stacked) */
static void expect_record(json_t *doc, const char *id, bool counted, const char *note, long long rate,
			  long long subsidy, const char *first, long long first_rate)
{
	json_t *r = record_of(doc, id);
	char *dump = json_dumps(r, 0);
	cr_expect(json_is_true(json_object_get(r, "counted")) == counted, "%s", dump);
	cr_expect_str_eq(json_string_value(json_object_get(r, "note")), note, "%s", dump);
	if (rate < 0) {
		cr_expect(json_is_null(json_object_get(r, "rate_bp")), "%s", dump);
	} else {
		cr_expect_eq(json_integer_value(json_object_get(r, "rate_bp")), rate, "%s", dump);
		cr_expect_eq(json_integer_value(json_object_get(r, "subsidy")), subsidy, "%s", dump);
	}
	if (!first) {
		cr_expect(json_is_null(json_object_get(r, "first_program")), "%s", dump);
	} else {
		cr_expect_str_eq(json_string_value(json_object_get(r, "first_program")), first, "%s", dump);
		cr_expect_eq(json_integer_value(json_object_get(r, "first_rate_bp")), first_rate, "%s", dump);
	}
	free(dump);
}

static void expect_kind(json_t *doc, const char *kind)
{
	json_t *s = json_array_get(json_object_get(doc, "subtotals"), 0);
	char *dump = json_dumps(s, 0);
	cr_expect_str_eq(json_string_value(json_object_get(s, "voucher_kind")), kind, "%s", dump);
	cr_expect(json_is_true(json_object_get(s, "agrees")), "%s", dump);
	free(dump);
}

static void relate_seller(const char *u, const char *seller)
{
	const char *p[] = {u, seller};
	sf_sqlp("INSERT INTO voucher.related_sellers (uscc, seller) VALUES ($1, $2)", 2, p);
}

/* 语料券 and 数据券: only through a marketplace, never from a related seller.
 *   T (桐乡, 330483), tongxiang-corpus (3000 bp):
 *     r1 marketplace, corpus 1,000,000 from S1         → counts: 300,000
 *     r2 marketplace, corpus 500,000 from S2 (related) → nothing: 卖方为关联方
 *     r3 compute provider, corpus 200,000 from S1      → nothing: 非交易平台购买
 *     r4 marketplace, intelligent_compute 100,000     → not a corpus category
 *   so 10,000.00 yuan eligible, 3,000.00 paid.
 *   W (新吴, 320214), wuxi-data (3000 bp):
 *     r5 marketplace, dataset 2,000,000 from S1       → 600,000
 *     r6 compute provider, dataset 300,000 from S1    → nothing
 *   so 20,000.00 eligible, 6,000.00 paid. */
Test(settle_kinds, corpus_and_dataset_through_a_marketplace_not_from_a_related_seller)
{
	sf_setup();
	sf_provider("prov-m", "marketplace", "fm");
	char t[19], w[19], s1[19], s2[19];
	copy(t, sf_uscc("330483", 1));
	copy(w, sf_uscc("320214", 2));
	copy(s1, sf_uscc("330106", 901));
	copy(s2, sf_uscc("330106", 902));
	sf_enterprise(t, "330483", NULL);
	sf_enterprise(w, "320214", NULL);
	relate_seller(t, s2);
	sf_load_program(t_root_path("settlement/programs/tongxiang-corpus.conf"));
	sf_load_program(t_root_path("settlement/programs/wuxi-data.conf"));
	sf_record_seller("prov-m", t, "fm", "corpus", 1000000, "2026-03-10T10:00:00+08:00", s1);        /* r1 */
	sf_record_seller("prov-m", t, "fm", "corpus", 500000, "2026-03-11T10:00:00+08:00", s2);         /* r2 */
	sf_record_seller("prov-a", t, "fa", "corpus", 200000, "2026-03-12T10:00:00+08:00", s1);         /* r3 */
	sf_record("prov-m", t, "fm", "intelligent_compute", 100000, "2026-03-13T10:00:00+08:00", NULL); /* r4 */
	sf_record_seller("prov-m", w, "fm", "dataset", 2000000, "2026-03-14T10:00:00+08:00", s1);       /* r5 */
	sf_record_seller("prov-a", w, "fa", "dataset", 300000, "2026-03-15T10:00:00+08:00", s1);        /* r6 */

	long long corpus = sf_settle("alice", "tongxiang-corpus", "2026-03");
	cr_expect_str_eq(field(corpus, t, C_ELIG), "10000.00");
	cr_expect_str_eq(field(corpus, t, C_ENT), "3000.00");
	cr_expect_str_eq(field(corpus, t, C_CAP), "2000000.00");
	cr_expect_str_eq(field(corpus, t, C_PAY), "3000.00");
	cr_expect_str_eq(line_of(corpus, w), "", "Wuxi is not Tongxiang's");
	long long data = sf_settle("alice", "wuxi-data", "2026-03");
	cr_expect_str_eq(field(data, w, C_ELIG), "20000.00");
	cr_expect_str_eq(field(data, w, C_PAY), "6000.00");
	sf_approve("bob", corpus);
	sf_approve("bob", data);

	json_t *doc = statement(t, "tongxiang-corpus");
	expect_record(doc, "r1", true, "", 3000, 300000, NULL, 0);
	expect_record(doc, "r2", false, "卖方为关联方", -1, 0, NULL, 0);
	expect_record(doc, "r3", false, "非交易平台购买", -1, 0, NULL, 0);
	expect_record(doc, "r4", false, "类别不在补助范围", -1, 0, NULL, 0);
	cr_expect_str_eq(json_string_value(json_object_get(record_of(doc, "r1"), "seller")), s1);
	cr_expect(json_is_null(json_object_get(record_of(doc, "r4"), "seller")));
	expect_kind(doc, "语料券");
	json_decref(doc);
	doc = statement(w, "wuxi-data");
	expect_record(doc, "r5", true, "", 3000, 600000, NULL, 0);
	expect_record(doc, "r6", false, "非交易平台购买", -1, 0, NULL, 0);
	expect_kind(doc, "数据券");
	json_decref(doc);

	export_names_kind(corpus, "桐乡市语料券", "语料券");
	export_names_kind(data, "无锡市数据券", "数据券");
	verify_passes(2);
}

/* Recipients: Wuxi's 算力券 pays "企业、高校以及科研机构", Jiaxing's enterprises only.
 *   U1 (university, code 12, 新吴): 1,000,000 × 30% = 300,000 → 3,000.00
 *   I5 (research institute, code 52, 新吴), class B: 100,000 × 30% = 30,000 → 300.00
 *   U2 (university, 南湖) under Jiaxing: nothing, no line; E (enterprise, 南湖):
 *      100,000 × 50% = 50,000 → 500.00
 *   and Wuxi's 模型券: a model purchase of X (enterprise, 新吴) 1,000,000 × 30%
 *      → 3,000.00, which Wuxi's 算力券 does not pay. */
Test(settle_kinds, a_university_paid_by_wuxi_not_by_jiaxing)
{
	sf_setup();
	char u1[19], i5[19], u2[19], e[19], x[19];
	copy(u1, sf_code("12", "320214", 3));
	copy(i5, sf_code("52", "320214", 5));
	copy(u2, sf_code("12", "330402", 4));
	copy(e, sf_uscc("330402", 6));
	copy(x, sf_uscc("320214", 7));
	sf_enterprise(u1, "320214", "江南大学（测试）");
	sf_enterprise(i5, "320214", "无锡研究院（测试）");
	sf_enterprise(u2, "330402", "嘉兴大学（测试）");
	sf_enterprise(e, "330402", NULL);
	sf_enterprise(x, "320214", NULL);
	sf_load_program(t_root_path("settlement/programs/wuxi-compute.conf"));
	sf_load_program(t_root_path("settlement/programs/wuxi-model.conf"));
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", u1, "fa", "intelligent_compute", 1000000, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", i5, "fb", "intelligent_compute", 100000, "2026-03-10T11:00:00+08:00", NULL);
	sf_record("prov-a", u2, "fa", "intelligent_compute", 1000000, "2026-03-10T12:00:00+08:00", NULL);
	sf_record("prov-a", e, "fa", "intelligent_compute", 100000, "2026-03-10T13:00:00+08:00", NULL);
	sf_record("prov-a", x, "fa", "model_purchase", 1000000, "2026-03-10T14:00:00+08:00", NULL);

	long long wx = sf_settle("alice", "wuxi-compute", "2026-03");
	cr_expect_str_eq(field(wx, u1, C_PAY), "3000.00");
	cr_expect_str_eq(field(wx, i5, C_PAY), "300.00");
	cr_expect_str_eq(line_of(wx, x), "", "a model purchase is not compute");
	long long wm = sf_settle("alice", "wuxi-model", "2026-03");
	cr_expect_str_eq(field(wm, x, C_ELIG), "10000.00");
	cr_expect_str_eq(field(wm, x, C_PAY), "3000.00");
	long long jx = sf_settle("alice", "jiaxing-compute", "2026-03");
	cr_expect_str_eq(line_of(jx, u2), "", "Jiaxing pays enterprises only");
	cr_expect_str_eq(field(jx, e, C_PAY), "500.00");
	sf_approve("bob", wx);
	sf_approve("bob", wm);
	sf_approve("bob", jx);
	json_t *doc = statement(u1, "wuxi-compute");
	expect_record(doc, "r1", true, "", 3000, 300000, NULL, 0);
	expect_kind(doc, "算力券");
	json_decref(doc);
	export_names_kind(wx, "无锡市算力券", "算力券");
	export_names_kind(wm, "无锡市模型券", "模型券");
	export_names_kind(jx, "嘉兴市算力券", "算力券");
	verify_passes(3);
}

/* A model purchase under Tongxiang's model programme while the compute
 * programme pays nothing for it (the categories no longer overlap):
 *   T: model_purchase 1,000,000 → tongxiang-model 300,000 (3,000.00);
 *      intelligent_compute 100,000 → tongxiang-compute 50,000 (500.00), whose
 *      eligible amount is that record alone (1,000.00). */
Test(settle_kinds, a_model_purchase_under_tongxiangs_model_programme)
{
	sf_setup();
	char t[19];
	copy(t, sf_uscc("330483", 8));
	sf_enterprise(t, "330483", NULL);
	sf_load_program(t_root_path("settlement/programs/tongxiang-compute.conf"));
	sf_load_program(t_root_path("settlement/programs/tongxiang-model.conf"));
	sf_load_program(t_root_path("settlement/programs/tongxiang-corpus.conf"));
	sf_record("prov-a", t, "fa", "model_purchase", 1000000, "2026-03-10T10:00:00+08:00", NULL);     /* r1 */
	sf_record("prov-a", t, "fa", "intelligent_compute", 100000, "2026-03-11T10:00:00+08:00", NULL); /* r2 */
	long long m = sf_settle("alice", "tongxiang-model", "2026-03");
	cr_expect_str_eq(field(m, t, C_ELIG), "10000.00");
	cr_expect_str_eq(field(m, t, C_PAY), "3000.00");
	cr_expect_str_eq(field(m, t, C_NOTE), "", "nothing was taken by a partner");
	long long c = sf_settle("alice", "tongxiang-compute", "2026-03");
	cr_expect_str_eq(field(c, t, C_ELIG), "1000.00");
	cr_expect_str_eq(field(c, t, C_PAY), "500.00");
	sf_approve("bob", m);
	sf_approve("bob", c);
	json_t *doc = statement(t, "tongxiang-compute");
	expect_record(doc, "r1", false, "类别不在补助范围", -1, 0, NULL, 0);
	expect_record(doc, "r2", true, "", 5000, 50000, NULL, 0);
	json_decref(doc);
	doc = statement(t, "tongxiang-model");
	expect_record(doc, "r1", true, "", 3000, 300000, NULL, 0);
	expect_kind(doc, "模型券");
	json_decref(doc);
	export_names_kind(m, "桐乡市模型购买资助", "模型券");
	export_names_kind(c, "桐乡市算力券", "算力券");
	verify_passes(2);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* hangzhou-intelligent.conf with its class-A rate or its ceiling changed */
static void variant(const char *path, const char *from, const char *to)
{
	char *text = t_slurp(t_root_path("settlement/programs/hangzhou-intelligent.conf"), NULL);
	char *at = strstr(text, from);
	cr_assert(at, "%s", from);
	buf_t b = BUF_INIT;
	buf_printf(&b, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	write_file(path, b.data);
	buf_free(&b);
	free(text);
}

/* Hangzhou: the 智能券 and the 算力券 stack (rule 9, ceiling A 60%, B 30%), and
 * 免审配套 (rule 10).  Per record of 100,000 fen:
 *   A1 (sme, small buyer), class A: 智能券 3000 → 30,000; 算力券 min(5000, 6000 − 3000)
 *      = 3000 → 30,000 (60% together)
 *   B2, class B: 智能券 1000 → 10,000; 算力券 min(2000, 3000 − 1000) = 2000 → 20,000
 *   M3 (intelligent_match), class A: 智能券 30,000; 算力券 1500 → 15,000; and its
 *      model_service record, which the 智能券 does not list: 3000 → 30,000
 *   U4 (university), class A: 智能券 30,000; the 算力券 pays enterprises only.
 * Then a new 智能券 version at class A 2000: April's 算力券 run gives A1
 * min(5000, 6000 − 2000) = 4000 → 40,000 for the year, 10,000 more; the March
 * runs still verify with the versions they used.  A 智能券 version with
 * another ceiling is refused by the 算力券's settlement. */
Test(settle_kinds, hangzhou_stacked_and_matched)
{
	sf_setup();
	char a1[19], b2[19], m3[19], u4[19];
	copy(a1, sf_uscc("330106", 11));
	copy(b2, sf_uscc("330106", 12));
	copy(m3, sf_uscc("330108", 13));
	copy(u4, sf_code("12", "330106", 14));
	sf_enterprise(a1, "330106", NULL);
	sf_flag(a1, "sme");
	sf_enterprise(b2, "330106", NULL);
	sf_enterprise(m3, "330108", NULL);
	sf_flag(m3, "intelligent_match");
	sf_enterprise(u4, "330106", "浙江大学（测试）");
	sf_load_program(t_root_path("settlement/programs/hangzhou-intelligent.conf"));
	sf_load_program(t_root_path("settlement/programs/hangzhou-compute.conf"));
	sf_record("prov-a", a1, "fa", "intelligent_compute", 100000, "2026-03-10T10:00:00+08:00", NULL); /* r1 */
	sf_record("prov-a", b2, "fb", "intelligent_compute", 100000, "2026-03-10T11:00:00+08:00", NULL); /* r2 */
	sf_record("prov-a", m3, "fa", "intelligent_compute", 100000, "2026-03-10T12:00:00+08:00", NULL); /* r3 */
	sf_record("prov-a", m3, "fa", "model_service", 100000, "2026-03-10T13:00:00+08:00", NULL);       /* r4 */
	sf_record("prov-a", u4, "fa", "intelligent_compute", 100000, "2026-03-10T14:00:00+08:00", NULL); /* r5 */

	long long zn = sf_settle("alice", "hangzhou-intelligent", "2026-03");
	cr_expect_str_eq(field(zn, a1, C_PAY), "300.00");
	cr_expect_str_eq(field(zn, b2, C_PAY), "100.00");
	cr_expect_str_eq(field(zn, m3, C_ELIG), "1000.00", "model_service is not the 智能券's");
	cr_expect_str_eq(field(zn, m3, C_PAY), "300.00");
	cr_expect_str_eq(field(zn, u4, C_PAY), "300.00");
	long long sl = sf_settle("alice", "hangzhou-compute", "2026-03");
	cr_expect_str_eq(field(sl, a1, C_PAY), "300.00");
	cr_expect(strstr(field(sl, a1, C_NOTE), "叠加补贴：与 杭州市智能券 叠加"), "%s", field(sl, a1, C_NOTE));
	cr_expect_str_eq(field(sl, b2, C_PAY), "200.00");
	cr_expect_str_eq(field(sl, m3, C_ELIG), "2000.00");
	cr_expect_str_eq(field(sl, m3, C_PAY), "450.00");
	cr_expect(strstr(field(sl, m3, C_NOTE), "免审配套：与 杭州市智能券 叠加"), "%s", field(sl, m3, C_NOTE));
	cr_expect_str_eq(line_of(sl, u4), "", "the 算力券 pays enterprises only");
	sf_approve("bob", zn);
	sf_approve("bob", sl);

	/* the statement shows both rates of a stacked record */
	json_t *doc = statement(a1, "hangzhou-compute");
	expect_record(doc, "r1", true, "", 3000, 30000, "杭州市智能券", 3000);
	json_decref(doc);
	doc = statement(m3, "hangzhou-compute");
	expect_record(doc, "r3", true, "", 1500, 15000, "杭州市智能券", 3000);
	expect_record(doc, "r4", true, "", 3000, 30000, NULL, 0);
	expect_kind(doc, "算力券");
	json_decref(doc);
	doc = statement(b2, "hangzhou-intelligent");
	expect_record(doc, "r2", true, "", 1000, 10000, NULL, 0);
	expect_kind(doc, "智能券");
	json_decref(doc);
	export_names_kind(zn, "杭州市智能券", "智能券");
	export_names_kind(sl, "杭州算力券", "算力券");
	verify_passes(2);

	/* a new 智能券 version: class A 2000 (the same ceiling) */
	char path[512];
	snprintf(path, sizeof path, "%s/hzi-%d.conf", getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp",
		 (int)getpid());
	variant(path, "rate = 3000 class=A", "rate = 2000 class=A");
	sf_load_program(path);
	sf_record("prov-a", a1, "fa", "intelligent_compute", 1, "2026-04-10T10:00:00+08:00", NULL); /* r6 */
	verify_passes(2); /* the March runs, with the versions in force at their cut-off */
	long long apr = sf_settle("alice", "hangzhou-compute", "2026-04");
	/* A1: 100,001 fen at min(5000, 6000 − 2000) = 4000: floor(40,000.4) = 40,000; granted 30,000 */
	cr_expect_str_eq(field(apr, a1, C_ENT), "400.00");
	cr_expect_str_eq(field(apr, a1, C_BEFORE), "300.00");
	cr_expect_str_eq(field(apr, a1, C_PAY), "100.00");
	sf_approve("bob", apr);
	verify_passes(3);

	/* a 智能券 version with another ceiling: the 算力券 refuses to settle */
	variant(path, "ceiling = A:6000, B:3000", "ceiling = A:5000, B:3000");
	sf_load_program(path);
	unlink(path);
	char out[4096], err[4096];
	int rc =
		sf_ctl("alice", "settle --program hangzhou-compute --period 2026-04", out, sizeof out, err, sizeof err);
	cr_expect_neq(rc, 0, "%s", out);
	cr_expect(strstr(err, "stacking group hangzhou-ai: hangzhou-compute states the ceiling A:6000, B:3000 but "
			      "hangzhou-intelligent A:5000, B:3000"),
		  "%s", err);
}

/* Another city's ceiling is a pair of files (tests/unit/fixtures/ningbo-*: A
 * 50%, B 25%), settled end to end.  Per 100,000 fen:
 *   N1 class A: 智能券 2000 → 20,000; 算力券 min(4000, 5000 − 2000) = 3000 → 30,000
 *   N2 class B: 智能券 1000 → 10,000; 算力券 min(3000, 2500 − 1000) = 1500 → 15,000 */
Test(settle_kinds, another_ceiling_is_a_pair_of_files)
{
	sf_setup();
	char n1[19], n2[19];
	copy(n1, sf_uscc("330203", 21));
	copy(n2, sf_uscc("330203", 22));
	sf_enterprise(n1, "330203", NULL);
	sf_enterprise(n2, "330203", NULL);
	sf_load_program(t_root_path("tests/unit/fixtures/ningbo-intelligent.conf"));
	sf_load_program(t_root_path("tests/unit/fixtures/ningbo-compute.conf"));
	sf_record("prov-a", n1, "fa", "intelligent_compute", 100000, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", n2, "fb", "intelligent_compute", 100000, "2026-03-10T11:00:00+08:00", NULL);
	long long i = sf_settle("alice", "ningbo-intelligent", "2026-03");
	long long c = sf_settle("alice", "ningbo-compute", "2026-03");
	cr_expect_str_eq(field(i, n1, C_PAY), "200.00");
	cr_expect_str_eq(field(c, n1, C_PAY), "300.00");
	cr_expect_str_eq(field(i, n2, C_PAY), "100.00");
	cr_expect_str_eq(field(c, n2, C_PAY), "150.00");
	sf_approve("bob", i);
	sf_approve("bob", c);
	verify_passes(2);
}
