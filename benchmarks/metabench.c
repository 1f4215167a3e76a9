/* SPDX-License-Identifier: MIT */
/*
 * benchmarks/metabench.c - metadata and small-file loops, timed in C.
 *
 *   metabench [-m stat|open|read] [-n PASSES] [-d SECONDS] [-t THREADS]
 *             [-b BUFSIZE] [-r ROOT] [-c] [-v] LISTFILE
 *
 * LISTFILE holds one path per line (relative paths are taken under ROOT).
 * Each pass visits every path once, in file order:
 *   stat  stat(2); a path that does not exist (ENOENT) counts as "enoent",
 *         which is what a list of missing paths measures
 *   open  open(O_RDONLY) + close
 *   read  open(O_RDONLY) + read until EOF + close
 * With -c the paths are opened relative to ROOT (chdir(ROOT) first), so
 * that only the components inside the tree are walked, not ROOT's own.
 * With -t the list is shared by THREADS threads that take batches of 64
 * paths from a common cursor. -n runs that many passes; -d keeps running
 * passes until SECONDS have elapsed (at least one, at least -n).
 *
 * -v prints the first 20 failures other than ENOENT to stderr.
 * Prints one JSON object: ops, ok, enoent, errors, bytes, seconds,
 * ops_per_s (all passes) and the per-pass rates.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_PASSES 100000

enum mb_mode { MODE_STAT, MODE_OPEN, MODE_READ };

struct mb_run {
	char **paths;
	size_t n_paths;
	enum mb_mode mode;
	size_t bufsize;
	int threads;
	atomic_size_t cursor;
	atomic_ullong ok, enoent, errors, bytes;
	pthread_barrier_t start, done;
	atomic_int stop;
	atomic_int reported;   /* failures printed so far (-v) */
	int verbose;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int visit(struct mb_run *r, const char *path, char *buf,
		 unsigned long long *bytes)
{
	struct stat sb;
	ssize_t n;
	int fd;

	if (r->mode == MODE_STAT)
		return stat(path, &sb) < 0 ? -errno : 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (r->mode == MODE_READ) {
		while ((n = read(fd, buf, r->bufsize)) > 0)
			*bytes += (unsigned long long)n;
		if (n < 0) {
			int ret = -errno;

			close(fd);
			return ret;
		}
	}
	return close(fd) < 0 ? -errno : 0;
}

static void *worker(void *arg)
{
	struct mb_run *r = arg;
	char *buf = malloc(r->bufsize);

	if (!buf) {
		perror("metabench: malloc");
		exit(1);
	}
	for (;;) {
		unsigned long long ok = 0, enoent = 0, errors = 0, bytes = 0;
		size_t i, end;

		pthread_barrier_wait(&r->start);
		if (atomic_load(&r->stop))
			break;
		while ((i = atomic_fetch_add(&r->cursor, BATCH)) < r->n_paths) {
			end = i + BATCH < r->n_paths ? i + BATCH : r->n_paths;
			for (; i < end; i++) {
				int ret = visit(r, r->paths[i], buf, &bytes);

				if (ret == 0)
					ok++;
				else if (ret == -ENOENT)
					enoent++;
				else
					errors++;
				if (ret && ret != -ENOENT && r->verbose &&
				    atomic_fetch_add(&r->reported, 1) < 20)
					fprintf(stderr, "metabench: %s: %s\n",
						r->paths[i], strerror(-ret));
			}
		}
		atomic_fetch_add(&r->ok, ok);
		atomic_fetch_add(&r->enoent, enoent);
		atomic_fetch_add(&r->errors, errors);
		atomic_fetch_add(&r->bytes, bytes);
		pthread_barrier_wait(&r->done);
	}
	free(buf);
	return NULL;
}

static int load_list(struct mb_run *r, const char *list, const char *root)
{
	FILE *f = fopen(list, "r");
	size_t cap = 0, len = 0;
	char *line = NULL;
	ssize_t n;

	if (!f)
		return -errno;
	while ((n = getline(&line, &len, f)) > 0) {
		char *p;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (r->n_paths == cap) {
			char **np;

			cap = cap ? cap * 2 : 1024;
			np = realloc(r->paths, cap * sizeof(*np));
			if (!np)
				return -ENOMEM;
			r->paths = np;
		}
		if (line[0] == '/' || !root)
			p = strdup(line);
		else if (asprintf(&p, "%s/%s", root, line) < 0)
			p = NULL;
		if (!p)
			return -ENOMEM;
		r->paths[r->n_paths++] = p;
	}
	free(line);
	fclose(f);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: metabench [-m stat|open|read] [-n PASSES] [-d SECONDS]\n"
		"                 [-t THREADS] [-b BUFSIZE] [-r ROOT] [-c] [-v] LISTFILE\n");
}

int main(int argc, char **argv)
{
	struct mb_run r = { .mode = MODE_STAT, .bufsize = 128 << 10,
			    .threads = 1 };
	const char *root = NULL, *mode = "stat";
	int rel = 0;
	double min_s = 0, t_all0, t_all, *rates;
	pthread_t *tids;
	int passes = 1, done = 0, c, i, ret;

	while ((c = getopt(argc, argv, "m:n:d:t:b:r:cvh")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			if (!strcmp(optarg, "stat"))
				r.mode = MODE_STAT;
			else if (!strcmp(optarg, "open"))
				r.mode = MODE_OPEN;
			else if (!strcmp(optarg, "read"))
				r.mode = MODE_READ;
			else {
				usage();
				return 2;
			}
			break;
		case 'n':
			passes = atoi(optarg);
			break;
		case 'd':
			min_s = atof(optarg);
			break;
		case 't':
			r.threads = atoi(optarg);
			break;
		case 'b':
			r.bufsize = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			root = optarg;
			break;
		case 'v':
			r.verbose = 1;
			break;
		case 'c':
			rel = 1;
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1 || passes < 1 || passes > MAX_PASSES ||
	    r.threads < 1 || r.bufsize < 1) {
		usage();
		return 2;
	}
	if (rel) {
		if (!root || chdir(root) < 0) {
			fprintf(stderr, "metabench: -c needs -r ROOT: %s\n",
				root ? strerror(errno) : "missing");
			return 1;
		}
		root = NULL;
	}
	ret = load_list(&r, argv[optind], root);
	if (ret < 0) {
		fprintf(stderr, "metabench: %s: %s\n", argv[optind],
			strerror(-ret));
		return 1;
	}
	if (!r.n_paths) {
		fprintf(stderr, "metabench: %s: empty list\n", argv[optind]);
		return 1;
	}

	rates = calloc(MAX_PASSES, sizeof(*rates));
	tids = calloc((size_t)r.threads, sizeof(*tids));
	if (!rates || !tids)
		return 1;
	pthread_barrier_init(&r.start, NULL, (unsigned)r.threads + 1);
	pthread_barrier_init(&r.done, NULL, (unsigned)r.threads + 1);
	for (i = 0; i < r.threads; i++) {
		ret = pthread_create(&tids[i], NULL, worker, &r);
		if (ret) {
			fprintf(stderr, "metabench: pthread_create: %s\n",
				strerror(ret));
			return 1;
		}
	}

	t_all0 = now_s();
	do {
		double t0 = now_s();

		atomic_store(&r.cursor, 0);
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.done);
		rates[done++] = (double)r.n_paths / (now_s() - t0);
	} while (done < MAX_PASSES &&
		 (done < passes || now_s() - t_all0 < min_s));
	t_all = now_s() - t_all0;
	atomic_store(&r.stop, 1);
	pthread_barrier_wait(&r.start);
	for (i = 0; i < r.threads; i++)
		pthread_join(tids[i], NULL);

	unsigned long long ops = (unsigned long long)r.n_paths * done;
	printf("{\"mode\": \"%s\", \"files\": %zu, \"threads\": %d, "
	       "\"passes\": %d, \"ops\": %llu, \"ok\": %llu, "
	       "\"enoent\": %llu, \"errors\": %llu, \"bytes\": %llu, "
	       "\"seconds\": %.6f, \"ops_per_s\": %.1f, ",
	       mode, r.n_paths, r.threads, done, ops,
	       (unsigned long long)r.ok, (unsigned long long)r.enoent,
	       (unsigned long long)r.errors, (unsigned long long)r.bytes,
	       t_all, ops / t_all);
	printf("\"pass_ops_per_s\": [");
	for (i = 0; i < done && i < 100; i++)
		printf("%s%.1f", i ? ", " : "", rates[i]);
	qsort(rates, (size_t)done, sizeof(*rates), cmp_double);
	printf("], \"median_pass_ops_per_s\": %.1f}\n", rates[done / 2]);
	return 0;
}
