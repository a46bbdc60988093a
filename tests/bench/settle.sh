#!/bin/sh
# make bench-settle: a month of usage for many enterprises, settled, beside a
# bare GROUP BY over the same rows.
#
#   RECORDS=10000000 ENTERPRISES=100000 tests/bench/settle.sh
#
# Generates the data with SQL on a throw-away cluster (fsync off: it changes
# how fast the data is loaded, not how fast it is read), registers the
# enterprises in Hangzhou (3301xx: rates by category and facility class, the
# small-buyer rule, the 2.5亿 pool; both Hangzhou programmes loaded, so that
# the 算力券 stacks on the 智能券 (rule 9) and a tenth of the enterprises take
# 免审配套 (rule 10)), then times
#   bare:   SELECT enterprise, sum(amount_fen) FROM usage_records GROUP BY enterprise
#   settle: voucherctl settle --program hangzhou-compute --period 2026-03
# and prints both, and their ratio; then settles hangzhou-intelligent once.
# BENCH_PG_PORT (5439) is the throw-away cluster's port.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
records=${RECORDS:-10000000}
ents=${ENTERPRISES:-100000}
runs=${RUNS:-3}
work=$(mktemp -d /tmp/voucher-bench.XXXXXX)
chmod 755 "$work"
[ -n "${KEEP:-}" ] || trap 'PG_FSYNC=off sh deploy/local-pg.sh stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT INT TERM
port=${BENCH_PG_PORT:-5439}
sock=$(PG_FSYNC=off sh deploy/local-pg.sh start "$work/pg" $port)
export VOUCHER_DB="host=$sock port=$port user=postgres dbname=bench"
psql -qX "host=$sock port=$port user=postgres dbname=postgres" -c "CREATE DATABASE bench"
bin/voucherctl migrate >/dev/null
bin/voucherctl program load settlement/programs/hangzhou-intelligent.conf >/dev/null
bin/voucherctl program load settlement/programs/hangzhou-compute.conf >/dev/null
# settle is a finance user's work (superusers may not prepare runs)
psql -qX "$VOUCHER_DB" -c "DO \$\$ BEGIN CREATE ROLE bench_preparer LOGIN IN ROLE voucher_finance;
	EXCEPTION WHEN duplicate_object THEN NULL; END \$\$"
prep="host=$sock port=$port user=bench_preparer dbname=bench"
now() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }

echo "generating $ents enterprises and $records usage records (March 2026)..."
t=$(now)
psql -qX "$VOUCHER_DB" <<SQL
INSERT INTO voucher.providers (code, name, uscc) VALUES ('bench', 'bench', '91330106100000002H');
INSERT INTO voucher.provider_keys (provider, key_id, alg, public_pem) VALUES ('bench', 'k', 'ed25519', 'x');
INSERT INTO voucher.facilities (provider, facility, division, class) VALUES
	('bench', 'fa', '330106', 'A'), ('bench', 'fb', '330106', 'B');
INSERT INTO voucher.batches (provider, batch_id, digest, key_id, alg, sig_created, content_digest,
	signature_input, signature, body, record_count, accepted, duplicates, rejected, answer)
VALUES ('bench', 'b', 'd', 'k', 'ed25519', now(), '', '', '', '\x', 0, 0, 0, 0, '{}');
-- enterprises: "91" + a Hangzhou division + 9 digits + a check character
-- (the benchmark does not need valid check characters: the database checks the alphabet only)
CREATE TEMP TABLE e AS
SELECT i, '91' || (ARRAY['330102','330105','330106','330108','330109','330110'])[1 + i % 6]
	|| lpad(i::text, 9, '0') || '0' AS uscc,
	(ARRAY['330102','330105','330106','330108','330109','330110'])[1 + i % 6] AS division
FROM generate_series(1, $ents) i;
INSERT INTO voucher.enterprises (uscc) SELECT uscc FROM e;
INSERT INTO voucher.enterprise_versions (uscc, valid_from, name, division, sme, foundation_model, intelligent_match)
SELECT uscc, '2025-01-01', '杭州测试企业' || i, division, i % 3 = 0, i % 50 = 0, i % 10 = 5 FROM e;
ALTER TABLE voucher.usage_records DISABLE TRIGGER usage_records_append_only;
INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility, category,
	quantity, unit, amount_fen, started_at, ended_at, contract_id, content_hash)
SELECT 'bench', 'r' || n, 'b', '91' || (ARRAY['330102','330105','330106','330108','330109','330110'])[1 + (n % $ents + 1) % 6]
	|| lpad((n % $ents + 1)::text, 9, '0') || '0',
	CASE WHEN n % 7 = 0 THEN 'fb' ELSE 'fa' END,
	(ARRAY['intelligent_compute','intelligent_compute','supercomputing','model_service','general_compute'])[1 + n % 5],
	1, 'card_hour', 1000 + (n::bigint * 7919) % 500000,
	timestamptz '2026-03-01 00:00+08' + (n % 2674000) * interval '1 second',
	timestamptz '2026-03-01 01:00+08' + (n % 2674000) * interval '1 second',
	'C', '\x00'
FROM generate_series(1, $records) n;
ALTER TABLE voucher.usage_records ENABLE TRIGGER usage_records_append_only;
ANALYZE;
SQL
echo "generated in $(secs "$t" "$(now)") s"

best_bare=""; best_settle=""
for i in $(seq 1 "$runs"); do
	t=$(now)
	psql -qX "$VOUCHER_DB" -c "SELECT enterprise, sum(amount_fen) FROM voucher.usage_records GROUP BY enterprise" >/dev/null
	b=$(secs "$t" "$(now)")
	t=$(now)
	bin/voucherctl --db "$prep" settle --program hangzhou-compute --period 2026-03 >"$work/settle.out" 2>"$work/settle.err"
	s=$(secs "$t" "$(now)")
	echo "run $i: bare GROUP BY $b s, settle $s s"
	best_bare="$best_bare $b"; best_settle="$best_settle $s"
done
cat "$work/settle.err"
head -2 "$work/settle.out"
t=$(now)
bin/voucherctl --db "$prep" settle --program hangzhou-intelligent --period 2026-03 >"$work/settle-i.out" 2>/dev/null
echo "hangzhou-intelligent: settled in $(secs "$t" "$(now)") s: $(head -1 "$work/settle-i.out")"
median() { echo "$@" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mb=$(median $best_bare); ms=$(median $best_settle)
echo "records=$records enterprises=$ents median bare=${mb}s settle=${ms}s ratio=$(echo "$mb $ms" | awk '{ printf "%.2f", $2 / $1 }')"
