-- Who acts: the finance user behind a write.
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- The finance user acting now: a member of voucher_finance, not a superuser.
CREATE OR REPLACE FUNCTION voucher.acting_finance_user(p_action text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = session_user AND rolsuper) THEN
		RAISE EXCEPTION '%: refused to the superuser %; superusers administer, finance users % (log in as your own finance user)',
			p_action, session_user, p_action USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF NOT pg_has_role(session_user, 'voucher_finance', 'MEMBER') THEN
		RAISE EXCEPTION '%: % is not a finance user (voucherctl user add NAME --role finance)',
			p_action, session_user USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN session_user;
END
$$;
