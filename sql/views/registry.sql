-- The registry and the calendar as they stand: the newest version or load of each.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- The registry as it stands now: the newest import of each version.
CREATE OR REPLACE VIEW voucher.enterprise_registry AS
	SELECT DISTINCT ON (uscc, valid_from) uscc, valid_from, name, division, sme, model_developer,
	       maas_builder, model_registered, foundation_model, credit_blacklisted, performance_grade,
	       imported_at, imported_by, id, backdated, intelligent_match
	  FROM voucher.enterprise_versions
	 ORDER BY uscc, valid_from, imported_at DESC, id DESC;

CREATE OR REPLACE VIEW voucher.calendar_years AS
	SELECT DISTINCT ON (year) year, source, loaded_at, loaded_by, load_id
	  FROM voucher.calendar_loads ORDER BY year, load_id DESC;

CREATE OR REPLACE VIEW voucher.calendar_days AS
	SELECT d.day, d.kind, d.name, d.year
	  FROM voucher.calendar_load_days d JOIN voucher.calendar_years y ON y.load_id = d.load_id;
