"""max_read sweep and worker-thread sweep, with fio.

max_read: canopyd --max-pages N (max_pages_limit raised to 4096 for the
sweep) x application read size x open mode x sequential/random; the FUSE
request sizes that reached the daemon are taken from its stats. Native and
bindfs are run with the same fio jobs as baselines (max_pages does not apply
to them).

threads: canopyd --threads T x fio jobs J, each job reading its own file;
and open+read+close of small files by J metabench threads.

Every fio job is time-based (the file is read again until the time is up).
Modes: cached = --passthrough false, daemon cache filled before, and the
FUSE page cache dropped before every pass over the file (fio invalidate=1
does that at each loop), so every read reaches the daemon; direct = a cache capacity below the file size; passthrough
= daemon defaults after the file is complete in the cache (the kernel reads
the cache file itself; max_pages and threads should not matter).
"""
import os

from common import CsvOut, log, median
from mounts import Bindfs, Canopy, Native, stats_delta
from tools import MiB, fio, metabench, read_file
from trees import ensure_file, ensure_files, ensure_pytree, py_lists
import reqsize

MAX_PAGES_LIMIT = "/proc/sys/fs/fuse/max_pages_limit"

SWEEP_FIELDS = ["system", "mode", "max_pages", "rw", "bs", "repeat", "MBps",
                "iops", "lat_us_mean", "fuse_reads", "req_mean_bytes",
                "req_max_bytes", "size_max_bytes", "passthrough_opens",
                "neg_max_pages", "neg_max_read", "read_ahead_kb",
                "file_bytes"]
THREAD_FIELDS = ["system", "mode", "threads", "jobs", "rw", "bs", "repeat",
                 "MBps", "iops", "lat_us_mean", "fuse_reads",
                 "req_mean_bytes", "neg_threads", "file_bytes"]


def _canopy(ctx, root, mode, file_size, **kw):
    cap = None
    if mode == "direct":
        cap = max(file_size // 4, 1 * MiB)  # below the file size
    return Canopy(ctx, root, mode="cached" if mode == "cached" else None,
                  capacity=cap, **kw)


def run_maxread(ctx):
    q = ctx.quick
    mps = [32, 256, 4096] if q else [32, 64, 128, 256, 1024, 4096]
    bss = [128 << 10, MiB, 16 * MiB] if q else \
        [128 << 10, MiB, 4 * MiB, 16 * MiB]
    modes = ["cached", "direct", "passthrough"]
    rws = ["read", "randread"]
    size = (256 if q else 1024) * MiB
    runtime = 0.5 if q else 4
    R = 1 if q else 3
    f = ensure_file(os.path.join(ctx.data, "big", f"sweep{size >> 20}m"),
                    size)
    root = os.path.dirname(f)
    out = CsvOut(os.path.join(ctx.out, "maxread.csv"), SWEEP_FIELDS)

    def job(path, rw, bs, inval):
        return fio(path, rw=rw, bs=bs, size=size, runtime=runtime,
                   invalidate=inval, time_based=True)

    read_file(f)  # native is a warm page cache: not cold after a drop
    log(f"max_read sweep: baselines ({len(bss) * len(rws)} jobs x {R})")
    with Bindfs(ctx, root) as b:
        for r in range(R):
            for rw in rws:
                for bs in bss:
                    for s, inval in ((Native(ctx), False), (b, True)):
                        v = job(s.path(f), rw, bs, inval)
                        out.add(system=s.name, mode="-", max_pages="",
                                rw=rw, bs=bs, repeat=r, MBps=v["MBps"],
                                iops=v["iops"], lat_us_mean=v["lat_us_mean"],
                                file_bytes=size)
    if not ctx.have_canopy():
        out.close()
        return
    ctx.knobs.set(MAX_PAGES_LIMIT, 4096)
    try:
        for mode in modes:
            # passthrough: the kernel reads the cache file and no READ
            # reaches canopyd, so max_pages does not apply; --quick
            # measures it at the largest max_pages only (the one the
            # summary's table shows)
            for mp in mps[-1:] if q and mode == "passthrough" else mps:
                log(f"max_read sweep: canopy {mode} max_pages={mp}")
                with _canopy(ctx, root, mode, size, max_pages=mp) as c:
                    p = c.path(f)
                    if mode != "direct":
                        read_file(p)  # fill the daemon cache
                    st = c.status
                    if st.get("max_pages") not in (mp, None):
                        ctx.note(f"maxread: canopyd --max-pages {mp} "
                                 f"negotiated {st.get('max_pages')} "
                                 f"(max_pages_limit "
                                 f"{st.get('max_pages_limit')}; did "
                                 f"something else change it?)")
                    for r in range(R):
                        for rw in rws:
                            for bs in bss:
                                s0 = c.stats()
                                v = job(p, rw, bs, mode == "cached")
                                d = stats_delta(s0, c.stats())
                                rs = reqsize.summarize(d)
                                out.add(system="canopy", mode=mode,
                                        max_pages=mp, rw=rw, bs=bs,
                                        repeat=r, MBps=v["MBps"],
                                        iops=v["iops"],
                                        lat_us_mean=v["lat_us_mean"],
                                        fuse_reads=rs["count"],
                                        req_mean_bytes=rs["mean"],
                                        req_max_bytes=rs["max"],
                                        size_max_bytes=rs["size_max"],
                                        passthrough_opens=d.get(
                                            "passthrough.opens"),
                                        neg_max_pages=st.get("max_pages"),
                                        neg_max_read=st.get("max_read"),
                                        read_ahead_kb=st.get(
                                            "bdi.read_ahead_kb"),
                                        file_bytes=size)
    finally:
        ctx.knobs.restore(MAX_PAGES_LIMIT)
        out.close()


def run_threads(ctx):
    q = ctx.quick
    threads = [1, 2, 8] if q else [1, 2, 4, 8]
    jobs = [1, 4, 16]
    modes = ["cached", "direct"]
    work = [("randread", 128 << 10)] if q else \
        [("randread", 128 << 10), ("read", MiB)]
    per_file = (32 if q else 64) * MiB
    runtime = 0.5 if q else 4
    R = 1 if q else 3
    d = os.path.join(ctx.data, "tj")
    for p in ensure_files(d, "tj.", max(jobs), per_file):
        read_file(p)  # native baselines from a warm page cache
    out = CsvOut(os.path.join(ctx.out, "threads.csv"), THREAD_FIELDS)

    def job(s, rw, bs, nj, inval):
        return fio(directory=s.path(d), filename_format="tj.$jobnum",
                   rw=rw, bs=bs, size=per_file, numjobs=nj,
                   runtime=runtime, invalidate=inval, time_based=True)

    log("thread sweep: baselines")
    with Bindfs(ctx, d) as b:
        for r in range(R):
            for rw, bs in work:
                for nj in jobs:
                    for s, inval in ((Native(ctx), False), (b, True)):
                        v = job(s, rw, bs, nj, inval)
                        out.add(system=s.name, mode="-", threads="",
                                jobs=nj, rw=rw, bs=bs, repeat=r,
                                MBps=v["MBps"], iops=v["iops"],
                                lat_us_mean=v["lat_us_mean"],
                                file_bytes=per_file)
    if not ctx.have_canopy():
        out.close()
        return
    try:
        for mode in modes:
            for t in threads:
                log(f"thread sweep: canopy {mode} threads={t}")
                with _canopy(ctx, d, mode, per_file, threads=t) as c:
                    if mode == "cached":
                        for i in range(max(jobs)):
                            read_file(c.path(os.path.join(d, f"tj.{i}")))
                    for r in range(R):
                        for rw, bs in work:
                            for nj in jobs:
                                s0 = c.stats()
                                v = job(c, rw, bs, nj, mode == "cached")
                                dd = stats_delta(s0, c.stats())
                                rs = reqsize.summarize(dd)
                                out.add(system="canopy", mode=mode,
                                        threads=t, jobs=nj, rw=rw, bs=bs,
                                        repeat=r, MBps=v["MBps"],
                                        iops=v["iops"],
                                        lat_us_mean=v["lat_us_mean"],
                                        fuse_reads=rs["count"],
                                        req_mean_bytes=rs["mean"],
                                        neg_threads=c.status.get("threads"),
                                        file_bytes=per_file)
        run_thread_opens(ctx, out, threads, jobs, runtime, R)
    finally:
        out.close()


def run_thread_opens(ctx, out, threads, jobs, secs, R):
    """open+read+close of the Python tree's small files by J threads
    (metabench -t J), canopyd with its defaults (passthrough opens): each
    open is an OPEN round trip to a worker thread. --quick: the fixed
    sample of the tree's files (trees.QUICK_FILES), for every system."""
    py = ensure_pytree(os.path.join(ctx.data, "py"))
    lst = py_lists(ctx, py)["read"][0]

    def opens(s, nj):
        return metabench(ctx, "read", lst, s.path(py), seconds=secs,
                         threads=nj)["ops_per_s"]
    log("thread sweep: open+read+close baselines")
    with Bindfs(ctx, py) as b:
        for s in (Native(ctx), b):
            opens(s, 1)
            for r in range(R):
                for nj in jobs:
                    out.add(system=s.name, mode="-", threads="", jobs=nj,
                            rw="open+read+close", bs=0, repeat=r,
                            iops=opens(s, nj))
    for t in threads:
        log(f"thread sweep: canopy open+read+close threads={t}")
        with Canopy(ctx, py, threads=t) as c:
            opens(c, 1)
            for r in range(R):
                for nj in jobs:
                    out.add(system="canopy", mode="passthrough", threads=t,
                            jobs=nj, rw="open+read+close", bs=0, repeat=r,
                            iops=opens(c, nj),
                            neg_threads=c.status.get("threads"))


def medians(rows, keys, value="MBps"):
    """{tuple(row[k] for k in keys): median(value)} over repeats."""
    acc = {}
    for r in rows:
        acc.setdefault(tuple(r[k] for k in keys), []).append(
            float(r[value]) if r[value] not in ("", None) else None)
    return {k: median(v) for k, v in acc.items()}
