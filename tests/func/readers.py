#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""N processes read the same file at the same moment, each its own open.

  readers.py FILE N EXPECTED_SHA256

The readers start together (a barrier) and use different patterns:
sequential with 1 MiB reads, sequential with 128 KiB reads, 1 MiB chunks
backwards, 1 MiB chunks in a shuffled order, and a sequential read through
mmap. Every reader assembles the whole file and checks its sha256. Exit 0
if all N got the right bytes.
"""
import hashlib
import mmap
import multiprocessing as mp
import os
import random
import sys
import time

CH = 1 << 20


def chunks_in(order, fd, size):
    parts = {}
    for i in order:
        b = os.pread(fd, CH, i * CH)
        if len(b) != min(CH, size - i * CH):
            raise IOError("short read at %d: %d bytes" % (i * CH, len(b)))
        parts[i] = b
    h = hashlib.sha256()
    for i in range(len(parts)):
        h.update(parts[i])
    return h.hexdigest()


def reader(k, path, barrier, q):
    try:
        barrier.wait(60)
        t0 = time.monotonic()
        fd = os.open(path, os.O_RDONLY)
        size = os.fstat(fd).st_size
        n = (size + CH - 1) // CH
        pattern = k % 5
        if pattern in (0, 1):
            bs = CH if pattern == 0 else 128 * 1024
            h = hashlib.sha256()
            while True:
                b = os.read(fd, bs)
                if not b:
                    break
                h.update(b)
            digest = h.hexdigest()
            name = "sequential %dK" % (bs >> 10)
        elif pattern == 2:
            digest = chunks_in(range(n - 1, -1, -1), fd, size)
            name = "backwards"
        elif pattern == 3:
            order = list(range(n))
            random.Random(k).shuffle(order)
            digest = chunks_in(order, fd, size)
            name = "shuffled"
        else:
            with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as m:
                digest = hashlib.sha256(m).hexdigest()
            name = "mmap"
        os.close(fd)
        q.put((k, name, digest, time.monotonic() - t0, None))
    except Exception as e:  # reported by the parent
        q.put((k, "?", None, 0, repr(e)))


def main():
    path, n, want = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    barrier = mp.Barrier(n)
    q = mp.Queue()
    procs = [mp.Process(target=reader, args=(k, path, barrier, q))
             for k in range(n)]
    for p in procs:
        p.start()
    results = [q.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(30)
    bad = 0
    for k, name, digest, secs, err in sorted(results):
        ok = err is None and digest == want
        bad += not ok
        print("reader %2d %-15s %5.2fs %s" %
              (k, name, secs, "ok" if ok else "WRONG: %s" % (err or digest)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
