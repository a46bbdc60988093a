/* program: a compute-voucher programme as data (settlement/programs/NAME.conf).
 *
 * The file format, one INI file per programme version (see
 * settlement/programs/README.md for the full description):
 *
 *   [program]      id, name, kind (compute|corpus|data|model|intelligent;
 *                  absent: compute), source, valid_from, valid_to (optional),
 *                  payee (enterprise|provider), recipients (enterprise[,
 *                  institution]; absent: enterprise), pool_yuan (optional: no
 *                  pool), exclusivity_group + exclusivity_order (optional)
 *   [jurisdiction] divisions (codes or 4-digit prefixes with '*'),
 *                  optional_divisions, optional_enabled (yes|no)
 *   [records]      categories
 *   [rates]        rate = BP [category=C] [class=A|B] [flag=F]   (repeatable; first match wins)
 *   [small_buyer]  flag, max_ytd_yuan, categories, rate_bp       (optional section)
 *   [caps]         cap = YUAN [flag=F]                           (repeatable; highest matching wins)
 *   [overrides]    max_rate_bp, max_cap_yuan (a number or "unlimited"); absent: refused;
 *                  requires_flag (a flag the enterprise must hold), cap_raise_only (yes/no)
 *   [stacking]     group, order, ceiling = A:BP, B:BP; match_flag + match_rate = A:BP, B:BP
 *                  (optional section; match_* only in a member listed after the first)
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
	FLAG_INTELLIGENT_MATCH, /* 免审配套 (Hangzhou measures (一)), docs/policies.md rule 10 */
	FLAG_COUNT
} flag_t;

/* voucher kinds (docs/policies.md "Terms"): what a programme subsidises */
typedef enum {
	KIND_COMPUTE,     /* 算力券 */
	KIND_CORPUS,      /* 语料券 */
	KIND_DATA,        /* 数据券 */
	KIND_MODEL,       /* 模型券 */
	KIND_INTELLIGENT, /* 智能券 */
	KIND_COUNT
} voucher_kind_t;

/* who may receive (docs/policies.md rule 1), by the credit code's
 * registration-authority code, its first character */
typedef enum {
	RECIPIENT_ENTERPRISE,  /* 9 */
	RECIPIENT_INSTITUTION, /* 1 (机构编制) or 5 (民政): universities, research institutes */
	RECIPIENT_COUNT
} recipient_t;

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
	int kind;                   /* voucher_kind_t */
	bool recipients[RECIPIENT_COUNT];

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

	/* stacking (docs/policies.md rule 9): "" = in no stacking group */
	char stacking_group[65];
	int stacking_order;          /* 1 = the group's first programme, which keeps its rate */
	int32_t stacking_ceiling[2]; /* bp, [0] class A, [1] class B: the most the members pay together */
	/* 免审配套 (rule 10): enterprises holding match_flag get match_rate on
	 * records also eligible for the group's first programme */
	int match_flag;        /* -1: none */
	int32_t match_rate[2]; /* bp, [0] class A, [1] class B */
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
/* "compute" ... and the Chinese name 算力券 ...; -1 if unknown */
const char *voucher_kind_name(voucher_kind_t k);
const char *voucher_kind_zh(voucher_kind_t k);
int voucher_kind_parse(const char *s);
/* "enterprise", "institution"; -1 if unknown */
const char *recipient_name(recipient_t r);
int recipient_parse(const char *s);
/* Who a credit code is, by its first character (9: enterprise; 1 or 5:
 * institution); -1: neither. */
int recipient_of_uscc(const char *uscc);
/* Is q another programme of p's exclusivity group or of its stacking group
 * (a partner of p's runs: rules 7 and 9)? */
bool program_shares_group(const program_t *p, const program_t *q);
/* The stacking ceiling or the match rate of a facility class ('A' or 'B'). */
int32_t program_class_bp(const int32_t bp[2], char cls);

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
