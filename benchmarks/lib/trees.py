"""Backing data: large files, a Python tree, a 20,000-file tree, lists.

Data lives under WORK/data (a disk file system, like the backing store)
and is reused by later runs when it is already complete (a stamp file).
"""
import os
import random
import shutil
import subprocess

from common import BenchError, log

STDLIB = "/usr/lib/python3.11"
DIST = "/usr/lib/python3/dist-packages"
# files of the environment, not of Python; never copied
EXCLUDE = ("_sandboxing",)

MISSING_SUFFIXES = (".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so",
                    "/__init__.py", ".pyc")


def _stamped(path, stamp):
    return os.path.exists(os.path.join(path, ".stamp")) and \
        open(os.path.join(path, ".stamp")).read() == stamp


def _stamp(path, stamp):
    with open(os.path.join(path, ".stamp"), "w") as f:
        f.write(stamp)


def ensure_file(path, size):
    """A file of random bytes (incompressible, no holes)."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return path
    log(f"creating {path} ({size >> 20} MiB)")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    chunk = 16 << 20
    with open(tmp, "wb") as f:
        left = size
        while left > 0:
            n = min(chunk, left)
            f.write(os.urandom(n))
            left -= n
    os.rename(tmp, path)
    return path


def ensure_files(directory, prefix, n, size):
    os.makedirs(directory, exist_ok=True)
    return [ensure_file(os.path.join(directory, f"{prefix}{i}"), size)
            for i in range(n)]


def ensure_pytree(dst):
    """PREFIX/lib/python3.11 + PREFIX/lib/python3/dist-packages, copied with
    their mtimes (so the shipped __pycache__ stays valid): a Python prefix
    that PYTHONHOME can point at, through any of the systems."""
    stamp = "pytree v1"
    if _stamped(dst, stamp):
        return dst
    log(f"copying the Python tree to {dst}")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(os.path.join(dst, "lib", "python3"))
    ign = shutil.ignore_patterns(*(e + "*" for e in EXCLUDE))
    shutil.copytree(STDLIB, os.path.join(dst, "lib", "python3.11"),
                    symlinks=True, ignore=ign)
    shutil.copytree(DIST, os.path.join(dst, "lib", "python3",
                                       "dist-packages"),
                    symlinks=True, ignore=ign)
    _stamp(dst, stamp)
    return dst


def walk_files(root):
    """Regular files under root, relative, in walk order, with sizes."""
    res = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(d, name)
            if name == ".stamp" or os.path.islink(p):
                continue
            res.append((os.path.relpath(p, root), os.path.getsize(p)))
    return res


def ensure_tree20k(dst, sizes, n=20000, per_dir=25, seed=42):
    """n files with sizes drawn from `sizes` (the Python tree's), in
    nested package-like directories of per_dir files."""
    stamp = f"tree20k v1 n={n} per_dir={per_dir} seed={seed}"
    if _stamped(dst, stamp):
        return dst
    log(f"creating a {n}-file tree at {dst}")
    shutil.rmtree(dst, ignore_errors=True)
    rnd = random.Random(seed)
    blob = os.urandom(1 << 20)
    for i in range(n):
        d = os.path.join(dst, f"pkg{i // (per_dir * 20):03d}",
                         f"sub{(i // per_dir) % 20:02d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        size = min(rnd.choice(sizes), len(blob))
        with open(os.path.join(d, f"mod{i:05d}.py"), "wb") as f:
            f.write(blob[:size])
    _stamp(dst, stamp)
    return dst


def write_list(path, items):
    with open(path, "w") as f:
        for it in items:
            f.write(it + "\n")
    return path


# --quick: the Python-tree lists of the metadata measurements (targets (c),
# the thread sweep's open+read+close, the metadata suite) are a fixed
# random sample of this many files, the same one for every system
QUICK_FILES = 3000


def make_lists(tree, outdir, tag, small_max=64 << 10, sample=1, limit=None,
               seed=5):
    """Lists over `tree`: every file, its small files, and missing paths
    (the probes an importer makes next to existing files); every
    `sample`-th entry when sample > 1; when `limit` is set and smaller
    than the tree, a fixed random sample of `limit` files (seeded, so the
    same files in every run and for every system), kept in walk order.
    Returns {name: (path, count)}."""
    files = walk_files(tree)
    if not files:
        raise BenchError(f"{tree}: no files")
    files = files[::sample]
    if limit and limit < len(files):
        keep = set(random.Random(seed).sample(range(len(files)), limit))
        files = [f for i, f in enumerate(files) if i in keep]
    allf = [p for p, _ in files]
    small = [p for p, s in files if s <= small_max]
    rnd = random.Random(7)
    missing = []
    for p in allf:
        stem = p.rsplit(".", 1)[0]
        cand = stem + rnd.choice(MISSING_SUFFIXES)
        try:
            os.lstat(os.path.join(tree, cand))
        except FileNotFoundError:  # not ENOTDIR: a plain ENOENT probe
            missing.append(cand)
        except OSError:
            pass
    os.makedirs(outdir, exist_ok=True)
    res = {}
    for name, items in (("stat", allf), ("missing", missing),
                        ("read", small)):
        res[name] = (write_list(os.path.join(outdir, f"{tag}.{name}.txt"),
                                items), len(items))
    return res


def py_lists(ctx, tree):
    """make_lists over the Python tree: all of it, or in --quick the
    fixed sample of QUICK_FILES files."""
    if ctx.quick:
        return make_lists(tree, ctx.work, f"py-q{QUICK_FILES}",
                          limit=QUICK_FILES)
    return make_lists(tree, ctx.work, "py")


def tree_facts(tree):
    files = walk_files(tree)
    sizes = sorted(s for _, s in files)
    ndirs = sum(1 for _ in os.walk(tree))
    return {"files": len(files), "dirs": ndirs, "bytes": sum(sizes),
            "median_size": sizes[len(sizes) // 2] if sizes else 0}


def du(path):
    r = subprocess.run(["du", "-sb", path], stdout=subprocess.PIPE,
                       text=True)
    return int(r.stdout.split()[0]) if r.returncode == 0 else None


def _real_sizes():
    """Sizes of the installed Python's .py and extension (.so) files."""
    files = walk_files(STDLIB) + walk_files(DIST)
    py = sorted(s for p, s in files if p.endswith(".py"))
    so = sorted(s for p, s in files if ".so" in os.path.basename(p))
    return py or [4096], so or [131072]


def ensure_sitetree(dst, n=3000, big=(4 << 20, 12 << 20), per_dir=24,
                    seed=11):
    """A site-packages-like tree of about n files: nested packages (top
    level, sub-packages, sub-sub-packages) of per_dir files on average,
    each with an __init__.py; 92% .py modules and 8% extension modules
    (.cpython-311-x86_64-linux-gnu.so), their sizes drawn from the
    installed Python's own .py and .so files; plus one big extension per
    size in `big` (a libtorch or libopenblas stand-in) in the first
    packages. Returns dst."""
    stamp = f"sitetree v1 n={n} big={list(big)} per_dir={per_dir} " \
        f"seed={seed}"
    if _stamped(dst, stamp):
        return dst
    log(f"creating a {n}-file site-packages tree at {dst}")
    shutil.rmtree(dst, ignore_errors=True)
    rnd = random.Random(seed)
    py, so = _real_sizes()
    blob = os.urandom(2 << 20)

    def put(path, size):
        with open(path, "wb") as f:
            left = size
            while left > 0:
                k = min(left, len(blob))
                f.write(blob[:k])
                left -= k

    made, dirs = 0, []
    top = 0
    while made < n:
        pkg = os.path.join(dst, f"pkg{top:02d}")
        top += 1
        # a package: itself, 0-5 sub-packages, each 0-3 sub-sub-packages
        todo = [pkg]
        for s in range(rnd.randint(0, 5)):
            sub = os.path.join(pkg, f"sub{s}")
            todo.append(sub)
            todo += [os.path.join(sub, f"leaf{t}")
                     for t in range(rnd.randint(0, 3))]
        for d in todo:
            if made >= n:
                break
            os.makedirs(d, exist_ok=True)
            dirs.append(d)
            put(os.path.join(d, "__init__.py"), rnd.choice(py))
            made += 1
            for i in range(rnd.randint(per_dir // 2, per_dir * 3 // 2)):
                if made >= n:
                    break
                if rnd.random() < 0.08:
                    name = f"_ext{i:03d}.cpython-311-x86_64-linux-gnu.so"
                    size = rnd.choice(so)
                else:
                    name, size = f"mod{i:03d}.py", rnd.choice(py)
                put(os.path.join(d, name), size)
                made += 1
    for i, size in enumerate(big):
        d = dirs[i % len(dirs)]
        put(os.path.join(d, f"_big{i}.cpython-311-x86_64-linux-gnu.so"),
            size)
    _stamp(dst, stamp)
    return dst
