"""Installed trees on disk, in-process: built from a wheel, checked before use, published whole, placed."""

from __future__ import annotations

import compileall
import hashlib
import importlib.util
import io
import json
import os
import stat
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, List

import pytest

from pipcachefirst.base.atomic import (
    STALE_SECONDS,
    TEMPORARY_PREFIX,
    current_umask,
    remove_stale_temporaries,
    write_atomically,
)
from pipcachefirst.base.settings import AUTO, CLONE, COPY, HARDLINK, LINK_COMPILED
from pipcachefirst.base.workers import Workers
from pipcachefirst.pip import installing
from pipcachefirst.pip.compat import InstallStep
from pipcachefirst.trees import tree as trees
from pipcachefirst.trees.tree import TREE_FILE, TREE_SCHEMA, Placer, Tree, TreeError, Trees
from tests.support.packages import rich_wheel_bytes, rich_wheel_members

SHA = "ab" * 32
UMASK = current_umask()


def executable(info: zipfile.ZipInfo) -> bool:
    """pip's rule (``zip_item_is_executable``): a regular file with any executable bit."""
    mode = info.external_attr >> 16
    return bool(mode and stat.S_ISREG(mode) and mode & 0o111)


def rich_zip() -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(rich_wheel_bytes("rich-pure", "1.0")))


@pytest.fixture
def shelf(tmp_path: Path) -> Trees:
    reports: List[str] = []
    shelf = Trees(tmp_path / "trees-v1", "cpython-311-a70d0d0a-o0-time", report=reports.append)
    shelf.reports = reports  # type: ignore[attr-defined]
    return shelf


def built(shelf: Trees, sha256: str = SHA) -> Tree:
    tree = shelf.build(sha256, rich_zip(), executable, "rich_pure-1.0-py3-none-any.whl")
    assert tree is not None
    return tree


def leftovers(shelf: Trees) -> List[str]:
    return sorted(p.name for p in shelf.folder.iterdir() if p.name.startswith(TEMPORARY_PREFIX))


# -- a tree is the wheel as pip unpacks and compiles it ------------------------


def test_a_tree_holds_every_member_with_pips_modes_and_the_pyc_of_every_source_that_compiles(shelf: Trees) -> None:
    tree = built(shelf)
    assert tree.folder == shelf.folder / SHA and (tree.folder / TREE_FILE).is_file()
    assert leftovers(shelf) == []
    members = {path: (content, attr) for path, content, attr in rich_wheel_members("rich-pure", "1.0")}
    assert set(tree.files) == set(members)
    for member, (content, attr) in members.items():
        info = os.lstat(tree.source(member))
        assert Path(tree.source(member)).read_bytes() == content, member
        assert tree.files[member] == (info.st_size, info.st_mtime_ns)
        wanted = (0o777 & ~UMASK | 0o111) if attr >> 16 & 0o111 else 0o666 & ~UMASK
        assert stat.S_IMODE(info.st_mode) == wanted, member

    sources = {m for m in members if m.endswith(".py")}
    assert tree.not_compiled == {"rich_pure/legacy.py"}
    assert set(tree.compiled) == sources - tree.not_compiled
    for member, stamp in tree.compiled.items():
        pyc = os.lstat(tree.pyc(member))
        assert stamp == (pyc.st_size, pyc.st_mtime_ns)
        source_mode = os.lstat(tree.source(member)).st_mode
        assert stat.S_IMODE(pyc.st_mode) == trees.pyc_mode(source_mode, UMASK), member  # what placing gives it
    assert not os.path.exists(importlib.util.cache_from_source(tree.source("rich_pure/legacy.py")))


def test_a_published_tree_is_found_as_it_was_built_and_an_unknown_wheel_is_not(shelf: Trees) -> None:
    tree = built(shelf)
    assert shelf.find(SHA) == tree
    assert shelf.find("cd" * 32) is None
    assert [(folder, found) for folder, found in shelf.walk()] == [(tree.folder, tree)]
    assert shelf.reports == []  # type: ignore[attr-defined]


# -- a changed tree is never used ----------------------------------------------------


def append_to_source(tree: Tree) -> None:
    with open(tree.source("rich_pure/sub/deep/leaf.py"), "a") as out:
        out.write("# changed through a hard link\n")


def touch_a_pyc(tree: Tree) -> None:
    os.utime(tree.pyc("rich_pure/cli.py"), ns=(0, 1_000_000_000))  # same bytes, another mtime


def remove_a_data_file(tree: Tree) -> None:
    os.unlink(tree.source("rich_pure-1.0.data/headers/rich_pure.h"))


@pytest.mark.parametrize("change", [append_to_source, touch_a_pyc, remove_a_data_file])
def test_a_tree_changed_since_it_was_built_is_removed_with_one_line_and_built_again(
    shelf: Trees, change: Callable[[Tree], None]
) -> None:
    tree = built(shelf)
    change(tree)
    assert Trees.first_change(tree) is not None
    assert shelf.find(SHA) is None
    assert not tree.folder.exists() and leftovers(shelf) == []
    [line] = shelf.reports  # type: ignore[attr-defined]
    assert "changed since it was built" in line
    again = built(shelf)
    assert shelf.find(SHA) == again and Trees.first_change(again) is None


def test_a_tree_under_another_wheels_sha256_is_removed(shelf: Trees) -> None:
    tree = built(shelf)
    tree.folder.rename(shelf.folder / ("cd" * 32))
    assert shelf.find("cd" * 32) is None
    assert list(shelf.folder.iterdir()) == []


def test_an_unreadable_tree_description_is_removed_and_a_newer_versions_is_left_alone(shelf: Trees) -> None:
    unreadable = built(shelf, "01" * 32)
    (unreadable.folder / TREE_FILE).write_text("{not json")
    future = built(shelf, "02" * 32)
    description = json.loads((future.folder / TREE_FILE).read_text())
    future_text = json.dumps({**description, "schema": TREE_SCHEMA + 1, "files": "another layout"})
    (future.folder / TREE_FILE).write_text(future_text)

    assert shelf.find("01" * 32) is None and not unreadable.folder.exists()
    assert len(shelf.reports) == 1 and "cannot be read" in shelf.reports[0]  # type: ignore[attr-defined]
    assert shelf.find("02" * 32) is None
    assert (future.folder / TREE_FILE).read_text() == future_text  # skipped, never removed or rewritten
    assert [folder for folder, _ in shelf.walk()] == []  # not this version's to prune either
    assert len(shelf.reports) == 1  # type: ignore[attr-defined]


def test_a_description_naming_a_file_outside_the_tree_is_refused(tmp_path: Path) -> None:
    text = json.dumps({"schema": TREE_SCHEMA, "sha256": SHA, "files": {"../../escape.py": [1, 2]}, "compiled": {},
                       "not_compiled": []})
    with pytest.raises(TreeError):
        Tree.from_json(tmp_path, text)


# -- built in a temporary folder, published whole ------------------------------


def test_two_pips_building_one_tree_publish_one_and_the_loser_leaves_no_temporary_folder(
    shelf: Trees, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = write_atomically
    calls: List[str] = []
    other: List[Tree] = []

    def other_pip_publishes_first(path: str, data: str, durable: bool = True) -> None:
        calls.append(path)
        if len(calls) == 1:  # while this pip writes its tree.json, another pip builds and publishes the same tree
            other.append(built(shelf))
        write(path, data, durable)

    monkeypatch.setattr(trees, "write_atomically", other_pip_publishes_first)
    loser = built(shelf)
    assert len(calls) == 2 and other
    assert loser == other[0] == shelf.find(SHA)
    assert [p.name for p in shelf.folder.iterdir()] == [SHA]


def test_a_tree_is_published_by_renaming_a_temporary_folder_that_is_already_complete(
    shelf: Trees, monkeypatch: pytest.MonkeyPatch
) -> None:
    rename = os.rename
    published: List[str] = []

    def checking_rename(source: str, target: str) -> None:
        description = Path(source) / TREE_FILE
        tree = Tree.from_json(Path(source), description.read_text())  # there, and readable, before the rename
        assert Trees.first_change(tree) is None  # every file in place, as described
        published.append(Path(source).name)
        rename(source, target)

    monkeypatch.setattr(os, "rename", checking_rename)  # the os.rename trees publish with
    built(shelf)
    assert len(published) == 1 and published[0].startswith(TEMPORARY_PREFIX)


def test_a_wheel_with_a_member_outside_the_tree_builds_nothing_and_leaves_nothing(shelf: Trees) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fine.py", "x = 1\n")
        archive.writestr("../escape.py", "x = 2\n")
    with pytest.raises(TreeError):
        shelf.build(SHA, zipfile.ZipFile(buffer), executable)
    assert list(shelf.folder.iterdir()) == []


def test_a_wheel_holding_one_member_twice_builds_nothing_so_pip_installs_it_alone(shelf: Trees) -> None:
    buffer = io.BytesIO()
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("twice.py", "X = 'first'\n")
        archive.writestr("twice.py", "X = 'second'\n")
    with pytest.raises(TreeError, match="twice"):  # a TreeError, not an OSError: storing goes on for other wheels
        shelf.build(SHA, zipfile.ZipFile(buffer), executable)
    assert list(shelf.folder.iterdir()) == []


def test_a_killed_builds_folder_is_cleared_after_an_hour_and_not_before(shelf: Trees) -> None:
    tree = built(shelf)
    old, fresh = shelf.folder / ".tmp-killed-long-ago", shelf.folder / ".tmp-building-now"
    for folder in (old, fresh):
        (folder / "files").mkdir(parents=True)
    an_hour_ago = time.time() - STALE_SECONDS - 60
    os.utime(old, (an_hour_ago, an_hour_ago))
    remove_stale_temporaries(shelf.folder)
    assert sorted(p.name for p in shelf.folder.iterdir()) == sorted([fresh.name, tree.folder.name])


# -- what a pyc compiled here is valid for -----------------------------------------


def test_the_interpreter_key_names_magic_number_optimization_and_invalidation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    key = trees.interpreter_key()
    assert key is not None
    assert key.startswith(f"{sys.implementation.cache_tag}-{importlib.util.MAGIC_NUMBER.hex()}-")
    assert key.endswith("-o0-time")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1577836800")  # py_compile then writes checked hash-based pycs
    assert trees.interpreter_key() == key.replace("-time", "-hash")


# -- placing files -----------------------------------------------------------------


def a_source(tmp_path: Path, mode: int = 0o644) -> Path:
    source = tmp_path / "source.py"
    source.write_bytes(b"x = 1\n" * 1000)
    source.chmod(mode)
    return source


def test_a_copy_keeps_the_trees_mtime_and_gets_pips_mode(tmp_path: Path) -> None:
    source = a_source(tmp_path)
    stamp = (source.stat().st_size, 1_600_000_000_123_456_789)
    os.utime(source, ns=(stamp[1], stamp[1]))  # a tree file has the mtime its tree recorded
    target = tmp_path / "target.py"
    Placer(COPY).place(str(source), str(target), 0o751, stamp)
    info = target.stat()
    assert target.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(info.st_mode) == 0o751 and info.st_mtime_ns == stamp[1]
    assert info.st_ino != source.stat().st_ino
    with pytest.raises(FileExistsError):  # never writes through a file that is there
        Placer(COPY).place(str(source), str(target), 0o751, stamp)


def test_a_file_that_is_not_what_the_tree_recorded_is_never_placed(tmp_path: Path) -> None:
    """Placing reads the file it copies: another size or mtime than recorded, or other bytes, and nothing is made."""
    source = a_source(tmp_path)
    info = source.stat()
    stamp = (info.st_size, info.st_mtime_ns)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    for mode in (COPY, CLONE, HARDLINK):
        with pytest.raises(trees.TreeChanged):  # recorded before the file grew: not a truncated copy
            Placer(mode).place(str(source), str(tmp_path / "short.py"), 0o644, (stamp[0] - 23, stamp[1]))
        with pytest.raises(trees.TreeChanged):
            Placer(mode).place(str(source), str(tmp_path / "older.py"), 0o644, (stamp[0], stamp[1] - 1))
        flipped = bytearray(source.read_bytes())
        flipped[7] ^= 1
        source.write_bytes(bytes(flipped))  # a bit flip with size and mtime kept
        os.utime(source, ns=(stamp[1], stamp[1]))
        with pytest.raises(trees.TreeChanged):
            Placer(mode).place(str(source), str(tmp_path / "flipped.py"), 0o644, stamp, True, digest)
        assert not any((tmp_path / name).exists() for name in ("short.py", "older.py", "flipped.py"))
        flipped[7] ^= 1
        source.write_bytes(bytes(flipped))
        os.utime(source, ns=(stamp[1], stamp[1]))
        Placer(mode).place(str(source), str(tmp_path / "good.py"), 0o644, stamp, True, digest)
        assert (tmp_path / "good.py").read_bytes() == source.read_bytes()
        (tmp_path / "good.py").unlink()


def test_a_hard_link_only_where_it_would_have_the_mode_pip_gives_and_only_when_allowed(tmp_path: Path) -> None:
    source = a_source(tmp_path, 0o644)
    stamp = (source.stat().st_size, source.stat().st_mtime_ns)
    placer = Placer(HARDLINK)
    placer.place(str(source), str(tmp_path / "linked.py"), 0o644, stamp)
    placer.place(str(source), str(tmp_path / "executable.py"), 0o755, stamp)
    placer.place(str(source), str(tmp_path / "rewritten.py"), 0o644, stamp, may_link=False)
    assert os.path.samefile(source, tmp_path / "linked.py")
    for name, mode in (("executable.py", 0o755), ("rewritten.py", 0o644)):
        target = tmp_path / name
        assert not os.path.samefile(source, target), name
        assert stat.S_IMODE(target.stat().st_mode) == mode and target.stat().st_mtime_ns == stamp[1]
    assert stat.S_IMODE(source.stat().st_mode) == 0o644  # the tree's file kept its mode
    assert placer.mode == HARDLINK and placer.fallback is None


def test_a_clone_falls_back_to_a_copy_where_the_file_system_cannot_and_says_why(tmp_path: Path) -> None:
    source = a_source(tmp_path)
    stamp = (source.stat().st_size, 1_600_000_000_000_000_000)
    os.utime(source, ns=(stamp[1], stamp[1]))
    placer = Placer(CLONE)
    for name in ("a.py", "b.py"):
        placer.place(str(source), str(tmp_path / name), 0o644, stamp)
        assert (tmp_path / name).read_bytes() == source.read_bytes()
        assert (tmp_path / name).stat().st_mtime_ns == stamp[1]
    here = trees.link_mode_here(tmp_path, CLONE)
    assert (placer.mode, placer.fallback is None) in ((CLONE, True), (COPY, False))
    assert here[0] == placer.mode and (here[1] is None) == (placer.fallback is None)
    assert trees.link_mode_here(tmp_path, HARDLINK) == (HARDLINK, None)


@pytest.mark.parametrize(("name", "replaced"), [
    ("pkg/__pycache__/mod.cpython-311.pyc", True),
    ("pkg/_core.cpython-311-x86_64-linux-gnu.so", True),
    ("numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so", True),
    ("scipy.libs/libgfortran-040039e1.so.5.0.0", True),
    ("pkg/_core.cp311-win_amd64.pyd", True),
    ("pkg/.dylibs/libomp.dylib", True),
    ("pkg/mod.py", False),
    ("pkg/mod.pyi", False),
    ("pkg/py.typed", False),
    ("pkg/data.json", False),
    ("pkg/notes.so.txt", False),
    ("pkg/lib.so.1.beta", False),
])
def test_only_byte_code_and_compiled_libraries_count_as_replaced_by_rename(name: str, replaced: bool) -> None:
    assert trees.replaced_by_rename(name) is replaced


def test_auto_clones_where_it_can_else_links_byte_code_and_libraries_and_copies_sources(tmp_path: Path) -> None:
    stamp = (6000, 1_600_000_000_000_000_000)
    sources = {}
    for name in ("mod.py", "mod.cpython-311.pyc", "_core.so"):
        sources[name] = tmp_path / "tree" / name
        sources[name].parent.mkdir(exist_ok=True)
        sources[name].write_bytes(b"x = 1\n" * 1000)
        sources[name].chmod(0o644)
        os.utime(sources[name], ns=(stamp[1], stamp[1]))
    placer = Placer(AUTO)
    assert placer.mode == AUTO and not placer.links(str(sources["_core.so"])), "nothing known before a first try"
    (tmp_path / "venv").mkdir()
    for name, source in sources.items():
        placer.place(str(source), str(tmp_path / "venv" / name), 0o644, stamp)
        placed = tmp_path / "venv" / name
        assert placed.read_bytes() == source.read_bytes() and placed.stat().st_mtime_ns == stamp[1]
    assert placer.mode in (CLONE, LINK_COMPILED)
    assert (placer.fallback is None) == (placer.mode == CLONE)
    linked = {name for name, source in sources.items() if os.path.samefile(source, tmp_path / "venv" / name)}
    assert linked == (set() if placer.mode == CLONE else {"mod.cpython-311.pyc", "_core.so"})
    assert trees.link_mode_here(tmp_path, AUTO) == (placer.mode, placer.fallback)
    (tmp_path / "venv" / "again.pyc").touch()
    with pytest.raises(FileExistsError):
        placer.place(str(sources["mod.cpython-311.pyc"]), str(tmp_path / "venv" / "again.pyc"), 0o644, stamp)


@pytest.mark.skipif(not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat("/tmp").st_dev,
                    reason="needs /dev/shm on a file system of its own")
def test_status_says_a_cache_on_another_file_system_than_the_environment_gets_copies(tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as elsewhere:
        for mode in (AUTO, CLONE, HARDLINK):
            here = trees.link_mode_here(tmp_path, mode, elsewhere)
            assert here[0] == COPY and here[1] is not None and "another file system" in here[1], mode
    assert trees.link_mode_here(tmp_path, COPY, "/dev/shm") == (COPY, None)


# -- placing a tree for pip's install step, in the background -------------------


class Unzipped:
    """pip's ``ZipBackedFile``, as far as its install step uses it: ``save()`` unzips the member."""

    saved: List[str] = []

    def __init__(self, src_record_path: str, dest_path: str, zip_file: zipfile.ZipFile) -> None:
        self.src_record_path = src_record_path
        self.dest_path = dest_path
        self._zip_file = zip_file

    def _getinfo(self) -> zipfile.ZipInfo:
        return self._zip_file.getinfo(self.src_record_path)

    def save(self) -> None:
        if os.path.lexists(self.dest_path):
            os.unlink(self.dest_path)
        with open(self.dest_path, "wb") as out:
            out.write(self._zip_file.read(self.src_record_path))
        Unzipped.saved.append(self.src_record_path)


def placements_of(tree: Tree) -> "installing._Placements":
    step = InstallStep(None, Unzipped, compileall, executable)
    Unzipped.saved = []
    return installing._Placements(step, tree, Placer(COPY), Workers(2))


def test_files_placed_in_the_background_get_their_bytes_mtimes_and_pycs_and_a_vanished_one_is_unzipped(
    shelf: Trees, tmp_path: Path,
) -> None:
    tree, wheel = built(shelf), rich_zip()
    gone = "rich_pure/sub/deep/leaf.py"
    os.unlink(tree.source(gone))  # as when another pip found the tree changed and took it away
    placements = placements_of(tree)
    venv = tmp_path / "venv"
    try:
        for member, stamp in tree.files.items():
            placements.save(Unzipped(member, str(venv / member), wheel), member, stamp)
        placements.wait()
    finally:
        placements.close()

    assert Unzipped.saved == [gone]
    compiler = installing._CompileFromTree(compileall, tree, placements)
    for member, stamp in tree.files.items():
        dest = venv / member
        assert dest.read_bytes() == wheel.read(member), member
        if member != gone:
            assert dest.stat().st_mtime_ns == stamp[1], member
        if member.endswith(".py"):
            assert compiler.compile_file(str(dest), force=True, quiet=True) == (member != "rich_pure/legacy.py")
            if member in tree.compiled and member != gone:  # placed with its source, not compiled
                assert Path(importlib.util.cache_from_source(str(dest))).read_bytes() == Path(
                    tree.pyc(member)).read_bytes()
    assert Path(importlib.util.cache_from_source(str(venv / gone))).is_file()  # compiled, as pip would


def test_two_members_landing_on_one_file_are_placed_in_pips_order_with_the_last_ones_pyc(
    shelf: Trees, tmp_path: Path,
) -> None:
    tree, wheel = built(shelf), rich_zip()
    first, last = "rich_pure/cli.py", "rich_pure/données.py"
    dest = tmp_path / "site" / "both.py"
    placements = placements_of(tree)
    try:
        placements.save(Unzipped(first, str(dest), wheel), first, tree.files[first])
        placements.save(Unzipped(last, str(dest), wheel), last, tree.files[last])
        placements.wait()
    finally:
        placements.close()
    assert dest.read_bytes() == wheel.read(last) and Unzipped.saved == []
    assert installing._CompileFromTree(compileall, tree, placements).compile_file(str(dest), force=True, quiet=True)
    assert Path(importlib.util.cache_from_source(str(dest))).read_bytes() == Path(tree.pyc(last)).read_bytes()
