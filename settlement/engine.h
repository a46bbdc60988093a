/* engine: docs/policies.md rules 1-7, 9 and 10 for one run of one programme, in memory.
 *
 * The caller (settlement/run.c) reads the year's usage up to the end of the
 * run's month from the database, already summed into groups that share every
 * attribute a rule looks at, plus each enterprise's registry facts, overrides
 * and what approved runs granted before.  The engine decides eligibility,
 * entitlement, caps, differences and the pool, and returns one line per
 * enterprise.  Pure: no I/O, no clock, deterministic.
 *
 * Every rule lives in one function of engine.c named after it:
 *   rule1_record_eligible   (jurisdiction, dates, category, recipients,
 *                            marketplace-only categories, related party:
 *                            provider and seller)
 *   rule2_enterprise_withheld
 *   rule3_entitlement       (rate groups, rounding down; small buyer; overrides)
 *   rule4_cap
 *   rule5_difference        (cumulative settlement, recoveries)
 *   rule6_pool              (pro rata, largest remainder, ties to the smaller USCC)
 *   rule7_exclusive         (就高不重复 across an exclusivity group)
 *   rule9_stacked           (叠加: the group's ceiling less the first's rate)
 *   rule10_match            (免审配套: the match rate instead)
 */
#ifndef VOUCHER_ENGINE_H
#define VOUCHER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "settlement/program.h"

#define ENG_MAX_PARTNERS 8

/* Usage summed over records that share these attributes. */
typedef struct eng_group {
	uint32_t ent;              /* index into eng_input_t.ents */
	int category;              /* category_t */
	char cls;                  /* facility class 'A' or 'B' */
	char division[7];          /* the enterprise's division as registered on the records' date */
	bool in_dates;             /* the records' dates are within this programme's dates */
	bool related;              /* the provider is a related party of the enterprise */
	bool seller_related;       /* the seller (corpus, dataset) is a related party of the enterprise */
	bool marketplace;          /* pushed by a provider of kind marketplace */
	uint32_t partner_in_dates; /* bit k: the records' dates are within partners[k]'s dates */
	int64_t amount_fen;        /* net: records plus their adjustments */
} eng_group_t;

typedef struct eng_enterprise {
	char uscc[19];
	uint32_t flags;         /* 1 << FLAG_*, as registered at the end of the run's period */
	bool blacklisted;       /* credit_blacklisted on the run's date */
	bool grade_d;           /* performance_grade D on the run's date */
	int64_t granted_before; /* sum of what approved runs granted for (programme, enterprise, year) */
	bool has_rate_override;
	int32_t override_rate_bp;
	bool has_cap_override;
	int64_t override_cap_fen;
} eng_enterprise_t;

typedef struct eng_input {
	const program_t *prog;
	/* the other programmes of prog's exclusivity group and of its stacking
	 * group (current versions) */
	const program_t *partners[ENG_MAX_PARTNERS];
	int npartners;
	const eng_enterprise_t *ents;
	size_t nents;
	const eng_group_t *groups;
	size_t ngroups;
	int64_t pool_granted_fen; /* net granted so far in the programme-year by approved runs */
} eng_input_t;

typedef enum { ST_NONE, ST_PAYABLE, ST_RECOVERY, ST_WITHHELD } eng_status_t;

typedef struct eng_line {
	int64_t eligible_ytd;    /* sum of eligible amounts in the year to date */
	int64_t entitlement_ytd; /* rule 3, before the cap */
	int64_t cap;             /* rule 4 */
	int64_t granted_before;
	int64_t difference; /* min(entitlement, cap) - granted_before */
	int64_t payable;    /* what this run pays after the pool (negative: recovered) */
	eng_status_t status;
	bool small_buyer; /* the small-buyer rate applied */
	bool stacked;     /* rule 9 limited the rate of some usage (also eligible for the group's first) */
	bool matched;     /* rule 10: the match rate applied to some usage */
	bool pool_scaled; /* payable < difference because the pool ran short */
	char note[400];   /* 备注, UTF-8 Chinese */
} eng_line_t;

typedef struct eng_totals {
	int64_t payable;   /* sum of positive payables */
	int64_t recovered; /* sum of negative payables (<= 0) */
	int64_t asked;     /* sum of positive differences of non-withheld lines */
	int64_t pool_left; /* before this run; -1: no pool */
	size_t lines_payable, lines_recovery, lines_withheld, lines_none;
} eng_totals_t;

/* Computes one line per enterprise (lines[i] for ents[i]).  False with a
 * message on an arithmetic overflow or inconsistent input. */
bool eng_settle(const eng_input_t *in, eng_line_t *lines, eng_totals_t *tot, char *err, size_t errlen)
	__attribute__((warn_unused_result));

const char *eng_status_name(eng_status_t s);

/* Rule 1's marketplace-only categories (corpus, dataset): a record of one
 * counts only when a marketplace pushed it, and its seller is tested for
 * related parties.  The reader of the database asks it which records need
 * their seller read. */
bool eng_marketplace_only(int category);

/* Why a group (for a statement: one record) counts toward in->prog or not,
 * decided as eng_settle decides it: rule 1 (the first condition that fails,
 * checked in the order category, dates, jurisdiction, recipients,
 * marketplace-only category, related provider, related seller, facility),
 * then rule 7 (ENG_WHY_PARTNER: *partner is the index into
 * in->partners of the programme that takes it).  *ordinary_rate_bp is the
 * programme's ordinary rate for it (program_rate with e's flags; 0 when rule
 * 1 fails).  Whether a counted group is paid also depends on the rate that
 * applies (rule 3: override, small buyer) and on the enterprise (rule 2);
 * that is the caller's to say. */
typedef enum {
	ENG_WHY_COUNTS,
	ENG_WHY_CATEGORY,
	ENG_WHY_DATES,
	ENG_WHY_JURISDICTION,
	ENG_WHY_RECIPIENT,
	ENG_WHY_MARKETPLACE,
	ENG_WHY_RELATED,
	ENG_WHY_SELLER_RELATED,
	ENG_WHY_FACILITY,
	ENG_WHY_PARTNER,
} eng_why_t;
eng_why_t eng_group_why(const eng_input_t *in, const eng_enterprise_t *e, const eng_group_t *g, int *partner,
			int32_t *ordinary_rate_bp);

/* The rate rule 3 applies to a group that counts (eng_group_why gave
 * ENG_WHY_COUNTS), as eng_settle applies it: the override, else the
 * small-buyer rate (small_buyer: the enterprise's line is a small buyer's,
 * eng_line_t.small_buyer), else the ordinary rate; then rule 9 and rule 10
 * when the group is also eligible for the first programme of prog's stacking
 * group.  *first is that programme's index in in->partners (-1: not stacked)
 * and *first_rate_bp its rate for the group (0 when not stacked). */
int32_t eng_group_rate(const eng_input_t *in, const eng_enterprise_t *e, const eng_group_t *g, bool small_buyer,
		       int *first, int32_t *first_rate_bp);

#endif
