/* output: the one formatter behind every voucherctl listing.
 *
 * A listing is a set of columns (a name and a kind) and rows of text cells, as
 * PostgreSQL returns them in text format ("t"/"f" for booleans, integer text
 * for ints and for money in fen, timestamptz text for timestamps); a NULL cell
 * is SQL NULL.  The same data prints as
 *
 *   table  aligned columns under a header line, widths in terminal display
 *          columns (East Asian wide characters count 2), numbers and money
 *          right-aligned, money in yuan with two decimals, control characters
 *          shown as '?' so that a stored name cannot drive the terminal;
 *   csv    UTF-8 with a BOM first, RFC 4180 quoting, CRLF line ends, a header
 *          row, money in yuan with exactly two decimals, booleans 1/0, and a
 *          text cell starting with = + - @ TAB or CR prefixed with ' so that a
 *          spreadsheet does not run it as a formula (numbers are never altered);
 *   json   an array of objects, money as integer fen, ints as numbers,
 *          booleans true/false, NULL as null, timestamps as RFC 3339 strings.
 *
 * Every function writes to f and returns false if writing failed (ferror). */
#ifndef VOUCHER_CTL_OUTPUT_H
#define VOUCHER_CTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "ctl/ctl.h"

typedef enum {
	OUT_TEXT,      /* any UTF-8 text */
	OUT_INT,       /* an integer */
	OUT_MONEY_FEN, /* an int64 amount in fen */
	OUT_BOOL,      /* "t"/"f" (also "true"/"false", "1"/"0") */
	OUT_TIMESTAMP, /* timestamptz text "YYYY-MM-DD HH:MM:SS[.ffffff]+08[:MM]" */
	OUT_DIVISION,  /* a GB/T 2260 code: in a table "330106 西湖区" (metering/division.h), else the code */
} out_kind_t;

typedef struct out_col {
	const char *name; /* header, and the key in json */
	out_kind_t kind;
} out_col_t;

/* Where the cells come from.  cell() returns the text of (row, col), or NULL
 * for SQL NULL; col is the index into the column descriptions. */
typedef struct out_rows {
	int nrows;
	const char *(*cell)(const struct out_rows *rows, int row, int col);
	const void *data;
	int stride;
} out_rows_t;

/* Rows of a PGresult: column i of cols is column i of the result. */
out_rows_t out_rows_pg(const PGresult *r);
/* Rows of a row-major array of nrows * ncols strings (NULL = SQL NULL), for
 * data computed in C.  The array must outlive the out_rows_t. */
out_rows_t out_rows_array(const char *const *cells, int nrows, int ncols);

/* A listing: every row. */
bool out_list(FILE *f, ctl_format_t fmt, const out_col_t *cols, int ncols, const out_rows_t *rows)
	__attribute__((warn_unused_result));
/* The same with headers for people in table format: labels[i] (e.g. Chinese)
 * instead of cols[i].name; csv and json keep the names (a published contract). */
bool out_list_labelled(FILE *f, ctl_format_t fmt, const out_col_t *cols, const char *const *labels, int ncols,
		       const out_rows_t *rows) __attribute__((warn_unused_result));
bool out_print_labelled(FILE *f, ctl_format_t fmt, const out_col_t *cols, const char *const *labels, int ncols,
			const PGresult *r) __attribute__((warn_unused_result));
/* The same for a PGresult. */
bool out_print(FILE *f, ctl_format_t fmt, const out_col_t *cols, int ncols, const PGresult *r)
	__attribute__((warn_unused_result));
/* One record (row `row` of r): "name: value" lines in table format, a header
 * and one row in csv, one object (not an array) in json. */
bool out_show(FILE *f, ctl_format_t fmt, const out_col_t *cols, int ncols, const PGresult *r, int row)
	__attribute__((warn_unused_result));

/* A document of several sections, for `show` commands that print a record
 * and the lists that belong to it:
 *
 *   out_doc_t d;
 *   out_doc_begin(&d, stdout, ctx->format);
 *   out_doc_record(&d, "provider", cols, n, &rows, 0);
 *   out_doc_list(&d, "certificates", cert_cols, m, &cert_rows);
 *   if (!out_doc_end(&d)) ...
 *
 * table: the record as "name: value" lines, then each list under a "title:"
 * line ("(none)" when empty), sections separated by a blank line.
 * csv: one BOM, then each section as a title row, a header row and its rows,
 * separated by an empty line.
 * json: one object {"title": {record}, "title": [list], ...}; a record section
 * whose row is out of range (row < 0 or >= nrows) is null. */
typedef struct out_doc {
	FILE *f;
	ctl_format_t fmt;
	int sections;
	const char *label;         /* the next section's title in a table */
	const char *const *labels; /* the next section's headers in a table */
} out_doc_t;

void out_doc_begin(out_doc_t *d, FILE *f, ctl_format_t fmt);
void out_doc_record(out_doc_t *d, const char *title, const out_col_t *cols, int ncols, const out_rows_t *rows, int row);
void out_doc_list(out_doc_t *d, const char *title, const out_col_t *cols, int ncols, const out_rows_t *rows);
bool out_doc_end(out_doc_t *d) __attribute__((warn_unused_result));
/* For the next section only, in table format: its title shown as label and
 * its headers as labels (either may be NULL); csv and json keep the names. */
void out_doc_labels(out_doc_t *d, const char *label, const char *const *labels);

/* Terminal display width of UTF-8 text: East Asian wide and fullwidth code
 * points count 2, others 1 (a byte that is not valid UTF-8 counts 1). */
size_t out_display_width(const char *s);

/* One CSV field, RFC 4180: quoted when it holds a comma, quote, CR or LF,
 * quotes doubled; with formula_guard, a cell starting with = + - @ TAB or CR
 * gets a leading ' so that a spreadsheet does not run it as a formula. */
struct buf;
void out_csv_field(struct buf *b, const char *s, bool formula_guard);

#endif
