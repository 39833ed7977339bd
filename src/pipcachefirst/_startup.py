"""Interpreter start-up: arm pipcachefirst for pip, and cost nothing otherwise.

This is the boot layer's start-up module, at the package's root for two
reasons: every interpreter of an environment imports it, so it is one module
to find rather than three (a ``boot`` package and its module), and its name is
written into users' environments -- ``pipcachefirst.pth``,
``pipcachefirst.start``, the sitecustomize template and the seed files of
every version import ``pipcachefirst._startup`` -- so it never moves.

``pipcachefirst.pth`` (and ``pipcachefirst.start`` on Python 3.15+, and the
sitecustomize template) call :func:`activate` in every interpreter of the
environment, most of which never import pip.  So this module imports only
``gc``, ``os`` and ``sys``, and ``activate`` does two things: read ``PIPCACHEFIRST``
and put a tiny finder at the front of ``sys.meta_path``.  That finder does no
work for any module but one: when pip imports ``pip._internal.index`` (the
package holding ``PackageFinder``), it imports
:mod:`pipcachefirst.pip.hooks`, which registers post-import hooks for the
pip modules it patches, all of which pip imports after that package.
``pip cache`` imports no index package; its command module wakes it the same
way (its hook points are wrapped as the command starts).  Two more names wake it: pip's option parser, as
pip starts (to re-run itself under another interpreter with ``--python``,
see ``boot.handoff``; or, for ``pip install -r``, to start copying installed
trees ahead, see ``early_staging``), and the stdlib ``venv`` module, whose
new environments get the hook too (see ``seed``).

Typed for mypy only, at no cost: ``TYPE_CHECKING`` is a plain ``False`` here
(mypy reads the block below as true), and the annotations that name those
types are strings, never evaluated.  No ``from __future__ import annotations``
either: it would load ``__future__`` in every interpreter.
"""

import gc
import sys

from pipcachefirst import switch_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

TRIGGER_MODULE = "pip._internal.index"
CACHE_COMMAND_MODULE = "pip._internal.commands.cache"  # pip cache imports no index: it wakes the hooks too
HANDOFF_MODULE = "pip._internal.cli.main_parser"
VENV_MODULE = "venv"

_activated = False
_library_paths: "list[str]" = []


def add_library_paths(paths: "list[str]") -> None:
    """Folders to load pipcachefirst from while its hooks load (seed files of every version call this)."""
    _library_paths.extend(p for p in paths if p not in _library_paths)


def activate() -> None:
    """Arm the pip hooks once per process, unless ``PIPCACHEFIRST`` says off."""
    global _activated
    if _activated:
        return  # a .pth runs twice in a venv; wrapping pip twice must not happen
    _activated = True
    if switch_state() == "off":
        return
    if TRIGGER_MODULE in sys.modules or CACHE_COMMAND_MODULE in sys.modules:
        _install_hooks()
    else:
        sys.meta_path.insert(0, _PipTrigger())


def _install_hooks() -> None:
    saved_path = list(sys.path)
    try:
        # hooks imports everything it needs now, so these paths are needed only meanwhile
        sys.path[0:0] = _library_paths
        try:
            with _NoCollection():
                from pipcachefirst.pip import hooks  # noqa: PLC0415 -- only once pip imports its index package
        finally:
            sys.path[:] = saved_path
        hooks.install()
    except Exception as exc:  # noqa: BLE001 - never stop pip, whatever happened
        sys.stderr.write("pipcachefirst: disabled, could not start: %s\n" % (exc,))


class _NoCollection:
    """No garbage collection while pipcachefirst's modules load.

    Loading them makes about 2,000 objects that live as long as the process
    and no garbage, so a collection meanwhile finds nothing to free; and its
    allocations would move pip's own collection schedule, which can cost pip
    a full collection (13 to 20 ms) it would otherwise not have made.
    """

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.was_enabled:
            gc.enable()


def _pip_starts() -> None:
    """pip's option parser is being imported: pip is starting."""
    try:
        with _NoCollection():
            from pipcachefirst.boot import handoff  # noqa: PLC0415 -- only as pip starts

        if handoff.wants_other_python():  # ``pip --python X`` re-runs pip in X: see ``boot.handoff``
            handoff.install()
            return
    except Exception as exc:  # noqa: BLE001 - pip runs there without us, but runs
        sys.stderr.write("pipcachefirst: --python runs without it: %s\n" % (exc,))
        return
    if "install" in sys.argv:
        _start_copying_trees()


def _start_copying_trees() -> None:
    """``pip install -r``: trees may be copied ahead from now on (``pipcachefirst.pip.early_staging``)."""
    try:
        with _NoCollection():
            from pipcachefirst.pip import early_staging  # noqa: PLC0415 -- only for pip install

            early_staging.start(sys.argv)
    except Exception:  # noqa: BLE001 - a head start, never a reason to disturb pip
        pass


def _venv_spec(fullname: str, path: "Sequence[str] | None") -> "ModuleSpec | None":
    """``venv`` is being imported: seed the environments it creates (``pipcachefirst.boot.seed``)."""
    try:
        from importlib.machinery import PathFinder  # noqa: PLC0415 -- only as venv is imported

        spec = PathFinder.find_spec(fullname, path)
        loader = spec.loader if spec is not None else None
        exec_module = getattr(loader, "exec_module", None)
        if spec is None or exec_module is None:
            return None

        def exec_and_patch(module: "ModuleType") -> None:
            exec_module(module)
            try:
                from pipcachefirst.boot import seed  # noqa: PLC0415

                seed.patch_venv(module)
            except Exception as exc:  # noqa: BLE001 - venv still works, without the seed
                sys.stderr.write("pipcachefirst: new venvs will not be cache-first: %s\n" % (exc,))

        setattr(loader, "exec_module", exec_and_patch)  # this loader's, not its class's
        return spec
    except Exception:  # noqa: BLE001 - then venv is imported as if we were not here
        return None


class _PipTrigger:
    """A meta-path finder that finds nothing; it notices pip's index package being imported.

    It stays in ``sys.meta_path`` once spent: removing itself while the import
    system walks that list (and the post-import hooks insert their own finder) could make the
    walk skip the finder after it.
    """

    def __init__(self) -> None:
        self.spent = False

    def find_spec(
        self, fullname: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if fullname in (TRIGGER_MODULE, CACHE_COMMAND_MODULE) and not self.spent:
            self.spent = True
            _install_hooks()
        elif fullname == HANDOFF_MODULE:
            _pip_starts()
        elif fullname == VENV_MODULE:
            return _venv_spec(fullname, path)
        return None

    def invalidate_caches(self) -> None:
        pass
