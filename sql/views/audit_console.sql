-- Audit views of the console (issue 13): objections, disbursement line by
-- line, the overview of a programme-year and its pool.  Columns are only ever
-- added, at the end.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

CREATE OR REPLACE VIEW audit.objections AS
	SELECT o.objection_id, o.run_id, r.program, r.period, o.uscc, o.raised_at, o.raised_by, o.objection,
	       o.resolved_at, o.resolved_by, o.outcome, o.resolution
	  FROM voucher.objections o JOIN voucher.runs r ON r.run_id = o.run_id;

CREATE OR REPLACE VIEW audit.line_disbursements AS
	SELECT d.run_id, d.uscc, d.payment_ref, d.at, d.by_user
	  FROM voucher.line_disbursements d;

-- Every line of every run with what became of it: line_state is
--   disbursed  paid (or recovered) in the payment batch payment_ref
--   held       not paid: an objection to it is open
--   upheld     never paid by this run: an objection to it was upheld
--   due        a payable or recovery not disbursed yet
--   none       nothing to pay (withheld, or no difference)
-- Paged by the console with WHERE run_id = $1 [AND division = $2]
-- [AND status = $3] ORDER BY uscc LIMIT n (indexes of sql/008_console.sql).
CREATE OR REPLACE VIEW audit.run_line_objections AS
	SELECT l.run_id, l.uscc, l.enterprise, l.division, l.status, l.payable, o.objections, o.open_objections,
	       o.upheld_objections, d.at AS disbursed_at, d.payment_ref,
	       CASE WHEN d.run_id IS NOT NULL THEN 'disbursed' WHEN o.upheld_objections > 0 THEN 'upheld'
		    WHEN o.open_objections > 0 THEN 'held' WHEN l.payable <> 0 THEN 'due' ELSE 'none' END AS line_state
	  FROM voucher.run_lines l
	  LEFT JOIN voucher.line_disbursements d ON d.run_id = l.run_id AND d.uscc = l.uscc
	  CROSS JOIN LATERAL (
		SELECT count(*) AS objections, count(*) FILTER (WHERE x.outcome IS NULL) AS open_objections,
		       count(*) FILTER (WHERE x.outcome = 'upheld') AS upheld_objections
		  FROM voucher.objections x WHERE x.run_id = l.run_id AND x.uscc = l.uscc) o;

-- The overview of a programme-year by month and division, from the totals
-- written at approval and disbursement (voucher.run_division_totals,
-- voucher.disbursement_totals: never from usage records or the lines):
--   granted_fen    the approved runs' payables of the month
--   recovered_fen  their recoveries, as a positive amount
--   paid_fen       what was disbursed of those payables (recoveries
--                  disbursed are not subtracted)
--   enterprises    the enterprises with a payable or recovery that month
CREATE OR REPLACE VIEW audit.pool_overview AS
	SELECT x.program, x.year, x.month, x.division, sum(x.granted)::bigint AS granted_fen,
	       sum(x.recovered)::bigint AS recovered_fen, sum(x.paid)::bigint AS paid_fen,
	       sum(x.enterprises)::bigint AS enterprises
	  FROM (SELECT r.program, left(r.period, 4)::integer AS year, r.period AS month, t.division,
		       t.granted_fen AS granted, t.recovered_fen AS recovered, 0::bigint AS paid, t.enterprises
		  FROM voucher.runs r JOIN voucher.run_division_totals t ON t.run_id = r.run_id
		UNION ALL
		SELECT r.program, left(r.period, 4)::integer, r.period, d.division, 0, 0, d.paid_fen, 0
		  FROM voucher.runs r JOIN voucher.disbursement_totals d ON d.run_id = r.run_id) x
	 GROUP BY x.program, x.year, x.month, x.division;

-- The pool of each programme-year (NULL: the programme has none), from the
-- programme version in force: the years of its validity and those of its runs.
CREATE OR REPLACE VIEW audit.pools AS
	SELECT p.program, y.year, voucher.yuan_fen(voucher.program_setting(p.text, 'program', 'pool_yuan')) AS pool_fen
	  FROM (SELECT DISTINCT ON (v.program) v.program, v.text FROM voucher.program_versions v
		 ORDER BY v.program, v.loaded_at DESC, v.version) p
	 CROSS JOIN LATERAL (
		SELECT generate_series(left(voucher.program_setting(p.text, 'program', 'valid_from'), 4)::integer,
				       left(voucher.program_setting(p.text, 'program', 'valid_to'), 4)::integer) AS year
		 WHERE voucher.program_setting(p.text, 'program', 'valid_from') ~ '^[0-9]{4}-'
		   AND voucher.program_setting(p.text, 'program', 'valid_to') ~ '^[0-9]{4}-'
		UNION
		SELECT left(r.period, 4)::integer FROM voucher.runs r WHERE r.program = p.program) y;
