"""Fixtures for the fast layer: a real pip ``PackageFinder`` in this process (see ``pipfinder``).

    def test_x(make_finder, make_link, tmp_path):
        finder = make_finder(find_links=[tmp_path], only_binary=":all:", python_version="3.8")
        link = make_link(tmp_path / "alpha-1.0.tar.gz", requires_python=">=3.9", sha256="ab...")

``make_finder`` takes ``pipfinder.make_finder``'s keywords (pip's option
names), ``make_link`` those of ``pipfinder.make_link``.  The plain helpers
(``specifier``, ``allowed_hashes``, ``candidates``, ``rejection``,
``best_result``, ``best_filename``, ``applicable``, ``make_files``) are
imported from ``tests.unit.pipfinder``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.support.s3server import s3_server  # noqa: F401 -- the session's S3 server, a fixture (test_s3)
from tests.unit import pipfinder


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A fresh folder per test, removed after it: pytest's ``tmp_path`` without its clean-up of old sessions.

    pytest's own makes a numbered folder under the shared
    ``/tmp/pytest-of-<user>`` and, when the session ends, deletes all but the
    last three there.  After story-test runs those hold gigabytes of venvs,
    and deleting them made a 3-second unit run take 6 minutes on a busy machine.
    """
    with tempfile.TemporaryDirectory(prefix="pipcachefirst-unit-") as name:
        yield Path(name).resolve()


@pytest.fixture(scope="session")
def pip_session() -> Any:
    """The one ``PipSession`` the finders share; nothing here goes to the network."""
    return pipfinder.shared_session()


@pytest.fixture
def make_finder(pip_session: Any) -> Callable[..., Any]:
    """``make_finder(index_urls=..., find_links=..., only_binary=..., ...)``: a new pip ``PackageFinder``."""

    def make(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("session", pip_session)
        return pipfinder.make_finder(*args, **kwargs)

    return make


@pytest.fixture
def finder(make_finder: Callable[..., Any]) -> Any:
    """The finder plain ``pip install`` makes for this interpreter, with no index."""
    return make_finder()


@pytest.fixture
def make_link() -> Callable[..., Any]:
    """A pip ``Link``: ``make_link(path_or_url, requires_python=, yanked_reason=, sha256=, comes_from=)``."""
    return pipfinder.make_link
