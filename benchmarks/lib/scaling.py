"""Tree scaling, rpc vs rma throughput, and the scale simulation.

scaling: N canopyd daemons on 127.0.0.1 (ports 27000 and up), each with
its own mount, cache directory and control socket, form one cooperative
tree over ONE pfsmodel mount (a contended parallel file system) of a
site-packages-like tree. One loader process per node (loadtree.py: walk,
lstat, open and read every file) starts at the same instant on every node;
the figure is the time until the last one is done, and the operations the
PFS model served meanwhile (its own counters), against the same N loaders
reading the pfsmodel mount directly. Variants: data mode rpc / rma, one
root / several.

datamode: two daemons (a root and its child) over a local backing file
kept in the page cache; the child reads the cold file through its mount,
for cache.block_size 1, 4 and 16 MiB, rpc and rma: MB/s, median of
repeats; and fabbench, the transport alone, for the explanation.

simulate: benchmarks/simulate (tree.c's own trees and owners) predicts
time to load and backing-store load for 1,000..10,000 nodes; it first
predicts the measured runs of this host so that the two can be compared.
"""
import json
import os
import shutil
import signal
import subprocess
import time

from common import (BenchError, CsvOut, is_mountpoint, log, median,
                    read_text, run, wait_for)
from mounts import PfsModel, stats_delta
from tools import MiB, read_file
from trees import ensure_file, ensure_sitetree, tree_facts

PORT_BASE = 27000  # 17000..17999 belong to the functional tests
PORT_SPAN = 2000
LOADER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "loadtree.py")
PFS_KINDS = ("getattr", "readlink", "open", "read", "release", "opendir",
             "readdir", "releasedir", "statfs")
CANOPY_SUMS = ("backing.opens", "backing.reads", "backing.bytes",
               "backing.stats", "backing.readdirs", "peer.requests_in",
               "peer.requests_out", "peer.bytes_in", "peer.bytes_out",
               "peer.dropped", "peer.late", "failover.count",
               "auth.failures", "bytes.peers", "bytes.backing",
               "meta.hits", "meta.misses", "fuse.open.count",
               "fuse.lookup.count")

SCALE_FIELDS = ["system", "data_mode", "roots", "fanout", "nodes", "repeat",
                "wall_s", "node_s_max", "node_s_median", "node_s_min",
                "files", "bytes", "errors", "tree_files", "tree_dirs",
                "tree_bytes", "backing_ops", "backing_meta_ops",
                "backing_read_bytes", "backing_wait_s", "backing_busy_s",
                "backing_inflight_max", "backing_opens_per_file",
                "backing_bytes_per_tree"] + \
    [f"backing_{k}" for k in PFS_KINDS] + \
    ["nodes_touching_backing", "peer_requests", "peer_late", "failovers",
     "meta_misses", "daemon_cpu_s", "loader_cpu_s", "pfs_cpu_s",
     "host_cpu_s", "start_s", "loadavg"]
DM_FIELDS = ["data_mode", "block_size", "repeat", "MBps", "seconds",
             "file_bytes", "peer_requests", "peer_bytes_in", "failovers",
             "root_cpu_s", "child_cpu_s"]
FAB_FIELDS = ["procs", "test", "value", "unit", "line"]


# ---- helpers --------------------------------------------------------------

def proc_cpu_s(pid):
    """utime + stime of a process (all its threads), in seconds."""
    txt = read_text(f"/proc/{pid}/stat")
    if not txt:
        return 0.0
    fields = txt.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def host_cpu_s():
    """CPU time the whole host has spent busy (all CPUs, all processes,
    ours and anybody else's), from /proc/stat."""
    f = (read_text("/proc/stat") or "cpu 0 0 0 0").splitlines()[0].split()
    t = [int(x) for x in f[1:]] + [0] * 8
    # user, nice, system, irq, softirq: not idle, iowait or steal
    return (t[0] + t[1] + t[2] + t[5] + t[6]) / os.sysconf("SC_CLK_TCK")


def key_file(ctx):
    """A per-job key, as a real job has: 48 bytes, mode 0600."""
    p = os.path.join(ctx.work, "scale.key")
    if not os.path.exists(p):
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(24).hex() + "\n")
    os.chmod(p, 0o600)
    return p


def sum_stats(stats, keys=CANOPY_SUMS):
    return {k: sum(s.get(k, 0) for s in stats) for k in keys}


class Cluster:
    """N canopyd on 127.0.0.1 forming one topology: node i is "n<i>",
    listens on its own port, mounts WORK/mnt/<tag>-<i>, caches in
    CACHE_BASE/<tag>-<i> (on tmpfs already, so --cache-tmpfs false) and
    answers on WORK/<tag>/ctl-<i>.sock. All start at once; the context
    manager returns once every daemon reports ready, and ends them all
    (SIGTERM: each unmounts and exits) whatever happens."""
    _seq = 0

    def __init__(self, ctx, n, export, data_mode="rpc", roots=1, fanout=4,
                 block_size=None, tag="scale", timeout=2, extra=()):
        self.ctx = ctx
        self.n = n
        self.export = os.path.abspath(export)
        self.tag = tag
        self.dir = os.path.join(ctx.work, tag)
        # a new port range for every cluster: no waiting for the ports of
        # the last one to be released
        base = PORT_BASE + (Cluster._seq * 64) % PORT_SPAN
        Cluster._seq += 1
        self.topo = {
            "exports": [self.export],
            "nodes": [{"name": f"n{i}", "addr": f"127.0.0.1:{base + i}"}
                      for i in range(n)],
            "roots": min(roots, n), "fanout": fanout, "placement": "file",
            "auth": {"key_file": key_file(ctx)},
            "transport": {"data_mode": data_mode, "timeout": timeout},
        }
        if block_size:
            self.topo["cache"] = {"block_size": int(block_size)}
        self.extra = list(extra)
        self.procs = [None] * n
        self.mnts = [os.path.join(ctx.mnt, f"{tag}-{i}") for i in range(n)]
        self.caches = [os.path.join(ctx.cache_base, f"{tag}-{i}")
                       for i in range(n)]
        self.socks = [os.path.join(self.dir, f"ctl-{i}.sock")
                      for i in range(n)]
        self.start_s = None

    def path(self, i, p):
        """Backing path p as node i shows it (MOUNTPOINT/X is /X)."""
        return os.path.normpath(self.mnts[i] + "/" + os.path.abspath(p))

    def ctl(self, i, *args, check=True):
        return run([self.ctx.canopyctl, "-s", self.socks[i], *args],
                   check=check, timeout=30)

    def stats(self, i):
        r = self.ctl(i, "stats", "--json", check=False)
        try:
            return json.loads(r.stdout) if r.returncode == 0 else {}
        except ValueError:
            return {}

    def all_stats(self):
        return [self.stats(i) for i in range(self.n)]

    def cpu_s(self):
        return sum(proc_cpu_s(p.pid) for p in self.procs if p)

    def __enter__(self):
        os.makedirs(self.dir, exist_ok=True)
        topo = os.path.join(self.dir, "topo.json")
        with open(topo, "w") as f:
            json.dump(self.topo, f, indent=1)
        t0 = time.monotonic()
        try:
            for i in range(self.n):
                if is_mountpoint(self.mnts[i]):
                    raise BenchError(f"{self.mnts[i]} is already mounted")
                os.makedirs(self.mnts[i], exist_ok=True)
                shutil.rmtree(self.caches[i], ignore_errors=True)
                os.makedirs(self.caches[i])
                if os.path.exists(self.socks[i]):
                    os.unlink(self.socks[i])
                cmd = [self.ctx.canopyd, "-f", "-c", topo, "--node",
                       f"n{i}", "--cache-dir", self.caches[i],
                       "--cache-tmpfs", "false", "--ctl-socket",
                       self.socks[i], *self.extra, self.mnts[i]]
                self.procs[i] = self.ctx.spawn(cmd, f"{self.tag}-n{i}")
            for i in range(self.n):
                wait_for(lambda: self.ctl(i, "status", check=False)
                         .returncode == 0, 60, f"canopyd n{i} ready",
                         alive=lambda: self.procs[i].poll() is None,
                         interval=0.05)
                if not is_mountpoint(self.mnts[i]):
                    raise BenchError(f"canopyd n{i} ready, not mounted")
        except BaseException:
            self.stop()
            raise
        self.start_s = time.monotonic() - t0
        return self

    def stop(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        bad = []
        for i, p in enumerate(self.procs):
            if not p:
                continue
            rc = self.ctx.reap(p, timeout=30)
            if rc not in (0, None):
                bad.append(f"n{i}:{rc}")
            self.procs[i] = None
        for i in range(self.n):
            if is_mountpoint(self.mnts[i]):
                log(f"canopyd n{i} left {self.mnts[i]} mounted")
                run(["umount", "-l", self.mnts[i]], check=False)
            shutil.rmtree(self.caches[i], ignore_errors=True)
        if bad:
            self.ctx.note(f"{self.tag}: canopyd exit status on SIGTERM: "
                          + ", ".join(bad))

    def __exit__(self, *exc):
        self.stop()
        return False


def run_loaders(roots, timeout=900):
    """One loadtree.py per root, all released at once; returns the wall
    time from the release to the last exit and each loader's JSON."""
    ps = []
    try:
        for r in roots:
            ps.append(subprocess.Popen(
                ["/usr/bin/python3", "-S", LOADER, r],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True))
        for p in ps:  # each prints "ready" once its interpreter is up
            if p.stdout.readline().strip() != "ready":
                raise BenchError(f"loader: {p.stderr.read()[-300:]}")
        t0 = time.monotonic()
        for p in ps:
            p.stdin.write("go\n")
            p.stdin.close()
            p.stdin = None  # so that communicate() leaves it alone
        res = []
        for p in ps:
            out, err = p.communicate(timeout=timeout)
            if p.returncode != 0:
                raise BenchError(f"loader exit {p.returncode}: "
                                 f"{err[-300:]}")
            res.append(json.loads(out))
        wall = time.monotonic() - t0
        return wall, res
    finally:
        for p in ps:
            if p.poll() is None:
                p.kill()
                p.wait()


# ---- tree scaling -----------------------------------------------------------

def scaling_tree(ctx):
    """The site-packages-like tree of the scaling step: 3,000 files and
    big extensions of 4, 12 and 24 MiB; --quick: 500 files, 4 and 12
    MiB."""
    n, big = (500, (4 * MiB, 12 * MiB)) if ctx.quick else \
        (3000, (4 * MiB, 12 * MiB, 24 * MiB))
    return ensure_sitetree(os.path.join(ctx.data, f"site{n}"), n=n,
                           big=big)


class Scaling:
    def __init__(self, ctx):
        self.ctx = ctx
        q = ctx.quick
        self.Ns = [1, 2, 4, 8, 16] if q else [1, 2, 4, 8, 16, 32]
        self.R = 1 if q else min(3, ctx.repeats)
        self.tree = scaling_tree(ctx)
        self.facts = tree_facts(self.tree)
        self.facts["files"] += 1  # its .stamp, which the loaders read too
        self.csv = CsvOut(os.path.join(ctx.out, "scaling.csv"),
                          SCALE_FIELDS)
        # (data_mode, roots): the main line at every N, the variants at
        # N >= 4 in the full run and at the largest N in --quick
        self.main = ("rpc", 1)
        self.variants = [("rma", 1), ("rpc", 4), ("rma", 4)]
        self.variant_Ns = self.Ns[-1:] if q else \
            [n for n in self.Ns if n >= 4]

    def row(self, system, n, rep, wall, res, b0, b1, data_mode="",
            roots="", fanout="", extra=None):
        d = {k: b1[k] - b0[k] for k in PFS_KINDS + (
            "total_ops", "meta_ops", "read_bytes", "wait_s", "busy_s")}
        times = sorted(r["seconds"] for r in res)
        files = sum(r["files"] for r in res)
        errors = sum(r["errors"] for r in res)
        if errors:
            msgs = [m for r in res for m in r["messages"]][:2]
            self.ctx.note(f"scaling {system} {data_mode} R={roots} N={n}: "
                          f"{errors} loader errors, e.g. {msgs}")
        if files != n * self.facts["files"]:
            self.ctx.note(f"scaling {system} N={n}: loaders read {files} "
                          f"files, expected {n * self.facts['files']}")
        row = dict(system=system, data_mode=data_mode, roots=roots,
                   fanout=fanout, nodes=n, repeat=rep, wall_s=wall,
                   node_s_max=times[-1], node_s_median=median(times),
                   node_s_min=times[0], files=files,
                   bytes=sum(r["bytes"] for r in res), errors=errors,
                   tree_files=self.facts["files"],
                   tree_dirs=self.facts["dirs"],
                   tree_bytes=self.facts["bytes"],
                   backing_ops=d["total_ops"], backing_meta_ops=d["meta_ops"],
                   backing_read_bytes=d["read_bytes"],
                   backing_wait_s=d["wait_s"], backing_busy_s=d["busy_s"],
                   backing_inflight_max=b1.get("inflight_max"),
                   backing_opens_per_file=d["open"] / self.facts["files"],
                   backing_bytes_per_tree=d["read_bytes"] /
                   self.facts["bytes"],
                   loader_cpu_s=sum(r["cpu_s"] for r in res),
                   loadavg=round(os.getloadavg()[0], 2),
                   **{f"backing_{k}": d[k] for k in PFS_KINDS})
        row.update(extra or {})
        self.csv.add(**row)
        log(f"scaling {system:6} {data_mode:3} R={roots!s:2} N={n:2}: "
            f"{wall:6.2f} s, PFS ops {d['total_ops']}, opens/file "
            f"{row['backing_opens_per_file']:.2f}, read/tree "
            f"{row['backing_bytes_per_tree']:.2f}")
        return row

    def direct(self, pfs, n, rep):
        root = pfs.path(self.tree)
        b0 = pfs.stats()
        c0, h0 = proc_cpu_s(pfs.proc.pid), host_cpu_s()
        wall, res = run_loaders([root] * n)
        c1, h1 = proc_cpu_s(pfs.proc.pid), host_cpu_s()
        b1 = pfs.stats()
        self.row("direct", n, rep, wall, res, b0, b1, extra={
            "pfs_cpu_s": c1 - c0, "host_cpu_s": h1 - h0})

    def canopy(self, pfs, n, rep, data_mode, roots, fanout=4):
        with Cluster(self.ctx, n, pfs.mnt, data_mode=data_mode,
                     roots=roots, fanout=fanout) as cl:
            ptree = pfs.path(self.tree)
            s0 = cl.all_stats()
            b0 = pfs.stats()
            c0, p0 = cl.cpu_s(), proc_cpu_s(pfs.proc.pid)
            h0 = host_cpu_s()
            wall, res = run_loaders([cl.path(i, ptree) for i in range(n)])
            h1 = host_cpu_s()
            c1, p1 = cl.cpu_s(), proc_cpu_s(pfs.proc.pid)
            b1 = pfs.stats()
            s1 = cl.all_stats()
            per = [stats_delta(a, b) for a, b in zip(s0, s1)]
            tot = sum_stats(per)
            self.row("canopy", n, rep, wall, res, b0, b1, data_mode,
                     min(roots, n), fanout, extra={
                         "nodes_touching_backing": sum(
                             1 for s in per if s.get("backing.opens", 0) or
                             s.get("backing.reads", 0)),
                         "peer_requests": tot["peer.requests_out"],
                         "peer_late": tot["peer.late"],
                         "failovers": tot["failover.count"],
                         "meta_misses": tot["meta.misses"],
                         "daemon_cpu_s": c1 - c0, "pfs_cpu_s": p1 - p0,
                         "host_cpu_s": h1 - h0,
                         "start_s": cl.start_s})
            if tot["failover.count"]:
                self.ctx.note(f"scaling canopy {data_mode} R={roots} "
                              f"N={n}: {tot['failover.count']} failovers, "
                              f"{tot['peer.late']} late answers")

    def run(self):
        ctx = self.ctx
        log(f"scaling: tree {self.facts}, N {self.Ns}, repeats {self.R}")
        with PfsModel(ctx, self.tree, label="pfs-scale") as pfs:
            ctx.mounts_seen["pfs-scale"] = pfs.stats()
            # warm the backing disk's page cache: the model's service
            # times, not the disk, are what the PFS costs
            run_loaders([self.tree])
            for rep in range(self.R):
                for n in self.Ns:
                    self.direct(pfs, n, rep)
                    self.canopy(pfs, n, rep, *self.main)
                    if n in self.variant_Ns:
                        for dm, r in self.variants:
                            if r <= n:
                                self.canopy(pfs, n, rep, dm, r)
        self.csv.close()


def run_scaling(ctx):
    Scaling(ctx).run()


# ---- rpc vs rma -------------------------------------------------------------

def parse_fabbench(text):
    """Rows (procs, test, value, unit, line) from fabbench's output."""
    import re
    rows = []
    for line in text.splitlines():
        m = re.match(r"(\d) procs?\s+(lat|send|read):", line)
        if not m:
            continue
        procs, test = int(m.group(1)), m.group(2)
        if test == "lat":
            v = re.search(r"median ([\d.]+) us", line)
            unit = "us"
        else:
            v = re.search(r"([\d.]+) GB/s", line)
            unit = "GB/s"
        if v:
            rows.append({"procs": procs, "test": test,
                         "value": float(v.group(1)), "unit": unit,
                         "line": line.strip()})
    return rows


def run_fabbench(ctx):
    """benchmarks/fabbench (the transport alone, loopback): round-trip
    latency, 4 MiB sends, 4 MiB fab_read()s, in one and in two
    processes. Returns its rows, [] when it is not built."""
    fb = os.path.join(ctx.root, "build", "release", "benchmarks",
                      "fabbench")
    if not os.access(fb, os.X_OK):
        ctx.note("fabbench not built: no transport-only figures")
        return []
    out = CsvOut(os.path.join(ctx.out, "fabbench.csv"), FAB_FIELDS)
    r = run([fb], check=False, timeout=300)
    rows = parse_fabbench(r.stdout + r.stderr)
    if r.returncode != 0 or not rows:
        ctx.note(f"fabbench exit {r.returncode}: "
                 f"{(r.stdout + r.stderr).strip()[-300:]}")
    for row in rows:
        out.add(**row)
        log(f"fabbench {row['line']}")
    out.close()
    return rows


def run_datamode(ctx):
    """Two daemons, root n0 and its child n1, over a local file kept in
    the page cache; the child reads the file through its mount, both
    caches empty (cold), 1 MiB reads: MB/s per block size and data
    mode, rpc and rma interleaved."""
    q = ctx.quick
    size = (128 if q else 512) * MiB
    R = 3 if q else max(3, ctx.repeats)
    bss = [1 * MiB, 4 * MiB, 16 * MiB]
    big = ensure_file(os.path.join(ctx.data, "dm", f"dm{size >> 20}m"),
                      size)
    read_file(big)  # the root reads from the page cache, not the disk
    out = CsvOut(os.path.join(ctx.out, "datamode.csv"), DM_FIELDS)
    try:
        for rep in range(R):
            for bs in bss:
                for mode in ("rpc", "rma") if rep % 2 == 0 else \
                        ("rma", "rpc"):
                    with Cluster(ctx, 2, os.path.dirname(big),
                                 data_mode=mode, block_size=bs,
                                 tag="dm") as cl:
                        c0 = [proc_cpu_s(p.pid) for p in cl.procs]
                        s0 = cl.stats(1)
                        secs = read_file(cl.path(1, big))
                        d = stats_delta(s0, cl.stats(1))
                        c1 = [proc_cpu_s(p.pid) for p in cl.procs]
                    mbps = size / secs / 1e6
                    out.add(data_mode=mode, block_size=bs, repeat=rep,
                            MBps=mbps, seconds=secs, file_bytes=size,
                            peer_requests=d.get("peer.requests_out"),
                            peer_bytes_in=d.get("peer.bytes_in"),
                            failovers=d.get("failover.count"),
                            root_cpu_s=c1[0] - c0[0],
                            child_cpu_s=c1[1] - c0[1])
                    log(f"datamode {mode} block {bs >> 20} MiB: "
                        f"{mbps:.0f} MB/s")
                    if d.get("peer.bytes_in") != size:
                        ctx.note(f"datamode {mode} {bs >> 20} MiB: the "
                                 f"child got {d.get('peer.bytes_in')} "
                                 f"bytes from its parent, not {size}")
    finally:
        out.close()
    run_fabbench(ctx)


# ---- the scale simulation -------------------------------------------------

SIM_FIELDS = ["system", "nodes", "roots", "fanout", "height", "time_s",
              "backing_ops", "backing_bytes", "backing_slot_s",
              "chain_backing_s", "chain_cpu_s", "max_served",
              "max_interior_trees", "classes"]
CHECK_FIELDS = ["system", "data_mode", "roots", "fanout", "nodes",
                "measured_s", "predicted_s", "error", "measured_ops",
                "predicted_ops"]
# a cluster node (the prediction; the calibration uses this host's
# figures instead): a Slingshot/InfiniBand-class network, and canopyd's
# transport.threads
CLUSTER = {"hop_us": 5, "link_gbps": 12.5, "serve_us": 20, "threads": 4}
SERVE_US = 30  # a loopback daemon serving one request (not measured)


def write_manifest(tree, shown_as, path):
    """The tree's objects in loadtree.py's order, as simulate reads them:
    "d ENTRIES PATH" for a listing, "f SIZE PATH" for a file, paths as
    canopyd names them (shown_as + the path inside the tree)."""
    n = 0
    with open(path, "w") as f:
        for d, subdirs, names in os.walk(tree):
            subdirs.sort()
            rel = os.path.relpath(d, tree)
            base = shown_as if rel == "." else os.path.join(shown_as, rel)
            f.write(f"d {len(subdirs) + len(names)} {base}\n")
            for name in sorted(names):
                st = os.lstat(os.path.join(d, name))
                if os.path.isfile(os.path.join(d, name)) and \
                        not os.path.islink(os.path.join(d, name)):
                    f.write(f"f {st.st_size} {os.path.join(base, name)}\n")
                    n += 1
    return n


def _rows(ctx, name):
    import csv
    p = os.path.join(ctx.out, name)
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return list(csv.DictReader(f))


def _f(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def calibrate(ctx, scale_rows, fab_rows):
    """Model parameters from this run's measurements (see the README):
    the PFS model's slot time per operation, metadata operations per file
    (canopy's owner root, a direct reader), CPU per file and node, the
    loopback hop. Returns (params common to both, cpu_us by data mode,
    facts for the summary)."""
    def med(vals):
        return median([v for v in vals if v is not None])

    def rows(**m):
        return [r for r in scale_rows
                if all(str(r[k]) == str(v) for k, v in m.items())]
    files = _f(scale_rows[0]["tree_files"])
    dirs = _f(scale_rows[0]["tree_dirs"])

    def meta_per_file(r):
        meta = _f(r["backing_ops"]) - _f(r["backing_read"])
        return (meta - 3 * dirs) / files
    # slot time per op where the model is busy: direct, N >= 8
    busy = [_f(r["backing_busy_s"]) / _f(r["backing_ops"])
            for r in rows(system="direct") if int(r["nodes"]) >= 8]
    p = {"meta_us": round(1e6 * (med(busy) or 250e-6), 1),
         "canopy_ops": round(med([meta_per_file(r) for r in
                                  rows(system="canopy", nodes=1)]), 2),
         "direct_ops": round(med([meta_per_file(r) for r in
                                  rows(system="direct", nodes=1)]), 2),
         "cpu_ns_byte": 0}

    def cpu_per_file(r, keys):
        return sum(_f(r[k]) or 0 for k in keys) / \
            (int(r["nodes"]) * files) * 1e6
    cpu = {}
    for dm in ("rpc", "rma"):
        rs = [r for r in rows(system="canopy", data_mode=dm)]
        if rs:
            cpu[dm] = round(med([cpu_per_file(
                r, ("daemon_cpu_s", "loader_cpu_s", "pfs_cpu_s"))
                for r in rs]), 1)
    p["direct_cpu_us"] = round(med([cpu_per_file(
        r, ("loader_cpu_s", "pfs_cpu_s")) for r in rows(system="direct")]),
        1)
    host = {"host_cores": os.cpu_count(), "serve_us": SERVE_US,
            "hop_us": 25, "link_gbps": 2}
    lat = [r["value"] for r in fab_rows if r["test"] == "lat" and
           r["procs"] == 2]
    send = [r["value"] for r in fab_rows if r["test"] == "send" and
            r["procs"] == 2]
    if lat:
        host["hop_us"] = round(lat[0] / 2, 1)
    if send:
        host["link_gbps"] = send[0]
    return p, cpu, host


def simulate(ctx, manifest, params, nodes, roots, fanouts, which="both"):
    sim = os.path.join(ctx.root, "build", "release", "benchmarks",
                       "simulate")
    cmd = [sim, "-m", manifest, "-s", which,
           "-n", ",".join(map(str, nodes)),
           "-r", ",".join(map(str, roots)),
           "-k", ",".join(map(str, fanouts))] + \
        [f"--{k}={v}" for k, v in params.items()]
    r = run(cmd, timeout=600)
    import csv
    import io
    return list(csv.DictReader(io.StringIO(r.stdout))), r.stderr.strip()


def run_simulate(ctx):
    sim = os.path.join(ctx.root, "build", "release", "benchmarks",
                       "simulate")
    if not os.access(sim, os.X_OK):
        raise BenchError(f"{sim} missing: make {sim}")
    scale_rows = _rows(ctx, "scaling.csv")
    fab_rows = [dict(r, procs=int(r["procs"]), value=float(r["value"]))
                for r in _rows(ctx, "fabbench.csv")]
    tree = scaling_tree(ctx)
    manifest = os.path.join(ctx.work, "simulate.manifest")
    write_manifest(tree, os.path.join(ctx.mnt, "pfs-scale"), manifest)
    info = {"manifest": manifest, "tree": tree}
    out = CsvOut(os.path.join(ctx.out, "simulate.csv"), SIM_FIELDS)
    check = CsvOut(os.path.join(ctx.out, "simulate_check.csv"),
                   CHECK_FIELDS)
    try:
        if scale_rows:
            p, cpu, host = calibrate(ctx, scale_rows, fab_rows)
        else:
            ctx.note("simulate: no scaling.csv in this run: model "
                     "defaults, no check against measurements")
            p, cpu, host = {}, {}, {}
        info.update(params=p, cpu_us=cpu, host=host)
        # 1. this host, against what was measured
        for dm in sorted(cpu):
            meas = [r for r in scale_rows if r["system"] in
                    ("direct", "canopy") and r["data_mode"] in ("", dm)]
            Ns = sorted({int(r["nodes"]) for r in meas})
            Rs = sorted({int(r["roots"]) for r in meas if r["roots"]})
            ks = sorted({int(r["fanout"]) for r in meas if r["fanout"]})
            prm = dict(p, cpu_us=cpu[dm], **host)
            pred, _ = simulate(ctx, manifest, prm, Ns, Rs, ks,
                               "both" if dm == "rpc" else "canopy")
            for pr in pred:
                sysname = pr["system"]
                ms = [r for r in meas if r["system"] == sysname and
                      int(r["nodes"]) == int(pr["nodes"]) and
                      (sysname == "direct" or
                       (int(r["roots"]) == min(int(pr["roots"]),
                                               int(pr["nodes"])) and
                        int(r["fanout"]) == int(pr["fanout"]) and
                        r["data_mode"] == dm))]
                if not ms:
                    continue
                m = median([_f(r["wall_s"]) for r in ms])
                mo = median([_f(r["backing_ops"]) for r in ms])
                ps = _f(pr["time_s"])
                check.add(system=sysname,
                          data_mode="" if sysname == "direct" else dm,
                          roots=pr["roots"] if sysname != "direct" else "",
                          fanout=pr["fanout"] if sysname != "direct"
                          else "", nodes=pr["nodes"], measured_s=m,
                          predicted_s=ps, error=(ps - m) / m,
                          measured_ops=mo,
                          predicted_ops=_f(pr["backing_ops"]))
        # 2. a cluster: 1,000 .. 10,000 nodes, 1..8 roots, fan-out 2..32
        prm = dict(p, **CLUSTER)
        if "rpc" in cpu:
            prm["cpu_us"] = cpu_per_node_alone(scale_rows, "rpc") or \
                cpu["rpc"]
        rows, params = simulate(ctx, manifest, prm,
                                [1000, 2000, 5000, 10000], [1, 2, 4, 8],
                                [2, 4, 8, 16, 32])
        info["cluster_params"] = prm
        info["simulate_stderr"] = params
        for r in rows:
            out.add(**{k: r[k] for k in SIM_FIELDS})
        log(f"simulate: {params}")
    finally:
        out.close()
        check.close()
    with open(os.path.join(ctx.out, "simulate.json"), "w") as f:
        json.dump(info, f, indent=1)


def cpu_per_node_alone(scale_rows, dm):
    """CPU per file of one node that has its cores to itself: the N = 1
    canopy run (daemon + importer)."""
    rs = [r for r in scale_rows if r["system"] == "canopy" and
          r["data_mode"] == dm and r["nodes"] == "1"]
    if not rs:
        return None
    files = _f(rs[0]["tree_files"])
    return round(median([(_f(r["daemon_cpu_s"]) + _f(r["loader_cpu_s"]))
                         / files * 1e6 for r in rs]), 1)
