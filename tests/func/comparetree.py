#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Compare a mounted view with its backing tree, or snapshot a tree.

  comparetree.py compare BACKING VIEW [--no-atime] [--no-content]
                 [--ranges N] [--seed N]
      Pass 1 (no file is read yet): the set of names in every directory,
      each entry's type as readdir reports it (d_type), and lstat: mode,
      size, uid, gid, nlink (non-directories), rdev (devices), mtime, ctime
      and atime to the nanosecond; symlink targets; hard links share an
      inode number in the view and nothing else does.
      Pass 2: every regular file's bytes, whole and sequential, plus N
      random pread() ranges per file of 1 MiB or more (block and page
      boundaries included), read again through mmap. Files of 256 MiB or
      more are timed.
      Exit 0 if all equal, 1 with a list of differences.

  comparetree.py snapshot DIR OUT
      Write every entry's lstat fields, symlink target, xattrs and content
      hash to OUT (JSON).

  comparetree.py diffsnap A B
      Compare two snapshots; exit 1 with the differences.

All paths are handled as bytes, so names that are not UTF-8 work.
"""
import argparse
import hashlib
import json
import mmap
import os
import random
import stat
import sys
import time

CHUNK = 1 << 20
MIB = 1 << 20


class Report:
    def __init__(self, limit=60):
        self.diffs = []
        self.limit = limit

    def add(self, path, what):
        self.diffs.append((path, what))
        if len(self.diffs) <= self.limit:
            print("DIFF %s: %s" % (show(path), what), flush=True)


def show(path):
    return repr(os.fsdecode(path))[1:-1]


def kind(mode):
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"),
                       (stat.S_ISLNK, "symlink"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISCHR, "chardev"), (stat.S_ISBLK, "blockdev"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "?"


def compare_attrs(rep, rel, b, v, atime):
    if b.st_mode != v.st_mode:
        rep.add(rel, "mode %s %o (backing) != %s %o (view)" %
                (kind(b.st_mode), b.st_mode, kind(v.st_mode), v.st_mode))
    fields = ["st_uid", "st_gid", "st_mtime_ns", "st_ctime_ns"]
    if not stat.S_ISDIR(b.st_mode):
        fields += ["st_size", "st_nlink"]
    else:
        fields += ["st_size"]
    if atime:
        fields.append("st_atime_ns")
    if stat.S_ISCHR(b.st_mode) or stat.S_ISBLK(b.st_mode):
        fields.append("st_rdev")
    for f in fields:
        if getattr(b, f) != getattr(v, f):
            rep.add(rel, "%s %d (backing) != %d (view)" %
                    (f[3:], getattr(b, f), getattr(v, f)))


def dtype_of(entry):
    if entry.is_symlink():
        return "symlink"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "other"


def lstat_kind(mode):
    k = kind(mode)
    return k if k in ("symlink", "dir", "file") else "other"


def compare_inodes(rep, inodes):
    """hard links share one inode in the view; other entries do not (du,
    tar, cp -a, rsync -H and os.path.samefile rely on it)"""
    view_of = {}
    for bkey, entries in inodes.items():
        vinos = {v for _, v in entries}
        if len(vinos) != 1:
            rep.add(entries[0][0], "hard links %s have different inode "
                    "numbers in the view: %s" %
                    ([show(r) for r, _ in entries], sorted(vinos)))
        for v in vinos:
            if v in view_of and view_of[v] != bkey:
                rep.add(entries[0][0], "shares view inode %s with another "
                        "backing file" % (v,))
            view_of[v] = bkey


def pass1(rep, broot, vroot, atime, files, counts, inodes):
    stack = [b""]
    while stack:
        rel = stack.pop()
        bdir = os.path.join(broot, rel) if rel else broot
        vdir = os.path.join(vroot, rel) if rel else vroot
        try:
            with os.scandir(vdir) as it:
                ventries = {e.name: e for e in it}
        except OSError as e:
            rep.add(rel or b".", "cannot list the view: %s" % e)
            continue
        with os.scandir(bdir) as it:
            bnames = {e.name for e in it}
        for name in sorted(bnames - set(ventries)):
            rep.add(os.path.join(rel, name), "missing from the view")
        for name in sorted(set(ventries) - bnames):
            rep.add(os.path.join(rel, name), "in the view only")
        for name in sorted(bnames & set(ventries)):
            r = os.path.join(rel, name)
            counts["entries"] += 1
            bst = os.lstat(os.path.join(broot, r))
            try:
                vst = os.lstat(os.path.join(vroot, r))
            except OSError as e:
                rep.add(r, "lstat in the view: %s" % e)
                continue
            compare_attrs(rep, r, bst, vst, atime)
            inodes.setdefault((bst.st_dev, bst.st_ino), []).append(
                (r, (vst.st_dev, vst.st_ino)))
            dt = dtype_of(ventries[name])
            if dt != lstat_kind(bst.st_mode):
                rep.add(r, "readdir type %s != %s" %
                        (dt, lstat_kind(bst.st_mode)))
            if stat.S_ISLNK(bst.st_mode):
                counts["symlinks"] += 1
                bt = os.readlink(os.path.join(broot, r))
                try:
                    vt = os.readlink(os.path.join(vroot, r))
                except OSError as e:
                    rep.add(r, "readlink in the view: %s" % e)
                    continue
                if bt != vt:
                    rep.add(r, "symlink target %r != %r" % (bt, vt))
            elif stat.S_ISDIR(bst.st_mode):
                counts["dirs"] += 1
                stack.append(r)
            elif stat.S_ISREG(bst.st_mode):
                counts["files"] += 1
                files.append((r, bst.st_size))


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def compare_whole(rep, rel, bpath, vpath, size):
    t0 = time.monotonic()
    off = 0
    with open(bpath, "rb", buffering=0) as bf, \
            open(vpath, "rb", buffering=0) as vf:
        while True:
            bb = bf.read(CHUNK)
            vb = vf.read(CHUNK)
            if bb != vb:
                i = first_diff(bb, vb)
                rep.add(rel, "bytes differ at offset %d (backing chunk %d "
                        "bytes, view chunk %d bytes)" %
                        (off + i, len(bb), len(vb)))
                return
            if not bb:
                break
            off += len(bb)
    if off != size:
        rep.add(rel, "read %d bytes, size is %d" % (off, size))
    dt = time.monotonic() - t0
    if size >= 256 * MIB:
        print("time: %s: %d MiB compared in %.2fs (%.0f MiB/s per side)" %
              (show(rel), size >> 20, dt, (size >> 20) / max(dt, 1e-6)),
              flush=True)


def ranges_for(size, n, rnd):
    """n random (offset, length) pairs, biased to page/block boundaries"""
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.5:
            unit = rnd.choice((4096, 128 * 1024, MIB, 4 * MIB))
            k = rnd.randrange(max(size // unit, 1) + 1)
            off = max(0, min(size, k * unit + rnd.randrange(-64, 64)))
        else:
            off = rnd.randrange(size + 1)
        ln = rnd.choice((1, 7, 4096, 4097, 65536, 131073, MIB + 3))
        out.append((off, ln))
    out.append((size - 1, 10))
    out.append((size, 4096))
    out.append((size + 4096, 4096))
    return out


def compare_ranges(rep, rel, bpath, vpath, size, n, rnd):
    """pread() at random ranges, and the same ranges through mmap (what
    the dynamic loader does with libraries)"""
    bfd = os.open(bpath, os.O_RDONLY)
    vfd = os.open(vpath, os.O_RDONLY)
    try:
        ranges = ranges_for(size, n, rnd)
        for off, ln in ranges:
            bb = os.pread(bfd, ln, off)
            vb = os.pread(vfd, ln, off)
            if bb != vb:
                rep.add(rel, "pread(off=%d, len=%d) differs at +%d "
                        "(%d vs %d bytes)" %
                        (off, ln, first_diff(bb, vb), len(bb), len(vb)))
                return
        with mmap.mmap(vfd, 0, prot=mmap.PROT_READ) as m:
            for off, ln in ranges:
                bb = os.pread(bfd, ln, off)
                vb = m[off:off + ln]
                if bb != vb:
                    rep.add(rel, "mmap [%d:%d] differs at +%d "
                            "(%d vs %d bytes)" %
                            (off, off + ln, first_diff(bb, vb), len(bb),
                             len(vb)))
                    return
    finally:
        os.close(bfd)
        os.close(vfd)


def compare(a):
    broot = os.fsencode(a.backing)
    vroot = os.fsencode(a.view)
    rep = Report()
    files = []
    counts = {"entries": 0, "dirs": 0, "files": 0, "symlinks": 0}
    t0 = time.monotonic()
    try:
        bst, vst = os.lstat(broot), os.lstat(vroot)
        compare_attrs(rep, b".", bst, vst, a.atime)
    except OSError as e:
        rep.add(b".", "lstat: %s" % e)
    inodes = {}
    pass1(rep, broot, vroot, a.atime, files, counts, inodes)
    compare_inodes(rep, inodes)
    t1 = time.monotonic()
    print("pass 1: %(entries)d entries (%(dirs)d dirs, %(files)d files, "
          "%(symlinks)d symlinks): attributes compared" % counts +
          " in %.2fs" % (t1 - t0), flush=True)
    if a.content:
        rnd = random.Random(a.seed)
        nbytes = 0
        for rel, size in sorted(files):
            bpath = os.path.join(broot, rel)
            vpath = os.path.join(vroot, rel)
            try:
                compare_whole(rep, rel, bpath, vpath, size)
                if size >= MIB and a.ranges:
                    compare_ranges(rep, rel, bpath, vpath, size, a.ranges,
                                   rnd)
            except OSError as e:
                rep.add(rel, "read: %s" % e)
            nbytes += size
        print("pass 2: %d files, %d MiB compared byte for byte in %.2fs" %
              (len(files), nbytes >> 20, time.monotonic() - t1), flush=True)
    if rep.diffs:
        print("%d differences" % len(rep.diffs))
        return 1
    return 0


def snapshot(a):
    root = os.fsencode(a.dir)
    out = {}
    for dirpath, dirs, names in os.walk(root):
        for name in dirs + names + ([] if dirpath != root else [b"."]):
            path = os.path.normpath(os.path.join(dirpath, name))
            st = os.lstat(path)
            e = {k: getattr(st, k) for k in
                 ("st_mode", "st_uid", "st_gid", "st_size", "st_nlink",
                  "st_mtime_ns", "st_ctime_ns", "st_ino")}
            if stat.S_ISLNK(st.st_mode):
                e["target"] = os.fsdecode(os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    for b in iter(lambda: f.read(CHUNK), b""):
                        h.update(b)
                e["sha256"] = h.hexdigest()
            try:
                e["xattrs"] = {
                    x: os.getxattr(path, x, follow_symlinks=False).hex()
                    for x in sorted(os.listxattr(path,
                                                 follow_symlinks=False))}
            except OSError:
                pass
            out[os.fsdecode(os.path.relpath(path, root))] = e
    with open(a.out, "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)
    print("snapshot: %d entries of %s" % (len(out), a.dir))
    return 0


def diffsnap(a):
    with open(a.a) as f:
        sa = json.load(f)
    with open(a.b) as f:
        sb = json.load(f)
    n = 0
    for k in sorted(set(sa) | set(sb)):
        if k not in sb:
            print("DIFF %r: removed" % k)
        elif k not in sa:
            print("DIFF %r: added" % k)
        elif sa[k] != sb[k]:
            ch = ["%s %s -> %s" % (f, sa[k].get(f), sb[k].get(f))
                  for f in sorted(set(sa[k]) | set(sb[k]))
                  if sa[k].get(f) != sb[k].get(f)]
            print("DIFF %r: %s" % (k, ", ".join(ch)))
        else:
            continue
        n += 1
    if n:
        print("%d entries changed" % n)
        return 1
    print("snapshots equal: %d entries" % len(sa))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare")
    c.add_argument("backing")
    c.add_argument("view")
    c.add_argument("--no-atime", dest="atime", action="store_false")
    c.add_argument("--no-content", dest="content", action="store_false")
    c.add_argument("--ranges", type=int, default=8)
    c.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("snapshot")
    s.add_argument("dir")
    s.add_argument("out")
    d = sub.add_parser("diffsnap")
    d.add_argument("a")
    d.add_argument("b")
    a = ap.parse_args()
    return {"compare": compare, "snapshot": snapshot,
            "diffsnap": diffsnap}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
