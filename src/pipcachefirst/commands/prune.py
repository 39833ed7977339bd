"""``pipcachefirst prune``: remove entries not served recently, least recently served first.

With no option it does at once what pip commands do in the background:
bring the cache under ``PIPCACHEFIRST_MAX_SIZE`` (see ``cache.limit``).
"""

from __future__ import annotations

import argparse
import sys
import time

from pipcachefirst.base import settings
from pipcachefirst.base.free_space import human
from pipcachefirst.cache import tidying
from pipcachefirst.cache.store import Store
from pipcachefirst.commands import common

HELP = ('Remove entries not served recently, least recently served first; '
        'with no option, shrink the cache to PIPCACHEFIRST_MAX_SIZE.')


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--older-than", type=float, metavar="DAYS", help="remove entries not served for DAYS days")
    parser.add_argument("--max-size", type=size, metavar="SIZE",
                        help="then shrink to SIZE (e.g. 500M, 2G): installed trees least recently used first, "
                             "then files")


def size(text: str) -> int:
    """``--max-size``'s argument, read as ``PIPCACHEFIRST_MAX_SIZE`` is."""
    parsed = settings.parse_size(text)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 500M or 2G)")
    return parsed


def run(args: argparse.Namespace) -> int:
    if args.older_than is None and args.max_size is None:
        args.max_size, problem = settings.max_size()
        if problem:
            print(problem, file=sys.stderr)
        if not args.max_size:
            raise common.UsageError(f"{settings.MAX_SIZE_VARIABLE}=0 sets no limit: say what to prune "
                                    "(--older-than DAYS and/or --max-size SIZE)")
    store = common.store()
    now = time.time()
    items = tidying.removables(store)
    outcome = tidying.Outcome([], [])
    if args.older_than is not None:
        cutoff = now - args.older_than * 86400
        old = [item for item in items if item.last_used < cutoff]
        outcome = _add(outcome, tidying.remove(old, now, common.GRACE_SECONDS))
    if args.max_size is not None:
        remaining = [item for item in items if item not in outcome.removed + outcome.failed]
        over = tidying.over_limit(remaining, args.max_size, now, common.GRACE_SECONDS)
        outcome = _add(outcome, tidying.remove(over, now, common.GRACE_SECONDS))
    return report_removed(args, store, outcome)


def _add(one: tidying.Outcome, other: tidying.Outcome) -> tidying.Outcome:
    return tidying.Outcome(one.removed + other.removed, one.failed + other.failed)


def report_removed(args: argparse.Namespace, store: Store, outcome: tidying.Outcome) -> int:
    """The line of what was removed and what remains; exit status 1 when something could not be removed."""
    removed = outcome.removed
    files = [item for item in removed if not item.is_tree]
    removed_trees = [item for item in removed if item.is_tree]
    freed = sum(item.size for item in removed)
    entries, size = store.usage()
    trees = common.shelf(store).usage()
    tree_count, tree_bytes = trees.trees, trees.size
    data = {"removed": len(files), "removed_trees": len(removed_trees), "freed_bytes": freed,
            "not_removed": len(outcome.failed), "entries": entries, "bytes": size,
            "trees": tree_count, "tree_bytes": tree_bytes}
    common.emit(args, data, [f"removed {len(files)} entries and {len(removed_trees)} installed trees ({human(freed)}); "
                       f"{entries} entries ({human(size)}) and {tree_count} trees ({human(tree_bytes)}) remain"])
    if outcome.failed:
        print(f"pipcachefirst {args.command}: {tidying.not_removed(outcome.failed)}", file=sys.stderr)
        return 1
    return 0
