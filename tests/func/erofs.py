#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Try every mutating call on a directory of the view; each must fail with
EROFS (a few the VFS refuses earlier with another errno, named below).

  erofs.py DIR [--rw [--no-open]]

--rw: the mount was remounted read-write, so only the daemon stands in the
way; access(W_OK), which the kernel answers itself, may then succeed.
--no-open: the daemon runs with fuse.no_open, so the kernel opens existing
files without asking it: such an open for writing may then succeed, and
every write through the descriptor must still fail.
DIR holds: file (with a user.canopy xattr), other, emptydir/,
nonempty/inside, link -> file. Prints one line per call; exits 1 if any
call succeeded or failed with an unexpected errno.
"""
import ctypes
import errno
import mmap
import os
import stat
import sys

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
O_TMPFILE = getattr(os, "O_TMPFILE", 0o20200000)

bad = 0


def c_call(fn, *args):
    ret = fn(*args)
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret


def enc(p):
    return os.fsencode(p)


def try_fd_ops(what, fd):
    """an fd that should never have been opened for writing: every write
    path through it must still fail"""
    for name, fn in (("write", lambda: os.write(fd, b"x")),
                     ("pwrite", lambda: os.pwrite(fd, b"x", 0)),
                     ("ftruncate", lambda: os.ftruncate(fd, 0)),
                     ("fallocate", lambda: os.posix_fallocate(fd, 0, 8192)),
                     ("fsync", lambda: os.fsync(fd))):
        expect("%s via %s" % (name, what), fn,
               (errno.EROFS, errno.EBADF, errno.EINVAL)
               if name != "fsync" else None)


def expect_open(what, fn, may_open):
    """an open for writing: EROFS, or with may_open a descriptor through
    which every write path fails"""
    if not may_open:
        expect(what, fn)
        return
    try:
        fd = fn()
    except OSError:
        expect(what, fn)
        return
    print("ok   %-52s succeeded (not asked: fuse.no_open)" % what)
    try_fd_ops(what, fd)
    os.close(fd)


def expect(what, fn, ok=(errno.EROFS,)):
    """run fn; it must raise OSError with an errno in ok (None: anything,
    success included)"""
    global bad
    try:
        ret = fn()
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e.errno))
        if ok is None or e.errno in ok:
            print("ok   %-52s %s" % (what, name))
        else:
            print("BAD  %-52s %s (expected %s)" %
                  (what, name, "/".join(errno.errorcode[x] for x in ok)))
            bad += 1
        return
    if ok is None:
        print("ok   %-52s succeeded" % what)
        return
    print("BAD  %-52s succeeded (expected %s)" %
          (what, "/".join(errno.errorcode[x] for x in ok)))
    bad += 1
    if isinstance(ret, int) and ret >= 0 and what.startswith("open"):
        try_fd_ops(what, ret)
        os.close(ret)


def main():
    d = sys.argv[1]
    rw = "--rw" in sys.argv[2:]
    # without O_TRUNC or O_CREAT of a new name, the kernel opens by itself
    may_open = rw and "--no-open" in sys.argv[2:]
    f = os.path.join(d, "file")
    other = os.path.join(d, "other")
    empty = os.path.join(d, "emptydir")
    nonempty = os.path.join(d, "nonempty")
    link = os.path.join(d, "link")
    new = os.path.join(d, "new-name")
    size = os.stat(f).st_size

    # open for writing, creating, truncating
    for flags, label in ((os.O_WRONLY, "O_WRONLY"), (os.O_RDWR, "O_RDWR"),
                         (os.O_WRONLY | os.O_APPEND, "O_WRONLY|O_APPEND"),
                         (os.O_RDONLY | os.O_TRUNC, "O_RDONLY|O_TRUNC"),
                         (os.O_WRONLY | os.O_TRUNC, "O_WRONLY|O_TRUNC"),
                         (os.O_RDWR | os.O_CREAT, "O_RDWR|O_CREAT")):
        expect_open("open(file, %s)" % label, lambda: os.open(f, flags),
                    may_open and not flags & os.O_TRUNC)
    expect_open("open(link, O_WRONLY) through a symlink",
                lambda: os.open(link, os.O_WRONLY), may_open)
    expect("open(new, O_CREAT|O_WRONLY)",
           lambda: os.open(new, os.O_CREAT | os.O_WRONLY, 0o644))
    expect("open(new, O_CREAT|O_EXCL|O_RDONLY)",
           lambda: os.open(new, os.O_CREAT | os.O_EXCL | os.O_RDONLY, 0o644))
    expect("open(dir, O_TMPFILE|O_RDWR)",
           lambda: os.open(d, O_TMPFILE | os.O_RDWR, 0o600),
           (errno.EROFS, errno.EOPNOTSUPP))
    expect("open(dir, O_RDWR)", lambda: os.open(empty, os.O_RDWR),
           (errno.EROFS, errno.EISDIR))

    # writes through what can be opened: the VFS needs a writable fd
    fd = os.open(f, os.O_RDONLY)
    expect("write via an O_RDONLY fd", lambda: os.write(fd, b"x"),
           (errno.EBADF,))
    expect("fallocate via an O_RDONLY fd",
           lambda: os.posix_fallocate(fd, 0, size + 8192),
           (errno.EBADF,))
    expect("ftruncate via an O_RDONLY fd", lambda: os.ftruncate(fd, 0),
           (errno.EINVAL, errno.EBADF, errno.EROFS))
    expect("mmap(PROT_WRITE, MAP_SHARED) of an O_RDONLY fd",
           lambda: mmap.mmap(fd, 0, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE),
           (errno.EACCES,))
    os.close(fd)

    expect("access(file, W_OK)",
           lambda: c_call(libc.access, enc(f), os.W_OK),
           None if rw else (errno.EROFS,))
    expect("truncate(file, 0)", lambda: os.truncate(f, 0))
    expect("truncate(file, size + 1 MiB)",
           lambda: os.truncate(f, size + (1 << 20)))

    # namespace
    expect("mkdir(new)", lambda: os.mkdir(new))
    expect("mkdir(existing dir)", lambda: os.mkdir(empty),
           (errno.EROFS, errno.EEXIST))
    expect("rmdir(emptydir)", lambda: os.rmdir(empty))
    expect("rmdir(nonempty)", lambda: os.rmdir(nonempty),
           (errno.EROFS, errno.ENOTEMPTY))
    expect("unlink(file)", lambda: os.unlink(f))
    expect("unlink(link)", lambda: os.unlink(link))
    expect("unlink(nonempty/inside)",
           lambda: os.unlink(os.path.join(nonempty, "inside")))
    expect("rename(file, new)", lambda: os.rename(f, new))
    expect("rename(file, other) over an existing file",
           lambda: os.rename(f, other))
    expect("rename(emptydir, new)", lambda: os.rename(empty, new))
    expect("rename(file, nonempty/file) across directories",
           lambda: os.rename(f, os.path.join(nonempty, "file")))
    expect("renameat2(file, other, RENAME_EXCHANGE)",
           lambda: c_call(libc.renameat2, AT_FDCWD, enc(f), AT_FDCWD,
                          enc(other), RENAME_EXCHANGE))
    expect("renameat2(file, new, RENAME_NOREPLACE)",
           lambda: c_call(libc.renameat2, AT_FDCWD, enc(f), AT_FDCWD,
                          enc(new), RENAME_NOREPLACE))
    expect("link(file, new)", lambda: os.link(f, new))
    expect("symlink(target, new)", lambda: os.symlink("file", new))
    expect("mknod(new, S_IFIFO)", lambda: os.mkfifo(new, 0o644))
    expect("mknod(new, S_IFREG)",
           lambda: os.mknod(new, 0o644 | stat.S_IFREG))
    expect("mknod(new, S_IFCHR 1:3)",
           lambda: os.mknod(new, 0o600 | stat.S_IFCHR, os.makedev(1, 3)))

    # attributes
    expect("chmod(file, 0777)", lambda: os.chmod(f, 0o777))
    expect("chmod(emptydir, 0700)", lambda: os.chmod(empty, 0o700))
    expect("chown(file, 1, 1)", lambda: os.chown(f, 1, 1))
    expect("chown(file, -1, 1) group only", lambda: os.chown(f, -1, 1))
    expect("lchown(link, 1, 1)", lambda: os.lchown(link, 1, 1))
    expect("utime(file, now)", lambda: os.utime(f))
    expect("utime(file, ns=...)", lambda: os.utime(f, ns=(10**9, 10**9)))
    expect("utime(link, no follow)",
           lambda: os.utime(link, ns=(10**9, 10**9), follow_symlinks=False))
    expect("utime(emptydir, now)", lambda: os.utime(empty))
    expect("setxattr(file, user.new)",
           lambda: os.setxattr(f, "user.new", b"v"))
    expect("setxattr(file, user.canopy) replace",
           lambda: os.setxattr(f, "user.canopy", b"changed"))
    expect("setxattr(file, trusted.new)",
           lambda: os.setxattr(f, "trusted.new", b"v"))
    expect("setxattr(emptydir, user.new)",
           lambda: os.setxattr(empty, "user.new", b"v"))
    expect("removexattr(file, user.canopy)",
           lambda: os.removexattr(f, "user.canopy"))
    expect("removexattr(file, user.absent)",
           lambda: os.removexattr(f, "user.absent"),
           (errno.EROFS, errno.ENODATA))

    print("%d unexpected results" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
