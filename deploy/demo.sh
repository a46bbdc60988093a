#!/bin/sh
# `make demo`: the metering path end to end on a throw-away database.
#
# Starts PostgreSQL under ./var/demo (as an unprivileged user), makes a
# development CA with server and provider certificates, migrates, registers
# two providers (prov-a with an Ed25519 key, prov-b with an SM2 key) and a
# marketplace (prov-m), a dozen enterprises across the four cities and a
# university, starts voucherd, pushes signed batches with voucher-push, shows
# what was stored, settles March 2026 for every programme (the four compute
# vouchers, the corpus, data and model vouchers, Hangzhou's 智能券 stacked with
# its 算力券) as one finance user and approves as another, publishes,
# exports, and shuts everything down.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
vectors=${VOUCHER_VECTORS:-$root/tests/vectors}
[ -f "$vectors/provider-a.ed25519.key" ] || { echo "demo: signing keys not found in $vectors" >&2; exit 1; }

var=$root/var/demo
rm -rf "$var"
mkdir -p "$var"
say() { printf '\n== %s\n' "$*"; }

pg_port=${DEMO_PG_PORT:-5434}
say "starting PostgreSQL under $var/pg"
sock=$(sh deploy/local-pg.sh start "$var/pg" $pg_port)
admin="host=$sock port=$pg_port user=postgres"
daemon_pid=
stop_all() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -TERM "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	sh deploy/local-pg.sh stop "$var/pg" || true
}
trap stop_all EXIT INT TERM
psql -q -X "$admin dbname=postgres" -c "CREATE DATABASE voucher" >/dev/null
export VOUCHER_DB="$admin dbname=voucher"
ctl=bin/voucherctl

say "migrating"
$ctl migrate

say "development CA and certificates in $var/pki"
sh deploy/dev-ca.sh "$var/pki" client prov-a >/dev/null
sh deploy/dev-ca.sh "$var/pki" client prov-b >/dev/null
sh deploy/dev-ca.sh "$var/pki" client prov-m >/dev/null
ls "$var/pki"

say "registering providers"
$ctl provider add prov-a --name "甲算力服务有限公司 (demo)" --uscc 91330483100000001E
$ctl provider add prov-b --name "乙超算中心 (demo)" --uscc 913202141000000038
$ctl provider cert add prov-a --cert "$var/pki/prov-a.pem"
$ctl provider cert add prov-b --cert "$var/pki/prov-b.pem"
$ctl provider key add prov-a prov-a-2026a --alg ed25519 --pub "$vectors/provider-a.ed25519.pub" \
	--valid-from 2026-01-01T00:00:00+08:00
$ctl provider key add prov-b prov-b-2026a --alg sm2-sm3 --pub "$vectors/provider-b.sm2.pub" \
	--valid-from 2026-01-01T00:00:00+08:00
$ctl provider facility add prov-a prov-a-wz1 --division 330483 --class A
$ctl provider facility add prov-b prov-b-wx2 --division 320214 --class B
# a data-trading platform: its corpus and dataset records name their seller
$ctl provider add prov-m --name "丙数据交易平台 (demo)" --uscc 91330100100000901T --kind marketplace
$ctl provider cert add prov-m --cert "$var/pki/prov-m.pem"
openssl genpkey -algorithm ed25519 -out "$var/pki/prov-m.sign.key" 2>/dev/null
openssl pkey -in "$var/pki/prov-m.sign.key" -pubout -out "$var/pki/prov-m.sign.pub"
$ctl provider key add prov-m prov-m-2026a --alg ed25519 --pub "$var/pki/prov-m.sign.pub" \
	--valid-from 2026-01-01T00:00:00+08:00
$ctl provider facility add prov-m prov-m-dx --division 330483 --class A
$ctl provider list

say "importing a dozen enterprises across Jiaxing, Tongxiang, Hangzhou and Wuxi, and a university in Wuxi"
$ctl enterprise import deploy/demo/enterprises.csv
$ctl enterprise list
# a seller related to 桐乡语料数据: its corpus sold to it counts for nothing
$ctl enterprise relate 91330483100000005T --seller 91330100100000902X

say "starting voucherd"
https_port=${DEMO_HTTPS_PORT:-18443}
metrics_port=${DEMO_METRICS_PORT:-19187}
cat >"$var/voucherd.conf" <<CONF
[server]
listen = 127.0.0.1:$https_port
tls_cert = $var/pki/server.pem
tls_key = $var/pki/server.key
tls_client_ca = $var/pki/ca.pem
[database]
conninfo = host=$sock port=$pg_port dbname=voucher user=voucher_ingest
[ingest]
signature_max_age_s = 3600
[metrics]
listen = 127.0.0.1:$metrics_port
CONF
bin/voucherd -c "$var/voucherd.conf" 2>"$var/voucherd.log" &
daemon_pid=$!
i=0
until curl -sf "http://127.0.0.1:$metrics_port/healthz" >/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "demo: voucherd did not become healthy:" >&2; cat "$var/voucherd.log" >&2; exit 1; }
	sleep 0.1
done
curl -s "http://127.0.0.1:$metrics_port/healthz"

push_a="bin/voucher-push --url https://127.0.0.1:$https_port --ca $var/pki/ca.pem
	--cert $var/pki/prov-a.pem --key $var/pki/prov-a.key
	--sign-key $vectors/provider-a.ed25519.key --key-id prov-a-2026a --alg ed25519"
push_b="bin/voucher-push --url https://127.0.0.1:$https_port --ca $var/pki/ca.pem
	--cert $var/pki/prov-b.pem --key $var/pki/prov-b.key
	--sign-key $vectors/provider-b.sm2.key --key-id prov-b-2026a --alg sm2-sm3"

push_m="bin/voucher-push --url https://127.0.0.1:$https_port --ca $var/pki/ca.pem
	--cert $var/pki/prov-m.pem --key $var/pki/prov-m.key
	--sign-key $var/pki/prov-m.sign.key --key-id prov-m-2026a --alg ed25519"

say "prov-a pushes the Ed25519 vector batch (three records, the third an adjustment)"
$push_a "$vectors/batch-a.json"
say "prov-b pushes the SM2 vector batch"
$push_b "$vectors/batch-b.json"
say "prov-a pushes 48 records of March 2026 in batches of 10"
$push_a --records deploy/demo/prov-a-usage.ndjson --provider prov-a --batch-size 10
say "the same command again: the same batch ids and bodies, so each batch gets its first answer back and nothing is stored twice"
$push_a --records deploy/demo/prov-a-usage.ndjson --provider prov-a --batch-size 10
say "prov-a pushes two model purchases, a university's compute and a corpus it sold itself; prov-m (a marketplace) corpus and datasets with their sellers"
$push_a --records deploy/demo/prov-a-kinds.ndjson --provider prov-a
$push_m --records deploy/demo/prov-m-usage.ndjson --provider prov-m

say "what was stored (audit views)"
psql -X -q "$VOUCHER_DB" -c "SELECT provider, batch_id, alg, record_count, accepted, duplicates, rejected
	FROM audit.batches ORDER BY received_at"
psql -X -q "$VOUCHER_DB" -c "SELECT u.enterprise, count(*) AS records,
	to_char(sum(u.amount_fen) / 100.0, 'FM999999990.00') AS yuan
	FROM audit.usage_records u GROUP BY 1 ORDER BY 1"
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -E '^voucherd_(records_accepted|records_duplicate|requests_total\{code="200"\}|batch_seconds_count)'

say "settlement: programmes, the official calendar, two finance users"
for f in settlement/programs/*.conf; do $ctl program load "$f"; done
$ctl calendar load settlement/calendar/2025.txt
$ctl calendar load settlement/calendar/2026.txt
printf 'demo password, not for production\n' > "$var/demo-password"
$ctl user add demo_preparer --role finance --password-file "$var/demo-password"
$ctl user add demo_approver --role finance --password-file "$var/demo-password"
prep() { $ctl --db "$admin dbname=voucher user=demo_preparer" "$@"; }
appr() { $ctl --db "$admin dbname=voucher user=demo_approver" "$@"; }
$ctl program list

say "demo_preparer settles March 2026 for every programme: four cities, five kinds of voucher"
runs=""
for p in jiaxing-compute tongxiang-compute wuxi-compute hangzhou-intelligent hangzhou-compute \
	tongxiang-corpus tongxiang-model wuxi-data wuxi-model; do
	out=$(prep settle --program $p --period 2026-03 2>/dev/null)
	echo "$out" | head -1
	run=$(echo "$out" | sed -n '1s/^run \([0-9]*\).*/\1/p')
	runs="$runs $run"
	case $p in tongxiang-compute) tx=$run ;; hangzhou-compute) hz=$run ;; esac
done

say "the lines of the Tongxiang run"
prep run show "$tx"
say "Hangzhou's 算力券 stacked on the 智能券 (at most 60% / 30% together; 免审配套 15% / 10%)"
prep run show "$hz"

say "demo_preparer may not approve its own run; demo_approver does"
prep run approve "$tx" || echo "(refused, as it must be)"
for r in $runs; do appr run approve "$r"; done

say "publish: the 5-working-day public notice; disbursing before it ends is refused"
appr run publish "$tx"
appr run disburse "$tx" --ref DEMO-PAY-0001 || echo "(refused, as it must be)"
$ctl run list

say "exports for the treasury and the enterprise's statement"
mkdir -p "$var/exports"
$ctl export "$tx" --format csv --out "$var/exports/run-$tx.csv" && echo "wrote $var/exports/run-$tx.csv"
$ctl export "$tx" --format xlsx --out "$var/exports/run-$tx.xlsx" && echo "wrote $var/exports/run-$tx.xlsx"
$ctl statement --enterprise 91330483100000001E --year 2026
say "the 语料券 statement: bought through a platform or not, from a related seller or not"
$ctl statement --enterprise 91330483100000005T --year 2026 --program tongxiang-corpus

say "the ledger, and an auditor's verification (read-only role voucher_auditor)"
$ctl ledger balances --program tongxiang-compute
$ctl --db "$admin dbname=voucher user=voucher_auditor" audit verify

say "what an auditor looks at first: the superuser's registry work above, the refused approval, unregistered usage"
$ctl --db "$admin dbname=voucher user=voucher_auditor" audit exceptions

say "stopping voucherd (SIGTERM) and PostgreSQL"
kill -TERM "$daemon_pid"
if wait "$daemon_pid"; then echo "voucherd exited 0"; else echo "voucherd exited $?"; exit 1; fi
daemon_pid=
tail -3 "$var/voucherd.log"
echo
echo "demo finished: the database files stay in $var until 'make clean'"
