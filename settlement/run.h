/* run: one settlement run of one programme for one month, from the database
 * to the engine and back (SPEC "Settlement", POLICIES rule 5 and 8).
 *
 * settle_run() reads, in one REPEATABLE READ transaction, the programme's
 * newest version (and the partners of its exclusivity group), every usage
 * record of the year up to the end of the month that arrived by now, summed
 * into groups by the attributes the rules look at; the registry facts,
 * overrides and earlier grants of each enterprise; then runs the engine and,
 * unless dry_run, replaces the draft of that programme and period with a new
 * one.  Progress goes to stderr. */
#ifndef VOUCHER_RUN_H
#define VOUCHER_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

typedef struct settle_summary {
	int64_t run_id;          /* 0 for a dry run */
	char program_version[65];
	char as_of[11];
	size_t lines, payable_lines, recovery_lines, withheld_lines;
	int64_t payable, recovered, asked, pool_left; /* pool_left -1: no pool */
	size_t groups;
} settle_summary_t;

bool settle_run(PGconn *c, const char *program, const char *period, bool dry_run, settle_summary_t *sum,
		char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
