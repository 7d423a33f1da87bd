#!/usr/bin/env python3
"""Build an OCI layout of hostile images for tests/cli/image.sh.

Each tag is a one- or two-layer linux/amd64 image whose layer carries one
attack (or, for "arm", an index without linux/amd64), or an unusual but
valid form (several platforms, uncompressed Docker layers, empty layers,
odd configs). Written with the standard library only (tarfile, gzip, json,
hashlib). An optional second argument names a static busybox for the
images the runtime is started on ("users").
"""
import gzip, hashlib, io, json, os, shutil, subprocess, sys, tarfile

out = sys.argv[1]
busybox = open(sys.argv[2], "rb").read() if len(sys.argv) > 2 else b"#!"
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
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
            elif kind == "secret":  # readable by root only
                data, ti.mode = arg.encode(), 0o600
                ti.size = len(data)
            elif kind == "exe":
                data, ti.mode = arg, 0o755
                ti.size = len(data)
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue() if entries else b""  # [] : a zero-byte layer
    return compress(raw, how), "sha256:" + hashlib.sha256(raw).hexdigest()


def image(tag, layers, layer_type="application/vnd.oci.image.layer.v1.tar+gzip",
          corrupt=False, platform=("linux", "amd64"), how="gzip", repeat_first=False,
          config=None, docker=False, others=()):
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
                      "config": config if config is not None else {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    mt = "application/vnd.%s+json" % ("docker.distribution.manifest.v2" if docker
                                       else "oci.image.manifest.v1")
    man = json.dumps({"schemaVersion": 2, "mediaType": mt,
                      "config": {"mediaType": "application/vnd.docker.container.image.v1+json"
                                 if docker else "application/vnd.oci.image.config.v1+json",
                                 "digest": put(cfg), "size": len(cfg)},
                      "layers": descs}).encode()
    mdg = put(man)
    if others:  # an index: these platforms name a bogus manifest, linux/amd64 this one
        ents = [{"mediaType": mt, "digest": mdg if p == ("linux", "amd64") else put(b"{}"),
                 "size": len(man) if p == ("linux", "amd64") else 2,
                 "platform": {"os": p[0], "architecture": p[1]}} for p in others]
        imt = ("application/vnd.docker.distribution.manifest.list.v2+json" if docker
               else "application/vnd.oci.image.index.v1+json")
        idx = json.dumps({"schemaVersion": 2, "mediaType": imt, "manifests": ents}).encode()
        index.append({"mediaType": imt, "digest": put(idx), "size": len(idx),
                      "annotations": {"org.opencontainers.image.ref.name": tag}})
        return
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
    index.append({"mediaType": mt, "digest": mdg,
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
# Valid images of unusual forms.
image("multi", [base], others=(("linux", "arm64"), ("unknown", "unknown"), ("linux", "amd64"),
                               ("windows", "amd64")))
image("dlist", [base], docker=True, layer_type="application/vnd.docker.image.rootfs.diff.tar.gzip",
      others=(("linux", "s390x"), ("linux", "amd64")))
image("dockerplain", [base], docker=True, how="none",
      layer_type="application/vnd.docker.image.rootfs.diff.tar")
image("emptylayer", [[], base, []], layer_type="application/vnd.oci.image.layer.v1.tar", how="none")
image("opqlate", [base + [("o", "dir", None), ("o/sub", "dir", None), ("o/sub/x", "file", "x")],
                  [("o/sub/y", "file", "y"), ("o/.wh..wh..opq", "file", "")]])
image("hardrw", [base + [("data", "dir", None), ("data/x", "file", "rw"), ("etc", "dir", None),
                         ("etc/y", "hard", "data/x")]])
image("hardsym", [base + [("bin/l", "sym", "sh"), ("bin/h", "hard", "bin/l")]])
image("optlink", [base + [("usr", "dir", None), ("usr/opt", "dir", None), ("opt", "sym", "usr/opt")]])
image("neither", [base], config={"Env": ["A=b"]})
image("envnoeq", [base], config={"Cmd": ["/bin/sh"], "Env": ["NOEQ"]})
image("relwd", [base], config={"Cmd": ["/bin/sh"], "WorkingDir": "rel"})
image("users", [[("bin", "dir", None), ("bin/busybox", "exe", busybox), ("bin/sh", "sym", "busybox"),
                 ("etc", "dir", None), ("etc/shadow", "secret", "root:*:1::::::\n"),
                 ("etc/passwd", "file", "root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:/bin/sh\n"),
                 ("etc/group", "file", "root:x:0:\napp:x:1001:\nstaff:x:50:other,app\n"),
                 ("srv", "dir", None), ("srv/db", "dir", None), ("srv/db/seed", "file", "s")]],
      config={"Entrypoint": ["/bin/sh", "-c", "echo $(id -u):$(id -g):$(id -G) $(pwd)"],
              "User": "app", "WorkingDir": "/home/app", "Env": ["A=x=y"],
              "ExposedPorts": {"9000/tcp": {}, "80/tcp": {}}, "Volumes": {"/srv/db/": {}}})
json.dump({"schemaVersion": 2, "manifests": index}, open(os.path.join(out, "index.json"), "w"))
