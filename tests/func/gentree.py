#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generate the backing tree of the view tests.

  gentree.py ROOT [--seed N] [--wide N] [--huge BYTES]

ROOT must not exist. The tree has nested directories, one wide directory
(10,000 entries by default), relative, absolute, dangling and looping
symlinks, empty files, sparse files, one huge sparse file (a little over
1 GiB by default, created with truncate plus a few written regions, so it is
fast and small on disk), names with spaces, control characters and UTF-8,
various modes, owners (other uids and gids), hard links, special files and
timestamps with nanoseconds set through os.utime(ns=...), including one
before 1970 and one after 2038.

Every atime is set about an hour in the future and after its mtime, so
relatime never updates it when the tree is read: atimes compare equal
before and after reads.
Directory times are set last, bottom up, after their entries exist.
"""
import argparse
import os
import random
import socket
import stat
import time

MIB = 1 << 20
GIB = 1 << 30


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--wide", type=int, default=10000)
    ap.add_argument("--huge", type=int, default=GIB + 12345)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    root = a.root
    os.mkdir(root)
    # (path, ns_pair) set after everything else; directories bottom up
    times = {}
    now = time.time_ns()
    future = now + 3600 * 10**9

    def stamp(path, mtime_ns=None):
        if mtime_ns is None:
            # 2001 .. yesterday, any nanosecond
            mtime_ns = rnd.randrange(978307200 * 10**9, now - 86400 * 10**9)
        # relatime updates an atime that is not newer than mtime and ctime
        atime_ns = max(future, mtime_ns + 3600 * 10**9)
        times[path] = (atime_ns + rnd.randrange(10**9), mtime_ns)

    def p(*parts):
        return os.path.join(root, *parts)

    def mkdir(*parts, mode=0o755):
        path = p(*parts)
        os.mkdir(path)
        os.chmod(path, mode)
        stamp(path)
        return path

    def mkfile(*parts, data=b"", size=None, mode=0o644, mtime_ns=None):
        path = p(*parts)
        with open(path, "wb") as f:
            if size is not None:
                data = rnd.randbytes(size)
            f.write(data)
        os.chmod(path, mode)
        stamp(path, mtime_ns)
        return path

    def symlink(target, *parts):
        path = p(*parts)
        os.symlink(target, path)
        stamp(path)
        return path

    stamp(root)

    # regular files around page, block and request boundaries
    mkdir("files")
    for size in (0, 1, 4095, 4096, 4097, 65537, 131071, MIB + 7,
                 4 * MIB, 4 * MIB + 1, 9 * MIB + 3):
        mkfile("files", "size-%d" % size, size=size)
    mkfile("files", "empty")
    mkfile("files", "text.txt", data=b"hello, canopy\n" * 100)

    # nesting
    parts = ["deep"]
    mkdir(*parts)
    for i in range(12):
        parts.append("level-%02d" % i)
        mkdir(*parts)
        mkfile(*parts, "file", data=("depth %d\n" % i).encode())
    mkdir("deep", "empty-dir")

    # one wide directory
    mkdir("wide")
    for i in range(a.wide):
        if i % 1000 == 999:
            mkdir("wide", "d%05d" % i)
        elif i % 97 == 0:
            mkfile("wide", "e%05d" % i)
        else:
            mkfile("wide", "f%05d" % i, data=("entry %d\n" % i).encode() *
                   (i % 7 + 1))

    # symlinks
    mkdir("links")
    symlink("../files/text.txt", "links", "relative")
    symlink("/etc/passwd", "links", "absolute")
    symlink("does/not/exist", "links", "dangling")
    symlink("/nonexistent/canopy/target", "links", "dangling-absolute")
    symlink("../deep", "links", "to-dir")
    symlink("loop", "links", "loop")
    symlink("x" * 1000, "links", "long-target")
    symlink("dir with spaces/ünï", "links", "utf8-target")
    symlink(".", "links", "dot")

    # hard links
    mkdir("hardlinks")
    h = mkfile("hardlinks", "a", size=5000)
    os.link(h, p("hardlinks", "b"))
    h = mkfile("hardlinks", "three-1", size=100)
    os.link(h, p("hardlinks", "three-2"))
    os.link(h, p("hardlinks", "three-3"))

    # names
    mkdir("names")
    for name in ("with space", " leading space", "trailing space ",
                 "ünïcödé", "日本語のファイル.txt", "emoji-\U0001F333",
                 "tab\there", "newline\nname", "-dash", "#hash",
                 "quote'\"both", "back\\slash", "percent%s%n", "*?[glob]",
                 "n" * 255, ".hidden", "..dots", "ends-with-dot."):
        mkfile("names", name, data=name.encode() + b"\n")
    mkdir("names", "dir with spaces")
    mkfile("names", "dir with spaces", "ünï", data=b"inside\n")
    # a name that is not valid UTF-8
    bad = os.path.join(os.fsencode(p("names")), b"latin1-\xe9t\xe9")
    with open(bad, "wb") as f:
        f.write(b"latin-1 name\n")
    stamp(os.fsdecode(bad))

    # sparse files
    mkdir("sparse")
    s = p("sparse", "holes-10M")
    with open(s, "wb") as f:
        f.truncate(10 * MIB)
        for off, n in ((0, 100), (4 * MIB - 10, 20), (5 * MIB - 3, 4096),
                       (10 * MIB - 7, 7)):
            f.seek(off)
            f.write(rnd.randbytes(n))
    stamp(s)
    s = p("sparse", "all-hole-20M")
    with open(s, "wb") as f:
        f.truncate(20 * MIB)
    stamp(s)
    s = p("sparse", "huge")
    with open(s, "wb") as f:
        f.truncate(a.huge)
        for off, n in ((0, 4096), (256 * MIB - 7, 50),
                       (512 * MIB - MIB // 2, MIB),
                       (a.huge - 3 * MIB, 64 * 1024),
                       (a.huge - 4096 - 100, 4096 + 100)):
            if off >= 0 and off + n <= a.huge:
                f.seek(off)
                f.write(rnd.randbytes(n))
    stamp(s)

    # modes: chown first (it clears set-id bits), then chmod
    mkdir("modes")
    for mode in (0o000, 0o400, 0o444, 0o600, 0o640, 0o755, 0o711, 0o777,
                 0o4755, 0o2755, 0o6711, 0o1644):
        mkfile("modes", "m%04o" % mode, data=b"mode\n", mode=mode)
    for mode in (0o700, 0o555, 0o1777, 0o2775, 0o711):
        d = mkdir("modes", "d%04o" % mode)
        mkfile("modes", "d%04o" % mode, "inside", data=b"x\n")
        os.chmod(d, mode)

    # owners
    mkdir("owners")
    for uid, gid in ((1000, 1000), (12345, 54321), (65534, 65534),
                     (0, 4242), (4242, 0), (2**31 - 2, 2**31 - 3)):
        f = mkfile("owners", "u%d-g%d" % (uid, gid), data=b"owned\n")
        os.chown(f, uid, gid)
    f = mkfile("owners", "setuid-1000", data=b"suid\n")
    os.chown(f, 1000, 1000)
    os.chmod(f, 0o4750)
    d = mkdir("owners", "dir-1000")
    mkfile("owners", "dir-1000", "inside", data=b"x\n")
    os.chown(d, 1000, 1000)
    s = symlink("../files/text.txt", "owners", "link-4242")
    os.lchown(s, 4242, 4343)

    # special files: never opened by the comparator
    mkdir("special")
    os.mkfifo(p("special", "fifo"), 0o640)
    stamp(p("special", "fifo"))
    os.mknod(p("special", "chardev"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    stamp(p("special", "chardev"))
    sk = socket.socket(socket.AF_UNIX)
    sk.bind(p("special", "socket"))
    sk.close()
    stamp(p("special", "socket"))

    # timestamps at the edges
    mkdir("times")
    mkfile("times", "before-1970", data=b"old\n",
           mtime_ns=-315619200 * 10**9 + 123456789)
    mkfile("times", "after-2038", data=b"new\n",
           mtime_ns=4102444800 * 10**9 + 999999999)
    mkfile("times", "zero-ns", data=b"z\n", mtime_ns=1600000000 * 10**9)
    mkfile("times", "max-ns", data=b"m\n",
           mtime_ns=1600000000 * 10**9 + 999999999)
    mkfile("times", "epoch", data=b"e\n", mtime_ns=0)

    # times: files and links first, then directories deepest first
    def depth(path):
        return path.count("/")
    items = sorted(times.items(),
                   key=lambda kv: (os.path.isdir(kv[0]) and
                                   not os.path.islink(kv[0]), -depth(kv[0])))
    for path, ns in items:
        os.utime(path, ns=ns, follow_symlinks=False)

    n = sum(len(ds) + len(fs) for _, ds, fs in os.walk(root))
    print("gentree: %d entries under %s" % (n, root))


if __name__ == "__main__":
    main()
