/* SPDX-License-Identifier: MIT */
/*
 * io/fabric.h - the network transport between canopyd peers: messages and
 * RMA reads over libfabric RDM endpoints.
 *
 * One struct fab per daemon: one endpoint bound to this node's host:port,
 * one completion queue, one address vector, and a progress thread that
 * reaps completions and hands received messages to a callback. The provider
 * comes from the caller ("tcp;ofi_rxm" in tests, "cxi" on Slingshot,
 * "verbs;ofi_rxm" on InfiniBand). libfabric stays inside io/fabric.c,
 * io/fabric_setup.c (and io/fabric_lib.c, which loads it at the first
 * fab_open()): callers see only the opaque types below and uint64_t handles.
 *
 * Threads: every function may be called from any thread at once, except
 * fab_open() and fab_close() (one thread, once each). A thread that is
 * blocked in fab_send() or fab_read() when fab_close() starts gets
 * -ECANCELED; calls that start after fab_close() has returned are use after
 * free.
 *
 * Functions return 0 or -errno.
 */
#ifndef CANOPY_FABRIC_H
#define CANOPY_FABRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fab;
struct fab_mr;

/* How the progress thread waits for completions. */
enum fab_progress {
	FAB_PROGRESS_AUTO = 0, /* block on the CQ's wait object if it has one */
	FAB_PROGRESS_WAIT,     /* block on the wait object; fail if none */
	FAB_PROGRESS_POLL,     /* poll the CQ, sleeping 50 us .. 1 ms between */
};

struct fab_opts {
	const char *provider; /* "tcp;ofi_rxm" */
	const char *host;     /* this node's address: host name or IP */
	const char *port;     /* this node's port (service) */
	size_t max_msg;	      /* largest message either way, bytes */
	unsigned nrecv;	      /* receive buffers posted (e.g. 16) */
	/* 0: FAB_PROGRESS_AUTO */
	enum fab_progress progress;
};

/*
 * A message arrived: @buf (@len bytes) belongs to the transport and is valid
 * during the call only; return true to keep it, then hand it back later with
 * fab_recv_done(). Called on the transport's progress thread: must not block
 * for long (no network waits inside; hand work to another thread).
 */
typedef bool (*fab_recv_fn)(void *arg, void *buf, size_t len);

/*
 * Open the endpoint bound to o->host:o->port and start the progress thread.
 * On error *err (@errlen bytes, may be 0) says why, naming the provider and
 * the address ("fi_getinfo(tcp;ofi_rxm, 127.0.0.1:7000): No data
 * available"). On success *out belongs to the caller; release with
 * fab_close().
 */
int fab_open(const struct fab_opts *o, fab_recv_fn fn, void *arg,
	     struct fab **out, char *err, size_t errlen);

/*
 * Stop the progress thread, fail the sends and reads still waiting with
 * -ECANCELED, close the endpoint and free everything the transport owns:
 * message buffers, receive buffers (kept ones too), abandoned operations.
 * Regions from fab_mr_reg() belong to the caller: fab_mr_close() them
 * first. NULL is a no-op.
 */
void fab_close(struct fab *f);

/* The provider actually chosen ("tcp;ofi_rxm"); valid until fab_close(). */
const char *fab_provider(const struct fab *f);

/* A receive buffer kept by fab_recv_fn goes back to the pool (reposted). */
void fab_recv_done(struct fab *f, void *buf);

/*
 * Resolve @host:@port and insert it into the address vector. Thread-safe;
 * the same host:port gives the same *addr. *addr is an opaque handle,
 * valid until fab_close().
 */
int fab_peer(struct fab *f, const char *host, const char *port, uint64_t *addr);

/*
 * Message buffers. fab_msg_alloc() returns a buffer of @len bytes
 * (o->max_msg at most; NULL if larger or out of memory) that belongs to the
 * caller until it is given to fab_send() or fab_msg_free().
 */
void *fab_msg_alloc(struct fab *f, size_t len);
void fab_msg_free(struct fab *f, void *buf);

/*
 * Send the first @len bytes of @buf (from fab_msg_alloc(), @len at most its
 * size) to peer @addr. Takes ownership of @buf whatever it returns. Returns
 * 0 once the message is handed over (completed locally; a message up to
 * the provider's inject size, 64 bytes for tcp;ofi_rxm, is handed over when
 * the provider has copied it, and a later failure is not reported to the
 * sender), -ETIMEDOUT after
 * @timeout_ms (< 0: no limit), -ECANCELED if fab_close() started, or the
 * provider's -errno (a peer that is gone: -ECONNREFUSED, -EHOSTUNREACH,
 * -ECONNRESET, ...). After -ETIMEDOUT the message may still go out later.
 */
int fab_send(struct fab *f, uint64_t addr, void *buf, size_t len,
	     int timeout_ms);

/*
 * Register @len bytes at @buf for RMA. @remote: peers may fab_read() it
 * (FI_REMOTE_READ); otherwise it is a local target of fab_read() (FI_READ).
 * On success *out belongs to the caller; release with fab_mr_close() before
 * freeing @buf and before fab_close().
 */
int fab_mr_reg(struct fab *f, void *buf, size_t len, bool remote,
	       struct fab_mr **out);
void fab_mr_close(struct fab_mr *mr);
uint64_t fab_mr_key(const struct fab_mr *mr);

/*
 * The address a peer passes to fab_read() for byte @p of the region: the
 * virtual address or the offset into the region, as the provider's mr_mode
 * says (FI_MR_VIRT_ADDR).
 */
uint64_t fab_mr_raddr(const struct fab_mr *mr, const void *p);

/*
 * Read @len bytes at (@raddr, @key) of peer @addr into @local, which lies
 * inside the registered region @lmr. Blocks until done, -ETIMEDOUT after
 * @timeout_ms (< 0: no limit), -ECANCELED if fab_close() started, or the
 * provider's -errno (a bad key: -EINVAL, -EIO, ... as the provider says).
 * Thread-safe. After -ETIMEDOUT the provider may still write @local until
 * the read completes or fab_close(): keep @lmr's memory alive, or take the
 * risk of late bytes, as the caller's protocol allows.
 */
int fab_read(struct fab *f, uint64_t addr, void *local, size_t len,
	     struct fab_mr *lmr, uint64_t raddr, uint64_t key, int timeout_ms);

/* Counters since fab_open(); each is read atomically, not all together. */
struct fab_stats {
	uint64_t sends, send_errors, recvs, reads, read_errors;
	uint64_t bytes_sent, bytes_recv, bytes_read;
};

void fab_get_stats(const struct fab *f, struct fab_stats *s);

#endif /* CANOPY_FABRIC_H */
