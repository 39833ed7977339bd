"""The one start-up name written into users' environments: ``pipcachefirst._startup``.

``pipcachefirst.pth``, ``pipcachefirst.start``, the sitecustomize template and
the seed files of new environments (:mod:`pipcachefirst.boot.seed`), of this
version and of every earlier one, import this module and call
:func:`activate` (seeds call :func:`add_library_paths` first).  Files written
by an earlier version stay in environments across upgrades, so this name
never moves; the code lives in :mod:`pipcachefirst.boot.startup`.
"""

from pipcachefirst.boot.startup import activate, add_library_paths

__all__ = ["activate", "add_library_paths"]
