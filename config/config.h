/* SPDX-License-Identifier: MIT */
/*
 * config/config.h - canopy's configuration: every tunable, and the JSON
 * topology file that sets them.
 *
 * Precedence, lowest first: built-in defaults (conf_init()), the JSON file
 * (topo_load()), command-line options (conf_set()). conf_finish() validates
 * the result once all three are applied.
 *
 * Every tunable is declared once, in the table in params.c, with its JSON key
 * ("fuse.max_pages"), its command-line option ("--max-pages"), its default and
 * a line of help; conf_help() prints the table.
 *
 * Functions return 0 or -errno. Where they take an err buffer they write a
 * message a user can act on into it ("cfg.json:3:17: fuse.max_pages: expected
 * an integer").
 *
 * A multi-node topology ("nodes", "roots", "fanout", "placement", "auth")
 * comes from the JSON file only: it is the shape every node must agree on, so
 * no command-line option changes it. The transport's settings are ordinary
 * tunables ("transport.provider", --provider, ...). With no "nodes" the
 * daemon runs alone: nnodes == 0, node_index == 0, no transport.
 *
 * This directory knows nothing of FUSE, io_uring or libfabric; jansson stays
 * inside topology.c, topology_err.c and topology_i.h.
 */
#ifndef CANOPY_CONFIG_H
#define CANOPY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_ERR_MAX 512

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* Fan-out of the trees when the file gives none; "fanout" takes 1..max. */
#define CONF_FANOUT_DEFAULT 4
#define CONF_FANOUT_MAX 65535

/*
 * One entry of "nodes". Every string belongs to the struct conf that holds
 * the node; conf_free() (or conf_clear_nodes()) releases them.
 */
struct conf_node {
	char *name;          /* unique, non-empty, no blanks */
	char **addrs;        /* "host:port" strings, as given; naddrs >= 1 */
	size_t naddrs;
	char *host;          /* host of addrs[0], without brackets */
	char *port;          /* port of addrs[0], as a string */
	char *provider_addr; /* provider-native address, verbatim, or NULL */
};

enum conf_placement { PLACEMENT_FILE, PLACEMENT_BLOCK };
enum conf_data_mode { DATA_MODE_RPC, DATA_MODE_RMA };

struct conf {
	/* view */
	char **exports;          /* absolute, normalised, none inside another */
	size_t nexports;

	/* cache */
	char *cache_dir;         /* "" = /dev/shm/canopy/<escaped mount point> */
	uint64_t cache_capacity; /* bytes; 0 = half the cache fs at start-up */
	uint64_t block_size;     /* bytes, power of two, 64 KiB .. 64 MiB */
	uint64_t small_file_max; /* files up to this are fetched whole */
	bool owner_passthrough;  /* owner opens pass through to the backing file */
	bool cache_tmpfs;        /* mount a private huge-page tmpfs for it */

	/* fuse */
	unsigned max_pages;      /* wanted; capped by the kernel's limit */
	unsigned threads;        /* worker threads; 0 = one per online cpu */
	char *cpus;              /* "" or a cpu list "2,3" / "0-3" for pinning */
	unsigned poll_us;        /* a /dev/fuse worker polls this long */
	double entry_timeout;    /* seconds */
	double attr_timeout;     /* seconds */
	double negative_timeout; /* seconds; 0 disables negative entries */
	bool passthrough;        /* use FUSE passthrough when allowed */
	bool no_open;            /* OPEN answers ENOSYS: the kernel opens */
	bool splice;             /* splice READ replies from cache files */
	bool cold_direct_io;     /* incomplete large files: FOPEN_DIRECT_IO */
	bool fuse_uring;         /* requests over io_uring when offered */
	unsigned uring_entries;  /* io_uring requests in flight per cpu */
	unsigned uring_threads;  /* io_uring threads per cpu queue */
	bool uring_batch;        /* io_uring threads SCHED_BATCH */
	unsigned readahead_kb;   /* mount bdi read_ahead_kb; 0 = match max_read */

	/* io */
	unsigned uring_depth;    /* io_uring queue depth per worker */
	bool backing_direct;     /* large files' blocks read with O_DIRECT */
	unsigned fetch_ahead;    /* blocks fetched ahead of a sequential reader */
	unsigned dir_fds;        /* backing directory descriptors kept */

	/*
	 * kernel: applied before start by canopy-tunables (canopyd
	 * --print-tunables), not by canopyd, which only validates them
	 */
	unsigned kernel_max_pages_limit; /* fs.fuse.max_pages_limit; 0 = keep */
	int kernel_enable_uring;  /* fuse enable_uring: 1, 0, or -1 = keep */

	/* topology: from the file's "nodes", "roots", "fanout", ... */
	struct conf_node *nodes; /* NULL, nnodes 0: single node */
	size_t nnodes;
	uint32_t *roots;         /* node indices, when given by name */
	size_t nroots;           /* length of roots[], or the count when
				  * roots == NULL; 1 when nodes are given
				  * without roots, 0 without nodes */
	unsigned fanout;         /* 1..CONF_FANOUT_MAX, default 4 */
	enum conf_placement placement;
	bool auth_none;          /* "auth": "none" */
	char *auth_key_file;     /* absolute path, or NULL */
	size_t node_index;       /* this node, set by conf_finish(); 0 when
				  * single-node */

	/* transport: tunables */
	char *provider;          /* transport.provider, "tcp;ofi_rxm" */
	int data_mode;           /* enum conf_data_mode */
	double peer_timeout;     /* seconds, transport.timeout (default 2) */
	unsigned peer_threads;   /* transport.threads */
	unsigned recv_buffers;   /* transport.recv_buffers */
	double ready_wait;       /* seconds: wait for parents before ready */

	/* control and logging */
	char *ctl_socket;        /* "" = derived from the mount point */
	int log_level;           /* enum log_level */
	char *node;              /* this node's name; "" = host name */

	char *config_path;       /* the file loaded, or NULL for the default */
};

enum param_type {
	PARAM_BOOL,
	PARAM_UINT,    /* unsigned, decimal */
	PARAM_SIZE,    /* bytes; accepts 4096, "64K", "4M", "2G", "1T" */
	PARAM_SECONDS, /* double, >= 0 */
	PARAM_STRING,
	PARAM_LOGLEVEL, /* "err", "warning", "notice", "info", "debug" */
	PARAM_ENUM,     /* int: the index of the value in p->choices */
	PARAM_TRIBOOL,  /* int: 1 true, 0 false, -1 unset ("" or absent) */
};

struct param {
	const char *key;   /* JSON path, dotted: "fuse.max_pages" */
	const char *opt;   /* long option without dashes: "max-pages" */
	enum param_type type;
	size_t off;        /* offsetof(struct conf, field) */
	const char *def;   /* default, as a string a user could type */
	const char *help;  /* one line */
	const char *arg;   /* the option's value in --help: "N", "SIZE" */
	uint64_t min, max; /* PARAM_UINT, PARAM_SIZE: inclusive range */
	unsigned flags;    /* PARAM_F_* */
	const char *const *choices; /* PARAM_ENUM: the names, NULL-ended */
};

/* Extra checks of a tunable's value, applied by every setter. */
enum {
	PARAM_F_POW2 = 1 << 0,     /* UINT/SIZE: a power of two */
	PARAM_F_ABSPATH = 1 << 1,  /* STRING: "" or an absolute path */
	PARAM_F_SOCKPATH = 1 << 2, /* STRING: fits a unix socket address */
	PARAM_F_CPULIST = 1 << 3,  /* STRING: "" or a cpu list "0-3,8" */
	PARAM_F_NONEMPTY = 1 << 4, /* STRING: not "" */
	PARAM_F_POSITIVE = 1 << 5, /* SECONDS: more than 0 */
};

/* Largest PARAM_SECONDS value (about 31 years; keeps timespecs sane). */
#define CONF_SECONDS_MAX 1e9

/* The tunables table, terminated by an entry with key == NULL. */
extern const struct param conf_params[];

/* Find a tunable by JSON key or by option name; NULL if there is none. */
const struct param *conf_param_by_key(const char *key);
const struct param *conf_param_by_opt(const char *opt);

/* Fill *c with the defaults. Release with conf_free(). */
int conf_init(struct conf *c);
void conf_free(struct conf *c);

/*
 * Set one tunable from its textual form (command line, or a JSON string).
 * @name is a JSON key or an option name.
 */
int conf_set(struct conf *c, const char *name, const char *value, char *err,
	     size_t errlen);

/* Append an export (from --export); normalised and checked by conf_finish. */
int conf_add_export(struct conf *c, const char *path, char *err, size_t errlen);
/* Drop all exports (a command-line --export replaces the file's list). */
void conf_clear_exports(struct conf *c);

/* Drop the nodes and the roots: back to a single node (nroots 0). */
void conf_clear_nodes(struct conf *c);

/*
 * Validate and normalise after all sources are applied: exports absolute and
 * existing directories, duplicates and nested exports folded ("/" alone if
 * given), block size a power of two, ranges respected. The default export is
 * "/" when none is given.
 *
 * With nodes: roots within the node list, auth given when there is more than
 * one node, the key file present (a regular file; not read), and
 * c->node_index set to this node: c->node, or when that is "" the host name
 * and then its short form before the first dot, must name one of the nodes.
 * Without nodes, c->node_index is 0.
 */
int conf_finish(struct conf *c, char *err, size_t errlen);

/* The index of the node called @name in c->nodes: 0 or -ENOENT. */
int conf_find_node(const struct conf *c, const char *name, size_t *index);

/* Print every tunable with option, JSON key, default and help. */
void conf_help(FILE *f);

/*
 * Print the kernel.* tunables that are set, one "name=value" line each, for
 * canopy-tunables: "max_pages_limit=1024", "enable_uring=Y". Nothing when
 * none is set. Returns how many lines were printed.
 */
int conf_print_kernel(const struct conf *c, FILE *f);

/* Parse a size "4M" -> 4194304. Returns 0 or -EINVAL / -ERANGE. */
int conf_parse_size(const char *s, uint64_t *out);

/*
 * Split a node address "host:port", "[v6addr]:port" into host (brackets
 * dropped) and port. The host is a name (letters, digits, '-', '.', '_'), a
 * dotted IPv4 address, or an IPv6 address (with an optional "%zone") in
 * brackets; the port is 1..65535 in decimal. On success *host and *port
 * belong to the caller (free()); on error they are untouched and @err says
 * why, naming @addr.
 */
int conf_parse_addr(const char *addr, char **host, char **port, char *err,
		    size_t errlen);

/*
 * Helpers.
 *
 * conf_param_set_*() set one tunable from a typed value (topology.c uses
 * them for JSON numbers) with the checks of conf_set(); messages start with
 * p->key. conf_param_set_int() takes PARAM_UINT and PARAM_SIZE,
 * conf_param_set_seconds() PARAM_SECONDS, conf_param_set_text() any type.
 */
int conf_param_set_text(struct conf *c, const struct param *p,
			const char *value, char *err, size_t errlen);
int conf_param_set_int(struct conf *c, const struct param *p, int64_t value,
		       char *err, size_t errlen);
int conf_param_set_seconds(struct conf *c, const struct param *p, double value,
			   char *err, size_t errlen);

/*
 * The first CONF_NODES_LISTED node names for a message, "n1, n2, n3", then
 * ", ... (N in all)" when there are more.
 */
#define CONF_NODES_LISTED 8
void conf_list_nodes(const struct conf *c, char *buf, size_t len);

/* What to do about several nodes without "auth"; ends a message. */
#define CONF_AUTH_HINT                                                         \
	"add \"auth\": {\"key_file\": \"/path/to/key\"}, or \"auth\": "     \
	"\"none\" on a trusted network"

/* A PARAM_ENUM's choices for a message: "rpc or rma". */
void conf_param_choices(const struct param *p, char *buf, size_t len);

/* Format a size the way conf_parse_size() reads it: "4M", else bytes. */
void conf_format_size(uint64_t v, char *buf, size_t len);

/* Edit distance between two names, for "did you mean" suggestions. */
size_t conf_distance(const char *a, const char *b);

/*
 * Load a JSON config file into *c (on top of what is there). On a syntax
 * error the message names file:line:column; on a bad value or an unknown key
 * it names the dotted JSON path (and the line where the key appears).
 *
 * "exports" replaces the exports already in *c; "nodes" replaces the nodes and
 * resets the roots to one (unless the file gives "roots"). "roots", "fanout",
 * "placement" and "auth" are refused when there are no nodes: they mean
 * nothing to a single node. More than one node without "auth" is refused.
 * The file's topology keys are applied after its other keys, "nodes" first,
 * whatever their order in the file. On success c->config_path is a copy of
 * @path. On error *c may hold part of the file's settings; it is
 * still valid for conf_free(), but should not be used to run.
 */
int topo_load(struct conf *c, const char *path, char *err, size_t errlen);

#endif /* CANOPY_CONFIG_H */
