/* program: a compute-voucher programme as data (settlement/programs/NAME.conf).
 *
 * The file format, one INI file per programme version (see
 * settlement/programs/README.md for the full description):
 *
 *   [program]      id, name, source, valid_from, valid_to (optional), payee
 *                  (enterprise|provider), pool_yuan (optional: no pool),
 *                  exclusivity_group + exclusivity_order (optional)
 *   [jurisdiction] divisions (codes or 4-digit prefixes with '*'),
 *                  optional_divisions, optional_enabled (yes|no)
 *   [records]      categories
 *   [rates]        rate = BP [category=C] [class=A|B] [flag=F]   (repeatable; first match wins)
 *   [small_buyer]  flag, max_ytd_yuan, categories, rate_bp       (optional section)
 *   [caps]         cap = YUAN [flag=F]                           (repeatable; highest matching wins)
 *   [overrides]    max_rate_bp, max_cap_yuan (a number or "unlimited"); absent: refused;
 *                  requires_flag (a flag the enterprise must hold), cap_raise_only (yes/no)
 *
 * Amounts in the file are yuan (at most two decimals); in memory fen.
 * A program_t is immutable after program_parse(). */
#ifndef VOUCHER_PROGRAM_H
#define VOUCHER_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* record categories (docs/protocol.md) */
typedef enum {
	CAT_INTELLIGENT_COMPUTE,
	CAT_SUPERCOMPUTING,
	CAT_GENERAL_COMPUTE,
	CAT_MODEL_SERVICE,
	CAT_CORPUS,
	CAT_DATASET,
	CAT_MODEL_PURCHASE,
	CAT_COUNT
} category_t;

/* enterprise flags (docs/policies.md "Terms"); bit i = 1 << i */
typedef enum {
	FLAG_SME,
	FLAG_MODEL_DEVELOPER,
	FLAG_MAAS_BUILDER,
	FLAG_MODEL_REGISTERED,
	FLAG_FOUNDATION_MODEL,
	FLAG_CREDIT_BLACKLISTED,
	FLAG_COUNT
} flag_t;

#define PROG_MAX_DIVISIONS 64
#define PROG_MAX_RULES 32

typedef struct rate_rule {
	int32_t rate_bp;
	int category; /* -1: any */
	char cls;     /* 0: any, 'A' or 'B' */
	int flag;     /* -1: any */
} rate_rule_t;

typedef struct cap_rule {
	int64_t cap_fen;
	int flag; /* -1: the default cap */
} cap_rule_t;

typedef struct program {
	char id[65];
	char name[201];
	char source[301];
	char valid_from[11]; /* YYYY-MM-DD, inclusive */
	char valid_to[11];   /* "" = open; inclusive */
	bool payee_provider; /* false: the enterprise is paid (后补助); true: the provider (兑付) */
	bool has_pool;
	int64_t pool_fen;           /* per year */
	char exclusivity_group[65]; /* "" = none */
	int exclusivity_order;      /* 1 = listed first */

	/* divisions: six digits, or four digits for a prefix ("3301*") */
	char divisions[PROG_MAX_DIVISIONS][7];
	int ndivisions;
	char optional_divisions[PROG_MAX_DIVISIONS][7];
	int noptional;
	bool optional_enabled;

	bool categories[CAT_COUNT];

	rate_rule_t rates[PROG_MAX_RULES];
	int nrates;

	bool has_small_buyer;
	int small_buyer_flag;
	int64_t small_buyer_max_ytd_fen; /* inclusive */
	bool small_buyer_categories[CAT_COUNT];
	int32_t small_buyer_rate_bp;

	cap_rule_t caps[PROG_MAX_RULES];
	int ncaps;

	bool override_rate_allowed;
	int32_t override_max_rate_bp;
	bool override_cap_allowed;
	bool override_cap_unlimited;
	int64_t override_max_cap_fen;
	int override_flag;            /* -1: any enterprise; else only one holding this flag */
	bool override_cap_raise_only; /* a cap override must be above the default cap */
} program_t;

/* Parses a program file's text.  On failure returns false with
 * "line N: what is wrong" (or "section.key: ...") in err. */
bool program_parse(const char *text, size_t len, program_t *p, char *err, size_t errlen)
	__attribute__((warn_unused_result));

const char *category_name(category_t c);
/* -1 if unknown */
int category_parse(const char *s);
const char *flag_name(flag_t f);
int flag_parse(const char *s);

/* Is this division (six digits) in the programme's jurisdiction? */
bool program_in_jurisdiction(const program_t *p, const char *division);
/* Is the day (YYYY-MM-DD) within the programme's dates? */
bool program_in_dates(const program_t *p, const char *day);
/* The rate for a record of this category and facility class, for an
 * enterprise with these flags (bit set); 0 if no rule matches. */
int32_t program_rate(const program_t *p, int category, char cls, uint32_t flags);
/* The cap for an enterprise with these flags: the highest matching cap line. */
int64_t program_cap(const program_t *p, uint32_t flags);

#endif
