"""A cache many pips share, and pips killed while they write it: nothing lost, nothing wrong."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import time
import zipfile
from pathlib import Path
from typing import List, Set, Tuple

import pytest

from pipcachefirst.cache.store import TREES
from pipcachefirst.trees.tree import FILES_FOLDER, TREE_FILE, Tree, TreeError, Trees
from tests.conftest import World, wait_for_tree_builders
from tests.support.envs import Venv, isolated_environ

# What these show is the store's (atomic writes and renames, records last), whichever pip or
# Python writes through it: the file system's guarantees, run in one environment.
pytestmark = [pytest.mark.same_on_every_pip, pytest.mark.same_on_every_python]

PROJECTS = [f"pkg{i:02d}" for i in range(12)]


def publish_many(world: World) -> None:
    for i, name in enumerate(PROJECTS):
        payload = os.urandom(300_000) if i % 3 == 0 else b""
        world.publish_wheel(name, "1.0", payload=payload)


def start_install(world: World, venv: Venv, requirements: Path, cache: Path) -> "subprocess.Popen[bytes]":
    env = isolated_environ({**world.env(), "PIPCACHEFIRST_DIR": str(cache)})
    return subprocess.Popen(
        [str(venv.python), "-m", "pip", "install", "-q", "-r", str(requirements)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_all(processes: List["subprocess.Popen[bytes]"], timeout: float = 300) -> List[int]:
    return [code for code, _ in finish_all(processes, timeout)]


def finish_all(processes: List["subprocess.Popen[bytes]"], timeout: float = 300) -> List[Tuple[int, str]]:
    """Each pip's exit code and what it said (``-q``: its warnings and errors)."""
    deadline = time.monotonic() + timeout
    finished = []
    for proc in processes:
        try:
            output, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise AssertionError("pip did not finish in time")
        finished.append((proc.returncode, output.decode(errors="replace")))
    return finished


def records_that_lie(cache: Path) -> List[str]:
    """Records (outside quarantine) whose file is missing or has other bytes."""
    liars = []
    for record_path in (cache / "files-v1").rglob("*.json"):
        record = json.loads(record_path.read_text())
        data = record_path.with_suffix("") / record["filename"]
        if not data.is_file():
            liars.append(f"{record_path}: no file")
            continue
        content = data.read_bytes()
        if len(content) != record["size"] or hashlib.sha256(content).hexdigest() != record["sha256"]:
            liars.append(f"{record_path}: other bytes")
    return liars


def incomplete_trees(cache: Path) -> List[str]:
    """Published tree folders that are not whole: no tree.json, or a file missing, changed, or not described."""
    found = []
    for key in sorted((cache / TREES.name).glob("*")):
        for folder in sorted(key.iterdir()):
            if folder.name.startswith(".tmp-"):
                continue  # a build in progress, or one a killed pip left: nobody uses it
            try:
                tree = Tree.from_json(folder, (folder / TREE_FILE).read_text("utf-8"))
            except (OSError, ValueError, TreeError) as exc:
                found.append(f"{folder}: no readable {TREE_FILE} ({exc})")
                continue
            changed = Trees.first_damage(tree)
            if changed is not None:
                found.append(f"{folder}: {changed} is not as built")
            files = folder / FILES_FOLDER
            described = set(tree.files) | {os.path.relpath(tree.pyc(member), files) for member in tree.compiled}
            on_disk = {os.path.relpath(os.path.join(d, n), files) for d, _, names in os.walk(files) for n in names}
            if on_disk != described:
                found.append(f"{folder}: files {sorted(on_disk ^ described)} not as described")
    return found


def published_trees(cache: Path) -> List[Path]:
    return [p for p in (cache / TREES.name).glob("*/*") if not p.name.startswith(".tmp-")]


def test_eight_pips_at_once_share_one_cold_cache(world: World) -> None:
    publish_many(world)
    cache = world.tmp / "shared-cache"
    rng = random.Random(8)
    files = [world.write(f"req{i}.txt", "".join(f"{p}==1.0\n" for p in rng.sample(PROJECTS, 6))) for i in range(8)]
    wanted = {p for f in files for p in (line.split("==")[0] for line in f.read_text().split())}
    assert wanted == set(PROJECTS)  # so the warm round finds every wheel in the cache
    everything = world.write("everything.txt", "".join(f"{p}==1.0\n" for p in PROJECTS))

    # Cold: eight pips download and store overlapping sets, and their helpers build the trees.  Warm files, no trees:
    # eight pips install the same wheels, served from the cache, in step, so the same trees are built at the same time.
    for round_, requirements in (("cold", files), ("warm", [everything] * 8)):
        if round_ == "warm":
            (cache / TREES.name).rename(world.tmp / "trees-of-the-cold-round")
        venvs = [world.new_venv() for _ in requirements]
        world.server.take_requests()
        finished = finish_all([start_install(world, v, f, cache) for v, f in zip(venvs, requirements)])
        assert [code for code, _ in finished] == [0] * 8, round_
        wait_for_tree_builders(cache)  # eight helpers, after the eight pips, build the same trees at once
        requests = world.server.take_requests()
        if round_ == "warm":
            assert requests == [], "every pin of every pip served from the shared cache"
            assert [said for _, said in finished if said] == [], "no pip had a problem with the others' trees"
        assert [p for p in cache.rglob(".tmp-*")] == []  # no build of a file or a tree left behind
        assert records_that_lie(cache) == []
        assert len(list((cache / "files-v1").rglob("*.json"))) == len(wanted)
        assert incomplete_trees(cache) == [], round_
        installed = {line.split("==")[0] for f in set(requirements) for line in f.read_text().split()}
        assert len(published_trees(cache)) == len(installed), "one installed tree per wheel, however many built it"
        for wheel in sorted(w for p in installed for w in (world.index_root / "main" / p).glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                module = next(m for m in archive.namelist() if m.endswith("_mod.py"))
                got = {(v.site_packages / module).read_bytes() for v, f in zip(venvs, requirements)
                       if f"{wheel.name.split('-')[0]}==" in f.read_text()}
                assert got == {archive.read(module)}, wheel.name


def half_written(cache: Path) -> Set[str]:
    """What a writer leaves behind while it writes: temporaries, and files whose record is not there yet."""
    found = set()
    for folder, _, names in os.walk(cache / "files-v1"):
        for name in names:
            path = Path(folder) / name
            if name.startswith(".tmp-"):
                found.add(str(path))
            elif not name.endswith(".json") and not path.parent.with_suffix(".json").exists():
                found.add(str(path))
    return found


def kill_at_write(proc: "subprocess.Popen[bytes]", cache: Path, nth: int) -> None:
    """SIGKILL pip when the ``nth`` half-written thing appears in the cache, if pip gets that far."""
    seen = half_written(cache)
    before = len(seen)
    while proc.poll() is None:
        seen |= half_written(cache)
        if len(seen) - before >= nth:
            proc.send_signal(signal.SIGKILL)
            return
        time.sleep(0.001)


def trees_being_built(cache: Path) -> Set[str]:
    """The temporary folders trees are built in (a tree is published by renaming its folder)."""
    return {str(p) for p in (cache / TREES.name).glob("*/.tmp-*")}


def kill_at_tree_build(proc: "subprocess.Popen[bytes]", cache: Path, nth: int, delay: float = 0.0) -> None:
    """SIGKILL pip ``delay`` seconds after its ``nth`` tree build starts, if it gets that far (a build takes ms)."""
    seen = trees_being_built(cache)
    before = len(seen)
    while proc.poll() is None:
        seen |= trees_being_built(cache)
        if len(seen) - before >= nth:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            return
        time.sleep(0.0005)


def test_pip_killed_at_random_moments_never_leaves_a_lying_record(world: World) -> None:
    publish_many(world)
    requirements = world.write("requirements.txt", "".join(f"{p}==1.0\n" for p in PROJECTS))
    rng = random.Random(20)

    started = time.monotonic()
    probe_cache = world.tmp / "probe-cache"
    assert wait_all([start_install(world, world.new_venv(), requirements, probe_cache)]) == [0]
    duration = time.monotonic() - started

    cache = world.tmp / "killed-cache"
    torn = []  # trials whose kill landed mid-write: it left a temporary or a file without its record
    for trial in range(20):
        at_a_write = trial % 2 == 1
        if at_a_write and cache.exists():
            cache.rename(world.tmp / f"killed-cache-{trial}")  # cold again: there is writing to interrupt
        before = half_written(cache)
        proc = start_install(world, world.new_venv(), requirements, cache)
        if at_a_write:
            kill_at_write(proc, cache, nth=rng.randint(1, len(PROJECTS)))
        else:
            time.sleep(rng.uniform(0.2, duration))
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if half_written(cache) - before:
            torn.append(trial)
        assert records_that_lie(cache) == [], f"trial {trial}"
    assert torn, "no kill landed while pip was writing the cache"

    world.server.take_requests()
    assert wait_all([start_install(world, world.new_venv(), requirements, cache)]) == [0]
    assert records_that_lie(cache) == []
    venv = world.new_venv()
    world.server.take_requests()
    assert wait_all([start_install(world, venv, requirements, cache)]) == [0]
    assert world.server.take_requests() == [], "healed: everything served"
    for wheel in sorted((world.index_root / "main").rglob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if ".dist-info/" not in member:
                    assert (venv.site_packages / member).read_bytes() == archive.read(member), member
    assert incomplete_trees(cache) == []
    assert len(published_trees(cache)) == len(PROJECTS)

    # Installed trees: pips killed while they build them (the files come from the cache, the trees do not).
    torn = []
    for trial in range(4):
        (cache / TREES.name).rename(world.tmp / f"trees-{trial}")
        proc = start_install(world, world.new_venv(), requirements, cache)
        delay = 0.0 if trial % 2 == 0 else rng.uniform(0, 0.01)  # in a build, or anywhere: before, after, between
        kill_at_tree_build(proc, cache, nth=rng.randint(1, len(PROJECTS)), delay=delay)
        proc.wait(timeout=60)
        if trees_being_built(cache):
            torn.append(trial)
        assert incomplete_trees(cache) == [], f"tree trial {trial}"
    assert torn, "no kill landed while pip was building a tree"
    venv = world.new_venv()
    assert wait_all([start_install(world, venv, requirements, cache)]) == [0]
    assert incomplete_trees(cache) == []
    assert len(published_trees(cache)) == len(PROJECTS)
    for wheel in sorted((world.index_root / "main").rglob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if ".dist-info/" not in member:
                    assert (venv.site_packages / member).read_bytes() == archive.read(member), member
