#!/usr/bin/env python3
"""Recompute MRENCLAVE of a converted image from docs/internals/image.md.

An independent implementation of the enclave layout contract (standard
library only): if it and lib/image ever disagree, either the code or the
document is wrong. Usage: image-layout.py ROOTFS  (prints MRENCLAVE hex).
"""
import hashlib, json, struct, sys

PAGE = 4096
R, W, X, REG, TCS = 0x1, 0x2, 0x4, 0x200, 0x100


class Measure:
    def __init__(self):
        self.h = hashlib.sha256()

    def ecreate(self, ssaframesize, size):
        self.h.update(b"ECREATE\0" + struct.pack("<IQ", ssaframesize, size) + bytes(44))

    def eadd(self, off, flags):
        self.h.update(b"EADD\0\0\0\0" + struct.pack("<QQ", off, flags) + bytes(40))

    def page(self, off, flags, data=None):
        self.eadd(off, flags)
        if data is None:
            return
        for i in range(0, PAGE, 256):
            self.h.update(b"EEXTEND\0" + struct.pack("<Q", off + i) + bytes(48) + data[i:i + 256])


def measure(elf, manifest, mem, threads):
    phoff, = struct.unpack_from("<Q", elf, 32)
    phnum, = struct.unpack_from("<H", elf, 56)
    entry, = struct.unpack_from("<Q", elf, 24)
    segs = []
    for i in range(phnum):
        typ, flags, off, vaddr, _, filesz, memsz, _ = struct.unpack_from("<IIQQQQQQ", elf, phoff + 56 * i)
        if typ == 1 and memsz > 0:
            segs.append((vaddr, memsz, off, filesz, flags))
    base = segs[0][0] & ~(PAGE - 1)
    end_elf = segs[-1][0] + segs[-1][1]
    span = (end_elf - base + PAGE - 1) // PAGE * PAGE
    mpages = (8 + len(manifest) + PAGE - 1) // PAGE
    heap_off = span + mpages * PAGE
    heap_pages = (mem + PAGE - 1) // PAGE
    thr_off = heap_off + heap_pages * PAGE
    tpages = 1 + 2 + 64
    end = thr_off + threads * tpages * PAGE
    size = 2 * PAGE
    while size < end:
        size *= 2
    m = Measure()
    m.ecreate(1, size)
    for off in range(0, span, PAGE):
        va, fl, page = base + off, 0, bytearray(PAGE)
        for (sv, smem, soff, sfile, sfl) in segs:
            if sv >= va + PAGE or sv + smem <= va:
                continue
            fl |= (R if sfl & 4 else 0) | (W if sfl & 2 else 0) | (X if sfl & 1 else 0) | REG
            lo, hi = max(sv, va), min(sv + sfile, va + PAGE)
            if hi > lo:
                page[lo - va:hi - va] = elf[soff + lo - sv:soff + hi - sv]
        if fl:
            m.page(off, fl, bytes(page))
    region = struct.pack("<Q", len(manifest)) + manifest
    region += bytes(mpages * PAGE - len(region))
    for i in range(mpages):
        m.page(span + i * PAGE, R | REG, region[i * PAGE:(i + 1) * PAGE])
    for i in range(heap_pages):
        m.page(heap_off + i * PAGE, R | W | REG)
    for t in range(threads):
        tcs = thr_off + t * tpages * PAGE
        top = tcs + 3 * PAGE + 64 * PAGE
        page = bytearray(PAGE)
        struct.pack_into("<Q", page, 16, tcs + PAGE)
        struct.pack_into("<I", page, 28, 2)
        struct.pack_into("<Q", page, 32, entry - base)
        struct.pack_into("<QQII", page, 48, top, top, 0xFFF, 0xFFF)
        m.page(tcs, TCS, bytes(page))
        for p in range(1, tpages):
            m.page(tcs + p * PAGE, R | W | REG)
    return m.h.hexdigest()


root = sys.argv[1]
elf = open(root + "/opt/ccm/ccm-enclave", "rb").read()
raw = open(root + "/opt/ccm/manifest.json", "rb").read()
man = json.loads(raw)
mr = measure(elf, raw, man["mem"], man["threads"])
sig = open(root + "/opt/ccm/enclave.sig", "rb").read()
assert sig[960:992].hex() == mr, "SIGSTRUCT ENCLAVEHASH differs from the recomputed MRENCLAVE"
print(mr)
