// SPDX-License-Identifier: MIT
/*
 * io/wire.c - explicit, bounded, little-endian encoding of peer messages
 * (their keys and HMAC authentication are in io/wire_auth.c).
 *
 * Encoders compute the body length first, check it against the caller's
 * capacity once, then write with unchecked put_*() helpers. Decoders read
 * through a cursor (struct cur) whose get_*() helpers fail rather than step
 * past the end, and finish with cur_done(): a body with bytes left over is as
 * bad as a short one. Layouts are in wire.h.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "wire.h"

#define WIRE_ERR_MAX 4095 /* err fields: 0 or -1 .. -WIRE_ERR_MAX */
/* err, six u64 counts, nodes_done, nodes_missing, nlisted */
#define PREFETCH_DONE_FIXED (4 + 6 * 8 + 4 + 4 + 2)

/*
 * Per type: name, flags it may carry, body length bounds. Checked by
 * wire_decode_hdr() so a message of the wrong size is refused before anyone
 * looks at its body.
 */
static const struct wire_type_info {
	const char *name;
	uint16_t flags;
	uint32_t min_body, max_body;
} wire_types[WIRE_TYPE_MAX] = {
    [WIRE_PING] = {"PING", 0, 0, 0},
    [WIRE_PONG] = {"PONG", 0, 0, 0},
    [WIRE_STAT_REQ] = {"STAT_REQ", 0, 2 + 1, 2 + WIRE_PATH_MAX},
    [WIRE_STAT_RESP] = {"STAT_RESP", 0, 4, 4 + WIRE_ATTR_LEN},
    [WIRE_LIST_REQ] = {"LIST_REQ", 0, 4 + 2 + 1, 4 + 2 + WIRE_PATH_MAX},
    [WIRE_LIST_RESP] = {"LIST_RESP", 0, 4 + 1 + 4, WIRE_BODY_MAX},
    [WIRE_READLINK_REQ] = {"READLINK_REQ", 0, 2 + 1, 2 + WIRE_PATH_MAX},
    [WIRE_READLINK_RESP] = {"READLINK_RESP", 0, 4, 4 + 2 + WIRE_PATH_MAX},
    [WIRE_READ_REQ] = {"READ_REQ", WIRE_F_RMA, WIRE_IDENT_LEN + 8 + 4 + 2 + 1,
		       WIRE_IDENT_LEN + 8 + 4 + 2 + WIRE_PATH_MAX},
    [WIRE_READ_RESP] = {"READ_RESP", WIRE_F_RMA, 8, WIRE_BODY_MAX},
    [WIRE_RELEASE] = {"RELEASE", 0, 8, 8},
    [WIRE_PREFETCH] = {"PREFETCH", 0, 4 + 2 + 2 + 1,
		       4 + 2 + WIRE_PREFETCH_PATHS * (2 + WIRE_PATH_MAX)},
    [WIRE_PREFETCH_DONE] = {"PREFETCH_DONE", 0, PREFETCH_DONE_FIXED,
			    PREFETCH_DONE_FIXED + WIRE_PREFETCH_LISTED * 4},
};

#define LIST_FIXED (4 + 1 + 4)	     /* err, flags, count */
#define LIST_ENT_MIN (1 + 1 + 1 + 4) /* len, 1-byte name, type, err */
#define LIST_F_MORE 0x01

const char *wire_type_name(uint8_t type)
{
	if (type >= WIRE_TYPE_MAX || !wire_types[type].name)
		return "UNKNOWN";
	return wire_types[type].name;
}

/* ---- little-endian helpers ---- */

static uint8_t *put_u8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	p = put_u32(p, (uint32_t)v);
	return put_u32(p, (uint32_t)(v >> 32));
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
	if (n)
		memcpy(p, src, n);
	return p + n;
}

static uint16_t ld_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t ld_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t ld_u64(const uint8_t *p)
{
	return (uint64_t)ld_u32(p) | (uint64_t)ld_u32(p + 4) << 32;
}

/* A decoding cursor: never reads past p + left. */
struct cur {
	const uint8_t *p;
	size_t left;
};

static bool get_u8(struct cur *c, uint8_t *v)
{
	if (c->left < 1)
		return false;
	*v = c->p[0];
	c->p++;
	c->left--;
	return true;
}

static bool get_u16(struct cur *c, uint16_t *v)
{
	if (c->left < 2)
		return false;
	*v = ld_u16(c->p);
	c->p += 2;
	c->left -= 2;
	return true;
}

static bool get_u32(struct cur *c, uint32_t *v)
{
	if (c->left < 4)
		return false;
	*v = ld_u32(c->p);
	c->p += 4;
	c->left -= 4;
	return true;
}

static bool get_i32(struct cur *c, int32_t *v)
{
	uint32_t u;

	if (!get_u32(c, &u))
		return false;
	*v = (int32_t)u;
	return true;
}

static bool get_u64(struct cur *c, uint64_t *v)
{
	if (c->left < 8)
		return false;
	*v = ld_u64(c->p);
	c->p += 8;
	c->left -= 8;
	return true;
}

static bool get_i64(struct cur *c, int64_t *v)
{
	uint64_t u;

	if (!get_u64(c, &u))
		return false;
	*v = (int64_t)u;
	return true;
}

/*
 * Copy a string of @n bytes into @dst and NUL-terminate it; @dst holds
 * @max + 1 bytes, and a longer string is refused before anything is copied.
 */
static bool get_str(struct cur *c, size_t n, char *dst, size_t max)
{
	if (n > max || c->left < n)
		return false;
	memcpy(dst, c->p, n);
	dst[n] = '\0';
	c->p += n;
	c->left -= n;
	return true;
}

static int cur_done(const struct cur *c)
{
	return c->left ? -EBADMSG : 0;
}

/* ---- validation shared by encoders and decoders ---- */

static bool err_ok(int32_t err)
{
	return err == 0 || (err < 0 && err >= -WIRE_ERR_MAX);
}

/*
 * A request path: absolute, 1..WIRE_PATH_MAX bytes, no NUL, no "." or ".."
 * component (the daemon's export check must not be walked around).
 */
static int path_check(const char *s, size_t n)
{
	const char *c, *end = s + n;

	if (n == 0 || n > WIRE_PATH_MAX || s[0] != '/')
		return -EBADMSG;
	if (memchr(s, '\0', n))
		return -EPROTO;
	for (c = s; c < end; c++) {
		if (*c != '/')
			continue;
		if (c + 2 <= end && c[1] == '.' &&
		    (c + 2 == end || c[2] == '/'))
			return -EBADMSG;
		if (c + 3 <= end && c[1] == '.' && c[2] == '.' &&
		    (c + 3 == end || c[3] == '/'))
			return -EBADMSG;
	}
	return 0;
}

/* A symlink target: 1..WIRE_PATH_MAX bytes, no NUL; may be relative. */
static int target_check(const char *s, size_t n)
{
	if (n == 0 || n > WIRE_PATH_MAX)
		return -EBADMSG;
	if (memchr(s, '\0', n))
		return -EPROTO;
	return 0;
}

/* A directory entry name: 1..WIRE_NAME_MAX bytes, no '/' or NUL, not . or .. */
static int name_check(const char *s, size_t n)
{
	if (n == 0 || n > WIRE_NAME_MAX)
		return -EBADMSG;
	if (memchr(s, '\0', n))
		return -EPROTO;
	if (memchr(s, '/', n))
		return -EBADMSG;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return -EBADMSG;
	return 0;
}

static bool dtype_ok(uint8_t t)
{
	switch (t) {
	case DT_UNKNOWN:
	case DT_FIFO:
	case DT_CHR:
	case DT_DIR:
	case DT_BLK:
	case DT_REG:
	case DT_LNK:
	case DT_SOCK:
	case DT_WHT:
		return true;
	}
	return false;
}

static bool read_req_ok(const struct wire_read_req *m)
{
	if (m->block_size == 0 || m->block_size > WIRE_BODY_MAX)
		return false;
	/* the block's byte offset must be an off_t */
	return m->block <= (uint64_t)INT64_MAX / m->block_size;
}

/* Length of a C string in an encoder's input, or -EINVAL if unterminated. */
static ssize_t str_len(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	return n == size ? -EINVAL : (ssize_t)n;
}

/* ---- header ---- */

static uint8_t *put_hdr(uint8_t *p, const struct wire_hdr *h, uint8_t type,
			uint32_t body_len)
{
	p = put_u32(p, WIRE_MAGIC);
	p = put_u8(p, WIRE_VERSION);
	p = put_u8(p, type);
	p = put_u16(p, h->flags);
	p = put_u64(p, h->req_id);
	p = put_u32(p, h->src);
	p = put_u32(p, body_len);
	memset(p, 0, WIRE_TAG_LEN);
	return p + WIRE_TAG_LEN;
}

/*
 * Check what every encoder checks: flags allowed for @type, body within
 * bounds, the whole message within @cap. Returns the total length.
 */
static ssize_t enc_check(size_t cap, const struct wire_hdr *h, uint8_t type,
			 size_t body_len)
{
	if (h->flags & ~wire_types[type].flags)
		return -EINVAL;
	if (body_len > WIRE_BODY_MAX)
		return -EMSGSIZE;
	if (cap < WIRE_HDR_LEN || cap - WIRE_HDR_LEN < body_len)
		return -ENOSPC;
	return (ssize_t)(WIRE_HDR_LEN + body_len);
}

int wire_decode_hdr(const void *buf, size_t len, struct wire_hdr *h)
{
	const uint8_t *p = buf;
	const struct wire_type_info *ti;

	if (len < WIRE_HDR_LEN)
		return -EBADMSG;
	h->magic = ld_u32(p);
	h->version = p[4];
	h->type = p[5];
	h->flags = ld_u16(p + 6);
	h->req_id = ld_u64(p + 8);
	h->src = ld_u32(p + 16);
	h->body_len = ld_u32(p + 20);
	memcpy(h->tag, p + WIRE_TAG_OFF, WIRE_TAG_LEN);

	if (h->magic != WIRE_MAGIC)
		return -EBADMSG;
	if (h->version != WIRE_VERSION)
		return -EPROTONOSUPPORT;
	if (h->type == 0 || h->type >= WIRE_TYPE_MAX)
		return -EBADMSG;
	ti = &wire_types[h->type];
	if (h->flags & ~ti->flags)
		return -EBADMSG;
	if (h->body_len > WIRE_BODY_MAX || h->body_len != len - WIRE_HDR_LEN)
		return -EBADMSG;
	if (h->body_len < ti->min_body || h->body_len > ti->max_body)
		return -EBADMSG;
	return 0;
}

/* ---- bodies ---- */

static uint8_t *put_attr(uint8_t *p, const struct wire_attr *a)
{
	p = put_u64(p, a->ino);
	p = put_u64(p, a->size);
	p = put_u64(p, a->blocks);
	p = put_u64(p, a->dev);
	p = put_u64(p, a->rdev);
	p = put_u64(p, (uint64_t)a->atime_ns);
	p = put_u64(p, (uint64_t)a->mtime_ns);
	p = put_u64(p, (uint64_t)a->ctime_ns);
	p = put_u32(p, a->mode);
	p = put_u32(p, a->nlink);
	p = put_u32(p, a->uid);
	p = put_u32(p, a->gid);
	return put_u32(p, a->blksize);
}

static bool get_attr(struct cur *c, struct wire_attr *a)
{
	if (c->left < WIRE_ATTR_LEN)
		return false;
	get_u64(c, &a->ino);
	get_u64(c, &a->size);
	get_u64(c, &a->blocks);
	get_u64(c, &a->dev);
	get_u64(c, &a->rdev);
	get_i64(c, &a->atime_ns);
	get_i64(c, &a->mtime_ns);
	get_i64(c, &a->ctime_ns);
	get_u32(c, &a->mode);
	get_u32(c, &a->nlink);
	get_u32(c, &a->uid);
	get_u32(c, &a->gid);
	get_u32(c, &a->blksize);
	return true;
}

static uint8_t *put_ident(uint8_t *p, const struct wire_ident *id)
{
	p = put_u64(p, id->dev);
	p = put_u64(p, id->ino);
	p = put_u64(p, id->size);
	p = put_u64(p, (uint64_t)id->mtime_ns);
	return put_u64(p, (uint64_t)id->ctime_ns);
}

static bool get_ident(struct cur *c, struct wire_ident *id)
{
	if (c->left < WIRE_IDENT_LEN)
		return false;
	get_u64(c, &id->dev);
	get_u64(c, &id->ino);
	get_u64(c, &id->size);
	get_i64(c, &id->mtime_ns);
	get_i64(c, &id->ctime_ns);
	return true;
}

/* A u16 length then a request path. */
static int get_path(struct cur *c, char *dst)
{
	uint16_t n;

	if (!get_u16(c, &n) || !get_str(c, n, dst, WIRE_PATH_MAX))
		return -EBADMSG;
	return path_check(dst, n);
}

/* Length of a request path to encode, or -EINVAL. */
static ssize_t enc_path_len(const char *path)
{
	ssize_t n = str_len(path, WIRE_PATH_MAX + 1);

	if (n < 0 || path_check(path, (size_t)n))
		return -EINVAL;
	return n;
}

static ssize_t encode_empty(void *buf, size_t cap, const struct wire_hdr *h,
			    uint8_t type)
{
	ssize_t total = enc_check(cap, h, type, 0);

	if (total < 0)
		return total;
	put_hdr(buf, h, type, 0);
	return total;
}

ssize_t wire_encode_ping(void *buf, size_t cap, const struct wire_hdr *h)
{
	return encode_empty(buf, cap, h, WIRE_PING);
}

ssize_t wire_encode_pong(void *buf, size_t cap, const struct wire_hdr *h)
{
	return encode_empty(buf, cap, h, WIRE_PONG);
}

int wire_decode_empty(const void *body, size_t len)
{
	return len ? -EBADMSG : 0;
}

static ssize_t encode_path_msg(void *buf, size_t cap, const struct wire_hdr *h,
			       uint8_t type, const struct wire_path_msg *m)
{
	ssize_t n = enc_path_len(m->path), total;
	uint8_t *p;

	if (n < 0)
		return n;
	total = enc_check(cap, h, type, 2 + (size_t)n);
	if (total < 0)
		return total;
	p = put_hdr(buf, h, type, (uint32_t)(total - WIRE_HDR_LEN));
	p = put_u16(p, (uint16_t)n);
	put_bytes(p, m->path, (size_t)n);
	return total;
}

ssize_t wire_encode_stat_req(void *buf, size_t cap, const struct wire_hdr *h,
			     const struct wire_path_msg *m)
{
	return encode_path_msg(buf, cap, h, WIRE_STAT_REQ, m);
}

ssize_t wire_encode_readlink_req(void *buf, size_t cap,
				 const struct wire_hdr *h,
				 const struct wire_path_msg *m)
{
	return encode_path_msg(buf, cap, h, WIRE_READLINK_REQ, m);
}

int wire_decode_path_msg(const void *body, size_t len, struct wire_path_msg *m)
{
	struct cur c = {body, len};
	int ret;

	ret = get_path(&c, m->path);
	if (ret)
		return ret;
	return cur_done(&c);
}

ssize_t wire_encode_stat_resp(void *buf, size_t cap, const struct wire_hdr *h,
			      const struct wire_stat_resp *m)
{
	ssize_t total;
	uint8_t *p;

	if (!err_ok(m->err))
		return -EINVAL;
	total =
	    enc_check(cap, h, WIRE_STAT_RESP, 4 + (m->err ? 0 : WIRE_ATTR_LEN));
	if (total < 0)
		return total;
	p = put_hdr(buf, h, WIRE_STAT_RESP, (uint32_t)(total - WIRE_HDR_LEN));
	p = put_u32(p, (uint32_t)m->err);
	if (!m->err)
		put_attr(p, &m->attr);
	return total;
}

int wire_decode_stat_resp(const void *body, size_t len,
			  struct wire_stat_resp *m)
{
	struct cur c = {body, len};

	memset(&m->attr, 0, sizeof(m->attr));
	if (!get_i32(&c, &m->err) || !err_ok(m->err))
		return -EBADMSG;
	if (!m->err && !get_attr(&c, &m->attr))
		return -EBADMSG;
	return cur_done(&c);
}

ssize_t wire_encode_list_req(void *buf, size_t cap, const struct wire_hdr *h,
			     const struct wire_list_req *m)
{
	ssize_t n = enc_path_len(m->path), total;
	uint8_t *p;

	if (n < 0)
		return n;
	total = enc_check(cap, h, WIRE_LIST_REQ, 4 + 2 + (size_t)n);
	if (total < 0)
		return total;
	p = put_hdr(buf, h, WIRE_LIST_REQ, (uint32_t)(total - WIRE_HDR_LEN));
	p = put_u32(p, m->start);
	p = put_u16(p, (uint16_t)n);
	put_bytes(p, m->path, (size_t)n);
	return total;
}

int wire_decode_list_req(const void *body, size_t len, struct wire_list_req *m)
{
	struct cur c = {body, len};
	int ret;

	if (!get_u32(&c, &m->start))
		return -EBADMSG;
	ret = get_path(&c, m->path);
	if (ret)
		return ret;
	return cur_done(&c);
}

ssize_t wire_encode_readlink_resp(void *buf, size_t cap,
				  const struct wire_hdr *h,
				  const struct wire_readlink_resp *m)
{
	ssize_t n = 0, total;
	uint8_t *p;

	if (!err_ok(m->err))
		return -EINVAL;
	if (!m->err) {
		n = str_len(m->target, sizeof(m->target));
		if (n < 0 || target_check(m->target, (size_t)n))
			return -EINVAL;
	}
	total = enc_check(cap, h, WIRE_READLINK_RESP,
			  4 + (m->err ? 0 : 2 + (size_t)n));
	if (total < 0)
		return total;
	p = put_hdr(buf, h, WIRE_READLINK_RESP,
		    (uint32_t)(total - WIRE_HDR_LEN));
	p = put_u32(p, (uint32_t)m->err);
	if (!m->err) {
		p = put_u16(p, (uint16_t)n);
		put_bytes(p, m->target, (size_t)n);
	}
	return total;
}

int wire_decode_readlink_resp(const void *body, size_t len,
			      struct wire_readlink_resp *m)
{
	struct cur c = {body, len};
	uint16_t n;
	int ret;

	m->target[0] = '\0';
	if (!get_i32(&c, &m->err) || !err_ok(m->err))
		return -EBADMSG;
	if (!m->err) {
		if (!get_u16(&c, &n) ||
		    !get_str(&c, n, m->target, WIRE_PATH_MAX))
			return -EBADMSG;
		ret = target_check(m->target, n);
		if (ret)
			return ret;
	}
	return cur_done(&c);
}

ssize_t wire_encode_read_req(void *buf, size_t cap, const struct wire_hdr *h,
			     const struct wire_read_req *m)
{
	ssize_t n = enc_path_len(m->path), total;
	uint8_t *p;

	if (n < 0)
		return n;
	if (!read_req_ok(m))
		return -EINVAL;
	total = enc_check(cap, h, WIRE_READ_REQ,
			  WIRE_IDENT_LEN + 8 + 4 + 2 + (size_t)n);
	if (total < 0)
		return total;
	p = put_hdr(buf, h, WIRE_READ_REQ, (uint32_t)(total - WIRE_HDR_LEN));
	p = put_ident(p, &m->id);
	p = put_u64(p, m->block);
	p = put_u32(p, m->block_size);
	p = put_u16(p, (uint16_t)n);
	put_bytes(p, m->path, (size_t)n);
	return total;
}

int wire_decode_read_req(const void *body, size_t len, struct wire_read_req *m)
{
	struct cur c = {body, len};
	int ret;

	if (!get_ident(&c, &m->id) || !get_u64(&c, &m->block) ||
	    !get_u32(&c, &m->block_size))
		return -EBADMSG;
	if (!read_req_ok(m))
		return -EBADMSG;
	ret = get_path(&c, m->path);
	if (ret)
		return ret;
	return cur_done(&c);
}

/* Body length of a READ_RESP, or -EINVAL / -EMSGSIZE. */
static ssize_t read_resp_body_len(uint16_t flags,
				  const struct wire_read_resp *m)
{
	if (!err_ok(m->err) || (m->err && m->len))
		return -EINVAL;
	if (m->len > WIRE_BODY_MAX)
		return -EMSGSIZE;
	if (m->err)
		return 8;
	if (flags & WIRE_F_RMA)
		return 8 + 24;
	return 8 + (ssize_t)m->len;
}

static uint8_t *put_read_resp(uint8_t *buf, const struct wire_hdr *h,
			      const struct wire_read_resp *m, size_t body_len)
{
	uint8_t *p;

	p = put_hdr(buf, h, WIRE_READ_RESP, (uint32_t)body_len);
	p = put_u32(p, (uint32_t)m->err);
	p = put_u32(p, m->len);
	if (!m->err && (h->flags & WIRE_F_RMA)) {
		p = put_u64(p, m->addr);
		p = put_u64(p, m->key);
		p = put_u64(p, m->cookie);
	}
	return p;
}

ssize_t wire_encode_read_resp_hdr(void *buf, size_t cap,
				  const struct wire_hdr *h,
				  const struct wire_read_resp *m,
				  size_t *data_off)
{
	ssize_t body = read_resp_body_len(h->flags, m), total;

	if (body < 0)
		return body;
	total = enc_check(cap, h, WIRE_READ_RESP, (size_t)body);
	if (total < 0)
		return total;
	put_read_resp(buf, h, m, (size_t)body);
	*data_off = WIRE_READ_RESP_DATA_OFF;
	return total;
}

ssize_t wire_encode_read_resp(void *buf, size_t cap, const struct wire_hdr *h,
			      const struct wire_read_resp *m)
{
	ssize_t body = read_resp_body_len(h->flags, m), total;
	uint8_t *p;

	if (body < 0)
		return body;
	if (!(h->flags & WIRE_F_RMA) && m->len && !m->data)
		return -EINVAL;
	total = enc_check(cap, h, WIRE_READ_RESP, (size_t)body);
	if (total < 0)
		return total;
	p = put_read_resp(buf, h, m, (size_t)body);
	if (!m->err && !(h->flags & WIRE_F_RMA))
		memmove(p, m->data, m->len); /* the data may already be there */
	return total;
}

int wire_decode_read_resp(const void *body, size_t len, uint16_t flags,
			  struct wire_read_resp *m)
{
	struct cur c = {body, len};

	m->data = NULL;
	m->addr = m->key = m->cookie = 0;
	if (!get_i32(&c, &m->err) || !err_ok(m->err) || !get_u32(&c, &m->len))
		return -EBADMSG;
	if (m->len > WIRE_BODY_MAX || (m->err && m->len))
		return -EBADMSG;
	if (m->err)
		return cur_done(&c);
	if (flags & WIRE_F_RMA) {
		if (!get_u64(&c, &m->addr) || !get_u64(&c, &m->key) ||
		    !get_u64(&c, &m->cookie))
			return -EBADMSG;
		return cur_done(&c);
	}
	if (c.left != m->len)
		return -EBADMSG;
	m->data = c.p;
	return 0;
}

ssize_t wire_encode_release(void *buf, size_t cap, const struct wire_hdr *h,
			    const struct wire_release *m)
{
	ssize_t total = enc_check(cap, h, WIRE_RELEASE, 8);
	uint8_t *p;

	if (total < 0)
		return total;
	p = put_hdr(buf, h, WIRE_RELEASE, 8);
	put_u64(p, m->cookie);
	return total;
}

int wire_decode_release(const void *body, size_t len, struct wire_release *m)
{
	struct cur c = {body, len};

	if (!get_u64(&c, &m->cookie))
		return -EBADMSG;
	return cur_done(&c);
}

/* ---- prefetch ---- */

static bool prefetch_ok(const struct wire_prefetch *m)
{
	return m->timeout_ms >= 1 && m->timeout_ms <= WIRE_PREFETCH_TIMEOUT_MAX &&
	       m->count >= 1 && m->count <= WIRE_PREFETCH_PATHS;
}

ssize_t wire_encode_prefetch(void *buf, size_t cap, const struct wire_hdr *h,
			     const struct wire_prefetch *m)
{
	size_t body = 4 + 2, len[WIRE_PREFETCH_PATHS];
	ssize_t n, total;
	uint8_t *p;
	unsigned i;

	if (!prefetch_ok(m))
		return -EINVAL;
	for (i = 0; i < m->count; i++) {
		n = enc_path_len(m->paths[i]);
		if (n < 0)
			return n;
		len[i] = (size_t)n;
		body += 2 + len[i];
	}
	total = enc_check(cap, h, WIRE_PREFETCH, body);
	if (total < 0)
		return total;
	p = put_hdr(buf, h, WIRE_PREFETCH, (uint32_t)body);
	p = put_u32(p, m->timeout_ms);
	p = put_u16(p, m->count);
	for (i = 0; i < m->count; i++) {
		p = put_u16(p, (uint16_t)len[i]);
		p = put_bytes(p, m->paths[i], len[i]);
	}
	return total;
}

int wire_decode_prefetch(const void *body, size_t len,
			 struct wire_prefetch *m)
{
	struct cur c = {body, len};
	unsigned i;
	int ret;

	if (!get_u32(&c, &m->timeout_ms) || !get_u16(&c, &m->count) ||
	    !prefetch_ok(m))
		return -EBADMSG;
	for (i = 0; i < m->count; i++) {
		ret = get_path(&c, m->paths[i]);
		if (ret)
			return ret;
	}
	return cur_done(&c);
}

static bool prefetch_done_ok(const struct wire_prefetch_done *m)
{
	return err_ok(m->err) && m->nlisted <= WIRE_PREFETCH_LISTED &&
	       m->nlisted <= m->nodes_missing;
}

ssize_t wire_encode_prefetch_done(void *buf, size_t cap,
				  const struct wire_hdr *h,
				  const struct wire_prefetch_done *m)
{
	ssize_t total;
	uint8_t *p;
	unsigned i;

	if (!prefetch_done_ok(m))
		return -EINVAL;
	total = enc_check(cap, h, WIRE_PREFETCH_DONE,
			  PREFETCH_DONE_FIXED + 4 * (size_t)m->nlisted);
	if (total < 0)
		return total;
	p = put_hdr(buf, h, WIRE_PREFETCH_DONE,
		    (uint32_t)(total - WIRE_HDR_LEN));
	p = put_u32(p, (uint32_t)m->err);
	p = put_u64(p, m->files);
	p = put_u64(p, m->bytes);
	p = put_u64(p, m->files_max);
	p = put_u64(p, m->bytes_max);
	p = put_u64(p, m->skipped);
	p = put_u64(p, m->errors);
	p = put_u32(p, m->nodes_done);
	p = put_u32(p, m->nodes_missing);
	p = put_u16(p, m->nlisted);
	for (i = 0; i < m->nlisted; i++)
		p = put_u32(p, m->listed[i]);
	return total;
}

int wire_decode_prefetch_done(const void *body, size_t len,
			      struct wire_prefetch_done *m)
{
	struct cur c = {body, len};
	unsigned i;

	if (!get_i32(&c, &m->err) || !get_u64(&c, &m->files) ||
	    !get_u64(&c, &m->bytes) || !get_u64(&c, &m->files_max) ||
	    !get_u64(&c, &m->bytes_max) || !get_u64(&c, &m->skipped) ||
	    !get_u64(&c, &m->errors) || !get_u32(&c, &m->nodes_done) ||
	    !get_u32(&c, &m->nodes_missing) || !get_u16(&c, &m->nlisted) ||
	    !prefetch_done_ok(m))
		return -EBADMSG;
	for (i = 0; i < m->nlisted; i++)
		if (!get_u32(&c, &m->listed[i]))
			return -EBADMSG;
	return cur_done(&c);
}

/* ---- listings ---- */

/* Offsets inside the message being encoded. */
#define LIST_OFF_ERR WIRE_HDR_LEN
#define LIST_OFF_FLAGS (WIRE_HDR_LEN + 4)
#define LIST_OFF_COUNT (WIRE_HDR_LEN + 5)

int wire_list_begin(struct wire_list_enc *e, void *buf, size_t cap,
		    const struct wire_hdr *h, int32_t err)
{
	ssize_t total;
	uint8_t *p;

	if (!err_ok(err))
		return -EINVAL;
	total = enc_check(cap, h, WIRE_LIST_RESP, LIST_FIXED);
	if (total < 0)
		return (int)total;
	p = put_hdr(buf, h, WIRE_LIST_RESP, LIST_FIXED);
	p = put_u32(p, (uint32_t)err);
	p = put_u8(p, 0);
	put_u32(p, 0);
	e->buf = buf;
	e->cap = cap;
	e->len = (size_t)total;
	e->count = 0;
	return 0;
}

int wire_list_add(struct wire_list_enc *e, const struct wire_list_ent *ent)
{
	ssize_t n = str_len(ent->name, sizeof(ent->name));
	size_t need;
	uint8_t *p;

	if (ld_u32(e->buf + LIST_OFF_ERR))
		return -EINVAL;
	if (n < 0 || name_check(ent->name, (size_t)n) || !dtype_ok(ent->type) ||
	    !err_ok(ent->err))
		return -EINVAL;
	need = 1 + (size_t)n + 1 + 4 + (ent->err ? 0 : WIRE_ATTR_LEN);
	if (e->count == UINT32_MAX || e->cap - e->len < need ||
	    e->len - WIRE_HDR_LEN + need > WIRE_BODY_MAX)
		return -ENOSPC;
	p = e->buf + e->len;
	p = put_u8(p, (uint8_t)n);
	p = put_bytes(p, ent->name, (size_t)n);
	p = put_u8(p, ent->type);
	p = put_u32(p, (uint32_t)ent->err);
	if (!ent->err)
		put_attr(p, &ent->attr);
	e->len += need;
	e->count++;
	/* keep the message whole after every entry */
	put_u32(e->buf + LIST_OFF_COUNT, e->count);
	put_u32(e->buf + 20, (uint32_t)(e->len - WIRE_HDR_LEN));
	return 0;
}

ssize_t wire_list_end(struct wire_list_enc *e, bool more)
{
	put_u8(e->buf + LIST_OFF_FLAGS, more ? LIST_F_MORE : 0);
	return (ssize_t)e->len;
}

int wire_list_decode(const void *body, size_t len, struct wire_list_dec *d)
{
	struct cur c = {body, len};
	uint8_t flags;

	memset(d, 0, sizeof(*d));
	if (!get_i32(&c, &d->err) || !get_u8(&c, &flags) ||
	    !get_u32(&c, &d->count))
		return -EBADMSG;
	if (!err_ok(d->err) || (flags & ~LIST_F_MORE))
		return -EBADMSG;
	/* an error listing is only that */
	if (d->err && (flags || d->count))
		return -EBADMSG;
	/* a count the bytes cannot hold is refused before any entry */
	if (d->count > c.left / LIST_ENT_MIN || (!d->count && c.left))
		return -EBADMSG;
	d->more = flags & LIST_F_MORE;
	d->p = c.p;
	d->end = c.p + c.left;
	d->left = d->count;
	return 0;
}

static int list_fail(struct wire_list_dec *d, int ret)
{
	d->left = 0;
	d->p = d->end = NULL; /* sticky: next returns -EBADMSG */
	return ret;
}

int wire_list_next(struct wire_list_dec *d, struct wire_list_ent *ent)
{
	struct cur c;
	uint8_t n;
	int ret;

	if (!d->p)
		return -EBADMSG;
	c.p = d->p;
	c.left = (size_t)(d->end - d->p);
	if (!d->left) {
		if (c.left)
			return list_fail(d, -EBADMSG);
		return 0;
	}
	memset(&ent->attr, 0, sizeof(ent->attr));
	if (!get_u8(&c, &n) || !get_str(&c, n, ent->name, WIRE_NAME_MAX))
		return list_fail(d, -EBADMSG);
	ret = name_check(ent->name, n);
	if (ret)
		return list_fail(d, ret);
	if (!get_u8(&c, &ent->type) || !dtype_ok(ent->type) ||
	    !get_i32(&c, &ent->err) || !err_ok(ent->err))
		return list_fail(d, -EBADMSG);
	if (!ent->err && !get_attr(&c, &ent->attr))
		return list_fail(d, -EBADMSG);
	d->p = c.p;
	d->left--;
	return 1;
}
