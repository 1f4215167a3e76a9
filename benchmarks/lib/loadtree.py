"""One node "importing" a tree: python3 loadtree.py ROOT

Prints "ready", waits for one line on stdin (the go signal, so that N
loaders started one after the other begin at once, without their
interpreter start-up in the measured time), then walks ROOT top-down in sorted order, as every
rank of a job imports the same modules in the same order: each directory
is listed, each entry lstat()ed, each regular file opened, read to the
end in 1 MiB reads and closed. Prints one JSON object: files, dirs,
bytes, errors (and the first few), seconds (from the go signal to the
end), cpu_s (its own user + system time).

Only the standard library's os, sys, time and json: it runs as N
concurrent processes on a 2-CPU machine, so its own cost must stay
small.
"""
import json
import os
import stat
import sys
import time


def load(root):
    files = dirs = nbytes = errors = 0
    msgs, walk_errs = [], []
    for d, subdirs, names in os.walk(root, onerror=walk_errs.append):
        dirs += 1
        subdirs.sort()
        for name in sorted(names):
            p = os.path.join(d, name)
            try:
                st = os.lstat(p)
                if not stat.S_ISREG(st.st_mode):
                    continue
                fd = os.open(p, os.O_RDONLY)
                try:
                    while True:
                        b = os.read(fd, 1 << 20)
                        if not b:
                            break
                        nbytes += len(b)
                finally:
                    os.close(fd)
                files += 1
            except OSError as e:
                errors += 1
                if len(msgs) < 5:
                    msgs.append(f"{p}: {e}")
    msgs += [str(e) for e in walk_errs[:5]]
    return {"files": files, "dirs": dirs, "bytes": nbytes,
            "errors": errors + len(walk_errs), "messages": msgs}


def main():
    root = sys.argv[1]
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.monotonic()
    res = load(root)
    res["seconds"] = time.monotonic() - t0
    ru = os.times()
    res["cpu_s"] = ru.user + ru.system
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
