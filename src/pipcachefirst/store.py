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
from pathlib import Path
from typing import BinaryIO, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from pipcachefirst._packaging import (
    InvalidSdistFilename,
    InvalidVersion,
    InvalidWheelFilename,
    Version,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
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


class Sibling(NamedTuple):
    """Another file the origin listed for the same version when a file was stored."""

    filename: str
    requires_python: Optional[str] = None
    sha256: Optional[str] = None


class Record(NamedTuple):
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
    siblings: Tuple[Sibling, ...] = ()
    stamp: Optional[Tuple[int, ...]] = None

    def to_json(self) -> str:
        data = self._asdict()
        data["siblings"] = [sibling._asdict() for sibling in self.siblings]
        data["schema"] = RECORD_SCHEMA
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Record":
        data = json.loads(text)
        if not isinstance(data, dict) or data.pop("schema", None) != RECORD_SCHEMA:
            raise ValueError("not a pipcachefirst record")
        siblings = tuple(Sibling(**s) for s in data.pop("siblings", ()))
        stamp = data.pop("stamp", None)
        record = cls(**data, siblings=siblings, stamp=tuple(stamp) if stamp else None)
        if not isinstance(record.size, int) or not isinstance(record.sha256, str):
            raise ValueError("record has no size or digest")
        return record


class Entry(NamedTuple):
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


class Access(NamedTuple):
    """What may be done with a cache directory, and the one line to say why not."""

    serve: bool
    store: bool
    problem: Optional[str] = None


def _stamp(info: os.stat_result) -> Tuple[int, ...]:
    """What changes whenever a file's bytes are changed through the file system.

    ``ctime`` cannot be set back by an ordinary process, so a file whose
    stamp still matches has not been written to since it was verified.
    """
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def writable_by_others(path: Path) -> bool:
    try:
        return bool(path.lstat().st_mode & stat.S_IWOTH)
    except OSError:
        return False


class Store:
    """A pipcachefirst cache rooted at ``root``.

    ``report`` receives one line for each problem met while reading (a bad
    record, an entry others may write); the store goes on without that entry.
    """

    def __init__(self, root: os.PathLike[str] | str, report: Optional[Callable[[str], None]] = None) -> None:
        self.root = Path(root)
        self._report = report or (lambda line: None)
        self._intact: Dict[Path, Tuple[int, ...]] = {}
        self._real_root = os.path.realpath(self.root)

    def open(self) -> Access:
        """Create the cache directory if needed and say what it can be used for."""
        root = self.root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            return Access(False, False, f"cache directory {root} is not a directory; running without the cache")
        except OSError as exc:
            return Access(False, False, f"cache directory {root} cannot be created ({exc.strerror}); "
                          "running without the cache")
        if not root.is_dir():
            return Access(False, False, f"cache directory {root} is not a directory; running without the cache")
        serve, problem = True, None
        for folder in (root, root / FILES_BUCKET):
            if writable_by_others(folder):
                serve = False
                problem = (f"not serving from {folder}: other users can write to it "
                           f"(fix: chmod o-w {folder})")
                break
        if not os.access(root, os.W_OK | os.X_OK) or not _can_create_in(root):
            return Access(serve, False, problem or f"cache directory {root} is read-only; serving from it, "
                          "storing nothing")
        return Access(serve, True, problem)

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
        if not os.path.realpath(folder).startswith(self._real_root + os.sep):
            self._report(f"ignoring {folder}: it leads outside the cache")
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
        record_path = folder / (digest_prefix + ".json")
        try:
            text = record_path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self._report(f"ignoring unreadable record {record_path} ({exc})")
            return None
        problem = None
        try:
            record = Record.from_json(text)
        except (ValueError, TypeError) as exc:
            problem = f"record {record_path} is not a valid pipcachefirst record ({exc})"
        else:
            problem = self._record_problem(record, folder, digest_prefix, origin)
        if problem:
            self._report(problem + "; moved aside")
            self._move_aside(record_path)
            return None
        return Entry(record, folder / digest_prefix / record.filename)

    def _record_problem(self, record: Record, folder: Path, digest_prefix: str, origin: str) -> Optional[str]:
        where = folder / (digest_prefix + ".json")
        if record.origin != origin or record.sha256[:16] != digest_prefix:
            return f"record {where} does not belong where it is"
        if not _safe_name(record.filename):
            return f"record {where} names a path outside its folder ({record.filename!r})"
        try:
            name, version = parse_filename(record.filename)
        except StoreError:
            return f"record {where} names {record.filename!r}, not a wheel or sdist file name"
        if folder.parent.parent.name != name or folder.parent.name != version_key(version):
            return f"record {where} names {record.filename}, a file of another project or version"
        return None

    def trusted(self, entry: Entry) -> bool:
        """Whether only its owner can change the entry: no folder on its path is writable by others."""
        folder = entry.path
        for _ in range(6):  # file, digest, origin, version, project folders and the bucket
            if writable_by_others(folder):
                self._report(f"not serving {entry.path}: other users can write to {folder} (fix: chmod o-w {folder})")
                return False
            folder = folder.parent
        return True

    def is_intact(self, entry: Entry, rehash: bool = False) -> bool:
        """Whether the file still has the size and sha256 its record says.

        The file is hashed when its stamp (size, mtime, ctime, inode) differs
        from the one recorded when it was last hashed, and the new stamp is
        recorded; an unchanged file is not hashed again, by us or by pip (its
        link carries no digest unless the user gave ``--hash``).
        """
        try:
            info = entry.path.lstat()
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode) or info.st_size != entry.record.size:
            return False
        stamp = _stamp(info)
        if not rehash and stamp in (entry.record.stamp, self._intact.get(entry.path)):
            return True
        try:
            with open(entry.path, "rb") as handle:
                digest = _sha256_of(handle)
        except OSError:
            return False
        if digest != entry.record.sha256:
            return False
        self._intact[entry.path] = stamp
        try:
            _write_text_atomically(entry.path.parent.with_suffix(".json"), entry.record._replace(stamp=stamp).to_json())
        except OSError:
            pass  # a read-only cache: hashed again next time
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
            record = record._replace(sha256=digest, size=size, stored_at=record.stored_at or time.time())
            existing = self._read_entry(folder, digest[:16], record.origin)
            if existing is not None and self.is_intact(existing):
                return existing
            data_dir = folder / digest[:16]
            data_dir.mkdir(exist_ok=True)
            final = data_dir / record.filename
            os.replace(temporary, final)
            temporary = None
            record = record._replace(stamp=_stamp(final.lstat()))
            _write_text_atomically(folder / (digest[:16] + ".json"), record.to_json())
            return Entry(record, final)
        finally:
            if temporary is not None:
                _unlink_quietly(temporary)

    # -- looking after the cache -------------------------------------------

    def projects(self) -> List[str]:
        return _names(self.root / FILES_BUCKET)

    def versions(self, project: str) -> List[str]:
        return _names(self.root / FILES_BUCKET / canonicalize_name(project))

    def walk(self, project: Optional[str] = None) -> Iterator[Entry]:
        """Every readable entry (of ``project``, or of all projects)."""
        for name in [canonicalize_name(project)] if project else self.projects():
            for version in self.versions(name):
                version_dir = self.root / FILES_BUCKET / name / version
                for key in _names(version_dir):
                    for record_name in _names(version_dir / key):
                        if not record_name.endswith(".json"):
                            continue
                        origin = _origin_of_record(version_dir / key / record_name)
                        if origin is not None and origin_key(origin) == key:
                            entry = self._read_entry(version_dir / key, record_name[: -len(".json")], origin)
                            if entry is not None:
                                yield entry

    def usage(self) -> Tuple[int, int]:
        """``(entries, bytes)`` of the whole cache, from directory listings and stat alone."""
        count = size = 0
        folders = [str(self.root / FILES_BUCKET)]
        while folders:
            try:
                listing = os.scandir(folders.pop())
            except OSError:
                continue
            with listing:
                for item in listing:
                    if item.is_dir(follow_symlinks=False):
                        folders.append(item.path)
                    elif item.name.endswith(".json"):
                        count += 1
                    elif not item.name.startswith(".tmp-"):
                        try:
                            size += item.stat(follow_symlinks=False).st_size
                        except OSError:
                            pass  # removed meanwhile
        return count, size

    def mark_served(self, entry: Entry) -> None:
        """Remember when an entry was last served (its record's mtime), for pruning."""
        try:
            os.utime(entry.path.parent.with_suffix(".json"))
        except OSError:
            pass

    def last_served(self, entry: Entry) -> float:
        """When the entry was last served, or stored if never: its record's mtime."""
        try:
            return entry.path.parent.with_suffix(".json").stat().st_mtime
        except OSError:
            return entry.record.stored_at

    def remove(self, entry: Entry) -> None:
        """Delete an entry: its record first, so it is never served without its file."""
        _unlink_quietly(str(entry.path.parent.with_suffix(".json")))
        _unlink_quietly(str(entry.path))
        try:
            entry.path.parent.rmdir()
        except OSError:
            pass
        self._intact.pop(entry.path, None)

    def quarantine(self, entry: Entry) -> Optional[Path]:
        """Move a bad entry out of the way (kept for inspection, never served again)."""
        self._move_aside(entry.path.parent.with_suffix(".json"))
        self._intact.pop(entry.path, None)
        return self._move_aside(entry.path)

    def _move_aside(self, path: Path) -> Optional[Path]:
        target = self.root / QUARANTINE / f"{time.strftime('%Y%m%dT%H%M%S')}-{path.parent.name}-{path.name}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except OSError:
            return None  # someone else moved it first, it is gone, or the cache is read-only
        return target


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


def _can_create_in(folder: Path) -> bool:
    """Whether a file can really be created there (a read-only mount says no even to root)."""
    try:
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    _unlink_quietly(temporary)
    return True


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


def _names(folder: Path) -> List[str]:
    try:
        return sorted(n for n in os.listdir(folder) if not n.startswith("."))
    except OSError:
        return []


def _origin_of_record(path: Path) -> Optional[str]:
    try:
        origin = json.loads(path.read_text("utf-8")).get("origin")
    except (OSError, ValueError, AttributeError):
        return None
    return origin if isinstance(origin, str) else None


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
