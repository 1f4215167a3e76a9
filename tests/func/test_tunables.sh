#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# canopy-tunables, the ExecStartPre of the units: writes the kernel.*
# tunables a configuration sets (as canopyd --print-tunables reports them)
# and nothing when none is set; takes canopyd's options or a config path
# alone; --dry-run writes nothing; a knob the kernel lacks is a warning, a
# write that fails exit 1, a config canopyd refuses exit 2. Then once for
# real on this kernel's /proc/sys/fs/fuse/max_pages_limit and fuse
# enable_uring, both put back afterwards.
. "$(dirname "$0")/lib.sh"
canopy_init

TUN=$CANOPY_ROOT/config/canopy-tunables
export CANOPYD
# a fake /proc and /sys with the two knobs
F=$T/fake
mkdir -p "$F/proc/sys/fs/fuse" "$F/sys/module/fuse/parameters"
echo 256 >"$F/proc/sys/fs/fuse/max_pages_limit"
echo N >"$F/sys/module/fuse/parameters/enable_uring"
knobs() {
	echo "$(cat "$F/proc/sys/fs/fuse/max_pages_limit")" \
		"$(cat "$F/sys/module/fuse/parameters/enable_uring")"
}
fake() {
	CANOPY_PROC=$F/proc CANOPY_SYS=$F/sys "$TUN" "$@"
}
cfg() {
	printf '{"exports": ["/"]%s}\n' "$2" >"$T/$1.json"
}
cfg none ''
cfg both ', "kernel": {"max_pages_limit": 1024, "enable_uring": true}'
cfg pages ', "kernel": {"max_pages_limit": 2048}'
cfg bad ', "kernel": {"max_pages_limit": "many"}'

check "no kernel.* tunable: no output, nothing written, exit 0"
out=$(fake -c "$T/none.json" 2>&1) || fail "exit $? with nothing to do: $out"
assert_eq "$out" "" "output with nothing to do"
out=$(fake 2>&1) || fail "exit $? with no arguments: $out"
assert_eq "$out" "" "output of the built-in default"
assert_eq "$(knobs)" "256 N" "knobs after nothing to do"

check "--dry-run says what it would write and writes nothing"
out=$(fake --dry-run "$T/both.json") || fail "--dry-run exit $?"
echo "$out" | grep -q "would set fs.fuse.max_pages_limit to 1024 (now 256)" ||
	fail "--dry-run output: $out"
echo "$out" | grep -q "would set fuse.enable_uring to Y (now N)" ||
	fail "--dry-run output: $out"
assert_eq "$(knobs)" "256 N" "knobs after --dry-run"

check "a config path alone: both knobs written"
out=$(fake "$T/both.json") || fail "exit $?: $out"
assert_eq "$(knobs)" "1024 Y" "knobs after canopy-tunables both.json"
say "  $(echo "$out" | tr '\n' ';')"
out=$(fake "$T/both.json") || fail "exit $? the second time: $out"
echo "$out" | grep -q "is 1024 already" || fail "second run: $out"

check "canopyd's options: the command line beats the file"
fake -c "$T/pages.json" --kernel-enable-uring off >/dev/null ||
	fail "exit $? with -c and --kernel-enable-uring"
assert_eq "$(knobs)" "2048 N" "knobs after -c pages.json --kernel-enable-uring off"

check "a knob this kernel lacks: a warning, exit 0"
rm "$F/sys/module/fuse/parameters/enable_uring"
out=$(fake "$T/both.json" 2>&1) || fail "exit $? for a missing knob: $out"
echo "$out" | grep -q "warning: fuse.enable_uring: .* does not exist" ||
	fail "no warning for the missing knob: $out"
assert_eq "$(cat "$F/proc/sys/fs/fuse/max_pages_limit")" 1024 \
	"max_pages_limit still written"

check "a write that fails: exit 1"
mkdir "$F/sys/module/fuse/parameters/enable_uring"
rc=0
out=$(fake "$T/both.json" 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status when a write fails ($out)"
rmdir "$F/sys/module/fuse/parameters/enable_uring"

check "a config canopyd refuses: exit 2 with canopyd's message"
rc=0
out=$(fake "$T/bad.json" 2>&1) || rc=$?
assert_eq "$rc" 2 "exit status for a bad config"
echo "$out" | grep -q "kernel.max_pages_limit: expected an integer" ||
	fail "canopyd's message is not shown: $out"

check "on this kernel: max_pages_limit and enable_uring, put back after"
P=/proc/sys/fs/fuse/max_pages_limit
U=/sys/module/fuse/parameters/enable_uring
[ -w "$P" ] || skip "no writable $P on this kernel"
old_p=$(cat "$P")
on_exit "echo $old_p >$P"
want=$((old_p == 1024 ? 2048 : 1024))
cfg real ", \"kernel\": {\"max_pages_limit\": $want}"
"$TUN" "$T/real.json" >/dev/null || fail "canopy-tunables on $P: exit $?"
assert_eq "$(cat "$P")" "$want" "$P after canopy-tunables"
if [ -w "$U" ]; then
	old_u=$(cat "$U")
	on_exit "echo $old_u >$U"
	new_u=$([ "$old_u" = Y ] && echo false || echo true)
	cfg realu ", \"kernel\": {\"enable_uring\": $new_u}"
	"$TUN" "$T/realu.json" >/dev/null || fail "canopy-tunables on $U: exit $?"
	assert_eq "$(cat "$U")" "$([ "$new_u" = true ] && echo Y || echo N)" \
		"$U after canopy-tunables"
else
	note "no writable $U: enable_uring not tried on this kernel"
fi
echo "$old_p" >"$P"
[ -n "${old_u:-}" ] && echo "$old_u" >"$U"
say "ok"
