#!/bin/sh
# A pg_auto_failover formation on one machine, for tests and demonstrations:
# one monitor and two PostgreSQL 15 nodes (a primary and a synchronous
# standby), each a pg_autoctl keeper with its own port and data directory,
# all running as the user postgres.  docs/ha.md shows the same on three
# machines, and deploy/ha/*.service runs it under systemd.
#
#   deploy/ha/formation.sh start DIR MONITOR_PORT PORT1 PORT2 [PORT3]
#                         create (if DIR is empty) and start the monitor and
#                         node1, node2 (and node3); wait for a primary and
#                         the secondaries; print the multi-host conninfo of
#                         database voucher.  With three data nodes the
#                         formation asks for number_sync_standbys = 1: every
#                         commit is on two nodes even with a standby lost
#   deploy/ha/formation.sh conninfo DIR   that conninfo again
#   deploy/ha/formation.sh state DIR      the monitor's view (pg_autoctl show state)
#   deploy/ha/formation.sh primary DIR    the name of the node that is primary now
#   deploy/ha/formation.sh secondary DIR  the name of the node that is a healthy standby
#   deploy/ha/formation.sh wait DIR [S]   wait up to S seconds (60) for a primary
#                                         and a streaming secondary
#   deploy/ha/formation.sh run DIR NODE   start NODE's keeper (again): after a kill
#                                         it rejoins as a standby (pg_rewind)
#   deploy/ha/formation.sh kill DIR NODE  kill -9 NODE's keeper, postmaster and
#                                         backends at once: the machine is lost
#   deploy/ha/formation.sh freeze DIR NODE / thaw DIR NODE
#                                         SIGSTOP / SIGCONT the whole node: a
#                                         machine that hangs or drops off the
#                                         network, without touching the network
#   deploy/ha/formation.sh stop DIR       stop everything
#
# Durability: synchronous_commit = on and synchronous_standby_names =
# 'ANY 1 (standby, ...)', set by pg_auto_failover: a commit returns only once
# a standby has flushed its WAL to disk.  With two data nodes the monitor
# keeps number_sync_standbys at 0 (it asks for number_sync_standbys + 1
# standbys); the standby still takes part in the write quorum
# (replication-quorum true), until it is lost.
# docs/ha.md says what that guarantees and what it costs.
#
# Detection is tuned for tests: the monitor checks each node every second
# and fails over after 3 s without one (defaults: 5 s and 20 s); docs/ha.md
# gives the production values.  Nodes listen on 127.0.0.1 only and trust
# connections from it (as deploy/local-pg.sh trusts its socket): for one
# machine, never for a deployment.
set -eu
cmd=${1:-}
dir=${2:-}
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
usage() {
	echo "usage: $0 start DIR MONITOR_PORT PORT1 PORT2 [PORT3] | conninfo|state|primary|secondary|wait|stop DIR | run|kill|freeze|thaw DIR NODE" >&2
	exit 2
}
if [ -z "$cmd" ] || [ -z "$dir" ]; then usage; fi
command -v pg_autoctl >/dev/null ||
	{ echo "$0: pg_autoctl not found (Debian: pg-auto-failover-cli postgresql-15-auto-failover; make deps)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# each formation keeps pg_autoctl's configuration and state under its own DIR
export XDG_CONFIG_HOME="$dir/config" XDG_DATA_HOME="$dir/share" XDG_RUNTIME_DIR="$dir/run"
export PG_CONFIG="$bindir/pg_config"

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- env XDG_CONFIG_HOME="$XDG_CONFIG_HOME" XDG_DATA_HOME="$XDG_DATA_HOME" \
			XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" PG_CONFIG="$PG_CONFIG" "$@"
	else
		"$@"
	fi
}
exec_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		exec runuser -u postgres -- env XDG_CONFIG_HOME="$XDG_CONFIG_HOME" XDG_DATA_HOME="$XDG_DATA_HOME" \
			XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" PG_CONFIG="$PG_CONFIG" "$@"
	fi
	exec "$@"
}
# $dir/ports: MONITOR_PORT PORT1 PORT2 [PORT3]
# the data nodes' ports, and their names
data_ports() { read -r _ ports <"$dir/ports" && echo "$ports"; }
data_nodes() { n=0; for _ in $(data_ports); do n=$((n + 1)); printf 'node%d ' $n; done; }
rev_nodes() { r=""; for n in $(data_nodes); do r="$n $r"; done; echo "$r"; }
mport() { read -r m _ <"$dir/ports" && echo "$m"; }
monitor_sql() { as_pg psql -XAtq "host=127.0.0.1 port=$(mport) dbname=pg_auto_failover user=autoctl_node" -c "$1"; }

# the keeper of NODE (monitor, node1, node2) in a session of its own, so that
# one kill takes the keeper, the postmaster it supervises and every backend
# (a subshell that execs: a shell function with redirections would keep a
# saved copy of the caller's standard output, and a caller reading it through
# $(...) would wait for the keeper to end)
start_keeper() {
	(exec_pg setsid -f pg_autoctl run --pgdata "$dir/$1") >>"$dir/$1.log" 2>&1 </dev/null
}
# the process group of NODE's keeper, if it runs
node_pgid() {
	pid=$(pgrep -f "^pg_autoctl run --pgdata $dir/$1\$" | head -1 || true)
	[ -n "$pid" ] || return 1
	ps -o pgid= -p "$pid" | tr -d ' '
}
# every process of NODE: the keeper's process group (the keeper, its
# services, the postmaster) and the postmaster's children (PostgreSQL puts
# each backend and auxiliary process in a session of its own)
node_pids() {
	g=$(node_pgid "$1") || return 1
	pgrep -g "$g" || true
	pm=$(head -1 "$dir/$1/postmaster.pid" 2>/dev/null || true)
	if [ -n "$pm" ]; then pgrep -P "$pm" || true; fi
}
state_of() { monitor_sql "SELECT reportedstate || '/' || goalstate FROM pgautofailover.node WHERE nodename = '$1'"; }

case "$cmd" in
start)
	mon=${3:-}
	p1=${4:-}
	p2=${5:-}
	p3=${6:-}
	if [ ! -f "$dir/ports" ]; then
		[ -n "$p2" ] || usage
		echo "$mon $p1 $p2${p3:+ $p3}" >"$dir/ports"
	fi
	read -r mon _ <"$dir/ports"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres "$dir"
		chown postgres "$dir/ports"
	fi
	as_pg mkdir -p "$XDG_RUNTIME_DIR"
	if [ ! -f "$dir/monitor/PG_VERSION" ]; then
		as_pg pg_autoctl create monitor --pgctl "$bindir/pg_ctl" --pgdata "$dir/monitor" --pgport "$mon" \
			--hostname 127.0.0.1 --auth trust --no-ssl >"$dir/create-monitor.log" 2>&1 ||
			{ tail -20 "$dir/create-monitor.log" >&2; exit 1; }
		# failure detection for tests (docs/ha.md: the production values)
		as_pg sh -c "cat >>'$dir/monitor/postgresql.conf'" <<CONF
listen_addresses = '127.0.0.1'
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 3000
pgautofailover.primary_demote_timeout = 5000
CONF
	fi
	node_pgid monitor >/dev/null || start_keeper monitor
	i=0
	until monitor_sql "SELECT 1" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 300 ] || { tail -20 "$dir/monitor.log" >&2; exit 1; }
		sleep 0.2
	done
	murl="postgres://autoctl_node@127.0.0.1:$mon/pg_auto_failover?sslmode=disable"
	n=0
	for port in $(data_ports); do
		n=$((n + 1))
		node=node$n
		if [ ! -f "$dir/$node/PG_VERSION" ]; then
			# a standby's creation copies node1 (pg_basebackup): node1's keeper runs by then
			as_pg pg_autoctl create postgres --pgctl "$bindir/pg_ctl" --pgdata "$dir/$node" --pgport "$port" \
				--hostname 127.0.0.1 --listen 127.0.0.1 --name "$node" --dbname voucher --auth trust \
				--no-ssl --monitor "$murl" --replication-quorum true --candidate-priority 50 \
				>"$dir/create-$node.log" 2>&1 || { tail -20 "$dir/create-$node.log" >&2; exit 1; }
			as_pg sh -c "cat >>'$dir/$node/postgresql.conf'" <<CONF
max_connections = 200
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
log_line_prefix = '%m [%p] %u@%d '
CONF
		fi
		node_pgid $node >/dev/null || start_keeper $node
		if [ $n -eq 1 ]; then
			i=0
			until [ "$(state_of node1)" = "single/single" ] || [ "$(state_of node1)" = "primary/primary" ] ||
				[ "$(state_of node1)" = "wait_primary/wait_primary" ]; do
				i=$((i + 1))
				[ $i -lt 300 ] || { tail -20 "$dir/node1.log" >&2; exit 1; }
				sleep 0.2
			done
		fi
	done
	"$0" wait "$dir" 120 >/dev/null
	if [ "$(data_nodes)" = "node1 node2 node3 " ] &&
		[ "$(monitor_sql "SELECT number_sync_standbys FROM pgautofailover.formation")" != 1 ]; then
		monitor_sql "SELECT pgautofailover.set_formation_number_sync_standbys('default', 1)" >/dev/null
		"$0" wait "$dir" 60 >/dev/null
	fi
	"$0" conninfo "$dir"
	;;
conninfo)
	hosts='' ports=''
	for p in $(data_ports); do
		hosts="$hosts${hosts:+,}127.0.0.1"
		ports="$ports${ports:+,}$p"
	done
	echo "host=$hosts port=$ports dbname=voucher connect_timeout=2"
	;;
state)
	as_pg pg_autoctl show state --pgdata "$dir/monitor"
	;;
primary)
	monitor_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate IN ('single', 'wait_primary', 'primary')
		AND goalstate = reportedstate ORDER BY nodename LIMIT 1"
	;;
secondary)
	monitor_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate = 'secondary'
		AND goalstate = 'secondary' AND health = 1 ORDER BY nodename LIMIT 1"
	;;
wait)
	limit=$(( ${3:-60} * 5 ))
	i=0
	# a primary (not wait_primary: its standby is not in the quorum yet) and
	# the secondaries, all as the monitor assigned them
	want=$(data_ports | wc -w)
	until [ "$(monitor_sql "SELECT count(*) FROM pgautofailover.node WHERE goalstate = reportedstate
		AND reportedstate IN ('primary', 'secondary') AND health = 1")" = "$want" ]; do
		i=$((i + 1))
		[ $i -lt "$limit" ] || { "$0" state "$dir" >&2; echo "$0: no primary and secondary after ${3:-60} s" >&2; exit 1; }
		sleep 0.2
	done
	"$0" primary "$dir"
	;;
run)
	node=${3:?usage}
	node_pgid "$node" >/dev/null || start_keeper "$node"
	;;
kill)
	node=${3:?usage}
	pids=$(node_pids "$node") || { echo "$0: $node is not running" >&2; exit 1; }
	# shellcheck disable=SC2086
	kill -9 $pids 2>/dev/null || true
	;;
freeze | thaw)
	node=${3:?usage}
	pids=$(node_pids "$node") || { echo "$0: $node is not running" >&2; exit 1; }
	# shellcheck disable=SC2086
	if [ "$cmd" = freeze ]; then kill -STOP $pids; else kill -CONT $pids; fi 2>/dev/null || true
	;;
stop)
	for node in $(rev_nodes) monitor; do
		if pids=$(node_pids $node); then
			# shellcheck disable=SC2086
			kill -CONT $pids 2>/dev/null || true
			as_pg pg_autoctl stop --pgdata "$dir/$node" >/dev/null 2>&1 || kill -TERM "-$g" 2>/dev/null || true
		fi
	done
	for node in $(rev_nodes) monitor; do
		i=0
		while g=$(node_pgid $node); do
			i=$((i + 1))
			if [ $i -ge 100 ]; then
				kill -9 "-$g" 2>/dev/null || true
				break
			fi
			sleep 0.1
		done
		# a postmaster left by a kill -9 of its keeper
		if [ -f "$dir/$node/postmaster.pid" ]; then
			as_pg "$bindir/pg_ctl" -D "$dir/$node" -m immediate -w stop >/dev/null 2>&1 || true
		fi
	done
	;;
*)
	usage
	;;
esac
