#!/bin/bash
# DESIGN: the issue-6 conversion benchmark. Builds (once, cached) a ~300 MB
# image in three layers from this Debian machine's own Python and
# libraries, puts it in one loopback docker-registry, then times, in the
# same run, `skopeo copy` of it to a second registry and `ccm image convert`
# of it to that second registry (both must move every byte; the convert also
# walks and hashes every file, measures and signs). Prints both times and
# the ratio, then one JSON line. Target from issue 6: ratio <= 1.5.
# Usage: bench/image-convert.sh [BUILD_DIR]  (CCM_BENCH_CACHE: image cache)
set -eu
BUILD=${1:-build}
BIN=$(cd "$BUILD/bin" && pwd)
CACHE=${CCM_BENCH_CACHE:-/tmp/ccm-bench-image}
for t in docker-registry skopeo umoci python3; do
	command -v $t >/dev/null || { echo "image-convert: $t is not installed" >&2; exit 2; }
done
T=$(mktemp -d /tmp/ccm-bench.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# registry VAR NAME: start one, set VAR to HOST:PORT (no subshell, so that
# PIDS reaches the EXIT trap).
registry() {
	local port
	port=$(free_port)
	printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
		"$T/$2" "$port" > "$T/$2.yml"
	docker-registry serve "$T/$2.yml" > "$T/$2.log" 2>&1 &
	PIDS="$PIDS $!"
	for _ in $(seq 100); do
		if curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then
			printf -v "$1" '127.0.0.1:%s' "$port"
			return
		fi
		sleep 0.1
	done
	exit 1
}

# Three layers: Python, then shared libraries, then programs (~300 MB).
build_image() {
	rm -rf "$CACHE" && mkdir -p "$CACHE" && cd "$CACHE"
	umoci init --layout oci >/dev/null
	umoci new --image oci:bench >/dev/null
	local i=0
	for src in "/usr/lib/python3.11 /usr/lib/python3 /etc" "/usr/lib/x86_64-linux-gnu" "/usr/bin /bin"; do
		umoci unpack --rootless --image oci:bench b >/dev/null 2>&1
		python3 - b/rootfs $((110 << 20)) $src <<'PY'
import os, shutil, sys
root, budget, srcs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
used = 0
for s in srcs:
    for dp, dn, fn in os.walk(s):
        dn.sort()
        for f in sorted(fn):
            p = os.path.join(dp, f)
            if os.path.islink(p) or not os.path.isfile(p) or used > budget:
                continue
            d = root + dp
            os.makedirs(d, exist_ok=True)
            try:
                shutil.copy2(p, d)
                used += os.path.getsize(p)
            except OSError:
                pass
PY
		umoci repack --image oci:bench b >/dev/null
		rm -rf b
		i=$((i + 1))
	done
	umoci config --image oci:bench --config.entrypoint /usr/bin/python3.11 >/dev/null
	cd - >/dev/null
}
[ -f "$CACHE/oci/index.json" ] || build_image

registry A a
registry B b
SK="skopeo --insecure-policy"
$SK copy -q --dest-tls-verify=false oci:$CACHE/oci:bench docker://$A/bench/src:1 >/dev/null
SIZE=$(du -sb "$CACHE/oci/blobs" | cut -f1)
"$BIN/ccm" sgx keygen -o "$T/key.pem" 2>/dev/null

now() { date +%s.%N; }
t0=$(now)
$SK copy -q --src-tls-verify=false --dest-tls-verify=false docker://$A/bench/src:1 \
	docker://$B/bench/copy:1 >/dev/null
t1=$(now)
"$BIN/ccm" image convert --insecure-registry "$A" --insecure-registry "$B" --key "$T/key.pem" \
	--from "$A/bench/src:1" --to "$B/bench/enc:1" --tmpdir "$T" --json > "$T/conv.json"
t2=$(now)
python3 - "$t0" "$t1" "$t2" "$SIZE" "$T/conv.json" <<'PY'
import json, sys
t0, t1, t2, size = map(float, sys.argv[1:5])
conv = json.load(open(sys.argv[5]))
copy_s, conv_s = t1 - t0, t2 - t1
print("image: %.0f MB compressed, %d protected files" % (size / 1e6, conv["files"]))
print("skopeo copy:       %.2f s" % copy_s)
print("ccm image convert: %.2f s" % conv_s)
print("ratio:             %.2f (target <= 1.5)" % (conv_s / copy_s))
print(json.dumps({"image_bytes": int(size), "files": conv["files"], "skopeo_s": round(copy_s, 3),
                  "convert_s": round(conv_s, 3), "ratio": round(conv_s / copy_s, 3)}))
PY
