/* libFuzzer: the console's escaping (console/html: html_text, html_attr,
 * html_url, and H() with each directive) and its translation of database
 * messages (console/messages), on any bytes.  Whatever comes in, the text
 * escape must leave no markup character, the attribute escape nothing but
 * letters, digits, entities and UTF-8, the URL escape nothing but unreserved
 * characters and %XX; and every output is valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "console/html.h"
#include "console/messages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void valid_utf8(const buf_t *b)
{
	const unsigned char *p = (const unsigned char *)(b->data ? b->data : "");
	size_t n = b->len;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t l = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		if (l == 0 || i + l > n)
			abort();
		for (size_t k = 1; k < l; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				abort();
		i += l;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	buf_t t = BUF_INIT, a = BUF_INIT, u = BUF_INIT, h = BUF_INIT, m = BUF_INIT;
	html_text(&t, s);
	valid_utf8(&t);
	for (size_t i = 0; i < t.len; i++) {
		char c = t.data[i];
		if (c == '<' || c == '>' || c == '"' || c == '\'')
			abort();
		if (c == '&' && strncmp(t.data + i, "&amp;", 5) && strncmp(t.data + i, "&lt;", 4) &&
		    strncmp(t.data + i, "&gt;", 4) && strncmp(t.data + i, "&quot;", 6) &&
		    strncmp(t.data + i, "&#39;", 5))
			abort();
	}
	html_attr(&a, s);
	valid_utf8(&a);
	for (size_t i = 0; i < a.len; i++) {
		unsigned char c = (unsigned char)a.data[i];
		if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		/* an entity &#xHH; */
		if (c != '&' || i + 5 >= a.len + 1 || strncmp(a.data + i, "&#x", 3) || a.data[i + 5] != ';')
			abort();
		i += 5;
	}
	html_url(&u, s);
	for (size_t i = 0; i < u.len; i++) {
		char c = u.data[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.' || c == '_' || c == '~' || c == '%'))
			abort();
	}
	H(&h, "<td title=\"%a\"><a href=\"/enterprises/%u\">%s</a> %d %D %Y</td>", s, s, s, (int)size, (int64_t)size,
	  (int64_t)size * 7919);
	valid_utf8(&h);
	msg_chinese(s, &m);
	buf_free(&t);
	buf_free(&a);
	buf_free(&u);
	buf_free(&h);
	buf_free(&m);
	free(s);
	return 0;
}
