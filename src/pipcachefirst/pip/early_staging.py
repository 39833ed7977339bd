"""Start copying installed trees ahead when pip starts, not when it first serves a pin.

Copying ahead (``staging``) begins when pipcachefirst serves the first pin,
and that is late: pip has imported its install command, built its session
and read the requirement files by then, 0.7 s into ``pip install -r`` here,
while copying is most of what is left of a warm install.  pip's command line
already names the requirement files.  So, when pip starts (as its option
parser is imported), this module reads them, looks up the pins whose wheels
have installed trees in the cache, and starts the helper on those trees.

It is a guess that decides nothing: pip takes a staged tree only when it
installs that very wheel (same sha256) and the files are still what pip's
own tree check sees (``installing``).  When the command turns out not to
copy ahead (``installing._stage_ahead`` says when), or the cache it uses is
another one (a ``cache-dir`` from pip's configuration files, which are not
read here), the helper is stopped and its folder removed.  Commands and
options that never copy ahead are recognised here, so the guess costs them
nothing: anything but ``install``, ``--target``, ``--prefix``, ``--root``,
``--user``, ``--dry-run``, ``--no-compile``, ``--no-cache-dir``, hard links.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Tuple

from pipcachefirst.base import settings
from pipcachefirst.base.packaging import canonicalize_name
from pipcachefirst.base.settings import HARDLINK
from pipcachefirst.cache.catalog import version_key
from pipcachefirst.cache.store import TREES, Store
from pipcachefirst.pip.args import configured, option_values, requirement_lines
from pipcachefirst.pip.session import CURRENT as SESSION
from pipcachefirst.trees import staging
from pipcachefirst.trees.tree import TREE_FILE, interpreter_key

COMMAND = "install"
_STEPS_ASIDE = ("-t", "--target", "--prefix", "--root", "--user", "--dry-run", "--no-compile", "--no-cache-dir")
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?"  # name[extras]
                  r"\s*===?\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*(?:[;#\\]|--|$)")  # ==version, then markers or options

def start(argv: List[str], environ: Mapping[str, str] = os.environ) -> None:
    """At pip's start: if ``argv`` installs requirement files, start copying their pins' trees."""
    if SESSION.early_stager is not None or os.name != "posix":
        return
    asked = read_command_line(argv)
    if asked is None:
        return
    files, cache_dir = asked
    trees_on = settings.trees(environ)[0] and settings.copy_ahead(environ)
    mode = settings.link_mode(environ)[0]
    key = interpreter_key()
    root = settings.cache_location(cache_dir or _pip_cache_dir(environ), environ).root
    if not trees_on or mode == HARDLINK or key is None or root is None:
        return
    folder = Path(root) / TREES.name / key
    if not folder.is_dir() or folder.stat().st_uid != os.geteuid():
        return  # nothing to copy, or another user's (sudo pip on a user's cache, which pip will not use)
    shas = list(_trees_of(Store(root, known=SESSION.records_read), _pins(files), folder))  # read once: serve reuses
    if not shas:
        return
    SESSION.early_stager = staging.Stager(folder, mode)
    for sha256 in shas:
        SESSION.early_stager.ask(folder / sha256, sha256)


def take(trees_folder: Path, mode: str) -> Optional[staging.Stager]:
    """The helper started early, if it copies from ``trees_folder`` in ``mode``; any other is stopped."""
    stager, SESSION.early_stager = SESSION.early_stager, None
    if stager is not None and (stager.trees_folder != trees_folder or stager.mode != mode):
        stager.close()
        return None
    return stager


def discard() -> None:
    """The command ends without having used the early helper: stop it, remove its folder."""
    stager, SESSION.early_stager = SESSION.early_stager, None
    if stager is not None:
        stager.close()


def read_command_line(argv: List[str]) -> Optional[Tuple[List[str], Optional[str]]]:
    """``(requirement files, --cache-dir)`` of a ``pip install`` that may copy ahead; None for any other."""
    args = argv[1:]
    if COMMAND not in args:
        return None
    position = args.index(COMMAND)
    if any(not arg.startswith("-") for arg in args[:position]):
        return None  # a global option's value, or another command: not worth guessing
    rest = args[position + 1:]
    if any(arg.partition("=")[0] in _STEPS_ASIDE or (arg.startswith("-t") and not arg.startswith("--"))
           for arg in rest):
        return None
    files = option_values(rest, "-r", "--requirement")
    cache_dirs = option_values(rest, None, "--cache-dir")
    return (files, cache_dirs[-1] if cache_dirs else None) if files else None


def _pip_cache_dir(environ: Mapping[str, str]) -> Optional[str]:
    """pip's cache folder as its configuration and variables name it, or its default.

    A guess pip confirms: the trees copied ahead are used only if pip's own
    options, once parsed, point at the same folder (see ``take``).
    """
    try:
        named = configured(("cache-dir", "no-cache-dir"), COMMAND, environ)
    except (OSError, configparser.Error):
        return None  # pip will say what is wrong with its configuration; nothing is copied ahead
    if "no-cache-dir" in named:
        return None  # any value turns pip's cache off, "false" too (pip keeps that old behaviour)
    if named.get("cache-dir", "").strip():
        return os.path.expanduser(named["cache-dir"].strip())
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/pip")
    return os.path.join(environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pip")


def _pins(files: Iterable[str]) -> List[Tuple[str, str]]:
    """``(project, version)`` of each ``name==version`` line, in order (nested files followed)."""
    pins: List[Tuple[str, str]] = []
    seen = set()
    pending = [Path(name) for name in files]
    while pending:
        path = pending.pop(0).resolve()
        if path in seen:
            continue
        seen.add(path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in requirement_lines(text):
            pending += [path.parent / name for name in option_values(line.split(), "-r", "--requirement")]
            match = _PIN.match(line)
            if match:
                pins.append((canonicalize_name(match.group(1)), version_key(match.group(2))))
    return pins


def _trees_of(store: Store, pins: List[Tuple[str, str]], folder: Path) -> Iterable[str]:
    """The sha256 of each cached wheel of a pin that has an installed tree in ``folder``."""
    for project, version in pins:
        for entry in store.walk(project):
            record = entry.record
            if (record.filename.endswith(".whl") and version_key(record.version) == version
                    and (folder / record.sha256 / TREE_FILE).is_file()):
                yield record.sha256
