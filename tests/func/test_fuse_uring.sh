#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# FUSE-over-io_uring. With the fuse module's enable_uring on (put back at
# exit), canopyd registers one queue per possible cpu and requests come in
# ring entries: status shows the queues, uring.requests counts what came
# over them, small files and a cold file read by 16 processes at once give
# the right bytes (replies parked on a fetch are answered by whichever
# thread ends it), mutating calls still get EROFS, and --fuse-uring false
# keeps the same kernel on /dev/fuse alone. Then the view, EROFS,
# concurrency and lifecycle tests run again with every daemon they start
# required to be on io_uring.
. "$(dirname "$0")/lib.sh"
canopy_init

K=/sys/module/fuse/parameters/enable_uring
[ -w "$K" ] || skip "no writable $K (kernel built without FUSE_IO_URING)"
orig=$(cat "$K")
on_exit "echo $orig >$K"
echo Y >"$K"
[ "$(cat "$K")" = Y ] || fail "cannot turn on $K"

B=$T/backing
mkdir -p "$B/small"
mkdata "$B/big" $((32 << 20)) uring-big
want=$(sha "$B/big")
mksmall "$B/small" 300 uring

canopy_start u --export "$B"
cpus=$($PY -c '
s = open("/sys/devices/system/cpu/possible").read().strip()
print(max(int(p.split("-")[-1]) for p in s.split(",")) + 1)')

check "status: one io_uring queue per possible cpu ($cpus)"
ctl status --json >"$T/status.json"
assert_eq "$(jget "$T/status.json" uring_queues)" "$cpus" "uring_queues"
ctl status | grep -q "^io_uring: *$cpus queues" ||
	fail "canopyctl status: $(ctl status | grep io_uring)"

check "300 small files read through the mount: right bytes, over the ring"
stats_save "$T/s0.json"
$PY - "$MNT$B/small" "$B/small" <<'EOF'
import os, sys
view, back = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(back)):
    for _ in range(2):  # a cold open, then a warm one
        with open(os.path.join(view, name), "rb") as f:
            got = f.read()
        with open(os.path.join(back, name), "rb") as f:
            if got != f.read():
                sys.exit("wrong bytes in " + name)
EOF
stats_save "$T/s1.json"
d() { echo $(($(jget "$T/$3.json" "$1") - $(jget "$T/$2.json" "$1"))); }
say "  uring.requests +$(d uring.requests s0 s1), fuse.open.count" \
	"+$(d fuse.open.count s0 s1), fuse.lookup.count +$(d fuse.lookup.count s0 s1)"
# 600 opens (cold and warm), each an OPEN, every one over the ring
assert_eq "$(d fuse.open.count s0 s1)" 600 "fuse.open.count delta"
assert_int "$(d uring.requests s0 s1) -ge 600" \
	"uring.requests grew by $(d uring.requests s0 s1) for 600 OPENs"

check "16 readers of a cold 32 MiB file at once get the right bytes"
$PY "$FUNC_DIR/readers.py" "$MNT$B/big" 16 "$want" ||
	fail "a concurrent reader got wrong bytes over io_uring"
stats_save "$T/s2.json"
say "  uring.requests +$(d uring.requests s1 s2), handed to another" \
	"thread +$(d uring.handoffs s1 s2), cache.waits +$(d cache.waits s1 s2)"
assert_eq "$(d backing.bytes s1 s2)" $((32 << 20)) \
	"backing.bytes delta for 16 readers of one file"

check "mutating calls over the ring: EROFS, nothing changed"
for op in "open(p, 'w')" "os.mkdir(p + '.d')" "os.unlink(p)" \
	"os.chmod(p, 0o600)" "os.truncate(p, 0)"; do
	$PY -c "
import errno, os, sys
p = sys.argv[1]
try:
    $op
except OSError as e:
    sys.exit(0 if e.errno == errno.EROFS else 'errno %d' % e.errno)
sys.exit('no error')" "$MNT$B/small/s001" || fail "$op did not fail with EROFS"
done
assert_eq "$(sha "$B/big")" "$want" "the backing file after the attempts"

canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd on io_uring after SIGTERM"
is_mounted "$MNT" && fail "$MNT still mounted after the stop"

check "--fuse-uring false: the same kernel, /dev/fuse only"
canopy_start off --export "$B" --fuse-uring false
ctl status --json >"$T/status-off.json"
assert_eq "$(jget "$T/status-off.json" uring_queues)" 0 "uring_queues"
ctl status | grep -q "^io_uring: *no: disabled by fuse.uring" ||
	fail "canopyctl status: $(ctl status | grep io_uring)"
cmp -s "$MNT$B/big" "$B/big" || fail "wrong bytes with --fuse-uring false"
assert_eq "$(stat_get uring.requests)" 0 "uring.requests without io_uring"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "a child of a 2-node tree: requests waiting for the parent are answered"
# by the thread that receives the parent's reply, which hands them back to
# the queue they came in on
KEY=$T/job.key
canopy_key "$KEY"
canopy_tree_start --dir tree 2 exports="$B" roots=n1 fanout=1 mode=rpc \
	auth="$KEY"
nctl n2 status --json >"$T/status-n2.json"
assert_eq "$(jget "$T/status-n2.json" uring_queues)" "$cpus" \
	"uring_queues of the child"
nstats_save n2 "$T/t0.json"
# one reader per cpu, in step over the same cold files: the second OPEN
# of a file waits for the fetch the first one started on the other queue
$PY - "${NODE_MNT[n2]}$B/small" "$B/small" "$cpus" <<'EOF'
import os, sys
view, back, ncpu = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = sorted(os.listdir(back))
kids = []
for cpu in range(min(ncpu, 2)):
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {cpu})
        for name in names:
            with open(os.path.join(view, name), "rb") as f:
                got = f.read()
            with open(os.path.join(back, name), "rb") as f:
                if got != f.read():
                    print("wrong bytes in", name, "through the child")
                    os._exit(1)
        os._exit(0)
    kids.append(pid)
sys.exit(any(os.waitpid(k, 0)[1] for k in kids))
EOF
cmp -s "${NODE_MNT[n2]}$B/big" "$B/big" ||
	fail "wrong bytes of big through the child"
nstats_save n2 "$T/t1.json"
say "  child: uring.requests +$(d uring.requests t0 t1), handed over" \
	"+$(d uring.handoffs t0 t1), bytes.peers +$(d bytes.peers t0 t1)"
assert_int "$(d bytes.peers t0 t1) -gt 0" \
	"the child got no bytes from its parent"
if [ "$cpus" -gt 1 ]; then
	assert_int "$(d uring.handoffs t0 t1) -gt 0" \
		"no request of the child was answered by another thread"
fi
canopy_tree_stop

check "--uring-threads 4: a request waiting 1 s on the backing store holds up no other of its cpu"
# a backing store whose every metadata operation takes 1 s (lib.sh). One
# thread per entry: with one thread per queue, the second stat ends a
# second after the first
P=$T/pfs
slow_pfs_start "$B/slow" "$P"
canopy_start slow --export "$P" --export "$B" --uring-threads 4 \
	--uring-entries 4
ctl status | grep -q "^io_uring: *$cpus queues of 4 entries, 4 threads each" ||
	fail "canopyctl status: $(ctl status | grep io_uring)"
# the directories first, kept open (io.dir_fds)
taskset -c 0 stat "$MNT$P/d1/g" "$MNT$P/d2/g" >/dev/null
(taskset -c 0 stat -c %s "$MNT$P/d1/f" >"$T/f1.size"; date +%s%N >"$T/f1.end") &
A=$!
sleep 0.3
(taskset -c 0 stat -c %s "$MNT$P/d2/f" >"$T/f2.size"; date +%s%N >"$T/f2.end") &
wait $A $!
assert_eq "$(cat "$T/f1.size") $(cat "$T/f2.size")" "4 4" "sizes"
gap=$((($(cat "$T/f2.end") - $(cat "$T/f1.end")) / 1000000))
say "  the second stat ended ${gap} ms after the first (started 300 ms" \
	"after it, on the same cpu; a backing operation takes 1,000 ms)"
((gap < 750)) || fail "the second request waited for the first (${gap} ms)"
check "--uring-threads 4: 16 readers of a cold 32 MiB file get the right bytes"
$PY "$FUNC_DIR/readers.py" "$MNT$B/big" 16 "$want" ||
	fail "a concurrent reader got wrong bytes with 4 threads per queue"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status with 4 threads per queue"
slow_pfs_stop

# CANOPY_URING_SUBTESTS="..." names another list
subtests=${CANOPY_URING_SUBTESTS:-view erofs concurrency lifecycle}
for t in $subtests; do
	check "test_$t.sh with every daemon on io_uring"
	rerun_test "$t" "on io_uring" CANOPY_EXPECT_URING=1
done
say "ok"
