#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A child reads through its parent, and the parent fails. A chain of three
# nodes (fanout 1, root n1): n3's parent is n2, its grandparent n1;
# transport.timeout is 1 s.
#  (a) n3 reads a cold 40 MiB file; after its first MiB, n2 is SIGSTOPped:
#      the read completes with the right bytes through n1, n3's
#      failover.count rises, `canopyctl tree` on n3 shows n2 unreachable.
#      After SIGCONT n2 answers again and a cold read goes through it
#      without a failover.
#  (b) n2 is SIGKILLed: the same, with a cold file read whole.
#  (c) a new chain started in reverse order, children first and each parent
#      a second later, with a read started on n3 before its parents exist:
#      the bytes are right and no node counts a failover, since each parent
#      comes up within the timeout ($CANOPY_PEER_TIMEOUT: 2 s, 10 under the
#      sanitizers, whose start-up is slower) for which a node retries sends
#      to a peer it has never heard from.
. "$(dirname "$0")/lib.sh"
canopy_init

B=$T/backing
KEY=$T/job.key
SIZE=$((40 << 20))
mkdir -p "$B"
for f in fa fa2 fb fc; do
	mkdata "$B/$f" $SIZE "failover-$f"
done
canopy_key "$KEY"

# reader FILE SHA [PAUSE]: read FILE whole and compare its sha256 with SHA;
# with PAUSE, read 1 MiB first, create PAUSE.started, and go on once
# PAUSE.go exists
reader() {
	$PY - "$@" <<'PYEOF'
import hashlib, os, sys, time
path, want = sys.argv[1], sys.argv[2]
pause = sys.argv[3] if len(sys.argv) > 3 else None
h = hashlib.sha256()
with open(path, "rb", buffering=0) as f:
    if pause:
        h.update(f.read(1 << 20))
        open(pause + ".started", "w").close()
        deadline = time.monotonic() + 120
        while not os.path.exists(pause + ".go"):
            if time.monotonic() > deadline:
                sys.exit("reader: no go after 120 s")
            time.sleep(0.02)
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
got = h.hexdigest()
if got != want:
    sys.exit("reader: %s: sha256 %s, expected %s" % (path, got, want))
print("reader: %s: right bytes" % path)
PYEOF
}

# wait_file FILE SECONDS
wait_file() {
	local deadline=$((SECONDS + $2))
	until [ -e "$1" ]; do
		((SECONDS < deadline)) || fail "$1 did not appear in $2s"
		sleep 0.02
	done
}

# quiet NODE: wait until NODE's peer.requests_in and bytes.peers stay the
# same for a second
quiet() {
	local a b deadline=$((SECONDS + 30))
	b=$(nstat "$1" peer.requests_in)/$(nstat "$1" bytes.peers)
	while :; do
		sleep 1
		a=$b
		b=$(nstat "$1" peer.requests_in)/$(nstat "$1" bytes.peers)
		[ "$a" = "$b" ] && return 0
		((SECONDS < deadline)) || fail "$1 still busy after 30s"
	done
}

tree_shows() { # NODE PATTERN: canopyctl tree on NODE matches PATTERN
	nctl "$1" tree >"$T/tree.txt" || fail "canopyctl tree on $1 failed"
	sed 's/^/  | /' "$T/tree.txt"
	grep -qE "$2" "$T/tree.txt"
}

canopy_tree_start --dir chain 3 exports="$B" roots=n1 fanout=1 mode=rpc \
	timeout=1 auth="$KEY"
V3=${NODE_MNT[n3]}$B
check "n3's parent is n2 and its grandparent n1, both reachable"
tree_shows n3 'parent: n2 \(reachable\)' ||
	fail "canopyctl tree on n3 does not show n2 as a reachable parent"
tree_shows n2 'parent: n1 \(reachable\)' ||
	fail "canopyctl tree on n2 does not show n1 as a reachable parent"

check "(a) n2 SIGSTOPped in the middle of n3's read of a cold file"
nstats_save n3 "$T/a0-n3.json"
nstats_save n2 "$T/a0-n2.json"
reader "$V3/fa" "$(sha "$B/fa")" "$T/pa" &
RPID=$!
wait_file "$T/pa.started" 30
v=$(nstat n2 peer.requests_in)
assert_int "$v -gt $(jget "$T/a0-n2.json" peer.requests_in)" \
	"n2 served no request of n3 before it was stopped"
kill -STOP "${NODE_PID[n2]}"
t0=$(date +%s%N)
touch "$T/pa.go"
rc=0
wait "$RPID" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "$rc" 0 "reader of n3 with n2 stopped (exit status)"
say "  the rest of the file came in ${ms} ms with n2 stopped"
nstats_save n3 "$T/a1-n3.json"
fo0=$(jget "$T/a0-n3.json" failover.count)
fo1=$(jget "$T/a1-n3.json" failover.count)
say "  n3 failover.count $fo0 -> $fo1"
assert_int "$fo1 -gt $fo0" "n3's failover.count did not rise"
assert_eq "$(($(jget "$T/a1-n3.json" bytes.peers) - \
	$(jget "$T/a0-n3.json" bytes.peers)))" $SIZE \
	"bytes n3 got from peers for the file"
assert_eq "$(jget "$T/a1-n3.json" backing.reads)" 0 \
	"n3's backing.reads (n1 answers, not the backing store)"
assert_int "$ms -lt 30000" "the read took ${ms} ms with n2 stopped"
tree_shows n3 'parent: n2 \(unreachable\)' ||
	fail "canopyctl tree on n3 does not show n2 unreachable"
kill -CONT "${NODE_PID[n2]}"

check "(a) after SIGCONT, n2 answers again and carries n3's reads"
deadline=$((SECONDS + 20))
until tree_shows n3 'parent: n2 \(reachable\)'; do
	((SECONDS < deadline)) || fail "n2 not reachable 20s after SIGCONT"
	sleep 0.5
done
# n2 now serves what n3 asked while it was stopped (the answers come too
# late): let it finish before counting
quiet n2
nstats_save n2 "$T/a2-n2.json"
nstats_save n3 "$T/a2-n3.json"
reader "$V3/fa2" "$(sha "$B/fa2")" || fail "n3 read wrong bytes of fa2"
nstats_save n2 "$T/a3-n2.json"
nstats_save n3 "$T/a3-n3.json"
assert_eq "$(jget "$T/a3-n3.json" failover.count)" \
	"$(jget "$T/a2-n3.json" failover.count)" \
	"n3's failover.count for a read with n2 back"
assert_int "$(($(jget "$T/a3-n2.json" bytes.peers) - \
	$(jget "$T/a2-n2.json" bytes.peers))) -eq $SIZE" \
	"n2 did not fetch the file for n3 once back"

check "(b) n2 SIGKILLed; n3 reads a cold file"
nstats_save n3 "$T/b0-n3.json"
canopy_stop "${NODE_PID[n2]}" KILL || true
NODE_PID[n2]=
umount -l "${NODE_MNT[n2]}" 2>/dev/null || fusermount3 -uz "${NODE_MNT[n2]}"
t0=$(date +%s%N)
reader "$V3/fb" "$(sha "$B/fb")" || fail "n3 read wrong bytes of fb"
ms=$((($(date +%s%N) - t0) / 1000000))
say "  read in ${ms} ms with n2 dead"
nstats_save n3 "$T/b1-n3.json"
fo0=$(jget "$T/b0-n3.json" failover.count)
fo1=$(jget "$T/b1-n3.json" failover.count)
say "  n3 failover.count $fo0 -> $fo1"
assert_int "$fo1 -gt $fo0" "n3's failover.count did not rise"
assert_eq "$(($(jget "$T/b1-n3.json" bytes.peers) - \
	$(jget "$T/b0-n3.json" bytes.peers)))" $SIZE \
	"bytes n3 got from peers (n1) for fb"
assert_eq "$(jget "$T/b1-n3.json" backing.reads)" 0 \
	"n3's backing.reads (n1 answers, not the backing store)"
assert_int "$ms -lt 30000" "the read took ${ms} ms with n2 dead"
tree_shows n3 'parent: n2 \(unreachable\)' ||
	fail "canopyctl tree on n3 does not show n2 unreachable"
canopy_tree_stop

check "(c) children first, each parent a second later, a read waiting"
CHAIN_GAP=${CHAIN_GAP:-1}
canopy_tree_start --dir reverse --order n3 3 exports="$B" roots=n1 \
	fanout=1 mode=rma timeout="$CANOPY_PEER_TIMEOUT" auth="$KEY"
t0=$(date +%s%N)
reader "${NODE_MNT[n3]}$B/fc" "$(sha "$B/fc")" >"$T/c.out" 2>&1 &
RPID=$!
sleep "$CHAIN_GAP"
_node_spawn n2
sleep "$CHAIN_GAP"
_node_spawn n1
_nodes_wait n2 n1 || fail "port clash in a running tree: start again"
rc=0
wait "$RPID" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$T/c.out"
assert_eq "$rc" 0 "n3's reader, its parents started after it"
say "  read in ${ms} ms from before the parents started"
for n in n1 n2 n3; do
	nstats_save "$n" "$T/c-$n.json"
	assert_eq "$(jget "$T/c-$n.json" failover.count)" 0 \
		"failover.count of $n"
done
assert_eq "$(jget "$T/c-n3.json" bytes.peers)" $SIZE "bytes n3 got from n2"
assert_eq "$(jget "$T/c-n2.json" bytes.peers)" $SIZE "bytes n2 got from n1"
assert_eq "$(jget "$T/c-n1.json" backing.bytes)" $SIZE \
	"bytes n1 read from the backing store"
canopy_tree_stop
say "ok"
