-- usage_records by month: partitions and archives (README.md "Usage by month, and archives").
-- Re-applied by every `voucherctl migrate`, after the numbered migrations, as
-- voucher_owner (README.md "Database"): this is the one current text of each.

-- TRUNCATE of a partition itself does not fire the parent's statement trigger
CREATE OR REPLACE FUNCTION voucher.usage_partition_guard(p_table text) RETURNS void
LANGUAGE plpgsql SET search_path = voucher, pg_temp AS $$
BEGIN
	EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON voucher.%I '
		       'FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change()', p_table);
END
$$;

CREATE OR REPLACE FUNCTION voucher.usage_partition_name(p_month date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'usage_' || to_char(p_month, 'YYYY_MM') $$;

-- Creates the monthly partitions from p_from's month through p_to's that do
-- not exist yet.  A month is skipped, with a note, when it was archived, or
-- when records of it wait in usage_other (they stay there: moving stored
-- records is not something this function does).
CREATE OR REPLACE FUNCTION voucher.usage_partitions_ensure(p_from date, p_to date)
RETURNS TABLE (month date, partition text, created boolean, note text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	m    date := date_trunc('month', p_from)::date;
	v_lo timestamptz;
	v_hi timestamptz;
BEGIN
	IF p_to < p_from OR p_to > p_from + interval '20 years' THEN
		RAISE EXCEPTION 'usage_partitions_ensure: % .. % is not a range of at most 20 years', p_from, p_to
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	WHILE m <= p_to LOOP
		month := m;
		partition := voucher.usage_partition_name(m);
		created := false;
		v_lo := m::timestamp AT TIME ZONE 'Asia/Shanghai';
		v_hi := (m + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai';
		IF to_regclass('voucher.' || partition) IS NOT NULL THEN
			note := 'exists';
		ELSIF EXISTS (SELECT 1 FROM voucher.usage_archives a WHERE a.month = m) THEN
			note := 'archived';
		ELSIF EXISTS (SELECT 1 FROM voucher.usage_other o WHERE o.ended_at >= v_lo AND o.ended_at < v_hi) THEN
			note := 'records of this month are in usage_other; not created';
		ELSE
			EXECUTE format('CREATE TABLE voucher.%I PARTITION OF voucher.usage_records '
				       'FOR VALUES FROM (%L) TO (%L)', partition, v_lo, v_hi);
			PERFORM voucher.usage_partition_guard(partition);
			created := true;
			note := 'created';
		END IF;
		RETURN NEXT;
		m := (m + interval '1 month')::date;
	END LOOP;
END
$$;

-- Detaches one month into voucher.archive_usage_YYYY_MM (still append only,
-- still readable by finance) and records it in usage_archives.  Only months
-- before last year: settlement reads a whole year for the annual caps, and
-- the audit recomputes approved runs from the stored records.
CREATE OR REPLACE FUNCTION voucher.usage_partition_detach(p_month date)
RETURNS SETOF voucher.usage_archives
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
DECLARE
	m       date := date_trunc('month', p_month)::date;
	v_name  text := voucher.usage_partition_name(m);
	v_arch  text := 'archive_' || voucher.usage_partition_name(m);
	v_first date := make_date(extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')::integer - 1, 1, 1);
BEGIN
	IF m >= v_first THEN
		RAISE EXCEPTION 'usage_partition_detach: % is in this year or the last; a month can be archived from % on',
			to_char(m, 'YYYY-MM'), make_date(extract(year FROM m)::integer + 2, 1, 1)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF to_regclass('voucher.' || v_name) IS NULL THEN
		RAISE EXCEPTION 'usage_partition_detach: there is no partition % (archived already, or never created)', v_name
			USING ERRCODE = 'undefined_table';
	END IF;
	EXECUTE format('ALTER TABLE voucher.usage_records DETACH PARTITION voucher.%I', v_name);
	EXECUTE format('ALTER TABLE voucher.%I RENAME TO %I', v_name, v_arch);
	-- the archive refuses changes like the table it came from
	EXECUTE format('CREATE TRIGGER archive_append_only BEFORE UPDATE OR DELETE ON voucher.%I '
		       'FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change()', v_arch);
	RETURN QUERY EXECUTE format(
		'INSERT INTO voucher.usage_archives (month, table_name, records, amount_fen) '
		'SELECT %L, %L, count(*), coalesce(sum(amount_fen), 0) FROM voucher.%I RETURNING *', m, v_arch, v_arch);
END
$$;

-- the months as they are: partitions, the default, archives
CREATE OR REPLACE FUNCTION voucher.usage_partitions()
RETURNS TABLE (partition text, month date, state text, records bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = voucher, pg_temp AS $$
	SELECT c.relname::text,
	       CASE WHEN c.relname = 'usage_other' THEN NULL
		    ELSE to_date(substr(c.relname, 7), 'YYYY_MM') END,
	       CASE WHEN c.relname = 'usage_other' THEN 'default' ELSE 'attached' END,
	       coalesce(s.n_live_tup, 0)
	  FROM pg_inherits i
	  JOIN pg_class c ON c.oid = i.inhrelid
	  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
	 WHERE i.inhparent = 'voucher.usage_records'::regclass
	UNION ALL
	SELECT a.table_name, a.month, 'archived', a.records FROM voucher.usage_archives a
	ORDER BY 2 NULLS LAST, 1
$$;
