/* daemon/writer: which failed statements are the database's fault (503,
 * retry) and which are ours (500). */
#include <criterion/criterion.h>

#include "daemon/writer.h"

Test(unit_writer, sqlstates_of_the_database_itself_are_faults)
{
	const char *db[] = {"08006", "08001", "53100", "53200", "53300", "57P01", "57014", "58030",
			    "25006", "40001", "40P01", "55P03", "42501", "",      NULL};
	for (size_t i = 0; i < sizeof db / sizeof db[0]; i++)
		cr_assert(writer_sqlstate_db_fault(db[i]), "%s", db[i] ? db[i] : "NULL");
}

Test(unit_writer, sqlstates_of_a_bug_are_not)
{
	/* undefined function/column, syntax, internal, data exceptions and
	 * constraint violations coming back from a validated batch */
	const char *bug[] = {"42883", "42703", "42601", "42P01", "XX000", "22023",
			     "22P02", "23505", "23514", "25P02", "0A000", "P0001"};
	for (size_t i = 0; i < sizeof bug / sizeof bug[0]; i++)
		cr_assert_not(writer_sqlstate_db_fault(bug[i]), "%s", bug[i]);
}
