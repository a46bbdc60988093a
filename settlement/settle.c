/* settle: what settlement reads of the stored programmes. */
#include "settlement/settle.h"

#include <stdio.h>

#include "common/db.h"

bool settle_load_program(PGconn *c, const char *id, program_t *p, char *version, size_t vlen, char *err, size_t errlen)
{
	const char *params[] = {id};
	PGresult *r = db_query(c,
			       "SELECT version, text FROM voucher.program_versions WHERE program = $1 "
			       "ORDER BY loaded_at DESC, version LIMIT 1",
			       1, params, err, errlen);
	if (!r)
		return false;
	if (PQntuples(r) == 0) {
		snprintf(err, errlen, "no programme '%s' is loaded (voucherctl program list; program load FILE)", id);
		PQclear(r);
		return false;
	}
	char perr[256];
	bool ok = program_parse(PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1), p, perr, sizeof perr);
	if (!ok)
		snprintf(err, errlen, "stored programme %s does not parse: %s", id, perr);
	if (version)
		snprintf(version, vlen, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return ok;
}
