#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mounted view matches the backing tree, attribute for attribute and
# byte for byte: names, d_type, mode, size, uid, gid, nlink, rdev, mtime,
# ctime and atime to the nanosecond, symlink targets, every file's bytes
# (a 10,000-entry directory, sparse files, a file over 1 GiB, odd names);
# the root of the mount shows only the first component of the export path.
. "$(dirname "$0")/lib.sh"
canopy_init

B=$T/backing
say "generating the backing tree"
$PY "$FUNC_DIR/gentree.py" "$B"

# The huge file is larger than the capacity, so it is served in direct mode;
# everything else goes through the cache.
canopy_start view --export "$B" --cache-capacity 256M
V=$MNT$B

check "the root of the mount lists only the first component of the export"
top=${B#/}
top=${top%%/*}
assert_eq "$(ls -A "$MNT")" "$top" "ls $MNT"
check "each directory above the export lists only the next component"
p=
rest=${B#/}
while [ "$rest" != "${rest#*/}" ]; do
	comp=${rest%%/*}
	rest=${rest#*/}
	p=$p/$comp
	assert_eq "$(ls -A "$MNT$p")" "${rest%%/*}" "ls $MNT$p"
done
check "a name beside the export path is not in the view"
for x in "$MNT/etc" "$MNT/$top/passwd" "$MNT${B}-other" "$MNT$(dirname "$B")/logs"; do
	if [ -e "$x" ] || [ -L "$x" ]; then
		fail "$x exists in the view, outside the export"
	fi
done

check "the view of the tree equals the backing tree (attributes, then bytes)"
t0=$SECONDS
$PY "$FUNC_DIR/comparetree.py" compare "$B" "$V" ||
	fail "the view differs from the backing tree (see DIFF lines)"
say "compared in $((SECONDS - t0))s"

check "a second pass (now from the cache) still equals the backing tree"
$PY "$FUNC_DIR/comparetree.py" compare --ranges 2 --seed 2 "$B" "$V" ||
	fail "the view differs from the backing tree on the second pass"

check "O_DIRECT reads through the view return the same bytes"
for f in files/size-9437187 files/size-4097 sparse/holes-10M; do
	dd if="$V/$f" iflag=direct bs=1M status=none >"$T/direct" ||
		fail "dd iflag=direct of $f failed"
	assert_same_file "$B/$f" "$T/direct"
done

check "symlinks resolve through the view"
assert_eq "$(cat "$V/links/relative" | head -n 1)" "hello, canopy" \
	"cat links/relative"
assert_eq "$(ls "$V/links/to-dir/" | head -n 1)" "empty-dir" "ls links/to-dir/"
if cat "$V/links/dangling" 2>/dev/null; then
	fail "reading a dangling symlink succeeded"
fi

check "statfs of the mount answers"
stat -f "$MNT" >/dev/null || fail "statfs on $MNT failed"

check "the mount is read-only in /proc/mounts"
opts=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts)
case ,$opts, in
*,ro,*) ;;
*) fail "mount options of $MNT are '$opts', no 'ro'" ;;
esac

canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"
say "ok"
