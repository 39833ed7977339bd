"""What pip left on disk, file by file, and how two installs differ: the test of "as plain pip does".

A story that says pipcachefirst installs what plain pip installs takes a
``snapshot`` of the same folder after each and asks for the ``differences``:
bytes, permission bits, and byte code compared as code (Python writes the
source's path into it) and checked for staleness against its source.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import stat
import types
from pathlib import Path
from typing import Dict, List, NamedTuple


class Installed(NamedTuple):
    """Every file under one folder: bytes (a symlink: its target), permission bits, and the ``.pyc`` that are stale."""

    root: Path
    files: Dict[str, bytes]
    modes: Dict[str, int]
    stale: List[str]  # pycs whose header does not match their source's size and mtime


def snapshot(root: Path) -> Installed:
    files: Dict[str, bytes] = {}
    modes: Dict[str, int] = {}
    stale: List[str] = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)
            info = os.lstat(path)
            modes[relative] = info.st_mode
            if stat.S_ISLNK(info.st_mode):
                files[relative] = f"-> {os.readlink(path)}".encode()
                continue
            files[relative] = Path(path).read_bytes()
            if name.endswith(".pyc") and not pyc_is_valid(path, files[relative]):
                stale.append(relative)
    return Installed(root, files, modes, stale)


def pyc_is_valid(path: str, data: bytes) -> bool:
    """Whether Python would use this timestamp ``.pyc`` for the source next to it (hash-based ones: yes)."""
    if data[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if int.from_bytes(data[4:8], "little") != 0:
        return True
    try:
        source = os.stat(importlib.util.source_from_cache(path))
    except (OSError, ValueError):
        return False
    return (int.from_bytes(data[8:12], "little"), int.from_bytes(data[12:16], "little")) == (
        int(source.st_mtime) & 0xFFFFFFFF,
        source.st_size & 0xFFFFFFFF,
    )


def normalised(code: types.CodeType) -> types.CodeType:
    """``code`` with every ``co_filename`` in it the same (Python sets it to where the source was found)."""
    consts = tuple(normalised(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename="<installed>", co_consts=consts)


def differences(plain: Installed, placed: Installed) -> List[str]:
    """How what pip wrote with trees differs from what plain pip wrote, path by path."""
    found = [f"only with plain pip: {p}" for p in sorted(set(plain.files) - set(placed.files))]
    found += [f"only with trees: {p}" for p in sorted(set(placed.files) - set(plain.files))]
    for path in sorted(set(plain.files) & set(placed.files)):
        if plain.modes[path] != placed.modes[path]:
            found.append(f"{path}: mode {oct(plain.modes[path])} with plain pip, {oct(placed.modes[path])} with trees")
        a, b = plain.files[path], placed.files[path]
        if a == b:
            continue
        if not path.endswith(".pyc"):
            found.append(f"{path}: other bytes")
        elif a[4:8] != b[4:8]:
            found.append(f"{path}: pyc flags {a[4:8]!r} with plain pip, {b[4:8]!r} with trees")
        elif normalised(marshal.loads(a[16:])) != normalised(marshal.loads(b[16:])):
            found.append(f"{path}: other code")
    found += [f"stale with plain pip: {p}" for p in plain.stale]
    found += [f"stale with trees: {p}" for p in placed.stale]
    return found
