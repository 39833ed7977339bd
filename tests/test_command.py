"""The pipcachefirst command and the modes: a user looks into the cache, fills it, tidies it, goes offline."""

from __future__ import annotations

import json
import os
import time
from typing import Dict, Optional

import pytest

from tests.conftest import PipRun, World
from tests.support.envs import Venv


def pcf(world: World, venv: Venv, *args: str, env: Optional[Dict[str, str]] = None) -> PipRun:
    world.server.take_requests()
    proc = venv.run(["-m", "pipcachefirst", *args], env=world.env(env))
    return PipRun(proc.returncode, proc.stdout, proc.stderr, world.server.take_requests())


def age_everything(world: World, days: float) -> None:
    """Pretend every entry was last served ``days`` ago."""
    then = time.time() - days * 86400
    for record in world.cache_root.rglob("*.json"):
        os.utime(record, (then, then))


@pytest.fixture
def warm_world(world: World) -> World:
    world.publish_wheel("alpha", "1.0")
    world.publish_sdist("gamma", "1.0")
    world.publish_wheel("beta", "2.0")
    world.install("alpha==1.0", "gamma==1.0")
    return world


def test_status_says_on_where_the_cache_is_and_that_this_pip_fits(warm_world: World) -> None:
    venv = warm_world.new_venv()
    run = pcf(warm_world, venv, "status", "--json")
    assert run.returncode == 0, run.output
    status = json.loads(run.stdout)
    assert status["enabled"] is True
    assert status["cache"] == str(warm_world.cache_root)
    assert status["entries"] == 3  # alpha's wheel, gamma's sdist and the wheel built from it
    assert set(status["hook_points"].values()) == {"ok"}
    assert status["interpreter"] == str(venv.python)

    off = json.loads(pcf(warm_world, venv, "status", "--json", env={"PIPCACHEFIRST": "0"}).stdout)
    assert off["enabled"] is False and "PIPCACHEFIRST" in off["reason"]


@pytest.mark.same_on_every_pip
def test_list_shows_what_is_cached(warm_world: World) -> None:
    venv = warm_world.new_venv()
    rows = json.loads(pcf(warm_world, venv, "list", "--json").stdout)
    files = [r for r in rows if r["kind"] != "tree"]
    assert sorted((r["project"], r["file"], r["kind"], r["tags"]) for r in files) == [
        ("alpha", "alpha-1.0-py3-none-any.whl", "download", "py3-none-any"),
        ("gamma", "gamma-1.0-py3-none-any.whl", "built", "py3-none-any"),
        ("gamma", "gamma-1.0.tar.gz", "download", "sdist"),
    ]
    assert {r["origin"] for r in files} == {warm_world.index_url().rstrip("/")}
    installed_trees = [(r["project"], r["file"]) for r in rows if r["kind"] == "tree"]
    assert installed_trees == [("alpha", "alpha-1.0-py3-none-any.whl"), ("gamma", "gamma-1.0-py3-none-any.whl")]
    only_alpha = pcf(warm_world, venv, "list", "alpha")
    assert "alpha" in only_alpha.stdout and "gamma" not in only_alpha.stdout


def test_why_explains_each_pin_without_asking_the_index(warm_world: World) -> None:
    venv = warm_world.new_venv()
    requirements = warm_world.write("requirements.txt", "alpha==1.0\nbeta==2.0\ngamma==1.0\nalpha>=0.5\n")

    run = pcf(warm_world, venv, "why", "-r", str(requirements))
    assert run.returncode == 0, run.output
    assert run.requests == []
    assert run.stdout.splitlines() == [
        "alpha==1.0: from cache (alpha-1.0-py3-none-any.whl)",
        "beta==2.0: not from cache (not cached)",
        "gamma==1.0: from cache (gamma-1.0.tar.gz)",
        "alpha>=0.5: not from cache (not a pin: pip asks the index (exact mode))",
    ]
    other = pcf(warm_world, venv, "why", "alpha==1.0", "--index-url", warm_world.index_url("other"))
    assert other.stdout.strip() == "alpha==1.0: not from cache (cached only from another index)"


def test_warm_fills_the_cache_so_the_next_install_asks_nothing(world: World) -> None:
    world.publish_wheel("alpha", "1.0", requires=["beta==2.0"])
    world.publish_wheel("beta", "2.0")
    requirements = world.write("requirements.txt", "alpha==1.0\n")
    venv = world.new_venv()

    warm = pcf(world, venv, "warm", "-r", str(requirements))
    assert warm.returncode == 0, warm.output
    assert "Saved" in warm.stdout or "Successfully downloaded" in warm.stdout, "pip's own output"

    assert world.install("-r", str(requirements)).requests == []


def test_warm_for_another_platform(world: World) -> None:
    world.publish_wheel("alpha", "1.0", tag="cp38-cp38-win_amd64")
    venv = world.new_venv()

    warm = pcf(world, venv, "warm", "--only-binary=:all:", "--platform", "win_amd64", "--python-version", "3.8",
               "alpha==1.0")
    assert warm.returncode == 0, warm.output
    rows = json.loads(pcf(world, venv, "list", "--json").stdout)
    assert [r["tags"] for r in rows] == ["cp38-cp38-win_amd64"]


@pytest.mark.same_on_every_pip
def test_prune_removes_what_was_not_served_recently(warm_world: World) -> None:
    venv = warm_world.new_venv()
    age_everything(warm_world, days=40)
    warm_world.install("alpha==1.0")  # alpha is served, and so fresh again

    run = pcf(warm_world, venv, "prune", "--older-than", "30", "--json")
    assert (json.loads(run.stdout)["removed"], json.loads(run.stdout)["removed_trees"]) == (2, 1)
    left = [(r["project"], r["kind"]) for r in json.loads(pcf(warm_world, venv, "list", "--json").stdout)]
    assert left == [("alpha", "download"), ("alpha", "tree")], "alpha's file and tree were just used"


@pytest.mark.same_on_every_pip
def test_prune_to_a_size_removes_the_least_recently_served_first(warm_world: World) -> None:
    venv = warm_world.new_venv()
    age_everything(warm_world, days=1)
    alpha_record = next(p for p in (warm_world.cache_root / "files-v1").rglob("*.json") if "alpha" in p.read_text())
    os.utime(alpha_record, (time.time() - 3600, time.time() - 3600))

    run = pcf(warm_world, venv, "prune", "--max-size", "1K", "--json")
    assert run.returncode == 0, run.output
    assert [r["project"] for r in json.loads(pcf(warm_world, venv, "list", "--json").stdout)] == ["alpha"]


@pytest.mark.same_on_every_pip
def test_prune_spares_what_was_just_served_and_clear_empties_the_rest(warm_world: World) -> None:
    venv = warm_world.new_venv()
    assert json.loads(pcf(warm_world, venv, "prune", "--older-than", "0", "--json").stdout)["removed"] == 0
    age_everything(warm_world, days=1)
    assert json.loads(pcf(warm_world, venv, "clear", "--json").stdout)["entries"] == 0
    assert "GET /main/simple/alpha/" in warm_world.install("alpha==1.0").requests


@pytest.mark.same_on_every_pip
def test_verify_moves_aside_what_does_not_match(warm_world: World) -> None:
    venv = warm_world.new_venv()
    cached = warm_world.cached_file("alpha-1.0-py3-none-any.whl")
    data = bytearray(cached.read_bytes())
    data[10] ^= 1
    stat = cached.stat()
    cached.write_bytes(bytes(data))
    os.utime(cached, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime: only a hash tells

    report = json.loads(pcf(warm_world, venv, "verify", "--json").stdout)
    assert (report["checked"], report["moved_aside"]) == (3, ["alpha-1.0-py3-none-any.whl"])


@pytest.mark.same_on_every_pip
def test_usage_errors_exit_2_and_every_subcommand_has_help(world: World) -> None:
    venv = world.new_venv()
    assert pcf(world, venv, "prune", env={"PIPCACHEFIRST_MAX_SIZE": "0"}).returncode == 2, "no limit: say what"
    assert pcf(world, venv, "frobnicate").returncode == 2
    assert pcf(world, venv, "why").returncode == 2
    for sub in ("status", "list", "why", "warm", "prune", "verify", "clear"):
        assert pcf(world, venv, sub, "--help").returncode == 0


# -- modes ----------------------------------------------------------------------------


def test_prefer_offline_serves_a_range_from_the_newest_cached_version(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("alpha", "1.1")
    world.publish_wheel("alpha", "2.0b1")
    world.install("alpha==1.0")
    world.install("alpha==1.1")
    world.install("alpha==2.0b1")

    run = world.install("alpha>=1.0", "-v", env={"PIPCACHEFIRST_MODE": "prefer-offline"})
    assert run.requests == []
    assert "pipcachefirst: alpha>=1.0 from cache (alpha-1.1-py3-none-any.whl)" in run.stdout

    miss = world.pip(world.new_venv(), "install", "alpha>=1.5,<2", env={"PIPCACHEFIRST_MODE": "prefer-offline"})
    assert "GET /main/simple/alpha/" in miss.requests, "a miss asks the index"


def test_offline_never_asks_the_index_and_lists_every_missing_requirement(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("beta", "2.0")
    world.install("alpha==1.0")

    served = world.install("alpha>=0.5", env={"PIPCACHEFIRST_MODE": "offline"})
    assert served.requests == []

    run = world.pip(world.new_venv(), "install", "alpha==1.0", "beta==2.0", "gamma>=1",
                    env={"PIPCACHEFIRST_MODE": "offline"})
    assert run.returncode == 1
    assert run.requests == []
    [line] = [line for line in run.stderr.splitlines() if "offline" in line]
    assert "beta==2.0 (not cached)" in line and "gamma>=1" in line and "alpha" not in line.split("cache:")[1]
    assert "pipcachefirst warm 'beta==2.0' 'gamma>=1'" in line
