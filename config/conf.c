// SPDX-License-Identifier: MIT
/*
 * config/conf.c - a configuration as a whole: its defaults and its release,
 * the exports, the nodes and their addresses, and the validation of a
 * finished configuration (the tunables table and the textual forms of their
 * values are in config/params.c).
 *
 * conf_finish() checks every tunable again, in case a caller wrote a field
 * directly, then the topology topo_load() filled in (roots, auth, the key
 * file, which node this is) and then settles the exports. Node addresses are
 * split here (conf_parse_addr()), without jansson, so that the daemon can
 * parse an address the same way.
 *
 * Functions return 0 or -errno and, where they take an err buffer, leave a
 * message there that names what is refused (the export, the address, the
 * key: "roots", "auth.key_file") and what would be accepted.
 */
#include "config.h"
#include "conf_i.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int conf_init(struct conf *c)
{
	const struct param *p;
	int ret;

	memset(c, 0, sizeof(*c));
	c->fanout = CONF_FANOUT_DEFAULT;
	c->placement = PLACEMENT_FILE;
	for (p = conf_params; p->key; p++) {
		ret = conf_param_set_text(c, p, p->def, NULL, 0);
		if (ret)
			goto err_free;
	}
	return 0;

err_free:
	conf_free(c);
	return ret;
}

void conf_clear_exports(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nexports; i++)
		free(c->exports[i]);
	free(c->exports);
	c->exports = NULL;
	c->nexports = 0;
}

void conf_clear_nodes(struct conf *c)
{
	struct conf_node *n;
	size_t i, j;

	for (i = 0; i < c->nnodes; i++) {
		n = &c->nodes[i];
		free(n->name);
		for (j = 0; j < n->naddrs; j++)
			free(n->addrs[j]);
		free(n->addrs);
		free(n->host);
		free(n->port);
		free(n->provider_addr);
	}
	free(c->nodes);
	c->nodes = NULL;
	c->nnodes = 0;
	free(c->roots);
	c->roots = NULL;
	c->nroots = 0;
	c->node_index = 0;
}

void conf_free(struct conf *c)
{
	const struct param *p;

	if (!c)
		return;
	for (p = conf_params; p->key; p++)
		if (p->type == PARAM_STRING)
			free(*(char **)field(c, p));
	conf_clear_exports(c);
	conf_clear_nodes(c);
	free(c->auth_key_file);
	free(c->config_path);
	memset(c, 0, sizeof(*c));
}

/*
 * "//a/./b/" -> "/a/b". On success *out belongs to the caller. Refuses
 * relative paths and ".." (which would let a prefix test be fooled).
 */
static int export_normalise(const char *in, char **out, char *err,
			    size_t errlen)
{
	const char *q = in, *comp;
	size_t len;
	char *buf, *w;

	if (!in || *in != '/')
		return fail(err, errlen, -EINVAL,
			    "export \"%s\": not an absolute path",
			    in ? in : "");
	buf = malloc(strlen(in) + 2);
	if (!buf)
		return fail(err, errlen, -ENOMEM,
			    "export \"%s\": out of memory", in);
	w = buf;
	while (*q) {
		while (*q == '/')
			q++;
		comp = q;
		while (*q && *q != '/')
			q++;
		len = q - comp;
		if (!len || (len == 1 && comp[0] == '.'))
			continue;
		if (len == 2 && comp[0] == '.' && comp[1] == '.') {
			free(buf);
			return fail(err, errlen, -EINVAL,
				    "export \"%s\": \"..\" is not allowed; "
				    "give the path without it", in);
		}
		*w++ = '/';
		memcpy(w, comp, len);
		w += len;
	}
	if (w == buf)
		*w++ = '/';
	*w = '\0';
	*out = buf;
	return 0;
}

int conf_add_export(struct conf *c, const char *path, char *err, size_t errlen)
{
	char **grown, *norm, *copy;
	int ret;

	/* refuse what can never be valid now, while the source is known */
	ret = export_normalise(path, &norm, err, errlen);
	if (ret)
		return ret;
	free(norm);

	copy = strdup(path);
	if (!copy)
		return fail(err, errlen, -ENOMEM,
			    "export \"%s\": out of memory", path);
	grown = realloc(c->exports, (c->nexports + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return fail(err, errlen, -ENOMEM,
			    "export \"%s\": out of memory", path);
	}
	grown[c->nexports++] = copy;
	c->exports = grown;
	return 0;
}

/* True if @b lies strictly below @a ("/a" holds "/a/b", not "/ab"). */
static bool path_below(const char *a, const char *b)
{
	size_t la = strlen(a);

	if (!strcmp(a, "/"))
		return strcmp(b, "/") != 0;
	return !strncmp(a, b, la) && b[la] == '/';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int finish_exports(struct conf *c, char *err, size_t errlen)
{
	size_t i, j, n;
	struct stat st;
	char *norm;
	int ret;

	if (!c->nexports) {
		ret = conf_add_export(c, "/", err, errlen);
		if (ret)
			return ret;
	}

	for (i = 0; i < c->nexports; i++) {
		ret = export_normalise(c->exports[i], &norm, err, errlen);
		if (ret)
			return ret;
		if (stat(norm, &st)) {
			ret = -errno;
			fail(err, errlen, ret, "export \"%s\": %s",
			     c->exports[i], strerror(-ret));
			free(norm);
			return ret;
		}
		if (!S_ISDIR(st.st_mode)) {
			fail(err, errlen, -ENOTDIR,
			     "export \"%s\": not a directory", c->exports[i]);
			free(norm);
			return -ENOTDIR;
		}
		free(c->exports[i]);
		c->exports[i] = norm;
	}

	/*
	 * Sorted, a path comes after its ancestors and next to its twins, so
	 * comparing each with the ones kept so far folds both (n is small).
	 */
	qsort(c->exports, c->nexports, sizeof(*c->exports), cmp_str);
	for (i = 0, n = 0; i < c->nexports; i++) {
		for (j = 0; j < n; j++)
			if (!strcmp(c->exports[j], c->exports[i]) ||
			    path_below(c->exports[j], c->exports[i]))
				break;
		if (j < n)
			free(c->exports[i]);
		else
			c->exports[n++] = c->exports[i];
	}
	c->nexports = n;
	return 0;
}

/* Characters of a host name; what they spell is for the resolver to judge. */
#define HOST_CHARS                                                             \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"

/* "[v6%zone]" without brackets: @len bytes at @h. */
static bool is_ipv6(const char *h, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	const char *zone = memchr(h, '%', len);
	size_t alen = zone ? (size_t)(zone - h) : len;
	struct in6_addr a;

	if (!alen || alen >= sizeof(buf) || (zone && zone + 1 == h + len))
		return false;
	memcpy(buf, h, alen);
	buf[alen] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* A host name, or a dotted IPv4 address when it is all digits and dots. */
static bool is_host(const char *h, size_t len)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a;
	size_t i;

	for (i = 0; i < len; i++)
		if (!strchr(HOST_CHARS, h[i]))
			return false;
	for (i = 0; i < len; i++)
		if (h[i] != '.' && (h[i] < '0' || h[i] > '9'))
			return true;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, h, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, &a) == 1;
}

int conf_parse_addr(const char *addr, char **hostp, char **portp, char *err,
		    size_t errlen)
{
	const char *host, *port, *close, *end;
	char *h, *pt;
	size_t hlen;
	uint64_t n;

	if (!addr)
		return fail(err, errlen, -EINVAL, "missing address");
	if (*addr == '[') {
		host = addr + 1;
		close = strchr(host, ']');
		if (!close)
			return fail(err, errlen, -EINVAL,
				    "\"%s\": no \"]\" after the IPv6 address",
				    addr);
		hlen = close - host;
		if (!is_ipv6(host, hlen))
			return fail(err, errlen, -EINVAL,
				    "\"%s\": \"%.*s\" is not an IPv6 address",
				    addr, (int)hlen, host);
		if (close[1] != ':')
			return fail(err, errlen, -EINVAL,
				    "\"%s\": missing \":port\" after \"]\"",
				    addr);
		port = close + 2;
	} else {
		port = strrchr(addr, ':');
		if (!port)
			return fail(err, errlen, -EINVAL,
				    "\"%s\": missing \":port\"; write "
				    "host:port, such as \"%s:7001\"", addr,
				    addr);
		host = addr;
		hlen = port - addr;
		port++;
		if (memchr(host, ':', hlen))
			return fail(err, errlen, -EINVAL,
				    "\"%s\": an IPv6 address needs brackets, "
				    "as in \"[%.*s]:%s\"", addr, (int)hlen,
				    host, port);
		if (!hlen)
			return fail(err, errlen, -EINVAL,
				    "\"%s\": missing the host before \":\"",
				    addr);
		if (!is_host(host, hlen))
			return fail(err, errlen, -EINVAL,
				    "\"%s\": \"%.*s\" is not a host name or "
				    "address", addr, (int)hlen, host);
	}
	if (!*port)
		return fail(err, errlen, -EINVAL,
			    "\"%s\": missing the port after \":\"", addr);
	if (strspn(port, "0123456789") != strlen(port))
		return fail(err, errlen, -EINVAL,
			    "\"%s\": port \"%s\" is not a number", addr, port);
	if (parse_u64(port, &end, &n) || n < 1 || n > 65535)
		return fail(err, errlen, -ERANGE,
			    "\"%s\": port %s is out of range (1..65535)", addr,
			    port);

	h = strndup(host, hlen);
	pt = strdup(port);
	if (!h || !pt) {
		free(h);
		free(pt);
		return fail(err, errlen, -ENOMEM, "\"%s\": out of memory",
			    addr);
	}
	*hostp = h;
	*portp = pt;
	return 0;
}

int conf_find_node(const struct conf *c, const char *name, size_t *index)
{
	size_t i;

	if (!name)
		return -ENOENT;
	for (i = 0; i < c->nnodes; i++) {
		if (c->nodes[i].name && !strcmp(c->nodes[i].name, name)) {
			*index = i;
			return 0;
		}
	}
	return -ENOENT;
}

void conf_list_nodes(const struct conf *c, char *buf, size_t len)
{
	size_t used = 0, i;

	*buf = '\0';
	for (i = 0; i < c->nnodes && i < CONF_NODES_LISTED && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 c->nodes[i].name ? c->nodes[i].name : "?");
	if (i < c->nnodes && used < len)
		snprintf(buf + used, len - used, ", ... (%zu in all)",
			 c->nnodes);
}

/* This node's index: c->node, else the host name or its short form. */
static int finish_node_index(struct conf *c, char *err, size_t errlen)
{
	char host[HOST_NAME_MAX + 1], names[CONF_ERR_MAX / 2];
	size_t dot;
	int ret;

	if (*c->node) {
		if (!conf_find_node(c, c->node, &c->node_index))
			return 0;
		conf_list_nodes(c, names, sizeof(names));
		return fail(err, errlen, -ENOENT,
			    "node \"%s\" is not in the topology's nodes (%s)",
			    c->node, names);
	}
	if (gethostname(host, sizeof(host))) {
		ret = -errno;
		return fail(err, errlen, ret,
			    "node: cannot read the host name (%s); set it "
			    "with --node", strerror(-ret));
	}
	host[sizeof(host) - 1] = '\0';
	if (!conf_find_node(c, host, &c->node_index))
		return 0;
	dot = strcspn(host, ".");
	if (host[dot]) {
		host[dot] = '\0';
		if (!conf_find_node(c, host, &c->node_index))
			return 0;
		host[dot] = '.';
	}
	conf_list_nodes(c, names, sizeof(names));
	return fail(err, errlen, -ENOENT,
		    "node \"%s\" (the host name) is not in the topology's "
		    "nodes (%s); name this node with --node or \"node\"",
		    host, names);
}

/* What topo_load() checked, again, and what only now can be checked. */
static int finish_topology(struct conf *c, char *err, size_t errlen)
{
	struct stat st;
	size_t i;
	int ret;

	c->node_index = 0;
	if (c->fanout < 1 || c->fanout > CONF_FANOUT_MAX)
		return fail(err, errlen, -ERANGE,
			    "fanout: %u is out of range (1..%u)", c->fanout,
			    CONF_FANOUT_MAX);
	if (c->placement != PLACEMENT_FILE && c->placement != PLACEMENT_BLOCK)
		return fail(err, errlen, -EINVAL,
			    "placement: %d is not a valid value (file or "
			    "block)", (int)c->placement);
	if (!c->nnodes)
		return 0;

	if (!c->roots && (c->nroots < 1 || c->nroots > c->nnodes))
		return fail(err, errlen, -ERANGE,
			    "roots: %zu is out of range (1..%zu, the number of "
			    "nodes)", c->nroots, c->nnodes);
	if (c->roots && (!c->nroots || c->nroots > c->nnodes))
		return fail(err, errlen, -EINVAL,
			    "roots: %zu roots for %zu nodes", c->nroots,
			    c->nnodes);
	for (i = 0; c->roots && i < c->nroots; i++)
		if (c->roots[i] >= c->nnodes)
			return fail(err, errlen, -ERANGE,
				    "roots[%zu]: node index %" PRIu32 " is out "
				    "of range (0..%zu)", i, c->roots[i],
				    c->nnodes - 1);

	if (c->nnodes > 1 && !c->auth_none && !c->auth_key_file)
		return fail(err, errlen, -EINVAL, "%zu nodes and no auth; "
			    CONF_AUTH_HINT, c->nnodes);
	if (c->auth_key_file) {
		if (stat(c->auth_key_file, &st)) {
			ret = -errno;
			return fail(err, errlen, ret,
				    "auth.key_file \"%s\": %s",
				    c->auth_key_file, strerror(-ret));
		}
		if (!S_ISREG(st.st_mode))
			return fail(err, errlen, -EINVAL,
				    "auth.key_file \"%s\": not a regular file",
				    c->auth_key_file);
	}
	return finish_node_index(c, err, errlen);
}

int conf_finish(struct conf *c, char *err, size_t errlen)
{
	const struct param *p;
	int ret;

	for (p = conf_params; p->key; p++) {
		ret = conf_check_param(c, p, err, errlen);
		if (ret)
			return ret;
	}
	ret = finish_topology(c, err, errlen);
	if (ret)
		return ret;
	return finish_exports(c, err, errlen);
}

int conf_print_kernel(const struct conf *c, FILE *f)
{
	int n = 0;

	if (c->kernel_max_pages_limit) {
		fprintf(f, "max_pages_limit=%u\n", c->kernel_max_pages_limit);
		n++;
	}
	if (c->kernel_enable_uring >= 0) {
		fprintf(f, "enable_uring=%c\n",
			c->kernel_enable_uring ? 'Y' : 'N');
		n++;
	}
	return n;
}
