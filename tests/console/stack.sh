#!/bin/sh
# A whole console stack on a throw-away database, for the browser tests
# (make check-browser), the console benchmark and trying the console by hand:
#
#   tests/console/stack.sh start DIR [PG_PORT [CONSOLE_PORT]]
#   tests/console/stack.sh stop DIR
#
# start: PostgreSQL (staff and the notice role sign in with SCRAM passwords,
# as in production; only postgres and voucher_ingest are trusted on the
# socket), migrated; the demo's providers, enterprises (plus one whose name
# is an HTML script, to prove it shows as text, with a little usage of its
# own so that it is on Tongxiang's run) and March 2026 usage pushed through a
# real voucherd; programmes and calendars loaded; users prep and
# appr (finance), aud (auditor) and web_notice (the public notice); each
# city's March 2026 settled by prep as a draft; then voucher-console on
# https://127.0.0.1:CONSOLE_PORT.  DIR/env holds what a test needs (ports,
# the password, the run ids); DIR/console.log the console's log.
# Environment: STACK_RECORDS (the usage file), STACK_IDLE_S (the console's
# session_idle_s), STACK_VOUCHERD_PORT and STACK_METRICS_PORT (voucherd's,
# while it loads the usage; CONSOLE_PORT+1 and +2 unless set).
# STACK_DEMO=no leaves out the demo data (provider, enterprises, usage, runs):
# the database, programmes, calendars, users and the console only, for a
# caller that loads its own data (tests/console/bench.sh).  STACK_LOG_LEVEL
# sets the console's [log] level (debug logs every request with its time).
set -eu
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [PG_PORT [CONSOLE_PORT]]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if [ "$cmd" = stop ]; then
	[ -f "$dir/console.pid" ] && kill -TERM "$(cat "$dir/console.pid")" 2>/dev/null || true
	sh deploy/local-pg.sh stop "$dir/pg" >/dev/null 2>&1 || true
	exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR [PG_PORT [CONSOLE_PORT]]" >&2; exit 2; }
pg_port=${3:-5445}
console_port=${4:-18444}
vectors=$root/tests/vectors
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
chmod 755 "$dir"
sock=$(PG_FSYNC=off sh deploy/local-pg.sh start "$dir/pg" "$pg_port")
admin="host=$sock port=$pg_port user=postgres"
# staff sign in with passwords; the tools' own roles stay trusted on the socket
hba="$dir/pg/data/pg_hba.conf"
{
	echo "local all postgres trust"
	echo "local all voucher_ingest trust"
	echo "local all all scram-sha-256"
} >"$hba"
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/pg/data" reload >/dev/null 2>&1 ||
	/usr/lib/postgresql/15/bin/pg_ctl -D "$dir/pg/data" reload >/dev/null
psql -q -X "$admin dbname=postgres" -c "CREATE DATABASE voucher" >/dev/null
export VOUCHER_DB="$admin dbname=voucher"
ctl=bin/voucherctl
$ctl migrate >/dev/null

sh deploy/dev-ca.sh "$dir/pki" >/dev/null
demo=${STACK_DEMO:-yes}
if [ "$demo" != no ]; then
sh deploy/dev-ca.sh "$dir/pki" client prov-a >/dev/null
$ctl provider add prov-a --name "甲算力服务有限公司" --uscc 91330483100000001E >/dev/null
$ctl provider cert add prov-a --cert "$dir/pki/prov-a.pem" >/dev/null
$ctl provider key add prov-a prov-a-2026a --alg ed25519 --pub "$vectors/provider-a.ed25519.pub" \
	--valid-from 2026-01-01T00:00:00+08:00 >/dev/null
$ctl provider facility add prov-a prov-a-wz1 --division 330483 --class A >/dev/null
# the demo's enterprises, and one whose name is a script
cp deploy/demo/enterprises.csv "$dir/enterprises.csv"
# one value per column of the demo's header (intelligent_match and any later optional column: 0)
row='91330483100000099G,<script>alert(1)</script>,330483,1,0,0,0,0,0,A,2025-01-01'
extra=$(($(head -1 "$dir/enterprises.csv" | tr ',' '\n' | wc -l) - 11))
while [ $extra -gt 0 ]; do row="$row,0"; extra=$((extra - 1)); done
echo "$row" >>"$dir/enterprises.csv"
$ctl enterprise import "$dir/enterprises.csv" >/dev/null

https_port=${STACK_VOUCHERD_PORT:-$((console_port + 1))}
metrics_port=${STACK_METRICS_PORT:-$((console_port + 2))}
cat >"$dir/voucherd.conf" <<CONF
[server]
listen = 127.0.0.1:$https_port
tls_cert = $dir/pki/server.pem
tls_key = $dir/pki/server.key
tls_client_ca = $dir/pki/ca.pem
[database]
conninfo = host=$sock port=$pg_port dbname=voucher user=voucher_ingest
[metrics]
listen = 127.0.0.1:$metrics_port
CONF
bin/voucherd -c "$dir/voucherd.conf" 2>"$dir/voucherd.log" &
vpid=$!
i=0
until curl -sf "http://127.0.0.1:$metrics_port/healthz" >/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "stack: voucherd did not start" >&2; cat "$dir/voucherd.log" >&2; exit 1; }
	sleep 0.1
done
bin/voucher-push --url "https://127.0.0.1:$https_port" --ca "$dir/pki/ca.pem" \
	--cert "$dir/pki/prov-a.pem" --key "$dir/pki/prov-a.key" \
	--sign-key "$vectors/provider-a.ed25519.key" --key-id prov-a-2026a --alg ed25519 \
	--records "${STACK_RECORDS:-deploy/demo/prov-a-usage.ndjson}" --provider prov-a --batch-size 500 >/dev/null
# three records of the script-named enterprise (Tongxiang), signed by prov-a
for i in 1 2 3; do
	printf '{"record_id":"stack-xss-%05d","enterprise":"91330483100000099G","facility":"prov-a-wz1",' "$i"
	printf '"category":"intelligent_compute","purpose":"training","quantity":"20.5","unit":"card_hour",'
	printf '"amount_fen":%d,"started_at":"2026-03-1%dT00:00:00+08:00",' $((30000 + i * 1000)) "$i"
	printf '"ended_at":"2026-03-1%dT08:00:00+08:00","contract_id":"STACK-HT-099"}\n' "$i"
done >"$dir/script-name-usage.ndjson"
bin/voucher-push --url "https://127.0.0.1:$https_port" --ca "$dir/pki/ca.pem" \
	--cert "$dir/pki/prov-a.pem" --key "$dir/pki/prov-a.key" \
	--sign-key "$vectors/provider-a.ed25519.key" --key-id prov-a-2026a --alg ed25519 \
	--records "$dir/script-name-usage.ndjson" --provider prov-a >/dev/null
kill -TERM $vpid
wait $vpid || true
fi

for f in settlement/programs/*.conf; do $ctl program load "$f" >/dev/null; done
$ctl calendar load settlement/calendar/2025.txt >/dev/null
$ctl calendar load settlement/calendar/2026.txt >/dev/null
password="console test password"
printf '%s\n' "$password" >"$dir/password"
$ctl user add prep --role finance --password-file "$dir/password" >/dev/null
$ctl user add appr --role finance --password-file "$dir/password" >/dev/null
$ctl user add aud --role auditor --password-file "$dir/password" >/dev/null
if $ctl user add --help 2>&1 | grep -q notice; then
	$ctl user add web_notice --role notice --password-file "$dir/password" >/dev/null
fi
printf '*:*:*:web_notice:%s\n' "$password" >"$dir/notice.pgpass"
chmod 600 "$dir/notice.pgpass"
runs=""
[ "$demo" = no ] ||
for p in tongxiang-compute jiaxing-compute hangzhou-compute wuxi-compute; do
	out=$(PGPASSWORD=$password $ctl --db "host=$sock port=$pg_port dbname=voucher user=prep" settle --program $p --period 2026-03)
	runs="$runs $(echo "$out" | sed -n '1s/^run \([0-9]*\).*/\1/p')"
done

cat >"$dir/console.conf" <<CONF
[console]
listen = 127.0.0.1:$console_port
tls_cert = $dir/pki/server.pem
tls_key = $dir/pki/server.key
notice_contact = 桐乡市经济和信息化局 电话 0573-00000000（测试）
session_idle_s = ${STACK_IDLE_S:-900}
[database]
conninfo = host=$sock port=$pg_port dbname=voucher
notice_user = web_notice
notice_passfile = $dir/notice.pgpass
CONF
[ -z "${STACK_LOG_LEVEL:-}" ] || printf '[log]\nlevel = %s\n' "$STACK_LOG_LEVEL" >>"$dir/console.conf"
bin/voucher-console -c "$dir/console.conf" >"$dir/console.log" 2>&1 &
echo $! >"$dir/console.pid"
i=0
until curl -sk -o /dev/null "https://127.0.0.1:$console_port/login"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "stack: voucher-console did not start" >&2; cat "$dir/console.log" >&2; exit 1; }
	sleep 0.1
done
cat >"$dir/env" <<ENV
CONSOLE_URL=https://127.0.0.1:$console_port
PG_SOCK=$sock
PG_PORT=$pg_port
STAFF_PASSWORD='$password'
RUNS='$(echo $runs)'
ENV
cat "$dir/env"
