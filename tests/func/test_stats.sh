#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What canopyctl shows moves as it should: status names the negotiated
# protocol, max_pages, max_read, passthrough, splice and threads; stats
# --json is one flat object of numbers; a first read of a file costs the
# backing store exactly its size, a second read (page cache dropped) reaches
# the daemon but not the backing store; lookups, negative lookups and
# listings are counted; with passthrough a complete file is read without the
# daemon; with max_pages 4096 (the kernel limit raised, then restored) a
# large sequential read arrives in requests of 4 MiB or more, and the mount's
# read-ahead is raised to match.
. "$(dirname "$0")/lib.sh"
canopy_init

B=$T/backing
mkdir -p "$B/dir"
A_SIZE=2621447
M_SIZE=$((10 * 1048576 + 3))
BIG=$((64 << 20))
mkdata "$B/a" $A_SIZE stats-a
mkdata "$B/multi" $M_SIZE stats-multi
mkdata "$B/big" $BIG stats-big
mkdata "$B/pt" 1500000 stats-pt
for i in 1 2 3 4 5; do echo "$i" >"$B/dir/f$i"; done

delta() { # KEY BEFORE AFTER
	local a b
	a=$(jget "$2" "$1") || fail "stats --json has no key '$1'"
	b=$(jget "$3" "$1") || fail "stats --json has no key '$1'"
	echo $((b - a))
}
snap=0
# snapshot: save the stats to a new file, named in S
snapshot() {
	snap=$((snap + 1))
	stats_save "$T/st$snap.json"
	S=$T/st$snap.json
}

canopy_start cached --export "$B" --passthrough false
V=$MNT$B

check "canopyctl status names protocol, max_pages, max_read, passthrough, splice, threads"
ctl status >"$T/status.txt" || fail "canopyctl status failed"
cat "$T/status.txt"
for w in protocol max_pages max_read passthrough splice threads; do
	grep -qi "$w" "$T/status.txt" || fail "canopyctl status does not show $w"
done
ctl status --json >"$T/status.json" || fail "canopyctl status --json failed"
assert_eq "$(boolean "$(jget "$T/status.json" passthrough)")" false \
	"status passthrough with --passthrough false"

check "stats --json is one flat object of numbers with the documented keys"
snapshot
$PY - "$S" <<'EOF' || fail "stats --json is not a flat object of numbers"
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, dict), "not an object"
bad = [k for k, v in d.items()
       if not isinstance(v, (int, float)) or isinstance(v, bool)]
assert not bad, "keys with non-numeric values: %s" % bad[:10]
EOF
for k in fuse.lookup.count fuse.getattr.count fuse.open.count \
	fuse.read.count fuse.readdirplus.count fuse.read.size_max \
	backing.opens backing.reads backing.bytes backing.stats \
	passthrough.opens cache.bytes cache.evictions; do
	jget "$S" "$k" >/dev/null || fail "stats --json has no key $k"
done

check "a first read costs the backing store exactly the file size"
snapshot
s0=$S
assert_same_file "$B/a" "$V/a"
snapshot
s1=$S
for k in fuse.open.count fuse.read.count backing.opens backing.reads \
	backing.bytes cache.bytes; do
	say "  $k: +$(delta $k "$s0" "$s1")"
done
assert_int "$(delta fuse.read.count "$s0" "$s1") -gt 0" "fuse.read.count did not grow"
assert_int "$(delta fuse.open.count "$s0" "$s1") -ge 1" "fuse.open.count did not grow"
assert_eq "$(delta backing.bytes "$s0" "$s1")" $A_SIZE "backing.bytes delta of a first read"
assert_eq "$(delta backing.opens "$s0" "$s1")" 1 "backing.opens delta of a first read"
assert_int "$(delta backing.reads "$s0" "$s1") -ge 1" "backing.reads did not grow"
assert_int "$(jget "$s1" cache.bytes) -ge $A_SIZE" \
	"cache.bytes $(jget "$s1" cache.bytes) after caching $A_SIZE bytes"

check "a second read reaches the daemon but not the backing store"
$PY "$FUNC_DIR/util.py" dropcache "$V/a"
assert_same_file "$B/a" "$V/a"
snapshot
s2=$S
assert_int "$(delta fuse.read.count "$s1" "$s2") -gt 0" \
	"fuse.read.count did not grow on a read after the page cache was dropped"
assert_eq "$(delta backing.bytes "$s1" "$s2")" 0 "backing.bytes delta of a second read"
assert_eq "$(delta backing.opens "$s1" "$s2")" 0 "backing.opens delta of a second read"

check "a multi-block file: backing.bytes grows by its size once"
assert_same_file "$B/multi" "$V/multi"
$PY "$FUNC_DIR/util.py" dropcache "$V/multi"
assert_same_file "$B/multi" "$V/multi"
snapshot
s3=$S
assert_eq "$(delta backing.bytes "$s2" "$s3")" $M_SIZE "backing.bytes delta of a multi-block file read twice"

check "READ replies are spliced when they fit a worker's pipe (status"
check "splice_max), else written from a mapping of the cache file or copied"
smax=$(jget "$T/status.json" splice_max) || fail "status --json has no splice_max"
rmax=$(jget "$s3" fuse.read.size_max)
unspliced=$(($(delta reply.copies "$s0" "$s3") + $(delta reply.mapped "$s0" "$s3")))
say "  splice_max $smax, largest READ $rmax, reply.splices +$(delta \
reply.splices "$s0" "$s3"), reply.mapped +$(delta reply.mapped "$s0" "$s3"),\
 reply.copies +$(delta reply.copies "$s0" "$s3")"
assert_int "$smax -gt 0" "splice_max $smax"
assert_eq "$((smax % 4096))" 0 "splice_max $smax modulo the page size"
assert_int "$(delta reply.splices "$s0" "$s3") -ge 1" "no READ reply was spliced"
if ((rmax > smax)); then
	assert_int "$unspliced -ge 1" \
		"READs of $rmax bytes, over splice_max $smax, were all spliced"
	grep -q "replies up to $((smax / 1024)) KiB" "$T/status.txt" ||
		fail "canopyctl status does not say replies over $smax bytes are copied"
else
	assert_eq "$unspliced" 0 \
		"READ replies not spliced though all fit splice_max $smax"
fi

check "a lookup of a new name is counted and stats the backing store"
stat "$V/dir/f1" >/dev/null
snapshot
s4=$S
assert_int "$(delta fuse.lookup.count "$s3" "$s4") -ge 1" "fuse.lookup.count did not grow"
assert_int "$(delta backing.stats "$s3" "$s4") -ge 1" "backing.stats did not grow"

check "a missing name is looked up once: the kernel keeps the negative entry"
stat "$V/dir/missing" >/dev/null 2>&1 && fail "dir/missing exists"
snapshot
s5=$S
for i in 1 2 3 4 5; do
	stat "$V/dir/missing" >/dev/null 2>&1 && fail "dir/missing exists"
done
snapshot
s6=$S
assert_int "$(delta fuse.lookup.count "$s4" "$s5") -ge 1" \
	"fuse.lookup.count did not grow on a missing name"
assert_eq "$(delta fuse.lookup.count "$s5" "$s6")" 0 \
	"fuse.lookup.count delta of 5 more stats of a missing name"

check "a listing with attributes is counted (readdirplus)"
ls -l "$V/dir" >/dev/null
snapshot
s7=$S
assert_int "$(delta fuse.readdirplus.count "$s6" "$s7") -ge 1" \
	"fuse.readdirplus.count did not grow on ls -l"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "passthrough: status shows it; a complete file is read without the daemon"
kconf=$( (zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null) |
	grep '^CONFIG_FUSE_PASSTHROUGH=' || true)
canopy_start pt --export "$B"
V=$MNT$B
ctl status --json >"$T/status-pt.json"
pt=$(boolean "$(jget "$T/status-pt.json" passthrough || echo absent)")
say "  status passthrough: $pt; kernel: ${kconf:-unknown}"
if [ "$pt" != true ]; then
	if [ "$kconf" = CONFIG_FUSE_PASSTHROUGH=y ]; then
		fail "passthrough is '$pt' as root on a kernel with CONFIG_FUSE_PASSTHROUGH=y"
	fi
	note "passthrough not negotiated and the kernel's support is unknown: part skipped"
else
	snapshot
	p0=$S
	assert_same_file "$B/pt" "$V/pt"
	$PY "$FUNC_DIR/util.py" dropcache "$V/pt"
	snapshot
	p1=$S
	assert_same_file "$B/pt" "$V/pt"
	$PY "$FUNC_DIR/util.py" dropcache "$V/pt"
	snapshot
	p2=$S
	say "  first open: passthrough.opens +$(delta passthrough.opens "$p0" "$p1")," \
		"second: +$(delta passthrough.opens "$p1" "$p2"); fuse.read.count" \
		"+$(delta fuse.read.count "$p1" "$p2") on the second"
	assert_int "$(delta passthrough.opens "$p1" "$p2") -ge 1" \
		"passthrough.opens did not grow on opening a complete file"
	assert_eq "$(delta fuse.read.count "$p1" "$p2")" 0 \
		"fuse.read.count delta of a passthrough read"
	assert_eq "$(delta backing.bytes "$p1" "$p2")" 0 \
		"backing.bytes delta of a passthrough read"
fi
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"

check "max_pages 4096: large sequential reads arrive in requests of >= 4 MiB"
LIMIT=/proc/sys/fs/fuse/max_pages_limit
if [ ! -w "$LIMIT" ]; then
	note "no $LIMIT: part skipped"
else
	old=$(cat "$LIMIT")
	on_exit "echo $old >$LIMIT"
	echo 4096 >"$LIMIT"
	canopy_start mp --export "$B" --max-pages 4096 --passthrough false
	V=$MNT$B
	ctl status --json >"$T/status-mp.json"
	ctl status
	assert_eq "$(jget "$T/status-mp.json" max_pages)" 4096 "status max_pages"
	mr=$(jget "$T/status-mp.json" max_read) || fail "status has no max_read"
	assert_int "$mr -ge 4194304" "status max_read $mr"
	dev=$(awk -v m="$MNT" '$5 == m { print $3 }' /proc/self/mountinfo)
	ra=$(cat "/sys/class/bdi/$dev/read_ahead_kb" 2>/dev/null || echo 0)
	say "  bdi $dev read_ahead_kb $ra"
	assert_int "$ra -ge 4096" "read_ahead_kb of the mount's bdi $dev is $ra"
	snapshot
	m0=$S
	got=$($PY "$FUNC_DIR/util.py" seqread "$V/big" 16777216)
	assert_eq "$got" "$(sha "$B/big")" "sha256 of a 64 MiB sequential read"
	snapshot
	m1=$S
	sm=$(jget "$m1" fuse.read.size_max)
	say "  fuse.read.count +$(delta fuse.read.count "$m0" "$m1")," \
		"fuse.read.size_max $sm"
	grep -o '"fuse.read.size_hist[^,]*' "$m1" | sed 's/^/  /' || true
	assert_int "$sm -ge 4194304" "fuse.read.size_max $sm after a 64 MiB sequential read"
	canopy_stop "$DPID"
	assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"
fi
say "ok"
