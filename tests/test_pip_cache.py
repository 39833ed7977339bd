"""pip's own cache: its commands see pipcachefirst's cache, and pip's rule for who may write it holds.

pipcachefirst's cache lives in pip's cache folder (``<pip cache dir>/cachefirst``),
so what a user does to pip's cache must do the same to it: ``pip cache purge``
(to free space or to force a rebuild), ``pip cache remove NAME``, ``pip cache
info``.  And where pip will not write to its cache folder (``sudo pip`` on a
user's cache), neither does pipcachefirst.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from tests.conftest import PipRun, World


def filled(world: World) -> World:
    """A user installed a wheel pin and an sdist pin: three cached files, two installed trees."""
    world.publish_wheel("alpha", "1.0")
    world.publish_sdist("gamma", "1.0")
    first = world.install("alpha==1.0", "gamma==1.0")
    assert "Building wheel for gamma" in first.output
    return world


def cache_listing(world: World) -> Tuple[List[str], List[str]]:
    """``(cached file names, installed trees' wheel names)`` as ``pipcachefirst list`` shows them."""
    proc = world.new_venv().run(["-m", "pipcachefirst", "list", "--json"], env=world.env())
    rows = json.loads(proc.stdout)
    return (sorted(r["file"] for r in rows if r["kind"] != "tree"),
            sorted(r["file"] for r in rows if r["kind"] == "tree"))


def test_pip_cache_purge_empties_pipcachefirsts_cache_too(world: World) -> None:
    filled(world)

    purge = world.pip(world.new_venv(), "cache", "purge")
    assert purge.returncode == 0, purge.output
    assert "pipcachefirst cache files removed: 3" in purge.stdout
    assert "pipcachefirst installed trees removed: 2" in purge.stdout
    assert cache_listing(world) == ([], [])

    again = world.install("alpha==1.0", "gamma==1.0")
    assert "GET /main/simple/alpha/" in again.requests and "GET /main/simple/gamma/" in again.requests
    assert "GET /main/gamma/gamma-1.0.tar.gz" in again.requests
    assert "Building wheel for gamma" in again.output, "built again, as plain pip does after a purge"


def test_pip_cache_info_shows_pipcachefirsts_cache(world: World) -> None:
    before = world.pip(world.new_venv(), "cache", "info")
    assert before.returncode == 0 and "pipcachefirst" not in before.output, before.output
    assert not world.cache_root.exists(), "looking creates nothing"
    filled(world)

    info = world.pip(world.new_venv(), "cache", "info")
    assert info.returncode == 0, info.output
    lines = info.stdout.splitlines()
    assert f"pipcachefirst cache location: {world.cache_root}" in lines
    assert "Number of pipcachefirst cached files: 3" in lines
    assert "Number of pipcachefirst installed trees: 2" in lines
    [size] = [line for line in lines if line.startswith("pipcachefirst cache size: ")]
    assert size.endswith(" kB") or size.endswith(" MB"), size


def test_pip_cache_remove_name_removes_only_that_projects_entries_and_trees(world: World) -> None:
    filled(world)

    remove = world.pip(world.new_venv(), "cache", "remove", "gamma")
    assert remove.returncode == 0, remove.output
    assert "pipcachefirst cache files removed: 2" in remove.stdout  # gamma's sdist and the wheel built from it
    assert "pipcachefirst installed trees removed: 1" in remove.stdout
    assert cache_listing(world) == (["alpha-1.0-py3-none-any.whl"], ["alpha-1.0-py3-none-any.whl"])

    assert world.install("alpha==1.0").requests == [], "alpha is still served"
    gamma = world.install("gamma==1.0")
    assert "GET /main/simple/gamma/" in gamma.requests
    assert "Building wheel for gamma" in gamma.output

    nothing = world.pip(world.new_venv(), "cache", "remove", "delta")
    assert nothing.returncode == 0, nothing.output
    assert "pipcachefirst cache files removed: 0" in nothing.stdout
    assert cache_listing(world)[0] == ["alpha-1.0-py3-none-any.whl", "gamma-1.0-py3-none-any.whl",
                                       "gamma-1.0.tar.gz"]


# -- who may write the cache: pip's rule ---------------------------------------------

ANOTHER_USER = 12345


def owners(folder: Path) -> Dict[str, Tuple[int, bool]]:
    """Every path under ``folder``: its owner, and whether it is a folder."""
    return {str(p.relative_to(folder)): (p.lstat().st_uid, p.is_dir()) for p in folder.rglob("*")}


def chown_all(folder: Path, uid: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, uid, uid)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root (sudo pip) and another uid")
def test_root_writes_nothing_into_another_users_cache_and_serves_nothing_from_it(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_sdist("gamma", "1.0")
    world.pip_cache.mkdir()
    os.chown(world.pip_cache, ANOTHER_USER, ANOTHER_USER)  # the user's own (empty) cache; root runs pip on it

    first = world.install("alpha==1.0", "gamma==1.0")
    assert "The cache has been disabled" in first.output  # pip's own warning
    assert owners(world.pip_cache) == {}, "pip wrote nothing, and neither did pipcachefirst"

    chown_all(world.pip_cache, 0)
    world.install("alpha==1.0", "gamma==1.0")  # the cache filled as root's own
    chown_all(world.pip_cache, ANOTHER_USER)  # now the user's, with everything in it
    before = owners(world.pip_cache)

    sudo = world.install("alpha==1.0", "gamma==1.0")
    assert "The cache has been disabled" in sudo.output
    assert "GET /main/simple/alpha/" in sudo.requests, "pip reads nothing of its cache: nor is anything served"
    assert "Building wheel for gamma" in sudo.output
    assert owners(world.pip_cache) == before, "nothing written, nothing owned by root"

    chosen = world.tmp / "chosen-cache"  # a cache named by PIPCACHEFIRST_DIR gets pip's rule too
    named_env = {"PIPCACHEFIRST_DIR": str(chosen), "PIP_CACHE_DIR": str(world.tmp / "roots-own-pip-cache")}
    world.install("alpha==1.0", env=named_env)
    chown_all(chosen, ANOTHER_USER)
    before = owners(chosen)
    named = world.install("alpha==1.0", "gamma==1.0", env=named_env)
    assert f"cache directory {chosen} is not this user's" in named.output
    assert "GET /main/simple/alpha/" in named.requests
    purge = world.pip(world.new_venv(), "cache", "purge", env=named_env)  # root's own pip cache: pip purges it
    assert purge.returncode == 0, purge.output
    assert owners(chosen) == before, "the other user's cache is not pip's to purge either"

    status = world.new_venv().run(["-m", "pipcachefirst", "status", "--json"], env=world.env())
    assert "not this user's" in json.loads(status.stdout)["reason"]


# -- clear says what it could not remove ---------------------------------------------


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[Path]:
    """``path`` made immutable (``chattr +i``): not even root may remove it; skip where that cannot be done."""
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a file immutable here ({done.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


@pytest.mark.same_on_every_pip
def test_clear_that_cannot_remove_an_entry_says_so_and_fails(world: World) -> None:
    filled(world)
    for record in world.cache_root.rglob("*.json"):
        os.utime(record, (1, 1))  # long unused: clear may take it
    [alpha_record] = [p for p in (world.cache_root / "files-v1").rglob("*.json") if "alpha" in p.read_text()]

    with immutable(alpha_record):
        proc = world.new_venv().run(["-m", "pipcachefirst", "clear"], env=world.env())
        run = PipRun(proc.returncode, proc.stdout, proc.stderr, [])
        assert run.returncode == 1, run.output
        assert "could not remove 1 entries" in run.stderr and str(alpha_record) in run.stderr
    assert cache_listing(world) == (["alpha-1.0-py3-none-any.whl"], [])
