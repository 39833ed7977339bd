"""Interpreter start-up: arm pipcachefirst for pip, and cost nothing otherwise.

``pipcachefirst.pth`` (and ``pipcachefirst.start`` on Python 3.15+, and the
sitecustomize template) call :func:`activate` in every interpreter of the
environment, most of which never import pip.  So this module imports only
``os`` and ``sys``, and ``activate`` does two things: read ``PIPCACHEFIRST``
and put a tiny finder at the front of ``sys.meta_path``.  That finder does no
work for any module but one: when pip imports ``pip._internal.index`` (the
package holding ``PackageFinder``), it imports
:mod:`pipcachefirst.hooks` (and with it wrapt, ~90 ms) and registers wrapt
post-import hooks for the pip modules it patches, all of which pip imports
after that package.  (When pip is about to re-run itself under another
interpreter, ``--python``, it also hands pipcachefirst on: ``_handoff``.)
"""

import os
import sys

TRIGGER_MODULE = "pip._internal.index"
HANDOFF_MODULE = "pip._internal.cli.main_parser"
SWITCH = "PIPCACHEFIRST"
OFF_VALUES = ("0", "false", "off", "no")
ON_VALUES = ("", "1", "true", "on", "yes")

_activated = False


def switch_state(value: "str | None" = None) -> str:
    """Return ``"on"``, ``"off"`` or ``"invalid"`` for a ``PIPCACHEFIRST`` value."""
    if value is None:
        value = os.environ.get(SWITCH, "")
    value = value.strip().lower()
    if value in OFF_VALUES:
        return "off"
    if value in ON_VALUES:
        return "on"
    return "invalid"


def activate() -> None:
    """Arm the pip hooks once per process, unless ``PIPCACHEFIRST`` says off."""
    global _activated
    if _activated:
        return  # a .pth runs twice in a venv; wrapping pip twice must not happen
    _activated = True
    if switch_state() == "off":
        return
    if TRIGGER_MODULE in sys.modules:
        _install_hooks()
    else:
        sys.meta_path.insert(0, _PipTrigger())


def _install_hooks() -> None:
    try:
        from pipcachefirst import hooks

        hooks.install()
    except Exception as exc:  # never stop pip, whatever happened
        sys.stderr.write("pipcachefirst: disabled, could not start: %s\n" % (exc,))


def _prepare_handoff() -> None:
    """``pip --python X`` re-runs pip in X: see ``pipcachefirst._handoff``."""
    try:
        from pipcachefirst import _handoff

        if _handoff.wants_other_python():
            _handoff.install()
    except Exception as exc:
        sys.stderr.write("pipcachefirst: --python runs without it: %s\n" % (exc,))


class _PipTrigger:
    """A meta-path finder that finds nothing; it notices pip's index package being imported.

    It stays in ``sys.meta_path`` once spent: removing itself while the import
    system walks that list (and wrapt inserts its own finder) could make the
    walk skip the finder after it.
    """

    def __init__(self) -> None:
        self.spent = False

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == TRIGGER_MODULE and not self.spent:
            self.spent = True
            _install_hooks()
        elif fullname == HANDOFF_MODULE:
            _prepare_handoff()
        return None

    def invalidate_caches(self) -> None:
        pass
