"""Our code failing never fails pip: the guards at the choke points, each broken on purpose here.

A post-import hook that raises, a wrapper whose part raises, and placing an
installed tree that raises: each is one warning line, and pip's own function
runs exactly once with the arguments pip gave.  pip's own exceptions go on
unchanged.  (The story tests in ``tests/test_safety.py`` do the same with a
real pip installing.)
"""

from __future__ import annotations

import compileall
import io
import os
import sys
import zipfile
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

from pipcachefirst.base import patching
from pipcachefirst.base.settings import COPY
from pipcachefirst.base.workers import Workers
from pipcachefirst.cache.catalog import RECORD_SCHEMA, Record, read_record
from pipcachefirst.commands import status
from pipcachefirst.pip import compat, hooks, installing
from pipcachefirst.pip.compat import InstallStep
from pipcachefirst.pip.session import CURRENT as SESSION
from pipcachefirst.trees.tree import Placer, Tree, Trees, is_script
from tests.support.packages import rich_wheel_bytes

Reported = List[Tuple[str, BaseException]]


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reported]:
    """What reaches the one warning line; patching's state as it was, after the test."""
    said: Reported = []
    monkeypatch.setattr(patching, "_report", lambda what, exc: said.append((what, exc)))
    monkeypatch.setattr(patching, "_stopped", False)
    monkeypatch.setattr(patching, "_hooks", {})
    yield said


class Pip:
    """Stands in for a pip function: counts its calls, returns or raises as told."""

    def __init__(self, result: Any = "pip's result", raises: Any = None) -> None:
        self.calls: List[Tuple[Any, Any]] = []
        self.result, self.raises = result, raises

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        if self.raises is not None:
            raise self.raises
        return self.result


def boom(*_: Any) -> None:
    raise RuntimeError("a bug of ours")


# -- post-import hooks ------------------------------------------------------------


def test_a_hook_that_raises_does_not_break_the_import_and_every_wrapper_steps_aside(
    reported: Reported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "pcf_guarded_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ran: List[str] = []
    patching.when_imported("pcf_guarded_module", boom)
    patching.when_imported("pcf_guarded_module", lambda module: ran.append("the next hook"))
    try:
        import pcf_guarded_module  # type: ignore[import-not-found]  # noqa: PLC0415
    finally:
        sys.modules.pop("pcf_guarded_module", None)

    assert pcf_guarded_module.VALUE == 1
    assert [(what, str(exc)) for what, exc in reported] == [
        ("a hook after importing pcf_guarded_module failed", "a bug of ours")]
    assert ran == [] and patching.stopped()
    pip = Pip()
    assert patching.instead("never said")(boom)(pip, None, (1,), {"k": 2}) == "pip's result"
    assert pip.calls == [((1,), {"k": 2})] and len(reported) == 1


def test_after_a_hook_failed_only_the_wrappers_that_settle_what_was_started_still_run(
    reported: Reported, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deferred User-Agent header must still be settled, and answers already given given again."""
    monkeypatch.setattr(patching, "_stopped", True)
    ran: List[str] = []

    def ours(instance: Any, args: Any, kwargs: Any) -> None:
        ran.append("ours")

    pip = Pip()
    assert patching.before("plain")(ours)(pip, None, (), {}) == "pip's result" and ran == []
    assert patching.before("settles", when_stopped=True)(ours)(pip, None, (), {}) == "pip's result"
    assert ran == ["ours"] and len(pip.calls) == 2 and reported == []


def test_a_hook_on_a_module_already_imported_that_raises_is_one_line(reported: Reported) -> None:
    patching.when_imported("os", boom)
    assert len(reported) == 1 and patching.stopped()


# -- the three shapes of a wrapper ----------------------------------------------------


def test_our_part_failing_before_pips_call_means_pips_call_once_with_pips_arguments(reported: Reported) -> None:
    for wrapper in (patching.instead("instead")(boom), patching.before("before")(boom)):
        pip = Pip()
        assert wrapper(pip, "self", ("a",), {"b": 1}) == "pip's result"
        assert pip.calls == [(("a",), {"b": 1})]
    assert [what for what, _ in reported] == ["instead", "before"]


def test_our_part_failing_after_pips_call_means_pips_result_and_no_second_call(reported: Reported) -> None:
    def answer_then_fail(pip: patching.PipCall, *_: Any) -> Any:
        pip()
        raise RuntimeError("after pip")

    def call_twice(pip: patching.PipCall, *_: Any) -> Any:
        pip()
        return pip()

    for wrapper in (patching.instead("instead")(answer_then_fail), patching.after("after")(boom),
                    patching.instead("twice")(call_twice)):
        pip = Pip()
        assert wrapper(pip, None, ("a",), {}) == "pip's result"
        assert len(pip.calls) == 1
    assert [what for what, _ in reported] == ["instead", "after", "twice"]


def test_pips_own_exception_goes_on_unchanged_even_when_our_clean_up_fails_after_it(reported: Reported) -> None:
    def clean_up_fails(pip: patching.PipCall, *_: Any) -> Any:
        try:
            return pip()
        finally:
            raise RuntimeError("our clean-up")

    for wrapper in (patching.instead("instead")(clean_up_fails), patching.before("before")(lambda *_: None),
                    patching.after("after")(boom)):
        error = KeyError("pip's own")
        pip = Pip(raises=error)
        with pytest.raises(KeyError) as raised:
            wrapper(pip, None, (), {})
        assert raised.value is error and len(pip.calls) == 1
    assert reported == []


def test_a_refusal_is_pips_own_error_raised_on_purpose_not_a_failure(reported: Reported) -> None:
    error = ValueError("offline, and not in the cache")

    def refuse(*_: Any) -> None:
        raise patching.Refusal(error)

    with pytest.raises(ValueError) as raised:
        patching.after("after")(refuse)(Pip(), None, (), {})
    assert raised.value is error and reported == []


def test_a_wrapped_method_gets_its_instance_and_pip_gets_self(reported: Reported) -> None:
    class Finder:
        def find(self, name: str) -> str:
            return f"pip's {name}"

    patching.wrap(Finder, "find", patching.instead("instead")(lambda pip, instance, args, kwargs: 1 / 0))
    assert Finder().find("alpha") == "pip's alpha"
    assert [type(exc) for _, exc in reported] == [ZeroDivisionError]


def test_every_wrapper_of_every_hook_point_is_built_by_one_of_the_guarded_shapes() -> None:
    guarded = patching.instead("")(boom).__code__
    assert {point: wrapper.__code__ is guarded for point, wrapper in hooks._WRAPPERS.items()} == {
        point: True for point in compat.HOOK_POINTS}


def test_the_cache_failing_to_answer_leaves_the_choice_to_pips_finder(
    reported: Reported, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hooks, "_answer", boom)
    pip = Pip(result="pip's best candidate")
    assert hooks._find_best_candidate(pip, "finder", ("alpha", None, None), {}) == "pip's best candidate"
    assert pip.calls == [(("alpha", None, None), {})]
    assert [what for what, _ in reported] == ["could not use the cache"]


def test_a_generator_of_links_that_our_part_read_reaches_pip_whole(
    reported: Reported, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compat, "link_evaluator_project", boom)
    pip = Pip()
    hooks._evaluate_links(pip, "finder", ("evaluator", (link for link in ["a", "b"])), {})
    assert pip.calls == [(("evaluator", ["a", "b"]), {})] and len(reported) == 1


# -- placing an installed tree ------------------------------------------------------------


class Unzipped:
    """pip's ``ZipBackedFile``: ``save()`` writes the member's bytes, as pip's unzip does."""

    saved: List[str] = []

    def __init__(self, src_record_path: str, dest_path: str, zip_file: zipfile.ZipFile) -> None:
        self.src_record_path, self.dest_path, self._zip_file = src_record_path, dest_path, zip_file

    def _getinfo(self) -> zipfile.ZipInfo:
        return self._zip_file.getinfo(self.src_record_path)

    def save(self) -> None:
        if os.path.lexists(self.dest_path):
            os.unlink(self.dest_path)
        os.makedirs(os.path.dirname(self.dest_path), exist_ok=True)
        with open(self.dest_path, "wb") as out:
            out.write(self._zip_file.read(self.src_record_path))
        Unzipped.saved.append(self.src_record_path)


class PlacesThenFails(Placer):
    """A placer with a bug that shows once a file is in place: the worst moment to fail."""

    def place(self, source: str, target: str, *args: Any, **kwargs: Any) -> None:
        super().place(source, target, *args, **kwargs)
        if "/sub/" in target:
            raise RuntimeError("a bug of ours while placing")


def warnings_of_the_session(monkeypatch: pytest.MonkeyPatch) -> Reported:
    """What the session's one warning line would say, gathered instead."""
    warned: Reported = []
    monkeypatch.setattr(SESSION, "warn", lambda what, exc: warned.append((what, exc)))
    return warned


def rich_tree(tmp_path: Path) -> Tuple[zipfile.ZipFile, Tree]:
    """The rich wheel and its installed tree, and no member unzipped by pip yet."""
    wheel = zipfile.ZipFile(io.BytesIO(rich_wheel_bytes("rich-pure", "1.0")))
    tree = Trees(tmp_path / "trees", "key").build("ab" * 32, wheel, lambda info: False, "rich_pure-1.0.whl")
    assert tree is not None
    Unzipped.saved = []
    return wheel, tree


@pytest.mark.parametrize("threads", [2, 0])
def test_placing_that_raises_leaves_the_rest_of_the_wheel_to_pips_unzip_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int,
) -> None:
    warned = warnings_of_the_session(monkeypatch)
    wheel, tree = rich_tree(tmp_path)
    workers = Workers(threads) if threads else None
    placements = installing._Placements(InstallStep(None, Unzipped, compileall, lambda info: False), tree,
                                        PlacesThenFails(COPY), workers)
    venv = tmp_path / "venv"
    members = sorted(tree.files)
    try:
        for member in members:
            placements.save(Unzipped(member, str(venv / member), wheel), member, tree.files[member])
        placements.wait()
    finally:
        placements.close()

    assert placements.gave_up and [what for what, _ in warned] == [
        "could not place the installed tree of rich_pure-1.0.whl"]
    failed = min(m for m in members if "/sub/" in m)
    assert failed in Unzipped.saved
    assert all(m in Unzipped.saved for m in members if "/sub/" in m), "each file that failed, pip unzipped"
    if not threads:  # on pip's thread, pip's unzip takes every file after the first that failed
        assert Unzipped.saved == [m for m in members if m >= failed]
    for member in members:
        assert (venv / member).read_bytes() == wheel.read(member), member
    compiler = installing._CompileFromTree(compileall, tree, placements)
    source = venv / failed
    assert compiler.compile_file(str(source), force=True, quiet=True)  # pip's own compile step
    assert os.path.getmtime(source) != tree.files[failed][1] / 1e9


class ThreadsThatFail:
    """Placing threads that fail as a whole (not one file): every file they held is pip's to unzip."""

    class Job:
        def result(self) -> List[Any]:
            raise RuntimeError("a bug of ours in a placing thread")

        def wait(self) -> None:
            pass

    def submit(self, *args: Any) -> "ThreadsThatFail.Job":
        return ThreadsThatFail.Job()


def test_a_placing_thread_that_fails_leaves_its_files_to_pips_unzip_and_pips_call_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    warned = warnings_of_the_session(monkeypatch)
    wheel, tree = rich_tree(tmp_path)
    placements = installing._Placements(InstallStep(None, Unzipped, compileall, lambda info: False), tree,
                                        Placer(COPY), ThreadsThatFail())  # type: ignore[arg-type]
    venv = tmp_path / "venv"
    members = sorted(m for m in tree.files if not is_script(m))
    for member in members:
        placements.save(Unzipped(member, str(venv / member), wheel), member, tree.files[member])
    placements.wait()  # inside pip's call (its compile step): nothing of ours may escape from here

    assert placements.gave_up and len(warned) == 1
    assert sorted(Unzipped.saved) == members
    for member in members:
        assert (venv / member).read_bytes() == wheel.read(member), member


# -- records of a newer pipcachefirst ----------------------------------------------------


def test_a_newer_versions_record_is_told_from_a_damaged_one_in_one_place() -> None:
    good = Record("alpha-1.0-py3-none-any.whl", "ab" * 32, 1, "https://x/alpha.whl", "https://x/simple")
    newer = good.to_json().replace(f'"schema": {RECORD_SCHEMA}', f'"schema": {RECORD_SCHEMA + 1}')
    unknown_field = good.to_json().replace('"size"', '"colour": "red", "size"')

    assert read_record(good.to_json()).record == good
    assert read_record(newer) == (None, True, None)
    assert read_record(unknown_field).future
    assert read_record("{not json").damage and not read_record("{not json").future
    assert read_record(b"\xff").damage
    assert read_record(newer.encode()).future


# -- status: core hook points and speed-ups ------------------------------------------------


def test_status_is_off_only_without_a_core_hook_point_and_names_each_feature_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    every = {point.attribute: "ok" for point in compat.HOOK_POINTS}
    missing = " (installed trees is off)"
    without_trees = dict(every, _install_wheel=f"AttributeError: no _install_wheel{missing}")
    assert status.pip_misfit(without_trees) is None
    assert status.features_off(without_trees) == {
        "installed trees": "_install_wheel: AttributeError: no _install_wheel"}

    core = compat.FIND_BEST_CANDIDATE
    without_serving = dict(every, **{core.attribute: f"TypeError: takes other arguments ({core.feature} is off)"})
    assert status.pip_misfit(without_serving) == f"this pip lacks {core.attribute}"
    assert [point.feature for point in compat.HOOK_POINTS if point.required] == [
        "the cache location and mode", "the summary line", "storing downloads", "serving pins from the cache",
        "storing downloads, and pip's reports naming the index"]

    monkeypatch.setattr(compat, "pip_version", lambda: "27.0")
    assert status.pip_misfit(every) == (
        "pip 27.0 is newer than this pipcachefirst knows (22\u201326): plain pip; upgrade pipcachefirst")
