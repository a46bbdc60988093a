#!/bin/sh
# make check-failover: losing the database machine loses nothing.
#
# A pg_auto_failover formation (deploy/ha/formation.sh: a monitor, a primary
# and a synchronous standby) under voucherd, which follows the primary with a
# multi-host conninfo; a steady signed load from several clients whose
# batches are retried until answered; meanwhile
#   1. kill -9 of the primary (keeper, postmaster and backends: the machine
#      is lost); the standby is promoted; the old node is started again and
#      rejoins as the standby;
#   2. kill -9 of the node that replaced it, once the old one is back;
#   3. the standby frozen (SIGSTOP, a machine that hangs or drops off the
#      network, without touching the network) for a while, then thawed:
#      the primary's commits wait for it until the monitor lets the primary
#      go on alone;
#   4. the primary frozen: the standby is promoted; voucherd gives up the
#      transactions the frozen node does not answer (database.reply_timeout_s)
#      and runs them again on the new primary; the node is thawed, is demoted
#      and rejoins.
# It prints, and asserts: every batch answered 200 in the end; records
# acknowledged = stored = distinct = sent; audit verify passes on the new
# primary; how long ingest was unavailable at each event (the longest
# stretch without a 200 around it); the switches voucherd counted.
# FAILOVER_RATE= (records/s, 1000) sizes the load.  KEEP=1 keeps the work dir.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/lib.sh
script_setup failover
ha=deploy/ha/formation.sh
rate=${FAILOVER_RATE:-1000}
read -r mport p1 p2 https metrics <<PORTS
$(free_ports 5)
PORTS
[ -n "$metrics" ] || fail "no free ports"
t_start=$(date +%s)
elapsed() { echo "$(($(date +%s) - t_start)) s"; }

say "the formation: a monitor, node1 and node2"
conninfo=$(sh $ha start "$work/ha" "$mport" "$p1" "$p2") || fail "the formation did not start"
sh $ha state "$work/ha"
export VOUCHER_DB="$conninfo user=postgres"
bin/voucherctl migrate >/dev/null
bench_registry
sync=$(psql -XAtq "$VOUCHER_DB" -c "SHOW synchronous_standby_names")
commit=$(psql -XAtq "$VOUCHER_DB" -c "SHOW synchronous_commit")
echo "primary: synchronous_commit = $commit, synchronous_standby_names = $sync"
case "$sync" in "ANY 1 ("*) ;; *) fail "the standby is not synchronous: '$sync'" ;; esac
[ "$commit" = on ] || fail "synchronous_commit is $commit"

start_voucherd voucherd "$https" "$metrics" "$conninfo user=voucher_ingest" "[database]
reply_timeout_s = 5
; the checks read the log: nothing may be left out
[log]
max_lines_per_s = 0"
curl -s "http://127.0.0.1:$metrics/healthz"

node_port() { [ "$1" = node1 ] && echo "$p1" || echo "$p2"; }
other() { [ "$1" = node1 ] && echo node2 || echo node1; }
healthz_primary() { curl -s "http://127.0.0.1:$metrics/healthz" | sed -n 's/.*"primary":"\([^"]*\)".*/\1/p'; }
# until the monitor names a primary other than $1 (60 s at most)
wait_new_primary() {
	i=0
	while :; do
		p=$(sh $ha primary "$work/ha" 2>/dev/null || true)
		[ -n "$p" ] && [ "$p" != "$1" ] && break
		i=$((i + 1))
		[ $i -lt 300 ] || { sh $ha state "$work/ha"; fail "no new primary 60 s after losing $1"; }
		sleep 0.2
	done
	echo "$p"
}
# until voucherd has written on NODE (60 s at most)
wait_voucherd_on() {
	i=0
	until [ "$(healthz_primary)" = "127.0.0.1:$(node_port "$1")" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "voucherd did not move to $1: $(curl -s "http://127.0.0.1:$metrics/healthz")"
		sleep 0.1
	done
}
now() { date +%s.%N | cut -c1-14; }
events="$work/events"
: >"$events"

# the load: 4 clients, $rate records/s in batches of 100, each batch sent
# until answered 200, until the timeline below is over (at most 10 minutes)
say "the load: $rate records/s over 4 connections ($(elapsed))"
$(bench_cmd "$https") --connections 4 --batch-size 100 --records $((rate * 600)) --rate "$rate" \
	--attempts 100000 --gaps 300 --prefix fo --stop-file "$work/timeline-done" >"$work/bench.out" \
	2>"$work/bench.err" &
bpid=$!
pids="$pids $bpid"
sleep 5

# lose_primary EVENT HOW TITLE: the primary lost by `formation.sh HOW`
# (kill or freeze); once the monitor promoted the standby and voucherd
# writes there, the lost node is brought back (run or thaw) and must rejoin
# as the standby
lose_primary() {
	p=$(sh $ha primary "$work/ha")
	say "$3, $p ($(elapsed))"
	t=$(now)
	echo "$1 $p $t" >>"$events"
	sh $ha "$2" "$work/ha" "$p"
	q=$(wait_new_primary "$p")
	echo "the monitor promoted $q after $(echo "$t $(now)" | awk '{ printf "%.1f", $2 - $1 }') s"
	wait_voucherd_on "$q"
	echo "voucherd writes on $q: $(curl -s "http://127.0.0.1:$metrics/healthz")"
	if [ "$2" = kill ]; then sh $ha run "$work/ha" "$p"; else sh $ha thaw "$work/ha" "$p"; fi
	sh $ha wait "$work/ha" 90 >/dev/null || fail "$p did not come back as the standby"
	echo "$p is back, as the standby ($(elapsed))"
}

lose_primary kill kill "1. kill -9 of the primary"
sleep 3
lose_primary kill kill "2. kill -9 of the node that replaced it"
sleep 3

s=$(sh $ha secondary "$work/ha")
say "3. the standby, $s, frozen for 10 s ($(elapsed))"
echo "freeze-standby $s $(now)" >>"$events"
sh $ha freeze "$work/ha" "$s"
sleep 10
sh $ha thaw "$work/ha" "$s"
sh $ha wait "$work/ha" 90 >/dev/null || fail "$s did not come back as the standby"
echo "$s thawed and back as the standby ($(elapsed))"
sleep 3

lose_primary freeze-primary freeze "4. the primary frozen until the standby is promoted"
touch "$work/timeline-done"

say "the load finishes ($(elapsed))"
wait "$bpid" || { cat "$work/bench.out" "$work/bench.err"; fail "voucher-bench failed"; }
cat "$work/bench.out"
val() { awk -v k="$1" '/^result/ { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' "$work/bench.out"; }
records=$(val records)
accepted=$(val accepted)
duplicates=$(val duplicates)
failed=$(val failed)
primary=$(sh $ha primary "$work/ha")
on_primary="host=127.0.0.1 port=$(node_port "$primary") dbname=voucher user=postgres"
stored=$(psql -XAtq "$on_primary" -c "SELECT count(*) FROM voucher.usage_records")
distinct=$(psql -XAtq "$on_primary" -c "SELECT count(DISTINCT (provider, record_id)) FROM voucher.usage_records")
batches=$(psql -XAtq "$on_primary" -c "SELECT count(*) FROM voucher.batches")
echo "records: sent $records, acknowledged $((accepted + duplicates)) ($accepted new, $duplicates answered as" \
	"already stored), stored $stored, distinct $distinct; batches stored $batches of $((records / 100))"
[ "$failed" = 0 ] || fail "$failed batches were never answered 200"
[ $((accepted + duplicates)) -eq "$records" ] || fail "acknowledged $((accepted + duplicates)), sent $records"
[ "$stored" -eq "$records" ] || fail "stored $stored, sent $records"
[ "$distinct" -eq "$records" ] || fail "distinct $distinct, sent $records"
[ "$batches" -eq $((records / 100)) ] || fail "$batches batches stored"

bin/voucherctl --db "$on_primary" audit verify >"$work/verify.out" 2>&1 ||
	{ cat "$work/verify.out"; fail "audit verify on the new primary"; }
echo "audit verify on $primary: $(tail -1 "$work/verify.out")"

say "unavailability"
# each event's: the stretch without a 200 that was going on at the event
# (begun at most 2 s after it: the answers in flight when it struck)
worst=0
while read -r what node t; do
	g=$(awk -v t="$t" '/^gap/ { split($2, f, "="); split($3, e, "="); split($4, m, "=");
		if (e[2] >= t && f[2] <= t + 2 && m[2] > best) best = m[2] } END { print best + 0 }' "$work/bench.out")
	printf '%-15s %-6s ingest unavailable for %s ms\n' "$what" "$node" "$g"
	case "$what" in
	kill | freeze-primary) [ "$g" -gt 0 ] || fail "$what $node: no stretch without a 200: was the load running?" ;;
	esac
	[ "$g" -lt 30000 ] || fail "$what $node: ingest unavailable for $g ms"
	[ "$g" -gt "$worst" ] && worst=$g
done <"$events"
hz=$(curl -s "http://127.0.0.1:$metrics/healthz")
switches=$(echo "$hz" | sed -n 's/.*"primary_switches":\([0-9]*\).*/\1/p')
echo "voucherd: $hz"
echo "voucherd counted $switches switches of primary (3 failovers caused)"
[ "$switches" -ge 3 ] || fail "voucherd counted $switches switches"
grep -c "event=db_reply_timeout" "$work/voucherd.log" | sed 's/^/reply timeouts (a frozen node not answering): /'
! grep -q "level=error" "$work/voucherd.log" || { grep "level=error" "$work/voucherd.log" | head; fail "voucherd logged errors"; }

echo
echo "check-failover: all passed ($(elapsed); the longest unavailability $worst ms)"
