"""Trees copied ahead by a helper process, in-process on pip's side: staged as built, waited for, cleaned up."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import queue
import signal
import threading
import time
import zipfile
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

from pipcachefirst.base.atomic import TEMPORARY_PREFIX, current_umask
from pipcachefirst.base.settings import COPY
from pipcachefirst.trees import staging
from pipcachefirst.trees.tree import Tree, Trees, member_mode
from tests.support.packages import rich_wheel_bytes
from tests.unit.test_trees import executable

SHA = "cd" * 32
OTHER = "ef" * 32


@pytest.fixture
def shelf(tmp_path: Path) -> Trees:
    return Trees(tmp_path / "trees-v1", "cpython-311-a70d0d0a-o0-time")


def built(shelf: Trees, sha256: str = SHA) -> Tree:
    wheel = zipfile.ZipFile(io.BytesIO(rich_wheel_bytes("rich-pure", "1.0")))
    tree = shelf.build(sha256, wheel, executable, "rich_pure-1.0-py3-none-any.whl")
    assert tree is not None
    return tree


@pytest.fixture
def stager(shelf: Trees) -> Iterator[staging.Stager]:
    shelf.folder.mkdir(parents=True, exist_ok=True)
    stager = staging.Stager(shelf.folder, COPY)
    yield stager
    stager.close()


def copied_ahead(shelf: Trees, stager: staging.Stager) -> Tuple[Tree, staging.Staged]:
    """A tree built and copied ahead by the helper, and its copy as pip takes it."""
    tree = built(shelf)
    stager.ask(tree.folder, SHA)
    staged = stager.take(SHA)
    assert staged is not None
    return tree, staged


def read_again(stager: staging.Stager) -> staging.Staged:
    """The copy as the helper described it, read anew: what a move that was refused left in place."""
    return staging.Staged(stager.folder, json.loads((stager.folder / f"{SHA}.json").read_text("utf-8")))


def bits(tree: Tree, member: str) -> int:
    """The permission bits pip gives ``member`` here."""
    return member_mode(bool(os.lstat(tree.source(member)).st_mode & 0o111), current_umask())


def test_a_tree_asked_for_is_copied_whole_as_pip_installs_it_and_each_file_taken_once(
    shelf: Trees, stager: staging.Stager
) -> None:
    tree, staged = copied_ahead(shelf, stager)

    assert set(staged.files) == set(tree.files) and set(staged.pycs) == set(tree.compiled)
    for member, stamp in tree.files.items():
        path = staged.file(member, stamp, bits(tree, member))
        assert path == f"{stager.folder}/{SHA}/{member}"  # laid out as pip installs it
        assert Path(path).read_bytes() == Path(tree.source(member)).read_bytes(), member
        assert os.lstat(path).st_mtime_ns == stamp[1]
        assert os.lstat(path).st_mode & 0o777 == bits(tree, member)  # pip's bits: renaming it is all
        assert staged.file(member, stamp, bits(tree, member)) is None  # a staged file is taken once
    member, stamp = next(iter(tree.compiled.items()))
    path = staged.pyc(member, stamp, 0o666 & ~current_umask())
    assert path == importlib.util.cache_from_source(f"{stager.folder}/{SHA}/{member}")  # in its __pycache__
    assert Path(path).read_bytes() == Path(tree.pyc(member)).read_bytes()


def test_a_file_that_is_not_the_one_pip_checked_is_not_handed_out(shelf: Trees, stager: staging.Stager) -> None:
    tree, staged = copied_ahead(shelf, stager)
    (member, (size, mtime)), (other, stamp) = list(tree.files.items())[:2]
    assert staged.file(member, (size + 1, mtime), bits(tree, member)) is None
    assert staged.file(other, stamp, bits(tree, other) ^ 0o100) is None  # not the bits pip gives it


def test_a_tree_staged_whole_is_covered_one_with_a_file_changed_before_it_was_copied_is_not(
    shelf: Trees, stager: staging.Stager
) -> None:
    tree, staged = copied_ahead(shelf, stager)
    assert staged.covers(tree), "the helper looked at every file: pip need not"
    staged.files.popitem()
    assert not staged.covers(tree)
    other = built(shelf, OTHER)
    with open(other.source("rich_pure/__init__.py"), "ab") as source:
        source.write(b"# edited through a hard link\n")
    stager.ask(other.folder, OTHER)
    edited = stager.take(OTHER)
    assert edited is not None and not edited.covers(other), "pip looks at each file and finds the change"


def test_a_whole_folder_moves_into_site_packages_in_one_rename_with_its_byte_code(
    shelf: Trees, stager: staging.Stager, tmp_path: Path
) -> None:
    tree, staged = copied_ahead(shelf, stager)
    package = "rich_pure"
    assert set(staged.folders) == {package}, "not .dist-info, .data, nor top-level files"
    site = tmp_path / "site-packages"
    site.mkdir()

    moved = staged.move(package, str(site / package), tree.files, tree.compiled)

    assert set(moved) == {member for member in tree.files if member.startswith(f"{package}/")}
    for member in moved:
        assert (site / member).read_bytes() == Path(tree.source(member)).read_bytes()
        assert moved[member][0] == os.lstat(site / member).st_mode & 0o777
        if member in tree.compiled:
            pyc = importlib.util.cache_from_source(str(site / member))
            assert Path(pyc).read_bytes() == Path(tree.pyc(member)).read_bytes()
            assert moved[member][1] == os.lstat(pyc).st_mode & 0o777
    assert not set(moved) & set(staged.files), "moved files are not handed out again"


def test_a_folder_moves_only_if_every_file_is_the_one_pip_checked_and_its_name_is_free(
    shelf: Trees, stager: staging.Stager, tmp_path: Path
) -> None:
    tree, staged = copied_ahead(shelf, stager)
    package, site = "rich_pure", tmp_path / "site-packages"
    (site / package).mkdir(parents=True)
    (site / package / "from_another_wheel.py").write_bytes(b"")
    assert staged.move(package, str(site / package), tree.files, tree.compiled) == {}, "a namespace shared"
    assert list((site / package).iterdir()) == [site / package / "from_another_wheel.py"]
    member = f"{package}/__init__.py"
    assert staged.file(member, tree.files[member], bits(tree, member)) is not None  # still there, file by file

    staged = read_again(stager)
    changed = dict(tree.files, **{member: (tree.files[member][0] + 1, tree.files[member][1])})
    assert staged.move(package, str(site / "elsewhere"), changed, tree.compiled) == {}
    assert not (site / "elsewhere").exists()


def test_a_folder_moves_over_the_empty_folders_pip_made_for_its_first_file_and_leaves_them_if_it_cannot(
    shelf: Trees, stager: staging.Stager, tmp_path: Path
) -> None:
    tree, staged = copied_ahead(shelf, stager)
    package, site = "rich_pure", tmp_path / "site-packages"
    made = site / package / "sub" / "deep"  # pip 24.1+ makes the first file's folder before it saves the file
    made.mkdir(parents=True)
    (site / package / "other").mkdir()  # but something else is there too
    assert staged.move(package, str(site / package), tree.files, tree.compiled, str(made)) == {}
    assert made.is_dir(), "pip saves into the folder it made: it stays"

    (site / package / "other").rmdir()
    staged = read_again(stager)
    moved = staged.move(package, str(site / package), tree.files, tree.compiled, str(made))
    assert f"{package}/sub/deep/leaf.py" in moved
    assert (made / "leaf.py").read_bytes() == Path(tree.source(f"{package}/sub/deep/leaf.py")).read_bytes()


def test_a_tree_changed_before_it_was_copied_is_staged_without_the_changed_file(
    shelf: Trees, stager: staging.Stager
) -> None:
    tree = built(shelf)
    changed = "rich_pure/__init__.py"
    with open(tree.source(changed), "ab") as source:
        source.write(b"# edited through a hard link\n")
    stager.ask(tree.folder, SHA)
    staged = stager.take(SHA)
    assert staged is not None
    assert changed not in staged.files and len(staged.files) == len(tree.files) - 1


def test_what_is_not_a_tree_is_refused_at_once_and_the_helper_goes_on(shelf: Trees, stager: staging.Stager) -> None:
    assert stager.take(SHA) is None  # never asked for
    stager.ask(shelf.folder / OTHER, OTHER)  # no tree there
    started = time.monotonic()
    assert stager.take(OTHER) is None and OTHER in stager.failed
    assert time.monotonic() - started < staging.WAIT_SECONDS / 2
    tree = built(shelf)
    stager.ask(tree.folder, SHA)
    assert stager.take(SHA) is not None


def test_the_tree_pip_waits_for_is_copied_next_and_the_others_in_the_order_pip_asked() -> None:
    queue = staging._Queue()
    pipe = OpenPipe([b"aa\t/trees/aa\n", b"bb\t/trees/bb\n", b"cc\t/trees/cc\n", b"!cc\n", b"!zz\n"])
    reader = threading.Thread(target=queue.read, args=(pipe,))
    reader.start()
    assert pipe.given.wait(10)  # the helper has read every line pip wrote so far
    assert queue.next(()) == ("cc", Path("/trees/cc"))
    assert queue.next(["cc"]) == ("cc", Path())  # a tree begun goes on, a chunk at a time
    assert queue.next(()) == ("aa", Path("/trees/aa"))
    pipe.write(b"!bb\n")
    assert queue.next(["aa"]) == ("bb", Path("/trees/bb")), "pip waits for bb: it goes before aa's next chunk"
    assert queue.next(["aa", "bb"]) == ("bb", Path())  # begun after aa, and still the one pip waits for
    assert queue.next(["aa"]) == ("aa", Path())
    pipe.close()
    reader.join()
    assert queue.next(["aa"]) is None  # pip closed the pipe


class OpenPipe:
    """A pipe pip keeps open: it gives its lines (then sets ``given``), and more as they are written, until closed."""

    def __init__(self, lines: List[bytes]) -> None:
        self._lines: "queue.SimpleQueue[Optional[bytes]]" = queue.SimpleQueue()
        for line in lines:
            self._lines.put(line)
        self.given = threading.Event()

    def write(self, line: bytes) -> None:
        self.given.clear()
        self._lines.put(line)
        assert self.given.wait(10)

    def close(self) -> None:
        self._lines.put(None)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            if self._lines.empty():
                self.given.set()
            line = self._lines.get()
            if line is None:
                return
            yield line


def test_a_helper_whose_pip_is_gone_stops_and_removes_its_folder(shelf: Trees) -> None:
    shelf.folder.mkdir(parents=True, exist_ok=True)
    stager = staging.Stager(shelf.folder, COPY)
    process = stager._process
    assert process is not None and process.stdin is not None
    process.stdin.close()  # as when pip is killed
    assert process.wait(timeout=10) == 0
    assert not stager.folder.exists()


def test_a_dead_helper_leaves_pip_to_place_trees_itself_without_waiting(shelf: Trees, stager: staging.Stager) -> None:
    tree = built(shelf)
    process = stager._process
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stager.ask(tree.folder, SHA)
    started = time.monotonic()
    assert stager.take(SHA) is None
    assert time.monotonic() - started < 1


def test_closing_ends_the_helper_and_removes_everything_it_copied(shelf: Trees) -> None:
    tree = built(shelf)
    shelf.folder.mkdir(parents=True, exist_ok=True)
    stager = staging.Stager(shelf.folder, COPY)
    stager.ask(tree.folder, SHA)
    assert stager.take(SHA) is not None
    process = stager._process
    stager.close()
    assert process is not None and process.poll() is not None
    assert [p.name for p in shelf.folder.iterdir() if p.name.startswith(TEMPORARY_PREFIX)] == []
    assert [tree.sha256 for _, tree in shelf.walk() if tree is not None] == [SHA]  # the staging folder is no tree


def test_a_helper_that_says_nothing_for_the_wait_is_stopped_and_pip_places_trees_itself(
    shelf: Trees, stager: staging.Stager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "WAIT_SECONDS", 0.5)
    tree = built(shelf)
    process = stager._process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)  # a disk that hangs
    try:
        stager.ask(tree.folder, SHA)
        started = time.monotonic()
        assert stager.take(SHA) is None
        assert time.monotonic() - started < 5
    finally:
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGCONT)
    assert process.wait(timeout=10) != 0 and not stager.folder.exists()
