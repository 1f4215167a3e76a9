// SPDX-License-Identifier: MIT
/*
 * config/topology.c - the JSON configuration file.
 *
 * The file is read whole, parsed by jansson (duplicate keys refused) and then
 * walked top-down. A top-level key is either one with its own handler in
 * topo_keys[] ("exports" and the topology: "nodes", "roots", "fanout",
 * "placement", "auth") or part of the tunables table of conf.c: {"fuse":
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
 * Every error names the file and the dotted JSON path. jansson reports a
 * line and column for syntax errors only: it keeps no positions for the
 * values of a parsed document. For the other errors the line is found, best
 * effort, by scanning the file's text for the path's keys in order
 * ("fuse" then "max_pages"), each written "key" followed by a colon, and an
 * index ("nodes[3]") by counting the array's elements; a key written with
 * escapes, or a look-alike inside a string value, can mislead the scan, in
 * which case the line is wrong or left out.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A topology for thousands of nodes is well under this. */
#define TOPO_FILE_MAX (16 << 20)

/* Longest dotted path walked; longer keys cannot be tunables. */
#define TOPO_PATH_MAX 256

struct topo_ctx;

typedef int (*topo_load_fn)(struct topo_ctx *t, const char *key, json_t *val);

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
static const struct topo_key {
	const char *name;
	topo_load_fn load;
	bool later; /* after the walk, in this order: "nodes" first */
} topo_keys[] = {
	{ "exports", load_exports, false },
	{ "nodes", load_nodes, true },
	{ "roots", load_roots, true },
	{ "fanout", load_fanout, true },
	{ "placement", load_placement, true },
	{ "auth", load_auth, true },
};

#define NKEYS (sizeof(topo_keys) / sizeof(topo_keys[0]))

struct topo_ctx {
	struct conf *c;
	const char *path; /* the file, as given */
	const char *text; /* its contents, for the line of a key */
	size_t len;
	char *err;
	size_t errlen;
	json_t *later[NKEYS]; /* borrowed from the document */
};

static const struct topo_key *topo_key(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (!strcmp(topo_keys[i].name, name))
			return &topo_keys[i];
	return NULL;
}

/*
 * Find "comp" followed by blanks and a colon at or after text[from]; return
 * the offset of its opening quote, or -1.
 */
static long find_key(const char *text, size_t len, size_t from,
		     const char *comp, size_t clen)
{
	const char *q = text + from, *end = text + len, *hit, *r;

	while (q < end) {
		hit = memmem(q, end - q, comp, clen);
		if (!hit)
			return -1;
		q = hit + 1;
		if (hit == text || hit[-1] != '"')
			continue;
		r = hit + clen;
		if (r >= end || *r != '"')
			continue;
		for (r++; r < end && *r && strchr(" \t\r\n", *r); r++)
			;
		if (r < end && *r == ':')
			return hit - 1 - text;
	}
	return -1;
}

static const char *skip_blanks(const char *q, const char *end)
{
	while (q < end && strchr(" \t\r\n", *q) && *q)
		q++;
	return q;
}

/*
 * The offset of element @idx of the array that is the value of the key whose
 * opening quote is at text[pos]; -1 if the text is not shaped so.
 */
static long elem_pos(const struct topo_ctx *t, size_t pos, size_t idx)
{
	const char *s = t->text, *end = t->text + t->len, *q;
	size_t depth;

	q = memchr(s + pos + 1, '"', t->len - pos - 1);
	if (!q)
		return -1;
	q = skip_blanks(q + 1, end);
	if (q >= end || *q != ':')
		return -1;
	q = skip_blanks(q + 1, end);
	if (q >= end || *q != '[')
		return -1;
	for (q++;; q++) {
		q = skip_blanks(q, end);
		if (q >= end || *q == ']')
			return -1;
		if (!idx--)
			return q - s;
		/* skip one value, up to the comma after it */
		for (depth = 0; q < end; q++) {
			if (*q == '"') {
				for (q++; q < end && *q != '"'; q++)
					if (*q == '\\')
						q++;
			} else if (*q == '[' || *q == '{') {
				depth++;
			} else if (*q == ']' || *q == '}') {
				if (!depth)
					return -1;
				depth--;
			} else if (*q == ',' && !depth) {
				break;
			}
		}
		if (q >= end)
			return -1;
	}
}

/*
 * Best effort (see the head of this file): the line where the key at dotted
 * path @where is written (NULL: the root), indices included ("nodes[2].addr"
 * is the "addr" of the third element of "nodes"), then the key @name inside
 * it taken whole (dots and all) when given, then the string @value when
 * given; 0 if a key is not found.
 */
static unsigned key_line(const struct topo_ctx *t, const char *where,
			 const char *name, const char *value)
{
	const char *comp = where ? where : "", *hit;
	size_t pos = 0, clen, vlen, i;
	unsigned line = 1;
	unsigned long idx;
	char *end;
	long at;

	if (!t->text || (!where && !name))
		return 0;
	while (*comp) {
		clen = strcspn(comp, ".[");
		at = find_key(t->text, t->len, pos, comp, clen);
		if (at < 0)
			return 0;
		pos = at;
		comp += clen;
		while (*comp == '[') {
			idx = strtoul(comp + 1, &end, 10);
			if (*end != ']')
				return 0;
			at = elem_pos(t, pos, idx);
			if (at < 0)
				return 0;
			pos = at;
			comp = end + 1;
		}
		if (*comp != '.')
			break;
		comp++;
	}
	if (name) {
		at = find_key(t->text, t->len, pos, name, strlen(name));
		if (at < 0)
			return 0;
		pos = at;
	}
	if (value) {
		vlen = strlen(value);
		hit = memmem(t->text + pos, t->len - pos, value, vlen);
		if (hit && hit > t->text && hit[-1] == '"' &&
		    hit + vlen < t->text + t->len && hit[vlen] == '"')
			pos = hit - t->text;
	}
	for (i = 0; i < pos; i++)
		line += t->text[i] == '\n';
	return line;
}

/* "PATH:LINE: message", or "PATH: message" when the line is 0 (unknown). */
__attribute__((format(printf, 4, 5)))
static int topo_fail(const struct topo_ctx *t, int ret, unsigned line,
		     const char *fmt, ...)
{
	size_t off = 0;
	int n;
	va_list ap;

	if (!t->err || !t->errlen)
		return ret;
	if (line)
		n = snprintf(t->err, t->errlen, "%s:%u: ", t->path, line);
	else
		n = snprintf(t->err, t->errlen, "%s: ", t->path);
	if (n > 0)
		off = (size_t)n < t->errlen ? (size_t)n : t->errlen - 1;
	va_start(ap, fmt);
	vsnprintf(t->err + off, t->errlen - off, fmt, ap);
	va_end(ap);
	return ret;
}

static unsigned line_of(const struct topo_ctx *t, const char *where)
{
	return key_line(t, where, NULL, NULL);
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

/* The JSON type must fit the tunable; the value is then checked by conf.c. */
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
static bool is_section(const char *path)
{
	size_t len = strlen(path);
	const struct param *p;

	for (p = conf_params; p->key; p++)
		if (!strncmp(p->key, path, len) && p->key[len] == '.')
			return true;
	return false;
}

/* Append @word to the ", "-separated @list unless it is there already. */
static void list_add(char *list, size_t size, const char *word, size_t wlen)
{
	size_t used = strlen(list), ilen;
	const char *q = list;

	while (*q) {
		ilen = strcspn(q, ",");
		if (ilen == wlen && !memcmp(q, word, wlen))
			return;
		q += ilen;
		q += strspn(q, ", ");
	}
	snprintf(list + used, size - used, "%s%.*s", used ? ", " : "",
		 (int)wlen, word);
}

/* The names one may write inside @section (NULL: at the top level). */
static void list_members(const char *section, char *list, size_t size)
{
	size_t plen = section ? strlen(section) + 1 : 0, i;
	const struct param *p;
	const char *name;

	*list = '\0';
	if (!section)
		for (i = 0; i < NKEYS; i++)
			list_add(list, size, topo_keys[i].name,
				 strlen(topo_keys[i].name));
	for (p = conf_params; p->key; p++) {
		if (section && (strncmp(p->key, section, plen - 1) ||
				p->key[plen - 1] != '.'))
			continue;
		name = p->key + plen;
		list_add(list, size, name, strcspn(name, "."));
	}
}

/* Keep the first @clen bytes of @cand if they are nearer @path than *best. */
static void consider(const char *path, const char *cand, size_t clen,
		     size_t *best, const char **hit, size_t *hitlen)
{
	char buf[TOPO_PATH_MAX];
	size_t d;

	if (clen >= sizeof(buf))
		return;
	memcpy(buf, cand, clen);
	buf[clen] = '\0';
	d = conf_distance(path, buf);
	if (d < *best) {
		*best = d;
		*hit = cand;
		*hitlen = clen;
	}
}

/*
 * @name inside @section (NULL: the root) is not a key we know; @path is the
 * two joined. Suggest the nearest known path, or list what would fit.
 */
static int unknown_key(const struct topo_ctx *t, const char *section,
		       const char *name, const char *path)
{
	size_t best = SIZE_MAX, hitlen = 0, limit, len, i;
	unsigned line = key_line(t, section, name, NULL);
	char list[CONF_ERR_MAX / 2];
	const struct param *p;
	const char *hit = NULL;

	/* "fuse.max_pages" written as one key at the top level */
	if (!section && strchr(name, '.') &&
	    (conf_param_by_key(name) || is_section(name))) {
		len = strcspn(name, ".");
		return topo_fail(t, -EINVAL, line,
				 "unknown key \"%s\"; nest it: "
				 "{\"%.*s\": {\"%s\": ...}}", path, (int)len,
				 name, name + len + 1);
	}

	/* "timeout_ms": the tunable is in seconds */
	len = strlen(path);
	if (len > 3 && !strcmp(path + len - 3, "_ms") &&
	    len - 3 < TOPO_PATH_MAX) {
		char stem[TOPO_PATH_MAX];

		snprintf(stem, sizeof(stem), "%.*s", (int)(len - 3), path);
		p = conf_param_by_key(stem);
		if (p && p->type == PARAM_SECONDS)
			return topo_fail(t, -EINVAL, line,
					 "unknown key \"%s\"; write \"%s\" in "
					 "seconds (2000 ms is 2)", path, stem);
	}

	len = strlen(name);
	limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	for (i = 0; i < NKEYS; i++)
		consider(path, topo_keys[i].name, strlen(topo_keys[i].name),
			 &best, &hit, &hitlen);
	for (p = conf_params; p->key; p++) {
		consider(path, p->key, strlen(p->key), &best, &hit, &hitlen);
		consider(path, p->key, strcspn(p->key, "."), &best, &hit,
			 &hitlen);
	}
	if (hit && best <= limit)
		return topo_fail(t, -EINVAL, line,
				 "unknown key \"%s\" (did you mean \"%.*s\"?)",
				 path, (int)hitlen, hit);

	list_members(section, list, sizeof(list));
	if (section)
		return topo_fail(t, -EINVAL, line,
				 "unknown key \"%s\"; \"%s\" takes %s", path,
				 section, list);
	return topo_fail(t, -EINVAL, line,
			 "unknown key \"%s\"; the top level takes %s", path,
			 list);
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
			ret = unknown_key(t, prefix, name, path);
		} else if ((p = conf_param_by_key(path))) {
			ret = load_param(t, p, val);
		} else if (is_section(path)) {
			if (!json_is_object(val))
				return topo_fail(t, -EINVAL, line_of(t, path),
						 "%s: expected an object, got "
						 "%s", path, json_kind(val));
			ret = load_object(t, path, val);
		} else {
			ret = unknown_key(t, prefix, name, path);
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
			return topo_fail(t, ret, key_line(t, key, NULL, s),
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

/*
 * @name inside the object at @where ("nodes[2]", "auth") is none of @keys;
 * @what says what the object is ("a node").
 */
static int unknown_member(const struct topo_ctx *t, const char *where,
			  const char *name, const char *const *keys,
			  const char *what)
{
	size_t len = strlen(name), best = SIZE_MAX, limit, d, i;
	unsigned line = key_line(t, where, name, NULL);
	char list[CONF_ERR_MAX / 2];
	const char *hit = NULL;

	limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	*list = '\0';
	for (i = 0; keys[i]; i++) {
		d = conf_distance(name, keys[i]);
		if (d < best) {
			best = d;
			hit = keys[i];
		}
		list_add(list, sizeof(list), keys[i], strlen(keys[i]));
	}
	if (hit && best <= limit)
		return topo_fail(t, -EINVAL, line,
				 "unknown key \"%s.%s\" (did you mean "
				 "\"%s.%s\"?)", where, name, where, hit);
	return topo_fail(t, -EINVAL, line, "unknown key \"%s.%s\"; %s takes %s",
			 where, name, what, list);
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
			return unknown_member(t, where, key, node_keys,
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
			return unknown_member(t, key, name, auth_keys,
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
