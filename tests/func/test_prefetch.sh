#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# canopyctl prefetch warms the whole tree: five canopyd processes on
# 127.0.0.1 (2 roots, fanout 2), a backing tree of 320 small files in
# nested directories, symlinks, and files of 1, 3 and 9 MiB (the last three
# blocks). The prefetch is asked of n4, which is not a root, by its path in
# n4's mount. Then:
#   - it answers 5 of 5 nodes done, every file and byte per node, exit 0;
#   - the backing store saw each file once tree-wide: the sum over the nodes
#     of backing.opens is the number of files, of backing.bytes their size,
#     and, seen from outside through inotify on the backing tree, every file
#     was opened exactly once; nodes that are not roots read nothing;
#   - every node's cache holds it all: reading every file through every
#     node's mount (sha256 against the backing tree) costs the backing store
#     nothing (the sums of backing.opens, reads, stats and readdirs do not
#     move, and inotify sees no open), and prefetch.files of each node is
#     the number of files;
#   - a path outside the exports is refused (exit 1, "outside the exports");
#   - with a leaf stopped (SIGSTOP) the prefetch returns within its timeout,
#     exit 1, naming the node that did not finish and 4 of 5 done.
. "$(dirname "$0")/lib.sh"
canopy_init

N=5
SRC=$T/src
mkdir -p "$SRC"
$PY - "$SRC" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(5)
n = 0
for a in range(4):
    for b in range(4):
        d = os.path.join(root, "pkg%d" % a, "mod%d" % b)
        os.makedirs(d, exist_ok=True)
        for i in range(20):
            with open(os.path.join(d, "f%02d.py" % i), "wb") as f:
                f.write(rnd.randbytes(rnd.randrange(0, 9000)))
            n += 1
    os.symlink("mod0/f00.py", os.path.join(root, "pkg%d" % a, "link"))
os.makedirs(os.path.join(root, "empty"))
EOF
mkdir "$SRC/big"
mkdata "$SRC/big/one" $((1 << 20)) prefetch-one
mkdata "$SRC/big/three" $((3 << 20)) prefetch-three
mkdata "$SRC/big/nine" $((9 << 20)) prefetch-nine
NFILES=$(find "$SRC" -type f | wc -l)
TOTAL=$(find "$SRC" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }')
(cd "$SRC" && find . -type f -print0 | sort -z | xargs -0 sha256sum) \
	>"$T/want.sha"
say "backing tree: $NFILES files, $TOTAL bytes"

# inotify on every backing directory: one "open PATH" line per file opened
$PY - "$SRC" "$T/opens.log" <<'EOF' &
import ctypes, os, struct, sys
libc = ctypes.CDLL("libc.so.6", use_errno=True)
IN_OPEN, IN_ISDIR = 0x20, 0x40000000
fd = libc.inotify_init()
wd = {}
for d, _, _ in os.walk(sys.argv[1]):
    w = libc.inotify_add_watch(fd, d.encode(), IN_OPEN)
    wd[w] = d
out = open(sys.argv[2], "w", buffering=1)
out.write("ready\n")
while True:
    buf = os.read(fd, 65536)
    i = 0
    while i < len(buf):
        w, mask, _, ln = struct.unpack_from("iIII", buf, i)
        name = buf[i + 16:i + 16 + ln].rstrip(b"\0").decode()
        i += 16 + ln
        if mask & IN_OPEN and not mask & IN_ISDIR and name:
            out.write("open %s\n" % os.path.join(wd[w], name))
EOF
IPID=$!
on_exit "kill $IPID 2>/dev/null; wait $IPID 2>/dev/null; true"
until grep -q ready "$T/opens.log" 2>/dev/null; do
	alive "$IPID" || fail "the inotify watcher exited"
	sleep 0.1
done
opens() { grep -c '^open ' "$T/opens.log" || true; }

canopy_tree_start $N exports="$SRC" roots=2 fanout=2
ROOTS=$(nctl n1 tree | grep -o 'root n[0-9]*' | awk '{ print $2 }' |
	sort -u | tr '\n' ' ')
say "roots: $ROOTS"
case " $ROOTS " in *" n4 "*) fail "n4 is a root: the test wants it not" ;; esac

# pctl NAME ARGS...: canopyctl against node NAME, for a prefetch that may
# take longer than nctl's 20 s
pctl() {
	local name=$1
	shift
	timeout 150 "$CANOPYCTL" -s "${NODE_SOCK[$name]}" "$@"
}

# all_stats DIR: every node's stats --json into DIR/<node>.json
all_stats() {
	local n
	mkdir -p "$1"
	for n in "${TREE_NODES[@]}"; do
		nstats_save "$n" "$1/$n.json"
	done
}

check "prefetch on n4 (not a root) of its mount's view of the tree"
all_stats "$T/s0"
t0=$(date +%s.%N)
rc=0
pctl n4 prefetch --timeout 120 "${NODE_MNT[n4]}$SRC" >"$T/pf.out" 2>&1 ||
	rc=$?
t1=$(date +%s.%N)
cat "$T/pf.out"
assert_eq "$rc" 0 "exit status of canopyctl prefetch"
grep -q "^nodes: *$N of $N done" "$T/pf.out" || fail "not $N of $N nodes done"
grep -q "^files: *$NFILES per node, $((NFILES * N)) in all" "$T/pf.out" ||
	fail "files warmed: want $NFILES per node"
grep -q "^bytes: *$TOTAL per node, $((TOTAL * N)) in all" "$T/pf.out" ||
	fail "bytes warmed: want $TOTAL per node"
all_stats "$T/s1"
for n in "${TREE_NODES[@]}"; do
	v=
	for k in backing.opens backing.reads backing.bytes backing.stats \
		backing.readdirs bytes.peers prefetch.files prefetch.bytes; do
		v="$v $k=$(jget "$T/s1/$n.json" $k)"
	done
	say "  $n:$v"
done
PF_SECS=$(echo "$t1 - $t0" | bc)
say "  prefetch of $NFILES files over $N nodes: ${PF_SECS}s," \
	"backing.opens tree-wide $(tree_sum backing.opens "$T/s1")"

check "the backing store saw each file once tree-wide"
assert_eq "$(tree_sum backing.opens "$T/s1")" "$NFILES" \
	"backing.opens summed over the nodes"
assert_eq "$(tree_sum backing.bytes "$T/s1")" "$TOTAL" \
	"backing.bytes summed over the nodes"
sleep 0.2 # the watcher reads its events
assert_eq "$(opens)" "$NFILES" "backing files opened (inotify)"
assert_eq "$(grep '^open ' "$T/opens.log" | sort -u | wc -l)" "$NFILES" \
	"distinct backing files opened (inotify)"
for n in "${TREE_NODES[@]}"; do
	assert_eq "$(jget "$T/s1/$n.json" prefetch.files)" "$NFILES" \
		"prefetch.files of $n"
	assert_eq "$(jget "$T/s1/$n.json" prefetch.bytes)" "$TOTAL" \
		"prefetch.bytes of $n"
	case " $ROOTS " in *" $n "*) continue ;; esac
	assert_eq "$(jget "$T/s1/$n.json" backing.reads)" 0 \
		"backing.reads of $n, not a root"
	assert_eq "$(jget "$T/s1/$n.json" backing.opens)" 0 \
		"backing.opens of $n, not a root"
done

check "every node reads the whole tree from its cache: no backing operation"
# the path down to the export is above it, outside the tree (the view
# answers it from the local file system): look it up once first
for n in "${TREE_NODES[@]}"; do
	stat "${NODE_MNT[$n]}$SRC" >/dev/null
done
all_stats "$T/s2"
o2=$(opens)
pids=()
for n in "${TREE_NODES[@]}"; do
	(cd "${NODE_MNT[$n]}$SRC" && find . -type f -print0 | sort -z |
		xargs -0 sha256sum) >"$T/got-$n.sha" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "reading a node's view failed"
done
for n in "${TREE_NODES[@]}"; do
	cmp -s "$T/want.sha" "$T/got-$n.sha" ||
		fail "$n: sha256 of its view differ: $(diff "$T/want.sha" \
			"$T/got-$n.sha" | head -5)"
done
all_stats "$T/s3"
for k in backing.opens backing.reads backing.stats backing.readdirs; do
	assert_eq "$(tree_sum $k "$T/s3")" "$(tree_sum $k "$T/s2")" \
		"$k summed over the nodes, before and after reading everything"
done
sleep 0.2
assert_eq "$(opens)" "$o2" "backing files opened while reading (inotify)"
for n in "${TREE_NODES[@]}"; do
	v=$(($(jget "$T/s3/$n.json" fuse.open.count) -
		$(jget "$T/s2/$n.json" fuse.open.count)))
	assert_int "$v -ge $NFILES" "$n answered $v opens for $NFILES files"
done

check "a path outside the exports is refused"
rc=0
nctl n2 prefetch /etc >"$T/out.txt" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status of a prefetch of /etc"
grep -q "outside the exports" "$T/out.txt" ||
	fail "no 'outside the exports' in: $(cat "$T/out.txt")"

check "a stopped node is reported missing within the timeout"
LEAF=n5
kill -STOP "${NODE_PID[$LEAF]}"
on_exit "kill -CONT ${NODE_PID[$LEAF]} 2>/dev/null; true"
nctl n1 drop-caches >/dev/null
s=$SECONDS
rc=0
pctl n4 prefetch --timeout 30 "$SRC/pkg1" >"$T/pf2.out" 2>&1 || rc=$?
cat "$T/pf2.out"
kill -CONT "${NODE_PID[$LEAF]}"
assert_eq "$rc" 1 "exit status with $LEAF stopped"
assert_int "$((SECONDS - s)) -le 40" "the prefetch took $((SECONDS - s))s"
grep -q "^nodes: *$((N - 1)) of $N done" "$T/pf2.out" ||
	fail "not $((N - 1)) of $N nodes done"
grep -q "^missing: .*$LEAF" "$T/pf2.out" || fail "$LEAF not named missing"

canopy_tree_stop
say "ok"
