// SPDX-License-Identifier: MIT
/*
 * daemon/stats.c - counters and histograms.
 *
 * Every counter is a relaxed atomic that any thread bumps; readers (the
 * control socket) see a consistent-enough snapshot, which is what operators
 * need. Keys of the JSON form are flat and dotted: "fuse.read.count".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "canopyd_i.h"

struct stats stats;

static const char *const opnames[CANOPY_FUSE_OPCODES] = {
	[FUSE_LOOKUP] = "lookup", [FUSE_FORGET] = "forget",
	[FUSE_GETATTR] = "getattr", [FUSE_SETATTR] = "setattr",
	[FUSE_READLINK] = "readlink", [FUSE_SYMLINK] = "symlink",
	[FUSE_MKNOD] = "mknod", [FUSE_MKDIR] = "mkdir",
	[FUSE_UNLINK] = "unlink", [FUSE_RMDIR] = "rmdir",
	[FUSE_RENAME] = "rename", [FUSE_LINK] = "link", [FUSE_OPEN] = "open",
	[FUSE_READ] = "read", [FUSE_WRITE] = "write", [FUSE_STATFS] = "statfs",
	[FUSE_RELEASE] = "release", [FUSE_FSYNC] = "fsync",
	[FUSE_SETXATTR] = "setxattr", [FUSE_GETXATTR] = "getxattr",
	[FUSE_LISTXATTR] = "listxattr", [FUSE_REMOVEXATTR] = "removexattr",
	[FUSE_FLUSH] = "flush", [FUSE_INIT] = "init",
	[FUSE_OPENDIR] = "opendir", [FUSE_READDIR] = "readdir",
	[FUSE_RELEASEDIR] = "releasedir", [FUSE_FSYNCDIR] = "fsyncdir",
	[FUSE_GETLK] = "getlk", [FUSE_SETLK] = "setlk",
	[FUSE_SETLKW] = "setlkw", [FUSE_ACCESS] = "access",
	[FUSE_CREATE] = "create", [FUSE_INTERRUPT] = "interrupt",
	[FUSE_BMAP] = "bmap", [FUSE_DESTROY] = "destroy",
	[FUSE_IOCTL] = "ioctl", [FUSE_POLL] = "poll",
	[FUSE_NOTIFY_REPLY] = "notify_reply",
	[FUSE_BATCH_FORGET] = "batch_forget", [FUSE_FALLOCATE] = "fallocate",
	[FUSE_READDIRPLUS] = "readdirplus", [FUSE_RENAME2] = "rename2",
	[FUSE_LSEEK] = "lseek", [FUSE_COPY_FILE_RANGE] = "copy_file_range",
	[FUSE_SETUPMAPPING] = "setupmapping",
	[FUSE_REMOVEMAPPING] = "removemapping", [FUSE_SYNCFS] = "syncfs",
	[FUSE_TMPFILE] = "tmpfile", [FUSE_STATX] = "statx",
	[FUSE_COPY_FILE_RANGE_64] = "copy_file_range_64",
};

const char *stats_opname(uint32_t opcode)
{
	if (opcode < CANOPY_FUSE_OPCODES && opnames[opcode])
		return opnames[opcode];
	return NULL;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static unsigned log2_bucket(uint64_t v, unsigned nbuckets)
{
	unsigned b = v ? 64 - __builtin_clzll(v) : 0;

	return b < nbuckets ? b : nbuckets - 1;
}

void stats_request_done(uint32_t opcode, uint64_t ns, int err)
{
	if (opcode >= CANOPY_FUSE_OPCODES) {
		STAT_INC(op_unknown);
		return;
	}
	STAT_INC(op_count[opcode]);
	if (err)
		STAT_INC(op_errors[opcode]);
	STAT_ADD(op_lat_ns[opcode], ns);
	STAT_INC(op_lat_hist[opcode][log2_bucket(ns / 1000, STATS_LAT_BUCKETS)]);
}

/* bucket i holds sizes up to 4 KiB << i; the last one everything above */
static unsigned size_bucket(uint64_t size)
{
	unsigned b = 0;

	while (b < STATS_SIZE_BUCKETS - 1 && size > (4096ULL << b))
		b++;
	return b;
}

void stats_read_size(uint64_t size)
{
	uint64_t max = atomic_load_explicit(&stats.read_size_max,
					    memory_order_relaxed);

	STAT_INC(read_size_hist[size_bucket(size)]);
	STAT_ADD(read_bytes, size);
	while (size > max &&
	       !atomic_compare_exchange_weak(&stats.read_size_max, &max, size))
		;
}

static uint64_t get(counter_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void kv(FILE *f, bool *first, const char *key, uint64_t v)
{
	fprintf(f, "%s\n  \"%s\": %" PRIu64, *first ? "" : ",", key, v);
	*first = false;
}

char *stats_json(void)
{
	static const struct {
		const char *key;
		counter_t *c;
	} flat[] = {
		{ "fuse.unknown.count", &stats.op_unknown },
		{ "fuse.malformed.count", &stats.malformed },
		{ "fuse.read.size_max", &stats.read_size_max },
		{ "fuse.read.bytes", &stats.read_bytes },
		{ "backing.opens", &stats.backing_opens },
		{ "backing.reads", &stats.backing_reads },
		{ "backing.bytes", &stats.backing_bytes },
		{ "backing.stats", &stats.backing_stats },
		{ "backing.readdirs", &stats.backing_readdirs },
		{ "passthrough.opens", &stats.passthrough_opens },
		{ "open.cached", &stats.cached_opens },
		{ "open.direct", &stats.direct_opens },
		{ "cache.bytes", &stats.cache_bytes },
		{ "cache.reserved", &stats.cache_reserved },
		{ "cache.files", &stats.cache_files },
		{ "cache.evictions", &stats.cache_evictions },
		{ "cache.hits", &stats.cache_hits },
		{ "cache.misses", &stats.cache_misses },
		{ "cache.waits", &stats.cache_waits },
		{ "cache.readaheads", &stats.cache_readaheads },
		{ "cache.stale", &stats.cache_stale },
		{ "bytes.cache", &stats.bytes_from_cache },
		{ "bytes.backing", &stats.bytes_from_backing },
		{ "splice.fallbacks", &stats.splice_fallbacks },
		{ "reply.splices", &stats.reply_splices },
		{ "reply.copies", &stats.reply_copies },
		{ "nodes", &stats.nodes },
		{ "peer.requests_in", &stats.peer_requests_in },
		{ "peer.requests_out", &stats.peer_requests_out },
		{ "peer.bytes_in", &stats.peer_bytes_in },
		{ "peer.bytes_out", &stats.peer_bytes_out },
		{ "peer.refused", &stats.peer_refused },
		{ "peer.malformed", &stats.peer_malformed },
		{ "peer.dropped", &stats.peer_dropped },
		{ "peer.late", &stats.peer_late },
		{ "failover.count", &stats.failover_count },
		{ "auth.failures", &stats.auth_failures },
		{ "bytes.peers", &stats.bytes_from_peers },
		{ "meta.hits", &stats.meta_hits },
		{ "meta.misses", &stats.meta_misses },
	};
	char key[96], *out = NULL;
	size_t outlen = 0, i;
	bool first = true;
	unsigned op, b;
	FILE *f;

	f = open_memstream(&out, &outlen);
	if (!f)
		return NULL;
	fputc('{', f);
	for (i = 0; i < sizeof(flat) / sizeof(flat[0]); i++)
		kv(f, &first, flat[i].key, get(flat[i].c));
	for (b = 0; b < STATS_SIZE_BUCKETS; b++) {
		if (b == STATS_SIZE_BUCKETS - 1)
			snprintf(key, sizeof(key), "fuse.read.size_hist.le_inf");
		else
			snprintf(key, sizeof(key), "fuse.read.size_hist.le_%llu",
				 4096ULL << b);
		kv(f, &first, key, get(&stats.read_size_hist[b]));
	}
	for (op = 0; op < CANOPY_FUSE_OPCODES; op++) {
		uint64_t n = get(&stats.op_count[op]);

		if (!opnames[op] || (!n && !ops_table[op].fn))
			continue;
		snprintf(key, sizeof(key), "fuse.%s.count", opnames[op]);
		kv(f, &first, key, n);
		if (!n)
			continue;
		snprintf(key, sizeof(key), "fuse.%s.errors", opnames[op]);
		kv(f, &first, key, get(&stats.op_errors[op]));
		snprintf(key, sizeof(key), "fuse.%s.lat_ns_sum", opnames[op]);
		kv(f, &first, key, get(&stats.op_lat_ns[op]));
		for (b = 0; b < STATS_LAT_BUCKETS; b++) {
			uint64_t h = get(&stats.op_lat_hist[op][b]);

			if (!h)
				continue;
			snprintf(key, sizeof(key), "fuse.%s.lat_us_hist.lt_%llu",
				 opnames[op], 1ULL << b);
			kv(f, &first, key, h);
		}
	}
	fputs("\n}\n", f);
	fclose(f);
	return out;
}
