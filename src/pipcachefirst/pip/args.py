"""pip's command line, requirement files and configuration, read as pip reads them, before pip's own parser can be.

Two places need this without pip's parser: pip's start, to copy trees ahead
(``early_staging``), and ``pipcachefirst venv``, to see whether pip may join
the user's install (``commands.venv``), where loading pip's parser would cost
more than the rest of the command.  Everywhere else pip's own parser answers
(``compat.configured_options``).  Standard library only.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from typing import Dict, Iterator, List, Mapping, Optional, Sequence

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


def configuration_files(environ: Mapping[str, str] = os.environ) -> List[str]:
    """pip's configuration files, lowest precedence first, as pips 22.3 to 26 find them.

    Global, then user (not when ``PIP_CONFIG_FILE`` names a file that exists,
    as pip skips them then), then the environment's own (``sys.prefix``),
    then ``PIP_CONFIG_FILE``; none at all when it is ``os.devnull``.  Files
    that do not exist are left out.
    """
    named = environ.get("PIP_CONFIG_FILE", "")
    if named == os.devnull:
        return []
    home = os.path.expanduser("~")
    xdg_home = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    xdg_dirs = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    files = [os.path.join(folder, "pip", "pip.conf") for folder in xdg_dirs] + ["/etc/pip.conf"]
    if not (named and os.path.exists(named)):
        files += [os.path.join(home, ".pip", "pip.conf"), os.path.join(xdg_home, "pip", "pip.conf"),
                  os.path.join(home, "Library", "Application Support", "pip", "pip.conf"),
                  os.path.join(environ.get("APPDATA", home), "pip", "pip.ini")]
    files += [os.path.join(sys.prefix, "pip.conf"), named]
    return [file for file in files if file and os.path.isfile(file)]


def configured(keys: Sequence[str], command: str, environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """The values pip's configuration gives ``keys`` (e.g. ``cache-dir``) for ``command``.

    In pip's order: ``[global]`` of every file (a later file wins), then the
    command's own section of every file, then ``PIP_*`` variables.  An empty
    value sets nothing.  Raises OSError or ``configparser.Error`` for a file
    that cannot be read.
    """
    wanted = {_key(key) for key in keys}
    parsers = []
    for file in configuration_files(environ):
        parser = configparser.RawConfigParser()
        with open(file, encoding="utf-8", errors="replace") as text:
            parser.read_file(text)
        parsers.append(parser)
    found: Dict[str, str] = {}
    for section in ("global", command):
        for parser in parsers:
            if parser.has_section(section):
                found.update({_key(k): v for k, v in parser.items(section) if _key(k) in wanted and v.strip()})
    for key in wanted:
        variable = "PIP_" + key.upper().replace("-", "_")
        if environ.get(variable):
            found[key] = environ[variable]
    return found


def _key(name: str) -> str:
    """A configuration key as pip normalizes it: ``--no_binary`` is ``no-binary``."""
    name = name.strip().lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name
