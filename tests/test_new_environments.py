"""Environments that do not exist yet: virtualenv, tox, stdlib venv, sitecustomize, one-command re-create.

These run from the test runner's own environment, where tox installed
pipcachefirst, virtualenv and tox, as a user would have them.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Dict, Optional

import pytest

from pipcachefirst.pip import bundled
from tests.conftest import PipRun, World
from tests.support.envs import Venv, isolated_environ
from tests.support.packages import wheel_bytes, wheel_of_installed

# New environments get the pip their maker brings (ensurepip's, virtualenv's), not the pip under test.
pytestmark = pytest.mark.same_on_every_pip


def runner(world: World, *args: str, env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None) -> PipRun:
    """Run ``python ARGS`` with the test runner's interpreter, as the user's base Python."""
    world.server.take_requests()
    extra = {
        **world.env(),
        "VIRTUALENV_CONFIG_FILE": str(world.tmp / "virtualenv.ini"),
        "VIRTUALENV_OVERRIDE_APP_DATA": str(world.tmp / "virtualenv-app-data"),
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",  # else virtualenv asks the index for newer pips, later
        **(env or {}),
    }
    proc = subprocess.run([sys.executable, *args], env=isolated_environ(extra), capture_output=True, text=True,
                          cwd=cwd, timeout=600)
    return PipRun(proc.returncode, proc.stdout, proc.stderr, world.server.take_requests())


BUNDLED_PIP = bundled.pip_wheel_of(sysconfig.get_path("stdlib"))


def seeded(venv_dir: Path) -> bool:
    return any(venv_dir.rglob("_pipcachefirst_seed.pth"))


@pytest.fixture
def warm(world: World) -> World:
    world.publish_wheel("alpha", "1.0")
    world.install("alpha==1.0")
    return world


def test_virtualenv_with_the_seeder_makes_a_cache_first_env_with_nothing_extra_installed(warm: World) -> None:
    target = warm.tmp / "made-by-virtualenv"
    made = runner(warm, "-m", "virtualenv", "--seeder", "pipcachefirst", str(target))
    assert made.returncode == 0, made.output
    venv = Venv(target)

    run = warm.pip(venv, "install", "alpha==1.0")
    assert run.returncode == 0, run.output
    assert run.requests == []
    assert venv.pip("freeze", check=True).stdout.split() == ["alpha==1.0"]
    listed = {line.split()[0] for line in venv.pip("list", check=True).stdout.splitlines()[2:]}
    assert "pipcachefirst" not in listed and "wrapt" not in listed and "packaging" not in listed


def test_in_a_seeded_env_the_user_may_install_any_wrapt(warm: World) -> None:
    broken = warm.index_root / "main" / "wrapt"
    warm.publish_wheel("wrapt", "0.1")
    (broken / "wrapt-0.1-py3-none-any.whl").unlink()
    data = io.BytesIO(wheel_bytes("wrapt", "0.1"))
    with zipfile.ZipFile(data, "a") as archive:
        archive.writestr("wrapt/__init__.py", "raise ImportError('a wrapt the user chose, unusable by us')\n")
    (broken / "wrapt-0.1-py3-none-any.whl").write_bytes(data.getvalue())
    target = warm.tmp / "env"
    assert runner(warm, "-m", "virtualenv", "--seeder", "pipcachefirst", str(target)).returncode == 0
    venv = Venv(target)
    assert warm.pip(venv, "install", "wrapt==0.1").returncode == 0

    run = warm.pip(venv, "install", "alpha==1.0")
    assert run.returncode == 0 and run.requests == [], run.output
    assert venv.pip("freeze", check=True).stdout.split() == ["alpha==1.0", "wrapt==0.1"]


def test_enable_virtualenv_makes_tox_envs_cache_first(warm: World) -> None:
    enabled = runner(warm, "-m", "pipcachefirst", "enable", "--virtualenv")
    assert enabled.returncode == 0, enabled.output
    assert "seeder = pipcachefirst" in (warm.tmp / "virtualenv.ini").read_text()
    project = warm.tmp / "project"
    project.mkdir()
    (project / "tox.ini").write_text(textwrap.dedent("""
        [tox]
        env_list = demo
        [testenv:demo]
        skip_install = true
        deps = alpha==1.0
        commands = python -c "import alpha_mod; print('alpha', alpha_mod.VERSION)"
        """))

    first = runner(warm, "-m", "tox", "-e", "demo", cwd=project)
    assert first.returncode == 0, first.output
    second = runner(warm, "-m", "tox", "-r", "-e", "demo", cwd=project)
    assert second.returncode == 0, second.output
    assert "alpha 1.0" in second.stdout
    assert second.requests == []
    assert seeded(project / ".tox" / "demo")

    assert runner(warm, "-m", "pipcachefirst", "disable", "--virtualenv").returncode == 0
    assert not (warm.tmp / "virtualenv.ini").exists()


def test_stdlib_venv_is_cache_first_from_its_first_install(warm: World) -> None:
    target = warm.tmp / "stdlib-venv"
    made = runner(warm, "-m", "venv", str(target))
    assert made.returncode == 0, made.output
    assert seeded(target)

    run = warm.pip(Venv(target), "install", "alpha==1.0")
    assert run.returncode == 0, run.output
    assert run.requests == []


def test_turned_off_new_environments_get_nothing(warm: World) -> None:
    target = warm.tmp / "plain"
    assert runner(warm, "-m", "venv", "--without-pip", str(target), env={"PIPCACHEFIRST": "0"}).returncode == 0
    assert not seeded(target)
    seeded_env = warm.tmp / "seeded"
    assert runner(warm, "-m", "virtualenv", "--seeder", "pipcachefirst", str(seeded_env)).returncode == 0
    run = warm.pip(Venv(seeded_env), "install", "alpha==1.0", env={"PIPCACHEFIRST": "0"})
    assert "GET /main/simple/alpha/" in run.requests


def test_sitecustomize_is_chained_and_restored_byte_for_byte(warm: World) -> None:
    venv = warm.new_venv()
    (venv.site_packages / "pipcachefirst.pth").unlink()  # only the sitecustomize may activate it now
    previous = b"import os\nos.environ['EARLIER_SITECUSTOMIZE'] = 'ran'  # keep me\n"
    (venv.site_packages / "sitecustomize.py").write_bytes(previous)

    enabled = venv.run(["-m", "pipcachefirst", "enable", "--sitecustomize"], env=warm.env())
    assert enabled.returncode == 0, enabled.stderr
    probe = "import os, sys; print(os.environ.get('EARLIER_SITECUSTOMIZE'), 'pipcachefirst._startup' in sys.modules)"
    assert venv.run(["-c", probe], check=True).stdout.split() == ["ran", "True"]
    assert warm.pip(venv, "install", "alpha==1.0").requests == []

    assert venv.run(["-m", "pipcachefirst", "disable", "--sitecustomize"], env=warm.env()).returncode == 0
    assert (venv.site_packages / "sitecustomize.py").read_bytes() == previous
    assert not list(venv.site_packages.glob("sitecustomize.py.*"))


def test_one_command_re_create(warm: World) -> None:
    requirements = warm.write("requirements.txt", "alpha==1.0\n")
    target = warm.tmp / ".venv"
    for _ in range(2):  # creates, then replaces
        run = runner(warm, "-m", "pipcachefirst", "venv", str(target), "-r", str(requirements))
        assert run.returncode == 0, run.output
        assert run.requests == []
        assert "re-created and installed in" in run.stdout
        venv = Venv(target)
        assert venv.run(["-c", "import alpha_mod"]).returncode == 0
        version = venv.pip("--version")
        assert version.returncode == 0, "the new environment has a pip of its own"
        if BUNDLED_PIP is not None:  # the pip ``python -m venv`` gives, placed from its tree
            assert version.stdout.split()[1] == os.path.basename(BUNDLED_PIP).split("-")[1]
        assert venv.pip("freeze", check=True).stdout.split() == ["alpha==1.0"]
        assert seeded(target)
    not_a_venv = warm.tmp / "precious"
    not_a_venv.mkdir()
    refused = runner(warm, "-m", "pipcachefirst", "venv", str(not_a_venv), "alpha==1.0")
    assert refused.returncode == 1 and not_a_venv.is_dir()


def test_re_create_with_hashes_still_gives_the_environment_pip(warm: World) -> None:
    wheel = warm.index_root / "main" / "alpha" / "alpha-1.0-py3-none-any.whl"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    requirements = warm.write("hashed.txt", f"alpha==1.0 --hash=sha256:{digest}\n")
    target = warm.tmp / ".venv"

    run = runner(warm, "-m", "pipcachefirst", "venv", str(target), "-r", str(requirements))
    assert run.returncode == 0, run.output
    assert run.requests == []
    assert Venv(target).pip("--version").returncode == 0
    assert Venv(target).pip("freeze", check=True).stdout.split() == ["alpha==1.0"]


def test_re_create_where_a_requirement_needs_another_pip_installs_that_one(warm: World) -> None:
    warm.publish_wheel("pip", "0.5")  # a stand-in: the test index has no real pip
    warm.publish_wheel("beta", "1.0", requires=["pip<1"])
    target = warm.tmp / ".venv"

    run = runner(warm, "-m", "pipcachefirst", "venv", str(target), "beta==1.0")
    assert run.returncode == 0, run.output
    if BUNDLED_PIP is not None:  # pip joined the first try, which failed on the conflict before installing anything
        assert f"installing again without {os.path.basename(BUNDLED_PIP)}" in run.stderr
    installed = sorted(p.name for p in Venv(target).site_packages.glob("*.dist-info"))
    assert installed == ["beta-1.0.dist-info", "pip-0.5.dist-info"]


# -- pip-sync: README's setup for it ---------------------------------------


def _pip_tools_runs() -> bool:
    proc = subprocess.run([sys.executable, "-m", "piptools", "sync", "--help"], capture_output=True,
                          env=isolated_environ())
    return proc.returncode == 0


@pytest.mark.skipif(not _pip_tools_runs(), reason="pip-tools is not installed or does not run with this pip")
def test_pip_sync_keeps_a_seeded_environment_cache_first(world: World) -> None:
    for name in ("alpha", "beta", "gamma"):
        world.publish_wheel(name, "1.0")
    lock = world.write("requirements.txt", "alpha==1.0\nbeta==1.0\ngamma==1.0\n")
    smaller = world.write("smaller.txt", "alpha==1.0\nbeta==1.0\n")
    world.install("-r", str(lock))  # the cache is warm

    # README: pip-sync users seed their environments (here as `python -m venv` does with
    # pipcachefirst in the base interpreter) instead of installing pipcachefirst into them.
    target = world.tmp / "synced"
    made = runner(world, "-m", "venv", str(target))
    assert made.returncode == 0 and seeded(target), made.output
    venv = Venv(target)
    # README: then upgrade the venv's pip.  pip-tools 7.7 and later sync only into an
    # environment whose pip meets their own requirement (pip >= 26.2.2), which the pip a
    # new venv gets from ensurepip (23.2.1 on Python 3.11) does not.  The test index's
    # newest pip is the runner's own, which meets pip-tools' requirement (tox installed both).
    wheel_of_installed(world.index_root / "main" / "pip", "pip")
    upgraded = world.pip(venv, "install", "-U", "pip")
    assert upgraded.returncode == 0, upgraded.output
    assert f"pip=={metadata.version('pip')}" in venv.freeze(), upgraded.output

    def sync(requirements: Path) -> PipRun:
        run = runner(world, "-m", "piptools", "sync", "--python-executable", str(venv.python), str(requirements))
        assert run.returncode == 0, run.output
        return run

    for requirements, expected in ((lock, "alpha beta gamma"), (lock, "alpha beta gamma"), (smaller, "alpha beta"),
                                   (lock, "alpha beta gamma")):
        run = sync(requirements)
        assert run.requests == [], run.output
        assert venv.pip("freeze", check=True).stdout.split() == [f"{n}==1.0" for n in expected.split()]
        assert seeded(target)
