/* statement: the 对账单 an enterprise checks its subsidy with, for one year
 * (docs/policies.md; used by voucherctl statement and the console's
 * enterprise page, which print it each in their own way).
 *
 *   enterprise  the enterprise as registered today.
 *   grants      every grant (positive) or recovery (negative) that an approved
 *               run posted for it in the year.
 *   records     for each programme in which an approved run of the year has a
 *               line for the enterprise, taking the latest such run (by
 *               period): every usage record of the enterprise of that year
 *               that ended before the end of the run's period (China time)
 *               and had arrived by the run's data cut-off, whatever its
 *               category; adjustments as they were sent.  Each with its date
 *               (China time), the rate applied and the subsidy it earned, or
 *               why it counted for nothing, decided as that run decided it
 *               (the run's own programme version; the registry, facilities,
 *               related parties, overrides and the exclusivity partners'
 *               versions as they stood at its cut-off; the flags of the end of
 *               its period; blacklist and grade on its date), with the
 *               engine's own rules (eng_group_why, eng_settle).
 *   subtotals   per programme: that run, the records, their sum, the sum of
 *               the counted ones, the sum of the subsidies, against the run's
 *               eligible amount and entitlement (agrees).
 *
 * It reads only the audit views, in one REPEATABLE READ READ ONLY
 * transaction of the caller's connection: finance staff and auditors may
 * build it. */
#ifndef VOUCHER_STATEMENT_H
#define VOUCHER_STATEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* A table of text cells, row-major, as PostgreSQL writes values in text
 * ("t"/"f", integer text for fen and counts, timestamptz text); NULL is SQL
 * NULL. */
typedef struct st_table {
	char **cell;
	size_t n, cap; /* cells */
	int ncols;
} st_table_t;

int st_rows(const st_table_t *t);
/* The cell, or NULL (SQL NULL, or out of range). */
const char *st_get(const st_table_t *t, int row, int col);

/* the columns of each table (voucherctl statement --format csv|json names
 * them: the name after each) */
enum { /* uscc, name, division, year, program */
       ST_E_USCC,
       ST_E_NAME,
       ST_E_DIVISION,
       ST_E_YEAR,
       ST_E_PROGRAM,
       ST_E_NCOLS
};
enum { /* run_id, program, program_name, period, approved_at, amount (fen), kind (grant|recovery),
	  payee, run_status, disbursed, disbursed_at, payment_ref */
       ST_G_RUN,
       ST_G_PROGRAM,
       ST_G_PROGRAM_NAME,
       ST_G_PERIOD,
       ST_G_APPROVED_AT,
       ST_G_AMOUNT,
       ST_G_KIND,
       ST_G_PAYEE,
       ST_G_RUN_STATUS,
       ST_G_DISBURSED,
       ST_G_DISBURSED_AT,
       ST_G_PAYMENT_REF,
       ST_G_NCOLS
};
enum { /* program, provider, record_id, batch_id, facility, category, ended_at, amount (fen),
	  adjusts, counted, note (why not, Chinese), date (China time), rate_bp (applied), subsidy (fen),
	  provider_name, seller (corpus, dataset), first_program (rule 9: the stacking group's first
	  programme, its name, when the record is also eligible for it), first_rate_bp (its rate) */
       ST_R_PROGRAM,
       ST_R_PROVIDER,
       ST_R_RECORD,
       ST_R_BATCH,
       ST_R_FACILITY,
       ST_R_CATEGORY,
       ST_R_ENDED_AT,
       ST_R_AMOUNT,
       ST_R_ADJUSTS,
       ST_R_COUNTED,
       ST_R_NOTE,
       ST_R_DATE,
       ST_R_RATE_BP,
       ST_R_SUBSIDY,
       ST_R_PROVIDER_NAME,
       ST_R_SELLER,
       ST_R_FIRST_PROGRAM,
       ST_R_FIRST_RATE_BP,
       ST_R_NCOLS
};
enum { /* program, program_name, payee, run_id, period, data_cutoff, records, amount, counted_amount,
	  eligible_amount_ytd, agrees, entitlement_ytd, cap, granted_total, line_status, line_note, subsidy,
	  voucher_kind (Chinese: 算力券, 语料券, 数据券, 模型券, 智能券) */
       ST_S_PROGRAM,
       ST_S_PROGRAM_NAME,
       ST_S_PAYEE,
       ST_S_RUN,
       ST_S_PERIOD,
       ST_S_CUTOFF,
       ST_S_RECORDS,
       ST_S_AMOUNT,
       ST_S_COUNTED,
       ST_S_ELIGIBLE,
       ST_S_AGREES,
       ST_S_ENTITLEMENT,
       ST_S_CAP,
       ST_S_GRANTED,
       ST_S_LINE_STATUS,
       ST_S_LINE_NOTE,
       ST_S_SUBSIDY,
       ST_S_KIND,
       ST_S_NCOLS
};

typedef struct statement {
	st_table_t enterprise; /* one row */
	st_table_t grants, records, subtotals;
	bool not_registered; /* on failure: the enterprise is not in the registry */
} statement_t;

/* Builds the statement of enterprise uscc (a valid credit code) for year
 * ("2000".."2100"), of every programme or only of program (NULL: every; the
 * caller checks that it exists).  timezone: the zone of the timestamps in the
 * tables, for this statement only (SET LOCAL); NULL: the connection's.  st
 * is zeroed first; free it with statement_free() whether or not this
 * succeeds.  False with a message in err (English). */
bool statement_build(PGconn *c, const char *uscc, const char *year, const char *program, const char *timezone,
		     statement_t *st, char *err, size_t errlen) __attribute__((warn_unused_result));
void statement_free(statement_t *st);

/* ---- the pieces, pure (tests/unit/test_statement.c) */

/* Why a record counted for nothing in a programme (or ST_WHY_COUNTS). */
typedef enum {
	ST_WHY_COUNTS,
	ST_WHY_CATEGORY,     /* 类别不在补助范围 */
	ST_WHY_DATES,        /* 不在项目有效期内 */
	ST_WHY_JURISDICTION, /* 不在本项目辖区 */
	ST_WHY_RELATED,      /* 关联方交易 */
	ST_WHY_FACILITY,     /* 算力设施未登记 */
	ST_WHY_PARTNER,      /* 已计入 <the other programme> (rule 7, 就高不重复) */
	ST_WHY_NO_RATE,      /* 无适用的补助比例 (rule 3: rate 0) */
	ST_WHY_WITHHELD,     /* 暂缓（失信） (rule 2: the run withheld the line) */
	ST_WHY_RECIPIENT,    /* 领取对象不符（仅限企业） (rule 1: recipients) */
	ST_WHY_MARKETPLACE,  /* 非交易平台购买 (rule 1: corpus and dataset through a marketplace) */
	ST_WHY_SELLER,       /* 卖方为关联方 (rule 1: related party, the seller) */
} st_why_t;

/* The reason in Chinese, as the statement's note says it.  detail: for
 * ST_WHY_PARTNER the other programme's name, for ST_WHY_JURISDICTION the
 * enterprise's division that day (a code), for ST_WHY_WITHHELD the
 * enterprise's standing ("blacklisted", "grade_d", both joined by a space,
 * or NULL: not known), for ST_WHY_RECIPIENT who the programme pays
 * ("enterprise", "institution" or both joined by a comma); NULL otherwise.
 * "" for ST_WHY_COUNTS. */
void statement_why_zh(st_why_t why, const char *detail, char *out, size_t outlen);

/* Shares the subsidy of a rate group among its records: record i (amount
 * amount[i] fen at rate_bp[i]) gets floor(amount × rate / 10000), and the fen
 * the groups' own rounding leaves over (rule 3 rounds floor(Σ amount × rate /
 * 10000) per rate, not per record) go one each to the records of that rate
 * with the largest remainders, ties to the earlier record.  So the shares of
 * a rate add up exactly to what rule 3 gives that rate.  Rate 0: share 0.
 * False on an overflow (sums beyond 64 bits). */
bool statement_shares(size_t n, const int64_t *amount, const int32_t *rate_bp, int64_t *share)
	__attribute__((warn_unused_result));

#endif
