// SPDX-License-Identifier: MIT
/*
 * tests/fuzz/fuzz_wire.c - libFuzzer target for io/wire.c.
 *
 * Every input goes through wire_decode_hdr(), wire_verify() (under a key and
 * under key none), and every body decoder and the listing iterator, on the
 * bytes after the header (or on the whole input if it is shorter than one).
 * Whatever decodes is encoded again and must give back the same bytes: the
 * header (tag aside) when wire_decode_hdr() accepted it, the body always.
 * A mismatch aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key the seed corpus is sealed with (tests/fuzz/wire_seeds.c). */
static const struct wire_key fuzz_key = {
    .len = 32,
    .bytes = "canopy-fuzz-key-0123456789abcdef",
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

/*
 * Compare the message @enc re-encoded from what was decoded with the input:
 * the body always, the header (tag aside) when @hdr_ok.
 */
static void same(const uint8_t *enc, ssize_t enc_len, const uint8_t *body,
		 size_t len, const uint8_t *in, bool hdr_ok)
{
	check(enc_len == (ssize_t)(WIRE_HDR_LEN + len));
	check(!memcmp(enc + WIRE_HDR_LEN, body, len));
	if (hdr_ok) {
		check(!memcmp(enc, in, WIRE_TAG_OFF));
		check(wire_decode_hdr(enc, (size_t)enc_len,
				      &(struct wire_hdr){0}) == 0);
	}
}

static void list_round_trip(const struct wire_hdr *h, const uint8_t *body,
			    size_t len, uint8_t *out, size_t cap,
			    const uint8_t *in, bool hdr_ok)
{
	static struct wire_list_ent ent;
	struct wire_list_dec d;
	struct wire_list_enc e;
	int ret;

	if (wire_list_decode(body, len, &d))
		return;
	check(wire_list_begin(&e, out, cap, h, d.err) == 0);
	while ((ret = wire_list_next(&d, &ent)) == 1)
		check(wire_list_add(&e, &ent) == 0);
	check(ret == 0 || ret == -EBADMSG || ret == -EPROTO);
	if (ret == 0)
		same(out, wire_list_end(&e, d.more), body, len, in, hdr_ok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_path_msg pm;
	static struct wire_stat_resp sr;
	static struct wire_list_req lr;
	static struct wire_readlink_resp rl;
	static struct wire_read_req rq;
	static struct wire_prefetch pf;
	struct wire_prefetch_done pd;
	struct wire_read_resp rr;
	struct wire_release rel;
	struct wire_key none;
	struct wire_hdr h, in_h = {0};
	const uint8_t *body = data;
	size_t len = size, cap;
	bool hdr_ok;
	uint8_t *out;
	uint16_t f, base;

	hdr_ok = wire_decode_hdr(data, size, &in_h) == 0;
	wire_key_none(&none);
	check(wire_verify(data, size, &none) ==
	      (size < WIRE_HDR_LEN ? -EBADMSG : 0));
	(void)wire_verify(data, size, &fuzz_key);
	(void)wire_type_name(hdr_ok ? in_h.type : (size ? data[0] : 0));

	if (size >= WIRE_HDR_LEN) {
		body = data + WIRE_HDR_LEN;
		len = size - WIRE_HDR_LEN;
	}
	cap = WIRE_HDR_LEN + len;
	out = malloc(cap);
	if (!out)
		return 0;

	/* a header for re-encoding: the input's if it decoded */
	h = in_h;
	if (!hdr_ok)
		memset(&h, 0, sizeof(h));
	base = h.flags;

#define TYPE_OK(t) (!hdr_ok || in_h.type == (t))
#define WITH_FLAGS(fl) (h.flags = (fl), &h)
	/* without a valid header, encode with no flags (RMA: both ways) */
	if (!wire_decode_empty(body, len)) {
		if (TYPE_OK(WIRE_PING))
			same(out, wire_encode_ping(out, cap, WITH_FLAGS(base)),
			     body, len, data, hdr_ok);
		if (TYPE_OK(WIRE_PONG))
			same(out, wire_encode_pong(out, cap, WITH_FLAGS(base)),
			     body, len, data, hdr_ok);
	}
	if (!wire_decode_path_msg(body, len, &pm)) {
		if (TYPE_OK(WIRE_STAT_REQ))
			same(out,
			     wire_encode_stat_req(out, cap, WITH_FLAGS(base),
						  &pm),
			     body, len, data, hdr_ok);
		if (TYPE_OK(WIRE_READLINK_REQ))
			same(out,
			     wire_encode_readlink_req(out, cap,
						      WITH_FLAGS(base), &pm),
			     body, len, data, hdr_ok);
	}
	if (!wire_decode_stat_resp(body, len, &sr) && TYPE_OK(WIRE_STAT_RESP))
		same(out,
		     wire_encode_stat_resp(out, cap, WITH_FLAGS(base), &sr),
		     body, len, data, hdr_ok);
	if (!wire_decode_list_req(body, len, &lr) && TYPE_OK(WIRE_LIST_REQ))
		same(out, wire_encode_list_req(out, cap, WITH_FLAGS(base), &lr),
		     body, len, data, hdr_ok);
	if (!wire_decode_readlink_resp(body, len, &rl) &&
	    TYPE_OK(WIRE_READLINK_RESP))
		same(out,
		     wire_encode_readlink_resp(out, cap, WITH_FLAGS(base), &rl),
		     body, len, data, hdr_ok);
	for (f = 0; f <= WIRE_F_RMA; f++) {
		if ((hdr_ok && f != in_h.flags) ||
		    wire_decode_read_req(body, len, &rq) ||
		    !TYPE_OK(WIRE_READ_REQ))
			continue;
		same(out, wire_encode_read_req(out, cap, WITH_FLAGS(f), &rq),
		     body, len, data, hdr_ok);
	}
	for (f = 0; f <= WIRE_F_RMA; f++) {
		if (hdr_ok && f != in_h.flags)
			continue;
		if (!wire_decode_read_resp(body, len, f, &rr) &&
		    TYPE_OK(WIRE_READ_RESP))
			same(
			    out,
			    wire_encode_read_resp(out, cap, WITH_FLAGS(f), &rr),
			    body, len, data, hdr_ok);
	}
	if (!wire_decode_release(body, len, &rel) && TYPE_OK(WIRE_RELEASE))
		same(out, wire_encode_release(out, cap, WITH_FLAGS(base), &rel),
		     body, len, data, hdr_ok);
	if (!wire_decode_prefetch(body, len, &pf) && TYPE_OK(WIRE_PREFETCH))
		same(out, wire_encode_prefetch(out, cap, WITH_FLAGS(base), &pf),
		     body, len, data, hdr_ok);
	if (!wire_decode_prefetch_done(body, len, &pd) &&
	    TYPE_OK(WIRE_PREFETCH_DONE))
		same(out,
		     wire_encode_prefetch_done(out, cap, WITH_FLAGS(base), &pd),
		     body, len, data, hdr_ok);
	if (TYPE_OK(WIRE_LIST_RESP))
		list_round_trip(WITH_FLAGS(base), body, len, out, cap, data,
				hdr_ok);
#undef TYPE_OK
#undef WITH_FLAGS

	/* a message that decodes seals and verifies */
	if (hdr_ok) {
		memcpy(out, data, size);
		check(wire_seal(out, size, &fuzz_key) == 0);
		check(wire_verify(out, size, &fuzz_key) == 0);
	}
	free(out);
	return 0;
}
