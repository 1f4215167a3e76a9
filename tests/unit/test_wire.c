// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_wire.c - the wire format and message authentication.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "wire.h"

#define BUF_CAP (1 << 16)

static const struct wire_hdr hdr = {
    .req_id = 0x1122334455667788ull,
    .src = 0xa1b2c3d4u,
};

static const struct wire_attr attr = {
    .ino = 0x0102030405060708ull,
    .size = 123456789,
    .blocks = 241,
    .dev = 0x0000fd0100000003ull,
    .rdev = 7,
    .atime_ns = -1,
    .mtime_ns = 1700000000123456789ll,
    .ctime_ns = 1700000001000000000ll,
    .mode = 0100644,
    .nlink = 3,
    .uid = 1000,
    .gid = 4294967294u,
    .blksize = 4096,
};

static const uint8_t key_a[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t key_b[32] = "0123456789abcdef0123456789abcdeF";

static void key_set(struct wire_key *k, const uint8_t *bytes, size_t len)
{
	memset(k, 0, sizeof(*k));
	k->len = len;
	memcpy(k->bytes, bytes, len);
}

/* ---- a set of valid messages of every type ---- */

struct msg {
	const char *what;
	uint8_t *buf;
	size_t len;
};

/* make_msgs() adds them in this order */
enum {
	M_PING,
	M_PONG,
	M_STAT_REQ,
	M_READLINK_REQ,
	M_STAT_RESP,
	M_STAT_RESP_ERR,
	M_LIST_REQ,
	M_LIST_RESP,
	M_LIST_EMPTY,
	M_LIST_ERR,
	M_READLINK_RESP,
	M_READLINK_ERR,
	M_READ_REQ,
	M_READ_REQ_RMA,
	M_READ_RESP_RPC,
	M_READ_RESP_RMA,
	M_READ_RESP_ERR,
	M_RELEASE,
	M_PREFETCH,
	M_PREFETCH_DONE,
	M_PREFETCH_DONE_ERR,
};

#define NMSG_MAX 32
static struct msg msgs[NMSG_MAX];
static size_t nmsg;
static uint8_t block_data[3000];

static void add_msg(const char *what, const uint8_t *buf, ssize_t len)
{
	cr_assert_gt(len, 0, "%s: encode returned %zd", what, len);
	cr_assert_lt(nmsg, NMSG_MAX);
	msgs[nmsg].what = what;
	msgs[nmsg].buf = malloc((size_t)len);
	memcpy(msgs[nmsg].buf, buf, (size_t)len);
	msgs[nmsg].len = (size_t)len;
	nmsg++;
}

static void fill_list(uint8_t *buf, size_t cap, int32_t err, int n, bool more,
		      ssize_t *len)
{
	struct wire_list_enc e;
	struct wire_list_ent ent = {.type = DT_REG, .attr = attr};
	int i;

	cr_assert_eq(wire_list_begin(&e, buf, cap, &hdr, err), 0);
	for (i = 0; i < n; i++) {
		snprintf(ent.name, sizeof(ent.name), "entry-%d", i);
		ent.err = i % 3 == 2 ? -ENOENT : 0;
		ent.type = i % 2 ? DT_DIR : DT_REG;
		ent.attr.ino = attr.ino + (uint64_t)i;
		cr_assert_eq(wire_list_add(&e, &ent), 0);
	}
	*len = wire_list_end(&e, more);
}

static void make_msgs(void)
{
	static uint8_t buf[BUF_CAP];
	struct wire_hdr rma = hdr;
	struct wire_path_msg pm = {"/lus/proj/env/lib/python3.11/os.py"};
	struct wire_stat_resp sr = {.attr = attr};
	struct wire_list_req lr = {"/lus/proj", 17};
	struct wire_readlink_resp rl = {0, "../lib/libz.so.1.2.13"};
	struct wire_read_req rq = {
	    "/lus/proj/big.bin",
	    {1, 2, 3, 4, 5},
	    9,
	    1 << 22,
	};
	struct wire_read_resp rr = {.len = sizeof(block_data),
				    .data = block_data};
	struct wire_release rel = {0xdeadbeefcafef00dull};
	struct wire_prefetch_done pd = {
	    .files = 300, .bytes = 7 << 20, .files_max = 100,
	    .bytes_max = 3 << 20, .skipped = 1, .errors = 2,
	    .nodes_done = 3, .nodes_missing = 2, .nlisted = 2,
	    .listed = {4, 0xfffffffeu},
	};
	struct wire_prefetch *pf;
	ssize_t len;
	size_t i;

	for (i = 0; i < sizeof(block_data); i++)
		block_data[i] = (uint8_t)(i * 31 + 7);
	rma.flags = WIRE_F_RMA;
	nmsg = 0;

	add_msg("ping", buf, wire_encode_ping(buf, BUF_CAP, &hdr));
	add_msg("pong", buf, wire_encode_pong(buf, BUF_CAP, &hdr));
	add_msg("stat_req", buf, wire_encode_stat_req(buf, BUF_CAP, &hdr, &pm));
	add_msg("readlink_req", buf,
		wire_encode_readlink_req(buf, BUF_CAP, &hdr, &pm));
	add_msg("stat_resp", buf,
		wire_encode_stat_resp(buf, BUF_CAP, &hdr, &sr));
	sr.err = -ENOENT;
	add_msg("stat_resp error", buf,
		wire_encode_stat_resp(buf, BUF_CAP, &hdr, &sr));
	add_msg("list_req", buf, wire_encode_list_req(buf, BUF_CAP, &hdr, &lr));
	fill_list(buf, BUF_CAP, 0, 5, true, &len);
	add_msg("list_resp", buf, len);
	fill_list(buf, BUF_CAP, 0, 0, false, &len);
	add_msg("list_resp empty", buf, len);
	fill_list(buf, BUF_CAP, -EACCES, 0, false, &len);
	add_msg("list_resp error", buf, len);
	add_msg("readlink_resp", buf,
		wire_encode_readlink_resp(buf, BUF_CAP, &hdr, &rl));
	rl.err = -EINVAL;
	add_msg("readlink_resp error", buf,
		wire_encode_readlink_resp(buf, BUF_CAP, &hdr, &rl));
	add_msg("read_req", buf, wire_encode_read_req(buf, BUF_CAP, &hdr, &rq));
	add_msg("read_req rma", buf,
		wire_encode_read_req(buf, BUF_CAP, &rma, &rq));
	add_msg("read_resp rpc", buf,
		wire_encode_read_resp(buf, BUF_CAP, &hdr, &rr));
	rr.addr = 0x7f0000001000ull;
	rr.key = 0xabcdef;
	rr.cookie = 42;
	add_msg("read_resp rma", buf,
		wire_encode_read_resp(buf, BUF_CAP, &rma, &rr));
	rr = (struct wire_read_resp){.err = -EIO};
	add_msg("read_resp error", buf,
		wire_encode_read_resp(buf, BUF_CAP, &hdr, &rr));
	add_msg("release", buf, wire_encode_release(buf, BUF_CAP, &hdr, &rel));
	pf = calloc(1, sizeof(*pf));
	pf->timeout_ms = 600000;
	pf->count = 2;
	strcpy(pf->paths[0], "/lus/proj/env");
	strcpy(pf->paths[1], "/lus/proj/model.bin");
	add_msg("prefetch", buf, wire_encode_prefetch(buf, BUF_CAP, &hdr, pf));
	free(pf);
	add_msg("prefetch_done", buf,
		wire_encode_prefetch_done(buf, BUF_CAP, &hdr, &pd));
	pd = (struct wire_prefetch_done){.err = -EPERM, .nodes_missing = 1};
	add_msg("prefetch_done error", buf,
		wire_encode_prefetch_done(buf, BUF_CAP, &hdr, &pd));
}

static void free_msgs(void)
{
	size_t i;

	for (i = 0; i < nmsg; i++)
		free(msgs[i].buf);
	nmsg = 0;
}

/* Decode a body of @type as a receiver would, the whole listing included. */
static int decode_body(uint8_t type, uint16_t flags, const uint8_t *body,
		       size_t len)
{
	static struct wire_path_msg pm;
	static struct wire_stat_resp sr;
	static struct wire_list_req lr;
	static struct wire_readlink_resp rl;
	static struct wire_read_req rq;
	static struct wire_list_ent ent;
	static struct wire_prefetch pf;
	struct wire_prefetch_done pd;
	struct wire_read_resp rr;
	struct wire_release rel;
	struct wire_list_dec d;
	int ret;

	switch (type) {
	case WIRE_PREFETCH:
		return wire_decode_prefetch(body, len, &pf);
	case WIRE_PREFETCH_DONE:
		return wire_decode_prefetch_done(body, len, &pd);
	case WIRE_PING:
	case WIRE_PONG:
		return wire_decode_empty(body, len);
	case WIRE_STAT_REQ:
	case WIRE_READLINK_REQ:
		return wire_decode_path_msg(body, len, &pm);
	case WIRE_STAT_RESP:
		return wire_decode_stat_resp(body, len, &sr);
	case WIRE_LIST_REQ:
		return wire_decode_list_req(body, len, &lr);
	case WIRE_LIST_RESP:
		ret = wire_list_decode(body, len, &d);
		while (ret == 0 && (ret = wire_list_next(&d, &ent)) == 1)
			ret = 0;
		return ret;
	case WIRE_READLINK_RESP:
		return wire_decode_readlink_resp(body, len, &rl);
	case WIRE_READ_REQ:
		return wire_decode_read_req(body, len, &rq);
	case WIRE_READ_RESP:
		return wire_decode_read_resp(body, len, flags, &rr);
	case WIRE_RELEASE:
		return wire_decode_release(body, len, &rel);
	}
	return -EINVAL;
}

TestSuite(wire, .init = make_msgs, .fini = free_msgs);

/* ---- header ---- */

Test(wire, writes_the_documented_little_endian_header)
{
	static const uint8_t want[WIRE_HDR_LEN] = {
	    'C',  'N',	'P',  'Y',  1,	  WIRE_PING, 0,	   0,	 /* */
	    0x88, 0x77, 0x66, 0x55, 0x44, 0x33,	     0x22, 0x11, /* */
	    0xd4, 0xc3, 0xb2, 0xa1, 0,	  0,	     0,	   0,
	};
	struct wire_hdr h;

	cr_assert_eq(msgs[M_PING].len, WIRE_HDR_LEN);
	cr_assert_arr_eq(msgs[M_PING].buf, want, WIRE_HDR_LEN);
	cr_assert_eq(wire_decode_hdr(msgs[M_PING].buf, msgs[M_PING].len, &h),
		     0);
	cr_assert_eq(h.magic, WIRE_MAGIC);
	cr_assert_eq(h.version, WIRE_VERSION);
	cr_assert_eq(h.type, WIRE_PING);
	cr_assert_eq(h.req_id, hdr.req_id);
	cr_assert_eq(h.src, hdr.src);
	cr_assert_eq(h.body_len, 0);
}

Test(wire, decodes_the_header_of_every_valid_message)
{
	struct wire_hdr h;
	size_t i;

	for (i = 0; i < nmsg; i++) {
		cr_assert_eq(wire_decode_hdr(msgs[i].buf, msgs[i].len, &h), 0,
			     "%s", msgs[i].what);
		cr_assert_eq(h.body_len, msgs[i].len - WIRE_HDR_LEN);
		cr_assert_eq(decode_body(h.type, h.flags,
					 msgs[i].buf + WIRE_HDR_LEN,
					 h.body_len),
			     0, "%s", msgs[i].what);
	}
}

Test(wire, refuses_a_wrong_magic_version_type_or_flags)
{
	uint8_t *b = msgs[M_STAT_REQ].buf; /* stat_req */
	size_t len = msgs[M_STAT_REQ].len;
	struct wire_hdr h;

	b[0] = 'X';
	cr_assert_eq(wire_decode_hdr(b, len, &h), -EBADMSG);
	b[0] = 'C';
	b[4] = 2;
	cr_assert_eq(wire_decode_hdr(b, len, &h), -EPROTONOSUPPORT);
	b[4] = 0;
	cr_assert_eq(wire_decode_hdr(b, len, &h), -EPROTONOSUPPORT);
	b[4] = WIRE_VERSION;
	b[5] = 0;
	cr_assert_eq(wire_decode_hdr(b, len, &h), -EBADMSG);
	b[5] = WIRE_TYPE_MAX;
	cr_assert_eq(wire_decode_hdr(b, len, &h), -EBADMSG);
	b[5] = 255;
	cr_assert_eq(wire_decode_hdr(b, len, &h), -EBADMSG);
	b[5] = WIRE_STAT_REQ;
	b[6] = WIRE_F_RMA; /* RMA only on READ_REQ and READ_RESP */
	cr_assert_eq(wire_decode_hdr(b, len, &h), -EBADMSG);
	b[6] = 0;
	b[7] = 0x80; /* unknown flag */
	cr_assert_eq(wire_decode_hdr(b, len, &h), -EBADMSG);
	b[7] = 0;
	cr_assert_eq(wire_decode_hdr(b, len, &h), 0);
}

Test(wire, refuses_a_body_len_that_lies)
{
	uint8_t buf[256];
	struct wire_hdr h;
	size_t len = msgs[M_STAT_REQ].len; /* stat_req */
	uint32_t bl = (uint32_t)(len - WIRE_HDR_LEN);

	memcpy(buf, msgs[M_STAT_REQ].buf, len);
	buf[len] = 0;
	/* padded: a byte more than body_len */
	cr_assert_eq(wire_decode_hdr(buf, len + 1, &h), -EBADMSG);
	/* body_len one more, one less, huge */
	buf[20] = (uint8_t)(bl + 1);
	cr_assert_eq(wire_decode_hdr(buf, len, &h), -EBADMSG);
	buf[20] = (uint8_t)(bl - 1);
	cr_assert_eq(wire_decode_hdr(buf, len, &h), -EBADMSG);
	memset(buf + 20, 0xff, 4);
	cr_assert_eq(wire_decode_hdr(buf, len, &h), -EBADMSG);
}

Test(wire, refuses_body_len_above_the_cap_even_when_it_is_true)
{
	size_t len = WIRE_HDR_LEN + WIRE_BODY_MAX + 1;
	uint8_t *buf = calloc(1, len);
	struct wire_hdr h;

	memcpy(buf, msgs[M_READ_RESP_ERR].buf,
	       WIRE_HDR_LEN); /* read_resp error */
	buf[20] = 1;
	buf[21] = 0;
	buf[22] = 0;
	buf[23] = 4; /* 64 MiB + 1 */
	cr_assert_eq(wire_decode_hdr(buf, len, &h), -EBADMSG);
	free(buf);
}

Test(wire, refuses_a_body_of_the_wrong_size_for_its_type)
{
	uint8_t buf[WIRE_HDR_LEN + 1] = {0};
	struct wire_hdr h;

	memcpy(buf, msgs[M_PING].buf, WIRE_HDR_LEN); /* ping */
	buf[20] = 1;
	cr_assert_eq(wire_decode_hdr(buf, sizeof(buf), &h), -EBADMSG);
	cr_assert_eq(wire_decode_empty(buf + WIRE_HDR_LEN, 1), -EBADMSG);
}

Test(wire, names_every_type)
{
	cr_assert_str_eq(wire_type_name(WIRE_PING), "PING");
	cr_assert_str_eq(wire_type_name(WIRE_LIST_RESP), "LIST_RESP");
	cr_assert_str_eq(wire_type_name(WIRE_RELEASE), "RELEASE");
	cr_assert_str_eq(wire_type_name(WIRE_PREFETCH), "PREFETCH");
	cr_assert_str_eq(wire_type_name(WIRE_PREFETCH_DONE), "PREFETCH_DONE");
	cr_assert_str_eq(wire_type_name(0), "UNKNOWN");
	cr_assert_str_eq(wire_type_name(WIRE_TYPE_MAX), "UNKNOWN");
	cr_assert_str_eq(wire_type_name(255), "UNKNOWN");
}

/* ---- truncation and padding ---- */

Test(wire, refuses_every_truncation_of_every_message)
{
	struct wire_hdr h;
	size_t i, l;

	for (i = 0; i < nmsg; i++) {
		for (l = 0; l < msgs[i].len; l++)
			cr_assert_neq(wire_decode_hdr(msgs[i].buf, l, &h), 0,
				      "%s cut to %zu", msgs[i].what, l);
	}
}

Test(wire, refuses_every_shorter_body_of_every_message)
{
	struct wire_hdr h;
	uint8_t *copy;
	size_t i, l;

	for (i = 0; i < nmsg; i++) {
		cr_assert_eq(wire_decode_hdr(msgs[i].buf, msgs[i].len, &h), 0);
		for (l = 0; l < h.body_len; l++) {
			/* exactly l bytes, so ASan sees any overread */
			copy = malloc(l ? l : 1);
			memcpy(copy, msgs[i].buf + WIRE_HDR_LEN, l);
			cr_assert_neq(decode_body(h.type, h.flags, copy, l), 0,
				      "%s body cut to %zu of %u", msgs[i].what,
				      l, h.body_len);
			free(copy);
		}
	}
}

Test(wire, refuses_a_body_with_trailing_bytes)
{
	uint8_t buf[BUF_CAP + 1];
	struct wire_hdr h;
	size_t i;

	for (i = 0; i < nmsg; i++) {
		cr_assert_eq(wire_decode_hdr(msgs[i].buf, msgs[i].len, &h), 0);
		memcpy(buf, msgs[i].buf + WIRE_HDR_LEN, h.body_len);
		buf[h.body_len] = 0;
		cr_assert_eq(decode_body(h.type, h.flags, buf, h.body_len + 1),
			     -EBADMSG, "%s padded", msgs[i].what);
	}
}

/* ---- round trips ---- */

Test(wire, round_trips_paths_and_requests)
{
	struct wire_path_msg pm;
	struct wire_list_req lr;
	struct wire_read_req rq;
	struct wire_hdr h;

	cr_assert_eq(
	    wire_decode_hdr(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &h), 0);
	cr_assert_eq(h.type, WIRE_STAT_REQ);
	cr_assert_eq(
	    wire_decode_path_msg(msgs[M_STAT_REQ].buf + 40, h.body_len, &pm),
	    0);
	cr_assert_str_eq(pm.path, "/lus/proj/env/lib/python3.11/os.py");
	cr_assert_eq(wire_decode_hdr(msgs[M_READLINK_REQ].buf,
				     msgs[M_READLINK_REQ].len, &h),
		     0);
	cr_assert_eq(h.type, WIRE_READLINK_REQ);

	cr_assert_eq(
	    wire_decode_hdr(msgs[M_LIST_REQ].buf, msgs[M_LIST_REQ].len, &h), 0);
	cr_assert_eq(h.type, WIRE_LIST_REQ);
	cr_assert_eq(
	    wire_decode_list_req(msgs[M_LIST_REQ].buf + 40, h.body_len, &lr),
	    0);
	cr_assert_str_eq(lr.path, "/lus/proj");
	cr_assert_eq(lr.start, 17);

	cr_assert_eq(wire_decode_hdr(msgs[M_READ_REQ_RMA].buf,
				     msgs[M_READ_REQ_RMA].len, &h),
		     0);
	cr_assert_eq(h.type, WIRE_READ_REQ);
	cr_assert_eq(h.flags, WIRE_F_RMA);
	cr_assert_eq(wire_decode_read_req(msgs[M_READ_REQ_RMA].buf + 40,
					  h.body_len, &rq),
		     0);
	cr_assert_str_eq(rq.path, "/lus/proj/big.bin");
	cr_assert_eq(rq.id.dev, 1);
	cr_assert_eq(rq.id.ino, 2);
	cr_assert_eq(rq.id.size, 3);
	cr_assert_eq(rq.id.mtime_ns, 4);
	cr_assert_eq(rq.id.ctime_ns, 5);
	cr_assert_eq(rq.block, 9);
	cr_assert_eq(rq.block_size, 1 << 22);
}

Test(wire, round_trips_attributes_and_errors)
{
	struct wire_stat_resp sr;
	struct wire_readlink_resp rl;
	struct wire_hdr h;

	cr_assert_eq(
	    wire_decode_hdr(msgs[M_STAT_RESP].buf, msgs[M_STAT_RESP].len, &h),
	    0);
	cr_assert_eq(h.body_len, 4 + WIRE_ATTR_LEN);
	cr_assert_eq(
	    wire_decode_stat_resp(msgs[M_STAT_RESP].buf + 40, h.body_len, &sr),
	    0);
	cr_assert_eq(sr.err, 0);
	cr_assert_arr_eq(&sr.attr, &attr, sizeof(attr));

	cr_assert_eq(wire_decode_hdr(msgs[M_STAT_RESP_ERR].buf,
				     msgs[M_STAT_RESP_ERR].len, &h),
		     0);
	cr_assert_eq(h.body_len, 4);
	cr_assert_eq(wire_decode_stat_resp(msgs[M_STAT_RESP_ERR].buf + 40,
					   h.body_len, &sr),
		     0);
	cr_assert_eq(sr.err, -ENOENT);
	cr_assert_eq(sr.attr.ino, 0);

	cr_assert_eq(wire_decode_hdr(msgs[M_READLINK_RESP].buf,
				     msgs[M_READLINK_RESP].len, &h),
		     0);
	cr_assert_eq(wire_decode_readlink_resp(msgs[M_READLINK_RESP].buf + 40,
					       h.body_len, &rl),
		     0);
	cr_assert_eq(rl.err, 0);
	cr_assert_str_eq(rl.target, "../lib/libz.so.1.2.13");
	cr_assert_eq(wire_decode_hdr(msgs[M_READLINK_ERR].buf,
				     msgs[M_READLINK_ERR].len, &h),
		     0);
	cr_assert_eq(wire_decode_readlink_resp(msgs[M_READLINK_ERR].buf + 40,
					       h.body_len, &rl),
		     0);
	cr_assert_eq(rl.err, -EINVAL);
	cr_assert_str_eq(rl.target, "");
}

Test(wire, round_trips_read_responses_in_both_modes)
{
	struct wire_read_resp rr;
	struct wire_release rel;
	struct wire_hdr h;

	cr_assert_eq(wire_decode_hdr(msgs[M_READ_RESP_RPC].buf,
				     msgs[M_READ_RESP_RPC].len, &h),
		     0);
	cr_assert_eq(h.flags, 0);
	cr_assert_eq(wire_decode_read_resp(msgs[M_READ_RESP_RPC].buf + 40,
					   h.body_len, h.flags, &rr),
		     0);
	cr_assert_eq(rr.err, 0);
	cr_assert_eq(rr.len, sizeof(block_data));
	cr_assert_eq(rr.data,
		     msgs[M_READ_RESP_RPC].buf + WIRE_READ_RESP_DATA_OFF);
	cr_assert_arr_eq(rr.data, block_data, sizeof(block_data));

	cr_assert_eq(wire_decode_hdr(msgs[M_READ_RESP_RMA].buf,
				     msgs[M_READ_RESP_RMA].len, &h),
		     0);
	cr_assert_eq(h.flags, WIRE_F_RMA);
	cr_assert_eq(h.body_len, 32);
	cr_assert_eq(wire_decode_read_resp(msgs[M_READ_RESP_RMA].buf + 40,
					   h.body_len, h.flags, &rr),
		     0);
	cr_assert_eq(rr.len, sizeof(block_data));
	cr_assert_null(rr.data);
	cr_assert_eq(rr.addr, 0x7f0000001000ull);
	cr_assert_eq(rr.key, 0xabcdef);
	cr_assert_eq(rr.cookie, 42);
	/* the same body read as rpc is inconsistent */
	cr_assert_eq(wire_decode_read_resp(msgs[M_READ_RESP_RMA].buf + 40,
					   h.body_len, 0, &rr),
		     -EBADMSG);

	cr_assert_eq(wire_decode_hdr(msgs[M_READ_RESP_ERR].buf,
				     msgs[M_READ_RESP_ERR].len, &h),
		     0);
	cr_assert_eq(wire_decode_read_resp(msgs[M_READ_RESP_ERR].buf + 40,
					   h.body_len, h.flags, &rr),
		     0);
	cr_assert_eq(rr.err, -EIO);
	cr_assert_eq(rr.len, 0);

	cr_assert_eq(
	    wire_decode_hdr(msgs[M_RELEASE].buf, msgs[M_RELEASE].len, &h), 0);
	cr_assert_eq(
	    wire_decode_release(msgs[M_RELEASE].buf + 40, h.body_len, &rel), 0);
	cr_assert_eq(rel.cookie, 0xdeadbeefcafef00dull);
}

Test(wire, leaves_room_for_block_data_at_a_fixed_offset)
{
	uint8_t buf[WIRE_READ_RESP_DATA_OFF + 100];
	struct wire_read_resp rr = {.len = 100}, out;
	struct wire_hdr h;
	size_t off = 0;

	/* the data is read in first, the header written after */
	memset(buf + WIRE_READ_RESP_DATA_OFF, 0x5a, 100);
	cr_assert_eq(
	    wire_encode_read_resp_hdr(buf, sizeof(buf), &hdr, &rr, &off),
	    sizeof(buf));
	cr_assert_eq(off, WIRE_READ_RESP_DATA_OFF);
	cr_assert_eq(wire_decode_hdr(buf, sizeof(buf), &h), 0);
	cr_assert_eq(wire_decode_read_resp(buf + 40, h.body_len, 0, &out), 0);
	cr_assert_eq(out.len, 100);
	cr_assert_eq(((const uint8_t *)out.data)[0], 0x5a);
	cr_assert_eq(((const uint8_t *)out.data)[99], 0x5a);
	/* a short read at EOF: encode again with the length read */
	rr.len = 60;
	cr_assert_eq(
	    wire_encode_read_resp_hdr(buf, sizeof(buf), &hdr, &rr, &off),
	    WIRE_READ_RESP_DATA_OFF + 60);
	cr_assert_eq(off, WIRE_READ_RESP_DATA_OFF);
	/* and the buffer must hold the data */
	rr.len = 101;
	cr_assert_eq(
	    wire_encode_read_resp_hdr(buf, sizeof(buf), &hdr, &rr, &off),
	    -ENOSPC);
}

Test(wire, round_trips_a_path_of_the_longest_length)
{
	static struct wire_path_msg pm, out;
	static uint8_t buf[WIRE_HDR_LEN + 2 + WIRE_PATH_MAX + 1];
	struct wire_hdr h;

	memset(pm.path, 'a', WIRE_PATH_MAX);
	pm.path[0] = '/';
	pm.path[WIRE_PATH_MAX] = '\0';
	cr_assert_eq(wire_encode_stat_req(buf, sizeof(buf), &hdr, &pm),
		     WIRE_HDR_LEN + 2 + WIRE_PATH_MAX);
	cr_assert_eq(wire_decode_hdr(buf, WIRE_HDR_LEN + 2 + WIRE_PATH_MAX, &h),
		     0);
	cr_assert_eq(wire_decode_path_msg(buf + 40, h.body_len, &out), 0);
	cr_assert_str_eq(out.path, pm.path);
	/* one byte longer: the encoder and the decoder both refuse it */
	buf[40] = (WIRE_PATH_MAX + 1) & 0xff;
	buf[41] = (WIRE_PATH_MAX + 1) >> 8;
	buf[40 + 2 + WIRE_PATH_MAX] = 'a';
	cr_assert_eq(
	    wire_decode_path_msg(buf + 40, 2 + WIRE_PATH_MAX + 1, &out),
	    -EBADMSG);
}

Test(wire, encoders_refuse_a_too_small_buffer)
{
	uint8_t buf[BUF_CAP];
	struct wire_path_msg pm = {"/a"};
	size_t i;

	for (i = 0; i < WIRE_HDR_LEN; i++)
		cr_assert_eq(wire_encode_ping(buf, i, &hdr), -ENOSPC);
	cr_assert_eq(wire_encode_stat_req(buf, WIRE_HDR_LEN + 3, &hdr, &pm),
		     -ENOSPC);
	cr_assert_eq(wire_encode_stat_req(buf, WIRE_HDR_LEN + 4, &hdr, &pm),
		     WIRE_HDR_LEN + 4);
}

/* ---- contents the decoders refuse ---- */

/* A STAT_REQ body holding the @n bytes of @path. */
static int decode_raw_path(const char *path, size_t n)
{
	static struct wire_path_msg pm;
	uint8_t body[64];

	body[0] = (uint8_t)n;
	body[1] = (uint8_t)(n >> 8);
	memcpy(body + 2, path, n);
	return wire_decode_path_msg(body, 2 + n, &pm);
}

Test(wire, refuses_relative_paths_embedded_nul_and_dot_dot)
{
	struct wire_path_msg pm = {"lus/proj"};
	uint8_t buf[256];

	cr_assert_eq(decode_raw_path("/lus/proj", 9), 0);
	cr_assert_eq(decode_raw_path("/", 1), 0);
	cr_assert_eq(decode_raw_path("/a/.hidden/..x", 14), 0);
	cr_assert_eq(decode_raw_path("lus/proj", 8), -EBADMSG);
	cr_assert_eq(decode_raw_path("", 0), -EBADMSG);
	cr_assert_eq(decode_raw_path("/lus\0/etc", 9), -EPROTO);
	cr_assert_eq(decode_raw_path("/lus/proj\0", 10), -EPROTO);
	cr_assert_eq(decode_raw_path("/lus/../etc", 11), -EBADMSG);
	cr_assert_eq(decode_raw_path("/lus/..", 7), -EBADMSG);
	cr_assert_eq(decode_raw_path("/lus/./x", 8), -EBADMSG);
	cr_assert_eq(wire_encode_stat_req(buf, sizeof(buf), &hdr, &pm),
		     -EINVAL);
	strcpy(pm.path, "/a/../b");
	cr_assert_eq(wire_encode_stat_req(buf, sizeof(buf), &hdr, &pm),
		     -EINVAL);
}

Test(wire, refuses_err_fields_out_of_range)
{
	static const int32_t bad[] = {1, -4096, INT32_MIN, INT32_MAX};
	struct wire_stat_resp sr = {0};
	struct wire_read_resp rr = {0};
	uint8_t buf[256], body[8];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sr.err = bad[i];
		cr_assert_eq(wire_encode_stat_resp(buf, sizeof(buf), &hdr, &sr),
			     -EINVAL);
		body[0] = (uint8_t)bad[i];
		body[1] = (uint8_t)((uint32_t)bad[i] >> 8);
		body[2] = (uint8_t)((uint32_t)bad[i] >> 16);
		body[3] = (uint8_t)((uint32_t)bad[i] >> 24);
		cr_assert_eq(wire_decode_stat_resp(body, 4, &sr), -EBADMSG);
		memset(body + 4, 0, 4);
		cr_assert_eq(wire_decode_read_resp(body, 8, 0, &rr), -EBADMSG);
	}
	/* the edges */
	body[0] = 0x01; /* -4095 = 0xfffff001 */
	body[1] = 0xf0;
	body[2] = 0xff;
	body[3] = 0xff;
	cr_assert_eq(wire_decode_stat_resp(body, 4, &sr), 0);
	cr_assert_eq(sr.err, -4095);
	/* an error response carries no length */
	rr.err = -EIO;
	rr.len = 1;
	cr_assert_eq(wire_encode_read_resp(buf, sizeof(buf), &hdr, &rr),
		     -EINVAL);
	body[4] = 1;
	cr_assert_eq(wire_decode_read_resp(body, 8, 0, &rr), -EBADMSG);
}

Test(wire, refuses_read_requests_without_a_sane_block)
{
	struct wire_read_req rq = {"/f", .block_size = 0};
	struct wire_read_req out;
	uint8_t buf[256];
	struct wire_hdr h;
	ssize_t len;

	cr_assert_eq(wire_encode_read_req(buf, sizeof(buf), &hdr, &rq),
		     -EINVAL);
	rq.block_size = 1 << 22;
	rq.block = UINT64_MAX / 2;
	cr_assert_eq(wire_encode_read_req(buf, sizeof(buf), &hdr, &rq),
		     -EINVAL);
	rq.block = 3;
	len = wire_encode_read_req(buf, sizeof(buf), &hdr, &rq);
	cr_assert_gt(len, 0);
	cr_assert_eq(wire_decode_hdr(buf, (size_t)len, &h), 0);
	/* block_size 0 on the wire */
	memset(buf + 40 + WIRE_IDENT_LEN + 8, 0, 4);
	cr_assert_eq(wire_decode_read_req(buf + 40, h.body_len, &out),
		     -EBADMSG);
	/* block_size above the cap */
	buf[40 + WIRE_IDENT_LEN + 8 + 3] = 0x10;
	cr_assert_eq(wire_decode_read_req(buf + 40, h.body_len, &out),
		     -EBADMSG);
}

/* ---- listings ---- */

Test(wire, round_trips_a_listing)
{
	struct wire_list_dec d;
	struct wire_list_ent ent;
	struct wire_hdr h;
	char want[32];
	int i;

	cr_assert_eq(
	    wire_decode_hdr(msgs[M_LIST_RESP].buf, msgs[M_LIST_RESP].len, &h),
	    0);
	cr_assert_eq(h.type, WIRE_LIST_RESP);
	cr_assert_eq(
	    wire_list_decode(msgs[M_LIST_RESP].buf + 40, h.body_len, &d), 0);
	cr_assert_eq(d.err, 0);
	cr_assert(d.more);
	cr_assert_eq(d.count, 5);
	for (i = 0; i < 5; i++) {
		cr_assert_eq(wire_list_next(&d, &ent), 1);
		snprintf(want, sizeof(want), "entry-%d", i);
		cr_assert_str_eq(ent.name, want);
		cr_assert_eq(ent.type, i % 2 ? DT_DIR : DT_REG);
		if (i % 3 == 2) {
			cr_assert_eq(ent.err, -ENOENT);
			cr_assert_eq(ent.attr.ino, 0);
		} else {
			cr_assert_eq(ent.err, 0);
			cr_assert_eq(ent.attr.ino, attr.ino + (uint64_t)i);
			cr_assert_eq(ent.attr.mtime_ns, attr.mtime_ns);
		}
	}
	cr_assert_eq(wire_list_next(&d, &ent), 0);
	cr_assert_eq(wire_list_next(&d, &ent), 0);

	cr_assert_eq(
	    wire_decode_hdr(msgs[M_LIST_ERR].buf, msgs[M_LIST_ERR].len, &h), 0);
	cr_assert_eq(
	    wire_list_decode(msgs[M_LIST_ERR].buf + 40, h.body_len, &d), 0);
	cr_assert_eq(d.err, -EACCES);
	cr_assert_eq(d.count, 0);
	cr_assert_not(d.more);
	cr_assert_eq(wire_list_next(&d, &ent), 0);
}

Test(wire, keeps_a_full_listing_valid_when_an_entry_does_not_fit)
{
	uint8_t buf[1024];
	struct wire_list_enc e;
	struct wire_list_ent ent = {.type = DT_REG, .attr = attr};
	struct wire_list_dec d;
	struct wire_hdr h;
	size_t before;
	ssize_t len;
	int added = 0, ret, n = 0;

	memset(buf, 0xee, sizeof(buf));
	cr_assert_eq(wire_list_begin(&e, buf, sizeof(buf), &hdr, 0), 0);
	for (;;) {
		snprintf(ent.name, sizeof(ent.name), "file-%03d", added);
		before = e.len;
		ret = wire_list_add(&e, &ent);
		if (ret)
			break;
		added++;
	}
	cr_assert_eq(ret, -ENOSPC);
	cr_assert_eq(e.len, before);
	cr_assert_eq(e.count, (uint32_t)added);
	/* 9 bytes per entry header plus name, 84 of attributes */
	cr_assert_eq(added, (1024 - WIRE_HDR_LEN - 9) / (1 + 8 + 1 + 4 + 84));
	/* nothing was written past the last entry */
	cr_assert_eq(buf[e.len], 0xee);
	/* an entry without attributes still fits */
	ent.err = -ENOENT;
	cr_assert_eq(wire_list_add(&e, &ent), 0);
	added++;
	len = wire_list_end(&e, true);
	cr_assert_eq((size_t)len, e.len);
	cr_assert_eq(wire_decode_hdr(buf, (size_t)len, &h), 0);
	cr_assert_eq(wire_list_decode(buf + 40, h.body_len, &d), 0);
	cr_assert(d.more);
	while ((ret = wire_list_next(&d, &ent)) == 1)
		n++;
	cr_assert_eq(ret, 0);
	cr_assert_eq(n, added);
}

Test(wire, refuses_a_listing_whose_count_and_bytes_disagree)
{
	uint8_t *b = msgs[M_LIST_RESP].buf; /* list_resp, 5 entries */
	size_t body_len = msgs[M_LIST_RESP].len - WIRE_HDR_LEN;
	struct wire_list_dec d;
	struct wire_list_ent ent;
	int ret, n = 0;

	/* count claims far more entries than the bytes can hold */
	b[45] = 0xff;
	b[46] = 0xff;
	cr_assert_eq(wire_list_decode(b + 40, body_len, &d), -EBADMSG);
	/* one more than sent: runs out of bytes */
	b[45] = 6;
	b[46] = 0;
	cr_assert_eq(wire_list_decode(b + 40, body_len, &d), 0);
	while ((ret = wire_list_next(&d, &ent)) == 1)
		n++;
	cr_assert_eq(n, 5);
	cr_assert_eq(ret, -EBADMSG);
	cr_assert_eq(wire_list_next(&d, &ent), -EBADMSG);
	/* one fewer than sent: bytes left over */
	b[45] = 4;
	n = 0;
	cr_assert_eq(wire_list_decode(b + 40, body_len, &d), 0);
	while ((ret = wire_list_next(&d, &ent)) == 1)
		n++;
	cr_assert_eq(n, 4);
	cr_assert_eq(ret, -EBADMSG);
	/* an error listing with entries */
	b[45] = 5;
	b[40] = (uint8_t)-EIO;
	b[41] = b[42] = b[43] = 0xff;
	cr_assert_eq(wire_list_decode(b + 40, body_len, &d), -EBADMSG);
}

/* A one-entry listing body whose entry is named by the @n bytes of @name. */
static int decode_raw_entry(const char *name, size_t n, uint8_t type)
{
	static struct wire_list_ent ent;
	uint8_t body[64] = {0, 0, 0, 0, 0, 1, 0, 0, 0};
	struct wire_list_dec d;
	int ret;

	body[9] = (uint8_t)n;
	memcpy(body + 10, name, n);
	body[10 + n] = type;
	body[11 + n] = 0xfe; /* err -2 */
	memset(body + 12 + n, 0xff, 3);
	ret = wire_list_decode(body, 15 + n, &d);
	if (ret)
		return ret;
	ret = wire_list_next(&d, &ent);
	if (ret == 1) {
		cr_assert_eq(ent.err, -ENOENT);
		ret = wire_list_next(&d, &ent);
	}
	return ret;
}

Test(wire, refuses_entry_names_a_directory_cannot_hold)
{
	struct wire_list_ent ent = {.name = "a/b", .type = DT_REG};
	struct wire_list_enc e;
	uint8_t buf[512];

	cr_assert_eq(decode_raw_entry("ok", 2, DT_REG), 0);
	cr_assert_eq(decode_raw_entry("...", 3, DT_LNK), 0);
	cr_assert_eq(decode_raw_entry("a/b", 3, DT_REG), -EBADMSG);
	cr_assert_eq(decode_raw_entry("/", 1, DT_REG), -EBADMSG);
	cr_assert_eq(decode_raw_entry("..", 2, DT_DIR), -EBADMSG);
	cr_assert_eq(decode_raw_entry(".", 1, DT_DIR), -EBADMSG);
	cr_assert_eq(decode_raw_entry("", 0, DT_REG), -EBADMSG);
	cr_assert_eq(decode_raw_entry("a\0b", 3, DT_REG), -EPROTO);
	cr_assert_eq(decode_raw_entry("ok", 2, 3), -EBADMSG); /* no DT 3 */

	cr_assert_eq(wire_list_begin(&e, buf, sizeof(buf), &hdr, 0), 0);
	cr_assert_eq(wire_list_add(&e, &ent), -EINVAL);
	strcpy(ent.name, "..");
	cr_assert_eq(wire_list_add(&e, &ent), -EINVAL);
	strcpy(ent.name, "");
	cr_assert_eq(wire_list_add(&e, &ent), -EINVAL);
	cr_assert_eq(e.count, 0);
}

/* ---- authentication ---- */

Test(wire, seals_with_truncated_hmac_sha256_of_the_zero_tagged_message)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	struct wire_key k;
	struct msg *m = &msgs[M_LIST_RESP];
	uint8_t *copy = malloc(m->len);

	key_set(&k, key_a, sizeof(key_a));
	memset(m->buf + 24, 0x77, WIRE_TAG_LEN);
	cr_assert_eq(wire_seal(m->buf, m->len, &k), 0);
	/* reference: one-shot HMAC over a copy with the tag zeroed */
	memcpy(copy, m->buf, m->len);
	memset(copy + 24, 0, WIRE_TAG_LEN);
	cr_assert_not_null(HMAC(EVP_sha256(), key_a, sizeof(key_a), copy,
				m->len, md, &md_len));
	free(copy);
	cr_assert_eq(md_len, 32);
	cr_assert_arr_eq(m->buf + 24, md, WIRE_TAG_LEN);
	cr_assert_eq(wire_verify(m->buf, m->len, &k), 0);
}

Test(wire, fails_verify_when_any_bit_of_any_message_flips)
{
	struct wire_key k;
	size_t i, j;
	int bit;

	key_set(&k, key_a, sizeof(key_a));
	for (i = 0; i < nmsg; i++) {
		uint8_t *b = msgs[i].buf;

		cr_assert_eq(wire_seal(b, msgs[i].len, &k), 0);
		cr_assert_eq(wire_verify(b, msgs[i].len, &k), 0);
		for (j = 0; j < msgs[i].len; j++) {
			bit = (int)(j % 8);
			b[j] ^= (uint8_t)(1 << bit);
			cr_assert_eq(wire_verify(b, msgs[i].len, &k), -EBADMSG,
				     "%s byte %zu", msgs[i].what, j);
			b[j] ^= (uint8_t)(1 << bit);
		}
		cr_assert_eq(wire_verify(b, msgs[i].len, &k), 0);
		/* a truncated sealed message fails too */
		cr_assert_eq(wire_verify(b, msgs[i].len - 1, &k), -EBADMSG);
	}
}

Test(wire, fails_verify_under_a_different_key)
{
	struct wire_key a, b, a_long;
	uint8_t long_bytes[33];

	key_set(&a, key_a, sizeof(key_a));
	key_set(&b, key_b, sizeof(key_b));
	memcpy(long_bytes, key_a, 32);
	long_bytes[32] = 'x';
	key_set(&a_long, long_bytes, sizeof(long_bytes));
	cr_assert_eq(wire_seal(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &a),
		     0);
	cr_assert_eq(
	    wire_verify(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &b),
	    -EBADMSG);
	cr_assert_eq(
	    wire_verify(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &a_long),
	    -EBADMSG);
	/* switching keys in one thread re-keys each time */
	cr_assert_eq(
	    wire_verify(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &a), 0);
	cr_assert_eq(wire_seal(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &b),
		     0);
	cr_assert_eq(
	    wire_verify(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &a),
	    -EBADMSG);
	cr_assert_eq(
	    wire_verify(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &b), 0);
}

Test(wire, key_none_seals_a_zero_tag_and_accepts_any)
{
	static const uint8_t zero[WIRE_TAG_LEN];
	struct wire_key none, a;

	wire_key_none(&none);
	cr_assert(none.none);
	key_set(&a, key_a, sizeof(key_a));
	cr_assert_eq(wire_seal(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &a),
		     0);
	cr_assert_eq(
	    wire_verify(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &none), 0);
	cr_assert_eq(
	    wire_seal(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &none), 0);
	cr_assert_arr_eq(msgs[M_STAT_REQ].buf + 24, zero, WIRE_TAG_LEN);
	/* a keyed node refuses an unsealed message */
	cr_assert_eq(
	    wire_verify(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &a),
	    -EBADMSG);
	msgs[M_STAT_REQ].buf[30] ^= 0x55;
	cr_assert_eq(
	    wire_verify(msgs[M_STAT_REQ].buf, msgs[M_STAT_REQ].len, &none), 0);
	cr_assert_eq(wire_verify(msgs[M_STAT_REQ].buf, WIRE_HDR_LEN - 1, &none),
		     -EBADMSG);
	cr_assert_eq(wire_seal(msgs[M_STAT_REQ].buf, WIRE_HDR_LEN - 1, &none),
		     -EINVAL);
}

Test(wire, seals_a_4mib_message)
{
	size_t len = WIRE_HDR_LEN + 8 + (4u << 20);
	uint8_t *buf = malloc(len), *data = malloc(4u << 20);
	struct wire_read_resp rr = {.len = 4u << 20, .data = data};
	struct wire_key k;
	size_t i;

	for (i = 0; i < (4u << 20); i++)
		data[i] = (uint8_t)(i ^ (i >> 13));
	key_set(&k, key_a, sizeof(key_a));
	cr_assert_eq(wire_encode_read_resp(buf, len, &hdr, &rr), (ssize_t)len);
	cr_assert_eq(wire_seal(buf, len, &k), 0);
	cr_assert_eq(wire_verify(buf, len, &k), 0);
	buf[len / 2] ^= 1;
	cr_assert_eq(wire_verify(buf, len, &k), -EBADMSG);
	free(buf);
	free(data);
}

struct seal_job {
	const uint8_t *key;
	uint8_t msg[64];
	int ret;
};

static void *seal_thread(void *arg)
{
	struct seal_job *j = arg;
	struct wire_key k;
	int i;

	key_set(&k, j->key, 32);
	for (i = 0; i < 200 && !j->ret; i++) {
		j->ret = wire_seal(j->msg, WIRE_HDR_LEN + 11, &k);
		if (!j->ret)
			j->ret = wire_verify(j->msg, WIRE_HDR_LEN + 11, &k);
	}
	return NULL;
}

Test(wire, threads_seal_with_their_own_keys)
{
	struct seal_job jobs[4];
	pthread_t th[4];
	struct wire_key ka, kb;
	int i;

	key_set(&ka, key_a, 32);
	key_set(&kb, key_b, 32);
	for (i = 0; i < 4; i++) {
		jobs[i].key = i % 2 ? key_b : key_a;
		jobs[i].ret = 0;
		memcpy(jobs[i].msg, msgs[M_STAT_REQ].buf, WIRE_HDR_LEN + 11);
		cr_assert_eq(
		    pthread_create(&th[i], NULL, seal_thread, &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(jobs[i].ret, 0);
		cr_assert_eq(wire_verify(jobs[i].msg, WIRE_HDR_LEN + 11,
					 i % 2 ? &kb : &ka),
			     0);
		cr_assert_eq(wire_verify(jobs[i].msg, WIRE_HDR_LEN + 11,
					 i % 2 ? &ka : &kb),
			     -EBADMSG);
	}
}

/* ---- key files ---- */

static char key_dir[] = "/tmp/canopy-test-wire-XXXXXX";

static void key_file(const char *name, const void *bytes, size_t n, mode_t mode,
		     char *path, size_t size)
{
	int fd;

	if (strstr(key_dir, "XXXXXX"))
		cr_assert_not_null(mkdtemp(key_dir));
	snprintf(path, size, "%s/%s", key_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, bytes, n), (ssize_t)n);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

Test(wire, loads_a_key_file_and_drops_one_newline)
{
	char path[256], err[256] = "x";
	uint8_t bytes[33];
	struct wire_key k;

	memcpy(bytes, key_a, 32);
	bytes[32] = '\n';
	key_file("job.key", bytes, 33, 0600, path, sizeof(path));
	cr_assert_eq(wire_key_load(path, &k, err, sizeof(err)), 0);
	cr_assert_str_eq(err, "");
	cr_assert_not(k.none);
	cr_assert_eq(k.len, 32);
	cr_assert_arr_eq(k.bytes, key_a, 32);
	unlink(path);
	/* 64 bytes, no newline */
	key_file("long.key",
		 "0123456789abcdef0123456789abcdef"
		 "0123456789abcdef0123456789abcdef",
		 64, 0400, path, sizeof(path));
	cr_assert_eq(wire_key_load(path, &k, err, sizeof(err)), 0);
	cr_assert_eq(k.len, 64);
	unlink(path);
	rmdir(key_dir);
}

Test(wire, refuses_a_key_file_too_short_or_too_long_naming_it)
{
	char path[256], err[256];
	uint8_t bytes[80];
	struct wire_key k;

	memset(bytes, 'k', sizeof(bytes));
	bytes[31] = '\n'; /* 31 bytes and a newline */
	key_file("short.key", bytes, 32, 0600, path, sizeof(path));
	cr_assert_eq(wire_key_load(path, &k, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, path), "%s", err);
	cr_assert(strstr(err, "too short"), "%s", err);
	unlink(path);
	key_file("long.key", bytes, 65 + 1, 0600, path, sizeof(path));
	cr_assert_eq(wire_key_load(path, &k, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, path), "%s", err);
	cr_assert(strstr(err, "too long"), "%s", err);
	unlink(path);
	key_file("empty.key", bytes, 0, 0600, path, sizeof(path));
	cr_assert_eq(wire_key_load(path, &k, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, path), "%s", err);
	unlink(path);
	rmdir(key_dir);
}

Test(wire, refuses_a_missing_key_file_naming_it)
{
	char err[256];
	struct wire_key k;

	cr_assert_eq(
	    wire_key_load("/nonexistent/canopy.key", &k, err, sizeof(err)),
	    -ENOENT);
	cr_assert(strstr(err, "/nonexistent/canopy.key"), "%s", err);
	cr_assert_eq(wire_key_load("/tmp", &k, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "/tmp"), "%s", err);
	/* no err buffer: still the errno */
	cr_assert_eq(wire_key_load("/nonexistent/canopy.key", &k, NULL, 0),
		     -ENOENT);
}

Test(wire, loads_a_key_others_can_read_but_says_so)
{
	char path[256], err[256];
	struct wire_key k;

	key_file("open.key", key_b, 32, 0644, path, sizeof(path));
	cr_assert_eq(wire_key_load(path, &k, err, sizeof(err)), WIRE_KEY_LOOSE);
	cr_assert(strstr(err, path), "%s", err);
	cr_assert(strstr(err, "0644"), "%s", err);
	cr_assert_eq(k.len, 32);
	cr_assert_arr_eq(k.bytes, key_b, 32);
	unlink(path);
	rmdir(key_dir);
}

/* ---- prefetch ---- */

Test(wire, round_trips_a_prefetch_of_several_paths)
{
	struct wire_prefetch *in = calloc(1, sizeof(*in));
	struct wire_prefetch *out = calloc(1, sizeof(*out));
	uint8_t *buf = malloc(WIRE_HDR_LEN + 70000);
	struct wire_hdr h;
	ssize_t len;
	unsigned i;

	in->timeout_ms = WIRE_PREFETCH_TIMEOUT_MAX;
	in->count = WIRE_PREFETCH_PATHS;
	for (i = 0; i < in->count; i++) {
		/* the longest paths, so the message is as big as it gets */
		memset(in->paths[i], 'a' + i, WIRE_PATH_MAX);
		in->paths[i][0] = '/';
	}
	len = wire_encode_prefetch(buf, WIRE_HDR_LEN + 70000, &hdr, in);
	cr_assert_eq(len, WIRE_HDR_LEN + 6 +
			      WIRE_PREFETCH_PATHS * (2 + WIRE_PATH_MAX));
	cr_assert_eq(wire_decode_hdr(buf, (size_t)len, &h), 0);
	cr_assert_eq(h.type, WIRE_PREFETCH);
	cr_assert_eq(wire_decode_prefetch(buf + WIRE_HDR_LEN, h.body_len, out),
		     0);
	cr_assert_eq(out->timeout_ms, in->timeout_ms);
	cr_assert_eq(out->count, in->count);
	for (i = 0; i < in->count; i++)
		cr_assert_str_eq(out->paths[i], in->paths[i]);
	free(in);
	free(out);
	free(buf);
}

Test(wire, refuses_a_prefetch_without_paths_with_too_many_or_no_time)
{
	struct wire_prefetch *m = calloc(1, sizeof(*m));
	uint8_t buf[256], *b = msgs[M_PREFETCH].buf + WIRE_HDR_LEN;
	size_t blen = msgs[M_PREFETCH].len - WIRE_HDR_LEN;

	m->timeout_ms = 1000;
	m->count = 0;
	cr_assert_eq(wire_encode_prefetch(buf, sizeof(buf), &hdr, m), -EINVAL);
	m->count = WIRE_PREFETCH_PATHS + 1;
	cr_assert_eq(wire_encode_prefetch(buf, sizeof(buf), &hdr, m), -EINVAL);
	m->count = 1;
	strcpy(m->paths[0], "relative/path");
	cr_assert_eq(wire_encode_prefetch(buf, sizeof(buf), &hdr, m), -EINVAL);
	strcpy(m->paths[0], "/lus/../etc");
	cr_assert_eq(wire_encode_prefetch(buf, sizeof(buf), &hdr, m), -EINVAL);
	strcpy(m->paths[0], "/lus");
	m->timeout_ms = 0;
	cr_assert_eq(wire_encode_prefetch(buf, sizeof(buf), &hdr, m), -EINVAL);
	m->timeout_ms = 1000;
	cr_assert_eq(wire_encode_prefetch(buf, 20, &hdr, m), -ENOSPC);

	/* the same, made by hand in a valid message's body */
	cr_assert_eq(wire_decode_prefetch(b, blen, m), 0);
	b[0] = b[1] = b[2] = b[3] = 0; /* timeout 0 */
	cr_assert_eq(wire_decode_prefetch(b, blen, m), -EBADMSG);
	b[0] = 1;
	b[4] = 3; /* count 3, two paths */
	cr_assert_eq(wire_decode_prefetch(b, blen, m), -EBADMSG);
	b[4] = 1; /* count 1, a path too many */
	cr_assert_eq(wire_decode_prefetch(b, blen, m), -EBADMSG);
	b[4] = 2;
	b[8] = '.'; /* the first path no longer absolute */
	cr_assert_eq(wire_decode_prefetch(b, blen, m), -EBADMSG);
	b[8] = '/';
	b[9] = '\0';
	cr_assert_eq(wire_decode_prefetch(b, blen, m), -EPROTO);
	free(m);
}

Test(wire, round_trips_a_prefetch_done_and_its_missing_nodes)
{
	struct wire_prefetch_done in = {
	    .files = UINT64_MAX, .bytes = 1ull << 40, .files_max = 7,
	    .bytes_max = 9, .skipped = 3, .errors = 1, .nodes_done = 9999,
	    .nodes_missing = 100, .nlisted = WIRE_PREFETCH_LISTED,
	}, out;
	uint8_t buf[1024];
	struct wire_hdr h;
	ssize_t len;
	unsigned i;

	for (i = 0; i < WIRE_PREFETCH_LISTED; i++)
		in.listed[i] = i * 1000 + 1;
	len = wire_encode_prefetch_done(buf, sizeof(buf), &hdr, &in);
	cr_assert_eq(len, WIRE_HDR_LEN + 62 + 4 * WIRE_PREFETCH_LISTED);
	cr_assert_eq(wire_decode_hdr(buf, (size_t)len, &h), 0);
	memset(&out, 0xff, sizeof(out));
	cr_assert_eq(wire_decode_prefetch_done(buf + WIRE_HDR_LEN, h.body_len,
					       &out), 0);
	cr_assert_eq(out.err, 0);
	cr_assert_eq(out.files, in.files);
	cr_assert_eq(out.bytes, in.bytes);
	cr_assert_eq(out.files_max, 7);
	cr_assert_eq(out.bytes_max, 9);
	cr_assert_eq(out.skipped, 3);
	cr_assert_eq(out.errors, 1);
	cr_assert_eq(out.nodes_done, 9999);
	cr_assert_eq(out.nodes_missing, 100);
	cr_assert_eq(out.nlisted, WIRE_PREFETCH_LISTED);
	for (i = 0; i < WIRE_PREFETCH_LISTED; i++)
		cr_assert_eq(out.listed[i], i * 1000 + 1);
}

Test(wire, refuses_a_prefetch_done_listing_more_than_it_misses)
{
	struct wire_prefetch_done m = {.nodes_missing = 1, .nlisted = 2};
	uint8_t buf[1024], *b = msgs[M_PREFETCH_DONE].buf + WIRE_HDR_LEN;
	size_t blen = msgs[M_PREFETCH_DONE].len - WIRE_HDR_LEN;

	cr_assert_eq(wire_encode_prefetch_done(buf, sizeof(buf), &hdr, &m),
		     -EINVAL);
	m.nodes_missing = 1000;
	m.nlisted = WIRE_PREFETCH_LISTED + 1;
	cr_assert_eq(wire_encode_prefetch_done(buf, sizeof(buf), &hdr, &m),
		     -EINVAL);
	m.nlisted = 0;
	m.err = -5000;
	cr_assert_eq(wire_encode_prefetch_done(buf, sizeof(buf), &hdr, &m),
		     -EINVAL);

	/* by hand: nodes_missing (offset 56) below nlisted (offset 60) */
	cr_assert_eq(wire_decode_prefetch_done(b, blen, &m), 0);
	cr_assert_eq(m.nlisted, 2);
	b[56] = 1;
	cr_assert_eq(wire_decode_prefetch_done(b, blen, &m), -EBADMSG);
	b[56] = 2;
	b[60] = 3; /* three listed, two there */
	cr_assert_eq(wire_decode_prefetch_done(b, blen, &m), -EBADMSG);
	b[60] = 2;
	b[0] = 0x01; /* err 1: not 0 nor -errno */
	cr_assert_eq(wire_decode_prefetch_done(b, blen, &m), -EBADMSG);
}
