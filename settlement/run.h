/* run: one settlement run of one programme for one month, from the database
 * to the engine and back (README.md "Settlement", docs/policies.md rules 5 and 8).
 *
 * settle_run() reads, in one REPEATABLE READ transaction, the programme's
 * newest version (and the partners of its exclusivity group), every usage
 * record of the year up to the end of the month that arrived by now, summed
 * into groups by the attributes the rules look at; the registry facts,
 * overrides and earlier grants of each enterprise; then runs the engine and,
 * unless dry_run, replaces the draft of that programme and period with a new
 * one.  Progress goes to stderr.
 *
 * run_compute() is that reading and computing, as of a given basis: settle
 * passes "now" (an empty basis), audit verify (audit/audit_runs.c) the
 * stored values of an approved run, so that both use the same queries. */
#ifndef VOUCHER_RUN_H
#define VOUCHER_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "settlement/engine.h"
#include "settlement/program.h"

typedef struct settle_summary {
	int64_t run_id; /* 0 for a dry run */
	char program_version[65];
	char as_of[11];
	size_t lines, payable_lines, recovery_lines, withheld_lines;
	int64_t payable, recovered, asked, pool_left; /* pool_left -1: no pool */
	size_t groups;
} settle_summary_t;

bool settle_run(PGconn *c, const char *program, const char *period, bool dry_run, settle_summary_t *sum, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/* What a computation reads.  Every field NULL: what settle reads now (the
 * newest programme version, records that arrived by now(), today's date, the
 * registry as it stands, every grant).  Timestamps and dates as text. */
typedef struct run_basis {
	const char *version; /* programme version id; NULL: the newest */
	const char *cutoff;  /* records with received_at <= this; NULL: now() */
	const char *as_of;   /* the run's date (blacklist, grade); NULL: today, China time */
	/* registry versions, facilities, related parties, overrides and the
	 * exclusivity partners' versions as they stood at this time; NULL: as now */
	const char *registry_at;
	/* granted before and the pool: only grants of runs approved before this
	 * time; NULL: every grant */
	const char *approved_before;
	bool quiet; /* no progress on stderr */
} run_basis_t;

/* What a computation gives: one line per enterprise (lines[i] for ents[i]). */
typedef struct run_calc {
	program_t *prog;
	program_t *partners;
	int npartners;
	char program_version[65];
	char as_of[11];
	char cutoff[64];
	size_t ngroups;
	size_t nents;
	eng_enterprise_t *ents;
	eng_line_t *lines;
	eng_totals_t tot;
	PGresult *facts;    /* row i: ents[i] */
	int facts_name_col; /* its columns of the name and division, as of the run's date */
	int facts_division_col;
} run_calc_t;

/* Reads the input of a run of program for period ("YYYY-MM") as of basis, in
 * the caller's transaction, and computes its lines.  rc is zeroed first; free
 * it with run_calc_free() whether or not this succeeds. */
bool run_compute(PGconn *c, const char *program, const char *period, const run_basis_t *basis, run_calc_t *rc,
		 char *err, size_t errlen) __attribute__((warn_unused_result));
void run_calc_free(run_calc_t *rc);

/* A line worth storing: something eligible, granted or moving.  Runs store
 * only these. */
bool run_line_shown(const eng_line_t *l);

#endif
