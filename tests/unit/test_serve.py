"""Choosing a cached file for a pin, in-process, against a real pip ``PackageFinder``.

pip's own evaluators decide (tags, Requires-Python, --only-binary, hashes);
serve chooses on records alone and fetches only the winner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple, Union

import pytest

from pipcachefirst.base.settings import PREFER_OFFLINE
from pipcachefirst.cache.catalog import Entry, Record, Sibling
from pipcachefirst.cache.decisions import Reason
from pipcachefirst.cache.store import Store
from pipcachefirst.pip import compat, serve
from tests.unit.pipfinder import allowed_hashes, specifier

INDEX = "https://index.example/simple"
OTHER_INDEX = "https://other.example/simple"
FOREIGN_WHEEL = "alpha-1.0-cp27-cp27m-win32.whl"


class CountingStore(Store):
    """The local store, noting which records were fetched."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.fetched: List[str] = []

    def fetch(self, record: Record) -> Union[Entry, Reason]:
        self.fetched.append(record.filename)
        return super().fetch(record)


@pytest.fixture
def cache(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "cache")


def cache_file(
    cache: Store, tmp_path: Path, filename: str, origin: str = INDEX, siblings: Tuple[Sibling, ...] = (), **fields: Any
) -> Entry:
    source = tmp_path / filename
    source.write_bytes(filename.encode())
    entry = cache.put(source, Record(filename, "", 0, f"{origin}/{filename}", origin, siblings=siblings, **fields))
    assert entry is not None
    return entry


def served(answer: serve.Answer) -> str:
    assert answer.decision is not None and answer.decision.served, answer.decision
    return str(answer.result.best_candidate.link.file_path)


def refused(answer: serve.Answer) -> str:
    decision = answer.decision
    assert answer.result is None and decision is not None and not decision.served
    return decision.detail


def test_a_pin_is_served_from_records_and_only_the_winner_is_fetched(
    cache: CountingStore, tmp_path: Path, make_finder: Callable[..., Any]
) -> None:
    wheel = cache_file(cache, tmp_path, "alpha-1.0-py3-none-any.whl", siblings=(Sibling("alpha-1.0.tar.gz"),))
    cache_file(cache, tmp_path, "alpha-1.0.tar.gz", siblings=(Sibling("alpha-1.0-py3-none-any.whl"),))
    answer = serve.answer(cache, make_finder([INDEX]), "alpha", specifier("==1.0"), None, [INDEX])
    assert served(answer) == str(wheel.path)
    assert answer.decision is not None and answer.decision.detail == "alpha-1.0-py3-none-any.whl"
    assert cache.fetched == ["alpha-1.0-py3-none-any.whl"]


def test_a_cached_sdist_is_not_served_when_the_index_listed_a_wheel_for_this_interpreter(
    cache: CountingStore, tmp_path: Path, make_finder: Callable[..., Any]
) -> None:
    cache_file(cache, tmp_path, "alpha-1.0.tar.gz", siblings=(Sibling("alpha-1.0-py3-none-any.whl"),))
    answer = serve.answer(cache, make_finder([INDEX]), "alpha", specifier("==1.0"), None, [INDEX])
    assert refused(answer) == str(Reason.BETTER_FILE_ON_INDEX)
    assert cache.fetched == []  # decided on records alone


def test_the_same_cached_sdist_is_served_when_that_wheel_does_not_fit_the_target(
    cache: CountingStore, tmp_path: Path, make_finder: Callable[..., Any]
) -> None:
    sdist = cache_file(cache, tmp_path, "alpha-1.0.tar.gz", siblings=(Sibling(FOREIGN_WHEEL),))
    answer = serve.answer(cache, make_finder([INDEX]), "alpha", specifier("==1.0"), None, [INDEX])
    assert served(answer) == str(sdist.path)


@pytest.mark.parametrize(
    "filename, finder_options, fields",
    [
        (FOREIGN_WHEEL, {}, {}),
        ("alpha-1.0.tar.gz", {"only_binary": ":all:"}, {}),
        ("alpha-1.0-py3-none-any.whl", {}, {"requires_python": ">=4"}),
    ],
    ids=["other platform", "only-binary", "requires-python"],
)
def test_pip_own_rules_decide_what_fits(
    cache: CountingStore,
    tmp_path: Path,
    make_finder: Callable[..., Any],
    filename: str,
    finder_options: Dict[str, Any],
    fields: Dict[str, Any],
) -> None:
    cache_file(cache, tmp_path, filename, **fields)
    answer = serve.answer(cache, make_finder([INDEX], **finder_options), "alpha", specifier("==1.0"), None, [INDEX])
    assert refused(answer) == str(Reason.NO_COMPATIBLE_FILE)


def test_hashes_the_user_gave_must_match(cache: CountingStore, tmp_path: Path, make_finder: Callable[..., Any]) -> None:
    wheel = cache_file(cache, tmp_path, "alpha-1.0-py3-none-any.whl")
    finder = make_finder([INDEX])
    wrong = serve.answer(cache, finder, "alpha", specifier("==1.0"), allowed_hashes("0" * 64), [INDEX])
    assert refused(wrong) == str(Reason.HASH_MISMATCH)
    right = serve.answer(cache, finder, "alpha", specifier("==1.0"), allowed_hashes(wheel.record.sha256), [INDEX])
    assert served(right) == str(wheel.path)


def test_a_file_cached_from_another_index_is_not_served(
    cache: CountingStore, tmp_path: Path, make_finder: Callable[..., Any]
) -> None:
    cache_file(cache, tmp_path, "alpha-1.0-py3-none-any.whl", origin=OTHER_INDEX)
    answer = serve.answer(cache, make_finder([INDEX]), "alpha", specifier("==1.0"), None, [INDEX])
    assert refused(answer) == str(Reason.OTHER_INDEX)


def test_a_damaged_winner_is_moved_aside_and_not_served(
    cache: CountingStore, tmp_path: Path, make_finder: Callable[..., Any]
) -> None:
    wheel = cache_file(cache, tmp_path, "alpha-1.0-py3-none-any.whl")
    wheel.path.write_bytes(b"x" * wheel.record.size)
    answer = serve.answer(cache, make_finder([INDEX]), "alpha", specifier("==1.0"), None, [INDEX])
    assert refused(answer) == str(Reason.DAMAGED)
    assert not wheel.path.exists() and any((cache.root / "quarantine").iterdir())


def test_a_yanked_file_is_served_for_a_pin_as_pip_would(
    cache: CountingStore, tmp_path: Path, make_finder: Callable[..., Any]
) -> None:
    wheel = cache_file(cache, tmp_path, "alpha-1.0-py3-none-any.whl", yanked_reason="broken")
    answer = serve.answer(cache, make_finder([INDEX]), "alpha", specifier("==1.0"), None, [INDEX])
    assert served(answer) == str(wheel.path)


def test_a_range_is_left_to_pip_unless_prefer_offline(
    cache: CountingStore, tmp_path: Path, make_finder: Callable[..., Any]
) -> None:
    cache_file(cache, tmp_path, "alpha-1.0-py3-none-any.whl")
    newer = cache_file(cache, tmp_path, "alpha-1.2-py3-none-any.whl")
    cache_file(cache, tmp_path, "alpha-2.0b1-py3-none-any.whl")
    finder = make_finder([INDEX])
    assert serve.answer(cache, finder, "alpha", specifier(">=1,<3"), None, [INDEX]) is serve.PASS
    answer = serve.answer(cache, finder, "alpha", specifier(">=1,<3"), None, [INDEX], mode=PREFER_OFFLINE)
    assert served(answer) == str(newer.path)


def test_without_an_index_in_use_nothing_is_served(
    cache: CountingStore, tmp_path: Path, make_finder: Callable[..., Any]
) -> None:
    cache_file(cache, tmp_path, "alpha-1.0-py3-none-any.whl")
    answer = serve.answer(cache, make_finder(), "alpha", specifier("==1.0"), None, [])
    assert refused(answer) == str(Reason.NO_INDEX)


def test_a_wheel_built_earlier_is_found_only_for_its_sdist_and_interpreter(
    cache: CountingStore, tmp_path: Path
) -> None:
    sdist = cache_file(cache, tmp_path, "alpha-1.0.tar.gz")
    here = compat.interpreter_tag()
    built = cache_file(cache, tmp_path, "alpha-1.0-py3-none-any.whl", kind="built", built_from=sdist.record.sha256,
                       built_by=here)
    assert serve.built_wheel(cache, sdist.record) == built
    assert serve.built_wheel(cache, sdist.record, supported=lambda name: False) is None
    other_sdist = sdist.record._replace(sha256="f" * 64)
    assert serve.built_wheel(cache, other_sdist) is None
