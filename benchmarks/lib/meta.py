"""Metadata (stat existing / missing, open+read+close) and Python imports
over the Python tree, cold and warm, through each system; and the same over
the PFS model, read directly or through canopy.

cold: the page cache, dentries and inodes dropped, and FUSE daemons freshly
started (canopy with an empty cache) before the measurement.
warm: after a pass over the same paths through the same mount.
"""
import os

from common import CsvOut, drop_caches, log
from mounts import Bindfs, Canopy, Native, PfsModel
from tools import check_python, import_wall, metabench
from trees import ensure_pytree, make_lists, py_lists

BACKING_KINDS = ("getattr", "readlink", "open", "read", "release", "opendir",
                 "readdir", "releasedir", "statfs")
META_FIELDS = ["backing", "system", "op", "state", "repeat", "ops_per_s",
               "files", "passes", "ok", "enoent", "errors", "backing_ops",
               "backing_ops_per_file"] + \
    [f"backing_{k}" for k in BACKING_KINDS]
IMPORT_FIELDS = ["backing", "system", "state", "procs", "repeat", "wall_s",
                 "backing_ops"] + [f"backing_{k}" for k in BACKING_KINDS]
OPS = ("stat", "missing", "read")


def _mode(op):
    return "read" if op == "read" else "stat"


class Suite:
    def __init__(self, ctx):
        self.ctx = ctx
        self.tree = ensure_pytree(os.path.join(ctx.data, "py"))
        self.meta = CsvOut(os.path.join(ctx.out, "metadata.csv"),
                           META_FIELDS)
        self.imp = CsvOut(os.path.join(ctx.out, "imports.csv"),
                          IMPORT_FIELDS)
        self.R = 1 if ctx.quick else 3           # cold repeats
        self.RW = ctx.repeats                    # warm repeats
        self.secs = 0.5 if ctx.quick else 2     # warm timed runs (s)
        self.kinds = ["native", "bindfs"] + \
            (["canopy"] if ctx.have_canopy() else [])

    def close(self):
        self.meta.close()
        self.imp.close()

    def _sys(self, kind, root):
        return {"native": Native, "bindfs": Bindfs, "canopy": Canopy,
                "pfs": PfsModel}[kind](self.ctx, root)

    def _meta_row(self, backing, name, op, state, r, js, bd=None):
        if js["errors"]:
            self.ctx.note(f"metadata {backing} {name} {op} {state}: "
                          f"{js['errors']} errors, e.g. {js['messages'][:1]}")
        bops = bd["total_ops"] if bd else None
        self.meta.add(backing=backing, system=name, op=op, state=state,
                      repeat=r, ops_per_s=js["ops_per_s"], files=js["files"],
                      passes=js["passes"], ok=js["ok"], enoent=js["enoent"],
                      errors=js["errors"], backing_ops=bops,
                      backing_ops_per_file=(bops / js["ops"]
                                            if bops is not None else None),
                      **{f"backing_{k}": bd.get(k) for k in BACKING_KINDS
                         if bd})

    # ---- local tree ----------------------------------------------------
    def metadata_local(self):
        ctx, tree = self.ctx, self.tree
        lists = py_lists(ctx, tree)  # --quick: a fixed sample of the tree
        for r in range(self.R):
            for op in OPS:
                for kind in self.kinds:
                    with self._sys(kind, tree) as s:
                        drop_caches()
                        js = metabench(ctx, _mode(op), lists[op][0],
                                       s.path(tree))
                        self._meta_row("local", kind, op, "cold", r, js)
        log("metadata: warm")
        mounts = [self._sys(k, tree) for k in self.kinds]
        try:
            for s in mounts:
                s.__enter__()
            for s in mounts:
                for op in OPS:
                    metabench(ctx, _mode(op), lists[op][0], s.path(tree))
            for r in range(self.RW):
                for op in OPS:
                    for s in mounts:
                        js = metabench(ctx, _mode(op), lists[op][0],
                                       s.path(tree), seconds=self.secs)
                        self._meta_row("local", s.name, op, "warm", r, js)
        finally:
            for s in mounts:
                s.__exit__(None, None, None)

    def imports_local(self):
        ctx, tree = self.ctx, self.tree
        procs = (1, 8)
        RW = 1 if ctx.quick else self.RW
        for r in range(self.R):
            for n in procs:
                for kind in self.kinds:
                    with self._sys(kind, tree) as s:
                        drop_caches()
                        w = import_wall(ctx, s.path(tree), n)
                        self.imp.add(backing="local", system=kind,
                                     state="cold", procs=n, repeat=r,
                                     wall_s=w)
        log("imports: warm")
        mounts = [self._sys(k, tree) for k in self.kinds]
        try:
            for s in mounts:
                s.__enter__()
                check_python(ctx, s.path(tree))
            for r in range(RW):
                for n in procs:
                    for s in mounts:
                        w = import_wall(ctx, s.path(tree), n)
                        self.imp.add(backing="local", system=s.name,
                                     state="warm", procs=n, repeat=r,
                                     wall_s=w)
        finally:
            for s in mounts:
                s.__exit__(None, None, None)

    # ---- PFS model -----------------------------------------------------
    def pfs(self):
        """pfsmodel serving the tree, read directly ("pfs") or through a
        canopy that exports the pfsmodel mount ("canopy/pfs")."""
        ctx, tree = self.ctx, self.tree
        sample = 64 if ctx.quick else 4
        lists = make_lists(tree, ctx.work, "pysample", sample=sample)
        RW = 1 if ctx.quick else self.RW
        procs = (1,) if ctx.quick else (1, 8)
        with PfsModel(ctx, tree) as pfs:
            ptree = pfs.path(tree)
            kinds = ["pfs"] + (["canopy/pfs"] if ctx.have_canopy() else [])

            def mk(kind):
                if kind == "pfs":
                    return _Alias(pfs)
                return Canopy(ctx, pfs.mnt, label="canopy-pfs")

            def measure(s, fn):
                """fn's result and the PFS operations it caused."""
                b0 = pfs.stats()
                v = fn(s)
                b1 = pfs.stats()
                return v, {k: b1[k] - b0[k] for k in
                           BACKING_KINDS + ("total_ops",)}

            for r in range(self.R):
                for kind in kinds:
                    log(f"pfs: cold {kind}")
                    for op in OPS:
                        with mk(kind) as s:
                            drop_caches()
                            js, bops = measure(s, lambda s_: metabench(
                                ctx, _mode(op), lists[op][0],
                                s_.path(ptree)))
                            self._meta_row("pfs", kind, op, "cold", r, js,
                                           bops)
                    log(f"pfs: cold {kind} imports")
                    for n in procs:
                        with mk(kind) as s:
                            drop_caches()
                            w, bops = measure(s, lambda s_: import_wall(
                                ctx, s_.path(ptree), n))
                            self.imp.add(backing="pfs", system=kind,
                                         state="cold", procs=n, repeat=r,
                                         wall_s=w,
                                         backing_ops=bops["total_ops"],
                                         **{f"backing_{k}": bops[k]
                                            for k in BACKING_KINDS})
            for kind in kinds:
                log(f"pfs: warm {kind}")
                with mk(kind) as s:
                    # warm-up; the pfs model has no client cache to warm,
                    # so --quick skips its metadata pass
                    if not (ctx.quick and kind == "pfs"):
                        for op in OPS:
                            metabench(ctx, _mode(op), lists[op][0],
                                      s.path(ptree))
                    # also checks that python imports from ptree; the
                    # import that warms caches is of no use to the pfs
                    # model, so --quick only checks there
                    check_python(ctx, s.path(ptree), warm=not (
                        ctx.quick and kind == "pfs"))
                    log(f"pfs: warm {kind} timed")
                    for r in range(RW):
                        for op in OPS:
                            js, bops = measure(s, lambda s_: metabench(
                                ctx, _mode(op), lists[op][0],
                                s_.path(ptree), seconds=self.secs))
                            self._meta_row("pfs", kind, op, "warm", r, js,
                                           bops)
                        for n in procs:
                            w, bops = measure(s, lambda s_: import_wall(
                                ctx, s_.path(ptree), n))
                            self.imp.add(backing="pfs", system=kind,
                                         state="warm", procs=n, repeat=r,
                                         wall_s=w,
                                         backing_ops=bops["total_ops"],
                                         **{f"backing_{k}": bops[k]
                                            for k in BACKING_KINDS})
            ctx.mounts_seen["pfs"] = pfs.stats()


class _Alias:
    """An already mounted system under a context manager that does
    nothing, so that callers can treat it like a fresh one; paths given to
    it are already paths on that system."""

    def __init__(self, s):
        self.s = s
        self.name = s.name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def path(self, p):
        return p


def run_meta(ctx, which):
    """which: a subset of ("metadata", "imports", "pfs"), run in order."""
    s = Suite(ctx)
    steps = {"metadata": s.metadata_local, "imports": s.imports_local,
             "pfs": s.pfs}
    try:
        for w in which:
            log(f"suite {w}")
            try:
                steps[w]()
            except Exception as e:
                ctx.note(f"suite {w} failed: {e!r}")
                if ctx.args.fail_fast:
                    raise
    finally:
        s.close()
