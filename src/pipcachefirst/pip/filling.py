"""The cache fills itself: files pip downloaded and wheels pip built go into the store.

Downloads are recorded after pip has prepared them, so after pip checked any
hash it was asked to check, with the index (or find-links page) they were
listed on and the other files that page listed for the same version.  A wheel
pip builds from an sdist is recorded against that sdist's sha256 and origin.

The records are made on pip's thread, from pip's objects; the files are
stored (copied, hashed, flushed to disk) on one background thread, the
:class:`StoringThread`, while pip goes on.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Deque, Iterable, Iterator, List, NamedTuple, Optional, Set

from pipcachefirst.base.packaging import canonicalize_name
from pipcachefirst.base.workers import Job, Workers
from pipcachefirst.cache.catalog import KIND_BUILT, Entry, Record, Sibling, StoreError, parse_filename, version_key
from pipcachefirst.cache.provenance import normalized_set, origin_of_page, redact
from pipcachefirst.cache.store import Store
from pipcachefirst.pip import compat


def download_record(
    finder: compat.Finder, prepared: compat.PreparedFile, page_links: Iterable[compat.LinkFacts]
) -> Optional[Record]:
    """The record to store a file pip downloaded from an index or remote find-links page under.

    None for what is not ours to keep: local files (pip reads them in place),
    and files from a page that matches no configured location.  Its sha256
    and size are filled in as the file is stored.
    """
    facts = compat.link_facts(prepared.link)
    if facts.is_local or not facts.page_url:
        return None
    index_urls, find_links = compat.finder_locations(finder)
    origin = origin_of_page(facts.page_url, normalized_set(index_urls + find_links))
    if origin is None:
        return None
    try:
        project, version = parse_filename(facts.filename)
    except StoreError:
        return None
    if project != canonicalize_name(prepared.project):
        raise StoreError(f"{facts.filename} is not a file of {prepared.project}")
    record = Record(
        filename=facts.filename,
        sha256="",
        size=0,
        url=redact(facts.url),
        origin=origin,
        requires_python=facts.requires_python,
        yanked_reason=facts.yanked_reason,
        siblings=tuple(_siblings(facts.filename, version, origin, page_links)),
    )
    return record


def _siblings(filename: str, version: str, origin: str, page_links: Iterable[compat.LinkFacts]) -> Iterable[Sibling]:
    wanted = version_key(version)
    seen = {filename}
    for link in page_links:
        if link.filename in seen or not link.page_url:
            continue
        if origin_of_page(link.page_url, [origin]) != origin:
            continue
        try:
            _, other_version = parse_filename(link.filename)
        except StoreError:
            continue
        if version_key(other_version) == wanted:
            seen.add(link.filename)
            yield Sibling(link.filename, link.requires_python, link.sha256)


def built_record(source: Record, wheel_path: str) -> Record:
    """The record to store a wheel pip built from the sdist ``source`` describes under."""
    if parse_filename(os.path.basename(wheel_path))[0] != source.project:
        raise StoreError(f"{os.path.basename(wheel_path)} was not built from {source.filename}")
    record = Record(
        filename=os.path.basename(wheel_path),
        sha256="",
        size=0,
        url=source.url,
        origin=source.origin,
        requires_python=source.requires_python,
        kind=KIND_BUILT,
        built_from=source.sha256,
        built_by=compat.interpreter_tag(),
    )
    return record


class Put(NamedTuple):
    """A file handed to the storing thread, and what its outcome means on pip's thread."""

    job: Job  # its result: the stored entry, or None
    what: str  # the one warning line's words should storing it hit a bug of ours
    source_url: Optional[str]  # an sdist's URL: its record is remembered for the wheel pip builds from it


class StoringThread:
    """One background thread that stores the files pip downloaded and built, in the order pip handed them over.

    Storing a file is a copy, a sha256 and two fsyncs (the file's, its
    record's): 0.3 s of a 6 s first install of 33 downloads, on pip's thread,
    while pip waited to download the next one.  One thread, not several: the
    writes share one disk, and the entries come back in pip's order.

    pip's thread hands files over (:meth:`submit`) and takes every outcome
    back (:meth:`finished`): an entry, a file that cannot be stored, a disk
    that refuses writes, a bug of ours, and any line the store said meanwhile
    (:meth:`lines`) are all told on pip's thread, as when it stored them
    itself.  Once a write failed, the files after it are not stored: pip's
    thread stops storing when it is told.  The thread is a daemon: it never
    keeps the process alive.  What it still has must be waited for before pip
    removes its temporary folders (where the downloads and the wheels built
    from sdists are) and before anything reads what was stored
    (``Session.wait_for_storing``).
    """

    def __init__(self) -> None:
        self._workers: Optional[Workers] = None  # started by the first file handed over
        self._pending: Deque[Put] = deque()
        self._refused = False  # a write failed (or Ctrl-C while waiting): the files handed over since are skipped
        self._lines: Deque[str] = deque()  # what the store reported on the thread, to be said on pip's thread
        self.sources: Set[str] = set()  # the URLs of the sdists handed over and not yet taken back

    def submit(self, store: Store, path: str, record: Record, what: str, source_url: Optional[str] = None) -> None:
        """Store the file at ``path`` under ``record`` after the files handed over before it."""
        if self._workers is None:
            self._workers = Workers(1, "pipcachefirst-storing")
        if source_url is not None:
            self.sources.add(source_url)
        self._pending.append(Put(self._workers.submit(self._put, store, path, record), what, source_url))

    def _put(self, store: Store, path: str, record: Record) -> Optional[Entry]:
        if self._refused:
            return None
        try:
            return store.put(path, record)
        except OSError:
            self._refused = True
            raise

    def finished(self, wait: bool = True) -> Iterator[Put]:
        """The files the thread is done with, in the order handed over: all of them (``wait``), or those done by now.

        Ctrl-C while waiting skips what the thread has not begun; the file it
        is storing is written whole or not at all (``Store.put``).
        """
        try:
            while self._pending:
                put = self._pending[0]
                if not wait and not put.job.finished():
                    return
                put.job.wait()
                self._pending.popleft()
                if put.source_url is not None:
                    self.sources.discard(put.source_url)
                yield put
        except KeyboardInterrupt:
            self._refused = True
            raise

    def on_its_thread(self) -> bool:
        workers = self._workers
        return workers is not None and workers.runs_on_this_thread()

    def report(self, line: str) -> None:
        """A line the store says while storing: kept for pip's thread."""
        self._lines.append(line)

    def lines(self) -> List[str]:
        """The lines the store said on the thread so far; taken, so each is told once."""
        taken = []
        while self._lines:  # a deque's append and popleft are safe between threads
            taken.append(self._lines.popleft())
        return taken
