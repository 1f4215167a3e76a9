# SPDX-License-Identifier: MIT
# tests/func/lib.sh - shared helpers of canopy's functional tests.
#
# A test sources this file first, then calls canopy_init. It gets:
#   T               its own temporary directory (real path, no symlinks);
#                   tests/run passes one in CANOPY_TEST_TMP and removes it,
#                   a test started by hand makes and removes its own
#   canopy_start    canopyd -f in the background with its own mount point,
#                   cache dir, control socket and log under $T, ready when it
#                   returns (canopyctl status answers and the mount is there)
#   canopy_stop     signal a daemon, wait for it, give its exit status
#   ctl, stat_get   canopyctl against the current daemon; one stats key
#   check/fail/skip progress line; failure (exit 1); skip (exit 77)
#   on_exit CMD     run CMD at exit (restore a sysctl, stop a helper)
# and a trap that, on any exit, stops every daemon it started by pid (TERM,
# KILL after a grace period), runs the on_exit commands, lazily unmounts
# whatever is still mounted under $T, prints the daemon logs' tails if the
# test failed, and removes $T.
#
# Exit status: 0 pass, 77 skip, anything else fail. Errors under `set -e`
# print the failing command and its line.

set -eEuo pipefail

PY=/usr/bin/python3
FUNC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CANOPY_ROOT=$(cd "$FUNC_DIR/../.." && pwd)
: "${CANOPYD:=$CANOPY_ROOT/build/canopyd}"
: "${CANOPYCTL:=$CANOPY_ROOT/build/canopyctl}"
: "${CANOPY_SANITIZER:=}"
# start-up is slower under the sanitizers
# and so are peers' answers: the default transport.timeout of topologies
if [ -n "$CANOPY_SANITIZER" ]; then
	: "${CANOPY_READY_TIMEOUT:=60}"
	: "${CANOPY_PEER_TIMEOUT:=10}"
else
	: "${CANOPY_READY_TIMEOUT:=20}"
	: "${CANOPY_PEER_TIMEOUT:=2}"
fi
: "${CANOPY_STOP_TIMEOUT:=20}"
: "${CANOPY_LOG_LEVEL:=info}"

T=
_T_OWNED=0
_DAEMONS=()
_ON_EXIT=()

say() { printf '%s\n' "$*"; }
check() { printf 'check: %s\n' "$*"; }
note() { printf 'note: %s\n' "$*"; }
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# assert_int EXPR WHAT: a test(1) expression, e.g. assert_int "$a -gt 0" "..."
assert_int() {
	# shellcheck disable=SC2086
	[ $1 ] || fail "$2 (not true: $1)"
}

# assert_same_file EXPECTED ACTUAL: identical bytes
assert_same_file() {
	local out
	if ! out=$(cmp -- "$1" "$2" 2>&1); then
		fail "bytes differ: $1 vs $2: $out"
	fi
}

on_exit() {
	_ON_EXIT+=("$*")
}

# alive PID: the process exists and is not a zombie
alive() {
	local st
	st=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# slow_pfs_start DIR MNT: a backing store whose every metadata operation
# takes 1 s, at MNT: pfsmodel, the benchmarks' model of a parallel file
# system (8 service slots), over DIR, which gets d1/f ("one"), d2/f
# ("two") and empty d1/g, d2/g. It serves lookups in one directory one at
# a time, hence two directories; its kernel caches what it looked up. It
# is stopped at exit by unmounting it, as a FUSE server ends normally (a
# signal makes libfuse's exit run inside its handler, which
# ThreadSanitizer reports).
PFSPID=
slow_pfs_start() {
	local dir=$1 bin
	PFSMNT=$2
	bin=$(dirname "$(readlink -f "$CANOPYD")")/benchmarks/pfsmodel
	[ -x "$bin" ] || fail "no pfsmodel at $bin (make first)"
	mkdir -p "$dir/d1" "$dir/d2" "$PFSMNT"
	echo one >"$dir/d1/f"
	echo two >"$dir/d2/f"
	touch "$dir/d1/g" "$dir/d2/g"
	"$bin" --slots=8 --meta-us=1000000 --cache-timeout=600 "$dir" \
		"$PFSMNT" -f >"$T/logs/pfsmodel.log" 2>&1 &
	PFSPID=$!
	on_exit '[ -z "$PFSPID" ] || { umount "$PFSMNT" 2>/dev/null ||' \
		'kill "$PFSPID" 2>/dev/null; wait "$PFSPID" 2>/dev/null; true; }'
	for _ in $(seq 100); do is_mounted "$PFSMNT" && return 0; sleep 0.1; done
	fail "pfsmodel did not mount $PFSMNT"
}

# slow_pfs_stop: unmount it; its exit status must be 0
slow_pfs_stop() {
	local rc=0
	umount "$PFSMNT" || fail "cannot unmount pfsmodel at $PFSMNT"
	wait "$PFSPID" || rc=$?
	PFSPID=
	assert_eq "$rc" 0 "pfsmodel's exit status"
}

# is_mounted PATH: PATH is a mount point (from mountinfo: never stats PATH,
# which would hang on a stuck FUSE mount)
is_mounted() {
	awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# mounts_under DIR: mount points at or below DIR, deepest first
mounts_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' \
		/proc/self/mountinfo | sort -r
}

_unmount_all() {
	local m
	for m in $(mounts_under "$1"); do
		umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null ||
			echo "warning: could not unmount $m" >&2
	done
}

_forget_daemon() {
	local p keep=()
	for p in "${_DAEMONS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	_DAEMONS=("${keep[@]}")
}

_cleanup() {
	local rc=$? p i deadline f
	set +eE
	trap - ERR
	for p in "${_DAEMONS[@]}"; do
		alive "$p" && kill -TERM "$p" 2>/dev/null
		# a stopped daemon (a test's SIGSTOP) acts on SIGTERM once resumed
		kill -CONT "$p" 2>/dev/null
	done
	deadline=$((SECONDS + 10))
	for p in "${_DAEMONS[@]}"; do
		while alive "$p" && ((SECONDS < deadline)); do
			sleep 0.1
		done
		if alive "$p"; then
			echo "cleanup: daemon $p ignored SIGTERM for 10s: SIGKILL" >&2
			kill -KILL "$p" 2>/dev/null
		fi
		wait "$p" 2>/dev/null
	done
	for ((i = ${#_ON_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_ON_EXIT[$i]}" || echo "cleanup: '${_ON_EXIT[$i]}' failed" >&2
	done
	if [ -n "$T" ]; then
		_unmount_all "$T"
		if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -d "$T/logs" ]; then
			for f in "$T"/logs/*.log; do
				[ -s "$f" ] || continue
				echo "---- last 40 lines of $f ----" >&2
				tail -n 40 "$f" >&2
			done
		fi
		if [ "$_T_OWNED" = 1 ]; then
			if [ -z "$(mounts_under "$T")" ]; then
				rm -rf --one-file-system "$T"
			else
				echo "cleanup: $T still has mounts; not removed" >&2
			fi
		fi
	fi
	exit "$rc"
}

_on_err() {
	echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}: command failed" \
		"(status $1): $BASH_COMMAND" >&2
}

# canopy_init: root and /dev/fuse or skip; binaries; $T; traps
canopy_init() {
	[ "$(id -u)" = 0 ] || skip "needs root (real FUSE mounts)"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	[ -x "$CANOPYD" ] || fail "no canopyd at $CANOPYD (make first)"
	[ -x "$CANOPYCTL" ] || fail "no canopyctl at $CANOPYCTL (make first)"
	trap _cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap '_on_err $?' ERR
	if [ -n "${CANOPY_TEST_TMP:-}" ]; then
		mkdir -p "$CANOPY_TEST_TMP"
		T=$(realpath "$CANOPY_TEST_TMP")
	else
		T=$(realpath "$(mktemp -d "${TMPDIR:-/tmp}/canopy-test.XXXXXX")")
		_T_OWNED=1
	fi
	chmod 755 "$T"
	mkdir -p "$T/logs"
	say "temp dir: $T"
}

# canopy_spawn NAME MNT ARGS...: canopyd -f ARGS MNT in the background, its
# stdout and stderr in $T/logs/canopyd-NAME.log; sets DPID and LOG. SIGINT
# and SIGQUIT get their default action back (bash ignores them in background
# jobs, a user's terminal does not).
canopy_spawn() {
	local name=$1 mnt=$2
	shift 2
	LOG=$T/logs/canopyd-$name.log
	say "start: canopyd -f $* $mnt"
	env --default-signal=INT,QUIT "$CANOPYD" -f "$@" "$mnt" \
		>>"$LOG" 2>&1 </dev/null &
	DPID=$!
	_DAEMONS+=("$DPID")
}

# test_fuse_uring.sh runs other tests with CANOPY_EXPECT_URING=1: every
# daemon must then serve over FUSE-over-io_uring
_expect_uring() {
	local pid=$1 q
	shift
	q=$(timeout 10 "$CANOPYCTL" "$@" status --json | $PY -c \
		'import json, sys; print(json.load(sys.stdin)["uring_queues"])')
	[ "$q" -gt 0 ] ||
		fail "canopyd (pid $pid) is not on io_uring (uring_queues $q)"
}

# canopy_wait_ready PID MNT [CTL-ARGS...]: canopyctl status answers and MNT
# is a mount point, within CANOPY_READY_TIMEOUT seconds
canopy_wait_ready() {
	local pid=$1 mnt=$2 rc=0 t0=$SECONDS
	shift 2
	local deadline=$((SECONDS + CANOPY_READY_TIMEOUT))
	while :; do
		if ! alive "$pid"; then
			wait "$pid" || rc=$?
			_forget_daemon "$pid"
			fail "canopyd (pid $pid) exited with status $rc before" \
				"it was ready"
		fi
		if is_mounted "$mnt" &&
			timeout 10 "$CANOPYCTL" "$@" status >/dev/null 2>&1; then
			say "ready: canopyd pid $pid on $mnt after $((SECONDS - t0))s"
			[ "${CANOPY_EXPECT_URING:-}" = 1 ] &&
				_expect_uring "$pid" "$@"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			fail "canopyd (pid $pid) not ready after" \
				"${CANOPY_READY_TIMEOUT}s (mounted: $(is_mounted "$mnt" &&
					echo yes || echo no))"
		fi
		sleep 0.1
	done
}

# stop_group PGID: SIGTERM a rerun's process group, SIGKILL after 10 s
stop_group() {
	local i
	kill -TERM -- -"$1" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 -- -"$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL -- -"$1" 2>/dev/null || true
}

# rerun_test NAME WHY VAR=VALUE...: tests/func/test_NAME.sh again with the
# given environment, in its own temp dir under $T and its own process group
# (stopped with us, and all it started); its output goes to
# $T/logs/test_NAME.log, whose tail is shown if it fails
rerun_test() {
	local t=$1 why=$2 sub
	shift 2
	setsid env -u CANOPY_TEST_TMP "$@" TMPDIR="$T" \
		bash "$FUNC_DIR/test_$t.sh" >"$T/logs/test_$t.log" 2>&1 &
	sub=$!
	on_exit "stop_group $sub"
	if ! wait "$sub"; then
		tail -n 30 "$T/logs/test_$t.log" >&2
		fail "test_$t.sh failed $why"
	fi
}

# canopy_start NAME [canopyd options...]: a daemon on $T/NAME/mnt with cache
# dir $T/NAME/cache, control socket $T/NAME/ctl.sock and the given options
# (typically --export), then the words of CANOPY_START_ARGS (set by a test
# that reruns others in another mode); returns once ready. Sets MNT, SOCK,
# CACHE, LOG, DPID.
canopy_start() {
	local name=$1
	shift
	local d=$T/$name
	local -a extra
	read -r -a extra <<<"${CANOPY_START_ARGS:-}"
	mkdir -p "$d/mnt" "$d/cache"
	MNT=$d/mnt
	SOCK=$d/ctl.sock
	CACHE=$d/cache
	canopy_spawn "$name" "$MNT" --cache-dir "$CACHE" --ctl-socket "$SOCK" \
		--log-level "$CANOPY_LOG_LEVEL" "$@" "${extra[@]}"
	canopy_wait_ready "$DPID" "$MNT" -s "$SOCK"
}

# canopy_stop PID [SIGNAL]: send SIGNAL (TERM), wait up to
# CANOPY_STOP_TIMEOUT seconds, then SIGKILL. Sets STOP_RC (exit status;
# 128+n for a signal) and STOP_SECS; returns 0 unless the daemon had to be
# killed.
canopy_stop() {
	local pid=$1 sig=${2:-TERM} t0=$SECONDS killed=0
	STOP_RC=0
	kill -"$sig" "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + CANOPY_STOP_TIMEOUT))
	while alive "$pid"; do
		if ((SECONDS >= deadline)); then
			echo "canopyd $pid still running ${CANOPY_STOP_TIMEOUT}s" \
				"after SIG$sig: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
			killed=1
			break
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || STOP_RC=$?
	STOP_SECS=$((SECONDS - t0))
	_forget_daemon "$pid"
	return "$killed"
}

# ctl ARGS...: canopyctl against the current daemon ($SOCK)
ctl() {
	timeout 20 "$CANOPYCTL" -s "$SOCK" "$@"
}

# stats_save FILE: the current daemon's stats --json into FILE
stats_save() {
	ctl stats --json >"$1" || fail "canopyctl stats --json failed"
	$PY -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" ||
		fail "canopyctl stats --json is not JSON: $(head -c 300 "$1")"
}

# jget FILE KEY: the value of KEY in a JSON object, nested objects flattened
# to dotted keys; a key matches exactly, else by its last components
# ("max_pages" finds "fuse.max_pages"). Booleans print as true/false.
# Exit 3 if absent.
jget() {
	$PY "$FUNC_DIR/util.py" jget "$1" "$2"
}

# boolean VALUE: true or false for the usual spellings, else VALUE itself
boolean() {
	case ${1,,} in
	true | yes | on | 1 | enabled) echo true ;;
	false | no | off | 0 | disabled) echo false ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# stat_get KEY [FILE]: one key of stats --json (fresh unless FILE is given)
stat_get() {
	local f=${2:-} v
	if [ -z "$f" ]; then
		f=$T/stats.$$.json
		stats_save "$f"
	fi
	if ! v=$(jget "$f" "$1"); then
		fail "stats --json has no key '$1'"
	fi
	printf '%s\n' "$v"
}

# mksmall DIR N TAG: N small files DIR/s000... of 1 to 40 lines "TAG small I"
mksmall() {
	$PY -c '
import os, sys
d, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    with open(os.path.join(d, "s%03d" % i), "wb") as f:
        f.write(("%s small %d\n" % (tag, i)).encode() * (1 + i % 40))
' "$@"
}

# sha FILE: sha256 of a file's bytes
sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

# mkdata FILE SIZE SEED: FILE with SIZE pseudo-random bytes from SEED
mkdata() {
	$PY "$FUNC_DIR/util.py" mkdata "$1" "$2" "$3"
}

# ---- several daemons in one topology (a cooperative tree) ----------------
#
#   canopy_key FILE           a fresh job key: 64 hex digits and a newline
#   canopy_ports N            PORT_BASE: N consecutive TCP ports of
#                             127.0.0.1 that can be bound now, from a random
#                             start in 17000..17999 (benchmarks use 27000+)
#   canopy_topology FILE N [KEY=VALUE...]
#                             a topology of nodes n1..nN at
#                             127.0.0.1:PORT_BASE+i-1; see below
#   canopy_tree_start [--dir D] [--order "nI nJ ..."] [--gap SEC] N
#                     [KEY=VALUE...] [-- canopyd options]
#                             ports, key, topology $T/D/topo.json, then every
#                             node started (in --order, --gap seconds apart)
#                             and waited for; on a port clash all are
#                             stopped and it starts over on other ports
#   canopy_tree_stop          SIGTERM every node of the tree, in parallel;
#                             each must exit 0
#   nctl NAME ARGS...         canopyctl against node NAME
#   nstats_save NAME FILE     node NAME's stats --json into FILE
#   nstat NAME KEY [FILE]     one key of NAME's stats (fresh unless FILE)
#   tree_sum KEY DIR          the sum of KEY over DIR/<node>.json
#
# canopy_tree_start sets TREE_DIR ($T/D), TREE_TOPO, TREE_NODES (n1..nN)
# and, per node name, NODE_PID, NODE_MNT, NODE_SOCK, NODE_LOG (associative
# arrays). Node K's mount is $TREE_DIR/nK/mnt, its cache dir
# $TREE_DIR/nK/cache (no tmpfs), its log $T/logs/canopyd-D-nK.log.
#
# canopy_topology keys: exports=DIR[,DIR] (required), roots=R or
# roots=nI,nJ, fanout=K (2), mode=rpc|rma (rpc), placement=file|block (file),
# timeout=SEC ($CANOPY_PEER_TIMEOUT: 2, 10 under sanitizers), auth=none|KEYFILE (none), extra=NAME[,NAME]: more nodes
# after nN, at the next ports, that no daemon runs (a test tool's endpoint).

declare -gA NODE_PID=() NODE_MNT=() NODE_SOCK=() NODE_LOG=() NODE_LOGOFF=()
TREE_NODES=()
_TREE_ARGS=()
TREE_DIR=
TREE_TOPO=
PORT_BASE=

canopy_key() {
	$PY -c 'import os, sys
open(sys.argv[1], "w").write(os.urandom(32).hex() + "\n")' "$1"
	chmod 600 "$1"
}

canopy_ports() {
	PORT_BASE=$($PY - "$1" <<'PYEOF'
import random, socket, sys
n = int(sys.argv[1])
lo, hi = 17000, 18000 - n
for _ in range(200):
    base = random.randrange(lo, hi + 1)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit(1)
PYEOF
) || fail "no $1 free consecutive ports in 17000..17999"
}

canopy_topology() {
	local file=$1 n=$2
	shift 2
	CANOPY_PEER_TIMEOUT=$CANOPY_PEER_TIMEOUT \
		$PY - "$file" "$n" "$PORT_BASE" "$@" <<'PYEOF' || fail "topology: $*"
import json, os, sys
out, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
o = dict(roots="1", fanout="2", mode="rpc", placement="file",
         timeout=os.environ["CANOPY_PEER_TIMEOUT"],
         auth="none", extra="", exports="")
for kv in sys.argv[4:]:
    k, _, v = kv.partition("=")
    if k not in o:
        sys.exit("canopy_topology: unknown key %r" % k)
    o[k] = v
if not o["exports"]:
    sys.exit("canopy_topology: exports= is required")
names = ["n%d" % i for i in range(1, n + 1)]
names += [x for x in o["extra"].split(",") if x]
roots = o["roots"]
t = {
    "exports": o["exports"].split(","),
    "nodes": [{"name": nm, "addr": "127.0.0.1:%d" % (base + i)}
              for i, nm in enumerate(names)],
    "roots": int(roots) if roots.isdigit() else roots.split(","),
    "fanout": int(o["fanout"]),
    "placement": o["placement"],
    "transport": {"data_mode": o["mode"], "timeout": float(o["timeout"])},
    "auth": "none" if o["auth"] == "none" else {"key_file": o["auth"]},
}
with open(out, "w") as f:
    json.dump(t, f, indent=1)
PYEOF
}

# _node_spawn NAME: start node NAME of $TREE_TOPO, not waiting
_node_spawn() {
	local name=$1 d=$TREE_DIR/$1
	mkdir -p "$d/mnt" "$d/cache"
	NODE_MNT[$name]=$d/mnt
	NODE_SOCK[$name]=$d/ctl.sock
	# where this run's lines start (a retry appends to the same log)
	NODE_LOGOFF[$name]=$(stat -c %s "$T/logs/canopyd-${TREE_DIR##*/}-$name.log" \
		2>/dev/null || echo 0)
	canopy_spawn "${TREE_DIR##*/}-$name" "$d/mnt" -c "$TREE_TOPO" \
		--node "$name" --cache-dir "$d/cache" --ctl-socket "$d/ctl.sock" \
		--cache-tmpfs false --log-level "$CANOPY_LOG_LEVEL" \
		"${_TREE_ARGS[@]}"
	NODE_PID[$name]=$DPID
	NODE_LOG[$name]=$LOG
}

# _nodes_wait NAME...: all ready; 2 if one could not bind its port (the
# others are left running), fail() for any other early exit or a timeout
_nodes_wait() {
	local name pid rc deadline=$((SECONDS + CANOPY_READY_TIMEOUT)) left
	while :; do
		left=0
		for name in "$@"; do
			pid=${NODE_PID[$name]}
			if ! alive "$pid"; then
				rc=0
				wait "$pid" || rc=$?
				_forget_daemon "$pid"
				NODE_PID[$name]=
				if tail -c +$((NODE_LOGOFF[$name] + 1)) \
					"${NODE_LOG[$name]}" |
					grep -q 'Address already in use'; then
					say "port clash: $name could not bind its port"
					return 2
				fi
				fail "canopyd $name (pid $pid) exited with status" \
					"$rc before it was ready"
			fi
			is_mounted "${NODE_MNT[$name]}" &&
				timeout 10 "$CANOPYCTL" -s "${NODE_SOCK[$name]}" \
					status >/dev/null 2>&1 ||
				left=$((left + 1))
		done
		[ "$left" = 0 ] && return 0
		((SECONDS < deadline)) ||
			fail "$left of $# daemons not ready after ${CANOPY_READY_TIMEOUT}s"
		sleep 0.1
	done
}

canopy_tree_start() {
	local dir=tree order="" gap=0 n try name rc
	local topo_args=()
	while [ $# -gt 0 ]; do
		case $1 in
		--dir) dir=$2; shift 2 ;;
		--order) order=$2; shift 2 ;;
		--gap) gap=$2; shift 2 ;;
		*) break ;;
		esac
	done
	n=$1
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		topo_args+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	_TREE_ARGS=("$@")
	TREE_DIR=$T/$dir
	TREE_TOPO=$TREE_DIR/topo.json
	mkdir -p "$TREE_DIR"
	TREE_NODES=()
	for ((try = 1; try <= n; try++)); do
		TREE_NODES+=("n$try")
	done
	[ -n "$order" ] || order="${TREE_NODES[*]}"
	for try in 1 2 3 4 5; do
		canopy_ports $((n + 8))
		canopy_topology "$TREE_TOPO" "$n" "${topo_args[@]}"
		say "topology: $n nodes from port $PORT_BASE: ${topo_args[*]}"
		rc=0
		for name in $order; do
			_node_spawn "$name"
			[ "$gap" = 0 ] || sleep "$gap"
		done
		# shellcheck disable=SC2086
		_nodes_wait $order || rc=$?
		[ "$rc" = 0 ] && return 0
		canopy_tree_stop nocheck
		rm -rf "${TREE_DIR:?}"/n*
	done
	fail "port clashes on 5 tries"
}

# canopy_tree_stop [nocheck]: stop every running node; with no argument each
# must exit with status 0 after SIGTERM
canopy_tree_stop() {
	local name pid bad=
	for name in "${TREE_NODES[@]}"; do
		pid=${NODE_PID[$name]:-}
		if [ -n "$pid" ]; then
			kill -CONT "$pid" 2>/dev/null || true
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for name in "${TREE_NODES[@]}"; do
		pid=${NODE_PID[$name]:-}
		[ -n "$pid" ] || continue
		canopy_stop "$pid" TERM ||
			bad="$bad $name(killed)"
		[ "$STOP_RC" = 0 ] || bad="$bad $name(status $STOP_RC)"
		NODE_PID[$name]=
	done
	[ "${1:-}" = nocheck ] || [ -z "$bad" ] ||
		fail "daemons that did not stop cleanly:$bad"
}

nctl() {
	local name=$1
	shift
	timeout 20 "$CANOPYCTL" -s "${NODE_SOCK[$name]}" "$@"
}

nstats_save() {
	nctl "$1" stats --json >"$2" || fail "canopyctl stats of $1 failed"
	$PY -c 'import json, sys; json.load(open(sys.argv[1]))' "$2" ||
		fail "stats --json of $1 is not JSON: $(head -c 300 "$2")"
}

nstat() {
	local f=${3:-}
	if [ -z "$f" ]; then
		f=$T/nstat.$$.json
		nstats_save "$1" "$f"
	fi
	jget "$f" "$2" || fail "stats of $1 have no key '$2'"
}

tree_sum() {
	local key=$1 dir=$2 f s=0 v
	for f in "$dir"/*.json; do
		v=$(jget "$f" "$key") || fail "$f has no key '$key'"
		s=$((s + v))
	done
	echo "$s"
}
