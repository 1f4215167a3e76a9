#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# canopy-launch and canopy-stop in a simulated job of 4 nodes on this one
# machine: the fake srun, pdsh and mpiexec of tests/func/fake-sched run each
# "node" as a local process with the environment the real launcher gives
# (SLURMD_NODENAME; pdsh: a bare ssh-like environment, the node name from
# the fake `hostname`). Every node has its own port, mount point, cache
# directory and control socket through %n in the paths.
#
#   - Slurm (srun, held step): launch returns 0 once all 4 report ready,
#     each mount serves the backing bytes (sha256 of a small and a
#     multi-block file), the recorded pids are canopyd, the configuration's
#     kernel.enable_uring was applied (to a stand-in /sys, CANOPY_SYS) and
#     logged by each node; canopy-stop leaves
#     no mount (/proc/self/mountinfo) and no canopyd (those pids, and no
#     process with a canopyd command line under the test's directory), the
#     held srun ends; a second canopy-stop is a no-op that exits 0;
#   - Slurm, one mount point unusable: launch names that node and why, exits
#     1, and stops the 3 that came up by itself;
#   - Slurm, one node's port taken, --keep-going: launch names the node,
#     exits 1, leaves 3 running; canopy-stop ends them;
#   - PBS with pdsh ($PBS_NODEFILE listing each host once a slot) and PBS
#     with mpiexec: ready, bytes, stop.
. "$(dirname "$0")/lib.sh"
canopy_init

CFG=$CANOPY_ROOT/config
FAKE=$FUNC_DIR/fake-sched
export PATH=$FAKE:$PATH
# no real scheduler's environment leaks in
for v in $(compgen -e | grep -E '^(SLURM_|SLURMD_|PBS_)' || true); do
	unset "$v"
done
export CANOPYD CANOPYCTL

STATE=$T/state
SRC=$T/src
mkdir -p "$STATE" "$SRC"
mkdata "$SRC/small" 4000 launch-small
mkdata "$SRC/big" $((9 << 20)) launch-big
SHA_SMALL=$(sha "$SRC/small")
SHA_BIG=$(sha "$SRC/big")
NODES=(n1 n2 n3 n4)

# If the test fails half-way: canopy-stop every job launched, then any pid
# a node recorded that is still that canopyd (lib.sh's trap then lazily
# unmounts whatever is left under $T).
JOBS=()
HELPERS=()
emergency_stop() {
	local j p f
	for j in "${JOBS[@]}"; do
		[ -e "$STATE/${j//\//_}/launch.env" ] || continue
		timeout 60 "$CFG/canopy-stop" --job "$j" --state-dir "$STATE" \
			>/dev/null 2>&1
	done
	for f in "$STATE"/*/*/pid; do
		[ -s "$f" ] || continue
		p=$(cat "$f")
		alive "$p" && tr '\0' '\n' <"/proc/$p/cmdline" | head -1 |
			grep -q canopyd && kill -KILL "$p"
	done
	for p in "${HELPERS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	return 0
}
on_exit emergency_stop

# launch TAG [canopy-launch options]: the job id from the scheduler's
# environment (JOBID, also what canopy-stop finds by itself), the paths of
# the nodes under $T/TAG; ports from canopy_ports unless PORTS is set. Sets
# LRC, LOUT, LAUNCH_SECS.
launch() {
	local tag=$1 t0
	shift
	JOBID=${SLURM_JOB_ID:-${PBS_JOBID:-}}
	JOBS+=("$JOBID")
	if [ -n "${PORTS:-}" ]; then
		PORT_BASE=$PORTS
	else
		canopy_ports 4
	fi
	t0=$(date +%s%N)
	LRC=0
	"$CFG/canopy-launch" --state-dir "$STATE" \
		--topo-dir "$T/topo-$tag" --export "$SRC" --addr 127.0.0.1 \
		--port "$PORT_BASE" --port-step 1 \
		--peer-timeout "$CANOPY_PEER_TIMEOUT" \
		--mount "$T/$tag/%n/mnt" --cache-dir "$T/$tag/%n/cache" \
		--ctl-socket "$T/$tag/%n/ctl.sock" \
		--timeout "$CANOPY_READY_TIMEOUT" "$@" \
		-- --cache-tmpfs false --log-level "$CANOPY_LOG_LEVEL" \
		${LAUNCH_EXTRA:-} \
		>"$T/logs/launch-$tag.log" 2>&1 || LRC=$?
	LAUNCH_SECS=$(awk -v ns=$(($(date +%s%N) - t0)) \
		'BEGIN { printf "%.2f", ns / 1e9 }')
	LOUT=$(cat "$T/logs/launch-$tag.log")
	sed 's/^/  | /' "$T/logs/launch-$tag.log"
}

# pids_of: the pids the nodes of job $JOBID recorded
pids_of() {
	cat "$STATE/${JOBID//\//_}"/*/pid 2>/dev/null | tr '\n' ' ' || true
}

# canopyd processes whose command line runs under $T/JOB
strays() {
	local p c
	for p in /proc/[0-9]*; do
		c=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		case $c in
		*canopyd*" $T/$1/"*) printf '%s ' "${p#/proc/}" ;;
		esac
	done
}

# ready_and_reads TAG NODE...: each node mounted, its pid a canopyd, the
# bytes through its mount those of the backing files
ready_and_reads() {
	local job=$1 n pid m
	shift
	for n in "$@"; do
		m=$T/$job/$n/mnt
		is_mounted "$m" || fail "$job: $n: $m is not mounted"
		pid=$(cat "$STATE/${JOBID//\//_}/$n/pid" 2>/dev/null) ||
			fail "$job: $n recorded no pid"
		tr '\0' '\n' <"/proc/$pid/cmdline" | head -1 | grep -q canopyd ||
			fail "$job: $n: pid $pid is not canopyd"
		assert_eq "$(sha "$m$SRC/small")" "$SHA_SMALL" \
			"$job: sha256 of small through $n"
		assert_eq "$(sha "$m$SRC/big")" "$SHA_BIG" \
			"$job: sha256 of big through $n"
	done
}

# all_gone JOB PIDS: no mount under $T/JOB, none of PIDS alive, no stray
all_gone() {
	local job=$1 p left
	left=$(mounts_under "$T/$job" | tr '\n' ' ')
	[ -z "$left" ] || fail "$job: still mounted: $left"
	for p in $2; do
		alive "$p" && fail "$job: canopyd pid $p still runs"
	done
	left=$(strays "$job")
	[ -z "$left" ] || fail "$job: canopyd processes left: $left"
	return 0
}

stop_job() { # TAG: canopy-stop (the job from the environment), exit 0
	local rc=0
	"$CFG/canopy-stop" --state-dir "$STATE" >"$T/stop.out" 2>&1 || rc=$?
	cat "$T/stop.out" >>"$T/logs/stop-$1.log"
	sed 's/^/  | /' "$T/stop.out"
	assert_eq "$rc" 0 "exit status of canopy-stop for $1"
}

# ---- Slurm: 4 nodes --------------------------------------------------
check "Slurm: canopy-launch brings up 4 daemons through srun"
export SLURM_JOB_ID=4101 SLURM_JOB_NODELIST='n[1-4]' SLURM_JOB_NUM_NODES=4
KNOB=module/fuse/parameters/enable_uring
mkdir -p "$T/sys/${KNOB%/*}"
echo N >"$T/sys/$KNOB"
real_knob=$(cat "/sys/$KNOB" 2>/dev/null || echo none)
CANOPY_SYS=$T/sys LAUNCH_EXTRA="--kernel-enable-uring true" launch slurm
assert_eq "$LRC" 0 "exit status of canopy-launch"
grep -q '4 of 4 nodes ready' <<<"$LOUT" || fail "no '4 of 4 nodes ready'"
say "  launch to ready: ${LAUNCH_SECS}s for 4 nodes"
SLURM_READY=$LAUNCH_SECS
hold=$(sed -n 's/^hold_pid=\([0-9][0-9]*\)$/\1/p' "$STATE/$JOBID/launch.env")
[ -n "$hold" ] && alive "$hold" || fail "no held srun step running"
ready_and_reads slurm "${NODES[@]}"
check "Slurm: each node applied kernel.enable_uring before canopyd"
assert_eq "$(cat "$T/sys/$KNOB")" Y "enable_uring in the stand-in /sys"
assert_eq "$(cat "/sys/$KNOB" 2>/dev/null || echo none)" "$real_knob" \
	"the real enable_uring (untouched)"
for n in "${NODES[@]}"; do
	grep -q 'canopy-tunables: .*enable_uring' "$STATE/$JOBID/$n/canopyd.log" ||
		fail "$n: no canopy-tunables line in its log"
done
pids=$(pids_of)
assert_eq "$(wc -w <<<"$pids")" 4 "pids recorded"

check "Slurm: canopy-stop leaves no mount, no canopyd, no srun"
stop_job slurm
all_gone slurm "$pids"
alive "$hold" && fail "the held srun (pid $hold) still runs"
check "Slurm: canopy-stop again is a no-op"
stop_job slurm

# ---- Slurm: a node whose mount point is unusable ----------------------
check "Slurm: n3's mount point is a file: launch names n3 and stops the rest"
mkdir -p "$T/badmnt/n3"
: >"$T/badmnt/n3/mnt"
export SLURM_JOB_ID=4102
launch badmnt
assert_eq "$LRC" 1 "exit status of canopy-launch with n3 broken"
grep -q '1 of 4 nodes not ready' <<<"$LOUT" || fail "no '1 of 4 not ready'"
grep -qE '^  n3: .*not a directory' <<<"$LOUT" ||
	fail "canopy-launch did not say why n3 failed"
grep -qE '^  n[124]:' <<<"$LOUT" && fail "a healthy node was reported"
all_gone badmnt "$(pids_of)"
stop_job badmnt

# ---- Slurm: a node whose port is taken, --keep-going ------------------
check "Slurm: n2's port is taken, --keep-going: n2 named, 3 left for canopy-stop"
export SLURM_JOB_ID=4103
# canopy_ports inside launch picks the ports; take n2's from the start of a
# free range found here, and give launch that range
canopy_ports 4
taken=$((PORT_BASE + 1))
$PY -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("ok", flush=True); time.sleep(600)' "$taken" >"$T/holder.out" &
HELPERS+=($!)
holder=$!
deadline=$((SECONDS + 10))
until grep -q ok "$T/holder.out"; do
	alive "$holder" || fail "could not take port $taken"
	((SECONDS < deadline)) || fail "port holder not ready"
	sleep 0.05
done
PORTS=$PORT_BASE launch busyport --keep-going
kill -TERM "$holder"
assert_eq "$LRC" 1 "exit status of canopy-launch with n2's port taken"
grep -qE '^  n2: ' <<<"$LOUT" || fail "canopy-launch did not name n2"
grep -q 'keep-going' <<<"$LOUT" || fail "no --keep-going note"
ready_and_reads busyport n1 n3 n4
pids=$(pids_of)
assert_eq "$(wc -w <<<"$pids")" 3 "pids recorded with n2 down"
stop_job busyport
grep -q 'n2 not-running' "$STATE/$JOBID/stop.log" ||
	fail "canopy-node did not report n2 as not running"
all_gone busyport "$pids"

# ---- PBS: pdsh, then mpiexec -------------------------------------------
unset SLURM_JOB_ID SLURM_JOB_NODELIST SLURM_JOB_NUM_NODES
printf 'n1\nn1\nn1\nn2\nn2\nn2\nn3\nn3\nn3\nn4\nn4\nn4\n' >"$T/PBS_NODEFILE"
export PBS_NODEFILE=$T/PBS_NODEFILE

check "PBS: canopy-launch through pdsh from \$PBS_NODEFILE"
export PBS_JOBID=5101.pbs01
launch pbs-pdsh
assert_eq "$LRC" 0 "exit status of canopy-launch (pdsh)"
grep -q 'launcher pdsh' <<<"$LOUT" || fail "pdsh was not chosen under PBS"
grep -q '4 of 4 nodes ready' <<<"$LOUT" || fail "no '4 of 4 nodes ready'"
say "  launch to ready: ${LAUNCH_SECS}s for 4 nodes (pdsh)"
ready_and_reads pbs-pdsh "${NODES[@]}"
pids=$(pids_of)
stop_job pbs-pdsh
all_gone pbs-pdsh "$pids"

check "PBS: canopy-launch through mpiexec (-ppn 1)"
export PBS_JOBID=5102.pbs01
launch pbs-mpi --launcher mpiexec
assert_eq "$LRC" 0 "exit status of canopy-launch (mpiexec)"
grep -q '4 of 4 nodes ready' <<<"$LOUT" || fail "no '4 of 4 nodes ready'"
ready_and_reads pbs-mpi n1 n4
pids=$(pids_of)
stop_job pbs-mpi
all_gone pbs-mpi "$pids"

say "ok: 4 nodes ready ${SLURM_READY}s after canopy-launch (srun)"
