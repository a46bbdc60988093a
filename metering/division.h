/* division: the GB/T 2260 administrative division codes (行政区划代码) shipped
 * with voucherd, by code.
 *
 * The table is metering/gb2260.txt (its header says the source, the edition
 * and what it covers), compiled in by metering/gen_divisions.sh: every
 * province and prefecture of China, every county-level division of the
 * provinces complete at county level (浙江省, 江苏省), and their codes
 * abolished since about 2011 with their successors.  Pure: no I/O. */
#ifndef VOUCHER_DIVISION_H
#define VOUCHER_DIVISION_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { DIV_PROVINCE, DIV_PREFECTURE, DIV_COUNTY } division_level_t;

#define DIVISION_SUCCESSORS 3

typedef struct division {
	char code[7];
	const char *name;      /* 西湖区 */
	const char *full_name; /* 浙江省 杭州市 西湖区 (grouping names such as 市辖区 left out) */
	division_level_t level;
	bool grouping; /* 市辖区, 县, 省直辖县级行政区划: a grouping of the list, not a place */
	int abolished; /* the year the code was abolished; 0 while in force */
	/* the codes it was merged into, the main one first; NULL after the last */
	const char *successor[DIVISION_SUCCESSORS + 1];
} division_t;

/* The generated table, sorted by code, and the provinces (two digits) complete
 * at county level. */
extern const division_t division_table[];
extern const size_t division_count;
extern const char *const division_complete[];

/* The entry of a six-digit code, in force or abolished, or NULL when it is not
 * listed (or code is not six digits). */
const division_t *division_find(const char *code);

/* Whether every county-level code of code's province is listed. */
bool division_province_complete(const char *code);

typedef enum {
	DIVISION_IN_FORCE,  /* listed and in force */
	DIVISION_UNLISTED,  /* a county of a province not complete at county level,
			       whose province and prefecture exist: accepted */
	DIVISION_ABOLISHED, /* listed, abolished: use a successor */
	DIVISION_UNKNOWN,   /* no such division */
} division_verdict_t;

/* What the table says of a six-digit county-level code.  *found (may be NULL)
 * receives the entry when listed.  For ABOLISHED and UNKNOWN, why receives one
 * line saying what is wrong and what to use instead, e.g.
 *   330103 下城区 was abolished in 2021 (merged into 330105 拱墅区); use 330105
 * For UNLISTED, why says what was checked. */
division_verdict_t division_check(const char *code, const division_t **found, char *why, size_t whylen);

/* For people: "330106 西湖区" when the code is listed (its short name), else
 * the code alone; abolished codes get "（已撤销）" after the name. */
void division_label(const char *code, char *out, size_t outlen);

#endif
