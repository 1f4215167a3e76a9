"""Run context, process bookkeeping, kernel knobs, CSV output.

Everything the harness starts goes through Ctx.spawn(), which records the
pid in WORK/pids so that benchmarks/run's trap can end it if the driver dies;
every knob it writes goes through Knobs.set(), which records the value to
restore in WORK/knobs.saved for the same reason.
"""
import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import time

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.2f}x"


class BenchError(Exception):
    pass


def read_text(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def write_text(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def drop_caches():
    """Cold start for the kernel: page cache, dentries and inodes."""
    os.sync()
    write_text("/proc/sys/vm/drop_caches", 3)


def mountpoints():
    res = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            res.add(mp.encode().decode("unicode_escape"))
    return res


def is_mountpoint(path):
    return os.path.realpath(path) in mountpoints()


def bdi_of(path):
    """The /sys/class/bdi entry of the file system that holds path."""
    st = os.stat(path)
    name = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    for cand in (name, name + "-fuseblk"):
        if os.path.isdir(f"/sys/class/bdi/{cand}"):
            return f"/sys/class/bdi/{cand}"
    return None


def wait_for(cond, timeout, what, alive=None, interval=0.02):
    """Poll cond() until true; fail early if alive() turns false."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return
        if alive is not None and not alive():
            raise BenchError(f"{what}: process exited")
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: not ready after {timeout}s")
        time.sleep(interval)


class Knobs:
    """Kernel tunables: set, remember the original, restore at the end."""

    def __init__(self, saved_file):
        self.saved_file = saved_file
        self.orig = {}
        self.history = []  # (time, path, value) for the summary

    def get(self, path):
        return read_text(path)

    def set(self, path, value):
        value = str(value)
        if path not in self.orig:
            self.orig[path] = read_text(path)
            with open(self.saved_file, "a") as f:
                f.write(f"{path}\t{self.orig[path]}\n")
        if read_text(path) != value:
            write_text(path, value)
            self.history.append((round(time.monotonic() - T0, 1), path,
                                 value))

    def restore(self, path=None):
        paths = [path] if path else list(self.orig)
        for p in paths:
            if p in self.orig and os.path.exists(p):
                try:
                    if read_text(p) != self.orig[p]:
                        write_text(p, self.orig[p])
                except OSError as e:
                    log(f"knob restore {p}: {e}")
            self.orig.pop(p, None)


class Ctx:
    """Paths, options and the processes of one harness run."""

    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.root = os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.abspath(__file__))))
        self.work = os.path.abspath(args.work)
        self.out = os.path.abspath(args.out)
        self.data = os.path.join(self.work, "data")
        self.mnt = os.path.join(self.work, "mnt")
        self.logs = os.path.join(self.out, "logs")
        self.cache_base = args.cache_base
        build = os.path.join(self.root, "build")
        self.canopyd = os.path.join(build, "canopyd")
        self.canopyctl = os.path.join(build, "canopyctl")
        self.metabench = os.path.join(build, "release", "benchmarks",
                                      "metabench")
        self.pfsmodel = os.path.join(build, "release", "benchmarks",
                                     "pfsmodel")
        for d in (self.work, self.out, self.data, self.mnt, self.logs):
            os.makedirs(d, exist_ok=True)
        self.knobs = Knobs(os.path.join(self.work, "knobs.saved"))
        self.pids_file = os.path.join(self.work, "pids")
        self.procs = []
        self.notes = []  # free-form lines for the summary
        self.mounts_seen = {}  # kind -> status/knob facts for the summary
        self.repeats = args.repeats or (3 if self.quick else 5)

    def have_canopy(self):
        return os.access(self.canopyd, os.X_OK) and \
            os.access(self.canopyctl, os.X_OK)

    def note(self, msg):
        log("NOTE " + msg)
        self.notes.append(msg)

    def spawn(self, cmd, tag, env=None):
        logf = open(os.path.join(self.logs, f"{tag}.log"), "ab")
        logf.write(f"\n# {time.ctime()} {' '.join(cmd)}\n".encode())
        logf.flush()
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env)
        logf.close()
        with open(self.pids_file, "a") as f:
            f.write(f"{p.pid}\t{os.path.basename(cmd[0])}\n")
        self.procs.append(p)
        return p

    def reap(self, p, sig=signal.SIGTERM, timeout=30):
        """End a process we started, by pid; SIGKILL after timeout."""
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"pid {p.pid} ignored signal {sig}; killing")
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    def cleanup(self):
        for p in list(self.procs):
            self.reap(p, timeout=10)
        for mp in sorted(mountpoints(), reverse=True):
            if mp.startswith((self.mnt + "/", self.cache_base + "/")):
                subprocess.run(["umount", "-l", mp])
        self.knobs.restore()


def run(cmd, check=True, capture=True, timeout=None, env=None):
    r = subprocess.run(cmd, check=False, timeout=timeout, env=env,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None,
                       text=True)
    if check and r.returncode != 0:
        raise BenchError(f"{' '.join(cmd)}: exit {r.returncode}: "
                         f"{(r.stderr or '').strip()[-800:]}")
    return r


def run_json(cmd, **kw):
    r = run(cmd, **kw)
    return json.loads(r.stdout)


class CsvOut:
    """One CSV file with a fixed header; rows are flushed as written.

    Appends when the file exists: the driver empties the output directory
    when a run starts, so several suites of one run can share a file."""

    def __init__(self, path, fields):
        self.path = path
        self.fields = fields
        self.rows = []
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        self.f = open(path, "a", newline="")
        self.w = csv.DictWriter(self.f, fieldnames=fields,
                                extrasaction="ignore")
        if new:
            self.w.writeheader()
        self.f.flush()

    def add(self, **row):
        for k, v in row.items():
            if isinstance(v, float):
                row[k] = round(v, 4)
        self.rows.append(row)
        self.w.writerow(row)
        self.f.flush()

    def close(self):
        self.f.close()


def fatal(msg):
    print(f"benchmarks: {msg}", file=sys.stderr)
    sys.exit(1)
