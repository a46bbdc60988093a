-- Runs before every migration, as the user running `voucherctl migrate`
-- (a superuser, or a role with CREATEROLE that is a member of voucher_owner).
-- Idempotent: creates the roles of README.md "Database" if they are missing.
--
--   voucher_owner    owns every object; cannot log in; migrations run as it
--   voucher_ingest   the daemon: may only call the ingest functions
--   voucher_finance  settlement staff (individual login users are members)
--   voucher_auditor  read only, through the views in schema audit
--   voucher_notice   the public notice (公示) of published runs, masked, and
--                    nothing else (the console's public pages log in as a member)
DO $roles$
DECLARE
	r record;
	f regprocedure;
BEGIN
	FOR r IN SELECT * FROM (VALUES
		('voucher_owner', false),
		('voucher_ingest', true),
		('voucher_finance', true),
		('voucher_auditor', true),
		('voucher_notice', false)) AS t(name, login)
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
			BEGIN
				IF r.login THEN
					EXECUTE format('CREATE ROLE %I LOGIN', r.name);
				ELSE
					EXECUTE format('CREATE ROLE %I NOLOGIN', r.name);
				END IF;
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL; -- created meanwhile by a migration of another database
			END;
		END IF;
	END LOOP;
	EXECUTE format('GRANT CREATE, CONNECT, TEMPORARY ON DATABASE %I TO voucher_owner',
		       current_database());
	EXECUTE format('GRANT CONNECT ON DATABASE %I TO voucher_ingest, voucher_finance, voucher_auditor, voucher_notice',
		       current_database());
	-- The ingest barrier and every other lock of this system are advisory
	-- locks: only the owner's functions may take them, so that no role can
	-- hold up ingest (or settle, or approvals) by taking one by hand.  Only a
	-- superuser can change the rights on these built-in functions; the
	-- change is per database.
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper) THEN
		FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			  WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_%advisory%' LOOP
			EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO voucher_owner', f);
		END LOOP;
	ELSE
		RAISE WARNING 'migrate: not a superuser, so advisory locks stay open to every role: any role could hold up ingest (migrate as a superuser to close this)';
	END IF;
END
$roles$;
