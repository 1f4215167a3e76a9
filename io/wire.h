/* SPDX-License-Identifier: MIT */
/*
 * io/wire.h - the messages peers exchange, and their authentication.
 *
 * Every message is a fixed 40-byte little-endian header followed by a body
 * of exactly body_len bytes:
 *
 *   off  0  magic     u32  "CNPY"
 *   off  4  version   u8   WIRE_VERSION
 *   off  5  type      u8   enum wire_type
 *   off  6  flags     u16  WIRE_F_*; only READ_REQ and READ_RESP take RMA
 *   off  8  req_id    u64  chosen by the requester, echoed in the response
 *   off 16  src       u32  sender's node index
 *   off 20  body_len  u32  <= WIRE_BODY_MAX
 *   off 24  tag       16   HMAC-SHA256 of the message with this field zeroed
 *
 * Bodies (all integers little-endian, no padding, strings as a length then
 * the bytes without NUL; "[...]" is present only when err == 0):
 *
 *   PING, PONG          (empty)
 *   STAT_REQ,
 *   READLINK_REQ        u16 len, path
 *   STAT_RESP           i32 err, [attr]
 *   LIST_REQ            u32 start, u16 len, path
 *   LIST_RESP           i32 err, u8 flags (bit 0: more), u32 count,
 *                       count x (u8 len, name, u8 type, i32 err, [attr])
 *   READLINK_RESP       i32 err, [u16 len, target]
 *   READ_REQ            ident, u64 block, u32 block_size, u16 len, path
 *   READ_RESP           i32 err, u32 len, [rpc: len data bytes]
 *                                         [rma: u64 addr, key, cookie]
 *   RELEASE             u64 cookie
 *   PREFETCH            u32 timeout_ms, u16 count,
 *                       count x (u16 len, path)
 *   PREFETCH_DONE       i32 err, u64 files bytes files_max bytes_max
 *                       skipped errors, u32 nodes_done nodes_missing,
 *                       u16 nlisted, nlisted x u32 node index
 *
 *   attr   u64 ino size blocks dev rdev, i64 atime_ns mtime_ns ctime_ns,
 *          u32 mode nlink uid gid blksize                      (84 bytes)
 *   ident  u64 dev ino size, i64 mtime_ns ctime_ns             (40 bytes)
 *
 * A decoder accepts exactly what the matching encoder writes: one encoding
 * per message, so decode followed by encode gives back the same bytes.
 *
 * Encoders write the header from the caller's struct wire_hdr (flags,
 * req_id, src) with the magic, version, type and body_len of the message and
 * a zero tag; seal the result with wire_seal() before sending it. They return
 * the message's total length, -ENOSPC if @cap is too small, or -EINVAL if the
 * message is one the decoder would refuse.
 *
 * Decoders never trust a length, count or string from the buffer; anything
 * short, long, or inconsistent is -EBADMSG. wire_decode_hdr() checks the
 * header against the length of the buffer it came in; the body decoders take
 * body = buf + WIRE_HDR_LEN and len = body_len. Decoded strings are copied
 * and NUL-terminated; read_resp.data points into the caller's buffer.
 *
 * Nothing here keeps state between calls except one HMAC context per thread
 * (freed when the thread exits); every function is thread-safe.
 */
#ifndef CANOPY_WIRE_H
#define CANOPY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WIRE_MAGIC 0x59504e43u /* bytes "CNPY" on the wire */
#define WIRE_VERSION 1
/* magic4 version1 type1 flags2 req_id8 src4 body_len4 tag16 */
#define WIRE_HDR_LEN 40
#define WIRE_TAG_LEN 16	   /* HMAC-SHA256 truncated to 16 bytes */
#define WIRE_PATH_MAX 4096 /* longest path, bytes, without NUL */
#define WIRE_NAME_MAX 255
#define WIRE_BODY_MAX (64u << 20) /* hard cap on body_len */

#define WIRE_TAG_OFF 24	  /* offset of the tag in the header */
#define WIRE_ATTR_LEN 84  /* encoded struct wire_attr */
#define WIRE_IDENT_LEN 40 /* encoded struct wire_ident */
/* Offset of the data in an rpc READ_RESP; does not depend on len. */
#define WIRE_READ_RESP_DATA_OFF (WIRE_HDR_LEN + 8)

enum wire_type {
	WIRE_PING = 1,
	WIRE_PONG = 2,
	WIRE_STAT_REQ = 3,
	WIRE_STAT_RESP = 4,
	WIRE_LIST_REQ = 5,
	WIRE_LIST_RESP = 6,
	WIRE_READLINK_REQ = 7,
	WIRE_READLINK_RESP = 8,
	WIRE_READ_REQ = 9,
	WIRE_READ_RESP = 10,
	WIRE_RELEASE = 11,
	WIRE_PREFETCH = 12,
	WIRE_PREFETCH_DONE = 13,
	WIRE_TYPE_MAX
};
enum { WIRE_F_RMA = 1 << 0 }; /* READ_REQ: answer with an RMA key */

struct wire_hdr {
	uint32_t magic;
	uint8_t version, type;
	uint16_t flags;
	uint64_t req_id; /* chosen by the requester, echoed in the response */
	uint32_t src;	 /* sender's node index */
	uint32_t body_len;
	uint8_t tag[WIRE_TAG_LEN];
};

/* The attributes a node needs of a backing file (from statx). */
struct wire_attr {
	/* dev/rdev as makedev() values */
	uint64_t ino, size, blocks, dev, rdev;
	int64_t atime_ns, mtime_ns, ctime_ns; /* ns since the epoch */
	uint32_t mode, nlink, uid, gid, blksize;
};
/* Identity of a backing file's content. */
struct wire_ident {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
};

/* Decoded strings are copied and NUL-terminated; an embedded NUL is -EPROTO. */
struct wire_path_msg { /* STAT_REQ, READLINK_REQ */
	char path[WIRE_PATH_MAX + 1];
};
struct wire_stat_resp {
	int32_t err;	       /* 0 or -errno */
	struct wire_attr attr; /* only when err == 0; zero otherwise */
};
struct wire_list_req {
	char path[WIRE_PATH_MAX + 1];
	uint32_t start;
};
struct wire_readlink_resp {
	int32_t err;
	char target[WIRE_PATH_MAX + 1]; /* may be relative; never empty */
};
struct wire_read_req {
	char path[WIRE_PATH_MAX + 1];
	struct wire_ident id;
	uint64_t block;
	uint32_t block_size; /* 1 .. WIRE_BODY_MAX */
};
struct wire_read_resp {
	int32_t err;
	/* bytes of the block (< block_size only at EOF); 0 on error */
	uint32_t len;
	const void *data; /* rpc: points into the decoded buffer, len bytes */
	/* rma (hdr flags WIRE_F_RMA): where to fi_read from, what to RELEASE */
	uint64_t addr, key, cookie;
};
struct wire_release {
	uint64_t cookie;
};

/*
 * PREFETCH: warm the caches of the receiver and of its subtree of the
 * broadcast tree with @count paths, answering PREFETCH_DONE within
 * @timeout_ms.
 */
#define WIRE_PREFETCH_PATHS 16
#define WIRE_PREFETCH_TIMEOUT_MAX (7u * 24 * 3600 * 1000) /* a week, ms */
struct wire_prefetch {
	uint32_t timeout_ms; /* 1 .. WIRE_PREFETCH_TIMEOUT_MAX */
	uint16_t count;	     /* 1 .. WIRE_PREFETCH_PATHS */
	char paths[WIRE_PREFETCH_PATHS][WIRE_PATH_MAX + 1];
};
/*
 * PREFETCH_DONE: what a subtree did. err is the receiver's own failure
 * (-EPERM for a path outside the exports, -EBUSY, -ETIMEDOUT) or 0; the
 * counts are summed over the nodes that finished (files_max and bytes_max:
 * the most of one node); listed names up to WIRE_PREFETCH_LISTED of the
 * nodes_missing nodes that did not finish.
 */
#define WIRE_PREFETCH_LISTED 64
struct wire_prefetch_done {
	int32_t err;
	uint64_t files, bytes, files_max, bytes_max, skipped, errors;
	uint32_t nodes_done, nodes_missing;
	uint16_t nlisted; /* <= WIRE_PREFETCH_LISTED and <= nodes_missing */
	uint32_t listed[WIRE_PREFETCH_LISTED];
};

/* LIST_RESP: err, flags (more), count, then count entries. */
struct wire_list_ent {
	char name[WIRE_NAME_MAX + 1];
	uint8_t type;	       /* DT_* */
	int32_t err;	       /* statx of this entry: 0 or -errno */
	struct wire_attr attr; /* only when err == 0; zero otherwise */
};
/*
 * Encoding a listing: start with wire_list_begin(), add entries until it
 * returns -ENOSPC, then finish with wire_list_end(). The encoder only points
 * at the caller's buffer; it owns nothing.
 */
struct wire_list_enc {
	uint8_t *buf;
	size_t cap, len;
	uint32_t count;
};
/* Decoding a listing: wire_list_decode(), then wire_list_next() until 0. */
struct wire_list_dec {
	int32_t err;
	bool more;	/* the responder has entries after these */
	uint32_t count; /* entries in this message */
	/* private: the iterator's position in the caller's buffer */
	const uint8_t *p, *end;
	uint32_t left;
};

/*
 * The per-job key. none: no key configured; seal writes a zero tag and
 * verify accepts any tag.
 */
struct wire_key {
	bool none;
	size_t len;
	uint8_t bytes[64];
};

#define WIRE_KEY_MIN 32
#define WIRE_KEY_MAX 64
/* wire_key_load()'s positive return: loaded, but others may read the file. */
#define WIRE_KEY_LOOSE 1

/* "PING", "READ_RESP", ...; "UNKNOWN" for a type outside enum wire_type. */
const char *wire_type_name(uint8_t type);

/*
 * Header. wire_decode_hdr() checks magic (-EBADMSG), version
 * (-EPROTONOSUPPORT), type, flags, body_len == len - WIRE_HDR_LEN and
 * body_len <= WIRE_BODY_MAX (-EBADMSG). It does not check the tag: call
 * wire_verify() on the same buffer.
 */
int wire_decode_hdr(const void *buf, size_t len, struct wire_hdr *h);

/* Encoders: total bytes written, or -ENOSPC / -EINVAL. See the top. */
ssize_t wire_encode_ping(void *buf, size_t cap, const struct wire_hdr *h);
ssize_t wire_encode_pong(void *buf, size_t cap, const struct wire_hdr *h);
ssize_t wire_encode_stat_req(void *buf, size_t cap, const struct wire_hdr *h,
			     const struct wire_path_msg *m);
ssize_t wire_encode_readlink_req(void *buf, size_t cap,
				 const struct wire_hdr *h,
				 const struct wire_path_msg *m);
ssize_t wire_encode_stat_resp(void *buf, size_t cap, const struct wire_hdr *h,
			      const struct wire_stat_resp *m);
ssize_t wire_encode_list_req(void *buf, size_t cap, const struct wire_hdr *h,
			     const struct wire_list_req *m);
ssize_t wire_encode_readlink_resp(void *buf, size_t cap,
				  const struct wire_hdr *h,
				  const struct wire_readlink_resp *m);
ssize_t wire_encode_read_req(void *buf, size_t cap, const struct wire_hdr *h,
			     const struct wire_read_req *m);
/*
 * READ_RESP. The mode follows h->flags: with WIRE_F_RMA, addr/key/cookie
 * are sent; without, len bytes are copied from m->data (which may then be
 * NULL only if len is 0). An error response (err < 0) needs len == 0.
 */
ssize_t wire_encode_read_resp(void *buf, size_t cap, const struct wire_hdr *h,
			      const struct wire_read_resp *m);
/*
 * As wire_encode_read_resp() but leaves the len data bytes of an rpc
 * response for the caller to put at *data_off (always
 * WIRE_READ_RESP_DATA_OFF, so the data may be read in before this call),
 * and ignores m->data. Returns the total length, data included.
 */
ssize_t wire_encode_read_resp_hdr(void *buf, size_t cap,
				  const struct wire_hdr *h,
				  const struct wire_read_resp *m,
				  size_t *data_off);
ssize_t wire_encode_release(void *buf, size_t cap, const struct wire_hdr *h,
			    const struct wire_release *m);
ssize_t wire_encode_prefetch(void *buf, size_t cap, const struct wire_hdr *h,
			     const struct wire_prefetch *m);
ssize_t wire_encode_prefetch_done(void *buf, size_t cap,
				  const struct wire_hdr *h,
				  const struct wire_prefetch_done *m);

/*
 * Listing encoder over @buf of @cap bytes. begin: -ENOSPC if not even the
 * empty listing fits, -EINVAL for a bad err. add: 0, -ENOSPC if the entry
 * does not fit (nothing written; the message stays valid), -EINVAL for a bad
 * entry or a listing begun with err != 0. end: the total length.
 */
int wire_list_begin(struct wire_list_enc *e, void *buf, size_t cap,
		    const struct wire_hdr *h, int32_t err);
int wire_list_add(struct wire_list_enc *e, const struct wire_list_ent *ent);
ssize_t wire_list_end(struct wire_list_enc *e, bool more);

/*
 * Body decoders: 0 or -EBADMSG (-EPROTO for an embedded NUL in a string).
 * Request paths must be absolute; names non-empty, without '/', not "." or
 * ".."; err fields 0 or -1..-4095.
 */
int wire_decode_empty(const void *body, size_t len); /* PING, PONG */
int wire_decode_path_msg(const void *body, size_t len, struct wire_path_msg *m);
int wire_decode_stat_resp(const void *body, size_t len,
			  struct wire_stat_resp *m);
int wire_decode_list_req(const void *body, size_t len, struct wire_list_req *m);
int wire_decode_readlink_resp(const void *body, size_t len,
			      struct wire_readlink_resp *m);
int wire_decode_read_req(const void *body, size_t len, struct wire_read_req *m);
/*
 * READ_RESP needs the header's flags: the body alone does not say whether
 * it carries data (rpc) or an RMA key. m->data is NULL in rma mode and on
 * error, and points into @body otherwise.
 */
int wire_decode_read_resp(const void *body, size_t len, uint16_t flags,
			  struct wire_read_resp *m);
int wire_decode_release(const void *body, size_t len, struct wire_release *m);
/* Every path as a request path; timeout_ms and count within bounds. */
int wire_decode_prefetch(const void *body, size_t len,
			 struct wire_prefetch *m);
int wire_decode_prefetch_done(const void *body, size_t len,
			      struct wire_prefetch_done *m);

/*
 * Listing decoder: wire_list_decode() reads err, more and count; then
 * wire_list_next() returns 1 with an entry, 0 after the last one, or
 * -EBADMSG / -EPROTO if the entries and the bytes disagree. @d points into
 * @body, which must outlive it.
 */
int wire_list_decode(const void *body, size_t len, struct wire_list_dec *d);
int wire_list_next(struct wire_list_dec *d, struct wire_list_ent *ent);

/*
 * The key file's whole content, 32..64 bytes after one trailing newline is
 * dropped. Returns 0; WIRE_KEY_LOOSE if the file is readable by group or
 * others (@err then holds a warning to log); or -errno with a message naming
 * the file in @err.
 */
int wire_key_load(const char *path, struct wire_key *k, char *err,
		  size_t errlen);
void wire_key_none(struct wire_key *k);

/*
 * wire_seal(): HMAC-SHA256 of the @len-byte message with the tag field
 * zeroed, first 16 bytes into the tag (key none: a zero tag). 0, -EINVAL if
 * @len is shorter than a header, -ENOMEM/-EIO if libcrypto fails.
 * wire_verify(): 0, or -EBADMSG if the tag does not match (compared in
 * constant time) or @len is shorter than a header; key none accepts any tag.
 */
int wire_seal(void *buf, size_t len, const struct wire_key *k);
int wire_verify(const void *buf, size_t len, const struct wire_key *k);

#endif /* CANOPY_WIRE_H */
