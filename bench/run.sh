#!/bin/sh
# DESIGN: `make bench` runs every benchmark in turn, each printing its
# figures beside a baseline measured in the same run (raw SHA-256, ECDSA,
# skopeo copy, ...). Benchmarks never fail on speed; a bench that cannot
# run (a tool missing) says so and the others still run.
# Usage: bench/run.sh [BUILD_DIR]; CCM_BENCH="measure quote ..." picks some.
set -u
BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
all="measure quote load heartbeat issue convert"
status=0
for b in ${CCM_BENCH:-$all}; do
	echo "== bench $b"
	case $b in
	measure) "$BUILD/bin/ccm" bench measure ;;
	quote) "$BUILD/bin/ccm" bench quote ;;
	load) bash "$here/ccmd-load.sh" "$BUILD" ;;
	heartbeat) bash "$here/heartbeat.sh" "$BUILD" ;;
	issue) bash "$here/issue.sh" "$BUILD" 64 10 ;;
	convert) bash "$here/image-convert.sh" "$BUILD" ;;
	*) echo "bench: unknown '$b' (known: $all)" >&2; status=2; continue ;;
	esac || { echo "bench $b: could not run (see above)" >&2; status=1; }
done
exit $status
