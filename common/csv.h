/* csv: an RFC 4180 reader over text held in memory, and the writer of one
 * field.
 *
 * Records end with CRLF or LF; a quoted field may hold commas, doubled quotes
 * and line breaks.  Pure: no I/O, no database; the caller reads the file and
 * checks its encoding.  A record has at most CSV_MAX_FIELDS fields. */
#ifndef VOUCHER_CSV_H
#define VOUCHER_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define CSV_MAX_FIELDS 32

typedef struct csv {
	const char *p, *end;
	long line; /* physical line of p, 1-based */
} csv_t;

typedef struct csv_rec {
	buf_t text; /* the fields, each NUL-terminated */
	size_t off[CSV_MAX_FIELDS];
	int n;
	long line; /* the line the record starts on */
} csv_rec_t;

#define CSV_REC_INIT                                \
	{                                           \
		.text = BUF_INIT, .n = 0, .line = 0 \
	}

/* Starts reading data[0..len) at line 1, after a UTF-8 byte order mark if
 * the text starts with one. */
void csv_init(csv_t *c, const char *data, size_t len);
/* Reads the next record.  Returns 1 and fills r, 0 at the end of the input,
 * -1 with a message in err (the reader then stands at the next line).  A
 * blank line is returned as a record of one empty field. */
int csv_next(csv_t *c, csv_rec_t *r, char *err, size_t errlen);
/* Field i (0 <= i < r->n), NUL-terminated. */
const char *csv_field(const csv_rec_t *r, int i);
void csv_rec_free(csv_rec_t *r);

/* Appends one field, RFC 4180: quoted when it holds a comma, quote, CR or LF,
 * quotes doubled; with formula_guard, a field starting with = + - @ TAB or CR
 * gets a leading ' so that a spreadsheet does not run it as a formula. */
void csv_put_field(buf_t *b, const char *s, bool formula_guard);

#endif
