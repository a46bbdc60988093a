#!/bin/sh
# make check-faults: voucherd under faults, with real clients retrying.
#
#   1. SIGKILL: voucherd is killed 4 times while 8 clients send; each time it
#      is started again.  Every batch ends answered 200, every acknowledged
#      record is stored exactly once, and no batch is half stored.
#   2. The database stops for 3 s under load: clients get 503 with
#      Retry-After, voucherd stays up (same pid) and takes batches again by
#      itself within 2 s of the database's return; nothing is lost.
#   3. Two voucherd on one database get the same batches at the same time:
#      each batch and record is stored once, both answer the same.
#   4. 20 clients that send a byte a second or vanish mid-body, beside a
#      normal load: the normal clients are all served, the slow connections
#      are closed by the request timeout, no descriptor is left open, and
#      voucherd exits 0 after SIGTERM (under ASan: no leak).
# After each: `voucherctl audit verify` as voucher_auditor passes (signatures,
# every stored record in its signed body, no record without its batch).
# Bounded: about a minute.  KEEP=1 keeps the work directory.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/lib.sh
script_setup faults
# free ports (tests/lib.sh): PostgreSQL's socket, two voucherd and their metrics
read -r port p1 p2 m1 m2 <<PORTS
$(free_ports 5)
PORTS
[ -n "$m2" ] || fail "no free ports"

sock=$(sh deploy/local-pg.sh start "$work/pg" $port)
admin="host=$sock port=$port user=postgres"
export VOUCHER_DB="$admin dbname=faults"
psql -qX "$admin dbname=postgres" -c "CREATE DATABASE faults"
bin/voucherctl migrate >/dev/null
bench_registry
psql -qX "$VOUCHER_DB" -c "CREATE ROLE faults_auditor LOGIN IN ROLE voucher_auditor"

# conf NAME HTTPS_PORT METRICS_PORT [EXTRA server keys]
conf() {
	# the checks count batch_stored lines: none may be left out
	voucherd_conf "$1" "$2" "$3" "host=$sock port=$port dbname=faults user=voucher_ingest" "[log]
max_lines_per_s = 0
[server]
${4:-}"
}
# start NAME METRICS_PORT: starts voucherd, waits until healthy, sets $daemon
start() {
	bin/voucherd -c "$work/$1.conf" 2>>"$work/$1.log" &
	daemon=$!
	pids="$pids $daemon"
	wait_healthy "$2" "$work/$1.log"
}
# stop PID: SIGTERM, wait, must exit 0
stop() {
	kill -TERM "$1"
	rc=0
	wait "$1" || rc=$?
	[ "$rc" -eq 0 ] || fail "voucherd exited $rc after SIGTERM (see $work/*.log)"
}
# bench HTTPS_PORT voucher-bench-options...
bench() {
	bport=$1
	shift
	$(bench_cmd "$bport") "$@"
}
field() { awk -v k="$2" '/^result/ { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' "$1"; }
sql() { psql -XAtq "$VOUCHER_DB" -c "$1"; }
# the database holds exactly what the answers say, whole batches only
check_stored() {
	accepted=$1
	stored=$(sql "SELECT count(*) FROM voucher.usage_records")
	[ "$stored" -eq "$accepted" ] || fail "$stored records stored, the answers accepted $accepted"
	half=$(sql "SELECT count(*) FROM voucher.batches b WHERE b.accepted <>
		(SELECT count(*) FROM voucher.usage_records u WHERE u.provider = b.provider AND u.batch_id = b.batch_id)")
	[ "$half" -eq 0 ] || fail "$half batches hold another number of records than their answer says"
	orphans=$(sql "SELECT count(*) FROM voucher.usage_records u WHERE NOT EXISTS
		(SELECT 1 FROM voucher.batches b WHERE b.provider = u.provider AND b.batch_id = u.batch_id)")
	[ "$orphans" -eq 0 ] || fail "$orphans records without their batch"
	bin/voucherctl --db "$admin dbname=faults user=faults_auditor" audit verify >"$work/verify.out" 2>&1 ||
		{ cat "$work/verify.out" >&2; fail "audit verify"; }
}
total=0

say "1. voucherd killed (SIGKILL) 4 times under load"
conf d1 $p1 $m1
start d1 $m1
# 60,000 records at 15,000/s: the load spans the four kills
bench $p1 --connections 8 --batch-size 500 --records 60000 --rate 15000 --duplicates 0.1 --prefix kill \
	>"$work/kill.out" &
bpid=$!
for k in 1 2 3 4; do
	sleep 0.8
	kill -9 "$daemon"
	wait "$daemon" 2>/dev/null || true
	echo "killed voucherd ($k)"
	sleep 0.2
	start d1 $m1
done
wait $bpid || { cat "$work/kill.out"; fail "voucher-bench failed"; }
cat "$work/kill.out"
[ "$(field "$work/kill.out" failed)" -eq 0 ] || fail "batches without a 200"
[ "$(sql "SELECT count(*) FROM voucher.batches WHERE batch_id LIKE 'kill-%'")" -eq 120 ] || fail "not 120 batches"
[ "$(field "$work/kill.out" retries)" -gt 0 ] || fail "no request was cut by a kill: the load did not span them"
total=$((total + $(field "$work/kill.out" accepted)))
check_stored $total
echo "ok: 120 batches, $total records, each once; audit verify passes"

say "2. PostgreSQL stopped for 3 s under load"
# 75,000 records at 15,000/s: the load spans the outage
bench $p1 --connections 8 --batch-size 500 --records 75000 --rate 15000 --prefix pgstop >"$work/pgstop.out" &
bpid=$!
sleep 1
sh deploy/local-pg.sh stop "$work/pg" >/dev/null
echo "PostgreSQL stopped"
sleep 1
code=000
for try in 1 2 3; do
	code=$(curl -s --max-time 5 -o "$work/503.json" -w '%{http_code}' "http://127.0.0.1:$m1/healthz" || true)
	[ "$code" = 000 ] || break
	sleep 0.2
done
[ "$code" = 503 ] || fail "/healthz said $code while the database was down"
sleep 2
sh deploy/local-pg.sh start "$work/pg" $port >/dev/null
t0=$(date +%s.%N)
echo "PostgreSQL started"
until curl -sf "http://127.0.0.1:$m1/healthz" >/dev/null 2>&1; do
	sleep 0.05
	back=$(echo "$t0 $(date +%s.%N)" | awk '{ printf "%.2f", $2 - $1 }')
	[ "$(echo "$back" | awk '{ print ($1 > 10) }')" -eq 0 ] || fail "voucherd not healthy 10 s after the database returned"
done
back=$(echo "$t0 $(date +%s.%N)" | awk '{ printf "%.2f", $2 - $1 }')
echo "voucherd healthy again $back s after the database started"
wait $bpid || { cat "$work/pgstop.out"; fail "voucher-bench failed"; }
cat "$work/pgstop.out"
kill -0 "$daemon" || fail "voucherd died"
grep -q "status=503 code=database_unavailable" "$work/pgstop.out" || fail "no 503 database_unavailable was seen"
grep -q "event=db_reconnected" "$work/d1.log" || fail "no db_reconnected in the log"
total=$((total + $(field "$work/pgstop.out" accepted)))
check_stored $total
echo "ok: 503 while down, the same voucherd took batches again $back s after; nothing lost"

say "3. two voucherd, the same batches at the same time"
conf d2 $p2 $m2
d1pid=$daemon
start d2 $m2
d2pid=$daemon
bench $p1 --connections 4 --batch-size 200 --records 20000 --duplicates 0.2 --prefix twin >"$work/twin1.out" &
b1=$!
bench $p2 --connections 4 --batch-size 200 --records 20000 --duplicates 0.2 --prefix twin >"$work/twin2.out" &
b2=$!
wait $b1 || fail "voucher-bench 1 failed"
wait $b2 || fail "voucher-bench 2 failed"
a1=$(field "$work/twin1.out" accepted)
a2=$(field "$work/twin2.out" accepted)
[ "$a1" -eq "$a2" ] || fail "the two daemons' answers differ ($a1 and $a2 accepted)"
[ "$(sql "SELECT count(*) FROM voucher.batches WHERE batch_id LIKE 'twin-%'")" -eq 100 ] || fail "not 100 batches"
total=$((total + a1))
check_stored $total
stop $d2pid
echo "ok: 100 batches stored once; both daemons answered the same ($a1 accepted)"

say "4. slow and vanishing clients beside a normal load"
stop $d1pid
conf d1 $p1 $m1 "request_timeout_s = 3"
start d1 $m1
fds0=$(ls "/proc/$daemon/fd" | wc -l)
s_client() {
	openssl s_client -quiet -connect "127.0.0.1:$p1" -cert "$work/pki/bench.pem" -key "$work/pki/bench.key" \
		-CAfile "$work/pki/ca.pem" >/dev/null 2>&1
}
slow=""
for i in $(seq 1 10); do
	# a byte a second, for longer than the request timeout
	(for c in P O S T ' ' / v 1 / u s a g e - b a t c h e s ' ' H T T P / 1 . 1; do
		printf '%s' "$c"; sleep 1; done) | s_client &
	slow="$slow $!"
	# headers, half a body, then gone
	(printf 'POST /v1/usage-batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"batch_id":"x'
	 sleep 0.5) | s_client &
	slow="$slow $!"
done
# 20,000 records at 5,000/s: the load spans the slow clients' whole stay
bench $p1 --connections 4 --batch-size 500 --records 20000 --rate 5000 --prefix beside >"$work/beside.out" ||
	{ cat "$work/beside.out"; fail "the normal clients were not all served"; }
cat "$work/beside.out"
for p in $slow; do wait "$p" 2>/dev/null || true; done
sleep 1
fds1=$(ls "/proc/$daemon/fd" | wc -l)
[ "$fds1" -le "$fds0" ] || fail "voucherd holds $fds1 descriptors, $fds0 before the slow clients"
n=$(grep -c "event=connection_timeout" "$work/d1.log" || true)
[ "$n" -ge 10 ] || fail "only $n slow connections were closed by the request timeout"
total=$((total + $(field "$work/beside.out" accepted)))
check_stored $total
stop $daemon
echo "ok: normal load served, $n slow connections closed, descriptors $fds0 -> $fds1, clean exit"

echo
echo "check-faults: all passed ($total records stored once, audit verify after each)"
