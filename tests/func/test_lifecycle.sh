#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Start and stop: SIGTERM and SIGINT unmount and exit 0 (also with a file
# held open in the mount); an umount by the admin ends the daemon too;
# daemon mode returns once the mount is ready and the daemon stops on
# SIGTERM; canopyctl -m finds the default control
# socket; a JSON config is honoured and the command line overrides it; a
# view of "/" mounted under the temp dir shows, at MNT/<its own path>, the
# underlying directory promptly, never the mount itself.
. "$(dirname "$0")/lib.sh"
canopy_init

B=$T/backing
mkdir -p "$B/sub"
mkdata "$B/file" 300000 lifecycle
echo hello >"$B/sub/hello"

# stopped_cleanly MNT: after a stop, exit 0 and nothing mounted
stopped_cleanly() {
	assert_eq "$STOP_RC" 0 "exit status of canopyd after SIG$1"
	if is_mounted "$2"; then
		fail "$2 is still mounted after SIG$1 and exit"
	fi
	say "  exited 0 after ${STOP_SECS}s, unmounted"
}

for sig in TERM INT; do
	check "SIG$sig unmounts and exits 0"
	canopy_start "sig$sig" --export "$B"
	assert_same_file "$B/file" "$MNT$B/file"
	canopy_stop "$DPID" "$sig" || fail "canopyd ignored SIG$sig"
	stopped_cleanly "$sig" "$MNT"
	check "the control socket is gone after SIG$sig"
	rc=0
	timeout 20 "$CANOPYCTL" -s "$SOCK" status >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 1 "canopyctl status after the daemon exited"
done

check "umount by the admin: canopyd sees the mount end, exits 0, and takes"
check "its cache tmpfs and control socket down"
canopy_start umount --export "$B"
assert_same_file "$B/file" "$MNT$B/file"
umount "$MNT" || fail "umount $MNT failed"
deadline=$((SECONDS + 10))
while alive "$DPID"; do
	((SECONDS < deadline)) ||
		fail "canopyd $DPID still running 10s after $MNT was unmounted"
	sleep 0.05
done
rc=0
wait "$DPID" 2>/dev/null || rc=$?
_forget_daemon "$DPID"
assert_eq "$rc" 0 "exit status of canopyd after umount"
grep -q "$MNT was unmounted" "$LOG" ||
	fail "canopyd did not say the mount ended: $(tail -5 "$LOG")"
assert_eq "$(awk -v d="$CACHE" '$5 == d' /proc/self/mountinfo | wc -l)" 0 \
	"mounts on the cache dir after exit"
[ -e "$SOCK" ] && fail "control socket $SOCK left behind"

check "daemon mode: the parent returns 0 once the mount is ready"
D=$T/daemon
mkdir -p "$D/mnt" "$D/cache"
LOG=$T/logs/canopyd-daemon.log
rc=0
timeout -k 5 60 "$CANOPYD" --export "$B" --cache-dir "$D/cache" \
	--ctl-socket "$D/ctl.sock" --log-level "$CANOPY_LOG_LEVEL" "$D/mnt" \
	>"$LOG" 2>&1 </dev/null || rc=$?
assert_eq "$rc" 0 "exit status of canopyd in daemon mode"
# no polling here: it must be ready now
is_mounted "$D/mnt" || fail "daemon mode returned before $D/mnt was mounted"
timeout 20 "$CANOPYCTL" -s "$D/ctl.sock" status >/dev/null ||
	fail "daemon mode returned before canopyctl status answers"
assert_same_file "$B/file" "$D/mnt$B/file"
dpid=
for p in /proc/[0-9]*; do
	p=${p#/proc/}
	if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" |
		grep -qF -- " $D/mnt"; then
		dpid=$p
	fi
done
[ -n "$dpid" ] || fail "no canopyd process for $D/mnt after daemon mode"
say "  daemon pid $dpid"
on_exit "grep -qF -- '$D/mnt' /proc/$dpid/cmdline 2>/dev/null && kill -TERM $dpid"
kill -TERM "$dpid"
deadline=$((SECONDS + 20))
while alive "$dpid"; do
	((SECONDS < deadline)) || fail "daemon $dpid still running 20s after SIGTERM"
	sleep 0.05
done
is_mounted "$D/mnt" && fail "$D/mnt still mounted after the daemon exited"

check "canopyctl -m MNT finds the default control socket"
mkdir -p "$T/dflt/mnt" "$T/dflt/cache"
canopy_spawn dflt "$T/dflt/mnt" --export "$B" --cache-dir "$T/dflt/cache" \
	--log-level "$CANOPY_LOG_LEVEL"
canopy_wait_ready "$DPID" "$T/dflt/mnt" -m "$T/dflt/mnt"
timeout 20 "$CANOPYCTL" -m "$T/dflt/mnt" stats --json >"$T/dflt.json" ||
	fail "canopyctl -m MNT stats --json failed"
canopy_stop "$DPID"
stopped_cleanly TERM "$T/dflt/mnt"

check "a JSON config is honoured and the command line overrides it"
cat >"$T/conf.json" <<EOF
{"exports": ["$B"],
 "cache": {"capacity": "64M"},
 "fuse": {"max_pages": 64, "threads": 3, "attr_timeout": 1}}
EOF
canopy_start conf -c "$T/conf.json" --threads 2
ctl status --json >"$T/status.json" || fail "canopyctl status --json failed"
cat "$T/status.json"
assert_eq "$(jget "$T/status.json" max_pages)" 64 "status max_pages (config: 64)"
assert_eq "$(jget "$T/status.json" threads)" 2 \
	"status threads (config 3, command line 2)"
assert_same_file "$B/file" "$MNT$B/file"
canopy_stop "$DPID"
stopped_cleanly TERM "$MNT"

check "a view of / mounted inside itself: MNT/<MNT> is the underlying dir"
R=$T/root/mnt
mkdir -p "$R" "$T/root/cache"
echo underneath >"$R/underlying-marker"
touch -d '2001-02-03 04:05:06.123456789' "$R"
before=$(stat -c '%f %u %g %Y %y' "$R")
canopy_spawn root "$R" --cache-dir "$T/root/cache" \
	--ctl-socket "$T/root/ctl.sock" --log-level "$CANOPY_LOG_LEVEL"
canopy_wait_ready "$DPID" "$R" -s "$T/root/ctl.sock"
SOCK=$T/root/ctl.sock
out=$(timeout 20 stat -c '%f %u %g %Y %y' "$R$R") ||
	fail "stat $R$R failed or hung (status $?)"
assert_eq "$out" "$before" "attributes of $R$R (the underlying dir)"
out=$(timeout 20 ls -A "$R$R") || fail "ls $R$R failed or hung (status $?)"
assert_eq "$out" "underlying-marker" "ls -A $R$R"
out=$(timeout 20 cat "$R$R/underlying-marker") ||
	fail "cat $R$R/underlying-marker failed or hung"
assert_eq "$out" underneath "content of the underlying marker file"
if timeout 20 stat "$R$R$T" >/dev/null 2>&1; then
	fail "$R$R$T exists: the view recursed into its own mount"
fi
check "the rest of / is visible as usual"
assert_same_file "$B/file" "$R$B/file"
assert_same_file /etc/os-release "$R/etc/os-release"
timeout 20 ls "$R$T" | grep -qx root || fail "ls $R$T does not show 'root'"
check "a program and its libraries run from the view (exec, mmap, imports)"
py=$(readlink -f /usr/bin/python3)
out=$(cd / && timeout 120 "$R$py" -c \
	'import sys, json, email.parser, sqlite3; print(sys.prefix, json.dumps([1]))') ||
	fail "$R$py from the view failed (status $?)"
assert_eq "$out" "$R/usr [1]" "python from the view: sys.prefix and output"
ctl status >/dev/null || fail "canopyctl status failed on the view of /"
canopy_stop "$DPID"
stopped_cleanly TERM "$R"

check "SIGTERM with a file held open in the mount: exits 0, unmounted"
canopy_start held --export "$B"
exec 7<"$MNT$B/file"
(cd "$MNT$B/sub" && exec sleep 600) &
cwdpid=$!
on_exit "kill $cwdpid 2>/dev/null; wait $cwdpid 2>/dev/null"
deadline=$((SECONDS + 10))
until [ "$(readlink "/proc/$cwdpid/cwd" 2>/dev/null)" = "$MNT$B/sub" ]; do
	alive "$cwdpid" || fail "could not start a process in $MNT$B/sub"
	((SECONDS < deadline)) || fail "no process with its cwd in the mount"
	sleep 0.05
done
canopy_stop "$DPID" TERM ||
	fail "canopyd did not stop on SIGTERM with a file open and a cwd in the mount"
exec 7<&-
kill "$cwdpid" 2>/dev/null || true
wait "$cwdpid" 2>/dev/null || true
stopped_cleanly TERM "$MNT"

# cache_mounts DIR: how many mounts there are on DIR
cache_mounts() {
	awk -v d="$1" '$5 == d { n++ } END { print n + 0 }' /proc/self/mountinfo
}

check "a second canopyd on a cache directory in use is refused, and the"
check "first one's cache is left as it was"
canopy_start one --export "$B"
cat "$MNT$B/file" >/dev/null
one_pid=$DPID one_mnt=$MNT one_cache=$CACHE one_sock=$SOCK
files0=$(find "$one_cache" -name '*.cnp' | wc -l)
assert_int "$files0 -ge 1" "no cache file after a read"
assert_eq "$(cache_mounts "$one_cache")" 1 "mounts on the cache dir"
mkdir -p "$T/two/mnt"
rc=0
timeout 30 "$CANOPYD" -f --export "$B" --cache-dir "$one_cache" \
	--ctl-socket "$T/two/ctl.sock" "$T/two/mnt" >"$T/logs/two.log" 2>&1 ||
	rc=$?
assert_int "$rc -ne 0" "the second canopyd exited 0"
grep -q "in use by another canopyd" "$T/logs/two.log" ||
	fail "the second canopyd did not say why: $(cat "$T/logs/two.log")"
if is_mounted "$T/two/mnt"; then
	fail "the refused canopyd left $T/two/mnt mounted"
fi
assert_eq "$(cache_mounts "$one_cache")" 1 "mounts on the cache dir"
assert_eq "$(find "$one_cache" -name '*.cnp' | wc -l)" "$files0" \
	"cache files of the first daemon"
assert_same_file "$B/file" "$one_mnt$B/file"

check "SIGKILL leaves the cache tmpfs mounted; the next start takes it down"
canopy_stop "$one_pid" KILL || true
umount -l "$one_mnt" 2>/dev/null || true
assert_eq "$(cache_mounts "$one_cache")" 1 "mounts on the cache dir after SIGKILL"
canopy_start one --export "$B"
grep -q "unmounted the cache tmpfs that a stopped canopyd left on" "$LOG" ||
	fail "the new daemon did not take down the old cache tmpfs"
assert_eq "$(cache_mounts "$one_cache")" 1 "mounts on the cache dir"
assert_same_file "$B/file" "$MNT$B/file"
canopy_stop "$DPID"
stopped_cleanly TERM "$MNT"
assert_eq "$(cache_mounts "$one_cache")" 0 "mounts on the cache dir at exit"
say "ok"
