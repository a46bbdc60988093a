#include "console/html.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/money.h"

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0.  No
 * overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned min;
	unsigned cp;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, min = 0x80, cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, min = 0x800, cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, min = 0x10000, cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

static const char replacement[] = "\xEF\xBF\xBD";

/* Writes s escaped: strict escapes every ASCII non-alphanumeric. */
static void escape(buf_t *b, const char *s, int strict)
{
	if (!s)
		return;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	while (n > 0) {
		unsigned char c = *p;
		if (c >= 0x80) {
			size_t l = utf8_len(p, n);
			if (l == 0) {
				buf_puts(b, replacement);
				p++, n--;
			} else {
				buf_append(b, p, l);
				p += l, n -= l;
			}
			continue;
		}
		p++, n--;
		if (c < 0x20 && c != '\t' && c != '\n')
			continue;
		if (c == 0x7F)
			continue;
		if (strict) {
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
				buf_putc(b, (char)c);
			else
				buf_printf(b, "&#x%02X;", c);
			continue;
		}
		switch (c) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '\'': buf_puts(b, "&#39;"); break;
		default: buf_putc(b, (char)c);
		}
	}
}

void html_text(buf_t *b, const char *s)
{
	escape(b, s, 0);
}

void html_attr(buf_t *b, const char *s)
{
	escape(b, s, 1);
}

void html_url(buf_t *b, const char *s)
{
	if (!s)
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~')
			buf_putc(b, (char)c);
		else
			buf_printf(b, "%%%02X", c);
	}
}

void html_vfmt(buf_t *b, const char *fmt, va_list ap)
{
	const char *p = fmt;
	while (*p) {
		const char *pct = strchr(p, '%');
		if (!pct) {
			buf_puts(b, p);
			return;
		}
		buf_append(b, p, (size_t)(pct - p));
		switch (pct[1]) {
		case 's': html_text(b, va_arg(ap, const char *)); break;
		case 'a': html_attr(b, va_arg(ap, const char *)); break;
		case 'u': html_url(b, va_arg(ap, const char *)); break;
		case 'd': buf_printf(b, "%d", va_arg(ap, int)); break;
		case 'D': buf_printf(b, "%" PRId64, va_arg(ap, int64_t)); break;
		case 'Y': {
			char y[40];
			money_format_yuan_grouped(va_arg(ap, int64_t), y, sizeof y);
			buf_puts(b, y);
			break;
		}
		case '%': buf_putc(b, '%'); break;
		default: abort(); /* a directive this file does not know: a bug in a template */
		}
		p = pct + 2;
	}
}

void html_fmt(buf_t *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	html_vfmt(b, fmt, ap);
	va_end(ap);
}
