#!/bin/sh
# make bench-verify: audit verify over a large history, with its rate.
#
#   RECORDS=1000000 ENTERPRISES=100000 BATCHES=100 tests/bench/verify.sh
#
# Generates in SQL RECORDS usage records for ENTERPRISES Hangzhou enterprises
# in BATCHES really signed batches (Ed25519, signed with the openssl command),
# settles March 2026 and approves it (one ledger entry per enterprise with a
# grant), then times `voucherctl audit verify` as voucher_auditor: every
# batch's digest and signature, the Merkle tree, the ledger chain, the
# postings, and the run recomputed from the records.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
records=${RECORDS:-1000000}
ents=${ENTERPRISES:-100000}
batches=${BATCHES:-100}
vectors=${VOUCHER_VECTORS:-$root/tests/vectors}
work=$(mktemp -d /tmp/voucher-bench.XXXXXX)
chmod 755 "$work"
[ -n "${KEEP:-}" ] || trap 'PG_FSYNC=off sh deploy/local-pg.sh stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT INT TERM
sock=$(PG_FSYNC=off sh deploy/local-pg.sh start "$work/pg" 5438)
admin="host=$sock port=5438 user=postgres"
export VOUCHER_DB="$admin dbname=bench"
psql -qX "$admin dbname=postgres" -c "CREATE DATABASE bench"
bin/voucherctl migrate >/dev/null
bin/voucherctl program load settlement/programs/hangzhou-compute.conf >/dev/null
psql -qX "$VOUCHER_DB" -c "DO \$\$ BEGIN CREATE ROLE bench_preparer LOGIN IN ROLE voucher_finance;
	EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" -c "DO \$\$ BEGIN CREATE ROLE bench_approver LOGIN IN ROLE voucher_finance;
	EXCEPTION WHEN duplicate_object THEN NULL; END \$\$"
now() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }

echo "generating $batches signed batches, $ents enterprises, $records records..."
t=$(now)
psql -qX "$VOUCHER_DB" -v pub="$(cat "$vectors/provider-a.ed25519.pub")" <<SQL
INSERT INTO voucher.providers (code, name, uscc) VALUES ('bench', 'bench', '91330106100000002H');
INSERT INTO voucher.provider_keys (provider, key_id, alg, public_pem, valid_from)
	VALUES ('bench', 'k', 'ed25519', :'pub', '2026-01-01');
INSERT INTO voucher.facilities (provider, facility, division, class, added_at)
	VALUES ('bench', 'fa', '330106', 'A', now() - interval '1 day');
SQL
created=$(($(date +%s) - 10))
# the records first, in a staging table; each batch's signed body holds its
# records, as a provider would have sent them
psql -qX "$VOUCHER_DB" <<SQL
-- a unified social credit code with its GB 32100-2015 check character
CREATE FUNCTION public.uscc(p text) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$
	SELECT p || substr(cs, (31 - sum((strpos(cs, substr(p, i, 1)) - 1) * w[i])::integer % 31) % 31 + 1, 1)
	FROM (SELECT '0123456789ABCDEFGHJKLMNPQRTUWXY'::text AS cs,
		     ARRAY[1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28] AS w) c, generate_series(1, 17) i
	GROUP BY cs
\$\$;
INSERT INTO voucher.enterprises (uscc)
SELECT public.uscc('91' || '330106' || lpad(i::text, 9, '0')) FROM generate_series(1, $ents) i;
INSERT INTO voucher.enterprise_versions (uscc, valid_from, name, division, imported_at)
SELECT public.uscc('91' || '330106' || lpad(i::text, 9, '0')), '2025-01-01', 'bench ' || i, '330106',
	now() - interval '1 day'
FROM generate_series(1, $ents) i;
CREATE TABLE public.stage AS
SELECT 'r' || n AS record_id, 'b' || (1 + n % $batches) AS batch_id,
	public.uscc('91330106' || lpad((n % $ents + 1)::text, 9, '0')) AS enterprise,
	1000 + (n::bigint * 7919) % 50000 AS amount_fen,
	timestamptz '2026-03-01 00:00+08' + (n % 2674000) * interval '1 second' AS started_at,
	timestamptz '2026-03-01 01:00+08' + (n % 2674000) * interval '1 second' AS ended_at
FROM generate_series(1, $records) n;
CREATE INDEX ON public.stage (batch_id);
SQL
i=1
while [ $i -le "$batches" ]; do
	printf '%s' "$(psql -AtX "$VOUCHER_DB" -c "SELECT json_build_object('batch_id', 'b$i', 'provider', 'bench',
		'records', (SELECT json_agg(json_build_object('record_id', record_id, 'enterprise', enterprise,
		'facility', 'fa', 'category', 'intelligent_compute', 'quantity', '1', 'unit', 'card_hour',
		'amount_fen', amount_fen,
		'started_at', to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
		'ended_at', to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
		'contract_id', 'C') ORDER BY record_id) FROM public.stage WHERE batch_id = 'b$i'))")" >"$work/body"
	chmod 644 "$work/body"
	cd="sha-256=:$(openssl dgst -sha256 -binary "$work/body" | base64 -w0):"
	params="(\"@method\" \"@path\" \"content-digest\");created=$created;keyid=\"k\";alg=\"ed25519\""
	printf '"@method": POST\n"@path": /v1/usage-batches\n"content-digest": %s\n"@signature-params": %s' "$cd" "$params" >"$work/base"
	sig=$(openssl pkeyutl -sign -inkey "$vectors/provider-a.ed25519.key" -rawin -in "$work/base" | base64 -w0)
	psql -qX "$VOUCHER_DB" -v b="b$i" -v f="$work/body" -v cd="$cd" -v si="sig1=$params" -v sg="sig1=:$sig:" \
		-v created="$created" <<'SQL'
INSERT INTO voucher.batches (provider, batch_id, digest, key_id, alg, sig_created, content_digest,
	signature_input, signature, body, record_count, accepted, duplicates, rejected, answer)
VALUES ('bench', :'b', encode(sha256(pg_read_binary_file(:'f')), 'hex'), 'k', 'ed25519',
	to_timestamp(:'created'::bigint), :'cd', :'si', :'sg', pg_read_binary_file(:'f'), 0, 0, 0, 0, '{}');
SQL
	i=$((i + 1))
done
psql -qX "$VOUCHER_DB" <<SQL
ALTER TABLE voucher.usage_records DISABLE TRIGGER usage_records_append_only;
INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility, category,
	quantity, unit, amount_fen, started_at, ended_at, contract_id, content_hash, received_at)
SELECT 'bench', record_id, batch_id, enterprise, 'fa', 'intelligent_compute', 1, 'card_hour', amount_fen,
	started_at, ended_at, 'C', '\x00', now() - interval '1 hour'
FROM public.stage;
-- and their record ids, as ingest keeps them
INSERT INTO voucher.usage_keys (provider, record_id, ended_at, batch_id, content_hash)
SELECT 'bench', record_id, ended_at, batch_id, '\x00' FROM public.stage;
ALTER TABLE voucher.usage_records ENABLE TRIGGER usage_records_append_only;
DROP TABLE public.stage;
ANALYZE;
SQL
echo "generated in $(secs "$t" "$(now)") s"
prep="$admin dbname=bench user=bench_preparer"
appr="$admin dbname=bench user=bench_approver"
t=$(now)
run=$(bin/voucherctl --db "$prep" settle --program hangzhou-compute --period 2026-03 2>/dev/null | sed -n '1s/^run \([0-9]*\).*/\1/p')
bin/voucherctl --db "$appr" run approve "$run" >/dev/null
echo "settled and approved run $run in $(secs "$t" "$(now)") s"
entries=$(psql -qXtA "$VOUCHER_DB" -c "SELECT count(*) FROM voucher.ledger_entries")
t=$(now)
bin/voucherctl --db "$admin dbname=bench user=voucher_auditor" audit verify
s=$(secs "$t" "$(now)")
echo "audit verify: $s s for $batches batches, $records records (one run recomputed), $entries ledger entries:" \
	"$(echo "$records $s" | awk '{ printf "%.0f", $1 / $2 }') records/s," \
	"$(echo "$entries $s" | awk '{ printf "%.0f", $1 / $2 }') ledger entries/s"
