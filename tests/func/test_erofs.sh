#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every mutating call on the view fails with EROFS and changes nothing:
# first on the mount as mounted (read-only), then, after remounting it
# read-write, against the daemon itself; the backing tree is unchanged and
# the daemon still serves the same bytes.
. "$(dirname "$0")/lib.sh"
canopy_init

B=$T/backing
D=$B/d
mkdir -p "$D/emptydir" "$D/nonempty"
mkdata "$D/file" 65536 erofs-file
mkdata "$D/other" 1000 erofs-other
echo inside >"$D/nonempty/inside"
ln -s file "$D/link"
setfattr -n user.canopy -v original "$D/file" 2>/dev/null ||
	$PY -c 'import os, sys; os.setxattr(sys.argv[1], "user.canopy", b"original")' "$D/file"
$PY "$FUNC_DIR/comparetree.py" snapshot "$B" "$T/before.json"

canopy_start ro --export "$B"
V=$MNT$D

check "the view shows the tree before anything is tried"
assert_same_file "$D/file" "$V/file"
[ -d "$V/emptydir" ] || fail "no emptydir in the view"

check "the mount is mounted read-only"
opts=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts)
case ,$opts, in
*,ro,*) ;;
*) fail "mount options of $MNT are '$opts', no 'ro'" ;;
esac

check "every mutating call on the read-only mount fails with EROFS"
$PY "$FUNC_DIR/erofs.py" "$V" ||
	fail "a mutating call on the read-only mount did not fail with EROFS"

check "remount read-write: the daemon itself must answer EROFS"
if out=$(mount -i -o remount,rw "$MNT" 2>&1); then
	opts=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts)
	case ,$opts, in
	*,rw,*) ;;
	*) fail "remount rw succeeded but the options are '$opts'" ;;
	esac
	say "remounted read-write ($opts)"
	ctl stats --json >"$T/s0.json"
	# with fuse.no_open the kernel opens files without asking the daemon
	ctl status --json >"$T/status.json"
	noopen=()
	[ "$(jget "$T/status.json" no_open)" = true ] && noopen=(--no-open)
	$PY "$FUNC_DIR/erofs.py" "$V" --rw "${noopen[@]}" ||
		fail "a mutating call that reached the daemon did not fail" \
			"with EROFS"
	ctl stats --json >"$T/s1.json"
	check "the calls reached the daemon (its opcode counters grew)"
	for op in open create setattr mkdir mknod unlink rmdir rename rename2 \
		link symlink setxattr removexattr tmpfile; do
		a=$(jget "$T/s0.json" "fuse.$op.count" 2>/dev/null || echo 0)
		b=$(jget "$T/s1.json" "fuse.$op.count" 2>/dev/null || echo 0)
		say "  fuse.$op.count: $a -> $b"
		eval "grew_$op=$((b - a))"
	done
	# shellcheck disable=SC2154
	for op in setattr mkdir mknod unlink rmdir link symlink setxattr \
		removexattr; do
		v=grew_$op
		assert_int "${!v} -gt 0" "no $op request reached the daemon"
	done
	# shellcheck disable=SC2154
	assert_int "$((grew_rename + grew_rename2)) -gt 0" \
		"no rename request reached the daemon"
	mount -i -o remount,ro "$MNT" || note "remount ro failed"
else
	note "remount rw refused ($out): daemon-side half not run"
fi

check "the daemon is still serving the same bytes"
assert_same_file "$D/file" "$V/file"
assert_same_file "$D/other" "$V/other"
ctl status >/dev/null || fail "canopyctl status failed after the calls"

check "the backing tree is unchanged"
$PY "$FUNC_DIR/comparetree.py" snapshot "$B" "$T/after.json"
$PY "$FUNC_DIR/comparetree.py" diffsnap "$T/before.json" "$T/after.json" ||
	fail "the backing tree changed"

check "the view still equals the backing tree (no phantom entries)"
$PY "$FUNC_DIR/comparetree.py" compare --no-atime "$B" "$MNT$B" ||
	fail "the view differs from the backing tree after the calls"

canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"
say "ok"
