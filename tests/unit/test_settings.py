"""The environment variables of the README's table, read as the table says.

Every call gets its own ``environ`` (or value), never this machine's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipcachefirst import switch_state
from pipcachefirst.base.settings import cache_location, mode, switch_problem

# -- PIPCACHEFIRST: on, off, or a value we do not know --------------------------


@pytest.mark.parametrize("value", ["0", "false", "off", "no", "OFF", " No ", "False"])
def test_a_user_turns_it_off_for_one_command(value: str) -> None:
    assert switch_state(value) == "off"
    assert switch_problem({"PIPCACHEFIRST": value}) is None


@pytest.mark.parametrize("value", ["", "1", "true", "on", "yes", "YES", " On "])
def test_unset_or_a_yes_value_means_on(value: str) -> None:
    assert switch_state(value) == "on"
    assert switch_problem({"PIPCACHEFIRST": value}) is None


def test_unset_is_on_and_needs_no_message() -> None:
    assert switch_problem({}) is None


@pytest.mark.parametrize("value", ["2", "enable", "disabled", "of"])
def test_an_unknown_value_is_one_line_naming_the_variable_and_its_accepted_values(value: str) -> None:
    assert switch_state(value) == "invalid"
    line = switch_problem({"PIPCACHEFIRST": value})
    assert line is not None and "\n" not in line
    assert line.startswith("pipcachefirst: ")
    assert f"PIPCACHEFIRST={value!r}" in line
    assert "staying off" in line
    for accepted in ("1", "true", "on", "yes", "0", "false", "off", "no"):
        assert accepted in line


# -- PIPCACHEFIRST_MODE ------------------------------------------------------------


def test_the_default_mode_is_exact() -> None:
    assert mode({}) == ("exact", None)
    assert mode({"PIPCACHEFIRST_MODE": ""}) == ("exact", None)


@pytest.mark.parametrize(
    "value, expected",
    [("exact", "exact"), ("prefer-offline", "prefer-offline"), ("offline", "offline"), (" Offline ", "offline")],
)
def test_a_user_picks_a_mode(value: str, expected: str) -> None:
    assert mode({"PIPCACHEFIRST_MODE": value}) == (expected, None)


def test_an_unknown_mode_is_one_line_and_exact() -> None:
    chosen, line = mode({"PIPCACHEFIRST_MODE": "prefer_offline"})

    assert chosen == "exact"
    assert line is not None and "\n" not in line
    assert "PIPCACHEFIRST_MODE='prefer_offline'" in line
    assert "exact, prefer-offline, offline" in line


# -- where the cache lives -----------------------------------------------------------


def test_without_variables_the_cache_is_inside_pips_cache(tmp_path: Path) -> None:
    location = cache_location(str(tmp_path / "pip-cache"), {})

    assert location.root == str(tmp_path / "pip-cache" / "cachefirst")
    assert location.reason == "inside pip's cache"


def test_pipcachefirst_dir_wins_over_the_legacy_variable_and_pips_cache(tmp_path: Path) -> None:
    environ = {"PIPCACHEFIRST_DIR": str(tmp_path / "ours"), "PIP_DOWNLOAD_CACHE": str(tmp_path / "legacy")}

    location = cache_location(str(tmp_path / "pip-cache"), environ)

    assert location.root == str(tmp_path / "ours")
    assert location.reason == "from PIPCACHEFIRST_DIR"


def test_pip_download_cache_is_used_when_pipcachefirst_dir_is_unset_or_blank(tmp_path: Path) -> None:
    for environ in ({"PIP_DOWNLOAD_CACHE": str(tmp_path / "legacy")},
                    {"PIPCACHEFIRST_DIR": "  ", "PIP_DOWNLOAD_CACHE": str(tmp_path / "legacy")}):
        location = cache_location(str(tmp_path / "pip-cache"), environ)
        assert location.root == str(tmp_path / "legacy")
        assert location.reason == "from PIP_DOWNLOAD_CACHE"


@pytest.mark.parametrize("no_cache_dir", [False, None, ""])
def test_no_cache_dir_turns_this_cache_off_too(no_cache_dir: str | bool | None) -> None:
    location = cache_location(no_cache_dir, {})

    assert location.root is None
    assert "--no-cache-dir" in location.reason


def test_a_variable_still_names_the_cache_under_no_cache_dir(tmp_path: Path) -> None:
    assert cache_location(False, {"PIPCACHEFIRST_DIR": str(tmp_path)}).root == str(tmp_path)


def test_relative_and_home_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    assert cache_location(None, {"PIPCACHEFIRST_DIR": "rel/cache"}).root == str(tmp_path / "rel" / "cache")
    assert cache_location(None, {"PIPCACHEFIRST_DIR": "~/cache"}).root == str(tmp_path / "home" / "cache")
    assert cache_location("rel/pip", {}).root == os.path.join(str(tmp_path / "rel" / "pip"), "cachefirst")
