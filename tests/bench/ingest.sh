#!/bin/sh
# make bench-ingest: end-to-end ingest through voucherd beside bare COPY of
# the same rows, on one fresh database, fsync on.
#
#   RECORDS=500000 BATCH=1000 CONNECTIONS=16 DB_CONNECTIONS=2 GROUP_MAX=32 tests/bench/ingest.sh
#
# 1. voucher-bench builds and signs the batches and writes the rows voucherd
#    would store (--copy-out);
# 2. bare COPY: those rows into a table LIKE voucher.usage_records INCLUDING
#    ALL (the same indexes and checks) with the same unique key (provider,
#    record_id; voucherd keeps it in usage_keys), as psql \copy does it:
#    in one stream, and split over as many parallel streams as voucherd has
#    database connections; the faster of the two is the baseline;
# 3. full path: the same batches through voucherd (mutual TLS, signature,
#    validation, commit, answer) at full speed: records/s and latency;
# 4. the same amount of new records at half that rate: latency;
# 5. with HA=1: a pg_auto_failover formation (deploy/ha/formation.sh: a
#    primary and a synchronous standby) and a second voucherd on it, and the
#    same full-speed run there: what the synchronous standby costs;
# and prints both rates, their ratio, the latency figures and voucherd's peak
# RSS (VmHWM).  KEEP=1 keeps the work directory; PERF=FILE records a
# system-wide perf profile of the full-speed run.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/lib.sh
records=${RECORDS:-500000}
batch=${BATCH:-1000}
conns=${CONNECTIONS:-16}
db_conns=${DB_CONNECTIONS:-2}
group_max=${GROUP_MAX:-32}
vectors=${VOUCHER_VECTORS:-$root/tests/vectors}
[ -f "$vectors/provider-a.ed25519.key" ] || { echo "bench-ingest: signing keys not found in $vectors" >&2; exit 1; }
work=$(mktemp -d /tmp/voucher-bench.XXXXXX)
chmod 755 "$work"
port=5442
https_port=18643
metrics_port=19387
daemon_pid=
stop_daemon() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -TERM "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	daemon_pid=
}
cleanup() {
	stop_daemon
	sh deploy/local-pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	[ -f "$work/ha/ports" ] && sh deploy/ha/formation.sh stop "$work/ha" >/dev/null 2>&1 || true
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT INT TERM
now() { date +%s.%N; }

sock=$(sh deploy/local-pg.sh start "$work/pg" $port)
export VOUCHER_DB="host=$sock port=$port user=postgres dbname=bench"
psql -qX "host=$sock port=$port user=postgres dbname=postgres" -c "CREATE DATABASE bench"
bin/voucherctl migrate >/dev/null
bench_registry

bench="$(bench_cmd $https_port) --batch-size $batch --connections $conns"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), PostgreSQL $(psql -XAtq "$VOUCHER_DB" -c 'SHOW server_version')"
echo "records=$records batch_size=$batch connections=$conns fsync=on voucherd: database.connections=$db_conns group_max=$group_max"

echo "building and signing the batches, writing the rows for COPY..."
# 1. the rows, for the baseline (the batches are built again by each run below)
$bench --records "$records" --prefix full --copy-out "$work/rows.copy" --no-send
[ -s "$work/rows.copy" ] || { echo "bench-ingest: voucher-bench wrote no rows" >&2; exit 1; }

echo "bare COPY..."
# 2. bare COPY, as one stream (psql \copy) and as $db_conns parallel streams
#    (voucherd writes on $db_conns connections: the fair limit is the faster)
cols="provider, record_id, batch_id, enterprise, facility, category, purpose, quantity, unit,
	amount_fen, started_at, ended_at, contract_id, invoice_no, adjusts, content_hash, seller"
cols=$(echo $cols)
# the same columns, checks and indexes, and the same unique key (provider,
# record_id), which voucherd keeps in voucher.usage_keys
psql -qX "$VOUCHER_DB" -c "CREATE TABLE public.copy_baseline (LIKE voucher.usage_records INCLUDING ALL,
	PRIMARY KEY (provider, record_id))"
psql -qX "$VOUCHER_DB" -c "CHECKPOINT"
t=$(now)
psql -qX "$VOUCHER_DB" -c "\\copy public.copy_baseline ($cols) FROM '$work/rows.copy'"
copy1_s=$(echo "$t $(now)" | awk '{ printf "%.3f", $2 - $1 }')
copy1_rate=$(echo "$records $copy1_s" | awk '{ printf "%.0f", $1 / $2 }')
echo "bare COPY, one stream: $records rows in $copy1_s s = $copy1_rate rows/s"
psql -qX "$VOUCHER_DB" -c "TRUNCATE public.copy_baseline" -c "CHECKPOINT"
split -n "l/$db_conns" "$work/rows.copy" "$work/rows.part."
t=$(now)
for part in "$work"/rows.part.*; do
	psql -qX "$VOUCHER_DB" -c "\\copy public.copy_baseline ($cols) FROM '$part'" &
done
wait
copyn_s=$(echo "$t $(now)" | awk '{ printf "%.3f", $2 - $1 }')
copyn_rate=$(echo "$records $copyn_s" | awk '{ printf "%.0f", $1 / $2 }')
echo "bare COPY, $db_conns streams: $records rows in $copyn_s s = $copyn_rate rows/s"
copy_rate=$(echo "$copy1_rate $copyn_rate" | awk '{ print ($1 > $2 ? $1 : $2) }')
psql -qX "$VOUCHER_DB" -c "DROP TABLE public.copy_baseline" -c "CHECKPOINT"

# 3. the full path
cat >"$work/voucherd.conf" <<CONF
[server]
listen = 127.0.0.1:$https_port
tls_cert = $work/pki/server.pem
tls_key = $work/pki/server.key
tls_client_ca = $work/pki/ca.pem
[database]
conninfo = host=$sock port=$port dbname=bench user=voucher_ingest
connections = $db_conns
group_max = $group_max
[metrics]
listen = 127.0.0.1:$metrics_port
[log]
level = warn
CONF
bin/voucherd -c "$work/voucherd.conf" 2>"$work/voucherd.log" &
daemon_pid=$!
wait_healthy $metrics_port "$work/voucherd.log"
echo "the full path through voucherd, as fast as it answers..."
# PERF=FILE: a system-wide perf profile of the full-speed run, to see where the time goes
perf_pid=
if [ -n "${PERF:-}" ]; then
	perf record -a -g -o "$PERF" >/dev/null 2>&1 &
	perf_pid=$!
	sleep 0.5
fi
lsn0=$(psql -XAtq "$VOUCHER_DB" -c "SELECT pg_current_wal_lsn()")
$bench --records "$records" --prefix full >"$work/full.out"
wal=$(psql -XAtq "$VOUCHER_DB" -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / $records")
if [ -n "$perf_pid" ]; then
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
fi
cat "$work/full.out"
full_rate=$(awk '/^result/ { for (i = 2; i <= NF; i++) if ($i ~ /^records_per_s=/) print substr($i, 15) }' "$work/full.out")
stored=$(psql -XAtq "$VOUCHER_DB" -c "SELECT count(*) FROM voucher.usage_records")
[ "$stored" = "$records" ] || { echo "bench-ingest: $stored records stored, expected $records" >&2; exit 1; }

echo "the same number of new records at half that rate..."
# 4. half the peak rate
half=$(echo "$full_rate" | awk '{ printf "%.0f", $1 / 2 }')
$bench --records "$records" --prefix half --rate "$half" >"$work/half.out"
cat "$work/half.out"
rss=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$daemon_pid/status")

lat() { awk -v k="$2" '/^result/ { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' "$1"; }
echo
echo "summary: bare COPY $copy1_rate rows/s (one stream), $copyn_rate rows/s ($db_conns streams);" \
	"voucherd $full_rate records/s; ratio to the faster COPY" \
	"$(echo "$full_rate $copy_rate" | awk '{ printf "%.2f", $1 / $2 }')"
echo "summary: full speed p50 $(lat "$work/full.out" p50_ms) ms, p99 $(lat "$work/full.out" p99_ms) ms," \
	"max $(lat "$work/full.out" max_ms) ms"
echo "summary: at $half records/s (half) p50 $(lat "$work/half.out" p50_ms) ms," \
	"p99 $(lat "$work/half.out" p99_ms) ms, max $(lat "$work/half.out" max_ms) ms"
echo "summary: voucherd peak RSS $rss MiB; WAL $(printf '%.0f' "$wal") bytes per record at full speed"

[ "${HA:-}" = 1 ] || exit 0

# 5. the same full-speed run on a formation with a synchronous standby
stop_daemon
sh deploy/local-pg.sh stop "$work/pg" >/dev/null
echo
echo "a pg_auto_failover formation: a primary and a synchronous standby..."
read -r mport p1 p2 <<PORTS
$(free_ports 3)
PORTS
ha_conninfo=$(sh deploy/ha/formation.sh start "$work/ha" "$mport" "$p1" "$p2")
export VOUCHER_DB="$ha_conninfo user=postgres"
bin/voucherctl migrate >/dev/null
bench_registry
echo "formation: synchronous_standby_names = $(psql -XAtq "$VOUCHER_DB" -c 'SHOW synchronous_standby_names')," \
	"synchronous_commit = $(psql -XAtq "$VOUCHER_DB" -c 'SHOW synchronous_commit')"
sed -e "s|^conninfo = .*|conninfo = $ha_conninfo user=voucher_ingest|" "$work/voucherd.conf" >"$work/voucherd-ha.conf"
bin/voucherd -c "$work/voucherd-ha.conf" 2>"$work/voucherd-ha.log" &
daemon_pid=$!
wait_healthy $metrics_port "$work/voucherd-ha.log"
echo "the full path through voucherd on the formation, as fast as it answers..."
$bench --records "$records" --prefix full >"$work/ha.out"
cat "$work/ha.out"
ha_rate=$(awk '/^result/ { for (i = 2; i <= NF; i++) if ($i ~ /^records_per_s=/) print substr($i, 15) }' "$work/ha.out")
stored=$(psql -XAtq "$VOUCHER_DB" -c "SELECT count(*) FROM voucher.usage_records")
[ "$stored" = "$records" ] || { echo "bench-ingest: $stored records stored on the formation, expected $records" >&2; exit 1; }
echo
echo "summary: synchronous standby: voucherd $ha_rate records/s on the formation, $full_rate records/s on a" \
	"single node; ratio $(echo "$ha_rate $full_rate" | awk '{ printf "%.2f", $1 / $2 }');" \
	"p50 $(lat "$work/ha.out" p50_ms) ms against $(lat "$work/full.out" p50_ms) ms," \
	"p99 $(lat "$work/ha.out" p99_ms) ms against $(lat "$work/full.out" p99_ms) ms"
