#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""N processes stat, open and read every file below a directory of small files
at the same time, each in its own shuffled order (what N ranks importing
the same packages do).

  smallreaders.py VIEW_DIR BACKING_DIR N

Exit 0 if every process got every file's size and bytes right.
"""
import multiprocessing as mp
import os
import random
import sys


def work(k, view, back, names, barrier):
    order = list(names)
    random.Random(k).shuffle(order)
    barrier.wait(60)
    for n in order:
        try:
            st = os.stat(os.path.join(view, n))
            with open(os.path.join(view, n), "rb") as f:
                got = f.read()
        except OSError as e:
            return "reader %d: %s: %s" % (k, n, e)
        with open(os.path.join(back, n), "rb") as f:
            want = f.read()
        if got != want or st.st_size != len(want):
            return "reader %d: %s: wrong bytes or size" % (k, n)
    return None


def main():
    view, back, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # every file below BACKING_DIR, by its path relative to it
    names = sorted(os.path.relpath(os.path.join(d, f), back)
                   for d, _, fs in os.walk(back) for f in fs)
    barrier = mp.Manager().Barrier(n)
    with mp.Pool(n) as pool:
        errs = [e for e in pool.starmap(
            work, [(k, view, back, names, barrier) for k in range(n)]) if e]
    for e in errs:
        print("ERROR", e)
    print("%d readers x %d files: %s" %
          (n, len(names), "ok" if not errs else "%d errors" % len(errs)))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
