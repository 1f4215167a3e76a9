// SPDX-License-Identifier: MIT
/*
 * daemon/node.c - the nodes the kernel knows, and open handles.
 *
 * DESIGN: a node is created by LOOKUP (or READDIRPLUS) and lives while the
 * kernel holds lookups on it (nlookup > 0) or anyone holds a reference.
 * Nodes are found by nodeid (every request) and by backing path (LOOKUP of a
 * path already known returns the same nodeid). nodeids are never reused.
 * Handles (fh) are found by number, so a stale or forged fh from the kernel
 * side is answered with EBADF instead of a wild pointer. Both tables are
 * chained hash tables behind one mutex each; the locks are leaves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canopyd_i.h"

struct table {
	pthread_mutex_t lock;
	/* fields below are protected by t->lock */
	void **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

static struct table by_id = { .lock = PTHREAD_MUTEX_INITIALIZER };
static struct table by_path = { .lock = PTHREAD_MUTEX_INITIALIZER };
static struct table handles = { .lock = PTHREAD_MUTEX_INITIALIZER };
static uint64_t next_nodeid = FUSE_ROOT_ID; /* protected by by_id.lock */
static uint64_t next_fh = 1;                /* protected by handles.lock */

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return hash64(h);
}

static int table_init(struct table *t, size_t n)
{
	t->buckets = calloc(n, sizeof(void *));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = n;
	t->count = 0;
	return 0;
}

/* ---- nodes -------------------------------------------------------------- */

static struct node **id_slot(uint64_t id)
{
	return (struct node **)&by_id.buckets[hash64(id) & (by_id.nbuckets - 1)];
}

static struct node **path_slot(const char *path)
{
	return (struct node **)&by_path
		.buckets[hash_str(path) & (by_path.nbuckets - 1)];
}

/* Double a table; @next_of gives the chain link of an entry. */
static void node_tables_grow_locked(void)
{
	size_t n = by_id.nbuckets * 2, i;
	void **nb = calloc(n, sizeof(void *)), **pb;

	if (!nb)
		return;
	pb = calloc(n, sizeof(void *));
	if (!pb) {
		free(nb);
		return;
	}
	for (i = 0; i < by_id.nbuckets; i++) {
		struct node *e = by_id.buckets[i], *next;

		for (; e; e = next) {
			size_t s = hash64(e->nodeid) & (n - 1);

			next = e->next_id;
			e->next_id = nb[s];
			nb[s] = e;
		}
	}
	for (i = 0; i < by_path.nbuckets; i++) {
		struct node *e = by_path.buckets[i], *next;

		for (; e; e = next) {
			size_t s = hash_str(e->path) & (n - 1);

			next = e->next_path;
			e->next_path = pb[s];
			pb[s] = e;
		}
	}
	free(by_id.buckets);
	free(by_path.buckets);
	by_id.buckets = nb;
	by_path.buckets = pb;
	by_id.nbuckets = by_path.nbuckets = n;
}

static struct node *node_alloc(const char *path, enum view_kind kind)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->path = strdup(path);
	if (!n->path) {
		free(n);
		return NULL;
	}
	n->kind = kind;
	n->backing_id = -1;
	n->direct_fd = -1;
	pthread_mutex_init(&n->lock, NULL);
	atomic_init(&n->refs, 1);
	return n;
}

static void node_free(struct node *n)
{
	if (n->direct_fd >= 0)
		close(n->direct_fd);
	cache_obj_put(n->obj);
	cache_obj_put(n->pt_obj);
	pthread_mutex_destroy(&n->lock);
	free(n->path);
	free(n);
	STAT_SUB(nodes, 1);
}

/* Insert a new node in both tables; by_id.lock held (it guards both). */
static void node_insert_locked(struct node *n)
{
	struct node **s;

	n->nodeid = next_nodeid++;
	s = id_slot(n->nodeid);
	n->next_id = *s;
	*s = n;
	s = path_slot(n->path);
	n->next_path = *s;
	*s = n;
	n->hashed = true;
	by_id.count++;
	STAT_INC(nodes);
	if (by_id.count > by_id.nbuckets)
		node_tables_grow_locked();
}

static void node_unhash_path_locked(struct node *n)
{
	struct node **s = path_slot(n->path);

	for (; *s; s = &(*s)->next_path) {
		if (*s == n) {
			*s = n->next_path;
			n->hashed = false;
			return;
		}
	}
}

static void node_unhash_id_locked(struct node *n)
{
	struct node **s = id_slot(n->nodeid);

	for (; *s; s = &(*s)->next_id) {
		if (*s == n) {
			*s = n->next_id;
			by_id.count--;
			return;
		}
	}
}

int nodes_init(const char *root_path, enum view_kind root_kind)
{
	struct node *root;
	int ret;

	ret = table_init(&by_id, 1024);
	if (ret)
		return ret;
	ret = table_init(&by_path, 1024);
	if (ret)
		return ret;
	ret = table_init(&handles, 256);
	if (ret)
		return ret;
	root = node_alloc(root_path, root_kind);
	if (!root)
		return -ENOMEM;
	root->nlookup = 1; /* the kernel never forgets the root */
	pthread_mutex_lock(&by_id.lock);
	node_insert_locked(root);
	pthread_mutex_unlock(&by_id.lock);
	return 0;
}

void nodes_fini(void)
{
	size_t i;

	pthread_mutex_lock(&by_id.lock);
	for (i = 0; i < by_id.nbuckets; i++) {
		struct node *n = by_id.buckets[i], *next;

		for (; n; n = next) {
			next = n->next_id;
			node_free(n);
		}
	}
	free(by_id.buckets);
	free(by_path.buckets);
	by_id.buckets = by_path.buckets = NULL;
	by_id.nbuckets = by_path.nbuckets = 0;
	pthread_mutex_unlock(&by_id.lock);
	pthread_mutex_lock(&handles.lock);
	for (i = 0; i < handles.nbuckets; i++) {
		struct handle *h = handles.buckets[i], *next;

		for (; h; h = next) {
			next = h->next;
			h->node = NULL; /* freed above */
			handle_free(h);
		}
	}
	free(handles.buckets);
	handles.buckets = NULL;
	handles.nbuckets = 0;
	pthread_mutex_unlock(&handles.lock);
}

struct node *node_get(uint64_t nodeid)
{
	struct node *n;

	pthread_mutex_lock(&by_id.lock);
	for (n = *id_slot(nodeid); n; n = n->next_id)
		if (n->nodeid == nodeid)
			break;
	if (n)
		atomic_fetch_add(&n->refs, 1);
	pthread_mutex_unlock(&by_id.lock);
	return n;
}

void node_put(struct node *n)
{
	if (n && atomic_fetch_sub(&n->refs, 1) == 1)
		node_free(n);
}

/*
 * Does @stx describe the same backing inode as the node? A path replaced by
 * rename (a new symlink over "current", a package's new file) is a new
 * inode: the kernel must see a new one too, or it keeps serving what it
 * cached for the old one (a symlink target, pages). File systems reuse
 * inode numbers, so for everything but directories a changed ctime also
 * makes a new node; a directory keeps its node while its entries change,
 * so the kernel keeps the dentries below it.
 */
static bool same_inode(const struct node *n, const struct statx *stx)
{
	if ((n->stx.stx_mode & S_IFMT) != (stx->stx_mode & S_IFMT) ||
	    n->stx.stx_ino != stx->stx_ino ||
	    n->stx.stx_dev_major != stx->stx_dev_major ||
	    n->stx.stx_dev_minor != stx->stx_dev_minor)
		return false;
	return S_ISDIR(stx->stx_mode) ||
	       (n->stx.stx_ctime.tv_sec == stx->stx_ctime.tv_sec &&
		n->stx.stx_ctime.tv_nsec == stx->stx_ctime.tv_nsec);
}

bool node_same_inode(struct node *n, const struct statx *stx)
{
	bool same;

	pthread_mutex_lock(&n->lock);
	same = !n->stx.stx_mask || same_inode(n, stx);
	pthread_mutex_unlock(&n->lock);
	return same;
}

struct node *node_lookup(const char *path, enum view_kind kind,
			 const struct statx *stx)
{
	struct node *n, *fresh = NULL;

again:
	pthread_mutex_lock(&by_id.lock);
	for (n = *path_slot(path); n; n = n->next_path)
		if (!strcmp(n->path, path))
			break;
	if (n && n->nodeid != FUSE_ROOT_ID) {
		pthread_mutex_lock(&n->lock);
		if (n->stx.stx_mask && !same_inode(n, stx)) {
			/*
			 * The path now names another inode: the kernel gets a
			 * new node; the old one lives on, for the files open
			 * on it, until it is forgotten.
			 */
			node_unhash_path_locked(n);
			pthread_mutex_unlock(&n->lock);
			n = NULL;
		} else {
			pthread_mutex_unlock(&n->lock);
		}
	}
	if (!n && fresh) {
		n = fresh;
		fresh = NULL;
		node_insert_locked(n);
	}
	if (n) {
		n->nlookup++;
		atomic_fetch_add(&n->refs, 1);
	}
	pthread_mutex_unlock(&by_id.lock);
	if (!n) {
		fresh = node_alloc(path, kind);
		if (!fresh)
			return NULL;
		goto again;
	}
	if (fresh)
		node_put(fresh);
	node_set_attr(n, stx);
	return n;
}

void node_forget(uint64_t nodeid, uint64_t nlookup)
{
	struct node *n;
	bool drop = false;

	pthread_mutex_lock(&by_id.lock);
	for (n = *id_slot(nodeid); n; n = n->next_id)
		if (n->nodeid == nodeid)
			break;
	if (n && nodeid != FUSE_ROOT_ID) {
		n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
		if (n->nlookup == 0) {
			if (n->hashed)
				node_unhash_path_locked(n);
			node_unhash_id_locked(n);
			drop = true;
		}
	}
	pthread_mutex_unlock(&by_id.lock);
	if (drop)
		node_put(n);
}

void node_set_attr(struct node *n, const struct statx *stx)
{
	struct cache_obj *old = NULL;
	struct ident id;
	int fd = -1;

	ident_from_statx(&id, stx);
	pthread_mutex_lock(&n->lock);
	if (!ident_eq(&n->id, &id)) {
		old = n->obj;
		n->obj = NULL;
		fd = n->direct_fd; /* the next READ opens the new file */
		n->direct_fd = -1;
	}
	n->stx = *stx;
	n->id = id;
	pthread_mutex_unlock(&n->lock);
	if (fd >= 0)
		close(fd);
	if (old) {
		cache_obj_stale(old);
		cache_obj_put(old);
	}
}

uint64_t node_count(void)
{
	uint64_t c;

	pthread_mutex_lock(&by_id.lock);
	c = by_id.count;
	pthread_mutex_unlock(&by_id.lock);
	return c;
}

/* ---- handles ------------------------------------------------------------ */

static struct handle **fh_slot(uint64_t fh)
{
	return (struct handle **)&handles
		.buckets[hash64(fh) & (handles.nbuckets - 1)];
}

static void handles_grow_locked(void)
{
	size_t n = handles.nbuckets * 2, i;
	void **nb = calloc(n, sizeof(void *));

	if (!nb)
		return;
	for (i = 0; i < handles.nbuckets; i++) {
		struct handle *h = handles.buckets[i], *next;

		for (; h; h = next) {
			size_t s = hash64(h->fh) & (n - 1);

			next = h->next;
			h->next = nb[s];
			nb[s] = h;
		}
	}
	free(handles.buckets);
	handles.buckets = nb;
	handles.nbuckets = n;
}

struct handle *handle_alloc(enum handle_kind kind, struct node *n)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->kind = kind;
	h->node = n;
	h->backing_fd = -1;
	atomic_fetch_add(&n->refs, 1);
	return h;
}

struct handle *handle_new(enum handle_kind kind, struct node *n)
{
	struct handle *h = handle_alloc(kind, n), **s;

	if (!h)
		return NULL;
	pthread_mutex_lock(&handles.lock);
	h->fh = next_fh++;
	s = fh_slot(h->fh);
	h->next = *s;
	*s = h;
	if (++handles.count > handles.nbuckets)
		handles_grow_locked();
	pthread_mutex_unlock(&handles.lock);
	return h;
}

struct handle *handle_get(uint64_t fh)
{
	struct handle *h;

	pthread_mutex_lock(&handles.lock);
	for (h = *fh_slot(fh); h; h = h->next)
		if (h->fh == fh)
			break;
	pthread_mutex_unlock(&handles.lock);
	return h;
}

struct handle *handle_remove(uint64_t fh)
{
	struct handle **s, *h = NULL;

	pthread_mutex_lock(&handles.lock);
	for (s = fh_slot(fh); *s; s = &(*s)->next) {
		if ((*s)->fh == fh) {
			h = *s;
			*s = h->next;
			handles.count--;
			break;
		}
	}
	pthread_mutex_unlock(&handles.lock);
	return h;
}

void handle_free(struct handle *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->nents; i++)
		free(h->ents[i].name);
	free(h->ents);
	if (h->backing_fd >= 0)
		close(h->backing_fd);
	cache_obj_put(h->obj);
	node_put(h->node);
	free(h);
}
