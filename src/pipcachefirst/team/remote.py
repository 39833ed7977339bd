"""The team cache: an S3 bucket shared by a team, behind each machine's local store.

This module knows nothing of pip.  It answers two things for the pip
adapter:

* **lookup**: for pins the local store does not hold, which files does the
  bucket hold (records first, in parallel for all pins), and -- once the
  adapter has chosen among them by pip's rules -- bring the chosen files
  into the local store, verified.  pip is then served from the local store
  exactly as for any local hit, with the same origin rules.
* **share**: after a successful command, upload what pip downloaded and built
  in it, create-only, file first and record last.

The bucket mirrors the local files bucket, origin first, so a bucket policy
or lifecycle rule can act on one index's files, and one LIST answers what is
there for a pin::

    <prefix>/files-v1/<origin key>/<project>/<version>/<sha256>.json
    <prefix>/files-v1/<origin key>/<project>/<version>/<sha256>/<file name>
    <prefix>/files-v1/<origin key>/<project>/<version>/built/<sdist sha256>/<builder>/<sha256>.json
    <prefix>/files-v1/<origin key>/<project>/<version>/built/<sdist sha256>/<builder>/<sha256>/<file name>

``builder`` names the interpreter and platform that built a wheel: a wheel
built from an sdist is only trusted by a machine that would have built the
same one.  An object's name holds the sha256 of its bytes; the record, the
name and the bytes must agree, or the file is never used.

The remote must never make pip worse: every request has a tight timeout and
is tried once; the first failure to answer turns the team cache off for the
rest of the process, and for other pips on this machine for a minute (a
marker in the cache root), with one warning line.  Anything odd in the bucket
(a record that does not parse or contradicts its name, bytes that do not match)
is a miss with one warning line.  Nothing here ever logs a header or a secret.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO, Callable, Dict, List, NamedTuple, Optional, Protocol, Sequence, Set, Tuple, TypeVar, Union

from pipcachefirst.base.atomic import TEMPORARY_PREFIX, unlink_quietly, write_atomically
from pipcachefirst.base.free_space import LowOnSpace
from pipcachefirst.base.packaging import canonicalize_name
from pipcachefirst.base.workers import Workers
from pipcachefirst.cache.catalog import (
    KIND_BUILT,
    KIND_DOWNLOAD,
    Entry,
    Record,
    StoreError,
    parse_filename,
    read_record,
    version_key,
)
from pipcachefirst.cache.provenance import origin_key
from pipcachefirst.cache.store import FILES, RECORD_SUFFIX, Store, safe_file_name
from pipcachefirst.team.s3 import Client, Remote, S3Error

BUILT = "built"
DOWN_MARKER = "team-cache-down-until"
DOWN_SECONDS = 60.0
WORKERS = 16
_RECORD_LIMIT = 1 << 20

T = TypeVar("T")
R = TypeVar("R")


class ObjectStore(Protocol):
    """What the team cache needs of an S3 client (``s3.Client``)."""

    def key(self, *parts: str) -> str: ...

    def list(self, prefix: str) -> List[Tuple[str, int]]: ...

    def get(self, key: str, limit: int = ...) -> Optional[bytes]: ...

    def download(self, key: str, out: BinaryIO, expected_size: int) -> Optional[str]: ...

    def put(
        self, key: str, body: Union[bytes, BinaryIO], sha256_hex: str, size: int, create_only: bool = True
    ) -> bool: ...

    def head(self, key: str) -> Optional[int]: ...


class Lookup(NamedTuple):
    """A pinned project version, asked for on these origins (normalized locations)."""

    project: str
    version: str
    origins: Tuple[str, ...]

    @classmethod
    def of(cls, project: str, version: str, origins: Sequence[str]) -> "Lookup":
        return cls(str(canonicalize_name(project)), version_key(version), tuple(sorted(origins)))


class Found(NamedTuple):
    """A record in the bucket and the folder (key) its file is under."""

    record: Record
    folder: str


# Given a pin and what the bucket holds for it, the records to bring in (the adapter decides, by pip's rules).
Chooser = Callable[[Lookup, List[Record]], List[Record]]


def builder_key() -> str:
    """This interpreter and platform, as a path segment: who may reuse a wheel built here."""
    libc, libc_version = platform.libc_ver()
    parts = [sys.implementation.name, f"{sys.version_info[0]}.{sys.version_info[1]}", sysconfig.get_platform()]
    if libc:
        parts.append(f"{libc}{libc_version}")
    return "-".join(parts).replace("/", "_").replace(" ", "_")


def for_remote(record: Record) -> str:
    """A record as the bucket keeps it: without this machine's file stamp."""
    return record._replace(stamp=None).to_json()


class TeamCache:
    """The bucket ``client`` points at, in front of which ``store`` sits.

    ``report`` gets every warning line (once each); ``verbose`` the lines
    shown with ``-v``.
    """

    def __init__(
        self,
        client: ObjectStore,
        store: Store,
        where: str,
        readonly: bool = False,
        report: Callable[[str], None] = lambda line: None,
        verbose: Callable[[str], None] = lambda line: None,
        builder: Optional[str] = None,
        workers: int = WORKERS,
    ) -> None:
        self.client = client
        self.store = store
        self.where = where
        self.readonly = readonly
        self.fetched = 0
        self.shared = 0
        self._report = report
        self._verbose = verbose
        self._builder = builder or builder_key()
        self._workers = workers
        self._asked: Set[Lookup] = set()
        self._lock = threading.Lock()
        self._warned: Set[str] = set()
        self._pool: Optional[Workers] = None
        self.off: Optional[str] = self._down_elsewhere()

    want = staticmethod(Lookup.of)

    # -- the circuit breaker -------------------------------------------------

    def _marker(self) -> Path:
        return self.store.root / DOWN_MARKER

    def _down_elsewhere(self) -> Optional[str]:
        try:
            until = float(self._marker().read_text("ascii"))
        except (OSError, ValueError):
            return None
        if until <= time.time():
            return None
        when = time.strftime("%H:%M:%S", time.localtime(until))
        reason = f"team cache {self.where} failed for another pip; not asking it until {when}"
        self._warn(reason)
        return reason

    def _turn_off(self, exc: S3Error) -> None:
        with self._lock:
            if self.off:
                return
            self.off = str(exc)
        self._warn(f"team cache {self.where} is not answering ({exc}); using the index for the rest of this command")
        try:
            write_atomically(self._marker(), repr(time.time() + DOWN_SECONDS), durable=False)
        except OSError:
            pass

    def _failed(self, exc: S3Error, reading: bool) -> None:
        """One request failed: off when the remote is unavailable or refuses to read; else a miss."""
        if exc.unavailable:
            self._turn_off(exc)
        elif reading and exc.status in (401, 403):
            with self._lock:
                already, self.off = self.off, self.off or str(exc)
            if not already:
                self._warn(f"team cache {self.where} refused to be read ({exc}); check the credentials; "
                           "using the index")
        else:
            self._verbose(f"pipcachefirst: team cache: {exc}")

    def _warn(self, line: str) -> None:
        with self._lock:
            if line in self._warned:
                return
            self._warned.add(line)
        self._report(line)

    # -- lookup --------------------------------------------------------------

    def lookup(self, wanted: Sequence[Lookup], choose: Chooser) -> int:
        """Bring what ``choose`` picks for each pin into the local store; how many files came.

        Every pin is asked at most once per process; all of them at once.
        """
        with self._lock:
            todo = [w for w in dict.fromkeys(wanted) if w not in self._asked]
            self._asked.update(todo)
        if self.off or not todo:
            return 0
        listings = self._parallel(self._catalog, todo)
        chosen: List[Found] = []
        for want, found in zip(todo, listings):
            if found and not self.off:
                by_identity = {(f.record.filename, f.record.sha256): f for f in found}
                for record in choose(want, [f.record for f in found]):
                    chosen.append(by_identity[(record.filename, record.sha256)])
        entries = self._parallel(self._bring, chosen)
        count = sum(1 for entry in entries if entry is not None)
        with self._lock:
            self.fetched += count
        return count

    def _catalog(self, want: Lookup) -> List[Found]:
        found: List[Found] = []
        for origin in want.origins:
            if self.off:
                break
            folder = self.client.key(FILES.name, origin_key(origin), want.project, want.version)
            try:
                listing = dict(self.client.list(folder + "/"))
                for key in sorted(listing):
                    located = self._locate(folder, key, listing)
                    if located is not None:
                        record = self._read_record(key, located, origin, want)
                        if record is not None:
                            found.append(Found(record, located[0]))
            except S3Error as exc:
                self._failed(exc, reading=True)
        return found

    def _locate(self, folder: str, key: str, listing: Dict[str, int]) -> Optional[Tuple[str, str, Optional[str]]]:
        """``(file folder, sha256, sdist sha256)`` for a record key this machine may use, else None."""
        if not key.endswith(RECORD_SUFFIX):
            return None
        parts = key[len(folder) + 1: -len(RECORD_SUFFIX)].split("/")
        if len(parts) == 1:
            digest, built_from = parts[0], None
        elif len(parts) == 4 and parts[0] == BUILT and parts[2] == self._builder:
            digest, built_from = parts[3], parts[1]
        else:
            return None  # another builder's wheel, or a layout this version does not know
        file_folder = key[: -len(RECORD_SUFFIX)]
        if not any(k.startswith(file_folder + "/") for k in listing):
            return None  # a record without its file: a writer still at work, or a file removed by a rule
        return file_folder, digest, built_from

    def _read_record(
        self, key: str, located: Tuple[str, str, Optional[str]], origin: str, want: Lookup
    ) -> Optional[Record]:
        file_folder, digest, built_from = located
        data = self.client.get(key, _RECORD_LIMIT)
        if data is None:
            return None
        reading = read_record(data)
        if reading.future:
            return None  # a newer pipcachefirst's: not for this version
        record = reading.record
        if record is None:
            self._warn(f"team cache: {key} is not a pipcachefirst record ({reading.damage}); not used")
            return None
        problem = _contradiction(record, digest, built_from, origin, want)
        if problem:
            self._warn(f"team cache: {key} {problem}; not used")
            return None
        return record

    def _bring(self, found: Found) -> Optional[Entry]:
        """Download one chosen file, check it against its name and record, and store it locally."""
        if self.off:
            return None
        record = found.record
        key = f"{found.folder}/{record.filename}"
        try:
            self.store.free_space.claim(record.size, record.filename)  # the download; storing it claims again
            fd, temporary = tempfile.mkstemp(dir=self.store.root, prefix=TEMPORARY_PREFIX)
        except LowOnSpace as exc:
            self._warn(exc.line)
            return None
        except OSError as exc:
            self._warn(f"team cache: cannot write to the local cache ({exc.strerror or exc}); not fetching")
            return None
        try:
            with os.fdopen(fd, "wb") as out:
                digest = self.client.download(key, out, record.size)
            if digest is None:
                return None
            if digest != record.sha256 or os.path.getsize(temporary) != record.size:
                self._warn(f"team cache: {key} does not match its record (sha256 {digest[:16]}…); not used")
                return None
            entry = self.store.put(temporary, record)
            if entry is not None:
                self._verbose(f"pipcachefirst: {record.filename} fetched from the team cache")
            return entry
        except S3Error as exc:
            self._failed(exc, reading=True)
            return None
        except LowOnSpace as exc:
            self._warn(exc.line)
            return None
        except (OSError, StoreError) as exc:
            self._warn(f"team cache: could not store {record.filename} ({exc}); not used")
            return None
        finally:
            unlink_quietly(temporary)

    # -- sharing -------------------------------------------------------------

    def share(self, entries: Sequence[Entry]) -> int:
        """Upload entries the bucket lacks, create-only; how many were uploaded."""
        if self.off or self.readonly or not entries:
            return 0
        unique = list({(e.record.sha256, e.record.origin, e.record.kind): e for e in entries}.values())
        count = sum(1 for shared in self._parallel(self._share_one, unique) if shared)
        with self._lock:
            self.shared += count
        return count

    def _folder_of(self, record: Record) -> str:
        project, version = parse_filename(record.filename)
        parts = [FILES.name, origin_key(record.origin), project, version_key(version)]
        if record.kind == KIND_BUILT:
            parts += [BUILT, str(record.built_from), self._builder]
        return self.client.key(*parts, record.sha256)

    def _share_one(self, entry: Entry) -> bool:
        if self.off or self.readonly:
            return False
        record = entry.record
        try:
            folder = self._folder_of(record)
            record_key = folder + RECORD_SUFFIX
            if self.client.head(record_key) is not None:
                return False
            with open(entry.path, "rb") as body:
                self.client.put(f"{folder}/{record.filename}", body, record.sha256, record.size)
            text = for_remote(record).encode("utf-8")
            return self.client.put(record_key, text, hashlib.sha256(text).hexdigest(), len(text))
        except S3Error as exc:
            if exc.status == 403:
                self._go_readonly(exc)
            else:
                self._failed(exc, reading=False)
            return False
        except (OSError, StoreError) as exc:
            self._verbose(f"pipcachefirst: team cache: not shared: {record.filename} ({exc})")
            return False

    def _go_readonly(self, exc: S3Error) -> None:
        with self._lock:
            if self.readonly:
                return
            self.readonly = True
        self._warn(f"team cache {self.where} refused a write ({exc}); reading only from now on")

    # -- threads -------------------------------------------------------------

    def _parallel(self, work: Callable[[T], R], items: Sequence[T]) -> List[R]:
        """``work`` on every item, ``workers`` at a time.

        One pool for the process: its threads keep their connections (the
        client has one per thread), so the files after the records, and the
        uploads after the install, need no new connection or TLS handshake.
        """
        if len(items) <= 1:
            return [work(item) for item in items]
        if self._pool is None:
            self._pool = Workers(self._workers, "pipcachefirst-team")
        return self._pool.map(work, items)


def _contradiction(
    record: Record, digest: str, built_from: Optional[str], origin: str, want: Lookup
) -> Optional[str]:
    """What in a record from the bucket contradicts where it was found, if anything."""
    if record.sha256 != digest:
        return "names another file than its key"
    if record.origin != origin:
        return "belongs to another index"
    if not safe_file_name(record.filename):
        return "names a path outside its folder"
    try:
        project, version = parse_filename(record.filename)
    except StoreError:
        return "does not name a wheel or sdist"
    if project != want.project or version_key(version) != want.version:
        return "names a file of another project or version"
    expected_kind = KIND_DOWNLOAD if built_from is None else KIND_BUILT
    if record.kind != expected_kind or (built_from is not None and record.built_from != built_from):
        return "is not the kind of file its key says"
    if not isinstance(record.size, int) or record.size < 0:
        return "has no size"
    return None


def open_team_cache(
    remote: Remote,
    store: Store,
    readonly: bool,
    report: Callable[[str], None],
    verbose: Callable[[str], None],
) -> TeamCache:
    """The team cache ``remote`` describes, in front of ``store``."""
    # 2.5 s to connect rides out one lost SYN (Linux resends it after 1 s); 2 s for each answer
    client = Client(remote, connect_timeout=2.5, read_timeout=2.0)
    return TeamCache(client, store, remote.describe(), readonly, report, verbose)
