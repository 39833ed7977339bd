"""The wrappers of ``hooks`` that need no pip run to tell what they do."""

from __future__ import annotations

import sys
from typing import Any, List

import pytest

from pipcachefirst.pip import compat, hooks
from pipcachefirst.pip.session import CURRENT as SESSION


def test_the_supported_tags_are_worked_out_once_per_set_of_arguments_and_each_caller_gets_a_copy() -> None:
    calls: List[Any] = []

    def get_supported(*args: Any, **kwargs: Any) -> List[str]:
        calls.append((args, kwargs))
        return ["cp311-cp311-linux_x86_64", "py3-none-any"]

    SESSION.supported_tags.clear()
    first = hooks._supported_tags_once(get_supported, None, (), {})
    first.append("changed by its caller")
    again = hooks._supported_tags_once(get_supported, None, (), {})
    other = hooks._supported_tags_once(get_supported, None, (), {"platforms": ["linux_x86_64"], "impl": "cp"})
    same_other = hooks._supported_tags_once(get_supported, None, (), {"impl": "cp", "platforms": ["linux_x86_64"]})

    assert again == ["cp311-cp311-linux_x86_64", "py3-none-any"]
    assert other == same_other
    assert calls == [((), {}), ((), {"platforms": ["linux_x86_64"], "impl": "cp"})]


def test_arguments_that_cannot_be_a_key_go_to_pips_function_every_time() -> None:
    calls: List[Any] = []

    def get_supported(*args: Any, **kwargs: Any) -> List[str]:
        calls.append(args)
        return ["py3-none-any"]

    SESSION.supported_tags.clear()
    for _ in range(2):
        assert hooks._supported_tags_once(get_supported, None, ({"not": "hashable"},), {}) == ["py3-none-any"]
    assert len(calls) == 2


def test_a_requires_dist_line_is_parsed_once_through_pips_own_cache_and_shared() -> None:
    # pip's names in the test that needs them: a pip without one fails this test only
    from pip._internal.utils.packaging import get_requirement  # noqa: PLC0415
    from pip._vendor.packaging.requirements import Requirement  # noqa: PLC0415

    first = hooks._requirement_parsed_once(Requirement, None, ("beta>=1.0; extra == 'x'",), {})
    again = hooks._requirement_parsed_once(Requirement, None, ("beta>=1.0; extra == 'x'",), {})

    assert first is again is get_requirement("beta>=1.0; extra == 'x'")
    assert str(first.specifier) == ">=1.0"


def test_a_line_that_does_not_parse_raises_pips_own_error_every_time() -> None:
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415

    for _ in range(2):
        with pytest.raises(InvalidRequirement):
            hooks._requirement_parsed_once(Requirement, None, ("beta >=> 1",), {})


def test_without_pips_cache_or_with_unusual_arguments_each_line_is_parsed_by_pip_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: List[Any] = []

    def requirement(*args: Any, **kwargs: Any) -> object:
        calls.append((args, kwargs))
        return object()

    hooks._requirement_parsed_once(requirement, None, (), {"requirement_string": "beta"})
    monkeypatch.delitem(sys.modules, "pip._internal.utils.packaging", raising=False)
    for _ in range(2):
        hooks._requirement_parsed_once(requirement, None, ("beta",), {})

    assert calls == [((), {"requirement_string": "beta"}), (("beta",), {}), (("beta",), {})]


class _Distribution:
    def __init__(self, canonical_name: str, location: str) -> None:
        self.canonical_name, self.location = canonical_name, location


class _Environment:
    """What pip's importlib environment offers the wrapper: a scan of everything installed."""

    def __init__(self, *distributions: _Distribution, fails: bool = False) -> None:
        self.distributions, self.fails, self.scans = distributions, fails, 0

    def iter_all_distributions(self) -> Any:
        self.scans += 1
        if self.fails:
            raise OSError("unreadable METADATA")
        return iter(self.distributions)

    def get_distribution(self, name: str) -> Any:
        """pip's own lookup: the first distribution of that name."""
        self.scans += 1
        return next((d for d in self.distributions if d.canonical_name == name.lower().replace("_", "-")), None)


def _as_pip(version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "behavior", lambda: compat.PipBehavior(version))


def test_before_pip_24_2_an_environment_is_read_once_for_all_lookups_after_its_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _as_pip("23.2.1", monkeypatch)
    first, shadowed = _Distribution("flask", "site-packages"), _Distribution("flask", "further-down")
    environment = _Environment(first, shadowed, _Distribution("click", "site-packages"))

    def lookup(name: str) -> Any:
        return hooks._distribution_found_in_one_pass(environment.get_distribution, environment, (name,), {})

    found = [lookup(name) for name in ("Flask", "flask", "Click", "celery")]

    assert [d and d.location for d in found] == ["site-packages", "site-packages", "site-packages", None]
    assert found[0] is found[1] is first
    assert environment.scans == 2, "pip's own first lookup, then one read of everything"


def test_an_environment_that_cannot_be_read_whole_is_left_to_pips_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    _as_pip("23.2.1", monkeypatch)
    environment = _Environment(_Distribution("flask", "site-packages"), fails=True)
    answers = [hooks._distribution_found_in_one_pass(lambda name: "pip's", environment, (n,), {}) for n in "abc"]

    assert answers == ["pip's"] * 3
    assert environment.scans == 1, "tried once, on the second lookup"


def test_from_pip_24_2_every_lookup_is_pips_own(monkeypatch: pytest.MonkeyPatch) -> None:
    _as_pip("24.2", monkeypatch)
    environment = _Environment(_Distribution("flask", "site-packages"))
    for _ in range(3):
        hooks._distribution_found_in_one_pass(environment.get_distribution, environment, ("flask",), {})

    assert environment.scans == 3
