#!/bin/sh
# Installs the Debian packages voucherd needs to build, test and run, if any is
# missing.  As root it runs apt-get; otherwise it prints the one command to run.
set -eu
pkgs="build-essential clang clang-format libevent-dev libpq-dev libssl-dev libjansson-dev libcriterion-dev
libxlsxwriter-dev postgresql postgresql-client openssl curl ca-certificates procps valgrind haproxy
python3"
missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "missing Debian packages:$missing" >&2
	echo "run:  sudo apt-get install -y$missing" >&2
	exit 1
fi
