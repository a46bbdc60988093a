# Shell functions shared by the benchmark, fault and cluster scripts
# (sourced; they use $work, $vectors and $VOUCHER_DB of the caller).

# bench_registry: a development PKI in $work/pki with a client certificate
# "bench", and the provider "bench" registered with it, the vector Ed25519 key
# as k1, and the facility f1, in the database $VOUCHER_DB.
bench_registry() {
	sh deploy/dev-ca.sh "$work/pki" client bench >/dev/null
	bin/voucherctl provider add bench --name "bench provider" --uscc 91330483100000001E >/dev/null
	bin/voucherctl provider cert add bench --cert "$work/pki/bench.pem" >/dev/null
	bin/voucherctl provider key add bench k1 --alg ed25519 --pub "$vectors/provider-a.ed25519.pub" \
		--valid-from 2026-01-01T00:00:00+08:00 >/dev/null
	bin/voucherctl provider facility add bench f1 --division 330483 --class A >/dev/null
}

# bench_cmd PORT: the voucher-bench command line for provider bench at
# https://127.0.0.1:PORT (options follow)
bench_cmd() {
	echo "bin/voucher-bench --url https://127.0.0.1:$1 --ca $work/pki/ca.pem --cert $work/pki/bench.pem" \
		"--key $work/pki/bench.key --sign-key $vectors/provider-a.ed25519.key --key-id k1" \
		"--provider bench --facility f1 -q"
}

# wait_healthy METRICS_PORT LOG: until voucherd's /healthz says ok (15 s at
# most; then the log is shown and the script fails)
wait_healthy() {
	i=0
	until curl -sf "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge 150 ]; then
			cat "$2" >&2
			echo "voucherd did not become healthy" >&2
			exit 1
		fi
		sleep 0.1
	done
}

# voucherd_conf NAME HTTPS_PORT METRICS_PORT CONNINFO [MORE]: writes
# $work/NAME.conf: the PKI of bench_registry, CONNINFO, the two ports on
# 127.0.0.1, then MORE (further sections and keys)
voucherd_conf() {
	cat >"$work/$1.conf" <<CONF
[server]
listen = 127.0.0.1:$2
tls_cert = $work/pki/server.pem
tls_key = $work/pki/server.key
tls_client_ca = $work/pki/ca.pem
[database]
conninfo = $4
[metrics]
listen = 127.0.0.1:$3
${5:-}
CONF
}

# start_voucherd NAME HTTPS_PORT METRICS_PORT CONNINFO [MORE]: voucherd_conf,
# then starts voucherd with its log in $work/NAME.log, adds it to $pids,
# sets $voucherd_pid, and waits until its /healthz says ok
start_voucherd() {
	voucherd_conf "$@"
	bin/voucherd -c "$work/$1.conf" 2>"$work/$1.log" &
	voucherd_pid=$!
	pids="$pids $voucherd_pid"
	wait_healthy "$3" "$work/$1.log"
}

# free_ports N: prints N distinct TCP ports that are free on 127.0.0.1 now,
# for the script's PostgreSQL (its socket name), voucherd and HAProxy, so that
# two runs (or a run beside `make test`) never collide.  They are taken from
# 20000-32767, below Linux's ephemeral range, so that no outgoing connection
# takes one before the script binds it, and each is reserved for this run by
# a directory /tmp/voucher-ports/PORT holding the script's pid, which other
# runs skip (unless that pid is gone); script_cleanup removes them.
free_ports() {
	python3 - "$1" "$$" <<'PY'
import errno, os, random, shutil, socket, sys
n, owner = int(sys.argv[1]), sys.argv[2]
top = "/tmp/voucher-ports"
try:
    os.mkdir(top)
    os.chmod(top, 0o1777)
except FileExistsError:
    pass
def alive(pid):
    try:
        os.kill(int(pid), 0)
    except ValueError:
        return False
    except OSError as e:
        return e.errno == errno.EPERM
    return True
def reserve(port):
    d = "%s/%d" % (top, port)
    for _ in range(2):
        try:
            os.mkdir(d)
        except FileExistsError:
            try:
                with open(d + "/pid") as f:
                    pid = f.read().strip()
            except OSError:
                return False  # another run is making it
            if alive(pid):
                return False
            # a dead run's: moved away atomically (one run wins), then made again
            try:
                os.rename(d, "%s.%s.dead" % (d, owner))
            except OSError:
                return False
            shutil.rmtree("%s.%s.dead" % (d, owner), ignore_errors=True)
            continue
        with open(d + "/pid", "w") as f:
            f.write(owner)
        return True
    return False
got = []
candidates = list(range(20000, 32768))
random.shuffle(candidates)
for port in candidates:
    if len(got) == n:
        break
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    if reserve(port):
        got.append(port)
if len(got) < n:
    sys.exit("free_ports: found only %d free ports" % len(got))
print(" ".join(map(str, got)))
PY
}

# script_setup NAME: the common start of a check script ($script names it in
# messages): the vectors, a work directory /tmp/voucher-NAME.XXXXXX, and a
# cleanup at exit that kills $pids, stops the clusters in $work/pg and
# $work/replica and the formation in $work/ha, gives back the ports of free_ports, and removes $work
# unless KEEP is set.
script_setup() {
	script=check-$1
	vectors=${VOUCHER_VECTORS:-$root/tests/vectors}
	[ -f "$vectors/provider-a.ed25519.key" ] || { echo "$script: signing keys not found in $vectors" >&2; exit 1; }
	work=$(mktemp -d "/tmp/voucher-$1.XXXXXX")
	chmod 755 "$work"
	pids=""
	trap script_cleanup EXIT INT TERM
}
script_cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	for d in replica pg; do sh deploy/local-pg.sh stop "$work/$d" >/dev/null 2>&1 || true; done
	[ -f "$work/ha/ports" ] && sh deploy/ha/formation.sh stop "$work/ha" >/dev/null 2>&1 || true
	for p in $(ls /tmp/voucher-ports 2>/dev/null); do
		[ "$(cat "/tmp/voucher-ports/$p/pid" 2>/dev/null)" = "$$" ] && rm -rf "/tmp/voucher-ports/$p"
	done
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
# fail MESSAGE: says so and exits 1 (the cleanup runs)
fail() { echo "$script: FAILED: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }
