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

The byte code compiled at that install (each module's ``__pycache__`` pyc
for this interpreter) is copied too, found next to its source as Python finds
it: virtualenv's seeder, which put pip 26.3 into tox's environment, lists the
pycs in the RECORD without their ``__pycache__`` folder.  Each copy keeps its
source's mtime and size, which is what a pyc is checked against, and Python
corrects a loaded code object's file name to where it was found, so the copies
are valid where they land.  Without them every pip a test runs would compile
pip from source (``PYTHONDONTWRITEBYTECODE`` below keeps it from writing
pycs): ``pip list`` took 0.7-0.9 s instead of 0.4 s.

A story suite makes some 200 venvs of about 1,000 files each, so the copy is
lean: the RECORD is read once per process, and each file is one read, one
write, its permission bits and its times (what ``shutil.copy2`` keeps, in a
third of the time: 0.1 s a venv instead of 0.3 s).
"""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
import sysconfig
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

PRODUCT_DISTS = ("pip", "pipcachefirst")

_DROPPED_PREFIXES = (
    "PIP_", "PIPCACHEFIRST", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "_PIP_", "TOX_", "VIRTUALENV_", "AWS_"
)


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
    made = set()
    for source, relative in _recorded_files(name):
        try:
            status = os.stat(source)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(status.st_mode):
            continue
        target = os.path.join(site_packages, relative)
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        _copy_file(source, target, status)


@lru_cache(maxsize=None)
def _recorded_files(name: str) -> Tuple[Tuple[str, str], ...]:
    """(source path, path relative to site-packages) of the installed ``name``'s files: its RECORD, and the pycs.

    The pycs are the ones there at the first call, not at each copy: the
    running environment gains byte code while the tests run (tox does not pass
    ``PYTHONDONTWRITEBYTECODE``, so an import of pip's in a pytest worker, such
    as ``tests/unit/test_tidying.py``'s of ``pip._internal.commands.cache``,
    writes its pyc there).  A story that makes two venvs to compare them,
    file by file, found one more pyc in the second when the other xdist worker
    had imported that module in between.
    """
    dist = metadata.distribution(name)
    files = []
    for relative in dist.files or []:
        if relative.parts[0] == ".." or relative.suffix == ".pyc":
            continue  # console scripts: not needed, not relocatable; byte code: below
        source = str(dist.locate_file(relative))
        files.append((source, str(relative)))
        if relative.suffix == ".py" and sys.pycache_prefix is None:
            pyc = importlib.util.cache_from_source(source)
            if os.path.exists(pyc):  # now, once: each venv this process makes gets the same files
                files.append((pyc, importlib.util.cache_from_source(str(relative))))
    return tuple(files)


def _copy_file(source: str, target: str, status: os.stat_result) -> None:
    """What ``shutil.copy2`` keeps of a regular file: its bytes, permission bits, access and modification times."""
    with open(source, "rb") as f:
        data = memoryview(f.read())
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while data:
            data = data[os.write(fd, data):]
        os.fchmod(fd, stat.S_IMODE(status.st_mode))
        os.utime(fd, ns=(status.st_atime_ns, status.st_mtime_ns))
    finally:
        os.close(fd)
