#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hand-made peer messages against a daemon in the middle of a chain (n1
# root, n2, n3; fanout 1), sent by tests/tools/peerpoke as the topology's
# node "poke" (which no daemon runs):
#   - valid requests get right answers: PING, STAT_REQ (the attributes of
#     the backing file) and rpc READ_REQs (the bytes of each block, by
#     sha256), so the tool's messages are proven well-formed;
#   - requests for paths outside the exports (STAT, READ, LIST, READLINK)
#     are answered -EPERM and counted in peer.refused;
#   - a message sealed with a wrong key is dropped and counted in
#     auth.failures; a truncated one, one whose body_len says more than
#     WIRE_BODY_MAX, one with a ".." path, one naming the daemon as its
#     sender, random garbage and a flood of 10,000 small garbage messages
#     are dropped unanswered and counted in peer.malformed, exactly; a
#     message larger than the receive buffers is dropped unanswered;
#   - a path through a symlink inside the export that leads outside it is
#     not served (answered -EPERM, counted in peer.refused);
#   - afterwards the daemon still answers, serves reads through its mount,
#     and n3 still reads through it without a failover.
. "$(dirname "$0")/lib.sh"
canopy_init

PEERPOKE=$(dirname "$(realpath "$CANOPYD")")/tests/peerpoke
[ -x "$PEERPOKE" ] ||
	fail "no peerpoke at $PEERPOKE (make tests-build builds it)"

B=$T/backing
OUT=$T/outside
KEY=$T/job.key
mkdir -p "$B/dir" "$OUT"
DATA_SIZE=$((6 << 20 | 12345))
mkdata "$B/data" $DATA_SIZE poke-data
echo "small file" >"$B/dir/small"
ln -s small "$B/dir/link"
# a symlink inside the export to a directory outside it
ln -s "$OUT" "$B/escape"
mkdata "$B/cold1" $((9 << 20)) poke-cold1
mkdata "$B/cold2" $((9 << 20)) poke-cold2
echo "not exported" >"$OUT/secret"
canopy_key "$KEY"

canopy_tree_start --dir chain 3 exports="$B" roots=n1 fanout=1 mode=rpc \
	timeout=2 auth="$KEY" extra=poke
BS=$((4 << 20))

# poke ARGS...: peerpoke as node poke against n2, its output in $T/poke.out
poke() {
	local rc=0
	"$PEERPOKE" -c "$TREE_TOPO" -n poke -t n2 "$@" >"$T/poke.out" \
		2>"$T/poke.err" || rc=$?
	sed 's/^/  | /' "$T/poke.out" "$T/poke.err"
	[ "$rc" = 0 ] || fail "peerpoke $1...: exit status $rc"
}

# answer PROBE: the response peerpoke printed for the probe line PROBE
answer() {
	local line
	line=$(grep -F -m1 "$1: " "$T/poke.out") ||
		fail "peerpoke printed no line for '$1'"
	printf '%s\n' "${line#"$1: "}"
}

# block_sha FILE BLOCK: sha256 of block BLOCK of FILE
block_sha() {
	dd if="$1" bs=$BS skip="$2" count=1 status=none | sha256sum |
		cut -d' ' -f1
}

check "valid requests from the tool get right answers"
nstats_save n2 "$T/s0.json"
poke ping stat "$B/data" read "$B/data" 0 read "$B/data" 1 \
	stat "$B/dir/small" readlink "$B/dir/link" list "$B/dir"
assert_eq "$(answer ping)" "PONG" "answer to PING"
want=$($PY -c '
import os, sys
s = os.stat(sys.argv[1])
print("STAT_RESP err 0 mode 0%o size %d uid %d gid %d nlink %d mtime_ns %d "
      "ino %d" % (s.st_mode, s.st_size, s.st_uid, s.st_gid, s.st_nlink,
                  s.st_mtime_ns, s.st_ino))' "$B/data")
assert_eq "$(answer "stat $B/data")" "$want" "answer to STAT_REQ $B/data"
assert_eq "$(answer "read $B/data 0")" \
	"READ_RESP err 0 len $BS sha256 $(block_sha "$B/data" 0)" \
	"answer to READ_REQ of block 0"
assert_eq "$(answer "read $B/data 1")" \
	"READ_RESP err 0 len $((DATA_SIZE - BS)) sha256 $(block_sha "$B/data" 1)" \
	"answer to READ_REQ of block 1 (the last, short)"
answer "stat $B/dir/small" | grep -q '^STAT_RESP err 0 mode 0100644 size 11 ' ||
	fail "answer to STAT_REQ $B/dir/small: $(answer "stat $B/dir/small")"
assert_eq "$(answer "readlink $B/dir/link")" \
	"READLINK_RESP err 0 target small" \
	"answer to READLINK_REQ"
assert_eq "$(answer "list $B/dir")" "LIST_RESP err 0 count 2 more 0" \
	"answer to LIST_REQ"
nstats_save n2 "$T/s1.json"

check "requests for paths outside the exports: -EPERM, counted"
poke stat /etc/passwd read "$OUT/secret" 0 list "$OUT" \
	readlink /etc/passwd
eperm="err -1 (Operation not permitted)"
assert_eq "$(answer "stat /etc/passwd")" "STAT_RESP $eperm" \
	"answer to STAT_REQ /etc/passwd"
assert_eq "$(answer "read $OUT/secret 0")" "READ_RESP $eperm" \
	"answer to READ_REQ $OUT/secret"
assert_eq "$(answer "list $OUT")" "LIST_RESP $eperm count 0 more 0" \
	"answer to LIST_REQ $OUT"
assert_eq "$(answer "readlink /etc/passwd")" "READLINK_RESP $eperm" \
	"answer to READLINK_REQ /etc/passwd"
nstats_save n2 "$T/s2.json"
# the read probe asks STAT first: two refusals for it
assert_eq "$(($(jget "$T/s2.json" peer.refused) - \
	$(jget "$T/s1.json" peer.refused)))" 5 "peer.refused for 5 requests"

check "forged, truncated, oversized, misaddressed, '..' and garbage messages"
poke -q 1000 badkey "$B/data" truncated "$B/data" oversized "$B/data" \
	dotdot "$B/data" badsrc "$B/data" garbage 1000 garbage 20 huge \
	flood 10000 ping
for p in "badkey $B/data" "truncated $B/data" "oversized $B/data" \
	"dotdot $B/data" "badsrc $B/data" "garbage 1000" "garbage 20" huge; do
	assert_eq "$(answer "$p")" "no response" "answer to $p"
done
assert_eq "$(answer "flood 10000")" "sent 10000, no response" \
	"answer to the flood"
assert_eq "$(grep -c '^ping: PONG$' "$T/poke.out")" 1 \
	"a PING after the flood is answered"
# the daemon may still be reading the flood when the tool ends
deadline=$((SECONDS + 60))
want=$(($(jget "$T/s2.json" peer.malformed) + 10006))
while nstats_save n2 "$T/s3.json" &&
	[ "$(jget "$T/s3.json" peer.malformed)" -lt "$want" ] &&
	((SECONDS < deadline)); do
	sleep 0.5
done
for k in auth.failures peer.malformed peer.refused peer.requests_in \
	peer.dropped; do
	say "  $k: +$(($(jget "$T/s3.json" $k) - $(jget "$T/s2.json" $k)))"
done
assert_eq "$(($(jget "$T/s3.json" auth.failures) - \
	$(jget "$T/s2.json" auth.failures)))" 1 \
	"auth.failures for one message with a wrong key"
# truncated, oversized, dotdot, badsrc, 2 x garbage, 10,000 flood; the
# message larger than the receive buffers never reaches the daemon's code
assert_eq "$(($(jget "$T/s3.json" peer.malformed) - \
	$(jget "$T/s2.json" peer.malformed)))" 10006 \
	"peer.malformed for 10,006 malformed messages"
assert_eq "$(($(jget "$T/s3.json" peer.refused) - \
	$(jget "$T/s2.json" peer.refused)))" 0 "peer.refused for malformed messages"

check "a path through a symlink that leads out of the exports is not served"
poke stat "$B/escape/secret" read "$B/escape/secret" 0
leak=
for p in "stat $B/escape/secret" "read $B/escape/secret 0"; do
	case $(answer "$p") in
	*"err 0 "*) leak="$leak; $p: $(answer "$p")" ;;
	*" err -"*) ;;
	*) fail "answer to $p: $(answer "$p")" ;;
	esac
done
[ -z "$leak" ] ||
	fail "served a file outside the exports through a symlink$leak"
nstats_save n2 "$T/s3b.json"
assert_eq "$(($(jget "$T/s3b.json" peer.refused) - \
	$(jget "$T/s3.json" peer.refused)))" 3 \
	"peer.refused for stat, and stat then read, through a symlink"

check "n2 still serves its mount and its child"
alive "${NODE_PID[n2]}" || fail "n2 is gone"
assert_same_file "$B/cold1" "${NODE_MNT[n2]}$B/cold1"
nstats_save n2 "$T/s4.json"
nstats_save n3 "$T/n3-0.json"
assert_same_file "$B/cold2" "${NODE_MNT[n3]}$B/cold2"
nstats_save n2 "$T/s5.json"
nstats_save n3 "$T/n3-1.json"
assert_eq "$(($(jget "$T/n3-1.json" bytes.peers) - \
	$(jget "$T/n3-0.json" bytes.peers)))" $((9 << 20)) \
	"bytes n3 got from peers for cold2"
assert_eq "$(jget "$T/n3-1.json" failover.count)" 0 "n3's failover.count"
assert_int "$(($(jget "$T/s5.json" peer.requests_in) - \
	$(jget "$T/s4.json" peer.requests_in))) -ge 3" \
	"n2 served n3's reads of cold2"
canopy_tree_stop
say "ok"
