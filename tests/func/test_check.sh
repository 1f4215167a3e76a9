#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# canopyd --check: accepts the topologies canopy-topology writes for 1, 2,
# 100 and 10,000 nodes, without a mount point and without mounting, and
# prints each node's trees (the 10,000-node check well under a second);
# refuses broken ones (a duplicate node name, an unknown root, fanout 0, a
# syntax error, a node not in the list) with exit 2 and a message that names
# the JSON path and line. --print-tunables prints the kernel.* tunables.
. "$(dirname "$0")/lib.sh"
canopy_init

GEN=$CANOPY_ROOT/config/canopy-topology
[ -x "$GEN" ] || fail "no config/canopy-topology"
if [ -n "$CANOPY_SANITIZER" ]; then LIMIT_MS=10000; else LIMIT_MS=1000; fi
# the mounts --check could make: under $T, or the default mount point
# (counting every fuse mount would see other tests' daemons)
own_mounts() {
	awk -v t="$T/" '$3 ~ /^fuse/ && (index($2, t) == 1 || $2 == "/canopy")' \
		/proc/mounts | wc -l
}
before=$(own_mounts)

# gen N OUT: a topology of nid00001..nidN, as a Slurm job would get it
gen() {
	local list
	if [ "$1" = 1 ]; then
		list=nid00001
	else
		list=$(printf 'nid[00001-%05d]' "$1")
	fi
	"$GEN" --nodelist "$list" --roots "$(($1 < 4 ? 1 : 4))" --fanout 8 \
		--export / -o "$2" >/dev/null || fail "canopy-topology $list"
}

# ms CMD...: run CMD, output in $OUT, exit status in $RC, wall time in $MS
ms() {
	local t0 t1
	t0=$(date +%s%N)
	RC=0
	OUT=$("$@" 2>&1) || RC=$?
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
}

for n in 1 2 100 10000; do
	check "--check accepts a generated topology of $n node(s)"
	gen "$n" "$T/topo$n.json"
	last=$(printf 'nid%05d' "$n")
	for node in nid00001 "$last"; do
		ms "$CANOPYD" --check -c "$T/topo$n.json" --node "$node"
		assert_eq "$RC" 0 "canopyd --check on $n nodes as $node: $OUT"
		case $OUT in
		*"config: $T/topo$n.json: ok"*"node: $node ($n of $n)"* | \
			*"config: $T/topo$n.json: ok"*"node: $node (1 of $n)"*) ;;
		*) fail "--check on $n nodes as $node printed: $OUT" ;;
		esac
		echo "$OUT" | grep -q "^topology: $n nodes\{0,1\}, " ||
			fail "no topology line: $OUT"
		echo "$OUT" | grep -q '^owned share: ' || fail "no share: $OUT"
		say "  $node: ${MS} ms"
	done
	# the first node is a root of the first tree: it owns 1/R
	"$CANOPYD" --check -c "$T/topo$n.json" --node nid00001 |
		grep -q '^tree 0: root nid00001, depth 0, parent none' ||
		fail "nid00001 is not the root of tree 0 on $n nodes"
done
assert_int "$MS -lt $LIMIT_MS" "--check on 10,000 nodes took ${MS} ms"
# every node of the 100 has a parent in each tree but its own root's
check "--check on 100 nodes: every non-root has a parent in each of 4 trees"
for i in 2 37 100; do
	node=$(printf 'nid%05d' "$i")
	out=$("$CANOPYD" --check -c "$T/topo100.json" --node "$node")
	parents=$(echo "$out" | grep -c '^tree [0-3]: root nid[0-9]*, depth [1-9][0-9]*, parent nid' || true)
	roots=$(echo "$out" | grep -c 'parent none' || true)
	assert_eq "$((parents + roots))" 4 "trees with a parent or rooted at $node"
done

check "--check mounts nothing and needs no mount point"
after=$(own_mounts)
assert_eq "$after" "$before" "fuse mounts before and after the checks"

# broken FILE PYTHON: the 100-node topology, changed by PYTHON (on t)
broken() {
	$PY - "$T/topo100.json" "$T/$1.json" "$2" <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(t, open(sys.argv[2], "w"), indent=1)
PYEOF
}

# refused FILE WHAT PATTERN: exit 2 and a message matching PATTERN
refused() {
	ms "$CANOPYD" --check -c "$T/$1.json" --node nid00001
	assert_eq "$RC" 2 "exit status of --check on $2"
	case $OUT in
	$3) say "  $OUT" ;;
	*) fail "--check on $2: message '$OUT' does not match '$3'" ;;
	esac
}

check "--check refuses a duplicate node name, naming both entries"
broken dup 't["nodes"][41]["name"] = "nid00007"'
refused dup "a duplicate name" \
	"canopyd: $T/dup.json:[0-9]*: nodes\[41\].name: duplicate node name \"nid00007\" (also nodes\[6\])"

check "--check refuses a root that is not a node"
broken unkroot 't["roots"] = ["nid00001", "nid99999"]'
refused unkroot "an unknown root" \
	"canopyd: $T/unkroot.json:[0-9]*: roots\[1\]: unknown node \"nid99999\"*"

check "--check refuses fanout 0"
broken fan0 't["fanout"] = 0'
refused fan0 "fanout 0" \
	"canopyd: $T/fan0.json:[0-9]*: fanout: 0 is out of range (1..65535)"

check "--check refuses a syntax error with line and column"
sed '3s/$/ ,,/' "$T/topo2.json" >"$T/syntax.json"
refused syntax "a syntax error" "canopyd: $T/syntax.json:3:[0-9]*: *"

check "--check refuses a node that is not in the topology"
ms "$CANOPYD" --check -c "$T/topo100.json" --node nid00101
assert_eq "$RC" 2 "exit status for an unknown --node"
case $OUT in
*'node "nid00101" is not in the topology'*) say "  $OUT" ;;
*) fail "unknown --node: $OUT" ;;
esac

check "--print-tunables: nothing when no kernel.* tunable is set"
out=$("$CANOPYD" --print-tunables -c "$T/topo2.json" --node nid00001)
assert_eq "$out" "" "--print-tunables without kernel.*"
check "--print-tunables: name=value lines from the file and the command line"
broken kern 't["kernel"] = {"max_pages_limit": 1024, "enable_uring": False}'
out=$("$CANOPYD" --print-tunables -c "$T/kern.json" --node nid00001 | tr '\n' ' ')
assert_eq "$out" "max_pages_limit=1024 enable_uring=N " "--print-tunables"
out=$("$CANOPYD" --print-tunables -c "$T/kern.json" --node nid00001 \
	--kernel-enable-uring true --kernel-max-pages-limit 0 | tr '\n' ' ')
assert_eq "$out" "enable_uring=Y " "--print-tunables with options"
broken kernbad 't["kernel"] = {"enable_uring": "yes"}'
refused kernbad "a string for kernel.enable_uring" \
	"canopyd: $T/kernbad.json:[0-9]*: kernel.enable_uring: expected true or false, got a string"
say "ok"
