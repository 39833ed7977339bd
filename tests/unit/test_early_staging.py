"""Copying ahead from pip's start: which command lines it reads, which trees it asks for, and who stops it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from pipcachefirst.base.settings import COPY, HARDLINK
from pipcachefirst.cache.catalog import Record
from pipcachefirst.cache.store import TREES, Store
from pipcachefirst.pip import early_staging
from pipcachefirst.trees.tree import Trees, interpreter_key
from tests.support.packages import rich_wheel_bytes
from tests.unit.test_trees import executable

INDEX = "https://index.example/simple"


@pytest.fixture(autouse=True)
def no_helper_left() -> Iterator[None]:
    yield
    early_staging.discard()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A cache holding rich-pure 1.0's wheel, with its installed tree for this interpreter."""
    wheel_bytes = rich_wheel_bytes("rich-pure", "1.0")
    wheel = tmp_path / "rich_pure-1.0-py3-none-any.whl"
    wheel.write_bytes(wheel_bytes)
    store = Store(tmp_path / "cache")
    assert store.open().store
    entry = store.put(wheel, Record(filename=wheel.name, sha256="", size=0, url=f"{INDEX}/{wheel.name}", origin=INDEX))
    assert entry is not None
    key = interpreter_key()
    assert key is not None
    shelf = Trees(store.root / TREES.name, key)
    shelf.build(entry.record.sha256, zipfile.ZipFile(io.BytesIO(wheel_bytes)), executable, wheel.name)
    return store.root


def environ(cache: Path, **more: str) -> Dict[str, str]:
    return {"PIPCACHEFIRST_DIR": str(cache), "PIPCACHEFIRST_LINK_MODE": COPY, **more}


def requirements(tmp_path: Path, text: str) -> str:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("argv, files", [
    (["pip", "install", "-r", "a.txt"], ["a.txt"]),
    (["pip", "-q", "install", "--requirement=a.txt", "-rb.txt", "--cache-dir", "/c"], ["a.txt", "b.txt"]),
])
def test_pip_install_with_requirement_files_is_read(argv: List[str], files: List[str]) -> None:
    asked = early_staging.read_command_line(argv)
    assert asked is not None and asked[0] == files


@pytest.mark.parametrize("argv", [
    ["pip", "download", "-r", "a.txt"],
    ["pip", "install", "alpha==1.0"],  # no requirement file: pip serves the pin before it would matter
    ["pip", "--cache-dir", "/c", "install", "-r", "a.txt"],  # a global option's value first: not guessed at
    ["pip", "install", "--target", "t", "-r", "a.txt"],
    ["pip", "install", "-tt", "-r", "a.txt"],
    ["pip", "install", "--prefix=/p", "-r", "a.txt"],
    ["pip", "install", "--dry-run", "-r", "a.txt"],
    ["pip", "install", "--no-compile", "-r", "a.txt"],
    ["pip", "install", "--user", "-r", "a.txt"],
    ["pip", "install", "--no-cache-dir", "-r", "a.txt"],
])
def test_commands_that_never_copy_ahead_are_left_alone(argv: List[str]) -> None:
    assert early_staging.read_command_line(argv) is None


def test_the_pins_of_a_requirement_file_with_a_tree_are_copied_from_the_start(cache: Path, tmp_path: Path) -> None:
    nested = tmp_path / "more.txt"
    nested.write_text("rich-pure[extra] == 1.0.0 ; python_version >= '3'  # pinned\n")
    file = requirements(tmp_path, "# a lock\n-r more.txt\nother>=2\n")

    early_staging.start(["pip", "install", "-r", file], environ(cache))

    folder = cache / TREES.name / str(interpreter_key())
    stager = early_staging.take(folder, COPY)
    assert stager is not None and len(stager.asked) == 1
    sha256 = next(iter(stager.asked))
    staged = stager.take(sha256)
    assert staged is not None and "rich_pure/__init__.py" in staged.files
    stager.close()
    assert not list(folder.glob(".tmp-*"))


def test_a_helper_for_another_cache_or_mode_is_stopped_and_leaves_nothing(cache: Path, tmp_path: Path) -> None:
    file = requirements(tmp_path, "rich-pure==1.0\n")
    early_staging.start(["pip", "install", "-r", file], environ(cache))
    folder = cache / TREES.name / str(interpreter_key())
    assert list(folder.glob(".tmp-*"))

    assert early_staging.take(folder, HARDLINK) is None
    assert early_staging.take(folder, COPY) is None  # given away once, stopped
    assert not list(folder.glob(".tmp-*"))


@pytest.mark.parametrize("more", [
    {"PIPCACHEFIRST_COPY_AHEAD": "0"},
    {"PIPCACHEFIRST_TREES": "0"},
    {"PIPCACHEFIRST_LINK_MODE": "hardlink"},
])
def test_switched_off_it_starts_nothing(cache: Path, tmp_path: Path, more: Dict[str, str]) -> None:
    file = requirements(tmp_path, "rich-pure==1.0\n")
    early_staging.start(["pip", "install", "-r", file], environ(cache, **more))
    folder = cache / TREES.name / str(interpreter_key())
    assert early_staging.take(folder, COPY) is None and early_staging.take(folder, HARDLINK) is None
    assert not list(folder.glob(".tmp-*"))


@pytest.mark.parametrize("line", [
    "rich-pure==1.0 --hash=sha256:" + "ab" * 32,
    "rich_pure===1.0 \\",
    "Rich.Pure==1.0.0  # via x",
])
def test_lock_file_spellings_of_a_pin_are_read(tmp_path: Path, line: str) -> None:
    assert early_staging._pins([requirements(tmp_path, line + "\n")]) == [("rich-pure", "1")]


def test_pins_without_a_tree_start_no_helper(cache: Path, tmp_path: Path) -> None:
    file = requirements(tmp_path, "rich-pure==2.0\nunknown==1.0\n")
    early_staging.start(["pip", "install", "-r", file], environ(cache))
    assert early_staging.take(cache / TREES.name / str(interpreter_key()), COPY) is None
