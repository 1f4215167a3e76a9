#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""notifysock.py - stand in for systemd's notification socket.

  notifysock.py SOCKET OUT MOUNTPOINT [SECONDS]

Binds a unix datagram socket at SOCKET (the NOTIFY_SOCKET a daemon is given)
and appends one line to OUT per assignment received:

  <seconds since the epoch> <mounted: 0|1> <NAME=VALUE>

"mounted" is whether MOUNTPOINT was a mount point (in /proc/self/mountinfo)
at the moment the datagram was read, so a READY=1 can be checked against
the mount. Exits after a datagram with STOPPING=1 has been followed by
nothing for a second, or after SECONDS (default 120).
"""

import os
import socket
import sys
import time


def mounted(mnt):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4] == mnt:
                return 1
    return 0


def main():
    path, out, mnt = sys.argv[1], sys.argv[2], sys.argv[3]
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(path):
        os.unlink(path)
    s.bind(path)
    end = time.time() + limit
    stopping = False
    with open(out, "a", buffering=1) as f:
        f.write("%.3f %d LISTENING=1\n" % (time.time(), mounted(mnt)))
        while time.time() < end:
            s.settimeout(1.0 if stopping else max(0.1, end - time.time()))
            try:
                data = s.recv(4096)
            except socket.timeout:
                if stopping:
                    break
                continue
            now, m = time.time(), mounted(mnt)
            for kv in data.decode(errors="replace").split("\n"):
                if kv:
                    f.write("%.3f %d %s\n" % (now, m, kv))
                if kv == "STOPPING=1":
                    stopping = True
    s.close()
    os.unlink(path)


if __name__ == "__main__":
    main()
