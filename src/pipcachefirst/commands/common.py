"""What every ``pipcachefirst`` command shares: where the cache is, and how results are printed.

Exit status: 0 done, 1 failed, 2 usage error (:class:`UsageError`).  ``--json``
where a script reads the output.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Iterable

from pipcachefirst.base import settings
from pipcachefirst.base.free_space import human
from pipcachefirst.cache import tidying
from pipcachefirst.cache.store import Store
from pipcachefirst.pip import compat

# Commands that change the cache are safe while pip installs use it: nothing
# served in the last GRACE_SECONDS is removed.
GRACE_SECONDS = tidying.GRACE_SECONDS

__all__ = ["GRACE_SECONDS", "UsageError", "date", "emit", "human", "location", "shelf", "store"]


class UsageError(Exception):
    """Bad arguments: exit status 2."""


def location() -> settings.CacheLocation:
    """The cache pip would use here: a variable's, else the one under pip's configured cache folder."""
    chosen = settings.cache_location(None)
    if chosen.root is not None:
        return chosen  # a variable names it: no need to ask pip's configuration
    try:
        _, options, _ = compat.configured_options()
        pip_cache_dir = compat.cache_dir_option(options)
    except Exception:  # noqa: BLE001 - no usable pip here: the variables still count
        pip_cache_dir = None
    return settings.cache_location(pip_cache_dir)


def store() -> Store:
    """The local store, or a RuntimeError (exit status 1) that says why there is none."""
    where = location()
    if where.root is None:
        raise RuntimeError(f"no cache: {where.reason}")
    return Store(where.root, report=lambda line: print(f"pipcachefirst: {line}", file=sys.stderr))


shelf = tidying.shelf


def emit(args: argparse.Namespace, data: Any, text: Iterable[str]) -> None:
    """``data`` as JSON with ``--json``, else the lines of ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in text:
            print(line)


def date(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "-"
