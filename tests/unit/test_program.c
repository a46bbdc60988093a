/* Programme files: every shipped programme parses to exactly the rules of
 * docs/policies.md, a fifth city is only a file, and every malformed file is
 * refused with its line and key.
 *
 * Files are read relative to the repository root: $VOUCHER_TEST_ROOT if set,
 * else the current directory. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settlement/program.h"

#define YUAN(y) ((int64_t)(y)*100)
#define F(flag) (1u << (flag))

static const char *root(void)
{
	const char *r = getenv("VOUCHER_TEST_ROOT");
	return r && *r ? r : ".";
}

/* Reads a file into a buffer of exactly its size, without a terminating NUL,
 * so that a parser reading past len trips AddressSanitizer.  Caller frees. */
static char *slurp(const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", root(), rel);
	FILE *f = fopen(path, "rb");
	cr_assert(f, "cannot open %s (run from the repository root or set VOUCHER_TEST_ROOT)", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	cr_assert(n > 0, "%s is empty", path);
	rewind(f);
	char *buf = malloc((size_t)n);
	cr_assert(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static program_t load(const char *rel)
{
	size_t len;
	char *text = slurp(rel, &len);
	program_t p;
	char err[512] = "";
	bool ok = program_parse(text, len, &p, err, sizeof err);
	free(text);
	cr_assert(ok, "%s: %s", rel, err);
	return p;
}

static program_t load_shipped(const char *id)
{
	char rel[256];
	snprintf(rel, sizeof rel, "settlement/programs/%s.conf", id);
	program_t p = load(rel);
	cr_assert_str_eq(p.id, id);
	return p;
}

/* Parses text (NUL-terminated, parsed without its NUL). */
static bool parse(const char *text, program_t *p, char *err, size_t errlen)
{
	size_t n = strlen(text);
	char *copy = malloc(n ? n : 1);
	cr_assert(copy);
	memcpy(copy, text, n);
	bool ok = program_parse(copy, n, p, err, errlen);
	free(copy);
	return ok;
}

/* The divisions as one string "a,b,c" (prefixes as stored: four digits). */
static void join_divisions(char list[][7], int n, char *out, size_t outlen)
{
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		strncat(out, list[i], outlen - strlen(out) - 1);
		if (i + 1 < n)
			strncat(out, ",", outlen - strlen(out) - 1);
	}
}

static void assert_categories(const program_t *p, const bool want[CAT_COUNT])
{
	for (int c = 0; c < CAT_COUNT; c++)
		cr_assert_eq(p->categories[c], want[c], "%s: category %s", p->id, category_name((category_t)c));
}

/* who the programme pays, and its kind (docs/policies.md rule 1, "Terms") */
static void assert_kind(const program_t *p, voucher_kind_t kind, bool enterprise, bool institution)
{
	cr_assert_eq(p->kind, (int)kind, "%s: kind %s", p->id, voucher_kind_name((voucher_kind_t)p->kind));
	cr_assert_eq(p->recipients[RECIPIENT_ENTERPRISE], enterprise, "%s: enterprises", p->id);
	cr_assert_eq(p->recipients[RECIPIENT_INSTITUTION], institution, "%s: institutions", p->id);
}

/* ---- the four compute-voucher programmes (docs/policies.md table) ---- */

Test(unit_program_shipped, jiaxing_compute)
{
	program_t p = load_shipped("jiaxing-compute");
	assert_kind(&p, KIND_COMPUTE, true, false);
	cr_assert_str_eq(p.stacking_group, "");
	cr_assert_str_eq(p.valid_from, "2025-05-13");
	cr_assert_str_eq(p.valid_to, "2027-12-31");
	cr_assert(!p.payee_provider);
	cr_assert(p.has_pool);
	cr_assert_eq(p.pool_fen, YUAN(100000000)); /* 1亿 */
	cr_assert_str_eq(p.exclusivity_group, "");

	char d[512];
	join_divisions(p.divisions, p.ndivisions, d, sizeof d);
	cr_assert_str_eq(d, "330402,330411");
	cr_assert_eq(p.noptional, 0);
	cr_assert(program_in_jurisdiction(&p, "330402"));
	cr_assert(program_in_jurisdiction(&p, "330411"));
	cr_assert(!program_in_jurisdiction(&p, "330483"), "Tongxiang is under tongxiang-compute");
	cr_assert(!program_in_jurisdiction(&p, "330421"));

	cr_assert(!program_in_dates(&p, "2025-05-12"));
	cr_assert(program_in_dates(&p, "2025-05-13"));
	cr_assert(program_in_dates(&p, "2027-12-31"));
	cr_assert(!program_in_dates(&p, "2028-01-01"));

	assert_categories(&p, (bool[CAT_COUNT]){[CAT_INTELLIGENT_COMPUTE] = true, [CAT_SUPERCOMPUTING] = true});
	for (char cls = 'A'; cls <= 'B'; cls++) {
		cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, cls, 0), 5000);
		cr_assert_eq(program_rate(&p, CAT_SUPERCOMPUTING, cls, F(FLAG_SME)), 5000);
		cr_assert_eq(program_rate(&p, CAT_SUPERCOMPUTING, cls, F(FLAG_MODEL_DEVELOPER)), 5000);
	}
	cr_assert(!p.has_small_buyer);

	cr_assert_eq(program_cap(&p, 0), YUAN(1000000)); /* 100万 */
	cr_assert_eq(program_cap(&p, F(FLAG_SME)), YUAN(1000000));
	cr_assert_eq(program_cap(&p, F(FLAG_MODEL_DEVELOPER)), YUAN(2000000)); /* 200万 */
	cr_assert_eq(program_cap(&p, F(FLAG_MODEL_DEVELOPER) | F(FLAG_SME)), YUAN(2000000));
	cr_assert_eq(program_cap(&p, F(FLAG_MAAS_BUILDER)), YUAN(1000000), "maas_builder is Tongxiang's flag");

	cr_assert(!p.override_rate_allowed);
	cr_assert(!p.override_cap_allowed);
}

Test(unit_program_shipped, tongxiang_compute)
{
	program_t p = load_shipped("tongxiang-compute");
	assert_kind(&p, KIND_COMPUTE, true, false);
	cr_assert_str_eq(p.valid_from, "2026-01-01");
	cr_assert_str_eq(p.valid_to, "2028-12-31");
	cr_assert(!p.payee_provider);
	cr_assert(!p.has_pool, "no pool stated");
	cr_assert_str_eq(p.exclusivity_group, "tongxiang");
	cr_assert_eq(p.exclusivity_order, 1);

	char d[512];
	join_divisions(p.divisions, p.ndivisions, d, sizeof d);
	cr_assert_str_eq(d, "330483");
	cr_assert(program_in_jurisdiction(&p, "330483"));
	cr_assert(!program_in_jurisdiction(&p, "330402"));

	cr_assert(!program_in_dates(&p, "2025-12-31"));
	cr_assert(program_in_dates(&p, "2026-01-01"));
	cr_assert(program_in_dates(&p, "2028-12-31"));
	cr_assert(!program_in_dates(&p, "2029-01-01"));

	assert_categories(&p, (bool[CAT_COUNT]){[CAT_INTELLIGENT_COMPUTE] = true, [CAT_SUPERCOMPUTING] = true});
	cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, 'A', 0), 5000);
	cr_assert_eq(program_rate(&p, CAT_SUPERCOMPUTING, 'B', F(FLAG_MAAS_BUILDER)), 5000);

	cr_assert_eq(program_cap(&p, 0), YUAN(2000000));                    /* 200万 */
	cr_assert_eq(program_cap(&p, F(FLAG_MAAS_BUILDER)), YUAN(5000000)); /* 500万 */
	cr_assert_eq(program_cap(&p, F(FLAG_MODEL_DEVELOPER)), YUAN(2000000));

	cr_assert(!p.override_rate_allowed);
	cr_assert(!p.override_cap_allowed);
}

Test(unit_program_shipped, wuxi_compute)
{
	program_t p = load_shipped("wuxi-compute");
	/* 002 五 "企业、高校以及科研机构" */
	assert_kind(&p, KIND_COMPUTE, true, true);
	cr_assert_str_eq(p.valid_from, "2025-05-23");
	cr_assert_str_eq(p.valid_to, "2027-12-31");
	cr_assert(!p.payee_provider);
	cr_assert(!p.has_pool, "operator-set, none stated");
	cr_assert_str_eq(p.exclusivity_group, "wuxi");
	cr_assert_eq(p.exclusivity_order, 1);

	char d[512];
	join_divisions(p.divisions, p.ndivisions, d, sizeof d);
	cr_assert_str_eq(d, "320205,320206,320211,320213,320214");
	join_divisions(p.optional_divisions, p.noptional, d, sizeof d);
	cr_assert_str_eq(d, "320281,320282");
	cr_assert(!p.optional_enabled);
	cr_assert(program_in_jurisdiction(&p, "320213"));
	cr_assert(!program_in_jurisdiction(&p, "320281"), "江阴 is off until switched on");
	cr_assert(!program_in_jurisdiction(&p, "320282"), "宜兴 is off until switched on");
	program_t on = p;
	on.optional_enabled = true;
	cr_assert(program_in_jurisdiction(&on, "320281"));
	cr_assert(program_in_jurisdiction(&on, "320282"));
	cr_assert(!program_in_jurisdiction(&on, "320283"));

	cr_assert(!program_in_dates(&p, "2025-05-22"));
	cr_assert(program_in_dates(&p, "2025-05-23"));
	cr_assert(!program_in_dates(&p, "2028-01-01"));

	assert_categories(&p, (bool[CAT_COUNT]){[CAT_INTELLIGENT_COMPUTE] = true});
	cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, 'A', 0), 3000);
	cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, 'B', F(FLAG_MODEL_REGISTERED)), 3000,
		     "the uplift ships as 3000");
	/* the uplift is the first rate line, so changing one number raises it */
	cr_assert_eq(p.rates[0].flag, FLAG_MODEL_REGISTERED);
	cr_assert_eq(p.rates[0].rate_bp, 3000);
	cr_assert_eq(p.rates[1].flag, -1);

	cr_assert_eq(program_cap(&p, 0), YUAN(2000000));
	cr_assert_eq(program_cap(&p, F(FLAG_MODEL_REGISTERED)), YUAN(2000000));

	cr_assert(p.override_rate_allowed);
	cr_assert_eq(p.override_max_rate_bp, 6000);
	cr_assert(p.override_cap_allowed);
	cr_assert(!p.override_cap_unlimited);
	cr_assert_eq(p.override_max_cap_fen, YUAN(10000000)); /* 1000万 */
}

Test(unit_program_shipped, hangzhou_compute)
{
	program_t p = load_shipped("hangzhou-compute");
	cr_assert_str_eq(p.valid_from, "2025-06-13");
	cr_assert_str_eq(p.valid_to, "", "open-ended");
	cr_assert(!p.payee_provider);
	cr_assert(p.has_pool);
	cr_assert_eq(p.pool_fen, YUAN(250000000)); /* 2.5亿 */
	cr_assert_str_eq(p.exclusivity_group, "");

	cr_assert_eq(p.ndivisions, 1);
	cr_assert_str_eq(p.divisions[0], "3301");
	cr_assert(program_in_jurisdiction(&p, "330106"));
	cr_assert(program_in_jurisdiction(&p, "330127"));
	cr_assert(!program_in_jurisdiction(&p, "330483"));
	cr_assert(!program_in_jurisdiction(&p, "330206"));

	cr_assert(!program_in_dates(&p, "2025-06-12"));
	cr_assert(program_in_dates(&p, "2025-06-13"));
	cr_assert(program_in_dates(&p, "2099-12-31"));

	assert_categories(
		&p, (bool[CAT_COUNT]){
			    [CAT_INTELLIGENT_COMPUTE] = true, [CAT_SUPERCOMPUTING] = true, [CAT_MODEL_SERVICE] = true});
	cr_assert_eq(program_rate(&p, CAT_MODEL_SERVICE, 'A', 0), 3000);
	cr_assert_eq(program_rate(&p, CAT_MODEL_SERVICE, 'B', 0), 3000, "model service is 30% at any facility");
	cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, 'A', 0), 3000);
	cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, 'B', 0), 2000);
	cr_assert_eq(program_rate(&p, CAT_SUPERCOMPUTING, 'A', F(FLAG_SME)), 3000);
	cr_assert_eq(program_rate(&p, CAT_SUPERCOMPUTING, 'B', F(FLAG_SME)), 2000);

	cr_assert(p.has_small_buyer);
	cr_assert_eq(p.small_buyer_flag, FLAG_SME);
	cr_assert_eq(p.small_buyer_max_ytd_fen, YUAN(500000)); /* 50万, inclusive */
	for (int c = 0; c < CAT_COUNT; c++)
		cr_assert_eq(p.small_buyer_categories[c], c == CAT_INTELLIGENT_COMPUTE);
	cr_assert_eq(p.small_buyer_rate_bp, 5000);

	cr_assert_eq(program_cap(&p, 0), YUAN(8000000)); /* 800万 */
	cr_assert_eq(program_cap(&p, F(FLAG_FOUNDATION_MODEL)), YUAN(8000000), "raised only by an override");

	cr_assert(!p.override_rate_allowed, "the document raises only the cap");
	cr_assert(p.override_cap_allowed);
	cr_assert(p.override_cap_unlimited);

	assert_kind(&p, KIND_COMPUTE, true, false);
	/* rule 9: second in the group hangzhou-ai, 60% / 30% together; rule 10: 15% / 10% */
	cr_assert_str_eq(p.stacking_group, "hangzhou-ai");
	cr_assert_eq(p.stacking_order, 2);
	cr_assert_eq(program_class_bp(p.stacking_ceiling, 'A'), 6000);
	cr_assert_eq(program_class_bp(p.stacking_ceiling, 'B'), 3000);
	cr_assert_eq(p.match_flag, FLAG_INTELLIGENT_MATCH);
	cr_assert_eq(program_class_bp(p.match_rate, 'A'), 1500);
	cr_assert_eq(program_class_bp(p.match_rate, 'B'), 1000);
}

/* ---- the other voucher kinds (docs/policies.md "The other voucher kinds") ---- */

Test(unit_program_shipped, hangzhou_intelligent)
{
	program_t p = load_shipped("hangzhou-intelligent");
	program_t c = load_shipped("hangzhou-compute");
	assert_kind(&p, KIND_INTELLIGENT, true, true);
	cr_assert_str_eq(p.valid_from, c.valid_from);
	cr_assert_str_eq(p.valid_to, "");
	cr_assert(!p.has_pool, "none stated");
	cr_assert(!p.payee_provider);
	cr_assert_str_eq(p.exclusivity_group, "");
	cr_assert_eq(p.ndivisions, 1);
	cr_assert_str_eq(p.divisions[0], "3301");
	assert_categories(&p, (bool[CAT_COUNT]){[CAT_INTELLIGENT_COMPUTE] = true});
	cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, 'A', 0), 3000);
	cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, 'B', F(FLAG_SME)), 1000);
	cr_assert(!p.has_small_buyer);
	cr_assert_eq(program_cap(&p, 0), YUAN(1000000000000), "none stated: the largest amount of the format");
	cr_assert(!p.override_rate_allowed && !p.override_cap_allowed);
	/* first of hangzhou-ai, with the same ceiling as hangzhou-compute */
	cr_assert_str_eq(p.stacking_group, c.stacking_group);
	cr_assert_eq(p.stacking_order, 1);
	cr_assert_eq(memcmp(p.stacking_ceiling, c.stacking_ceiling, sizeof p.stacking_ceiling), 0);
	cr_assert_eq(p.match_flag, -1);
}

/* the corpus and data vouchers: one marketplace category each, 30%, 200万, in
 * the exclusivity group of their city's compute voucher (order 3) */
static void assert_data_voucher(const char *id, const char *compute_id, voucher_kind_t kind, category_t cat)
{
	program_t d = load_shipped(id);
	program_t c = load_shipped(compute_id);
	assert_kind(&d, kind, true, false);
	cr_assert_str_eq(d.valid_from, c.valid_from, "%s: dates as %s", id, compute_id);
	cr_assert_str_eq(d.valid_to, c.valid_to);
	cr_assert_eq(d.ndivisions, c.ndivisions);
	cr_assert_eq(memcmp(d.divisions, c.divisions, sizeof d.divisions), 0);
	cr_assert_eq(d.noptional, c.noptional);
	cr_assert_eq(d.optional_enabled, c.optional_enabled);
	bool want[CAT_COUNT] = {false};
	want[cat] = true;
	assert_categories(&d, want);
	cr_assert_eq(program_rate(&d, cat, 'A', 0), 3000);
	cr_assert_eq(program_rate(&d, cat, 'B', F(FLAG_SME)), 3000);
	cr_assert_eq(program_cap(&d, 0), YUAN(2000000));
	cr_assert_eq(program_cap(&d, F(FLAG_MAAS_BUILDER)), YUAN(2000000));
	cr_assert(!d.has_pool);
	cr_assert(!d.payee_provider);
	cr_assert(!d.override_rate_allowed && !d.override_cap_allowed);
	cr_assert_str_eq(d.exclusivity_group, c.exclusivity_group);
	cr_assert_eq(d.exclusivity_order, 3);
	cr_assert_str_eq(d.stacking_group, "");
}

Test(unit_program_shipped, tongxiang_corpus)
{
	assert_data_voucher("tongxiang-corpus", "tongxiang-compute", KIND_CORPUS, CAT_CORPUS);
}

Test(unit_program_shipped, wuxi_data)
{
	assert_data_voucher("wuxi-data", "wuxi-compute", KIND_DATA, CAT_DATASET);
}

/* ---- the model vouchers (模型券): model_purchase, with the compute voucher's group ---- */

static void assert_model_voucher(const char *id, const char *compute_id, const char *group)
{
	program_t m = load_shipped(id);
	program_t c = load_shipped(compute_id);
	assert_kind(&m, KIND_MODEL, true, false);
	cr_assert_str_eq(m.valid_from, c.valid_from, "%s: dates as %s", id, compute_id);
	cr_assert_str_eq(m.valid_to, c.valid_to);
	cr_assert_eq(m.ndivisions, c.ndivisions);
	cr_assert_eq(memcmp(m.divisions, c.divisions, sizeof m.divisions), 0, "%s: divisions as %s", id, compute_id);
	cr_assert_eq(m.noptional, c.noptional);
	cr_assert_eq(memcmp(m.optional_divisions, c.optional_divisions, sizeof m.optional_divisions), 0);
	cr_assert_eq(m.optional_enabled, c.optional_enabled);
	/* the requirement changed with issue 14: model purchases (模型购买费用) are
	 * model_purchase, no longer model_service */
	assert_categories(&m, (bool[CAT_COUNT]){[CAT_MODEL_PURCHASE] = true});
	cr_assert_eq(program_rate(&m, CAT_MODEL_PURCHASE, 'A', 0), 3000);
	cr_assert_eq(program_rate(&m, CAT_MODEL_PURCHASE, 'B', F(FLAG_MODEL_REGISTERED)), 3000);
	for (int cat = 0; cat < CAT_COUNT; cat++)
		if (c.categories[cat])
			cr_assert(!m.categories[cat], "%s and %s share no category", id, compute_id);
	cr_assert_eq(program_cap(&m, 0), YUAN(2000000));
	cr_assert(!m.has_pool);
	cr_assert(!m.payee_provider);
	cr_assert(!m.override_rate_allowed && !m.override_cap_allowed);
	cr_assert_str_eq(m.exclusivity_group, group);
	cr_assert_str_eq(c.exclusivity_group, group);
	cr_assert_eq(c.exclusivity_order, 1);
	cr_assert_eq(m.exclusivity_order, 2);
}

Test(unit_program_shipped, tongxiang_model_shares_the_group)
{
	assert_model_voucher("tongxiang-model", "tongxiang-compute", "tongxiang");
}

Test(unit_program_shipped, wuxi_model_shares_the_group)
{
	assert_model_voucher("wuxi-model", "wuxi-compute", "wuxi");
}

/* Every file in settlement/programs/ parses, is named after its id, and the
 * programmes of one exclusivity group have distinct orders. */
Test(unit_program_shipped, every_file_parses_and_is_named_after_its_id)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/settlement/programs", root());
	DIR *d = opendir(dir);
	cr_assert(d, "cannot open %s", dir);
	static program_t all[64];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".conf"))
			continue;
		cr_assert(n < 64);
		char rel[512];
		snprintf(rel, sizeof rel, "settlement/programs/%s", e->d_name);
		all[n] = load(rel);
		/* the kind and the recipients are stated, not left to the defaults */
		size_t tlen;
		char *text = slurp(rel, &tlen);
		char *z = malloc(tlen + 2);
		cr_assert(z);
		z[0] = '\n';
		memcpy(z + 1, text, tlen);
		z[tlen + 1] = '\0';
		cr_assert(strstr(z, "\nkind = "), "%s states no kind", rel);
		cr_assert(strstr(z, "\nrecipients = "), "%s states no recipients", rel);
		free(z);
		free(text);
		cr_assert_eq(strlen(all[n].id), len - 5);
		cr_assert_eq(strncmp(all[n].id, e->d_name, len - 5), 0, "%s has id %s", e->d_name, all[n].id);
		n++;
	}
	closedir(d);
	cr_assert_geq(n, 9, "the four compute vouchers and the five other kinds");
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			if (all[i].exclusivity_group[0] && !strcmp(all[i].exclusivity_group, all[j].exclusivity_group))
				cr_assert_neq(all[i].exclusivity_order, all[j].exclusivity_order, "%s and %s",
					      all[i].id, all[j].id);
			/* a stacking group: one of each order, the ceiling stated identically */
			if (all[i].stacking_group[0] && !strcmp(all[i].stacking_group, all[j].stacking_group)) {
				cr_assert_neq(all[i].stacking_order, all[j].stacking_order, "%s and %s", all[i].id,
					      all[j].id);
				cr_assert_eq(memcmp(all[i].stacking_ceiling, all[j].stacking_ceiling,
						    sizeof all[i].stacking_ceiling),
					     0, "%s and %s state different ceilings", all[i].id, all[j].id);
			}
		}
}

/* ---- a fifth city is a file, not code ---- */

Test(unit_program_fifth_city, ningbo_is_just_a_file)
{
	program_t p = load("tests/unit/fixtures/ningbo-compute.conf");
	cr_assert_str_eq(p.id, "ningbo-compute");
	cr_assert_str_eq(p.name, "宁波市算力券（测试用虚构政策）");
	cr_assert_str_eq(p.valid_from, "2026-01-01");
	cr_assert_str_eq(p.valid_to, "2027-12-31");
	cr_assert(p.payee_provider, "兑付: the provider is paid");
	cr_assert(p.has_pool);
	cr_assert_eq(p.pool_fen, YUAN(50000000));
	cr_assert(program_in_jurisdiction(&p, "330203"));
	cr_assert(program_in_jurisdiction(&p, "330282"));
	cr_assert(!program_in_jurisdiction(&p, "330106"));
	assert_categories(&p, (bool[CAT_COUNT]){[CAT_INTELLIGENT_COMPUTE] = true, [CAT_SUPERCOMPUTING] = true});
	cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, 'A', 0), 4000);
	cr_assert_eq(program_rate(&p, CAT_SUPERCOMPUTING, 'B', 0), 3000);
	cr_assert_eq(program_cap(&p, 0), YUAN(3000000));
	cr_assert_eq(program_cap(&p, F(FLAG_MODEL_DEVELOPER)), YUAN(5000000));
	cr_assert(p.override_rate_allowed);
	cr_assert_eq(p.override_max_rate_bp, 5000);
	cr_assert(p.override_cap_allowed && !p.override_cap_unlimited);
	cr_assert_eq(p.override_max_cap_fen, YUAN(8000000) + 50);
	cr_assert_eq(p.kind, KIND_COMPUTE, "kind absent: compute");
	cr_assert(p.recipients[RECIPIENT_ENTERPRISE] && !p.recipients[RECIPIENT_INSTITUTION],
		  "recipients absent: enterprises");
}

/* another city's stacking ceiling is a pair of files (A:5000, B:2500 against
 * Hangzhou's A:6000, B:3000); tests/unit/test_engine.c settles it */
Test(unit_program_fifth_city, ningbo_stacking_pair_has_its_own_ceiling)
{
	program_t c = load("tests/unit/fixtures/ningbo-compute.conf");
	program_t i = load("tests/unit/fixtures/ningbo-intelligent.conf");
	cr_assert_str_eq(c.stacking_group, "ningbo-ai");
	cr_assert_str_eq(i.stacking_group, "ningbo-ai");
	cr_assert_eq(i.stacking_order, 1);
	cr_assert_eq(c.stacking_order, 2);
	for (int k = 0; k < 2; k++)
		cr_assert_eq(c.stacking_ceiling[k], i.stacking_ceiling[k]);
	cr_assert_eq(program_class_bp(c.stacking_ceiling, 'A'), 5000);
	cr_assert_eq(program_class_bp(c.stacking_ceiling, 'B'), 2500);
	cr_assert_eq(c.match_flag, FLAG_INTELLIGENT_MATCH);
	cr_assert_eq(program_class_bp(c.match_rate, 'A'), 1000);
	cr_assert_eq(program_class_bp(c.match_rate, 'B'), 500);
	assert_kind(&i, KIND_INTELLIGENT, true, true);
}

/* ---- the format's details ---- */

/* The smallest valid programme, by lines:
 *   1-5 [program], 6-7 [jurisdiction], 8-9 [records], 10-11 [rates], 12-13 [caps] */
#define S_PROGRAM "[program]\nid = test-prog\nname = 测试\nvalid_from = 2025-01-01\npayee = enterprise\n"
#define S_JUR "[jurisdiction]\ndivisions = 330402\n"
#define S_REC "[records]\ncategories = intelligent_compute\n"
#define S_RATES "[rates]\nrate = 3000\n"
#define S_CAPS "[caps]\ncap = 1000000\n"
#define MINIMAL S_PROGRAM S_JUR S_REC S_RATES S_CAPS

Test(unit_program_format, minimal_file_and_defaults)
{
	program_t p;
	char err[512] = "";
	cr_assert(parse(MINIMAL, &p, err, sizeof err), "%s", err);
	cr_assert_str_eq(p.name, "测试");
	cr_assert_str_eq(p.source, "");
	cr_assert_str_eq(p.valid_to, "");
	cr_assert(!p.has_pool);
	cr_assert_str_eq(p.exclusivity_group, "");
	cr_assert_eq(p.exclusivity_order, 0);
	cr_assert_eq(p.noptional, 0);
	cr_assert(!p.optional_enabled);
	cr_assert(!p.has_small_buyer);
	cr_assert_eq(p.small_buyer_flag, -1);
	cr_assert(!p.override_rate_allowed && !p.override_cap_allowed && !p.override_cap_unlimited);
	cr_assert_eq(p.nrates, 1);
	cr_assert_eq(p.rates[0].category, -1);
	cr_assert_eq(p.rates[0].cls, 0);
	cr_assert_eq(p.rates[0].flag, -1);
	cr_assert_eq(p.ncaps, 1);
	cr_assert_eq(p.caps[0].flag, -1);
	cr_assert_eq(p.caps[0].cap_fen, YUAN(1000000));
	/* issue 14's keys, absent: a compute voucher for enterprises, stacking with nothing */
	cr_assert_eq(p.kind, KIND_COMPUTE);
	cr_assert(p.recipients[RECIPIENT_ENTERPRISE]);
	cr_assert(!p.recipients[RECIPIENT_INSTITUTION]);
	cr_assert_str_eq(p.stacking_group, "");
	cr_assert_eq(p.stacking_order, 0);
	cr_assert_eq(p.match_flag, -1);
}

Test(unit_program_format, kind_recipients_and_stacking)
{
	program_t p;
	char err[512] = "";
	cr_assert(parse(S_PROGRAM "kind = data\nrecipients = institution\n" S_JUR S_REC S_RATES S_CAPS
				  "[stacking]\ngroup = g-1\norder = 2\nceiling = B:2500, A:5000\n"
				  "match_flag = sme\nmatch_rate = A:1000, B:0\n",
			&p, err, sizeof err),
		  "%s", err);
	cr_assert_eq(p.kind, KIND_DATA);
	cr_assert(!p.recipients[RECIPIENT_ENTERPRISE] && p.recipients[RECIPIENT_INSTITUTION]);
	cr_assert_str_eq(p.stacking_group, "g-1");
	cr_assert_eq(p.stacking_order, 2);
	cr_assert_eq(p.stacking_ceiling[0], 5000, "A, whatever the order written");
	cr_assert_eq(p.stacking_ceiling[1], 2500);
	cr_assert_eq(p.match_flag, FLAG_SME);
	cr_assert_eq(p.match_rate[0], 1000);
	cr_assert_eq(p.match_rate[1], 0);
	/* the names of the kinds, for exports and statements */
	static const char *const zh[KIND_COUNT] = {"算力券", "语料券", "数据券", "模型券", "智能券"};
	for (int k = 0; k < KIND_COUNT; k++) {
		cr_assert_str_eq(voucher_kind_zh((voucher_kind_t)k), zh[k]);
		cr_assert_eq(voucher_kind_parse(voucher_kind_name((voucher_kind_t)k)), k);
	}
	/* recipients by the registration-authority code */
	cr_assert_eq(recipient_of_uscc("91330402100000001X"), RECIPIENT_ENTERPRISE);
	cr_assert_eq(recipient_of_uscc("12320200466285184X"), RECIPIENT_INSTITUTION);
	cr_assert_eq(recipient_of_uscc("52320200MJ0000001X"), RECIPIENT_INSTITUTION);
	cr_assert_eq(recipient_of_uscc("31320200MJ0000001X"), -1);
	cr_assert_eq(recipient_of_uscc("Y1320200MJ0000001X"), -1);
}

Test(unit_program_format, name_of_200_bytes_is_the_longest)
{
	char text[1024];
	char name[201];
	for (int i = 0; i < 66; i++)
		memcpy(name + 3 * i, "名", 3);
	memcpy(name + 198, "ab", 3);
	snprintf(text, sizeof text,
		 "[program]\nid = x\nname = %s\nvalid_from = 2025-01-01\npayee = enterprise\n" S_JUR S_REC S_RATES
			 S_CAPS,
		 name);
	program_t p;
	char err[512] = "";
	cr_assert(parse(text, &p, err, sizeof err), "%s", err);
	cr_assert_str_eq(p.name, name);
}

Test(unit_program_format, comments_crlf_bom_and_section_order)
{
	const char *text = "\xef\xbb\xbf; a comment line\r\n"
			   "# another\r\n"
			   "[caps]   ; caps first: sections come in any order\r\n"
			   "cap = 1000000.5 ; yuan, two decimals at most\r\n"
			   "\r\n"
			   "   [program]\r\n"
			   "  id = a-b-0   # trailing comment\r\n"
			   "name = C#语言;不是注释\r\n"
			   "valid_from = 2024-02-29\r\n"
			   "payee = provider\r\n"
			   "[rates]\r\nrate=3000\r\n"
			   "[records]\r\ncategories=intelligent_compute ,supercomputing\r\n"
			   "[jurisdiction]\r\ndivisions = 330402,3301*\r\n";
	program_t p;
	char err[512] = "";
	cr_assert(parse(text, &p, err, sizeof err), "%s", err);
	cr_assert_str_eq(p.id, "a-b-0");
	cr_assert_str_eq(p.name, "C#语言;不是注释", "';' and '#' right after text are part of the value");
	cr_assert_str_eq(p.valid_from, "2024-02-29", "a leap day");
	cr_assert(p.payee_provider);
	cr_assert_eq(p.caps[0].cap_fen, YUAN(1000000) + 50);
	cr_assert(p.categories[CAT_SUPERCOMPUTING]);
	cr_assert_eq(p.ndivisions, 2);
	cr_assert_str_eq(p.divisions[1], "3301");
}

Test(unit_program_format, rate_lines_first_match_wins_qualifiers_in_any_order)
{
	const char *text =
		S_PROGRAM S_JUR S_CAPS "[records]\ncategories = intelligent_compute, supercomputing, model_service\n"
				       "[rates]\n"
				       "rate = 6000 flag=foundation_model class=A category=intelligent_compute\n"
				       "rate = 5000 class=A flag=sme\n"
				       "rate = 4000 category=model_service\n"
				       "rate = 3000 class=A\n"
				       "rate = 2000\n";
	program_t p;
	char err[512] = "";
	cr_assert(parse(text, &p, err, sizeof err), "%s", err);
	cr_assert_eq(p.nrates, 5);
	cr_assert_eq(p.rates[0].category, CAT_INTELLIGENT_COMPUTE);
	cr_assert_eq(p.rates[0].cls, 'A');
	cr_assert_eq(p.rates[0].flag, FLAG_FOUNDATION_MODEL);
	cr_assert_eq(program_rate(&p, CAT_INTELLIGENT_COMPUTE, 'A', F(FLAG_FOUNDATION_MODEL) | F(FLAG_SME)), 6000);
	cr_assert_eq(program_rate(&p, CAT_SUPERCOMPUTING, 'A', F(FLAG_FOUNDATION_MODEL) | F(FLAG_SME)), 5000);
	cr_assert_eq(program_rate(&p, CAT_MODEL_SERVICE, 'A', F(FLAG_SME)), 5000, "line order, not specificity");
	cr_assert_eq(program_rate(&p, CAT_MODEL_SERVICE, 'B', F(FLAG_SME)), 4000);
	cr_assert_eq(program_rate(&p, CAT_SUPERCOMPUTING, 'A', 0), 3000);
	cr_assert_eq(program_rate(&p, CAT_SUPERCOMPUTING, 'B', 0), 2000);
}

Test(unit_program_format, highest_matching_cap_wins)
{
	const char *text = S_PROGRAM S_JUR S_REC S_RATES
		"[caps]\ncap = 2000000 flag=sme\ncap = 1000000\ncap = 5000000 flag=maas_builder\n";
	program_t p;
	char err[512] = "";
	cr_assert(parse(text, &p, err, sizeof err), "%s", err);
	cr_assert_eq(program_cap(&p, 0), YUAN(1000000));
	cr_assert_eq(program_cap(&p, F(FLAG_SME)), YUAN(2000000));
	cr_assert_eq(program_cap(&p, F(FLAG_SME) | F(FLAG_MAAS_BUILDER)), YUAN(5000000));
}

Test(unit_program_format, optional_divisions_switched_on)
{
	const char *text = S_PROGRAM S_REC S_RATES S_CAPS
		"[jurisdiction]\ndivisions = 320205\noptional_divisions = 3202*\noptional_enabled = yes\n";
	program_t p;
	char err[512] = "";
	cr_assert(!parse(text, &p, err, sizeof err));
	cr_assert(strstr(err, "line 14: jurisdiction.optional_divisions: 3202* overlaps 320205"), "%s", err);
	text = S_PROGRAM S_REC S_RATES S_CAPS
		"[jurisdiction]\ndivisions = 320205\noptional_divisions = 320281, 3210*\noptional_enabled = yes\n";
	cr_assert(parse(text, &p, err, sizeof err), "%s", err);
	cr_assert(p.optional_enabled);
	cr_assert(program_in_jurisdiction(&p, "320281"));
	cr_assert(program_in_jurisdiction(&p, "321002"));
	cr_assert(!program_in_jurisdiction(&p, "320282"));
}

/* The parser honours len: the text is cut in the middle of its last line,
 * and the bytes after the cut (" flag=sme") are not read. */
Test(unit_program_format, reads_only_len_bytes)
{
	const char *text = S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 9000000 flag=sme\n";
	size_t len = strlen(text) - strlen(" flag=sme\n");
	char *copy = malloc(len);
	cr_assert(copy);
	memcpy(copy, text, len);
	program_t p;
	char err[512] = "";
	bool ok = program_parse(copy, len, &p, err, sizeof err);
	free(copy);
	cr_assert(ok, "%s", err);
	cr_assert_eq(p.ncaps, 1);
	cr_assert_eq(p.caps[0].flag, -1);
	cr_assert_eq(p.caps[0].cap_fen, YUAN(9000000));
}

/* ---- refusals: each names the line and the key ---- */

struct refusal {
	const char *text;
	const char *want; /* a substring of the message */
};

static const struct refusal refusals[] = {
	/* structure */
	{MINIMAL "[nosuch]\n", "line 14: unknown section [nosuch]"},
	{MINIMAL "[caps\n", "line 14: malformed section header"},
	{MINIMAL "[]\n", "line 14: malformed section header"},
	{MINIMAL "[program]\n", "line 14: section [program] given twice (first on line 1)"},
	{"id = x\n" MINIMAL, "line 1: id: key outside a section"},
	{MINIMAL "just words\n", "line 14: expected key = value"},
	{S_PROGRAM "colour = red\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.colour: unknown key"},
	{S_PROGRAM "rate = 3000\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.rate: unknown key"},
	{S_PROGRAM "name = again\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.name: given twice (first on line 3)"},
	{S_PROGRAM "source = a\tb\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.source: contains a tab"},
	{"[program]\nid = x\nname = 名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名名\n"
	 "valid_from = 2025-01-01\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 3: program.name: longer than 200 bytes"},
	{S_PROGRAM "source =\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.source: empty value"},
	{S_PROGRAM "source = ; only a comment\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.source: empty value"},
	/* missing keys */
	{"[program]\nname = x\nvalid_from = 2025-01-01\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "program.id: missing"},
	{"[program]\nid = x\nvalid_from = 2025-01-01\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "program.name: missing"},
	{"[program]\nid = x\nname = x\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS, "program.valid_from: missing"},
	{"[program]\nid = x\nname = x\nvalid_from = 2025-01-01\n" S_JUR S_REC S_RATES S_CAPS, "program.payee: missing"},
	{S_PROGRAM S_REC S_RATES S_CAPS, "jurisdiction.divisions: missing"},
	{S_PROGRAM "[jurisdiction]\noptional_divisions = 330402\n" S_REC S_RATES S_CAPS,
	 "jurisdiction.divisions: missing"},
	{S_PROGRAM S_JUR S_RATES S_CAPS, "records.categories: missing"},
	{S_PROGRAM S_JUR S_REC "[rates]\n" S_CAPS, "rates.rate: missing"},
	{S_PROGRAM S_JUR S_REC S_RATES, "caps.cap: missing"},
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 100 flag=sme\n", "caps.cap: missing the default cap"},
	{"", "program.id: missing"},
	/* [program] values */
	{S_PROGRAM "valid_to = 2024-12-31\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 6: program.valid_to: 2024-12-31 is before valid_from 2025-01-01"},
	{"[program]\nid = x\nname = x\nvalid_from = 2025-02-29\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 4: program.valid_from: '2025-02-29' is not a real date"},
	{"[program]\nid = x\nname = x\nvalid_from = 2025-13-01\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 4: program.valid_from"},
	{"[program]\nid = x\nname = x\nvalid_from = 2025-1-01\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 4: program.valid_from"},
	{"[program]\nid = x\nname = x\nvalid_from = 2025-04-31\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 4: program.valid_from"},
	{S_PROGRAM "valid_to = 2025-06-31\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.valid_to: '2025-06-31'"},
	{S_PROGRAM "valid_to = 2025-12-31T00:00\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.valid_to"},
	{"[program]\nid = Jiaxing\nname = x\nvalid_from = 2025-01-01\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 2: program.id: 'Jiaxing' is not an id"},
	{"[program]\nid = -x\nname = x\nvalid_from = 2025-01-01\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 2: program.id"},
	{"[program]\nid = a_b\nname = x\nvalid_from = 2025-01-01\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 2: program.id"},
	{"[program]\nid = a1234567890123456789012345678901234567890123456789012345678901234\nname = x\n"
	 "valid_from = 2025-01-01\npayee = enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 2: program.id"},
	{"[program]\nid = x\nname = x\nvalid_from = 2025-01-01\npayee = bureau\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 5: program.payee: 'bureau' is neither enterprise nor provider"},
	{S_PROGRAM "pool_yuan = -1\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 6: program.pool_yuan: '-1': amounts may not be negative"},
	{S_PROGRAM "pool_yuan = 1000000000000.01\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 6: program.pool_yuan: '1000000000000.01' is over"},
	{S_PROGRAM "pool_yuan = 99999999999999999999\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.pool_yuan"},
	{S_PROGRAM "pool_yuan = 1.005\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 6: program.pool_yuan: '1.005' is not an amount"},
	{S_PROGRAM "pool_yuan = 1亿\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.pool_yuan"},
	{S_PROGRAM "pool_yuan = 1e8\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.pool_yuan"},
	{S_PROGRAM "pool_yuan = 0100\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.pool_yuan"},
	{S_PROGRAM "exclusivity_group = g\n" S_JUR S_REC S_RATES S_CAPS,
	 "program.exclusivity_order: missing (exclusivity_group is given on line 6)"},
	{S_PROGRAM "exclusivity_order = 1\n" S_JUR S_REC S_RATES S_CAPS,
	 "program.exclusivity_group: missing (exclusivity_order is given on line 6)"},
	{S_PROGRAM "exclusivity_group = g\nexclusivity_order = 0\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 7: program.exclusivity_order: '0' is not a whole number 1..1000"},
	{S_PROGRAM "exclusivity_group = Wuxi\nexclusivity_order = 1\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 6: program.exclusivity_group"},
	/* [jurisdiction] */
	{S_PROGRAM "[jurisdiction]\ndivisions = 330400\n" S_REC S_RATES S_CAPS,
	 "line 7: jurisdiction.divisions: '330400' is not a GB/T 2260 county-level division code"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 990402\n" S_REC S_RATES S_CAPS,
	 "line 7: jurisdiction.divisions: '990402'"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 3301\n" S_REC S_RATES S_CAPS, "line 7: jurisdiction.divisions: '3301'"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 33*\n" S_REC S_RATES S_CAPS, "line 7: jurisdiction.divisions: '33*'"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 330*\n" S_REC S_RATES S_CAPS, "line 7: jurisdiction.divisions: '330*'"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 3300*\n" S_REC S_RATES S_CAPS,
	 "line 7: jurisdiction.divisions: '3300*': no such province or city prefix"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 9901*\n" S_REC S_RATES S_CAPS,
	 "line 7: jurisdiction.divisions: '9901*'"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 33010*\n" S_REC S_RATES S_CAPS, "line 7: jurisdiction.divisions"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 330402 330411\n" S_REC S_RATES S_CAPS,
	 "line 7: jurisdiction.divisions"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 330402,\n" S_REC S_RATES S_CAPS,
	 "line 7: jurisdiction.divisions: empty item in the list"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 330402, 330402\n" S_REC S_RATES S_CAPS,
	 "line 7: jurisdiction.divisions: '330402' overlaps '330402'"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 3301*, 330106\n" S_REC S_RATES S_CAPS,
	 "line 7: jurisdiction.divisions: '330106' overlaps '3301*'"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 320205\noptional_divisions = 320205\n" S_REC S_RATES S_CAPS,
	 "line 8: jurisdiction.optional_divisions: 320205 overlaps 320205"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 320205\noptional_enabled = true\n" S_REC S_RATES S_CAPS,
	 "line 8: jurisdiction.optional_enabled: 'true' is neither yes nor no"},
	{S_PROGRAM "[jurisdiction]\ndivisions = 320205\noptional_enabled = yes\n" S_REC S_RATES S_CAPS,
	 "line 8: jurisdiction.optional_enabled: yes, but there are no optional_divisions"},
	/* [records] */
	{S_PROGRAM S_JUR "[records]\ncategories = intelligent_compute, gpu\n" S_RATES S_CAPS,
	 "line 9: records.categories: unknown category 'gpu'"},
	{S_PROGRAM S_JUR "[records]\ncategories = supercomputing,supercomputing\n" S_RATES S_CAPS,
	 "line 9: records.categories: category 'supercomputing' listed twice"},
	{S_PROGRAM S_JUR "[records]\ncategories = ,\n" S_RATES S_CAPS, "line 9: records.categories: empty item"},
	/* [rates] */
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 0\n",
	 "line 13: rates.rate: '0' is not a rate in basis points 1..10000"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 10001\n", "line 13: rates.rate: '10001'"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 10000\nrate = -1 flag=sme\n", "line 14: rates.rate: '-1'"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 30%\n", "line 13: rates.rate: '30%'"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000.5\n", "line 13: rates.rate: '3000.5'"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 03000\n", "line 13: rates.rate: '03000'"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 category=gpu\n",
	 "line 13: rates.rate: unknown category 'gpu'"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 class=C\n",
	 "line 13: rates.rate: class 'C' is neither A nor B"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 class=a\n", "line 13: rates.rate: class 'a'"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 flag=big\n", "line 13: rates.rate: unknown flag 'big'"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 colour=red\n",
	 "line 13: rates.rate: unknown qualifier 'colour'"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 sme\n", "line 13: rates.rate: 'sme' is not a qualifier"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 class = A\n", "line 13: rates.rate"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 class=A class=B\n",
	 "line 13: rates.rate: class= given twice"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 flag=sme flag=sme\n",
	 "line 13: rates.rate: flag= given twice"},
	{S_PROGRAM S_JUR S_REC S_CAPS
	 "[rates]\nrate = 3000 category=intelligent_compute category=intelligent_compute\n",
	 "line 13: rates.rate: category= given twice"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 class=A flag=sme\nrate = 2000 flag=sme class=A\n",
	 "line 14: rates.rate: duplicate of line 13"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000\nrate = 5000 flag=sme\n",
	 "line 14: rates.rate: never applies: line 13 matches everything"},
	{S_PROGRAM S_JUR S_REC S_CAPS
	 "[rates]\nrate = 3000 class=A\nrate = 4000 class=A category=intelligent_compute\n",
	 "line 14: rates.rate: never applies: line 13"},
	{S_PROGRAM S_JUR S_REC S_CAPS "[rates]\nrate = 3000 category=supercomputing\nrate = 2000\n",
	 "line 13: rates.rate: category supercomputing is not in records.categories"},
	/* [small_buyer] */
	{MINIMAL "[small_buyer]\nflag = sme\n", "small_buyer.max_ytd_yuan: missing"},
	{MINIMAL "[small_buyer]\nflag = sme\nmax_ytd_yuan = 500000\ncategories = intelligent_compute\n",
	 "small_buyer.rate_bp: missing"},
	{MINIMAL "[small_buyer]\n", "small_buyer.flag: missing"},
	{MINIMAL "[small_buyer]\nflag = smb\n", "line 15: small_buyer.flag: unknown flag 'smb'"},
	{MINIMAL "[small_buyer]\nflag = sme\nmax_ytd_yuan = -5\n",
	 "line 16: small_buyer.max_ytd_yuan: '-5': amounts may not be negative"},
	{MINIMAL "[small_buyer]\nflag = sme\nmax_ytd_yuan = 5\ncategories = intelligent_compute\nrate_bp = 10001\n",
	 "line 18: small_buyer.rate_bp: '10001'"},
	{MINIMAL "[small_buyer]\nflag = sme\nmax_ytd_yuan = 5\ncategories = supercomputing\nrate_bp = 5000\n",
	 "line 17: small_buyer.categories: category supercomputing is not in records.categories"},
	/* [caps] */
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = -1\n", "line 13: caps.cap: '-1': amounts may not be negative"},
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 1000000000001\n", "line 13: caps.cap: '1000000000001' is over"},
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 200万\n", "line 13: caps.cap: '200万' is not an amount"},
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 1000000\ncap = 2000000 flag=vip\n",
	 "line 14: caps.cap: unknown flag 'vip'"},
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 1000000\ncap = 2000000 class=A\n",
	 "line 14: caps.cap: 'class=A' is not a qualifier flag=F"},
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 1000000\ncap = 2000000 flag=sme flag=sme\n",
	 "line 14: caps.cap: more than one qualifier"},
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 1000000\ncap = 2000000\n",
	 "line 14: caps.cap: a cap without flag was given on line 13 already"},
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 1000000\ncap = 2000000 flag=sme\ncap = 3000000 flag=sme\n",
	 "line 15: caps.cap: a cap for flag sme was given on line 14 already"},
	{S_PROGRAM S_JUR S_REC S_RATES "[caps]\ncap = 1000000\ncap = 500000 flag=sme\n",
	 "line 14: caps.cap: the cap for flag sme is not above the default cap"},
	/* [overrides] */
	{MINIMAL "[overrides]\nmax_rate_bp = 0\n", "line 15: overrides.max_rate_bp: '0'"},
	{MINIMAL "[overrides]\nmax_rate_bp = 60%\n", "line 15: overrides.max_rate_bp: '60%'"},
	{MINIMAL "[overrides]\nmax_cap_yuan = none\n",
	 "line 15: overrides.max_cap_yuan: 'none' is neither an amount in yuan nor unlimited"},
	{MINIMAL "[overrides]\nmax_cap_yuan = Unlimited\n", "line 15: overrides.max_cap_yuan"},
	{MINIMAL "[overrides]\nmax_cap_yuan = -10\n",
	 "line 15: overrides.max_cap_yuan: '-10': amounts may not be negative"},
	{MINIMAL "[overrides]\nmax_cap = 10\n", "line 15: overrides.max_cap: unknown key"},
	/* kind, recipients */
	{S_PROGRAM "kind = voucher\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 6: program.kind: 'voucher' is not a voucher kind"},
	{S_PROGRAM "kind = 算力券\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.kind"},
	{S_PROGRAM "recipients = university\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 6: program.recipients: 'university' is neither enterprise nor institution"},
	{S_PROGRAM "recipients = enterprise, enterprise\n" S_JUR S_REC S_RATES S_CAPS,
	 "line 6: program.recipients: 'enterprise' listed twice"},
	{S_PROGRAM "recipients = enterprise,\n" S_JUR S_REC S_RATES S_CAPS, "line 6: program.recipients: empty item"},
	/* [stacking] */
	{MINIMAL "[stacking]\n", "stacking.group: missing"},
	{MINIMAL "[stacking]\ngroup = g\nceiling = A:6000, B:3000\n", "stacking.order: missing"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\n", "stacking.ceiling: missing"},
	{MINIMAL "[stacking]\ngroup = G\n", "line 15: stacking.group: 'G' is not a group name"},
	{MINIMAL "[stacking]\ngroup = g\norder = 3\n", "line 16: stacking.order: '3' is 1 (the first) or 2"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\nceiling = A:6000\n",
	 "line 17: stacking.ceiling: give both classes"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\nceiling = A:6000, A:3000\n",
	 "line 17: stacking.ceiling: class A given twice"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\nceiling = A:6000, C:3000\n",
	 "line 17: stacking.ceiling: 'C:3000' is not CLASS:BP"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\nceiling = A:60%, B:3000\n",
	 "line 17: stacking.ceiling: '60%' is not a rate in basis points 0..10000"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\nceiling = A:10001, B:3000\n", "line 17: stacking.ceiling"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\nceiling = A:6000, B:3000\nmatch_flag = sme\n",
	 "stacking.match_rate: missing (match_flag is given on line 18)"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\nceiling = A:6000, B:3000\nmatch_rate = A:1, B:1\n",
	 "stacking.match_flag: missing (match_rate is given on line 18)"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\nceiling = A:6000, B:3000\nmatch_flag = vip\n",
	 "line 18: stacking.match_flag: unknown flag 'vip'"},
	{MINIMAL "[stacking]\ngroup = g\norder = 2\nceiling = A:6000, B:3000\nmatch_flag = sme\n"
		 "match_rate = A:1500, B:3001\n",
	 "line 19: stacking.match_rate: class B: 3001 bp is above the ceiling of 3000 bp"},
	{MINIMAL "[stacking]\ngroup = g\norder = 1\nceiling = A:6000, B:3000\nmatch_flag = sme\n"
		 "match_rate = A:1500, B:1000\n",
	 "line 18: stacking.match_flag: only a member listed after the first"},
	/* the first member's rate follows from the record alone */
	{MINIMAL "[small_buyer]\nflag = sme\nmax_ytd_yuan = 5\ncategories = intelligent_compute\nrate_bp = 5000\n"
		 "[stacking]\ngroup = g\norder = 1\nceiling = A:6000, B:3000\n",
	 "line 14: [small_buyer]: the first member of stacking group g may have none"},
	{MINIMAL "[overrides]\nmax_rate_bp = 6000\n[stacking]\ngroup = g\norder = 1\nceiling = A:6000, B:3000\n",
	 "line 15: overrides.max_rate_bp: the first member of stacking group g takes no rate override"},
	{S_PROGRAM "exclusivity_group = x\nexclusivity_order = 1\n" S_JUR S_REC S_RATES S_CAPS
		   "[stacking]\ngroup = g\norder = 1\nceiling = A:6000, B:3000\n",
	 "line 6: program.exclusivity_group: the first member of stacking group g may not be in an exclusivity group"},
	/* text */
	{MINIMAL "name = \x01\n", "line 14: not UTF-8 text"},
	{MINIMAL "; \xff\xfe comment\n", "line 14: not UTF-8 text"},
	{MINIMAL "; \xe6\xb5 truncated character\n", "line 14: not UTF-8 text"},
	{MINIMAL "; \xed\xa0\x80 surrogate\n", "line 14: not UTF-8 text"},
	{MINIMAL "; lone CR \r in a line\n", "line 14: not UTF-8 text"},
};

Test(unit_program_refusals, each_names_line_and_key)
{
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		program_t p;
		memset(&p, 0xa5, sizeof p);
		program_t before = p;
		char err[512] = "";
		bool ok = parse(refusals[i].text, &p, err, sizeof err);
		cr_expect(!ok, "case %zu was accepted, want '%s'", i, refusals[i].want);
		cr_expect(strstr(err, refusals[i].want), "case %zu: got '%s', want '%s'", i, err, refusals[i].want);
		cr_expect_eq(memcmp(&p, &before, sizeof p), 0, "case %zu: *p changed on failure", i);
	}
}

Test(unit_program_refusals, nul_byte)
{
	static const char text[] = MINIMAL "; a\0b\n";
	program_t p;
	char err[512] = "";
	cr_assert(!program_parse(text, sizeof text - 1, &p, err, sizeof err));
	cr_assert(strstr(err, "line 14: NUL byte"), "%s", err);
}

Test(unit_program_refusals, line_too_long)
{
	/* a 4096-byte line (not counting the newline) is the longest accepted */
	static char text[sizeof MINIMAL + 4200];
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = strlen(MINIMAL);
		memcpy(text, MINIMAL, n);
		text[n++] = ';';
		memset(text + n, 'x', 4095 + (size_t)extra);
		n += 4095 + (size_t)extra;
		memcpy(text + n, "\r\n", 2); /* the line ending does not count */
		n += 2;
		program_t p;
		char err[512] = "";
		bool ok = program_parse(text, n, &p, err, sizeof err);
		if (!extra) {
			cr_assert(ok, "%s", err);
		} else {
			cr_assert(!ok);
			cr_assert(strstr(err, "line 14: longer than 4096 bytes"), "%s", err);
		}
	}
}

Test(unit_program_refusals, too_many_rules_and_divisions)
{
	static char text[16384];
	int n = snprintf(text, sizeof text, S_PROGRAM S_JUR S_REC S_CAPS "[rates]\n");
	for (int i = 1; i <= PROG_MAX_RULES + 1; i++)
		n += snprintf(text + n, sizeof text - (size_t)n, "rate = %d class=%c flag=%s category=%s\n", i,
			      "AB"[i % 2], flag_name((flag_t)(i / 2 % FLAG_COUNT)),
			      category_name((category_t)(i / 2 / FLAG_COUNT)));
	program_t p;
	char err[512] = "";
	cr_assert(!parse(text, &p, err, sizeof err));
	cr_assert(strstr(err, "line 45: rates.rate: more than 32 rate lines"), "%s", err);

	n = snprintf(text, sizeof text, S_PROGRAM S_REC S_RATES S_CAPS "[jurisdiction]\ndivisions = ");
	for (int i = 1; i <= PROG_MAX_DIVISIONS + 1; i++)
		n += snprintf(text + n, sizeof text - (size_t)n, "%s3301%02d", i > 1 ? ", " : "", i);
	snprintf(text + n, sizeof text - (size_t)n, "\n");
	cr_assert(!parse(text, &p, err, sizeof err));
	cr_assert(strstr(err, "line 13: jurisdiction.divisions: more than 64 divisions"), "%s", err);
}

Test(unit_program_refusals, null_err_is_allowed)
{
	program_t p;
	cr_assert(!parse(MINIMAL "[nosuch]\n", &p, NULL, 0));
	char one[1] = "x";
	cr_assert(!parse(MINIMAL "[nosuch]\n", &p, one, sizeof one));
	cr_assert_eq(one[0], '\0');
}
