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

#endif /* CANOPY_CHECK_I_H */
