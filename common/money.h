/* money: amounts are int64_t fen (1 yuan = 100 fen).  Every operation is
 * checked; the one rounding rule is "down" (towards minus infinity), because
 * every policy says 不超过 (not more than).  No floating point near an amount. */
#ifndef VOUCHER_MONEY_H
#define VOUCHER_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool money_add(int64_t a, int64_t b, int64_t *out) __attribute__((warn_unused_result));
bool money_sub(int64_t a, int64_t b, int64_t *out) __attribute__((warn_unused_result));
/* floor(amount * num / den) computed in 128 bits; den > 0.  False if the
 * result does not fit in int64. */
bool money_muldiv_floor(int64_t amount, int64_t num, int64_t den, int64_t *out) __attribute__((warn_unused_result));
/* floor(amount * bp / 10000). */
bool money_apply_bp(int64_t amount, int32_t bp, int64_t *out) __attribute__((warn_unused_result));
/* Formats fen as yuan with exactly two decimals ("-12.05"); out >= 24 bytes. */
void money_format_yuan(int64_t fen, char *out, size_t outlen);
/* The same with thousands separated by commas, as finance staff read them
 * ("1,234,567.89", "-0.05"); out >= 32 bytes. */
void money_format_yuan_grouped(int64_t fen, char *out, size_t outlen);
/* Parses a whole number as PostgreSQL writes int2/int4/int8 and numeric
 * without scale ("0", "-120", "9223372036854775807"): an optional '-' and
 * decimal digits, nothing else.  False on NULL, empty, blanks, '+', a
 * fraction or exponent, trailing junk, or a value outside int64_t (so a
 * numeric sum past 2^63 is refused, never clamped). */
bool money_parse_i64(const char *s, int64_t *out) __attribute__((warn_unused_result));
/* Parses "12", "12.3", "12.30", "-0.05" yuan into fen; more than two decimals is an error. */
bool money_parse_yuan(const char *s, int64_t *fen) __attribute__((warn_unused_result));

#endif
