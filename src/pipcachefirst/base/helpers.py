"""The command line that starts a helper process: this Python, isolated, writing byte code as pip's own Python does.

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
"""

from __future__ import annotations

import sys
from typing import List


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
