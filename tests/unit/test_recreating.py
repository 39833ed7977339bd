"""``pipcachefirst venv``: when pip may join the user's install, and what runs it."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path
from typing import Dict, List

import pytest

from pipcachefirst.pip import bundled

NO_CONFIG = {"PIP_CONFIG_FILE": os.devnull}


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> str:
    Path(name).write_text(text)
    return name


@pytest.mark.parametrize("args", [
    ["alpha==1.0", "pip-tools==7.0", "pipcachefirst"],
    ["-r", "lock.txt"],
    ["--requirement=lock.txt", "-c", "constraints.txt"],
    ["-e", "./src/alpha", "-i", "https://index.example/pip/simple"],
])
def test_pip_joins_when_nothing_given_can_disagree(args: List[str]) -> None:
    write("lock.txt", "alpha==1.0  # via beta\nbeta==2.0 \\\n    ; python_version > '3'\n-r nested.txt\n")
    write("nested.txt", "gamma==3.0\n")
    write("constraints.txt", "delta<2\n")
    assert bundled.may_add_pip(args, NO_CONFIG)


@pytest.mark.parametrize("args", [
    ["pip==24.0"],
    ["PIP>=20"],
    ["pip[extra] ; python_version > '3'"],
    ["./pip-24.0.tar.gz"],
    ["git+https://example.org/x.git#egg=pip"],
    ["-r", "lock.txt"],  # names pip in a nested file
    ["-c", "constraints.txt"],
    ["alpha==1.0", "--require-hashes"],
    ["-r", "hashed.txt"],
    ["--no-binary", ":all:", "alpha==1.0"],
    ["-r", "https://example.org/lock.txt"],
    ["-r", "missing.txt"],
])
def test_pip_comes_separately_when_something_could_disagree(args: List[str]) -> None:
    write("lock.txt", "alpha==1.0\n-r nested.txt\n")
    write("nested.txt", "pip==23.0\n")
    write("constraints.txt", "pip<24\n")
    write("hashed.txt", "alpha==1.0 --hash=sha256:" + "ab" * 32 + "\n")
    assert not bundled.may_add_pip(args, NO_CONFIG)


@pytest.mark.parametrize("environ", [
    {"PIP_CONSTRAINT": "c.txt"},
    {"PIP_REQUIRE_HASHES": "1"},
    {"PIP_CONFIG_FILE": "pip.conf"},
])
def test_pips_configuration_can_keep_pip_out(environ: Dict[str, str]) -> None:
    write("pip.conf", "[install]\nrequire-hashes = true\n")
    nowhere = {"XDG_CONFIG_HOME": "/nonexistent", "XDG_CONFIG_DIRS": "/nonexistent"}
    assert not bundled.may_add_pip(["alpha==1.0"], {**nowhere, **environ})


def test_a_configuration_pip_does_not_read_is_not_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text("[global]\nconstraint = /etc/c.txt\n")
    environ = {"XDG_CONFIG_HOME": str(home / ".config"), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    assert not bundled.may_add_pip(["alpha==1.0"], environ)
    assert bundled.may_add_pip(["alpha==1.0"], {**environ, "PIP_CONFIG_FILE": os.devnull})


def test_the_runner_is_this_pips_and_checks_the_python_it_runs_under() -> None:
    runner = bundled.pip_runner_for(tuple(sys.version_info[:3]))
    assert runner is not None and os.path.basename(runner) == "__pip-runner__.py"
    assert bundled.pip_runner_for((2, 7, 18)) is None


def test_the_pip_wheel_is_the_one_ensurepip_installs() -> None:
    wheel = bundled.pip_wheel_of(sysconfig.get_path("stdlib"))
    if wheel is None:
        pytest.skip("this Python ships no pip wheel for ensurepip")
    assert os.path.basename(wheel).startswith("pip-") and wheel.endswith(".whl")
