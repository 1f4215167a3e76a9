#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Unit tests of config/canopy-topology: Slurm node-list expansion on the
shapes real clusters use, PBS node files, the JSON and the key it writes,
and its speed on 10,000 nodes.

  python3 tests/func/topology_test.py [-v]

Run by tests/func/test_topology_gen.sh."""

import importlib.machinery
import importlib.util
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.realpath(__file__))
TOOL = os.path.join(HERE, "..", "..", "config", "canopy-topology")


def load_tool():
    loader = importlib.machinery.SourceFileLoader("canopy_topology", TOOL)
    spec = importlib.util.spec_from_loader("canopy_topology", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


ct = load_tool()
expand = ct.expand_nodelist


def run(*args, env=None):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("SLURM_", "PBS_"))}
    e.update(env or {})
    return subprocess.run([TOOL] + list(args), env=e, capture_output=True,
                          text=True)


class SlurmNodeList(unittest.TestCase):
    def test_single_name(self):
        self.assertEqual(expand("login1"), ["login1"])

    def test_plain_comma_list(self):
        self.assertEqual(expand("a,b,c"), ["a", "b", "c"])

    def test_range_and_single_in_brackets(self):
        self.assertEqual(expand("x[1000-1003,1007]"),
                         ["x1000", "x1001", "x1002", "x1003", "x1007"])

    def test_zero_padding_is_kept(self):
        self.assertEqual(expand("nid[0001-0004]"),
                         ["nid0001", "nid0002", "nid0003", "nid0004"])

    def test_padding_grows_past_the_width_as_slurm(self):
        self.assertEqual(expand("n[08-10]"), ["n08", "n09", "n10"])
        self.assertEqual(expand("n[8-10]"), ["n8", "n9", "n10"])
        self.assertEqual(expand("n[098-101]"),
                         ["n098", "n099", "n100", "n101"])

    def test_several_prefixes(self):
        self.assertEqual(expand("node[1-3],gpu[01-02]"),
                         ["node1", "node2", "node3", "gpu01", "gpu02"])

    def test_prefixes_mixed_with_plain_names(self):
        self.assertEqual(expand("login,cn[1-2],bigmem01"),
                         ["login", "cn1", "cn2", "bigmem01"])

    def test_dashes_in_the_prefix(self):
        self.assertEqual(expand("cn-[1-2]"), ["cn-1", "cn-2"])

    def test_several_bracket_groups_leftmost_outermost(self):
        self.assertEqual(expand("cn-[1-2]-[1-2]"),
                         ["cn-1-1", "cn-1-2", "cn-2-1", "cn-2-2"])
        self.assertEqual(expand("a[1-2]b[3-4]"),
                         ["a1b3", "a1b4", "a2b3", "a2b4"])

    def test_suffix_after_brackets(self):
        self.assertEqual(expand("node[1-2]-ib"), ["node1-ib", "node2-ib"])

    def test_cray_frontier_and_perlmutter_shapes(self):
        self.assertEqual(expand("frontier[00001-00003,09408]"),
                         ["frontier00001", "frontier00002", "frontier00003",
                          "frontier09408"])
        self.assertEqual(expand("nid[001000-001001,001005]"),
                         ["nid001000", "nid001001", "nid001005"])

    def test_dotted_names(self):
        self.assertEqual(expand("c[1-2].cluster.org"),
                         ["c1.cluster.org", "c2.cluster.org"])

    def test_repeats_collapse_order_kept(self):
        self.assertEqual(expand("b,a[1-2],b,a1"), ["b", "a1", "a2"])

    def test_blanks_separate_as_in_slurm(self):
        self.assertEqual(expand("a1 a2\ta3"), ["a1", "a2", "a3"])

    def test_large_range_count(self):
        names = expand("nid[00001-10000]")
        self.assertEqual(len(names), 10000)
        self.assertEqual(names[0], "nid00001")
        self.assertEqual(names[-1], "nid10000")

    def check_error(self, text, pos, words):
        with self.assertRaises(ct.NodeListError) as cm:
            expand(text)
        self.assertEqual(cm.exception.pos, pos, str(cm.exception))
        self.assertIn("position %d" % (pos + 1), str(cm.exception))
        self.assertIn(words, str(cm.exception))

    def test_unclosed_bracket_names_its_position(self):
        self.check_error("ok[1-2],x[1-3", 9, "without")

    def test_stray_close_bracket(self):
        self.check_error("x1]", 2, "without")

    def test_letter_in_range(self):
        self.check_error("x[1-3,a]", 6, "number")

    def test_backwards_range(self):
        self.check_error("x[5-3]", 2, "backwards")

    def test_empty_range(self):
        self.check_error("x[1,,2]", 4, "empty")

    def test_open_range(self):
        self.check_error("x[1-]", 2, "bound")

    def test_empty_name_between_commas(self):
        self.check_error("a,,b", 2, "empty")

    def test_nested_brackets(self):
        self.check_error("x[1-[2]]", 4, "nested")

    def test_absurd_expansion_is_refused(self):
        with self.assertRaises(ct.NodeListError):
            expand("x[0-99999999]")


class PbsNodeFile(unittest.TestCase):
    def test_duplicates_collapse_order_kept(self):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("x3\nx3\nx3\nx1\nx1\nx2\nx3\n\n")
        try:
            self.assertEqual(ct.read_nodefile(f.name), ["x3", "x1", "x2"])
            r = run("--print-nodes", env={"PBS_NODEFILE": f.name})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.split(), ["x3", "x1", "x2"])
        finally:
            os.unlink(f.name)

    def test_a_line_with_two_names_is_an_error_with_its_line(self):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("x1\nx2 x3\n")
        try:
            r = run("--print-nodes", "--nodefile", f.name)
            self.assertEqual(r.returncode, 1)
            self.assertIn("%s:2:" % f.name, r.stderr)
        finally:
            os.unlink(f.name)


class Output(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="canopy-topo-")

    def tearDown(self):
        for f in os.listdir(self.d):
            os.unlink(os.path.join(self.d, f))
        os.rmdir(self.d)

    def gen(self, *args, env=None):
        out = os.path.join(self.d, "t.json")
        r = run(*args, "-o", out, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            return json.load(f), out

    def test_slurm_env_is_the_default_source(self):
        t, _ = self.gen(env={"SLURM_JOB_NODELIST": "c[1-3]"})
        self.assertEqual([n["name"] for n in t["nodes"]], ["c1", "c2", "c3"])
        self.assertEqual(t["nodes"][0]["addr"], "c1:7470")

    def test_key_file_is_fresh_0600_and_loadable_size(self):
        t, out = self.gen("--nodelist", "a[1-2]")
        key = t["auth"]["key_file"]
        self.assertEqual(key, os.path.join(self.d, "t.key"))
        st = os.stat(key)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(key, "rb") as f:
            k1 = f.read()
        # io/wire.c: 32..64 bytes once one trailing newline is dropped
        self.assertTrue(k1.endswith(b"\n"))
        self.assertTrue(32 <= len(k1) - 1 <= 64, len(k1))
        self.gen("--nodelist", "a[1-2]")
        with open(key, "rb") as f:
            self.assertNotEqual(f.read(), k1, "the key was not renewed")

    def test_loopback_gets_consecutive_ports(self):
        t, _ = self.gen("--loopback", "3", "--port", "17100")
        self.assertEqual([n["addr"] for n in t["nodes"]],
                         ["127.0.0.1:17100", "127.0.0.1:17101",
                          "127.0.0.1:17102"])

    def test_several_nics_become_addrs(self):
        t, _ = self.gen("--nodelist", "x[1-2]", "--addr", "%n-hsn0,%n-hsn1",
                        "--provider", "cxi")
        self.assertEqual(t["nodes"][1]["addrs"],
                         ["x2-hsn0:7470", "x2-hsn1:7470"])
        self.assertEqual(t["transport"]["provider"], "cxi")

    def test_options_reach_the_json(self):
        t, _ = self.gen("--nodelist", "x[1-9]", "--roots", "x1,x5",
                        "--fanout", "8", "--data-mode", "rma",
                        "--placement", "block", "--export", "/lus/a",
                        "--export", "/lus/b", "--timeout", "3")
        self.assertEqual(t["roots"], ["x1", "x5"])
        self.assertEqual(t["fanout"], 8)
        self.assertEqual(t["placement"], "block")
        self.assertEqual(t["exports"], ["/lus/a", "/lus/b"])
        self.assertEqual(t["transport"], {"data_mode": "rma", "timeout": 3.0})

    def test_base_settings_are_kept(self):
        base = os.path.join(self.d, "base.json")
        with open(base, "w") as f:
            json.dump({"fuse": {"cpus": "0,1"},
                       "transport": {"provider": "cxi"}}, f)
        t, _ = self.gen("--nodelist", "x[1-2]", "--base", base,
                        "--data-mode", "rma")
        self.assertEqual(t["fuse"], {"cpus": "0,1"})
        self.assertEqual(t["transport"],
                         {"provider": "cxi", "data_mode": "rma"})
        os.unlink(base)

    def test_unknown_root_is_an_error(self):
        r = run("--nodelist", "x[1-2]", "--roots", "y1", "-o",
                os.path.join(self.d, "t.json"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("y1", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.d, "t.json")))

    def test_bad_node_list_names_the_position_and_writes_nothing(self):
        r = run("--nodelist", "x[1-2],y[3-", "-o",
                os.path.join(self.d, "t.json"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("position 9", r.stderr)
        self.assertEqual(os.listdir(self.d), [])

    def test_no_node_list_says_what_to_give(self):
        r = run("-o", os.path.join(self.d, "t.json"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("--nodelist", r.stderr)

    def test_ten_thousand_nodes_well_under_a_second(self):
        out = os.path.join(self.d, "big.json")
        t0 = time.monotonic()
        r = run("--nodelist", "nid[00001-10000]", "--addr",
                "%n-hsn0,%n-hsn1", "-o", out)
        dt = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            self.assertEqual(len(json.load(f)["nodes"]), 10000)
        print("\n  10,000 nodes: %.3f s (process start included)" % dt,
              file=sys.stderr)
        self.assertLess(dt, 1.0)


if __name__ == "__main__":
    unittest.main()
