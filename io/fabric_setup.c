// SPDX-License-Identifier: MIT
/*
 * io/fabric_setup.c - the libfabric transport's set-up and tear-down:
 * fab_open(), fab_close(), and the peers of fab_peer(). The data path and
 * the progress thread are in io/fabric.c, whose DESIGN comment covers both
 * files (shutdown order: fab_close() here).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>

#include "fabric.h"
#include "fabric_i.h"
#include "fabric_lib.h"

#define FAB_FI_VERSION FI_VERSION(1, 17)

/* mr_mode bits the transport knows how to honour. */
#define FAB_MR_MODES                                                           \
	(FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY |    \
	 FI_MR_ENDPOINT)

#define FAB_CLOSE_GRACE_NS 200000000ULL /* close: wait for ops in flight */

/* ------------------------------------------------------------------ */
/* peers                                                                */

static struct fi_info *peer_hints(const struct fab *f)
{
	struct fi_info *h = fab_lib.dupinfo(NULL);

	if (!h)
		return NULL;
	h->caps = f->info->caps;
	h->mode = f->info->mode;
	h->addr_format = f->info->addr_format;
	h->ep_attr->type = FI_EP_RDM;
	h->domain_attr->mr_mode = f->info->domain_attr->mr_mode;
	h->fabric_attr->prov_name = strdup(f->info->fabric_attr->prov_name);
	if (!h->fabric_attr->prov_name) {
		fab_lib.freeinfo(h);
		return NULL;
	}
	return h;
}

static bool peer_find_locked(struct fab *f, const char *host, const char *port,
			     uint64_t *addr)
{
	size_t i;

	for (i = 0; i < f->npeers; i++) {
		if (!strcmp(f->peers[i].host, host) &&
		    !strcmp(f->peers[i].port, port)) {
			*addr = f->peers[i].addr;
			return true;
		}
	}
	return false;
}

static int peer_add_locked(struct fab *f, const char *host, const char *port,
			   fi_addr_t fa)
{
	struct fab_peer_ent *p;

	if (f->npeers == f->peers_cap) {
		size_t cap = f->peers_cap ? f->peers_cap * 2 : 16;

		p = realloc(f->peers, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		f->peers = p;
		f->peers_cap = cap;
	}
	p = &f->peers[f->npeers];
	p->host = strdup(host);
	p->port = strdup(port);
	if (!p->host || !p->port) {
		free(p->host);
		free(p->port);
		return -ENOMEM;
	}
	p->addr = fa;
	f->npeers++;
	return 0;
}

int fab_peer(struct fab *f, const char *host, const char *port, uint64_t *addr)
{
	struct fi_info *hints, *info = NULL;
	fi_addr_t fa = FI_ADDR_NOTAVAIL;
	bool found;
	int ret;

	pthread_mutex_lock(&f->peer_lock);
	found = peer_find_locked(f, host, port, addr);
	pthread_mutex_unlock(&f->peer_lock);
	if (found)
		return 0;

	/* resolve without the lock: fi_getinfo() may ask a name service */
	hints = peer_hints(f);
	if (!hints)
		return -ENOMEM;
	ret = fab_lib.getinfo(FAB_FI_VERSION, host, port, 0, hints, &info);
	fab_lib.freeinfo(hints);
	if (ret)
		return fab_errno(ret);
	if (!info->dest_addr) {
		ret = -EADDRNOTAVAIL;
		goto out_free_info;
	}
	ret = fi_av_insert(f->av, info->dest_addr, 1, &fa, 0, NULL);
	if (ret != 1) {
		ret = ret < 0 ? fab_errno(ret) : -EADDRNOTAVAIL;
		goto out_free_info;
	}

	pthread_mutex_lock(&f->peer_lock);
	if (peer_find_locked(f, host, port, addr)) {
		/* another thread got there first: keep its handle */
		pthread_mutex_unlock(&f->peer_lock);
		if (*addr != fa)
			fi_av_remove(f->av, &fa, 1, 0);
		ret = 0;
		goto out_free_info;
	}
	ret = peer_add_locked(f, host, port, fa);
	pthread_mutex_unlock(&f->peer_lock);
	if (ret) {
		fi_av_remove(f->av, &fa, 1, 0);
		goto out_free_info;
	}
	*addr = fa;

out_free_info:
	fab_lib.freeinfo(info);
	return ret;
}

/* ------------------------------------------------------------------ */
/* open and close                                                       */

static int get_info(const struct fab_opts *o, struct fi_info **out)
{
	struct fi_info *hints = fab_lib.dupinfo(NULL);
	int ret;

	if (!hints)
		return -ENOMEM;
	hints->caps = FI_MSG | FI_RMA | FI_READ | FI_REMOTE_READ;
	hints->mode = FI_CONTEXT | FI_CONTEXT2;
	hints->ep_attr->type = FI_EP_RDM;
	hints->domain_attr->mr_mode = FAB_MR_MODES;
	hints->domain_attr->threading = FI_THREAD_SAFE;
	hints->fabric_attr->prov_name = strdup(o->provider);
	if (!hints->fabric_attr->prov_name) {
		fab_lib.freeinfo(hints);
		return -ENOMEM;
	}
	ret = fab_lib.getinfo(FAB_FI_VERSION, o->host, o->port, FI_SOURCE,
			      hints, out);
	if (ret == -FI_ENODATA) {
		/* not thread-safe: serialise the data path ourselves */
		hints->domain_attr->threading = FI_THREAD_DOMAIN;
		ret = fab_lib.getinfo(FAB_FI_VERSION, o->host, o->port,
				      FI_SOURCE, hints, out);
	}
	fab_lib.freeinfo(hints);
	return ret;
}

static int open_cq(struct fab *f, enum fab_progress progress)
{
	struct fi_cq_attr attr = {
	    .format = FI_CQ_FORMAT_DATA,
	    .size = 0,
	    .wait_obj = FI_WAIT_UNSPEC,
	};
	int ret = -FI_ENOSYS;

	if (progress != FAB_PROGRESS_POLL && f->thread_safe) {
		ret = fi_cq_open(f->domain, &attr, &f->cq, NULL);
		if (!ret)
			f->wait = true;
		else if (progress == FAB_PROGRESS_WAIT)
			return ret;
	} else if (progress == FAB_PROGRESS_WAIT) {
		return -FI_ENOSYS;
	}
	if (ret) {
		attr.wait_obj = FI_WAIT_NONE;
		ret = fi_cq_open(f->domain, &attr, &f->cq, NULL);
	}
	return ret;
}

static int open_rx(struct fab *f, unsigned n)
{
	struct fab_rx *rx;
	unsigned i;
	int ret;

	f->rx = calloc(n, sizeof(*f->rx));
	if (!f->rx)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (posix_memalign((void **)&rx, 64, sizeof(*rx) + f->max_msg))
			return -ENOMEM;
		memset(rx, 0, sizeof(*rx));
		rx->c.kind = FAB_RECV;
		f->rx[f->nrx++] = rx;
		if (f->mr_mode & FI_MR_LOCAL) {
			ret = fab_mr_reg_fid(f, rx->data, f->max_msg, FI_RECV,
					     &rx->mr);
			if (ret)
				return ret;
			rx->desc = fi_mr_desc(rx->mr);
		}
	}
	return 0;
}

static void free_rx(struct fab *f)
{
	unsigned i;

	for (i = 0; i < f->nrx; i++) {
		if (f->rx[i]->mr)
			fi_close(&f->rx[i]->mr->fid);
		free(f->rx[i]);
	}
	free(f->rx);
	f->rx = NULL;
	f->nrx = 0;
}

static void free_msg_cache(struct fab *f)
{
	struct fab_msg *m;

	while ((m = f->free_small)) {
		f->free_small = m->next_free;
		fab_msg_destroy(m);
	}
	while ((m = f->free_large)) {
		f->free_large = m->next_free;
		fab_msg_destroy(m);
	}
	f->nfree_small = f->nfree_large = 0;
}

static void close_fid(struct fab *f, struct fid *fid, const char *what)
{
	int ret;

	if (!fid)
		return;
	ret = fi_close(fid);
	if (ret)
		fprintf(stderr, "canopy: fabric: closing the %s: %s\n", what,
			fab_lib.strerror(-ret));
}

/* The libfabric objects, in reverse order of opening. */
static void close_objects(struct fab *f)
{
	close_fid(f, f->ep ? &f->ep->fid : NULL, "endpoint");
	f->ep = NULL;
	free_rx(f);
	free_msg_cache(f);
	close_fid(f, f->av ? &f->av->fid : NULL, "address vector");
	close_fid(f, f->cq ? &f->cq->fid : NULL, "completion queue");
	close_fid(f, f->domain ? &f->domain->fid : NULL, "domain");
	close_fid(f, f->fabric ? &f->fabric->fid : NULL, "fabric");
	if (f->info)
		fab_lib.freeinfo(f->info);
}

static void destroy_locks(struct fab *f)
{
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->idle);
	pthread_mutex_destroy(&f->msg_lock);
	pthread_mutex_destroy(&f->rx_lock);
	pthread_mutex_destroy(&f->peer_lock);
	pthread_mutex_destroy(&f->post_lock);
	pthread_mutex_destroy(&f->poll_lock);
	pthread_cond_destroy(&f->poll_cond);
}

static int init_locks(struct fab *f)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->msg_lock, NULL);
	pthread_mutex_init(&f->rx_lock, NULL);
	pthread_mutex_init(&f->peer_lock, NULL);
	pthread_mutex_init(&f->post_lock, NULL);
	pthread_mutex_init(&f->poll_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->idle, &ca);
	pthread_cond_init(&f->poll_cond, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static int open_objects(struct fab *f, const struct fab_opts *o,
			const char **what)
{
	struct fi_av_attr av = {0};
	int ret;

	*what = "fi_fabric";
	ret = fab_lib.fabric(f->info->fabric_attr, &f->fabric, NULL);
	if (ret)
		return ret;
	*what = "fi_domain";
	ret = fi_domain(f->fabric, f->info, &f->domain, NULL);
	if (ret)
		return ret;
	*what = "fi_cq_open";
	ret = open_cq(f, o->progress);
	if (ret)
		return ret;
	*what = "fi_av_open";
	av.type = f->info->domain_attr->av_type == FI_AV_MAP ? FI_AV_MAP
							     : FI_AV_TABLE;
	ret = fi_av_open(f->domain, &av, &f->av, NULL);
	if (ret)
		return ret;
	*what = "fi_endpoint";
	ret = fi_endpoint(f->domain, f->info, &f->ep, NULL);
	if (ret)
		return ret;
	*what = "fi_ep_bind";
	ret = fi_ep_bind(f->ep, &f->cq->fid, FI_TRANSMIT | FI_RECV);
	if (!ret)
		ret = fi_ep_bind(f->ep, &f->av->fid, 0);
	if (ret)
		return ret;
	*what = "fi_enable";
	ret = fi_enable(f->ep);
	if (ret)
		return ret;
	*what = "receive buffers";
	return open_rx(f, o->nrecv);
}

int fab_open(const struct fab_opts *o, fab_recv_fn fn, void *arg,
	     struct fab **out, char *err, size_t errlen)
{
	const char *what = "fi_getinfo";
	struct fab *f;
	unsigned i;
	int ret;

	if (errlen)
		err[0] = '\0';
	if (!o->provider || !o->host || !o->port || !o->max_msg || !o->nrecv) {
		snprintf(err, errlen,
			 "fabric: provider, host, port, max_msg "
			 "and nrecv are required");
		return -EINVAL;
	}
	ret = fab_lib_load(err, errlen);
	if (ret)
		return ret;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	init_locks(f);
	f->pending.next = f->pending.prev = &f->pending;
	f->fn = fn;
	f->fn_arg = arg;
	f->max_msg = o->max_msg;
	atomic_init(&f->next_key, 1);

	ret = get_info(o, &f->info);
	if (ret)
		goto err_report;
	f->thread_safe = f->info->domain_attr->threading == FI_THREAD_SAFE;
	f->mr_mode = f->info->domain_attr->mr_mode;
	f->inject_size = f->info->tx_attr->inject_size;
	if (f->info->ep_attr->max_msg_size < o->max_msg) {
		ret = -FI_EMSGSIZE;
		goto err_report;
	}
	ret = open_objects(f, o, &what);
	if (ret)
		goto err_report;
	for (i = 0; i < f->nrx; i++)
		fab_rx_post(f, f->rx[i]);
	what = "pthread_create";
	ret = -pthread_create(&f->thread, NULL, fab_progress, f);
	if (ret)
		goto err_report;
	*out = f;
	return 0;

err_report:
	snprintf(err, errlen, "%s(%s, %s:%s): %s", what, o->provider, o->host,
		 o->port, fab_lib.strerror(-ret));
	close_objects(f);
	destroy_locks(f);
	free(f);
	return fab_errno(ret);
}

void fab_close(struct fab *f)
{
	struct fab_op *op, *next;
	struct timespec ts;
	size_t i;

	if (!f)
		return;

	/* fail the waiters and let them leave */
	pthread_mutex_lock(&f->lock);
	atomic_store(&f->closing, true);
	for (op = f->pending.next; op != &f->pending; op = op->next)
		pthread_cond_broadcast(&op->cond);
	while (f->users)
		pthread_cond_wait(&f->idle, &f->lock);
	/*
	 * Give operations still in flight a moment to complete: a provider
	 * may keep resources of those it never completes (tcp;ofi_rxm leaves
	 * the domain busy with a rendezvous send or read in flight).
	 */
	ts_of(now_ns() + FAB_CLOSE_GRACE_NS, &ts);
	while (f->pending.next != &f->pending)
		if (pthread_cond_timedwait(&f->idle, &f->lock, &ts) ==
		    ETIMEDOUT)
			break;
	pthread_mutex_unlock(&f->lock);

	/* no more callbacks, no more CQ reads */
	atomic_store(&f->stop, true);
	if (f->wait)
		fi_cq_signal(f->cq);
	kick_progress(f);
	pthread_join(f->thread, NULL);

	/* the provider lets go of every buffer... */
	close_fid(f, &f->ep->fid, "endpoint");
	f->ep = NULL;

	/* ...so what it still held can go: everything left is abandoned */
	for (op = f->pending.next; op != &f->pending; op = next) {
		next = op->next;
		fab_op_free(f, op);
	}
	f->pending.next = f->pending.prev = &f->pending;

	close_objects(f);
	for (i = 0; i < f->npeers; i++) {
		free(f->peers[i].host);
		free(f->peers[i].port);
	}
	free(f->peers);
	destroy_locks(f);
	free(f);
}

const char *fab_provider(const struct fab *f)
{
	return f->info->fabric_attr->prov_name;
}

void fab_get_stats(const struct fab *f, struct fab_stats *s)
{
	s->sends = atomic_load(&f->st.sends);
	s->send_errors = atomic_load(&f->st.send_errors);
	s->recvs = atomic_load(&f->st.recvs);
	s->reads = atomic_load(&f->st.reads);
	s->read_errors = atomic_load(&f->st.read_errors);
	s->bytes_sent = atomic_load(&f->st.bytes_sent);
	s->bytes_recv = atomic_load(&f->st.bytes_recv);
	s->bytes_read = atomic_load(&f->st.bytes_read);
}
