"""pip's command line and requirement files, read as pip reads them, before pip's own parser can be.

Two places need this without pip's parser: pip's start, to copy trees ahead
(``early_staging``), and ``pipcachefirst venv``, to see whether pip may join
the user's install (``commands.venv``).  Standard library only.
"""

from __future__ import annotations

import re
from typing import Iterator, List, Optional, Sequence

_COMMENT = re.compile(r"(^|\s)#.*$")


def option_values(args: Sequence[str], short: Optional[str], long: str) -> List[str]:
    """Every value of one option: ``-r FILE``, ``-rFILE``, ``--requirement FILE``, ``--requirement=FILE``."""
    values = []
    for index, arg in enumerate(args):
        if arg in (short, long) and index + 1 < len(args):
            values.append(args[index + 1])
        elif arg.startswith(long + "="):
            values.append(arg[len(long) + 1:])
        elif short and arg.startswith(short) and len(arg) > len(short) and not arg.startswith("--"):
            values.append(arg[len(short):])
    return values


def requirement_lines(text: str) -> Iterator[str]:
    """The lines of a requirement file as pip sees them: continuations joined, comments gone, blanks skipped."""
    for line in text.replace("\\\n", " ").splitlines():
        line = _COMMENT.sub("", line).strip()
        if line:
            yield line
