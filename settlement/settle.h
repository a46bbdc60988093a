/* settle: what the settlement commands share. */
#ifndef VOUCHER_SETTLE_H
#define VOUCHER_SETTLE_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "settlement/program.h"

/* Loads and parses the newest stored version of a programme; version (if not
 * NULL) receives its id.  False with a message saying what to do. */
bool settle_load_program(PGconn *c, const char *id, program_t *p, char *version, size_t vlen, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
