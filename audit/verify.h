/* verify: `voucherctl audit verify` as a library, so that the console's 审计
 * page runs the very same checks (README.md "Ledger and audit").
 *
 * audit_verify_all() reads only the audit views (an auditor may run it), in
 * one REPEATABLE READ READ ONLY snapshot that it opens and rolls back, and
 * runs the checks in this order, stopping at the first that does not hold:
 *   1. every stored batch: digest, signature, key validity, and every usage
 *      record a record of its signed body (audit/audit_batches.c);
 *   2. the ledger's hash chain, recomputed (audit/ledger.c);
 *   3. with a checkpoint (a file's path, or its text): its signature and that
 *      today's ledger and batches extend what it saw (audit/checkpoint.c);
 *   4. the postings: exactly those the approved runs and the disbursed lines
 *      call for, and the ledger sums to zero;
 *   5. no line disbursed before its notice ended, or while an objection to it
 *      was open or upheld; audit.pool_overview is the sum of the lines;
 *   6. every approved run recomputed from the stored records
 *      (audit/audit_runs.c).
 * A progress line per check that holds (and the finer progress of the
 * checks themselves) goes to audit_progress(): stderr, unless a caller
 * such as the console sets a memory stream with audit_set_progress(). */
#ifndef VOUCHER_AUDIT_VERIFY_H
#define VOUCHER_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "audit/checkpoint.h"
#include "common/buf.h"

/* Where audit's progress lines go: stderr by default; NULL restores it. */
void audit_set_progress(FILE *f);
FILE *audit_progress(void);

typedef enum {
	AUDIT_CHECK_BATCHES,
	AUDIT_CHECK_LEDGER,
	AUDIT_CHECK_CHECKPOINT,
	AUDIT_CHECK_POSTINGS,
	AUDIT_CHECK_DISBURSEMENTS,
	AUDIT_CHECK_RUNS,
	AUDIT_NCHECKS
} audit_check_t;

typedef enum { AUDIT_NOT_RUN, AUDIT_HELD, AUDIT_FAILED } audit_state_t;

typedef struct audit_verify_in {
	/* at most one of the two; neither: no checkpoint check */
	const char *checkpoint_path; /* a checkpoint file (voucherctl --checkpoint FILE) */
	const char *checkpoint_text; /* or its text (the console: pasted), checkpoint_len bytes */
	size_t checkpoint_len;
	const char *checkpoint_name; /* how progress names it (the path; "(pasted)") */
	const char *pub_pem_path;    /* with a checkpoint: insist on this key (--pub) */
} audit_verify_in_t;

typedef struct audit_verify_out {
	bool held; /* every check held (what audit_verify_all returned) */
	audit_state_t state[AUDIT_NCHECKS];
	int64_t batches;        /* stored batches checked */
	int64_t ledger_entries; /* entries in the chain */
	char alg[16];           /* the chain head's hash (sha256, sm3; "none" when empty) */
	int64_t runs;           /* approved runs whose postings were checked */
	int64_t recomputed;     /* approved runs recomputed */
	bool has_checkpoint;    /* cp holds the parsed checkpoint */
	checkpoint_t cp;
	char err[512]; /* the first thing that does not hold ("" when all hold) */
} audit_verify_out_t;

/* True when every check holds.  Must be called outside a transaction. */
bool audit_verify_all(PGconn *c, const audit_verify_in_t *in, audit_verify_out_t *out)
	__attribute__((warn_unused_result));

/* The verdict line voucherctl prints (without a newline), into line:
 * "audit verify: ok: ..." or "audit verify: FAILED: <err>". */
void audit_verify_summary(const audit_verify_out_t *out, buf_t *line);

/* A check's name, in English (for logs) */
const char *audit_check_name(audit_check_t check);

#endif
