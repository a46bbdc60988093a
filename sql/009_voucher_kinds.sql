-- The other voucher kinds (issue 14; docs/policies.md "The other voucher
-- kinds"): the seller of a corpus or dataset record, the kind of a provider,
-- relations to any seller, and the 免审配套 flag of the registry.
-- The functions that write these (voucher.provider_add, voucher.relate_seller,
-- voucher.enterprise_import, voucher.ingest_batch) are in
-- sql/functions/registry.sql and sql/functions/ingest_batch.sql; the views
-- in sql/views/registry.sql and sql/views/audit_metering.sql.

------------------------------------------------------------------ usage: the seller

-- The credit code of the seller of a corpus or dataset bought through a
-- marketplace provider (docs/protocol.md, the record field "seller").  The
-- daemon refuses a record of those categories without one, and a record of
-- any other category with one; records stored before this migration have
-- none.  The check character is checked by the daemon (metering/batch.c).
ALTER TABLE voucher.usage_records ADD COLUMN seller text
	CONSTRAINT usage_records_seller_check
	CHECK (seller IS NULL OR (category IN ('corpus', 'dataset') AND seller ~ '^[0-9A-HJ-NP-RTUW-Y]{18}$'));

------------------------------------------------------------------ the registry

-- compute: a computing centre or model service, metering its own sales;
-- marketplace: a compliant data-trading platform or trusted data space
-- (合规运营的数据交易平台或数据可信空间), whose corpus and dataset records name
-- the seller.  Providers registered before this migration are compute.
ALTER TABLE voucher.providers ADD COLUMN kind text NOT NULL DEFAULT 'compute'
	CONSTRAINT providers_kind_check CHECK (kind IN ('compute', 'marketplace'));

-- 免审配套: the enterprise chose automatic matching of 杭州算力券 (004 (一)).
ALTER TABLE voucher.enterprise_versions ADD COLUMN intelligent_match boolean NOT NULL DEFAULT false;

-- 关联方 among sellers: a seller (any credit code, registered or not) related
-- to an enterprise; records of corpus or datasets it sold to the enterprise
-- count for nothing.  Like voucher.related_parties: append only, and a
-- relation added once a run is approved is backdated (voucher.relate_seller).
CREATE TABLE voucher.related_sellers (
	uscc      text NOT NULL REFERENCES voucher.enterprises(uscc),
	seller    text NOT NULL CHECK (seller ~ '^[0-9A-HJ-NP-RTUW-Y]{18}$'),
	added_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	added_by  text NOT NULL DEFAULT session_user,
	backdated boolean NOT NULL DEFAULT false,
	PRIMARY KEY (uscc, seller)
);
CREATE TRIGGER related_sellers_append_only BEFORE UPDATE OR DELETE ON voucher.related_sellers
	FOR EACH ROW EXECUTE FUNCTION voucher.refuse_change();
CREATE TRIGGER related_sellers_no_truncate BEFORE TRUNCATE ON voucher.related_sellers
	FOR EACH STATEMENT EXECUTE FUNCTION voucher.refuse_change();

------------------------------------------------------------------ functions whose signature changes

-- Re-created by sql/functions/ with a new last parameter that has a default,
-- so that a caller of the old form keeps working: provider_add gains p_kind,
-- ingest_batch the sellers r_sel.
DROP FUNCTION voucher.provider_add(text, text, text);
DROP FUNCTION voucher.ingest_batch(text, text, text, text, text, timestamptz, text, text, text, bytea, integer,
	jsonb, integer, integer[], text[], text[], text[], text[], text[], text[], text[], bigint[], timestamptz[],
	timestamptz[], text[], text[], text[], bytea[]);

------------------------------------------------------------------ rights

-- Finance reads the table; nobody but the owner writes it.
REVOKE ALL ON voucher.related_sellers FROM PUBLIC;
GRANT SELECT ON voucher.related_sellers TO voucher_finance;
