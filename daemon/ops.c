// SPDX-License-Identifier: MIT
/*
 * daemon/ops.c - request validation and the opcode dispatch table.
 *
 * Every request is checked before a handler sees it: the header's length
 * must equal the bytes read, the body must hold the opcode's fixed part, and
 * a name must be NUL-terminated inside the body. Unknown opcodes get ENOSYS,
 * mutating ones EROFS (the mount is read-only, and stays honest even if it is
 * remounted read-write).
 */
#include <errno.h>
#include <string.h>

#include "canopyd_i.h"

static void op_erofs(struct req *r)
{
	reply_err(r, -EROFS);
}

static void op_enosys(struct req *r)
{
	reply_err(r, -ENOSYS);
}

/*
 * Requests the kernel expects no answer to. INTERRUPT among them: every
 * canopy request finishes on its own, so there is nothing to cancel.
 */
static void op_noreply(struct req *r)
{
	stats_request_done(r->opcode, 0, 0);
}

#define NAME_AFTER(type) .name = true, .in_min = sizeof(type) + 1
#define FIXED(type) .in_min = sizeof(type)

const struct op_desc ops_table[CANOPY_FUSE_OPCODES] = {
	[FUSE_INIT] = { op_init, 16, false },
	[FUSE_DESTROY] = { op_destroy },
	[FUSE_LOOKUP] = { op_lookup, .name = true, .in_min = 1 },
	[FUSE_FORGET] = { op_forget, FIXED(struct fuse_forget_in) },
	[FUSE_BATCH_FORGET] = { op_batch_forget,
				FIXED(struct fuse_batch_forget_in) },
	[FUSE_GETATTR] = { op_getattr, FIXED(struct fuse_getattr_in) },
	[FUSE_READLINK] = { op_readlink },
	[FUSE_OPEN] = { op_open, FIXED(struct fuse_open_in) },
	[FUSE_READ] = { op_read, FIXED(struct fuse_read_in) },
	[FUSE_RELEASE] = { op_release, FIXED(struct fuse_release_in) },
	[FUSE_FLUSH] = { op_flush, FIXED(struct fuse_flush_in) },
	[FUSE_LSEEK] = { op_lseek, FIXED(struct fuse_lseek_in) },
	[FUSE_OPENDIR] = { op_opendir, FIXED(struct fuse_open_in) },
	[FUSE_READDIR] = { op_readdir, FIXED(struct fuse_read_in) },
	[FUSE_READDIRPLUS] = { op_readdirplus, FIXED(struct fuse_read_in) },
	[FUSE_RELEASEDIR] = { op_releasedir, FIXED(struct fuse_release_in) },
	[FUSE_STATFS] = { op_statfs },
	[FUSE_GETXATTR] = { op_getxattr, NAME_AFTER(struct fuse_getxattr_in) },
	[FUSE_LISTXATTR] = { op_listxattr, FIXED(struct fuse_getxattr_in) },
	[FUSE_ACCESS] = { op_access, FIXED(struct fuse_access_in) },
	[FUSE_INTERRUPT] = { op_noreply, FIXED(struct fuse_interrupt_in) },
	[FUSE_NOTIFY_REPLY] = { op_noreply },

	/* a read-only file system: never a fake success */
	[FUSE_SETATTR] = { op_erofs },
	[FUSE_SYMLINK] = { op_erofs },
	[FUSE_MKNOD] = { op_erofs },
	[FUSE_MKDIR] = { op_erofs },
	[FUSE_UNLINK] = { op_erofs },
	[FUSE_RMDIR] = { op_erofs },
	[FUSE_RENAME] = { op_erofs },
	[FUSE_RENAME2] = { op_erofs },
	[FUSE_LINK] = { op_erofs },
	[FUSE_WRITE] = { op_erofs },
	[FUSE_SETXATTR] = { op_erofs },
	[FUSE_REMOVEXATTR] = { op_erofs },
	[FUSE_CREATE] = { op_erofs },
	[FUSE_TMPFILE] = { op_erofs },
	[FUSE_FALLOCATE] = { op_erofs },
	[FUSE_COPY_FILE_RANGE] = { op_erofs },
	[FUSE_COPY_FILE_RANGE_64] = { op_erofs },

	/* ENOSYS makes the kernel stop asking and answer itself */
	[FUSE_FSYNC] = { op_enosys },
	[FUSE_FSYNCDIR] = { op_enosys },
	[FUSE_GETLK] = { op_enosys },
	[FUSE_SETLK] = { op_enosys },
	[FUSE_SETLKW] = { op_enosys },
	[FUSE_BMAP] = { op_enosys },
	[FUSE_IOCTL] = { op_enosys },
	[FUSE_POLL] = { op_enosys },
	[FUSE_SETUPMAPPING] = { op_enosys },
	[FUSE_REMOVEMAPPING] = { op_enosys },
	[FUSE_SYNCFS] = { op_enosys },
	[FUSE_STATX] = { op_enosys },
};

/* Opcodes the kernel expects no reply to, even when malformed. */
static bool no_reply(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET ||
	       opcode == FUSE_INTERRUPT || opcode == FUSE_NOTIFY_REPLY;
}

static void malformed(struct req *r, const char *why)
{
	STAT_INC(malformed);
	log_warn_rl("malformed %s request (opcode %u, %zu bytes): %s",
		    stats_opname(r->opcode) ? stats_opname(r->opcode) : "?",
		    r->opcode, r->inlen, why);
	if (!no_reply(r->opcode))
		reply_err(r, r->opcode == FUSE_INIT ? -EPROTO : -EINVAL);
}

void ops_dispatch(struct worker *w, const void *buf, size_t len)
{
	ops_dispatch_ent(w, NULL, buf, len);
}

void ops_dispatch_ent(struct worker *w, struct ring_ent *ent,
		      const void *buf, size_t len)
{
	const struct fuse_in_header *ih = buf;
	const struct op_desc *d;
	struct req r = { .w = w, .fd = w->fd, .ent = ent, .t0 = now_ns() };

	chan_order_acquire();

	if (len < sizeof(*ih)) {
		STAT_INC(malformed);
		log_warn_rl("request of %zu bytes: shorter than its header",
			    len);
		return;
	}
	r.unique = ih->unique;
	r.opcode = ih->opcode;
	r.nodeid = ih->nodeid;
	r.uid = ih->uid;
	r.gid = ih->gid;
	r.pid = ih->pid;
	r.in = ih + 1;
	r.inlen = len - sizeof(*ih);
	if (ih->len != len) {
		malformed(&r, "header length differs from the bytes read");
		return;
	}
	if (r.opcode >= CANOPY_FUSE_OPCODES || !ops_table[r.opcode].fn) {
		STAT_INC(op_unknown);
		log_warn_rl("unknown opcode %u: ENOSYS", r.opcode);
		reply_err(&r, -ENOSYS);
		return;
	}
	d = &ops_table[r.opcode];
	if (!atomic_load_explicit(&w->cp->neg.done, memory_order_acquire) &&
	    r.opcode != FUSE_INIT) {
		malformed(&r, "request before INIT");
		return;
	}
	if (r.inlen < d->in_min) {
		malformed(&r, "body shorter than the opcode's arguments");
		return;
	}
	if (d->name) {
		size_t off = d->in_min - 1;

		if (!memchr((const char *)r.in + off, '\0', r.inlen - off)) {
			malformed(&r, "name not terminated");
			return;
		}
	}
	d->fn(&r);
}
