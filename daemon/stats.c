// SPDX-License-Identifier: MIT
/*
 * daemon/stats.c - counters and histograms.
 *
 * Every counter is a relaxed atomic that any thread bumps; readers (the
 * control socket) see a consistent-enough snapshot, which is what operators
 * need. Keys of the JSON form are flat and dotted: "fuse.read.count".
 * The Prometheus form (stats_prom) maps them to canopy_* families, with
 * labels where one quantity has several kinds (opcode, op, mode, source).
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
		{ "fuse.read.no_open", &stats.no_open_reads },
		{ "backing.opens", &stats.backing_opens },
		{ "backing.reads", &stats.backing_reads },
		{ "backing.bytes", &stats.backing_bytes },
		{ "backing.direct_reads", &stats.backing_direct_reads },
		{ "backing.stats", &stats.backing_stats },
		{ "backing.dir_opens", &stats.backing_dir_opens },
		{ "backing.readdirs", &stats.backing_readdirs },
		{ "passthrough.opens", &stats.passthrough_opens },
		{ "open.cached", &stats.cached_opens },
		{ "open.cached_direct_io", &stats.cold_direct_opens },
		{ "open.direct", &stats.direct_opens },
		{ "cache.bytes", &stats.cache_bytes },
		{ "cache.reserved", &stats.cache_reserved },
		{ "cache.files", &stats.cache_files },
		{ "cache.evictions", &stats.cache_evictions },
		{ "cache.full_reads", &stats.cache_full_reads },
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
		{ "reply.mapped", &stats.reply_mapped },
		{ "fuse.polled", &stats.polled },
		{ "fuse.unparks", &stats.unparks },
		{ "fuse.parked", &stats.parked },
		{ "uring.requests", &stats.uring_requests },
		{ "uring.handoffs", &stats.uring_handoffs },
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
		{ "prefetch.requests", &stats.prefetch_requests },
		{ "prefetch.files", &stats.prefetch_files },
		{ "prefetch.bytes", &stats.prefetch_bytes },
		{ "prefetch.skipped", &stats.prefetch_skipped },
		{ "prefetch.errors", &stats.prefetch_errors },
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

/* ---- Prometheus text exposition ------------------------------------------ */

/*
 * One metric family: a name, a type and a help line, and its samples, each
 * a counter with the value of one label (or none). Families are written
 * whole, one after the other, as the text format requires.
 */
struct prom_sample {
	const char *label; /* value of the family's label, or NULL */
	counter_t *c;
};

struct prom_family {
	const char *name, *type, *help, *label; /* label: its name, or NULL */
	struct prom_sample s[6];
};

static const struct prom_family prom_flat[] = {
	{ "canopy_fuse_unknown_requests_total", "counter",
	  "FUSE requests with an opcode canopyd does not know", NULL,
	  { { NULL, &stats.op_unknown } } },
	{ "canopy_fuse_malformed_requests_total", "counter",
	  "FUSE requests that failed validation", NULL,
	  { { NULL, &stats.malformed } } },
	{ "canopy_fuse_read_size_max_bytes", "gauge",
	  "largest READ request the kernel sent (the effective max_read)",
	  NULL, { { NULL, &stats.read_size_max } } },
	{ "canopy_backing_operations_total", "counter",
	  "operations on the backing store (the figure cooperation lowers)",
	  "op",
	  { { "open", &stats.backing_opens },
	    { "read", &stats.backing_reads },
	    { "stat", &stats.backing_stats },
	    { "readdir", &stats.backing_readdirs },
	    { "dir_open", &stats.backing_dir_opens } } },
	{ "canopy_backing_direct_reads_total", "counter",
	  "backing-store reads with O_DIRECT into the cache file", NULL,
	  { { NULL, &stats.backing_direct_reads } } },
	{ "canopy_backing_read_bytes_total", "counter",
	  "bytes read from the backing store", NULL,
	  { { NULL, &stats.backing_bytes } } },
	{ "canopy_opens_total", "counter", "file opens by mode", "mode",
	  { { "passthrough", &stats.passthrough_opens },
	    { "cached", &stats.cached_opens },
	    { "direct", &stats.direct_opens } } },
	{ "canopy_no_open_reads_total", "counter",
	  "READs of files the kernel opened without asking (fuse.no_open)",
	  NULL, { { NULL, &stats.no_open_reads } } },
	{ "canopy_cache_full_reads_total", "counter",
	  "READs answered from the backing file because the cache file "
	  "system was full", NULL,
	  { { NULL, &stats.cache_full_reads } } },
	{ "canopy_cached_direct_io_opens_total", "counter",
	  "cached opens of files not yet whole, made FOPEN_DIRECT_IO", NULL,
	  { { NULL, &stats.cold_direct_opens } } },
	{ "canopy_cache_bytes", "gauge",
	  "bytes of blocks present in the local cache", NULL,
	  { { NULL, &stats.cache_bytes } } },
	{ "canopy_cache_reserved_bytes", "gauge",
	  "bytes reserved for the files in the local cache", NULL,
	  { { NULL, &stats.cache_reserved } } },
	{ "canopy_cache_files", "gauge", "files in the local cache", NULL,
	  { { NULL, &stats.cache_files } } },
	{ "canopy_cache_evictions_total", "counter",
	  "files evicted from the local cache", NULL,
	  { { NULL, &stats.cache_evictions } } },
	{ "canopy_cache_blocks_total", "counter",
	  "READ blocks found present (hit) or fetched (miss)", "result",
	  { { "hit", &stats.cache_hits }, { "miss", &stats.cache_misses } } },
	{ "canopy_cache_waits_total", "counter",
	  "requests parked on a fetch already in flight", NULL,
	  { { NULL, &stats.cache_waits } } },
	{ "canopy_cache_readaheads_total", "counter",
	  "blocks fetched ahead of a sequential reader", NULL,
	  { { NULL, &stats.cache_readaheads } } },
	{ "canopy_cache_stale_total", "counter",
	  "cached files dropped because the backing file changed", NULL,
	  { { NULL, &stats.cache_stale } } },
	{ "canopy_source_bytes_total", "counter",
	  "bytes by where they came from: READ replies from the cache, "
	  "direct reads of the backing store, blocks received from peers",
	  "source",
	  { { "cache", &stats.bytes_from_cache },
	    { "backing", &stats.bytes_from_backing },
	    { "peers", &stats.bytes_from_peers } } },
	{ "canopy_read_replies_total", "counter",
	  "READ replies from cache files: spliced, written from a mapping of "
	  "the file, or copied", "how",
	  { { "splice", &stats.reply_splices },
	    { "mapped", &stats.reply_mapped },
	    { "copy", &stats.reply_copies } } },
	{ "canopy_polled_requests_total", "counter",
	  "/dev/fuse requests taken by a polling worker, without a wakeup",
	  NULL, { { NULL, &stats.polled } } },
	{ "canopy_unparks_total", "counter",
	  "parked /dev/fuse workers woken to read while the others were busy",
	  NULL, { { NULL, &stats.unparks } } },
	{ "canopy_parked_workers", "gauge",
	  "/dev/fuse workers parked while another reads", NULL,
	  { { NULL, &stats.parked } } },
	{ "canopy_uring_requests_total", "counter",
	  "requests that came over FUSE-over-io_uring", NULL,
	  { { NULL, &stats.uring_requests } } },
	{ "canopy_uring_handoffs_total", "counter",
	  "io_uring requests answered by a thread other than their queue's",
	  NULL, { { NULL, &stats.uring_handoffs } } },
	{ "canopy_splice_fallbacks_total", "counter",
	  "splices that failed midway and were copied instead", NULL,
	  { { NULL, &stats.splice_fallbacks } } },
	{ "canopy_nodes", "gauge", "inodes the kernel holds", NULL,
	  { { NULL, &stats.nodes } } },
	{ "canopy_peer_requests_total", "counter",
	  "requests served for peers (in) and sent to peers (out)",
	  "direction",
	  { { "in", &stats.peer_requests_in },
	    { "out", &stats.peer_requests_out } } },
	{ "canopy_peer_bytes_total", "counter",
	  "block bytes received from (in) and sent to (out) peers",
	  "direction",
	  { { "in", &stats.peer_bytes_in }, { "out", &stats.peer_bytes_out } } },
	{ "canopy_peer_refused_total", "counter",
	  "peer requests for paths outside the exports", NULL,
	  { { NULL, &stats.peer_refused } } },
	{ "canopy_peer_malformed_total", "counter",
	  "peer messages that did not decode", NULL,
	  { { NULL, &stats.peer_malformed } } },
	{ "canopy_peer_dropped_total", "counter",
	  "peer requests dropped because the queue was full", NULL,
	  { { NULL, &stats.peer_dropped } } },
	{ "canopy_peer_late_total", "counter",
	  "peer responses that came after their request gave up", NULL,
	  { { NULL, &stats.peer_late } } },
	{ "canopy_failovers_total", "counter",
	  "requests moved past a peer that failed", NULL,
	  { { NULL, &stats.failover_count } } },
	{ "canopy_auth_failures_total", "counter",
	  "peer messages whose authentication tag did not verify", NULL,
	  { { NULL, &stats.auth_failures } } },
	{ "canopy_meta_lookups_total", "counter",
	  "metadata answered by this node's cache (hit) or resolved (miss)",
	  "result",
	  { { "hit", &stats.meta_hits }, { "miss", &stats.meta_misses } } },
	{ "canopy_prefetch_requests_total", "counter",
	  "prefetch walks this node took part in", NULL,
	  { { NULL, &stats.prefetch_requests } } },
	{ "canopy_prefetch_files_total", "counter",
	  "regular files a prefetch made complete in the local cache", NULL,
	  { { NULL, &stats.prefetch_files } } },
	{ "canopy_prefetch_bytes_total", "counter",
	  "bytes of the files a prefetch made complete in the local cache",
	  NULL, { { NULL, &stats.prefetch_bytes } } },
	{ "canopy_prefetch_skipped_total", "counter",
	  "files a prefetch left out: larger than the cache", NULL,
	  { { NULL, &stats.prefetch_skipped } } },
	{ "canopy_prefetch_errors_total", "counter",
	  "files a prefetch could not read", NULL,
	  { { NULL, &stats.prefetch_errors } } },
};

/* A label value with \, " and newline escaped, as the format wants. */
static void prom_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void prom_head(FILE *f, const char *name, const char *type,
		      const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{mount="..."[,k="v"][,le="..."]} value */
static void prom_sample(FILE *f, const char *name, const char *mount,
			const char *k, const char *v, const char *le)
{
	fprintf(f, "%s{mount=\"", name);
	prom_escape(f, mount);
	fputc('"', f);
	if (k) {
		fprintf(f, ",%s=\"", k);
		prom_escape(f, v);
		fputc('"', f);
	}
	if (le)
		fprintf(f, ",le=\"%s\"", le);
	fputs("} ", f);
}

/* Does opcode @op appear in the output (as in stats_json)? */
static bool op_shown(unsigned op)
{
	return opnames[op] && (get(&stats.op_count[op]) || ops_table[op].fn);
}

static void prom_latency(FILE *f, const char *mount)
{
	static const char *const name = "canopy_fuse_request_duration_seconds";
	char le[32];
	unsigned op, b;

	prom_head(f, name, "histogram",
		  "time from reading a FUSE request to its reply, by opcode");
	for (op = 0; op < CANOPY_FUSE_OPCODES; op++) {
		uint64_t cum = 0;

		/* as in stats_json: a histogram once the opcode was seen */
		if (!op_shown(op) || !get(&stats.op_count[op]))
			continue;
		/* bucket b holds latencies under 2^b us; the last, the rest */
		for (b = 0; b < STATS_LAT_BUCKETS; b++) {
			cum += get(&stats.op_lat_hist[op][b]);
			if (b == STATS_LAT_BUCKETS - 1)
				break;
			snprintf(le, sizeof(le), "%g", (double)(1ULL << b) / 1e6);
			prom_sample(f, "canopy_fuse_request_duration_seconds_bucket",
				    mount, "opcode", opnames[op], le);
			fprintf(f, "%" PRIu64 "\n", cum);
		}
		prom_sample(f, "canopy_fuse_request_duration_seconds_bucket",
			    mount, "opcode", opnames[op], "+Inf");
		fprintf(f, "%" PRIu64 "\n", cum);
		prom_sample(f, "canopy_fuse_request_duration_seconds_sum", mount,
			    "opcode", opnames[op], NULL);
		fprintf(f, "%.9f\n", (double)get(&stats.op_lat_ns[op]) / 1e9);
		prom_sample(f, "canopy_fuse_request_duration_seconds_count",
			    mount, "opcode", opnames[op], NULL);
		fprintf(f, "%" PRIu64 "\n", cum);
	}
}

static void prom_read_sizes(FILE *f, const char *mount)
{
	char le[32];
	uint64_t cum = 0;
	unsigned b;

	prom_head(f, "canopy_fuse_read_request_bytes", "histogram",
		  "sizes of the READ requests the kernel sent");
	for (b = 0; b < STATS_SIZE_BUCKETS; b++) {
		cum += get(&stats.read_size_hist[b]);
		if (b == STATS_SIZE_BUCKETS - 1)
			snprintf(le, sizeof(le), "+Inf");
		else
			snprintf(le, sizeof(le), "%llu", 4096ULL << b);
		prom_sample(f, "canopy_fuse_read_request_bytes_bucket", mount,
			    NULL, NULL, le);
		fprintf(f, "%" PRIu64 "\n", cum);
	}
	prom_sample(f, "canopy_fuse_read_request_bytes_sum", mount, NULL, NULL,
		    NULL);
	fprintf(f, "%" PRIu64 "\n", get(&stats.read_bytes));
	prom_sample(f, "canopy_fuse_read_request_bytes_count", mount, NULL,
		    NULL, NULL);
	fprintf(f, "%" PRIu64 "\n", cum);
}

/* Per-opcode counters: one family, one sample per opcode shown. */
static void prom_ops(FILE *f, const char *mount, const char *name,
		     const char *help, counter_t *c)
{
	unsigned op;

	prom_head(f, name, "counter", help);
	for (op = 0; op < CANOPY_FUSE_OPCODES; op++) {
		if (!op_shown(op))
			continue;
		prom_sample(f, name, mount, "opcode", opnames[op], NULL);
		fprintf(f, "%" PRIu64 "\n", get(&c[op]));
	}
}

char *stats_prom(const char *mount)
{
	char *out = NULL;
	size_t outlen = 0, i, j;
	FILE *f;

	f = open_memstream(&out, &outlen);
	if (!f)
		return NULL;
	prom_head(f, "canopy_info", "gauge",
		  "always 1: the canopyd serving this mount, and its version");
	prom_sample(f, "canopy_info", mount, "version", CANOPY_VERSION, NULL);
	fputs("1\n", f);
	prom_ops(f, mount, "canopy_fuse_requests_total",
		 "FUSE requests answered, by opcode", stats.op_count);
	prom_ops(f, mount, "canopy_fuse_request_errors_total",
		 "FUSE requests answered with an error, by opcode",
		 stats.op_errors);
	prom_latency(f, mount);
	prom_read_sizes(f, mount);
	for (i = 0; i < sizeof(prom_flat) / sizeof(prom_flat[0]); i++) {
		const struct prom_family *fam = &prom_flat[i];

		prom_head(f, fam->name, fam->type, fam->help);
		for (j = 0; j < sizeof(fam->s) / sizeof(fam->s[0]) &&
			    fam->s[j].c; j++) {
			prom_sample(f, fam->name, mount, fam->label,
				    fam->s[j].label, NULL);
			fprintf(f, "%" PRIu64 "\n", get(fam->s[j].c));
		}
	}
	fclose(f);
	return out;
}
