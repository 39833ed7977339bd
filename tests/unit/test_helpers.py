"""The helpers pip starts import the same pipcachefirst, and the same pip, as the pip that started them.

Each test runs a helper for real: ``helper_command`` with a small target
package of the test's own (``probe``), which prints where ``pipcachefirst``
and ``pip`` came from in the helper.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator, List

import pip
import pytest

import pipcachefirst
from pipcachefirst.base.helpers import helper_command

PROBE = """\
import sys

def main():
    import pip, pipcachefirst
    print(pipcachefirst.__file__)
    print(pip.__file__)
    print(sys.argv[1:])
"""


def write_package(folder: Path, name: str, init: str = "") -> Path:
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(textwrap.dedent(init))
    return folder


@pytest.fixture
def probe_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder holding the package ``probe``; imported in this process, as a helper's target must be."""
    folder = write_package(tmp_path / "probe-site", "probe", PROBE)
    sys.path.insert(0, str(folder))
    try:
        importlib.import_module("probe")
        yield folder
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("probe", None)


def run(argv: List[str]) -> List[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_helper_imports_the_pipcachefirst_and_pip_this_process_imported(probe_folder: Path) -> None:
    argv = helper_command("probe", "main", "one", "two words", packages=("pip", "probe"))

    assert argv[:3] == [sys.executable, "-I", "-S"]
    assert run(argv) == [os.path.abspath(pipcachefirst.__file__), os.path.abspath(pip.__file__),
                         "['one', 'two words']"]


def test_each_package_comes_from_its_own_folder_even_where_the_other_folder_holds_a_copy(
        probe_folder: Path, tmp_path: Path) -> None:
    """The shape of ``pip --python X``: the outer pip runs with ``X``'s pipcachefirst, next to ``X``'s own pip.

    Its pipcachefirst's folder holds another pip, and its pip's folder
    another pipcachefirst: whatever order those folders had on the helper's
    ``sys.path``, the helper would import one of the other copies.
    """
    x_site = write_package(tmp_path / "x-site", "pip", "# X's own pip, not the one running\n")
    (x_site / "pipcachefirst").symlink_to(Path(pipcachefirst.__file__).parent, target_is_directory=True)
    outer_site = write_package(tmp_path / "outer-site", "pipcachefirst", "# the outer environment's copy\n")
    (outer_site / "pip").symlink_to(Path(pip.__file__).parent, target_is_directory=True)
    parent = textwrap.dedent(f"""\
        import subprocess, sys
        sys.path.insert(0, {str(x_site)!r})
        import pipcachefirst
        sys.path[0] = {str(outer_site)!r}
        import pip
        sys.path[0] = {str(probe_folder)!r}
        import probe
        from pipcachefirst.base.helpers import helper_command
        print(pipcachefirst.__file__)
        print(pip.__file__)
        argv = helper_command("probe", "main", packages=("pip", "probe"))
        print(subprocess.run(argv, capture_output=True, text=True, check=True).stdout, end="")
        """)

    lines = run([sys.executable, "-I", "-S", "-c", parent])

    assert lines[:2] == [str(x_site / "pipcachefirst" / "__init__.py"), str(outer_site / "pip" / "__init__.py")]
    assert lines[2:4] == lines[:2], "the helper imported what its parent imported"
