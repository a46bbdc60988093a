/* html: the one way the console writes HTML.  Every page is built with H(),
 * whose format string must be a literal (the macro refuses anything else at
 * compile time): the literal is the markup, and every value passes through an
 * escaping directive, so a page cannot print unescaped data by accident.
 *
 *   %s  text, escaped for element content and quoted attributes (& < > " ')
 *   %a  an attribute value, escaped more strictly (every ASCII character that
 *       is not a letter or digit becomes &#xHH;)
 *   %u  a URL path segment or query value, percent-encoded (RFC 3986
 *       unreserved characters kept)
 *   %d  int          %D  int64_t
 *   %Y  int64_t fen as yuan, grouped: 1,234,567.89
 *   %%  a percent sign
 *
 * Text that is not valid UTF-8 is repaired (U+FFFD for each bad byte), and
 * control characters other than tab and newline are dropped.  A NULL string
 * prints nothing.  An unknown directive aborts: it is a programming error. */
#ifndef VOUCHER_CONSOLE_HTML_H
#define VOUCHER_CONSOLE_HTML_H

#include <stdarg.h>
#include <stdint.h>

#include "common/buf.h"

void html_text(buf_t *b, const char *s);
void html_attr(buf_t *b, const char *s);
void html_url(buf_t *b, const char *s);

void html_fmt(buf_t *b, const char *literal, ...);
void html_vfmt(buf_t *b, const char *literal, va_list ap);
#define H(b, fmt, ...) html_fmt((b), "" fmt "", ##__VA_ARGS__)

#endif
