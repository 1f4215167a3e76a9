#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Small helpers of the functional tests (see lib.sh).

  util.py jget FILE KEY          print a key of a JSON object (exit 3: absent)
  util.py mkdata FILE SIZE SEED  FILE with SIZE pseudo-random bytes
  util.py dropcache FILE         POSIX_FADV_DONTNEED on FILE (page cache)
  util.py seqread FILE BUFSIZE   read FILE sequentially with BUFSIZE read()s,
                                 print the sha256 of its bytes
"""
import hashlib
import json
import os
import random
import sys
import time


def flatten(obj, prefix=""):
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = prefix + "." + k if prefix else k
            if isinstance(v, dict):
                out.update(flatten(v, key))
            else:
                out[key] = v
    return out


def jget(path, key):
    with open(path) as f:
        flat = flatten(json.load(f))
    if key in flat:
        v = flat[key]
    else:
        hits = [k for k in flat if k.endswith("." + key)]
        if len(hits) != 1:
            return 3
        v = flat[hits[0]]
    if isinstance(v, bool):
        print("true" if v else "false")
    elif isinstance(v, (dict, list)):
        print(json.dumps(v))
    else:
        print(v)
    return 0


def mkdata(path, size, seed):
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 << 20)
            f.write(rnd.randbytes(n))
            left -= n
    return 0


def dropcache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return 0


def seqread(path, bufsize):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            b = os.read(fd, bufsize)
            if not b:
                break
            h.update(b)
    finally:
        os.close(fd)
    print(h.hexdigest())
    return 0


def main(argv):
    cmd = argv[1]
    if cmd == "jget":
        return jget(argv[2], argv[3])
    if cmd == "mkdata":
        return mkdata(argv[2], int(argv[3]), argv[4])
    if cmd == "dropcache":
        return dropcache(argv[2])
    if cmd == "seqread":
        return seqread(argv[2], int(argv[3]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
