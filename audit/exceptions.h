/* exceptions: what an auditor looks at first (README.md "Who may do what"),
 * one row each: acts of superusers; backdated registry versions and
 * relations; superseded, returned and discarded drafts; refused approvals;
 * override proposals and confirmations; objections raised, dismissed and
 * upheld; usage from unregistered credit codes by month and provider.  The
 * one query behind `voucherctl audit exceptions` and the console's 审计 page.
 * Reads only audit views, so the auditor may run it. */
#ifndef VOUCHER_AUDIT_EXCEPTIONS_H
#define VOUCHER_AUDIT_EXCEPTIONS_H

#include <stddef.h>

#include <libpq-fe.h>

/* Columns: kind (e.g. "superuser act", "draft returned", "override
 * proposed", "objection upheld", "unregistered usage"), at (timestamptz),
 * by_user, subject, detail, and at_cn (at in China time, YYYY-MM-DD
 * HH24:MI:SS), ordered by kind, at, subject.  year (text, a year from 2000
 * to 2100, checked by the caller) keeps the rows of that year in China time;
 * NULL keeps all.  NULL with the server's message in err on failure. */
PGresult *audit_exceptions(PGconn *c, const char *year, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
