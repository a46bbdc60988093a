/* audit_runs: audit verify's recomputation of approved runs (README.md "Ledger and
 * audit": "every approved run by recomputing it from the stored records and
 * its program version").
 *
 * Each approved run, in approval order, is computed again by run_compute()
 * (settlement/run.c, the code settle uses) as of the run's stored basis: its
 * own programme version; the exclusivity partners, registry versions,
 * facilities, related parties and overrides as they stood at its prepared_at;
 * the records received by its data_cutoff (the ingest barrier makes that
 * exactly what it saw); its as_of date; the grants of runs approved before
 * it.  The lines it would store are compared with the stored lines, enterprise
 * by enterprise, then the run's totals. */
#ifndef VOUCHER_AUDIT_RUNS_H
#define VOUCHER_AUDIT_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* Runs in the caller's transaction (REPEATABLE READ, read only, for one
 * snapshot); reads voucher.* tables.  runs_checked receives the number of
 * runs that agree.  False with the first difference in err, e.g. "run 7
 * (jiaxing-compute, 2026-03): enterprise 91330402...: payable stored 500005,
 * recomputed 500105".  Progress to audit_progress(), one line per run. */
bool audit_verify_runs(PGconn *c, int64_t *runs_checked, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
