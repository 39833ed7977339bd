"""Installing pipcachefirst is all it takes; it costs nothing outside pip and is easy to turn off."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PIPBEHAVIOR, World
from tests.support.envs import Venv


@pytest.mark.same_on_every_pip
def test_python_start_up_imports_nothing_heavy(world: World) -> None:
    venv = world.new_venv()
    code = (
        "import sys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('wrapt', 'pipcachefirst', 'packaging')))"
    )
    out = venv.run(["-c", code], check=True).stdout.strip()
    assert out == "['pipcachefirst', 'pipcachefirst._startup']"


def test_importing_pips_finder_patches_it_once_even_when_activated_twice(world: World) -> None:
    venv = world.new_venv()
    code = (
        "import pipcachefirst._startup as s; s.activate(); s.activate()\n"
        "import pip._internal.index.package_finder as m\n"
        "f = m.PackageFinder.__dict__['find_best_candidate']\n"
        "print(hasattr(f, '_pipcachefirst_wrapper'), hasattr(f.__wrapped__, '_pipcachefirst_wrapper'))\n"
    )
    assert venv.run(["-c", code], check=True).stdout.split() == ["True", "False"]


def test_inside_pip_it_loads_no_module_of_the_standard_library_that_pip_does_not(world: World) -> None:
    venv = world.new_venv()
    loaded = (
        "import sys, pip._internal.index.package_finder\n"
        "print(sorted(m for m in sys.modules if not m.startswith(('pip', '_pipcachefirst', 'pipcachefirst'))))"
    )
    pip_alone = venv.run(["-c", loaded], env={"PIPCACHEFIRST": "0"}, check=True).stdout.strip()
    assert venv.run(["-c", loaded], check=True).stdout.strip() == pip_alone


@pytest.mark.same_on_every_pip
def test_turned_off_it_does_not_even_load(world: World) -> None:
    venv = world.new_venv()
    code = "import sys, pip._internal.index.package_finder; print('pipcachefirst.pip.hooks' in sys.modules)"
    assert venv.run(["-c", code], env={"PIPCACHEFIRST": "off"}, check=True).stdout.strip() == "False"


@pytest.mark.same_on_every_pip
def test_an_unknown_switch_value_gets_one_clear_line_and_plain_pip(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")

    run = world.install("alpha==1.0", env={"PIPCACHEFIRST": "maybe"})
    mentions = [line for line in run.output.splitlines() if "PIPCACHEFIRST" in line]
    assert len(mentions) == 1
    assert "'maybe'" in mentions[0] and "0, false, off, no" in mentions[0] and "1, true, on, yes" in mentions[0]
    assert "GET /main/simple/alpha/" in run.requests


def test_quiet_pip_prints_nothing_of_ours(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")

    run = world.install("-q", "alpha==1.0")
    assert run.requests == []
    assert run.output.strip() == ""


def test_normal_verbosity_prints_one_summary_line(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")

    run = world.install("alpha==1.0")
    assert run.lines() == ["pipcachefirst: 1 of 1 pinned requirement from cache"]


# Where pip says each file comes from: the index, pip's cache, or (served) a file in this cache.
_WHERE_FROM = ("Collecting ", "  Downloading ", "  Using cached ", "Processing ")


@pytest.mark.same_on_every_pip
def test_pips_stdout_is_as_pip_wrote_it_and_the_summary_line_is_on_stderr(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.publish_wheel("beta", "1.0")
    world.install("alpha==1.0", "beta==1.0")

    plain = world.install("alpha==1.0", "beta==1.0", env={"PIPCACHEFIRST": "0"})
    served = world.install("alpha==1.0", "beta==1.0")
    assert served.requests == []
    last_line = "Successfully installed alpha-1.0 beta-1.0"
    assert served.stdout.splitlines()[-1] == plain.stdout.splitlines()[-1] == last_line
    assert [line for line in served.stdout.splitlines() if not line.startswith(_WHERE_FROM)] == [
        line for line in plain.stdout.splitlines() if not line.startswith(_WHERE_FROM)
    ]
    assert served.stderr.splitlines() == ["pipcachefirst: 2 of 2 pinned requirements from cache"]


def test_no_cache_dir_means_no_pipcachefirst_cache_either(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")

    run = world.install("--no-cache-dir", "alpha==1.0", "-v")
    assert "GET /main/simple/alpha/" in run.requests
    assert "pipcachefirst: alpha==1.0 not from cache: pipcachefirst is off: pip's cache is off" in run.stdout


@pytest.mark.parametrize("variable", ["PIPCACHEFIRST_DIR", "PIP_DOWNLOAD_CACHE"])
def test_the_cache_can_live_elsewhere(world: World, variable: str) -> None:
    world.publish_wheel("alpha", "1.0")
    elsewhere = world.tmp / "elsewhere"
    world.install("alpha==1.0", env={variable: str(elsewhere)})
    assert list(elsewhere.rglob("alpha-1.0-py3-none-any.whl"))
    assert not world.cache_root.exists()

    run = world.install("alpha==1.0", env={variable: str(elsewhere)})
    assert run.requests == []


def test_pips_cache_dir_option_moves_the_cache_with_it(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    other_cache = world.tmp / "other-pip-cache"
    world.install("--cache-dir", str(other_cache), "alpha==1.0")
    assert list((other_cache / "cachefirst").rglob("alpha-1.0-py3-none-any.whl"))

    assert world.install("--cache-dir", str(other_cache), "alpha==1.0").requests == []


@pytest.mark.skipif(not PIPBEHAVIOR.lock_command, reason="pip lock arrived in pip 25.1")
def test_pip_lock_is_left_to_pip(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    lock_file = world.tmp / "pylock.toml"

    run = world.pip(world.new_venv(), "lock", "-o", str(lock_file), "alpha==1.0")
    assert run.returncode == 0, run.output
    assert "GET /main/simple/alpha/" in run.requests
    assert "file://" not in lock_file.read_text()
    assert world.server.url in lock_file.read_text()


@pytest.mark.skipif(not PIPBEHAVIOR.uploaded_prior_to, reason="--uploaded-prior-to arrived in pip 26.0")
def test_uploaded_prior_to_is_left_to_pip(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")

    run = world.pip(world.new_venv(), "install", "--uploaded-prior-to=2030-01-01T00:00:00Z", "alpha==1.0", "-v")
    assert "GET /main/simple/alpha/" in run.requests
    assert "pipcachefirst: alpha==1.0 not from cache: --uploaded-prior-to is set" in run.stdout


@pytest.mark.skipif(not PIPBEHAVIOR.pylock_locks_links, reason="pylock installs lock links in the finder from pip 26.2")
def test_names_locked_by_a_pylock_file_are_left_to_pip(world: World) -> None:
    wheel = world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    lock_file = world.tmp / "pylock.toml"
    assert world.pip(world.new_venv(), "lock", "-o", str(lock_file), "alpha==1.0").returncode == 0

    run = world.install("-r", str(lock_file), "-v")
    assert "pipcachefirst: alpha==1.0 not from cache: locked by a pylock file" in run.stdout
    assert f"GET /main/alpha/{wheel.name}" in run.requests


def test_pip_skips_its_last_garbage_collection_only_where_it_is_the_program(world: World) -> None:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    probe = world.tmp / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(  # registered first, so it runs last at exit
        "import atexit, gc, sys\n"
        "atexit.register(lambda: sys.stderr.write(f'frozen at exit: {gc.get_freeze_count() > 0}\\n'))\n"
    )
    temporary = world.tmp / "temporary"
    temporary.mkdir()
    env = {**world.env(), "PYTHONPATH": str(probe), "TMPDIR": str(temporary)}
    venv = world.new_venv()

    pip = venv.run(["-m", "pip", "install", "alpha==1.0"], env=env, check=True)
    assert "frozen at exit: True" in pip.stderr
    assert "Successfully installed alpha-1.0" in pip.stdout
    assert list(temporary.iterdir()) == [], "pip still removes all it made"
    script = venv.run([str(pip_script(venv, world.tmp / "pip-script")), "install", "alpha==1.0"], env=env, check=True)
    assert "frozen at exit: True" in script.stderr, "the pip script is pip too"

    inside = "import sys, pip._internal.cli.main as pip; pip.main(['install', '--force-reinstall', 'alpha==1.0'])"
    program = venv.run(["-c", inside], env=env, check=True)
    assert "frozen at exit: False" in program.stderr, "a program that runs pip inside itself keeps its exit"
    assert "Successfully installed alpha-1.0" in program.stdout


def pip_script(venv: Venv, path: Path) -> Path:
    """The ``pip`` console script an installer writes, for the entry point pip names."""
    code = ("from importlib.metadata import distribution\n"
            "print([e.value for e in distribution('pip').entry_points if e.name == 'pip'][0])")
    module, _, function = venv.run(["-c", code], check=True).stdout.strip().partition(":")
    path.write_text(f"import sys\nfrom {module} import {function}\nsys.exit({function}())\n")
    return path
