#!/bin/sh
# DESIGN: build the demo's input image, an ordinary Python Flask server, as
# an OCI image layout, cached across runs (the Debian root takes about two
# minutes to bootstrap). Usage: flask-image.sh OUT_LAYOUT_DIR
# The mirror is the Debian URI of this machine's apt sources.
set -eu
out=${1:?usage: flask-image.sh OUT_LAYOUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
cache=${CCM_CACHE:-/var/cache/ccm}
root=$cache/flask-root
mkdir -p "$cache"

mirror() {
	m=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
		grep -v security | head -1)
	[ -n "$m" ] || m=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -1)
	echo "${m:-http://deb.debian.org/debian}"
}

if [ ! -x "$root/usr/bin/python3" ]; then
	echo "flask-image: bootstrapping a Debian root with python3-flask (cached in $root)" >&2
	rm -rf "$root.tmp"
	debootstrap --variant=minbase --include=python3-flask bookworm "$root.tmp" "$(mirror)" >&2
	rm -rf "$root.tmp/var/cache/apt/archives"/*.deb "$root.tmp/var/lib/apt/lists"/* 2>/dev/null || true
	mv "$root.tmp" "$root"
fi

# Rebuilt only when what goes into it changed (the app and this script),
# not when a fresh clone gives app.py a new mtime; built aside and moved
# in, so a run reading the cache never sees a half-packed layout.
want=$(cat "$here/app.py" "$0" | sha256sum | cut -c1-64)
if [ -f "$out/index.json" ] && [ "$(cat "$out.source" 2>/dev/null)" = "$want" ]; then
	exit 0
fi
echo "flask-image: packing the OCI image into $out" >&2
tmp=$out.tmp.$$
rm -rf "$tmp" "$tmp.bundle"
umoci init --layout "$tmp"
umoci new --image "$tmp:latest"
umoci unpack --image "$tmp:latest" "$tmp.bundle" >/dev/null
cp -a "$root/." "$tmp.bundle/rootfs/"
# Device nodes belong to the container runtime, not the image (and the
# converter refuses them in layers).
find "$tmp.bundle/rootfs/dev" -mindepth 1 -delete
mkdir -p "$tmp.bundle/rootfs/app" "$tmp.bundle/rootfs/run/ccm/tls"
cp "$here/app.py" "$tmp.bundle/rootfs/app/app.py"
umoci repack --image "$tmp:latest" "$tmp.bundle"
umoci config --image "$tmp:latest" --config.entrypoint python3 --config.cmd /app/app.py \
	--config.workingdir /app --config.env PYTHONUNBUFFERED=1 \
	--config.env PATH=/usr/local/bin:/usr/bin:/bin
umoci gc --layout "$tmp"
rm -rf "$tmp.bundle" "$out"
mv "$tmp" "$out"
echo "$want" >"$out.source"
