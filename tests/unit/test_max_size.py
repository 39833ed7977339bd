"""The cache's size limit: ``PIPCACHEFIRST_MAX_SIZE`` read as ``prune --max-size`` reads a size, and what goes first."""

from __future__ import annotations

import argparse
from typing import List, Optional

import pytest

from pipcachefirst.base.settings import DEFAULT_MAX_SIZE, max_size, parse_size
from pipcachefirst.cache.tidying import GRACE_SECONDS, Removable, over_limit, remove
from pipcachefirst.commands import prune

GiB, MiB, KiB = 1024**3, 1024**2, 1024


@pytest.mark.parametrize("text, size", [
    ("10G", 10 * GiB), ("500M", 500 * MiB), ("0", 0), ("4096", 4096), ("1.5GiB", GiB + GiB // 2), ("2Gi", 2 * GiB),
    (" 10 MB ", 10 * MiB), ("1k", KiB), ("3T", 3 * 1024**4),
])
def test_a_size_is_read_the_same_by_the_variable_and_by_prune(text: str, size: int) -> None:
    assert parse_size(text) == size
    assert max_size({"PIPCACHEFIRST_MAX_SIZE": text}) == (size, None)
    assert prune.size(text) == size


@pytest.mark.parametrize("text", ["ten gigs", "-1", "1e3", "10X", "G", "10IB", "1.G"])
def test_a_value_that_is_not_a_size_costs_one_line_and_the_default_holds(text: str) -> None:
    size, problem = max_size({"PIPCACHEFIRST_MAX_SIZE": text})
    assert size == DEFAULT_MAX_SIZE == 10 * GiB
    assert problem is not None and "PIPCACHEFIRST_MAX_SIZE" in problem and "\n" not in problem
    with pytest.raises(argparse.ArgumentTypeError):
        prune.size(text)


def test_unset_or_blank_is_ten_gibibytes_and_zero_is_no_limit() -> None:
    assert max_size({}) == max_size({"PIPCACHEFIRST_MAX_SIZE": " "}) == (10 * GiB, None)
    assert max_size({"PIPCACHEFIRST_MAX_SIZE": "0"}) == (0, None)


# -- what goes first ------------------------------------------------------------

NOW = 1_000_000.0
HOUR = 3600.0


def item(name: str, hours_ago: float, size: int, is_tree: bool) -> Removable:
    last_used = NOW - hours_ago * HOUR
    return Removable(last_used, size, name, None, lambda: True, is_tree, lambda: last_used)  # type: ignore[arg-type]


def chosen(items: List[Removable], limit: int, grace: Optional[float] = None) -> List[str]:
    return [i.name for i in over_limit(items, limit, NOW, GRACE_SECONDS if grace is None else grace)]


CACHE = [
    item("old file", 50, 10, False),
    item("recent tree", 1, 30, True),
    item("old tree", 20, 30, True),
    item("middle file", 5, 10, False),
    item("recent file", 2, 10, False),
    item("tree in use", 0.05, 30, True),  # three minutes ago: a pip may be placing it now
]  # 120 bytes


def test_least_recently_used_trees_go_first_then_files_until_the_cache_fits() -> None:
    assert chosen(CACHE, 120) == []
    assert chosen(CACHE, 119) == ["old tree"]
    assert chosen(CACHE, 60) == ["old tree", "recent tree"]
    assert chosen(CACHE, 50) == ["old tree", "recent tree", "old file"]
    assert chosen(CACHE, 35) == ["old tree", "recent tree", "old file", "middle file", "recent file"]


def test_nothing_used_in_the_last_ten_minutes_goes_even_when_the_cache_stays_over() -> None:
    assert chosen(CACHE, 0) == ["old tree", "recent tree", "old file", "middle file", "recent file"]
    assert "tree in use" in chosen(CACHE, 0, grace=0), "pip cache purge spares nothing"


def test_what_a_pip_took_since_the_cache_was_listed_stays() -> None:
    gone: List[str] = []

    def take() -> bool:
        gone.append("tree")
        return True

    listed_old = Removable(NOW - 2 * HOUR, 30, "tree", None, take, True, lambda: NOW - 1)  # type: ignore[arg-type]
    assert remove([listed_old], NOW, GRACE_SECONDS).removed == [] and gone == []
    assert remove([listed_old], NOW, 0).removed == [listed_old], "pip cache purge takes it all the same"


def test_the_size_is_checked_as_often_as_what_was_used_is_spared() -> None:
    from pipcachefirst.cache import limit  # noqa: PLC0415

    assert limit.CHECK_EVERY == GRACE_SECONDS == 600
