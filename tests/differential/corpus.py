"""The corpus: lockfiles that say, in header lines, how the harness is to use them.

A lock is a requirements file whose first lines include
``# pipcachefirst-corpus: key=value``.  Files without such a line (constraints
siblings, notes) sit in the same folder but are not locks, so the header is
what makes a file part of the corpus, not its name.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
HEADER = re.compile(r"^#\s*pipcachefirst-corpus:\s*([A-Za-z_-]+)\s*=\s*(.*?)\s*$")
DEFAULT_PYTHON = "3.11"
KNOWN_PYTHONS = ("3.9", "3.11", "3.13")


@dataclass(frozen=True)
class Lock:
    """One lockfile and what its header says."""

    path: Path
    header: Dict[str, str] = field(hash=False, compare=False)

    @property
    def slug(self) -> str:
        """The name a report and ``--lock`` use: the file name without ``.txt``."""
        return self.path.stem

    @property
    def python(self) -> str:
        return self.header.get("python", DEFAULT_PYTHON)

    @property
    def ci(self) -> bool:
        return self.header.get("ci", "no").lower() in ("yes", "true", "1")

    @property
    def args(self) -> List[str]:
        """Extra arguments for ``pip install`` and ``pip download`` (shell words)."""
        return shlex.split(self.header.get("args", ""))

    def arg_files(self) -> List[Path]:
        """Files the header's args name with -r/-c (relative to the lock's folder, where pip runs)."""
        words, found = self.args, []
        for i, word in enumerate(words):
            if word in ("-r", "-c", "--requirement", "--constraint") and i + 1 < len(words):
                found.append((self.path.parent / words[i + 1]).resolve())
            elif word.startswith(("--requirement=", "--constraint=")):
                found.append((self.path.parent / word.split("=", 1)[1]).resolve())
        return found

    def digest(self) -> str:
        """sha256 of the lock and of the files it pulls in with -r/-c, so an edit to either re-fetches."""
        sha = hashlib.sha256(self.path.read_bytes())
        for extra in referenced_files(self.path) + self.arg_files():
            if extra.is_file():
                sha.update(extra.name.encode() + b"\0" + extra.read_bytes())
        return sha.hexdigest()


def parse_header(path: Path) -> Optional[Dict[str, str]]:
    """The ``pipcachefirst-corpus`` keys of ``path``, or None when it is not a lock.

    The header is the run of comment lines at the top; a key may appear once.
    """
    header: Dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        match = HEADER.match(stripped)
        if match:
            header[match.group(1).lower()] = match.group(2)
    return header or None


def referenced_files(path: Path) -> List[Path]:
    """Files a requirements file names with -r/-c (one level): their content shapes the install too."""
    found: List[Path] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("-r", "-c", "--requirement", "--constraint"):
            found.append((path.parent / words[1]).resolve())
        elif words and re.match(r"^--(requirement|constraint)=", words[0]):
            found.append((path.parent / words[0].split("=", 1)[1]).resolve())
    return found


def discover(folder: Path = CORPUS_DIR) -> List[Lock]:
    """Every lock in ``folder`` (``*.txt`` with a header), by slug."""
    locks = []
    for path in sorted(Path(folder).glob("*.txt")):
        header = parse_header(path)
        if header is not None:
            locks.append(Lock(path.resolve(), header))
    return locks


def select(locks: Sequence[Lock], ci_only: bool, slugs: Sequence[str]) -> Tuple[List[Lock], List[str]]:
    """The locks to run, and the requested slugs that match none (a typo should be loud)."""
    chosen = [lock for lock in locks if (not ci_only or lock.ci)]
    if slugs:
        chosen = [lock for lock in chosen if lock.slug in slugs]
    missing = [slug for slug in slugs if slug not in {lock.slug for lock in locks}]
    return chosen, missing
