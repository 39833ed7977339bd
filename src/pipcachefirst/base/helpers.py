"""The command line that starts a helper process: this Python, isolated, writing byte code as pip's own Python does,
importing pipcachefirst (and pip, where it needs it) from where this process did.

The helpers pip starts (the tree builder after pip's last line, the copier
ahead, the size limit's walker) run with ``-I -S``: nothing of the
environment's start-up runs in them, nor do ``PYTHON*`` variables reach them.
Yet three of those settings say what may be written into the user's
environment: ``PYTHONDONTWRITEBYTECODE`` (``-B``), ``PYTHONPYCACHEPREFIX``
(``-X pycache_prefix``) and ``PYTHONOPTIMIZE`` (``-O``, which names the pycs).
A slim image sets the first and installs pip and pipcachefirst
``--no-compile``: a helper importing pipcachefirst from there wrote its
``__pycache__`` folders, where plain pip writes none.  So each is passed on as
the flag that says it, read from this interpreter (which also covers ``-B``
given to pip's own ``python``).  ``compileall``, with which the tree builder
compiles trees, writes byte code whatever ``-B`` says, as in pip's compile step.

What a helper imports is :func:`helper_command`'s one rule: each package it
needs comes from the folder this process imported it from, and from no other.
With ``-S`` no site-packages is on the helper's ``sys.path``, so the folders
must be named; but a folder on ``sys.path`` answers for every package in it,
and the folders of two packages can hold copies of each other: ``pip --python
X`` runs the outer pip with the pipcachefirst of ``X``'s site-packages (see
``boot.handoff``), where ``X``'s own pip, another version, may lie too; and
the site-packages holding pip may hold a stale copy of an editable
pipcachefirst.  Whatever order the folders went in, one package would come
from the other's folder.  So the helper
finds each package by name in its own folder only (a finder first on
``sys.meta_path``, as pip's own ``__pip-runner__`` finds pip), and the
folders go on ``sys.path`` after the standard library, where ``site`` puts
site-packages in this process: a module of the standard library is never
shadowed by a folder's (a backport of it), and anything else those packages
import (a debundled pip's libraries) is found as here.
"""

from __future__ import annotations

import os
import sys
from typing import Dict, List, Sequence


def helper_python() -> List[str]:
    """``python -I -S`` and the flags that make a helper write byte code (or none) where this process would."""
    command = [sys.executable, "-I", "-S"]
    if sys.flags.optimize:
        command.append("-" + "O" * sys.flags.optimize)
    if sys.flags.dont_write_bytecode:
        command.append("-B")
    if sys.pycache_prefix is not None:
        command += ["-X", f"pycache_prefix={sys.pycache_prefix}"]
    return command


# Run with ``-c``: the packages found by name in their folders only, the folders after the standard library.
_BOOTSTRAP = """\
import sys
from importlib.machinery import PathFinder
class PinnedFinder:
    folders = {folders!r}
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        folder = cls.folders.get(name)
        return None if folder is None else PathFinder.find_spec(name, [folder], target)
sys.meta_path.insert(0, PinnedFinder)
sys.path += {paths!r}
from {module} import {function}
{function}()
"""


def helper_command(module: str, function: str, *args: str, packages: Sequence[str] = ()) -> List[str]:
    """The whole command line of a helper that runs ``module.function()`` with ``args`` as its ``sys.argv[1:]``.

    The helper imports pipcachefirst, and each of ``packages`` (top-level
    packages this process has imported: ``pip`` for a helper that reads names
    with pip's ``packaging``), from the folder this process imported it from:
    the rule in this module's docstring.
    """
    if not (all(part.isidentifier() for part in module.split(".")) and function.isidentifier()):
        raise ValueError(f"not a module and function name: {module!r}, {function!r}")
    folders: Dict[str, str] = {}
    for name in ("pipcachefirst", *packages):
        location = getattr(sys.modules.get(name), "__file__", None)
        if not location:
            raise ValueError(f"{name} is not a package this process imported from a folder")
        folders[name] = os.path.dirname(os.path.dirname(os.path.abspath(location)))  # the folder holding name/
    paths = list(dict.fromkeys(folders.values()))
    code = _BOOTSTRAP.format(folders=folders, paths=paths, module=module, function=function)
    return [*helper_python(), "-c", code, *args]
