/* voucherctl export (csv, xlsx) and statement against a real database, with
 * two finance users: a Jiaxing run worked out by hand from docs/policies.md, with
 * enterprise names that need csv quoting and formula protection. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/validate.h"
#include "audit/trace.h"
#include "settlement/export.h"
#include "settlement/statement.h"
#include "tests/integration/settle_fixture.h"
#include "tests/integration/support.h"

static char dir[512];

static void teardown(void)
{
	sf_teardown();
	if (dir[0]) {
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		(void)t_run(cmd, NULL, 0, NULL, 0);
		dir[0] = '\0';
	}
}

TestSuite(export, .fini = teardown, .timeout = 300);

/* ---- helpers of this file ---- */

static void export_setup(void)
{
	sf_setup();
	const char *tmp = getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp";
	snprintf(dir, sizeof dir, "%s/export-%d", tmp, (int)getpid());
	cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s", dir);
}

static const char *path_in(const char *name)
{
	static char slots[4][600];
	static unsigned i;
	char *o = slots[i++ % 4];
	snprintf(o, 600, "%s/%s", dir, name);
	return o;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* The names in the test directory, one per line, sorted. */
static const char *listing(void)
{
	static char out[4096];
	char cmd[600];
	snprintf(cmd, sizeof cmd, "ls -A '%s'", dir);
	cr_assert_eq(t_run(cmd, out, sizeof out, NULL, 0), 0);
	return out;
}

/* Zip files are read with Perl's core IO::Uncompress::Unzip: perl is always
 * there (postgresql-common needs it), unzip and python3 may not be. */

/* The names in a zip file, one per line; every member is read through, so
 * that a truncated or corrupt file (or one that is no zip) fails. */
static const char perl_list[] = "perl -MIO::Uncompress::Unzip -e '"
				"$z = IO::Uncompress::Unzip->new($ARGV[0], Transparent => 0) or die qq{not a zip\n}; "
				"for ($s = 1; $s > 0; $s = $z->nextStream) { print $z->getHeaderInfo->{Name}, qq{\n}; "
				"1 while ($s = $z->read($b)) > 0; die qq{corrupt\n} if $s < 0 } "
				"die qq{corrupt\n} if $s < 0' ";

/* One member to stdout. */
static const char perl_member[] = "perl -MIO::Uncompress::Unzip=unzip -e '"
				  "unzip $ARGV[0] => qq{-}, Name => $ARGV[1], BinModeOut => 1, Transparent => 0 "
				  "or die qq{no member $ARGV[1]\n}' ";

static int zip_list(const char *zip, char *out, size_t cap)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "%s'%s'", perl_list, zip);
	return t_run(cmd, out, cap, NULL, 0);
}

/* A member of a zip file (malloc'd text). */
static char *zip_member(const char *zip, const char *member)
{
	char cmd[1600];
	snprintf(cmd, sizeof cmd, "%s'%s' '%s' > '%s.member'", perl_member, zip, member, zip);
	cr_assert_eq(t_run(cmd, NULL, 0, NULL, 0), 0, "%s", cmd);
	char m[700];
	snprintf(m, sizeof m, "%s.member", zip);
	char *text = t_slurp(m, NULL);
	unlink(m);
	return text;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + strlen(needle), needle))
		n++;
	return n;
}

static const char header[] =
	"\xEF\xBB\xBF"
	"结算批次,项目,券种,期间,批次状态,统一社会信用代码,企业名称,行政区划,年度累计符合条件金额(元),"
	"年度累计应补金额(元),上限(元),此前已拨付(元),差额(元),本次拨付(元),状态,备注,收款方\r\n";

static char e1[19], e2[19], e3[19], e4[19];

/* Four Jiaxing enterprises and their March and April records:
 *   E1 (南湖): 1,000,000 + 11 fen 智算 -> 500,005 fen = 5000.05 yuan; a
 *      general_compute record (not a Jiaxing category), a record through a
 *      related provider (listed by statement, counts for nothing), April;
 *   E2 (南湖, a name with a quote and a comma): 300,000 fen -> 1500.00;
 *   E3 (秀洲, a name starting with '='): 1,000,000 fen 超算 -> 5000.00;
 *   E4 (南湖, credit blacklisted): 200,000 fen -> withheld, 1000.00 not paid. */
static void jiaxing(void)
{
	export_setup();
	snprintf(e1, sizeof e1, "%s", sf_uscc("330402", 101));
	snprintf(e2, sizeof e2, "%s", sf_uscc("330402", 102));
	snprintf(e3, sizeof e3, "%s", sf_uscc("330411", 103));
	snprintf(e4, sizeof e4, "%s", sf_uscc("330402", 104));
	sf_enterprise(e1, "330402", "嘉兴甲科技有限公司");
	sf_enterprise(e2, "330402", "嘉兴\"乙\",丙智算有限公司");
	sf_enterprise(e3, "330411", "=SUM(A1:A2)科技有限公司");
	sf_enterprise(e4, "330402", "暂缓企业");
	sf_flag(e4, "credit_blacklisted");
	const char *rp[] = {e1};
	sf_sqlp("INSERT INTO voucher.related_parties (uscc, provider) VALUES ($1, 'prov-r')", 1, rp);
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", e1, "fa", "intelligent_compute", 1000000, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", e1, "fa", "general_compute", 5000000, "2026-03-10T11:00:00+08:00", NULL);
	sf_record("prov-r", e1, "fr", "intelligent_compute", 400000, "2026-03-12T10:00:00+08:00", NULL);
	sf_record("prov-a", e1, "fa", "intelligent_compute", 11, "2026-03-31T15:30:00Z",
		  NULL); /* still March, China time */
	sf_record("prov-a", e1, "fa", "intelligent_compute", 7000000, "2026-04-02T10:00:00+08:00", NULL);
	sf_record("prov-a", e2, "fa", "intelligent_compute", 300000, "2026-03-11T10:00:00+08:00", NULL);
	sf_record("prov-a", e3, "fb", "supercomputing", 1000000, "2026-03-12T10:00:00+08:00", NULL);
	sf_record("prov-a", e4, "fa", "intelligent_compute", 200000, "2026-03-12T10:00:00+08:00", NULL);
}

Test(export, csv_has_bom_chinese_header_yuan_quoting_and_formula_protection)
{
	jiaxing();
	long long run = sf_settle("alice", "jiaxing-compute", "2026-03");
	sf_approve("bob", run);

	char args[1024], out[4096], err[4096];
	const char *csv = path_in("run.csv");
	snprintf(args, sizeof args, "export %lld --format csv --out '%s'", run, csv);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	cr_assert(strstr(out, "4 lines"), "%s", out);
	cr_assert(strstr(out, "嘉兴市算力券 jiaxing-compute 2026-03"), "%s", out);
	size_t len;
	char *text = t_slurp(csv, &len);
	cr_assert(!strncmp(text, header, strlen(header)), "%.400s", text);
	cr_assert_eq(count(text, "\r\n"), 5, "%s", text);
	cr_assert_eq(count(text, "\n"), 5, "bare LF in %s", text);

	char want[1024];
	snprintf(want, sizeof want,
		 "\r\n%lld,嘉兴市算力券,算力券,2026-03,已审核,%s,嘉兴甲科技有限公司,330402,10000.11,5000.05,1000000.00,"
		 "0.00,5000.05,5000.05,应拨付,,嘉兴甲科技有限公司（后补助）\r\n",
		 run, e1);
	cr_assert(strstr(text, want), "want %s in\n%s", want, text);
	/* RFC 4180: quotes doubled, the field quoted */
	snprintf(want, sizeof want,
		 ",%s,\"嘉兴\"\"乙\"\",丙智算有限公司\",330402,3000.00,1500.00,1000000.00,0.00,1500.00,1500.00,应拨付,,"
		 "\"嘉兴\"\"乙\"\",丙智算有限公司（后补助）\"\r\n",
		 e2);
	cr_assert(strstr(text, want), "want %s in\n%s", want, text);
	/* a name starting with '=' is not a formula */
	snprintf(want, sizeof want,
		 ",%s,'=SUM(A1:A2)科技有限公司,330411,10000.00,5000.00,1000000.00,0.00,5000.00,5000.00,应拨付,,"
		 "'=SUM(A1:A2)科技有限公司（后补助）\r\n",
		 e3);
	cr_assert(strstr(text, want), "want %s in\n%s", want, text);
	cr_assert(!strstr(text, ",=SUM"), "%s", text);
	snprintf(want, sizeof want, ",%s,暂缓企业,330402,2000.00,1000.00,1000000.00,0.00,1000.00,0.00,暂缓,", e4);
	cr_assert(strstr(text, want), "want %s in\n%s", want, text);
	free(text);

	/* refuses to overwrite; nothing half-written is left behind */
	char *before = t_slurp(csv, NULL);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1, "%s", out);
	cr_assert(strstr(err, "--force"), "%s", err);
	char *after = t_slurp(csv, NULL);
	cr_assert_str_eq(before, after);
	cr_assert_str_eq(listing(), "run.csv\n");
	/* --force replaces it */
	snprintf(args, sizeof args, "export %lld --format csv --out '%s' --force", run, csv);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	char *forced = t_slurp(csv, NULL);
	cr_assert_str_eq(before, forced);
	cr_assert_str_eq(listing(), "run.csv\n");
	free(before);
	free(after);
	free(forced);

	/* an unknown run: exit 1, pointing to run list, no file */
	snprintf(args, sizeof args, "export 987654321 --format csv --out '%s'", path_in("none.csv"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1);
	cr_assert(strstr(err, "voucherctl run list"), "%s", err);
	cr_assert(!exists(path_in("none.csv")));
	cr_assert_str_eq(listing(), "run.csv\n");
	/* usage errors */
	snprintf(args, sizeof args, "export %lld --out '%s'", run, path_in("x.txt"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 2);
	snprintf(args, sizeof args, "export %lld --format json --out '%s'", run, path_in("x.json"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 2);
	snprintf(args, sizeof args, "export %lld --format csv", run);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 2);
	/* a missing directory: exit 1, a clear message */
	snprintf(args, sizeof args, "export %lld --format csv --out '%s/no/such/dir.csv'", run, dir);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1);
	cr_assert(strstr(err, "cannot create"), "%s", err);
}

Test(export, xlsx_summary_and_lines_with_numbers)
{
	jiaxing();
	long long run = sf_settle("alice", "jiaxing-compute", "2026-03");
	sf_approve("bob", run);

	char args[1024], out[4096], err[4096];
	const char *x = path_in("run.xlsx");
	snprintf(args, sizeof args, "export %lld --format xlsx --out '%s'", run, x);
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	cr_assert(strstr(out, "xlsx"), "%s", out);
	char list[8192];
	cr_assert_eq(zip_list(x, list, sizeof list), 0, "not a valid zip: %s", list);
	cr_assert(strstr(list, "xl/worksheets/sheet1.xml"), "%s", list);
	cr_assert(strstr(list, "xl/worksheets/sheet2.xml"), "%s", list);
	cr_assert(!strstr(list, "sheet3.xml"), "%s", list);

	char *book = zip_member(x, "xl/workbook.xml");
	cr_assert(strstr(book, "name=\"汇总\"") && strstr(book, "name=\"明细\""), "%s", book);
	cr_assert(strstr(book, "name=\"汇总\"") < strstr(book, "name=\"明细\""), "%s", book);
	free(book);

	/* lines: amounts are numbers, names are strings (not formulas), frozen header */
	char *lines = zip_member(x, "xl/worksheets/sheet2.xml");
	cr_assert(strstr(lines, "<v>5000.05</v>"), "%.2000s", lines);
	cr_assert(strstr(lines, "<v>10000.11</v>"), "%.2000s", lines);
	cr_assert(strstr(lines, "<v>1500</v>"), "%.2000s", lines);
	cr_assert(strstr(lines, "<v>1000000</v>"), "%.2000s", lines);
	cr_assert(strstr(lines, "统一社会信用代码"), "%.2000s", lines);
	cr_assert(strstr(lines, "年度累计符合条件金额(元)"), "%.2000s", lines);
	cr_assert(strstr(lines, ">=SUM(A1:A2)科技有限公司<"), "%.4000s", lines);
	cr_assert(strstr(lines, "嘉兴&quot;乙&quot;,丙智算有限公司") || strstr(lines, "嘉兴\"乙\",丙智算有限公司"),
		  "%.4000s", lines);
	cr_assert(!strstr(lines, "<f>"), "a formula in %s", lines);
	cr_assert(strstr(lines, "嘉兴甲科技有限公司（后补助）"), "%.4000s", lines);
	cr_assert(strstr(lines, "暂缓"), "%.4000s", lines);
	cr_assert(strstr(lines, "state=\"frozen\""), "%.1000s", lines);
	cr_assert(strstr(lines, e1), "%.4000s", lines);
	cr_assert_eq(count(lines, "<row "), 5, "%s", lines);
	free(lines);
	char *styles = zip_member(x, "xl/styles.xml");
	cr_assert(strstr(styles, "formatCode=\"#,##0.00\""), "%s", styles);
	cr_assert(strstr(styles, "<b/>"), "%s", styles);
	free(styles);

	/* summary: the run, and totals by division: 330402 pays 5000.05 + 1500.00
	 * with one withheld, 330411 pays 5000.00; in all 11500.05 */
	char *sum = zip_member(x, "xl/worksheets/sheet1.xml");
	cr_assert(strstr(sum, "嘉兴市算力券 2026-03 结算汇总"), "%s", sum); /* the title */
	cr_assert(strstr(sum, "jiaxing-compute"), "%s", sum);
	cr_assert(strstr(sum, "2026-03"), "%s", sum);
	cr_assert(strstr(sum, "已审核 (approved)"), "%s", sum);
	cr_assert(strstr(sum, ">alice<") && strstr(sum, ">bob<"), "%s", sum);
	cr_assert(strstr(sum, "后补助"), "%s", sum);
	cr_assert(!strstr(sum, "草稿"), "%s", sum);
	cr_assert(strstr(sum, ">330402<") && strstr(sum, ">330411<"), "%s", sum);
	cr_assert(strstr(sum, "<v>6500.05</v>"), "%s", sum);
	cr_assert(strstr(sum, "<v>11500.05</v>"), "%s", sum);
	cr_assert(strstr(sum, "合计"), "%s", sum);
	char version[80];
	snprintf(version, sizeof version, "%s", t_scalar(sf_db, "SELECT version FROM voucher.program_versions"));
	cr_assert(strstr(sum, version), "%s", sum);
	free(sum);

	/* refuses to overwrite */
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 1, "%s", out);
	cr_assert(strstr(err, "--force"), "%s", err);
	cr_assert_str_eq(listing(), "run.xlsx\n");

	/* a draft may be exported; it says so (the format follows from the name) */
	long long apr = sf_settle("alice", "jiaxing-compute", "2026-04");
	const char *dx = path_in("draft.xlsx");
	snprintf(args, sizeof args, "export %lld --out '%s'", apr, dx);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	cr_assert(strstr(err, "draft"), "%s", err);
	char *dsum = zip_member(dx, "xl/worksheets/sheet1.xml");
	cr_assert(strstr(dsum, "草稿"), "%s", dsum);
	cr_assert(strstr(dsum, "未复核"), "%s", dsum);
	free(dsum);
	/* April for E1: 8,000,011 x 50% = 4,000,005 - 500,005 granted = 35000.00 */
	char *dlines = zip_member(dx, "xl/worksheets/sheet2.xml");
	cr_assert(strstr(dlines, "<v>35000</v>"), "%s", dlines);
	cr_assert(strstr(dlines, "<v>5000.05</v>"), "%s", dlines); /* granted before */
	free(dlines);
	snprintf(args, sizeof args, "export %lld --format csv --out '%s'", apr, path_in("draft.csv"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	char *dcsv = t_slurp(path_in("draft.csv"), NULL);
	cr_assert(strstr(dcsv, ",2026-04,草稿（未审核）,"), "%s", dcsv);
	free(dcsv);
}

Test(export, statement_lists_grants_records_and_subtotals)
{
	jiaxing();
	long long mar = sf_settle("alice", "jiaxing-compute", "2026-03");
	sf_approve("bob", mar);

	char args[512], out[65536], err[4096];
	snprintf(args, sizeof args, "--format json statement --enterprise %s --year 2026", e1);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	json_error_t je;
	json_t *doc = json_loads(out, 0, &je);
	cr_assert(doc, "%s: %s", je.text, out);
	json_t *ent = json_object_get(doc, "enterprise");
	cr_assert_str_eq(json_string_value(json_object_get(ent, "uscc")), e1);
	cr_assert_str_eq(json_string_value(json_object_get(ent, "name")), "嘉兴甲科技有限公司");
	cr_assert_eq(json_integer_value(json_object_get(ent, "year")), 2026);

	json_t *grants = json_object_get(doc, "grants");
	cr_assert_eq(json_array_size(grants), 1, "%s", out);
	json_t *g = json_array_get(grants, 0);
	cr_assert_eq(json_integer_value(json_object_get(g, "run_id")), mar);
	cr_assert_str_eq(json_string_value(json_object_get(g, "program")), "jiaxing-compute");
	cr_assert_str_eq(json_string_value(json_object_get(g, "program_name")), "嘉兴市算力券");
	cr_assert_str_eq(json_string_value(json_object_get(g, "period")), "2026-03");
	cr_assert_eq(json_integer_value(json_object_get(g, "amount")), 500005);
	cr_assert_str_eq(json_string_value(json_object_get(g, "kind")), "grant");
	cr_assert_str_eq(json_string_value(json_object_get(g, "run_status")), "approved");
	cr_assert(json_is_false(json_object_get(g, "disbursed")));
	cr_assert(json_is_null(json_object_get(g, "payment_ref")));
	cr_assert(json_is_string(json_object_get(g, "approved_at")));

	/* the March records, whatever their category, not April: each with its
	 * date (China time), the rate applied and its subsidy, or why not */
	json_t *recs = json_object_get(doc, "records");
	cr_assert_eq(json_array_size(recs), 4, "%s", out);
	static const long long amounts[] = {1000000, 5000000, 400000, 11};
	static const char *const providers[] = {"prov-a", "prov-a", "prov-r", "prov-a"};
	static const char *const notes[] = {"", "类别不在补助范围", "关联方交易", ""};
	static const long long subsidies[] = {500000, -1, -1, 5}; /* 11 × 50% = 5.5: rounded down */
	for (size_t i = 0; i < 4; i++) {
		json_t *r = json_array_get(recs, i);
		cr_assert_eq(json_integer_value(json_object_get(r, "amount")), amounts[i], "%s", out);
		cr_assert_str_eq(json_string_value(json_object_get(r, "provider")), providers[i]);
		cr_assert_str_eq(json_string_value(json_object_get(r, "program")), "jiaxing-compute");
		/* the fixture sends every record in a batch of its own, "b-" + record id */
		char want_batch[64];
		snprintf(want_batch, sizeof want_batch, "b-%s", json_string_value(json_object_get(r, "record_id")));
		cr_assert_str_eq(json_string_value(json_object_get(r, "batch_id")), want_batch);
		cr_assert(json_is_true(json_object_get(r, "counted")) == (i == 0 || i == 3), "%s", out);
		cr_assert_str_eq(json_string_value(json_object_get(r, "note")), notes[i], "%s", out);
		if (subsidies[i] < 0) {
			cr_assert(json_is_null(json_object_get(r, "rate_bp")), "%s", out);
			cr_assert(json_is_null(json_object_get(r, "subsidy")), "%s", out);
		} else {
			cr_assert_eq(json_integer_value(json_object_get(r, "rate_bp")), 5000, "%s", out);
			cr_assert_eq(json_integer_value(json_object_get(r, "subsidy")), subsidies[i], "%s", out);
		}
	}
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(recs, 0), "category")),
			 "intelligent_compute");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(recs, 3), "ended_at")),
			 "2026-03-31T23:30:00+08:00");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(recs, 3), "date")), "2026-03-31");

	json_t *subs = json_object_get(doc, "subtotals");
	cr_assert_eq(json_array_size(subs), 1, "%s", out);
	json_t *s = json_array_get(subs, 0);
	cr_assert_eq(json_integer_value(json_object_get(s, "run_id")), mar);
	cr_assert_eq(json_integer_value(json_object_get(s, "records")), 4);
	cr_assert_eq(json_integer_value(json_object_get(s, "amount")), 6400011);
	cr_assert_eq(json_integer_value(json_object_get(s, "counted_amount")), 1000011);
	cr_assert_eq(json_integer_value(json_object_get(s, "eligible_amount_ytd")), 1000011);
	cr_assert(json_is_true(json_object_get(s, "agrees")), "%s", out);
	cr_assert_eq(json_integer_value(json_object_get(s, "entitlement_ytd")), 500005);
	cr_assert_eq(json_integer_value(json_object_get(s, "granted_total")), 500005);
	cr_assert_eq(json_integer_value(json_object_get(s, "subsidy")), 500005);
	json_decref(doc);

	/* April approved: two grants, records up to April from the April run */
	long long apr = sf_settle("bob", "jiaxing-compute", "2026-04");
	sf_approve("alice", apr);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	doc = json_loads(out, 0, &je);
	cr_assert(doc, "%s: %s", je.text, out);
	grants = json_object_get(doc, "grants");
	cr_assert_eq(json_array_size(grants), 2, "%s", out);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(grants, 1), "amount")), 3500000);
	cr_assert_eq(json_array_size(json_object_get(doc, "records")), 5, "%s", out);
	s = json_array_get(json_object_get(doc, "subtotals"), 0);
	cr_assert_eq(json_integer_value(json_object_get(s, "run_id")), apr);
	cr_assert_eq(json_integer_value(json_object_get(s, "amount")), 13400011);
	cr_assert_eq(json_integer_value(json_object_get(s, "counted_amount")), 8000011);
	cr_assert_eq(json_integer_value(json_object_get(s, "granted_total")), 4000005);
	cr_assert(json_is_true(json_object_get(s, "agrees")), "%s", out);
	json_decref(doc);

	/* --program filters (a loaded programme: an unknown one is an error); an
	 * enterprise with nothing lists nothing */
	sf_load_program(t_root_path("settlement/programs/wuxi-compute.conf"));
	snprintf(args, sizeof args, "--format json statement --enterprise %s --year 2026 --program wuxi-compute", e1);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	doc = json_loads(out, 0, &je);
	cr_assert(doc, "%s: %s", je.text, out);
	cr_assert_eq(json_array_size(json_object_get(doc, "grants")), 0);
	cr_assert_eq(json_array_size(json_object_get(doc, "records")), 0);
	json_decref(doc);

	/* table and csv print too; csv starts with the BOM, amounts in yuan */
	snprintf(args, sizeof args, "statement --enterprise %s --year 2026", e1);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	/* the table's section titles are Chinese for people (csv and json keep the names) */
	cr_assert(strstr(out, "拨付与追回:") && strstr(out, "用量记录:") && strstr(out, "小计:"), "%s", out);
	snprintf(args, sizeof args, "--format csv statement --enterprise %s --year 2026", e1);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	cr_assert(!strncmp(out, "\xEF\xBB\xBF", 3), "%s", out);
	cr_assert(strstr(out, ",134000.11,80000.11,80000.11,"), "%s", out);

	/* errors */
	snprintf(args, sizeof args, "statement --enterprise %s --year 2026", sf_uscc("330402", 999));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1);
	cr_assert(strstr(err, "not registered"), "%s", err);
	cr_assert_eq(sf_ctl("alice", "statement --enterprise 123 --year 2026", out, sizeof out, err, sizeof err), 2);
	snprintf(args, sizeof args, "statement --enterprise %s --year 26", e1);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 2);
}

/* 100,000 lines: streamed through a cursor, the workbook in constant memory. */
Test(export, a_run_of_100000_lines)
{
	export_setup();
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	/* sum of 1..100000 fen payable */
	sf_sql("INSERT INTO voucher.runs (program, program_version, period, as_of, data_cutoff, total_payable, "
	       "total_recovered, total_asked, lines) SELECT 'jiaxing-compute', version, '2026-03', '2026-04-01', now(), "
	       "5000050000, 0, 5000050000, 100000 FROM voucher.program_versions");
	sf_sql("INSERT INTO voucher.run_lines SELECT r.run_id, '91330402' || lpad(i::text, 10, '0'), '企业' || i, "
	       "CASE WHEN i % 3 = 0 THEN '330411' ELSE '330402' END, 2 * i, i, 100000000, 0, i, i, 'payable', '' "
	       "FROM voucher.runs r, generate_series(1, 100000) i");
	const char *run = t_scalar(sf_db, "SELECT run_id FROM voucher.runs");
	char id[32];
	snprintf(id, sizeof id, "%s", run);

	char args[1024], out[4096], err[4096];
	snprintf(args, sizeof args, "export %s --out '%s'", id, path_in("big.xlsx"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	cr_assert(strstr(out, "100000 lines"), "%s", out);
	snprintf(args, sizeof args, "export %s --format csv --out '%s'", id, path_in("big.csv"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	struct rusage ru;
	cr_assert_eq(getrusage(RUSAGE_CHILDREN, &ru), 0);
#ifndef __SANITIZE_ADDRESS__
	/* the largest child (voucherctl) stayed small: no run held in memory
	 * (about 14 MB here; 'run show' of the same run takes 42 MB) */
	cr_assert_lt(ru.ru_maxrss, 32 * 1024, "max RSS %ld kB", ru.ru_maxrss);
#endif

	char cmd[700], n[64];
	snprintf(cmd, sizeof cmd, "wc -l < '%s'", path_in("big.csv"));
	cr_assert_eq(t_run(cmd, n, sizeof n, NULL, 0), 0);
	cr_assert_eq(atol(n), 100001, "%s", n);
	snprintf(cmd, sizeof cmd, "tail -c 200 '%s'", path_in("big.csv"));
	char tail[256];
	cr_assert_eq(t_run(cmd, tail, sizeof tail, NULL, 0), 0);
	cr_assert(strstr(tail, ",企业100000,330402,2000.00,1000.00,1000000.00,0.00,1000.00,1000.00,应拨付,,"), "%s",
		  tail);

	char *lines = zip_member(path_in("big.xlsx"), "xl/worksheets/sheet2.xml");
	cr_assert(strstr(lines, "<row r=\"100001\""));
	cr_assert(!strstr(lines, "<row r=\"100002\""));
	free(lines);
	char *sum = zip_member(path_in("big.xlsx"), "xl/worksheets/sheet1.xml");
	cr_assert(strstr(sum, "<v>50000500</v>"), "grand total missing: %s", sum);
	free(sum);
}

/* A programme that pays the providers (兑付): the payee column says so.  The
 * run exports with its own programme version, not a newer one. */
Test(export, payee_provider_and_the_runs_own_programme_version)
{
	export_setup();
	char path[600];
	snprintf(path, sizeof path, "%s/testcity.conf", dir);
	static const char conf[] =
		"[program]\nid = testcity-compute\nname = %s\nsource = test\nvalid_from = 2026-01-01\n"
		"payee = %s\n[jurisdiction]\ndivisions = 330402\n[records]\n"
		"categories = intelligent_compute\n[rates]\nrate = 5000\n[caps]\ncap = 1000000\n";
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fprintf(f, conf, "测试市算力券", "provider");
	fclose(f);
	sf_load_program(path);
	const char *u = sf_uscc("330402", 201);
	char e[19];
	snprintf(e, sizeof e, "%s", u);
	sf_enterprise(e, "330402", "测试企业");
	sf_record("prov-a", e, "fa", "intelligent_compute", 10001, "2026-03-10T10:00:00+08:00", NULL);
	long long run = sf_settle("alice", "testcity-compute", "2026-03");
	sf_approve("bob", run);
	/* a newer version: another name, paying the enterprise */
	f = fopen(path, "w");
	cr_assert(f);
	fprintf(f, conf, "测试市算力券（修订）", "enterprise");
	fclose(f);
	sf_load_program(path);
	unlink(path);

	char args[1024], out[65536], err[4096];
	snprintf(args, sizeof args, "export %lld --format csv --out '%s'", run, path_in("p.csv"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	cr_assert(strstr(out, "payee provider"), "%s", out);
	char *text = t_slurp(path_in("p.csv"), NULL);
	char want[512];
	snprintf(want, sizeof want,
		 ",%s,测试企业,330402,100.01,50.00,1000000.00,0.00,50.00,50.00,应拨付,,兑付给服务商\r\n", e);
	cr_assert(strstr(text, want), "want %s in %s", want, text);
	free(text);
	snprintf(args, sizeof args, "export %lld --out '%s'", run, path_in("p.xlsx"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	char *sum = zip_member(path_in("p.xlsx"), "xl/worksheets/sheet1.xml");
	cr_assert(strstr(sum, ">测试市算力券<"), "%s", sum);
	cr_assert(!strstr(sum, "修订"), "%s", sum);
	cr_assert(strstr(sum, "兑付"), "%s", sum);
	free(sum);

	snprintf(args, sizeof args, "--format json statement --enterprise %s --year 2026", e);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	json_error_t je;
	json_t *doc = json_loads(out, 0, &je);
	cr_assert(doc, "%s: %s", je.text, out);
	json_t *g = json_array_get(json_object_get(doc, "grants"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(g, "payee")), "provider (兑付)");
	cr_assert_str_eq(json_string_value(json_object_get(g, "program_name")), "测试市算力券");
	cr_assert_eq(json_integer_value(json_object_get(g, "amount")), 5000);
	json_t *s = json_array_get(json_object_get(doc, "subtotals"), 0);
	cr_assert_eq(json_integer_value(json_object_get(s, "amount")), 10001);
	json_decref(doc);
}

/* A failure while writing leaves nothing behind: a run whose lines do not add
 * up to its totals is refused after the lines were streamed. */
Test(export, a_failure_leaves_no_file)
{
	export_setup();
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_sql("INSERT INTO voucher.runs (program, program_version, period, as_of, data_cutoff, total_payable, "
	       "total_recovered, total_asked, lines) SELECT 'jiaxing-compute', version, '2026-03', '2026-04-01', now(), "
	       "7, 0, 7, 3000 FROM voucher.program_versions");
	sf_sql("INSERT INTO voucher.run_lines SELECT r.run_id, '91330402' || lpad(i::text, 10, '0'), '企业' || i, "
	       "'330402', 2, 1, 100, 0, 1, 1, 'payable', '' FROM voucher.runs r, generate_series(1, 3000) i");
	char id[32], args[1024], out[4096], err[4096];
	snprintf(id, sizeof id, "%s", t_scalar(sf_db, "SELECT run_id FROM voucher.runs"));
	snprintf(args, sizeof args, "export %s --format csv --out '%s'", id, path_in("bad.csv"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1, "%s", out);
	cr_assert(strstr(err, "do not add up"), "%s", err);
	snprintf(args, sizeof args, "export %s --out '%s'", id, path_in("bad.xlsx"));
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1, "%s", out);
	cr_assert(strstr(err, "do not add up"), "%s", err);
	cr_assert_str_eq(listing(), "");
}

/* ---- the statement's reasons, and the library functions the console uses ---- */

static void write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* The note of record `id` in programme `program` of a statement (json). */
static json_t *record_of(json_t *doc, const char *program, const char *id)
{
	json_t *recs = json_object_get(doc, "records");
	for (size_t i = 0; i < json_array_size(recs); i++) {
		json_t *r = json_array_get(recs, i);
		if (!strcmp(json_string_value(json_object_get(r, "program")), program) &&
		    !strcmp(json_string_value(json_object_get(r, "record_id")), id))
			return r;
	}
	cr_assert_fail("no record %s of %s", id, program);
	return NULL;
}

static void expect_record(json_t *doc, const char *program, const char *id, bool counted, const char *note,
			  long long rate, long long subsidy)
{
	json_t *r = record_of(doc, program, id);
	char *dump = json_dumps(r, 0);
	cr_expect(json_is_true(json_object_get(r, "counted")) == counted, "%s", dump);
	cr_expect_str_eq(json_string_value(json_object_get(r, "note")), note, "%s", dump);
	if (rate < 0) {
		cr_expect(json_is_null(json_object_get(r, "rate_bp")), "%s", dump);
		cr_expect(json_is_null(json_object_get(r, "subsidy")), "%s", dump);
	} else {
		cr_expect_eq(json_integer_value(json_object_get(r, "rate_bp")), rate, "%s", dump);
		cr_expect_eq(json_integer_value(json_object_get(r, "subsidy")), subsidy, "%s", dump);
	}
	free(dump);
}

/* Every reason a record can count for nothing, in Chinese, as the run decided:
 * two programmes of one exclusivity group (测试甲算力券 from 2026-03-05 for
 * 330402, 50% on intelligent_compute only, supercomputing listed at no rate;
 * 测试乙项目 from 2026-01-01, 60% at class-B facilities, else 10%), an
 * enterprise that moves to 330411 on 2026-03-20, a related provider, and a
 * blacklisted enterprise whose line is withheld. */
Test(export, statement_says_why_in_chinese)
{
	export_setup();
	char pa[600], pb[600];
	snprintf(pa, sizeof pa, "%s/testa.conf", dir);
	snprintf(pb, sizeof pb, "%s/testb.conf", dir);
	write_conf(pa,
		   "[program]\nid = testa-compute\nname = 测试甲算力券\nsource = test\nvalid_from = 2026-03-05\n"
		   "payee = enterprise\nexclusivity_group = tg\nexclusivity_order = 1\n"
		   "[jurisdiction]\ndivisions = 330402\n[records]\ncategories = intelligent_compute, supercomputing\n"
		   "[rates]\nrate = 5000 category=intelligent_compute\n[caps]\ncap = 1000000\n");
	write_conf(pb, "[program]\nid = testb-model\nname = 测试乙项目\nsource = test\nvalid_from = 2026-01-01\n"
		       "payee = enterprise\nexclusivity_group = tg\nexclusivity_order = 2\n"
		       "[jurisdiction]\ndivisions = 330402\n[records]\ncategories = intelligent_compute\n"
		       "[rates]\nrate = 6000 class=B\nrate = 1000\n[caps]\ncap = 1000000\n");
	sf_load_program(pa);
	sf_load_program(pb);
	char e[19], w[19];
	snprintf(e, sizeof e, "%s", sf_uscc("330402", 301));
	snprintf(w, sizeof w, "%s", sf_uscc("330402", 302));
	sf_enterprise(e, "330402", "<script>alert(1)</script>");
	sf_enterprise(w, "330402", "失信企业");
	sf_flag(w, "credit_blacklisted");
	const char *ep[] = {e};
	sf_sqlp("INSERT INTO voucher.enterprise_versions (uscc, valid_from, name, division) "
		"VALUES ($1, '2026-03-20', '<script>alert(1)</script>', '330411')",
		1, ep);
	sf_sqlp("INSERT INTO voucher.related_parties (uscc, provider) VALUES ($1, 'prov-r')", 1, ep);
	sf_record("prov-a", e, "fa", "intelligent_compute", 100000, "2026-03-03T10:00:00+08:00", NULL);  /* r1 */
	sf_record("prov-a", e, "fa", "intelligent_compute", 1000000, "2026-03-10T10:00:00+08:00", NULL); /* r2 */
	sf_record("prov-a", e, "fb", "intelligent_compute", 300000, "2026-03-11T10:00:00+08:00", NULL);  /* r3 */
	sf_record("prov-a", e, "fa", "supercomputing", 700000, "2026-03-12T10:00:00+08:00", NULL);       /* r4 */
	sf_record("prov-a", e, "fa", "general_compute", 50000, "2026-03-13T10:00:00+08:00", NULL);       /* r5 */
	sf_record("prov-r", e, "fr", "intelligent_compute", 80000, "2026-03-14T10:00:00+08:00", NULL);   /* r6 */
	sf_record("prov-a", e, "fa", "intelligent_compute", 1, "2026-03-15T10:00:00+08:00", NULL);       /* r7 */
	sf_record("prov-a", e, "fa", "intelligent_compute", 1, "2026-03-16T10:00:00+08:00", NULL);       /* r8 */
	sf_record("prov-a", e, "fa", "intelligent_compute", 90000, "2026-03-25T10:00:00+08:00", NULL);   /* r9 */
	sf_record("prov-a", w, "fa", "intelligent_compute", 200000, "2026-03-10T10:00:00+08:00", NULL);  /* r10 */
	long long ra = sf_settle("alice", "testa-compute", "2026-03");
	sf_approve("bob", ra);
	long long rb = sf_settle("alice", "testb-model", "2026-03");
	sf_approve("bob", rb);

	char args[512], out[65536], err[4096];
	snprintf(args, sizeof args, "--format json statement --enterprise %s --year 2026", e);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	json_error_t je;
	json_t *doc = json_loads(out, 0, &je);
	cr_assert(doc, "%s: %s", je.text, out);
	/* 测试甲算力券: r2 at 50% (500,000.5 and the two 1-fen records' halves:
	 * floor(1,000,002 × 50%) = 500,001, the leftover fen to r7, the earlier) */
	expect_record(doc, "testa-compute", "r1", false, "不在项目有效期内", -1, 0);
	expect_record(doc, "testa-compute", "r2", true, "", 5000, 500000);
	expect_record(doc, "testa-compute", "r3", false, "已计入 测试乙项目（就高不重复）", -1, 0);
	expect_record(doc, "testa-compute", "r4", false, "无适用的补助比例", -1, 0);
	expect_record(doc, "testa-compute", "r5", false, "类别不在补助范围", -1, 0);
	expect_record(doc, "testa-compute", "r6", false, "关联方交易", -1, 0);
	expect_record(doc, "testa-compute", "r7", true, "", 5000, 1);
	expect_record(doc, "testa-compute", "r8", true, "", 5000, 0);
	expect_record(doc, "testa-compute", "r9", false, "不在本项目辖区（当日登记区划 330411）", -1, 0);
	/* 测试乙项目: r1 before 测试甲's dates is its own (10%), r3 at 60% */
	expect_record(doc, "testb-model", "r1", true, "", 1000, 10000);
	expect_record(doc, "testb-model", "r2", false, "已计入 测试甲算力券（就高不重复）", -1, 0);
	expect_record(doc, "testb-model", "r3", true, "", 6000, 180000);
	expect_record(doc, "testb-model", "r4", false, "类别不在补助范围", -1, 0);
	expect_record(doc, "testb-model", "r9", false, "不在本项目辖区（当日登记区划 330411）", -1, 0);
	json_t *subs = json_object_get(doc, "subtotals");
	cr_assert_eq(json_array_size(subs), 2, "%s", out);
	for (size_t i = 0; i < 2; i++) {
		json_t *s = json_array_get(subs, i);
		char *dump = json_dumps(s, 0);
		cr_expect(json_is_true(json_object_get(s, "agrees")), "%s", dump);
		cr_expect_eq(json_integer_value(json_object_get(s, "records")), 9, "%s", dump);
		cr_expect_eq(json_integer_value(json_object_get(s, "subsidy")),
			     json_integer_value(json_object_get(s, "entitlement_ytd")), "%s", dump);
		free(dump);
	}
	cr_expect_eq(json_integer_value(json_object_get(json_array_get(subs, 0), "entitlement_ytd")), 500001);
	cr_expect_eq(json_integer_value(json_object_get(json_array_get(subs, 1), "entitlement_ytd")), 190000);
	json_decref(doc);

	/* withheld (rule 2): computed, not paid */
	snprintf(args, sizeof args, "--format json statement --enterprise %s --year 2026 --program testa-compute", w);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
	doc = json_loads(out, 0, &je);
	cr_assert(doc, "%s: %s", je.text, out);
	expect_record(doc, "testa-compute", "r10", false, "暂缓（失信）", 5000, 100000);
	json_t *s = json_array_get(json_object_get(doc, "subtotals"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(s, "line_status")), "withheld");
	cr_expect_eq(json_integer_value(json_object_get(s, "counted_amount")), 0);
	cr_expect_eq(json_integer_value(json_object_get(s, "eligible_amount_ytd")), 200000);
	cr_expect(json_is_true(json_object_get(s, "agrees")), "%s", out);
	json_decref(doc);

	/* the table shows the reasons too, under Chinese headers */
	snprintf(args, sizeof args, "statement --enterprise %s --year 2026 --program testa-compute", e);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	cr_expect(strstr(out, "不计入原因") && strstr(out, "关联方交易") && strstr(out, "补助(元)"), "%s", out);
}

/* export_run, statement_build and the audit trace, as the console calls them: on an auditor's
 * own connection, into a private (0600) file replacing the temporary one,
 * with the summary's times in China time. */
Test(export, library_functions_as_an_auditor)
{
	jiaxing();
	long long run = sf_settle("alice", "jiaxing-compute", "2026-03");
	sf_approve("bob", run);
	sf_sql("DO $$ BEGIN CREATE ROLE dora LOGIN IN ROLE voucher_auditor; "
	       "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
	char ci[320];
	t_conninfo_as(sf_ci, "dora", ci, sizeof ci);
	PGconn *c = PQconnectdb(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));

	char path[700];
	snprintf(path, sizeof path, "%s/dl-XXXXXX", dir);
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	export_opts_t opts = {.replace = true, .private_file = true, .timezone = "Asia/Shanghai"};
	export_info_t info;
	char err[600];
	cr_assert(export_run(c, run, EXPORT_XLSX, path, &opts, &info, err, sizeof err), "%s", err);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600, "%o", st.st_mode & 0777);
	cr_expect_eq(info.lines, 4);
	cr_expect_eq(info.total_payable, 1150005);
	cr_expect_eq(info.total_recovered, 0);
	cr_expect_str_eq(info.program_name, "嘉兴市算力券");
	cr_expect_str_eq(info.program, "jiaxing-compute");
	cr_expect_str_eq(info.period, "2026-03");
	cr_expect_str_eq(info.run_status, "approved");
	cr_expect(!info.payee_provider);
	cr_expect_eq(count(listing(), "\n"), 1, "%s", listing()); /* no temporary file left */
	char *sum = zip_member(path, "xl/worksheets/sheet1.xml");
	cr_expect(strstr(sum, "<v>11500.05</v>"), "%s", sum);
	cr_expect(strstr(sum, "+08"), "the times in China time: %s", sum);
	free(sum);
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	/* the csv, and the failures */
	cr_assert(export_run(c, run, EXPORT_CSV, path, &opts, &info, err, sizeof err), "%s", err);
	char *text = t_slurp(path, NULL);
	cr_expect(!strncmp(text, header, strlen(header)), "%.300s", text);
	free(text);
	cr_expect(!export_run(c, 987654, EXPORT_CSV, path, &opts, &info, err, sizeof err));
	cr_expect_eq(info.failure, EXPORT_NO_RUN, "%s", err);
	cr_expect(!export_run(c, run, EXPORT_CSV, path, NULL, &info, err, sizeof err));
	cr_expect_eq(info.failure, EXPORT_EXISTS, "%s", err);
	cr_expect_eq(count(listing(), "\n"), 1, "%s", listing());
	unlink(path);

	statement_t sm;
	cr_assert(statement_build(c, e1, "2026", NULL, "Asia/Shanghai", &sm, err, sizeof err), "%s", err);
	cr_expect_str_eq(st_get(&sm.enterprise, 0, ST_E_NAME), "嘉兴甲科技有限公司");
	cr_expect_eq(st_rows(&sm.grants), 1);
	cr_expect_eq(st_rows(&sm.records), 4);
	cr_expect_str_eq(st_get(&sm.records, 2, ST_R_NOTE), "关联方交易");
	cr_expect_str_eq(st_get(&sm.records, 0, ST_R_ENDED_AT), "2026-03-10 10:00:00+08");
	cr_expect_null(st_get(&sm.records, 2, ST_R_RATE_BP));
	cr_expect_null(st_get(&sm.records, 9, 0)); /* out of range */
	cr_expect_str_eq(st_get(&sm.subtotals, 0, ST_S_SUBSIDY), "500005");
	statement_free(&sm);
	cr_expect(!statement_build(c, sf_uscc("330402", 999), "2026", NULL, NULL, &sm, err, sizeof err));
	cr_expect(sm.not_registered, "%s", err);
	statement_free(&sm);
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE);

	/* the audit trace: the grant, the ledger entry that posted it, the
	 * records of the year (April's too) with their batches */
	PGresult *g = audit_trace_grants(c, e1, NULL, "2026", err, sizeof err);
	cr_assert(g, "%s", err);
	cr_expect_eq(PQntuples(g), 1);
	cr_expect_str_eq(PQgetvalue(g, 0, TRACE_G_AMOUNT), "500005");
	cr_expect_str_eq(PQgetvalue(g, 0, TRACE_G_PROGRAM), "jiaxing-compute");
	PGresult *l = audit_trace_entries(c, e1, "jiaxing-compute", "2026", err, sizeof err);
	cr_assert(l, "%s", err);
	cr_expect_eq(PQntuples(l), 1);
	cr_expect_str_eq(PQgetvalue(l, 0, TRACE_L_ENTRY), PQgetvalue(g, 0, TRACE_G_ENTRIES));
	char payable[80];
	snprintf(payable, sizeof payable, "payable/jiaxing-compute/2026/%s", e1);
	cr_expect_str_eq(PQgetvalue(l, 0, TRACE_L_DEBIT), payable);
	cr_expect_str_eq(PQgetvalue(l, 0, TRACE_L_AMOUNT), "500005");
	PGresult *u = audit_trace_records(c, e1, "2026", err, sizeof err);
	cr_assert(u, "%s", err);
	cr_expect_eq(PQntuples(u), 5);
	cr_expect_str_eq(PQgetvalue(u, 0, TRACE_R_BATCH), "b-r1");
	cr_expect_eq(PQnfields(u), TRACE_R_NCOLS);
	PQclear(g);
	PQclear(l);
	PQclear(u);
	PGresult *none = audit_trace_grants(c, e1, "jiaxing-compute", "2025", err, sizeof err);
	cr_assert(none, "%s", err);
	cr_expect_eq(PQntuples(none), 0);
	PQclear(none);
	PQfinish(c);
}
