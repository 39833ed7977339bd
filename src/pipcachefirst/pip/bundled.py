"""The pip an interpreter brings, and whether it may join a user's ``pip install``.

``pipcachefirst venv`` installs pip in the same run as the user's
requirements, through pip's own runner, from the wheel the interpreter ships
for ensurepip.  What that needs to know of pip -- its runner file, its wheel's
name, the options and configuration keys that could make pip disagree with
the user's requirements -- lives here, in the pip layer, read without loading
pip's parser (which would cost more than the rest of the command).
"""

from __future__ import annotations

import configparser
import glob
import importlib.util
import os
import re
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from pipcachefirst.base.packaging import InvalidVersion, SpecifierSet, Version, canonicalize_name
from pipcachefirst.pip.args import configured, option_values, requirement_lines

DEBIAN_WHEELS = "/usr/share/python-wheels"


# -- what runs the install, and the pip it adds -----------------------------------------


def pip_runner_for(version: Tuple[int, ...]) -> Optional[str]:
    """This pip's ``__pip-runner__.py`` if it can run under a Python of ``version`` (pip 22.3+, not a zipapp)."""
    spec = importlib.util.find_spec("pip")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = list(spec.submodule_search_locations)[0]
    runner = os.path.join(package, "__pip-runner__.py")
    found = glob.glob(os.path.join(os.path.dirname(package), "pip-*.dist-info", "METADATA"))
    if not os.path.isfile(runner) or len(found) != 1:
        return None
    try:
        requires = re.search(r"^Requires-Python: *(.*)$", Path(found[0]).read_text("utf-8"), re.MULTILINE)
        if requires and not SpecifierSet(requires.group(1).strip()).contains(".".join(map(str, version)), True):
            return None
    except Exception:  # noqa: BLE001 - pip's metadata unreadable: do not guess
        return None
    return runner


def pip_wheel_of(stdlib: str) -> Optional[str]:
    """The pip wheel an interpreter's ensurepip would install (Debian keeps it in /usr/share/python-wheels)."""
    found: List[Tuple[Version, str]] = []
    for folder in (os.path.join(stdlib, "ensurepip", "_bundled"), DEBIAN_WHEELS):
        for candidate in glob.glob(os.path.join(folder, "pip-*-py*-none-any.whl")):
            try:
                found.append((Version(os.path.basename(candidate).split("-")[1]), candidate))
            except InvalidVersion:
                continue
        if found:
            return max(found)[1]
    return None


# -- whether pip can join the user's run --------------------------------------------------

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_FILE_OPTIONS = {"-r": "--requirement", "-c": "--constraint"}
_REFUSING = ("--hash", "--require-hashes", "--no-binary")
_CONFIG_KEYS = ("constraint", "constraints", "require-hashes", "no-binary")


def may_add_pip(pip_args: Sequence[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Whether adding a pip wheel to ``pip install pip_args`` cannot change what the user asked for.

    Conservative: ``False`` when anything given names pip (a requirement, a
    path or URL whose last part starts with ``pip``), when hashes are checked
    (a requirement without one would be refused), when sdists are asked for,
    when constraints come from pip's configuration, or when a requirement file
    cannot be read.
    """
    if _configuration_refuses(environ):
        return False
    try:
        return not _mentions_pip(_tokens(pip_args, Path.cwd(), set()))
    except OSError:
        return False


def _tokens(args: Sequence[str], folder: Path, seen: Set[Path]) -> Iterable[str]:
    """Every requirement-like word in ``args``, reading requirement and constraint files as pip would."""
    for short, long in _FILE_OPTIONS.items():
        for name in option_values(args, short, long):
            yield from _file_tokens(name, folder, seen)
    yield from args


def _file_tokens(name: str, folder: Path, seen: Set[Path]) -> Iterable[str]:
    if "://" in name:
        raise OSError(f"{name}: a requirement file by URL is not read here")
    path = (folder / name).resolve()
    if path in seen:
        return
    seen.add(path)
    for line in requirement_lines(path.read_text(encoding="utf-8", errors="replace")):
        yield from _tokens(line.split(), path.parent, seen)


def _mentions_pip(tokens: Iterable[str]) -> bool:
    for token in tokens:
        if token.split("=")[0] in _REFUSING:
            return True
        if token.startswith("-"):
            continue
        egg = re.search(r"#egg=([^&]+)", token)
        if egg:
            token = egg.group(1)
        elif re.search(r"[/\\]", token):  # a path or URL: pip-24.0.tar.gz, ./pip, .../pip/
            if re.match(r"pip(?![A-Za-z0-9])", re.split(r"[/\\]", token.rstrip("/\\"))[-1], re.IGNORECASE):
                return True
            continue
        match = _NAME.match(token)
        if match and canonicalize_name(match.group(1)) == "pip":
            return True
    return False


def _configuration_refuses(environ: Mapping[str, str]) -> bool:
    """Whether pip's configuration sets constraints, hash checking or sdists-only (or cannot be read)."""
    try:
        return bool(configured(_CONFIG_KEYS, "install", environ))
    except (OSError, configparser.Error):
        return True  # pip would read it, or fail on it: do not guess
