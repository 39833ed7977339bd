"""Making environments that do not exist yet cache-first: virtualenv's config and sitecustomize.

``enable``/``disable`` change files outside the cache (virtualenv's config
file, an interpreter's ``sitecustomize``); each keeps what it found so its
twin puts it back exactly.
"""

from __future__ import annotations

import configparser
import importlib.util
import io
import os
import shutil
import sysconfig
from importlib import metadata
from pathlib import Path
from typing import Any

from pipcachefirst.base.atomic import write_atomically

SEEDER = "pipcachefirst"
BACKUP_SUFFIX = ".before-pipcachefirst"
MARKER = "# pipcachefirst sitecustomize"
# The template lives at the top of the project (``sitecustomize_template/``); a wheel, and so an
# sdist built into one, carries it as ``pipcachefirst/_sitecustomize_template.py``, and an editable
# install still has the project folder it came from.
_PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = (
    _PACKAGE / "_sitecustomize_template.py",
    _PACKAGE.parents[1] / "sitecustomize_template" / "sitecustomize.py",
)


def template_text() -> str:
    """The sitecustomize template this install of pipcachefirst carries, wherever the install mode put it."""
    for template in TEMPLATES:
        if template.is_file():
            return template.read_text("utf-8")
    raise FileNotFoundError(f"the sitecustomize template is missing from this install of pipcachefirst: {TEMPLATES[0]}")


# -- virtualenv ------------------------------------------------------------------


def virtualenv_config_file() -> Path:
    """The config file virtualenv reads: ``VIRTUALENV_CONFIG_FILE`` or its per-user default."""
    named = os.environ.get("VIRTUALENV_CONFIG_FILE")
    if named:
        return Path(named)
    try:
        from platformdirs import user_config_dir  # noqa: PLC0415 -- virtualenv's own dependency, not ours
    except ImportError:
        return Path.home() / ".config" / "virtualenv" / "virtualenv.ini"
    return Path(user_config_dir(appname="virtualenv", appauthor="pypa")) / "virtualenv.ini"


def seeder_registered() -> bool:
    try:
        group: Any = metadata.entry_points(group="virtualenv.seed")
    except TypeError:  # Python 3.9
        group = metadata.entry_points().get("virtualenv.seed", [])  # type: ignore[attr-defined, unused-ignore]
    return any(ep.name == SEEDER for ep in group)


def enable_virtualenv() -> Path:
    if importlib.util.find_spec("virtualenv") is None or not seeder_registered():
        raise RuntimeError("virtualenv is not installed next to pipcachefirst (pip install virtualenv)")
    path = virtualenv_config_file()
    config = _read_ini(path)
    if not config.has_section("virtualenv"):
        config.add_section("virtualenv")
    config.set("virtualenv", "seeder", SEEDER)
    _write_ini(path, config)
    return path


def disable_virtualenv() -> Path:
    path = virtualenv_config_file()
    config = _read_ini(path)
    if config.get("virtualenv", "seeder", fallback=None) == SEEDER:
        config.remove_option("virtualenv", "seeder")
        if not config.options("virtualenv"):
            config.remove_section("virtualenv")
        if config.sections():
            _write_ini(path, config)
        else:
            path.unlink()
    return path


def _read_ini(path: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(path, encoding="utf-8")
    return config


def _write_ini(path: Path, config: configparser.ConfigParser) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    config.write(text)
    write_atomically(path, text.getvalue())


# -- sitecustomize -------------------------------------------------------------------


def sitecustomize_path() -> Path:
    """The ``sitecustomize`` this interpreter imports (followed through links), or where one would go."""
    spec = importlib.util.find_spec("sitecustomize")
    origin = getattr(spec, "origin", None)
    if origin and origin.endswith(".py") and os.path.isfile(origin):
        return Path(os.path.realpath(origin))
    return Path(sysconfig.get_path("purelib")) / "sitecustomize.py"


def enable_sitecustomize() -> Path:
    """Install the template; an existing sitecustomize is kept, byte for byte, and still run."""
    path = sitecustomize_path()
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if backup.exists() or (path.exists() and MARKER in path.read_text("utf-8", errors="replace")):
        return path  # already enabled
    text = f"{MARKER}: `pipcachefirst disable --sitecustomize` restores what was here\n"
    text += template_text()
    if path.exists():
        write_atomically(backup, path.read_bytes())
        shutil.copystat(path, backup)
        text += (
            "\n# the sitecustomize that was here before, kept unchanged beside this file\n"
            f"_previous = __file__ + {BACKUP_SUFFIX!r}\n"
            "with open(_previous, 'rb') as _file:\n"
            "    exec(compile(_file.read(), _previous, 'exec'))\n"
        )
    write_atomically(path, text)
    return path


def disable_sitecustomize() -> Path:
    path = sitecustomize_path()
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if backup.exists():
        os.replace(backup, path)
    elif path.exists() and MARKER in path.read_text("utf-8", errors="replace"):
        path.unlink()
    return path
