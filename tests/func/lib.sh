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
if [ -n "$CANOPY_SANITIZER" ]; then
	: "${CANOPY_READY_TIMEOUT:=60}"
else
	: "${CANOPY_READY_TIMEOUT:=20}"
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
		T=$(realpath "$(mktemp -d /tmp/canopy-test.XXXXXX)")
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

# canopy_start NAME [canopyd options...]: a daemon on $T/NAME/mnt with cache
# dir $T/NAME/cache, control socket $T/NAME/ctl.sock and the given options
# (typically --export); returns once ready. Sets MNT, SOCK, CACHE, LOG, DPID.
canopy_start() {
	local name=$1
	shift
	local d=$T/$name
	mkdir -p "$d/mnt" "$d/cache"
	MNT=$d/mnt
	SOCK=$d/ctl.sock
	CACHE=$d/cache
	canopy_spawn "$name" "$MNT" --cache-dir "$CACHE" --ctl-socket "$SOCK" \
		--log-level "$CANOPY_LOG_LEVEL" "$@"
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

# sha FILE: sha256 of a file's bytes
sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

# mkdata FILE SIZE SEED: FILE with SIZE pseudo-random bytes from SEED
mkdata() {
	$PY "$FUNC_DIR/util.py" mkdata "$1" "$2" "$3"
}
