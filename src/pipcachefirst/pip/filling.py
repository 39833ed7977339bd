"""The cache fills itself: files pip downloaded and wheels pip built go into the store.

Downloads are recorded after pip has prepared them, so after pip checked any
hash it was asked to check, with the index (or find-links page) they were
listed on and the other files that page listed for the same version.  A wheel
pip builds from an sdist is recorded against that sdist's sha256 and origin.
"""

from __future__ import annotations

import os
from typing import Iterable, Optional

from pipcachefirst.base.packaging import canonicalize_name
from pipcachefirst.cache.catalog import KIND_BUILT, Entry, Record, Sibling, StoreError, parse_filename, version_key
from pipcachefirst.cache.provenance import normalized_set, origin_of_page, redact
from pipcachefirst.cache.store import Store
from pipcachefirst.pip import compat


def record_download(
    store: Store, finder: compat.Finder, prepared: compat.PreparedFile, page_links: Iterable[compat.LinkFacts]
) -> Optional[Entry]:
    """Store a file pip downloaded from an index or remote find-links page.

    Returns None for what is not ours to keep: local files (pip reads them in
    place), and files from a page that matches no configured location.
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
    return store.put(prepared.local_path, record)


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


def record_built(store: Store, source: Record, wheel_path: str) -> Optional[Entry]:
    """Store a wheel pip built from the sdist ``source`` describes."""
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
    return store.put(wheel_path, record)
