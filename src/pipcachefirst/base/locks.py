"""Whether another process holds a file's lock: how a detached helper says it is still at work.

A helper (building trees later, keeping the cache under its size limit)
holds an ``flock`` on its file for as long as it runs and the kernel drops it
when the helper ends, however it ends.  Standard library only.
"""

from __future__ import annotations

import os
from typing import Union


def held_elsewhere(path: Union[str, "os.PathLike[str]"], if_missing: bool) -> bool:
    """Whether some process holds an exclusive lock on ``path``; ``if_missing`` when there is no such file."""
    import fcntl  # noqa: PLC0415 -- POSIX only, and only where a helper is asked after

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return if_missing
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
