"""Plots and summary.md sections of the scaling, datamode and simulate
steps, from their CSV files (and simulate.json) in the output directory:
report.write() calls sections() so that `--report-only` redoes them."""
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import (FuncFormatter, LogLocator,  # noqa: E402
                               NullFormatter)

from report import COLORS, human, load, med, num, savefig  # noqa: E402

MiB = 1 << 20
VARIANTS = [("rpc", "1", "-", "o"), ("rma", "1", "--", "s"),
            ("rpc", "4", "-.", "^"), ("rma", "4", ":", "v")]
VCOLORS = {("rpc", "1"): "#1f77b4", ("rma", "1"): "#2ca02c",
           ("rpc", "4"): "#9467bd", ("rma", "4"): "#8c564b"}
TIME_GOAL = 0.25  # issue 3: canopy at N = 16 within 1/4 of direct
GOAL_N = 16


def _int_ticks(ax, xs):
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v)}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _log_counts(ax, subs=(1, 2, 5)):
    """A log y axis labelled (1, 2, 5) x 10^n in plain numbers."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _label(dm, r):
    return f"canopy {dm}, {r} root{'s' if r != '1' else ''}"


# ---- tree scaling ----------------------------------------------------------

def plot_scaling(out, rows):
    Ns = sorted({int(r["nodes"]) for r in rows})
    r0 = rows[0]
    tree = (f"{int(num(r0['tree_files']))} files, {int(num(r0['tree_dirs']))}"
            f" dirs, {num(r0['tree_bytes']) / MiB:.0f} MiB")
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    d = [med(rows, "wall_s", system="direct", nodes=n) for n in Ns]
    ax.plot(Ns, d, marker="o", color=COLORS["pfs"], lw=2,
            label="direct: N readers on the PFS model")
    ax.plot(Ns, [x * TIME_GOAL if x else None for x in d], color="k",
            ls=":", lw=1, label="goal: 1/4 of direct (issue 3, N=16)")
    for dm, r, ls, mk in VARIANTS:
        ys = [med(rows, "wall_s", system="canopy", data_mode=dm, roots=r,
                  nodes=n) for n in Ns]
        if any(y is not None for y in ys):
            pts = [(n, y) for n, y in zip(Ns, ys) if y is not None]
            ax.plot(*zip(*pts), marker=mk, ls=ls if len(pts) > 1 else "",
                    color=VCOLORS[(dm, r)], label=_label(dm, r))
    _int_ticks(ax, Ns)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("nodes N (one canopyd + one importer each)")
    ax.set_ylabel("time until all N have loaded the tree (s)")
    ax.set_title("Time to load (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)

    ax = axes[1]
    ax.plot(Ns, [med(rows, "backing_ops", system="direct", nodes=n)
                 for n in Ns], marker="o", color=COLORS["pfs"], lw=2,
            label="direct")
    for dm, r, ls, mk in VARIANTS:
        pts = [(n, med(rows, "backing_ops", system="canopy", data_mode=dm,
                       roots=r, nodes=n)) for n in Ns]
        pts = [p for p in pts if p[1] is not None]
        if pts:
            ax.plot(*zip(*pts), marker=mk, ls=ls if len(pts) > 1 else "",
                    color=VCOLORS[(dm, r)], label=_label(dm, r))
    for n in Ns:
        v = med(rows, "backing_opens_per_file", system="canopy", nodes=n,
                data_mode="rpc", roots="1")
        y = med(rows, "backing_ops", system="canopy", nodes=n,
                data_mode="rpc", roots="1")
        if v is not None:
            ax.annotate(f"{v:.2f}", (n, y), xytext=(0, -12),
                        textcoords="offset points", ha="center",
                        fontsize=7, color=VCOLORS[("rpc", "1")])
        v = med(rows, "backing_opens_per_file", system="direct", nodes=n)
        y = med(rows, "backing_ops", system="direct", nodes=n)
        if v is not None:
            ax.annotate(f"{v:.0f}", (n, y), xytext=(0, 5),
                        textcoords="offset points", ha="center",
                        fontsize=7, color=COLORS["pfs"])
    _int_ticks(ax, Ns)
    _log_counts(ax)
    ax.set_xlabel("nodes N")
    ax.set_ylabel("operations served by the PFS model (log)")
    ax.set_title("Backing-store load (labels: opens per file)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)

    ax = axes[2]
    parts = [("daemon_cpu_s", "canopyd (all N)", "#1f77b4"),
             ("loader_cpu_s", "importers", "#aec7e8"),
             ("pfs_cpu_s", "pfsmodel", COLORS["pfs"])]
    bottom = [0.0] * len(Ns)
    for col, lab, c in parts:
        ys = [med(rows, col, system="canopy", data_mode="rpc", roots="1",
                  nodes=n) or 0 for n in Ns]
        ax.bar(range(len(Ns)), ys, 0.6, bottom=bottom, color=c, label=lab)
        bottom = [b + y for b, y in zip(bottom, ys)]
    others = []
    for i, n in enumerate(Ns):
        h = med(rows, "host_cpu_s", system="canopy", data_mode="rpc",
                roots="1", nodes=n) if "host_cpu_s" in rows[0] else None
        others.append(max(0.0, h - bottom[i]) if h is not None else 0)
    if any(others):
        ax.bar(range(len(Ns)), others, 0.6, bottom=bottom, color="#cccccc",
               label="everything else on the host")
    cores = os.cpu_count() or 1
    walls = [med(rows, "wall_s", system="canopy", data_mode="rpc",
                 roots="1", nodes=n) for n in Ns]
    ax.plot(range(len(Ns)), [w * cores if w else None for w in walls],
            color="k", marker="_", ms=20, ls="",
            label=f"wall time x {cores} cores (all the CPU there was)")
    ax.set_xticks(range(len(Ns)))
    ax.set_xticklabels([str(n) for n in Ns])
    ax.set_xlabel("nodes N (canopy rpc, 1 root)")
    ax.set_ylabel("CPU seconds during the load")
    ax.set_title("Where the host's CPU went")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle(f"Tree scaling on one host: N canopyd over one pfsmodel "
                 f"(defaults: 4 slots, 250 us per metadata op), tree of "
                 f"{tree}; medians", fontsize=10)
    figs = [savefig(fig, out, "scaling.png")]

    lines = ["| N | direct s | " + " | ".join(
        _label(dm, r) + " s" for dm, r, _, _ in VARIANTS) +
        " | canopy/direct (rpc, 1 root) | PFS ops direct / canopy | "
        "PFS opens per file direct / canopy | failovers |",
        "|" + "---|" * (2 + len(VARIANTS) + 4)]
    for n in Ns:
        dv = med(rows, "wall_s", system="direct", nodes=n)
        cells = [human(med(rows, "wall_s", system="canopy", data_mode=dm,
                           roots=r, nodes=n)) for dm, r, _, _ in VARIANTS]
        cv = med(rows, "wall_s", system="canopy", data_mode="rpc",
                 roots="1", nodes=n)
        ratio = f"{cv / dv:.2f}" if cv and dv else "-"
        ops = " / ".join(human(med(rows, "backing_ops", system=s,
                                   nodes=n, **kw))
                         for s, kw in (("direct", {}), ("canopy", {
                             "data_mode": "rpc", "roots": "1"})))
        opens = " / ".join(
            f"{v:.2f}" if v is not None else "-" for v in (
                med(rows, "backing_opens_per_file", system="direct",
                    nodes=n),
                med(rows, "backing_opens_per_file", system="canopy",
                    data_mode="rpc", roots="1", nodes=n)))
        fo = sum(num(r["failovers"]) or 0 for r in rows
                 if r["system"] == "canopy" and int(r["nodes"]) == n)
        lines.append(f"| {n} | {human(dv)} | " + " | ".join(cells) +
                     f" | {ratio} | {ops} | {opens} | {fo:.0f} |")
    return figs, "\n".join(lines)


def scaling_goals(rows):
    """The issue-3 verdicts at N = 16 (or the largest N measured)."""
    Ns = sorted({int(r["nodes"]) for r in rows})
    n = GOAL_N if GOAL_N in Ns else Ns[-1]
    dv = med(rows, "wall_s", system="direct", nodes=n)
    out = ["| goal (issue 3) | configuration | measured | met |",
           "|---|---|---|---|"]
    for dm, r, _, _ in VARIANTS:
        cv = med(rows, "wall_s", system="canopy", data_mode=dm, roots=r,
                 nodes=n)
        if cv is None:
            continue
        opens = med(rows, "backing_opens_per_file", system="canopy",
                    data_mode=dm, roots=r, nodes=n)
        rb = med(rows, "backing_bytes_per_tree", system="canopy",
                 data_mode=dm, roots=r, nodes=n)
        ok = opens is not None and opens <= 1.0 + 1e-9 and rb <= 1.05
        out.append(f"| N={n}: the backing store sees each file once | "
                   f"{_label(dm, r)} | {opens:.2f} opens per file, read "
                   f"bytes {rb:.2f}x the tree | {'yes' if ok else 'NO'} |")
        if dv:
            out.append(f"| N={n}: all nodes done in <= 1/4 of direct | "
                       f"{_label(dm, r)} | {human(cv)} s vs direct "
                       f"{human(dv)} s = {cv / dv:.2f} | "
                       f"{'yes' if cv / dv <= TIME_GOAL else 'NO'} |")
    return "\n".join(out)


# ---- rpc vs rma -------------------------------------------------------------

def plot_datamode(out, rows, fab):
    bss = sorted({int(r["block_size"]) for r in rows})
    size = int(num(rows[0]["file_bytes"]))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4),
                             gridspec_kw={"width_ratios": [2, 1]})
    ax = axes[0]
    w = 0.38
    for i, mode in enumerate(("rpc", "rma")):
        ys, lo, hi = [], [], []
        for bs in bss:
            vals = [num(r["MBps"]) for r in rows if r["data_mode"] == mode
                    and int(r["block_size"]) == bs]
            m = med(rows, "MBps", data_mode=mode, block_size=bs)
            ys.append(m or 0)
            lo.append((m - min(vals)) if vals else 0)
            hi.append((max(vals) - m) if vals else 0)
        xs = [k + (i - 0.5) * w for k in range(len(bss))]
        ax.bar(xs, ys, w, yerr=[lo, hi], capsize=3, label=mode,
               color={"rpc": "#1f77b4", "rma": "#2ca02c"}[mode])
    for k, bs in enumerate(bss):
        a = med(rows, "MBps", data_mode="rpc", block_size=bs)
        b = med(rows, "MBps", data_mode="rma", block_size=bs)
        if a and b:
            ax.annotate(f"rma/rpc {b / a:.2f}", (k, max(a, b)),
                        xytext=(0, 8), textcoords="offset points",
                        ha="center", fontsize=8)
    ax.set_xticks(range(len(bss)))
    ax.set_xticklabels([f"{bs // MiB} MiB" for bs in bss])
    ax.set_xlabel("cache.block_size (one peer READ per block)")
    ax.set_ylabel("child's cold read through its mount (MB/s)")
    ax.set_title(f"root + child over loopback, {size // MiB} MiB file "
                 "(median, whiskers min..max)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    ax = axes[1]
    fr = [r for r in fab if r["test"] in ("send", "read")]
    if fr:
        labels = [f"{r['test']} 4 MiB\n{r['procs']} proc" for r in fr]
        ax.bar(range(len(fr)), [num(r["value"]) * 1000 for r in fr],
               color=["#1f77b4" if r["test"] == "send" else "#2ca02c"
                      for r in fr])
        ax.set_xticks(range(len(fr)))
        ax.set_xticklabels(labels, fontsize=8)
        lat = [r for r in fab if r["test"] == "lat"]
        ax.set_title("fabbench: the transport alone (MB/s)\n" + ", ".join(
            f"RTT {num(r['value']):.0f} us ({r['procs']} proc)"
            for r in lat), fontsize=9)
        ax.set_ylabel("MB/s (send: rpc's path; read: rma's)")
        ax.grid(axis="y", alpha=0.3)
    else:
        ax.axis("off")
    fig.suptitle("rpc (block bytes in the reply) vs rma (child fi_read()s "
                 "the parent's registered buffer), tcp;ofi_rxm", fontsize=10)
    figs = [savefig(fig, out, "datamode.png")]
    lines = ["| block size | rpc MB/s | rma MB/s | rma / rpc | goal | met |"
             " repeats |", "|---|---|---|---|---|---|---|"]
    for bs in bss:
        a = med(rows, "MBps", data_mode="rpc", block_size=bs)
        b = med(rows, "MBps", data_mode="rma", block_size=bs)
        n = sum(1 for r in rows if int(r["block_size"]) == bs and
                r["data_mode"] == "rma")
        ok = "yes" if a and b and b >= a else "NO"
        lines.append(f"| {bs // MiB} MiB | {human(a)} | {human(b)} | "
                     f"{b / a:.2f} | rma >= rpc | {ok} | {n} |"
                     if a and b else f"| {bs // MiB} MiB | {human(a)} | "
                     f"{human(b)} | - | rma >= rpc | - | {n} |")
    if fab:
        lines += ["", "fabbench: " + "; ".join(r["line"] for r in fab)]
    return figs, "\n".join(lines)


# ---- simulation -------------------------------------------------------------

def plot_simulate(out, rows, check, info):
    Ns = sorted({int(r["nodes"]) for r in rows})
    Rs = sorted({int(r["roots"]) for r in rows if r["system"] == "canopy"})
    ks = sorted({int(r["fanout"]) for r in rows if r["system"] == "canopy"})
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0][0]
    ax.plot(Ns, [med(rows, "time_s", system="direct", nodes=n)
                 for n in Ns], marker="o", color=COLORS["pfs"], lw=2,
            label="direct")
    lo = [min(num(r["time_s"]) for r in rows if r["system"] == "canopy"
              and int(r["nodes"]) == n) for n in Ns]
    hi = [max(num(r["time_s"]) for r in rows if r["system"] == "canopy"
              and int(r["nodes"]) == n) for n in Ns]
    ax.fill_between(Ns, lo, hi, color="#1f77b4", alpha=0.3,
                    label=f"canopy, every R in {Rs}, k in {ks}")
    ax.plot(Ns, [med(rows, "time_s", system="canopy", nodes=n, roots=1,
                     fanout=4) for n in Ns], color="#1f77b4", marker="s",
            label="canopy, 1 root, fan-out 4")
    ax.set_xscale("log")
    ax.set_xticks(Ns)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    _log_counts(ax, (1,))
    ax.set_xlabel("nodes N")
    ax.set_ylabel("predicted time to load (s, log)")
    ax.set_title("Predicted time to load")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="center left")

    ax = axes[0][1]
    ax.plot(Ns, [med(rows, "backing_ops", system="direct", nodes=n)
                 for n in Ns], marker="o", color=COLORS["pfs"], lw=2,
            label="direct")
    ax.plot(Ns, [med(rows, "backing_ops", system="canopy", nodes=n,
                     roots=1, fanout=4) for n in Ns], marker="s",
            color="#1f77b4", label="canopy (any R, k)")
    ax.set_xscale("log")
    ax.set_xticks(Ns)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    _log_counts(ax, (1,))
    ax.set_xlabel("nodes N")
    ax.set_ylabel("backing-store operations (log)")
    ax.set_title("Predicted backing-store load")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)

    ax = axes[1][0]
    nmax = Ns[-1]
    allt = []
    for r in Rs:
        rs = [next((x for x in rows if x["system"] == "canopy" and
                    int(x["nodes"]) == nmax and int(x["roots"]) == r and
                    int(x["fanout"]) == k), None) for k in ks]
        allt += [num(x["time_s"]) for x in rs if x]
        # what the tree adds to the fetches and the nodes' own work
        ys = [(num(x["time_s"]) - num(x["chain_backing_s"]) -
               num(x["chain_cpu_s"])) * 1000 if x else None for x in rs]
        ax.plot(ks, ys, marker="o", label=f"{r} root{'s' if r > 1 else ''}")
    _int_ticks(ax, ks)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("fan-out k (tree height: log_k N)")
    ax.set_ylabel("time beyond fetches + own work (ms)")
    ax.set_title(f"canopy at N = {nmax:,}: what the tree adds; total "
                 f"{min(allt):.2f}..{max(allt):.2f} s over every R, k",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)

    ax = axes[1][1]
    if check:
        for sysname, c in (("direct", COLORS["pfs"]),
                           ("canopy", "#1f77b4")):
            pts = [(num(r["measured_s"]), num(r["predicted_s"]), r)
                   for r in check if r["system"] == sysname]
            if not pts:
                continue
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=c,
                       label=sysname)
            for m, p, r in pts:
                ax.annotate(r["nodes"], (m, p), fontsize=7, color=c,
                            xytext=(3, 2), textcoords="offset points")
        top = max(max(num(r["measured_s"]), num(r["predicted_s"]))
                  for r in check) * 1.1
        ax.plot([0, top], [0, top], color="k", lw=0.8, ls=":",
                label="predicted = measured")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("measured on this host (s)")
        ax.set_ylabel("predicted for this host (s)")
        ax.set_title("Check: the model of this host against the runs\n"
                     "(labels: N; canopy: every data mode and root count)",
                     fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    else:
        ax.axis("off")
    p = (info or {}).get("cluster_params", {})
    fig.suptitle("benchmarks/simulate with daemon/tree.c: a cluster "
                 "(hop %s us, link %s GB/s, serve %s us) over the PFS "
                 "model (%s us per op, 4 slots);\n%s metadata ops per "
                 "file at the owner root, %s per direct reader "
                 "(measured)" % (
                     p.get("hop_us"), p.get("link_gbps"),
                     p.get("serve_us"), p.get("meta_us"),
                     p.get("canopy_ops"), p.get("direct_ops")),
                 fontsize=9)
    figs = [savefig(fig, out, "simulate.png")]

    lines = ["| N | direct s | canopy s, best (R, k) | canopy s, worst "
             "(R, k) | direct / canopy ops |", "|---|---|---|---|---|"]
    for n in Ns:
        cs = [r for r in rows if r["system"] == "canopy" and
              int(r["nodes"]) == n]
        best = min(cs, key=lambda r: num(r["time_s"]))
        worst = max(cs, key=lambda r: num(r["time_s"]))
        dv = med(rows, "time_s", system="direct", nodes=n)
        dops = med(rows, "backing_ops", system="direct", nodes=n)
        cops = num(best["backing_ops"])
        lines.append(f"| {n:,} | {human(dv)} | {human(num(best['time_s']))}"
                     f" ({best['roots']}, {best['fanout']}) | "
                     f"{human(num(worst['time_s']))} ({worst['roots']}, "
                     f"{worst['fanout']}) | {human(dops)} / {human(cops)} |")
    if check:
        lines += ["", "Predicted vs measured on this host:", "",
                  "| system | mode | R | N | measured s | predicted s | "
                  "error |", "|---|---|---|---|---|---|---|"]
        for r in check:
            lines.append(f"| {r['system']} | {r['data_mode']} | "
                         f"{r['roots']} | {r['nodes']} | "
                         f"{human(num(r['measured_s']))} | "
                         f"{human(num(r['predicted_s']))} | "
                         f"{num(r['error']) * 100:+.0f}% |")
    if info:
        lines += ["", "Parameters: cluster `" + json.dumps(
            info.get("cluster_params"), sort_keys=True) + "`; this host `"
            + json.dumps(dict(info.get("params", {}), **info.get(
                "host", {}), cpu_us=info.get("cpu_us")), sort_keys=True)
            + "`."]
    return figs, "\n".join(lines)


# ---- summary.md ------------------------------------------------------------

def sections(out):
    """Markdown lines for summary.md: one section per step that ran."""
    md = []
    rows = load(out, "scaling.csv")
    if rows:
        figs, table = plot_scaling(out, rows)
        md += ["", "## Tree scaling", "",
               "N canopyd on 127.0.0.1, each with its own mount, cache and "
               "socket, over one pfsmodel mount; one importer per node "
               "(walk, lstat, open and read every file), all started at "
               "once; time until the last is done and the operations the "
               "PFS model served meanwhile, against N importers reading "
               "the pfsmodel mount directly. Fan-out 4, placement file, "
               "an HMAC key. All N nodes share this host's CPUs.", ""]
        md += [f"![tree scaling]({f})" for f in figs] + [""]
        md += [scaling_goals(rows), "", table, "", "Data: `scaling.csv`."]
    rows = load(out, "datamode.csv")
    if rows:
        figs, table = plot_datamode(out, rows, load(out, "fabbench.csv"))
        md += ["", "## rpc vs rma", "",
               "Root and child canopyd over loopback; the child reads a "
               "cold file (both caches empty, the backing file in the page "
               "cache) through its mount with 1 MiB reads.", ""]
        md += [f"![rpc vs rma]({f})" for f in figs] + [""]
        md += [table, "", "Data: `datamode.csv`, `fabbench.csv`."]
    rows = load(out, "simulate.csv")
    if rows:
        info = {}
        p = os.path.join(out, "simulate.json")
        if os.path.exists(p):
            with open(p) as f:
                info = json.load(f)
        figs, table = plot_simulate(out, rows,
                                    load(out, "simulate_check.csv"), info)
        md += ["", "## Scale simulation", "",
               "benchmarks/simulate: the scaling step's tree imported by "
               "every node of 1,000..10,000, with daemon/tree.c's trees "
               "and owners and the latency/bandwidth model of "
               "benchmarks/README.md; calibrated on this run's "
               "measurements.", ""]
        md += [f"![simulation]({f})" for f in figs] + [""]
        md += [table, "", "Data: `simulate.csv`, `simulate_check.csv`, "
               "`simulate.json`."]
    return md
