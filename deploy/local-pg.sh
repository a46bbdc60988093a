#!/bin/sh
# A throw-away PostgreSQL 15 cluster for development, tests and the demo.
#
#   deploy/local-pg.sh start DIR [PORT]   initialise DIR if empty, start, print the socket dir
#   deploy/local-pg.sh stop DIR           fast shutdown
#   deploy/local-pg.sh status DIR
#   deploy/local-pg.sh replica DIR PORT PRIMARY_DIR PRIMARY_PORT
#                                         a streaming replica (hot standby) of the
#                                         cluster in PRIMARY_DIR: pg_basebackup -R,
#                                         then start; prints its socket dir.  For
#                                         auditors: read-only, the audit views work.
#
# It listens only on a Unix socket in DIR/run (PORT names the socket, default
# 5433), trusts local connections, and runs as the user 'postgres' when started
# by root (PostgreSQL refuses to run as root).  The superuser is 'postgres'.
# PG_FSYNC=off turns durability off for fast test runs; the default is on.
set -eu
cmd=${1:-}
dir=${2:-}
port=${3:-5433}
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|status DIR [PORT] | replica DIR PORT PRIMARY_DIR PRIMARY_PORT" >&2; exit 2; }
[ -x "$bindir/pg_ctl" ] || { echo "$0: PostgreSQL 15 not found in $bindir (make deps installs it)" >&2; exit 1; }

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ "$(id -u)" -eq 0 ]; then
	chown postgres "$dir"
	# the server must be able to reach its directory
	p=$dir
	while [ "$p" != "/" ]; do
		p=$(dirname "$p")
		perms=$(stat -c %A "$p")
		case "$perms" in
		?????????[xt]) ;; # world-searchable
		*) echo "$0: postgres cannot enter $p; use a directory outside it" >&2; exit 1 ;;
		esac
	done
fi

case "$cmd" in
start)
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
			>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
		as_pg mkdir -p "$dir/run"
		cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/run'
port = $port
fsync = ${PG_FSYNC:-on}
max_connections = 200
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
log_line_prefix = '%m [%p] %u@%d '
CONF
	fi
	if as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		echo "$dir/run"
		exit 0
	fi
	as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
		{ tail -20 "$dir/server.log" >&2; exit 1; }
	echo "$dir/run"
	;;
stop)
	if [ -f "$dir/data/PG_VERSION" ]; then
		as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	;;
status)
	as_pg "$bindir/pg_ctl" -D "$dir/data" status
	;;
replica)
	primary=${4:?usage: $0 replica DIR PORT PRIMARY_DIR PRIMARY_PORT}
	pport=${5:?usage: $0 replica DIR PORT PRIMARY_DIR PRIMARY_PORT}
	primary=$(cd "$primary" && pwd)
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		# a consistent copy of the primary, streaming the WAL written meanwhile,
		# with standby.signal and primary_conninfo written (-R)
		as_pg "$bindir/pg_basebackup" -h "$primary/run" -p "$pport" -U postgres -D "$dir/data" \
			-R -X stream -c fast >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
		as_pg mkdir -p "$dir/run"
		cat >>"$dir/data/postgresql.conf" <<CONF
# replica of $primary
unix_socket_directories = '$dir/run'
port = $port
hot_standby = on
# an audit reads for minutes in one snapshot: the primary keeps the rows it
# still sees instead of the replay cancelling the audit
hot_standby_feedback = on
max_standby_streaming_delay = 5min
CONF
	fi
	if ! as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
			{ tail -20 "$dir/server.log" >&2; exit 1; }
	fi
	echo "$dir/run"
	;;
*)
	echo "usage: $0 start|stop|status DIR [PORT] | replica DIR PORT PRIMARY_DIR PRIMARY_PORT" >&2
	exit 2
	;;
esac
