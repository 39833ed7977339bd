"""``pip cache remove PATTERN`` takes from pipcachefirst's cache what pip's own rule would take."""

from __future__ import annotations

import optparse
from pathlib import Path

import pytest

from pipcachefirst.cache.tidying import matches

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
