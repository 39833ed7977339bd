"""Give an environment pipcachefirst without installing anything into it.

New environments (virtualenv, tox, nox, ``python -m venv``) get two files in
their site-packages: ``_pipcachefirst_seed.pth`` and the small module it
imports, ``_pipcachefirst_seed.py``.  The module knows where pipcachefirst
lives in the interpreter that created the environment.  It makes
``pipcachefirst`` importable as a last resort (the environment's own copy, if
the user installs one, wins) and arms it.  pipcachefirst depends on no other
package, so the user may install any versions of anything.  No distribution
metadata is written, so ``pip list`` and ``pip freeze`` show nothing new.

Standard library only: it runs in ``python -m venv`` and virtualenv.
"""

from __future__ import annotations

import importlib.util
import os
import sysconfig

from pipcachefirst.base.atomic import write_atomically

TYPE_CHECKING = False  # typing stays unloaded in ``python -m venv``; mypy reads the block as true
if TYPE_CHECKING:
    from types import ModuleType, SimpleNamespace

MODULE = "_pipcachefirst_seed"
PTH = MODULE + ".pth"
CARRIED = ("pipcachefirst",)

_TEMPLATE = '''"""Written by pipcachefirst: see pipcachefirst.boot.seed. Delete this file and {pth} to remove it."""
import sys
from importlib.machinery import PathFinder

PATHS = {paths!r}


class _PipCacheFirstFinder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != "pipcachefirst":
            return None
        return PathFinder.find_spec(fullname, PATHS, target)


if not any(type(f).__name__ == "_PipCacheFirstFinder" for f in sys.meta_path):
    sys.meta_path.append(_PipCacheFirstFinder())
try:
    import pipcachefirst._startup as _startup

    _startup.add_library_paths(PATHS)
    _startup.activate()
except Exception:
    pass
'''


def carried_paths() -> list[str]:
    """The folders holding pipcachefirst and its dependencies in this interpreter, or []."""
    paths: list[str] = []
    for name in CARRIED:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return []
        folder = os.path.dirname(os.path.abspath(list(spec.submodule_search_locations)[0]))
        if folder not in paths:
            paths.append(folder)
    return paths


def purelib_of(env_dir: str) -> str:
    """site-packages of an environment made by this interpreter's version."""
    return sysconfig.get_path("purelib", vars={"base": env_dir, "platbase": env_dir})


def write_seed(site_packages: str, paths: list[str] | None = None) -> bool:
    """Put the two seed files into ``site_packages``; False when there is nothing to carry."""
    paths = carried_paths() if paths is None else paths
    if not paths:
        return False
    os.makedirs(site_packages, exist_ok=True)
    # the module first: a .pth naming a module not there yet would fail at every start
    write_atomically(os.path.join(site_packages, MODULE + ".py"), _TEMPLATE.format(paths=list(paths), pth=PTH))
    write_atomically(os.path.join(site_packages, PTH), "import " + MODULE + "\n")
    return True


def patch_venv(module: ModuleType) -> None:
    """Make ``venv.EnvBuilder`` seed every environment it creates (after pip is set up)."""
    builder = getattr(module, "EnvBuilder", None)
    original = getattr(builder, "post_setup", None)
    if builder is None or original is None or getattr(original, "_pipcachefirst", False):
        return

    def post_setup(self: object, context: SimpleNamespace) -> None:
        original(self, context)
        try:
            write_seed(purelib_of(context.env_dir))
        except Exception:  # noqa: BLE001 - a new venv without the hook is still a good venv
            pass

    setattr(post_setup, "_pipcachefirst", True)
    builder.post_setup = post_setup
