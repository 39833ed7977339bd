"""The cache's size limit: a user sets ``PIPCACHEFIRST_MAX_SIZE``, and after pip's commands the cache keeps to it.

Time passing is pretended as the prune tests pretend it: the mtimes that say
when an entry was last used (its record, a tree's ``tree.json``) and when the
cache's size was last checked (files in the cache root) are moved back.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

from pipcachefirst.base.free_space import human
from pipcachefirst.cache.store import FILES, TREES
from tests.conftest import PipRun, World
from tests.support.envs import Venv, create_venv
from tests.support.installed import differences, snapshot
from tests.support.packages import make_rich_wheel

MINUTE, HOUR = 60.0, 3600.0


def time_passes(world: World, seconds: float) -> None:
    """Everything in the cache was last used, and its size last checked, ``seconds`` earlier than it was."""
    root = world.cache_root
    for path in [*(root / FILES.name).rglob("*.json"), *(root / TREES.name).glob("*/*/tree.json"),
                 *(p for p in root.iterdir() if p.is_file())]:
        info = path.stat()
        os.utime(path, (info.st_atime - seconds, info.st_mtime - seconds))


def tree_folders(world: World) -> Dict[str, Path]:
    """Each installed tree's folder, by the project of its wheel."""
    return {json.loads((folder / "tree.json").read_text())["wheel"].split("-")[0]: folder
            for folder in (world.cache_root / TREES.name).glob("*/*") if not folder.name.startswith(".")}


def used(world: World, project: str, seconds_ago: float) -> None:
    """``project``'s file and tree were last used ``seconds_ago``."""
    then = time.time() - seconds_ago
    records = [p for p in (world.cache_root / FILES.name / project).rglob("*.json")]
    for path in [*records, tree_folders(world)[project] / "tree.json"]:
        os.utime(path, (then, then))


def sizes(world: World) -> Dict[Tuple[str, str], int]:
    """What each file takes (its size) and each tree (its blocks), by (project, "file" or "tree")."""
    found = {(record["filename"].split("-")[0], "file"): record["size"] for record in world.records()}
    for project, folder in tree_folders(world).items():
        found[(project, "tree")] = sum(p.lstat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())
    return found


def left(world: World) -> Set[Tuple[str, str]]:
    """What the cache holds: (project, "file" or "tree")."""
    return set(sizes(world))


def test_after_a_pip_command_the_least_recently_used_trees_go_first_then_files_and_nothing_just_used(
    world: World,
) -> None:
    for project in ("alpha", "beta", "gamma", "delta"):
        world.publish_wheel(project, "1.0")
    world.install("alpha==1.0", "beta==1.0", "gamma==1.0")  # their trees are built after pip's last line
    used(world, "alpha", 3 * HOUR)
    used(world, "beta", 2 * HOUR)
    used(world, "gamma", 1 * HOUR)
    time_passes(world, 11 * MINUTE)
    before = sizes(world)
    assert len(before) == 6, before

    # Just under what the cache holds once delta's file is there too, less two trees: the two least recently
    # used trees go; alpha's file, older than beta's tree, stays: files go only once no tree may.
    delta_file = (world.index_root / "main" / "delta" / "delta-1.0-py3-none-any.whl").stat().st_size
    limit = sum(before.values()) + delta_file - before[("alpha", "tree")] - before[("beta", "tree")]
    run = world.pip(world.new_venv(), "download", "delta==1.0", "-d", str(world.tmp / "downloads"),
                    env={"PIPCACHEFIRST_MAX_SIZE": str(limit)})
    assert run.returncode == 0, run.output
    assert left(world) == {("alpha", "file"), ("beta", "file"), ("gamma", "file"), ("gamma", "tree"),
                           ("delta", "file")}
    assert sum(sizes(world).values()) <= limit

    # Ten minutes later, a limit of one byte: everything goes but what this install uses.
    time_passes(world, 11 * MINUTE)
    world.install("gamma==1.0", env={"PIPCACHEFIRST_MAX_SIZE": "1"})
    assert left(world) == {("gamma", "file"), ("gamma", "tree")}, "what was used in the last ten minutes stays"


def test_the_size_is_checked_at_most_once_in_ten_minutes(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("beta", "1.0")
    world.install("alpha==1.0")
    time_passes(world, 11 * MINUTE)
    world.install("beta==1.0")  # the size is checked after this command: nothing is old enough to go
    used(world, "alpha", 2 * HOUR)
    used(world, "beta", 2 * HOUR)

    world.install("--no-compile", "beta==1.0", env={"PIPCACHEFIRST_MAX_SIZE": "1"})
    assert left(world) == {("alpha", "file"), ("alpha", "tree"), ("beta", "file"), ("beta", "tree")}, \
        "checked less than ten minutes ago (by the clock of the cache's own note)"

    run = world.pip(world.new_venv(), "download", "--no-deps", "alpha==1.0", "-d", str(world.tmp / "d"),
                    env={"PIPCACHEFIRST_MAX_SIZE": "not a size"})
    assert run.returncode == 0, run.output
    assert run.warnings() == ["pipcachefirst: ignoring PIPCACHEFIRST_MAX_SIZE='not a size', not a size "
                              "(e.g. 500M, 10G, or 0 for no limit); using 10G"]


def test_prune_with_no_option_applies_the_limit_and_status_shows_it(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("beta", "1.0")
    venv = world.new_venv()
    world.install("alpha==1.0", "beta==1.0", venv=venv, env={"PIPCACHEFIRST_LINK_MODE": "copy"})
    used(world, "alpha", 2 * HOUR)
    used(world, "beta", 1 * HOUR)
    limit = sum(sizes(world).values()) - 1
    env = {"PIPCACHEFIRST_MAX_SIZE": str(limit)}

    status = json.loads(venv.run(["-m", "pipcachefirst", "status", "--json"], env=world.env(env)).stdout)
    assert status["max_size"] == limit
    assert status["bytes"] + status["trees"]["bytes"] == limit + 1
    assert status["tree_bytes_saved_by_links"] == 0, "copies save nothing"

    run = venv.run(["-m", "pipcachefirst", "prune", "--json"], env=world.env(env))
    assert run.returncode == 0, run.stderr
    assert (json.loads(run.stdout)["removed"], json.loads(run.stdout)["removed_trees"]) == (0, 1)
    assert left(world) == {("alpha", "file"), ("beta", "file"), ("beta", "tree")}


def test_status_counts_what_hard_links_to_trees_save(world: World) -> None:
    make_rich_wheel(world.index_root / "main" / "rich-pure", "rich-pure", "1.0")
    hardlink = {"PIPCACHEFIRST_LINK_MODE": "hardlink"}
    world.install("rich-pure==1.0", env={"PIPCACHEFIRST_LINK_MODE": "copy"})
    venv = world.new_venv()

    def saved() -> int:
        status = json.loads(venv.run(["-m", "pipcachefirst", "status", "--json"], env=world.env()).stdout)
        return int(status["tree_bytes_saved_by_links"])

    assert saved() == 0
    world.install("rich-pure==1.0", env=hardlink)
    once = saved()
    assert 0 < once <= sizes(world)[("rich_pure", "tree")]
    world.install("rich-pure==1.0", env=hardlink)
    assert saved() == 2 * once, "two environments, two copies saved"


def test_status_shows_the_trees_their_bytes_and_what_links_save_as_the_file_system_has_them(world: World) -> None:
    """The figures of ``status``, worked out here from the cache's files: two venvs link to one tree."""
    make_rich_wheel(world.index_root / "main" / "rich-pure", "rich-pure", "1.0")
    world.publish_wheel("alpha", "1.0")
    world.install("rich-pure==1.0", "alpha==1.0", env={"PIPCACHEFIRST_LINK_MODE": "copy"})
    venv = world.new_venv()
    world.install("rich-pure==1.0", "alpha==1.0", venv=venv, env={"PIPCACHEFIRST_LINK_MODE": "hardlink"})
    world.install("rich-pure==1.0", env={"PIPCACHEFIRST_LINK_MODE": "hardlink"})

    bucket = world.cache_root / TREES.name
    folders = [tree for key in bucket.iterdir() if key.is_dir() and not key.name.startswith(".")
               for tree in key.iterdir() if tree.is_dir() and not tree.name.startswith(".")]
    tree_bytes = sum(p.lstat().st_blocks * 512 for folder in folders for p in folder.rglob("*") if not p.is_dir())
    saved = sum((p.lstat().st_nlink - 1) * p.lstat().st_blocks * 512 for p in bucket.rglob("*")
                if p.is_file() and not p.is_symlink())
    assert len(folders) == 2 and saved > 0

    status = json.loads(venv.run(["-m", "pipcachefirst", "status", "--json"], env=world.env()).stdout)
    assert (status["trees"]["count"], status["trees"]["bytes"], status["tree_bytes_saved_by_links"]) == \
        (2, tree_bytes, saved)
    lines = venv.run(["-m", "pipcachefirst", "status"], env=world.env()).stdout.splitlines()
    trees_line, = (line for line in lines if line.startswith("installed trees: on, link mode auto"))
    assert trees_line.endswith(f": 2 trees, {human(tree_bytes)}"), lines
    assert f"size limit: 10.0 GiB (PIPCACHEFIRST_MAX_SIZE): {human(status['bytes'] + tree_bytes)} used; " \
        f"hard links to trees save {human(saved)}" in lines


# -- eviction while another pip installs -------------------------------------------------------

RICH = ("rich-pure==1.0", "rich-plat==2.0")

# A sitecustomize in pip B's environment: at one moment of its install another process, the user's
# ``pipcachefirst prune`` with a limit of one byte, evicts the tree pip B is placing, as an evictor would
# that listed the cache a moment before pip B took the tree (``listed_before``: its tree.json is dated an
# hour back first).
EVICTOR = """
    import os, subprocess, sys, threading, time
    from pipcachefirst.base import patching

    _once = threading.Lock()

    def evict(folder, listed_before=True):
        if not _once.acquire(blocking=False):
            return
        if listed_before:
            an_hour_ago = time.time() - 3600
            os.utime(os.path.join(folder, "tree.json"), (an_hour_ago, an_hour_ago))
        subprocess.run([sys.executable, "-m", "pipcachefirst", "prune"], stdout=subprocess.DEVNULL,
                       env=dict(os.environ, PIPCACHEFIRST_MAX_SIZE="1"), check=True)
        sys.stderr.write(f"test: evicted {os.path.basename(folder)}: {not os.path.exists(folder)}\\n")
"""
FOUND = """
    def when_found(tree):
        find = tree.Trees.find

        def find_then_evict(self, sha256, *args):
            found = find(self, sha256, *args)
            if found is not None:
                evict(str(found.folder))
            return found

        tree.Trees.find = find_then_evict

    patching.when_imported("pipcachefirst.trees.tree", when_found)
"""
BEFORE_FOUND = """
    def before_found(tree):
        find = tree.Trees.find

        def evict_then_find(self, sha256, *args):
            evict(str(self.folder / sha256), listed_before=False)
            return find(self, sha256, *args)

        tree.Trees.find = evict_then_find

    patching.when_imported("pipcachefirst.trees.tree", before_found)
"""
PLACING = """
    def while_placing(tree):
        place = tree.Placer.place

        def place_then_evict(self, source, target, *args, **kwargs):
            place(self, source, target, *args, **kwargs)
            evict(source.split("/files/")[0])

        tree.Placer.place = place_then_evict

    patching.when_imported("pipcachefirst.trees.tree", while_placing)
"""


def environment_with(folder: Path, sitecustomize: str) -> Venv:
    shutil.rmtree(folder, ignore_errors=True)
    venv = create_venv(folder)
    (venv.site_packages / "sitecustomize.py").write_text(textwrap.dedent(sitecustomize))
    return venv


@pytest.mark.parametrize("moment, copy_ahead", [("found", "1"), ("found", "0"), ("placing", "0")])
def test_a_tree_evicted_while_another_pip_places_it_leaves_that_pip_installing_what_plain_pip_does(
    world: World, moment: str, copy_ahead: str,
) -> None:
    make_rich_wheel(world.index_root / "main" / "rich-pure", "rich-pure", "1.0")
    make_rich_wheel(world.index_root / "main" / "rich-plat", "rich-plat", "2.0", purelib=False)
    world.install(*RICH)
    time_passes(world, HOUR)
    same = world.tmp / "same"  # one path, so shebangs and RECORD hashes can match byte for byte

    def install(sitecustomize: str, env: Optional[Dict[str, str]] = None) -> Tuple[PipRun, List[str]]:
        venv = environment_with(same, sitecustomize)
        run = world.pip(venv, "install", "-v", *RICH, env=env)
        assert run.returncode == 0, run.output
        (venv.site_packages / "sitecustomize.py").unlink()
        return run, [line for line in run.stderr.splitlines() if line.startswith("test: evicted")]

    plain, _ = install("", {"PIPCACHEFIRST": "0"})
    by_plain_pip = snapshot(same)
    run, evicted = install(EVICTOR + (FOUND if moment == "found" else PLACING),
                           {"PIPCACHEFIRST_COPY_AHEAD": copy_ahead})

    assert evicted and evicted[0].endswith(": True"), run.stderr
    assert differences(by_plain_pip, snapshot(same)) == []
    assert run.warnings() == [], "a tree gone is no bug: pip unzips what it cannot place, without a word"
    assert run.requests == [], "served from the cache all the same"
    if (moment, copy_ahead) == ("found", "0"):  # -v says what happened: no file could be placed
        told = [line for line in run.stdout.splitlines() if "its installed tree could not give its files" in line]
        assert len(told) == 1 and "placed from its installed tree" not in run.stdout, run.stdout


def test_a_tree_being_copied_ahead_is_in_use_and_the_evictor_spares_it(world: World) -> None:
    make_rich_wheel(world.index_root / "main" / "rich-pure", "rich-pure", "1.0")
    make_rich_wheel(world.index_root / "main" / "rich-plat", "rich-plat", "2.0", purelib=False)
    world.install(*RICH)
    time_passes(world, HOUR)

    run = world.pip(environment_with(world.tmp / "b", EVICTOR + BEFORE_FOUND), "install", "-v", *RICH)
    assert run.returncode == 0, run.output
    evicted = [line for line in run.stderr.splitlines() if line.startswith("test: evicted")]
    assert evicted in ([f"test: evicted {folder.name}: False"] for folder in tree_folders(world).values()), run.stderr
    placed = [line for line in run.stdout.splitlines() if "placed from its installed tree" in line]
    assert len(placed) == 2 and all("copied ahead" in line for line in placed), run.stdout
