#!/bin/sh
# make check-browser: voucher-console in a real browser.  Starts a stack
# (tests/console/stack.sh: PostgreSQL, the demo data through voucherd, users
# prep, appr and aud, four draft runs, voucher-console), and beside it a
# second console on the same database whose sessions end after 5 s idle (for
# session expiry and the sign-in throttle, whose lock is per console); then
# tests/browser/check_console.py drives headless Chromium through them: one
# PASS, FAIL or PENDING line per check, screenshots in build/screens/.
# Exits 1 on any FAIL.
#
# Environment: BROWSER_PORTS="PG CONSOLE" to choose the ports (voucherd takes
# CONSOLE+1 and +2 while it loads, and the second console CONSOLE+1 after it
# has exited; otherwise free ones are taken), BROWSER_TIMEOUT (s, 240) for
# the browser part, BROWSER_PYTHON, BROWSER_CHROMIUM, BROWSER_CHROMEDRIVER,
# KEEP=1 to keep the work directory (its stack.log, console logs).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/lib.sh
script_setup browser
py=${BROWSER_PYTHON:-/usr/bin/python3}
chromium=${BROWSER_CHROMIUM:-/usr/bin/chromium}
chromedriver=${BROWSER_CHROMEDRIVER:-/usr/bin/chromedriver}
for f in "$py" "$chromium" "$chromedriver"; do
	[ -x "$f" ] || fail "$f not found (make deps installs chromium, chromium-driver, python3-selenium, python3-openpyxl)"
done
"$py" -c 'import selenium, openpyxl' 2>/dev/null ||
	fail "$py cannot import selenium and openpyxl (make deps installs python3-selenium, python3-openpyxl)"
for f in bin/voucher-console bin/voucherctl bin/voucherd bin/voucher-push; do
	[ -x "$f" ] || fail "$f not built (make)"
done

if [ -n "${BROWSER_PORTS:-}" ]; then
	# shellcheck disable=SC2086
	set -- $BROWSER_PORTS
	pg_port=$1 console_port=$2 vd_port=$(($2 + 1)) metrics_port=$(($2 + 2))
else
	# shellcheck disable=SC2046
	set -- $(free_ports 4)
	pg_port=$1 console_port=$2 vd_port=$3 metrics_port=$4
fi

t0=$(date +%s)
# the stack in $work: script_cleanup stops its PostgreSQL ($work/pg) and kills $pids
if ! STACK_VOUCHERD_PORT=$vd_port STACK_METRICS_PORT=$metrics_port \
	sh tests/console/stack.sh start "$work" "$pg_port" "$console_port" >"$work/stack.log" 2>&1; then
	cat "$work/stack.log" >&2
	fail "the stack did not start"
fi
pids="$(cat "$work/console.pid")"
echo "check-browser: stack up in $(($(date +%s) - t0)) s (console https://127.0.0.1:$console_port, PostgreSQL $pg_port)"

# the second console: 5 s idle timeout, on voucherd's port (voucherd has exited)
idle_port=$vd_port
sed -e "s/^listen = .*/listen = 127.0.0.1:$idle_port/" -e "s/^session_idle_s = .*/session_idle_s = 5/" \
	"$work/console.conf" >"$work/console-idle.conf"
bin/voucher-console -c "$work/console-idle.conf" >"$work/console-idle.log" 2>&1 &
pids="$pids $!"
i=0
until curl -sk -o /dev/null "https://127.0.0.1:$idle_port/login"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$work/console-idle.log" >&2; fail "the second console did not start"; }
	sleep 0.1
done

mkdir -p build/screens
rc=0
timeout "${BROWSER_TIMEOUT:-240}" "$py" tests/browser/check_console.py \
	--url "https://127.0.0.1:$console_port" --idle-url "https://127.0.0.1:$idle_port" \
	--env "$work/env" --cert "$work/pki/server.pem" --screens build/screens --work "$work" \
	--chromium "$chromium" --chromedriver "$chromedriver" || rc=$?
# both consoles stopped with SIGTERM and waited for, so that a sanitized
# build's leak report (make SANITIZE=..., as in CI) is in their logs
for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
alive() {
	for p in $pids; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}
i=0
while [ $i -lt 100 ] && alive; do
	i=$((i + 1))
	sleep 0.1
done
sh tests/console/stack.sh stop "$work"
if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$work/console.log" "$work/console-idle.log" >&2; then
	grep -h -A30 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$work/console.log" "$work/console-idle.log" >&2
	fail "a sanitizer reported an error in voucher-console (above)"
fi
if [ $rc -eq 124 ]; then
	fail "the browser checks did not finish within ${BROWSER_TIMEOUT:-240} s"
elif [ $rc -ne 0 ]; then
	echo "check-browser: console log: $work/console.log (KEEP=1 keeps it)" >&2
	[ -n "${KEEP:-}" ] || tail -20 "$work/console.log" >&2
	fail "some browser checks failed (above)"
fi
echo "check-browser: passed in $(($(date +%s) - t0)) s"
