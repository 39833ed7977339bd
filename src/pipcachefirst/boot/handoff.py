"""``pip --python X``: take pipcachefirst along into the interpreter pip re-runs itself in.

With ``--python``, pip starts ``X __pip-runner__.py ARGS`` and exits; the
resolving and installing happen in ``X``, whose environment usually lacks
pipcachefirst.  When this pip's ``get_runnable_pip`` is asked for that
runner, it hands out :mod:`pipcachefirst.boot.pip_runner` instead, which makes
pipcachefirst importable in ``X`` as a last resort (its
own copies win; nothing becomes visible as an installed distribution) and
then runs pip's runner as pip would have.

Imported by the start-up trigger when pip's command line is parsed; it
acts only in a pip run that names another interpreter.
"""

from __future__ import annotations

import importlib
import os
import sys

from pipcachefirst.base import patching
from pipcachefirst.boot import seed

TYPE_CHECKING = False  # typing stays unloaded; mypy reads the block as true
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

RUNNER_VARIABLE = "PIPCACHEFIRST_PIP_RUNNER"
PATHS_VARIABLE = "PIPCACHEFIRST_IMPORT_PATHS"


def wants_other_python(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether this pip run will re-run itself under another interpreter."""
    # pip is starting: its names may be read now (boot reaches the pip layer only inside functions)
    from pipcachefirst.pip import compat  # noqa: PLC0415

    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    if compat.RERUN_MARKER in environ:
        return False
    if environ.get(compat.PYTHON_VARIABLE):
        return True
    option = compat.PYTHON_OPTION
    return any(arg == option or arg.startswith(option + "=") for arg in argv[1:])


def install() -> None:
    """Wrap pip's ``get_runnable_pip`` before ``main_parser`` imports it."""
    from pipcachefirst.pip import compat  # noqa: PLC0415 - pip is starting: its names may be read now

    for module_name in compat.RUNNABLE_PIP_MODULES:
        module = importlib.import_module(module_name)
        original = getattr(module, compat.RUNNABLE_PIP, None)
        if original is not None:
            break
    else:
        return
    if not getattr(original, "_pipcachefirst_wrapper", False):
        patching.wrap(module, compat.RUNNABLE_PIP, _runner_taking_pipcachefirst_along)


@patching.instead("could not take pipcachefirst along into the interpreter --python names")
def _runner_taking_pipcachefirst_along(pip: patching.PipCall, _instance: Any, _args: Any, _kwargs: Any) -> str:
    """pip's runner for the other interpreter, or ours, which arms pipcachefirst there and then runs pip's."""
    runner: str = pip()  # pip's path to its __pip-runner__.py
    paths = seed.carried_paths()
    if not os.path.isfile(runner) or not paths:
        return runner  # a zipapp pip, or nothing to carry: plain pip
    os.environ[RUNNER_VARIABLE] = runner
    os.environ[PATHS_VARIABLE] = os.pathsep.join(paths)
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "pip_runner.py")
