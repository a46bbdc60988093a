/* A settlement test database: its own copy of the template, finance users
 * alice and bob (login roles, members of voucher_finance), providers prov-a
 * (facilities fa class A, fb class B) and prov-r (facility fr), and helpers to
 * add enterprises and usage records directly and to run bin/voucherctl as a
 * given user.  Shared by the settle and export tests. */
#ifndef VOUCHER_SETTLE_FIXTURE_H
#define VOUCHER_SETTLE_FIXTURE_H

#include <stddef.h>
#include <libpq-fe.h>

extern PGconn *sf_db;   /* superuser connection to the test database */
extern char sf_ci[256]; /* its conninfo */

void sf_setup(void);
void sf_teardown(void);
void sf_sql(const char *q);
void sf_sqlp(const char *q, int n, const char *const *params);
/* a valid USCC in a division: "91" + division + 9 digits + check character */
const char *sf_uscc(const char *division, int n);
/* a valid credit code: head (two characters: "91" an enterprise, "12" a
 * public institution, "52" a 民政 research institute) + division + 9 digits +
 * check character */
const char *sf_code(const char *head, const char *division, int n);
/* a provider of kind compute|marketplace with a class-A facility and its
 * signing key (Ed25519, key id CODE-2026a) */
void sf_provider(const char *code, const char *kind, const char *facility);
/* registers an enterprise from 2025-01-01; name NULL: "企业 " + last 4 chars */
void sf_enterprise(const char *uscc, const char *division, const char *name);
/* sets a boolean flag column of all its registry versions */
void sf_flag(const char *uscc, const char *column);
/* a usage record (ids r1, r2, ... in order) ending at ended_at, one hour long */
void sf_record(const char *provider, const char *uscc, const char *facility, const char *category, long long amount_fen,
	       const char *ended_at, const char *adjusts);
/* the same with a seller (corpus, dataset), in the signed body too */
void sf_record_seller(const char *provider, const char *uscc, const char *facility, const char *category,
		      long long amount, const char *ended_at, const char *seller);
/* bin/voucherctl --db <the test database as user> ARGS; returns the exit status */
int sf_ctl(const char *user, const char *args, char *out, size_t outcap, char *err, size_t errcap);
/* settle as user; asserts success and returns the run id */
long long sf_settle(const char *user, const char *program, const char *period);
void sf_approve(const char *user, long long run);
void sf_load_program(const char *path);
/* a finance login role (member of voucher_finance), if it does not exist */
void sf_user(const char *name);

/* A connection to the test database as role (asserts it opens). */
PGconn *sf_as(const char *role);
/* Runs q on c; its SQLSTATE, "" when it succeeded (static buffer). */
const char *sf_state_of(PGconn *c, const char *q);

#endif
