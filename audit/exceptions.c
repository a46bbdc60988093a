/* exceptions: what `voucherctl audit exceptions` lists (audit/exceptions.h). */
#include "audit/exceptions.h"

#include <stdio.h>

#include "common/db.h"

PGresult *audit_exceptions(PGconn *c, const char *year, char *err, size_t errlen)
{
	const char *p[] = {year};
	/* every source reads an audit view: the auditor may run it */
	return db_query(
		c,
		"SELECT kind, at, by_user, subject, detail, "
		"  to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') FROM ("
		"  SELECT 'superuser act' AS kind, at, by_user, what AS subject, detail FROM audit.superuser_acts"
		"  UNION ALL SELECT 'backdated version', imported_at, imported_by, uscc, 'in force from ' || valid_from"
		"    FROM audit.enterprise_versions WHERE backdated"
		"  UNION ALL SELECT 'backdated relation', added_at, added_by, uscc, 'related to provider ' || provider"
		"    FROM audit.related_parties WHERE backdated"
		"  UNION ALL SELECT 'backdated relation', added_at, added_by, uscc, 'related to seller ' || seller"
		"    FROM audit.related_sellers WHERE backdated"
		"  UNION ALL SELECT 'draft ' || e.event, e.at, e.by_user, 'run ' || e.run_id || ' (' || r.program || ', '"
		"    || r.period || ')', coalesce(e.comment, '') FROM audit.run_events e JOIN audit.runs r USING (run_id)"
		"    WHERE e.event IN ('superseded', 'returned', 'discarded')"
		"  UNION ALL SELECT 'refused approval', at, by_user, 'run ' || run_id, reason FROM audit.approval_refusals"
		"  UNION ALL SELECT 'override proposed', added_at, added_by, 'override ' || id || ' (' || program || ', '"
		"    || enterprise || ', ' || year || ')', concat_ws(', ', 'rate ' || rate_bp || ' bp', 'cap ' || "
		"    to_char(cap_fen / 100.0, 'FM999999999999990.00') || ' yuan', 'ref ' || ref) FROM audit.overrides"
		"  UNION ALL SELECT 'override confirmed', confirmed_at, confirmed_by, 'override ' || id || ' (' || program"
		"    || ', ' || enterprise || ', ' || year || ')', 'proposed by ' || added_by FROM audit.overrides"
		"    WHERE confirmed_at IS NOT NULL"
		"  UNION ALL SELECT 'objection raised', raised_at, raised_by, 'run ' || run_id || ' (' || program || ', '"
		"    || period || ') ' || uscc, 'objection ' || objection_id || ': ' || objection FROM audit.objections"
		"  UNION ALL SELECT 'objection ' || outcome, resolved_at, resolved_by, 'run ' || run_id || ' (' || program"
		"    || ', ' || period || ') ' || uscc, 'objection ' || objection_id || ': ' || resolution"
		"    FROM audit.objections WHERE outcome IS NOT NULL"
		"  UNION ALL SELECT 'unregistered usage', (month || '-01 00:00:00+08')::timestamptz, provider,"
		"    enterprises || ' credit codes', records || ' records, ' || "
		"    to_char(amount_fen / 100.0, 'FM999999999999990.00') || ' yuan' FROM audit.unregistered_usage"
		") x WHERE $1::integer IS NULL OR extract(year FROM at AT TIME ZONE 'Asia/Shanghai') = $1::integer "
		"ORDER BY kind, at, subject",
		1, p, err, errlen);
}
