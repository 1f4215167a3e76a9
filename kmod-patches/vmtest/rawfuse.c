// SPDX-License-Identifier: GPL-2.0
/*
 * rawfuse - the smallest FUSE server that can tell what the kernel let it
 * negotiate: one read-only file, served over /dev/fuse without libfuse, so
 * that it can ask for any max_pages and max_readahead.
 *
 *   rawfuse MOUNTPOINT MAX_PAGES MAX_READAHEAD FILE_SIZE
 *
 * Mounts MOUNTPOINT (root only) with a file named "file" of FILE_SIZE bytes,
 * answers INIT with FUSE_MAX_PAGES, max_pages = MAX_PAGES and max_readahead =
 * MAX_READAHEAD, and serves requests until the file system is unmounted.
 * Then it prints, on stdout, one line per READ request size:
 *
 *   read SIZE COUNT
 *
 * Used by vmtest/run inside a virtual machine, never on the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define ROOT_INO	1
#define FILE_INO	2
#define MAX_SIZES	64

static uint64_t file_size;
static uint32_t max_pages;
static uint32_t max_readahead;

static struct {
	uint32_t size;
	unsigned long count;
} sizes[MAX_SIZES];

static void count_read(uint32_t size)
{
	int i;

	for (i = 0; i < MAX_SIZES && sizes[i].count; i++) {
		if (sizes[i].size == size) {
			sizes[i].count++;
			return;
		}
	}
	if (i < MAX_SIZES) {
		sizes[i].size = size;
		sizes[i].count = 1;
	}
}

static int reply(int fd, uint64_t unique, int error, const void *arg,
		 size_t len)
{
	struct fuse_out_header out = {
		.len = sizeof(out) + len,
		.error = error,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ .iov_base = &out, .iov_len = sizeof(out) },
		{ .iov_base = (void *)arg, .iov_len = len },
	};

	if (writev(fd, iov, len ? 2 : 1) < 0 && errno != ENOENT) {
		perror("rawfuse: writev");
		return -errno;
	}
	return 0;
}

static void fill_attr(struct fuse_attr *attr, uint64_t ino)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = ino;
	attr->blksize = 4096;
	if (ino == ROOT_INO) {
		attr->mode = S_IFDIR | 0755;
		attr->nlink = 2;
	} else {
		attr->mode = S_IFREG | 0444;
		attr->nlink = 1;
		attr->size = file_size;
		attr->blocks = (file_size + 511) / 512;
	}
}

static int do_init(int fd, struct fuse_in_header *in, const void *arg)
{
	const struct fuse_init_in *init = arg;
	struct fuse_init_out out = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = max_readahead,
		.flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES,
		.max_background = 16,
		.congestion_threshold = 12,
		.max_write = max_pages * 4096,
		.time_gran = 1,
		.max_pages = max_pages,
	};

	if (init->minor < out.minor)
		out.minor = init->minor;
	fprintf(stderr, "rawfuse: INIT kernel %u.%u offers max_readahead %u; asking max_pages %u max_readahead %u\n",
		init->major, init->minor, init->max_readahead, max_pages,
		max_readahead);
	return reply(fd, in->unique, 0, &out, sizeof(out));
}

static int do_read(int fd, struct fuse_in_header *in, const void *arg,
		   char *data)
{
	const struct fuse_read_in *rd = arg;
	uint64_t len = 0;

	count_read(rd->size);
	if (rd->offset < file_size)
		len = file_size - rd->offset;
	if (len > rd->size)
		len = rd->size;
	return reply(fd, in->unique, 0, data, len);
}

static int serve(int fd, char *buf, size_t bufsize, char *data)
{
	for (;;) {
		struct fuse_in_header *in = (void *)buf;
		void *arg = buf + sizeof(*in);
		struct fuse_entry_out entry;
		struct fuse_attr_out attr;
		struct fuse_open_out open_out;
		ssize_t n;

		n = read(fd, buf, bufsize);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno == ENODEV)
			return 0;		/* unmounted */
		if (n < 0) {
			perror("rawfuse: read /dev/fuse");
			return -1;
		}

		switch (in->opcode) {
		case FUSE_INIT:
			do_init(fd, in, arg);
			break;
		case FUSE_LOOKUP:
			if (in->nodeid != ROOT_INO || strcmp(arg, "file")) {
				reply(fd, in->unique, -ENOENT, NULL, 0);
				break;
			}
			memset(&entry, 0, sizeof(entry));
			entry.nodeid = FILE_INO;
			entry.generation = 1;
			entry.entry_valid = 3600;
			entry.attr_valid = 3600;
			fill_attr(&entry.attr, FILE_INO);
			reply(fd, in->unique, 0, &entry, sizeof(entry));
			break;
		case FUSE_GETATTR:
			memset(&attr, 0, sizeof(attr));
			attr.attr_valid = 3600;
			fill_attr(&attr.attr, in->nodeid);
			reply(fd, in->unique, 0, &attr, sizeof(attr));
			break;
		case FUSE_OPEN:
			memset(&open_out, 0, sizeof(open_out));
			open_out.fh = 1;
			reply(fd, in->unique, 0, &open_out, sizeof(open_out));
			break;
		case FUSE_READ:
			do_read(fd, in, arg, data);
			break;
		case FUSE_FLUSH:
		case FUSE_RELEASE:
			reply(fd, in->unique, 0, NULL, 0);
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;
		case FUSE_DESTROY:
			reply(fd, in->unique, 0, NULL, 0);
			return 0;
		default:
			reply(fd, in->unique, -ENOSYS, NULL, 0);
			break;
		}
	}
}

int main(int argc, char **argv)
{
	size_t bufsize;
	char opts[256];
	char *buf, *data;
	int fd, i, ret;

	if (argc != 5) {
		fprintf(stderr, "usage: rawfuse MOUNTPOINT MAX_PAGES MAX_READAHEAD FILE_SIZE\n");
		return 2;
	}
	max_pages = strtoul(argv[2], NULL, 0);
	max_readahead = strtoul(argv[3], NULL, 0);
	file_size = strtoull(argv[4], NULL, 0);
	if (!max_pages || max_pages > 65535) {
		fprintf(stderr, "rawfuse: MAX_PAGES must be 1..65535\n");
		return 2;
	}

	/* a request is at most max_pages of data plus headers */
	bufsize = (size_t)max_pages * 4096 + 65536;
	buf = malloc(bufsize);
	data = malloc((size_t)max_pages * 4096);
	if (!buf || !data) {
		fprintf(stderr, "rawfuse: out of memory\n");
		return 1;
	}
	memset(data, 'c', (size_t)max_pages * 4096);

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("rawfuse: /dev/fuse");
		return 1;
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,max_read=%zu",
		 fd, (size_t)max_pages * 4096);
	if (mount("rawfuse", argv[1], "fuse.rawfuse", MS_RDONLY | MS_NOSUID |
		  MS_NODEV, opts)) {
		perror("rawfuse: mount");
		return 1;
	}

	ret = serve(fd, buf, bufsize, data);
	for (i = 0; i < MAX_SIZES && sizes[i].count; i++)
		printf("read %u %lu\n", sizes[i].size, sizes[i].count);
	return ret ? 1 : 0;
}
