"""Real virtual environments for tests and benchmarks, cut off from the machine's pip setup.

A user's pip reads site-wide and per-user config files and ``PIP_*`` variables;
this machine has extra indexes, find-links and constraints there.  Everything
here runs pip with ``PIP_CONFIG_FILE=os.devnull`` and none of the caller's
``PIP_*`` or ``PIPCACHEFIRST*`` variables, so a run means the same everywhere.

New environments are made with ``python -m venv --without-pip`` and then get
pip and pipcachefirst copied in, file by file, from the distributions installed
next to the running interpreter (their RECORD lists the files).  That is what
installing those wheels would put there, in a tenth of the time, and it needs
no index: tox installs the pip version under test and the freshly built
pipcachefirst into the runner's environment.

The byte code pip compiled at that install (the ``__pycache__/*.pyc`` its
RECORD lists) is copied too.  ``shutil.copy2`` keeps each source's mtime and
size, which is what a pyc is checked against, and Python corrects a loaded
code object's file name to where it was found, so the copies are valid where
they land.  Without them every pip a test runs would compile pip from source
(``PYTHONDONTWRITEBYTECODE`` below keeps it from writing pycs): ``pip list``
took 0.7-0.9 s instead of 0.4 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

PRODUCT_DISTS = ("pip", "pipcachefirst")

_DROPPED_PREFIXES = ("PIP_", "PIPCACHEFIRST", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "_PIP_", "TOX_", "VIRTUALENV_")


def isolated_environ(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The caller's environment without pip settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_DEFAULT_TIMEOUT="20",
        PIP_RETRIES="0",
        PIP_NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
        NO_PROXY="127.0.0.1,localhost",  # a proxy the caller uses must not see the loopback index
        no_proxy="127.0.0.1,localhost",
    )
    env.update(extra or {})
    return env


class Venv:
    """A virtual environment on disk and the commands a user would run in it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.python = self.path / "bin" / "python"
        self.site_packages = Path(
            sysconfig.get_path("purelib", vars={"base": str(self.path), "platbase": str(self.path)})
        )

    def run(
        self, args: Sequence[str], env: Optional[Mapping[str, str]] = None, check: bool = False
    ) -> "subprocess.CompletedProcess[str]":
        proc = subprocess.run(
            [str(self.python), *args],
            env=isolated_environ(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=600,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def pip(
        self, *args: str, env: Optional[Mapping[str, str]] = None, check: bool = False
    ) -> "subprocess.CompletedProcess[str]":
        return self.run(["-m", "pip", *args], env=env, check=check)

    def freeze(self) -> List[str]:
        lines = self.pip("freeze", "--all", check=True).stdout.splitlines()
        return sorted(line for line in lines if line.strip())


def create_venv(path: Path, dists: Iterable[str] = PRODUCT_DISTS, python: str = sys.executable) -> Venv:
    """Create a venv at ``path`` holding copies of the installed ``dists``."""
    subprocess.run(
        [python, "-m", "venv", "--without-pip", str(path)],
        check=True,
        env=isolated_environ({"PIPCACHEFIRST": "0"}),  # no seed files: each test says what it installs
    )
    venv = Venv(path)
    for name in dists:
        copy_distribution(name, venv.site_packages)
    return venv


def copy_distribution(name: str, site_packages: Path) -> None:
    """Copy an installed distribution's files (per its RECORD) into ``site_packages``."""
    dist = metadata.distribution(name)
    files = dist.files or []
    for relative in files:
        if relative.parts[0] == "..":
            continue  # console scripts: not needed, not relocatable
        source = Path(str(dist.locate_file(relative)))
        if not source.is_file():
            continue
        target = site_packages / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
