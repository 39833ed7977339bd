"""A real pip ``PackageFinder`` in this process: no subprocess, no network.

Built the way pip's own unit tests build theirs (``make_test_finder`` in pip's
``tests/lib/__init__.py``): a ``LinkCollector`` over ``SearchScope.create``,
``SelectionPreferences``, a ``TargetPython``, then ``PackageFinder.create``,
which is also what ``pip install`` does (``_build_package_finder``) once it
has parsed its options.  Only pip APIs present in every supported pip
(22.3.1 to 26.3) are used; the few that changed are bridged here, once:

- pre-releases: ``SelectionPreferences(allow_all_prereleases=...)`` up to
  pip 25.3; pip 26 has ``release_control=ReleaseControl(...)`` instead
  (``--pre`` became ``--all-releases :all:``);
- ``PackageFinder.create(uploaded_prior_to=...)`` exists from pip 26.0;
- ``BestCandidateResult.iter_applicable()`` up to pip 24.3; from 25.0 it is
  the ``applicable_candidates`` list.

pip is imported on first use, not when this module is.

Where pipcachefirst is installed (the dev venvs, tox), its ``.pth`` arms its
hooks in this process too, so ``PackageFinder.find_best_candidate`` and
``evaluate_links`` carry its wrappers, as in every real pip run.  Outside a
pip command (no cache location known) those call pip's own method unchanged;
the helpers below that check pip's rules go through
``make_candidate_evaluator``, which is never wrapped.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import os
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

import pytest

PIP_VERSION: Tuple[int, ...] = tuple(int(p) for p in metadata.version("pip").split(".")[:2])

PathOrUrl = Union[str, "os.PathLike[str]"]


def make_finder(
    index_urls: Sequence[str] = (),
    find_links: Sequence[PathOrUrl] = (),
    *,
    only_binary: Union[str, Sequence[str]] = (),
    no_binary: Union[str, Sequence[str]] = (),
    python_version: Union[str, Tuple[int, ...], None] = None,
    platforms: Optional[Sequence[str]] = None,
    abis: Optional[Sequence[str]] = None,
    implementation: Optional[str] = None,
    allow_all_prereleases: bool = False,
    prefer_binary: bool = False,
    ignore_requires_python: bool = False,
    allow_yanked: bool = True,
    uploaded_prior_to: Optional[datetime.datetime] = None,
    session: Any = None,
) -> Any:
    """The ``PackageFinder`` ``pip install`` would make for these options.

    Each keyword is the pip option of the same name: ``only_binary=":all:"``
    is ``--only-binary :all:`` (a list is the option given several times;
    ``no_binary`` values are applied before ``only_binary`` ones),
    ``python_version="3.8"`` or ``(3, 8)`` is ``--python-version 3.8``,
    ``platforms``/``abis``/``implementation`` are ``--platform``/``--abi``/
    ``--implementation``, ``allow_all_prereleases`` is ``--pre``.
    ``allow_yanked=True`` is what every pip command passes (yanked files
    are then picked only for pins).  ``uploaded_prior_to`` needs pip 26.
    """
    # pip on first use (see the module's text): a name one pip lacks fails only the test that needs it
    from pip._internal.index.collector import LinkCollector  # noqa: PLC0415
    from pip._internal.index.package_finder import PackageFinder  # noqa: PLC0415
    from pip._internal.models.format_control import FormatControl  # noqa: PLC0415
    from pip._internal.models.search_scope import SearchScope  # noqa: PLC0415
    from pip._internal.models.selection_prefs import SelectionPreferences  # noqa: PLC0415
    from pip._internal.models.target_python import TargetPython  # noqa: PLC0415

    search_scope = SearchScope.create(
        find_links=[os.fspath(location) for location in find_links],
        index_urls=list(index_urls),
        no_index=False,
    )
    link_collector = LinkCollector(session=session or shared_session(), search_scope=search_scope)

    format_control = FormatControl(set(), set())
    for value in _values(no_binary):
        FormatControl.handle_mutual_excludes(value, format_control.no_binary, format_control.only_binary)
    for value in _values(only_binary):
        FormatControl.handle_mutual_excludes(value, format_control.only_binary, format_control.no_binary)

    preferences = {
        "allow_yanked": allow_yanked,
        "format_control": format_control,
        "prefer_binary": prefer_binary,
        "ignore_requires_python": ignore_requires_python,
    }
    if _accepts(SelectionPreferences, "release_control"):  # pip >= 26
        from pip._internal.models.release_control import ReleaseControl  # noqa: PLC0415

        release_control = ReleaseControl()
        if allow_all_prereleases:
            release_control.all_releases.add(":all:")
        preferences["release_control"] = release_control
    else:
        preferences["allow_all_prereleases"] = allow_all_prereleases

    target_python = TargetPython(
        platforms=list(platforms) if platforms is not None else None,
        py_version_info=_version_info(python_version),
        abis=list(abis) if abis is not None else None,
        implementation=implementation,
    )
    create_kwargs = {}
    if uploaded_prior_to is not None:
        if not _accepts(PackageFinder.create, "uploaded_prior_to"):
            pytest.skip(f"pip {'.'.join(map(str, PIP_VERSION))} has no --uploaded-prior-to")
        create_kwargs["uploaded_prior_to"] = uploaded_prior_to
    return PackageFinder.create(
        link_collector=link_collector,
        selection_prefs=SelectionPreferences(**preferences),
        target_python=target_python,
        **create_kwargs,
    )


@functools.lru_cache(maxsize=None)
def shared_session() -> Any:
    """One ``PipSession`` for every finder: making one costs a tenth of a second, and none is used for the network."""
    from pip._internal.network.session import PipSession  # noqa: PLC0415

    with warnings.catch_warnings():
        # its User-Agent scans the installed distributions: pip 22/23 load pkg_resources, which warns
        warnings.simplefilter("ignore", DeprecationWarning)
        return PipSession()


def make_link(
    location: PathOrUrl,
    *,
    requires_python: Optional[str] = None,
    yanked_reason: Optional[str] = None,
    sha256: Optional[str] = None,
    comes_from: Optional[str] = None,
) -> Any:
    """A pip ``Link`` as an index page or find-links directory would list it.

    ``location`` is a local path (the file need not exist) or a URL.
    ``yanked_reason=""`` is yanked without a reason.  The digest goes in the
    URL fragment, the one form every supported pip honours in
    ``Link.is_hash_allowed`` (pip 22.3 ignores ``Link(hashes=...)`` there).
    ``comes_from`` is the page URL the link was listed on.
    """
    from pip._internal.models.link import Link  # noqa: PLC0415
    from pip._internal.utils.urls import path_to_url  # noqa: PLC0415

    url = os.fspath(location)
    if "://" not in url:
        url = path_to_url(url)
    if sha256:
        url += "#sha256=" + sha256
    return Link(url, comes_from=comes_from, requires_python=requires_python, yanked_reason=yanked_reason)


def specifier(text: str = "") -> Any:
    """pip's own ``SpecifierSet`` (the vendored ``packaging``), as pip hands it to its finder."""
    from pip._vendor.packaging.specifiers import SpecifierSet  # noqa: PLC0415

    return SpecifierSet(text)


def allowed_hashes(*sha256: str) -> Any:
    """pip's ``Hashes`` for ``--hash sha256:...`` options on one requirement."""
    from pip._internal.utils.hashes import Hashes  # noqa: PLC0415

    return Hashes({"sha256": list(sha256)})


def candidates(finder: Any, project_name: str, links: Iterable[Any]) -> List[Any]:
    """The links pip keeps as install candidates for ``project_name`` (its link evaluation)."""
    return list(finder.evaluate_links(finder.make_link_evaluator(project_name), links))


def rejection(finder: Any, project_name: str, link: Any) -> Optional[Tuple[str, str]]:
    """Why pip's link evaluator rejects ``link`` (``(kind, detail)``), or ``None`` if it keeps it.

    ``kind`` is pip's ``LinkType`` name: ``platform_mismatch``,
    ``format_unsupported``, ``requires_python_mismatch``, ...
    """
    kind, detail = finder.make_link_evaluator(project_name).evaluate_link(link)
    if kind.name == "candidate":
        return None
    return kind.name, str(detail)


def best_result(
    finder: Any, project_name: str, found: Sequence[Any], specifier: Any = None, hashes: Any = None
) -> Any:
    """pip's ``BestCandidateResult`` among ``found``: what ``find_best_candidate`` computes from them."""
    evaluator = finder.make_candidate_evaluator(project_name=project_name, specifier=specifier, hashes=hashes)
    return evaluator.compute_best_candidate(list(found))


def best_filename(
    finder: Any, project_name: str, found: Sequence[Any], specifier: Any = None, hashes: Any = None
) -> Optional[str]:
    """The file pip would pick among ``found``, or ``None``."""
    best = best_result(finder, project_name, found, specifier, hashes).best_candidate
    return None if best is None else best.link.filename


def applicable(result: Any) -> List[Any]:
    """A ``BestCandidateResult``'s applicable candidates, best last (pip's order), on every pip."""
    if hasattr(result, "applicable_candidates"):  # pip >= 25.0
        return list(result.applicable_candidates)
    return list(result.iter_applicable())


def filenames(found: Iterable[Any]) -> List[str]:
    return [candidate.link.filename for candidate in found]


def make_files(directory: Path, *names: str, content: bytes = b"") -> List[Path]:
    """Files named ``names`` in ``directory`` (made if missing): a find-links directory, for instance."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = directory / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def _values(option: Union[str, Sequence[str]]) -> List[str]:
    return [option] if isinstance(option, str) else list(option)


def _version_info(version: Union[str, Tuple[int, ...], None]) -> Optional[Tuple[int, ...]]:
    """``--python-version`` as pip reads it: ``3``, ``38``, ``3.8`` or ``3.8.1``."""
    if version is None or isinstance(version, tuple):
        return version
    if "." in version:
        return tuple(int(part) for part in version.split("."))
    return (int(version[0]), int(version[1:])) if len(version) > 1 else (int(version),)


def _accepts(function: Any, name: str) -> bool:
    return name in inspect.signature(function).parameters
