"""Run by the interpreter named in ``pip --python``: arm pipcachefirst, then run pip's runner.

See :mod:`pipcachefirst.boot.handoff`.  This file runs as a script in that other
interpreter, so it imports nothing of pipcachefirst's by name until its
finder is in place.
"""

from __future__ import annotations

import os
import runpy
import sys
from importlib.machinery import PathFinder

TYPE_CHECKING = False  # typing stays unloaded; mypy reads the block as true
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

_runner = os.environ.pop("PIPCACHEFIRST_PIP_RUNNER", "")
_paths = [p for p in os.environ.pop("PIPCACHEFIRST_IMPORT_PATHS", "").split(os.pathsep) if p]
_carried = ("pipcachefirst",)


class _LastResortFinder:
    """Finds pipcachefirst where the outer pip has it, if nothing else does."""

    @classmethod
    def find_spec(
        cls, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _carried:
            return None
        return PathFinder.find_spec(fullname, _paths, target)


sys.meta_path.append(_LastResortFinder())
try:
    import pipcachefirst._startup  # the name every version has, in case this interpreter has its own copy

    pipcachefirst._startup.activate()
except Exception as exc:  # noqa: BLE001 - plain pip, as if we were not here
    sys.stderr.write("pipcachefirst: disabled under this interpreter: %s\n" % (exc,))

sys.argv[0] = _runner
runpy.run_path(_runner, run_name="__main__")
