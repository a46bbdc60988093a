#!/bin/sh
# Settlement during a switch of primary (issue 15): `settle` and `run approve`
# either complete on the old primary and are visible on the new one, or fail
# with a message and can be run again.  On a pg_auto_failover formation of
# this machine (deploy/ha/formation.sh: a monitor, a primary and a
# synchronous standby); voucherctl is given both nodes (a multi-host conninfo)
# and finds the primary by itself.
#
#   A. Tongxiang's March 2026 is settled by one finance user and approved by
#      another; right after, the primary's machine is lost (kill -9 of its
#      keeper, postmaster and backends).  Once the standby is primary, the
#      run is there, approved, with the same totals and lines, and
#      `audit verify` passes.
#   B. The lost node rejoins as a standby (pg_rewind).  A session holds a
#      SHARE lock on voucher.run_lines, so that Jiaxing's settle stops in the
#      middle of storing its draft (run row inserted, lines waiting); the
#      primary is lost then.  voucherctl exits 1 saying that the connection
#      was lost; the new primary has no trace of the run; the same command
#      again stores it there.
#
# The usage is the demo's March 2026 (deploy/demo/prov-a-usage.ndjson), sent
# signed through voucherd, so that `audit verify` checks its batches too.
# Needs bin/ (make) and pg_autoctl.  Bounded: about 40 s.  KEEP=1 keeps the
# work directory.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/lib.sh
script_setup failover-settle
command -v pg_autoctl >/dev/null || { echo "$script: pg_autoctl not installed (make deps)" >&2; exit 1; }
for b in voucherctl voucherd voucher-push; do
	[ -x bin/$b ] || { echo "$script: bin/$b not found: build first (make)" >&2; exit 1; }
done
ha=$work/ha
formation() {
	c=$1
	shift
	sh deploy/ha/formation.sh "$c" "$ha" "$@"
}
# the formation goes with the script: stopped, and anything of it left killed
cleanup() {
	formation stop >/dev/null 2>&1 || true
	for p in $(pgrep -f "$ha" || true); do kill -9 "$p" 2>/dev/null || true; done
	script_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM
t_start=$(date +%s)
now() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{ printf "%.1f", $2 - $1 }'; }

# free ports (tests/lib.sh): the monitor, the two nodes, voucherd and its metrics
read -r mport p1 p2 vport mtport <<PORTS
$(free_ports 5)
PORTS
[ -n "$mtport" ] || fail "no free ports"

say "a formation: monitor, primary, synchronous standby"
multi=$(formation start "$mport" "$p1" "$p2")
echo "$multi"
export VOUCHER_DB="$multi user=postgres"
rw="$VOUCHER_DB target_session_attrs=read-write"
sql() { psql -XAtq "$rw" -c "$1"; }
formation state

bin/voucherctl migrate >/dev/null
bench_registry
for p in tongxiang-compute jiaxing-compute; do
	bin/voucherctl program load settlement/programs/$p.conf >/dev/null
done
bin/voucherctl enterprise import deploy/demo/enterprises.csv >/dev/null
printf 'failover test password\n' >"$work/password"
for u in fin1:finance fin2:finance aud:auditor; do
	bin/voucherctl user add "${u%:*}" --role "${u#*:}" --password-file "$work/password" >/dev/null
done
prep="$multi user=fin1"
appr="$multi user=fin2"
aud="$multi user=aud"
# the demo's usage of March 2026 through voucherd (following the primary
# itself), as provider bench of bench_registry, at its facility f1 (Tongxiang)
sed 's/"prov-a-wz1"/"f1"/' deploy/demo/prov-a-usage.ndjson >"$work/usage.ndjson"
start_voucherd voucherd "$vport" "$mtport" "$multi user=voucher_ingest"
vd=$voucherd_pid
bin/voucher-push --url "https://127.0.0.1:$vport" --ca "$work/pki/ca.pem" --cert "$work/pki/bench.pem" \
	--key "$work/pki/bench.key" --sign-key "$vectors/provider-a.ed25519.key" --key-id k1 \
	--records "$work/usage.ndjson" --provider bench -q >"$work/push.out" 2>&1 ||
	{ cat "$work/push.out"; fail "voucher-push"; }
kill -TERM $vd
wait $vd || fail "voucherd did not stop cleanly"
records=$(sql "SELECT count(*) FROM voucher.usage_records")
[ "$records" -eq 48 ] || fail "$records usage records stored, not 48"
echo "48 usage records of March 2026 stored through voucherd"

# primary_after OLD: waits (60 s at most) until a node other than OLD is
# primary, and prints its name
primary_after() {
	i=0
	while :; do
		p=$(formation primary 2>/dev/null || true)
		[ -z "$p" ] || [ "$p" = "$1" ] || break
		i=$((i + 1))
		[ $i -lt 300 ] || { formation state >&2 || true; fail "no new primary 60 s after $1 was lost"; }
		sleep 0.2
	done
	echo "$p"
}

say "A. settle and approve complete on the primary, which is lost right after"
bin/voucherctl --db "$prep" settle --program tongxiang-compute --period 2026-03 >"$work/a-settle.out" 2>"$work/a.err" ||
	{ cat "$work/a.err"; fail "settle"; }
head -1 "$work/a-settle.out"
run=$(sed -n '1s/^run \([0-9]*\) .*/\1/p' "$work/a-settle.out")
[ -n "$run" ] || fail "no run id in: $(cat "$work/a-settle.out")"
bin/voucherctl --db "$appr" run approve "$run" || fail "run approve $run"
bin/voucherctl --db "$prep" --format csv run list >"$work/a-list-before.csv"
bin/voucherctl --db "$prep" run show "$run" >"$work/a-show-before.txt"
old=$(formation primary)
t=$(now)
formation kill "$old"
new=$(primary_after "$old")
ta=$(secs "$t" "$(now)")
echo "killed $old; $new is primary $ta s later"
bin/voucherctl --db "$prep" --format csv run list >"$work/a-list-after.csv" ||
	fail "run list on the new primary"
bin/voucherctl --db "$prep" run show "$run" >"$work/a-show-after.txt" || fail "run show $run on the new primary"
grep "^$run," "$work/a-list-after.csv" | grep -q ",approved," || { cat "$work/a-list-after.csv"; fail "run $run is not approved on $new"; }
cmp -s "$work/a-list-before.csv" "$work/a-list-after.csv" ||
	{ diff "$work/a-list-before.csv" "$work/a-list-after.csv" || true; fail "run list differs on $new"; }
cmp -s "$work/a-show-before.txt" "$work/a-show-after.txt" ||
	{ diff "$work/a-show-before.txt" "$work/a-show-after.txt" || true; fail "run show $run differs on $new"; }
grep "^$run," "$work/a-list-after.csv"
bin/voucherctl --db "$aud" audit verify >"$work/a-verify.out" 2>&1 || { cat "$work/a-verify.out"; fail "audit verify on $new"; }
ok_a="ok: A. run $run settled by fin1 and approved by fin2 on $old, then $old killed; $new primary after $ta s: run $run approved there, same totals and lines, audit verify passes"
echo "$ok_a"

say "B. a settle cut off by the loss of the primary, then run again"
formation run "$old"
t=$(now)
formation wait 60 >/dev/null || fail "$old did not rejoin as a standby"
echo "$old rejoined as a standby in $(secs "$t" "$(now)") s"
primary=$(formation primary)
[ "$primary" = "$new" ] || fail "the primary is $primary, not $new"
# a session on the primary holds run_lines: settle computes, inserts its
# run row and waits to insert the lines
psql -qX "$rw" >"$work/hold.out" 2>&1 <<SQL &
BEGIN;
LOCK TABLE voucher.run_lines IN SHARE MODE;
SELECT pg_sleep(60);
SQL
hold=$!
pids="$pids $hold"
i=0
until [ "$(sql "SELECT count(*) FROM pg_locks WHERE relation = 'voucher.run_lines'::regclass
	AND mode = 'ShareLock' AND granted")" = 1 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$work/hold.out"; fail "the lock on run_lines was not taken"; }
	sleep 0.1
done
bin/voucherctl --db "$prep" settle --program jiaxing-compute --period 2026-03 >"$work/b-settle.out" 2>"$work/b-settle.err" &
settle=$!
pids="$pids $settle"
i=0
until [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'fin1' AND wait_event_type = 'Lock'
	AND query LIKE '%voucher.run_store%' AND backend_xid IS NOT NULL")" = 1 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$work/b-settle.err"; fail "settle did not come to wait for the lock"; }
	sleep 0.1
done
echo "settle waits in voucher.run_store for run_lines (wait_event_type Lock), its transaction open"
t=$(now)
formation kill "$new"
rc=0
wait $settle || rc=$?
echo "killed $new; voucherctl settle exited $rc after $(secs "$t" "$(now)") s, saying:"
# (without settle's progress lines)
grep -Ev '^settle: +[0-9.]+s ' "$work/b-settle.err" | sed 's/^/  | /'
[ $rc -eq 1 ] || fail "settle exited $rc, not 1"
[ ! -s "$work/b-settle.out" ] || { cat "$work/b-settle.out"; fail "settle printed a run"; }
grep -q "connection to the database was lost" "$work/b-settle.err" || fail "the message does not say that the connection was lost"
wait $hold || true
new2=$(primary_after "$new")
[ "$new2" = "$old" ] || fail "$new2 is primary, not $old"
tb=$(secs "$t" "$(now)")
echo "$old is primary $tb s after the kill"
n=$(sql "SELECT count(*) FROM voucher.runs WHERE program = 'jiaxing-compute'")
[ "$n" = 0 ] || fail "$n runs of jiaxing-compute on $old after the cut-off settle"
n=$(sql "SELECT count(*) FROM voucher.run_lines WHERE run_id NOT IN (SELECT run_id FROM voucher.runs)")
[ "$n" = 0 ] || fail "$n run lines without their run on $old"
ok_b1="ok: B. settle held in voucher.run_store when $new was killed: exit $rc, 'the connection to the database was lost'; $old primary after $tb s, no run of jiaxing-compute there"
echo "$ok_b1"
bin/voucherctl --db "$prep" settle --program jiaxing-compute --period 2026-03 >"$work/b-again.out" 2>"$work/b.err" ||
	{ cat "$work/b.err"; fail "settle run again on $old"; }
head -1 "$work/b-again.out"
echo "(run ids skip after a switch: PostgreSQL logs a sequence 32 values ahead of its last value)"
run2=$(sed -n '1s/^run \([0-9]*\) .*/\1/p' "$work/b-again.out")
[ -n "$run2" ] || fail "no run id in: $(cat "$work/b-again.out")"
[ "$(sql "SELECT count(*) FROM voucher.runs WHERE program = 'jiaxing-compute'")" = 1 ] ||
	fail "not one run of jiaxing-compute"
bin/voucherctl --db "$appr" run approve "$run2" || fail "run approve $run2"
bin/voucherctl --db "$aud" audit verify >"$work/b-verify.out" 2>&1 || { cat "$work/b-verify.out"; fail "audit verify on $old"; }
ok_b2="ok: B. the same settle run again stored run $run2 on $old (approved by fin2; audit verify passes)"
echo "$ok_b2"

echo
echo "$ok_a"
echo "$ok_b1"
echo "$ok_b2"
echo "$script: all passed in $(($(date +%s) - t_start)) s"
