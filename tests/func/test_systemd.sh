#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# systemd integration: the units `make install DESTDIR=...` writes pass
# `systemd-analyze verify` (canopyd.service, and canopyd@.service as the
# instance of /lus/proj); canopyd -f under a notification socket the test
# owns (as systemd would give it) sends STATUS while starting, READY=1 only
# once the mount is up, WATCHDOG=1 repeatedly at half of WATCHDOG_USEC, and
# STOPPING=1 on SIGTERM; with WATCHDOG_PID naming another process it does
# not pet; in a 2-node tree the child started first reports READY=1 only
# after its parent is up, and a child whose parent never comes reports
# READY=1 after transport.ready_wait with a STATUS naming the parent; no
# WATCHDOG=1 comes before READY=1.
. "$(dirname "$0")/lib.sh"
canopy_init

B=$T/backing
mkdir -p "$B/sub"
mkdata "$B/file" 100000 systemd

# ---- the installed units -------------------------------------------------

check "make install DESTDIR= writes both units and the tunables helper"
R=$T/root
# the binaries under test, as built: -o all keeps make from rebuilding them
variant=$(basename "$(dirname "$CANOPYD")")
if [ "$variant" = release ]; then variant=; fi
make -s -C "$CANOPY_ROOT" -o all install DESTDIR="$R" SAN="$variant" \
	>"$T/logs/install.log" 2>&1 ||
	fail "make install DESTDIR=$R failed: $(tail -5 "$T/logs/install.log")"
for f in usr/local/bin/canopyd usr/local/bin/canopyctl \
	usr/local/bin/canopy-tunables; do
	[ -x "$R/$f" ] || fail "make install did not install $f"
done
U=$R/lib/systemd/system
for u in canopyd.service canopyd@.service; do
	[ -f "$U/$u" ] || fail "make install did not install $u"
	if grep -n '@BINDIR@' "$U/$u" "$R/usr/local/bin/canopy-tunables"; then
		fail "@BINDIR@ left in the installed files"
	fi
	grep -q '^ExecStart=/usr/local/bin/canopyd -f ' "$U/$u" ||
		fail "$u: ExecStart does not run /usr/local/bin/canopyd -f"
	grep -q '^Type=notify$' "$U/$u" || fail "$u is not Type=notify"
	grep -q '^WatchdogSec=' "$U/$u" || fail "$u has no WatchdogSec"
done

check "systemd-analyze verify passes on the installed units"
if ! command -v systemd-analyze >/dev/null; then
	skip "no systemd-analyze (make deps installs the systemd package)"
fi
# --root= resolves every unit and executable inside $R: give it the host's
# units (for sysinit.target and the rest of the default dependencies) and
# the programs the units name
cp -rn /lib/systemd/system/. "$U/"
mkdir -p "$R/bin"
cp /bin/mkdir /bin/sh "$R/bin/"
ln -s canopyd@.service "$U/canopyd@lus-proj.service"
assert_eq "$(systemd-escape --path /lus/proj)" lus-proj \
	"systemd-escape --path /lus/proj"
for u in canopyd.service canopyd@lus-proj.service; do
	rc=0
	out=$(systemd-analyze verify --root="$R" "$u" 2>&1) || rc=$?
	# verify warns about unknown keys and bad values but exits 0: any
	# output is a failure
	if [ "$rc" != 0 ] || [ -n "$out" ]; then
		fail "systemd-analyze verify $u: exit $rc: $out"
	fi
	say "  $u: verified"
done
check "verify would catch a broken unit (the check above is not vacuous)"
sed 's/^WatchdogSec=.*/WatchdogSec=soon/' "$U/canopyd.service" \
	>"$U/canopy-broken.service"
out=$(systemd-analyze verify --root="$R" canopy-broken.service 2>&1) || true
case $out in
*WatchdogSec* | *"sec value"*) say "  caught: $out" ;;
*) fail "systemd-analyze verify missed WatchdogSec=soon: '$out'" ;;
esac

# ---- readiness, status, watchdog, stopping -------------------------------

# listen NAME MNT: a notification socket $T/NAME.notify whose messages go
# to $T/NAME.msgs; sets LPID, NSOCK, MSGS
listen() {
	NSOCK=$T/$1.notify
	MSGS=$T/$1.msgs
	: >"$MSGS"
	$PY "$FUNC_DIR/notifysock.py" "$NSOCK" "$MSGS" "$2" 120 &
	LPID=$!
	on_exit "kill $LPID 2>/dev/null; true"
	local i
	for i in $(seq 100); do
		grep -q LISTENING "$MSGS" && return 0
		sleep 0.05
	done
	fail "notifysock.py did not start"
}

# wait_msg KEY=VALUE [SECONDS]: until a message line has it
wait_msg() {
	local deadline=$((SECONDS + ${2:-$CANOPY_READY_TIMEOUT}))
	while ! grep -q " $1\$" "$MSGS"; do
		((SECONDS < deadline)) || fail "no $1 within ${2:-$CANOPY_READY_TIMEOUT}s;" \
			"got: $(cut -d' ' -f3- "$MSGS" | tr '\n' '|')"
		sleep 0.05
	done
}

# msg_time KEY=VALUE: the time of the first message with it
msg_time() {
	awk -v m="$1" '$3 == m { print $1; exit }' "$MSGS"
}

check "READY=1 arrives once the mount is up, after STATUS lines"
D=$T/one
mkdir -p "$D/mnt" "$D/cache"
listen one "$D/mnt"
# WATCHDOG_PID is canopyd's own: exec keeps the pid of the shell
say "start: canopyd -f under NOTIFY_SOCKET=$NSOCK WATCHDOG_USEC=2000000"
env NOTIFY_SOCKET="$NSOCK" WATCHDOG_USEC=2000000 sh -c \
	'WATCHDOG_PID=$$ exec "$@"' sh "$CANOPYD" -f --export "$B" \
	--cache-dir "$D/cache" --ctl-socket "$D/ctl.sock" \
	--log-level "$CANOPY_LOG_LEVEL" "$D/mnt" \
	>>"$T/logs/canopyd-one.log" 2>&1 </dev/null &
DPID=$!
_DAEMONS+=("$DPID")
wait_msg READY=1
line=$(grep -m1 ' READY=1$' "$MSGS")
assert_eq "$(echo "$line" | cut -d' ' -f2)" 1 \
	"mounted when READY=1 arrived ($line)"
is_mounted "$D/mnt" || fail "READY=1, but $D/mnt is not mounted"
assert_same_file "$B/file" "$D/mnt$B/file"
grep -q ' STATUS=mounting ' "$MSGS" || fail "no STATUS=mounting before READY"
awk '/ READY=1$/ { exit } / STATUS=mounting / { f = 1 } END { exit !f }' \
	"$MSGS" || fail "STATUS=mounting came after READY=1"
grep -q " STATUS=serving $D/mnt\$" "$MSGS" ||
	fail "no STATUS=serving $D/mnt: $(cut -d' ' -f3- "$MSGS" | tr '\n' '|')"

check "WATCHDOG=1 every second (half of WATCHDOG_USEC=2 s): 3 or more in 4 s"
t0=$(date +%s.%N)
sleep 4
n=$(awk -v t0="$t0" '$3 == "WATCHDOG=1" && $1 >= t0' "$MSGS" | wc -l)
assert_int "$n -ge 3" "WATCHDOG=1 messages in 4 s: $n"
assert_int "$n -le 6" "WATCHDOG=1 messages in 4 s: $n (more than half)"
say "  $n pets in 4 s"
# never a gap near the interval (2 s) between two pets
gap=$(awk '$3 == "WATCHDOG=1" { if (p) { d = $1 - p; if (d > m) m = d }
	p = $1 } END { printf "%.2f", m }' "$MSGS")
awk -v g="$gap" 'BEGIN { exit !(g < 1.8) }' ||
	fail "longest gap between two WATCHDOG=1: ${gap}s (interval 2 s)"
say "  longest gap ${gap}s"

check "SIGTERM: STOPPING=1, then exit 0 and unmounted"
canopy_stop "$DPID" TERM || fail "canopyd ignored SIGTERM"
assert_eq "$STOP_RC" 0 "exit status after SIGTERM"
wait_msg STOPPING=1 5
is_mounted "$D/mnt" && fail "$D/mnt still mounted after exit"
wait "$LPID" 2>/dev/null || true

check "WATCHDOG_PID of another process: no WATCHDOG=1"
D=$T/other
mkdir -p "$D/mnt" "$D/cache"
listen other "$D/mnt"
NOTIFY_SOCKET="$NSOCK" WATCHDOG_USEC=1000000 WATCHDOG_PID=1 \
	canopy_spawn other "$D/mnt" --export "$B" --cache-dir "$D/cache" \
	--ctl-socket "$D/ctl.sock"
wait_msg READY=1
sleep 2
n=$(grep -c ' WATCHDOG=1$' "$MSGS" || true)
assert_eq "$n" 0 "WATCHDOG=1 messages with WATCHDOG_PID=1"
canopy_stop "$DPID" TERM
assert_eq "$STOP_RC" 0 "exit status after SIGTERM"

# ---- in a tree: the parent first ----------------------------------------

check "2-node tree: the child started first is READY only once its parent is up"
canopy_ports 2
TOPO=$T/tree.json
canopy_topology "$TOPO" 2 exports="$B" roots=1 fanout=2
for n in n1 n2; do mkdir -p "$T/$n/mnt" "$T/$n/cache"; done
listen n2 "$T/n2/mnt"
NOTIFY_SOCKET="$NSOCK" WATCHDOG_USEC=1000000 \
	canopy_spawn tree-n2 "$T/n2/mnt" -c "$TOPO" \
	--node n2 --cache-dir "$T/n2/cache" --ctl-socket "$T/n2/ctl.sock" \
	--cache-tmpfs false --log-level "$CANOPY_LOG_LEVEL"
CHILD=$DPID
sleep 2
grep -q ' READY=1$' "$MSGS" && fail "the child was READY before its parent ran"
wait_msg "STATUS=waiting for parent n1" 5
parent_t=$(date +%s.%N)
canopy_spawn tree-n1 "$T/n1/mnt" -c "$TOPO" --node n1 \
	--cache-dir "$T/n1/cache" --ctl-socket "$T/n1/ctl.sock" \
	--cache-tmpfs false --log-level "$CANOPY_LOG_LEVEL"
PARENT=$DPID
wait_msg READY=1
ready_t=$(msg_time READY=1)
$PY -c "import sys; sys.exit(not $ready_t > $parent_t)" ||
	fail "child READY=1 at $ready_t, before the parent started at $parent_t"
grep -q " STATUS=serving $T/n2/mnt\$" "$MSGS" ||
	fail "the child's last STATUS is not 'serving': $(tail -3 "$MSGS")"
# systemd arms the watchdog at the first pet: none while still starting
awk '/ READY=1$/ { exit } / WATCHDOG=1$/ { f = 1 } END { exit f }' "$MSGS" ||
	fail "WATCHDOG=1 before READY=1, while waiting for the parent"
say "  READY=1 $($PY -c "print('%.2f' % ($ready_t - $parent_t))")s after the parent started"
assert_same_file "$B/file" "$T/n2/mnt$B/file"
canopy_stop "$CHILD" TERM
assert_eq "$STOP_RC" 0 "child exit status"

check "a parent that never comes: READY=1 after transport.ready_wait, naming it"
listen lone "$T/n2/mnt"
t0=$(date +%s.%N)
canopy_stop "$PARENT" TERM
NOTIFY_SOCKET="$NSOCK" canopy_spawn tree-n2b "$T/n2/mnt" -c "$TOPO" \
	--node n2 --cache-dir "$T/n2/cache" --ctl-socket "$T/n2/ctl.sock" \
	--cache-tmpfs false --ready-wait 3 --log-level "$CANOPY_LOG_LEVEL"
CHILD=$DPID
wait_msg READY=1 $((CANOPY_READY_TIMEOUT + 3 * CANOPY_PEER_TIMEOUT))
ready_t=$(msg_time READY=1)
waited=$($PY -c "print('%.1f' % ($ready_t - $t0))")
$PY -c "import sys; sys.exit(not $waited >= 3)" ||
	fail "READY=1 after ${waited}s, before ready_wait (3 s) had passed"
grep -q ' STATUS=serving .*unreachable parents: n1 ' "$MSGS" ||
	fail "no STATUS naming the unreachable parent n1: $(tail -3 "$MSGS")"
say "  READY=1 after ${waited}s: $(grep -m1 'unreachable' "$MSGS" | cut -d' ' -f3-)"
# the node works without its parent: the tree fails over
assert_same_file "$B/file" "$T/n2/mnt$B/file"
canopy_stop "$CHILD" TERM
assert_eq "$STOP_RC" 0 "child exit status"
say "ok"
