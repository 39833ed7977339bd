"""Index and find-links locations in one comparable, credential-free form.

A cached file is served only when the location it was listed on is one the
current pip command is configured to use.  Users spell the same index in
several ways (``HTTPS://Host:443/simple/`` and ``https://host/simple``), and
index URLs often carry a token; the normalized form is what the cache stores
and compares, so a token never reaches the disk and spelling never splits or
merges indexes.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Optional, Set
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_location(url: str) -> Optional[str]:
    """Return the canonical form of an http(s) location, or ``None`` for anything else.

    Lower-cases scheme and host, drops user info, default ports, query,
    fragment and trailing slashes.  Local paths and ``file:`` URLs give
    ``None``: pip reads those in place, there is nothing to cache.
    """
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        host = parts.hostname.lower()
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
    except ValueError:
        return None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, netloc, path, "", ""))


def redact(url: str) -> str:
    """``url`` without user name or password, for records and messages."""
    try:
        parts = urlsplit(url)
        if "@" not in parts.netloc:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return "<unparsable url>"


def origin_key(origin: str) -> str:
    """A short, file-system-safe name for a normalized location."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()[:16]


def normalized_set(urls: Iterable[str]) -> Set[str]:
    return {n for n in (normalize_location(u) for u in urls) if n}


def origin_of_page(page_url: str, locations: Iterable[str]) -> Optional[str]:
    """Which configured location a page a file was listed on belongs to.

    Index pages are ``<index>/<project>/``; a find-links page is the location
    itself.  ``locations`` are normalized; the longest match wins.
    """
    page = normalize_location(page_url)
    if page is None:
        return None
    best: Optional[str] = None
    for location in locations:
        if page == location or page.startswith(location + "/"):
            if best is None or len(location) > len(best):
                best = location
    return best
