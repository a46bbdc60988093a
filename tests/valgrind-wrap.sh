#!/bin/sh
# Runs a program under valgrind for `make check-valgrind`: exit 99 on any
# memory error or definite/indirect leak; one log per process in build/valgrind/.
dir=$(cd "$(dirname "$0")/.." && pwd)/build/valgrind
mkdir -p "$dir"
exec valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	--log-file="$dir/vg.%p" "$@"
