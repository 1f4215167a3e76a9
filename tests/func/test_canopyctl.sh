#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# canopyctl as scripts use it:
#   - -m takes the instance name of a canopyd@.service unit: a daemon
#     mounted at a path with '-' and '.' in it (default control socket) is
#     reached by `systemd-escape --path` of its mount point, with and
#     without the "canopyd@" and ".service" around it;
#   - stats --prom is valid Prometheus text (promtool check metrics when
#     the prometheus package is installed, and a strict parser here):
#     HELP and TYPE before each family, names canopy_*, a mount label on
#     every sample, per-opcode counters and histograms whose buckets grow,
#     end in +Inf and equal _count; the values agree with stats --json;
#   - --help of every command exits 0; exit status 2 for usage errors
#     (unknown command, option or argument, a bad unit name), 1 when the
#     daemon cannot be reached;
#   - prefetch on a single node warms the local cache: a read after it
#     costs the backing store nothing.
. "$(dirname "$0")/lib.sh"
canopy_init

B=$T/backing
mkdir -p "$B/d"
for i in $(seq 1 20); do mkdata "$B/d/f$i" $((i * 1000)) ctl-$i; done
mkdata "$B/big" $((5 << 20)) ctl-big
M=$T/my-mount.v2/mnt
mkdir -p "$M" "$T/cache"
canopy_spawn unit "$M" --export "$B" --cache-dir "$T/cache" \
	--cache-tmpfs false --log-level "$CANOPY_LOG_LEVEL"
canopy_wait_ready "$DPID" "$M" -m "$M"

check "-m takes a canopyd@ unit instance name (systemd-escape --path)"
if command -v systemd-escape >/dev/null; then
	INST=$(systemd-escape --path "$M")
else
	INST=$($PY -c 'import sys
p = sys.argv[1].strip("/")
print("".join("-" if c == "/" else c if c.isalnum() or c in ":_." and
              not (i == 0 and c == ".") else "\\x%02x" % ord(c)
              for i, c in enumerate(p)))' "$M")
fi
say "  instance of $M: $INST"
case $INST in *'\x2d'*) ;; *) fail "no \\x2d in $INST" ;; esac
for name in "$INST" "canopyd@$INST.service"; do
	timeout 20 "$CANOPYCTL" -m "$name" status >"$T/st.txt" ||
		fail "canopyctl -m '$name' status failed"
	grep -q "^mount: *$M\$" "$T/st.txt" ||
		fail "canopyctl -m '$name' reached another mount: $(head -1 "$T/st.txt")"
done
rc=0
timeout 20 "$CANOPYCTL" -m 'bad\x2' status 2>"$T/err.txt" || rc=$?
assert_eq "$rc" 2 "exit status for a unit name systemd-escape cannot make"
rc=0
timeout 20 "$CANOPYCTL" -m "lus-no-such-mount-$$" status 2>/dev/null || rc=$?
assert_eq "$rc" 1 "exit status for a unit whose daemon is not there"

check "--help of each command, and exit status 2 for usage errors"
for c in status stats tree drop-caches prefetch; do
	timeout 20 "$CANOPYCTL" "$c" --help >"$T/help.txt" ||
		fail "canopyctl $c --help failed"
	grep -q "^usage: canopyctl .* $c" "$T/help.txt" ||
		fail "canopyctl $c --help: $(head -1 "$T/help.txt")"
	grep -q "exit status" "$T/help.txt" ||
		fail "canopyctl $c --help does not document the exit status"
done
timeout 20 "$CANOPYCTL" --help | grep -q "unit" ||
	fail "canopyctl --help does not document unit instance names"
for args in "frobnicate" "stats --bogus" "status --prom" "tree extra" \
	"stats --json --prom" "prefetch" "prefetch --timeout 0 /x" "-x status"; do
	rc=0
	# shellcheck disable=SC2086
	timeout 20 "$CANOPYCTL" -m "$M" $args >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 2 "exit status of canopyctl $args"
done

check "stats --prom is valid Prometheus text and agrees with --json"
cat "$M$B/d/f3" "$M$B/big" >/dev/null
ls "$M$B/nothing-here" 2>/dev/null || true
timeout 20 "$CANOPYCTL" -m "$M" stats --prom >"$T/stats.prom" ||
	fail "canopyctl stats --prom failed"
timeout 20 "$CANOPYCTL" -m "$M" stats --json >"$T/stats.json"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/stats.prom" >"$T/promtool.out" 2>&1 || {
		cat "$T/promtool.out"
		fail "promtool check metrics refuses stats --prom"
	}
	say "  promtool check metrics: ok"
else
	note "promtool not installed (Debian package prometheus): strict parser only"
fi
$PY - "$T/stats.prom" "$T/stats.json" "$M" <<'EOF' || fail "stats --prom is not valid"
import json, math, re, sys
text = open(sys.argv[1]).read()
js = json.load(open(sys.argv[2]))
mount = sys.argv[3]
assert text.endswith("\n"), "no final newline"
name_re = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
sample_re = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\} (\S+)$')
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
fams, order, cur = {}, [], None
samples = []
for ln, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("# HELP "):
        _, _, name, help_ = line.split(" ", 3)
        assert name_re.match(name) and name not in fams, (ln, line)
        assert help_.strip(), (ln, "empty help")
        fams[name] = {"help": help_}
        order.append(name)
        cur = name
        continue
    if line.startswith("# TYPE "):
        _, _, name, typ = line.split(" ")
        assert name == cur and "type" not in fams[name], (ln, line)
        assert typ in ("counter", "gauge", "histogram"), (ln, typ)
        fams[name]["type"] = typ
        continue
    assert not line.startswith("#"), (ln, line)
    m = sample_re.match(line)
    assert m, (ln, "not a sample: %r" % line)
    name, labels, value = m.groups()
    labels = dict(label_re.findall(labels))
    assert labels.get("mount") == mount, (ln, labels)
    typ = fams[cur]["type"]
    if typ == "histogram":
        assert name in (cur + "_bucket", cur + "_sum", cur + "_count"), (ln, name, cur)
    else:
        assert name == cur, (ln, "sample %s under family %s" % (name, cur))
    if typ == "counter":
        assert cur.endswith("_total"), (ln, cur)
    v = float(value)
    assert not math.isnan(v) and v >= 0, (ln, value)
    samples.append((cur, name, labels, v))
assert all(n.startswith("canopy_") for n in order), [n for n in order if not n.startswith("canopy_")]
assert all("type" in fams[n] for n in order)

def get(name, **want):
    hits = [s for s in samples if s[1] == name and
            all(s[2].get(k) == v for k, v in want.items())]
    assert len(hits) == 1, (name, want, len(hits))
    return hits[0][3]

# histograms: buckets grow with le, end in +Inf, which equals _count
hists = {}
for fam, name, labels, v in samples:
    if name.endswith("_bucket"):
        key = (fam, tuple(sorted((k, x) for k, x in labels.items() if k != "le")))
        hists.setdefault(key, []).append((labels["le"], v))
assert hists, "no histogram"
for (fam, key), bs in hists.items():
    les = [float("inf") if le == "+Inf" else float(le) for le, _ in bs]
    assert les == sorted(les) and les[-1] == float("inf"), (fam, key)
    vals = [v for _, v in bs]
    assert vals == sorted(vals), (fam, key, "buckets not cumulative")
    assert vals[-1] == get(fam + "_count", **dict(key)), (fam, key)
# agreement with --json
assert get("canopy_fuse_requests_total", opcode="read") == js["fuse.read.count"]
assert get("canopy_fuse_requests_total", opcode="lookup") == js["fuse.lookup.count"]
assert get("canopy_fuse_request_duration_seconds_count", opcode="lookup") == js["fuse.lookup.count"]
assert get("canopy_backing_operations_total", op="open") == js["backing.opens"]
assert get("canopy_backing_operations_total", op="read") == js["backing.reads"]
assert get("canopy_backing_read_bytes_total") == js["backing.bytes"]
assert get("canopy_fuse_read_request_bytes_count") == js["fuse.read.count"]
assert get("canopy_prefetch_files_total") == js["prefetch.files"]
assert js["backing.bytes"] >= (5 << 20) + 3000, js["backing.bytes"]
print("  %d families, %d samples, %d histograms" % (len(order), len(samples), len(hists)))
EOF

check "prefetch on a single node warms the local cache"
stats_before=$T/pf0.json
timeout 20 "$CANOPYCTL" -m "$M" stats --json >"$stats_before"
timeout 60 "$CANOPYCTL" -m "$INST" prefetch "$M$B/d" "$B/big" >"$T/pf.out" ||
	fail "prefetch failed: $(cat "$T/pf.out")"
cat "$T/pf.out"
grep -q "^nodes: *1 of 1 done" "$T/pf.out" || fail "not 1 of 1 nodes done"
grep -q "^files: *21 per node" "$T/pf.out" || fail "not 21 files warmed"
timeout 20 "$CANOPYCTL" -m "$M" stats --json >"$T/pf1.json"
r1=$(jget "$T/pf1.json" backing.reads)
o1=$(jget "$T/pf1.json" backing.opens)
for f in "$B"/d/* "$B/big"; do
	assert_same_file "$f" "$M$f"
done
timeout 20 "$CANOPYCTL" -m "$M" stats --json >"$T/pf2.json"
assert_eq "$(jget "$T/pf2.json" backing.reads)" "$r1" \
	"backing.reads of reading what was prefetched"
assert_eq "$(jget "$T/pf2.json" backing.opens)" "$o1" \
	"backing.opens of reading what was prefetched"
assert_eq "$(jget "$T/pf2.json" prefetch.files)" \
	"$(($(jget "$stats_before" prefetch.files) + 21))" "prefetch.files"

canopy_stop "$DPID"
assert_eq "$STOP_RC" 0 "exit status of canopyd"
say "ok"
