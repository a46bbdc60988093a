/* voucherctl provider ... / enterprise ...: what the registry commands
 * share (see ctl/registry.h).  The commands are in ctl/provider.c and
 * ctl/enterprise.c. */
#include "ctl/registry.h"

#include <stdio.h>

#include "common/db.h"
#include "common/validate.h"

/* ------------------------------------------------------------------ values */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n++;
	return n;
}

/* What is wrong with a name, or NULL.  text_field() checks the characters;
 * the length is counted in characters, as the database's length() does. */
const char *reg_name_problem(const char *s)
{
	if (!*s)
		return "is empty";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "contains a control character (a line break or tab?)";
	if (!text_field(s, 4 * NAME_MAX_CHARS + 1))
		return utf8_chars(s) > NAME_MAX_CHARS ? "is longer than 200 characters"
						      : "is not valid UTF-8 (save the file as UTF-8)";
	if (utf8_chars(s) > NAME_MAX_CHARS)
		return "is longer than 200 characters";
	return NULL;
}

/* ------------------------------------------------------------------ database */

/* Returns 1 if the query has a row, 0 if not, -1 on error (printed). */
static int has_row(PGconn *c, const char *what, const char *sql, int n, const char *const *p)
{
	PGresult *r = db_exec(c, what, sql, n, p);
	if (!r)
		return -1;
	int found = PQntuples(r) > 0;
	PQclear(r);
	return found;
}

bool reg_provider_exists(PGconn *c, const char *what, const char *code)
{
	const char *p[] = {code};
	int found = has_row(c, what, "SELECT 1 FROM voucher.providers WHERE code = $1", 1, p);
	if (found == 0)
		fprintf(stderr,
			"%s: provider '%s' is not registered (voucherctl provider list shows the "
			"providers; voucherctl provider add registers one)\n",
			what, code);
	return found == 1;
}

bool reg_enterprise_exists(PGconn *c, const char *what, const char *uscc)
{
	const char *p[] = {uscc};
	int found = has_row(c, what, "SELECT 1 FROM voucher.enterprises WHERE uscc = $1", 1, p);
	if (found == 0)
		fprintf(stderr,
			"%s: enterprise %s is not registered (voucherctl enterprise import FILE.csv "
			"registers enterprises)\n",
			what, uscc);
	return found == 1;
}

bool reg_begin_read(PGconn *c)
{
	return db_run(c, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
}

const char reg_bad_uscc_hint[] = "is not a valid unified social credit code "
				 "(18 characters from 0-9 and A-Y without I, O, S, V, Z, with the "
				 "GB 32100-2015 check character)";
