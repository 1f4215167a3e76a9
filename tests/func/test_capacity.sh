#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A cache capacity smaller than the data: every byte read is still right,
# files are evicted (cache.evictions > 0), the cache never holds more than
# the capacity (cache.bytes and the disk space of the cache dir), a file
# larger than the capacity is served all the same, and an open file is
# never evicted from under its reader.
. "$(dirname "$0")/lib.sh"
canopy_init

CAP=1048576
B=$T/backing
mkdir -p "$B"
for i in $(seq -w 1 40); do
	mkdata "$B/f$i" 262144 "cap-$i"
done
mkdata "$B/big" $((3 * 1048576)) cap-big

canopy_start cap --export "$B" --cache-capacity 1M
V=$MNT$B

# cache_disk: bytes of disk the regular files in the cache dir take
cache_disk() {
	$PY - "$CACHE" <<'EOF'
import os, sys
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        try:
            st = os.lstat(os.path.join(d, f))
        except FileNotFoundError:
            continue
        if os.path.isfile(os.path.join(d, f)):
            n += st.st_blocks * 512
print(n)
EOF
}

check_bounds() {
	local bytes disk
	bytes=$(stat_get cache.bytes)
	disk=$(cache_disk)
	say "  cache.bytes $bytes, disk used by cache files $disk (capacity $CAP)"
	assert_int "$bytes -le $CAP" "cache.bytes $bytes exceeds the capacity $CAP ($1)"
	# block-granular allocation and per-object bookkeeping: 128 KiB slack
	assert_int "$disk -le $((CAP + 131072))" \
		"the cache dir holds $disk bytes on disk, capacity $CAP ($1)"
}

check "40 files of 256 KiB, read twice, all bytes right"
for pass in 1 2; do
	for i in $(seq -w 1 40); do
		assert_same_file "$B/f$i" "$V/f$i"
		# drop the view's page cache so the second pass reaches the daemon
		$PY "$FUNC_DIR/util.py" dropcache "$V/f$i"
	done
	check_bounds "after pass $pass"
done

check "cache.evictions > 0"
ev=$(stat_get cache.evictions)
assert_int "$ev -gt 0" "cache.evictions is $ev after reading 10 MiB through a 1 MiB cache"
say "  cache.evictions $ev"

check "a 3 MiB file (larger than the capacity) reads right, twice"
assert_same_file "$B/big" "$V/big"
$PY "$FUNC_DIR/util.py" dropcache "$V/big"
assert_same_file "$B/big" "$V/big"
check_bounds "after the large file"

check "an open file is not evicted from under its reader"
exec 7<"$V/f01"
dd bs=100000 count=1 iflag=fullblock status=none <&7 >"$T/part1"
for i in $(seq -w 2 40); do
	cat "$V/f$i" >/dev/null
done
$PY "$FUNC_DIR/util.py" dropcache "$V/f01"
cat <&7 >"$T/part2"
exec 7<&-
cat "$T/part1" "$T/part2" >"$T/whole"
assert_same_file "$B/f01" "$T/whole"
check_bounds "after reading around an open file"

canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"
say "ok"
