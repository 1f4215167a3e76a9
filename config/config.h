/* SPDX-License-Identifier: MIT */
/*
 * config/config.h - canopy's configuration: every tunable, and the JSON
 * topology file that sets them.
 *
 * Precedence, lowest first: built-in defaults (conf_init()), the JSON file
 * (topo_load()), command-line options (conf_set()). conf_finish() validates
 * the result once all three are applied.
 *
 * Every tunable is declared once, in the table in conf.c, with its JSON key
 * ("fuse.max_pages"), its command-line option ("--max-pages"), its default and
 * a line of help; conf_help() prints the table.
 *
 * Functions return 0 or -errno. Where they take an err buffer they write a
 * message a user can act on into it ("cfg.json:3:17: fuse.max_pages: expected
 * an integer").
 *
 * This directory knows nothing of FUSE, io_uring or libfabric; jansson stays
 * inside topology.c.
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
	double entry_timeout;    /* seconds */
	double attr_timeout;     /* seconds */
	double negative_timeout; /* seconds; 0 disables negative entries */
	bool passthrough;        /* use FUSE passthrough when allowed */
	bool splice;             /* splice READ replies from cache files */
	unsigned readahead_kb;   /* mount bdi read_ahead_kb; 0 = match max_read */

	/* io */
	unsigned uring_depth;    /* io_uring queue depth per worker */

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
};

/* Extra checks of a tunable's value, applied by every setter. */
enum {
	PARAM_F_POW2 = 1 << 0,     /* UINT/SIZE: a power of two */
	PARAM_F_ABSPATH = 1 << 1,  /* STRING: "" or an absolute path */
	PARAM_F_SOCKPATH = 1 << 2, /* STRING: fits a unix socket address */
	PARAM_F_CPULIST = 1 << 3,  /* STRING: "" or a cpu list "0-3,8" */
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

/*
 * Validate and normalise after all sources are applied: exports absolute and
 * existing directories, duplicates and nested exports folded ("/" alone if
 * given), block size a power of two, ranges respected. The default export is
 * "/" when none is given.
 */
int conf_finish(struct conf *c, char *err, size_t errlen);

/* Print every tunable with option, JSON key, default and help. */
void conf_help(FILE *f);

/* Parse a size "4M" -> 4194304. Returns 0 or -EINVAL / -ERANGE. */
int conf_parse_size(const char *s, uint64_t *out);

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

/* Format a size the way conf_parse_size() reads it: "4M", else bytes. */
void conf_format_size(uint64_t v, char *buf, size_t len);

/* Edit distance between two names, for "did you mean" suggestions. */
size_t conf_distance(const char *a, const char *b);

/*
 * Load a JSON config file into *c (on top of what is there). On a syntax
 * error the message names file:line:column; on a bad value or an unknown key
 * it names the dotted JSON path (and the line where the key appears).
 *
 * "exports" replaces the exports already in *c. On success c->config_path is
 * a copy of @path. On error *c may hold part of the file's settings; it is
 * still valid for conf_free(), but should not be used to run.
 */
int topo_load(struct conf *c, const char *path, char *err, size_t errlen);

#endif /* CANOPY_CONFIG_H */
