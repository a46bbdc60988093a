#!/bin/sh
# The one-way layout (docs/architecture.md): a folder includes only folders
# before it,
#   common -> metering -> settlement -> audit -> the programs (daemon, ctl, client, console)
# and no program includes another (client/bench may include client).  Run by
# `make test` before anything is built: an include against the layering fails.
set -eu
cd "$(dirname "$0")/.."
rank() {
	case "$1" in
	common) echo 0 ;;
	metering) echo 1 ;;
	settlement) echo 2 ;;
	audit) echo 3 ;;
	daemon | ctl | client | console) echo 4 ;;
	*) echo 9 ;;
	esac
}
bad=0
for f in $(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find common metering settlement audit daemon ctl client console -name '*.[ch]'); do
	dir=${f%%/*}
	case "$dir" in common | metering | settlement | audit | daemon | ctl | client | console) ;; *) continue ;; esac
	[ -f "$f" ] || continue
	mine=$(rank "$dir")
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z_]*\)\/.*".*/\1/p' "$f"); do
		theirs=$(rank "$inc")
		if [ "$theirs" -gt "$mine" ] || { [ "$mine" -eq 4 ] && [ "$theirs" -eq 4 ] && [ "$inc" != "$dir" ]; }; then
			echo "layering: $f includes $inc/ (only folders before $dir/ may be included)" >&2
			bad=1
		fi
	done
done
[ "$bad" -eq 0 ] || exit 1
# metering is pure: no libevent, no libpq
if grep -ln 'event2/\|libpq-fe.h' metering/*.c metering/*.h 2>/dev/null; then
	echo "layering: metering/ must not use libevent or libpq" >&2
	exit 1
fi
echo "layering: ok"
