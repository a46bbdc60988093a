/* trace: from one enterprise's grants in a programme-year down to the ledger
 * entries, and its records of that year with the signed batches they came in
 * (voucherctl audit trace, the console's enterprise page).  Reads only the
 * audit views: auditors and finance staff may run it.  Each function runs
 * one query on the caller's connection; the timestamps are in its time zone
 * (voucherctl sets Asia/Shanghai unless PGTZ says otherwise). */
#ifndef VOUCHER_AUDIT_TRACE_H
#define VOUCHER_AUDIT_TRACE_H

#include <stddef.h>

#include <libpq-fe.h>

/* The grants of approved runs to the enterprise in the year, by run: one row
 * per grant with the ids of the ledger entries that posted it (space
 * separated).  program NULL: every programme. */
enum {
	TRACE_G_RUN,
	TRACE_G_PERIOD,
	TRACE_G_STATUS,
	TRACE_G_APPROVED_BY,
	TRACE_G_VERSION,
	TRACE_G_AMOUNT, /* fen */
	TRACE_G_ENTRIES,
	TRACE_G_PROGRAM,
	TRACE_G_NCOLS
};
PGresult *audit_trace_grants(PGconn *c, const char *uscc, const char *program, const char *year, char *err,
			     size_t errlen) __attribute__((warn_unused_result));

/* Those ledger entries themselves, in entry order. */
enum {
	TRACE_L_ENTRY,
	TRACE_L_AT,
	TRACE_L_DEBIT,
	TRACE_L_CREDIT,
	TRACE_L_AMOUNT, /* fen */
	TRACE_L_RUN,
	TRACE_L_MEMO,
	TRACE_L_PROGRAM,
	TRACE_L_NCOLS
};
PGresult *audit_trace_entries(PGconn *c, const char *uscc, const char *program, const char *year, char *err,
			      size_t errlen) __attribute__((warn_unused_result));

/* The enterprise's records of the year (ended in it, China time), each with
 * the batch it came in: when it arrived, the signing key, the algorithm and
 * the batch's digest. */
enum {
	TRACE_R_PROVIDER,
	TRACE_R_RECORD,
	TRACE_R_CATEGORY,
	TRACE_R_ENDED_AT,
	TRACE_R_AMOUNT, /* fen */
	TRACE_R_ADJUSTS,
	TRACE_R_INVOICE,
	TRACE_R_BATCH,
	TRACE_R_RECEIVED_AT,
	TRACE_R_KEY,
	TRACE_R_ALG,
	TRACE_R_DIGEST,
	TRACE_R_SELLER, /* NULL but for corpus and dataset */
	TRACE_R_NCOLS
};
PGresult *audit_trace_records(PGconn *c, const char *uscc, const char *year, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
