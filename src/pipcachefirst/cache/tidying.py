"""What ``prune``, ``clear`` and pip's own ``pip cache purge``/``remove`` take out of the cache.

One place for both command lines, so they remove the same way (a record
before its file, a tree renamed out of sight before it is deleted) and both
know what they could not remove: a cache that root wrote into, or a file the
system will not let go, must not look emptied.  Nothing here knows pip;
``matches`` follows pip's rule for the patterns of ``pip cache remove``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from functools import partial
from pathlib import Path
from typing import Callable, List, NamedTuple, Optional, Sequence

from pipcachefirst.cache.store import QUARANTINE, RETIRED_BUCKETS, TREES, Store
from pipcachefirst.trees.tree import Trees, disk_use, interpreter_key

# Nothing used in the last ten minutes is removed, by any command: a pip may be installing it now.
GRACE_SECONDS = 600

_ARCHIVE_SUFFIX = re.compile(r"(\.whl|\.tar\.gz|\.tar\.bz2|\.tar\.xz|\.tgz|\.tbz|\.tar|\.zip)$")


class Removable(NamedTuple):
    """A cached file or an installed tree, as prune, clear and pip's cache commands see it."""

    last_used: float
    size: int
    name: str  # the cached file's name, or the name of the wheel a tree was built from ("" when unreadable)
    path: Path  # what is named when it cannot be removed: the record, or the tree's folder
    remove: Callable[[], bool]  # True when it is gone
    is_tree: bool
    used_now: Callable[[], float]  # when it was last used, asked again just before it is removed


class Outcome(NamedTuple):
    removed: List[Removable]
    failed: List[Removable]


def shelf(store: Store) -> Trees:
    """Every interpreter's installed trees in ``store`` (walks and usage see all interpreter keys)."""
    return Trees(store.root / TREES.name, interpreter_key() or "-", report=store._report)


def removables(store: Store) -> List[Removable]:
    """Everything in the cache that may be removed, least recently used first."""
    items = [Removable(store.last_served(e), e.record.size, e.record.filename, store._record_path(e),
                       partial(store.remove, e), False, partial(store.last_served, e)) for e in store.walk()]
    trees_shelf = shelf(store)
    items += [Removable(trees_shelf.last_used(folder), disk_use(folder), tree.wheel if tree else "", folder,
                        partial(_remove_tree, trees_shelf, folder), True, partial(trees_shelf.last_used, folder))
              for folder, tree in trees_shelf.walk()]
    return sorted(items, key=lambda item: item.last_used)


def matches(pattern: str, name: str) -> bool:
    """Whether ``pip cache remove PATTERN`` would take a file of this name, had pip's wheel cache held it.

    pip's rule (``CacheCommand._find_wheels``, 22.3 to 26.3): a pattern with a
    hyphen names a version too and matches ``PATTERN*.whl``, one without names
    a project and matches ``PATTERN-*.whl``.  Here the same, on the name
    without its archive suffix, so a project's sdists match as its wheels do.
    """
    stem = _ARCHIVE_SUFFIX.sub("", name)
    return bool(name) and stem != name and fnmatch.fnmatch(stem, pattern + ("*" if "-" in pattern else "-*"))


def over_limit(items: Sequence[Removable], limit: int, now: float, grace: float = GRACE_SECONDS) -> List[Removable]:
    """What goes to bring ``items`` down to ``limit`` bytes: least recently used trees first, then files.

    A tree is only a faster way to install a wheel the files bucket still
    holds, and is several times its size: trees go before any file.  Nothing
    used within ``grace`` seconds is chosen; the rest may then stay over.
    """
    total = sum(item.size for item in items)
    chosen = []
    for item in sorted(items, key=lambda item: (not item.is_tree, item.last_used)):
        if total <= limit:
            break
        if now - item.last_used >= grace:
            chosen.append(item)
            total -= item.size
    return chosen


def remove(items: Sequence[Removable], now: float, grace: float) -> Outcome:
    """Remove items, except those used within ``grace`` seconds (a pip may be installing them now).

    When an item was used is asked again just before it goes: a pip that took
    it since the cache was listed keeps it (a tree is renamed out of sight in
    one step, so a pip that found it a moment earlier still places every file
    or falls back to pip's own unzip for the rest).
    """
    outcome = Outcome([], [])
    for item in items:
        if now - item.last_used < grace or (grace and now - item.used_now() < grace):
            continue
        (outcome.removed if item.remove() else outcome.failed).append(item)
    return outcome


def not_removed(failed: Sequence[Removable]) -> str:
    """One line on what could not be removed, naming the first of it."""
    files = sum(1 for item in failed if not item.is_tree)
    return (f"could not remove {files} entries and {len(failed) - files} installed trees, {failed[0].path} first "
            "(another user's, or read-only)")


def remove_leftovers(store: Store) -> Optional[Path]:
    """Delete what checks moved aside, and the buckets of earlier versions; the first folder still there, if any."""
    left = None
    for name in (QUARANTINE, *(bucket.name for bucket in RETIRED_BUCKETS)):
        folder = store.root / name
        shutil.rmtree(folder, ignore_errors=True)
        if left is None and os.path.lexists(folder):
            left = folder
    return left


def _remove_tree(trees_shelf: Trees, folder: Path) -> bool:
    trees_shelf.remove(folder)
    return not os.path.lexists(folder)
