#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 16 processes read the same cold 64 MiB file at the same moment, with
# different patterns: every one gets the right bytes, and the backing store
# sees the file once: backing.bytes grows by the file size (not 16 times
# it) and backing.opens by 1. The same is checked from outside the daemon
# when bindfs is there: a second file is exported through a bindfs mount
# with direct_io, so every byte canopyd reads from it is a read() of the
# bindfs process, counted in its /proc/PID/io. And 8 processes reading the
# same 2,000 cold small files at once: each file is opened and read from
# the backing store once. And 8 processes over 40 directories of 25 files
# with only 2 directory descriptors kept (io.dir_fds), so that they are
# evicted while in use: right bytes, each file opened once.
. "$(dirname "$0")/lib.sh"
canopy_init

N=16
SIZE=$((64 << 20))
B=$T/backing
mkdir -p "$B" "$T/src" "$T/bind"
mkdata "$B/cold" $SIZE cold
want=$(sha "$B/cold")

exports=(--export "$B")
BPID=
if command -v bindfs >/dev/null; then
	mkdata "$T/src/cold2" $SIZE cold2
	want2=$(sha "$T/src/cold2")
	bindfs -f -o direct_io "$T/src" "$T/bind" >"$T/logs/bindfs.log" 2>&1 &
	BPID=$!
	on_exit "kill -TERM $BPID 2>/dev/null; wait $BPID 2>/dev/null"
	deadline=$((SECONDS + 20))
	until is_mounted "$T/bind"; do
		alive "$BPID" || fail "bindfs exited: $(cat "$T/logs/bindfs.log")"
		((SECONDS < deadline)) || fail "bindfs not mounted after 20s"
		sleep 0.1
	done
	exports+=(--export "$T/bind")
else
	note "bindfs is not installed: no check from outside the daemon"
fi

canopy_start conc "${exports[@]}"

delta() { # KEY BEFORE AFTER
	echo $(($(jget "$3" "$1") - $(jget "$2" "$1")))
}

check "$N readers of a cold $((SIZE >> 20)) MiB file all get the right bytes"
stats_save "$T/s0.json"
t0=$SECONDS
$PY "$FUNC_DIR/readers.py" "$MNT$B/cold" $N "$want" ||
	fail "a concurrent reader got wrong bytes"
say "  $N readers done in $((SECONDS - t0))s"
stats_save "$T/s1.json"
for k in backing.bytes backing.opens backing.reads fuse.open.count \
	fuse.read.count passthrough.opens cache.waits; do
	say "  $k: +$(delta $k "$T/s0.json" "$T/s1.json" 2>/dev/null || echo '?')"
done

check "backing.bytes grew by the file size once ($SIZE), not $N times"
bb=$(delta backing.bytes "$T/s0.json" "$T/s1.json")
assert_eq "$bb" "$SIZE" "backing.bytes delta for $N readers of one file"
check "backing.opens grew by 1"
bo=$(delta backing.opens "$T/s0.json" "$T/s1.json")
assert_eq "$bo" 1 "backing.opens delta for $N readers of one file"

check "a second round (warm) reads nothing from the backing store"
$PY "$FUNC_DIR/readers.py" "$MNT$B/cold" $N "$want" ||
	fail "a warm concurrent reader got wrong bytes"
stats_save "$T/s2.json"
assert_eq "$(delta backing.bytes "$T/s1.json" "$T/s2.json")" 0 \
	"backing.bytes delta of the warm round"

check "8 processes read the same 2,000 cold small files: each opened once"
mkdir -p "$B/many"
$PY -c '
import os, sys
for i in range(2000):
    with open(os.path.join(sys.argv[1], "m%04d" % i), "wb") as f:
        f.write(("small file %d\n" % i).encode() * (1 + i % 50))
' "$B/many"
many_bytes=$(find "$B/many" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }')
stats_save "$T/m0.json"
$PY "$FUNC_DIR/smallreaders.py" "$MNT$B/many" "$B/many" 8 ||
	fail "a concurrent reader of small files got wrong bytes"
stats_save "$T/m1.json"
for k in backing.opens backing.bytes backing.stats fuse.lookup.count \
	fuse.open.count; do
	say "  $k: +$(delta $k "$T/m0.json" "$T/m1.json" 2>/dev/null || echo '?')"
done
assert_eq "$(delta backing.opens "$T/m0.json" "$T/m1.json")" 2000 \
	"backing.opens delta for 8 readers of 2,000 files"
assert_eq "$(delta backing.bytes "$T/m0.json" "$T/m1.json")" "$many_bytes" \
	"backing.bytes delta for 8 readers of 2,000 files"

if [ -n "$BPID" ]; then
	check "outside the daemon: bindfs serves the file once to $N readers"
	rchar() { awk '/^rchar:/ { print $2 }' "/proc/$BPID/io"; }
	r0=$(rchar)
	stats_save "$T/s3.json"
	$PY "$FUNC_DIR/readers.py" "$MNT$T/bind/cold2" $N "$want2" ||
		fail "a concurrent reader of the bindfs-backed file got wrong bytes"
	stats_save "$T/s4.json"
	r1=$(rchar)
	say "  bindfs read $((r1 - r0)) bytes for a $SIZE-byte file" \
		"(canopyd's backing.bytes +$(delta backing.bytes "$T/s3.json" "$T/s4.json"))"
	assert_int "$((r1 - r0)) -ge $SIZE" \
		"bindfs read $((r1 - r0)) bytes, less than the file"
	# the requests' headers come on top of the data: allow 2 MiB
	assert_int "$((r1 - r0)) -le $((SIZE + (2 << 20)))" \
		"bindfs read $((r1 - r0)) bytes: the file was read more than once"
	assert_eq "$(delta backing.bytes "$T/s3.json" "$T/s4.json")" "$SIZE" \
		"backing.bytes delta for the bindfs-backed file"
fi

canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "8 processes over 40 directories, 2 directory descriptors kept"
# the view's kept descriptors are evicted and opened again while other
# threads use them (io.dir_fds 2)
$PY -c '
import os, sys
for d in range(40):
    os.makedirs(os.path.join(sys.argv[1], "d%02d" % d, "sub"))
    for i in range(25):
        with open(os.path.join(sys.argv[1], "d%02d" % d, "sub",
                               "f%02d" % i), "wb") as f:
            f.write(("%d/%d\n" % (d, i)).encode() * (1 + i))
' "$B/dirs"
canopy_start dirs --export "$B" --dir-fds 2
stats_save "$T/d0.json"
$PY "$FUNC_DIR/smallreaders.py" "$MNT$B/dirs" "$B/dirs" 8 ||
	fail "a reader over 40 directories got wrong bytes or errors"
stats_save "$T/d1.json"
say "  backing.dir_opens: +$(delta backing.dir_opens "$T/d0.json" "$T/d1.json")," \
	"backing.opens: +$(delta backing.opens "$T/d0.json" "$T/d1.json")"
assert_eq "$(delta backing.opens "$T/d0.json" "$T/d1.json")" 1000 \
	"backing.opens delta for 8 readers of 1,000 files"
assert_int "$(delta backing.dir_opens "$T/d0.json" "$T/d1.json") -gt 81" \
	"no directory descriptor was opened again (evicted)"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"
say "ok"
