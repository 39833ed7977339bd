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
from typing import Iterator, Tuple

import pytest

from tests.conftest import PipRun, World


def filled(world: World) -> World:
    """A user installed a wheel pin and an sdist pin: three cached files, two installed trees."""
    world.publish_wheel("alpha", "1.0")
    world.publish_sdist("gamma", "1.0")
    first = world.install("alpha==1.0", "gamma==1.0")
    assert "Building wheel for gamma" in first.output
    return world


def cache_listing(world: World) -> Tuple[list, list]:
    """``(cached file names, installed trees' wheel names)`` as ``pipcachefirst list`` shows them."""
    proc = world.new_venv().run(["-m", "pipcachefirst", "list", "--json"], env=world.env())
    rows = json.loads(proc.stdout)
    return (sorted(r["file"] for r in rows if r["kind"] != "tree"),
            sorted(r["file"] for r in rows if r["kind"] == "tree"))


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
