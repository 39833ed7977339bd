"""The wrappers of ``hooks`` that need no pip run to tell what they do."""

from __future__ import annotations

from typing import Any, List

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
