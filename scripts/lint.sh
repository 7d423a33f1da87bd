#!/bin/sh
# DESIGN: the lint gate, in the spirit of curl's checksrc: formatting is
# clang-format's job, and a short list of C functions that invite overflows
# or silent parse errors is banned outright from the project's sources.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find include lib src tests fuzz bench -name '*.[ch]')
[ -n "$files" ] || exit 0
status=0

if command -v clang-format >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	if ! clang-format --dry-run -Werror $files 2>/tmp/ccm-lint.$$; then
		head -40 /tmp/ccm-lint.$$ >&2
		echo "lint: formatting differs (run 'make format')" >&2
		status=1
	fi
	rm -f /tmp/ccm-lint.$$
fi

banned='\b(sprintf|vsprintf|strcpy|strcat|strncat|strtok|atoi|atol|atoll|gets|tmpnam|mktemp|alloca)[[:space:]]*\('
# shellcheck disable=SC2086
if grep -nE "$banned" $files | grep -v 'lint-allow' >&2; then
	echo "lint: banned function used (see scripts/lint.sh)" >&2
	status=1
fi
exit $status
