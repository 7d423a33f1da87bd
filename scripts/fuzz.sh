#!/bin/sh
# Run every libFuzzer target in BUILD/bin/fuzz for SECONDS each, starting
# from its seed corpus in fuzz/corpus/<target>/ (copied, so seeds stay clean).
set -eu
build=${1:-build-fuzz}
secs=${2:-20}
cd "$(dirname "$0")/.."
fails=0
for t in "$build"/bin/fuzz/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	work=$(mktemp -d)
	[ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
	echo "fuzz: $name for ${secs}s"
	if ! "$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 "$work" \
		>"$work.log" 2>&1; then
		tail -30 "$work.log" >&2
		fails=$((fails + 1))
	fi
	grep -E '^(Done|#[0-9]+ *DONE)' "$work.log" | tail -1 || true
	rm -rf "$work" "$work.log"
done
if [ "$fails" -gt 0 ]; then
	echo "fuzz: $fails target(s) failed" >&2
	exit 1
fi
echo "fuzz: all targets ran clean"
