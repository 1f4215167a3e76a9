#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cold read of a large file: a sequential reader gets the right bytes
# and the backing store sees each block once, read with O_DIRECT straight
# into the cache file (backing.direct_reads), the blocks after the first
# fetched ahead by the fetch threads (cache.readaheads), the open made
# FOPEN_DIRECT_IO while the file is not whole (open.cached_direct_io) and
# the next open of the whole file passed through. The file ends in a
# partial page, which an O_DIRECT read cannot end on. The same with all
# three off (buffered backing reads, the next block fetched by the worker,
# the kernel page cache). A backing file system that refuses O_DIRECT
# (squashfs, loop-mounted): the file is opened without it and read
# buffered, right bytes. A cache file system whose files cannot be mapped
# (bindfs -o direct_io): blocks are read with O_DIRECT into a buffer, then
# written, right bytes. A cache file system too small for the file: READs
# are answered from the backing file, right bytes. And a daemon stopped in
# the middle of a cold read, with blocks queued for its fetch threads,
# exits 0 in time and leaves nothing mounted.
. "$(dirname "$0")/lib.sh"
canopy_init

BS=$((4 << 20))
SIZE=$((40 * BS + 12345)) # 41 blocks, the last one 12345 bytes
NBLK=41
B=$T/backing
mkdir -p "$B"
mkdata "$B/big" $SIZE big
want=$(sha "$B/big")

delta() { # KEY BEFORE AFTER
	echo $(($(jget "$3" "$1") - $(jget "$2" "$1")))
}

# cold_read NAME: read $B/big through the view once, sequentially, in 1 MiB
# reads; check the bytes; leave the stats deltas in $T/NAME.s0/.s1
cold_read() {
	local name=$1 got
	stats_save "$T/$name.s0"
	got=$(dd if="$MNT$B/big" bs=1M 2>/dev/null | sha256sum | cut -d' ' -f1)
	assert_eq "$got" "$want" "sha256 of the cold read ($name)"
	stats_save "$T/$name.s1"
	for k in backing.opens backing.reads backing.direct_reads backing.bytes \
		cache.readaheads cache.waits open.cached open.cached_direct_io \
		passthrough.opens fuse.read.count; do
		say "  $k: +$(delta $k "$T/$name.s0" "$T/$name.s1")"
	done
}
d() { delta "$1" "$T/$2.s0" "$T/$2.s1"; }

check "defaults: a cold sequential read of $SIZE bytes, right bytes"
canopy_start fa --export "$B"
cold_read fa
check "each of the $NBLK blocks was read from the backing store once"
assert_eq "$(d backing.reads fa)" $NBLK "backing.reads"
assert_eq "$(d backing.bytes fa)" $SIZE "backing.bytes"
assert_eq "$(d backing.opens fa)" 1 "backing.opens"
check "... with O_DIRECT, into the cache file"
assert_eq "$(d backing.direct_reads fa)" $NBLK "backing.direct_reads"
check "... all but the first fetched ahead of the reader"
assert_eq "$(d cache.readaheads fa)" $((NBLK - 1)) "cache.readaheads"
check "the open of the file not yet whole was FOPEN_DIRECT_IO"
assert_eq "$(d open.cached fa)" 1 "open.cached"
assert_eq "$(d open.cached_direct_io fa)" 1 "open.cached_direct_io"
assert_eq "$(d passthrough.opens fa)" 0 "passthrough.opens"
check "the next open of the whole file passes through; bytes again"
stats_save "$T/fa.s2"
assert_eq "$(sha "$MNT$B/big")" "$want" "sha256 of the warm read"
stats_save "$T/fa.s3"
assert_eq "$(delta passthrough.opens "$T/fa.s2" "$T/fa.s3")" 1 \
	"passthrough.opens of the warm open"
assert_eq "$(delta backing.reads "$T/fa.s2" "$T/fa.s3")" 0 \
	"backing.reads of the warm read"
check "a cold read at an odd offset to the end (pread, not sequential)"
ctl drop-caches >/dev/null
echo 3 >/proc/sys/vm/drop_caches
off=$((SIZE - 3 * BS - 777))
stats_save "$T/fa.s4"
got=$(tail -c +$((off + 1)) "$MNT$B/big" | sha256sum | cut -d' ' -f1)
exp=$(tail -c +$((off + 1)) "$B/big" | sha256sum | cut -d' ' -f1)
assert_eq "$got" "$exp" "sha256 of the last $((SIZE - off)) bytes"
stats_save "$T/fa.s5"
assert_eq "$(delta backing.reads "$T/fa.s4" "$T/fa.s5")" 4 \
	"backing.reads of the last 4 blocks after drop-caches"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "all off: buffered backing reads, no fetch threads, page cache"
canopy_start off --export "$B" --backing-direct false --fetch-ahead 0 \
	--cold-direct-io false
cold_read off
assert_eq "$(d backing.reads off)" $NBLK "backing.reads"
assert_eq "$(d backing.bytes off)" $SIZE "backing.bytes"
assert_eq "$(d backing.direct_reads off)" 0 "backing.direct_reads"
assert_eq "$(d open.cached_direct_io off)" 0 "open.cached_direct_io"
assert_int "$(d cache.readaheads off) -ge 1" \
	"the worker fetched no block ahead"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "a backing file system that refuses O_DIRECT (squashfs): buffered reads"
command -v mksquashfs >/dev/null || fail "no mksquashfs (make deps installs squashfs-tools)"
SQ=$T/squash
mkdir -p "$SQ/src" "$SQ/mnt"
cp "$B/big" "$SQ/src/big"
mksquashfs "$SQ/src" "$SQ/img" -quiet -noappend -no-progress >/dev/null ||
	fail "mksquashfs failed"
mount -o loop,ro -t squashfs "$SQ/img" "$SQ/mnt" ||
	fail "cannot loop-mount a squashfs image"
on_exit "umount $SQ/mnt 2>/dev/null || true"
$PY -c 'import os, sys; os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)' \
	"$SQ/mnt/big" 2>/dev/null &&
	fail "squashfs opened a file with O_DIRECT: the case is not tested"
canopy_start sq --export "$SQ/mnt"
stats_save "$T/sq.s0"
got=$(dd if="$MNT$SQ/mnt/big" bs=1M 2>/dev/null | sha256sum | cut -d' ' -f1)
assert_eq "$got" "$want" "sha256 of the cold read from squashfs"
stats_save "$T/sq.s1"
assert_eq "$(d backing.reads sq)" $NBLK "backing.reads"
assert_eq "$(d backing.bytes sq)" $SIZE "backing.bytes"
assert_eq "$(d backing.opens sq)" 1 "backing.opens (one successful open)"
assert_eq "$(d backing.direct_reads sq)" 0 "backing.direct_reads"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"
umount "$SQ/mnt"

check "a cache file system whose files cannot be mapped (bindfs -o direct_io):"
check "blocks are read with O_DIRECT into a buffer, then written; right bytes"
command -v bindfs >/dev/null || fail "no bindfs (make deps installs it)"
NM=$T/nomap
mkdir -p "$NM/src" "$NM/fs" "$NM/mnt"
bindfs -f -o direct_io "$NM/src" "$NM/fs" >"$T/logs/bindfs-nomap.log" 2>&1 &
NMPID=$!
on_exit "umount $NM/fs 2>/dev/null; kill -TERM $NMPID 2>/dev/null; wait $NMPID 2>/dev/null"
deadline=$((SECONDS + 20))
until is_mounted "$NM/fs"; do
	alive "$NMPID" || fail "bindfs exited: $(cat "$T/logs/bindfs-nomap.log")"
	((SECONDS < deadline)) || fail "bindfs not mounted after 20s"
	sleep 0.1
done
$PY - "$NM/fs/probe" <<'EOF' && fail "a file on bindfs -o direct_io can be mapped shared: the case is not tested"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.ftruncate(fd, 4096)
try:
    mmap.mmap(fd, 4096, mmap.MAP_SHARED)
except OSError:
    sys.exit(1)
EOF
rm -f "$NM/fs/probe"
mkdir -p "$NM/fs/cache"
canopy_spawn nomap "$NM/mnt" --export "$B" --cache-dir "$NM/fs/cache" \
	--cache-tmpfs false --ctl-socket "$NM/ctl.sock"
MNT=$NM/mnt SOCK=$NM/ctl.sock
canopy_wait_ready "$DPID" "$MNT" -s "$SOCK"
cold_read nomap
assert_eq "$(d backing.reads nomap)" $NBLK "backing.reads"
assert_eq "$(d backing.bytes nomap)" $SIZE "backing.bytes"
assert_eq "$(d backing.direct_reads nomap)" 0 \
	"backing.direct_reads (O_DIRECT straight into the cache file)"
assert_int "$(find "$NM/src/cache" -name '*.cnp' | wc -l) -ge 1" \
	"no cache file on the unmappable file system"
assert_eq "$(sha "$MNT$B/big")" "$want" "sha256 of a second read (from the cache)"
assert_eq "$(grep -c "mmap: .*read through a buffer" "$LOG")" 1 \
	"notices that the cache file cannot be mapped"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "a full cache file system: readers still get the right bytes"
# the cache on a 48 MiB tmpfs of the test's, with a capacity far above it
FULL=$T/fullcache
mkdir -p "$FULL"
mount -t tmpfs -o size=48m canopy-test-full "$FULL"
on_exit "umount $FULL 2>/dev/null || true"
echo "a small file" >"$B/small"
mkdir -p "$T/full/mnt"
canopy_spawn full "$T/full/mnt" --export "$B" --cache-dir "$FULL" \
	--cache-tmpfs false --cache-capacity 1G --ctl-socket "$T/full.sock"
MNT=$T/full/mnt SOCK=$T/full.sock
canopy_wait_ready "$DPID" "$MNT" -s "$SOCK"
stats_save "$T/full.s0"
assert_eq "$(sha "$MNT$B/big")" "$want" "sha256 of $SIZE bytes through a 48 MiB cache"
assert_eq "$(cat "$MNT$B/small")" "a small file" "a small file opened once the cache is full"
assert_eq "$(sha "$MNT$B/big")" "$want" "sha256 of a second read"
stats_save "$T/full.s1"
fr=$(delta cache.full_reads "$T/full.s0" "$T/full.s1")
say "  cache.full_reads: +$fr, cache.bytes $(jget "$T/full.s1" cache.bytes)"
assert_int "$fr -gt 0" "no READ was answered from the backing file"
grep -q "cache full: $B/big is read from the backing file" "$LOG" ||
	fail "the log does not say the cache is full"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "SIGTERM in the middle of a cold read with blocks queued ahead"
LONG=$((256 << 20))
mkdata "$B/long" $LONG long
canopy_start stop --export "$B" --fetch-ahead 16
# a slow reader: the fetch threads run far ahead of it
$PY - "$MNT$B/long" <<'EOF' &
import sys, time
with open(sys.argv[1], "rb") as f:
    while f.read(1 << 20):
        time.sleep(0.05)
EOF
RPID=$!
on_exit "kill $RPID 2>/dev/null || true"
deadline=$((SECONDS + 20))
until [ "$(ctl stats --json | $PY -c \
	'import json, sys; print(json.load(sys.stdin)["cache.readaheads"])')" \
	-ge 4 ]; do
	((SECONDS < deadline)) || fail "no block was fetched ahead in 20 s"
	sleep 0.1
done
canopy_stop "$DPID" || fail "canopyd had to be killed"
assert_eq "$STOP_RC" 0 "exit status of canopyd stopped mid-read"
say "  stopped in ${STOP_SECS}s"
wait "$RPID" 2>/dev/null || true
if is_mounted "$MNT"; then
	fail "$MNT is still mounted after canopyd exited"
fi
say "ok"
