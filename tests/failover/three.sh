#!/bin/sh
# Three data nodes (deploy/ha/formation.sh with a third port): the formation
# asks for number_sync_standbys = 1, so that losing a standby still leaves
# every acknowledged commit on two machines.
#   - the primary names both standbys in synchronous_standby_names (ANY 1);
#   - one standby frozen: commits go on at once, and the primary stays
#     'primary' (not wait_primary: no one-copy window);
#   - both standbys frozen: a commit waits (it is never acknowledged with one
#     copy) until one of them is back.
# About a minute.  KEEP=1 keeps the work directory.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/lib.sh
script_setup failover-three
ha=deploy/ha/formation.sh
read -r mport p1 p2 p3 <<PORTS
$(free_ports 4)
PORTS
[ -n "$p3" ] || fail "no free ports"

say "three data nodes"
sh $ha start "$work/ha" "$mport" "$p1" "$p2" "$p3" >/dev/null || fail "the formation did not start"
sh $ha state "$work/ha"
p=$(sh $ha primary "$work/ha")
case $p in node1) pp=$p1 ;; node2) pp=$p2 ;; *) pp=$p3 ;; esac
db="host=127.0.0.1 port=$pp dbname=voucher user=postgres"
n=$(psql -XAtq "host=127.0.0.1 port=$mport dbname=pg_auto_failover user=autoctl_node" \
	-c "SELECT number_sync_standbys FROM pgautofailover.formation")
sync=$(psql -XAtq "$db" -c "SHOW synchronous_standby_names")
echo "number_sync_standbys = $n; on the primary, $p: synchronous_standby_names = $sync"
[ "$n" = 1 ] || fail "number_sync_standbys is $n"
case "$sync" in "ANY 1 (pgautofailover_standby_"*", pgautofailover_standby_"*")") ;;
*) fail "both standbys are not in the quorum: $sync" ;; esac
psql -XAtq "$db" -c "CREATE TABLE public.t (x integer)"
# commit_s N: the seconds one INSERT's commit takes (10 at most: then "waits")
commit_s() {
	t=$(date +%s.%N)
	if timeout 10 psql -XAtq "$db" -c "INSERT INTO public.t VALUES ($1)" >/dev/null 2>&1; then
		echo "$t $(date +%s.%N)" | awk '{ printf "%.2f", $2 - $1 }'
	else
		echo waits
	fi
}
s1='' s2=''
for n in node1 node2 node3; do
	[ "$n" = "$p" ] && continue
	if [ -z "$s1" ]; then s1=$n; else s2=$n; fi
done

say "one standby, $s1, frozen"
sh $ha freeze "$work/ha" "$s1"
sleep 6 # past the monitor's 3 s: it has seen the node go
c=$(commit_s 1)
st=$(psql -XAtq "host=127.0.0.1 port=$mport dbname=pg_auto_failover user=autoctl_node" \
	-c "SELECT reportedstate FROM pgautofailover.node WHERE nodename = '$p'")
echo "a commit took $c s; the primary is '$st'"
[ "$c" != waits ] || fail "a commit waited with one standby of two lost"
[ "$st" = primary ] || fail "the primary is $st: synchronous replication was given up"

say "both standbys frozen"
sh $ha freeze "$work/ha" "$s2"
sleep 6
timeout 60 psql -XAtq "$db" -c "INSERT INTO public.t VALUES (2)" >/dev/null 2>&1 &
ins=$!
sleep 5
kill -0 "$ins" 2>/dev/null || fail "a commit was acknowledged with both standbys lost"
echo "a commit waits: it is not acknowledged on one machine"
sh $ha thaw "$work/ha" "$s2"
t=$(date +%s.%N)
wait "$ins" || fail "the waiting commit failed"
echo "with $s2 back, it was acknowledged $(echo "$t $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }') s later"
sh $ha thaw "$work/ha" "$s1"
sh $ha wait "$work/ha" 90 >/dev/null || fail "the formation did not come back whole"
[ "$(psql -XAtq "$db" -c "SELECT count(*) FROM public.t")" = 2 ] || fail "not both rows"
echo
echo "check-failover-three: all passed"
