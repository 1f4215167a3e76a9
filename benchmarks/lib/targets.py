"""Issue-2 targets (a)-(e), each a median of repeats beside its baseline.

(a) warm sequential read, 1 GiB, 1 MiB reads: canopy / native >= 0.9
(b) cold first read of the same:              canopy / bindfs >= 1.5
(c) warm stat (existing, missing):            canopy / native >= 0.7
    warm open+read+close of small files:      canopy / native >= 0.25
                                              canopy / bindfs >= 2
    the last two for canopy over /dev/fuse (enable_uring=N, the kernel's
    default), over FUSE-over-io_uring (enable_uring=Y), and with
    fuse.no_open (the kernel opens files without asking canopyd; full runs
    also show what that mode costs (a))
(d) max_pages_limit 4096, cached mode:        fuse.read.size_max >= 4 MiB
(e) canopyd VmRSS serving 20,000 files:       <= 64 MiB
"""
import contextlib
import os

from common import CsvOut, drop_caches, log, median, run
from mounts import Bindfs, Canopy, Native, stats_delta
from tools import MiB, fio, metabench, read_file
from trees import ensure_file, ensure_pytree, ensure_tree20k, make_lists, \
    py_lists, walk_files
import reqsize

GiB = 1 << 30
MAX_PAGES_LIMIT = "/proc/sys/fs/fuse/max_pages_limit"
ENABLE_URING = "/sys/module/fuse/parameters/enable_uring"

RAW_FIELDS = ["target", "system", "config", "repeat", "value", "unit",
              "detail"]
SUM_FIELDS = ["target", "what", "canopy", "baseline_system", "baseline",
              "unit", "ratio", "goal", "met", "repeats", "detail"]


class Targets:
    def __init__(self, ctx):
        self.ctx = ctx
        self.raw = CsvOut(os.path.join(ctx.out, "targets_raw.csv"),
                          RAW_FIELDS)
        self.sum = CsvOut(os.path.join(ctx.out, "targets.csv"), SUM_FIELDS)
        self.R = max(3, ctx.repeats)
        self.big = ensure_file(os.path.join(ctx.data, "big", "seq1g"), GiB)

    def rec(self, target, system, config, rep, value, unit, detail=""):
        self.raw.add(target=target, system=system, config=config,
                     repeat=rep, value=value, unit=unit, detail=detail)

    def verdict(self, target, what, canopy, base_sys, base, unit, goal,
                higher_is_better=True, detail="", ratio=None, n=None):
        if ratio is None and canopy is not None and base:
            ratio = canopy / base
        if goal is None or ratio is None:
            met = ""
        else:
            met = "yes" if (ratio >= goal if higher_is_better
                            else ratio <= goal) else "NO"
        self.sum.add(target=target, what=what, canopy=canopy,
                     baseline_system=base_sys, baseline=base, unit=unit,
                     ratio=ratio, goal=goal, met=met,
                     repeats=n or self.R, detail=detail)
        log(f"target {target}: {what}: canopy {canopy} vs {base_sys} {base}"
            f" {unit} -> ratio {ratio} (goal {goal}) {met}")

    # (a) -------------------------------------------------------------
    def warm_read(self):
        """Warm sequential reads, time-based (the file is re-read for
        `secs`), canopy and native interleaved. Besides the daemon defaults
        (passthrough once the file is cached), also: --passthrough false;
        the cache file itself read natively from tmpfs (the ceiling of
        passthrough); and the cache on a tmpfs mounted huge=within_size.
        --quick measures the daemon defaults (and the cache file) only:
        the other two are diagnoses, not the target."""
        ctx, big = self.ctx, self.big
        root = os.path.dirname(big)
        secs = 1.5 if ctx.quick else 4
        huge = os.path.join(ctx.mnt, "hugetmpfs")

        def rd(path):
            return fio(path, rw="read", bs=MiB, size=GiB, runtime=secs,
                       time_based=True)["MBps"]
        variants = [("default", {})]
        if not ctx.quick:
            variants += [("cached", {"mode": "cached"}),
                         ("no_open", {"extra": ["--no-open", "true"]}),
                         ("huge tmpfs cache", {"cache_base": huge})]
        res = {}
        for cfg, kw in variants:
            if "cache_base" in kw:
                os.makedirs(huge, exist_ok=True)
                run(["mount", "-t", "tmpfs", "-o",
                     "size=3g,huge=within_size", "canopy-bench", huge])
            try:
                with Canopy(ctx, root, **kw) as c:
                    p = c.path(big)
                    # fill the cache, then reopen: passthrough when complete
                    read_file(p)
                    read_file(p)
                    # canopy fills its cache with O_DIRECT, which leaves
                    # the backing file out of the page cache: warm it too
                    read_file(big)
                    cf = c.largest_cache_file()
                    s0 = c.stats()
                    for r in range(self.R):
                        order = [("native", big), ("canopy", p)]
                        if cfg == "default" and cf:
                            order.append(("tmpfs cache file", cf))
                        if r % 2:
                            order.reverse()
                        for name, path in order:
                            v = rd(path)
                            res.setdefault((cfg, name), []).append(v)
                            self.rec("a", name, cfg, r, v, "MB/s")
                    d = stats_delta(s0, c.stats())
            finally:
                if "cache_base" in kw:
                    run(["umount", huge], check=False)
            res[(cfg, "detail")] = (
                f"passthrough.opens +{d.get('passthrough.opens', '?')}, "
                f"fuse.read.count +{d.get('fuse.read.count', '?')} over "
                f"{self.R} timed runs of {secs} s")
        m = {k: median(v) for k, v in res.items() if k[1] != "detail"}
        self.verdict("a", "warm seq read 1 GiB, 1 MiB reads (daemon "
                     "defaults)", m[("default", "canopy")], "native",
                     m[("default", "native")], "MB/s", 0.9,
                     detail=res[("default", "detail")])
        if ("default", "tmpfs cache file") in m:
            self.verdict("a", "diagnosis: the cache file on /dev/shm read "
                         "natively (what passthrough reads)",
                         m[("default", "tmpfs cache file")], "native",
                         m[("default", "native")], "MB/s", None)
        if ("cached", "canopy") in m:
            self.verdict("a", "same, --passthrough false (FUSE page "
                         "cache)", m[("cached", "canopy")], "native",
                         m[("cached", "native")], "MB/s", None,
                         detail=res[("cached", "detail")])
        if ("no_open", "canopy") in m:
            self.verdict("a", "same, --no-open true (FUSE page cache, "
                         "the mode of (c)'s fuse.no_open row)",
                         m[("no_open", "canopy")], "native",
                         m[("no_open", "native")], "MB/s", None,
                         detail=res[("no_open", "detail")])
        if ("huge tmpfs cache", "canopy") in m:
            self.verdict("a", "same, cache dir on tmpfs huge=within_size",
                         m[("huge tmpfs cache", "canopy")], "native",
                         m[("huge tmpfs cache", "native")], "MB/s", None,
                         detail=res[("huge tmpfs cache", "detail")])

    # (b) -------------------------------------------------------------
    def cold_read(self):
        """bindfs, canopy and native, each after the page cache was
        dropped, in an order that rotates from repeat to repeat: on a VM
        whose balloon reports free memory to the host, what one system
        freed makes the next one's first touches cheap or dear, so a fixed
        order would favour one of them in every repeat. As a diagnosis, fio
        reads the backing file the way canopy fetches it: O_DIRECT reads
        of a block (4 MiB), 16 in flight (io.fetch_ahead). It runs first in
        each repeat, so it is not a ceiling. The detail gives the range of
        canopy / bindfs within each repeat, beside the ratio of medians."""
        ctx, big = self.ctx, self.big
        root = os.path.dirname(big)
        kinds = ("bindfs", "canopy", "native")
        res = {"native": [], "bindfs": [], "canopy": [], "device": []}
        detail = ""
        for r in range(self.R):
            drop_caches()
            v = fio(big, rw="read", bs=4 * MiB, direct=True,
                    iodepth=16)["MBps"]
            res["device"].append(v)
            self.rec("b", "device", "O_DIRECT bs=4M iodepth=16", r, v,
                     "MB/s")
            for kind in kinds[r % 3:] + kinds[:r % 3]:
                cls = {"native": Native, "bindfs": Bindfs,
                       "canopy": Canopy}[kind]
                with cls(ctx, root) as s:
                    drop_caches()
                    v = fio(s.path(big), rw="read", bs=MiB)["MBps"]
                    res[kind].append(v)
                    self.rec("b", kind, "cold", r, v, "MB/s")
                    if kind == "canopy":
                        st = s.stats()
                        detail = (f"backing.reads {st.get('backing.reads')}"
                                  f", backing.bytes "
                                  f"{st.get('backing.bytes')}, READs "
                                  f"{st.get('fuse.read.count')} of which "
                                  f"waited for a fetch (cache.waits) "
                                  f"{st.get('cache.waits')}, "
                                  f"cache.readaheads "
                                  f"{st.get('cache.readaheads')}")
        pairs = sorted(c / b for c, b in zip(res["canopy"], res["bindfs"])
                       if b)
        self.verdict("b", "cold first read 1 GiB, 1 MiB reads",
                     median(res["canopy"]), "bindfs", median(res["bindfs"]),
                     "MB/s", 1.5, detail=f"canopy / bindfs within each "
                     f"repeat: {', '.join(f'{x:.2f}' for x in pairs)}; "
                     f"native cold: {median(res['native']):.0f} MB/s; "
                     f"canopy {detail}")
        self.verdict("b", "diagnosis: the backing file read natively, with "
                     "no FUSE at all: the ceiling of any cache on this "
                     "node", median(res["native"]), "bindfs",
                     median(res["bindfs"]), "MB/s", None)
        self.verdict("b", "diagnosis: the backing file read with O_DIRECT, "
                     "4 MiB reads, 16 in flight (canopy's fetch pattern, "
                     "measured first)", median(res["canopy"]), "device",
                     median(res["device"]), "MB/s", None)

    # (c) -------------------------------------------------------------
    def uring_canopy(self, stack, tree):
        """A second canopyd, on FUSE-over-io_uring. The fuse module offers
        it only while enable_uring is Y, at INIT; the knob goes back as
        soon as the daemon is mounted (a connection keeps what INIT gave
        it). None when this kernel has no FUSE-over-io_uring."""
        ctx = self.ctx
        if not os.path.exists(ENABLE_URING):
            ctx.note("(c) this kernel has no FUSE-over-io_uring: canopy "
                     "measured over /dev/fuse only")
            return None
        ctx.knobs.set(ENABLE_URING, "Y")
        try:
            cu = stack.enter_context(Canopy(ctx, tree, label="canopy-uring"))
        finally:
            ctx.knobs.restore(ENABLE_URING)
        if not cu.status.get("uring_queues"):
            ctx.note("(c) canopy-uring did not get io_uring queues: "
                     f"{cu.status}")
        return cu

    def metadata(self):
        """Native, canopy (/dev/fuse), canopy on io_uring and bindfs over
        the same lists, interleaved; --quick uses a fixed random sample of
        the tree (trees.QUICK_FILES files), since bindfs does under 1,000
        open+read+close a second and every timed run is at least one
        whole pass."""
        ctx = self.ctx
        tree = ensure_pytree(os.path.join(ctx.data, "py"))
        lists = py_lists(ctx, tree)
        secs = 0.5 if ctx.quick else 2
        vals, ops, reqs = {}, {}, {}
        with contextlib.ExitStack() as stack:
            c = stack.enter_context(Canopy(ctx, tree))
            cu = self.uring_canopy(stack, tree)
            cn = stack.enter_context(Canopy(ctx, tree, label="canopy-noopen",
                                            extra=["--no-open", "true"]))
            b = stack.enter_context(Bindfs(ctx, tree))
            daemons = [d for d in (c, cu, cn) if d]
            systems = [Native(ctx)] + daemons + [b]
            for s in systems:  # warm-up pass
                for op, (lst, _) in lists.items():
                    metabench(ctx, "read" if op == "read" else "stat", lst,
                              s.path(tree))
            for r in range(self.R):
                for op, (lst, n) in lists.items():
                    for s in systems:
                        s0 = s.stats() if s in daemons else None
                        js = metabench(ctx, "read" if op == "read" else
                                       "stat", lst, s.path(tree),
                                       seconds=secs)
                        v = js["ops_per_s"]
                        vals.setdefault((op, s.name), []).append(v)
                        if s in daemons:
                            key = (s.name, op)
                            ops[key] = ops.get(key, 0) + js["ops"]
                            rq = reqs.setdefault(key, {})
                            for k, x in stats_delta(s0, s.stats()).items():
                                if not x:
                                    continue
                                if k.startswith("fuse.") and \
                                        k.endswith(".count"):
                                    k = k.split(".")[1]
                                elif not k.startswith(("backing.",
                                                       "uring.")):
                                    continue
                                rq[k] = rq.get(k, 0) + x
                        if js["errors"]:
                            ctx.note(f"(c) {s.name} {op}: {js['errors']} "
                                     f"errors: {js['messages'][:2]}")
                        self.rec("c", s.name, f"warm {op}", r, v, "ops/s",
                                 f"files={n} ok={js['ok']} "
                                 f"enoent={js['enoent']} "
                                 f"errors={js['errors']}")

        def dmn(name, op):
            key = (name, op)
            per = ", ".join(f"{k} {v / ops[key]:.2f}"
                            for k, v in sorted(reqs.get(key, {}).items()))
            return (f"{lists[op][1]} paths{sample}; FUSE requests to "
                    f"{name} (and its backing.* operations) per benchmark "
                    "op in the timed runs: " + (per or "none"))
        sample = " (a fixed random sample, --quick)" if ctx.quick else ""
        m = {k: median(v) for k, v in vals.items()}
        self.verdict("c", "warm stat, existing paths",
                     m[("stat", "canopy")], "native", m[("stat", "native")],
                     "ops/s", 0.7, detail=dmn("canopy", "stat"))
        self.verdict("c", "warm stat, missing paths",
                     m[("missing", "canopy")], "native",
                     m[("missing", "native")], "ops/s", 0.7,
                     detail=dmn("canopy", "missing"))
        for d in daemons:
            how = ("FUSE-over-io_uring" if d is cu else
                   "fuse.no_open, /dev/fuse" if d is cn else
                   "/dev/fuse, enable_uring=N")
            self.verdict("c", f"warm open+read+close, small files ({how})",
                         m[("read", d.name)], "native",
                         m[("read", "native")], "ops/s", 0.25,
                         detail=dmn(d.name, "read"))
            self.verdict("c", f"warm open+read+close, small files ({how})",
                         m[("read", d.name)], "bindfs",
                         m[("read", "bindfs")], "ops/s", 2.0)

    # (d) -------------------------------------------------------------
    def max_read(self):
        ctx, big = self.ctx, self.big
        ctx.knobs.set(MAX_PAGES_LIMIT, 4096)
        try:
            with Canopy(ctx, os.path.dirname(big), mode="cached",
                        max_pages=4096) as c:
                p = c.path(big)
                read_file(p)
                status = c.status
                bw = []
                runmax = []
                for r in range(self.R):
                    s0 = c.stats()
                    v = fio(p, rw="read", bs=16 * MiB, invalidate=True)
                    d = stats_delta(s0, c.stats())
                    rs = reqsize.summarize(d)
                    bw.append(v["MBps"])
                    runmax.append(rs["max"])
                    self.rec("d", "canopy", "cached mp=4096 bs=16M", r,
                             v["MBps"], "MB/s",
                             f"requests={rs['count']} "
                             f"run_max={rs['max']} mean={rs['mean']}")
                st = c.stats()
        finally:
            ctx.knobs.restore(MAX_PAGES_LIMIT)
        smax = st.get("fuse.read.size_max")
        self.verdict("d", "fuse.read.size_max, cached seq read, 16 MiB "
                     "reads, max_pages_limit=4096",
                     smax / MiB if smax is not None else None, "goal", 4,
                     "MiB", 1.0, detail=(
                         f"negotiated max_pages="
                         f"{status.get('max_pages')} max_read="
                         f"{status.get('max_read')} bdi read_ahead_kb="
                         f"{status.get('bdi.read_ahead_kb')}; largest "
                         f"request per run (hist) {runmax}; median "
                         f"{median(bw):.0f} MB/s"))

    # (e) -------------------------------------------------------------
    def rss(self):
        ctx = self.ctx
        py = ensure_pytree(os.path.join(ctx.data, "py"))
        sizes = [s for _, s in walk_files(py)]
        tree = ensure_tree20k(os.path.join(ctx.data, "tree20k"), sizes)
        lists = make_lists(tree, ctx.work, "t20k", small_max=1 << 62)
        errs = []
        with Canopy(ctx, tree) as c:
            m0 = c.memory()
            for secs in (0, 1):  # a cold pass, then warm passes
                for op in ("stat", "missing", "read"):
                    js = metabench(ctx, "read" if op == "read" else "stat",
                                   lists[op][0], c.path(tree), seconds=secs)
                    log(f"rss: {'warm' if secs else 'cold'} {op}: "
                        f"{js['ops']} ops in {js['seconds']:.1f} s")
                    if js["errors"]:
                        errs.append(f"{op}: {js['errors']} errors of "
                                    f"{js['ops']}, e.g. {js['messages'][:1]}")
            m1 = c.memory()
            st = c.stats()
            nfd = len(os.listdir(f"/proc/{c.pid()}/fd"))
        if errs:
            ctx.note("(e) canopy over the 20,000-file tree: " +
                     "; ".join(errs))
        if not st:
            ctx.note("(e) canopyctl stats did not answer after serving the "
                     "20,000-file tree")
        self.rec("e", "canopy", "idle after mount", 0,
                 m0.get("VmRSS", 0) / 1024, "MiB", str(m0))
        self.rec("e", "canopy", "after serving 20k files", 0,
                 m1.get("VmRSS", 0) / 1024, "MiB", str(m1))
        rss = m1.get("VmRSS")
        self.verdict("e", "canopyd VmRSS after serving a 20,000-file tree "
                     "(stat, missing, read all)",
                     rss / 1024 if rss else None, "goal", 64, "MiB", 1.0,
                     higher_is_better=False, n=1, detail=(
                         f"VmHWM {m1.get('VmHWM', 0) / 1024:.1f} MiB, "
                         f"RssAnon {m1.get('RssAnon', 0) / 1024:.1f}, "
                         f"RssFile {m1.get('RssFile', 0) / 1024:.1f}, "
                         f"RssShmem {m1.get('RssShmem', 0) / 1024:.1f} "
                         f"MiB; at mount {m0.get('VmRSS', 0) / 1024:.1f} "
                         f"MiB; cache.bytes {st.get('cache.bytes')}; "
                         f"threads {m1.get('Threads')}; open fds {nfd}; "
                         f"errors: {'; '.join(errs) or 'none'}"))


def run_targets(ctx):
    t = Targets(ctx)
    for step in (t.warm_read, t.cold_read, t.metadata, t.max_read, t.rss):
        log(f"targets: {step.__name__}")
        try:
            step()
        except Exception as e:  # one failed target must not hide the rest
            ctx.note(f"target step {step.__name__} failed: {e}")
    t.raw.close()
    t.sum.close()
