"""The systems under test, each a context manager with the same face.

  path(p)   where backing path p appears through this system
  stats()   its counters (dict), or {} when it has none
  name      the label used in CSV files and plots

Native reads the backing tree itself; Bindfs is Debian's bindfs with its
defaults (the stock FUSE baseline); Canopy is build/canopyd; PfsModel is
benchmarks/pfsmodel, a contended parallel-file-system model that other
systems can use as their backing tree.
"""
import json
import os
import shutil
import signal
import subprocess

from common import (BenchError, bdi_of, is_mountpoint, log, read_text,
                    run, wait_for)


class Native:
    name = "native"

    def __init__(self, ctx, root=None):
        self.ctx = ctx

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def path(self, p):
        return p

    def stats(self):
        return {}


class _Mounted:
    """A FUSE daemon run in the foreground by us, mounted at self.mnt."""
    name = "?"
    ready_timeout = 30

    def __init__(self, ctx, root, label=None):
        self.ctx = ctx
        self.root = os.path.abspath(root)  # backing directory shown
        self.mnt = os.path.join(ctx.mnt, label or self.name)
        self.proc = None
        if label:
            self.name = label

    def path(self, p):
        rel = os.path.relpath(os.path.abspath(p), self.root)
        if rel.startswith(".."):
            raise BenchError(f"{p} is outside {self.root}")
        return os.path.normpath(os.path.join(self.mnt, rel))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def command(self):
        raise NotImplementedError

    def wait_ready(self):
        wait_for(lambda: is_mountpoint(self.mnt), self.ready_timeout,
                 f"{self.name} mount", alive=self.alive)

    def __enter__(self):
        if is_mountpoint(self.mnt):
            raise BenchError(f"{self.mnt} is already mounted")
        os.makedirs(self.mnt, exist_ok=True)
        self.proc = self.ctx.spawn(self.command(), self.name.replace("/", "-"))
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def unmount(self):
        run(["umount", self.mnt], check=False)

    def stop(self):
        if self.proc is None:
            return
        if self.alive():
            self.unmount()
        rc = self.ctx.reap(self.proc, timeout=30)
        if is_mountpoint(self.mnt):
            run(["umount", "-l", self.mnt], check=False)
        self.proc = None
        return rc

    def __exit__(self, *exc):
        self.stop()
        return False

    def bdi(self):
        return bdi_of(self.mnt)

    def stats(self):
        return {}


class Bindfs(_Mounted):
    name = "bindfs"

    def command(self):
        # stock settings: single-threaded, libfuse defaults; read-only
        return ["bindfs", "-f", "-o", "ro", self.root, self.mnt]


class PfsModel(_Mounted):
    name = "pfs"

    def __init__(self, ctx, root, label=None, opts=()):
        super().__init__(ctx, root, label)
        self.opts = list(opts)
        self.stats_file = os.path.join(ctx.work, f"{self.name}.stats.json")

    def command(self):
        return [self.ctx.pfsmodel, f"--stats={self.stats_file}",
                *self.opts, self.root, self.mnt, "-f"]

    def stats(self):
        """Ask for a fresh stats dump (SIGUSR1) and read it.

        The dump is written to a new file and renamed over the old one, so
        a new inode number means a new dump."""
        def ino():
            try:
                return os.stat(self.stats_file).st_ino
            except OSError:
                return None
        before = ino()
        self.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: ino() not in (None, before), 10, "pfsmodel stats",
                 alive=self.alive, interval=0.01)
        with open(self.stats_file) as f:
            return json.load(f)


class Canopy(_Mounted):
    """canopyd -f with the given options; cache in a fresh tmpfs directory.

    mode: None (daemon default: passthrough once cached), "cached"
    (--passthrough false) or "direct" (a cache capacity below the file
    sizes, so opens are FOPEN_DIRECT_IO).
    """
    name = "canopy"
    ready_timeout = 60
    _seq = 0

    def __init__(self, ctx, root, label=None, mode=None, max_pages=None,
                 threads=None, capacity=None, extra=(), cache_base=None):
        super().__init__(ctx, root, label)
        self.mode = mode
        self.max_pages = max_pages
        self.threads = threads
        self.capacity = capacity
        self.extra = list(extra)
        Canopy._seq += 1
        self.cache_dir = os.path.join(cache_base or ctx.cache_base,
                                      f"cache{Canopy._seq}")
        self.status = {}

    def path(self, p):
        # the mount is a view: MOUNTPOINT/X is backing path /X
        return os.path.normpath(self.mnt + "/" + os.path.abspath(p))

    def command(self):
        cmd = [self.ctx.canopyd, "-f", "--export", self.root,
               "--cache-dir", self.cache_dir]
        if self.mode == "cached":
            cmd += ["--passthrough", "false"]
        if self.capacity:
            cmd += ["--cache-capacity", str(self.capacity)]
        if self.max_pages:
            cmd += ["--max-pages", str(self.max_pages)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        return cmd + self.extra + [self.mnt]

    def ctl(self, *args, check=True):
        return run([self.ctx.canopyctl, "-m", self.mnt, *args], check=check,
                   timeout=30)

    def wait_ready(self):
        wait_for(lambda: self.ctl("status", check=False).returncode == 0,
                 self.ready_timeout, "canopyd ready", alive=self.alive,
                 interval=0.05)
        if not is_mountpoint(self.mnt):
            raise BenchError("canopyd reports ready but is not mounted")
        try:
            self.status = json.loads(self.ctl("status", "--json").stdout)
        except (ValueError, BenchError) as e:
            log(f"canopyctl status --json: {e}")
            self.status = {}
        bdi = self.bdi()
        self.status["bdi.read_ahead_kb"] = \
            read_text(bdi + "/read_ahead_kb") if bdi else None

    def __enter__(self):
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        os.makedirs(self.cache_dir, exist_ok=True)
        return super().__enter__()

    def stop(self):
        if self.proc is None:
            return
        # SIGTERM unmounts and exits 0
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        rc = self.ctx.reap(self.proc, timeout=30)
        self.proc = None
        if is_mountpoint(self.mnt):
            log(f"canopyd exited {rc} but {self.mnt} is still mounted")
            run(["umount", "-l", self.mnt], check=False)
        if rc not in (0, None):
            self.ctx.note(f"canopyd ({' '.join(self.command()[1:])}) "
                          f"exited with status {rc} on SIGTERM")
        # canopyd mounts a private tmpfs on its cache directory as root
        if is_mountpoint(self.cache_dir):
            log(f"canopyd left its cache tmpfs {self.cache_dir} mounted")
            run(["umount", "-l", self.cache_dir], check=False)
        shutil.rmtree(self.cache_dir, ignore_errors=True)
        return rc

    def stats(self):
        r = self.ctl("stats", "--json", check=False)
        if r.returncode != 0:
            return {}
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {}

    def largest_cache_file(self):
        best = (0, None)
        for d, _, files in os.walk(self.cache_dir):
            for f in files:
                p = os.path.join(d, f)
                best = max(best, (os.path.getsize(p), p))
        return best[1]

    def pid(self):
        return self.proc.pid if self.proc else None

    def memory(self):
        """VmRSS/VmHWM and their parts, in KiB, from /proc/PID/status."""
        res = {}
        txt = read_text(f"/proc/{self.pid()}/status", "")
        for line in txt.splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem",
                     "Threads"):
                res[k] = int(v.split()[0])
        return res


def stats_delta(before, after):
    """after - before for numeric counters (maxima are taken as is)."""
    d = {}
    for k, v in after.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if k.endswith(("_max", ".max")) or "max" in k.rsplit(".", 1)[-1]:
            d[k] = v
        else:
            d[k] = v - before.get(k, 0)
    return d


def kill_stale(ctx):
    """Unmount leftovers of an earlier, killed run of the harness."""
    from common import mountpoints
    for mp in sorted(mountpoints(), reverse=True):
        if mp.startswith((ctx.mnt + "/", ctx.cache_base + "/")):
            log(f"unmounting stale {mp}")
            subprocess.run(["umount", "-l", mp])
