// SPDX-License-Identifier: MIT
/*
 * config/topology.c - the JSON configuration file.
 *
 * The file is read whole, parsed by jansson (duplicate keys refused) and then
 * walked top-down. A top-level key is either one with its own handler in
 * topo_keys[] ("exports", and the multi-node keys a later build accepts) or
 * part of the tunables table of conf.c: {"fuse": {"max_pages": 1024}} sets
 * "fuse.max_pages", {"node": "x"} sets "node". A tunable added to
 * conf_params[] is therefore accepted here without a change to this file.
 *
 * Every error names the file and the dotted JSON path. jansson reports a
 * line and column for syntax errors only: it keeps no positions for the
 * values of a parsed document. For the other errors the line is found, best
 * effort, by scanning the file's text for the path's keys in order
 * ("fuse" then "max_pages"), each written "key" followed by a colon; a key
 * written with escapes, or a look-alike inside a string value, can mislead
 * the scan, in which case the line is wrong or left out.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A topology for thousands of nodes is well under this. */
#define TOPO_FILE_MAX (16 << 20)

/* Longest dotted path walked; longer keys cannot be tunables. */
#define TOPO_PATH_MAX 256

struct topo_ctx {
	struct conf *c;
	const char *path; /* the file, as given */
	const char *text; /* its contents, for the line of a key */
	size_t len;
	char *err;
	size_t errlen;
};

typedef int (*topo_load_fn)(struct topo_ctx *t, const char *key, json_t *val);

static int load_exports(struct topo_ctx *t, const char *key, json_t *val);
static int refuse_multinode(struct topo_ctx *t, const char *key, json_t *val);

/*
 * Top-level keys with a handler of their own. Any other top-level key must
 * name a tunable or a section of them ("cache", "fuse", "io", ...).
 */
static const struct topo_key {
	const char *name;
	topo_load_fn load;
} topo_keys[] = {
	{ "exports", load_exports },
	/* multi-node topologies, accepted by a later build */
	{ "nodes", refuse_multinode },
	{ "roots", refuse_multinode },
	{ "fanout", refuse_multinode },
	{ "placement", refuse_multinode },
	{ "transport", refuse_multinode },
	{ "auth", refuse_multinode },
};

#define NKEYS (sizeof(topo_keys) / sizeof(topo_keys[0]))

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

/*
 * Best effort (see the head of this file): the line where the key at dotted
 * path @where is written (NULL: the root), then the key @name inside it taken
 * whole (dots and all) when given, then the string @value when given; 0 if a
 * key is not found. An index suffix ("exports[2]") is ignored.
 */
static unsigned key_line(const struct topo_ctx *t, const char *where,
			 const char *name, const char *value)
{
	const char *comp = where ? where : "", *hit;
	size_t pos = 0, clen, vlen, i;
	unsigned line = 1;
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
			if (topo_keys[i].load != refuse_multinode)
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
		if (special) {
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

static int refuse_multinode(struct topo_ctx *t, const char *key, json_t *val)
{
	(void)val;
	return topo_fail(t, -EOPNOTSUPP, line_of(t, key),
			 "\"%s\": multi-node topologies are not supported by "
			 "this build yet; leave \"%s\" out to run this node "
			 "alone", key, key);
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
