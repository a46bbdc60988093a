/* output: table, csv and json listings.  See output.h. */
#include "ctl/output.h"
#include "metering/division.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/csv.h"
#include "common/money.h"

static const char bom[] = "\xef\xbb\xbf";

/* ------------------------------------------------------------------ rows */

static const char *pg_cell(const out_rows_t *rows, int row, int col)
{
	const PGresult *r = rows->data;
	if (col >= PQnfields(r) || PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

out_rows_t out_rows_pg(const PGresult *r)
{
	out_rows_t o = {.nrows = r ? PQntuples(r) : 0, .cell = pg_cell, .data = r, .stride = 0};
	return o;
}

static const char *array_cell(const out_rows_t *rows, int row, int col)
{
	const char *const *cells = rows->data;
	if (col >= rows->stride)
		return NULL;
	return cells[(size_t)row * (size_t)rows->stride + (size_t)col];
}

out_rows_t out_rows_array(const char *const *cells, int nrows, int ncols)
{
	out_rows_t o = {.nrows = nrows, .cell = array_cell, .data = cells, .stride = ncols};
	return o;
}

/* ------------------------------------------------------------------ UTF-8 */

/* Decodes one well-formed UTF-8 character at p into *cp and returns its
 * length, or 0 if p does not start a well-formed character (overlong forms,
 * surrogates and values above U+10FFFF are not well-formed). */
static size_t utf8_decode(const unsigned char *p, uint32_t *cp)
{
	unsigned char c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t n;
	uint32_t v, min;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* a NUL stops here: no overread */
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static bool wide(uint32_t c)
{
	return (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) ||
	       (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	       (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x20000 && c <= 0x3fffd);
}

size_t out_display_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;
	while (*p) {
		uint32_t cp;
		size_t n = utf8_decode(p, &cp);
		if (n == 0) {
			w++;
			p++;
			continue;
		}
		w += wide(cp) ? 2 : 1;
		p += n;
	}
	return w;
}

/* Appends s for a terminal: C0 and C1 control characters, DEL and bytes that
 * are not well-formed UTF-8 become '?', so that the result has a known width
 * and cannot move the cursor or send escape sequences. */
static void put_terminal_safe(buf_t *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t cp;
		size_t n = utf8_decode(p, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			buf_putc(b, '?');
			p += n ? n : 1;
			continue;
		}
		buf_append(b, p, n);
		p += n;
	}
}

/* ------------------------------------------------------------------ values */

static bool parse_i64(const char *s, int64_t *v)
{
	return money_parse_i64(s, v);
}

/* -?(0|[1-9][0-9]*): safe to print as a JSON number */
static bool json_integer(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (*p == '0')
		return p[1] == '\0' && p == s; /* "0", not "-0" */
	if (*p < '1' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

/* 1 true, 0 false, -1 neither */
static int parse_bool(const char *s)
{
	if (!strcmp(s, "t") || !strcmp(s, "true") || !strcmp(s, "1"))
		return 1;
	if (!strcmp(s, "f") || !strcmp(s, "false") || !strcmp(s, "0"))
		return 0;
	return -1;
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Splits PostgreSQL's ISO timestamptz text "YYYY-MM-DD HH:MM:SS[.f+]+HH[:MM[:SS]]"
 * into its parts; false for anything else (infinity, BC, another DateStyle). */
struct ts_parts {
	const char *frac; /* ".123" or "" */
	size_t fraclen;
	const char *off; /* "+08", "-05:30" */
};

static bool ts_split(const char *s, struct ts_parts *t)
{
	if (strlen(s) < 22 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    s[10] != ' ' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
	    !digits(s + 17, 2))
		return false;
	const char *p = s + 19;
	t->frac = p;
	if (*p == '.') {
		p++;
		if (!digits(p, 1))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	t->fraclen = (size_t)(p - t->frac);
	if ((*p != '+' && *p != '-') || !digits(p + 1, 2))
		return false;
	t->off = p;
	const char *q = p + 3;
	while (*q == ':' && digits(q + 1, 2))
		q += 3;
	return *q == '\0';
}

/* RFC 3339: 'T' separator, offset with minutes ("+08" -> "+08:00"). */
static void put_ts_rfc3339(buf_t *b, const char *s)
{
	struct ts_parts t;
	if (!ts_split(s, &t)) {
		buf_puts(b, s);
		return;
	}
	buf_append(b, s, 10);
	buf_putc(b, 'T');
	buf_append(b, s + 11, 8);
	buf_append(b, t.frac, t.fraclen);
	if (strlen(t.off) == 3) {
		buf_puts(b, t.off);
		buf_puts(b, ":00");
	} else {
		buf_append(b, t.off, 6); /* seconds of a historic LMT offset are dropped */
	}
}

/* For people: to the second, "2026-03-02 10:00:00+08". */
static void put_ts_table(buf_t *b, const char *s)
{
	struct ts_parts t;
	if (!ts_split(s, &t)) {
		buf_puts(b, s);
		return;
	}
	buf_append(b, s, 19);
	buf_puts(b, t.off);
}

/* The text of a cell for table or csv (before csv quoting). */
static void put_plain(buf_t *b, ctl_format_t fmt, out_kind_t kind, const char *v)
{
	if (!v)
		return;
	switch (kind) {
	case OUT_MONEY_FEN: {
		int64_t fen;
		if (parse_i64(v, &fen)) {
			char y[32];
			money_format_yuan(fen, y, sizeof y);
			buf_puts(b, y);
			return;
		}
		break;
	}
	case OUT_BOOL: {
		int t = parse_bool(v);
		if (t >= 0) {
			if (fmt == FMT_CSV)
				buf_puts(b, t ? "1" : "0");
			else
				buf_puts(b, t ? "yes" : "no");
			return;
		}
		break;
	}
	case OUT_TIMESTAMP:
		if (fmt == FMT_CSV)
			put_ts_rfc3339(b, v);
		else
			put_ts_table(b, v);
		return;
	case OUT_DIVISION:
		if (fmt == FMT_TABLE) {
			char label[160];
			division_label(v, label, sizeof label);
			buf_puts(b, label);
			return;
		}
		break;
	case OUT_TEXT:
	case OUT_INT: break;
	}
	buf_puts(b, v);
}

static bool right_aligned(out_kind_t k)
{
	return k == OUT_INT || k == OUT_MONEY_FEN;
}

/* ------------------------------------------------------------------ csv */

void out_csv_field(buf_t *b, const char *s, bool formula_guard)
{
	csv_put_field(b, s, formula_guard);
}

static void csv_header(buf_t *b, const out_col_t *cols, int ncols)
{
	for (int i = 0; i < ncols; i++) {
		if (i)
			buf_putc(b, ',');
		out_csv_field(b, cols[i].name, true);
	}
	buf_puts(b, "\r\n");
}

static void csv_row(buf_t *b, const out_col_t *cols, int ncols, const out_rows_t *rows, int row)
{
	buf_t v = BUF_INIT;
	for (int i = 0; i < ncols; i++) {
		if (i)
			buf_putc(b, ',');
		buf_reset(&v);
		put_plain(&v, FMT_CSV, cols[i].kind, rows->cell(rows, row, i));
		out_csv_field(b, v.data ? v.data : "", cols[i].kind == OUT_TEXT);
	}
	buf_puts(b, "\r\n");
	buf_free(&v);
}

/* ------------------------------------------------------------------ json */

static void json_value(buf_t *b, out_kind_t kind, const char *v)
{
	if (!v) {
		buf_puts(b, "null");
		return;
	}
	switch (kind) {
	case OUT_INT:
		if (json_integer(v)) {
			buf_puts(b, v);
			return;
		}
		break;
	case OUT_MONEY_FEN: {
		int64_t fen;
		if (parse_i64(v, &fen)) {
			buf_printf(b, "%" PRId64, fen);
			return;
		}
		break;
	}
	case OUT_BOOL: {
		int t = parse_bool(v);
		if (t >= 0) {
			buf_puts(b, t ? "true" : "false");
			return;
		}
		break;
	}
	case OUT_TIMESTAMP: {
		buf_t ts = BUF_INIT;
		put_ts_rfc3339(&ts, v);
		buf_json_str(b, ts.data);
		buf_free(&ts);
		return;
	}
	case OUT_TEXT:
	case OUT_DIVISION: break;
	}
	buf_json_str(b, v);
}

static void json_object(buf_t *b, const out_col_t *cols, int ncols, const out_rows_t *rows, int row)
{
	buf_putc(b, '{');
	for (int i = 0; i < ncols; i++) {
		if (i)
			buf_puts(b, ", ");
		buf_json_str(b, cols[i].name);
		buf_puts(b, ": ");
		json_value(b, cols[i].kind, rows->cell(rows, row, i));
	}
	buf_putc(b, '}');
}

/* "[\n<indent>  {...},\n...\n<indent>]" or "[]" */
static bool json_array(FILE *f, const char *indent, const out_col_t *cols, int ncols, const out_rows_t *rows)
{
	if (rows->nrows == 0)
		return fputs("[]", f) >= 0;
	buf_t b = BUF_INIT;
	buf_puts(&b, "[\n");
	bool ok = true;
	for (int r = 0; r < rows->nrows && ok; r++) {
		buf_puts(&b, indent);
		buf_puts(&b, "  ");
		json_object(&b, cols, ncols, rows, r);
		buf_puts(&b, r + 1 < rows->nrows ? ",\n" : "\n");
		if (b.len >= 65536) {
			ok = fwrite(b.data, 1, b.len, f) == b.len;
			buf_reset(&b);
		}
	}
	buf_puts(&b, indent);
	buf_putc(&b, ']');
	if (ok)
		ok = fwrite(b.data, 1, b.len, f) == b.len;
	buf_free(&b);
	return ok;
}

/* ------------------------------------------------------------------ table */

static void pad(buf_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_putc(b, ' ');
}

static char *table_cell(out_kind_t kind, const char *v)
{
	buf_t plain = BUF_INIT, safe = BUF_INIT;
	put_plain(&plain, FMT_TABLE, kind, v);
	put_terminal_safe(&safe, plain.data ? plain.data : "");
	buf_free(&plain);
	return buf_steal(&safe);
}

/* One line of a table: the header (names), a rule (names NULL, cells NULL)
 * or a row of display cells. */
static void table_line(buf_t *b, const char *indent, const out_col_t *cols, int ncols, const size_t *width,
		       char *const *cells)
{
	buf_puts(b, indent);
	for (int c = 0; c < ncols; c++) {
		if (c)
			buf_puts(b, "  ");
		if (!cells) {
			for (size_t i = 0; i < width[c]; i++)
				buf_putc(b, '-');
			continue;
		}
		size_t w = out_display_width(cells[c]);
		if (right_aligned(cols[c].kind)) {
			pad(b, width[c] - w);
			buf_puts(b, cells[c]);
		} else {
			buf_puts(b, cells[c]);
			pad(b, width[c] - w);
		}
	}
	while (b->len && b->data[b->len - 1] == ' ') /* no trailing blanks */
		b->len--;
	buf_putc(b, '\n');
}

/* labels: the headers for people (NULL: the column names) */
static bool table_list(FILE *f, const char *indent, const out_col_t *cols, const char *const *labels, int ncols,
		       const out_rows_t *rows)
{
	size_t n = (size_t)rows->nrows * (size_t)ncols;
	char **cells = xcalloc(n ? n : 1, sizeof *cells);
	char **names = xcalloc((size_t)ncols, sizeof *names);
	size_t *width = xcalloc((size_t)ncols, sizeof *width);
	for (int c = 0; c < ncols; c++) {
		names[c] = table_cell(OUT_TEXT, labels ? labels[c] : cols[c].name);
		width[c] = out_display_width(names[c]);
	}
	for (int r = 0; r < rows->nrows; r++) {
		for (int c = 0; c < ncols; c++) {
			char *s = table_cell(cols[c].kind, rows->cell(rows, r, c));
			size_t w = out_display_width(s);
			if (w > width[c])
				width[c] = w;
			cells[(size_t)r * (size_t)ncols + (size_t)c] = s;
		}
	}
	buf_t b = BUF_INIT;
	table_line(&b, indent, cols, ncols, width, names);
	table_line(&b, indent, cols, ncols, width, NULL);
	bool ok = true;
	for (int r = 0; r < rows->nrows && ok; r++) {
		table_line(&b, indent, cols, ncols, width, cells + (size_t)r * (size_t)ncols);
		if (b.len >= 65536) {
			ok = fwrite(b.data, 1, b.len, f) == b.len;
			buf_reset(&b);
		}
	}
	if (ok && b.len)
		ok = fwrite(b.data, 1, b.len, f) == b.len;
	buf_free(&b);
	for (size_t i = 0; i < n; i++)
		free(cells[i]);
	for (int c = 0; c < ncols; c++)
		free(names[c]);
	free(width);
	free(names);
	free(cells);
	return ok;
}

/* "name:  value" lines, values aligned */
static bool table_record(FILE *f, const char *indent, const out_col_t *cols, const char *const *labels, int ncols,
			 const out_rows_t *rows, int row)
{
	size_t kw = 0;
	for (int c = 0; c < ncols; c++) {
		size_t w = out_display_width(labels ? labels[c] : cols[c].name);
		if (w > kw)
			kw = w;
	}
	buf_t b = BUF_INIT;
	for (int c = 0; c < ncols; c++) {
		char *v = table_cell(cols[c].kind, rows->cell(rows, row, c));
		buf_puts(&b, indent);
		const char *key = labels ? labels[c] : cols[c].name;
		put_terminal_safe(&b, key);
		buf_putc(&b, ':');
		if (*v) {
			pad(&b, kw - out_display_width(key) + 1);
			buf_puts(&b, v);
		}
		buf_putc(&b, '\n');
		free(v);
	}
	bool ok = fwrite(b.data ? b.data : "", 1, b.len, f) == b.len;
	buf_free(&b);
	return ok;
}

/* ------------------------------------------------------------------ public */

static bool finish(FILE *f, bool ok)
{
	if (fflush(f) != 0)
		ok = false;
	return ok && !ferror(f);
}

bool out_list(FILE *f, ctl_format_t fmt, const out_col_t *cols, int ncols, const out_rows_t *rows)
{
	return out_list_labelled(f, fmt, cols, NULL, ncols, rows);
}

bool out_list_labelled(FILE *f, ctl_format_t fmt, const out_col_t *cols, const char *const *labels, int ncols,
		       const out_rows_t *rows)
{
	bool ok = true;
	switch (fmt) {
	case FMT_TABLE: ok = table_list(f, "", cols, labels, ncols, rows); break;
	case FMT_CSV: {
		buf_t b = BUF_INIT;
		buf_puts(&b, bom);
		csv_header(&b, cols, ncols);
		for (int r = 0; r < rows->nrows && ok; r++) {
			csv_row(&b, cols, ncols, rows, r);
			if (b.len >= 65536) {
				ok = fwrite(b.data, 1, b.len, f) == b.len;
				buf_reset(&b);
			}
		}
		if (ok && b.len)
			ok = fwrite(b.data, 1, b.len, f) == b.len;
		buf_free(&b);
		break;
	}
	case FMT_JSON: ok = json_array(f, "", cols, ncols, rows) && fputc('\n', f) != EOF; break;
	}
	return finish(f, ok);
}

bool out_print(FILE *f, ctl_format_t fmt, const out_col_t *cols, int ncols, const PGresult *r)
{
	out_rows_t rows = out_rows_pg(r);
	return out_list(f, fmt, cols, ncols, &rows);
}

bool out_print_labelled(FILE *f, ctl_format_t fmt, const out_col_t *cols, const char *const *labels, int ncols,
			const PGresult *r)
{
	out_rows_t rows = out_rows_pg(r);
	return out_list_labelled(f, fmt, cols, labels, ncols, &rows);
}

bool out_show(FILE *f, ctl_format_t fmt, const out_col_t *cols, int ncols, const PGresult *r, int row)
{
	out_rows_t rows = out_rows_pg(r);
	bool ok = true;
	buf_t b = BUF_INIT;
	if (row < 0 || row >= rows.nrows)
		return finish(f, fmt == FMT_JSON ? fputs("null\n", f) >= 0 : true);
	switch (fmt) {
	case FMT_TABLE: ok = table_record(f, "", cols, NULL, ncols, &rows, row); break;
	case FMT_CSV:
		buf_puts(&b, bom);
		csv_header(&b, cols, ncols);
		csv_row(&b, cols, ncols, &rows, row);
		ok = fwrite(b.data, 1, b.len, f) == b.len;
		break;
	case FMT_JSON:
		json_object(&b, cols, ncols, &rows, row);
		buf_putc(&b, '\n');
		ok = fwrite(b.data, 1, b.len, f) == b.len;
		break;
	}
	buf_free(&b);
	return finish(f, ok);
}

/* ------------------------------------------------------------------ documents */

void out_doc_begin(out_doc_t *d, FILE *f, ctl_format_t fmt)
{
	d->f = f;
	d->fmt = fmt;
	d->sections = 0;
	d->label = NULL;
	d->labels = NULL;
}

void out_doc_labels(out_doc_t *d, const char *label, const char *const *labels)
{
	d->label = label;
	d->labels = labels;
}

/* What goes between sections, and the section's title. */
static void doc_section(out_doc_t *d, const char *title, bool heading)
{
	buf_t b = BUF_INIT;
	switch (d->fmt) {
	case FMT_TABLE:
		if (d->sections)
			buf_putc(&b, '\n');
		if (heading) {
			put_terminal_safe(&b, d->label ? d->label : title);
			buf_puts(&b, ":\n");
		}
		break;
	case FMT_CSV:
		buf_puts(&b, d->sections ? "\r\n" : bom);
		out_csv_field(&b, title, true);
		buf_puts(&b, "\r\n");
		break;
	case FMT_JSON:
		buf_puts(&b, d->sections ? ",\n  " : "{\n  ");
		buf_json_str(&b, title);
		buf_puts(&b, ": ");
		break;
	}
	if (b.len)
		(void)!fwrite(b.data, 1, b.len, d->f); /* errors are seen by out_doc_end */
	buf_free(&b);
	d->sections++;
}

void out_doc_record(out_doc_t *d, const char *title, const out_col_t *cols, int ncols, const out_rows_t *rows, int row)
{
	bool none = row < 0 || row >= rows->nrows;
	/* the first record of a document needs no heading in a table */
	doc_section(d, title, d->sections > 0 || none);
	buf_t b = BUF_INIT;
	switch (d->fmt) {
	case FMT_TABLE:
		if (none)
			fputs("  (none)\n", d->f);
		else
			(void)table_record(d->f, d->sections > 1 ? "  " : "", cols, d->labels, ncols, rows, row);
		break;
	case FMT_CSV:
		csv_header(&b, cols, ncols);
		if (!none)
			csv_row(&b, cols, ncols, rows, row);
		break;
	case FMT_JSON:
		if (none)
			buf_puts(&b, "null");
		else
			json_object(&b, cols, ncols, rows, row);
		break;
	}
	if (b.len)
		(void)!fwrite(b.data, 1, b.len, d->f);
	buf_free(&b);
	d->label = NULL;
	d->labels = NULL;
}

void out_doc_list(out_doc_t *d, const char *title, const out_col_t *cols, int ncols, const out_rows_t *rows)
{
	doc_section(d, title, true);
	buf_t b = BUF_INIT;
	switch (d->fmt) {
	case FMT_TABLE:
		if (rows->nrows == 0)
			fputs("  (none)\n", d->f);
		else
			(void)table_list(d->f, "  ", cols, d->labels, ncols, rows);
		break;
	case FMT_CSV:
		csv_header(&b, cols, ncols);
		for (int r = 0; r < rows->nrows; r++)
			csv_row(&b, cols, ncols, rows, r);
		break;
	case FMT_JSON: (void)json_array(d->f, "  ", cols, ncols, rows); break;
	}
	if (b.len)
		(void)!fwrite(b.data, 1, b.len, d->f);
	buf_free(&b);
	d->label = NULL;
	d->labels = NULL;
}

bool out_doc_end(out_doc_t *d)
{
	if (d->fmt == FMT_JSON)
		fputs(d->sections ? "\n}\n" : "{}\n", d->f);
	return finish(d->f, true);
}
