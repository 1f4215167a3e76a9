#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Eight canopyd processes on 127.0.0.1 form a cooperative tree and read the
# same cold tree at the same time (gentree.py with 2,000 small files, plus
# 3 x 24 MiB files), for four shapes: 1 root fanout 2 rpc; 3 roots fanout 4
# rma; 3 roots fanout 2 rpc with block placement; 1 root fanout 4 rma.
#
# For each shape:
#   - every node's view is byte- and attribute-identical to the backing
#     tree (comparetree.py, all eight at once);
#   - the backing store serves each byte once tree-wide: the sum over the
#     nodes of backing.bytes is the total size of the files, and the sums of
#     backing.reads and backing.readdirs are what one node alone does (a
#     single canopyd reads the same tree first, as the reference), and
#     backing.opens is too with file placement (with block placement each
#     root owning blocks of a file opens it once);
#   - the same seen from outside the daemons: the backing tree is exported
#     through a bindfs mount with direct_io, so every byte a daemon reads
#     from it is a read() of the bindfs process: its rchar grows by the
#     total size, plus request headers no more than the reference run's
#     plus a little (a block read twice anywhere would exceed it);
#   - only roots touch the backing store (the others' backing.reads and
#     backing.bytes are 0), each node got every byte once (its backing.bytes
#     plus bytes.peers is the total), what was sent was received
#     (peer.bytes_out summed equals bytes.peers summed), nothing failed over;
#   - with 3 roots each carries a fair share: none serves less than 1/9 of
#     the backing reads (and, with block placement, of the bytes).
. "$(dirname "$0")/lib.sh"
canopy_init

command -v bindfs >/dev/null ||
	skip "bindfs is not installed (needed to count backing reads from outside)"

N=8
BIG=$((24 << 20))
SRC=$T/src
BIND=$T/bind
KEY=$T/job.key
mkdir -p "$BIND"
t_start=$SECONDS

$PY "$FUNC_DIR/gentree.py" "$SRC" --seed 7 --wide 2000 --huge $((5 << 20))
mkdir "$SRC/big"
for i in 1 2 3; do
	mkdata "$SRC/big/b$i" $BIG "tree-big-$i"
done
TOTAL=$(find "$SRC" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }')
NFILES=$(find "$SRC" -type f | wc -l)
say "backing tree: $NFILES files (hard links counted per name)," \
	"$TOTAL bytes in all"
# blocks (4 MiB, the default) beyond the first of every file
EXTRA_BLOCKS=$(find "$SRC" -type f -printf '%s\n' |
	awk '$1 > 0 { n += int(($1 - 1) / 4194304) } END { print n + 0 }')
canopy_key "$KEY"

bindfs -f -o direct_io "$SRC" "$BIND" >"$T/logs/bindfs.log" 2>&1 &
BPID=$!
on_exit "kill -TERM $BPID 2>/dev/null; wait $BPID 2>/dev/null"
deadline=$((SECONDS + 20))
until is_mounted "$BIND"; do
	alive "$BPID" || fail "bindfs exited: $(cat "$T/logs/bindfs.log")"
	((SECONDS < deadline)) || fail "bindfs not mounted after 20s"
	sleep 0.1
done
rchar() { awk '/^rchar:/ { print $2 }' "/proc/$BPID/io"; }

# compare VIEW OUT: comparetree of the backing tree (read directly, not
# through bindfs) with VIEW, whose exported directory is the bindfs mount
compare() {
	$PY "$FUNC_DIR/comparetree.py" compare "$SRC" "$1$BIND" --ranges 4 >"$2" 2>&1
}

check "reference: one canopyd alone reads the tree once"
r0=$(rchar)
canopy_start single --export "$BIND" --cache-tmpfs false
t0=$SECONDS
compare "$MNT" "$T/single.out" || {
	tail -n 20 "$T/single.out"
	fail "one canopyd alone: the view differs from the backing tree"
}
stats_save "$T/single.json"
canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of the single canopyd"
REF_RCHAR=$(($(rchar) - r0))
REF_READS=$(jget "$T/single.json" backing.reads)
REF_OPENS=$(jget "$T/single.json" backing.opens)
REF_DIRS=$(jget "$T/single.json" backing.readdirs)
say "  $((SECONDS - t0))s; backing:" \
	"bytes $(jget "$T/single.json" backing.bytes)" \
	"reads $REF_READS opens $REF_OPENS readdirs $REF_DIRS;" \
	"bindfs rchar $REF_RCHAR"
assert_eq "$(jget "$T/single.json" backing.bytes)" "$TOTAL" \
	"backing.bytes of one canopyd alone"
# what the bindfs process reads beyond the data: FUSE request headers
REF_OVER=$((REF_RCHAR - TOTAL))
assert_int "$REF_OVER -ge 0" "bindfs read less than the files' bytes"

# shape NAME ROOTS FANOUT MODE PLACEMENT
shape() {
	local name=$1 roots=$2 fanout=$3 mode=$4 placement=$5
	local t0=$SECONDS r0 d n pids=() bad="" sd roots_of k v b reads
	local rc nroot

	check "$name: $N nodes, $roots root(s), fanout $fanout, $mode," \
		"placement $placement"
	canopy_tree_start --dir "$name" $N exports="$BIND" roots="$roots" \
		fanout="$fanout" mode="$mode" placement="$placement" \
		auth="$KEY"
	say "  started in $((SECONDS - t0))s"
	r0=$(rchar)
	t0=$SECONDS
	for n in "${TREE_NODES[@]}"; do
		compare "${NODE_MNT[$n]}" "$TREE_DIR/compare-$n.out" &
		pids+=($!)
	done
	k=0
	for n in "${TREE_NODES[@]}"; do
		rc=0
		wait "${pids[$k]}" || rc=$?
		k=$((k + 1))
		[ "$rc" = 0 ] && continue
		say "---- $n: comparetree exit $rc ----"
		tail -n 15 "$TREE_DIR/compare-$n.out"
		bad="$bad $n"
	done
	say "  $N views compared at once in $((SECONDS - t0))s"
	[ -z "$bad" ] || fail "$name: views differ from the backing tree:$bad"
	d=$(($(rchar) - r0))

	sd=$TREE_DIR/stats
	mkdir -p "$sd"
	for n in "${TREE_NODES[@]}"; do
		nstats_save "$n" "$sd/$n.json"
	done
	nctl n1 tree >"$TREE_DIR/tree.txt" || fail "canopyctl tree failed"
	roots_of=$(grep -o 'root n[0-9]*' "$TREE_DIR/tree.txt" |
		awk '{ print $2 }' | sort -u | tr '\n' ' ')
	nroot=$(wc -w <<<"$roots_of")
	for n in "${TREE_NODES[@]}"; do
		v=
		for k in backing.bytes backing.reads backing.opens \
			backing.readdirs bytes.peers peer.bytes_out \
			peer.requests_in failover.count; do
			v="$v $k=$(jget "$sd/$n.json" $k)"
		done
		say "  $n:$v"
	done
	say "  roots: $roots_of; bindfs rchar +$d (reference +$REF_RCHAR)"
	assert_eq "$nroot" "$roots" "$name: roots shown by canopyctl tree"

	assert_eq "$(tree_sum backing.bytes "$sd")" "$TOTAL" \
		"$name: backing.bytes summed over the nodes"
	assert_eq "$(tree_sum backing.reads "$sd")" "$REF_READS" \
		"$name: backing.reads summed over the nodes (one node alone: $REF_READS)"
	assert_eq "$(tree_sum backing.readdirs "$sd")" "$REF_DIRS" \
		"$name: backing.readdirs summed over the nodes (one node alone: $REF_DIRS)"
	# an owner keeps the files it served last open (peer.c), so with file
	# placement the tree opens each file once; with block placement each
	# root that owns blocks of a file opens it: at most one more open per
	# block beyond the first
	v=$(tree_sum backing.opens "$sd")
	if [ "$placement" = file ]; then
		assert_eq "$v" "$REF_OPENS" \
			"$name: backing.opens summed over the nodes (one node alone: $REF_OPENS)"
	else
		assert_int "$v -ge $REF_OPENS" \
			"$name: backing.opens summed over the nodes: $v, one node alone: $REF_OPENS"
		assert_int "$v -le $((REF_OPENS + EXTRA_BLOCKS))" \
			"$name: backing.opens summed over the nodes: $v, one node alone: $REF_OPENS"
	fi
	assert_int "$d -ge $TOTAL" \
		"$name: bindfs read $d bytes, less than the files' $TOTAL"
	assert_int "$d -le $((TOTAL + REF_OVER + (1 << 20)))" \
		"$name: bindfs read $d bytes for $TOTAL bytes of files: more than once"
	assert_eq "$(tree_sum peer.bytes_out "$sd")" \
		"$(tree_sum bytes.peers "$sd")" \
		"$name: bytes sent by peers vs bytes received from peers"
	assert_eq "$(tree_sum failover.count "$sd")" 0 \
		"$name: failovers with every node up"
	for n in "${TREE_NODES[@]}"; do
		b=$(jget "$sd/$n.json" backing.bytes)
		v=$(jget "$sd/$n.json" bytes.peers)
		assert_eq "$((b + v))" "$TOTAL" \
			"$name: $n's backing.bytes + bytes.peers"
		case " $roots_of " in
		*" $n "*) continue ;;
		esac
		assert_eq "$(jget "$sd/$n.json" backing.reads)" 0 \
			"$name: backing.reads of $n, not a root"
		assert_eq "$b" 0 "$name: backing.bytes of $n, not a root"
	done
	if [ "$nroot" -gt 1 ]; then
		reads=$(tree_sum backing.reads "$sd")
		for n in $roots_of; do
			v=$(jget "$sd/$n.json" backing.reads)
			assert_int "$((v * 3 * nroot)) -ge $reads" \
				"$name: root $n made $v of $reads backing reads"
			[ "$placement" = block ] || continue
			b=$(jget "$sd/$n.json" backing.bytes)
			assert_int "$((b * 3 * nroot)) -ge $TOTAL" \
				"$name: root $n read $b of $TOTAL backing bytes"
		done
	fi
	canopy_tree_stop
	rm -rf "${TREE_DIR:?}"/n*/cache
}

shape r1-f2-rpc 1 2 rpc file
shape r3-f4-rma 3 4 rma file
shape r3-f2-rpc-block 3 2 rpc block
shape r1-f4-rma 1 4 rma file
say "ok: $((SECONDS - t_start))s in all"
