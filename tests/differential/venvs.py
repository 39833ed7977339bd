"""Tool venvs (one per Python and pip version) and the fresh target venvs made from them.

A tool venv holds ``pip==X`` and the pipcachefirst wheel built from this
checkout (``bench.harness.tool_venv``, run under the lock's Python so the
venv is of that Python).  Target venvs are ``venv --without-pip`` plus copies
of the tool venv's distributions (``tests.support.envs.create_venv`` run by
the tool venv's python), made once per run as a byte-compiled template and
copied for every install (``bench.harness.fresh_target``):

- ``plain``: pip only, no trace of pipcachefirst;
- ``pcf``: pip, pipcachefirst (its ``.pth`` included) and what it requires,
  what a user who ran ``pip install pipcachefirst`` has.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

from bench.harness import REPO, fresh_target
from tests.support.envs import isolated_environ

SIDES = ("plain", "pcf")
# pcf: pip, pipcachefirst and whatever it requires, as installed in the tool venv: read from the
# wheel's metadata, so the list follows the product (and a wheel given with --wheel) by itself.
_PRODUCT_CLOSURE = """
import json, re, sys
from importlib import metadata
seen, todo = [], ["pipcachefirst"]
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        continue  # a requirement whose marker does not apply here
    seen.append(name)
    for requirement in dist.requires or []:
        if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
            continue
        todo.append(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))
print(json.dumps(["pip"] + seen))
"""


class ToolError(Exception):
    """A tool venv could not be made (pip not installable on this Python, no network...)."""


class Toolbox:
    """Tool venvs kept under ``tools_dir`` between runs; templates under this run's ``scratch``."""

    def __init__(self, tools_dir: Path, scratch: Path, wheel: Path) -> None:
        self.tools_dir = tools_dir
        self.scratch = scratch
        self.wheel = wheel
        self._tools: Dict[Tuple[str, str], Path] = {}
        self._templates: Dict[Tuple[str, str, str], Path] = {}
        self._dists: Dict[Tuple[str, str], List[str]] = {}

    def side_dists(self, python_exe: str, python: str, pip: str, side: str) -> List[str]:
        """The distributions a ``side`` target venv gets (canonical names)."""
        if side == "plain":
            return ["pip"]
        key = (python, pip)
        if key not in self._dists:
            tool = self.tool_python(python_exe, python, pip)
            proc = subprocess.run(
                [str(tool), "-c", _PRODUCT_CLOSURE], capture_output=True, text=True, env=isolated_environ()
            )
            if proc.returncode != 0:
                raise ToolError(f"cannot read pipcachefirst's requirements in {tool}: {_tail(proc.stderr)}")
            self._dists[key] = json.loads(proc.stdout)
        return self._dists[key]

    def tool_python(self, python_exe: str, python: str, pip: str) -> Path:
        """The tool venv's python for (Python ``python``, pip ``pip``); made from PyPI the first time."""
        key = (python, pip)
        if key not in self._tools:
            code = (
                "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path;"
                "from bench.harness import tool_venv; print(tool_venv(Path(sys.argv[2]), sys.argv[3], sys.argv[4:]))"
            )
            name = f"tool-py{python}-pip-{pip}"
            self.tools_dir.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                [python_exe, "-c", code, str(REPO), str(self.tools_dir), name, f"pip=={pip}", str(self.wheel)],
                capture_output=True,
                text=True,
                env=isolated_environ(),
                cwd=REPO,
            )
            if proc.returncode != 0:
                raise ToolError(
                    f"cannot make a venv with pip {pip} on Python {python}: {_tail(proc.stdout + proc.stderr)}"
                )
            self._tools[key] = Path(proc.stdout.strip().splitlines()[-1]) / "python"
        return self._tools[key]

    def template(self, python_exe: str, python: str, pip: str, side: str) -> Path:
        """A byte-compiled target venv for ``side`` (made once per run), checked for what it must (not) hold."""
        key = (python, pip, side)
        if key in self._templates:
            return self._templates[key]
        tool = self.tool_python(python_exe, python, pip)
        template = self.scratch / "templates" / f"py{python}-pip-{pip}-{side}"
        shutil.rmtree(template, ignore_errors=True)
        template.parent.mkdir(parents=True, exist_ok=True)
        code = (
            "import sys, compileall; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
            "from tests.support.envs import create_venv; v = create_venv(Path(sys.argv[1]), sys.argv[3:]);"
            "compileall.compile_dir(str(v.site_packages), quiet=1); print(v.site_packages)"
        )
        proc = subprocess.run(
            [str(tool), "-c", code, str(template), str(REPO), *self.side_dists(python_exe, python, pip, side)],
            capture_output=True,
            text=True,
            env=isolated_environ(),
            cwd=REPO,
        )
        if proc.returncode != 0:
            raise ToolError(f"cannot make a {side} target venv (pip {pip}, Python {python}): {_tail(proc.stderr)}")
        _check_template(template, Path(proc.stdout.strip().splitlines()[-1]), side)
        self._templates[key] = template
        return template

    def fresh(self, python_exe: str, python: str, pip: str, side: str, target: Path) -> Path:
        """A new venv at ``target`` for ``side``; its python."""
        return fresh_target(self.template(python_exe, python, pip, side), target)


def _check_template(venv: Path, site_packages: Path, side: str) -> None:
    """A plain venv must not know pipcachefirst; a pcf venv must load it at start-up (its .pth)."""
    names = {p.name for p in site_packages.iterdir()}
    has_pcf = any(name.startswith(("pipcachefirst", "_pipcachefirst")) for name in names)
    if side == "plain" and has_pcf:
        raise ToolError(
            f"plain venv {venv} has pipcachefirst files: {sorted(n for n in names if 'pipcachefirst' in n)}"
        )
    if side == "pcf":
        if "pipcachefirst.pth" not in names:
            raise ToolError(f"{site_packages} lacks pipcachefirst.pth")
        probe = "import sys; print(any(m.startswith('pipcachefirst') for m in sys.modules))"
        proc = subprocess.run(
            [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, env=isolated_environ()
        )
        if proc.stdout.strip() != "True":
            raise ToolError(f"pipcachefirst.pth in {site_packages} is not active: {proc.stdout}{proc.stderr}")


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
