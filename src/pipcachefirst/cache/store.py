"""The cache on the local disk: buckets of entries, each a file and its record.

This module knows nothing of pip.  It is the first :class:`~pipcachefirst.cache.catalog.CacheTier`:
it says what is stored for a project version from given origins (records
only), hands out a verified file for one record, stores new files, and moves
aside what contradicts its own record.

The cache root holds one folder per *bucket*, named ``<kind>-v<version>`` as
uv names its cache buckets.  A bucket's format never changes in place: a new
format is a new bucket beside the old one (``files-v2``), and a new kind of
entry (installed trees, say) is a new bucket too.  A version of pipcachefirst
reads and writes only the buckets in its :data:`BUCKETS` and leaves every
other folder alone, so versions sharing one cache never destroy each other's
entries.  Within a bucket, records written by a newer version are skipped,
not moved aside (see ``catalog``).

The files bucket::

    <root>/files-v1/<project>/<version>/<origin key>/<sha256[:16]>/<file name>
    <root>/files-v1/<project>/<version>/<origin key>/<sha256[:16]>.json
    <root>/quarantine/<time>-<sha256[:16]>-<file name>[.json]

``project`` is the canonical name and ``version`` the canonical public version
without trailing zeros, so ``==1.4`` finds ``1.4.0`` and ``1.4+local`` with one
directory listing, never a scan of the cache.  ``origin key`` is a digest of the
normalized index or find-links location the file was listed on: two indexes
never share an entry.  Files live under their own digest, so writers of
different bytes never collide, and the record is written last: a record always
describes a complete file.  Every write goes through ``base.atomic``; no locks.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

from pipcachefirst.base.atomic import (
    TEMPORARY_PREFIX,
    can_create_in,
    copy_to_temporary,
    remove_stale_temporaries,
    sha256_of,
    unlink_quietly,
    write_atomically,
)
from pipcachefirst.base.free_space import FreeSpace
from pipcachefirst.base.packaging import canonicalize_name
from pipcachefirst.cache.catalog import Entry, Record, StoreError, parse_filename, read_record, version_key
from pipcachefirst.cache.decisions import Reason
from pipcachefirst.cache.provenance import origin_key


class Bucket(NamedTuple):
    """One kind of entry in one format: a folder of the cache root."""

    kind: str
    version: int

    @property
    def name(self) -> str:
        return f"{self.kind}-v{self.version}"


FILES = Bucket("files", 1)
TREES = Bucket("trees", 2)  # installed trees: see ``trees``
BUCKETS = (FILES, TREES)  # what this version reads and writes; any other folder is left alone
# Buckets of earlier versions that BUCKETS replaced: never read; only ``clear`` removes them.
# trees-v1 recorded no sha256s, and could record a member's size from before pip's compile step rewrote it.
RETIRED_BUCKETS = (Bucket("trees", 1),)
QUARANTINE = "quarantine"
RECORD_SUFFIX = ".json"  # a record beside its file's folder, here and in a team cache
# The records read from each origin's folder, by (folder, origin): the folder's stamp then, and them.
Known = Dict[Tuple[Path, str], Tuple[Tuple[int, ...], Tuple[Record, ...]]]


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


def safe_file_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name


class Store:
    """A pipcachefirst cache rooted at ``root``.

    ``report`` receives one line for each problem met while reading (a bad
    record, an entry others may write); the store goes on without that entry.
    """

    def __init__(
        self,
        root: Union[str, "os.PathLike[str]"],
        report: Optional[Callable[[str], None]] = None,
        known: Optional[Known] = None,
    ) -> None:
        """``known``: the records already read from each folder, shared by the stores of one process."""
        self.root = Path(root)
        self.files = self.root / FILES.name
        self._report = report or (lambda line: None)
        self._intact: Dict[Path, Tuple[int, ...]] = {}
        self._known: Known = {} if known is None else known
        self._real_root = os.path.realpath(self.root)
        self.free_space = FreeSpace(self.root)  # what may still be stored here; see ``base.free_space``

    def open(self, ours: bool = True) -> Access:
        """Create the cache directory if needed and say what it can be used for.

        ``ours=False``: the caller's rule says the folder is not this user's to
        write to (``sudo`` on a user's cache).  Then nothing is created or
        written there; it is used only if it is read-only to this process,
        as any read-only cache is (served from, nothing stored), since only
        then can no file be written there by accident.
        """
        root = self.root
        if not ours and (not root.is_dir() or _writable(root)):
            return Access(False, False, f"cache directory {root} is not this user's: pip would not write to it "
                          "as its cache, nor does pipcachefirst; running without the cache")
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
        for folder in (root, *(root / bucket.name for bucket in BUCKETS)):
            if writable_by_others(folder):
                serve = False
                problem = (f"not serving from {folder}: other users can write to it "
                           f"(fix: chmod o-w {folder})")
                break
        if not os.access(root, os.W_OK | os.X_OK) or not can_create_in(root):
            return Access(serve, False, problem or f"cache directory {root} is read-only; serving from it, "
                          "storing nothing")
        return Access(serve, True, problem)

    # -- layout ------------------------------------------------------------

    def _version_dir(self, project: str, version: str) -> Path:
        return self.files / str(canonicalize_name(project)) / version_key(version)

    def _folder_of(self, record: Record) -> Path:
        """``<project>/<version>/<origin key>`` of the files bucket, from the record alone."""
        project, version = parse_filename(record.filename)
        return self._version_dir(project, version) / origin_key(record.origin)

    def path_of(self, record: Record) -> Path:
        """Where the file a record describes lives (or would live) in this cache."""
        return self._folder_of(record) / record.sha256[:16] / record.filename

    @staticmethod
    def _record_path(entry: Entry) -> Path:
        return entry.path.parent.with_suffix(RECORD_SUFFIX)

    # -- the catalog -------------------------------------------------------

    def records(self, project: str, version: str, origins: Iterable[str]) -> List[Record]:
        """Readable records of ``project`` at ``version`` (any spelling) listed on ``origins``."""
        version_dir = self._version_dir(project, version)
        found: List[Record] = []
        for origin in origins:
            found.extend(self._records_in(version_dir / origin_key(origin), origin))
        return found

    def has_other_origins(self, project: str, version: str, origins: Iterable[str]) -> bool:
        try:
            stored = set(os.listdir(self._version_dir(project, version)))
        except OSError:
            return False
        return bool(stored - {origin_key(o) for o in origins})

    def versions(self, project: str) -> List[str]:
        return _names(self.files / canonicalize_name(project))

    def _records_in(self, folder: Path, origin: str) -> List[Record]:
        """The readable records of one origin's folder; read once while the folder is unchanged.

        A record is written, replaced and moved aside by renames in its
        folder, which change the folder's stamp.  Two changes within one tick
        of the file system's clock could leave it the same: then a record
        added meanwhile is missed (pip asks the index) or an old stamp is
        believed (the file is hashed); the file is checked before it is
        served, whatever its record says.
        """
        try:
            stamp = _folder_stamp(folder)
            known = self._known.get((folder, origin))
            if known is not None and known[0] == stamp:
                return list(known[1])
            names = sorted(os.listdir(folder))
        except OSError:
            return []
        if not os.path.realpath(folder).startswith(self._real_root + os.sep):
            self._report(f"ignoring {folder}: it leads outside the cache")
            return []
        found = []
        for name in names:
            if name.endswith(RECORD_SUFFIX) and not name.startswith("."):
                record = self._read_record(folder, name[: -len(RECORD_SUFFIX)], origin)
                if record is not None:
                    found.append(record)
        self._known[(folder, origin)] = (stamp, tuple(found))
        return found

    def _read_record(
        self, folder: Path, digest_prefix: str, origin: str, text: Optional[str] = None
    ) -> Optional[Record]:
        """The record at ``folder/<digest_prefix>.json`` (``text``: as just read); None if absent, from the
        future or moved aside."""
        record_path = folder / (digest_prefix + RECORD_SUFFIX)
        try:
            text = record_path.read_text("utf-8") if text is None else text
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self._report(f"ignoring unreadable record {record_path} ({exc})")
            return None
        reading = read_record(text)
        if reading.future:
            return None  # a newer pipcachefirst's: not ours to serve, move or overwrite
        record = reading.record
        if record is None:
            problem: Optional[str] = f"record {record_path} is not a valid pipcachefirst record ({reading.damage})"
        else:
            problem = self._misplaced(record, folder, digest_prefix, origin)
        if problem or record is None:
            self._report(f"{problem}; moved aside")
            self._move_aside(record_path)
            return None
        return record

    def _misplaced(self, record: Record, folder: Path, digest_prefix: str, origin: str) -> Optional[str]:
        """What in the record contradicts where it is stored, if anything."""
        where = folder / (digest_prefix + RECORD_SUFFIX)
        if record.origin != origin or record.sha256[:16] != digest_prefix:
            return f"record {where} does not belong where it is"
        if not safe_file_name(record.filename):
            return f"record {where} names a path outside its folder ({record.filename!r})"
        try:
            name, version = parse_filename(record.filename)
        except StoreError:
            return f"record {where} names {record.filename!r}, not a wheel or sdist file name"
        if folder.parent.parent.name != name or folder.parent.name != version_key(version):
            return f"record {where} names {record.filename}, a file of another project or version"
        return None

    # -- the blobs ---------------------------------------------------------

    def fetch(self, record: Record) -> Union[Entry, Reason]:
        """The cached file of ``record``, checked; a damaged one is moved aside."""
        entry = Entry(record, self.path_of(record))
        if not self.is_intact(entry):
            self.quarantine(entry)
            return Reason.DAMAGED
        if not self.trusted(entry):
            return Reason.UNTRUSTED
        return entry

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
                digest = sha256_of(handle)
        except OSError:
            return False
        if digest != entry.record.sha256:
            return False
        self._intact[entry.path] = stamp
        try:
            write_atomically(self._record_path(entry), entry.record._replace(stamp=stamp).to_json())
        except OSError:
            pass  # a read-only cache: hashed again next time
        return True

    # -- writing -----------------------------------------------------------

    def put(self, source: Union[str, "os.PathLike[str]"], record: Record) -> Optional[Entry]:
        """Store a copy of ``source`` under ``record`` (its digest and size are filled in).

        Returns the existing entry when the same bytes are already stored, and
        None when a newer pipcachefirst's record is there (it is left as it is).
        ``LowOnSpace`` (an OSError), before anything is written, when the
        copy would leave the disk short of its margin.
        """
        self.free_space.claim(os.stat(source).st_size, record.filename)
        folder = self._folder_of(record)
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)
        with open(source, "rb") as handle:
            digest, size, copied = copy_to_temporary(handle, folder)
        temporary: Optional[str] = copied
        try:
            record = record._replace(sha256=digest, size=size, stored_at=record.stored_at or time.time())
            record_path = folder / (digest[:16] + RECORD_SUFFIX)
            if _is_future(record_path):
                return None
            existing = self._read_record(folder, digest[:16], record.origin)
            if existing is not None:
                entry = Entry(existing, self.path_of(existing))
                if self.is_intact(entry):
                    return entry
            final = self.path_of(record)
            final.parent.mkdir(exist_ok=True)
            os.replace(copied, final)
            temporary = None
            record = record._replace(stamp=_stamp(final.lstat()))
            write_atomically(record_path, record.to_json())
            return Entry(record, final)
        finally:
            if temporary is not None:
                unlink_quietly(temporary)

    # -- looking after the cache -------------------------------------------

    def projects(self) -> List[str]:
        return _names(self.files)

    def walk(self, project: Optional[str] = None) -> Iterator[Entry]:
        """Every readable entry this version understands (of ``project``, or of all projects)."""
        for name in [canonicalize_name(project)] if project else self.projects():
            for version in self.versions(name):
                version_dir = self.files / name / version
                for key in _names(version_dir):
                    yield from self._walk_folder(version_dir / key, key)

    def _walk_folder(self, folder: Path, key: str) -> Iterator[Entry]:
        """The entries of one origin's folder; its records are then known to ``records`` while it is unchanged."""
        try:
            stamp = _folder_stamp(folder)
        except OSError:
            return
        names = _names(folder)
        found, origins = [], set()
        for record_name in names:
            if not record_name.endswith(RECORD_SUFFIX):
                continue
            origin, text = _origin_of_record(folder / record_name)
            origins.add(origin)
            if origin is not None and origin_key(origin) == key:
                record = self._read_record(folder, record_name[: -len(RECORD_SUFFIX)], origin, text)
                if record is not None:
                    found.append(record)
                    yield Entry(record, self.path_of(record))
        if len(origins) == 1 and None not in origins:  # what ``_records_in`` would read for that origin
            self._known[(folder, str(next(iter(origins))))] = (stamp, tuple(found))

    def usage(self) -> Tuple[int, int]:
        """``(entries, bytes)`` of the files bucket, from directory listings and stat alone."""
        count = size = 0
        folders = [str(self.files)]
        while folders:
            try:
                listing = os.scandir(folders.pop())
            except OSError:
                continue
            with listing:
                for item in listing:
                    if item.is_dir(follow_symlinks=False):
                        folders.append(item.path)
                    elif item.name.endswith(RECORD_SUFFIX):
                        count += 1
                    elif not item.name.startswith(TEMPORARY_PREFIX):
                        try:
                            size += item.stat(follow_symlinks=False).st_size
                        except OSError:
                            pass  # removed meanwhile
        return count, size

    def mark_served(self, entry: Entry) -> None:
        """Remember when an entry was last served (its record's mtime), for pruning."""
        try:
            os.utime(self._record_path(entry))
        except OSError:
            pass

    def last_served(self, entry: Entry) -> float:
        """When the entry was last served, or stored if never: its record's mtime."""
        try:
            return self._record_path(entry).stat().st_mtime
        except OSError:
            return entry.record.stored_at

    def remove(self, entry: Entry) -> bool:
        """Delete an entry: its record first, so it is never served without its file.

        False when it could not be (another user's folder, a file the system
        will not let go): a record that stays keeps its file, so what is left
        is still a whole entry.
        """
        self._intact.pop(entry.path, None)
        try:
            os.unlink(self._record_path(entry))
        except FileNotFoundError:
            pass
        except OSError:
            return False
        unlink_quietly(entry.path)
        try:
            entry.path.parent.rmdir()
        except OSError:
            pass
        return not os.path.lexists(entry.path)

    def quarantine(self, entry: Entry) -> Optional[Path]:
        """Move a bad entry out of the way (kept for inspection, never served again)."""
        self._move_aside(self._record_path(entry))
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


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _is_future(record_path: Path) -> bool:
    try:
        data = record_path.read_bytes()
    except OSError:
        return False
    return read_record(data).future


def _folder_stamp(folder: Path) -> Tuple[int, ...]:
    info = os.stat(folder)
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def _names(folder: Path) -> List[str]:
    try:
        return sorted(n for n in os.listdir(folder) if not n.startswith("."))
    except OSError:
        return []


def _origin_of_record(path: Path) -> Tuple[Optional[str], Optional[str]]:
    """``(origin, text)`` of the record at ``path``: the text is read once for both."""
    try:
        text = path.read_text("utf-8")
        origin = json.loads(text).get("origin")
    except (OSError, ValueError, AttributeError):
        return None, None
    return (origin, text) if isinstance(origin, str) else (None, text)
