/* SPDX-License-Identifier: MIT */
/*
 * daemon/check_i.h - `canopyd --check`: what a finished configuration means
 * for this node, without mounting anything.
 */
#ifndef CANOPY_CHECK_I_H
#define CANOPY_CHECK_I_H

#include <stdio.h>

#include "config.h"

/*
 * Print, for the node c->node_index of a configuration that passed
 * conf_finish(): the topology's shape, the roots, this node's parent and
 * children in each tree, and the share of objects it owns (see check.c for
 * how that is computed). Returns 0, or -ENOMEM / -EINVAL from building the
 * trees.
 */
int check_report(const struct conf *c, FILE *f);

/*
 * The names of this node's parents, one per tree it is not the root of,
 * without repeats, as "n1, n4" into @buf (truncated to @len). Returns how
 * many, 0 on a single node or a node that roots every tree, or -errno.
 */
int check_parent_names(const struct conf *c, char *buf, size_t len);

#endif /* CANOPY_CHECK_I_H */
