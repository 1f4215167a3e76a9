// SPDX-License-Identifier: MIT
/*
 * config/topology.c - the JSON configuration file.
 *
 * The file is read whole, parsed by jansson (duplicate keys refused) and then
 * walked top-down. A top-level key is either one with its own handler in
 * topo_keys[] ("exports" and the topology: "nodes", "roots", "fanout",
 * "placement", "auth") or part of the tunables table of params.c: {"fuse":
 * {"max_pages": 1024}} sets "fuse.max_pages", {"node": "x"} sets "node",
 * {"transport": {"provider": "cxi"}} sets "transport.provider". A tunable
 * added to conf_params[] is therefore accepted here without a change to this
 * file.
 *
 * The topology keys are applied after the walk, in the order of topo_keys[],
 * so that "roots" can name the nodes wherever "nodes" is written. They fill
 * plain structs in struct conf (struct conf_node, the roots' indices, ...);
 * conf_finish() checks what depends on the command line or the machine (this
 * node's name, the key file).
 *
 * Every error names the file and the dotted JSON path, and the line where
 * topology_err.c can find it; an unknown key is answered there too, with the
 * key that was probably meant or a list of those that fit.
 */
#include "config.h"
#include "topology_i.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A topology for thousands of nodes is well under this. */
#define TOPO_FILE_MAX (16 << 20)

static int load_exports(struct topo_ctx *t, const char *key, json_t *val);
static int load_nodes(struct topo_ctx *t, const char *key, json_t *val);
static int load_roots(struct topo_ctx *t, const char *key, json_t *val);
static int load_fanout(struct topo_ctx *t, const char *key, json_t *val);
static int load_placement(struct topo_ctx *t, const char *key, json_t *val);
static int load_auth(struct topo_ctx *t, const char *key, json_t *val);

/*
 * Top-level keys with a handler of their own. Any other top-level key must
 * name a tunable or a section of them ("cache", "fuse", "io", ...).
 */
const struct topo_key topo_keys[] = {
	{ "exports", load_exports, false },
	{ "nodes", load_nodes, true },
	{ "roots", load_roots, true },
	{ "fanout", load_fanout, true },
	{ "placement", load_placement, true },
	{ "auth", load_auth, true },
};

#define NKEYS (sizeof(topo_keys) / sizeof(topo_keys[0]))

_Static_assert(NKEYS == TOPO_NKEYS, "TOPO_NKEYS must count topo_keys[]");

static const struct topo_key *topo_key(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (!strcmp(topo_keys[i].name, name))
			return &topo_keys[i];
	return NULL;
}

static unsigned line_of(const struct topo_ctx *t, const char *where)
{
	return topo_key_line(t, where, NULL, NULL);
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown JSON type";
}

/* A string the tunable would take as a bare JSON value: "1024", "true". */
static bool quoted_scalar(const struct param *p, const json_t *v)
{
	const char *s;

	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	switch (p->type) {
	case PARAM_BOOL:
	case PARAM_TRIBOOL:
		return !strcmp(s, "true") || !strcmp(s, "false");
	case PARAM_UINT:
		return *s && strspn(s, "0123456789") == strlen(s);
	case PARAM_SECONDS:
		return *s && strspn(s, "0123456789.eE+-") == strlen(s);
	default:
		return false;
	}
}

static int wrong_type(const struct topo_ctx *t, const struct param *p,
		      const json_t *v, const char *expected)
{
	return topo_fail(t, -EINVAL, line_of(t, p->key),
			 "%s: expected %s, got %s%s", p->key, expected,
			 json_kind(v),
			 quoted_scalar(p, v) ? "; write it without quotes" :
					       "");
}

/* The JSON type must fit the tunable; params.c then checks the value. */
static int load_param(struct topo_ctx *t, const struct param *p, json_t *v)
{
	char msg[CONF_ERR_MAX];
	int ret;

	switch (p->type) {
	case PARAM_BOOL:
	case PARAM_TRIBOOL:
		if (!json_is_boolean(v))
			return wrong_type(t, p, v, "true or false");
		ret = conf_param_set_text(t->c, p,
					  json_is_true(v) ? "true" : "false",
					  msg, sizeof(msg));
		break;
	case PARAM_UINT:
		if (!json_is_integer(v))
			return wrong_type(t, p, v, "an integer");
		ret = conf_param_set_int(t->c, p, json_integer_value(v), msg,
					 sizeof(msg));
		break;
	case PARAM_SIZE:
		if (json_is_integer(v))
			ret = conf_param_set_int(t->c, p, json_integer_value(v),
						 msg, sizeof(msg));
		else if (json_is_string(v))
			ret = conf_param_set_text(t->c, p, json_string_value(v),
						  msg, sizeof(msg));
		else
			return wrong_type(t, p, v,
					  "a size (bytes, or a string such "
					  "as \"4M\")");
		break;
	case PARAM_SECONDS:
		if (!json_is_number(v))
			return wrong_type(t, p, v, "a number of seconds");
		ret = conf_param_set_seconds(t->c, p, json_number_value(v), msg,
					     sizeof(msg));
		break;
	case PARAM_STRING:
		if (!json_is_string(v))
			return wrong_type(t, p, v, "a string");
		ret = conf_param_set_text(t->c, p, json_string_value(v), msg,
					  sizeof(msg));
		break;
	case PARAM_LOGLEVEL:
		if (!json_is_string(v))
			return wrong_type(t, p, v,
					  "a string (err, warning, notice, "
					  "info or debug)");
		ret = conf_param_set_text(t->c, p, json_string_value(v), msg,
					  sizeof(msg));
		break;
	case PARAM_ENUM:
		if (!json_is_string(v)) {
			char names[80], want[96];

			conf_param_choices(p, names, sizeof(names));
			snprintf(want, sizeof(want), "a string (%s)", names);
			return wrong_type(t, p, v, want);
		}
		ret = conf_param_set_text(t->c, p, json_string_value(v), msg,
					  sizeof(msg));
		break;
	default:
		return topo_fail(t, -EINVAL, line_of(t, p->key),
				 "%s: tunable of unknown type", p->key);
	}
	if (ret)
		return topo_fail(t, ret, line_of(t, p->key), "%s", msg);
	return 0;
}

/* True if some tunable lives under "@path." */
bool topo_is_section(const char *path)
{
	size_t len = strlen(path);
	const struct param *p;

	for (p = conf_params; p->key; p++)
		if (!strncmp(p->key, path, len) && p->key[len] == '.')
			return true;
	return false;
}

/* Walk the members of @obj, the object at dotted @prefix (NULL: the root). */
static int load_object(struct topo_ctx *t, const char *prefix, json_t *obj)
{
	const struct topo_key *special;
	char path[TOPO_PATH_MAX];
	const struct param *p;
	const char *name;
	json_t *val;
	int ret = 0, n;

	json_object_foreach(obj, name, val) {
		if (prefix)
			n = snprintf(path, sizeof(path), "%s.%s", prefix, name);
		else
			n = snprintf(path, sizeof(path), "%s", name);
		if (n < 0 || (size_t)n >= sizeof(path))
			return topo_fail(t, -EINVAL, line_of(t, prefix),
					 "unknown key \"%.64s...\" (too long)",
					 path);

		special = prefix ? NULL : topo_key(name);
		if (special && special->later) {
			t->later[special - topo_keys] = val;
		} else if (special) {
			ret = special->load(t, name, val);
		} else if (!*name || strchr(name, '.')) {
			ret = topo_unknown_key(t, prefix, name, path);
		} else if ((p = conf_param_by_key(path))) {
			ret = load_param(t, p, val);
		} else if (topo_is_section(path)) {
			if (!json_is_object(val))
				return topo_fail(t, -EINVAL, line_of(t, path),
						 "%s: expected an object, got "
						 "%s", path, json_kind(val));
			ret = load_object(t, path, val);
		} else {
			ret = topo_unknown_key(t, prefix, name, path);
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* "exports": a non-empty array of absolute paths; replaces the list. */
static int load_exports(struct topo_ctx *t, const char *key, json_t *val)
{
	char msg[CONF_ERR_MAX];
	const char *s;
	json_t *el;
	size_t i;
	int ret;

	if (!json_is_array(val))
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: expected an array of absolute paths, "
				 "got %s", key, json_kind(val));
	if (!json_array_size(val))
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: the list is empty; name at least one "
				 "directory, or leave \"%s\" out to export "
				 "\"/\"", key, key);

	conf_clear_exports(t->c);
	json_array_foreach(val, i, el) {
		if (!json_is_string(el))
			return topo_fail(t, -EINVAL, line_of(t, key),
					 "%s[%zu]: expected a string, got %s",
					 key, i, json_kind(el));
		s = json_string_value(el);
		ret = conf_add_export(t->c, s, msg, sizeof(msg));
		if (ret)
			return topo_fail(t, ret, topo_key_line(t, key, NULL, s),
					 "%s[%zu]: %s", key, i, msg);
	}
	return 0;
}

/*
 * A string without NULs or control characters (and, when @blanks is false,
 * without blanks), or NULL.
 */
static const char *clean_string(const json_t *v, bool blanks)
{
	const char *s = json_string_value(v);
	const unsigned char *q;

	if (!s || strlen(s) != json_string_length(v))
		return NULL;
	for (q = (const unsigned char *)s; *q; q++)
		if (*q < ' ' || *q == 0x7f || (!blanks && *q == ' '))
			return NULL;
	return s;
}

static bool is_member(const char *name, const char *const *keys)
{
	size_t i;

	for (i = 0; keys[i]; i++)
		if (!strcmp(keys[i], name))
			return true;
	return false;
}

/* Parse the address @v at @where and append it to @n. */
static int add_addr(struct topo_ctx *t, const char *where, json_t *v,
		    struct conf_node *n)
{
	char msg[CONF_ERR_MAX], *host, *port, *copy, **grown;
	const char *s;
	int ret;

	if (!json_is_string(v))
		return topo_fail(t, -EINVAL, line_of(t, where),
				 "%s: expected a string \"host:port\", got %s",
				 where, json_kind(v));
	s = clean_string(v, false);
	if (!s)
		return topo_fail(t, -EINVAL, line_of(t, where),
				 "%s: \"%s\" has a blank or a control "
				 "character", where, json_string_value(v));
	ret = conf_parse_addr(s, &host, &port, msg, sizeof(msg));
	if (ret)
		return topo_fail(t, ret, line_of(t, where), "%s: %s", where,
				 msg);

	copy = strdup(s);
	grown = realloc(n->addrs, (n->naddrs + 1) * sizeof(*grown));
	if (!copy || !grown) {
		free(copy);
		if (grown)
			n->addrs = grown;
		free(host);
		free(port);
		return topo_fail(t, -ENOMEM, 0, "%s: out of memory", where);
	}
	n->addrs = grown;
	n->addrs[n->naddrs++] = copy;
	if (n->naddrs == 1) {
		n->host = host;
		n->port = port;
	} else {
		free(host);
		free(port);
	}
	return 0;
}

static const char *const node_keys[] = { "name", "addr", "addrs",
					 "provider_addr", NULL };

#define NODE_SHAPE "{\"name\": ..., \"addr\": \"host:port\"}"

/* One element of "nodes", at index @i, into @n (zeroed). */
static int load_node(struct topo_ctx *t, size_t i, json_t *el,
		     struct conf_node *n)
{
	char where[48], at[80];
	json_t *name, *addr, *addrs, *pa, *v;
	const char *key, *s;
	size_t j;
	int ret;

	snprintf(where, sizeof(where), "nodes[%zu]", i);
	if (!json_is_object(el))
		return topo_fail(t, -EINVAL, line_of(t, where),
				 "%s: expected an object " NODE_SHAPE
				 ", got %s", where, json_kind(el));
	json_object_foreach(el, key, v) {
		if (!is_member(key, node_keys))
			return topo_unknown_member(t, where, key, node_keys,
						   "a node");
	}

	name = json_object_get(el, "name");
	snprintf(at, sizeof(at), "%s.name", where);
	if (!name)
		return topo_fail(t, -EINVAL, line_of(t, where),
				 "%s: missing \"name\"", where);
	if (!json_is_string(name))
		return topo_fail(t, -EINVAL, line_of(t, at),
				 "%s: expected a string, got %s", at,
				 json_kind(name));
	s = clean_string(name, false);
	if (s && !*s)
		return topo_fail(t, -EINVAL, line_of(t, at),
				 "%s: empty; give the node a name", at);
	if (!s)
		return topo_fail(t, -EINVAL, line_of(t, at),
				 "%s: \"%s\" has a blank or a control "
				 "character", at, json_string_value(name));
	n->name = strdup(s);
	if (!n->name)
		return topo_fail(t, -ENOMEM, 0, "%s: out of memory", at);

	addr = json_object_get(el, "addr");
	addrs = json_object_get(el, "addrs");
	if (addr && addrs)
		return topo_fail(t, -EINVAL, line_of(t, where),
				 "%s: give \"addr\" or \"addrs\", not both",
				 where);
	if (addr) {
		snprintf(at, sizeof(at), "%s.addr", where);
		ret = add_addr(t, at, addr, n);
		if (ret)
			return ret;
	} else if (!addrs) {
		return topo_fail(t, -EINVAL, line_of(t, where),
				 "%s: missing \"addr\" (\"host:port\"), or "
				 "\"addrs\" for several NICs", where);
	} else {
		snprintf(at, sizeof(at), "%s.addrs", where);
		if (!json_is_array(addrs))
			return topo_fail(t, -EINVAL, line_of(t, at),
					 "%s: expected an array of "
					 "\"host:port\" strings, got %s", at,
					 json_kind(addrs));
		if (!json_array_size(addrs))
			return topo_fail(t, -EINVAL, line_of(t, at),
					 "%s: the list is empty; give at least "
					 "one \"host:port\"", at);
		json_array_foreach(addrs, j, v) {
			snprintf(at, sizeof(at), "%s.addrs[%zu]", where, j);
			ret = add_addr(t, at, v, n);
			if (ret)
				return ret;
		}
	}

	pa = json_object_get(el, "provider_addr");
	if (!pa)
		return 0;
	snprintf(at, sizeof(at), "%s.provider_addr", where);
	if (!json_is_string(pa))
		return topo_fail(t, -EINVAL, line_of(t, at),
				 "%s: expected a string, got %s", at,
				 json_kind(pa));
	s = clean_string(pa, true);
	if (!s || !*s)
		return topo_fail(t, -EINVAL, line_of(t, at),
				 "%s: \"%s\" is empty or has a control "
				 "character; leave it out to use \"addr\"", at,
				 json_string_value(pa));
	n->provider_addr = strdup(s);
	if (!n->provider_addr)
		return topo_fail(t, -ENOMEM, 0, "%s: out of memory", at);
	return 0;
}

/* A name or an address, and where it is: node @i, address @j. */
struct topo_dup {
	char *key;
	size_t i, j;
};

static int dup_cmp(const void *a, const void *b)
{
	const struct topo_dup *x = a, *y = b;
	int d = strcmp(x->key, y->key);

	if (d)
		return d;
	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	return x->j < y->j ? -1 : x->j > y->j;
}

/*
 * Sort @e and find the repeat that comes first in the file; *first is the
 * entry it repeats. NULL if every key is unique. Sorting keeps thousands of
 * nodes cheap.
 */
static const struct topo_dup *find_dup(struct topo_dup *e, size_t n,
				       const struct topo_dup **first)
{
	const struct topo_dup *best = NULL;
	size_t g = 0, k;

	qsort(e, n, sizeof(*e), dup_cmp);
	for (k = 1; k <= n; k++) {
		if (k < n && !strcmp(e[k].key, e[g].key))
			continue;
		if (k - g > 1 &&
		    (!best || e[g + 1].i < best->i ||
		     (e[g + 1].i == best->i && e[g + 1].j < best->j))) {
			best = &e[g + 1];
			*first = &e[g];
		}
		g = k;
	}
	return best;
}

/* "nodes[2].addr" or "nodes[2].addrs[1]", as the file wrote it. */
static void addr_path(json_t *nodes, size_t i, size_t j, char *buf,
		      size_t len)
{
	if (json_object_get(json_array_get(nodes, i), "addr"))
		snprintf(buf, len, "nodes[%zu].addr", i);
	else
		snprintf(buf, len, "nodes[%zu].addrs[%zu]", i, j);
}

static int check_duplicates(struct topo_ctx *t, json_t *nodes)
{
	const struct topo_dup *dup, *first;
	const struct conf *c = t->c;
	struct topo_dup *e;
	char at[80], other[80];
	size_t n = 0, i, j, k;
	char *key;
	int ret = 0;

	for (i = 0; i < c->nnodes; i++)
		n += c->nodes[i].naddrs;
	e = calloc(n > c->nnodes ? n : c->nnodes, sizeof(*e));
	if (!e)
		return topo_fail(t, -ENOMEM, 0, "nodes: out of memory");

	for (i = 0; i < c->nnodes; i++)
		e[i] = (struct topo_dup){ .key = c->nodes[i].name, .i = i };
	dup = find_dup(e, c->nnodes, &first);
	if (dup) {
		snprintf(at, sizeof(at), "nodes[%zu].name", dup->i);
		ret = topo_fail(t, -EINVAL, line_of(t, at),
				"%s: duplicate node name \"%s\" (also "
				"nodes[%zu])", at, dup->key, first->i);
		goto out_free;
	}

	/* host names compare without case, ports as numbers */
	for (i = 0, k = 0; i < c->nnodes; i++) {
		for (j = 0; j < c->nodes[i].naddrs; j++, k++) {
			char *host, *port;

			/* checked by add_addr(): only memory can fail */
			key = NULL;
			if (!conf_parse_addr(c->nodes[i].addrs[j], &host,
					     &port, NULL, 0)) {
				for (key = host; *key; key++)
					*key = (char)tolower(
						(unsigned char)*key);
				if (asprintf(&key, "%s %lu", host,
					     strtoul(port, NULL, 10)) < 0)
					key = NULL;
				free(host);
				free(port);
			}
			if (!key) {
				ret = topo_fail(t, -ENOMEM, 0,
						"nodes: out of memory");
				n = k;
				goto out_free_keys;
			}
			e[k] = (struct topo_dup){ .key = key, .i = i, .j = j };
		}
	}
	n = k;
	dup = find_dup(e, n, &first);
	if (dup) {
		addr_path(nodes, dup->i, dup->j, at, sizeof(at));
		addr_path(nodes, first->i, first->j, other, sizeof(other));
		ret = topo_fail(t, -EINVAL, line_of(t, at),
				"%s: duplicate address \"%s\" (also %s)", at,
				c->nodes[dup->i].addrs[dup->j], other);
	}
out_free_keys:
	for (k = 0; k < n; k++)
		free(e[k].key);
out_free:
	free(e);
	return ret;
}

/* "nodes": a non-empty array of nodes; replaces the nodes and the roots. */
static int load_nodes(struct topo_ctx *t, const char *key, json_t *val)
{
	struct conf *c = t->c;
	json_t *el;
	size_t i;
	int ret;

	if (!json_is_array(val))
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: expected an array of " NODE_SHAPE
				 ", got %s", key, json_kind(val));
	if (!json_array_size(val))
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: the list is empty; list the nodes, or "
				 "leave \"%s\" out to run this node alone", key,
				 key);

	conf_clear_nodes(c);
	c->nodes = calloc(json_array_size(val), sizeof(*c->nodes));
	if (!c->nodes)
		return topo_fail(t, -ENOMEM, 0, "%s: out of memory", key);
	/* zeroed entries are safe for conf_free() if one fails */
	c->nnodes = json_array_size(val);
	json_array_foreach(val, i, el) {
		ret = load_node(t, i, el, &c->nodes[i]);
		if (ret)
			return ret;
	}
	ret = check_duplicates(t, val);
	if (ret)
		return ret;
	c->nroots = 1;
	return 0;
}

/* @key is given without "nodes". */
static int needs_nodes(const struct topo_ctx *t, const char *key)
{
	return topo_fail(t, -EINVAL, line_of(t, key),
			 "%s: means nothing without \"nodes\"; list the nodes, "
			 "or leave \"%s\" out to run this node alone", key,
			 key);
}

/*
 * "roots": the node names of the roots, or their count R (1..N), which the
 * tree module spreads over the node list.
 */
static int load_roots(struct topo_ctx *t, const char *key, json_t *val)
{
	char at[48], names[CONF_ERR_MAX / 2];
	struct conf *c = t->c;
	uint32_t *roots;
	size_t i, idx, *seen;
	json_int_t r;
	json_t *el;
	int ret;

	if (!c->nnodes)
		return needs_nodes(t, key);
	if (json_is_integer(val)) {
		r = json_integer_value(val);
		if (r < 1 || (uint64_t)r > c->nnodes)
			return topo_fail(t, -ERANGE, line_of(t, key),
					 "%s: %" JSON_INTEGER_FORMAT " is out "
					 "of range (1..%zu, the number of "
					 "nodes)", key, r, c->nnodes);
		free(c->roots);
		c->roots = NULL;
		c->nroots = (size_t)r;
		return 0;
	}
	if (!json_is_array(val))
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: expected a list of node names or a "
				 "count, got %s", key, json_kind(val));
	if (!json_array_size(val))
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: the list is empty; name at least one "
				 "node, or give a count", key);

	roots = calloc(json_array_size(val), sizeof(*roots));
	seen = calloc(c->nnodes, sizeof(*seen)); /* root position + 1 */
	if (!roots || !seen) {
		ret = topo_fail(t, -ENOMEM, 0, "%s: out of memory", key);
		goto err_free;
	}
	json_array_foreach(val, i, el) {
		snprintf(at, sizeof(at), "%s[%zu]", key, i);
		if (!json_is_string(el)) {
			ret = topo_fail(t, -EINVAL, line_of(t, at),
					"%s: expected a node name, got %s", at,
					json_kind(el));
			goto err_free;
		}
		if (conf_find_node(c, json_string_value(el), &idx)) {
			conf_list_nodes(c, names, sizeof(names));
			ret = topo_fail(t, -EINVAL, line_of(t, at),
					"%s: unknown node \"%s\"; the nodes "
					"are %s", at, json_string_value(el),
					names);
			goto err_free;
		}
		if (seen[idx]) {
			ret = topo_fail(t, -EINVAL, line_of(t, at),
					"%s: duplicate root \"%s\" (also "
					"%s[%zu])", at, json_string_value(el),
					key, seen[idx] - 1);
			goto err_free;
		}
		seen[idx] = i + 1;
		roots[i] = (uint32_t)idx;
	}
	free(seen);
	free(c->roots);
	c->roots = roots;
	c->nroots = json_array_size(val);
	return 0;

err_free:
	free(seen);
	free(roots);
	return ret;
}

/* "fanout": children per node in each tree, 1..CONF_FANOUT_MAX. */
static int load_fanout(struct topo_ctx *t, const char *key, json_t *val)
{
	json_int_t k;

	if (!t->c->nnodes)
		return needs_nodes(t, key);
	if (!json_is_integer(val))
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: expected an integer, got %s", key,
				 json_kind(val));
	k = json_integer_value(val);
	if (k < 1 || k > CONF_FANOUT_MAX)
		return topo_fail(t, -ERANGE, line_of(t, key),
				 "%s: %" JSON_INTEGER_FORMAT " is out of range "
				 "(1..%d)", key, k, CONF_FANOUT_MAX);
	t->c->fanout = (unsigned)k;
	return 0;
}

/* "placement": "file" or "block", in the order of enum conf_placement. */
static int load_placement(struct topo_ctx *t, const char *key, json_t *val)
{
	static const char *const names[] = { "file", "block" };
	const char *s;
	size_t i;

	if (!t->c->nnodes)
		return needs_nodes(t, key);
	if (!json_is_string(val))
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: expected a string (file or block), got "
				 "%s", key, json_kind(val));
	s = json_string_value(val);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			t->c->placement = (enum conf_placement)i;
			return 0;
		}
	}
	return topo_fail(t, -EINVAL, line_of(t, key),
			 "%s: \"%s\" is not allowed; use file or block", key,
			 s);
}

static const char *const auth_keys[] = { "key_file", NULL };

#define AUTH_SHAPE "\"none\" or {\"key_file\": \"/path\"}"

/* "auth": "none", or {"key_file": "/abs/path"} (checked by conf_finish). */
static int load_auth(struct topo_ctx *t, const char *key, json_t *val)
{
	struct conf *c = t->c;
	const char *name, *s;
	char at[32], *copy;
	json_t *v, *kf;

	if (!c->nnodes)
		return needs_nodes(t, key);
	if (json_is_string(val)) {
		if (strcmp(json_string_value(val), "none"))
			return topo_fail(t, -EINVAL, line_of(t, key),
					 "%s: \"%s\" is not allowed; use "
					 AUTH_SHAPE, key,
					 json_string_value(val));
		free(c->auth_key_file);
		c->auth_key_file = NULL;
		c->auth_none = true;
		return 0;
	}
	if (!json_is_object(val))
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: expected " AUTH_SHAPE ", got %s", key,
				 json_kind(val));
	json_object_foreach(val, name, v) {
		if (!is_member(name, auth_keys))
			return topo_unknown_member(t, key, name, auth_keys,
						   "\"auth\"");
	}
	kf = json_object_get(val, "key_file");
	snprintf(at, sizeof(at), "%s.key_file", key);
	if (!kf)
		return topo_fail(t, -EINVAL, line_of(t, key),
				 "%s: missing \"key_file\"; use " AUTH_SHAPE,
				 key);
	if (!json_is_string(kf))
		return topo_fail(t, -EINVAL, line_of(t, at),
				 "%s: expected a string, got %s", at,
				 json_kind(kf));
	s = clean_string(kf, true);
	if (!s || *s != '/')
		return topo_fail(t, -EINVAL, line_of(t, at),
				 "%s: \"%s\" is not an absolute path", at,
				 json_string_value(kf));
	copy = strdup(s);
	if (!copy)
		return topo_fail(t, -ENOMEM, 0, "%s: out of memory", at);
	free(c->auth_key_file);
	c->auth_key_file = copy;
	c->auth_none = false;
	return 0;
}

/* The topology keys, "nodes" first, and what they require together. */
static int load_later(struct topo_ctx *t)
{
	size_t i;
	int ret;

	for (i = 0; i < NKEYS; i++) {
		if (!t->later[i])
			continue;
		ret = topo_keys[i].load(t, topo_keys[i].name, t->later[i]);
		if (ret)
			return ret;
	}
	if (t->c->nnodes > 1 && !t->c->auth_none && !t->c->auth_key_file)
		return topo_fail(t, -EINVAL, line_of(t, "nodes"),
				 "nodes: %zu nodes and no \"auth\"; "
				 CONF_AUTH_HINT, t->c->nnodes);
	return 0;
}

/* On success *out (NUL-terminated, *lenp bytes) belongs to the caller. */
static int read_file(const char *path, char **out, size_t *lenp)
{
	size_t len = 0, size = 4096;
	char *buf, *grown;
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto err_close;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		goto err_close;
	}
	buf = malloc(size);
	if (!buf) {
		ret = -ENOMEM;
		goto err_close;
	}
	for (;;) {
		if (len + 1 >= size) {
			if (size >= TOPO_FILE_MAX) {
				ret = -EFBIG;
				goto err_free;
			}
			size *= 2;
			grown = realloc(buf, size);
			if (!grown) {
				ret = -ENOMEM;
				goto err_free;
			}
			buf = grown;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto err_free;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*lenp = len;
	return 0;

err_free:
	free(buf);
err_close:
	close(fd);
	return ret;
}

int topo_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	struct topo_ctx t = {
		.c = c, .path = path, .err = err, .errlen = errlen,
	};
	json_error_t jerr;
	char *text = NULL, *copy;
	json_t *root;
	size_t len = 0;
	int ret;

	if (!path)
		return topo_fail(&t, -EINVAL, 0, "no file name");
	ret = read_file(path, &text, &len);
	if (ret == -EFBIG)
		return topo_fail(&t, ret, 0,
				 "larger than %d MiB; not a configuration "
				 "file?", TOPO_FILE_MAX >> 20);
	if (ret)
		return topo_fail(&t, ret, 0, "%s", strerror(-ret));

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &jerr);
	if (!root) {
		ret = -EINVAL;
		if (err && errlen)
			snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line,
				 jerr.column, jerr.text);
		goto out_free_text;
	}
	if (!json_is_object(root)) {
		ret = topo_fail(&t, -EINVAL, 0,
				"the top level must be an object ({ ... }), "
				"got %s", json_kind(root));
		goto out_put_root;
	}

	t.text = text;
	t.len = len;
	ret = load_object(&t, NULL, root);
	if (ret)
		goto out_put_root;
	ret = load_later(&t);
	if (ret)
		goto out_put_root;

	copy = strdup(path);
	if (!copy) {
		ret = topo_fail(&t, -ENOMEM, 0, "out of memory");
		goto out_put_root;
	}
	free(c->config_path);
	c->config_path = copy;

out_put_root:
	json_decref(root);
out_free_text:
	free(text);
	return ret;
}
