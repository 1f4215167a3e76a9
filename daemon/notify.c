// SPDX-License-Identifier: MIT
/*
 * daemon/notify.c - sd_notify for Type=notify units: STATUS while starting,
 * READY=1 once serving, WATCHDOG=1 from the main loop, STOPPING=1.
 *
 * libsystemd stays inside this file. Messages that fail to send are logged
 * once at debug level and otherwise ignored: systemd's view of the daemon is
 * not a reason to stop serving.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "canopyd_i.h"
#include "notify_i.h"

#define NOTIFY_TICK_MAX_MS 1000

static bool notify_on;
static uint64_t watchdog_ns;
static uint64_t last_pet_ns;

void notify_init(void)
{
	uint64_t usec = 0;
	const char *s = getenv("NOTIFY_SOCKET");

	notify_on = s && *s;
	watchdog_ns = 0;
	if (notify_on && sd_watchdog_enabled(0, &usec) > 0 && usec)
		watchdog_ns = usec * 1000;
	if (watchdog_ns)
		log_info("systemd watchdog every %.3g s: petting every %.3g s",
			 watchdog_ns / 1e9, watchdog_ns / 2e9);
}

bool notify_enabled(void)
{
	return notify_on;
}

uint64_t notify_watchdog_ns(void)
{
	return watchdog_ns;
}

/*
 * A quarter of the interval: the main loop then pets within a quarter
 * interval after half of it has passed, whatever the timers' jitter.
 */
int notify_tick_ms(void)
{
	uint64_t quarter_ms = watchdog_ns / 4000000;

	if (!watchdog_ns || quarter_ms >= NOTIFY_TICK_MAX_MS)
		return NOTIFY_TICK_MAX_MS;
	return quarter_ms ? (int)quarter_ms : 1;
}

static void send_msg(const char *msg)
{
	int ret;

	if (!notify_on)
		return;
	ret = sd_notify(0, msg);
	if (ret < 0)
		log_debug("sd_notify: %s", strerror(-ret));
}

/* "PREFIX" then the formatted status text, one line. */
static void send_status(const char *prefix, const char *fmt, va_list ap)
{
	char status[400], msg[512];
	char *nl;

	vsnprintf(status, sizeof(status), fmt, ap);
	while ((nl = strchr(status, '\n')))
		*nl = ' ';
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix, status);
	send_msg(msg);
}

void notify_status(const char *fmt, ...)
{
	va_list ap;

	if (!notify_on)
		return;
	va_start(ap, fmt);
	send_status("", fmt, ap);
	va_end(ap);
}

void notify_ready(pid_t mainpid, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	if (!notify_on)
		return;
	if (mainpid > 0)
		snprintf(prefix, sizeof(prefix), "READY=1\nMAINPID=%ld\n",
			 (long)mainpid);
	else
		snprintf(prefix, sizeof(prefix), "READY=1\n");
	va_start(ap, fmt);
	send_status(prefix, fmt, ap);
	va_end(ap);
	last_pet_ns = now_ns();
}

void notify_watchdog(void)
{
	uint64_t now;

	/*
	 * Not before READY=1: systemd arms the watchdog on the first
	 * WATCHDOG=1, and start-up (waiting for parents) may block longer than
	 * the interval; TimeoutStartSec bounds it instead.
	 */
	if (!watchdog_ns || !last_pet_ns)
		return;
	now = now_ns();
	/* half the interval, less half a tick of slack for a late timer */
	if (now - last_pet_ns + notify_tick_ms() * 500000ULL < watchdog_ns / 2)
		return;
	last_pet_ns = now;
	send_msg("WATCHDOG=1");
}

void notify_stopping(const char *fmt, ...)
{
	va_list ap;

	if (!notify_on)
		return;
	va_start(ap, fmt);
	send_status("STOPPING=1\n", fmt, ap);
	va_end(ap);
}
