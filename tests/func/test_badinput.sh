#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Start-up refusals: each bad command line or config makes canopyd exit with
# status 2 (1 for a run-time failure) and a message on stderr that names
# what is wrong (file:line:column of malformed JSON, the dotted key, the
# path), and leaves nothing mounted and nothing running, in the foreground
# and in daemon mode. --help exits 0 and lists every option. Without
# libfabric a single node serves and a node of a topology is refused.
. "$(dirname "$0")/lib.sh"
canopy_init

B=$T/backing
M=$T/mnt
mkdir -p "$B" "$M"
echo x >"$B/f"

# our_procs: pids of processes (other than this shell) naming $T
our_procs() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$T/" &&
			echo "$p"
	done
	return 0
}

# refuse WHAT STATUS PATTERN ARGS...: canopyd ARGS exits with STATUS ("!0":
# any failure) within 20 s, its stderr matches the extended regexp PATTERN,
# nothing is mounted under $T and no process of ours is left
refuse() {
	local what=$1 want=$2 pat=$3 rc=0 p
	shift 3
	check "refuses $what"
	timeout -k 5 20 env --default-signal=INT "$CANOPYD" "$@" \
		>"$T/out" 2>"$T/err" </dev/null || rc=$?
	[ "$rc" != 124 ] ||
		fail "$what: canopyd was still running after 20s: it did not refuse"
	if [ "$want" = "!0" ]; then
		[ "$rc" != 0 ] || fail "$what: canopyd exited 0"
	else
		assert_eq "$rc" "$want" \
			"$what: exit status (stderr: $(head -c 400 "$T/err"))"
	fi
	grep -qE -- "$pat" "$T/err" ||
		fail "$what: stderr does not match /$pat/; stderr: $(cat "$T/err")"
	say "  exit $rc: $(head -n 2 "$T/err" | tr '\n' ' ')"
	if [ -n "$(mounts_under "$T")" ]; then
		fail "$what: left mounted: $(mounts_under "$T")"
	fi
	for p in $(our_procs); do
		kill -KILL "$p" 2>/dev/null
		fail "$what: left a process running: $p"
	done
}

# json NAME CONTENT: a config file
json() {
	printf '%s\n' "$2" >"$T/$1"
	echo "$T/$1"
}

fg=(-f --cache-dir "$T/cache" --ctl-socket "$T/ctl.sock")

refuse "a missing config file" 2 "$T/nope\.json" \
	"${fg[@]}" -c "$T/nope.json" "$M"
c=$(json malformed.json '{
  "exports": ["/tmp"],
  "fuse": {"threads": 4,, "max_pages": 8}
}')
refuse "malformed JSON (file:line:column)" 2 "malformed\.json:3:[0-9]+" \
	"${fg[@]}" -c "$c" "$M"
c=$(json truncated.json '{"exports": ["/tmp"], "fuse": {')
refuse "truncated JSON (file:line:column)" 2 "truncated\.json:[0-9]+:[0-9]+" \
	"${fg[@]}" -c "$c" "$M"
c=$(json wrongtype.json '{"exports": ["'"$B"'"], "fuse": {"max_pages": "lots"}}')
refuse "a wrong type (names fuse.max_pages)" 2 "fuse\.max_pages" \
	"${fg[@]}" -c "$c" "$M"
c=$(json wrongtype2.json '{"exports": ["'"$B"'"], "cache": {"capacity": true}}')
refuse "a wrong type (names cache.capacity)" 2 "cache\.capacity" \
	"${fg[@]}" -c "$c" "$M"
c=$(json exportsnum.json '{"exports": 5}')
refuse "exports that are not a list of paths" 2 "exports" \
	"${fg[@]}" -c "$c" "$M"
c=$(json unknown.json '{"exports": ["'"$B"'"], "fuse": {"max_page": 1024}}')
refuse "an unknown key (names fuse.max_page)" 2 "fuse\.max_page([^s]|$)" \
	"${fg[@]}" -c "$c" "$M"
c=$(json unknowntop.json '{"exprots": ["'"$B"'"]}')
refuse "an unknown top-level key (names it)" 2 "exprots" \
	"${fg[@]}" -c "$c" "$M"
c=$(json relexport.json '{"exports": ["rel/in-config"]}')
refuse "a relative export in the config (names it)" 2 "rel/in-config" \
	"${fg[@]}" -c "$c" "$M"
refuse "a relative --export (names it)" 2 "rel/on-cmdline" \
	"${fg[@]}" --export rel/on-cmdline "$M"
refuse "a missing export (names it)" 2 "$T/no-such-export" \
	"${fg[@]}" --export "$T/no-such-export" "$M"
refuse "a missing mount point (names it)" 2 "$T/no-such-mnt" \
	"${fg[@]}" --export "$B" "$T/no-such-mnt"
refuse "a mount point that is a file (names it)" 2 "$B/f" \
	"${fg[@]}" --export "$B" "$B/f"
refuse "no mount point" 2 "." "${fg[@]}" --export "$B"
refuse "an unknown option (names it)" 2 "bogus" \
	"${fg[@]}" --bogus "$M"
refuse "a bad size (names it)" 2 "12Q|cache-capacity" \
	"${fg[@]}" --export "$B" --cache-capacity 12Q "$M"
refuse "a bad boolean (names it)" 2 "maybe|passthrough" \
	"${fg[@]}" --export "$B" --passthrough maybe "$M"
refuse "a bad log level (names it)" 2 "loud|log-level" \
	"${fg[@]}" --export "$B" --log-level loud "$M"
refuse "a negative thread count" 2 "threads|-3" \
	"${fg[@]}" --export "$B" --threads -3 "$M"
refuse "a negative timeout" 2 "attr-timeout|attr_timeout|-1" \
	"${fg[@]}" --export "$B" --attr-timeout -1 "$M"
refuse "a cache dir that cannot be created (names it)" "!0" "$B/f/cache" \
	-f --cache-dir "$B/f/cache" --ctl-socket "$T/ctl.sock" --export "$B" "$M"
refuse "a control socket that cannot be created" "!0" \
	"$B/f/ctl.sock|control socket" -f --cache-dir "$T/cache" \
	--ctl-socket "$B/f/ctl.sock" --export "$B" "$M"

check "daemon mode: the parent reports a start-up failure"
refuse "a missing export in daemon mode" "!0" "$T/no-such-export" \
	--cache-dir "$T/cache" --ctl-socket "$T/ctl.sock" \
	--export "$T/no-such-export" "$M"
refuse "a missing mount point in daemon mode" "!0" "$T/no-such-mnt" \
	--cache-dir "$T/cache" --ctl-socket "$T/ctl.sock" \
	--export "$B" "$T/no-such-mnt"

check "--help exits 0 and lists every option"
rc=0
timeout 20 "$CANOPYD" --help >"$T/help" 2>&1 || rc=$?
assert_eq "$rc" 0 "exit status of canopyd --help"
for opt in -f --foreground -c --config --export --cache-dir \
	--cache-capacity --block-size --small-file-max --max-pages --threads \
	--entry-timeout --attr-timeout --negative-timeout --passthrough \
	--splice --owner-passthrough --ctl-socket --log-level --help; do
	grep -qE -- "(^|[^-[:alnum:]])$opt([^-[:alnum:]]|$)" "$T/help" ||
		fail "canopyd --help does not list $opt"
done
check "--help shows defaults"
grep -qiE 'default|\[[^]]+\]|\(.*[0-9].*\)' "$T/help" ||
	fail "canopyd --help shows no defaults"

check "canopyctl cannot reach a daemon that is not there: exit 1"
rc=0
timeout 20 "$CANOPYCTL" -s "$T/no-daemon.sock" status >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "canopyctl status without a daemon"
rc=0
timeout 20 "$CANOPYCTL" -m "$M" status >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "canopyctl -m (not a canopy mount) status"

# Without libfabric (hidden by an empty file bound over it in a mount
# namespace of its own): canopyd loads it only to open the transport.
check "without libfabric a single-node daemon serves; a topology is refused"
check "with the loader's message, and nothing is left mounted"
fablib=$(ldconfig -p | awk '$1 == "libfabric.so.1" { print $NF; exit }')
[ -n "$fablib" ] || fail "ldconfig knows no libfabric.so.1"
canopy_ports 2
canopy_topology "$T/nofab.json" 2 exports="$B"
mkdir -p "$T/nofab/mnt" "$T/nofab/cache" "$T/nofab/mnt1" "$T/nofab/cache1"
rc=0
timeout -k 5 60 unshare -m bash -s "$fablib" "$CANOPYD" "$T" "$B" \
	>"$T/nofab.out" 2>&1 <<'EOF' || rc=$?
lib=$1 canopyd=$2 t=$3 b=$4 n=$3/nofab
set -u
mount --bind /dev/null "$lib" || exit 10
# a single node: daemon mode returns once the mount is ready
"$canopyd" --export "$b" --cache-dir "$n/cache" --ctl-socket "$n/ctl.sock" \
	"$n/mnt" || exit 11
cmp "$b/f" "$n/mnt$b/f" || exit 12
umount "$n/mnt" || exit 13
for i in $(seq 200); do
	pgrep -f -- "--ctl-socket $n/ctl.sock" >/dev/null || break
	sleep 0.05
done
pgrep -f -- "--ctl-socket $n/ctl.sock" >/dev/null && exit 14
# a node of a topology
rc=0
"$canopyd" -f -c "$t/nofab.json" --node n1 --cache-dir "$n/cache1" \
	--ctl-socket "$n/ctl1.sock" --cache-tmpfs false "$n/mnt1" </dev/null ||
	rc=$?
echo "topology rc=$rc"
mountpoint -q "$n/mnt1" && exit 15
[ -z "$(grep " $t/" /proc/self/mounts)" ] || exit 16
exit 0
EOF
sed 's/^/  | /' "$T/nofab.out"
assert_eq "$rc" 0 "checks in the namespace without libfabric (10: bind, 11: start, 12: bytes, 13: umount, 14: still running, 15/16: left mounted)"
grep -q "^topology rc=[1-9]" "$T/nofab.out" ||
	fail "a node of a topology started without libfabric"
grep -q "libfabric: .*libfabric.so.1" "$T/nofab.out" ||
	fail "the refusal does not give the loader's message"

check "nothing is mounted under $T"
[ -z "$(mounts_under "$T")" ] || fail "left mounted: $(mounts_under "$T")"
say "ok"
