/* SPDX-License-Identifier: MIT */
/*
 * config/conf_i.h - what conf.c and params.c lend each other. Included only
 * by those two files.
 */
#ifndef CANOPY_CONF_I_H
#define CANOPY_CONF_I_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* ---- helpers of both files ----------------------------------------------- */

__attribute__((format(printf, 4, 5)))
static inline int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static inline void *field(struct conf *c, const struct param *p)
{
	return (char *)c + p->off;
}

/* Digits only: no sign, no blanks, no base prefix. */
static inline int parse_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *q;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (q = s; *q >= '0' && *q <= '9'; q++) {
		unsigned digit = *q - '0';

		if (v > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		v = v * 10 + digit;
	}
	*end = q;
	*out = v;
	return 0;
}

/* ---- params.c, for conf.c ------------------------------------------------ */

/* Check the value @p holds in @c as its setters would; for conf_finish(). */
int conf_check_param(struct conf *c, const struct param *p, char *err,
		     size_t errlen);

#endif /* CANOPY_CONF_I_H */
