/* pages: the pure helpers of the 资金概览, 一事一议 and 审计 pages
 * (page_overview.c, page_overrides.c, page_audit.c), declared here so that
 * the unit tests can reach them. */
#ifndef VOUCHER_CONSOLE_PAGES_H
#define VOUCHER_CONSOLE_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* --- page_overview.c */
/* The month (1..12) of "YYYY-MM" when YYYY is year; 0 otherwise. */
int overview_month(const char *month, const char *year);

/* --- page_overrides.c */
/* A rate typed as a percentage ("60", "60.5", "60.25", "7.5%") into basis
 * points (6000, 6050, 6025, 750): digits with at most two decimals and an
 * optional '%', blanks around it allowed, at most 6 digits before the point.
 * False on anything else.  The range (1..10000 bp, the programme's ceiling)
 * is the database's to refuse. */
bool override_parse_percent(const char *s, int64_t *bp);
/* An amount typed in yuan ("1000000", "1,000,000.50", " 12.3 ") into fen:
 * commas between digits and blanks around it allowed, at most two
 * decimals, not negative.  False on anything else. */
bool override_parse_yuan(const char *s, int64_t *fen);
/* Basis points as a percentage for people: 6000 "60%", 6050 "60.5%", 6025
 * "60.25%"; out >= 32 bytes. */
void override_format_percent(int64_t bp, char *out, size_t outlen);

/* --- page_audit.c */
/* A checkpoint's text as pasted into a form, made into the file's bytes:
 * CR LF and lone CR become LF (browsers send textarea lines with CR LF),
 * blank lines and blanks before the first line and after the last are
 * dropped, and the text ends with one LF. */
void audit_checkpoint_normalize(const char *in, buf_t *out);
/* The Chinese of an exceptions kind (audit/exceptions.h), or the kind. */
const char *zh_exception_kind(const char *kind);

#endif
