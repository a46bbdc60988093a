/* hex: lowercase hexadecimal, as the registry stores fingerprints and the
 * audit trail shows hashes. */
#ifndef VOUCHER_HEX_H
#define VOUCHER_HEX_H

#include <stddef.h>

/* Writes the 2 * len lowercase hex digits of in[0..len) and a NUL to out,
 * which has room for 2 * len + 1 characters. */
void hex_encode(const void *in, size_t len, char *out);

#endif
