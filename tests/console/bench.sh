#!/bin/sh
# make bench-console: the console at scale.  A run page of 100,000 lines must
# render its first page in at most 200 ms of server time, the overview over
# 10,000,000 usage records in at most 300 ms (README.md "Measured").
#
#   ENTERPRISES=100000 RECORDS=10000000 MONTHS=6 tests/console/bench.sh
#
# Knobs (environment): ENTERPRISES (100000), RECORDS (10000000), MONTHS (6:
# January to June of YEAR), YEAR (2026), REPS (20 timed requests per page,
# after 2 warm-ups), BENCH_PG_PORT (5446), BENCH_CONSOLE_PORT (18447), KEEP=1
# keeps the stack running afterwards (stop it with tests/console/stack.sh stop
# DIR).  A small version for CI (20 s): ENTERPRISES=2000 RECORDS=100000 MONTHS=2.
#
# 1. tests/console/stack.sh without its demo data (STACK_DEMO=no): a
#    throw-away PostgreSQL (fsync off: it changes how fast the data is
#    loaded, not how fast pages read it) where staff sign in with SCRAM
#    passwords, migrated, programmes and calendars loaded, users prep and
#    appr (finance), aud (auditor), web_notice, and voucher-console logging
#    every request at debug level with its server time (us=).
# 2. A provider with a key and two facilities (voucherctl), ENTERPRISES
#    Hangzhou enterprises (voucherctl enterprise import of a generated CSV:
#    valid GB 32100 credit codes, the 13 districts of 杭州), and RECORDS usage
#    records spread over the enterprises and the months, all of categories
#    hangzhou-compute subsidises, so that every run has a line per enterprise.
#    THE USAGE IS LOADED DIRECTLY, not through the signed protocol: as the
#    owner, with INSERT ... SELECT generate_series into voucher.usage_keys,
#    voucher.usage_records (its monthly partitions) and voucher.batches (one
#    row per 10,000 records, as the records must name a stored batch) -- the
#    rows voucher.ingest_batch writes.  Why not through voucherd: the pages
#    measured here never read usage (settle and approve do), ingest has its
#    own benchmark (make bench-ingest), and voucher-bench builds and signs
#    every body in memory before sending (gigabytes for 10 million records),
#    for enterprises and a month of its own, whose signed bodies would then
#    be stored too; SQL spreads the records over the registered enterprises
#    and the months as wanted in about the time the push alone would take.
#    The batches hold no signed body, so `audit verify` would report every
#    one of them: this database is for the bench only.
# 3. Each month settled by prep (voucherctl settle) and approved by appr
#    (voucherctl run approve: recomputes the run, posts its grants to the
#    ledger and its totals for the overview); the last month is settled twice,
#    so that its run page shows the difference from the draft it replaced,
#    and is published (the public notice).  Times of each are printed.
# 4. voucher-console: signed in as appr, over one kept-alive HTTPS connection
#    (curl with every URL of a page in one invocation, at most 10 a second),
#    2 warm-ups then REPS requests of each page: the run page (first page,
#    page 1000, a district, a district and status, the line-by-line diff), the
#    runs list, the overview, the public notice.  The run page is measured
#    first with the tables analyzed but not vacuumed (as autovacuum leaves
#    them just after a run), then after VACUUM.  The server time is the
#    console's own us= of each request (console.log, [log] level = debug),
#    the client time curl's time_total.  Median and p95 of both, and
#    PASS/FAIL of the server median against the budgets (printed only: the
#    exit status does not depend on a noisy machine).  The overview's queries
#    are also timed with EXPLAIN ANALYZE.
#
# The whole run takes about 6.5 minutes on 2 cores (loading 2 min, settling and
# approving 6 months 3.5 min); BENCH_DIR=DIR measures again on a kept stack.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
ents=${ENTERPRISES:-100000}
records=${RECORDS:-10000000}
months=${MONTHS:-6}
year=${YEAR:-2026}
reps=${REPS:-20}
pg_port=${BENCH_PG_PORT:-5446}
console_port=${BENCH_CONSOLE_PORT:-18447}
program=hangzhou-compute
[ "$months" -ge 1 ] && [ "$months" -le 12 ] || { echo "bench: MONTHS must be 1 to 12" >&2; exit 2; }
[ "$records" -ge "$ents" ] || { echo "bench: RECORDS must be at least ENTERPRISES" >&2; exit 2; }

now() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{ printf "%.1f", $2 - $1 }'; }
t_all=$(now)
if [ -n "${BENCH_DIR:-}" ]; then
	# measure again on a stack kept by KEEP=1 (after changing the console:
	# restart it with the same DIR/console.conf, logging to DIR/console.log)
	work=$(cd "$BENCH_DIR" && pwd)
	[ -f "$work/bench.env" ] || { echo "bench: $work/bench.env not found (a stack made with KEEP=1?)" >&2; exit 2; }
	. "$work/env"
	. "$work/bench.env"
	export VOUCHER_DB="host=$PG_SOCK port=$PG_PORT user=postgres dbname=voucher"
	export PGPASSWORD="$STAFF_PASSWORD"
	appr="host=$PG_SOCK port=$PG_PORT dbname=voucher user=appr"
	console_port=${CONSOLE_URL##*:}
else
work=$(mktemp -d /tmp/voucher-console-bench.XXXXXX)
chmod 755 "$work"
if [ -n "${KEEP:-}" ]; then
	trap 'echo "kept: $work (BENCH_DIR=$work sh tests/console/bench.sh measures again; sh tests/console/stack.sh stop $work)"' EXIT
else
	trap 'sh tests/console/stack.sh stop "$work" >/dev/null 2>&1; rm -rf "$work"' EXIT
	trap 'exit 130' INT TERM
fi
echo "bench-console: $ents enterprises, $records usage records over $months months of $year ($program)"
t=$(now)
STACK_DEMO=no STACK_LOG_LEVEL=debug sh tests/console/stack.sh start "$work" "$pg_port" "$console_port" >/dev/null
. "$work/env"
export VOUCHER_DB="host=$PG_SOCK port=$PG_PORT user=postgres dbname=voucher"
export PGPASSWORD="$STAFF_PASSWORD"
prep="host=$PG_SOCK port=$PG_PORT dbname=voucher user=prep"
appr="host=$PG_SOCK port=$PG_PORT dbname=voucher user=appr"
ctl=bin/voucherctl
echo "stack (PostgreSQL, migrate, programmes, calendars, users, console): $(secs "$t" "$(now)") s"

# credit codes with their GB 32100-2015 check character (common/validate.c)
uscc_awk='
function check(s,   i, sum, v) {
	sum = 0
	for (i = 1; i <= 17; i++) {
		v = index(cs, substr(s, i, 1)) - 1
		sum += v * w[i]
	}
	return substr(cs, (31 - sum % 31) % 31 + 1, 1)
}
BEGIN {
	cs = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	split("1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28", w, " ")
}'

# the provider: a key and two facilities (rates by class: A 30%, B 20%)
pu=$(awk "$uscc_awk"' BEGIN { s = "91330106MA0BENCH0"; print s check(s) }')
$ctl provider add bench --name "基准测试算力有限公司" --uscc "$pu" >/dev/null
$ctl provider key add bench bench-2026 --alg ed25519 --pub tests/vectors/provider-a.ed25519.pub \
	--valid-from "$year-01-01T00:00:00+08:00" >/dev/null
$ctl provider facility add bench bench-a --division 330106 --class A >/dev/null
$ctl provider facility add bench bench-b --division 330110 --class B >/dev/null

# the enterprises, through voucherctl enterprise import
t=$(now)
awk -v n="$ents" "$uscc_awk"'
BEGIN {
	split("330102 330105 330106 330108 330109 330110 330111 330112 330113 330114 330122 330127 330182", d, " ")
	print "uscc,name,division,sme,model_developer,maas_builder,model_registered,foundation_model,credit_blacklisted,performance_grade,valid_from"
	for (i = 1; i <= n; i++) {
		div = d[(i - 1) % 13 + 1]
		s = sprintf("91%s%09d", div, i)
		printf "%s%s,杭州基准测试科技有限公司%06d,%s,%d,%d,0,0,%d,0,%s,%d-01-01\n", s, check(s), i, div,
			i % 3 == 0, i % 10 == 0, i % 50 == 0, substr("ABCD", i % 4 + 1, 1), '"$year"' - 1
	}
}' >"$work/enterprises.csv"
$ctl enterprise import "$work/enterprises.csv" >/dev/null
t_import=$(secs "$t" "$(now)")
echo "enterprise import of $ents enterprises: $t_import s"

# the usage, month by month, directly in SQL (see the header: not through
# voucherd).  Record n of month m belongs to enterprise (n - 1) % ENTERPRISES
# + 1, in enterprise order of the credit code; amounts 1 to 99 yuan, so that
# the 2.5亿 pool lasts the year at 10 million records.
t=$(now)
psql -qX -v ON_ERROR_STOP=1 "$VOUCHER_DB" <<SQL
CREATE TABLE public.bench_ents AS
	SELECT row_number() OVER (ORDER BY uscc)::integer AS i, uscc FROM voucher.enterprises;
ALTER TABLE public.bench_ents ADD PRIMARY KEY (i);
SQL
m=1
per=$((records / months))
while [ "$m" -le "$months" ]; do
	cnt=$per
	[ "$m" -lt "$months" ] || cnt=$((records - per * (months - 1)))
	psql -qX -v ON_ERROR_STOP=1 "$VOUCHER_DB" <<SQL
BEGIN;
CREATE TEMP VIEW gen AS
	SELECT n, 'bench-$year-$m-' || n AS record_id, 'bench-$year-$m-' || ((n - 1) / 10000) AS batch_id,
	       make_timestamptz($year, $m, 1, 0, 0, 0, 'Asia/Shanghai')
		       + ((n * 37) % (27 * 86400)) * interval '1 second' AS started_at
	  FROM generate_series(1::bigint, $cnt) n;
INSERT INTO voucher.batches (provider, batch_id, digest, key_id, alg, sig_created, content_digest,
	signature_input, signature, body, record_count, accepted, duplicates, rejected, answer)
SELECT 'bench', 'bench-$year-$m-' || k, 'bench (loaded directly, not signed)', 'bench-2026', 'ed25519', now(), '', '', '',
       '\x'::bytea, least(10000, $cnt - k * 10000), least(10000, $cnt - k * 10000), 0, 0, '{}'
  FROM generate_series(0, ($cnt - 1) / 10000) k;
INSERT INTO voucher.usage_keys (provider, record_id, ended_at, batch_id, content_hash)
SELECT 'bench', record_id, started_at + interval '1 hour', batch_id, '\x00'::bytea FROM gen;
INSERT INTO voucher.usage_records (provider, record_id, batch_id, enterprise, facility, category, purpose,
	quantity, unit, amount_fen, started_at, ended_at, contract_id, content_hash)
SELECT 'bench', g.record_id, g.batch_id, e.uscc, CASE WHEN g.n % 7 = 0 THEN 'bench-b' ELSE 'bench-a' END,
       (ARRAY['intelligent_compute', 'supercomputing', 'model_service'])[1 + g.n % 3], 'training',
       1 + g.n % 8, 'card_hour', 100 + (g.n * 7919) % 9800, g.started_at, g.started_at + interval '1 hour',
       'BENCH-' || (g.n % 1000), '\x00'::bytea
  FROM gen g JOIN public.bench_ents e ON e.i = (g.n - 1) % $ents + 1;
COMMIT;
SQL
	echo "  $year-$(printf %02d "$m"): $cnt records ($(secs "$t" "$(now)") s so far)"
	m=$((m + 1))
done
psql -qX -v ON_ERROR_STOP=1 "$VOUCHER_DB" -c "DROP TABLE public.bench_ents" -c "ANALYZE"
t_load=$(secs "$t" "$(now)")
echo "usage load of $records records (direct SQL) and ANALYZE: $t_load s"

# settle and approve each month; the last one twice (a superseded draft)
settle() {
	out=$($ctl --db "$prep" settle --program $program --period "$1" 2>"$work/settle.err") ||
		{ cat "$work/settle.err" >&2; exit 1; }
	echo "$out" | sed -n '1s/^run \([0-9]*\).*/\1/p'
}
settle_times=""
approve_times=""
m=1
run=""
lines=0
while [ "$m" -le "$months" ]; do
	period=$year-$(printf %02d "$m")
	if [ "$m" -eq "$months" ]; then
		t=$(now)
		first=$(settle "$period")
		echo "  $period: draft $first settled in $(secs "$t" "$(now)") s (to be superseded)"
	fi
	t=$(now)
	run=$(settle "$period")
	ts=$(secs "$t" "$(now)")
	t=$(now)
	$ctl --db "$appr" run approve "$run" >"$work/approve.out" 2>&1 || { cat "$work/approve.out" >&2; exit 1; }
	ta=$(secs "$t" "$(now)")
	lines=$(psql -tAX "$VOUCHER_DB" -c "SELECT lines FROM voucher.runs WHERE run_id = $run")
	echo "  $period: run $run, $lines lines: settle $ts s, approve $ta s"
	settle_times="$settle_times $ts"
	approve_times="$approve_times $ta"
	m=$((m + 1))
done
t=$(now)
published=yes
$ctl --db "$appr" run publish "$run" >"$work/publish.out" 2>&1 ||
	{ published=no; echo "  publish refused (the notice is not measured): $(cat "$work/publish.out")"; }
echo "  run $run published in $(secs "$t" "$(now)") s"
cat >"$work/bench.env" <<ENV
ents=$ents
records=$records
months=$months
year=$year
run=$run
lines=$lines
published=$published
t_import=$t_import
t_load=$t_load
settle_times='$settle_times'
approve_times='$approve_times'
ENV
fi

# ------------------------------------------------------------------ the pages
curl_base="https://127.0.0.1:$console_port"
jar="$work/cookies"
login=$(curl -sk -c "$jar" "$curl_base/login")
csrf=$(echo "$login" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
code=$(curl -sk -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' --data-urlencode "csrf=$csrf" \
	--data-urlencode "username=appr" --data-urlencode "password=$STAFF_PASSWORD" "$curl_base/login")
[ "$code" = 303 ] || { echo "bench: sign-in failed ($code)" >&2; tail -5 "$work/console.log" >&2; exit 1; }

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
p95() { sort -n | awk '{ a[NR] = $1 } END { if (NR) { k = int(NR * 0.95); if (k < NR * 0.95) k++; printf "%.1f", a[k] } }'; }

# measure NAME URL BUDGET_MS: 2 warm-ups and REPS requests on one connection,
# at most 10 a second (the console logs at most 20 lines of a kind a second)
results="$work/results"
: >"$results"
measure() {
	name=$1 url=$2 budget=$3
	cfg="$work/curl.cfg"
	: >"$cfg"
	i=0
	while [ $i -lt $((reps + 2)) ]; do
		printf 'url = "%s%s"\noutput = "/dev/null"\n' "$curl_base" "$url" >>"$cfg"
		i=$((i + 1))
	done
	before=$(wc -l <"$work/console.log")
	curl -sk -b "$jar" -K "$cfg" --rate 10/s -w '%{http_code} %{time_total} %{size_download} %{num_connects}\n' >"$work/client.txt"
	sleep 0.2
	tail -n +$((before + 1)) "$work/console.log" | grep 'event=request ' |
		sed -n 's/.* status=\([0-9]*\) .* us=\([0-9]*\).*/\1 \2/p' >"$work/server.txt"
	n=$(wc -l <"$work/server.txt")
	[ "$n" -eq $((reps + 2)) ] || { echo "bench: $n request lines in console.log for $url, expected $((reps + 2))" >&2; exit 1; }
	n=$(tail -n +$((before + 1)) "$work/console.log" | grep -c "event=request method=GET path=${url%%\?*} ") || true
	[ "$n" -eq $((reps + 2)) ] || { echo "bench: console.log has $n requests of ${url%%\?*}, expected $((reps + 2))" >&2; exit 1; }
	status=$(tail -n +3 "$work/client.txt" | awk '{ print $1 }' | sort -u | tr '\n' ' ' | sed 's/ $//')
	conns=$(awk '{ s += $4 } END { print s }' "$work/client.txt")
	bytes=$(tail -1 "$work/client.txt" | awk '{ print $3 }')
	smed=$(tail -n +3 "$work/server.txt" | awk '{ print $2 / 1000 }' | median)
	sp95=$(tail -n +3 "$work/server.txt" | awk '{ print $2 / 1000 }' | p95)
	cmed=$(tail -n +3 "$work/client.txt" | awk '{ print $2 * 1000 }' | median)
	cp95=$(tail -n +3 "$work/client.txt" | awk '{ print $2 * 1000 }' | p95)
	if [ "$budget" = - ]; then
		verdict=-
	elif [ "$status" != 200 ]; then
		verdict="n/a (HTTP $status)"
	elif awk -v a="$smed" -v b="$budget" 'BEGIN { exit !(a <= b) }'; then
		verdict=PASS
	else
		verdict=FAIL
	fi
	printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$name" "$url" "$status" "$bytes" "$smed" "$sp95" "$cmed" "$cp95" \
		"$budget" "$verdict" >>"$results"
	[ "$conns" -eq 1 ] || echo "  note: $url used $conns connections"
}

mid=$(((lines + 49) / 50 / 2))
[ "$mid" -ge 1 ] || mid=1
[ "$lines" -lt 100000 ] || mid=1000
echo "measuring ($reps requests of each page after 2 warm-ups, one kept-alive connection, signed in as appr)..."
load0=$(cut -d' ' -f1-3 /proc/loadavg)
tables="voucher.runs, voucher.run_lines, voucher.run_events, voucher.grants, voucher.run_division_totals"
if [ -z "${BENCH_DIR:-}" ]; then
	# first as autovacuum leaves the tables soon after the last run: analyzed
	# (its 100,000 lines pass the analyze threshold) but not vacuumed (they do
	# not pass the insert threshold of a table of 600,000 lines), so the new
	# lines are not all-visible and index-only scans still visit the heap
	psql -qX "$VOUCHER_DB" -c "ANALYZE $tables"
	measure "run page, first page (not vacuumed)" "/runs/$run" 200
	measure "run page, page $mid (not vacuumed)" "/runs/$run?page=$mid" 200
	psql -qX "$VOUCHER_DB" -c "VACUUM ANALYZE $tables"
fi
measure "run page, first page" "/runs/$run" 200
measure "run page, page $mid" "/runs/$run?page=$mid" 200
measure "run page, district 330106" "/runs/$run?district=330106" 200
measure "run page, district and status" "/runs/$run?district=330106&status=payable&page=2" 200
measure "run page, line-by-line diff" "/runs/$run?diff=1" -
measure "runs list" "/runs" 200
measure "runs list, programme and year" "/runs?program=$program&year=$year" 200
measure "overview" "/overview?program=$program&year=$year" 300
[ "$published" = no ] || measure "public notice (whole list)" "/notice/$run" -

# the overview's queries, as the page will run them (audit views, as appr)
explain() {
	i=0
	while [ $i -lt 7 ]; do
		psql -tAX "$appr" -c "EXPLAIN (ANALYZE, TIMING OFF) $1" | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p'
		i=$((i + 1))
	done | tail -5 | median
}
q_overview="SELECT month, division, granted_fen, recovered_fen, paid_fen, enterprises FROM audit.pool_overview \
WHERE program = '$program' AND year = $year ORDER BY month, division"
q_pools="SELECT pool_fen FROM audit.pools WHERE program = '$program' AND year = $year"
e_overview=$(explain "$q_overview")
e_pools=$(explain "$q_pools")
psql -X "$appr" -c "EXPLAIN (ANALYZE, BUFFERS) $q_overview" >"$work/overview.plan"
rows=$(psql -tAX "$appr" -c "SELECT count(*) FROM ($q_overview) x")
tot_records=$(psql -tAX "$VOUCHER_DB" -c "SELECT count(*) FROM voucher.usage_records")

echo
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB, PostgreSQL $(psql -tAX "$VOUCHER_DB" -c 'SHOW server_version'); \
load average $load0 when measuring began, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "data: $ents enterprises, $tot_records usage records, $months runs of $program approved, run $run: $lines lines"
echo "load: enterprise import $t_import s, usage (direct SQL) $t_load s"
echo "settle (s, month by month):$settle_times   median $(echo "$settle_times" | tr ' ' '\n' | sed '/^$/d' | median)"
echo "approve (s, month by month):$approve_times   median $(echo "$approve_times" | tr ' ' '\n' | sed '/^$/d' | median)"
echo
printf '%-34s %7s %9s | %8s %8s | %8s %8s | %6s  %s\n' "page" "status" "bytes" "srv med" "srv p95" "cli med" "cli p95" \
	"budget" "verdict (server median)"
while IFS='|' read -r name url status bytes smed sp95 cmed cp95 budget verdict; do
	printf '%-34s %7s %9s | %8s %8s | %8s %8s | %6s  %s\n' "$name" "$status" "$bytes" "$smed" "$sp95" "$cmed" "$cp95" \
		"$budget" "$verdict"
done <"$results"
echo "(milliseconds; server: the console's us= per request, from reading the request to queuing the answer; client: curl's time_total)"
echo
echo "overview SQL (EXPLAIN ANALYZE as appr, median of 5 after 2): audit.pool_overview $e_overview ms ($rows rows), audit.pools $e_pools ms"
echo "  plan: $work/overview.plan$([ -n "${KEEP:-}" ] || echo ' (removed at exit; KEEP=1 keeps it)')"
sed -n 's/^ *\(Planning Time\|Execution Time\).*/  &/p' "$work/overview.plan"
echo "bench-console: $(secs "$t_all" "$(now)") s in all"
