"""Files that are either wholly written or not there at all.

Every file pipcachefirst writes -- cache entries and records, virtualenv's
config, a ``sitecustomize``, the seed files of a new environment -- is written
to a uniquely named temporary file in the target folder and moved into place
with ``os.replace``, which is atomic on POSIX and on NFS.  A reader never sees
half a file, two writers never share a temporary name, and a writer killed
midway leaves only a ``.tmp-`` file that :func:`remove_stale_temporaries`
clears later.

Standard library only: the seed module uses it inside ``python -m venv``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
from typing import BinaryIO, Tuple, Union

TEMPORARY_PREFIX = ".tmp-"
STALE_SECONDS = 3600
_CHUNK = 1024 * 1024

PathLike = Union[str, "os.PathLike[str]"]


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~current_umask()


def write_atomically(path: PathLike, data: Union[str, bytes], durable: bool = True) -> None:
    """Put ``data`` at ``path`` in one step; text is written as UTF-8.

    ``durable`` flushes the bytes to disk before the rename, so a crash of
    the machine cannot leave an empty file under the final name.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        unlink_quietly(temporary)
        raise


def copy_to_temporary(source: BinaryIO, folder: PathLike) -> Tuple[str, int, str]:
    """Copy ``source`` into a new temporary file in ``folder``: ``(sha256, size, temporary path)``.

    The caller moves the temporary into place (or unlinks it).
    """
    fd, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=folder)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, FILE_MODE)
    except BaseException:
        unlink_quietly(temporary)
        raise
    return digest.hexdigest(), size, temporary


def sha256_of(source: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def can_create_in(folder: PathLike) -> bool:
    """Whether a file can really be created there (a read-only mount says no even to root)."""
    try:
        fd, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=folder)
    except OSError:
        return False
    os.close(fd)
    unlink_quietly(temporary)
    return True


def remove_stale_temporaries(folder: PathLike) -> None:
    """Temporary files (and folders: tree builds) older than an hour were left by a killed writer."""
    cutoff = time.time() - STALE_SECONDS
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(TEMPORARY_PREFIX):
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
                if info.st_mtime < cutoff:
                    if stat.S_ISDIR(info.st_mode):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
            except OSError:
                pass


def unlink_quietly(path: PathLike) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
