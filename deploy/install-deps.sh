#!/bin/sh
# Installs the Debian packages voucherd needs to build, test and run, if any is
# missing.  As root it runs apt-get; otherwise it prints the one command to run.
# The browser test's packages (make check-browser: Chromium, its WebDriver,
# Selenium, openpyxl and the CJK font the console's style sheet names) are
# installed with the others as root (`make deps`, CI); when not root they are
# required only by `install-deps.sh browser` (make check-browser), so that
# building and `make test` do not need a browser.
set -eu
pkgs="build-essential clang clang-format libevent-dev libpq-dev libssl-dev libjansson-dev libcriterion-dev
libxlsxwriter-dev postgresql postgresql-client openssl curl ca-certificates procps valgrind haproxy
python3 pg-auto-failover-cli postgresql-15-auto-failover"
browser_pkgs="chromium chromium-driver python3-selenium python3-openpyxl fonts-noto-cjk"
missing_of() {
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			printf ' %s' "$p"
		fi
	done
}
# shellcheck disable=SC2086
missing=$(missing_of $pkgs)
# shellcheck disable=SC2086
missing_browser=$(missing_of $browser_pkgs)
if [ "$(id -u)" -eq 0 ]; then
	all="$missing$missing_browser"
	[ -z "$all" ] && exit 0
	echo "installing:$all"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $all >/dev/null
	exit 0
fi
[ "${1:-}" = browser ] && missing="$missing$missing_browser"
[ -z "$missing" ] && exit 0
echo "missing Debian packages:$missing" >&2
echo "run:  sudo apt-get install -y$missing" >&2
exit 1
