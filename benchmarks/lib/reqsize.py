"""The effective FUSE READ request size, from canopyctl stats deltas.

canopyd exports a read-size histogram as flat dotted keys. The bucket keys
end in a size (bytes, or with a k/K/m/M/KiB/MiB suffix): the bucket's upper
bound. summarize() takes a stats delta and returns the request count, the
mean (when the daemon counts READ bytes) and the largest non-empty bucket.
"""
import re

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30}
_BUCKET = re.compile(r"^fuse\.read\.(?:size[._-]?)?(?:hist|histogram)"
                     r"[._-]?(?:le[._-]?|lt[._-]?|upto[._-]?)?"
                     r"(\d+)([a-zA-Z]*)$")


def buckets(stats):
    """{upper_bound_bytes: count} from the histogram keys."""
    res = {}
    for k, v in stats.items():
        m = _BUCKET.match(k)
        if not m or not isinstance(v, (int, float)):
            continue
        unit = m.group(2).lower()
        if unit not in _UNITS:
            continue
        res[int(m.group(1)) * _UNITS[unit]] = v
    return res


def summarize(delta):
    b = buckets(delta)
    count = delta.get("fuse.read.count")
    if count is None and b:
        count = sum(b.values())
    nbytes = None
    for k in ("fuse.read.bytes", "fuse.read.size_sum", "fuse.read.size.sum"):
        if k in delta:
            nbytes = delta[k]
            break
    mean = nbytes / count if nbytes is not None and count else None
    nonempty = [ub for ub, c in b.items() if c > 0]
    return {"count": count, "mean": mean,
            "max": max(nonempty) if nonempty else None,
            "size_max": delta.get("fuse.read.size_max")}
