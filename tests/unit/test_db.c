/* common/db: the checked integer reader, on results built in memory (libpq
 * makes a PGresult without a connection), so no database is needed. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "common/db.h"

/* one text column "amount_fen", one row per value (NULL: SQL NULL) */
static PGresult *result_of(const char *const *vals, int n)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	cr_assert(r);
	PGresAttDesc att = {.name = (char *)"amount_fen", .typid = 20, .typlen = 8, .atttypmod = -1};
	cr_assert(PQsetResultAttrs(r, 1, &att));
	for (int i = 0; i < n; i++)
		cr_assert(PQsetvalue(r, i, 0, (char *)vals[i], vals[i] ? (int)strlen(vals[i]) : -1));
	return r;
}

Test(unit_db, get_i64_checked)
{
	static const char *const vals[] = {"123",  "-9223372036854775808", NULL, "",
					   "12.5", "9223372036854775808",  "7 ", "abc"};
	PGresult *r = result_of(vals, 8);
	char err[128];
	int64_t v;
	bool null;

	cr_assert(db_get_i64(r, 0, 0, "amount_fen", &v, err, sizeof err));
	cr_assert_eq(v, 123);
	cr_assert(db_get_i64(r, 1, 0, "amount_fen", &v, err, sizeof err));
	cr_assert_eq(v, INT64_MIN);

	v = 99;
	cr_assert_not(db_get_i64(r, 2, 0, "amount_fen", &v, err, sizeof err), "NULL refused");
	cr_assert_str_eq(err, "amount_fen (row 2): NULL");
	cr_assert_eq(v, 99, "out untouched");
	cr_assert(db_get_i64_null(r, 2, 0, "amount_fen", &v, &null, err, sizeof err));
	cr_assert(null);
	cr_assert_eq(v, 0);
	cr_assert(db_get_i64_null(r, 0, 0, "amount_fen", &v, &null, err, sizeof err));
	cr_assert(!null);
	cr_assert_eq(v, 123);

	for (int row = 3; row < 8; row++) {
		v = 99;
		cr_assert_not(db_get_i64(r, row, 0, "amount_fen", &v, err, sizeof err), "row %d", row);
		cr_assert_not(db_get_i64_null(r, row, 0, "amount_fen", &v, &null, err, sizeof err), "row %d", row);
		cr_assert(strstr(err, "amount_fen (row ") && strstr(err, "is not a 64-bit integer"), "%s", err);
		cr_assert_eq(v, 99);
	}
	cr_assert_str_eq(err, "amount_fen (row 7): 'abc' is not a 64-bit integer");

	/* outside the result */
	cr_assert_not(db_get_i64(r, 8, 0, "amount_fen", &v, err, sizeof err));
	cr_assert_not(db_get_i64(r, 0, 1, "amount_fen", &v, err, sizeof err));
	cr_assert_not(db_get_i64(r, -1, 0, "amount_fen", &v, NULL, 0), "no message wanted");
	cr_assert_not(db_get_i64(NULL, 0, 0, "amount_fen", &v, err, sizeof err));
	PQclear(r);
}
