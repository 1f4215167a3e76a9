"""benchmarks/run's driver: environment record, suites, plots, summary.

Run through benchmarks/run, which saves the kernel knobs first and restores
them (and ends our daemons, unmounts our mounts) in a trap, whatever
happens here.
"""
import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Ctx, fatal, log, read_text  # noqa: E402
from mounts import kill_stale  # noqa: E402

SUITES = ["targets", "maxread", "threads", "metadata", "imports", "pfs",
          "scaling", "datamode", "simulate"]
KNOBS = ["/proc/sys/fs/fuse/max_pages_limit",
         "/sys/module/fuse/parameters/enable_uring",
         "/proc/sys/fs/fuse/max_user_bgreq",
         "/proc/sys/vm/dirty_ratio",
         "/sys/kernel/mm/transparent_hugepage/enabled"]


def parse_args(argv):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(
        prog="benchmarks/run",
        description="canopy benchmarks: CSV, PNG and summary.md, every "
        "figure beside native and bindfs baselines from the same run.")
    ap.add_argument("--quick", action="store_true",
                    help="reduced grids and files (< 10 minutes)")
    ap.add_argument("--out", default=os.path.join(here, "results"),
                    help="output directory (default benchmarks/results)")
    ap.add_argument("--work", default="/var/tmp/canopy-bench",
                    help="backing data and mount points (a disk file "
                    "system; data is kept for the next run)")
    ap.add_argument("--cache-base", default="/dev/shm/canopy-bench",
                    help="parent of canopyd's cache directories (tmpfs)")
    ap.add_argument("--only", default=",".join(SUITES),
                    help="comma-separated suites: " + ",".join(SUITES))
    ap.add_argument("--repeats", type=int, default=0,
                    help="repeats of warm and target measurements "
                    "(default 5, --quick 3; targets at least 3)")
    ap.add_argument("--report-only", action="store_true",
                    help="redo plots and summary.md from the CSV files "
                    "in --out")
    ap.add_argument("--fail-fast", action="store_true",
                    help="stop at the first failing suite")
    ap.add_argument("--canopyd", help="canopyd binary (default "
                    "build/canopyd)")
    ap.add_argument("--canopyctl", help="canopyctl binary (default "
                    "build/canopyctl)")
    a = ap.parse_args(argv)
    a.only = [s for s in a.only.split(",") if s]
    bad = [s for s in a.only if s not in SUITES]
    if bad:
        ap.error(f"unknown suite(s) {bad}")
    return a


def sh(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None


def environment(ctx):
    cpu = "?"
    for line in (read_text("/proc/cpuinfo", "") or "").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = read_text("/proc/meminfo", "").splitlines()[0].split()[1]
    knobs = {k: read_text(k) for k in KNOBS}
    st = os.stat(ctx.data)
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    knobs[f"/sys/class/bdi/{dev}/read_ahead_kb (backing)"] = \
        read_text(f"/sys/class/bdi/{dev}/read_ahead_kb")
    fs = sh(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", ctx.data])
    return {
        "host": platform.node(),
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "os": "Debian " + (read_text("/etc/debian_version") or "?"),
        "cpu": cpu, "cores": os.cpu_count(),
        "mem_gib": round(int(mem) / (1 << 20), 1),
        "virt": sh(["systemd-detect-virt"]),
        "backing_fs": fs, "work": ctx.work, "cache_base": ctx.cache_base,
        "knobs_at_start": knobs,
        "fio": sh(["fio", "--version"]),
        "bindfs": sh(["bindfs", "--version"]),
        "libfuse": sh(["pkg-config", "--modversion", "fuse3"]),
        "python": sh(["/usr/bin/python3", "--version"]),
        "git": sh(["git", "-C", ctx.root, "log", "-1",
                   "--format=%h %s (%ci)"]),
        "canopyd": ctx.canopyd if ctx.have_canopy() else None,
        "quick": ctx.quick, "suites": ctx.args.only,
        "repeats": ctx.repeats,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def clear_outputs(out):
    """An output directory holds one run: drop the files of the last."""
    import shutil
    for name in os.listdir(out):
        if name.endswith((".csv", ".png", ".json")) or name == "summary.md":
            os.unlink(os.path.join(out, name))
    shutil.rmtree(os.path.join(out, "logs"), ignore_errors=True)
    os.makedirs(os.path.join(out, "logs"))


def canopy_facts(ctx):
    """Negotiated settings of a daemon started with its defaults."""
    from mounts import Canopy
    try:
        with Canopy(ctx, ctx.data) as c:
            res = dict(c.status)
            res["help"] = sh([ctx.canopyd, "--help"])
            res["memory_idle_kib"] = c.memory()
            return res
    except Exception as e:
        ctx.note(f"canopyd with defaults did not start: {e}")
        return None


def main(argv):
    args = parse_args(argv)
    if args.report_only:
        import report
        report.write(args.out)
        return 0
    if os.geteuid() != 0:
        fatal("must run as root (drop_caches, kernel knobs, mounts)")
    ctx = Ctx(args)
    if args.canopyd:
        ctx.canopyd = os.path.abspath(args.canopyd)
    if args.canopyctl:
        ctx.canopyctl = os.path.abspath(args.canopyctl)
    for tool in (ctx.metabench, ctx.pfsmodel):
        if not os.access(tool, os.X_OK):
            fatal(f"{tool} missing: run make first")

    def on_term(sig, frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    kill_stale(ctx)
    clear_outputs(ctx.out)
    env = environment(ctx)
    t0 = time.monotonic()
    if not ctx.have_canopy():
        ctx.note(f"{ctx.canopyd} not built: canopy rows are skipped, "
                 "baselines run")
    rc = 0
    try:
        if ctx.have_canopy():
            env["canopy_defaults"] = canopy_facts(ctx)
        for suite in args.only:
            log(f"=== {suite}")
            ts = time.monotonic()
            try:
                if suite == "targets":
                    if not ctx.have_canopy():
                        ctx.note("targets need canopyd: skipped")
                        continue
                    from targets import run_targets
                    run_targets(ctx)
                elif suite == "maxread":
                    from sweep import run_maxread
                    run_maxread(ctx)
                elif suite == "threads":
                    from sweep import run_threads
                    run_threads(ctx)
                elif suite in ("metadata", "imports", "pfs"):
                    from meta import run_meta
                    run_meta(ctx, [suite])
                elif suite in ("scaling", "datamode", "simulate"):
                    if suite != "simulate" and not ctx.have_canopy():
                        ctx.note(f"{suite} needs canopyd: skipped")
                        continue
                    import scaling
                    getattr(scaling, f"run_{suite}")(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as e:
                ctx.note(f"suite {suite} failed: {e!r}")
                rc = 1
                if args.fail_fast:
                    raise
            env.setdefault("suite_seconds", {})[suite] = \
                round(time.monotonic() - ts, 1)
            env.setdefault("loadavg_after", {})[suite] = \
                [round(x, 2) for x in os.getloadavg()]
    except KeyboardInterrupt as e:
        ctx.note(f"interrupted: {e}")
        rc = 130
    finally:
        ctx.cleanup()
        env["knob_changes"] = ctx.knobs.history
        env["knobs_at_end"] = {k: read_text(k) for k in KNOBS}
        env["seconds"] = round(time.monotonic() - t0, 1)
        env["notes"] = ctx.notes
        env["ended"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        with open(os.path.join(ctx.out, "env.json"), "w") as f:
            json.dump(env, f, indent=1, default=str)
    import report
    report.write(ctx.out)
    log(f"done in {env['seconds']} s: {ctx.out}/summary.md")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
