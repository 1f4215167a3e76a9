// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_uring.c - the io_uring engine.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

static char path[] = "/tmp/canopy-test-uring-XXXXXX";
static int fd = -1;
static struct uring *u;
static char *data;
#define DATA_LEN (3 * 1024 * 1024 + 123)

static void setup(void)
{
	size_t i;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	data = malloc(DATA_LEN);
	for (i = 0; i < DATA_LEN; i++)
		data[i] = (char)(i * 7 + i / 4096);
	cr_assert_eq(write(fd, data, DATA_LEN), DATA_LEN);
	cr_assert_eq(uring_new(4, &u), 0);
}

static void teardown(void)
{
	uring_free(u);
	close(fd);
	unlink(path);
	free(data);
}

TestSuite(uring, .init = setup, .fini = teardown);

Test(uring, reads_a_range_split_over_several_submissions)
{
	char *buf = malloc(DATA_LEN);

	cr_assert_eq(uring_read(u, fd, buf, DATA_LEN, 0), DATA_LEN);
	cr_assert_arr_eq(buf, data, DATA_LEN);
	free(buf);
}

Test(uring, stops_at_end_of_file)
{
	char buf[1000];

	cr_assert_eq(uring_read(u, fd, buf, sizeof(buf), DATA_LEN - 10), 10);
	cr_assert_arr_eq(buf, data + DATA_LEN - 10, 10);
	cr_assert_eq(uring_read(u, fd, buf, sizeof(buf), DATA_LEN + 10), 0);
}

Test(uring, reads_into_a_registered_buffer)
{
	char *buf = malloc(1 << 20);

	cr_assert_eq(uring_register_buffer(u, buf, 1 << 20), 0);
	cr_assert_eq(uring_read(u, fd, buf, 1 << 20, 4096), 1 << 20);
	cr_assert_arr_eq(buf, data + 4096, 1 << 20);
	free(buf);
}

Test(uring, reports_errors_as_negative_errno)
{
	char buf[16];

	cr_assert_eq(uring_read(u, -1, buf, sizeof(buf), 0), -EBADF);
}

Test(uring, writes_everything)
{
	char *buf = malloc(DATA_LEN);

	cr_assert_eq(uring_write(u, fd, data, 2 << 20, DATA_LEN), 2 << 20);
	cr_assert_eq(uring_read(u, fd, buf, 2 << 20, DATA_LEN), 2 << 20);
	cr_assert_arr_eq(buf, data, 2 << 20);
	free(buf);
}

Test(uring, stats_more_names_than_the_ring_holds)
{
	const char *names[9] = { path, "/", "/nonexistent-canopy", path, "/",
				 path, "/", path, "/tmp" };
	struct statx out[9];
	int res[9], i;

	cr_assert_eq(uring_statx_many(u, AT_FDCWD, names, 9,
				      AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
				      out, res), 0);
	for (i = 0; i < 9; i++) {
		if (i == 2) {
			cr_assert_eq(res[i], -ENOENT);
			continue;
		}
		cr_assert_eq(res[i], 0, "name %d", i);
	}
	cr_assert_eq(out[0].stx_size, DATA_LEN);
	cr_assert(S_ISDIR(out[1].stx_mode));
}

/* ---- command queues ---- */

Test(uring_cmdq, a_pending_eventfd_read_completes_when_written)
{
	struct uring_cmdq *q;
	struct uring_done d[4];
	uint64_t val = 0, one = 3;
	int efd = eventfd(0, EFD_CLOEXEC), n;

	cr_assert_geq(efd, 0);
	cr_assert_eq(uring_cmdq_new(8, &q), 0);
	cr_assert_eq(uring_cmdq_read(q, efd, &val, sizeof(val), 42), 0);
	cr_assert_eq(uring_cmdq_submit(q), 0);
	/* nothing written yet: nothing completes */
	cr_assert_eq(uring_cmdq_poll(q, d, 4), 0);
	cr_assert_eq(write(efd, &one, sizeof(one)), sizeof(one));
	n = uring_cmdq_wait(q, d, 4);
	cr_assert_eq(n, 1);
	cr_assert_eq(d[0].tag, 42);
	cr_assert_eq(d[0].res, (int)sizeof(val));
	cr_assert_eq(val, 3);
	uring_cmdq_free(q);
	close(efd);
}

Test(uring_cmdq, a_command_the_file_does_not_take_fails_with_its_tag)
{
	struct uring_cmdq *q;
	struct uring_done d[4];
	char cmd[16] = { 0 };
	int efd = eventfd(0, EFD_CLOEXEC), n;

	cr_assert_geq(efd, 0);
	cr_assert_eq(uring_cmdq_new(8, &q), 0);
	/* an eventfd has no uring_cmd handler */
	cr_assert_eq(uring_cmdq_cmd(q, efd, 1, cmd, sizeof(cmd), NULL, 0, 7),
		     0);
	n = uring_cmdq_wait(q, d, 4);
	cr_assert_eq(n, 1);
	cr_assert_eq(d[0].tag, 7);
	cr_assert_lt(d[0].res, 0);
	/* more than the command area holds is refused before submission */
	cr_assert_eq(uring_cmdq_cmd(q, efd, 1, cmd, URING_CMD_MAX + 1, NULL, 0,
				    8), -EINVAL);
	uring_cmdq_free(q);
	close(efd);
}
