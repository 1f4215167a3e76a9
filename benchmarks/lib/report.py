"""Plots (PNG) and summary.md from the CSV files and env.json of a run.

Works on the output directory alone, so `benchmarks/run --report-only`
can redo it. Every figure draws canopy beside native and bindfs from the
same CSV, i.e. the same run.
"""
import csv
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from common import median  # noqa: E402

MiB = 1 << 20
COLORS = {"native": "#222222", "bindfs": "#999999", "canopy": "#1f77b4",
          "cached": "#1f77b4", "direct": "#d62728", "passthrough": "#2ca02c",
          "pfs": "#ff7f0e", "canopy/pfs": "#9467bd"}


def load(out, name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return list(csv.DictReader(f))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def med(rows, value, **match):
    return median([num(r[value]) for r in rows
                   if all(str(r.get(k)) == str(v) for k, v in match.items())])


def bs_name(bs):
    bs = int(float(bs))
    return f"{bs // MiB} MiB" if bs >= MiB else f"{bs >> 10} KiB"


def human(n):
    if n is None:
        return "-"
    if n >= 100:
        return f"{n:,.0f}"
    return f"{n:.3g}"


def savefig(fig, out, name):
    fig.tight_layout()
    fig.savefig(os.path.join(out, name), dpi=110)
    plt.close(fig)
    return name


# ---- max_read sweep ----------------------------------------------------

def plot_maxread(out, rows):
    if not rows:
        return [], ""
    figs = []
    bss = sorted({int(r["bs"]) for r in rows})
    mps = sorted({int(r["max_pages"]) for r in rows if r["max_pages"]})
    size = rows[0].get("file_bytes")
    size_txt = f"{int(size) >> 20} MiB file" if size else ""
    for rw, title in (("read", "Sequential"), ("randread", "Random")):
        fig, axes = plt.subplots(1, len(bss), figsize=(4.2 * len(bss), 3.8),
                                 squeeze=False)
        for ax, bs in zip(axes[0], bss):
            for mode in ("cached", "direct", "passthrough"):
                ys = [med(rows, "MBps", system="canopy", mode=mode,
                          max_pages=mp, rw=rw, bs=bs) for mp in mps]
                got = [(mp, y) for mp, y in zip(mps, ys) if y is not None]
                if len(got) == 1 and len(mps) > 1:
                    # measured at one max_pages only (passthrough in
                    # --quick: max_pages does not apply to it)
                    ax.axhline(got[0][1], color=COLORS[mode], lw=1.5,
                               label=f"canopy {mode} (measured at "
                               f"max_pages={got[0][0]})")
                elif got:
                    ax.plot(mps, ys, marker="o", color=COLORS[mode],
                            label=f"canopy {mode}")
            for base, ls in (("native", "--"), ("bindfs", ":")):
                y = med(rows, "MBps", system=base, rw=rw, bs=bs)
                if y is not None:
                    ax.axhline(y, color=COLORS[base], ls=ls, lw=1.5,
                               label=f"{base} (no max_pages)")
            ax.set_xscale("log", base=2)
            ax.set_xticks(mps)
            ax.xaxis.set_major_formatter(FuncFormatter(
                lambda v, _: f"{int(v)}\n{bs_name(int(v) * 4096)}"))
            ax.set_xlabel("canopyd --max-pages (pages / max request)")
            ax.set_ylabel("throughput (MB/s)")
            ax.set_ylim(bottom=0)
            ax.set_title(f"{bs_name(bs)} application reads")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7, loc="best")
        fig.suptitle(f"{title} read throughput vs FUSE max_pages "
                     f"(fio psync, {size_txt}, median of repeats)")
        figs.append(savefig(fig, out, f"maxread_{rw}.png"))

    # effective request size
    fig, axes = plt.subplots(1, len(bss), figsize=(4.2 * len(bss), 3.8),
                             squeeze=False)
    any_req = False
    for ax, bs in zip(axes[0], bss):
        for mode in ("cached", "direct"):
            for col, ls, lab in (("req_max_bytes", "-", "largest"),
                                 ("req_mean_bytes", "--", "mean")):
                ys = [med(rows, col, system="canopy", mode=mode,
                          max_pages=mp, rw="read", bs=bs) for mp in mps]
                if any(y for y in ys):
                    any_req = True
                    ax.plot(mps, [y / 1024 if y else None for y in ys],
                            ls=ls, marker="o", color=COLORS[mode],
                            label=f"{mode}: {lab} request")
        ax.plot(mps, [mp * 4096 / 1024 for mp in mps], color="k",
                lw=0.8, ls=":", label="max_pages x 4 KiB")
        ax.axhline(bs / 1024, color="gray", lw=0.8, ls="-.",
                   label="application read size")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xticks(mps)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: str(int(v))))
        ax.yaxis.set_major_formatter(FuncFormatter(
            lambda v, _: bs_name(v * 1024) if v >= 1 else ""))
        ax.set_xlabel("canopyd --max-pages")
        ax.set_ylabel("FUSE READ request size")
        ax.set_title(f"sequential, {bs_name(bs)} application reads")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Effective FUSE READ size seen by canopyd (stats delta per "
                 "fio job). direct: min(read size, max_pages); cached: the "
                 "kernel's read-ahead window, up to max_pages", fontsize=10)
    if any_req:
        figs.append(savefig(fig, out, "maxread_reqsize.png"))
    else:
        plt.close(fig)

    # table
    lines = ["| rw | read size | " + " | ".join(
        f"canopy {m} mp={mp}" for m in ("cached", "direct") for mp in
        (mps[0], mps[-1])) + " | canopy passthrough | native | bindfs |",
        "|" + "---|" * (2 + 4 + 3)]
    for rw in ("read", "randread"):
        for bs in bss:
            cells = [human(med(rows, "MBps", system="canopy", mode=m,
                               max_pages=mp, rw=rw, bs=bs))
                     for m in ("cached", "direct") for mp in (mps[0],
                                                              mps[-1])]
            cells.append(human(med(rows, "MBps", system="canopy",
                                   mode="passthrough", max_pages=mps[-1],
                                   rw=rw, bs=bs)))
            cells += [human(med(rows, "MBps", system=b, rw=rw, bs=bs))
                      for b in ("native", "bindfs")]
            lines.append(f"| {rw} | {bs_name(bs)} | " + " | ".join(cells)
                         + " |")
    return figs, "\n".join(lines) if mps else ""


# ---- threads -------------------------------------------------------------

def plot_threads(out, rows):
    if not rows:
        return [], ""
    jobs = sorted({int(r["jobs"]) for r in rows})
    threads = sorted({int(r["threads"]) for r in rows if r["threads"]})
    jc = dict(zip(jobs, ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]))
    # panels: (rw, bs, mode, value column, unit)
    panels = []
    for rw, bs in sorted({(r["rw"], int(r["bs"])) for r in rows
                          if r["rw"] != "open+read+close"}, reverse=True):
        for mode in ("cached", "direct"):
            if any(r["mode"] == mode and r["rw"] == rw for r in rows):
                panels.append((rw, bs, mode, "MBps", "throughput (MB/s)"))
    if any(r["rw"] == "open+read+close" for r in rows):
        panels.append(("open+read+close", 0, "passthrough", "iops",
                       "operations/s"))
    ncol = 2
    nrow = (len(panels) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 3.8 * nrow),
                             squeeze=False)
    for k, (rw, bs, mode, col, unit) in enumerate(panels):
        ax = axes[k // ncol][k % ncol]
        for nj in jobs:
            ys = [med(rows, col, system="canopy", mode=mode, threads=t,
                      jobs=nj, rw=rw, bs=bs) for t in threads]
            if threads and any(y is not None for y in ys):
                ax.plot(threads, ys, marker="o", color=jc[nj],
                        label=f"canopy, {nj} clients")
            for base, ls in (("native", "--"), ("bindfs", ":")):
                y = med(rows, col, system=base, jobs=nj, rw=rw, bs=bs)
                if y is not None:
                    ax.axhline(y, color=jc[nj], ls=ls, lw=1,
                               label=f"{base}, {nj} clients")
        ax.set_xscale("log", base=2)
        if threads:
            ax.set_xticks(threads)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: str(int(v))))
        ax.set_xlabel("canopyd --threads")
        ax.set_ylabel(unit + ", log")
        ax.set_yscale("log")
        what = rw if rw == "open+read+close" else f"fio {rw} {bs_name(bs)}"
        ax.set_title(f"{what}, canopy {mode}")
        ax.grid(alpha=0.3, which="both")
    spare = [axes[k // ncol][k % ncol] for k in range(len(panels),
                                                      nrow * ncol)]
    for ax in spare:
        ax.axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if spare:  # one legend, in the empty panel
        spare[0].legend(handles, labels, fontsize=8, ncol=3, loc="center")
    else:
        fig.legend(handles, labels, fontsize=7, ncol=9, loc="lower center")
        fig.subplots_adjust(bottom=0.2)
    fig.suptitle("canopyd worker threads x concurrent clients (fio jobs on "
                 "their own files; metabench threads); dashed native, "
                 "dotted bindfs", fontsize=10)
    figs = [savefig(fig, out, "threads.png")]
    lines = ["| workload | canopy mode | clients | " + " | ".join(
        f"canopy T={t}" for t in threads) + " | native | bindfs | unit |",
        "|" + "---|" * (4 + len(threads) + 2)]
    for rw, bs, mode, col, unit in panels:
        for nj in jobs:
            cells = [human(med(rows, col, system="canopy", mode=mode,
                               threads=t, jobs=nj, rw=rw, bs=bs))
                     for t in threads]
            cells += [human(med(rows, col, system=b, jobs=nj, rw=rw,
                                bs=bs)) for b in ("native", "bindfs")]
            what = rw if rw == "open+read+close" else f"{rw} {bs_name(bs)}"
            short = "ops/s" if col == "iops" else "MB/s"
            lines.append(f"| {what} | {mode} | {nj} | " + " | ".join(cells)
                         + f" | {short} |")
    return figs, "\n".join(lines)


# ---- metadata ------------------------------------------------------------

OP_LABEL = {"stat": "stat existing", "missing": "stat missing",
            "read": "open+read+close"}


def _bars(ax, groups, systems, value_of, ylabel, log=True, ref=None):
    width = 0.8 / max(len(systems), 1)
    for i, s in enumerate(systems):
        xs, ys = [], []
        for g, key in enumerate(groups):
            v = value_of(s, key)
            if v is not None:
                xs.append(g + (i - (len(systems) - 1) / 2) * width)
                ys.append(v)
        bars = ax.bar(xs, ys, width, label=s, color=COLORS.get(s))
        if ref and s != ref:
            for b, key in zip(bars, [k for k in groups
                                     if value_of(s, k) is not None]):
                r = value_of(ref, key)
                if r:
                    ax.annotate(f"{b.get_height() / r:.2f}x",
                                (b.get_x() + b.get_width() / 2,
                                 b.get_height()), ha="center",
                                va="bottom", fontsize=6)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)


BACKING_KINDS = ("getattr", "readlink", "open", "read", "release", "opendir",
                 "readdir", "releasedir", "statfs")


def _backing_ops(ax, rs, systems):
    """Stacked: PFS-model operations per benchmark operation, cold."""
    width = 0.8 / len(systems)
    bottoms = {}
    labeled = set()
    cmap = plt.get_cmap("tab10")
    for ki, kind in enumerate(BACKING_KINDS):
        for i, s in enumerate(systems):
            for g, op in enumerate(OP_LABEL):
                row = [r for r in rs if r["system"] == s and r["op"] == op
                       and r["state"] == "cold"]
                if not row:
                    continue
                per = median([num(r.get(f"backing_{kind}")) /
                              (num(r["files"]) * num(r["passes"]))
                              for r in row
                              if num(r.get(f"backing_{kind}")) is not None])
                if not per:
                    continue
                x = g + (i - (len(systems) - 1) / 2) * width
                b = bottoms.get((s, op), 0)
                ax.bar(x, per, width, bottom=b, color=cmap(ki),
                       edgecolor="white", lw=0.3,
                       label=None if kind in labeled else kind)
                labeled.add(kind)
                bottoms[(s, op)] = b + per
    for i, s in enumerate(systems):
        for g, op in enumerate(OP_LABEL):
            if (s, op) in bottoms:
                ax.annotate(s, (g + (i - (len(systems) - 1) / 2) * width,
                                bottoms[(s, op)]), ha="center",
                            va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(range(len(OP_LABEL)))
    ax.set_xticklabels(OP_LABEL.values(), fontsize=8)
    ax.set_ylabel("PFS-model operations per benchmark op")
    ax.set_title("cold: load on the PFS model, by operation")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(axis="y", alpha=0.3)


def plot_metadata(out, rows):
    figs, tables = [], []
    for backing, systems, ref, fname, title in (
            ("local", ["native", "bindfs", "canopy"], "native",
             "metadata.png", "local disk backing tree"),
            ("pfs", ["pfs", "canopy/pfs"], "pfs", "metadata_pfs.png",
             "PFS model backing tree (pfsmodel defaults)")):
        rs = [r for r in rows if r["backing"] == backing]
        if not rs:
            continue
        systems = [s for s in systems if any(r["system"] == s for r in rs)]
        npan = 3 if backing == "pfs" else 2
        fig, axes = plt.subplots(1, npan, figsize=(5 * npan, 4))
        for ax, state in zip(axes, ("cold", "warm")):
            _bars(ax, list(OP_LABEL), systems,
                  lambda s, op: med(rs, "ops_per_s", system=s, op=op,
                                    state=state),
                  "operations per second (log)", ref=ref)
            ax.set_xticks(range(len(OP_LABEL)))
            ax.set_xticklabels(OP_LABEL.values(), fontsize=8)
            ax.set_title(f"{state} (labels: ratio to {ref})")
            ax.legend(fontsize=8)
        if npan == 3:
            _backing_ops(axes[2], rs, systems)
        files = {r["op"]: r["files"] for r in rs}
        fig.suptitle(f"Metadata over the Python tree, {title}\n(paths: "
                     + ", ".join(f"{OP_LABEL[k]} {v}"
                                 for k, v in files.items()) + ")",
                     fontsize=10)
        figs.append(savefig(fig, out, fname))
        lines = [f"| {backing} | state | " + " | ".join(systems) +
                 (" | backing ops per op (canopy/pfs) |"
                  if backing == "pfs" else " | canopy / native | "
                  "canopy / bindfs |"),
                 "|" + "---|" * (2 + len(systems) + (1 if backing == "pfs"
                                                     else 2))]
        for op in OP_LABEL:
            for state in ("cold", "warm"):
                vals = {s: med(rs, "ops_per_s", system=s, op=op,
                               state=state) for s in systems}
                cells = [human(vals[s]) for s in systems]
                if backing == "pfs":
                    b = {s: med(rs, "backing_ops_per_file", system=s, op=op,
                                state=state) for s in systems}
                    cells.append(" / ".join(
                        f"{b[s]:.2f}" if b[s] is not None else "-"
                        for s in ("canopy/pfs", "pfs") if s in b))
                else:
                    c = vals.get("canopy")
                    for base in ("native", "bindfs"):
                        cells.append(f"{c / vals[base]:.2f}x" if c and
                                     vals.get(base) else "-")
                lines.append(f"| {OP_LABEL[op]} | {state} | "
                             + " | ".join(cells) + " |")
        tables.append("\n".join(lines))
    return figs, "\n\n".join(tables)


def plot_imports(out, rows):
    if not rows:
        return [], ""
    groups = [(st, p) for st in ("cold", "warm") for p in ("1", "8")]
    backings = [b for b in ("local", "pfs") if any(r["backing"] == b
                                                    for r in rows)]
    fig, axes = plt.subplots(1, len(backings), figsize=(6 * len(backings),
                                                        4), squeeze=False)
    lines = ["| backing | state | processes | systems (wall s, median) |",
             "|---|---|---|---|"]
    for ax, b in zip(axes[0], backings):
        rs = [r for r in rows if r["backing"] == b]
        systems = [s for s in ("native", "bindfs", "canopy", "pfs",
                               "canopy/pfs") if any(r["system"] == s
                                                    for r in rs)]
        ref = "native" if b == "local" else "pfs"
        _bars(ax, groups, systems,
              lambda s, g: med(rs, "wall_s", system=s, state=g[0],
                               procs=g[1]),
              "wall time (s)", log=False, ref=ref)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"{st}\n{p} process{'es' if p != '1' else ''}"
                            for st, p in groups])
        ax.set_title(f"{b} backing tree (labels: ratio to {ref})")
        ax.legend(fontsize=8)
        for st, p in groups:
            if not any(r["state"] == st and r["procs"] == p for r in rs):
                continue
            cells = ", ".join(
                f"{s} {human(med(rs, 'wall_s', system=s, state=st, procs=p))}"
                + (f" ({human(med(rs, 'backing_ops', system=s, state=st, procs=p))}"
                   " PFS ops)" if b == "pfs" else "")
                for s in systems)
            lines.append(f"| {b} | {st} | {p} | {cells} |")
    fig.suptitle("python3 -c 'import numpy, matplotlib.pyplot, email, json,"
                 " ...' with PYTHONHOME on each system (lower is better)")
    return [savefig(fig, out, "imports.png")], "\n".join(lines)


def plot_targets(out, rows):
    rows = [r for r in rows if num(r["ratio"]) is not None and r["goal"]]
    if not rows:
        return []
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.5))
    labels, vals, goals = [], [], []
    for r in rows:
        g = num(r["goal"])
        v = num(r["ratio"])
        lower = r["target"] == "e"
        what = r["what"].split(" (")[0].split(", max_pages")[0][:58]
        # the three ways of serving (c) keep their names apart
        for tag, short in (("io_uring)", " [io_uring]"),
                           ("fuse.no_open", " [no_open]"),
                           ("/dev/fuse", " [/dev/fuse]")):
            if tag in r["what"]:
                what += short
                break
        labels.append(f"({r['target']}) {what}"
                      f"{' vs ' + r['baseline_system'] if r['baseline_system'] != 'goal' else ''}")
        # normalise so that 1.0 is the goal, >1 is better
        vals.append((g / v if lower else v / g) if v else 0)
        goals.append(g)
    ys = range(len(rows))
    ax.barh(list(ys), vals, color=["#2ca02c" if v >= 1 else "#d62728"
                                   for v in vals])
    ax.axvline(1.0, color="k", ls="--", lw=1)
    ax.set_yticks(list(ys))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("measured / goal (>= 1 meets the issue-2 target)")
    ax.set_title("Issue-2 targets, medians of repeats")
    for y, v, r in zip(ys, vals, rows):
        if r["baseline_system"] == "goal":
            rel = "<=" if r["target"] == "e" else ">="
            txt = (f"{human(num(r['canopy']))} {r['unit']} (goal {rel} "
                   f"{human(num(r['baseline']))} {r['unit']})")
        else:
            txt = f"{num(r['ratio']):.2f}x (goal >= {r['goal']}x)"
        ax.annotate(txt, (v, y), va="center", fontsize=7, xytext=(3, 0),
                    textcoords="offset points")
    ax.set_xlim(right=max(vals) * 1.35)
    return [savefig(fig, out, "targets.png")]


# ---- summary -----------------------------------------------------------

def _env_section(env):
    k0 = env.get("knobs_at_start", {})
    k1 = env.get("knobs_at_end", {})
    lines = ["## Machine and kernel", "",
             f"- host {env.get('host')}, {env.get('os')}, kernel "
             f"{env.get('kernel')} ({env.get('kernel_version')}), "
             f"{env.get('virt')}",
             f"- CPU {env.get('cpu')} x {env.get('cores')} cores, "
             f"{env.get('mem_gib')} GiB RAM",
             f"- backing tree on {env.get('backing_fs')} ({env.get('work')}),"
             f" canopy cache under {env.get('cache_base')} (tmpfs)",
             f"- {env.get('fio')}, {env.get('bindfs')} (stock options: "
             f"single-threaded, -o ro), libfuse {env.get('libfuse')}, "
             f"{env.get('python')}",
             f"- repository at {env.get('git')}",
             f"- load average (1, 5, 15 min) after each suite: "
             f"{env.get('loadavg_after', {})}; the machine is shared, "
             f"so repeats are interleaved and medians reported", "",
             "| kernel knob | at start | at end |", "|---|---|---|"]
    for k, v in k0.items():
        lines.append(f"| `{k}` | {v} | {k1.get(k, '(not re-read)')} |")
    ch = env.get("knob_changes") or []
    lines.append("")
    if ch:
        lines.append("Knobs changed during the run (restored at the end): "
                     + "; ".join(f"t={t}s `{p}`={v}" for t, p, v in ch))
    cd = env.get("canopy_defaults")
    if cd:
        shown = {k: v for k, v in cd.items() if k not in ("help",)}
        lines += ["", "canopyd with its defaults negotiated: `"
                  + json.dumps(shown, default=str)[:900] + "`"]
    return lines


def write(out):
    env = {}
    if os.path.exists(os.path.join(out, "env.json")):
        with open(os.path.join(out, "env.json")) as f:
            env = json.load(f)
    md = ["# canopy benchmarks", "",
          f"Run {env.get('started', '?')} .. {env.get('ended', '?')}, "
          f"{env.get('seconds', '?')} s, "
          f"{'--quick' if env.get('quick') else 'full'}; suites "
          f"{', '.join(env.get('suites', []))}; suite times "
          f"{env.get('suite_seconds', {})}.", ""]
    md += _env_section(env)

    targets = load(out, "targets.csv")
    if targets:
        md += ["", "## Issue-2 targets", "",
               "Medians of repeats; each beside its baseline from the same "
               "run.", "",
               "| | measurement | canopy | baseline | ratio | goal | met |"
               " repeats | detail |",
               "|---|---|---|---|---|---|---|---|---|"]
        for r in targets:
            md.append(f"| {r['target']} | {r['what']} | "
                      f"{human(num(r['canopy']))} {r['unit']} | "
                      f"{r['baseline_system']} {human(num(r['baseline']))} "
                      f"| {human(num(r['ratio']))} | {r['goal']} | "
                      f"{r['met']} | {r['repeats']} | {r['detail']} |")
        for f in plot_targets(out, targets):
            md += ["", f"![targets]({f})"]

    sections = [
        ("max_read sweep", "maxread.csv", plot_maxread,
         "fio psync, one job; MB/s, median of repeats. cached: every read "
         "reaches canopyd (FUSE page cache dropped before each job, daemon "
         "cache full); direct: FOPEN_DIRECT_IO; passthrough: the kernel "
         "reads the cache file. native: warm page cache of the backing "
         "file; bindfs: backing file warm, bindfs page cache dropped."),
        ("Worker threads", "threads.csv", plot_threads,
         "canopyd --threads T against J concurrent clients: fio psync jobs, "
         "each on its own file (MB/s), and metabench threads doing "
         "open+read+close of the Python tree's small files (ops/s, canopy "
         "with its defaults, so passthrough opens); medians."),
        ("Metadata", "metadata.csv", plot_metadata,
         "metabench (C) over the Python tree, paths relative to the tree's "
         "root (cwd): ops/s, median. cold = caches "
         "dropped and daemons restarted (canopy cache empty) before one "
         "pass; warm = after a pass. backing ops: operations the PFS model "
         "served per benchmark operation."),
        ("Python imports", "imports.csv", plot_imports,
         "Wall time of 1 or 8 concurrent `python3 -s -c 'import ...'` with "
         "PYTHONHOME (stdlib and dist-packages) on each system, median."),
    ]
    for title, fname, fn, blurb in sections:
        rows = load(out, fname)
        if not rows:
            continue
        figs, table = fn(out, rows)
        md += ["", f"## {title}", "", blurb, ""]
        for f in figs:
            md += [f"![{title}]({f})", ""]
        if table:
            md += [table, ""]
        md.append(f"Data: `{fname}`.")
    import report_scaling
    md += report_scaling.sections(out)
    if env.get("notes"):
        md += ["", "## Notes", ""] + [f"- {n}" for n in env["notes"]]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")
