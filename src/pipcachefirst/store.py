"""The cache on disk: distribution files with a record each, found by name and version.

This module knows nothing of pip.  It stores files, says what is stored for a
project version from given origins, checks a file against its record and moves
bad entries aside.

Layout (one *bucket* per kind of entry, versioned on its own so a later format
or a new kind -- unpacked trees, compiled files -- joins beside it without
touching this one)::

    <root>/files-v1/<project>/<version>/<origin key>/<sha256[:16]>/<file name>
    <root>/files-v1/<project>/<version>/<origin key>/<sha256[:16]>.json
    <root>/quarantine/<time>-<sha256[:16]>-<file name>[.json]

``project`` is the canonical name and ``version`` the canonical public version
without trailing zeros, so ``==1.4`` finds ``1.4.0`` and ``1.4+local`` with one
directory listing, never a scan of the cache.  ``origin key`` is a digest of the
normalized index or find-links location the file was listed on: two indexes
never share an entry.  Files live under their own digest, so writers of
different bytes never collide, and the record is written last: a record always
describes a complete file.  Every write is a temporary file in the target
folder plus ``os.replace``, which is atomic on POSIX and on NFS alike; no locks.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Dict, Iterable, List, Optional, Tuple

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pipcachefirst.provenance import origin_key

FILES_BUCKET = "files-v1"
QUARANTINE = "quarantine"
RECORD_SCHEMA = 1
KIND_DOWNLOAD = "download"
KIND_BUILT = "built"
_CHUNK = 1024 * 1024
_STALE_TEMP_SECONDS = 3600


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


class StoreError(Exception):
    """A file that cannot be stored (bad name, unreadable source)."""


@dataclass(frozen=True)
class Sibling:
    """Another file the origin listed for the same version when a file was stored."""

    filename: str
    requires_python: Optional[str] = None
    sha256: Optional[str] = None


@dataclass(frozen=True)
class Record:
    """What is known about one stored file."""

    filename: str
    sha256: str
    size: int
    url: str
    origin: str
    requires_python: Optional[str] = None
    yanked_reason: Optional[str] = None
    stored_at: float = 0.0
    kind: str = KIND_DOWNLOAD
    built_from: Optional[str] = None
    built_by: Optional[str] = None
    siblings: Tuple[Sibling, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        data = asdict(self)
        data["schema"] = RECORD_SCHEMA
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Record":
        data = json.loads(text)
        if not isinstance(data, dict) or data.pop("schema", None) != RECORD_SCHEMA:
            raise ValueError("not a pipcachefirst record")
        siblings = tuple(Sibling(**s) for s in data.pop("siblings", ()))
        record = cls(**data, siblings=siblings)
        if not isinstance(record.size, int) or not isinstance(record.sha256, str):
            raise ValueError("record has no size or digest")
        return record


@dataclass(frozen=True)
class Entry:
    """A record and the path of the file it describes."""

    record: Record
    path: Path


def version_key(version: str) -> str:
    """The directory name for a version: canonical, public part, no trailing zeros."""
    try:
        return canonicalize_version(Version(version).public)
    except InvalidVersion:
        return version.strip().lower()


def parse_filename(filename: str) -> Tuple[str, str]:
    """``(canonical project, version)`` of a wheel or sdist file name, or raise StoreError."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise StoreError(f"not a wheel or sdist file name: {filename}") from exc
    return canonicalize_name(name), str(version)


def _safe_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name


class Store:
    """A pipcachefirst cache rooted at ``root``."""

    def __init__(self, root: os.PathLike[str] | str) -> None:
        self.root = Path(root)
        self._intact: Dict[Path, Tuple[int, int]] = {}

    def _version_dir(self, project: str, version: str) -> Path:
        return self.root / FILES_BUCKET / canonicalize_name(project) / version_key(version)

    # -- reading ---------------------------------------------------------

    def entries(self, project: str, version: str, origins: Iterable[str]) -> List[Entry]:
        """Stored files of ``project`` at ``version`` (any spelling) listed on ``origins``."""
        version_dir = self._version_dir(project, version)
        found: List[Entry] = []
        for origin in origins:
            found.extend(self._entries_in(version_dir / origin_key(origin), origin))
        return found

    def has_other_origins(self, project: str, version: str, origins: Iterable[str]) -> bool:
        """Whether files of this version are stored from locations other than ``origins``."""
        try:
            stored = set(os.listdir(self._version_dir(project, version)))
        except OSError:
            return False
        return bool(stored - {origin_key(o) for o in origins})

    def _entries_in(self, folder: Path, origin: str) -> List[Entry]:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return []
        found = []
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            entry = self._read_entry(folder, name[: -len(".json")], origin)
            if entry is not None:
                found.append(entry)
        return found

    def _read_entry(self, folder: Path, digest_prefix: str, origin: str) -> Optional[Entry]:
        try:
            record = Record.from_json((folder / (digest_prefix + ".json")).read_text("utf-8"))
        except (OSError, ValueError, TypeError):
            return None  # unreadable or foreign: ignored, never trusted
        if (
            record.origin != origin
            or record.sha256[:16] != digest_prefix
            or not _safe_name(record.filename)
        ):
            return None
        return Entry(record, folder / digest_prefix / record.filename)

    def is_intact(self, entry: Entry) -> bool:
        """Whether the file still has the size and sha256 its record says.

        A full hash, once per file and process: it is what guarantees that a
        changed file is never installed (pip re-checks the digest only when
        asked to).
        """
        try:
            info = entry.path.lstat()
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode) or info.st_size != entry.record.size:
            return False
        stamp = (info.st_size, info.st_mtime_ns)
        if self._intact.get(entry.path) == stamp:
            return True
        try:
            with open(entry.path, "rb") as handle:
                digest = _sha256_of(handle)
        except OSError:
            return False
        if digest != entry.record.sha256:
            return False
        self._intact[entry.path] = stamp
        return True

    # -- writing ---------------------------------------------------------

    def put(self, source: os.PathLike[str] | str, project: str, record: Record) -> Entry:
        """Store a copy of ``source`` under ``record`` (its digest and size are filled in).

        Returns the existing entry when the same bytes are already stored.
        """
        name, version = parse_filename(record.filename)
        if name != canonicalize_name(project):
            raise StoreError(f"{record.filename} is not a file of {project}")
        folder = self._version_dir(name, version) / origin_key(record.origin)
        folder.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(folder)
        with open(source, "rb") as handle:
            digest, size, temporary = _copy_to_temporary(handle, folder)
        try:
            record = replace(record, sha256=digest, size=size, stored_at=record.stored_at or time.time())
            existing = self._read_entry(folder, digest[:16], record.origin)
            if existing is not None and self.is_intact(existing):
                return existing
            data_dir = folder / digest[:16]
            data_dir.mkdir(exist_ok=True)
            final = data_dir / record.filename
            os.replace(temporary, final)
            temporary = None
            _write_text_atomically(folder / (digest[:16] + ".json"), record.to_json())
            return Entry(record, final)
        finally:
            if temporary is not None:
                _unlink_quietly(temporary)

    def quarantine(self, entry: Entry) -> Optional[Path]:
        """Move a bad entry out of the way (kept for inspection, never served again)."""
        target_dir = self.root / QUARANTINE
        stamp = time.strftime("%Y%m%dT%H%M%S")
        moved: Optional[Path] = None
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            record_path = entry.path.parent.with_suffix(".json")
            prefix = f"{stamp}-{entry.path.parent.name}-{entry.record.filename}"
            os.replace(record_path, target_dir / (prefix + ".json"))
            moved = target_dir / prefix
            os.replace(entry.path, moved)
        except OSError:
            pass  # someone else moved it first, or the file was already gone
        self._intact.pop(entry.path, None)
        return moved


def _sha256_of(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _copy_to_temporary(source: BinaryIO, folder: Path) -> Tuple[str, int, str]:
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=folder)
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
        os.chmod(temporary, _FILE_MODE)
    except BaseException:
        _unlink_quietly(temporary)
        raise
    return digest.hexdigest(), size, temporary


def _write_text_atomically(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, _FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        _unlink_quietly(temporary)
        raise


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files older than an hour were left by a killed writer."""
    cutoff = time.time() - _STALE_TEMP_SECONDS
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(".tmp-"):
            path = folder / name
            try:
                if path.lstat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
