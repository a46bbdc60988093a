/* csv: an RFC 4180 reader over text held in memory (see common/csv.h). */
#include "common/csv.h"

#include <stdio.h>
#include <string.h>

void csv_init(csv_t *c, const char *data, size_t len)
{
	c->p = data;
	c->end = len ? data + len : data;
	c->line = 1;
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		c->p += 3;
}

void csv_rec_free(csv_rec_t *r)
{
	buf_free(&r->text);
}

const char *csv_field(const csv_rec_t *r, int i)
{
	return r->text.data + r->off[i];
}

/* Skips to the start of the next line after an error. */
static void csv_skip_line(csv_t *c)
{
	while (c->p < c->end && *c->p != '\n')
		c->p++;
	if (c->p < c->end) {
		c->p++;
		c->line++;
	}
}

/* Reads the next record.  Returns 1 and fills r, 0 at the end of the input,
 * -1 with a message in err (the reader then stands at the next line).  A
 * blank line is returned as a record of one empty field. */
int csv_next(csv_t *c, csv_rec_t *r, char *err, size_t errlen)
{
	if (c->p >= c->end)
		return 0;
	r->line = c->line;
	r->n = 0;
	buf_reset(&r->text);
	for (;;) {
		if (r->n == CSV_MAX_FIELDS) {
			snprintf(err, errlen, "more than %d fields", CSV_MAX_FIELDS);
			csv_skip_line(c);
			return -1;
		}
		r->off[r->n] = r->text.len;
		if (c->p < c->end && *c->p == '"') {
			long qline = c->line;
			c->p++;
			for (;;) {
				if (c->p >= c->end) {
					snprintf(err, errlen, "the quoted field opened on line %ld is never closed",
						 qline);
					return -1;
				}
				if (*c->p == '"') {
					if (c->p + 1 < c->end && c->p[1] == '"') {
						buf_putc(&r->text, '"');
						c->p += 2;
						continue;
					}
					c->p++;
					break;
				}
				if (*c->p == '\n')
					c->line++;
				buf_putc(&r->text, *c->p++);
			}
			if (c->p < c->end && *c->p != ',' && *c->p != '\n' &&
			    !(*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')) {
				snprintf(err, errlen,
					 "text after the closing quote of field %d (a quote inside a "
					 "quoted field must be doubled: \"\")",
					 r->n + 1);
				csv_skip_line(c);
				return -1;
			}
		} else {
			while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
				if (*c->p == '"') {
					snprintf(err, errlen,
						 "a quote inside unquoted field %d (put the whole field in "
						 "quotes and double the quote: \"\")",
						 r->n + 1);
					csv_skip_line(c);
					return -1;
				}
				buf_putc(&r->text, *c->p++);
			}
		}
		buf_putc(&r->text, '\0');
		r->n++;
		if (c->p >= c->end)
			return 1;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		if (*c->p == '\r') {
			if (c->p + 1 < c->end && c->p[1] == '\n') {
				c->p += 2;
				c->line++;
				return 1;
			}
			snprintf(err, errlen, "a carriage return without a line feed");
			csv_skip_line(c);
			return -1;
		}
		/* '\n' */
		c->p++;
		c->line++;
		return 1;
	}
}

void csv_put_field(buf_t *b, const char *s, bool formula_guard)
{
	bool guard = formula_guard && s[0] && strchr("=+-@\t\r", s[0]) != NULL;
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		buf_putc(b, '"');
	if (guard)
		buf_putc(b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			buf_putc(b, '"');
		buf_putc(b, *p);
	}
	if (quote)
		buf_putc(b, '"');
}
