"""Bad caches, bad input and bad neighbours: one clear line, pip carries on, nothing wrong installed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from pipcachefirst.cache.provenance import normalize_location
from tests.conftest import SUMMARY, PipRun, World, sha256_of
from tests.support.envs import Venv, create_venv
from tests.support.installed import Installed, differences, snapshot
from tests.support.packages import make_rich_wheel


def warnings_of(run: PipRun) -> List[str]:
    return run.warnings()


def the_record(world: World, filename: str) -> Path:
    records = (world.cache_root / "files-v1").rglob("*.json")
    [record] = [p for p in records if json.loads(p.read_text())["filename"] == filename]
    return record


# -- bad records and files in the cache ---------------------------------------


@pytest.mark.same_on_every_pip
def test_a_record_that_is_not_json_costs_one_line_and_is_moved_aside(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    the_record(world, wheel.name).write_text("{not json")

    run = world.install("alpha==1.0")
    [warning] = warnings_of(run)
    assert "is not a valid pipcachefirst record" in warning and "moved aside" in warning
    assert "GET /main/simple/alpha/" in run.requests
    assert world.install("alpha==1.0").requests == [], "the entry healed"


@pytest.mark.same_on_every_pip
@pytest.mark.parametrize("bad_name", ["../../../../evil-1.0-py3-none-any.whl", "/etc/passwd", "alpha-1.0.exe"])
def test_a_record_naming_a_strange_file_is_refused(world: World, bad_name: str) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    record_path = the_record(world, wheel.name)
    record = json.loads(record_path.read_text())
    record["filename"] = bad_name
    record_path.write_text(json.dumps(record))

    run = world.install("alpha==1.0")
    [warning] = warnings_of(run)
    assert "moved aside" in warning
    assert "GET /main/simple/alpha/" in run.requests


@pytest.mark.same_on_every_pip
def test_a_cached_file_replaced_by_a_symlink_pointing_out_is_not_served(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    cached = world.cached_file(wheel.name)
    outside = world.tmp / "outside.whl"
    shutil.copy(cached, outside)
    cached.unlink()
    cached.symlink_to(outside)

    run = world.install("alpha==1.0", "-v")
    assert "pipcachefirst: alpha==1.0 not from cache: cached file was damaged and moved aside" in run.stdout
    assert world.cached_file(wheel.name).is_symlink() is False


@pytest.mark.same_on_every_pip
def test_a_version_folder_that_leads_outside_the_cache_is_ignored(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    origin_dir = world.cached_file(wheel.name).parent.parent
    moved = world.tmp / "elsewhere"
    shutil.move(str(origin_dir), moved)
    origin_dir.symlink_to(moved)

    run = world.install("alpha==1.0")
    assert any("leads outside the cache" in w for w in warnings_of(run))
    assert "GET /main/simple/alpha/" in run.requests


# -- bad cache directories -----------------------------------------------------


@pytest.mark.same_on_every_pip
def test_a_cache_directory_that_cannot_be_created_costs_one_line(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    a_file = world.write("a-file", "")

    run = world.install("alpha==1.0", env={"PIPCACHEFIRST_DIR": str(a_file / "cache")})
    [warning] = warnings_of(run)
    assert "cannot be created" in warning and str(a_file / "cache") in warning
    assert "Traceback" not in run.output


@contextlib.contextmanager
def mounted_tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options + ",mode=0755", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.mark.same_on_every_pip
def test_a_read_only_cache_serves_and_stores_nothing(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("beta", "1.0")
    with mounted_tmpfs(world.tmp / "ro", "size=16m") as cache:
        env = {"PIPCACHEFIRST_DIR": str(cache)}
        world.install("alpha==1.0", env=env)
        subprocess.run(["mount", "-o", "remount,ro", str(cache)], check=True)

        run = world.install("alpha==1.0", "beta==1.0", env=env)
        [warning] = warnings_of(run)
        assert "read-only" in warning
        assert not any("/alpha/" in r for r in run.requests), "alpha still comes from the cache"
        assert "GET /main/simple/beta/" in run.requests
        assert not list(cache.rglob("beta*"))


@pytest.mark.same_on_every_pip
def test_a_disk_that_runs_out_of_room_while_storing_costs_one_line_and_leaves_no_partial_file(world: World) -> None:
    world.publish_wheel("alpha", "1.0", payload=os.urandom(600_000))
    # Out of inodes half way down the entry's folders: "No space left on device", with its blocks free.
    with mounted_tmpfs(world.tmp / "small", "size=16m,nr_inodes=5") as cache:
        run = world.install("alpha==1.0", env={"PIPCACHEFIRST_DIR": str(cache)})
        [warning] = warnings_of(run)
        assert "cannot write to the cache" in warning and "No space left" in warning
        assert "Successfully installed alpha-1.0" in run.stdout
        assert [p.name for p in cache.rglob("*") if p.is_file()] == []


def leave_free(disk: Path, free: int) -> Path:
    """A file on ``disk`` that leaves ``free`` bytes of it free."""
    fs = os.statvfs(disk)
    ballast = disk / "ballast"
    ballast.write_bytes(bytes(fs.f_bavail * fs.f_frsize - free))  # written zeros take their pages on a tmpfs
    return ballast


@pytest.mark.same_on_every_pip
def test_a_cache_on_a_nearly_full_disk_serves_and_stores_nothing_with_one_line_per_command(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("beta", "1.0")
    with mounted_tmpfs(world.tmp / "small", "size=16m") as disk:  # pipcachefirst leaves a tenth of it free
        cache = disk / "cache"
        env = {"PIPCACHEFIRST_DIR": str(cache)}
        world.install("alpha==1.0", env=env)
        ballast = leave_free(disk, 1 << 20)

        for _ in range(2):
            run = world.install("alpha==1.0", "beta==1.0", env=env)
            assert [line.strip() for line in warnings_of(run)] == [
                f"WARNING: pipcachefirst: only 1.0 MiB free on the disk of {cache} (pipcachefirst leaves 1.6 MiB "
                "free); storing nothing more in this run"
            ]
            assert not any("/alpha/" in r for r in run.requests), "alpha still comes from the cache"
            assert "GET /main/simple/beta/" in run.requests
            assert not list(cache.rglob("beta*"))

        ballast.unlink()
        run = world.install("beta==1.0", env=env)
        assert warnings_of(run) == []
        assert list(cache.rglob("beta-1.0-py3-none-any.whl"))


@pytest.mark.same_on_every_pip
def test_an_install_stores_only_what_leaves_the_margin_free(world: World) -> None:
    world.publish_wheel("big", "1.0", payload=bytes(3 << 19))  # 1.5 MiB, and as much again unpacked
    with mounted_tmpfs(world.tmp / "small", "size=16m") as disk:
        cache = disk / "cache"
        leave_free(disk, 4 << 20)

        run = world.install("big==1.0", env={"PIPCACHEFIRST_DIR": str(cache)})
        assert [line.strip() for line in warnings_of(run)] == [
            "WARNING: pipcachefirst: storing the installed tree of big (1.5 MiB) would leave less than 1.6 MiB free "
            f"on the disk of {cache}; storing nothing more in this run"
        ]
        assert list(cache.rglob("big-1.0-py3-none-any.whl")), "the wheel itself left room enough"
        assert not list(cache.rglob("big_payload.bin")), "its tree did not"
        fs = os.statvfs(disk)
        assert fs.f_bavail * fs.f_frsize >= fs.f_blocks * fs.f_frsize // 10


# -- who may write the cache ---------------------------------------------------


@pytest.mark.same_on_every_pip
def test_entries_are_created_with_the_users_umask(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    venv = world.new_venv()
    code = (
        "import os, runpy, sys; os.umask(0o027); sys.argv = ['pip', 'install', 'alpha==1.0'];"
        "runpy.run_module('pip', run_name='__main__')"
    )
    proc = venv.run(["-c", code], env=world.env())
    assert proc.returncode == 0, proc.stderr
    cached = world.cached_file(wheel.name)
    assert stat.S_IMODE(cached.stat().st_mode) == 0o640
    assert stat.S_IMODE(cached.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE(the_record(world, wheel.name).stat().st_mode) == 0o640


@pytest.mark.same_on_every_pip
def test_a_cache_others_can_write_to_is_not_served(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    world.cache_root.chmod(0o777)

    run = world.install("alpha==1.0")
    [warning] = warnings_of(run)
    assert "other users can write" in warning and f"chmod o-w {world.cache_root}" in warning
    assert "GET /main/simple/alpha/" in run.requests


@pytest.mark.same_on_every_pip
def test_an_entry_others_can_write_to_is_not_served(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    cached = world.cached_file(wheel.name)
    cached.chmod(0o666)

    run = world.install("alpha==1.0", "-v")
    assert "pipcachefirst: alpha==1.0 not from cache: cached file can be changed by other users" in run.stdout
    assert any(f"chmod o-w {cached}" in w for w in warnings_of(run))


# -- hash-checking mode, provenance --------------------------------------------


def test_hash_checking_mode_end_to_end(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0", requires=["beta==2.0"])
    sdist = world.publish_sdist("beta", "2.0")
    requirements = world.write(
        "requirements.txt",
        f"alpha==1.0 \\\n    --hash=sha256:{sha256_of(wheel)}\n"
        f"beta==2.0 \\\n    --hash=sha256:{sha256_of(sdist)}\n",
    )
    world.install("-r", str(requirements))
    assert any(r["kind"] == "built" for r in world.records()), "a wheel was built from beta's sdist"

    run = world.install("-r", str(requirements), "-v")
    assert run.requests == []
    assert "pipcachefirst: alpha==1.0 from cache (alpha-1.0-py3-none-any.whl)" in run.stdout
    assert "pipcachefirst: beta==2.0 from cache (beta-2.0.tar.gz)" in run.stdout, "the file the hash names"


def test_index_urls_are_compared_in_normalized_form(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    shouted = world.index_url().replace("http://", "HTTP://").rstrip("/")
    world.install("alpha==1.0", env={"PIP_INDEX_URL": shouted})

    assert world.install("alpha==1.0").requests == []


@pytest.mark.same_on_every_pip
def test_location_normal_form() -> None:
    assert normalize_location("HTTPS://User:Token@PyPI.org:443/simple/") == "https://pypi.org/simple"
    assert normalize_location("http://host:80/a/") == normalize_location("http://HOST/a")
    assert normalize_location("http://host:8080/a") != normalize_location("http://host/a")
    assert normalize_location("/some/local/folder") is None
    assert normalize_location("file:///srv/simple") is None


# -- a bug of ours: pip installs what plain pip installs, and one line says so ------
#
# Each fault is a sitecustomize in the user's environment that breaks one of
# pipcachefirst's own parts through its own patching API: nothing of pip is
# mocked, and nothing in pipcachefirst reads a variable that tests set.

RICH = ("rich-pure==1.0", "rich-plat==2.0")


def faulty_environment(folder: Path, fault: str) -> Venv:
    """A new environment at ``folder`` whose interpreter starts with ``fault`` (Python source) as sitecustomize."""
    shutil.rmtree(folder, ignore_errors=True)
    venv = create_venv(folder)
    (venv.site_packages / "sitecustomize.py").write_text(
        "from pipcachefirst.base import patching\n\n\n"
        "def boom(*args, **kwargs):\n"
        "    raise RuntimeError('a bug of ours')\n\n\n" + textwrap.dedent(fault))
    return venv


def as_plain_pip_installs(world: World, fault: str, *args: str,
                          env: Optional[Dict[str, str]] = None) -> Tuple[PipRun, List[str]]:
    """``pip install RICH`` by plain pip, then with ``fault``, at one path: the run with it, and how the two differ."""
    same = world.tmp / "same"  # one path, so shebangs and RECORD hashes can match byte for byte

    def install(fault: str, env: Optional[Dict[str, str]] = None) -> Tuple[PipRun, Installed]:
        venv = faulty_environment(same, fault)
        run = world.pip(venv, "install", *args, *RICH, env=env)
        assert run.returncode == 0, run.output
        (venv.site_packages / "sitecustomize.py").unlink()
        return run, snapshot(same)

    _, by_plain_pip = install("", {"PIPCACHEFIRST": "0"})
    run, installed = install(fault, env)
    return run, differences(by_plain_pip, installed)


def one_line(run: PipRun) -> List[str]:
    """pipcachefirst's warnings, without pip's indent and "WARNING: " (pip's logging, once it is set up)."""
    return [line.strip().replace("WARNING: ", "", 1) for line in run.warnings()]


@pytest.fixture
def rich_world(world: World) -> World:
    """Two rich wheels on the index, in the cache, and their installed trees built."""
    make_rich_wheel(world.index_root / "main" / "rich-pure", "rich-pure", "1.0")
    make_rich_wheel(world.index_root / "main" / "rich-plat", "rich-plat", "2.0", purelib=False)
    world.install(*RICH)
    return world


def test_a_post_import_hook_that_raises_leaves_pip_importing_and_running_as_plain_pip(rich_world: World) -> None:
    module = "pip._internal.index.package_finder"
    run, differ = as_plain_pip_installs(rich_world, f"patching.when_imported({module!r}, boom)\n")

    assert differ == []
    assert one_line(run) == [
        f"pipcachefirst: a hook after importing {module} failed (RuntimeError: a bug of ours); "
        "pip carries on without it"]
    assert "GET /main/simple/rich-pure/" in run.requests, "plain pip: the index"
    assert not [line for line in run.lines() if SUMMARY.search(line)], "and no summary"


def test_a_wrapper_whose_part_raises_leaves_the_answer_to_pip(rich_world: World) -> None:
    fault = """
        def break_serving(serve):
            serve.answer = boom  # what pip's finder wrapper asks for each pin

        patching.when_imported("pipcachefirst.pip.serve", break_serving)
    """
    run, differ = as_plain_pip_installs(rich_world, fault)

    assert differ == []
    assert one_line(run) == [
        "pipcachefirst: could not use the cache (RuntimeError: a bug of ours); pip carries on without it"]
    assert "GET /main/simple/rich-pure/" in run.requests


@pytest.mark.parametrize("copy_ahead", ["1", "0"])
def test_placing_an_installed_tree_that_raises_leaves_the_wheel_to_pips_unzip(
    rich_world: World, copy_ahead: str,
) -> None:
    """Copied ahead, a tree's files are renamed into place and only some ``.pyc`` placed; else all are placed."""
    fault = """
        def break_placing(tree):
            place = tree.Placer.place

            def places_then_fails(self, source, target, *args):
                place(self, source, target, *args)  # the file is there: the worst moment to fail
                boom()

            tree.Placer.place = places_then_fails

        patching.when_imported("pipcachefirst.trees.tree", break_placing)
    """
    run, differ = as_plain_pip_installs(rich_world, fault, "-v", env={"PIPCACHEFIRST_COPY_AHEAD": copy_ahead})

    assert differ == []
    wheels = sorted(w.name for w in (rich_world.index_root / "main").glob("*/*.whl"))
    [warning] = one_line(run)
    assert warning in [f"pipcachefirst: could not place the installed tree of {wheel} (RuntimeError: a bug of ours); "
                       "pip carries on without it" for wheel in wheels], warning
    assert run.requests == [] and "placed from its installed tree" not in run.output, "served, but unzipped by pip"


@pytest.mark.same_on_every_pip
def test_a_pip_newer_than_pipcachefirst_knows_runs_unchanged_and_one_line_says_so_each_command(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    venv = world.new_venv()
    init = venv.site_packages / "pip" / "__init__.py"  # a real pip, reporting the next major version
    init.write_text(re.sub(r'__version__ = "[^"]+"', '__version__ = "27.0"', init.read_text(), count=1))
    said = ("pipcachefirst: pip 27.0 is newer than this pipcachefirst knows (22\u201326): plain pip; "
            "upgrade pipcachefirst")

    run = world.pip(venv, "install", "alpha==1.0")
    assert run.returncode == 0, run.output
    assert run.lines() == [said] and run.stderr.count(said) == 1
    assert "GET /main/simple/alpha/" in run.requests, "pip asked the index itself"
    again = world.pip(venv, "install", "alpha==1.0")  # the next command says it again, once
    assert again.returncode == 0 and again.lines() == [said], again.output
    status = json.loads(venv.run(["-m", "pipcachefirst", "status", "--json"], env=world.env()).stdout)
    assert status["enabled"] is False and status["reason"] == said.replace("pipcachefirst: ", "")


# -- the helpers pip leaves behind write no byte code where the user said not to ----


def byte_code_of_pip_and_pipcachefirst(venv: Venv) -> List[str]:
    return sorted(str(p.relative_to(venv.site_packages)) for folder in ("pip", "pipcachefirst")
                  for p in (venv.site_packages / folder).rglob("*.pyc"))


def test_with_pythondontwritebytecode_the_helpers_write_no_byte_code_into_the_environment(world: World) -> None:
    """A slim image sets ``PYTHONDONTWRITEBYTECODE`` and installs pip and pipcachefirst ``--no-compile``.

    The helpers start with ``-I``, which drops ``PYTHON*`` variables: without
    ``-B`` they wrote pipcachefirst's byte code next to its sources.
    (Every pip a test runs has ``PYTHONDONTWRITEBYTECODE=1``.)
    """
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("beta", "1.0")

    def slim_install(env: Dict[str, str]) -> List[str]:
        venv = world.new_venv()
        if not (venv.site_packages / "pipcachefirst" / "__init__.py").is_file():
            pytest.skip("pipcachefirst is installed editable here: the helpers import it from the checkout")
        for pyc in byte_code_of_pip_and_pipcachefirst(venv):
            (venv.site_packages / pyc).unlink()
        world.install("alpha==1.0", "beta==1.0", venv=venv, env=env)
        return byte_code_of_pip_and_pipcachefirst(venv)

    assert slim_install({"PIPCACHEFIRST": "0"}) == [], "plain pip writes none"
    assert slim_install({}) == [], "stored; the trees built after pip's last line (trees.later)"
    assert slim_install({}) == [], "placed from trees copied ahead (trees.staging)"
    note = world.cache_root / "limit-v1"
    os.utime(note, (time.time() - 3600, time.time() - 3600))
    assert slim_install({"PIPCACHEFIRST_MAX_SIZE": str(10**12)}) == [], "the size checked (cache.limit)"
    assert note.stat().st_mtime > time.time() - 600, "it was"
