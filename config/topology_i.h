/* SPDX-License-Identifier: MIT */
/*
 * config/topology_i.h - the JSON loader's internals, shared by topology.c
 * (the walk and the loaders of each section) and topology_err.c (where in
 * the file an error is, and what key was meant). Only for the files of
 * config/.
 */
#ifndef CANOPY_TOPOLOGY_I_H
#define CANOPY_TOPOLOGY_I_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Longest dotted path walked; longer keys cannot be tunables. */
#define TOPO_PATH_MAX 256

struct topo_ctx;

typedef int (*topo_load_fn)(struct topo_ctx *t, const char *key, json_t *val);

struct topo_key {
	const char *name;
	topo_load_fn load;
	bool later; /* after the walk, in this order: "nodes" first */
};

/* The top-level keys with a handler of their own, in topology.c. */
#define TOPO_NKEYS 6
extern const struct topo_key topo_keys[];

/* One topo_load() call; lives on its stack. */
struct topo_ctx {
	struct conf *c;
	const char *path; /* the file, as given */
	const char *text; /* its contents, for the line of a key */
	size_t len;
	char *err;
	size_t errlen;
	json_t *later[TOPO_NKEYS]; /* borrowed from the document */
};

/*
 * The line of the key at dotted path @where, then of the key @name inside it
 * and the string @value when given; 0 if not found. Best effort.
 */
unsigned topo_key_line(const struct topo_ctx *t, const char *where,
		       const char *name, const char *value);

/*
 * Write "PATH:LINE: message" (line 0: "PATH: message") into t->err and
 * return @ret.
 */
__attribute__((format(printf, 4, 5)))
int topo_fail(const struct topo_ctx *t, int ret, unsigned line,
	      const char *fmt, ...);

/* True if some tunable lives under "@path.", in topology.c. */
bool topo_is_section(const char *path);

/*
 * Fail with -EINVAL on the unknown key @name inside @section (NULL: the
 * root), whose dotted path is @path, suggesting what was meant.
 */
int topo_unknown_key(const struct topo_ctx *t, const char *section,
		     const char *name, const char *path);

/*
 * Fail with -EINVAL on the member @name of the object at @where, which is
 * none of the NULL-terminated @keys; @what names the object ("a node").
 */
int topo_unknown_member(const struct topo_ctx *t, const char *where,
			const char *name, const char *const *keys,
			const char *what);

#endif /* CANOPY_TOPOLOGY_I_H */
