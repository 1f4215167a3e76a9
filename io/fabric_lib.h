/* SPDX-License-Identifier: MIT */
/*
 * io/fabric_lib.h - libfabric, loaded at the first fab_open() rather than
 * linked (io/fabric_lib.c). Only io/fabric*.c include this.
 */
#ifndef CANOPY_FABRIC_LIB_H
#define CANOPY_FABRIC_LIB_H

#include <stddef.h>
#include <stdint.h>

#include <rdma/fabric.h>

/* The entry points io/fabric*.c call; the rest of libfabric's API is inline
 * calls through the operation tables of the objects these return. */
struct fab_lib {
	int (*getinfo)(uint32_t version, const char *node,
		       const char *service, uint64_t flags,
		       const struct fi_info *hints, struct fi_info **info);
	void (*freeinfo)(struct fi_info *info);
	struct fi_info *(*dupinfo)(const struct fi_info *info);
	int (*fabric)(struct fi_fabric_attr *attr, struct fid_fabric **fabric,
		      void *context);
	const char *(*strerror)(int errnum);
};

extern struct fab_lib fab_lib;

/* Load libfabric once (any thread, any number of times): 0, or -ENOENT with
 * what the dynamic loader said in @err. */
int fab_lib_load(char *err, size_t errlen);

#endif
