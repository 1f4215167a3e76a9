/* SPDX-License-Identifier: MIT */
/*
 * benchmarks/fabbench.c - the libfabric transport (io/fabric*.c) over
 * loopback: latency, throughput, and what the provider does when a peer
 * is missing, killed or stopped.
 *
 *   fabbench [-P PROVIDER] [-w auto|wait|poll] [-n PINGS] [-b BULK]
 *            [-s] [-f] [-q]
 *
 * Two endpoints on 127.0.0.1, ports chosen free at start: a client and an
 * echo server, first in one process, then (with fork) in two. The server's
 * callback hands each request to a worker thread, which replies, as canopyd
 * does. Measured:
 *   lat   ping-pong of 64-byte messages, PINGS round trips (10000): median,
 *         99th percentile and the client's CPU time per round trip
 *   send  BULK (64) messages of 4 MiB, then one ping: GB/s
 *   read  BULK fab_read()s of 4 MiB from the server's registered region
 * -s skips the single-process run, -q the timings (faults only).
 * -f then probes faults against a forked server: (a) a port where nobody
 * listens, (c) a SIGSTOPped server, (b) a SIGKILLed server, and whether a
 * server restarted on the same port is reachable again.
 * -w chooses how the progress threads wait (enum fab_progress).
 *
 * The Makefile builds each benchmark from its one source file, so the
 * transport is compiled in here rather than linked.
 */
#include "io/fabric.c"
#include "io/fabric_lib.c"
#include "io/fabric_setup.c"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define FB_MAX_MSG ((4U << 20) + 65536)
#define FB_BULK (4U << 20)
#define FB_PING 64
#define FB_TIMEOUT_MS 10000

enum fb_type {
	FB_PING_T = 'P',
	FB_PONG_T = 'p',
	FB_HELLO = 'H',
	FB_BULK_T = 'B',
	FB_QUIT = 'Q'
};

/* What a request carries after its type byte. */
struct fb_hello {
	uint64_t raddr, key;
};

/* ------------------------------------------------------------------ */
/* the echo server: callback -> queue -> worker                         */

struct fb_server {
	struct fab *f;
	uint64_t client;
	char *region; /* FB_BULK bytes, readable by the client */
	struct fab_mr *mr;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void *q[64]; /* kept receive buffers, protected by lock */
	size_t qlen[64];
	unsigned head, tail;
	bool quit;
	pthread_t worker;
};

static bool fb_server_recv(void *arg, void *buf, size_t len)
{
	struct fb_server *s = arg;
	bool kept = false;

	if (len && ((char *)buf)[0] == FB_BULK_T)
		return false; /* counted by the transport, nothing to say */
	pthread_mutex_lock(&s->lock);
	if (s->tail - s->head < 64) {
		s->q[s->tail % 64] = buf;
		s->qlen[s->tail % 64] = len;
		s->tail++;
		pthread_cond_signal(&s->cond);
		kept = true;
	}
	pthread_mutex_unlock(&s->lock);
	return kept;
}

static void *fb_server_worker(void *arg)
{
	struct fb_server *s = arg;
	struct fb_hello h;
	char type, *out;
	size_t len;
	void *buf;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (s->head == s->tail && !s->quit)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->head == s->tail) {
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		buf = s->q[s->head % 64];
		len = s->qlen[s->head % 64];
		s->head++;
		pthread_mutex_unlock(&s->lock);

		type = len ? ((char *)buf)[0] : 0;
		fab_recv_done(s->f, buf);
		if (type == FB_QUIT) {
			pthread_mutex_lock(&s->lock);
			s->quit = true;
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		out = fab_msg_alloc(s->f, FB_PING);
		if (!out)
			continue;
		memset(out, 0, FB_PING);
		out[0] = FB_PONG_T;
		if (type == FB_HELLO) {
			h.raddr = fab_mr_raddr(s->mr, s->region);
			h.key = fab_mr_key(s->mr);
			memcpy(out + 8, &h, sizeof(h));
		}
		fab_send(s->f, s->client, out, len < FB_PING ? len : FB_PING,
			 FB_TIMEOUT_MS);
	}
}

static int fb_server_start(struct fb_server *s, const struct fab_opts *o,
			   const char *client_port)
{
	char err[256];
	int ret;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->region = malloc(FB_BULK);
	if (!s->region)
		return -ENOMEM;
	memset(s->region, 'r', FB_BULK);
	ret = fab_open(o, fb_server_recv, s, &s->f, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "fabbench: server: %s\n", err);
		return ret;
	}
	ret = fab_mr_reg(s->f, s->region, FB_BULK, true, &s->mr);
	if (!ret)
		ret = fab_peer(s->f, o->host, client_port, &s->client);
	if (!ret)
		ret = -pthread_create(&s->worker, NULL, fb_server_worker, s);
	return ret;
}

/* Runs until a FB_QUIT arrives. */
static void fb_server_stop(struct fb_server *s)
{
	pthread_join(s->worker, NULL);
	fab_mr_close(s->mr);
	fab_close(s->f);
	free(s->region);
}

/* ------------------------------------------------------------------ */
/* the client                                                           */

struct fb_client {
	struct fab *f;
	uint64_t server;
	sem_t reply;
	char last[FB_PING]; /* the last reply, written before sem_post */
};

static bool fb_client_recv(void *arg, void *buf, size_t len)
{
	struct fb_client *c = arg;

	memcpy(c->last, buf, len < FB_PING ? len : FB_PING);
	sem_post(&c->reply);
	return false;
}

static int fb_wait_reply(struct fb_client *c, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (sem_timedwait(&c->reply, &ts))
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Send a @len-byte message of @type; 0 or -errno of fab_send(). */
static int fb_send(struct fb_client *c, char type, size_t len, int ms)
{
	char *m = fab_msg_alloc(c->f, len);

	if (!m)
		return -ENOMEM;
	m[0] = type;
	return fab_send(c->f, c->server, m, len, ms);
}

static int fb_rpc(struct fb_client *c, char type, int ms)
{
	int ret = fb_send(c, type, FB_PING, ms);

	return ret ? ret : fb_wait_reply(c, ms);
}

static double fb_cpu(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (double)r.ru_utime.tv_sec + (double)r.ru_stime.tv_sec +
	       ((double)r.ru_utime.tv_usec + (double)r.ru_stime.tv_usec) / 1e6;
}

static int fb_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void fb_latency(struct fb_client *c, unsigned n, const char *where)
{
	uint64_t *rtt = calloc(n, sizeof(*rtt)), t;
	double cpu0 = fb_cpu(), cpu;
	unsigned i;

	if (!rtt)
		return;
	for (i = 0; i < n; i++) {
		t = now_ns();
		if (fb_rpc(c, FB_PING_T, FB_TIMEOUT_MS)) {
			printf("%-8s lat: ping %u failed\n", where, i);
			break;
		}
		rtt[i] = now_ns() - t;
	}
	cpu = fb_cpu() - cpu0; /* both sides in the one-process run */
	if (i == n) {
		qsort(rtt, n, sizeof(*rtt), fb_cmp);
		printf("%-8s lat: %u round trips of %u B: median %.1f us, "
		       "p99 %.1f us, cpu %.1f us per round trip\n",
		       where, n, FB_PING, rtt[n / 2] / 1e3,
		       rtt[n * 99 / 100] / 1e3, cpu * 1e6 / n);
	}
	free(rtt);
}

static void fb_throughput(struct fb_client *c, unsigned n, const char *where)
{
	struct fb_hello h;
	struct fab_mr *lmr;
	uint64_t t;
	char *local;
	unsigned i;
	int ret;

	/* warm up the connection and the buffer cache, then time */
	fb_send(c, FB_BULK_T, FB_BULK, FB_TIMEOUT_MS);
	t = now_ns();
	for (i = 0; i < n; i++) {
		ret = fb_send(c, FB_BULK_T, FB_BULK, FB_TIMEOUT_MS);
		if (ret) {
			printf("%-8s send: %s\n", where, strerror(-ret));
			return;
		}
	}
	if (fb_rpc(c, FB_PING_T, FB_TIMEOUT_MS))
		return;
	t = now_ns() - t;
	printf("%-8s send: %u x 4 MiB in %.3f s: %.2f GB/s\n", where, n,
	       t / 1e9, (double)n * FB_BULK / (double)t);

	if (fb_rpc(c, FB_HELLO, FB_TIMEOUT_MS))
		return;
	memcpy(&h, c->last + 8, sizeof(h));
	local = malloc(FB_BULK);
	if (!local || fab_mr_reg(c->f, local, FB_BULK, false, &lmr)) {
		free(local);
		return;
	}
	fab_read(c->f, c->server, local, FB_BULK, lmr, h.raddr, h.key,
		 FB_TIMEOUT_MS);
	t = now_ns();
	for (i = 0; i < n; i++) {
		ret = fab_read(c->f, c->server, local, FB_BULK, lmr, h.raddr,
			       h.key, FB_TIMEOUT_MS);
		if (ret) {
			printf("%-8s read: %s\n", where, strerror(-ret));
			break;
		}
	}
	t = now_ns() - t;
	if (i == n && local[FB_BULK - 1] == 'r')
		printf("%-8s read: %u x 4 MiB in %.3f s: %.2f GB/s\n", where, n,
		       t / 1e9, (double)n * FB_BULK / (double)t);
	fab_mr_close(lmr);
	free(local);
}

static int fb_client_open(struct fb_client *c, const struct fab_opts *o,
			  const char *server_port)
{
	char err[256];
	int ret;

	memset(c, 0, sizeof(*c));
	sem_init(&c->reply, 0, 0);
	ret = fab_open(o, fb_client_recv, c, &c->f, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "fabbench: client: %s\n", err);
		return ret;
	}
	return fab_peer(c->f, o->host, server_port, &c->server);
}

/* ------------------------------------------------------------------ */
/* ports and processes                                                  */

static void fb_free_port(char *buf, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, alen) ||
	    getsockname(s, (struct sockaddr *)&a, &alen)) {
		perror("fabbench: free port");
		exit(1);
	}
	close(s);
	snprintf(buf, len, "%u", ntohs(a.sin_port));
}

static const char *const fb_progress_names[] = {
    [FAB_PROGRESS_AUTO] = "auto",
    [FAB_PROGRESS_WAIT] = "wait",
    [FAB_PROGRESS_POLL] = "poll",
};

/*
 * A server in a fresh process (fork, then exec of this program with -S, so
 * that the child does not inherit a libfabric state that other threads of
 * the parent may hold locked); returns its pid.
 */
static pid_t fb_fork_server(const struct fab_opts *o, const char *port,
			    const char *client_port)
{
	char ports[40];
	pid_t pid;

	/* a server never starts servers: no chain of processes, whatever */
	if (getenv("FABBENCH_SERVER")) {
		fprintf(stderr, "fabbench: a server may not fork servers\n");
		exit(1);
	}
	snprintf(ports, sizeof(ports), "%s:%s", port, client_port);
	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	setenv("FABBENCH_SERVER", "1", 1);
	execl("/proc/self/exe", "fabbench", "-P", o->provider, "-w",
	      fb_progress_names[o->progress], "-S", ports, (char *)NULL);
	_exit(127);
}

/* -S PORT:CLIENT_PORT: be the server until the client says FB_QUIT. */
static int fb_serve(struct fab_opts o, char *ports)
{
	char *client = strchr(ports, ':');
	struct fb_server s;

	if (!client)
		return 2;
	*client++ = '\0';
	o.port = ports;
	if (fb_server_start(&s, &o, client))
		return 1;
	fb_server_stop(&s);
	return 0;
}

/* Ping until the server answers (it may still be starting). */
static int fb_await(struct fb_client *c, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000ULL;

	while (now_ns() < end)
		if (!fb_rpc(c, FB_PING_T, 1000))
			return 0;
	return -ETIMEDOUT;
}

static void fb_report(const char *what, int ret, uint64_t t0)
{
	printf("  %-44s %-14s after %8.1f ms\n", what,
	       ret ? strerrorname_np(-ret) : "ok", (now_ns() - t0) / 1e6);
}

static void fb_faults(const struct fab_opts *o, const char *cport)
{
	struct fb_client c;
	struct fab_mr *lmr;
	struct fb_hello h;
	char sport[16], nport[16], *local;
	uint64_t nobody, t;
	pid_t pid;
	int ret, i;

	fb_free_port(sport, sizeof(sport));
	fb_free_port(nport, sizeof(nport));
	pid = fb_fork_server(o, sport, cport);
	if (fb_client_open(&c, o, sport) || fb_await(&c, 5000)) {
		printf("faults: the server did not come up\n");
		goto out_kill;
	}
	local = malloc(FB_BULK);
	if (!local || fab_mr_reg(c.f, local, FB_BULK, false, &lmr))
		goto out_kill;
	fb_rpc(&c, FB_HELLO, 2000);
	memcpy(&h, c.last + 8, sizeof(h));

	printf("faults (timeouts 3000 ms):\n");
	fab_peer(c.f, o->host, nport, &nobody);
	t = now_ns();
	{
		char *m = fab_msg_alloc(c.f, FB_PING);

		ret = fab_send(c.f, nobody, m, FB_PING, 3000);
	}
	fb_report("(a) send to a port nobody listens on", ret, t);

	kill(pid, SIGSTOP);
	usleep(100000);
	for (i = 0; i < 3; i++) {
		t = now_ns();
		ret = fb_send(&c, FB_PING_T, FB_PING, 3000);
		fb_report("(c) stopped: 64 B send", ret, t);
	}
	t = now_ns();
	ret = fb_send(&c, FB_BULK_T, FB_BULK, 3000);
	fb_report("(c) stopped: 4 MiB send", ret, t);
	t = now_ns();
	ret = fab_read(c.f, c.server, local, 65536, lmr, h.raddr, h.key, 3000);
	fb_report("(c) stopped: 64 KiB read", ret, t);
	for (i = 0; i < 200; i++) {
		ret = fb_send(&c, FB_PING_T, FB_PING, 50);
		if (ret)
			break;
	}
	printf("  (c) stopped: %d 64 B sends complete before one times out\n",
	       i);
	kill(pid, SIGCONT);
	t = now_ns();
	ret = fb_await(&c, 5000);
	fb_report("(c) continued: a ping round trip again", ret, t);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	pid = 0;
	for (i = 0; i < 3; i++) {
		t = now_ns();
		ret = fb_send(&c, FB_PING_T, FB_PING, 3000);
		fb_report("(b) killed: 64 B send", ret, t);
	}
	t = now_ns();
	ret = fab_read(c.f, c.server, local, 65536, lmr, h.raddr, h.key, 3000);
	fb_report("(b) killed: 64 KiB read", ret, t);

	pid = fb_fork_server(o, sport, cport);
	t = now_ns();
	ret = fb_await(&c, 5000);
	fb_report("(d) restarted on the same port: round trip", ret, t);
	if (!ret)
		fb_send(&c, FB_QUIT, FB_PING, 1000);
	fab_mr_close(lmr);
	free(local);
out_kill:
	if (pid > 0) {
		usleep(100000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	fab_close(c.f);
}

static void fb_run(const struct fab_opts *o, bool forked, unsigned pings,
		   unsigned bulk)
{
	const char *where = forked ? "2 procs" : "1 proc";
	struct fb_server s;
	struct fb_client c;
	struct fab_opts co = *o;
	char sport[16], cport[16];
	pid_t pid = 0;

	fb_free_port(sport, sizeof(sport));
	fb_free_port(cport, sizeof(cport));
	if (forked) {
		pid = fb_fork_server(o, sport, cport);
	} else {
		co.port = sport;
		if (fb_server_start(&s, &co, cport))
			return;
	}
	co.port = cport;
	if (fb_client_open(&c, &co, sport) || fb_await(&c, 5000)) {
		printf("%s: the server did not come up\n", where);
		goto out;
	}
	printf("%-8s provider %s, progress %s\n", where, fab_provider(c.f),
	       c.f->wait ? "fi_cq_sread" : "fi_cq_read+sleep");
	fb_latency(&c, pings, where);
	fb_throughput(&c, bulk, where);
	fb_send(&c, FB_QUIT, FB_PING, 1000);
out:
	if (forked) {
		waitpid(pid, NULL, 0);
	} else {
		fb_server_stop(&s);
	}
	fab_close(c.f);
}

int main(int argc, char **argv)
{
	struct fab_opts o = {.provider = "tcp;ofi_rxm",
			     .host = "127.0.0.1",
			     .max_msg = FB_MAX_MSG,
			     .nrecv = 16};
	unsigned pings = 10000, bulk = 64;
	bool single = true, faults = false, timings = true;
	char cport[16], *serve = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "P:w:n:b:sfqS:")) != -1) {
		switch (opt) {
		case 'P':
			o.provider = optarg;
			break;
		case 'w':
			o.progress = !strcmp(optarg, "wait") ? FAB_PROGRESS_WAIT
				     : !strcmp(optarg, "poll")
					 ? FAB_PROGRESS_POLL
					 : FAB_PROGRESS_AUTO;
			break;
		case 'n':
			pings = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			bulk = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 's':
			single = false;
			break;
		case 'f':
			faults = true;
			break;
		case 'q':
			timings = false;
			break;
		case 'S':
			serve = optarg;
			break;
		default:
			fprintf(stderr, "usage: fabbench [-P PROVIDER] "
					"[-w auto|wait|poll] [-n PINGS] "
					"[-b BULK] [-s] [-f] [-q]\n");
			return 2;
		}
	}
	if (!pings)
		pings = 1;
	signal(SIGPIPE, SIG_IGN);
	if (serve)
		return fb_serve(o, serve);
	if (timings && single)
		fb_run(&o, false, pings, bulk);
	if (timings)
		fb_run(&o, true, pings, bulk);
	if (faults) {
		fb_free_port(cport, sizeof(cport));
		o.port = cport;
		fb_faults(&o, cport);
	}
	return 0;
}
