/* Listings as a finance officer and an auditor use them: an unknown programme
 * or an impossible year is an error, not an empty table; the statement as
 * the auditor; Chinese headers for people, English columns in csv. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/settle_fixture.h"
#include "tests/integration/support.h"

TestSuite(listings, .fini = sf_teardown, .timeout = 120);

struct bad_listing {
	const char *args;
	int rc;
	const char *err;
};

Test(listings, unknown_programme_or_impossible_year_is_an_error)
{
	sf_setup();
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	const char *u = sf_uscc("330402", 1);
	sf_enterprise(u, "330402", NULL);
	char out[8192], err[8192], args[256];
	static const struct bad_listing cases[] = {
		{"run list --program hangzhou", 1,
		 "run list: there is no programme hangzhou (voucherctl program list)"},
		{"ledger balances --program hangzhou", 1, "ledger balances: there is no programme hangzhou"},
		{"override list --program hangzhou", 1, "override list: there is no programme hangzhou"},
		{"statement --enterprise USCC --year 2026 --program hangzhou", 1,
		 "statement: there is no programme hangzhou"},
		{"audit trace --enterprise USCC --year 2026 --program hangzhou", 1,
		 "audit trace: there is no programme hangzhou"},
		{"ledger balances --year 1999", 2, "ledger balances: --year must be a year from 2000 to 2100"},
		{"ledger balances --year 26", 2, "--year must be a year"},
		{"ledger balances --year abcd", 2, "--year must be a year"},
		{"audit exceptions --year 2101", 2, "audit exceptions: --year must be a year from 2000 to 2100"},
		{"audit exceptions --year x", 2, "--year must be a year"},
		{"statement --enterprise USCC --year 1999", 2, "statement: --year must be a year from 2000 to 2100"},
		{"audit trace --enterprise USCC --program jiaxing-compute --year 20266", 2,
		 "audit trace: --year must be"},
		{"override list --year 3000", 2, "override list: --year must be a year from 2000 to 2100"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *at = strstr(cases[i].args, "USCC");
		if (at)
			snprintf(args, sizeof args, "%.*s%s%s", (int)(at - cases[i].args), cases[i].args, u, at + 4);
		else
			snprintf(args, sizeof args, "%s", cases[i].args);
		int rc = sf_ctl("alice", args, out, sizeof out, err, sizeof err);
		cr_expect_eq(rc, cases[i].rc, "%s: rc %d, %s", args, rc, err);
		cr_expect_not_null(strstr(err, cases[i].err), "%s: %s", args, err);
		cr_expect_eq(out[0], '\0', "%s: %s", args, out);
	}
	/* a known programme with nothing in it is an empty table */
	cr_expect_eq(sf_ctl("alice", "run list --program jiaxing-compute", out, sizeof out, err, sizeof err), 0, "%s",
		     err);
	cr_expect_eq(sf_ctl("voucher_auditor", "ledger balances --program jiaxing-compute --year 2026", out, sizeof out,
			    err, sizeof err),
		     0, "%s", err);
}

/* An approved March run of Jiaxing with one enterprise: E1 1,000,000 fen of
 * intelligent compute -> 500,000 fen granted. */
static const char *approved_month(long long *run)
{
	sf_setup();
	sf_load_program(t_root_path("settlement/programs/jiaxing-compute.conf"));
	const char *u = sf_uscc("330402", 7);
	static char uscc[19];
	snprintf(uscc, sizeof uscc, "%s", u);
	sf_enterprise(uscc, "330402", "嘉兴南湖测试企业");
	sf_record("prov-a", uscc, "fa", "intelligent_compute", 1000000, "2026-03-10T10:00:00+08:00", NULL);
	*run = sf_settle("alice", "jiaxing-compute", "2026-03");
	sf_approve("bob", *run);
	return uscc;
}

/* The statement reads only the audit views: an auditor's login role (a member
 * of voucher_auditor, no rights in schema voucher) gets the same statement as
 * finance, not "permission denied for schema voucher". */
Test(listings, statement_as_an_auditor)
{
	long long run;
	const char *u = approved_month(&run);
	sf_sql("DO $$ BEGIN CREATE ROLE dora LOGIN IN ROLE voucher_auditor; "
	       "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
	char args[128], fin[16384], aud[16384], err[8192];
	snprintf(args, sizeof args, "--format csv statement --enterprise %s --year 2026", u);
	cr_assert_eq(sf_ctl("alice", args, fin, sizeof fin, err, sizeof err), 0, "%s", err);
	int rc = sf_ctl("dora", args, aud, sizeof aud, err, sizeof err);
	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	cr_expect_null(strstr(err, "permission denied"), "%s", err);
	cr_expect_str_eq(aud, fin);
	cr_expect_not_null(strstr(aud, "嘉兴南湖测试企业"), "%s", aud);
	cr_expect_not_null(strstr(aud, "5000.00"), "%s", aud);  /* the grant */
	cr_expect_not_null(strstr(aud, "10000.00"), "%s", aud); /* the record */
	snprintf(args, sizeof args, "statement --enterprise %s --year 2026 --program jiaxing-compute", u);
	cr_expect_eq(sf_ctl("dora", args, aud, sizeof aud, err, sizeof err), 0, "%s", err);
}

/* Chinese headers in the tables of run show, ledger balances and statement,
 * the district's name beside its code; run show --format csv keeps exactly
 * its English columns (a published contract). */
Test(listings, chinese_headers_for_people_english_csv)
{
	long long run;
	const char *u = approved_month(&run);
	char args[128], out[16384], err[8192];
	snprintf(args, sizeof args, "run show %lld", run);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	cr_expect(!strncmp(out, "结算批次  项目", strlen("结算批次  项目")), "%s", out);
	cr_expect_not_null(strstr(out, "统一社会信用代码"), "%s", out);
	cr_expect_not_null(strstr(out, "本次拨付(元)"), "%s", out);
	cr_expect_not_null(strstr(out, "330402 南湖区"), "%s", out);
	cr_expect_null(strstr(out, "eligible_amount_ytd"), "%s", out);
	/* the rule under the header is as wide as the header, in display columns */
	const char *nl = strchr(out, '\n');
	cr_assert_not_null(nl);
	cr_expect_eq(strspn(nl + 1, "-"), 8, "%s", out); /* 结算批次: 4 characters, 8 columns */

	snprintf(args, sizeof args, "--format csv run show %lld", run);
	cr_assert_eq(sf_ctl("voucher_auditor", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	cr_expect(!strncmp(out,
			   "\xEF\xBB\xBF"
			   "run_id,program,period,uscc,enterprise,division,eligible_amount_ytd,"
			   "entitlement_ytd,cap,granted_before,difference,payable,status,note\r\n",
			   120),
		  "%.200s", out);
	cr_expect_not_null(strstr(out, ",330402,"), "%s", out);
	cr_expect_null(strstr(out, "南湖区"), "%s", out);

	cr_assert_eq(sf_ctl("voucher_auditor", "ledger balances", out, sizeof out, err, sizeof err), 0, "%s", err);
	cr_expect(!strncmp(out, "账户", strlen("账户")), "%s", out);
	cr_expect_not_null(strstr(out, "余额(元)"), "%s", out);
	cr_assert_eq(sf_ctl("voucher_auditor", "--format csv ledger balances", out, sizeof out, err, sizeof err), 0);
	cr_expect(!strncmp(out,
			   "\xEF\xBB\xBF"
			   "account,balance,postings\r\n",
			   29),
		  "%s", out);

	snprintf(args, sizeof args, "statement --enterprise %s --year 2026", u);
	cr_assert_eq(sf_ctl("alice", args, out, sizeof out, err, sizeof err), 0, "%s", err);
	cr_expect_not_null(strstr(out, "企业名称:"), "%s", out);
	cr_expect_not_null(strstr(out, "拨付与追回:"), "%s", out);
	cr_expect_not_null(strstr(out, "用量记录:"), "%s", out);
	cr_expect_not_null(strstr(out, "小计:"), "%s", out);
	cr_expect_not_null(strstr(out, "330402 南湖区"), "%s", out);
}
