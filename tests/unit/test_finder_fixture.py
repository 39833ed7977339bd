"""The fixture's finder is pip's own: it keeps and rejects files, and picks among them, by pip's rules.

Every other fast test that hands pipcachefirst a finder relies on this: if
the fixture built something pip-shaped but not pip, those tests would check
pipcachefirst against the wrong rules.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from tests.unit.pipfinder import (
    allowed_hashes,
    applicable,
    best_filename,
    best_result,
    candidates,
    filenames,
    make_files,
    rejection,
    specifier,
)

# A platform this interpreter cannot install wheels for, whatever it runs on.
OTHER_PLATFORM = "manylinux2014_x86_64" if sys.platform == "win32" else "win_amd64"
THIS_PYTHON = f"cp{sys.version_info[0]}{sys.version_info[1]}"


def test_a_wheel_for_another_platform_is_not_a_candidate(
    finder: Any, make_link: Callable[..., Any], tmp_path: Path
) -> None:
    here = make_link(tmp_path / "alpha-1.0-py3-none-any.whl")
    elsewhere = make_link(tmp_path / f"alpha-1.0-{THIS_PYTHON}-{THIS_PYTHON}-{OTHER_PLATFORM}.whl")

    assert filenames(candidates(finder, "alpha", [here, elsewhere])) == ["alpha-1.0-py3-none-any.whl"]
    rejected = rejection(finder, "alpha", elsewhere)
    assert rejected is not None
    kind, detail = rejected
    assert kind == "platform_mismatch"
    assert OTHER_PLATFORM in detail


def test_pip_download_for_another_platform_takes_that_platforms_wheel(
    make_finder: Callable[..., Any], make_link: Callable[..., Any], tmp_path: Path
) -> None:
    # pip download --platform win_amd64 --python-version 3.x --implementation cp --abi cp3x --only-binary :all:
    finder = make_finder(
        platforms=[OTHER_PLATFORM],
        python_version=sys.version_info[:2],
        implementation="cp",
        abis=[THIS_PYTHON],
        only_binary=":all:",
    )
    elsewhere = make_link(tmp_path / f"alpha-1.0-{THIS_PYTHON}-{THIS_PYTHON}-{OTHER_PLATFORM}.whl")

    assert rejection(finder, "alpha", elsewhere) is None


def test_only_binary_all_rejects_an_sdist_and_no_binary_a_wheel(
    make_finder: Callable[..., Any], make_link: Callable[..., Any], tmp_path: Path
) -> None:
    sdist = make_link(tmp_path / "alpha-1.0.tar.gz")
    wheel = make_link(tmp_path / "alpha-1.0-py3-none-any.whl")

    only_binary = make_finder(only_binary=":all:")
    assert filenames(candidates(only_binary, "alpha", [sdist, wheel])) == ["alpha-1.0-py3-none-any.whl"]
    rejected = rejection(only_binary, "alpha", sdist)
    assert rejected is not None and rejected[0] == "format_unsupported"

    no_binary = make_finder(no_binary=":all:")
    assert filenames(candidates(no_binary, "alpha", [sdist, wheel])) == ["alpha-1.0.tar.gz"]


def test_only_binary_for_one_project_leaves_the_others_alone(
    make_finder: Callable[..., Any], make_link: Callable[..., Any], tmp_path: Path
) -> None:
    finder = make_finder(only_binary="alpha")

    assert rejection(finder, "alpha", make_link(tmp_path / "alpha-1.0.tar.gz")) is not None
    assert rejection(finder, "beta", make_link(tmp_path / "beta-1.0.tar.gz")) is None


def test_requires_python_excludes_a_file_for_a_newer_python(
    make_finder: Callable[..., Any], make_link: Callable[..., Any], tmp_path: Path
) -> None:
    link = make_link(tmp_path / "alpha-1.0-py3-none-any.whl", requires_python=">=3.9")

    assert rejection(make_finder(python_version="3.9"), "alpha", link) is None
    rejected = rejection(make_finder(python_version="3.8"), "alpha", link)
    assert rejected is not None
    kind, detail = rejected
    assert kind == "requires_python_mismatch"
    assert ">=3.9" in detail
    assert rejection(make_finder(python_version="3.8", ignore_requires_python=True), "alpha", link) is None


def test_pip_prefers_a_wheel_to_the_sdist_of_the_same_version(
    finder: Any, make_link: Callable[..., Any], tmp_path: Path
) -> None:
    found = candidates(
        finder, "alpha", [make_link(tmp_path / "alpha-1.0.tar.gz"), make_link(tmp_path / "alpha-1.0-py3-none-any.whl")]
    )

    assert best_filename(finder, "alpha", found, specifier("==1.0")) == "alpha-1.0-py3-none-any.whl"


def test_a_newer_sdist_beats_an_older_wheel_unless_prefer_binary(
    make_finder: Callable[..., Any], make_link: Callable[..., Any], tmp_path: Path
) -> None:
    links = [make_link(tmp_path / "alpha-1.1.tar.gz"), make_link(tmp_path / "alpha-1.0-py3-none-any.whl")]

    plain = make_finder()
    assert best_filename(plain, "alpha", candidates(plain, "alpha", links), specifier(">=1.0")) == "alpha-1.1.tar.gz"
    prefer = make_finder(prefer_binary=True)
    assert best_filename(prefer, "alpha", candidates(prefer, "alpha", links), specifier(">=1.0")) == (
        "alpha-1.0-py3-none-any.whl"
    )


def test_a_pin_picks_its_version_and_nothing_else(finder: Any, make_link: Callable[..., Any], tmp_path: Path) -> None:
    found = candidates(
        finder, "alpha", [make_link(tmp_path / "alpha-1.1-py3-none-any.whl"), make_link(tmp_path / "alpha-1.0.tar.gz")]
    )

    assert best_filename(finder, "alpha", found, specifier("==1.0")) == "alpha-1.0.tar.gz"
    assert best_filename(finder, "alpha", found, specifier("==2.0")) is None


def test_a_pre_release_needs_pre_or_a_specifier_that_names_one(
    make_finder: Callable[..., Any], make_link: Callable[..., Any], tmp_path: Path
) -> None:
    links = [make_link(tmp_path / "alpha-2.0rc1-py3-none-any.whl"), make_link(tmp_path / "alpha-1.0-py3-none-any.whl")]

    plain = make_finder()
    assert best_filename(plain, "alpha", candidates(plain, "alpha", links), specifier(">=1.0")) == (
        "alpha-1.0-py3-none-any.whl"
    )
    assert best_filename(plain, "alpha", candidates(plain, "alpha", links), specifier("==2.0rc1")) == (
        "alpha-2.0rc1-py3-none-any.whl"
    )
    pre = make_finder(allow_all_prereleases=True)
    assert best_filename(pre, "alpha", candidates(pre, "alpha", links), specifier(">=1.0")) == (
        "alpha-2.0rc1-py3-none-any.whl"
    )


def test_a_yanked_file_is_taken_only_when_pinned(finder: Any, make_link: Callable[..., Any], tmp_path: Path) -> None:
    found = candidates(
        finder,
        "alpha",
        [make_link(tmp_path / "alpha-1.1-py3-none-any.whl", yanked_reason="broken"),
         make_link(tmp_path / "alpha-1.0-py3-none-any.whl")],
    )

    assert best_filename(finder, "alpha", found, specifier(">=1.0")) == "alpha-1.0-py3-none-any.whl"
    assert best_filename(finder, "alpha", found, specifier("==1.1")) == "alpha-1.1-py3-none-any.whl"


def test_a_hash_restricts_the_choice_to_the_file_it_names(
    finder: Any, make_link: Callable[..., Any], tmp_path: Path
) -> None:
    wheel_digest, sdist_digest = "a" * 64, "b" * 64
    found = candidates(
        finder,
        "alpha",
        [make_link(tmp_path / "alpha-1.0-py3-none-any.whl", sha256=wheel_digest),
         make_link(tmp_path / "alpha-1.0.tar.gz", sha256=sdist_digest)],
    )
    pin = specifier("==1.0")

    result = best_result(finder, "alpha", found, pin, allowed_hashes(sdist_digest))
    assert result.best_candidate.link.filename == "alpha-1.0.tar.gz"
    assert filenames(applicable(result)) == ["alpha-1.0.tar.gz"]
    # pip's rule: when no file matches, it keeps them all (the download's hash check refuses later)
    assert best_filename(finder, "alpha", found, pin, allowed_hashes("c" * 64)) == "alpha-1.0-py3-none-any.whl"


def test_a_find_links_folder_is_read_in_process(make_finder: Callable[..., Any], tmp_path: Path) -> None:
    folder = tmp_path / "wheels"
    make_files(folder, "alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz", f"alpha-2.0-cp39-cp39-{OTHER_PLATFORM}.whl")
    finder = make_finder(find_links=[folder])

    assert finder.find_links == [str(folder)]
    assert sorted(filenames(finder.find_all_candidates("alpha"))) == ["alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"]


def test_a_file_url_index_is_read_through_pips_session(make_finder: Callable[..., Any], tmp_path: Path) -> None:
    project = tmp_path / "simple" / "alpha"
    make_files(project, "alpha-1.0-py3-none-any.whl")
    (project / "index.html").write_text(
        '<!DOCTYPE html><html><body>'
        '<a href="alpha-1.0-py3-none-any.whl" data-requires-python="&gt;=3.99">alpha-1.0-py3-none-any.whl</a>'
        '</body></html>'
    )
    index = (tmp_path / "simple").as_uri()
    finder = make_finder(index_urls=[index])

    assert finder.index_urls == [index]
    assert finder.find_all_candidates("alpha") == []  # Requires-Python from the page applies
    assert filenames(make_finder(index_urls=[index], ignore_requires_python=True).find_all_candidates("alpha")) == [
        "alpha-1.0-py3-none-any.whl"
    ]


def test_it_is_pips_package_finder_with_the_locations_given(make_finder: Callable[..., Any], tmp_path: Path) -> None:
    from pip._internal.index.package_finder import PackageFinder  # noqa: PLC0415 -- pip's names where a test needs them

    finder = make_finder(index_urls=["https://user:token@example.org/simple"], find_links=[tmp_path])

    assert type(finder) is PackageFinder
    assert finder.index_urls == ["https://user:token@example.org/simple"]
    assert finder.find_links == [str(tmp_path)]
