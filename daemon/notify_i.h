/* SPDX-License-Identifier: MIT */
/*
 * daemon/notify_i.h - telling systemd how start-up goes (sd_notify).
 *
 * Every function is a no-op without $NOTIFY_SOCKET, so canopyd behaves the
 * same outside systemd. The watchdog is on when $WATCHDOG_USEC is set (and
 * $WATCHDOG_PID, if set, is this process: a forked canopyd does not pet its
 * parent's watchdog); notify_watchdog() is then called from the main loop,
 * which therefore wakes up at least every notify_tick_ms().
 *
 * Called from the main thread only.
 */
#ifndef CANOPY_NOTIFY_I_H
#define CANOPY_NOTIFY_I_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Read the environment once, after daemonizing. */
void notify_init(void);
/* Whether anyone listens ($NOTIFY_SOCKET is set). */
bool notify_enabled(void);
/* The watchdog interval in ns, 0 when there is no watchdog. */
uint64_t notify_watchdog_ns(void);
/* How long the main loop may sleep: a quarter of the interval, <= 1 s. */
int notify_tick_ms(void);

/* STATUS=...: one line shown by systemctl status. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * READY=1 with a STATUS; @mainpid > 0 adds MAINPID= (a canopyd that forked
 * away from the process systemd started).
 */
void notify_ready(pid_t mainpid, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * WATCHDOG=1, if READY=1 was sent and half the interval has passed since
 * the last one (or since READY=1).
 */
void notify_watchdog(void);
/* STOPPING=1 with a STATUS. */
void notify_stopping(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif /* CANOPY_NOTIFY_I_H */
