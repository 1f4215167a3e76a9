// SPDX-License-Identifier: MIT
/*
 * daemon/meta.c - attributes, symlink targets and directory listings, as
 * this node knows them.
 *
 * DESIGN: on a single node every call goes straight to the backing store
 * (the kernel's entry and attribute caches are the only cache). In a tree
 * (cp->peers set) one table maps a path to what this node has resolved of
 * it: attributes or an errno, a symlink target, a listing. Each of the
 * three is a slot that is empty, busy (one thread is resolving it) or
 * valid until its expiry; a thread that finds a slot busy sleeps on
 * meta.cond until it is filled, so identical requests in flight cost one
 * question to the parent. A listing also fills the attribute slots of its
 * entries, so the LOOKUPs that follow a directory scan are answered here.
 * Attributes last fuse.attr_timeout, negative answers
 * fuse.negative_timeout; other errors are not kept.
 *
 * The same functions serve this node's kernel and its children in the tree
 * (peer_serve.c's server threads): what a node forwards it keeps.
 *
 * Lock: meta.lock protects the table and every entry; it is never held
 * across a peer call or a backing-store syscall.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "canopyd_i.h"
#include "io.h"
#include "tree.h"

#define META_BUCKETS (1u << 16)
/* Past this many entries the table is emptied rather than grown. */
#define META_MAX_ENTRIES (1u << 21)

enum slot_state { SLOT_EMPTY, SLOT_BUSY, SLOT_VALID };

struct slot {
	uint8_t state;
	int err;
	uint64_t expires; /* ns, now_ns() clock */
};

struct ment {
	struct ment *next;
	uint64_t hash;
	char *path;
	struct slot st; /* attributes */
	struct statx stx;
	struct slot link; /* symlink target */
	char *target;
	struct slot list; /* listing */
	struct meta_list *ls;
};

static struct {
	struct canopy *cp;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ment **tab; /* protected by lock */
	size_t count;	   /* protected by lock */
	uint64_t ttl_ns, neg_ns;
} meta = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int meta_init(struct canopy *cp)
{
	meta.cp = cp;
	meta.ttl_ns = (uint64_t)(cp->conf->attr_timeout * 1e9);
	meta.neg_ns = (uint64_t)(cp->conf->negative_timeout * 1e9);
	if (!cp->conf->nnodes)
		return 0; /* a single node keeps no metadata of its own */
	meta.tab = calloc(META_BUCKETS, sizeof(*meta.tab));
	return meta.tab ? 0 : -ENOMEM;
}

void meta_list_put(struct meta_list *l)
{
	size_t i;

	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	for (i = 0; i < l->n; i++)
		free(l->ents[i].name);
	free(l->ents);
	free(l);
}

static void ment_free(struct ment *e)
{
	free(e->path);
	free(e->target);
	meta_list_put(e->ls);
	free(e);
}

/* Drop every entry that no thread is resolving. */
static void drop_locked(void)
{
	size_t b;

	for (b = 0; b < META_BUCKETS; b++) {
		struct ment **pp = &meta.tab[b], *e;

		while ((e = *pp)) {
			if (e->st.state == SLOT_BUSY ||
			    e->link.state == SLOT_BUSY ||
			    e->list.state == SLOT_BUSY) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			ment_free(e);
			meta.count--;
		}
	}
}

void meta_drop_all(void)
{
	if (!meta.tab)
		return;
	pthread_mutex_lock(&meta.lock);
	drop_locked();
	pthread_mutex_unlock(&meta.lock);
}

void meta_fini(void)
{
	if (!meta.tab)
		return;
	drop_locked();
	free(meta.tab);
	meta.tab = NULL;
}

static struct ment *find_locked(const char *path, bool add)
{
	uint64_t h = tree_hash(path, strlen(path), 0);
	struct ment **bucket = &meta.tab[h & (META_BUCKETS - 1)], *e;

	for (e = *bucket; e; e = e->next)
		if (e->hash == h && !strcmp(e->path, path))
			return e;
	if (!add)
		return NULL;
	if (meta.count >= META_MAX_ENTRIES)
		drop_locked();
	e = calloc(1, sizeof(*e));
	if (!e || !(e->path = strdup(path))) {
		free(e);
		return NULL;
	}
	e->hash = h;
	e->next = *bucket;
	*bucket = e;
	meta.count++;
	return e;
}

static bool slot_fresh(const struct slot *s, uint64_t now)
{
	return s->state == SLOT_VALID && now < s->expires;
}

/*
 * Wait until @s is neither busy nor stale. Returns true if it holds a fresh
 * answer; false if the caller now owns it (marked busy) and must resolve it.
 */
static bool slot_acquire_locked(struct slot *s)
{
	for (;;) {
		if (slot_fresh(s, now_ns())) {
			STAT_INC(meta_hits);
			return true;
		}
		if (s->state != SLOT_BUSY)
			break;
		chan_may_block(); /* another thread resolves it */
		pthread_cond_wait(&meta.cond, &meta.lock);
	}
	s->state = SLOT_BUSY;
	STAT_INC(meta_misses);
	return false;
}

/* Keep @err for its lifetime; errors that say nothing lasting are not. */
static void slot_fill_locked(struct slot *s, int err)
{
	uint64_t ttl = meta.ttl_ns;

	if (err == -ENOENT || err == -ENOTDIR)
		ttl = meta.neg_ns;
	else if (err)
		ttl = 0;
	s->err = err;
	s->state = ttl ? SLOT_VALID : SLOT_EMPTY;
	s->expires = now_ns() + ttl;
}

static bool in_tree(const char *path)
{
	return meta.tab && view_classify(&meta.cp->view, path) == VIEW_REAL;
}

/* The directory of @path ("/a/b" -> "/a", "/a" -> "/") into @buf. */
static const char *dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n == 0 || n >= len)
		return "/";
	memcpy(buf, path, n);
	buf[n] = '\0';
	return buf;
}

int meta_stat(struct worker *w, const char *path, struct statx *stx)
{
	char dbuf[PATH_MAX];
	struct ment *e;
	int ret;

	if (!in_tree(path))
		return view_statx(&w->cp->view, path, stx);
	pthread_mutex_lock(&meta.lock);
	e = find_locked(path, true);
	if (!e) {
		pthread_mutex_unlock(&meta.lock);
		return -ENOMEM;
	}
	if (slot_acquire_locked(&e->st)) {
		ret = e->st.err;
		if (!ret)
			*stx = e->stx;
		pthread_mutex_unlock(&meta.lock);
		return ret;
	}
	pthread_mutex_unlock(&meta.lock);

	ret = peers_stat(w, dir_of(path, dbuf, sizeof(dbuf)), path, stx);
	if (ret == -EREMOTE)
		ret = view_statx(&w->cp->view, path, stx);

	pthread_mutex_lock(&meta.lock);
	if (!ret)
		e->stx = *stx;
	slot_fill_locked(&e->st, ret);
	pthread_cond_broadcast(&meta.cond);
	pthread_mutex_unlock(&meta.lock);
	return ret;
}

ssize_t meta_readlink(struct worker *w, const char *path, char *buf, size_t len)
{
	char dbuf[PATH_MAX];
	struct ment *e;
	ssize_t ret;
	size_t n;

	if (!in_tree(path))
		return view_readlink(&w->cp->view, path, buf, len);
	pthread_mutex_lock(&meta.lock);
	e = find_locked(path, true);
	if (!e) {
		pthread_mutex_unlock(&meta.lock);
		return -ENOMEM;
	}
	if (slot_acquire_locked(&e->link)) {
		ret = e->link.err;
		if (!ret) {
			n = strlen(e->target);
			ret = n < len ? (ssize_t)n : (ssize_t)len;
			memcpy(buf, e->target, ret);
		}
		pthread_mutex_unlock(&meta.lock);
		return ret;
	}
	pthread_mutex_unlock(&meta.lock);

	ret =
	    peers_readlink(w, dir_of(path, dbuf, sizeof(dbuf)), path, buf, len);
	if (ret == -EREMOTE)
		ret = view_readlink(&w->cp->view, path, buf, len);

	pthread_mutex_lock(&meta.lock);
	free(e->target);
	e->target = NULL;
	if (ret >= 0) {
		e->target = strndup(buf, ret);
		if (!e->target)
			ret = -ENOMEM;
	}
	slot_fill_locked(&e->link, ret < 0 ? (int)ret : 0);
	pthread_cond_broadcast(&meta.cond);
	pthread_mutex_unlock(&meta.lock);
	return ret;
}

int meta_list_add(struct meta_list *l, size_t *cap, const char *name,
		  uint8_t type)
{
	struct meta_dent *d;

	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct meta_dent *ne = realloc(l->ents, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		l->ents = ne;
		*cap = ncap;
	}
	d = &l->ents[l->n];
	memset(d, 0, sizeof(*d));
	d->name = strdup(name);
	if (!d->name)
		return -ENOMEM;
	d->type = type;
	d->err = -ENOENT;
	l->n++;
	return 0;
}

/* statx every entry of @l relative to @dirfd, a ring's depth at a time. */
static void list_statx(struct worker *w, int dirfd, struct meta_list *l)
{
	const char **names = calloc(l->n, sizeof(*names));
	struct statx *stx = calloc(l->n, sizeof(*stx));
	int *res = calloc(l->n, sizeof(*res));
	size_t i;

	if (names && stx && res) {
		for (i = 0; i < l->n; i++)
			names[i] = l->ents[i].name;
		if (uring_statx_many(w->ring, dirfd, names, l->n,
				     AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
				     STATX_BASIC_STATS, stx, res) < 0)
			goto slow;
		for (i = 0; i < l->n; i++) {
			l->ents[i].err = res[i];
			l->ents[i].stx = stx[i];
		}
		goto out;
	}
slow:
	for (i = 0; i < l->n; i++) {
		struct statx *s = &l->ents[i].stx;

		l->ents[i].err = statx(dirfd, l->ents[i].name,
				       AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
				       STATX_BASIC_STATS, s)
				     ? -errno
				     : 0;
	}
out:
	STAT_ADD(backing_stats, l->n);
	free(names);
	free(stx);
	free(res);
}

int meta_local_list(struct worker *w, const char *path, struct meta_list **out)
{
	struct meta_list *l = calloc(1, sizeof(*l));
	size_t cap = 0;
	int fd, ret = 0;

	if (!l)
		return -ENOMEM;
	atomic_init(&l->refs, 1);
	fd = view_open(&w->cp->view, path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		free(l);
		return fd;
	}
	STAT_INC(backing_readdirs);
	for (;;) {
		long n = syscall(SYS_getdents64, fd, w->buf, w->buf_len);
		long off = 0;

		if (n <= 0) {
			ret = n < 0 ? -errno : 0;
			break;
		}
		while (off < n && !ret) {
			struct linux_dirent64 *d = (void *)(w->buf + off);

			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			ret = meta_list_add(l, &cap, d->d_name, d->d_type);
		}
		if (ret)
			break;
	}
	if (!ret)
		list_statx(w, fd, l);
	close(fd);
	if (ret) {
		meta_list_put(l);
		return ret;
	}
	*out = l;
	return 0;
}

/* The attributes of a listing's entries are as good as a stat of each. */
static void list_spread_locked(const char *dir, struct meta_list *l)
{
	uint64_t exp = now_ns() + meta.ttl_ns;
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct meta_dent *d = &l->ents[i];
		char *path;
		struct ment *e;

		if (d->err)
			continue;
		path = view_join(dir, d->name);
		e = path ? find_locked(path, true) : NULL;
		free(path);
		if (!e || e->st.state == SLOT_BUSY)
			continue;
		e->stx = d->stx;
		e->st.err = 0;
		e->st.state = SLOT_VALID;
		e->st.expires = exp;
	}
}

int meta_list(struct worker *w, const char *path, struct meta_list **out)
{
	struct meta_list *l = NULL;
	struct ment *e;
	int ret;

	if (!in_tree(path))
		return meta_local_list(w, path, out);
	pthread_mutex_lock(&meta.lock);
	e = find_locked(path, true);
	if (!e) {
		pthread_mutex_unlock(&meta.lock);
		return -ENOMEM;
	}
	if (slot_acquire_locked(&e->list)) {
		ret = e->list.err;
		if (!ret) {
			atomic_fetch_add(&e->ls->refs, 1);
			*out = e->ls;
		}
		pthread_mutex_unlock(&meta.lock);
		return ret;
	}
	pthread_mutex_unlock(&meta.lock);

	ret = peers_list(w, path, &l);
	if (ret == -EREMOTE)
		ret = meta_local_list(w, path, &l);

	pthread_mutex_lock(&meta.lock);
	meta_list_put(e->ls);
	e->ls = NULL;
	if (!ret) {
		e->ls = l;
		atomic_fetch_add(&l->refs, 1);
		list_spread_locked(path, l);
		*out = l;
	}
	slot_fill_locked(&e->list, ret);
	if (!e->ls && e->list.state == SLOT_VALID)
		e->list.state =
		    SLOT_EMPTY; /* a negative listing keeps no list */
	pthread_cond_broadcast(&meta.cond);
	pthread_mutex_unlock(&meta.lock);
	return ret;
}
