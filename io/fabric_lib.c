// SPDX-License-Identifier: MIT
/*
 * io/fabric_lib.c - load libfabric when a daemon first opens the transport.
 *
 * Debian's libfabric1 links every provider's own libraries, the PSM ones
 * among them, and libpsm_infinipath's constructor sleeps: linked into
 * canopyd, that made every start 0.2 s slower, a single-node daemon's too,
 * which never opens the transport. So canopyd does not link libfabric; the
 * first fab_open() loads libfabric.so.1 and looks up the five functions
 * io/fabric*.c call, each at the symbol version a link against the 1.17
 * headers binds (the structures they take are those headers'). A node
 * without libfabric installed then runs a single-node cache and refuses a
 * topology with the loader's message.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "fabric_lib.h"

#define FAB_LIB_SONAME "libfabric.so.1"

struct fab_lib fab_lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_err[256]; /* empty once loaded */

static void *sym(void *h, const char *name, const char *version)
{
	void *p = dlvsym(h, name, version);

	if (!p && !load_err[0])
		snprintf(load_err, sizeof(load_err), "%s: no %s@%s",
			 FAB_LIB_SONAME, name, version);
	return p;
}

static void load(void)
{
	void *h = dlopen(FAB_LIB_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(load_err, sizeof(load_err), "%s", dlerror());
		return;
	}
	fab_lib.getinfo = sym(h, "fi_getinfo", "FABRIC_1.3");
	fab_lib.freeinfo = sym(h, "fi_freeinfo", "FABRIC_1.3");
	fab_lib.dupinfo = sym(h, "fi_dupinfo", "FABRIC_1.3");
	fab_lib.fabric = sym(h, "fi_fabric", "FABRIC_1.1");
	fab_lib.strerror = sym(h, "fi_strerror", "FABRIC_1.0");
	/* the handle stays open: providers keep threads and state */
}

int fab_lib_load(char *err, size_t errlen)
{
	pthread_once(&load_once, load);
	if (!load_err[0])
		return 0;
	snprintf(err, errlen, "libfabric: %s", load_err);
	return -ENOENT;
}
