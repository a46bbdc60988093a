-- Audit views of settlement: runs, their lines and events, programmes, overrides,
-- refusals, superusers' acts.  Columns are only ever added, at the end.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

CREATE OR REPLACE VIEW audit.runs AS
	SELECT r.run_id, r.program, r.period,
	       CASE WHEN d.run_id IS NOT NULL THEN 'disbursed' WHEN p.run_id IS NOT NULL THEN 'published'
		    WHEN a.run_id IS NOT NULL THEN 'approved' WHEN x.run_id IS NOT NULL THEN x.event
		    ELSE 'draft' END AS status, r.prepared_by,
	       a.by_user AS approved_by, r.program_version, r.prepared_at AS created_at,
	       a.at AS approved_at, p.at AS published_at, p.notice_ends, d.at AS disbursed_at,
	       d.payment_ref, r.as_of, r.data_cutoff, r.total_payable, r.total_recovered,
	       r.prepared_at, r.pool_left_fen, r.total_asked, r.lines,
	       a.comment AS approval_comment, x.at AS ended_at, x.by_user AS ended_by, x.comment AS end_comment
	  FROM voucher.runs r
	  LEFT JOIN voucher.run_events a ON a.run_id = r.run_id AND a.event = 'approved'
	  LEFT JOIN voucher.run_events p ON p.run_id = r.run_id AND p.event = 'published'
	  LEFT JOIN voucher.run_events d ON d.run_id = r.run_id AND d.event = 'disbursed'
	  LEFT JOIN voucher.run_events x ON x.run_id = r.run_id AND x.event IN ('superseded', 'returned', 'discarded');

CREATE OR REPLACE VIEW audit.run_lines AS
	SELECT l.run_id, r.program, r.period, l.uscc, l.enterprise, l.division, l.eligible_amount_ytd,
	       l.entitlement_ytd, l.cap, l.granted_before, l.difference, l.payable, l.status, l.note
	  FROM voucher.run_lines l JOIN voucher.runs r ON r.run_id = l.run_id;

CREATE OR REPLACE VIEW audit.run_events AS
	SELECT run_id, event, at, by_user, notice_ends, payment_ref, comment FROM voucher.run_events;

CREATE OR REPLACE VIEW audit.program_versions AS
	SELECT version, program, text, loaded_at, loaded_by FROM voucher.program_versions;

CREATE OR REPLACE VIEW audit.overrides AS
	SELECT id, program, enterprise, year, rate_bp, cap_fen, ref, added_at, added_by, confirmed_at, confirmed_by
	  FROM voucher.overrides;

CREATE OR REPLACE VIEW audit.approval_refusals AS
	SELECT id, run_id, at, by_user, reason FROM voucher.approval_refusals;

-- Acts of superusers on the registry, programmes and overrides: they may
-- administer, and every such act is listed.
CREATE OR REPLACE VIEW audit.superuser_acts AS
	SELECT w.at, w.by_user, w.what, w.detail
	  FROM (SELECT created_at AS at, created_by AS by_user, 'provider add' AS what, code AS detail
		  FROM voucher.providers
		UNION ALL SELECT added_at, added_by, 'provider cert add', provider || ' ' || fingerprint FROM voucher.provider_certs
		UNION ALL SELECT added_at, added_by, 'provider key add', provider || ' ' || key_id FROM voucher.provider_keys
		UNION ALL SELECT added_at, added_by, 'provider facility add', provider || ' ' || facility FROM voucher.facilities
		UNION ALL SELECT imported_at, imported_by, 'enterprise version', uscc || ' from ' || valid_from
		  FROM voucher.enterprise_versions
		UNION ALL SELECT added_at, added_by, 'enterprise relate', uscc || ' ~ ' || provider FROM voucher.related_parties
		UNION ALL SELECT added_at, added_by, 'enterprise relate', uscc || ' ~ seller ' || seller FROM voucher.related_sellers
		UNION ALL SELECT loaded_at, loaded_by, 'program load', program || ' ' || left(version, 12)
		  FROM voucher.program_versions
		UNION ALL SELECT added_at, added_by, 'override', id || ' ' || program || ' ' || enterprise FROM voucher.overrides
		UNION ALL SELECT loaded_at, loaded_by, 'calendar load', year::text FROM voucher.calendar_loads) w
	  JOIN pg_roles ro ON ro.rolname = w.by_user AND ro.rolsuper;
