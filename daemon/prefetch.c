// SPDX-License-Identifier: MIT
/*
 * daemon/prefetch.c - canopyctl prefetch: warm every node's cache with a
 * directory tree before a job needs it.
 *
 * DESIGN
 *
 * The walk. A node walks each path through its normal resolution path:
 * meta_stat() and meta_list() for metadata, resolve_range_wait() for the
 * blocks of every regular file, so a node in a tree asks its parent in the
 * owner's tree, every hop keeps what it forwards and coalesces identical
 * requests, and the backing store sees each file once however many nodes
 * walk at the same time. Symbolic links are warmed (meta_readlink), not
 * followed. PF_THREADS threads walk together, each an aux worker (its own
 * buffer and io_uring), sharing one stack of paths under walk->lock; the
 * walk ends when the stack is empty and no thread holds an item, or at the
 * deadline, or when the daemon stops.
 *
 * The broadcast. Tree 0 of the topology carries it. The node that gets the
 * command sends PREFETCH to the root of tree 0 (or is the root); a node that
 * gets PREFETCH sends it on to its children in tree 0, walks, then waits for
 * their PREFETCH_DONE and answers its own PREFETCH_DONE, with the counts of
 * its subtree, to whoever sent it. So the command returns once the whole
 * tree is done. A child that cannot be sent to is skipped and its children
 * are sent to instead (only the dead node is missing); a child that stops
 * answering pings, or has not answered by the deadline, is reported
 * missing with its whole subtree. Each level gives its children a deadline
 * two transport timeouts (at most a quarter of what is left) before its
 * own, and ends its own walk half that before, so answers climb in time.
 *
 * Threads: a PREFETCH from a peer arrives on a server thread, which starts a
 * job thread (detached, at most PF_JOBS_MAX at once: more are answered
 * -EBUSY) and returns, so servers are never held by a walk (a walk needs the
 * parents' servers). The command runs its job on the control connection's
 * thread. pf.lock protects pf.jobs and pf.stop; prefetch_stop() (from
 * peers_stop(), before the transport closes) sets pf.stop, which every walk
 * and wait checks at least once per transport timeout, and waits until
 * pf.jobs is 0. No lock is held across a peer call or a backing-store
 * syscall.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "fabric.h"
#include "peer_i.h"
#include "tree.h"
#include "wire.h"

#define PF_THREADS 4  /* walkers per node and job */
#define PF_JOBS_MAX 4 /* jobs at once on one node */
#define PF_SHOW 8     /* missing nodes named in canopyctl's answer */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned jobs; /* protected by lock */
	bool stop;     /* protected by lock */
} pf = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static bool pf_stopping(struct canopy *cp)
{
	bool stop;

	pthread_mutex_lock(&pf.lock);
	stop = pf.stop;
	pthread_mutex_unlock(&pf.lock);
	return stop || atomic_load(&cp->stopping);
}

/* Count a job in; false if there are too many or the daemon stops. */
static bool job_enter(void)
{
	bool ok;

	pthread_mutex_lock(&pf.lock);
	ok = !pf.stop && pf.jobs < PF_JOBS_MAX;
	if (ok)
		pf.jobs++;
	pthread_mutex_unlock(&pf.lock);
	return ok;
}

static void job_leave(void)
{
	pthread_mutex_lock(&pf.lock);
	pf.jobs--;
	pthread_cond_broadcast(&pf.cond);
	pthread_mutex_unlock(&pf.lock);
}

/* ---- the walk on one node ------------------------------------------------ */

struct item {
	char *path;
	bool have_stx; /* stx came with the listing */
	struct statx stx;
};

struct walk {
	struct canopy *cp;
	uint64_t deadline;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* fields below are protected by lock */
	struct item *stack;
	size_t n, cap;
	unsigned busy;  /* threads working on an item */
	bool cut;       /* stopped by the deadline or the daemon */
	uint64_t files, bytes, skipped, errors;
};

/* Push @path (taken over; freed on failure). walk->lock held. */
static int push_locked(struct walk *wk, char *path, const struct statx *stx)
{
	if (wk->n == wk->cap) {
		size_t ncap = wk->cap ? wk->cap * 2 : 256;
		struct item *ns = realloc(wk->stack, ncap * sizeof(*ns));

		if (!ns) {
			free(path);
			return -ENOMEM;
		}
		wk->stack = ns;
		wk->cap = ncap;
	}
	wk->stack[wk->n].path = path;
	wk->stack[wk->n].have_stx = stx != NULL;
	if (stx)
		wk->stack[wk->n].stx = *stx;
	wk->n++;
	return 0;
}

static void count(struct walk *wk, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&wk->lock);
	*field += n;
	pthread_mutex_unlock(&wk->lock);
}

/* Make the regular file @path complete in the local cache. */
static void warm_file(struct walk *wk, struct worker *w, const char *path,
		      const struct statx *stx)
{
	struct cache_obj *o;
	struct ident id;
	int ret;

	ident_from_statx(&id, stx);
	ret = cache_obj_get(wk->cp->cache, path, &id, &o);
	if (ret)
		goto err;
	ret = cache_obj_open(o);
	if (ret == -ENOSPC) {
		cache_obj_put(o);
		STAT_INC(prefetch_skipped);
		count(wk, &wk->skipped, 1);
		return;
	}
	if (ret) {
		cache_obj_put(o);
		goto err;
	}
	ret = resolve_range_wait(w, o, 0, id.size);
	cache_obj_close(o);
	cache_obj_put(o);
	if (ret)
		goto err;
	STAT_INC(prefetch_files);
	STAT_ADD(prefetch_bytes, id.size);
	pthread_mutex_lock(&wk->lock);
	wk->files++;
	wk->bytes += id.size;
	pthread_mutex_unlock(&wk->lock);
	return;
err:
	if (ret == -ENOENT || ret == -ESTALE)
		return; /* gone or changed since it was listed */
	log_warn_rl("prefetch %s: %s", path, strerror(-ret));
	STAT_INC(prefetch_errors);
	count(wk, &wk->errors, 1);
}

/* Push the entries of directory @path. */
static void walk_dir(struct walk *wk, struct worker *w, const char *path)
{
	struct meta_list *l;
	size_t i;
	int ret;

	ret = meta_list(w, path, &l);
	if (ret) {
		if (ret != -ENOENT && ret != -ENOTDIR) {
			log_warn_rl("prefetch %s: %s", path, strerror(-ret));
			count(wk, &wk->errors, 1);
		}
		return;
	}
	for (i = 0; i < l->n; i++) {
		const struct meta_dent *d = &l->ents[i];
		char *child;

		if (d->err)
			continue;
		if (S_ISLNK(d->stx.stx_mode)) {
			char target[WIRE_PATH_MAX];

			child = view_join(path, d->name);
			if (child)
				meta_readlink(w, child, target, sizeof(target));
			free(child);
			continue;
		}
		if (!S_ISDIR(d->stx.stx_mode) && !S_ISREG(d->stx.stx_mode))
			continue;
		child = view_join(path, d->name);
		pthread_mutex_lock(&wk->lock);
		ret = child ? push_locked(wk, child, &d->stx) : -ENOMEM;
		if (ret)
			wk->errors++;
		pthread_cond_broadcast(&wk->cond);
		pthread_mutex_unlock(&wk->lock);
	}
	meta_list_put(l);
}

static void walk_item(struct walk *wk, struct worker *w, struct item *it)
{
	struct statx stx;
	int ret;

	if (!it->have_stx) {
		ret = meta_stat(w, it->path, &stx);
		if (ret) {
			log_warn("prefetch %s: %s", it->path, strerror(-ret));
			count(wk, &wk->errors, 1);
			return;
		}
		it->stx = stx;
	}
	if (S_ISDIR(it->stx.stx_mode))
		walk_dir(wk, w, it->path);
	else if (S_ISREG(it->stx.stx_mode))
		warm_file(wk, w, it->path, &it->stx);
	else if (S_ISLNK(it->stx.stx_mode)) {
		char target[WIRE_PATH_MAX];

		meta_readlink(w, it->path, target, sizeof(target));
	}
}

struct walker {
	struct walk *wk;
	struct worker w;
	pthread_t tid;
	bool started;
};

static void *walker_main(void *arg)
{
	struct walker *wr = arg;
	struct walk *wk = wr->wk;
	struct item it;

	for (;;) {
		pthread_mutex_lock(&wk->lock);
		while (!wk->n && wk->busy)
			pthread_cond_wait(&wk->cond, &wk->lock);
		if (wk->n && (now_ns() >= wk->deadline ||
			      pf_stopping(wk->cp))) {
			/* drop what is left: the walk is cut short */
			while (wk->n)
				free(wk->stack[--wk->n].path);
			wk->cut = true;
		}
		if (!wk->n) {
			pthread_cond_broadcast(&wk->cond);
			pthread_mutex_unlock(&wk->lock);
			break;
		}
		it = wk->stack[--wk->n];
		wk->busy++;
		pthread_mutex_unlock(&wk->lock);

		walk_item(wk, &wr->w, &it);
		free(it.path);

		pthread_mutex_lock(&wk->lock);
		wk->busy--;
		if (!wk->n && !wk->busy)
			pthread_cond_broadcast(&wk->cond);
		pthread_mutex_unlock(&wk->lock);
	}
	return NULL;
}

/*
 * Walk @n paths on this node until done or @deadline. Adds this node to @r:
 * as done with its counts, or as missing if the walk was cut short.
 */
static void walk_local(struct canopy *cp, char (*paths)[WIRE_PATH_MAX + 1],
		       size_t n, uint64_t deadline, uint32_t self,
		       struct wire_prefetch_done *r)
{
	struct walker wr[PF_THREADS];
	struct walk wk;
	unsigned i, nw = 0;
	size_t k;
	int ret = 0;

	memset(&wk, 0, sizeof(wk));
	memset(wr, 0, sizeof(wr));
	wk.cp = cp;
	wk.deadline = deadline;
	pthread_mutex_init(&wk.lock, NULL);
	pthread_cond_init(&wk.cond, NULL);
	STAT_INC(prefetch_requests);
	pthread_mutex_lock(&wk.lock);
	for (k = 0; k < n && !ret; k++) {
		char *p = strdup(paths[k]);

		ret = p ? push_locked(&wk, p, NULL) : -ENOMEM;
	}
	pthread_mutex_unlock(&wk.lock);
	for (i = 0; i < PF_THREADS && !ret; i++) {
		wr[i].wk = &wk;
		wr[i].w.idx = 2000 + i;
		if (worker_setup_aux(cp, &wr[i].w)) {
			worker_teardown(&wr[i].w);
			break;
		}
		nw++;
	}
	/* this thread walks as the first walker */
	for (i = 1; i < nw; i++)
		wr[i].started = !pthread_create(&wr[i].tid, NULL, walker_main,
						&wr[i]);
	if (nw)
		walker_main(&wr[0]);
	for (i = 0; i < nw; i++) {
		if (wr[i].started)
			pthread_join(wr[i].tid, NULL);
		peers_worker_release(cp, &wr[i].w);
		worker_teardown(&wr[i].w);
	}
	while (wk.n)
		free(wk.stack[--wk.n].path);
	free(wk.stack);
	pthread_cond_destroy(&wk.cond);
	pthread_mutex_destroy(&wk.lock);

	if (ret || !nw || wk.cut) {
		if (!r->err)
			r->err = ret ? ret : !nw ? -ENOMEM : -ETIMEDOUT;
		if (r->nlisted < WIRE_PREFETCH_LISTED)
			r->listed[r->nlisted++] = self;
		r->nodes_missing++;
	} else {
		r->nodes_done++;
	}
	/* what was warmed counts even on a walk cut short */
	r->files += wk.files;
	r->bytes += wk.bytes;
	r->skipped += wk.skipped;
	r->errors += wk.errors;
	if (wk.files > r->files_max)
		r->files_max = wk.files;
	if (wk.bytes > r->bytes_max)
		r->bytes_max = wk.bytes;
}

/* ---- the broadcast ------------------------------------------------------- */

static void missing_add(struct wire_prefetch_done *r, uint32_t node)
{
	r->nodes_missing++;
	if (r->nlisted < WIRE_PREFETCH_LISTED)
		r->listed[r->nlisted++] = node;
}

/* @node and everything below it in tree 0 did not report. */
static void missing_subtree(struct peers *ps, struct wire_prefetch_done *r,
			    uint32_t node)
{
	uint64_t n = tree_nodes(ps->tree), k = tree_fanout(ps->tree);
	uint64_t lo = tree_pos(ps->tree, 0, node), hi = lo, p;

	while (lo < n) {
		for (p = lo; p <= hi && p < n; p++)
			missing_add(r, tree_node_at(ps->tree, 0, (uint32_t)p));
		lo = k * lo + 1;
		hi = k * hi + k;
	}
}

static void merge(struct wire_prefetch_done *r,
		  const struct wire_prefetch_done *c)
{
	unsigned i;

	if (!r->err)
		r->err = c->err;
	r->files += c->files;
	r->bytes += c->bytes;
	r->skipped += c->skipped;
	r->errors += c->errors;
	if (c->files_max > r->files_max)
		r->files_max = c->files_max;
	if (c->bytes_max > r->bytes_max)
		r->bytes_max = c->bytes_max;
	r->nodes_done += c->nodes_done;
	r->nodes_missing += c->nodes_missing;
	for (i = 0; i < c->nlisted && r->nlisted < WIRE_PREFETCH_LISTED; i++)
		r->listed[r->nlisted++] = c->listed[i];
}

struct job {
	struct peers *ps;
	struct wire_prefetch *m; /* paths, and the timeout it came with */
	uint64_t deadline;
	bool walk_self;
	uint32_t *targets; /* nodes to send to: [ps->n] */
	size_t ntargets;
	struct wire_prefetch_done res;
	/* a job started by a peer answers it */
	bool from_peer;
	uint32_t parent;
	uint64_t req_id;
};

struct sent {
	uint32_t to;
	struct call c;
};

static void add_children(struct job *j, uint32_t node)
{
	struct peers *ps = j->ps;
	uint32_t nk = tree_children(ps->tree, 0, node, NULL, 0);

	if (j->ntargets + nk > ps->n)
		return; /* cannot happen: each node is a target once */
	tree_children(ps->tree, 0, node, j->targets + j->ntargets, nk);
	j->ntargets += nk;
}

/* Wait for the answer of @s until the deadline; merge it or the loss. */
static void wait_child(struct job *j, struct sent *s)
{
	struct peers *ps = j->ps;
	struct wire_prefetch_done d;
	bool done = false;
	uint64_t now;

	for (;;) {
		now = now_ns();
		if (now >= j->deadline || pf_stopping(ps->cp))
			break;
		if (peer_call_wait(ps, &s->c, j->deadline - now < ps->timeout_ns
						      ? j->deadline - now
						      : ps->timeout_ns)) {
			done = true;
			break;
		}
		/* busy walking, or gone? */
		if (peer_ping(ps, s->to)) {
			peer_failed(ps, s->to, -ETIMEDOUT);
			break;
		}
	}
	if (!done)
		done = peer_call_cancel(ps, &s->c);
	if (!done) {
		log_warn("prefetch: %s did not report: counted missing with "
			 "the nodes below it", peer_name(ps, s->to));
		missing_subtree(ps, &j->res, s->to);
		return;
	}
	peer_answered(ps, s->to);
	if (wire_decode_prefetch_done((uint8_t *)s->c.resp + WIRE_HDR_LEN,
				      s->c.resp_len - WIRE_HDR_LEN, &d)) {
		STAT_INC(peer_malformed);
		missing_subtree(ps, &j->res, s->to);
	} else {
		merge(&j->res, &d);
	}
	fab_recv_done(ps->fab, s->c.resp);
}

/* Forward, walk, gather: the whole job of one node (see the top). */
static void job_run(struct job *j)
{
	struct peers *ps = j->ps;
	struct sent *sent = calloc(ps->n, sizeof(*sent));
	uint64_t now = now_ns(), left, slack;
	struct wire_prefetch *fw = malloc(sizeof(*fw));
	size_t nsent = 0, i, mcap;
	struct wire_hdr h;
	ssize_t mlen = -ENOMEM;
	void *msg = NULL;

	if (!sent || !fw) {
		j->res.err = -ENOMEM;
		goto out;
	}
	/*
	 * Children get less time, so their answers come before ours is due:
	 * two transport timeouts less, or a quarter less if that is shorter.
	 */
	left = j->deadline > now ? j->deadline - now : 0;
	slack = 2 * ps->timeout_ns < left / 4 ? 2 * ps->timeout_ns : left / 4;
	*fw = *j->m;
	fw->timeout_ms = (uint32_t)((left - slack) / 1000000);
	if (!fw->timeout_ms)
		fw->timeout_ms = 1;
	mcap = WIRE_HDR_LEN + 6 + fw->count * (2 + WIRE_PATH_MAX);
	msg = malloc(mcap);
	if (msg) {
		peer_hdr_init(ps, &h, WIRE_PREFETCH, 0);
		mlen = wire_encode_prefetch(msg, mcap, &h, fw);
	}
	for (i = 0; i < j->ntargets; i++) {
		uint32_t t = j->targets[i];
		struct sent *s = &sent[nsent];
		int ret;

		if (t == ps->self) {
			/* standing in for a dead ancestor: walk after all */
			j->walk_self = true;
			add_children(j, t);
			continue;
		}
		ret = mlen < 0 ? (int)mlen : 0;
		if (!ret) {
			peer_cond_init_mono(&s->c.cond);
			ret = peer_call_send(ps, t, msg, (size_t)mlen, &s->c);
			if (ret)
				pthread_cond_destroy(&s->c.cond);
		}
		if (ret) {
			/* not reachable: send to its children instead */
			log_warn("prefetch: cannot reach %s (%s): sending to "
				 "the nodes below it", peer_name(ps, t),
				 strerror(-ret));
			peer_failed(ps, t, ret);
			missing_add(&j->res, t);
			add_children(j, t);
			continue;
		}
		s->to = t;
		nsent++;
	}
	if (j->walk_self)
		walk_local(ps->cp, j->m->paths, j->m->count,
			   j->deadline - slack / 2, ps->self, &j->res);
	for (i = 0; i < nsent; i++) {
		wait_child(j, &sent[i]);
		pthread_cond_destroy(&sent[i].c.cond);
	}
out:
	free(msg);
	free(fw);
	free(sent);
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->targets);
	free(j->m);
	free(j);
}

static struct job *job_new(struct peers *ps, const struct wire_prefetch *m)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->ps = ps;
	j->m = malloc(sizeof(*j->m));
	j->targets = calloc(ps->n, sizeof(*j->targets));
	if (!j->m || !j->targets) {
		job_free(j);
		return NULL;
	}
	*j->m = *m;
	j->deadline = now_ns() + (uint64_t)m->timeout_ms * 1000000ULL;
	return j;
}

static void answer_parent(struct job *j)
{
	struct peers *ps = j->ps;
	size_t cap = WIRE_HDR_LEN + 64 + 4 * WIRE_PREFETCH_LISTED;
	struct wire_hdr h;
	void *buf = fab_msg_alloc(ps->fab, cap);

	if (!buf)
		return;
	peer_hdr_init(ps, &h, WIRE_PREFETCH_DONE, j->req_id);
	peer_respond(ps, j->parent, buf,
		     wire_encode_prefetch_done(buf, cap, &h, &j->res));
}

static void *job_main(void *arg)
{
	struct job *j = arg;

	job_run(j);
	answer_parent(j);
	job_free(j);
	job_leave();
	return NULL;
}

void prefetch_serve(struct peers *ps, struct worker *w,
		    const struct wire_hdr *h, const void *body)
{
	struct wire_prefetch *m = malloc(sizeof(*m));
	pthread_attr_t attr;
	struct job *j = NULL;
	pthread_t tid;
	unsigned i;
	int err = 0;

	if (!m)
		return;
	if (wire_decode_prefetch(body, h->body_len, m)) {
		STAT_INC(peer_malformed);
		free(m);
		return;
	}
	for (i = 0; i < m->count && !err; i++)
		if (!peer_path_allowed(ps, w, m->paths[i]))
			err = -EPERM;
	if (!err) {
		j = job_new(ps, m);
		if (!j)
			err = -ENOMEM;
	}
	if (!err && !job_enter())
		err = -EBUSY;
	if (!err) {
		j->from_peer = true;
		j->parent = h->src;
		j->req_id = h->req_id;
		j->walk_self = true;
		add_children(j, ps->self);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = -pthread_create(&tid, &attr, job_main, j);
		pthread_attr_destroy(&attr);
		if (!err) {
			free(m);
			return;
		}
		job_leave();
	}
	/* refused: neither this node nor those below it will walk */
	if (!j)
		j = job_new(ps, m);
	if (j) {
		j->parent = h->src;
		j->req_id = h->req_id;
		j->res.err = err;
		missing_subtree(ps, &j->res, ps->self);
		answer_parent(j);
		job_free(j);
	}
	log_warn_rl("prefetch from %s refused: %s", peer_name(ps, h->src),
		    strerror(-err));
	free(m);
}

void prefetch_stop(struct peers *ps)
{
	pthread_mutex_lock(&pf.lock);
	pf.stop = true;
	while (pf.jobs)
		pthread_cond_wait(&pf.cond, &pf.lock);
	pthread_mutex_unlock(&pf.lock);
}

/* ---- the command --------------------------------------------------------- */

static const char *node_name(struct canopy *cp, uint32_t i)
{
	return cp->conf->nnodes && i < cp->conf->nnodes
		       ? cp->conf->nodes[i].name
		       : "?";
}

static char *answer(struct canopy *cp, const struct wire_prefetch_done *r,
		    uint32_t total, double secs)
{
	bool ok = !r->nodes_missing && !r->errors && !r->err;
	char *out = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	if (!ok) {
		fprintf(f, "error: prefetch incomplete: ");
		if (r->nodes_missing)
			fprintf(f, "%" PRIu32 " of %" PRIu32 " nodes did not "
				"finish", r->nodes_missing, total);
		else if (r->errors)
			fprintf(f, "%" PRIu64 " files could not be read "
				"(see the daemons' logs)", r->errors);
		else
			fprintf(f, "%s", strerror(-r->err));
		if (r->err && r->nodes_missing)
			fprintf(f, " (%s)", strerror(-r->err));
		fputc('\n', f);
	}
	fprintf(f, "nodes:    %" PRIu32 " of %" PRIu32 " done\n", r->nodes_done,
		total);
	if (r->nlisted) {
		fprintf(f, "missing: ");
		for (i = 0; i < r->nlisted && i < PF_SHOW; i++)
			fprintf(f, " %s", node_name(cp, r->listed[i]));
		if (r->nodes_missing > i)
			fprintf(f, " (and %" PRIu64 " more)",
				(uint64_t)r->nodes_missing - i);
		fputc('\n', f);
	}
	fprintf(f, "files:    %" PRIu64 " per node, %" PRIu64 " in all\n",
		r->files_max, r->files);
	fprintf(f, "bytes:    %" PRIu64 " per node, %" PRIu64 " in all\n",
		r->bytes_max, r->bytes);
	fprintf(f, "skipped:  %" PRIu64 " (larger than the cache)\n",
		r->skipped);
	fprintf(f, "errors:   %" PRIu64 "\n", r->errors);
	fprintf(f, "seconds:  %.3f\n", secs);
	fclose(f);
	return out;
}

int prefetch_run(struct canopy *cp, char **paths, size_t n,
		 uint64_t timeout_ms, char **out)
{
	struct peers *ps = cp->peers;
	struct wire_prefetch *m = calloc(1, sizeof(*m));
	struct wire_prefetch_done r;
	uint64_t t0 = now_ns();
	struct job *j = NULL;
	uint32_t total = ps ? ps->n : 1, root;
	size_t i;
	int ret = 0;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	if (!m)
		return -ENOMEM;
	if (!n || n > WIRE_PREFETCH_PATHS || !timeout_ms ||
	    timeout_ms > WIRE_PREFETCH_TIMEOUT_MAX) {
		ret = asprintf(out, "error: prefetch: 1 to %d paths and a "
			       "timeout of 1 ms to a week\n",
			       WIRE_PREFETCH_PATHS) < 0 ? -ENOMEM : 0;
		goto out;
	}
	m->count = (uint16_t)n;
	m->timeout_ms = (uint32_t)timeout_ms;
	for (i = 0; i < n; i++) {
		if (strlen(paths[i]) > WIRE_PATH_MAX ||
		    view_classify(&cp->view, paths[i]) != VIEW_REAL) {
			ret = asprintf(out, "error: prefetch: %s: outside the "
				       "exports\n", paths[i]) < 0 ? -ENOMEM : 0;
			goto out;
		}
		snprintf(m->paths[i], sizeof(m->paths[i]), "%s", paths[i]);
	}
	if (!job_enter()) {
		ret = asprintf(out, "error: prefetch: %s\n",
			       pf_stopping(cp) ? "the daemon is stopping"
					       : "too many prefetches at once")
			      < 0 ? -ENOMEM : 0;
		goto out;
	}
	if (!ps) {
		walk_local(cp, m->paths, n, t0 + timeout_ms * 1000000ULL, 0,
			   &r);
	} else {
		j = job_new(ps, m);
		if (!j) {
			job_leave();
			ret = -ENOMEM;
			goto out;
		}
		root = tree_root(ps->tree, 0);
		if (root == ps->self) {
			j->walk_self = true;
			add_children(j, root);
		} else {
			j->targets[j->ntargets++] = root;
		}
		job_run(j);
		r = j->res;
		job_free(j);
	}
	job_leave();
	*out = answer(cp, &r, total, (double)(now_ns() - t0) / 1e9);
	if (!*out)
		ret = -ENOMEM;
	log_info("prefetch of %zu path%s: %" PRIu32 " of %" PRIu32 " nodes, "
		 "%" PRIu64 " files, %" PRIu64 " bytes per node in %.3f s", n,
		 n == 1 ? "" : "s", r.nodes_done, total, r.files_max,
		 r.bytes_max, (double)(now_ns() - t0) / 1e9);
out:
	free(m);
	return ret;
}
