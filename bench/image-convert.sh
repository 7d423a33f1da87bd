#!/bin/bash
# DESIGN: the issue-6 conversion benchmark. Builds (once, cached) a ~300 MB
# image in three layers from this Debian machine's own Python and
# libraries, puts it in one loopback docker-registry, then times, in the
# same run, `skopeo copy` of it to a second registry and `ccm image convert`
# of it to that second registry. The copy is of the same kind for both:
# registry to another registry, which starts empty, so neither can skip or
# cross-repository-mount a blob (both download and upload every byte; the
# convert also decompresses and hashes every file, measures and signs).
# Prints both times, the ratio and the load average, then one JSON line.
# Target from issue 6: ratio <= 1.5.
# Usage: bench/image-convert.sh [BUILD_DIR]
#   CCM_BENCH_CACHE: the built image's cache (default /tmp/ccm-bench-image)
#   CCM_BENCH_IMAGE=oci:DIR:TAG: bench that image instead (for example the
#   demo's one-layer Flask image, oci:/var/cache/ccm/flask-oci:latest)
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
IMAGE=${CCM_BENCH_IMAGE:-}
if [ -z "$IMAGE" ]; then
	[ -f "$CACHE/oci/index.json" ] || build_image
	IMAGE=oci:$CACHE/oci:bench
fi
LAYOUT=${IMAGE#oci:}
LAYOUT=${LAYOUT%:*}

registry A a
registry B b
SK="skopeo --insecure-policy"
$SK copy -q --dest-tls-verify=false "$IMAGE" docker://$A/bench/src:1 >/dev/null
SIZE=$(du -sb "$LAYOUT/blobs" | cut -f1)
"$BIN/ccm" sgx keygen -o "$T/key.pem" 2>/dev/null

# timed TIMES OUT CMD...: run CMD with its output in OUT, write "wall user
# sys" seconds (CPU time of the command and its children) to TIMES. CPU time
# shows the work each side does, which wall times on a shared, loaded
# machine only blur.
timed() {
	python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
with open(sys.argv[2], "w") as out:
    rc = subprocess.call(sys.argv[3:], stdout=out)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write("%f %f %f" % (time.monotonic() - t, r.ru_utime, r.ru_stime))
sys.exit(rc)
PY
}
timed "$T/t.skopeo" /dev/null $SK copy -q --src-tls-verify=false --dest-tls-verify=false \
	docker://$A/bench/src:1 docker://$B/bench/copy:1
timed "$T/t.ccm" "$T/conv.json" "$BIN/ccm" image convert --insecure-registry "$A" \
	--insecure-registry "$B" --key "$T/key.pem" --from "$A/bench/src:1" --to "$B/bench/enc:1" \
	--tmpdir "$T" --json
python3 - "$T/t.skopeo" "$T/t.ccm" "$SIZE" "$IMAGE" "$T/conv.json" <<'PY'
import json, os, sys
sk = list(map(float, open(sys.argv[1]).read().split()))
cv = list(map(float, open(sys.argv[2]).read().split()))
size = float(sys.argv[3])
conv = json.load(open(sys.argv[5]))
copy_s, conv_s = sk[0], cv[0]
load = os.getloadavg()
print("image: %s, %.0f MB compressed, %d layers, %d protected files" %
      (sys.argv[4], size / 1e6, conv["layers"] - 1, conv["files"]))
print("copy:  registry to a second (empty) registry, every blob moved")
print("load:  %.2f %.2f %.2f" % load)
print("skopeo copy:       %.2f s (CPU %.2f s user + %.2f s sys)" % (copy_s, sk[1], sk[2]))
print("ccm image convert: %.2f s (CPU %.2f s user + %.2f s sys)" % (conv_s, cv[1], cv[2]))
print("ratio:             %.2f (target <= 1.5)" % (conv_s / copy_s))
print(json.dumps({"image": sys.argv[4], "image_bytes": int(size), "files": conv["files"],
                  "skopeo_s": round(copy_s, 3), "convert_s": round(conv_s, 3),
                  "ratio": round(conv_s / copy_s, 3), "skopeo_cpu_s": round(sk[1] + sk[2], 3),
                  "convert_cpu_s": round(cv[1] + cv[2], 3), "load1": load[0]}))
PY
