-- The console (issue 13): objections to the public notice, disbursement line
-- by line, and the totals the overview reads without scanning usage or lines
-- (README.md "Settlement", "Ledger and audit", "Who may do what").
-- The role voucher_notice is created by sql/000_roles.sql; the functions and
-- views are in sql/functions/console.sql and sql/views/audit_console.sql.

------------------------------------------------------------------ objections (异议)

-- An objection to one line of a published run, entered by a finance user;
-- resolved once (dismissed or upheld), with the reason.  While one is open the
-- line is not disbursed; once one is upheld the line is never disbursed (the
-- correction comes from a later run).
CREATE TABLE voucher.objections (
	objection_id bigserial PRIMARY KEY,
	run_id       bigint NOT NULL,
	uscc         text NOT NULL,
	raised_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	raised_by    text NOT NULL DEFAULT session_user,
	objection    text NOT NULL CHECK (length(objection) BETWEEN 1 AND 2000),
	resolved_at  timestamptz,
	resolved_by  text,
	outcome      text CHECK (outcome IN ('dismissed', 'upheld')),
	resolution   text CHECK (length(resolution) BETWEEN 1 AND 2000),
	FOREIGN KEY (run_id, uscc) REFERENCES voucher.run_lines(run_id, uscc),
	CHECK ((resolved_at IS NULL) = (outcome IS NULL) AND (resolved_by IS NULL) = (outcome IS NULL)
	       AND (resolution IS NULL) = (outcome IS NULL))
);
CREATE INDEX objections_line ON voucher.objections (run_id, uscc);
CREATE TRIGGER objections_stamp_once BEFORE UPDATE OR DELETE ON voucher.objections
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change_but_stamp('resolved_at', 'resolved_by', 'outcome', 'resolution');
CREATE TRIGGER objections_no_truncate BEFORE TRUNCATE ON voucher.objections
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

------------------------------------------------------------------ disbursement line by line

-- Each line paid (or recovered) and the payment batch it went in.  The
-- ledger posting payable -> paid (a recovery paid -> payable) of a line is
-- made in the same transaction (voucher.run_disburse).
CREATE TABLE voucher.line_disbursements (
	run_id      bigint NOT NULL,
	uscc        text NOT NULL,
	payment_ref text NOT NULL CHECK (length(payment_ref) BETWEEN 1 AND 200),
	at          timestamptz NOT NULL DEFAULT clock_timestamp(),
	by_user     text NOT NULL DEFAULT session_user,
	PRIMARY KEY (run_id, uscc),
	FOREIGN KEY (run_id, uscc) REFERENCES voucher.run_lines(run_id, uscc)
);

-- The totals of the overview, written with what they sum and never changed:
-- per approved run and division, at approval (the lines are frozen from then
-- on); per disbursement and division, at disbursement.  audit verify checks
-- them against the lines.  enterprises counts the lines with a payable that
-- no earlier approved run of the same programme and month had, so that the
-- sum over a month's runs is the number of distinct enterprises.
CREATE TABLE voucher.run_division_totals (
	run_id        bigint NOT NULL REFERENCES voucher.runs(run_id),
	division      text NOT NULL,
	granted_fen   bigint NOT NULL CHECK (granted_fen >= 0),
	recovered_fen bigint NOT NULL CHECK (recovered_fen >= 0),
	enterprises   bigint NOT NULL CHECK (enterprises >= 0),
	PRIMARY KEY (run_id, division)
);
CREATE TABLE voucher.disbursement_totals (
	run_id        bigint NOT NULL REFERENCES voucher.runs(run_id),
	division      text NOT NULL,
	at            timestamptz NOT NULL,
	payment_ref   text NOT NULL,
	paid_fen      bigint NOT NULL CHECK (paid_fen >= 0),
	recovered_fen bigint NOT NULL CHECK (recovered_fen >= 0),
	lines         bigint NOT NULL CHECK (lines > 0),
	PRIMARY KEY (run_id, division, at)
);

DO $append_only$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['line_disbursements', 'run_division_totals', 'disbursement_totals'] LOOP
		EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON voucher.%I '
			       'FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change()', t || '_append_only', t);
		EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON voucher.%I '
			       'FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change()', t || '_no_truncate', t);
	END LOOP;
END
$append_only$;

-- Runs disbursed before this migration were paid whole, in one payment
-- batch: every line with a payable, at the time of the run's event.
INSERT INTO voucher.line_disbursements (run_id, uscc, payment_ref, at, by_user)
SELECT l.run_id, l.uscc, e.payment_ref, e.at, e.by_user
  FROM voucher.run_events e JOIN voucher.run_lines l ON l.run_id = e.run_id AND l.payable <> 0
 WHERE e.event = 'disbursed';

INSERT INTO voucher.run_division_totals (run_id, division, granted_fen, recovered_fen, enterprises)
SELECT l.run_id, l.division, coalesce(sum(l.payable) FILTER (WHERE l.payable > 0), 0),
       coalesce(-sum(l.payable) FILTER (WHERE l.payable < 0), 0),
       count(*) FILTER (WHERE l.payable <> 0 AND NOT EXISTS (
	       SELECT 1 FROM voucher.runs r2 JOIN voucher.run_events a2 ON a2.run_id = r2.run_id AND a2.event = 'approved'
		 JOIN voucher.run_lines l2 ON l2.run_id = r2.run_id AND l2.uscc = l.uscc AND l2.payable <> 0
		WHERE r2.program = r.program AND r2.period = r.period AND a2.at < a.at))
  FROM voucher.run_lines l JOIN voucher.runs r ON r.run_id = l.run_id
  JOIN voucher.run_events a ON a.run_id = l.run_id AND a.event = 'approved'
 GROUP BY l.run_id, l.division;

INSERT INTO voucher.disbursement_totals (run_id, division, at, payment_ref, paid_fen, recovered_fen, lines)
SELECT d.run_id, l.division, d.at, d.payment_ref, coalesce(sum(l.payable) FILTER (WHERE l.payable > 0), 0),
       coalesce(-sum(l.payable) FILTER (WHERE l.payable < 0), 0), count(*)
  FROM voucher.line_disbursements d JOIN voucher.run_lines l ON l.run_id = d.run_id AND l.uscc = d.uscc
 GROUP BY d.run_id, l.division, d.at, d.payment_ref;

------------------------------------------------------------------ indexes for the console

-- A run's lines paged by credit code, filtered by division, status or both
-- (the primary key (run_id, uscc) serves the unfiltered page).
CREATE INDEX run_lines_division ON voucher.run_lines (run_id, division, uscc);
CREATE INDEX run_lines_status ON voucher.run_lines (run_id, status, uscc);
CREATE INDEX run_lines_division_status ON voucher.run_lines (run_id, division, status, uscc);

------------------------------------------------------------------ rights

-- Finance reads the tables; nobody but the owner writes them.
REVOKE ALL ON voucher.objections, voucher.line_disbursements, voucher.run_division_totals,
	voucher.disbursement_totals FROM PUBLIC;
GRANT SELECT ON voucher.objections, voucher.line_disbursements, voucher.run_division_totals,
	voucher.disbursement_totals TO voucher_finance;
REVOKE ALL ON SEQUENCE voucher.objections_objection_id_seq FROM PUBLIC;
