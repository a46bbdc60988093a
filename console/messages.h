/* messages: the database's refusals in plain Chinese.  Every refusal a
 * console action can meet (run approve, return, publish, disburse,
 * overrides, objections, rights) is matched against one table of patterns;
 * the page shows the Chinese sentence and, below it, the database's own
 * words.  A message no pattern knows is shown as 数据库拒绝了此操作 with the
 * original. */
#ifndef VOUCHER_CONSOLE_MESSAGES_H
#define VOUCHER_CONSOLE_MESSAGES_H

#include <stddef.h>

#include "common/buf.h"

/* Appends the Chinese for msg (a PostgreSQL error message, possibly with
 * "ERROR:  " and DETAIL/CONTEXT lines) to out, as plain text. */
void msg_chinese(const char *msg, buf_t *out);
/* How many patterns of the table do not compile, or name a group they do not
 * have (0: all good; a unit test holds it to that). */
size_t msg_patterns_broken(void);
/* The first line of a libpq error message without its "ERROR:  " prefix. */
void msg_first_line(const char *msg, buf_t *out);

#endif
