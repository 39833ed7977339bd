"""Which Pythons this machine has, and which pip versions run on which Python.

A lock names the Python it was locked for; a missing Python or a pip that
cannot run on it is a skip with a reason, never a failure, so the harness
runs on any machine with at least one supported Python.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from functools import lru_cache
from typing import Optional, Sequence, Tuple

from tests.support.envs import isolated_environ

CI_PIPS = ("22.3.1", "26.3")
FULL_PIPS = ("22.3.1", "23.2.1", "24.3.1", "25.3", "26.3")
OLDEST_PIP = "22.3.1"

# (first pip version of a range, lowest Python, first Python it no longer runs on), newest range last.
# pip 26.1+ needs 3.10 (26.0.x was the last for 3.9); pip 22.3.1's vendored
# pkg_resources uses pkgutil.ImpImporter, gone in 3.12.
_PIP_PYTHONS: Tuple[Tuple[Tuple[int, ...], Tuple[int, int], Optional[Tuple[int, int]]], ...] = (
    ((22,), (3, 7), (3, 12)),
    ((23,), (3, 7), None),
    ((24,), (3, 8), None),
    ((25,), (3, 9), None),
    ((26, 1), (3, 10), None),
)


def _version_tuple(text: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def pip_runs_on(pip: str, python: str) -> Optional[str]:
    """None when ``pip`` runs on Python ``python`` (``3.X``), else why not."""
    low, high = (3, 7), None
    for first, lowest, beyond in _PIP_PYTHONS:
        if _version_tuple(pip) >= first:
            low, high = lowest, beyond
    version = _version_tuple(python)[:2]
    if version < low:
        return f"pip {pip} needs Python >= {low[0]}.{low[1]}"
    if high is not None and version >= high:
        return f"pip {pip} does not run on Python {high[0]}.{high[1]}+"
    return None


def newest_pip_for(python: str, candidates: Sequence[str] = FULL_PIPS) -> str:
    """The newest supported pip that runs on ``python``: what setup fetches with, besides the oldest."""
    usable = [pip for pip in candidates if pip_runs_on(pip, python) is None]
    return max(usable, key=_version_tuple) if usable else OLDEST_PIP


@lru_cache(maxsize=None)
def find_python(version: str) -> Optional[str]:
    """The real executable of Python ``3.X`` here, or None.

    ``python3.X`` on PATH first (a pyenv shim that is not activated fails its
    probe and is passed over), then ``$(pyenv root)/versions/3.X.*``.
    """
    candidates = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        proc = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        root = proc.stdout.strip() if proc.returncode == 0 else None
    root = root or os.path.expanduser("~/.pyenv")
    for folder in sorted(glob.glob(os.path.join(root, "versions", f"{version}.*")), key=_natural, reverse=True):
        candidates.append(os.path.join(folder, "bin", "python"))
    for candidate in candidates:
        found = _probe(candidate, version)
        if found:
            return found
    return None


def _natural(path: str) -> Tuple[int, ...]:
    return _version_tuple(os.path.basename(path))


def _probe(executable: str, version: str) -> Optional[str]:
    code = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"
    try:
        proc = subprocess.run(
            [executable, "-c", code], capture_output=True, text=True, env=isolated_environ(), timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.split()
    if proc.returncode != 0 or len(lines) < 2 or lines[0] != version:
        return None
    return lines[1]
