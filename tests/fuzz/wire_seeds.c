// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/wire_seeds.c - write the seed corpus of fuzz_wire: a few valid
 * messages of every type, sealed with the fuzz target's key, one file each.
 *
 *   wire_seeds DIR      (make fuzz-seeds: DIR = tests/fuzz/corpus/wire)
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* Same key as tests/fuzz/fuzz_wire.c. */
static const struct wire_key fuzz_key = {
    .len = 32,
    .bytes = "canopy-fuzz-key-0123456789abcdef",
};

static const char *dir;
static uint8_t buf[1 << 16];

static void put(const char *name, ssize_t len)
{
	char path[4096];
	FILE *f;

	if (len < 0 || wire_seal(buf, (size_t)len, &fuzz_key)) {
		fprintf(stderr, "wire_seeds: %s: %s\n", name,
			strerror(len < 0 ? (int)-len : EIO));
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, (size_t)len, f) != (size_t)len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void listing(const char *name, const struct wire_hdr *h, int32_t err,
		    int n, bool more)
{
	static const uint8_t types[] = {DT_REG, DT_DIR, DT_LNK, DT_UNKNOWN};
	struct wire_list_ent ent = {.attr = {.ino = 2, .mode = 0100755}};
	struct wire_list_enc e;
	int i;

	if (wire_list_begin(&e, buf, sizeof(buf), h, err))
		exit(1);
	for (i = 0; i < n; i++) {
		snprintf(ent.name, sizeof(ent.name), "%s%d",
			 i % 2 ? "lib" : "__init__.py.", i);
		ent.type = types[i % 4];
		ent.err = i == 3 ? -EACCES : 0;
		ent.attr.size = (uint64_t)i * 1000;
		if (wire_list_add(&e, &ent))
			exit(1);
	}
	put(name, wire_list_end(&e, more));
}

int main(int argc, char **argv)
{
	static const uint8_t data[] = "#!/bin/sh\necho hello\n";
	struct wire_hdr h = {.req_id = 1, .src = 3}, rma = h;
	struct wire_path_msg pm = {"/lus/proj/env/lib/python3.11/os.py"};
	struct wire_stat_resp sr = {
	    .attr = {12, 4096, 8, 0xfd01, 0, 1700000000000000000ll,
		     1700000000500000000ll, 1700000001000000000ll, 0100644, 1,
		     1000, 1000, 4096},
	};
	struct wire_list_req lr = {"/lus/proj/env", 0};
	struct wire_readlink_resp rl = {0, "libz.so.1.2.13"};
	struct wire_read_req rq = {
	    "/lus/proj/model.bin", {0xfd01, 77, 9 << 20, 1, 2}, 2, 1 << 22};
	struct wire_read_resp rr = {.len = sizeof(data) - 1, .data = data};
	struct wire_release rel = {0x1234};
	static struct wire_prefetch pf = {
	    .timeout_ms = 600000, .count = 2,
	    .paths = {"/lus/proj/env", "/lus/proj/model.bin"}};
	struct wire_prefetch_done pd = {
	    .files = 312, .bytes = 25165824, .files_max = 104,
	    .bytes_max = 8388608, .nodes_done = 3, .nodes_missing = 1,
	    .nlisted = 1, .listed = {5}};

	if (argc != 2) {
		fprintf(stderr, "usage: wire_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	rma.flags = WIRE_F_RMA;

	put("ping", wire_encode_ping(buf, sizeof(buf), &h));
	put("pong", wire_encode_pong(buf, sizeof(buf), &h));
	put("stat_req", wire_encode_stat_req(buf, sizeof(buf), &h, &pm));
	strcpy(pm.path, "/");
	put("stat_req-root", wire_encode_stat_req(buf, sizeof(buf), &h, &pm));
	strcpy(pm.path, "/lus/proj/env/lib/libz.so.1");
	put("readlink_req",
	    wire_encode_readlink_req(buf, sizeof(buf), &h, &pm));
	put("stat_resp", wire_encode_stat_resp(buf, sizeof(buf), &h, &sr));
	sr.err = -ENOENT;
	put("stat_resp-enoent",
	    wire_encode_stat_resp(buf, sizeof(buf), &h, &sr));
	put("list_req", wire_encode_list_req(buf, sizeof(buf), &h, &lr));
	listing("list_resp", &h, 0, 6, true);
	listing("list_resp-last", &h, 0, 1, false);
	listing("list_resp-empty", &h, 0, 0, false);
	listing("list_resp-enotdir", &h, -ENOTDIR, 0, false);
	put("readlink_resp",
	    wire_encode_readlink_resp(buf, sizeof(buf), &h, &rl));
	rl.err = -EINVAL;
	put("readlink_resp-einval",
	    wire_encode_readlink_resp(buf, sizeof(buf), &h, &rl));
	put("read_req", wire_encode_read_req(buf, sizeof(buf), &h, &rq));
	put("read_req-rma", wire_encode_read_req(buf, sizeof(buf), &rma, &rq));
	put("read_resp", wire_encode_read_resp(buf, sizeof(buf), &h, &rr));
	rr.addr = 0x7f1234560000ull;
	rr.key = 0xbeef;
	rr.cookie = 0x1234;
	put("read_resp-rma",
	    wire_encode_read_resp(buf, sizeof(buf), &rma, &rr));
	rr = (struct wire_read_resp){.err = -EIO};
	put("read_resp-eio", wire_encode_read_resp(buf, sizeof(buf), &h, &rr));
	put("release", wire_encode_release(buf, sizeof(buf), &h, &rel));
	put("prefetch", wire_encode_prefetch(buf, sizeof(buf), &h, &pf));
	put("prefetch_done",
	    wire_encode_prefetch_done(buf, sizeof(buf), &h, &pd));
	pd = (struct wire_prefetch_done){.err = -EPERM, .nodes_missing = 1};
	put("prefetch_done-eperm",
	    wire_encode_prefetch_done(buf, sizeof(buf), &h, &pd));
	return 0;
}
