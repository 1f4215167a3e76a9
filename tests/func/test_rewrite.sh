#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A changed backing file is a new object: once the configured timeouts have
# passed, a fresh open through the view reads the new content exactly,
# never the old one and never a mix, whether the file was rewritten in
# place (same size, other size) or replaced by rename, and whether it was
# read whole or only in part before. A path that was missing (a negative
# entry) appears after the timeout, a removed one disappears, and a
# directory listing shows both; a path that changes type follows, and a
# symlink replaced by another one shows its new target.
. "$(dirname "$0")/lib.sh"
canopy_init

TMO=1
# past the kernel's timeouts and the daemon's own metadata cache
WAIT=2.2
B=$T/backing
mkdir -p "$B/dir"
canopy_start rw --export "$B" --attr-timeout $TMO --entry-timeout $TMO \
	--negative-timeout $TMO
V=$MNT$B

# verify NAME EXPECTED: NAME read through the view equals the file EXPECTED;
# on a mismatch say whether it is the old content or a mix
verify() {
	local name=$1 exp=$2 got=$T/got
	cat "$V/$name" >"$got" || fail "reading $V/$name failed"
	if ! cmp -s "$exp" "$got"; then
		$PY - "$exp" "$got" "$T/old" <<'EOF'
import sys
exp, got, old = (open(p, "rb").read() for p in sys.argv[1:4])
n = min(len(exp), len(got))
first = next((i for i in range(n) if exp[i] != got[i]), n)
print("view: %d bytes, expected %d; first difference at %d" %
      (len(got), len(exp), first))
if got == old:
    print("the view returned the OLD content")
elif got[:first] == exp[:first] and old[first:first + 64] == got[first:first + 64]:
    print("the view returned a MIX: new bytes up to %d, old after" % first)
EOF
		fail "$name: the view does not return the new content"
	fi
}

# write_in_place NAME SRC: overwrite the backing file's bytes in place (same
# inode, no truncate unless the size shrinks), and make sure its mtime moved
write_in_place() {
	local f=$B/$1 before
	before=$(stat -c %Y.%y "$f")
	$PY - "$f" "$2" <<'EOF'
import os, sys
f, src = sys.argv[1:3]
data = open(src, "rb").read()
st = os.stat(f)
fd = os.open(f, os.O_WRONLY)
os.pwrite(fd, data, 0)
if len(data) < st.st_size:
    os.ftruncate(fd, len(data))
os.close(fd)
if os.stat(f).st_mtime_ns == st.st_mtime_ns:
    # a coarse clock: a changed file has a changed mtime in practice
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
EOF
	[ "$(stat -c %Y.%y "$f")" != "$before" ] || fail "mtime of $f did not move"
}

# replace NAME SRC: write SRC to a temporary name, rename it over NAME
replace() {
	cp "$2" "$B/dir/.tmp.$$"
	mv -f "$B/dir/.tmp.$$" "$B/$1"
}

# the cases: small file (one object), multi-block file (several objects)
for spec in "small:1048579" "multi:9437187"; do
	name=${spec%%:*}
	size=${spec#*:}
	f=dir/$name
	mkdata "$T/old" "$size" "$name-v1"
	cp "$T/old" "$B/$f"

	check "$name ($size bytes): the first read returns the content"
	verify "$f" "$T/old"

	check "$name: rewritten in place, same size: new content after ${TMO}s"
	mkdata "$T/new" "$size" "$name-v2"
	write_in_place "$f" "$T/new"
	sleep $WAIT
	verify "$f" "$T/new"
	cp "$T/new" "$T/old"

	check "$name: rewritten in place, larger: new content and size"
	mkdata "$T/new" $((size + 5000)) "$name-v3"
	write_in_place "$f" "$T/new"
	sleep $WAIT
	assert_eq "$(stat -c %s "$V/$f")" $((size + 5000)) "size of $f in the view"
	verify "$f" "$T/new"
	cp "$T/new" "$T/old"

	check "$name: rewritten in place, smaller: new content and size"
	mkdata "$T/new" $((size / 2 + 1)) "$name-v4"
	write_in_place "$f" "$T/new"
	sleep $WAIT
	assert_eq "$(stat -c %s "$V/$f")" $((size / 2 + 1)) "size of $f in the view"
	verify "$f" "$T/new"
	cp "$T/new" "$T/old"

	check "$name: replaced by rename, same size: new content"
	mkdata "$T/new" $((size / 2 + 1)) "$name-v5"
	replace "$f" "$T/new"
	sleep $WAIT
	verify "$f" "$T/new"
	cp "$T/new" "$T/old"

	check "$name: replaced by rename, other size: new content"
	mkdata "$T/new" "$size" "$name-v6"
	replace "$f" "$T/new"
	sleep $WAIT
	verify "$f" "$T/new"
	cp "$T/new" "$T/old"
done

check "a file read only in part (first block cached) then rewritten: no mix"
mkdata "$T/old" 9437187 part-v1
cp "$T/old" "$B/dir/part"
head -c 100000 "$V/dir/part" >/dev/null
mkdata "$T/new" 9437187 part-v2
write_in_place dir/part "$T/new"
sleep $WAIT
verify dir/part "$T/new"

check "an open file descriptor from before the change still reads a whole version"
mkdata "$T/old" 2000000 fd-v1
cp "$T/old" "$B/dir/held"
verify dir/held "$T/old"
exec 7<"$V/dir/held"
mkdata "$T/new" 2000000 fd-v2
replace dir/held "$T/new"
sleep $WAIT
cat <&7 >"$T/got-held" || fail "reading through the held descriptor failed"
exec 7<&-
if ! cmp -s "$T/got-held" "$T/old" && ! cmp -s "$T/got-held" "$T/new"; then
	fail "a descriptor held across a replacement read a mix of versions"
fi
verify dir/held "$T/new"

check "a missing path (negative entry) appears after the timeout"
if stat "$V/dir/late" >/dev/null 2>&1; then
	fail "$V/dir/late exists before it was created"
fi
ls "$V/dir" >/dev/null
echo "late content" >"$B/dir/late"
sleep $WAIT
[ -e "$V/dir/late" ] || fail "$V/dir/late still missing ${WAIT}s after creation"
assert_eq "$(cat "$V/dir/late")" "late content" "content of dir/late"
ls "$V/dir" | grep -qx late || fail "ls of dir does not show the new file 'late'"

check "a removed file disappears after the timeout"
rm "$B/dir/late"
sleep $WAIT
if [ -e "$V/dir/late" ]; then
	fail "$V/dir/late still visible ${WAIT}s after removal"
fi
if ls "$V/dir" | grep -qx late; then
	fail "ls of dir still shows the removed file 'late'"
fi

check "a new directory and a new file in it appear after the timeout"
stat "$V/newdir" >/dev/null 2>&1 && fail "newdir exists too early"
mkdir "$B/newdir"
echo x >"$B/newdir/x"
sleep $WAIT
assert_eq "$(cat "$V/newdir/x")" x "content of newdir/x"

check "a path that changes type (file -> directory -> symlink) follows"
echo file >"$B/swap"
assert_eq "$(cat "$V/swap")" file "swap as a file"
rm "$B/swap"
mkdir "$B/swap"
echo inner >"$B/swap/inner"
sleep $WAIT
[ -d "$V/swap" ] || fail "swap is not a directory in the view ${WAIT}s after it became one"
assert_eq "$(cat "$V/swap/inner")" inner "swap/inner"
rm -r "$B/swap"
ln -s dir "$B/swap"
sleep $WAIT
[ -L "$V/swap" ] || fail "swap is not a symlink in the view ${WAIT}s after it became one"
assert_eq "$(readlink "$V/swap")" dir "readlink swap"

check "a retargeted symlink shows its new target after the timeout"
ln -s target-v1 "$B/dir/current"
assert_eq "$(readlink "$V/dir/current")" target-v1 "readlink dir/current"
ln -s target-v2 "$B/dir/.current.new"
mv -T "$B/dir/.current.new" "$B/dir/current"
sleep $WAIT
assert_eq "$(readlink "$V/dir/current")" target-v2 \
	"readlink dir/current after it was replaced by rename"
rm "$B/dir/current"
ln -s target-version-3-longer "$B/dir/current"
sleep $WAIT
assert_eq "$(readlink "$V/dir/current")" target-version-3-longer \
	"readlink dir/current after it was removed and created again"

canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd after SIGTERM"
say "ok"
