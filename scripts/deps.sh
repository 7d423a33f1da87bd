#!/bin/sh
# DESIGN: install the Debian packages ccm needs, only when one is missing.
# Quiet when everything is present, so `make check` stays readable; loud and
# non-interactive when it must install, so a fresh Debian 12 root works.
set -eu

PKGS="build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
libssl-dev libevent-dev libsqlite3-dev libjansson-dev libcurl4-openssl-dev
libarchive-dev libisal-dev libargon2-dev libcmocka-dev sqlite3 curl openssl"

# Integration, end-to-end and benchmark tools (registry, image tools, runtime).
if [ "${CCM_DEPS_MINIMAL:-0}" != "1" ]; then
	PKGS="$PKGS docker-registry skopeo umoci runc debootstrap wrk apache2-utils busybox-static python3 python3-cryptography"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != "0" ]; then
	echo "deps: missing packages:$missing (run as root or install them)" >&2
	exit 1
fi
echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
