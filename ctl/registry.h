/* The voucherctl registry commands (ctl/provider.c, ctl/enterprise.c): the
 * limits and checks both use.
 *
 * Every argument is checked before the database is touched, every statement
 * is parameterized, and every change is one transaction: a command that fails
 * has changed nothing. */
#ifndef VOUCHER_CTL_REGISTRY_H
#define VOUCHER_CTL_REGISTRY_H

#include <stdbool.h>

#include <libpq-fe.h>

#define NAME_MAX_CHARS 200 /* providers.name, enterprise_versions.name */
#define CODE_MAX 64        /* providers.code, facilities.facility */

/* SQL for "today" in the bureaus' time zone */
#define TODAY_CN "(now() AT TIME ZONE 'Asia/Shanghai')::date"

/* "is not a valid unified social credit code (...)": what to tell of a bad USCC */
extern const char reg_bad_uscc_hint[];

/* What is wrong with a name (provider or enterprise), or NULL. */
const char *reg_name_problem(const char *s);

/* Inside a transaction: true if the provider (the enterprise) exists; else
 * prints what to do. */
bool reg_provider_exists(PGconn *c, const char *what, const char *code);
bool reg_enterprise_exists(PGconn *c, const char *what, const char *uscc);
/* BEGIN a read-only repeatable-read transaction (for the show commands). */
bool reg_begin_read(PGconn *c);

#endif
