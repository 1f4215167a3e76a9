// SPDX-License-Identifier: MIT
/*
 * config/topology_err.c - where in the JSON file an error is, and what key
 * was meant.
 *
 * Every error names the file and the dotted JSON path. jansson reports a
 * line and column for syntax errors only: it keeps no positions for the
 * values of a parsed document. For the other errors the line is found, best
 * effort, by scanning the file's text for the path's keys in order
 * ("fuse" then "max_pages"), each written "key" followed by a colon, and an
 * index ("nodes[3]") by counting the array's elements; a key written with
 * escapes, or a look-alike inside a string value, can mislead the scan, in
 * which case the line is wrong or left out.
 *
 * A key the loaders of topology.c do not know is answered with a hint: how
 * to nest a dotted key, that a tunable is in seconds when "_ms" was written,
 * the nearest known key when one is near enough (conf_distance()), or else
 * the keys that fit where it was written.
 */
#include "config.h"
#include "topology_i.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
unsigned topo_key_line(const struct topo_ctx *t, const char *where,
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
int topo_fail(const struct topo_ctx *t, int ret, unsigned line,
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
		for (i = 0; i < TOPO_NKEYS; i++)
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
int topo_unknown_key(const struct topo_ctx *t, const char *section,
		     const char *name, const char *path)
{
	size_t best = SIZE_MAX, hitlen = 0, limit, len, i;
	unsigned line = topo_key_line(t, section, name, NULL);
	char list[CONF_ERR_MAX / 2];
	const struct param *p;
	const char *hit = NULL;

	/* "fuse.max_pages" written as one key at the top level */
	if (!section && strchr(name, '.') &&
	    (conf_param_by_key(name) || topo_is_section(name))) {
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
	for (i = 0; i < TOPO_NKEYS; i++)
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

/*
 * @name inside the object at @where ("nodes[2]", "auth") is none of @keys;
 * @what says what the object is ("a node").
 */
int topo_unknown_member(const struct topo_ctx *t, const char *where,
			const char *name, const char *const *keys,
			const char *what)
{
	size_t len = strlen(name), best = SIZE_MAX, limit, d, i;
	unsigned line = topo_key_line(t, where, name, NULL);
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
