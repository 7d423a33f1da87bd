#!/usr/bin/env python3
"""Build an OCI layout of hostile images for tests/cli/image.sh.

Each tag is a one- or two-layer linux/amd64 image whose layer carries one
attack (or, for "arm", an index without linux/amd64). Written with the
standard library only (tarfile, gzip, json, hashlib).
"""
import gzip, hashlib, io, json, os, shutil, subprocess, sys, tarfile

out = sys.argv[1]
os.makedirs(os.path.join(out, "blobs/sha256"), exist_ok=True)
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
index = []


def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(out, "blobs/sha256", d), "wb").write(data)
    return "sha256:" + d


def compress(raw, how):
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
    if how == "none":
        return raw
    return gzip.compress(raw, mtime=0)


def layer(entries, how="gzip"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, arg in entries:
            ti = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = arg.encode()
                ti.size = len(data)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    return compress(raw, how), "sha256:" + hashlib.sha256(raw).hexdigest()


def image(tag, layers, layer_type="application/vnd.oci.image.layer.v1.tar+gzip",
          corrupt=False, platform=("linux", "amd64"), how="gzip", repeat_first=False):
    descs, diffs = [], []
    for entries in layers:
        gz, diff = layer(entries, how)
        dg = put(gz)
        if corrupt:
            p = os.path.join(out, "blobs/sha256", dg[7:])
            b = bytearray(open(p, "rb").read()); b[-5] ^= 0xff
            open(p, "wb").write(bytes(b))
        descs.append({"mediaType": layer_type, "digest": dg, "size": len(gz)})
        diffs.append(diff)
    if repeat_first:  # one blob named twice, as empty layers often are
        descs.append(descs[0])
        diffs.append(diffs[0])
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    man = json.dumps({"schemaVersion": 2,
                      "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": put(cfg), "size": len(cfg)},
                      "layers": descs}).encode()
    mdg = put(man)
    if platform != ("linux", "amd64"):
        idx = json.dumps({"schemaVersion": 2,
                          "mediaType": "application/vnd.oci.image.index.v1+json",
                          "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                         "digest": mdg, "size": len(man),
                                         "platform": {"os": platform[0],
                                                      "architecture": platform[1]}}]}).encode()
        index.append({"mediaType": "application/vnd.oci.image.index.v1+json",
                      "digest": put(idx), "size": len(idx),
                      "annotations": {"org.opencontainers.image.ref.name": tag}})
        return
    index.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdg,
                  "size": len(man), "annotations": {"org.opencontainers.image.ref.name": tag}})


base = [("bin", "dir", None), ("bin/sh", "file", "#!")]
image("dotdot", [base + [("../../escape", "file", "x")]])
image("abslink", [base + [("etcl", "sym", "/etc"), ("etcl/passwd", "file", "root::0:0")]])
image("rellink", [base + [("bin/up", "sym", "../../../../etc")]])
image("device", [base + [("dev", "dir", None), ("dev/null", "chr", None)]])
image("dup", [base + [("etc", "dir", None), ("etc/a", "file", "1"), ("etc/a", "file", "2")]])
image("hardlink", [base + [("bin/ln", "hard", "nonexistent")]])
image("arm", [base], platform=("linux", "arm64"))
image("mediatype", [base], layer_type="application/x-evil")
image("baddigest", [base + [("bad", "file", "only-here")]], corrupt=True)
image("whiteout", [base + [("etc", "dir", None), ("etc/gone", "file", "x"), ("opq", "dir", None),
                           ("opq/old", "file", "o")],
                   [("etc/.wh.gone", "file", ""), ("opq/.wh..wh..opq", "file", ""),
                    ("opq/new", "file", "n")]])
if shutil.which("zstd"):
    image("zstd", [base + [("etc", "dir", None), ("etc/z", "file", "zstd!")]],
          layer_type="application/vnd.oci.image.layer.v1.tar+zstd", how="zstd")
image("late", [base, [("dev", "dir", None), ("dev/sda", "chr", None)], [("x", "file", "x")],
               [("y", "file", "y")]])
image("twice", [base, [("x", "file", "x")]], repeat_first=True)
image("plain", [base], layer_type="application/vnd.oci.image.layer.v1.tar", how="none")
json.dump({"schemaVersion": 2, "manifests": index}, open(os.path.join(out, "index.json"), "w"))
