"""Delete what a benchmark is done with only while nothing is being timed.

On an ext4 file system without a journal (this machine's), Linux does not
hand out an inode freed in the last few minutes, and it looks at every such
inode in the block group each time it makes a file (``recently_deleted`` in
``perf``: kernel time, not disk).  Measured here, copying a 2,283-file venv
into the bench's work folder: 0.3 s normally; 1.9 s right after deleting a
tree like it there, still 1.9 s 65 s later, 0.34 s after 320 s.

So a timed way that makes many files (pip compiling, pipcachefirst copying
trees, uv writing byte code) paid for what the ways before it had deleted,
and a way that hard-links (uv) barely did: in the re-create report,
``pipcachefirst venv``, which always ran right after ``venv + pip``,
measured 3.5 s where it takes 2.0-2.2 s on its own.  A user's own
``rm -rf .venv`` costs the same on such a file system; journaled ext4, xfs,
btrfs and APFS do not do this.

So what a run is done with is moved into ``<work>/.trash`` (a rename), and
the trash is emptied when the benchmark ends; or when the disk runs short,
and then nothing is timed until those minutes have passed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Iterator, Optional

RECENT_SECONDS = 310  # the kernel's window is 300 s for an inode whose table block was dirty
MIN_FREE_BYTES = 8 << 30
EMPTIED_MARKER = ".trash-emptied-at"  # in the work folder: when a script last deleted its trash there

_folder: Optional[Path] = None


@contextlib.contextmanager
def in_use(work: Path) -> Iterator[None]:
    """Set things aside into ``<work>/.trash`` while the block runs, and delete them when it ends.

    Nothing is timed until deleting no longer slows anything: not after what
    an interrupted run left is deleted here, nor right after another script
    emptied its trash in ``work`` (``pipcachefirst venv`` measured 1.35 s
    just after the trees report emptied 20 GB of trash, 0.89 s five minutes
    later).
    """
    global _folder
    _folder = work / ".trash"
    if empty():
        settle("what an interrupted run left was deleted")
    else:
        emptied = _emptied_at(work)
        if emptied is not None and time.time() - emptied < RECENT_SECONDS:
            settle("an earlier run emptied its trash here", RECENT_SECONDS - (time.time() - emptied))
    try:
        yield
    finally:
        empty()


def _emptied_at(work: Path) -> Optional[float]:
    try:
        return float((work / EMPTIED_MARKER).read_text())
    except (OSError, ValueError):
        return None


def set_aside(path: Path) -> None:
    """Move ``path`` into the trash (delete it, when no trash is in use); nothing there is fine."""
    if not os.path.lexists(path):
        return
    if _folder is None:
        shutil.rmtree(path, ignore_errors=True)
        return
    _folder.mkdir(parents=True, exist_ok=True)
    path.rename(_folder / f"{time.time_ns()}-{path.name}")


def make_room() -> None:
    """Empty the trash when the disk runs short, then wait until deleting no longer slows anything."""
    if _folder is not None and shutil.disk_usage(_folder.parent).free < MIN_FREE_BYTES and empty():
        settle("the disk ran short and the trash was emptied")


def empty() -> bool:
    """Delete the trash; whether there was anything in it."""
    if _folder is None or not _folder.exists():
        return False
    shutil.rmtree(_folder)
    (_folder.parent / EMPTIED_MARKER).write_text(f"{time.time()}\n")
    return True


def settle(why: str, seconds: float = RECENT_SECONDS) -> None:
    os.sync()
    print(f"bench: {why}; waiting {seconds:.0f} s before timing anything (see bench/trash.py)", flush=True)
    time.sleep(seconds)
