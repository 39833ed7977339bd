"""``pipcachefirst venv``: a fresh environment, and one pip run that installs pip along with the rest.

Seeding pip the way ``python -m venv`` and virtualenv do costs twice: the
seeding itself (ensurepip installs pip with pip; virtualenv copies about a
thousand files), and then the first pip run in the new environment imports
pip from files that were never byte-compiled, compiling some 330 modules
(about 1 s here) before it does anything.  Instead:

- the environment is created without pip (``venv --without-pip``) and gets
  the seed files, so every later pip run in it is cache-first;
- this interpreter's pip, already compiled, installs into it, run under the
  new interpreter through pip's own runner (what ``pip --python`` does);
- pip itself is one more requirement of that same run: the wheel the
  interpreter ships for ensurepip, so pip in the new environment is the pip
  ``python -m venv`` gives, and it is placed from its installed tree like any
  other wheel.

Trees are copied ahead in that run too, as in any other.  (They were not,
while a copied tree was renamed into place file by file: into an environment
made empty a moment ago, pip's placing threads alone measured faster, 2.75 s
against 3.10 s on ``flask-celery.txt``.  Since each top-level folder moves
whole, copying ahead is the faster there as well: 0.97 s against 1.12 s, 8
interleaved runs, faster in 7.)

pip is added to the user's run only when the user's requirements cannot
disagree with it (they do not name pip, check no hashes, and pip's
configuration sets no constraints); if that run fails before installing
anything, it runs once more without pip.  Otherwise pip comes in a run of
its own afterwards, if the user's run did not install one.  Without a runner
for this interpreter or a wheel of pip, environments
are made as before: virtualenv with the pipcachefirst seeder, or ``venv``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import List, Mapping, NamedTuple, Optional, Sequence, Tuple

from pipcachefirst.base.packaging import canonicalize_name
from pipcachefirst.boot import seed
from pipcachefirst.commands.common import UsageError
from pipcachefirst.pip.bundled import may_add_pip, pip_runner_for, pip_wheel_of

_FACTS = ("import json, sys, sysconfig; print(json.dumps([list(sys.version_info[:3]), "
          "sysconfig.get_path('stdlib'), sysconfig.get_path('purelib')]))")


class Interpreter(NamedTuple):
    """What ``recreate`` needs to know of a Python: its version and where it keeps things."""

    version: Tuple[int, ...]
    stdlib: str
    purelib: str


def recreate(path: Path, pip_args: Sequence[str], python: Optional[str]) -> float:
    """Replace ``path`` with a fresh, cache-first environment and ``pip install`` into it; seconds taken."""
    started = time.perf_counter()
    if path.exists():
        if not (path / "pyvenv.cfg").is_file():
            raise RuntimeError(f"{path} exists and is not a virtual environment; not replacing it")
        shutil.rmtree(path)
    interpreter = python or sys.executable
    base = _facts(python) if python else Interpreter(tuple(sys.version_info[:3]), sysconfig.get_path("stdlib"), "")
    runner = pip_runner_for(base.version)
    wheel = pip_wheel_of(base.stdlib)
    if runner is None or wheel is None:
        _recreate_seeded(path, pip_args, interpreter)
    else:
        _recreate_bare(path, pip_args, python, runner, wheel)
    return time.perf_counter() - started


def _recreate_bare(path: Path, pip_args: Sequence[str], python: Optional[str], runner: str, wheel: str) -> None:
    if python is None:
        _create_here(path)
    else:
        _run([python, "-m", "venv", "--without-pip", str(path)])
    new_python = str(_python_in(path))
    purelib = _purelib_of(new_python, path, here=python is None)
    _seed(purelib)
    install = [new_python, runner, "install"]
    environ = dict(os.environ)
    if may_add_pip(pip_args):
        if subprocess.call([*install, *pip_args, wheel], env=environ) == 0:
            return
        if _installed(purelib):
            raise RuntimeError("pip install failed")
        print(f"pipcachefirst: installing again without {os.path.basename(wheel)}, which the first try added",
              file=sys.stderr)
    _run([*install, *pip_args], environ)
    if not _installed(purelib, "pip"):
        _run([*install, "--no-deps", wheel], environ)


def _recreate_seeded(path: Path, pip_args: Sequence[str], interpreter: str) -> None:
    """The way without a runner or a pip wheel: a seeded environment's own pip installs."""
    # environments loads importlib.metadata: only on this way, not as the command line starts
    from pipcachefirst.commands.environments import SEEDER, seeder_registered  # noqa: PLC0415

    if importlib.util.find_spec("virtualenv") is not None and seeder_registered():
        _run([sys.executable, "-m", "virtualenv", "--quiet", "--seeder", SEEDER, "--python", interpreter, str(path)])
    else:
        _run([interpreter, "-m", "venv", str(path)])
    new_python = str(_python_in(path))
    _seed(_purelib_of(new_python, path))
    _run([new_python, "-m", "pip", "install", *pip_args])


def _seed(purelib: str) -> None:
    if not seed.write_seed(purelib):  # venv from another interpreter, or virtualenv without the seeder
        print("pipcachefirst: could not give the new environment the hook (pipcachefirst "
              "is not importable here); installing with plain pip", file=sys.stderr)


def _python_in(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _facts(python: str) -> Interpreter:
    output = subprocess.run([python, "-I", "-c", _FACTS], check=True, capture_output=True, text=True).stdout
    version, stdlib, purelib = json.loads(output)
    return Interpreter(tuple(version), stdlib, purelib)


def _create_here(path: Path) -> None:
    """``python -m venv --without-pip PATH`` in this process (its defaults: symlinks, and 3.13's .gitignore)."""
    import venv  # noqa: PLC0415 -- only on this way: venv loads logging and more

    try:
        builder = venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt",  # type: ignore[call-arg, unused-ignore]
                                  scm_ignore_files=frozenset(["git"]))
    except TypeError:  # before Python 3.13
        builder = venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt")
    builder.create(str(path))


def _purelib_of(python: str, env_dir: Path, here: bool = False) -> str:
    """The new environment's site-packages.

    ``here``: made by this interpreter, whose ``venv`` scheme (3.11+) names it without asking the new one.
    """
    if here and "venv" in sysconfig.get_scheme_names():
        purelib = sysconfig.get_path("purelib", scheme="venv", vars={"base": str(env_dir), "platbase": str(env_dir)})
    else:
        purelib = _facts(python).purelib
    if not Path(purelib).resolve().is_relative_to(env_dir.resolve()):
        raise RuntimeError(f"{python} is not the new environment's interpreter (site-packages: {purelib})")
    return purelib


def _installed(purelib: str, project: Optional[str] = None) -> bool:
    """Whether any distribution (or ``project``) is installed in ``purelib``."""
    for name in os.listdir(purelib) if os.path.isdir(purelib) else ():
        if name.endswith(".dist-info"):
            if project is None or canonicalize_name(name[: -len(".dist-info")].rpartition("-")[0]) == project:
                return True
    return False


def _run(command: List[str], environ: Optional[Mapping[str, str]] = None) -> None:
    status = subprocess.call(command, env=environ)
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit status {status}")


# -- the command ------------------------------------------------------------------

HELP = "Replace PATH with a fresh cache-first environment and pip install ARGS into it."
JSON_OUTPUT = False
# Its own flags, picked out of pip's arguments wherever they stand (True: takes a value); PATH comes first.
OWN_FLAGS = {"-h": False, "--help": False, "--python": True}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH")
    parser.add_argument("--python", help="interpreter for the new environment (default: this one)")
    parser.add_argument("ARGS", nargs="*", help="what pip install takes: -r FILE, NAME==VERSION, options")


def run(args: argparse.Namespace) -> int:
    if not args.pip_args:
        raise UsageError("name what to install: -r requirements.txt or NAME==VERSION")
    seconds = recreate(Path(args.path), args.pip_args, args.python)
    print(f"pipcachefirst: {args.path} re-created and installed in {seconds:.1f} s")
    return 0
