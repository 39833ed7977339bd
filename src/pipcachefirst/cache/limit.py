"""The cache's size limit (``PIPCACHEFIRST_MAX_SIZE``), kept after pip commands without costing them.

Knowing the cache's size means listing every file of every tree (tens of
thousands for one data-science environment): not something to do on pip's
clock.  So after a command that could store, pip only looks at one file's
mtime, the note ``limit-v1`` in the cache root.  When it is older than
:data:`CHECK_EVERY`, pip touches it, which claims the check for
every other pip of the next ten minutes, and starts one detached, ``nice``
helper (as ``trees.later`` does) that walks the cache and removes what is
over the limit: least recently used trees first, then files, nothing used in
the last ten minutes (``tidying.over_limit``).  The helper holds a lock on the
note for as long as it works, so two helpers never walk at once.

A tree is taken away by one rename (``Trees.remove``): a pip that is about to
place it finds it gone and lets pip unzip that wheel, as plain pip would.

The cost on pip's clock: one ``stat`` per command, and once in ten minutes
one ``open``, ``flock`` and process start.  The limit may be passed for up to
ten minutes, or longer where everything was used within the last ten.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from pipcachefirst.base.helpers import helper_command

NOTE = "limit-v1"  # empty; its mtime is when the size was last checked, its lock held while it is
CHECK_EVERY = 600  # seconds: ten minutes, as long as what was used is spared (``tidying.GRACE_SECONDS``)
NICENESS = 10  # what the user runs next goes first
HELPER_NEEDS = ("pip",)  # the store reads names with pip's own packaging (base.packaging): this pip's


def due(root: Path, now: float) -> bool:
    """Whether the cache's size was last checked more than :data:`CHECK_EVERY` seconds ago.

    A cache without the note gets one, and is first checked ten minutes
    later: most are new, and small (every test's is), and a helper for them
    would only cost a process.
    """
    try:
        return now - os.stat(root / NOTE).st_mtime >= CHECK_EVERY
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            os.close(os.open(root / NOTE, os.O_WRONLY | os.O_CREAT, 0o666))
        return False
    except OSError:
        return False


def start(root: Path, limit: int) -> bool:
    """Claim the check and start the helper that brings ``root`` under ``limit`` bytes; False if one is at it.

    The helper starts with ``-I -S``, so nothing of the environment's own
    start-up runs in it; it imports pipcachefirst and pip from where this pip
    process did (``base.helpers.helper_command``).
    """
    import fcntl  # noqa: PLC0415 -- POSIX only, as trees are

    fd = os.open(root / NOTE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by the helper (it inherits it) until it is done
        except OSError:
            return False  # a helper is at it now
        os.utime(fd)
        helper = subprocess.Popen(
            helper_command(__name__, helper_main.__name__, str(root), str(limit), str(fd), packages=HELPER_NEEDS),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(fd,),
            start_new_session=True,  # not pip's Ctrl-C, and nothing of pip's output: a caller reading it never waits
        )
        with warnings.catch_warnings():  # "subprocess is still running": it is meant to outlive pip
            warnings.simplefilter("ignore", ResourceWarning)
            del helper
        return True
    finally:
        os.close(fd)


def keep_under(root: Path, limit: int, now: float) -> None:
    """Remove what is over ``limit`` bytes in the cache at ``root``: least recently used trees first, then files.

    Imported here, in the helper: pip itself loads only what ``due`` and ``start`` need.
    """
    from pipcachefirst.cache import tidying  # noqa: PLC0415
    from pipcachefirst.cache.store import Store  # noqa: PLC0415

    tidying.remove(tidying.over_limit(tidying.removables(Store(root)), limit, now), now, tidying.GRACE_SECONDS)


def running(root: Path) -> bool:
    """Whether a helper is checking the size of the cache at ``root`` now (holds the note's lock)."""
    from pipcachefirst.base.locks import held_elsewhere  # noqa: PLC0415 -- pip loads only what due/start need

    return held_elsewhere(root / NOTE, if_missing=False)


def helper_main() -> None:
    """The helper: ``argv`` is the cache root, the limit in bytes and the descriptor holding the note's lock."""
    root, limit = Path(sys.argv[1]), int(sys.argv[2])
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    try:
        keep_under(root, limit, time.time())
    finally:
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.close(int(sys.argv[3]))
