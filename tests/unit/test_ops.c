// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_ops.c - request validation and handlers, driven without a
 * kernel: requests are handed to ops_dispatch() and the replies read back
 * from the other end of a SOCK_SEQPACKET pair standing in for /dev/fuse.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "io.h"

static struct canopy cp;
static struct conf conf;
static struct worker w;
static int peer = -1;
static char dir[] = "/tmp/canopy-test-ops-XXXXXX";
static char backing[256], mnt[256], cachedir[256];
static uint64_t unique = 100;

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void setup(void)
{
	char err[CONF_ERR_MAX], path[300];
	int sv[2];

	cr_assert(mkdtemp(dir));
	snprintf(backing, sizeof(backing), "%s/back", dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(cachedir, sizeof(cachedir), "%s/cache", dir);
	cr_assert_eq(mkdir(backing, 0755), 0);
	cr_assert_eq(mkdir(mnt, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub", backing);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/hello.txt", backing);
	write_file(path, "hello, canopy\n", 14);

	cr_assert_eq(conf_init(&conf), 0);
	cr_assert_eq(conf_add_export(&conf, backing, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(conf_finish(&conf, err, sizeof(err)), 0, "%s", err);
	conf.attr_timeout = 7;
	conf.entry_timeout = 7;
	conf.negative_timeout = 5;

	memset(&cp, 0, sizeof(cp));
	cp.conf = &conf;
	cp.mnt = mnt;
	pthread_mutex_init(&cp.lock, NULL);
	pthread_cond_init(&cp.cond, NULL);
	cr_assert_eq(cache_new(cachedir, 1 << 20, 1 << 16, &cp.cache), 0);
	cr_assert_eq(view_init(&cp.view, conf.exports, conf.nexports, mnt), 0);
	cr_assert_eq(nodes_init("/", view_classify(&cp.view, "/")), 0);
	{
		struct statx stx;
		struct node *root = node_get(FUSE_ROOT_ID);

		cr_assert_eq(view_statx(&cp.view, "/", &stx), 0);
		node_set_attr(root, &stx);
		node_put(root);
	}

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	memset(&w, 0, sizeof(w));
	w.cp = &cp;
	w.fd = sv[0];
	peer = sv[1];
	w.pipe[0] = w.pipe[1] = -1;
	w.buf_len = 1 << 20;
	w.buf = malloc(w.buf_len);
	cr_assert_eq(uring_new(8, &w.ring), 0);
	atomic_store(&cp.neg.done, true);
	cp.neg.max_pages = 256;
}

static void teardown(void)
{
	char cmd[400];

	uring_free(w.ring);
	free(w.buf);
	close(w.fd);
	close(peer);
	nodes_fini();
	cache_free(cp.cache);
	view_fini(&cp.view);
	conf_free(&conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(ops, .init = setup, .fini = teardown);

/* Send a request of @opcode with @body; returns the unique used. */
static uint64_t send_req(uint32_t opcode, uint64_t nodeid, const void *body,
			 size_t len)
{
	char buf[8192];
	struct fuse_in_header *ih = (void *)buf;

	cr_assert(len + sizeof(*ih) <= sizeof(buf));
	memset(ih, 0, sizeof(*ih));
	ih->len = sizeof(*ih) + len;
	ih->opcode = opcode;
	ih->unique = ++unique;
	ih->nodeid = nodeid;
	memcpy(ih + 1, body, len);
	ops_dispatch(&w, buf, ih->len);
	while (w.ready) {
		struct cache_wait *cw = w.ready;

		w.ready = cw->next;
		cw->wake(&w, cw, cw->err);
	}
	return ih->unique;
}

/* Read one reply; returns its error and copies its body. */
static int get_reply(uint64_t expect_unique, void *body, size_t *len)
{
	char buf[1 << 17];
	struct fuse_out_header *oh = (void *)buf;
	ssize_t n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);

	cr_assert(n >= (ssize_t)sizeof(*oh), "no reply (%zd, %s)", n,
		  strerror(errno));
	cr_assert_eq(oh->len, (uint32_t)n);
	cr_assert_eq(oh->unique, expect_unique);
	if (body && len) {
		size_t blen = n - sizeof(*oh);

		cr_assert(blen <= *len);
		memcpy(body, oh + 1, blen);
		*len = blen;
	}
	return oh->error;
}

static bool no_reply_pending(void)
{
	char c;

	return recv(peer, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* Look a name up under the root chain and return the entry. */
static int lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	size_t len = sizeof(*e);
	uint64_t u = send_req(FUSE_LOOKUP, parent, name, strlen(name) + 1);

	return get_reply(u, e, &len);
}

/* Walk the export path from the root: the nodeid of the export. */
static uint64_t export_nodeid(void)
{
	char path[256], *save = NULL, *comp;
	struct fuse_entry_out e;
	uint64_t id = FUSE_ROOT_ID;

	snprintf(path, sizeof(path), "%s", backing);
	for (comp = strtok_r(path, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		cr_assert_eq(lookup(id, comp, &e), 0, "lookup %s", comp);
		cr_assert_neq(e.nodeid, 0);
		id = e.nodeid;
	}
	return id;
}

Test(ops, drops_a_request_shorter_than_its_header)
{
	char buf[10] = { 0 };
	uint64_t before = atomic_load(&stats.malformed);

	ops_dispatch(&w, buf, sizeof(buf));
	cr_assert(no_reply_pending());
	cr_assert_eq(atomic_load(&stats.malformed), before + 1);
}

Test(ops, answers_a_length_mismatch_with_einval)
{
	char buf[sizeof(struct fuse_in_header) + 8] = { 0 };
	struct fuse_in_header *ih = (void *)buf;

	ih->len = sizeof(buf) + 100; /* claims more than was read */
	ih->opcode = FUSE_GETATTR;
	ih->unique = 77;
	ih->nodeid = FUSE_ROOT_ID;
	ops_dispatch(&w, buf, sizeof(buf));
	cr_assert_eq(get_reply(77, NULL, NULL), -EINVAL);
}

Test(ops, answers_unknown_opcodes_with_enosys)
{
	uint32_t ops[] = { 4096 /* CUSE_INIT */, 9999, 60, FUSE_STATX,
			   FUSE_IOCTL, FUSE_SETLK };
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		char body[128] = { 0 };
		uint64_t u = send_req(ops[i], FUSE_ROOT_ID, body, sizeof(body));

		cr_assert_eq(get_reply(u, NULL, NULL), -ENOSYS, "opcode %u",
			     ops[i]);
	}
}

Test(ops, answers_every_mutating_opcode_with_erofs)
{
	uint32_t ops[] = { FUSE_SETATTR, FUSE_SYMLINK, FUSE_MKNOD, FUSE_MKDIR,
			   FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME, FUSE_RENAME2,
			   FUSE_LINK, FUSE_WRITE, FUSE_SETXATTR,
			   FUSE_REMOVEXATTR, FUSE_CREATE, FUSE_TMPFILE,
			   FUSE_FALLOCATE, FUSE_COPY_FILE_RANGE };
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		char body[256] = "name";
		uint64_t u = send_req(ops[i], FUSE_ROOT_ID, body, sizeof(body));

		cr_assert_eq(get_reply(u, NULL, NULL), -EROFS, "opcode %u",
			     ops[i]);
	}
}

Test(ops, refuses_an_open_for_writing_with_erofs)
{
	struct fuse_entry_out e;
	struct fuse_open_in in = { .flags = O_RDWR };
	uint64_t u;

	cr_assert_eq(lookup(export_nodeid(), "hello.txt", &e), 0);
	u = send_req(FUSE_OPEN, e.nodeid, &in, sizeof(in));
	cr_assert_eq(get_reply(u, NULL, NULL), -EROFS);
	in.flags = O_RDONLY | O_TRUNC;
	u = send_req(FUSE_OPEN, e.nodeid, &in, sizeof(in));
	cr_assert_eq(get_reply(u, NULL, NULL), -EROFS);
}

Test(ops, refuses_an_unterminated_name)
{
	char name[8] = { 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' };
	uint64_t u = send_req(FUSE_LOOKUP, FUSE_ROOT_ID, name, sizeof(name));

	cr_assert_eq(get_reply(u, NULL, NULL), -EINVAL);
}

Test(ops, refuses_a_body_shorter_than_the_arguments)
{
	char body[4] = { 0 };
	uint64_t u = send_req(FUSE_READ, FUSE_ROOT_ID, body, sizeof(body));

	cr_assert_eq(get_reply(u, NULL, NULL), -EINVAL);
}

Test(ops, refuses_requests_before_init)
{
	struct fuse_getattr_in in = { 0 };
	uint64_t u;

	atomic_store(&cp.neg.done, false);
	u = send_req(FUSE_GETATTR, FUSE_ROOT_ID, &in, sizeof(in));
	cr_assert_eq(get_reply(u, NULL, NULL), -EINVAL);
}

Test(ops, answers_an_unknown_nodeid_with_estale)
{
	struct fuse_getattr_in in = { 0 };
	uint64_t u = send_req(FUSE_GETATTR, 123456789, &in, sizeof(in));

	cr_assert_eq(get_reply(u, NULL, NULL), -ESTALE);
}

Test(ops, answers_a_forged_file_handle_with_ebadf)
{
	struct fuse_read_in in = { .fh = 0xdeadbeef, .size = 4096 };
	uint64_t u = send_req(FUSE_READ, FUSE_ROOT_ID, &in, sizeof(in));

	cr_assert_eq(get_reply(u, NULL, NULL), -EBADF);
}

Test(ops, gives_a_negative_entry_for_a_missing_name)
{
	struct fuse_entry_out e;

	cr_assert_eq(lookup(export_nodeid(), "missing.py", &e), 0);
	cr_assert_eq(e.nodeid, 0);
	cr_assert_eq(e.entry_valid, 5);
}

Test(ops, hides_names_outside_the_exports)
{
	struct fuse_entry_out e;

	/* "/etc" exists, but only the path to the export is shown */
	cr_assert_eq(lookup(FUSE_ROOT_ID, "etc", &e), 0);
	cr_assert_eq(e.nodeid, 0);
}

Test(ops, reports_the_backing_attributes)
{
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct fuse_getattr_in in = { 0 };
	char path[300];
	struct stat st;
	size_t len = sizeof(a);
	uint64_t u;

	snprintf(path, sizeof(path), "%s/hello.txt", backing);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(lookup(export_nodeid(), "hello.txt", &e), 0);
	cr_assert_eq(e.attr.size, 14);
	cr_assert_eq(e.attr.mode, st.st_mode);
	cr_assert_eq(e.attr.ino, st.st_ino);
	cr_assert_eq(e.attr.mtime, (uint64_t)st.st_mtim.tv_sec);
	cr_assert_eq(e.attr.mtimensec, (uint32_t)st.st_mtim.tv_nsec);
	cr_assert_eq(e.attr_valid, 7);
	u = send_req(FUSE_GETATTR, e.nodeid, &in, sizeof(in));
	cr_assert_eq(get_reply(u, &a, &len), 0);
	cr_assert_eq(a.attr.size, 14);
	cr_assert_eq(a.attr.uid, st.st_uid);
}

Test(ops, returns_the_same_nodeid_for_the_same_path)
{
	struct fuse_entry_out a, b;
	uint64_t exp = export_nodeid();

	cr_assert_eq(lookup(exp, "hello.txt", &a), 0);
	cr_assert_eq(lookup(exp, "hello.txt", &b), 0);
	cr_assert_eq(a.nodeid, b.nodeid);
}

Test(ops, reads_file_bytes_and_fetches_them_once)
{
	struct fuse_entry_out e;
	struct fuse_open_in oin = { .flags = O_RDONLY };
	struct compat_open_out oout;
	struct fuse_read_in rin = { 0 };
	char data[64];
	size_t len = sizeof(oout);
	uint64_t u, before = atomic_load(&stats.backing_reads);
	int i;

	cr_assert_eq(lookup(export_nodeid(), "hello.txt", &e), 0);
	u = send_req(FUSE_OPEN, e.nodeid, &oin, sizeof(oin));
	cr_assert_eq(get_reply(u, &oout, &len), 0);
	/* passthrough is not negotiated here: the open is cached */
	cr_assert(oout.open_flags & FOPEN_KEEP_CACHE);
	rin.fh = oout.fh;
	rin.size = 4096;
	for (i = 0; i < 3; i++) {
		len = sizeof(data);
		u = send_req(FUSE_READ, e.nodeid, &rin, sizeof(rin));
		cr_assert_eq(get_reply(u, data, &len), 0);
		cr_assert_eq(len, 14);
		cr_assert_arr_eq(data, "hello, canopy\n", 14);
	}
	cr_assert_eq(atomic_load(&stats.backing_reads), before + 1);
	rin.offset = 6;
	len = sizeof(data);
	u = send_req(FUSE_READ, e.nodeid, &rin, sizeof(rin));
	cr_assert_eq(get_reply(u, data, &len), 0);
	cr_assert_eq(len, 8);
	cr_assert_arr_eq(data, " canopy\n", 8);
}

Test(ops, lists_only_the_way_to_the_export_above_it)
{
	struct fuse_open_in oin = { 0 };
	struct compat_open_out oout;
	struct fuse_read_in rin = { .size = 4096 };
	char buf[8192], first[256];
	size_t len = sizeof(oout), off = 0, names = 0;
	uint64_t u;

	u = send_req(FUSE_OPENDIR, FUSE_ROOT_ID, &oin, sizeof(oin));
	cr_assert_eq(get_reply(u, &oout, &len), 0);
	cr_assert(oout.open_flags & FOPEN_CACHE_DIR);
	rin.fh = oout.fh;
	len = sizeof(buf);
	u = send_req(FUSE_READDIR, FUSE_ROOT_ID, &rin, sizeof(rin));
	cr_assert_eq(get_reply(u, buf, &len), 0);
	/* ".", "..", and "tmp" */
	snprintf(first, sizeof(first), "%s", backing + 1);
	*strchr(first, '/') = '\0';
	while (off < len) {
		struct fuse_dirent *d = (void *)(buf + off);

		if (d->namelen != 1 && d->namelen != 2) {
			cr_assert_eq(d->namelen, strlen(first));
			cr_assert_arr_eq(d->name, first, d->namelen);
		}
		names++;
		off += FUSE_DIRENT_SIZE(d);
	}
	cr_assert_eq(names, 3);
}

Test(ops, survives_batch_forget_claiming_more_than_it_carries)
{
	struct {
		struct fuse_batch_forget_in in;
		struct fuse_forget_one one[2];
	} body = { .in = { .count = 1000000 },
		   .one = { { 55, 1 }, { 66, 1 } } };
	uint64_t before = atomic_load(&stats.malformed);

	send_req(FUSE_BATCH_FORGET, 0, &body, sizeof(body));
	cr_assert(no_reply_pending());
	cr_assert_eq(atomic_load(&stats.malformed), before + 1);
}

Test(ops, survives_random_requests)
{
	char buf[512];
	unsigned seed = 12345;
	int i;

	for (i = 0; i < 20000; i++) {
		struct fuse_in_header *ih = (void *)buf;
		size_t len = rand_r(&seed) % sizeof(buf), j;
		char drain[1 << 17];

		for (j = 0; j < len; j++)
			buf[j] = rand_r(&seed);
		if (len >= sizeof(*ih) && (rand_r(&seed) & 1)) {
			/* a plausible header over a random body */
			ih->len = len;
			ih->opcode = rand_r(&seed) % (CANOPY_FUSE_OPCODES + 2);
			if (ih->opcode == FUSE_INIT || ih->opcode == FUSE_DESTROY)
				ih->opcode = FUSE_GETATTR;
			ih->nodeid = rand_r(&seed) % 4 ? FUSE_ROOT_ID :
							 rand_r(&seed);
		}
		ops_dispatch(&w, buf, len);
		while (w.ready) {
			struct cache_wait *cw = w.ready;

			w.ready = cw->next;
			cw->wake(&w, cw, cw->err);
		}
		while (recv(peer, drain, sizeof(drain), MSG_DONTWAIT) > 0)
			;
	}
	/* still serving */
	{
		struct fuse_entry_out e;

		cr_assert_eq(lookup(export_nodeid(), "hello.txt", &e), 0);
		cr_assert_neq(e.nodeid, 0);
	}
}

/*
 * FUSE-over-io_uring: the header's length and the entry's payload size must
 * agree before a ring request is rebuilt; one that does not is answered
 * EINVAL (queue_serve), not read past its buffers.
 */
Test(ops, checks_a_ring_request_against_its_entry)
{
	const uint32_t hdr = sizeof(struct fuse_in_header);
	const size_t area = 4096, buf = 8192;

	/* a READ: 40 bytes of fuse_read_in, no payload */
	cr_assert_eq(ring_req_fixed(hdr + 40, 0, area, buf), 40);
	/* a LOOKUP: no fixed part, the name as payload */
	cr_assert_eq(ring_req_fixed(hdr + 6, 6, area, buf), 0);
	/* fixed part and payload */
	cr_assert_eq(ring_req_fixed(hdr + 16 + 100, 100, area, buf), 16);
	/* the fixed part may fill the entry's op_in area, not more */
	cr_assert_eq(ring_req_fixed(hdr + FUSE_URING_OP_IN_OUT_SZ, 0, area,
				    buf), FUSE_URING_OP_IN_OUT_SZ);
	cr_assert_eq(ring_req_fixed(hdr + FUSE_URING_OP_IN_OUT_SZ + 1, 0, area,
				    buf), -EINVAL);
	/* shorter than its header */
	cr_assert_eq(ring_req_fixed(hdr - 1, 0, area, buf), -EINVAL);
	cr_assert_eq(ring_req_fixed(0, 0, area, buf), -EINVAL);
	/* a payload larger than the header's length says */
	cr_assert_eq(ring_req_fixed(hdr + 10, 11, area, buf), -EINVAL);
	/* a payload larger than the entry's payload area */
	cr_assert_eq(ring_req_fixed(hdr + area + 1, area + 1, area, buf * 2),
		     -EINVAL);
	cr_assert_eq(ring_req_fixed(hdr + area, area, area, buf), 0);
	/* the whole request larger than the request buffer */
	cr_assert_eq(ring_req_fixed(hdr + 8 + area, area, area,
				    hdr + 8 + area - 1), -EINVAL);
	cr_assert_eq(ring_req_fixed(UINT32_MAX, UINT32_MAX - hdr, SIZE_MAX,
				    buf), -EINVAL);
}
