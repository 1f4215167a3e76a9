#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# config/canopy-topology, the topology generator of job launches:
#   - its unit tests (topology_test.py): Slurm node lists of real clusters
#     (ranges, zero padding, several prefixes, several bracket groups,
#     suffixes), errors that name the position, PBS node files whose
#     repeated hosts collapse in order, the key file (fresh, 0600, 32..64
#     bytes), 10,000 nodes in well under a second;
#   - canopyd accepts what it writes: `canopyd --check` on a 10,000-node
#     topology for its first and last node, and two canopyd started from a
#     generated 2-node loopback topology (with its job key) serve the same
#     bytes as the backing file;
#   - the JSON examples under config/examples/ (subdirectories too) pass
#     `canopyd --check` for their first node, their key file replaced by a
#     fresh one and exports missing on this machine by "/".
. "$(dirname "$0")/lib.sh"
canopy_init

TOPO=$CANOPY_ROOT/config/canopy-topology
[ -x "$TOPO" ] || fail "no executable $TOPO"
has_check=0
"$CANOPYD" --help 2>&1 | grep -q -- '--check' && has_check=1

check "unit tests of canopy-topology (topology_test.py)"
$PY "$FUNC_DIR/topology_test.py" -v >"$T/unit.out" 2>&1 || {
	cat "$T/unit.out"
	fail "topology_test.py failed"
}
grep -E '^(Ran|OK|  10,000)' "$T/unit.out" | sed 's/^/  /'

check "10,000 nodes from a Slurm node list, timed"
t0=$(date +%s%N)
env -u PBS_NODEFILE SLURM_JOB_NODELIST='nid[00001-10000]' "$TOPO" \
	--addr '%n-hsn0,%n-hsn1' --provider cxi -o "$T/big.json" 2>/dev/null ||
	fail "canopy-topology on 10,000 nodes failed"
ms=$((($(date +%s%N) - t0) / 1000000))
say "  10,000 nodes in ${ms} ms"
assert_int "$ms -lt 1000" "10,000 nodes took ${ms} ms"

check "PBS_NODEFILE: one line per slot collapses to one node each"
printf 'c7\nc7\nc7\nc7\nc2\nc2\nc2\nc2\nc9\n' >"$T/pbs_nodefile"
got=$(env -u SLURM_JOB_NODELIST PBS_NODEFILE="$T/pbs_nodefile" "$TOPO" \
	--print-nodes | tr '\n' ' ')
assert_eq "$got" "c7 c2 c9 " "nodes of the PBS node file"

if [ "$has_check" = 1 ]; then
	check "canopyd --check accepts the 10,000-node topology"
	for n in nid00001 nid10000; do
		"$CANOPYD" --check -c "$T/big.json" --node "$n" >"$T/check.out" 2>&1 ||
			{ cat "$T/check.out"; fail "canopyd --check refused big.json for $n"; }
		grep -q '10000 nodes' "$T/check.out" ||
			fail "canopyd --check did not see 10000 nodes: $(head -3 "$T/check.out")"
	done
else
	note "canopyd has no --check: the 10,000-node topology is not checked"
fi

check "two canopyd from a generated loopback topology serve the backing bytes"
mkdir -p "$T/src"
mkdata "$T/src/data" $((3 << 20)) topo-gen
canopy_ports 2
"$TOPO" --loopback 2 --port "$PORT_BASE" --export "$T/src" \
	--timeout "$CANOPY_PEER_TIMEOUT" -o "$T/loop.json" 2>/dev/null ||
	fail "canopy-topology --loopback 2 failed"
[ "$(stat -c %a "$T/loop.key")" = 600 ] || fail "loop.key is not mode 600"
declare -A PID=()
for n in n1 n2; do
	mkdir -p "$T/$n/mnt" "$T/$n/cache"
	canopy_spawn "gen-$n" "$T/$n/mnt" -c "$T/loop.json" --node "$n" \
		--cache-dir "$T/$n/cache" --ctl-socket "$T/$n/ctl.sock" \
		--cache-tmpfs false
	PID[$n]=$DPID
done
for n in n1 n2; do
	canopy_wait_ready "${PID[$n]}" "$T/$n/mnt" -s "$T/$n/ctl.sock"
done
want=$(sha "$T/src/data")
for n in n2 n1; do
	assert_eq "$(sha "$T/$n/mnt$T/src/data")" "$want" "sha256 through $n"
done
for n in n1 n2; do
	canopy_stop "${PID[$n]}"
	assert_eq "$STOP_RC" 0 "exit status of canopyd $n"
done

check "site examples pass canopyd --check"
if [ "$has_check" = 0 ]; then
	note "canopyd has no --check: the examples are not checked"
else
	canopy_key "$T/example.key"
	nex=0
	while IFS= read -r f; do
		# the example with its key file pointed at a real key; the node
		# the first of its nodes, if any
		$PY - "$f" "$T/example.json" "$T/example.key" >"$T/example.node" <<'EOF' ||
import json, os, sys
t = json.load(open(sys.argv[1]))
# a site's exports do not exist here
if "exports" in t:
    t["exports"] = [e for e in t["exports"] if os.path.isdir(e)] or ["/"]
if isinstance(t.get("auth"), dict):
    t["auth"]["key_file"] = sys.argv[3]
json.dump(t, open(sys.argv[2], "w"))
nodes = t.get("nodes") or []
print(nodes[0]["name"] if nodes else "")
EOF
			fail "$f is not JSON"
		node=$(cat "$T/example.node")
		args=(--check -c "$T/example.json")
		[ -z "$node" ] || args+=(--node "$node")
		"$CANOPYD" "${args[@]}" >"$T/check.out" 2>&1 || {
			cat "$T/check.out"
			fail "canopyd --check refused ${f#"$CANOPY_ROOT"/}"
		}
		say "  ok: ${f#"$CANOPY_ROOT"/}${node:+ (node $node)}"
		nex=$((nex + 1))
	done < <(find "$CANOPY_ROOT/config/examples" -name '*.json' | sort)
	assert_int "$nex -ge 1" "no JSON examples found"
fi
say "ok"
