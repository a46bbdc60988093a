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
		{"run list --program hangzhou", 1, "run list: there is no programme hangzhou (voucherctl program list)"},
		{"ledger balances --program hangzhou", 1, "ledger balances: there is no programme hangzhou"},
		{"override list --program hangzhou", 1, "override list: there is no programme hangzhou"},
		{"statement --enterprise USCC --year 2026 --program hangzhou", 1, "statement: there is no programme hangzhou"},
		{"audit trace --enterprise USCC --year 2026 --program hangzhou", 1, "audit trace: there is no programme hangzhou"},
		{"ledger balances --year 1999", 2, "ledger balances: --year must be a year from 2000 to 2100"},
		{"ledger balances --year 26", 2, "--year must be a year"},
		{"ledger balances --year abcd", 2, "--year must be a year"},
		{"audit exceptions --year 2101", 2, "audit exceptions: --year must be a year from 2000 to 2100"},
		{"audit exceptions --year x", 2, "--year must be a year"},
		{"statement --enterprise USCC --year 1999", 2, "statement: --year must be a year from 2000 to 2100"},
		{"audit trace --enterprise USCC --program jiaxing-compute --year 20266", 2, "audit trace: --year must be"},
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
	cr_expect_eq(sf_ctl("alice", "run list --program jiaxing-compute", out, sizeof out, err, sizeof err), 0,
		     "%s", err);
	cr_expect_eq(sf_ctl("voucher_auditor", "ledger balances --program jiaxing-compute --year 2026", out, sizeof out,
			    err, sizeof err),
		     0, "%s", err);
}
