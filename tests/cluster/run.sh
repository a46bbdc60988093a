#!/bin/sh
# make check-cluster: voucherd past one machine, on PostgreSQL's own tools.
#
#   1. Two voucherd on one database behind HAProxy (the layout of
#      deploy/haproxy.cfg, TCP pass-through): 8 clients send through the
#      balancer; one voucherd is killed halfway; its connections break and
#      the clients reconnect through the balancer to the other, which takes
#      the rest; every batch is answered 200 and stored once.
#   2. A streaming replica (deploy/local-pg.sh replica): once it has replayed
#      the primary's WAL, the audit views answer the same there and
#      `voucherctl audit verify` passes on it as voucher_auditor.
#   3. A multi-host conninfo listing the replica first: voucherctl's writing
#      commands find the primary by themselves, audit commands take the first
#      host (the replica); a write forced onto the replica is refused.
# Bounded: about half a minute.  KEEP=1 keeps the work directory.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/lib.sh
script_setup cluster
command -v haproxy >/dev/null || { echo "$script: haproxy not installed (make deps)" >&2; exit 1; }
# free ports (tests/lib.sh): the primary's and the replica's sockets, HAProxy,
# two voucherd and their metrics
read -r pport rport lb p1 p2 m1 m2 <<PORTS
$(free_ports 7)
PORTS
[ -n "$m2" ] || fail "no free ports"

psock=$(sh deploy/local-pg.sh start "$work/pg" $pport)
primary="host=$psock port=$pport dbname=cluster"
export VOUCHER_DB="$primary user=postgres"
psql -qX "host=$psock port=$pport user=postgres dbname=postgres" -c "CREATE DATABASE cluster"
bin/voucherctl migrate >/dev/null
bench_registry
psql -qX "$VOUCHER_DB" -c "CREATE ROLE cluster_auditor LOGIN IN ROLE voucher_auditor"

say "1. two voucherd behind HAProxy, one killed under load"
for n in 1 2; do
	eval "hp=\$p$n mp=\$m$n"
	# the checks count batch_stored lines: none may be left out
	start_voucherd "v$n" "$hp" "$mp" "$primary user=voucher_ingest" "[log]
max_lines_per_s = 0"
	eval "v$n=\$voucherd_pid"
done
# deploy/haproxy.cfg with this machine's addresses
cat >"$work/haproxy.cfg" <<CONF
global
	maxconn 2000
defaults
	mode tcp
	timeout connect 5s
	timeout client 90s
	timeout server 90s
	retries 2
	option redispatch
frontend ingest
	bind 127.0.0.1:$lb
	default_backend voucherd
backend voucherd
	balance leastconn
	option httpchk GET /healthz
	http-check expect status 200
	default-server check inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
	server voucherd1 127.0.0.1:$p1 port $m1
	server voucherd2 127.0.0.1:$p2 port $m2
CONF
haproxy -c -q -f "$work/haproxy.cfg" || fail "the HAProxy configuration is invalid"
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids="$pids $!"
sleep 1.5 # HAProxy's first health checks
# 60,000 records at 15,000/s over 8 connections through the balancer
$(bench_cmd $lb) --connections 8 --batch-size 500 --records 60000 --rate 15000 \
	--prefix lb >"$work/lb.out" &
bpid=$!
sleep 2
kill -9 "$v1"
echo "killed voucherd1"
wait $bpid || { cat "$work/lb.out"; fail "voucher-bench failed through the balancer"; }
cat "$work/lb.out"
# answered by each (a batch voucherd1 committed but could not answer before
# the kill is answered by voucherd2 as a replay)
s1=$(grep -cE "event=batch_(stored|replayed)" "$work/v1.log" || true)
s2=$(grep -cE "event=batch_(stored|replayed)" "$work/v2.log" || true)
echo "batches answered: $s1 by voucherd1 (killed), $s2 by voucherd2"
[ "$s1" -gt 0 ] || fail "voucherd1 answered nothing before it was killed"
[ "$s1" -lt 120 ] || fail "voucherd1 answered everything: the kill came too late"
[ $((s1 + s2)) -ge 120 ] || fail "only $((s1 + s2)) batches answered by the two"
[ "$(psql -XAtq "$VOUCHER_DB" -c "SELECT count(*) FROM voucher.batches")" -eq 120 ] || fail "not 120 batches"
[ "$(psql -XAtq "$VOUCHER_DB" -c "SELECT count(*) FROM voucher.usage_records")" -eq 60000 ] ||
	fail "not 60000 records"
echo "ok: both daemons took batches, one was killed, all 120 batches stored once"

say "2. a streaming replica for auditors"
rsock=$(sh deploy/local-pg.sh replica "$work/replica" $rport "$work/pg" $pport)
replica="host=$rsock port=$rport dbname=cluster"
lsn=$(psql -XAtq "$VOUCHER_DB" -c "SELECT pg_current_wal_lsn()")
i=0
until [ "$(psql -XAtq "$replica user=postgres" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the replica did not catch up"
	sleep 0.1
done
[ "$(psql -XAtq "$replica user=postgres" -c "SELECT pg_is_in_recovery()")" = t ] || fail "not a standby"
for v in batches usage_records provider_keys ledger_entries; do
	a=$(psql -XAtq "$primary user=cluster_auditor" -c "SELECT count(*) FROM audit.$v")
	b=$(psql -XAtq "$replica user=cluster_auditor" -c "SELECT count(*) FROM audit.$v")
	[ "$a" = "$b" ] || fail "audit.$v: $a rows on the primary, $b on the replica"
done
bin/voucherctl --db "$replica user=cluster_auditor" audit verify >"$work/verify.out" 2>&1 ||
	{ cat "$work/verify.out"; fail "audit verify on the replica"; }
tail -1 "$work/verify.out"
echo "ok: the audit views and audit verify answer on the replica"

say "3. a multi-host conninfo, replica first"
multi="host=$rsock,$psock port=$rport,$pport dbname=cluster user=postgres"
bin/voucherctl --db "$multi" provider facility add bench f2 --division 330483 --class B >/dev/null ||
	fail "a writing command did not find the primary"
[ "$(psql -XAtq "$VOUCHER_DB" -c "SELECT count(*) FROM voucher.facilities WHERE facility = 'f2'")" = 1 ] ||
	fail "the facility was not stored on the primary"
bin/voucherctl --db "$multi" --format csv provider list >/dev/null || fail "provider list"
bin/voucherctl --db "host=$rsock,$psock port=$rport,$pport dbname=cluster user=cluster_auditor" \
	audit verify >"$work/verify2.out" 2>&1 || { cat "$work/verify2.out"; fail "audit verify, multi-host"; }
if bin/voucherctl --db "$multi target_session_attrs=any" provider facility add bench f3 --division 330483 \
	--class B >"$work/ro.out" 2>&1; then
	fail "a write forced onto the replica was accepted"
fi
grep -qi "read-only" "$work/ro.out" || { cat "$work/ro.out"; fail "the refusal does not say read-only"; }
echo "ok: writes found the primary; audit ran on the replica; a write on the replica is refused"

echo
echo "check-cluster: all passed"
