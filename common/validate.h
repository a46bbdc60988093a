/* validate: the field rules shared by ingest, the registry and settlement.
 * Pure functions, no allocation, table-tested in tests/unit/test_validate.c. */
#ifndef VOUCHER_VALIDATE_H
#define VOUCHER_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters
 * from "0123456789ABCDEFGHJKLMNPQRTUWXY" (upper case only), first char a
 * registration authority code, second a type code, chars 3-8 a division code,
 * chars 9-17 the organisation code, char 18 the check character computed with
 * weights 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28 modulo 31. */
bool uscc_valid(const char *s);
/* The check character for the first 17 chars of s, or 0 if they are not valid. */
char uscc_check_char(const char *first17);

/* GB/T 2260 six-digit division code of a county-level unit: six ASCII digits,
 * a real province prefix (11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81, 82),
 * city part not "00", county part not "00". */
bool division_valid(const char *s);

/* A decimal string: optional '-', 1+ integer digits without superfluous
 * leading zeros ("0" ok, "01" not), optionally '.' and 1..max_frac digits.
 * No exponent, no '+', no spaces.  allow_negative=false refuses '-'. */
bool decimal_valid(const char *s, int max_frac, bool allow_negative);
/* Writes the normalized form (trailing fraction zeros and a bare '.' removed,
 * "-0" becomes "0") to out; returns false if out is too small or s invalid. */
bool decimal_normalize(const char *s, int max_frac, char *out, size_t outlen);

/* RFC 3339 date-time with a mandatory offset ("Z" or "+hh:mm"/"-hh:mm"),
 * 'T' separator (upper or lower case), optional fraction up to 6 digits
 * (more digits are refused rather than rounded), real calendar dates,
 * seconds 00-59 (a leap second 60 is refused).  On success *us is
 * microseconds since 1970-01-01T00:00:00Z. */
bool rfc3339_parse(const char *s, int64_t *us);
/* Formats microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ"; out >= 32 bytes. */
void rfc3339_format_utc(int64_t us, char *out, size_t outlen);

/* 1..maxlen printable ASCII characters (0x21-0x7e, no space). */
bool printable_id(const char *s, size_t maxlen);
/* 1..maxlen bytes of valid UTF-8 without control characters. */
bool text_field(const char *s, size_t maxlen);
/* 20 ASCII digits (全电发票 number). */
bool invoice_no_valid(const char *s);

#endif
