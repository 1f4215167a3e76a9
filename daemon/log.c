// SPDX-License-Identifier: MIT
/*
 * daemon/log.c - one printf-checked logger.
 *
 * Lines go to stderr with a syslog priority prefix ("<4>") that journald
 * turns into the message priority; on a terminal the prefix is a word
 * instead. Nothing is ever written to the shared file system.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "canopyd_i.h"

static int log_level = LOG_LVL_INFO;
static const char *log_ident = "canopyd";
static bool log_tty;

void log_init(int level, const char *ident)
{
	log_level = level;
	if (ident)
		log_ident = ident;
	log_tty = isatty(STDERR_FILENO);
}

static const char *const level_names[] = {
	[LOG_LVL_ERR] = "error", [LOG_LVL_WARNING] = "warning",
	[LOG_LVL_NOTICE] = "notice", [LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static void log_v(int level, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (level > log_level)
		return;
	if (log_tty)
		n = snprintf(line, sizeof(line), "%s: %s: ", log_ident,
			     level_names[level]);
	else
		n = snprintf(line, sizeof(line), "<%d>%s: ", level, log_ident);
	if (n < 0)
		return;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = strlen(line);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* one write per line, so lines of different threads do not mix */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}

void log_ratelimited(atomic_uint_fast64_t *state, unsigned interval_s,
		     int level, const char *fmt, ...)
{
	uint64_t now = now_ns() / 1000000000ULL + 1;
	uint64_t last = atomic_load_explicit(state, memory_order_relaxed);
	va_list ap;

	if (last && now < last + interval_s)
		return;
	if (!atomic_compare_exchange_strong(state, &last, now))
		return;
	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}
