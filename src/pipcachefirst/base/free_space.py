"""Room on the cache's disk: storing stops while the disk has less than a margin free.

The cache is a courtesy; the disk it lives on is the user's.  pip and uv
write their caches until the disk is full; ccache and sccache cap the size of
the cache itself (5 GiB, 10 GiB by default), whatever the disk has left.
Neither keeps a cache from taking the last megabytes of a nearly full disk,
the ones pip's own install into the environment, a build or the system needs
next.  systemd-journald does: it adds to its files only while its file system
keeps ``KeepFree`` free (15 % of its size, at most 4 GiB), and never deletes
anything to get there.  So does this, with a smaller margin: a file is stored,
or a tree built, only if the disk still has the smaller of 1 GiB and a tenth
of the file system free afterwards.  That is 1 GiB on any disk of 10 GiB or
more, and 1.6 MiB on a 16 MiB tmpfs.  A share alone would be wrong both ways:
5 % of a 4 TB disk is 200 GB, which would stop storing, with a line on every
run, on disks with room to spare; and 1 GiB alone would leave a small file
system (a 512 MiB tmpfs in CI) a cache that never stores.

Serving is not affected; only storing stops, for the rest of the command,
with one line (see ``Session.stop_storing``).

Looking is cheap: one ``statvfs`` (about 2 microseconds here) before the
first write of a command, and again only when this process has written a
quarter of the room there was above the margin then (pip writes about as much
again into the environment and its own cache meanwhile), or when a write
would not fit in what is left of that quarter.  With room to spare, that is
once per command.
"""

from __future__ import annotations

import errno
import os
import threading
from typing import TYPE_CHECKING, Optional, Union

if TYPE_CHECKING:  # imported with pip's start-up: zipfile only when pip installs
    from zipfile import ZipFile

MARGIN_AT_MOST = 1 << 30  # 1 GiB
MARGIN_SHARE = 10  # or a tenth of the file system, when that is less
_BLOCK = 4096  # what a small file takes on most file systems: estimates round up to it


class LowOnSpace(OSError):
    """Storing would leave less than the margin free; ``line`` says so to the user."""

    def __init__(self, line: str) -> None:
        super().__init__(errno.ENOSPC, line)
        self.line = line


def margin(file_system_size: int) -> int:
    """How much of a file system of this size storing leaves free."""
    return min(MARGIN_AT_MOST, file_system_size // MARGIN_SHARE)


class FreeSpace:
    """The room left for storing into ``folder`` in this process."""

    def __init__(self, folder: Union[str, "os.PathLike[str]"]) -> None:
        self.folder = folder
        self._budget = 0  # bytes that may be written before looking again
        self._refused: Optional[str] = None  # once refused, every later claim in this process is too
        self._lock = threading.Lock()

    def claim(self, needed: int, what: str) -> None:
        """Count ``needed`` bytes about to be written for ``what``; LowOnSpace if they would cross the margin.

        Thread-safe: the team cache fetches in threads.
        """
        with self._lock:
            self._claim(needed, what)

    def _claim(self, needed: int, what: str) -> None:
        if self._refused is not None:
            raise LowOnSpace(self._refused)
        if needed <= self._budget:
            self._budget -= needed
            return
        try:
            disk = os.statvfs(self.folder)
        except OSError:
            return  # a file system that cannot say; its write errors will
        if disk.f_blocks == 0:
            return  # one that does not count its blocks (some network and FUSE file systems)
        free = disk.f_bavail * disk.f_frsize
        keep = margin(disk.f_blocks * disk.f_frsize)
        room = free - keep
        if needed > room:
            if free < keep:
                self._refused = (f"only {human(free)} free on the disk of {self.folder} "
                                 f"(pipcachefirst leaves {human(keep)} free); storing nothing more in this run")
            else:
                self._refused = (f"storing {what} ({human(needed)}) would leave less than {human(keep)} free "
                                 f"on the disk of {self.folder}; storing nothing more in this run")
            raise LowOnSpace(self._refused)
        self._budget = max(room // 4, needed) - needed


def tree_size(wheel: "ZipFile") -> int:
    """What unpacking and compiling a wheel will take: each member rounded up to a block, a ``.pyc`` per ``.py``."""
    total = _BLOCK  # the tree's own record
    for info in wheel.infolist():
        blocks = -(-info.file_size // _BLOCK) * _BLOCK or _BLOCK
        total += 2 * blocks if info.filename.endswith(".py") else blocks
    return total


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
