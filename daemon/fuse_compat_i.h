/* SPDX-License-Identifier: MIT */
/*
 * daemon/fuse_compat_i.h - FUSE kernel ABI facts newer than the installed
 * <linux/fuse.h>.
 *
 * Debian 12 ships protocol 7.38; the kernels canopy targets speak up to 7.45.
 * Everything here is guarded so that a newer header wins. The numbers are the
 * kernel's uapi values; the structs below have the 7.40+ layout of fields
 * that older headers call padding.
 */
#ifndef CANOPY_FUSE_COMPAT_I_H
#define CANOPY_FUSE_COMPAT_I_H

#include <linux/fuse.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* 7.39 */
#ifndef FUSE_HAS_EXPIRE_ONLY
#define FUSE_HAS_EXPIRE_ONLY (1ULL << 35)
#endif
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif
#ifndef FUSE_STATX
#define FUSE_STATX 52
#endif
/* 7.40 */
#ifndef FUSE_PASSTHROUGH
#define FUSE_PASSTHROUGH (1ULL << 37)
#endif
#ifndef FUSE_NO_EXPORT_SUPPORT
#define FUSE_NO_EXPORT_SUPPORT (1ULL << 38)
#endif
#ifndef FUSE_HAS_RESEND
#define FUSE_HAS_RESEND (1ULL << 39)
#endif
#ifndef FOPEN_PASSTHROUGH
#define FOPEN_PASSTHROUGH (1 << 7)
#endif
/* 7.41 .. 7.43 */
#ifndef FUSE_ALLOW_IDMAP
#define FUSE_ALLOW_IDMAP (1ULL << 40)
#endif
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#endif
#ifndef FUSE_REQUEST_TIMEOUT
#define FUSE_REQUEST_TIMEOUT (1ULL << 42)
#endif
#ifndef FUSE_COPY_FILE_RANGE_64
#define FUSE_COPY_FILE_RANGE_64 53
#endif

/* The highest opcode canopy's dispatch table knows, plus one. */
#define CANOPY_FUSE_OPCODES 54

/* The protocol canopy speaks: 7.45, or the kernel's if that is lower. */
#define CANOPY_PROTO_MAJOR 7
#define CANOPY_PROTO_MINOR 45

#ifndef FUSE_DEV_IOC_MAGIC
#define FUSE_DEV_IOC_MAGIC 229
#endif
#ifndef FUSE_DEV_IOC_CLONE
#define FUSE_DEV_IOC_CLONE _IOR(FUSE_DEV_IOC_MAGIC, 0, uint32_t)
#endif
#ifndef FUSE_DEV_IOC_BACKING_OPEN
struct fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define FUSE_DEV_IOC_BACKING_OPEN                                              \
	_IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)
#endif

/* struct fuse_init_out, 7.43 layout (same size as every layout since 7.23) */
struct compat_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
	uint16_t request_timeout;
	uint16_t unused[11];
};

/* struct fuse_open_out, 7.40 layout: padding became backing_id */
struct compat_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

_Static_assert(sizeof(struct compat_init_out) == sizeof(struct fuse_init_out),
	       "fuse_init_out layout");
_Static_assert(sizeof(struct compat_open_out) == sizeof(struct fuse_open_out),
	       "fuse_open_out layout");

/*
 * 7.42: FUSE-over-io_uring. Each ring entry is a header buffer and a
 * payload buffer; requests and replies are exchanged through them with
 * IORING_OP_URING_CMD on /dev/fuse (cmd_op below, struct fuse_uring_cmd_req
 * in the entry's command area).
 */
#ifndef FUSE_URING_IN_OUT_HEADER_SZ
#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ 128

struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* the request's unique */
	uint32_t payload_sz; /* bytes used in the payload buffer */
	uint32_t padding;
	uint64_t reserved;
};

struct fuse_uring_req_header {
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ]; /* fuse_in/out_header */
	char op_in[FUSE_URING_OP_IN_OUT_SZ];       /* the opcode's fixed part */
	struct fuse_uring_ent_in_out ring_ent_in_out;
};

enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_INVALID = 0,
	FUSE_IO_URING_CMD_REGISTER = 1,
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
#endif
_Static_assert(sizeof(struct fuse_uring_req_header) == 288,
	       "fuse_uring_req_header layout");
_Static_assert(sizeof(struct fuse_uring_cmd_req) == 24,
	       "fuse_uring_cmd_req layout");

#endif /* CANOPY_FUSE_COMPAT_I_H */
