/* Settlement through voucherctl against a real database, with two finance
 * users: figures worked out by hand from docs/policies.md. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "tests/integration/settle_fixture.h"
#include "tests/integration/support.h"

static const char *line_of(long long run, const char *u);

TestSuite(settle, .fini = sf_teardown, .timeout = 120);

/* field i (0-based) of the run show csv row of an enterprise (no quoted
 * commas in these test rows), or "" when the enterprise has no line */
static const char *field(long long run, const char *u, int i)
{
	static char f[256];
	const char *line = line_of(run, u);
	for (int k = 0; k < i && *line; k++) {
		line = strchr(line, ',');
		line = line ? line + 1 : "";
	}
	snprintf(f, sizeof f, "%.*s", (int)strcspn(line, ","), line);
	return f;
}

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

Test(settle, jiaxing_month_review_chain_late_record_and_refund)
{
	sf_setup();
	const char *e1 = sf_uscc("330402", 1), *e2 = sf_uscc("330402", 2), *e3 = sf_uscc("330411", 3);
	const char *e4 = sf_uscc("330402", 4), *e5 = sf_uscc("330483", 5), *e6 = sf_uscc("330402", 6);
	sf_enterprise(e1, "330402", NULL);
	sf_enterprise(e2, "330402", NULL);
	sf_flag(e2, "model_developer");
	sf_enterprise(e3, "330411", NULL);
	sf_enterprise(e4, "330402", NULL);
	sf_flag(e4, "credit_blacklisted");
	sf_enterprise(e5, "330483", NULL);
	sf_enterprise(e6, "330402", NULL);
	sf_sqlp("INSERT INTO voucher.related_parties (uscc, provider) VALUES ($1, 'prov-r')", 1, &e6);
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));

	sf_record("prov-a", e1, "fa", "intelligent_compute", 1000000, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", e1, "fa", "general_compute", 5000000, "2026-03-10T10:00:00+08:00", NULL); /* not listed */
	sf_record("prov-a", e2, "fa", "intelligent_compute", 300000000, "2026-03-11T10:00:00+08:00", NULL);
	sf_record("prov-a", e3, "fb", "supercomputing", 300000000, "2026-03-12T10:00:00+08:00", NULL);
	sf_record("prov-a", e4, "fa", "intelligent_compute", 1000000, "2026-03-12T10:00:00+08:00", NULL);
	sf_record("prov-a", e5, "fa", "intelligent_compute", 1000000, "2026-03-12T10:00:00+08:00",
		  NULL); /* Tongxiang */
	sf_record("prov-r", e6, "fr", "intelligent_compute", 1000000, "2026-03-12T10:00:00+08:00", NULL); /* related */
	sf_record("prov-a", e1, "fa", "intelligent_compute", 7000000, "2026-04-02T10:00:00+08:00", NULL); /* April */
	/* ended 2026-03-31 23:30 China time: still March */
	sf_record("prov-a", e1, "fa", "intelligent_compute", 11, "2026-03-31T15:30:00Z", NULL);

	long long run = sf_settle("alice", "jiaxing-compute", "2026-03");
	/* E1: (1,000,000 + 11) fen x 5000 bp = floor(500,005.5) = 500,005 fen; cap 100万 */
	cr_assert_str_eq(field(run, e1, C_ELIG), "10000.11");
	cr_assert_str_eq(field(run, e1, C_ENT), "5000.05");
	cr_assert_str_eq(field(run, e1, C_CAP), "1000000.00");
	cr_assert_str_eq(field(run, e1, C_DIFF), "5000.05");
	cr_assert_str_eq(field(run, e1, C_PAY), "5000.05");
	cr_assert_str_eq(field(run, e1, C_STATUS), "payable");
	cr_assert_str_eq(field(run, e1, C_PERIOD), "2026-03");
	cr_assert_str_eq(field(run, e1, C_DIV), "330402");
	/* E2 model_developer: 3,000,000 yuan x 50% = 1,500,000 yuan, under its 200万 cap */
	cr_assert_str_eq(field(run, e2, C_CAP), "2000000.00");
	cr_assert_str_eq(field(run, e2, C_PAY), "1500000.00");
	/* E3 (秀洲, supercomputing, class B): 1,500,000 yuan capped at 100万 */
	cr_assert_str_eq(field(run, e3, C_ENT), "1500000.00");
	cr_assert_str_eq(field(run, e3, C_DIFF), "1000000.00");
	cr_assert_str_eq(field(run, e3, C_PAY), "1000000.00");
	/* E4 blacklisted: computed and shown, paid nothing */
	cr_assert_str_eq(field(run, e4, C_DIFF), "5000.00");
	cr_assert_str_eq(field(run, e4, C_PAY), "0.00");
	cr_assert_str_eq(field(run, e4, C_STATUS), "withheld");
	/* E5 (Tongxiang) is outside Jiaxing; E6's only provider is related */
	cr_assert_str_eq(line_of(run, e5), "");
	cr_assert_str_eq(field(run, e6, C_ELIG)[0] ? field(run, e6, C_PAY) : "0.00", "0.00");

	/* a second draft of the same period supersedes the first, which stays */
	long long again = sf_settle("alice", "jiaxing-compute", "2026-03");
	cr_assert_gt(again, run);
	char q[160];
	snprintf(q, sizeof q, "SELECT status || ' ' || end_comment FROM audit.runs WHERE run_id = %lld", run);
	char want[64];
	snprintf(want, sizeof want, "superseded replaced by run %lld", again);
	cr_assert_str_eq(t_scalar(sf_db, q), want);
	run = again;

	/* the preparer cannot approve; another user can */
	char out[4096], err[4096], args[128];
	snprintf(args, sizeof args, "run approve %lld", run);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1, "%s", out);
	cr_assert(strstr(err, "another user must approve"), "%s", err);
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	snprintf(q, sizeof q,
		 "SELECT status || ' ' || prepared_by || ' ' || approved_by FROM audit.runs WHERE run_id = %lld", run);
	cr_assert_str_eq(t_scalar(sf_db, q), "approved alice bob");
	cr_assert_str_eq(t_scalar(sf_db, "SELECT sum(amount_fen) FROM voucher.grants"), "250500005");
	/* an approved run never changes, not even for the owner */
	snprintf(q, sizeof q, "UPDATE voucher.run_lines SET payable = 1 WHERE run_id = %lld", run);
	PGresult *r = PQexec(sf_db, q);
	cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	PQclear(r);
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 1);

	/* running the same month again with no new data pays nothing */
	long long same = sf_settle("bob", "jiaxing-compute", "2026-03");
	cr_assert_str_eq(field(same, e1, C_BEFORE), "5000.05");
	cr_assert_str_eq(field(same, e1, C_PAY), "0.00");
	cr_assert_str_eq(field(same, e1, C_STATUS), "none");
	cr_assert_str_eq(field(same, e4, C_STATUS), "withheld");

	/* a late March record arrives; April: E1 YTD 1,000,011 + 7,000,000 (April) + 200,000 (late) */
	sf_record("prov-a", e1, "fa", "intelligent_compute", 200000, "2026-03-20T10:00:00+08:00", NULL);
	long long apr = sf_settle("bob", "jiaxing-compute", "2026-04");
	/* 8,200,011 x 50% = 4,100,005 fen; granted 500,005 -> 3,600,000 */
	cr_assert_str_eq(field(apr, e1, C_ENT), "41000.05");
	cr_assert_str_eq(field(apr, e1, C_BEFORE), "5000.05");
	cr_assert_str_eq(field(apr, e1, C_PAY), "36000.00");
	cr_assert_str_eq(field(apr, e3, C_STATUS), "none"); /* still capped */
	snprintf(args, sizeof args, "run approve %lld", apr);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);

	/* a refund after the grant: E1's April record is adjusted down to zero */
	sf_record("prov-a", e1, "fa", "intelligent_compute", -7000000, "2026-04-02T10:00:00+08:00", "r8");
	long long may = sf_settle("alice", "jiaxing-compute", "2026-05");
	/* 1,200,011 x 50% = 600,005; granted 4,100,005 -> recovery of 3,500,000 fen */
	cr_assert_str_eq(field(may, e1, C_DIFF), "-35000.00");
	cr_assert_str_eq(field(may, e1, C_PAY), "-35000.00");
	cr_assert_str_eq(field(may, e1, C_STATUS), "recovery");

	/* the run show csv has exactly the documented columns */
	char csv[65536];
	snprintf(args, sizeof args, "--format csv run show %lld", may);
	cr_assert_eq(sf_ctl("alice", args, csv, sizeof csv, err, sizeof err), 0);
	cr_assert(!strncmp(csv,
			   "\xEF\xBB\xBF"
			   "run_id,program,period,uscc,enterprise,division,eligible_amount_ytd,"
			   "entitlement_ytd,cap,granted_before,difference,payable,status,note\r\n",
			   120),
		  "%.200s", csv);
}

/* A stale draft: prepared before another run of the year was approved, it
 * used old grants and must be settled again. */
Test(settle, a_draft_older_than_an_approval_must_be_settled_again)
{
	sf_setup();
	const char *e1 = sf_uscc("330402", 11);
	sf_enterprise(e1, "330402", NULL);
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", e1, "fa", "intelligent_compute", 1000, "2026-03-10T10:00:00+08:00", NULL);
	long long mar = sf_settle("alice", "jiaxing-compute", "2026-03");
	long long apr = sf_settle("alice", "jiaxing-compute", "2026-04");
	char args[64], out[2048], err[2048];
	snprintf(args, sizeof args, "run approve %lld", mar);
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	snprintf(args, sizeof args, "run approve %lld", apr);
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 1);
	cr_assert(strstr(err, "settle again"), "%s", err);
	/* April settled again and approved; then March may not be approved any
	 * more: it would pay again what a later month recovered */
	apr = sf_settle("alice", "jiaxing-compute", "2026-04");
	sf_approve("bob", apr);
	long long mar2 = sf_settle("alice", "jiaxing-compute", "2026-03");
	snprintf(args, sizeof args, "run approve %lld", mar2);
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 1);
	cr_assert(strstr(err, "a later month"), "%s", err);
}

/* The pool runs short: floor(difference x left / asked), leftover fen by
 * largest remainder, ties to the smaller USCC.  A made-up fifth city is only a
 * file. */
Test(settle, pool_shared_pro_rata_with_largest_remainder)
{
	sf_setup();
	char path[512];
	snprintf(path, sizeof path, "%s/testcity-%d.conf",
		 getenv("VOUCHER_TEST_TMP") ? getenv("VOUCHER_TEST_TMP") : "/tmp", (int)getpid());
	FILE *f = fopen(path, "w");
	fputs("[program]\nid = testcity-compute\nname = 测试市算力券\nsource = test\nvalid_from = 2026-01-01\n"
	      "payee = enterprise\npool_yuan = 2\n[jurisdiction]\ndivisions = 330402\n[records]\n"
	      "categories = intelligent_compute\n[rates]\nrate = 5000\n[caps]\ncap = 1000000\n",
	      f);
	fclose(f);
	sf_load_program(path);
	const char *a = sf_uscc("330402", 21), *b = sf_uscc("330402", 22), *c = sf_uscc("330402", 23);
	sf_enterprise(a, "330402", NULL);
	sf_enterprise(b, "330402", NULL);
	sf_enterprise(c, "330402", NULL);
	/* each asks 100 fen; the pool has 200: 66 each (remainder 200/300 each),
	 * the two leftover fen go to the two smallest USCCs */
	sf_record("prov-a", a, "fa", "intelligent_compute", 200, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", b, "fa", "intelligent_compute", 200, "2026-03-10T10:00:00+08:00", NULL);
	sf_record("prov-a", c, "fa", "intelligent_compute", 200, "2026-03-10T10:00:00+08:00", NULL);
	long long run = sf_settle("alice", "testcity-compute", "2026-03");
	cr_assert_str_eq(field(run, a, C_DIFF), "1.00");
	cr_assert_str_eq(field(run, a, C_PAY), "0.67");
	cr_assert_str_eq(field(run, b, C_PAY), "0.67");
	cr_assert_str_eq(field(run, c, C_PAY), "0.66");
	char args[64], out[2048], err[2048];
	snprintf(args, sizeof args, "run approve %lld", run);
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	/* next month: the pool is spent; what was not paid is asked again and gets nothing */
	long long apr = sf_settle("alice", "testcity-compute", "2026-04");
	cr_assert_str_eq(field(apr, c, C_DIFF), "0.34");
	cr_assert_str_eq(field(apr, c, C_PAY), "0.00");
	unlink(path);
}

Test(settle, overrides_are_bounded_by_the_programme_ceilings)
{
	sf_setup();
	const char *e = sf_uscc("320214", 31);
	sf_enterprise(e, "320214", NULL);
	sf_load_program(t_root_path("settlement/programs/wuxi-compute.conf"));
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	char args[256], out[2048], err[2048];
	snprintf(
		args, sizeof args,
		"override propose --program wuxi-compute --enterprise %s --year 2026 --rate-bp 6001 --ref 锡工信〔2026〕1号",
		e);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1);
	cr_assert(strstr(err, "ceiling"), "%s", err);
	snprintf(args, sizeof args,
		 "override propose --program wuxi-compute --enterprise %s --year 2026 --cap-fen 1000000001 --ref X", e);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1);
	snprintf(
		args, sizeof args,
		"override propose --program wuxi-compute --enterprise %s --year 2026 --rate-bp 6000 --cap-fen 1000000000 --ref X",
		e);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	long long id = 0;
	cr_assert_eq(sscanf(out, "override %lld proposed", &id), 1, "%s", out);
	snprintf(args, sizeof args,
		 "override propose --program jiaxing-compute --enterprise %s --year 2026 --rate-bp 5000 --ref X", e);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1);
	cr_assert_str_eq(t_scalar(sf_db, "SELECT count(*) FROM voucher.overrides"), "1");
	/* it counts from its confirmation by another finance user */
	snprintf(args, sizeof args, "override confirm %lld", id);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 1);
	cr_assert(strstr(err, "another finance user"), "%s", err);
	cr_assert_eq(sf_ctl("bob", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	/* the override applies: 1,000,000 fen at 6000 bp = 600,000 fen */
	sf_record("prov-a", e, "fa", "intelligent_compute", 1000000, "2026-03-10T10:00:00+08:00", NULL);
	long long run = sf_settle("alice", "wuxi-compute", "2026-03");
	cr_assert_str_eq(field(run, e, C_ENT), "6000.00");
	cr_assert_str_eq(field(run, e, C_CAP), "10000000.00");
}

/* Rule 1 takes the division registered on the record's date: an enterprise
 * that moves into Jiaxing on 2026-03-15 counts from that day on. */
Test(settle, the_division_on_the_records_date_decides_jurisdiction)
{
	sf_setup();
	const char *e = sf_uscc("330483", 41);
	sf_enterprise(e, "330483", NULL);
	sf_sqlp("INSERT INTO voucher.enterprise_versions (uscc, valid_from, name, division) "
		"VALUES ($1, '2026-03-15', 'moved', '330402')",
		1, &e);
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	sf_record("prov-a", e, "fa", "intelligent_compute", 1000, "2026-03-10T10:00:00+08:00",
		  NULL); /* Tongxiang then */
	sf_record("prov-a", e, "fa", "intelligent_compute", 3000, "2026-03-20T10:00:00+08:00", NULL); /* Jiaxing */
	/* 2026-03-14 23:30 in China is still before the move */
	sf_record("prov-a", e, "fa", "intelligent_compute", 500, "2026-03-14T15:30:00Z", NULL);
	long long run = sf_settle("alice", "jiaxing-compute", "2026-03");
	cr_assert_str_eq(field(run, e, C_ELIG), "30.00");
	cr_assert_str_eq(field(run, e, C_PAY), "15.00");
}
