// SPDX-License-Identifier: MIT
/*
 * tests/tools/peerpoke.c - send hand-made peer messages to one canopyd and
 * print what comes back: the probes of tests/func/test_peer_badinput.sh.
 *
 *   peerpoke -c TOPOLOGY -n NODE -t TARGET [-w MS] [-q MS] PROBE...
 *
 * NODE is the topology's node this tool plays (one no daemon runs: a
 * daemon answers the address the topology gives for a message's source),
 * TARGET the daemon to poke. The job key, the transport's provider and the
 * block size come from the topology, as the daemons read it.
 *
 * Probes, each a word and its arguments:
 *   ping                 PING; a PONG proves the daemon is there
 *   stat PATH            STAT_REQ; prints the attributes or the error
 *   read PATH BLOCK      STAT_REQ for the file's identity (its own line,
 *                        "read PATH BLOCK (stat): "), then an rpc READ_REQ
 *                        for BLOCK (with a made-up identity if the STAT
 *                        failed); prints len and sha256 of the data
 *   readlink PATH        READLINK_REQ
 *   list PATH            LIST_REQ from entry 0; prints the count
 *   badkey PATH          a STAT_REQ sealed with a key that differs in a bit
 *   badsrc PATH          a STAT_REQ naming the target itself as its sender
 *   truncated PATH       a sealed STAT_REQ without its last byte
 *   oversized PATH       a sealed STAT_REQ whose header says body_len is
 *                        WIRE_BODY_MAX + 1 (the bytes sent are the real ones)
 *   dotdot PATH          a sealed STAT_REQ for PATH with its last component
 *                        replaced by "..": a path the decoder refuses
 *   huge                 a sealed message larger than the target's receive
 *                        buffers (block size + 128 KiB)
 *   garbage LEN          LEN random bytes that do not start with the magic
 *   flood COUNT          COUNT random messages of 1..64 bytes sent back to
 *                        back, then one wait of -q MS for anything they
 *                        provoke: "sent COUNT, no response"
 *
 * One line per probe: "PROBE ARGS: " then the response ("STAT_RESP err 0
 * mode 0100644 size 5 ...", "READ_RESP err -1 (Operation not permitted)"),
 * "no response" after -q MS (500) for probes that should get none, or after
 * -w MS (10000) for those that should, or "sent N" for flood. A response
 * that arrives for an earlier probe is printed as "late: ...".
 *
 * Threads: the transport's progress thread copies every message received to
 * the queue pk->head (under pk->lock) and signals pk->cond; the main thread
 * sends the probes one at a time and takes the answers from the queue.
 *
 * Exit status: 0 once every probe was sent (whatever the answers), 1 if a
 * send failed, 2 for a usage or set-up error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <openssl/evp.h>

#include "config.h"
#include "fabric.h"
#include "wire.h"

#define POKE_NRECV 4
#define POKE_FLOOD_MAX 64

/* A message received, copied out of the transport's buffer. */
struct poke_msg {
	struct poke_msg *next;
	size_t len;
	uint8_t data[];
};

struct poke {
	struct conf conf;
	struct fab *fab;
	struct wire_key key;
	uint32_t self, target;
	uint64_t addr; /* the target's */
	uint64_t next_id;
	size_t max_msg;	  /* ours: room for the largest probe */
	size_t their_max; /* the target's receive buffers */
	int wait_ms;	  /* for an answer that should come */
	int quiet_ms;	  /* for an answer that should not */
	bool send_failed;
	uint64_t rng;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct poke_msg *head, **tail; /* protected by lock */
};

/* ---- receiving ----------------------------------------------------------- */

static bool poke_recv(void *arg, void *buf, size_t len)
{
	struct poke *pk = arg;
	struct poke_msg *m = malloc(sizeof(*m) + len);

	if (!m)
		return false;
	m->next = NULL;
	m->len = len;
	memcpy(m->data, buf, len);
	pthread_mutex_lock(&pk->lock);
	*pk->tail = m;
	pk->tail = &m->next;
	pthread_cond_broadcast(&pk->cond);
	pthread_mutex_unlock(&pk->lock);
	return false; /* copied: the transport reposts its buffer */
}

static struct poke_msg *poke_pop(struct poke *pk, int ms)
{
	struct poke_msg *m;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pk->lock);
	while (!pk->head &&
	       pthread_cond_timedwait(&pk->cond, &pk->lock, &ts) != ETIMEDOUT)
		;
	m = pk->head;
	if (m) {
		pk->head = m->next;
		if (!pk->head)
			pk->tail = &pk->head;
	}
	pthread_mutex_unlock(&pk->lock);
	return m;
}

/* ---- printing a response ------------------------------------------------- */

static void print_err(int32_t err)
{
	printf(" err %" PRId32, err);
	if (err)
		printf(" (%s)", strerror(-err));
}

static void print_attr(const struct wire_attr *a)
{
	printf(" mode 0%" PRIo32 " size %" PRIu64 " uid %" PRIu32
	       " gid %" PRIu32 " nlink %" PRIu32 " mtime_ns %" PRId64
	       " ino %" PRIu64,
	       a->mode, a->size, a->uid, a->gid, a->nlink, a->mtime_ns, a->ino);
}

static void print_sha256(const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL)) {
		printf(" sha256 ?");
		return;
	}
	printf(" sha256 ");
	for (i = 0; i < n; i++)
		printf("%02x", md[i]);
}

/*
 * Print the response in @m (already checked: header and tag); if @sr is
 * given and @m is a STAT_RESP with err 0, copy its body there.
 */
static void print_resp(const struct poke_msg *m, const struct wire_hdr *h,
		       struct wire_stat_resp *sr)
{
	const uint8_t *body = m->data + WIRE_HDR_LEN;
	struct wire_readlink_resp *rl;
	struct wire_read_resp rr;
	struct wire_stat_resp st;
	struct wire_list_dec ld;

	printf("%s", wire_type_name(h->type));
	switch (h->type) {
	case WIRE_PONG:
		if (wire_decode_empty(body, h->body_len))
			printf(" undecodable");
		break;
	case WIRE_STAT_RESP:
		if (wire_decode_stat_resp(body, h->body_len, &st)) {
			printf(" undecodable");
			break;
		}
		print_err(st.err);
		if (!st.err)
			print_attr(&st.attr);
		if (sr)
			*sr = st;
		break;
	case WIRE_READ_RESP:
		if (wire_decode_read_resp(body, h->body_len, h->flags, &rr)) {
			printf(" undecodable");
			break;
		}
		print_err(rr.err);
		if (rr.err)
			break;
		printf(" len %" PRIu32, rr.len);
		if (h->flags & WIRE_F_RMA)
			printf(" rma (not asked for)");
		else
			print_sha256(rr.data, rr.len);
		break;
	case WIRE_READLINK_RESP:
		rl = malloc(sizeof(*rl));
		if (!rl || wire_decode_readlink_resp(body, h->body_len, rl)) {
			printf(" undecodable");
		} else {
			print_err(rl->err);
			if (!rl->err)
				printf(" target %s", rl->target);
		}
		free(rl);
		break;
	case WIRE_LIST_RESP:
		if (wire_list_decode(body, h->body_len, &ld)) {
			printf(" undecodable");
			break;
		}
		print_err(ld.err);
		printf(" count %" PRIu32 " more %d", ld.count, ld.more);
		break;
	default:
		printf(" (unexpected type %u)", h->type);
		break;
	}
}

/*
 * Wait up to @ms for the response to request @id; print it, or "no
 * response". Other messages are printed as late. Returns whether the
 * response came.
 */
static bool await(struct poke *pk, uint64_t id, int ms,
		  struct wire_stat_resp *sr)
{
	struct timespec t0, t1;
	struct poke_msg *m;
	struct wire_hdr h;
	int left = ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left > 0 && (m = poke_pop(pk, left))) {
		bool ok = !wire_decode_hdr(m->data, m->len, &h) &&
			  !wire_verify(m->data, m->len, &pk->key);

		if (ok && h.req_id == id && h.src == pk->target) {
			print_resp(m, &h, sr);
			printf("\n");
			free(m);
			return true;
		}
		printf("late: ");
		if (ok)
			print_resp(m, &h, NULL);
		else
			printf("a message that does not verify");
		printf(" (req_id %" PRIu64 "); ", ok ? h.req_id : 0);
		free(m);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
				  (t1.tv_nsec - t0.tv_nsec) / 1000000);
	}
	printf("no response\n");
	return false;
}

/* ---- sending ------------------------------------------------------------- */

static int send_raw(struct poke *pk, const void *msg, size_t len)
{
	void *buf = fab_msg_alloc(pk->fab, len);
	int ret;

	if (!buf) {
		fprintf(stderr, "peerpoke: no message buffer of %zu bytes\n",
			len);
		pk->send_failed = true;
		return -ENOMEM;
	}
	memcpy(buf, msg, len);
	ret = fab_send(pk->fab, pk->addr, buf, len, 10000);
	if (ret) {
		fprintf(stderr, "peerpoke: send of %zu bytes: %s\n", len,
			strerror(-ret));
		pk->send_failed = true;
	}
	return ret;
}

static void hdr_init(struct poke *pk, struct wire_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->req_id = pk->next_id++;
	h->src = pk->self;
}

static uint64_t rnd(struct poke *pk)
{
	/* xorshift64: reproducible garbage for a given seed */
	pk->rng ^= pk->rng << 13;
	pk->rng ^= pk->rng >> 7;
	pk->rng ^= pk->rng << 17;
	return pk->rng;
}

static void fill_random(struct poke *pk, uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)rnd(pk);
	if (len && p[0] == (uint8_t)(WIRE_MAGIC & 0xff))
		p[0] ^= 0x80;
}

/* Encode a STAT_REQ for @path into @buf (@cap bytes); sets *h. */
static ssize_t stat_req(struct poke *pk, void *buf, size_t cap,
			const char *path, struct wire_hdr *h)
{
	struct wire_path_msg *m = calloc(1, sizeof(*m));
	ssize_t len;

	if (!m)
		return -ENOMEM;
	hdr_init(pk, h);
	snprintf(m->path, sizeof(m->path), "%s", path);
	len = wire_encode_stat_req(buf, cap, h, m);
	free(m);
	return len;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- probes -------------------------------------------------------------- */

enum poke_kind {
	K_PING,
	K_STAT,
	K_READ,
	K_READLINK,
	K_LIST,
	K_BADKEY,
	K_BADSRC,
	K_TRUNCATED,
	K_OVERSIZED,
	K_DOTDOT,
	K_HUGE,
	K_GARBAGE,
	K_FLOOD,
};

/* The probes by kind: the word on the command line and its arguments. */
static const struct poke_probe {
	const char *name;
	int nargs;
	const char *args;
} probes[] = {
    [K_PING] = {"ping", 0, ""},
    [K_STAT] = {"stat", 1, " PATH"},
    [K_READ] = {"read", 2, " PATH BLOCK"},
    [K_READLINK] = {"readlink", 1, " PATH"},
    [K_LIST] = {"list", 1, " PATH"},
    [K_BADKEY] = {"badkey", 1, " PATH"},
    [K_BADSRC] = {"badsrc", 1, " PATH"},
    [K_TRUNCATED] = {"truncated", 1, " PATH"},
    [K_OVERSIZED] = {"oversized", 1, " PATH"},
    [K_DOTDOT] = {"dotdot", 1, " PATH"},
    [K_HUGE] = {"huge", 0, ""},
    [K_GARBAGE] = {"garbage", 1, " LEN"},
    [K_FLOOD] = {"flood", 1, " COUNT"},
};

#define NPROBES (sizeof(probes) / sizeof(probes[0]))

static int probe_read(struct poke *pk, uint8_t *buf, size_t cap,
		      const char *path, const char *block)
{
	struct wire_read_req *m = calloc(1, sizeof(*m));
	struct wire_stat_resp sr = {.err = -ENODATA};
	struct wire_hdr h;
	ssize_t len;
	int ret = -ENOMEM;

	if (!m)
		goto out;
	/* the identity of the file, as a child learns it */
	len = stat_req(pk, buf, cap, path, &h);
	if (len < 0 || wire_seal(buf, len, &pk->key)) {
		ret = len < 0 ? (int)len : -EINVAL;
		goto out;
	}
	ret = send_raw(pk, buf, len);
	if (ret)
		goto out;
	printf("read %s %s (stat): ", path, block);
	m->block = strtoull(block, NULL, 10);
	if (await(pk, h.req_id, pk->wait_ms, &sr) && !sr.err) {
		/* an identity's dev is (major << 32 | minor), as daemons
		 * compute it from statx; an attribute's is makedev() */
		m->id.dev =
		    (uint64_t)major(sr.attr.dev) << 32 | minor(sr.attr.dev);
		m->id.ino = sr.attr.ino;
		m->id.size = sr.attr.size;
		m->id.mtime_ns = sr.attr.mtime_ns;
		m->id.ctime_ns = sr.attr.ctime_ns;
	} else {
		/* no identity (a path it refuses): ask all the same */
		m->id.size = (m->block + 1) * pk->conf.block_size;
	}
	printf("read %s %s: ", path, block);
	fflush(stdout);
	snprintf(m->path, sizeof(m->path), "%s", path);
	m->block_size = (uint32_t)pk->conf.block_size;
	hdr_init(pk, &h);
	len = wire_encode_read_req(buf, cap, &h, m);
	if (len < 0 || wire_seal(buf, len, &pk->key)) {
		printf("cannot encode: %s\n",
		       strerror(len < 0 ? (int)-len : EINVAL));
		ret = 0;
		goto out;
	}
	ret = send_raw(pk, buf, len);
	if (!ret)
		await(pk, h.req_id, pk->wait_ms, NULL);
out:
	free(m);
	return ret;
}

/* Send @len bytes at @buf sealed with the job key and wait @ms. */
static int sealed(struct poke *pk, uint8_t *buf, size_t len,
		  const struct wire_hdr *h, int ms)
{
	int ret;

	if (wire_seal(buf, len, &pk->key))
		return -EINVAL;
	ret = send_raw(pk, buf, len);
	if (!ret)
		await(pk, h->req_id, ms, NULL);
	return ret;
}

static int run_probe(struct poke *pk, enum poke_kind kind, char **args,
		     uint8_t *buf, size_t cap)
{
	const struct poke_probe *p = &probes[kind];
	struct wire_path_msg *pm = NULL;
	struct wire_list_req *lr = NULL;
	struct wire_key bad;
	struct wire_hdr h;
	unsigned long i, n;
	ssize_t len = 0;
	char *slash;
	int ret = 0;

	if (kind == K_READ)
		return probe_read(pk, buf, cap, args[0], args[1]);
	printf("%s", p->name);
	for (i = 0; i < (unsigned long)p->nargs; i++)
		printf(" %s", args[i]);
	printf(": ");
	fflush(stdout);

	switch (kind) {
	case K_PING:
		hdr_init(pk, &h);
		len = wire_encode_ping(buf, cap, &h);
		if (len > 0)
			ret = sealed(pk, buf, len, &h, pk->wait_ms);
		break;
	case K_STAT:
		len = stat_req(pk, buf, cap, args[0], &h);
		if (len > 0)
			ret = sealed(pk, buf, len, &h, pk->wait_ms);
		break;
	case K_READ: /* above */
		break;
	case K_READLINK:
		pm = calloc(1, sizeof(*pm));
		if (!pm)
			return -ENOMEM;
		hdr_init(pk, &h);
		snprintf(pm->path, sizeof(pm->path), "%s", args[0]);
		len = wire_encode_readlink_req(buf, cap, &h, pm);
		free(pm);
		if (len > 0)
			ret = sealed(pk, buf, len, &h, pk->wait_ms);
		break;
	case K_LIST:
		lr = calloc(1, sizeof(*lr));
		if (!lr)
			return -ENOMEM;
		hdr_init(pk, &h);
		snprintf(lr->path, sizeof(lr->path), "%s", args[0]);
		len = wire_encode_list_req(buf, cap, &h, lr);
		free(lr);
		if (len > 0)
			ret = sealed(pk, buf, len, &h, pk->wait_ms);
		break;
	case K_BADKEY:
		len = stat_req(pk, buf, cap, args[0], &h);
		if (len <= 0)
			break;
		bad = pk->key;
		if (bad.none) {
			/* no key in the topology: any tag passes */
			bad.none = false;
			bad.len = WIRE_KEY_MIN;
			memset(bad.bytes, 0x5a, bad.len);
		} else {
			bad.bytes[bad.len - 1] ^= 1;
		}
		if (wire_seal(buf, len, &bad))
			return -EINVAL;
		ret = send_raw(pk, buf, len);
		if (!ret)
			await(pk, h.req_id, pk->quiet_ms, NULL);
		break;
	case K_BADSRC:
		len = stat_req(pk, buf, cap, args[0], &h);
		if (len <= 0)
			break;
		put_le32(buf + 16, pk->target); /* src: the target itself */
		h.src = pk->target;
		ret = sealed(pk, buf, len, &h, pk->quiet_ms);
		break;
	case K_TRUNCATED:
		len = stat_req(pk, buf, cap, args[0], &h);
		if (len <= 0)
			break;
		if (wire_seal(buf, len, &pk->key))
			return -EINVAL;
		ret = send_raw(pk, buf, len - 1);
		if (!ret)
			await(pk, h.req_id, pk->quiet_ms, NULL);
		break;
	case K_OVERSIZED:
		len = stat_req(pk, buf, cap, args[0], &h);
		if (len <= 0)
			break;
		put_le32(buf + 20, WIRE_BODY_MAX + 1); /* body_len */
		ret = sealed(pk, buf, len, &h, pk->quiet_ms);
		break;
	case K_DOTDOT:
		/* encode a name of two bytes, then make it ".." */
		pm = calloc(1, sizeof(*pm));
		if (!pm)
			return -ENOMEM;
		snprintf(pm->path, sizeof(pm->path), "%s", args[0]);
		slash = strrchr(pm->path, '/');
		if (!slash ||
		    (size_t)(slash - pm->path) + 3 >= sizeof(pm->path)) {
			free(pm);
			printf("bad path\n");
			return 0;
		}
		strcpy(slash + 1, "xx");
		hdr_init(pk, &h);
		len = wire_encode_stat_req(buf, cap, &h, pm);
		free(pm);
		if (len <= 0)
			break;
		buf[len - 1] = '.';
		buf[len - 2] = '.';
		ret = sealed(pk, buf, len, &h, pk->quiet_ms);
		break;
	case K_HUGE:
		len = (ssize_t)pk->their_max + (64 << 10);
		if ((size_t)len > cap) {
			printf("bigger than this tool's buffer\n");
			return 0;
		}
		memset(buf, 0, len);
		hdr_init(pk, &h);
		/* a STAT_REQ header with a body of zeros of the right length */
		wire_encode_ping(buf, cap, &h);
		buf[5] = WIRE_STAT_REQ;
		put_le32(buf + 20, (uint32_t)(len - WIRE_HDR_LEN));
		ret = sealed(pk, buf, len, &h, pk->quiet_ms);
		break;
	case K_GARBAGE:
		n = strtoul(args[0], NULL, 10);
		if (n < 1 || n > cap) {
			printf("bad length\n");
			return 0;
		}
		fill_random(pk, buf, n);
		ret = send_raw(pk, buf, n);
		if (!ret)
			await(pk, 0, pk->quiet_ms, NULL);
		break;
	case K_FLOOD:
		n = strtoul(args[0], NULL, 10);
		for (i = 0; i < n && !ret; i++) {
			size_t l = 1 + rnd(pk) % POKE_FLOOD_MAX;

			fill_random(pk, buf, l);
			ret = send_raw(pk, buf, l);
		}
		printf("sent %lu, ", i - (ret ? 1 : 0));
		/* anything they provoked shows up here */
		await(pk, 0, pk->quiet_ms, NULL);
		break;
	}
	if (len < 0) {
		printf("cannot encode: %s\n", strerror((int)-len));
		return 0;
	}
	fflush(stdout);
	return ret;
}

/* ---- set-up -------------------------------------------------------------- */

static void usage(void)
{
	size_t i;

	fprintf(stderr, "usage: peerpoke -c TOPOLOGY -n NODE -t TARGET "
			"[-w MS] [-q MS] PROBE...\nprobes:");
	for (i = 0; i < NPROBES; i++)
		fprintf(stderr, "%s %s%s", i ? "," : "", probes[i].name,
			probes[i].args);
	fprintf(stderr, "\n");
	exit(2);
}

static int poke_setup(struct poke *pk, const char *topo, const char *node,
		      const char *target)
{
	const struct conf_node *me, *them;
	char err[CONF_ERR_MAX];
	struct fab_opts fo;
	size_t idx;
	int ret;

	ret = conf_init(&pk->conf);
	if (ret)
		return ret;
	if (topo_load(&pk->conf, topo, err, sizeof(err)) ||
	    conf_set(&pk->conf, "node", node, err, sizeof(err)) ||
	    conf_finish(&pk->conf, err, sizeof(err))) {
		fprintf(stderr, "peerpoke: %s\n", err);
		return -EINVAL;
	}
	if (!pk->conf.nnodes) {
		fprintf(stderr, "peerpoke: %s has no nodes\n", topo);
		return -EINVAL;
	}
	pk->self = (uint32_t)pk->conf.node_index;
	if (conf_find_node(&pk->conf, target, &idx)) {
		fprintf(stderr, "peerpoke: no node %s in %s\n", target, topo);
		return -EINVAL;
	}
	pk->target = (uint32_t)idx;
	if (pk->conf.auth_none) {
		wire_key_none(&pk->key);
	} else {
		ret = wire_key_load(pk->conf.auth_key_file, &pk->key, err,
				    sizeof(err));
		if (ret < 0) {
			fprintf(stderr, "peerpoke: %s\n", err);
			return ret;
		}
	}
	/* the daemons' receive buffers: a block and 64 KiB (peer.c) */
	pk->their_max = pk->conf.block_size + (64 << 10);
	pk->max_msg = pk->their_max + (128 << 10);
	me = &pk->conf.nodes[pk->self];
	them = &pk->conf.nodes[pk->target];
	fo = (struct fab_opts){.provider = pk->conf.provider,
			       .host = me->host,
			       .port = me->port,
			       .max_msg = pk->max_msg,
			       .nrecv = POKE_NRECV};
	ret = fab_open(&fo, poke_recv, pk, &pk->fab, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "peerpoke: %s\n", err);
		return ret;
	}
	ret = fab_peer(pk->fab, them->host, them->port, &pk->addr);
	if (ret) {
		fprintf(stderr, "peerpoke: %s:%s: %s\n", them->host, them->port,
			strerror(-ret));
		return ret;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *topo = NULL, *node = NULL, *target = NULL;
	struct poke *pk;
	uint8_t *buf;
	size_t i;
	int c, ret = 0, argi;

	pk = calloc(1, sizeof(*pk));
	if (!pk)
		return 2;
	pk->wait_ms = 10000;
	pk->quiet_ms = 500;
	pk->next_id = 0x5000;
	pk->rng = 0x9e3779b97f4a7c15ull;
	pk->tail = &pk->head;
	pthread_mutex_init(&pk->lock, NULL);
	pthread_cond_init(&pk->cond, NULL);
	while ((c = getopt(argc, argv, "c:n:t:w:q:h")) != -1) {
		switch (c) {
		case 'c':
			topo = optarg;
			break;
		case 'n':
			node = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 'w':
			pk->wait_ms = atoi(optarg);
			break;
		case 'q':
			pk->quiet_ms = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!topo || !node || !target || optind >= argc)
		usage();
	/* check the probes before sending anything */
	for (argi = optind; argi < argc;) {
		for (i = 0; i < NPROBES; i++)
			if (!strcmp(argv[argi], probes[i].name))
				break;
		if (i == NPROBES || argi + 1 + probes[i].nargs > argc) {
			fprintf(stderr, "peerpoke: bad probe at '%s'\n",
				argv[argi]);
			usage();
		}
		argi += 1 + probes[i].nargs;
	}
	if (poke_setup(pk, topo, node, target)) {
		ret = 2;
		goto out;
	}
	buf = malloc(pk->max_msg);
	if (!buf) {
		ret = 2;
		goto out;
	}
	for (argi = optind; argi < argc;) {
		for (i = 0; strcmp(argv[argi], probes[i].name); i++)
			;
		if (run_probe(pk, (enum poke_kind)i, argv + argi + 1, buf,
			      pk->max_msg))
			pk->send_failed = true;
		argi += 1 + probes[i].nargs;
	}
	free(buf);
	ret = pk->send_failed ? 1 : 0;
out:
	fab_close(pk->fab);
	while (pk->head) {
		struct poke_msg *m = pk->head;

		pk->head = m->next;
		free(m);
	}
	conf_free(&pk->conf);
	pthread_mutex_destroy(&pk->lock);
	pthread_cond_destroy(&pk->cond);
	free(pk);
	return ret;
}
