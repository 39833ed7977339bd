"""``pip cache remove PATTERN`` takes from pipcachefirst's cache what pip's own rule would take."""

from __future__ import annotations

import optparse
import os
from pathlib import Path

import pytest

from pipcachefirst.cache.store import TREES, Store
from pipcachefirst.cache.tidying import matches, shelf

WHEELS = ["gamma-1.0-py3-none-any.whl", "gamma_extra-2.0-py3-none-any.whl", "Gamma-1.0-py3-none-any.whl",
          "gamma-1.01-cp311-cp311-linux_x86_64.whl", "alpha-1.0-py3-none-any.whl"]
PATTERNS = ["gamma", "gamma-1.0", "gam*", "gamma_*", "*", "gamma-1.0-py3-none-any", "Gamma", "delta"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_pattern_takes_the_wheels_pips_own_cache_command_would(tmp_path: Path, pattern: str) -> None:
    from pip._internal.commands.cache import CacheCommand  # noqa: PLC0415 -- pip's names where a test needs them

    wheels = tmp_path / "wheels" / "ab" / "cd"
    wheels.mkdir(parents=True)
    for name in WHEELS:
        (wheels / name).write_bytes(b"")
    options = optparse.Values({"cache_dir": str(tmp_path)})
    pips = sorted(Path(p).name for p in CacheCommand("cache", "")._find_wheels(options, pattern))

    assert sorted(name for name in WHEELS if matches(pattern, name)) == pips


def test_a_projects_sdists_match_as_its_wheels_do() -> None:
    assert matches("gamma", "gamma-1.0.tar.gz") and matches("gamma-1.0", "gamma-1.0.zip")
    assert not matches("gamma", "gamma_extra-1.0.tar.gz")
    assert not matches("gamma", ""), "a tree whose wheel cannot be read is only purged"


def test_one_walk_counts_the_trees_their_bytes_and_links_anywhere_in_the_bucket(tmp_path: Path) -> None:
    """``status``'s figures: trees and the bytes of their files, and what links save, as the bucket has them.

    Beside two trees: a tree being built (a hidden folder) and an interpreter
    folder's job file, each holding a link, which count for links only.
    """
    store = Store(tmp_path / "cache")
    bucket = tmp_path / "cache" / TREES.name
    elsewhere = tmp_path / "venv"
    elsewhere.mkdir()
    for tree, size in [("cp311-x/aaaa", 5000), ("cp311-x/bbbb/pkg/sub", 100), ("cp312-y/.tmp-cccc", 9000)]:
        (bucket / tree).mkdir(parents=True)
        (bucket / tree / "file.py").write_bytes(b"x" * size)
        os.link(bucket / tree / "file.py", elsewhere / tree.replace("/", "-"))
    (bucket / "cp311-x" / "bbbb" / "tree.json").write_text("{}")
    (bucket / "cp311-x" / "job-1.json").write_text("{}")
    os.link(bucket / "cp311-x" / "job-1.json", elsewhere / "job")
    (bucket / ".trash-dddd" / "eeee").mkdir(parents=True)

    def blocks(path: Path) -> int:
        return path.lstat().st_blocks * 512

    usage = shelf(store).usage()

    assert (usage.trees, usage.size) == (2, sum(
        blocks(p) for p in [bucket / "cp311-x/aaaa/file.py", bucket / "cp311-x/bbbb/pkg/sub/file.py",
                            bucket / "cp311-x/bbbb/tree.json"]))
    assert usage.saved_by_links == sum(blocks(p) for p in elsewhere.iterdir())
