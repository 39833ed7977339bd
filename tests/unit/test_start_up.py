"""Every interpreter of an environment runs pipcachefirst's start-up, and pays only for ``gc``.

``pipcachefirst._startup`` is typed for mypy only: a ``TYPE_CHECKING`` that is
a plain ``False`` at run time, and annotations in strings (no ``from __future__
import annotations``, which would load ``__future__``).  An ``import typing``
slipped into it would cost every ``python`` of the environment some 10 ms
(typing, re, functools, ...: 9-15 ms measured here); this says so at once.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pipcachefirst

# Without site (-S), as an interpreter is when a .pth line runs; os and sys are loaded by then.
PROBE = """
import os, sys
before = set(sys.modules)
sys.path.insert(0, sys.argv[1])
import pipcachefirst._startup
print(sorted(m for m in set(sys.modules) - before if m.split(".")[0] != "pipcachefirst"))
"""


def test_start_up_loads_no_module_of_the_standard_library_but_gc() -> None:
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(pipcachefirst.__file__)))
    run = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, package_parent], capture_output=True, text=True, check=True
    )

    assert run.stdout.split("\n")[0] == "['gc']", run.stderr
