#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuse.poll_us over /dev/fuse: a process that opens and reads small files
# one after another gets the right bytes, and most of its requests (of
# every kind: fuse.polled counts them all) are taken by the polling worker
# without a wakeup; with --poll-us 0 none are. The polling stops when the
# requests do: an idle daemon uses no cpu time.
# Parking: with polling, the workers that do not read wait in userspace
# (fuse.parked), and a request that waits on a slow backing store calls
# one in, so a second request is served beside it, not after it.
. "$(dirname "$0")/lib.sh"
canopy_init

N=400
B=$T/backing
mkdir -p "$B/small"
$PY - "$B/small" $N <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, "f%03d" % i), "wb") as f:
        f.write(os.urandom(97 + 13 * i))
EOF

# read_all NAME: open, read and close every file, in one process; compare
# the bytes; stats around it in $T/NAME.s0 and .s1
read_all() {
	stats_save "$T/$1.s0"
	$PY - "$MNT$B/small" "$B/small" <<'EOF' || fail "bytes differ ($1)"
import os, sys
view, back = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(back))
for _ in range(3):
    for n in names:
        with open(os.path.join(view, n), "rb") as f:
            got = f.read()
        with open(os.path.join(back, n), "rb") as f:
            if got != f.read():
                sys.exit("%s: wrong bytes" % n)
EOF
	stats_save "$T/$1.s1"
}
d() { echo $(($(jget "$T/$2.s1" "$1") - $(jget "$T/$2.s0" "$1"))); }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# requests NAME: FUSE requests of every opcode between the two stats
requests() {
	$PY -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
print(sum(v - a.get(k, 0) for k, v in b.items()
          if k.startswith("fuse.") and k.endswith(".count")
          and k.count(".") == 2 and k != "fuse.malformed.count"))
' "$T/$1.s0" "$T/$1.s1"
}

# uring off: the polling is the /dev/fuse workers'
check "--poll-us 10000: $N small files read 3 times, right bytes"
canopy_start poll --export "$B" --fuse-uring false --poll-us 10000
read_all poll
opens=$(d fuse.open.count poll)
polled=$(d fuse.polled poll)
reqs=$(requests poll)
say "  requests +$reqs (fuse.open.count +$opens), fuse.polled +$polled"
assert_eq "$opens" $((3 * N)) "fuse.open.count"
check "most of the requests were taken by the polling worker"
((polled <= reqs)) || fail "fuse.polled +$polled of only $reqs requests"
((polled * 2 >= reqs)) ||
	fail "fuse.polled +$polled of $reqs requests (wanted half or more)"
check "an idle daemon does not poll: no cpu time over 2 s"
sleep 0.2
t0=$(cpu_ticks "$DPID")
sleep 2
t1=$(cpu_ticks "$DPID")
say "  cpu ticks over 2 s idle: $((t1 - t0)) (of $(getconf CLK_TCK)/s)"
(((t1 - t0) <= 5)) || fail "canopyd used $((t1 - t0)) ticks while idle"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status"

check "--poll-us 0: right bytes, no request polled, no worker parked"
canopy_start nopoll --export "$B" --fuse-uring false --poll-us 0
read_all nopoll
assert_eq "$(d fuse.open.count nopoll)" $((3 * N)) "fuse.open.count"
assert_eq "$(d fuse.polled nopoll)" 0 "fuse.polled"
assert_eq "$(stat_get fuse.parked)" 0 "fuse.parked"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status"

# a backing store whose every metadata operation takes 1 s (lib.sh)
P=$T/pfs
slow_pfs_start "$B/slow" "$P"

check "--threads 4, idle: 3 workers parked while the fourth reads"
canopy_start park --export "$P" --fuse-uring false --poll-us 10000 \
	--threads 4
# before the timed part: the directories, kept open (io.dir_fds)
stat "$MNT$P/d1/g" "$MNT$P/d2/g" >/dev/null
sleep 0.2
assert_eq "$(stat_get fuse.parked)" 3 "fuse.parked"

check "a lookup waiting 1 s on the backing store does not hold up another"
stats_save "$T/slow.s0"
(stat -c %s "$MNT$P/d1/f" >"$T/f1.size"; date +%s%N >"$T/f1.end") &
A=$!
sleep 0.3
(stat -c %s "$MNT$P/d2/f" >"$T/f2.size"; date +%s%N >"$T/f2.end") &
wait $A $!
stats_save "$T/slow.s1"
assert_eq "$(cat "$T/f1.size") $(cat "$T/f2.size")" "4 4" "sizes"
gap=$((($(cat "$T/f2.end") - $(cat "$T/f1.end")) / 1000000))
say "  the second stat ended ${gap} ms after the first (started 300 ms" \
	"after it; a backing operation takes 1,000 ms)"
((gap < 750)) || fail "the second lookup waited for the first (${gap} ms)"
(($(d fuse.unparks slow) >= 1)) || fail "no parked worker was called in"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status"
slow_pfs_stop
say "ok"
