"""The wrappers of ``hooks`` that need no pip run to tell what they do."""

from __future__ import annotations

import sys
from typing import Any, List

import pytest

from pipcachefirst import hooks


def test_the_supported_tags_are_worked_out_once_per_set_of_arguments_and_each_caller_gets_a_copy() -> None:
    calls: List[Any] = []

    def get_supported(*args: Any, **kwargs: Any) -> List[str]:
        calls.append((args, kwargs))
        return ["cp311-cp311-linux_x86_64", "py3-none-any"]

    hooks._supported_tags.clear()
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

    hooks._supported_tags.clear()
    for _ in range(2):
        assert hooks._supported_tags_once(get_supported, None, ({"not": "hashable"},), {}) == ["py3-none-any"]
    assert len(calls) == 2


def test_a_requires_dist_line_is_parsed_once_through_pips_own_cache_and_shared() -> None:
    from pip._internal.utils.packaging import get_requirement
    from pip._vendor.packaging.requirements import Requirement

    first = hooks._requirement_parsed_once(Requirement, None, ("beta>=1.0; extra == 'x'",), {})
    again = hooks._requirement_parsed_once(Requirement, None, ("beta>=1.0; extra == 'x'",), {})

    assert first is again is get_requirement("beta>=1.0; extra == 'x'")
    assert str(first.specifier) == ">=1.0"


def test_a_line_that_does_not_parse_raises_pips_own_error_every_time() -> None:
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

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
