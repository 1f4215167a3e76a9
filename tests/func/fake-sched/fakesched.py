#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A simulated scheduler launcher for canopy's tests, on one machine.

Called as srun, pdsh or mpiexec (symlinks to this file), it runs the
command once per "node" of the allocation, locally and in parallel, with
the environment that launcher gives a task, plus FAKE_SCHED_HOST=<node>
(which the fake `hostname` beside this file prints). Output is passed
through line by line (pdsh prefixes "host: ", srun -l "N: "); the exit
status is the highest of the tasks' (a task killed by signal n counts as
128+n), as srun and `pdsh -S` give it.

srun     the nodes of $SLURM_JOB_NODELIST, or -w/--nodelist LIST (a file
         when it holds a "/"), the first -N/--nodes of them; only
         --ntasks-per-node=1 (one task a node); sets SLURMD_NODENAME,
         SLURM_NODEID, SLURM_PROCID, SLURM_LOCALID, SLURM_STEP_ID; other
         options (--overlap, --kill-on-bad-exit, --cpu-bind, ...) accepted
         and ignored. SIGTERM/SIGINT are passed on to the tasks.
pdsh     -w LIST (hostlist, or ^FILE), -f, -R, -S, -u accepted; the
         command (the remaining words, joined by blanks) runs under
         `bash -c` with a fresh environment, as over ssh: PATH, HOME,
         USER, LANG and FAKE_SCHED_HOST only.
mpiexec  -n/-np N, -ppn/--ppn 1 or --map-by ppr:1:node, --hosts/--host
         LIST or -f/--hostfile/-hostfile FILE (else $PBS_NODEFILE);
         sets PMI_RANK, PALS_RANKID, PALS_NODEID, OMPI_COMM_WORLD_RANK.

Where a real launcher would refuse (no allocation, more nodes asked than
allocated, several tasks a node), this one exits 1 with a message.
"""

import importlib.machinery
import importlib.util
import os
import signal
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.realpath(__file__))
TOPO = os.path.join(HERE, "..", "..", "..", "config", "canopy-topology")


def _topology_module():
    loader = importlib.machinery.SourceFileLoader("canopy_topology", TOPO)
    spec = importlib.util.spec_from_loader("canopy_topology", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def die(prog, msg):
    print("%s (fake): %s" % (prog, msg), file=sys.stderr)
    sys.exit(1)


def read_hosts(path):
    out = []
    with open(path) as f:
        for line in f:
            h = line.split("#", 1)[0].strip()
            if h and h not in out:
                out.append(h)
    return out


def hostlist(prog, text):
    if text.startswith("^"):
        return read_hosts(text[1:])
    if "/" in text:
        return read_hosts(text)
    try:
        return _topology_module().expand_nodelist(text)
    except ValueError as e:
        die(prog, str(e))


def run_tasks(prog, hosts, cmd, envs, prefix, shell=False):
    """Run @cmd once per host in parallel; the highest exit status."""
    procs = []
    lock = threading.Lock()

    def pump(p, pre):
        for line in iter(p.stdout.readline, b""):
            with lock:
                sys.stdout.buffer.write(pre + line)
                sys.stdout.buffer.flush()
        p.stdout.close()

    def forward(sig, _frame):
        for p in procs:
            try:
                p.send_signal(sig)
            except OSError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    threads = []
    for i, h in enumerate(hosts):
        try:
            p = subprocess.Popen(["bash", "-c", cmd] if shell else cmd,
                                 env=envs[i], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
        except OSError as e:
            print("%s (fake): %s: %s" % (prog, h, e), file=sys.stderr)
            forward(signal.SIGTERM, None)
            return 127
        procs.append(p)
        t = threading.Thread(target=pump,
                             args=(p, prefix(i, h).encode()), daemon=True)
        t.start()
        threads.append(t)
    rc = 0
    for p in procs:
        r = p.wait()
        rc = max(rc, 128 - r if r < 0 else r)
    for t in threads:
        t.join()
    return rc


def base_env(h):
    e = dict(os.environ)
    e["FAKE_SCHED_HOST"] = h
    return e


def srun(argv):
    nodes = None
    nodelist = None
    label = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-"):
            break
        name, eq, val = a.partition("=")
        takes = name in ("-N", "--nodes", "-w", "--nodelist", "-n",
                         "--ntasks", "--ntasks-per-node", "--cpu-bind",
                         "--kill-on-bad-exit", "-W", "--wait", "--export",
                         "--mem", "-c", "--cpus-per-task", "-J",
                         "--job-name", "-o", "--output", "--distribution",
                         "-m")
        if takes and not eq:
            if name in ("--kill-on-bad-exit",) and (i + 1 >= len(argv) or
                                                    not argv[i + 1].isdigit()):
                val = "1"
            else:
                i += 1
                if i >= len(argv):
                    die("srun", "%s needs a value" % a)
                val = argv[i]
        i += 1
        if name in ("-N", "--nodes"):
            nodes = int(val.split("-")[0])
        elif name in ("-w", "--nodelist"):
            nodelist = val
        elif name == "--ntasks-per-node" and val != "1":
            die("srun", "only --ntasks-per-node=1 is simulated")
        elif name in ("-l", "--label"):
            label = True
    cmd = argv[i:]
    if not cmd:
        die("srun", "no command")
    alloc = os.environ.get("SLURM_JOB_NODELIST")
    if not alloc:
        die("srun", "not in an allocation (no SLURM_JOB_NODELIST)")
    allocated = hostlist("srun", alloc)
    hosts = hostlist("srun", nodelist) if nodelist else allocated
    for h in hosts:
        if h not in allocated:
            die("srun", "node %s is not in the allocation %s" % (h, alloc))
    if nodes is not None:
        if nodes > len(hosts):
            die("srun", "%d nodes asked, %d available" % (nodes, len(hosts)))
        hosts = hosts[:nodes]
    envs = []
    for k, h in enumerate(hosts):
        e = base_env(h)
        e.update(SLURMD_NODENAME=h, SLURM_NODEID=str(allocated.index(h)),
                 SLURM_PROCID=str(k), SLURM_LOCALID="0",
                 SLURM_STEP_ID=str(os.getpid()),
                 SLURM_STEP_NUM_NODES=str(len(hosts)))
        envs.append(e)
    return run_tasks("srun", hosts, cmd, envs,
                     (lambda k, h: "%d: " % k) if label else
                     (lambda k, h: ""))


def pdsh(argv):
    hosts = None
    strict = False
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        a = argv[i]
        if a in ("-w", "-f", "-R", "-l", "-t", "-u"):
            if i + 1 >= len(argv):
                die("pdsh", "%s needs a value" % a)
            if a == "-w":
                hosts = hostlist("pdsh", argv[i + 1])
            i += 2
            continue
        if a == "-S":
            strict = True
        i += 1
    if not hosts:
        die("pdsh", "no hosts (-w)")
    cmd = " ".join(argv[i:])
    if not cmd:
        die("pdsh", "no command")
    envs = []
    for h in hosts:
        e = {k: os.environ[k] for k in ("PATH", "HOME", "USER", "LANG")
             if k in os.environ}
        e["FAKE_SCHED_HOST"] = h
        envs.append(e)
    rc = run_tasks("pdsh", hosts, cmd, envs, lambda k, h: "%s: " % h,
                   shell=True)
    return rc if strict else 0


def mpiexec(argv):
    n = None
    hosts = None
    ppn = None
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        a = argv[i]
        name, eq, val = a.partition("=")
        if name in ("-n", "-np", "--np", "-ppn", "--ppn", "--hosts",
                    "-hosts", "--host", "-host", "-f", "--hostfile",
                    "-hostfile", "--map-by", "--cpu-bind", "--depth",
                    "-d", "--env", "-genv", "--bind-to"):
            if not eq:
                i += 1
                if i >= len(argv):
                    die("mpiexec", "%s needs a value" % a)
                val = argv[i]
            if name in ("-n", "-np", "--np"):
                n = int(val)
            elif name in ("-ppn", "--ppn"):
                ppn = val
            elif name == "--map-by":
                ppn = "1" if val.startswith("ppr:1:node") else val
            elif name in ("--hosts", "-hosts", "--host", "-host"):
                hosts = hostlist("mpiexec", val.replace(" ", ","))
            elif name in ("-f", "--hostfile", "-hostfile"):
                hosts = read_hosts(val)
        i += 1
    cmd = argv[i:]
    if not cmd:
        die("mpiexec", "no command")
    if ppn != "1":
        die("mpiexec", "only one rank per node is simulated (-ppn 1)")
    if hosts is None:
        if not os.environ.get("PBS_NODEFILE"):
            die("mpiexec", "no hosts and no PBS_NODEFILE")
        hosts = read_hosts(os.environ["PBS_NODEFILE"])
    if n is not None:
        if n > len(hosts):
            die("mpiexec", "%d ranks at one a node, %d hosts" % (n, len(hosts)))
        hosts = hosts[:n]
    envs = []
    for k, h in enumerate(hosts):
        e = base_env(h)
        e.update(PMI_RANK=str(k), PALS_RANKID=str(k), PALS_NODEID=str(k),
                 OMPI_COMM_WORLD_RANK=str(k))
        envs.append(e)
    return run_tasks("mpiexec", hosts, cmd, envs, lambda k, h: "")


def main():
    prog = os.path.basename(sys.argv[0])
    fn = {"srun": srun, "pdsh": pdsh, "mpiexec": mpiexec}.get(prog)
    if not fn:
        die(prog, "call me as srun, pdsh or mpiexec")
    sys.exit(fn(sys.argv[1:]))


if __name__ == "__main__":
    main()
