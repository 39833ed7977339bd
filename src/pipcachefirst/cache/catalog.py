"""What the cache knows about its files, and the two questions every cache tier answers.

A cache tier -- the local disk today, a team's remote store or a bucket of
installed trees later -- is asked two separate things:

* the **catalog**: which files are cached for a project version from these
  origins?  It answers with :class:`Record` s alone, enough for pip's
  evaluators to choose (file name, sha256, Requires-Python, yanked state, the
  files the index listed beside it);
* the **blobs**: a verified local file for *one* chosen record.

So a choice never costs a download: only the winner is fetched.

Records are shared by every pipcachefirst on the machine (the cache lives in
pip's cache folder), so they are written to be read by older and newer
versions alike:

* ``schema`` says which reader a record needs.  A record with a higher
  schema, or with a top-level field this version does not know, was written
  by a newer pipcachefirst: it is :class:`FutureRecord`, *skipped* -- never
  served, never moved aside, never overwritten.
* a newer version that adds something older ones may safely ignore puts it
  under ``extensions``; it is kept as it is when this version rewrites the
  record.
* a change of what the files *are* gets a new bucket, never a rewrite (see
  ``store``).
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, Iterable, List, Mapping, NamedTuple, Optional, Protocol, Tuple, Union

from pipcachefirst.base.packaging import (
    InvalidSdistFilename,
    InvalidVersion,
    InvalidWheelFilename,
    Version,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from pipcachefirst.cache.decisions import Reason

RECORD_SCHEMA = 1
KIND_DOWNLOAD = "download"
KIND_BUILT = "built"
NO_EXTENSIONS: Mapping[str, Any] = types.MappingProxyType({})


class StoreError(Exception):
    """A file that cannot be stored (bad name, unreadable source)."""


class FutureRecord(ValueError):
    """A record written by a newer pipcachefirst: not for this version to read, nor to touch."""


class Reading(NamedTuple):
    """A record as read from its bytes: the record, or why there is none."""

    record: Optional["Record"]
    future: bool = False  # written by a newer pipcachefirst: skipped, never served, moved aside or overwritten
    damage: Optional[str] = None  # not a valid record: what is wrong with it


def read_record(data: Union[str, bytes]) -> Reading:
    """Read a record's text (or UTF-8 bytes), telling a newer version's record from a damaged one.

    The one place that tells them apart, by the exception's class rather than
    by which ``except`` clause comes first: ``FutureRecord`` is a
    ``ValueError``, as damage is, so that a reader that only knows "not a
    record I can use" still skips it.
    """
    try:
        return Reading(Record.from_json(data.decode("utf-8") if isinstance(data, bytes) else data))
    except (ValueError, TypeError) as exc:  # FutureRecord and UnicodeDecodeError are ValueErrors
        if isinstance(exc, FutureRecord):
            return Reading(None, future=True)
        return Reading(None, damage=str(exc))


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
    extensions: Mapping[str, Any] = NO_EXTENSIONS

    @property
    def project(self) -> str:
        return parse_filename(self.filename)[0]

    @property
    def version(self) -> str:
        return parse_filename(self.filename)[1]

    def to_json(self) -> str:
        data = self._asdict()
        data["siblings"] = [sibling._asdict() for sibling in self.siblings]
        data["extensions"] = dict(self.extensions)
        if not self.extensions:
            del data["extensions"]
        data["schema"] = RECORD_SCHEMA
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Record":
        """Read a record; ``FutureRecord`` for a newer version's, ``ValueError`` for damage."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a pipcachefirst record")
        schema = data.pop("schema", None)
        if not isinstance(schema, int) or schema < 1:
            raise ValueError("not a pipcachefirst record")
        if schema > RECORD_SCHEMA:
            raise FutureRecord(f"schema {schema}, newer than {RECORD_SCHEMA}")
        unknown = sorted(set(data) - set(cls._fields))
        if unknown:
            raise FutureRecord(f"fields this version does not know: {', '.join(unknown)}")
        extensions = data.pop("extensions", {})
        siblings = tuple(Sibling(**s) for s in data.pop("siblings", ()))
        stamp = data.pop("stamp", None)
        if not isinstance(extensions, dict):
            raise ValueError("extensions is not a mapping")
        record = cls(
            **data,
            siblings=siblings,
            stamp=tuple(stamp) if stamp else None,
            extensions=types.MappingProxyType(extensions) if extensions else NO_EXTENSIONS,
        )
        if not (isinstance(record.size, int) and isinstance(record.sha256, str) and isinstance(record.filename, str)):
            raise ValueError("record has no size, digest or file name")
        return record


class Entry(NamedTuple):
    """A record and the verified local file it describes."""

    record: Record
    path: Path


def version_key(version: str) -> str:
    """The one spelling of a version: canonical, public part, no trailing zeros (``1.4.0`` is ``1.4``)."""
    try:
        return str(canonicalize_version(Version(version).public))
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
    return str(canonicalize_name(name)), str(version)


class Catalog(Protocol):
    """Which files a cache tier holds, answered from records alone."""

    def records(self, project: str, version: str, origins: Iterable[str]) -> List[Record]:
        """Records of ``project`` at ``version`` (any spelling) listed on one of ``origins``."""

    def has_other_origins(self, project: str, version: str, origins: Iterable[str]) -> bool:
        """Whether the version is cached from locations other than ``origins``."""

    def versions(self, project: str) -> List[str]:
        """The versions cached for ``project``, in their one spelling."""


class Blobs(Protocol):
    """The file a record describes, verified, on the local disk."""

    def fetch(self, record: Record) -> Union[Entry, Reason]:
        """The local file, checked against the record; else why not (damaged files are moved aside)."""


class CacheTier(Catalog, Blobs, Protocol):
    """A catalog and its blobs: what ``serve`` chooses from."""
