#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuse.no_open: canopyd answers the first OPEN with ENOSYS and the kernel
# opens and closes files by itself from then on. What a user relies on:
# the same bytes (plain reads, mmap, 16 readers of a cold file, a file the
# cache cannot hold), the backing file read once, SEEK_DATA/SEEK_HOLE as
# the backing file has them; and what the mode is for: a warm open+read+
# close sends the daemon nothing at all (no OPEN, RELEASE, FLUSH or READ).
# Then the view, EROFS, rewrite and capacity tests run again with every
# daemon they start in this mode.
. "$(dirname "$0")/lib.sh"
canopy_init

B=$T/backing
mkdir -p "$B/small"
mkdata "$B/big" $((32 << 20)) no-open-big
want=$(sha "$B/big")
mksmall "$B/small" 200 no-open
# 3 MiB of data, a 2 MiB hole, 1 MiB of data, a 2 MiB hole at the end
$PY -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.pwrite(fd, b"d" * (3 << 20), 0)
os.pwrite(fd, b"e" * (1 << 20), 5 << 20)
os.ftruncate(fd, 8 << 20)
os.close(fd)' "$B/sparse"

canopy_start noopen --export "$B" --no-open true
V=$MNT$B

check "status: opens by the kernel alone, no passthrough"
ctl status --json >"$T/status.json"
assert_eq "$(jget "$T/status.json" no_open)" true "status no_open"
assert_eq "$(jget "$T/status.json" passthrough)" false "status passthrough"
ctl status | grep -q "^opens: *by the kernel alone (fuse.no_open)" ||
	fail "canopyctl status: $(ctl status | grep -i open)"
ctl status | grep -q "^passthrough: *no (fuse.no_open" ||
	fail "canopyctl status: $(ctl status | grep passthrough)"

# readsmall PASS [VIEW]: read every small file through the view (of $V by
# default), compare
readsmall() {
	$PY - "${2:-$V}/small" "$B/small" <<'EOF' || fail "wrong bytes of a small file ($1)"
import os, sys
view, back = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(back)):
    with open(os.path.join(view, name), "rb") as f:
        got = f.read()
    with open(os.path.join(back, name), "rb") as f:
        if got != f.read():
            sys.exit("wrong bytes in " + name)
EOF
}
d() { echo $(($(jget "$T/$3.json" "$1") - $(jget "$T/$2.json" "$1"))); }

check "200 small files, cold: right bytes; one OPEN (ENOSYS), no RELEASE"
ls -l "$V/small" >/dev/null # LOOKUPs now, so that the passes below differ
stats_save "$T/s0.json"
readsmall cold
stats_save "$T/s1.json"
say "  fuse.open.count +$(d fuse.open.count s0 s1), fuse.read.count" \
	"+$(d fuse.read.count s0 s1), fuse.read.no_open +$(d fuse.read.no_open s0 s1)," \
	"backing.opens +$(d backing.opens s0 s1)"
assert_eq "$(jget "$T/s1.json" fuse.open.count)" 1 \
	"fuse.open.count (the first open, answered ENOSYS)"
assert_eq "$(jget "$T/s1.json" fuse.release.count)" 0 "fuse.release.count"
assert_int "$(jget "$T/s1.json" fuse.flush.count) -le 1" \
	"FLUSH after it was answered ENOSYS"
assert_eq "$(d fuse.read.no_open s0 s1)" 200 "READs without an open"
assert_eq "$(d backing.opens s0 s1)" 200 "backing.opens for 200 files"

check "the same 200 files, warm: right bytes and no request at all"
readsmall warm
stats_save "$T/s2.json"
for k in fuse.open.count fuse.release.count fuse.flush.count \
	fuse.read.count fuse.lookup.count fuse.getattr.count backing.opens; do
	assert_eq "$(d $k s1 s2)" 0 "$k delta of a warm pass"
done

check "16 readers of a cold 32 MiB file (one through mmap): right bytes, read once"
$PY "$FUNC_DIR/readers.py" "$V/big" 16 "$want" ||
	fail "a concurrent reader got wrong bytes with fuse.no_open"
stats_save "$T/s3.json"
assert_eq "$(d backing.bytes s2 s3)" $((32 << 20)) \
	"backing.bytes delta for 16 readers of one file"

check "SEEK_DATA and SEEK_HOLE as the backing file has them"
$PY - "$V/sparse" "$B/sparse" <<'EOF' || fail "lseek through the view differs"
import os, sys
def seeks(p):
    fd = os.open(p, os.O_RDONLY)
    out = []
    for off in (0, 1 << 20, 3 << 20, (3 << 20) + 1, 5 << 20, 6 << 20):
        for whence in (os.SEEK_DATA, os.SEEK_HOLE):
            try:
                out.append(os.lseek(fd, off, whence))
            except OSError as e:
                out.append(-e.errno)
    os.close(fd)
    return out
view, back = seeks(sys.argv[1]), seeks(sys.argv[2])
if view != back:
    sys.exit("view %s, backing %s" % (view, back))
EOF
assert_same_file "$B/sparse" "$V/sparse"

canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "a file larger than the cache: read from the backing file, right bytes"
canopy_start small --export "$B" --no-open true --cache-capacity 8M
stats_save "$T/c0.json"
assert_same_file "$B/big" "$MNT$B/big"
stats_save "$T/c1.json"
assert_eq "$(d cache.bytes c0 c1)" 0 "cache.bytes after reading the big file"
assert_int "$(d backing.bytes c0 c1) -ge $((32 << 20))" \
	"backing.bytes for the big file"
assert_eq "$(d backing.opens c0 c1)" 1 \
	"backing opens for $(d fuse.read.no_open c0 c1) READs of the big file"
$PY "$FUNC_DIR/util.py" dropcache "$MNT$B/big"
assert_same_file "$B/big" "$MNT$B/big"
stats_save "$T/c2.json"
assert_eq "$(d backing.opens c1 c2)" 0 "backing opens when it is read again"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "a 2-node tree, both in fuse.no_open: the child's bytes come from its parent"
KEY=$T/job.key
canopy_key "$KEY"
canopy_tree_start --dir tree 2 exports="$B" roots=n1 fanout=1 mode=rpc \
	auth="$KEY" -- --no-open true
readsmall "through the child" "${NODE_MNT[n2]}$B"
cmp -s "${NODE_MNT[n2]}$B/big" "$B/big" ||
	fail "wrong bytes of big through the child"
assert_eq "$(nstat n2 backing.bytes)" 0 "backing.bytes of the child"
small=$(du -sb --apparent-size "$B/small" | cut -f1)
assert_int "$(nstat n1 backing.bytes) -ge $((small + (32 << 20) - 4096))" \
	"backing.bytes of the parent ($(nstat n1 backing.bytes)) for the child's reads"
assert_int "$(nstat n2 fuse.read.no_open) -gt 0" "READs without an open on the child"
canopy_tree_stop

for t in ${CANOPY_NO_OPEN_SUBTESTS:-view erofs rewrite capacity}; do
	check "test_$t.sh with every daemon in fuse.no_open"
	rerun_test "$t" "with fuse.no_open" CANOPY_START_ARGS="--no-open true"
	grep -q -- "--no-open true" "$T/logs/test_$t.log" ||
		fail "test_$t.sh started no daemon with --no-open true"
done
say "ok"
