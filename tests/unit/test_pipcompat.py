"""The one table of pip hook points, checked against the pip installed here."""

from __future__ import annotations

import datetime
import importlib
from importlib import metadata
from pathlib import Path

import pytest

from pipcachefirst.pip import compat
from pipcachefirst.pip.compat import HOOK_POINTS, HookPoint, PipBehavior


def test_every_hook_point_is_in_this_pip_with_the_parameters_we_bind() -> None:
    assert compat.hook_points() == {point.attribute: "ok" for point in HOOK_POINTS}


def test_a_hook_point_whose_parameters_changed_is_reported_with_the_feature_it_turns_off() -> None:
    point = compat.FIND_BEST_CANDIDATE._replace(parameters=("self", "name", "specifier", "hashes"))
    module = importlib.import_module(point.module)
    with pytest.raises(TypeError, match="expected"):
        compat.hook_target(module, point)


def test_arguments_are_found_by_name_wherever_pip_passes_them() -> None:
    point = HookPoint("m", "f", ("self", "project_name", "specifier", "hashes"), "serving")
    assert point.argument("specifier", ("alpha", ">=1"), {}) == ">=1"
    assert point.argument("specifier", ("alpha",), {"specifier": "==1"}) == "==1"
    assert point.argument("hashes", ("alpha",), {}, None) is None
    with pytest.raises(KeyError):
        point.argument("hashes", ("alpha",), {})


def test_every_feature_has_its_hook_points_named_once() -> None:
    attributes = [(point.module, point.attribute) for point in HOOK_POINTS]
    assert len(attributes) == len(set(attributes))
    assert all(point.feature for point in HOOK_POINTS)


@pytest.mark.parametrize(
    "version, hash_mode, lock",
    [("22.3.1", False, False), ("23.1", True, False), ("25.1", True, True), ("26.3", True, True)],
)
def test_what_differs_between_pips_is_named(version: str, hash_mode: bool, lock: bool) -> None:
    behavior = PipBehavior(version)
    assert behavior.supported
    assert behavior.built_wheels_in_hash_mode is hash_mode
    assert behavior.wheel_cache_refuses_no_binary is not hash_mode
    assert behavior.lock_command is lock


def test_an_unknown_pip_is_not_supported() -> None:
    assert not PipBehavior("27.0").supported
    assert not PipBehavior("not-a-version").supported
    assert PipBehavior(metadata.version("pip")).supported


class _Session:
    """What ``settle_user_agent`` reads of a PipSession: its headers."""

    def __init__(self, agent: str) -> None:
        self.headers = {"User-Agent": agent}


def test_a_deferred_user_agent_is_pips_own_once_a_request_needs_it() -> None:
    calls = []

    def pips_user_agent() -> str:
        calls.append(1)
        return 'pip/26.3 {"installer":{"name":"pip"}}'

    session = _Session(compat.defer_user_agent(pips_user_agent))
    assert calls == [], "nothing is computed while no request is made"
    compat.settle_user_agent(session)
    compat.settle_user_agent(session)
    assert session.headers["User-Agent"] == 'pip/26.3 {"installer":{"name":"pip"}}'
    assert type(session.headers["User-Agent"]) is str
    assert calls == [1]


def test_a_user_agent_that_fails_to_compute_leaves_a_plain_header_and_is_not_tried_again() -> None:
    def failing() -> str:
        raise OSError("no rustc today")

    session = _Session(compat.defer_user_agent(failing))
    with pytest.raises(OSError):
        compat.settle_user_agent(session)
    assert type(session.headers["User-Agent"]) is str
    assert session.headers["User-Agent"].startswith("pip/")
    compat.settle_user_agent(session)  # nothing left to settle


def test_a_user_agent_pip_computed_itself_is_left_alone() -> None:
    session = _Session("pip/26.3 full")
    compat.settle_user_agent(session)
    assert session.headers["User-Agent"] == "pip/26.3 full"


def test_pips_self_check_state_answers_only_what_this_pip_reads_and_counts_as_current(tmp_path: Path) -> None:
    """A state borrowed for the self-version check must be one pip itself reads as current, never one it fails on."""
    state = importlib.import_module("pip._internal.self_outdated_check").SelfCheckState(cache_dir=str(tmp_path))
    now = datetime.datetime.now(datetime.timezone.utc)

    def written(when: datetime.datetime) -> str:  # as this pip writes last_check
        if PipBehavior(metadata.version("pip")).self_check_aware_time:
            return when.isoformat()
        return when.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert compat.self_check_answer(state) is None, "a fresh venv: no state"
    compat.use_self_check_state(state, {"last_check": written(now), "pypi_version": "99.0"})
    assert compat.self_check_answer(state) == "99.0"
    compat.use_self_check_state(state, {"last_check": written(now - datetime.timedelta(days=8)), "pypi_version": "99"})
    assert compat.self_check_answer(state) is None, "over pip's week"
    compat.use_self_check_state(state, {"last_check": "last Tuesday", "pypi_version": "99.0"})
    assert compat.self_check_answer(state) is None, "a date this pip cannot read"


@pytest.mark.parametrize("lib_dir", ["/venv/lib/python3/site-packages", "/venv/lib/../lib/site-packages",
                                     "/venv/lib/site-packages/", "venv/site-packages", "/"])
def test_a_record_rows_path_is_pips_own_for_every_shape_of_path(lib_dir: str) -> None:
    wheel_module = importlib.import_module("pip._internal.operations.install.wheel")
    pips = wheel_module._fs_to_record_path
    quick = compat.quick_record_path(pips)
    tails = ["a.py", "pkg/__init__.py", "pkg/sub/data.json", "pkg//a.py", "pkg/./a.py", "pkg/../a.py", "./a.py",
             "../bin/tool", "pkg/", "pkg/.", "pkg/..", "", ".hidden/.a", "pkg/...", "pkg/a..py"]
    paths = [f"{lib_dir.rstrip('/')}/{tail}" for tail in tails] + [f"{lib_dir}{tail}" for tail in tails]
    paths += ["/venv/bin/tool", "/elsewhere/a.py", lib_dir, lib_dir.rstrip("/") + "-other/a.py"]
    for path in paths:
        assert quick(path, lib_dir) == pips(path, lib_dir), path
    assert compat.install_step(wheel_module).record_path is pips
