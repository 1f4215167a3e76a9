// SPDX-License-Identifier: MIT
/*
 * io/wire_auth.c - the job key and the HMAC that seals every peer message
 * (wire.h: WIRE_TAG_OFF, WIRE_TAG_LEN).
 *
 * Authentication: HMAC-SHA256 through libcrypto's EVP_MAC. Each thread keeps
 * one EVP_MAC_CTX and the key it was last set up with (struct mac_tls,
 * pthread-specific, freed at thread exit), so sealing or verifying a message
 * allocates nothing and re-keys only when the key changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "wire.h"

/* ---- keys ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void wire_key_none(struct wire_key *k)
{
	explicit_bzero(k, sizeof(*k));
	k->none = true;
}

int wire_key_load(const char *path, struct wire_key *k, char *err,
		  size_t errlen)
{
	uint8_t raw[WIRE_KEY_MAX + 2]; /* a newline, and one byte too many */
	size_t n = 0;
	struct stat st;
	ssize_t r;
	int fd, ret;

	set_err(err, errlen, "%s", "");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		set_err(err, errlen, "key file %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		set_err(err, errlen, "key file %s: %s", path, strerror(-ret));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		set_err(err, errlen, "key file %s: not a regular file", path);
		goto err_close;
	}
	while (n < sizeof(raw)) {
		r = read(fd, raw + n, sizeof(raw) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			set_err(err, errlen, "key file %s: %s", path,
				strerror(-ret));
			goto err_wipe;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n && raw[n - 1] == '\n')
		n--;
	if (n < WIRE_KEY_MIN || n > WIRE_KEY_MAX) {
		ret = -EINVAL;
		set_err(err, errlen,
			"key file %s: %s key (%s%zu bytes); it must hold %d to "
			"%d bytes",
			path, n < WIRE_KEY_MIN ? "too short a" : "too long a",
			n > WIRE_KEY_MAX ? "over " : "",
			n > WIRE_KEY_MAX ? (size_t)WIRE_KEY_MAX : n,
			WIRE_KEY_MIN, WIRE_KEY_MAX);
		goto err_wipe;
	}
	close(fd);
	explicit_bzero(k, sizeof(*k));
	k->none = false;
	k->len = n;
	memcpy(k->bytes, raw, n);
	explicit_bzero(raw, sizeof(raw));
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		set_err(err, errlen,
			"key file %s: mode %04o lets group or others at the "
			"key; chmod 600 it",
			path, (unsigned)(st.st_mode & 07777));
		return WIRE_KEY_LOOSE;
	}
	return 0;

err_wipe:
	explicit_bzero(raw, sizeof(raw));
err_close:
	close(fd);
	return ret;
}

/* ---- HMAC ---- */

/* One per thread: never shared, so no lock. */
struct mac_tls {
	EVP_MAC_CTX *ctx;
	size_t key_len; /* 0: ctx not keyed yet */
	uint8_t key[WIRE_KEY_MAX];
};

static pthread_once_t mac_once = PTHREAD_ONCE_INIT;
static pthread_key_t mac_key;
static EVP_MAC *mac_hmac; /* fetched once; lives until exit */
static int mac_init_err;

static void mac_tls_free(void *arg)
{
	struct mac_tls *t = arg;

	EVP_MAC_CTX_free(t->ctx);
	explicit_bzero(t, sizeof(*t));
	free(t);
}

static void mac_init(void)
{
	if (pthread_key_create(&mac_key, mac_tls_free)) {
		mac_init_err = -EAGAIN;
		return;
	}
	mac_hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (!mac_hmac)
		mac_init_err = -EIO;
}

static int mac_tls_get(struct mac_tls **out)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
	    OSSL_PARAM_END,
	};
	struct mac_tls *t;

	pthread_once(&mac_once, mac_init);
	if (mac_init_err)
		return mac_init_err;
	t = pthread_getspecific(mac_key);
	if (t) {
		*out = t;
		return 0;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ctx = EVP_MAC_CTX_new(mac_hmac);
	if (!t->ctx)
		goto err_free;
	if (!EVP_MAC_CTX_set_params(t->ctx, params))
		goto err_free_ctx;
	if (pthread_setspecific(mac_key, t))
		goto err_free_ctx;
	*out = t;
	return 0;

err_free_ctx:
	EVP_MAC_CTX_free(t->ctx);
err_free:
	free(t);
	return -ENOMEM;
}

/* HMAC-SHA256 of @buf (at least a header) as if its tag were zero. */
static int mac_compute(const uint8_t *buf, size_t len, const struct wire_key *k,
		       uint8_t out[32])
{
	static const uint8_t zero_tag[WIRE_TAG_LEN];
	struct mac_tls *t;
	size_t out_len;
	bool same;
	int ret;

	if (k->len == 0 || k->len > WIRE_KEY_MAX)
		return -EINVAL;
	ret = mac_tls_get(&t);
	if (ret)
		return ret;
	same = t->key_len == k->len && !memcmp(t->key, k->bytes, k->len);
	/* a NULL key re-uses the one the context was last keyed with */
	if (!EVP_MAC_init(t->ctx, same ? NULL : k->bytes, same ? 0 : k->len,
			  NULL))
		goto err_forget;
	if (!same) {
		memcpy(t->key, k->bytes, k->len);
		t->key_len = k->len;
	}
	if (!EVP_MAC_update(t->ctx, buf, WIRE_TAG_OFF) ||
	    !EVP_MAC_update(t->ctx, zero_tag, WIRE_TAG_LEN) ||
	    !EVP_MAC_update(t->ctx, buf + WIRE_HDR_LEN, len - WIRE_HDR_LEN) ||
	    !EVP_MAC_final(t->ctx, out, &out_len, 32) || out_len != 32)
		goto err_forget;
	return 0;

err_forget:
	t->key_len = 0;
	return -EIO;
}

int wire_seal(void *buf, size_t len, const struct wire_key *k)
{
	uint8_t *p = buf, mac[32];
	int ret;

	if (len < WIRE_HDR_LEN)
		return -EINVAL;
	if (k->none) {
		memset(p + WIRE_TAG_OFF, 0, WIRE_TAG_LEN);
		return 0;
	}
	ret = mac_compute(p, len, k, mac);
	if (ret)
		return ret;
	memcpy(p + WIRE_TAG_OFF, mac, WIRE_TAG_LEN);
	explicit_bzero(mac, sizeof(mac));
	return 0;
}

int wire_verify(const void *buf, size_t len, const struct wire_key *k)
{
	const uint8_t *p = buf;
	uint8_t mac[32];
	int ret;

	if (len < WIRE_HDR_LEN)
		return -EBADMSG;
	if (k->none)
		return 0;
	if (mac_compute(p, len, k, mac))
		return -EBADMSG;
	ret = CRYPTO_memcmp(mac, p + WIRE_TAG_OFF, WIRE_TAG_LEN) ? -EBADMSG : 0;
	explicit_bzero(mac, sizeof(mac));
	return ret;
}
