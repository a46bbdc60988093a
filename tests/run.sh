#!/bin/sh
# The test harness behind `make test`: starts a throw-away PostgreSQL, makes a
# migrated template database and a development PKI, then runs every Criterion
# test (unit and integration) in one binary, so that the last line printed is
# Criterion's summary.  Integration tests copy the template into a database of
# their own and start their own voucherd on free ports.
#
#   tests/run.sh [criterion options, e.g. --filter='ingest/*' --verbose]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
for b in bin/voucherd bin/voucherctl bin/voucher-push bin/voucher-console bin/tests; do
	[ -x "$b" ] || { echo "tests/run.sh: $b is missing: run make first" >&2; exit 1; }
done
vectors=${VOUCHER_VECTORS:-$root/tests/vectors}
[ -f "$vectors/batch-a.json" ] || { echo "tests/run.sh: test vectors not found at $vectors" >&2; exit 1; }

work=$(mktemp -d /tmp/voucher-test.XXXXXX)
chmod 755 "$work"
cleanup() {
	PG_FSYNC=off sh deploy/local-pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

port=${VOUCHER_TEST_PORT:-5433}
sock=$(PG_FSYNC=off sh deploy/local-pg.sh start "$work/pg" $port)
admin="host=$sock port=$port user=postgres"
# voucher-console signs staff in only where PostgreSQL checks the password:
# members of voucher_console_test (tests/integration/test_console.c) use
# scram-sha-256 on the socket; every other role stays trusted
psql -q -X "$admin dbname=postgres" -c "CREATE ROLE voucher_console_test NOLOGIN" >/dev/null
hba="$work/pg/data/pg_hba.conf"
{ echo "local all +voucher_console_test scram-sha-256"; cat "$hba"; } >"$hba.new"
cat "$hba.new" >"$hba"
rm -f "$hba.new"
psql -q -X "$admin dbname=postgres" -c "SELECT pg_reload_conf()" >/dev/null
psql -q -X "$admin dbname=postgres" -c "CREATE DATABASE voucher_template" >/dev/null
bin/voucherctl --db "$admin dbname=voucher_template" migrate >/dev/null

# development PKI: the CA, server, three providers' client certificates, an
# expired and a revoked one, and a client certificate from a CA the daemon
# does not trust
sh deploy/dev-ca.sh "$work/pki" >/dev/null
for p in prov-a prov-b prov-c; do sh deploy/dev-ca.sh "$work/pki" client $p >/dev/null; done
sh deploy/dev-ca.sh "$work/rogue" client prov-a >/dev/null
DAYS=-1 sh deploy/dev-ca.sh "$work/pki" client expired >/dev/null 2>&1 || true
# a client certificate of the trusted CA, revoked: pki/crl.pem lists it
sh deploy/dev-ca.sh "$work/pki" client revoked >/dev/null
sh deploy/dev-ca.sh "$work/pki" revoke revoked >/dev/null

export VOUCHER_TEST_PGHOST="$sock" VOUCHER_TEST_PGPORT=$port VOUCHER_TEST_TEMPLATE=voucher_template
export VOUCHER_TEST_ROOT="$root" VOUCHER_VECTORS="$vectors" VOUCHER_TEST_PKI="$work/pki"
export VOUCHER_TEST_ROGUE="$work/rogue" VOUCHER_TEST_TMP="$work"
# under ASan, Criterion's own few allocations kept until exit are not ours
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$root/tests/lsan.supp:print_suppressions=0"
# Criterion runs tests in parallel processes; the daemon tests are I/O bound
timeout "${TEST_TIMEOUT:-900}" bin/tests --jobs "${TEST_JOBS:-4}" "$@"
