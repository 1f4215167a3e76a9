/* SPDX-License-Identifier: MIT */
/*
 * benchmarks/simulate.c - time to load a tree on thousands of nodes, and
 * the load on the backing store, predicted with canopy's own trees.
 *
 *   simulate [-m MANIFEST | -F FILES] [-n NODES] [-r ROOTS] [-k FANOUTS]
 *            [--PARAM=VALUE ...] [--host-cores C]
 *
 * Every node runs one importer that visits the objects of a tree in the
 * same order (a directory's listing, then its files), as the ranks of a
 * job import the same modules. The trees, the position of every node in
 * them and the owner of every object come from daemon/tree.c, as in
 * canopyd (placement "file"; a listing belongs to its directory's path).
 *
 * canopy. Nodes with the same depth in every tree behave alike, so one
 * representative per depth vector is simulated (a handful of classes for
 * any N). For object o of tree tr, in visiting order:
 *
 *   start  S(o) = min over classes of D_c(o-1): the first node that wants
 *          o asks, and its request climbs d* hops (hop_us each);
 *   fetch  the root reads o from the backing store, one operation after
 *          the other: F(o) = S(o) + d*·hop + ops(o)·meta_us
 *          + reads(o)·data_us + bytes(o)·ns_per_byte;
 *   down   every hop below costs hop_us, the parent's service of its k
 *          children with `threads` server threads, ceil(k / threads) ·
 *          serve_us, and sending k copies over its link, k·bytes / link;
 *          so o is at depth d at A_d(o) = F(o) + d·down(o);
 *   node   D_c(o) = max(D_c(o-1), A_{d_c}(o)) + cpu(o), cpu(o) being the
 *          node's own work for the object (FUSE, cache write, importer).
 *
 * Every other node's request for o coalesces on the way (the daemons keep
 * what they forward), so the backing store serves each object once. The
 * time to load is max_c D_c(last), bounded below by the busiest node's
 * serving work and the backing store's slot time / slots.
 *
 * direct. Every node performs its own operations on the backing store:
 * T = max(one node alone, N · slot time of one node / slots).
 *
 * --host-cores C models the benchmark host instead of a cluster: all N
 * daemons and importers share C cores, so every node's cpu(o) stretches
 * by max(1, N / C) (for direct: N · cpu / C bounds T). Without it every
 * node has its own cores.
 *
 * Prints CSV: one row per system, N, R, k. Exit status 0, 1 on bad input.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

#define SIM_LIST_MAX 64

/* ---- parameters ------------------------------------------------------ */

struct sim_params {
	double meta_us;	      /* backing store: service of a metadata op */
	double data_us;	      /* ... fixed part of a read */
	double ns_per_byte;   /* ... per byte read */
	double read_kib;      /* ... bytes per read request, KiB */
	double slots;	      /* ... concurrent service slots */
	double canopy_ops;    /* metadata ops per file at the owner root */
	double direct_ops;    /* metadata ops per file for a direct reader */
	double dir_ops;	      /* metadata ops per directory listing */
	double entry_bytes;   /* bytes per listing entry on the wire */
	double hop_us;	      /* one message, one hop, one way */
	double link_gbps;     /* a node's link, GB/s (1e9 bytes) */
	double serve_us;      /* a node serving one child's request */
	double threads;	      /* server threads per node */
	double cpu_us;	      /* a canopy node's own work per file */
	double cpu_ns_byte;   /* ... and per byte of the file */
	double direct_cpu_us; /* a direct reader's work per file */
	double host_cores;    /* 0: a cluster; C: N nodes share C cores */
};

struct sim_param {
	const char *name;
	size_t off;
	double def;
	const char *help;
};

#define P(n, d, h)                                                             \
	{                                                                      \
#n, offsetof(struct sim_params, n), d, h                       \
	}
static const struct sim_param sim_param_tab[] = {
    P(meta_us, 250, "backing store: metadata op service time, us"),
    P(data_us, 0, "backing store: fixed service time of a read, us"),
    P(ns_per_byte, 2, "backing store: read service time per byte, ns"),
    P(read_kib, 128, "backing store: bytes per read request, KiB"),
    P(slots, 4, "backing store: concurrent service slots"),
    P(canopy_ops, 8, "metadata ops per file at the owner root"),
    P(direct_ops, 12, "metadata ops per file for one direct reader"),
    P(dir_ops, 3, "metadata ops per directory listing"),
    P(entry_bytes, 160, "bytes per directory entry in a listing"),
    P(hop_us, 5, "message latency of one hop, one way, us"),
    P(link_gbps, 12.5, "link bandwidth of a node, GB/s"),
    P(serve_us, 20, "a node serving one request of a child, us"),
    P(threads, 4, "server threads per node (transport.threads)"),
    P(cpu_us, 300, "a canopy node's own work per file, us"),
    P(cpu_ns_byte, 0.5, "a canopy node's own work per byte, ns"),
    P(direct_cpu_us, 100, "a direct reader's own work per file, us"),
    P(host_cores, 0, "0: a cluster; C: all nodes share C cores"),
};
#undef P
#define SIM_NPARAMS (sizeof(sim_param_tab) / sizeof(sim_param_tab[0]))

static double *param_ptr(struct sim_params *p, size_t i)
{
	return (double *)((char *)p + sim_param_tab[i].off);
}

/* ---- the workload ------------------------------------------------------ */

struct sim_obj {
	char *path;
	uint64_t size; /* file bytes; for a listing, its entries */
	bool dir;
};

struct sim_load {
	struct sim_obj *o;
	size_t n, cap;
	uint64_t files, dirs, bytes;
};

static int load_add(struct sim_load *l, const char *path, uint64_t size,
		    bool dir)
{
	struct sim_obj *no;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 1024;

		no = realloc(l->o, ncap * sizeof(*no));
		if (!no)
			return -ENOMEM;
		l->o = no;
		l->cap = ncap;
	}
	l->o[l->n].path = strdup(path);
	if (!l->o[l->n].path)
		return -ENOMEM;
	l->o[l->n].size = size;
	l->o[l->n].dir = dir;
	l->n++;
	if (dir) {
		l->dirs++;
	} else {
		l->files++;
		l->bytes += size;
	}
	return 0;
}

static void load_free(struct sim_load *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->o[i].path);
	free(l->o);
	memset(l, 0, sizeof(*l));
}

/*
 * A manifest: one object a line, in visiting order, "d ENTRIES PATH" for a
 * directory listing or "f SIZE PATH" for a file (tab or space separated).
 * Returns 0, -EINVAL (with the line number in *bad_line) or -errno.
 */
static int load_manifest(const char *file, struct sim_load *l, size_t *bad)
{
	char *line = NULL, kind, *path;
	unsigned long long size;
	size_t cap = 0, no = 0;
	int ret = 0, used;
	ssize_t len;
	FILE *f;

	f = fopen(file, "r");
	if (!f)
		return -errno;
	while ((len = getline(&line, &cap, f)) > 0) {
		no++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len)
			continue;
		if (sscanf(line, "%c %llu %n", &kind, &size, &used) != 2 ||
		    (kind != 'd' && kind != 'f') || !line[used]) {
			*bad = no;
			ret = -EINVAL;
			goto out_close;
		}
		path = line + used;
		ret = load_add(l, path, size, kind == 'd');
		if (ret)
			goto out_close;
	}
	if (ferror(f))
		ret = -EIO;
out_close:
	free(line);
	fclose(f);
	return ret;
}

/* @files files of 16 KiB, 25 to a directory, two directory levels. */
static int load_synthetic(struct sim_load *l, uint64_t files)
{
	char path[128];
	uint64_t i;
	int ret;

	for (i = 0; i < files; i++) {
		if (i % 25 == 0) {
			snprintf(path, sizeof(path), "/site/pkg%llu/sub%llu",
				 (unsigned long long)(i / 500),
				 (unsigned long long)(i / 25 % 20));
			ret = load_add(l, path, files - i < 25 ? files - i : 25,
				       true);
			if (ret)
				return ret;
		}
		snprintf(path, sizeof(path), "/site/pkg%llu/sub%llu/m%llu.py",
			 (unsigned long long)(i / 500),
			 (unsigned long long)(i / 25 % 20),
			 (unsigned long long)i);
		ret = load_add(l, path, 16384, false);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- costs of one object ------------------------------------------------ */

static double obj_reads(const struct sim_params *p, const struct sim_obj *o)
{
	double rq = p->read_kib * 1024.0;

	return o->dir || !o->size ? 0 : ceil((double)o->size / rq);
}

/* Backing-store operations to fetch @o once, with @ops per file. */
static double obj_ops(const struct sim_params *p, const struct sim_obj *o,
		      double ops)
{
	return o->dir ? p->dir_ops : ops + obj_reads(p, o);
}

/* Slot time of those operations, seconds. */
static double obj_slot_s(const struct sim_params *p, const struct sim_obj *o,
			 double ops)
{
	double s = (o->dir ? p->dir_ops : ops) * p->meta_us * 1e-6;

	if (!o->dir)
		s += obj_reads(p, o) * p->data_us * 1e-6 +
		     (double)o->size * p->ns_per_byte * 1e-9;
	return s;
}

/* Bytes of @o on the wire. */
static double obj_bytes(const struct sim_params *p, const struct sim_obj *o)
{
	return o->dir ? (double)o->size * p->entry_bytes : (double)o->size;
}

/* ---- one configuration ------------------------------------------------- */

struct sim_result {
	double time_s;
	double backing_ops, backing_bytes, backing_slot_s;
	double chain_backing_s; /* sum of the fetches on the critical path */
	double chain_cpu_s;	/* sum of the nodes' own work */
	double max_served;	/* requests served by the busiest node */
	uint32_t height, classes, max_interior;
};

/* Nodes grouped by their depth in every tree. */
struct sim_class {
	uint32_t *depth; /* [R] */
	uint32_t count;
	double done; /* D_c: when its node finished the last object */
};

static int class_cmp_r; /* qsort has no context argument */

static int class_cmp(const void *a, const void *b)
{
	const uint32_t *x = *(uint32_t *const *)a, *y = *(uint32_t *const *)b;
	int i;

	for (i = 0; i < class_cmp_r; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/*
 * Depth vectors of all @t's nodes, deduplicated into *out (*nout classes);
 * also the requests the busiest node serves (its children in each tree
 * times the objects of that tree, @per_tree[tr]) and the most trees in
 * which one node forwards. On success *out belongs to the caller (free
 * each depth, then the array).
 */
static int classes_of(const struct tree *t, const uint32_t *per_tree,
		      struct sim_class **out, uint32_t *nout,
		      struct sim_result *res)
{
	uint32_t n = tree_nodes(t), r = tree_count(t), v, tr, nc = 0, i;
	uint32_t **vec;
	struct sim_class *cls;
	int ret = -ENOMEM;

	vec = calloc(n, sizeof(*vec));
	if (!vec)
		return -ENOMEM;
	for (v = 0; v < n; v++) {
		double served = 0;
		uint32_t inter = 0;

		vec[v] = malloc(r * sizeof(**vec));
		if (!vec[v])
			goto err_free_vec;
		for (tr = 0; tr < r; tr++) {
			vec[v][tr] = tree_depth(t, tr, v);
			served += (double)tree_children(t, tr, v, NULL, 0) *
				  per_tree[tr];
			inter += tree_is_interior(t, tr, v);
		}
		if (served > res->max_served)
			res->max_served = served;
		if (inter > res->max_interior)
			res->max_interior = inter;
	}
	class_cmp_r = (int)r;
	qsort(vec, n, sizeof(*vec), class_cmp);
	cls = calloc(n, sizeof(*cls));
	if (!cls)
		goto err_free_vec;
	for (v = 0; v < n; v++) {
		if (nc && class_cmp(&vec[v], &cls[nc - 1].depth) == 0) {
			cls[nc - 1].count++;
			free(vec[v]);
			continue;
		}
		cls[nc].depth = vec[v];
		cls[nc].count = 1;
		nc++;
	}
	free(vec);
	*out = cls;
	*nout = nc;
	return 0;

err_free_vec:
	for (i = 0; i < n; i++)
		free(vec[i]);
	free(vec);
	return ret;
}

static int sim_canopy(const struct sim_params *p, const struct sim_load *l,
		      uint32_t n, uint32_t r, uint32_t k,
		      struct sim_result *res)
{
	double link = p->link_gbps * 1e9, stretch = 1, start, fetch, down;
	double serve, hop = p->hop_us * 1e-6, cpu, t;
	uint32_t *owner, *per_tree, nc = 0, c, first, tr;
	struct sim_class *cls = NULL;
	struct tree *tree;
	size_t i;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = tree_new(n, k, NULL, r, &tree);
	if (ret)
		return ret;
	ret = -ENOMEM;
	owner = calloc(l->n, sizeof(*owner));
	per_tree = calloc(r, sizeof(*per_tree));
	if (!owner || !per_tree)
		goto err_free;
	for (i = 0; i < l->n; i++) {
		owner[i] =
		    tree_owner_file(tree, l->o[i].path, strlen(l->o[i].path));
		per_tree[owner[i]]++;
	}
	ret = classes_of(tree, per_tree, &cls, &nc, res);
	if (ret)
		goto err_free;
	res->height = tree_height(tree);
	res->classes = nc;
	if (p->host_cores > 0 && n > p->host_cores)
		stretch = n / p->host_cores;
	serve = ceil(k / p->threads) * p->serve_us * 1e-6;

	for (i = 0; i < l->n; i++) {
		const struct sim_obj *o = &l->o[i];
		double bytes = obj_bytes(p, o);

		tr = owner[i];
		first = 0;
		for (c = 1; c < nc; c++)
			if (cls[c].done < cls[first].done)
				first = c;
		start = cls[first].done;
		t = obj_slot_s(p, o, p->canopy_ops);
		fetch = start + cls[first].depth[tr] * hop + t;
		down = hop + serve + k * bytes / link;
		cpu = o->dir
			  ? 0
			  : (p->cpu_us * 1e-6 + bytes * p->cpu_ns_byte * 1e-9) *
				stretch;
		for (c = 0; c < nc; c++) {
			double at = fetch + cls[c].depth[tr] * down;

			cls[c].done =
			    (cls[c].done > at ? cls[c].done : at) + cpu;
		}
		res->chain_backing_s += t;
		res->chain_cpu_s += cpu;
		res->backing_ops += obj_ops(p, o, p->canopy_ops);
		res->backing_slot_s += t;
		res->backing_bytes += o->dir ? 0 : (double)o->size;
	}
	for (c = 0; c < nc; c++)
		if (cls[c].done > res->time_s)
			res->time_s = cls[c].done;
	/* throughput bounds: the busiest server, the backing store */
	t = res->max_served * p->serve_us * 1e-6 / p->threads;
	if (t > res->time_s)
		res->time_s = t;
	t = res->backing_slot_s / p->slots;
	if (t > res->time_s)
		res->time_s = t;
	ret = 0;

err_free:
	for (c = 0; c < nc; c++)
		free(cls[c].depth);
	free(cls);
	free(per_tree);
	free(owner);
	tree_free(tree);
	return ret;
}

static void sim_direct(const struct sim_params *p, const struct sim_load *l,
		       uint32_t n, struct sim_result *res)
{
	double alone = 0, slot = 0, cpu = 0, t;
	size_t i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < l->n; i++) {
		const struct sim_obj *o = &l->o[i];
		double s = obj_slot_s(p, o, p->direct_ops);

		slot += s;
		cpu += o->dir ? 0 : p->direct_cpu_us * 1e-6;
		res->backing_ops += n * obj_ops(p, o, p->direct_ops);
		res->backing_bytes += o->dir ? 0 : (double)n * o->size;
	}
	alone = slot + cpu;
	res->backing_slot_s = n * slot;
	res->chain_backing_s = slot;
	res->chain_cpu_s = cpu;
	res->time_s = alone;
	t = n * slot / p->slots;
	if (t > res->time_s)
		res->time_s = t;
	if (p->host_cores > 0) {
		t = n * cpu / p->host_cores;
		if (t > res->time_s)
			res->time_s = t;
	}
}

/* ---- command line ------------------------------------------------------- */

/* A comma-separated list of positive integers into out[0..SIM_LIST_MAX). */
static int parse_list(const char *s, uint32_t *out, size_t *n)
{
	char *end;
	unsigned long v;

	*n = 0;
	do {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || end == s || v == 0 || v > UINT32_MAX ||
		    (*end && *end != ',') || *n == SIM_LIST_MAX)
			return -EINVAL;
		out[(*n)++] = (uint32_t)v;
		s = *end ? end + 1 : end;
	} while (*s);
	return 0;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: simulate [-m MANIFEST | -F FILES] [-n NODES] "
		"[-r ROOTS] [-k FANOUTS]\n"
		"                [-s canopy,direct] [--PARAM=VALUE ...]\n"
		"\n"
		"  -m FILE   objects in visiting order: \"d ENTRIES PATH\" or "
		"\"f SIZE PATH\"\n"
		"  -F N      N synthetic 16 KiB files instead (default 3000)\n"
		"  -n LIST   node counts (1000,2000,5000,10000)\n"
		"  -r LIST   root counts (1,2,4,8)\n"
		"  -k LIST   fan-outs (2,4,8,16,32)\n"
		"  -s WHICH  canopy, direct or both (both)\n"
		"\nmodel parameters (default):\n");
	for (i = 0; i < SIM_NPARAMS; i++)
		fprintf(f, "  --%-14s %-8g %s\n", sim_param_tab[i].name,
			sim_param_tab[i].def, sim_param_tab[i].help);
}

static void print_row(const char *sys, uint32_t n, uint32_t r, uint32_t k,
		      const struct sim_result *x)
{
	printf("%s,%u,%u,%u,%u,%.6f,%.0f,%.0f,%.6f,%.6f,%.6f,%.0f,%u,%u\n", sys,
	       n, r, k, x->height, x->time_s, x->backing_ops, x->backing_bytes,
	       x->backing_slot_s, x->chain_backing_s, x->chain_cpu_s,
	       x->max_served, x->max_interior, x->classes);
}

int main(int argc, char **argv)
{
	uint32_t nodes[SIM_LIST_MAX] = {1000, 2000, 5000, 10000};
	uint32_t roots[SIM_LIST_MAX] = {1, 2, 4, 8};
	uint32_t fan[SIM_LIST_MAX] = {2, 4, 8, 16, 32};
	size_t nn = 4, nr = 4, nk = 5, a, b, c, i, bad = 0;
	struct option lopts[SIM_NPARAMS + 2];
	const char *manifest = NULL, *which = "both";
	struct sim_load load = {0};
	struct sim_params p;
	struct sim_result res;
	uint64_t files = 3000;
	int opt, idx, ret;
	char *end;

	for (i = 0; i < SIM_NPARAMS; i++) {
		*param_ptr(&p, i) = sim_param_tab[i].def;
		lopts[i] = (struct option){sim_param_tab[i].name,
					   required_argument, NULL, 0};
	}
	lopts[i++] = (struct option){"help", no_argument, NULL, 'h'};
	lopts[i] = (struct option){0};

	while ((opt = getopt_long(argc, argv, "m:F:n:r:k:s:h", lopts, &idx)) !=
	       -1) {
		switch (opt) {
		case 0:
			errno = 0;
			*param_ptr(&p, idx) = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    *param_ptr(&p, idx) < 0) {
				fprintf(stderr,
					"simulate: --%s %s: not a "
					"number >= 0\n",
					lopts[idx].name, optarg);
				return 1;
			}
			break;
		case 'm':
			manifest = optarg;
			break;
		case 'F':
			files = strtoull(optarg, &end, 10);
			if (*end || !files) {
				fprintf(stderr, "simulate: -F %s\n", optarg);
				return 1;
			}
			break;
		case 'n':
		case 'r':
		case 'k':
			ret = parse_list(optarg,
					 opt == 'n'   ? nodes
					 : opt == 'r' ? roots
						      : fan,
					 opt == 'n'   ? &nn
					 : opt == 'r' ? &nr
						      : &nk);
			if (ret) {
				fprintf(stderr,
					"simulate: -%c %s: a list of "
					"positive integers\n",
					opt, optarg);
				return 1;
			}
			break;
		case 's':
			which = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc ||
	    (strcmp(which, "both") && strcmp(which, "canopy") &&
	     strcmp(which, "direct")) ||
	    p.slots <= 0 || p.threads <= 0 || p.link_gbps <= 0 ||
	    p.read_kib <= 0) {
		usage(stderr);
		return 1;
	}
	ret = manifest ? load_manifest(manifest, &load, &bad)
		       : load_synthetic(&load, files);
	if (ret) {
		if (bad)
			fprintf(stderr,
				"simulate: %s:%zu: not \"d|f NUMBER "
				"PATH\"\n",
				manifest, bad);
		else
			fprintf(stderr, "simulate: %s: %s\n",
				manifest ? manifest : "workload",
				strerror(-ret));
		goto out_free;
	}
	if (!load.files) {
		fprintf(stderr, "simulate: no files in the workload\n");
		ret = -EINVAL;
		goto out_free;
	}

	printf("system,nodes,roots,fanout,height,time_s,backing_ops,"
	       "backing_bytes,backing_slot_s,chain_backing_s,chain_cpu_s,"
	       "max_served,max_interior_trees,classes\n");
	for (a = 0; a < nn; a++) {
		if (strcmp(which, "canopy")) {
			sim_direct(&p, &load, nodes[a], &res);
			print_row("direct", nodes[a], 0, 0, &res);
		}
		if (!strcmp(which, "direct"))
			continue;
		for (b = 0; b < nr; b++) {
			if (roots[b] > nodes[a])
				continue;
			for (c = 0; c < nk; c++) {
				ret = sim_canopy(&p, &load, nodes[a], roots[b],
						 fan[c], &res);
				if (ret) {
					fprintf(stderr,
						"simulate: N=%u R=%u "
						"k=%u: %s\n",
						nodes[a], roots[b], fan[c],
						strerror(-ret));
					goto out_free;
				}
				print_row("canopy", nodes[a], roots[b], fan[c],
					  &res);
			}
		}
	}
	fprintf(stderr,
		"simulate: %llu files, %llu directories, %.1f MiB; "
		"parameters:",
		(unsigned long long)load.files, (unsigned long long)load.dirs,
		load.bytes / 1048576.0);
	for (i = 0; i < SIM_NPARAMS; i++)
		fprintf(stderr, " %s=%g", sim_param_tab[i].name,
			*param_ptr(&p, i));
	fputc('\n', stderr);
	ret = 0;
out_free:
	load_free(&load);
	return ret ? 1 : 0;
}
