"""Load generators: fio, metabench and Python imports."""
import json
import os
import subprocess
import time

from common import BenchError, run

MiB = 1 << 20


def fio(filename=None, directory=None, rw="read", bs=MiB, size=None,
        numjobs=1, runtime=None, invalidate=False, name="bench",
        filename_format=None, time_based=False, timeout=900, direct=False,
        iodepth=1):
    """One fio job (group-reported); returns MB/s, IOPS, bytes, seconds.

    invalidate=True drops the page cache of the file(s) before the job
    (posix_fadvise DONTNEED): on a FUSE mount that empties the FUSE inode's
    cache, so the reads reach the daemon, while the backing tree stays in
    memory. direct=True reads with O_DIRECT, iodepth reads in flight
    (io_uring when more than one)."""
    engine = "io_uring" if iodepth > 1 else "psync"
    cmd = ["fio", f"--name={name}", f"--rw={rw}", f"--bs={bs}",
           f"--ioengine={engine}", f"--iodepth={iodepth}",
           f"--direct={1 if direct else 0}",
           "--readonly", "--allow_file_create=0",
           f"--invalidate={1 if invalidate else 0}", f"--numjobs={numjobs}",
           "--group_reporting", "--output-format=json"]
    if filename:
        cmd.append(f"--filename={filename}")
    if directory:
        cmd.append(f"--directory={directory}")
    if filename_format:
        cmd += [f"--filename_format={filename_format}", "--nrfiles=1"]
    if size:
        cmd.append(f"--size={size}")
    if runtime:
        cmd.append(f"--runtime={int(runtime * 1000)}ms")
    if time_based:
        cmd.append("--time_based")
    r = run(cmd, timeout=timeout)
    try:
        # fio may print warnings before the JSON document
        out = r.stdout[r.stdout.index("{"):]
        js = json.loads(out)
    except ValueError as e:
        raise BenchError(f"fio output: {e}: {r.stdout[:400]}")
    job = js["jobs"][0]
    rd = job["read"]
    if job.get("error"):
        raise BenchError(f"fio job error {job['error']}")
    secs = rd["runtime"] / 1000.0
    return {"MBps": rd["bw_bytes"] / 1e6, "iops": rd["iops"],
            "bytes": rd["io_bytes"], "seconds": secs,
            "lat_us_mean": rd.get("clat_ns", {}).get("mean", 0) / 1000.0}


def read_file(path, bs=MiB):
    """Read a file to the end once; returns seconds."""
    t0 = time.monotonic()
    fd = os.open(path, os.O_RDONLY)
    try:
        while os.read(fd, bs):
            pass
    finally:
        os.close(fd)
    return time.monotonic() - t0


def metabench(ctx, mode, listfile, root, passes=1, seconds=0, threads=1):
    """One metabench run; failures other than ENOENT are counted in
    "errors" and their first messages kept in "messages".

    Paths are walked relative to root (metabench -c): through a canopy
    mount, root itself is WORK/mnt/canopy + the backing path, five more
    components than natively, an artefact of where the benchmark mounts;
    only the tree's own components are compared."""
    cmd = [ctx.metabench, "-v", "-c", "-m", mode, "-n", str(passes), "-t",
           str(threads), "-r", root]
    if seconds:
        cmd += ["-d", str(seconds)]
    cmd.append(listfile)
    r = run(cmd, timeout=1800)
    js = json.loads(r.stdout)
    js["messages"] = r.stderr.strip().splitlines()[:5]
    return js


# a heavy import: numpy, matplotlib (pyplot, Agg) and a stdlib spread
IMPORTS = ("numpy, matplotlib, matplotlib.pyplot, email, email.mime.text, "
           "json, http.client, xml.dom.minidom, asyncio, decimal, "
           "unittest, logging.handlers, argparse, sqlite3, ssl, "
           "urllib.request, multiprocessing, concurrent.futures, csv, "
           "tarfile, zipfile, pydoc")
CHECK = ("import sys, numpy, matplotlib, json\n"
         "print(sys.prefix); print(numpy.__file__); "
         "print(matplotlib.__file__); print(json.__file__)")


def py_env(ctx, prefix):
    """Environment for a python3 whose whole sys.path is under prefix."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONHOME": prefix,
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(ctx.work,
                                                            "mplconfig"),
           "HOME": ctx.work, "LANG": "C.UTF-8"}
    return env


def check_python(ctx, prefix, warm=True):
    """Import once and check that everything came from prefix; then (warm)
    the whole timed import once, which also fills matplotlib's font cache
    in MPLCONFIGDIR before anything is timed."""
    r = run(["/usr/bin/python3", "-s", "-c", CHECK],
            env=py_env(ctx, prefix), timeout=300)
    lines = r.stdout.split()
    bad = [x for x in lines if not x.startswith(prefix)]
    if bad:
        raise BenchError(f"python with PYTHONHOME={prefix} loaded {bad}")
    if not warm:
        return
    run(["/usr/bin/python3", "-s", "-c", "import " + IMPORTS],
        env=py_env(ctx, prefix), timeout=300)


def import_wall(ctx, prefix, procs=1):
    """Wall time of `procs` concurrent python3 -c 'import ...' processes,
    from the first start to the last exit."""
    env = py_env(ctx, prefix)
    cmd = ["/usr/bin/python3", "-s", "-c", "import " + IMPORTS]
    t0 = time.monotonic()
    ps = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE) for _ in range(procs)]
    errs = []
    for p in ps:
        _, err = p.communicate(timeout=600)
        if p.returncode != 0:
            errs.append(err.decode(errors="replace")[-300:])
    wall = time.monotonic() - t0
    if errs:
        raise BenchError(f"import failed: {errs[0]}")
    return wall
