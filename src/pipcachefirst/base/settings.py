"""Where the cache lives and whether pipcachefirst is on: environment and pip's cache option.

Kept apart from pip and from the store so the rules are stated once and read
the same by the hooks and by anything else that needs them.
"""

from __future__ import annotations

import os
import re
from typing import Mapping, NamedTuple, Optional, Tuple, Union

from pipcachefirst import OFF_VALUES, ON_VALUES, SWITCH, switch_state

DIR_VARIABLE = "PIPCACHEFIRST_DIR"
MODE_VARIABLE = "PIPCACHEFIRST_MODE"
EXACT, PREFER_OFFLINE, OFFLINE = "exact", "prefer-offline", "offline"
MODES = (EXACT, PREFER_OFFLINE, OFFLINE)
LEGACY_DIR_VARIABLE = "PIP_DOWNLOAD_CACHE"
SUBDIRECTORY = "cachefirst"


class CacheLocation(NamedTuple):
    """The cache root, or ``None`` with the reason there is none."""

    root: Optional[str]
    reason: str


def invalid_switch_message(value: str) -> str:
    accepted_on = ", ".join(v for v in ON_VALUES if v)
    accepted_off = ", ".join(OFF_VALUES)
    return (
        f"pipcachefirst: ignoring {SWITCH}={value!r}, staying off for this command; "
        f"accepted values: {accepted_on} (on) or {accepted_off} (off)"
    )


def switch_problem(environ: Mapping[str, str] = os.environ) -> Optional[str]:
    """One line to show when ``PIPCACHEFIRST`` holds a value we do not know."""
    value = environ.get(SWITCH, "")
    if switch_state(value) == "invalid":
        return invalid_switch_message(value)
    return None


def mode(environ: Mapping[str, str] = os.environ) -> Tuple[str, Optional[str]]:
    """The serving mode and, for a value we do not know, the line to show (then ``exact``).

    ``exact``: only ``==``/``===`` pins come from the cache.  ``prefer-offline``:
    any specifier is served from the newest cached version that satisfies it,
    the index only on a miss.  ``offline``: the index is never asked.
    """
    value = environ.get(MODE_VARIABLE, "").strip().lower() or EXACT
    if value in MODES:
        return value, None
    return EXACT, (
        f"pipcachefirst: ignoring {MODE_VARIABLE}={value!r}; accepted values: {', '.join(MODES)}; using {EXACT}"
    )


def cache_location(
    pip_cache_dir: Union[str, bool, None], environ: Mapping[str, str] = os.environ
) -> CacheLocation:
    """Pick the cache root: our variable, then pip's legacy one, then inside pip's cache.

    ``pip_cache_dir`` is pip's parsed ``--cache-dir`` option: a path, or a
    false value for ``--no-cache-dir``, which turns this cache off too.
    """
    for variable in (DIR_VARIABLE, LEGACY_DIR_VARIABLE):
        value = environ.get(variable, "").strip()
        if value:
            return CacheLocation(_absolute(value), f"from {variable}")
    if not pip_cache_dir or not isinstance(pip_cache_dir, str):
        return CacheLocation(None, "pip's cache is off (--no-cache-dir)")
    return CacheLocation(os.path.join(_absolute(pip_cache_dir), SUBDIRECTORY), "inside pip's cache")


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


TREES_VARIABLE = "PIPCACHEFIRST_TREES"
LINK_MODE_VARIABLE = "PIPCACHEFIRST_LINK_MODE"
AUTO, CLONE, COPY, HARDLINK = "auto", "clone", "copy", "hardlink"
LINK_MODES = (AUTO, CLONE, COPY, HARDLINK)  # the first is the default; the others are uv's --link-mode names
# What "auto" becomes where the file system cannot clone: hard links for the files tools replace by rename
# (byte code, extension modules, shared libraries), copies for the rest (trees.tree.replaced_by_rename).
LINK_COMPILED = "link-compiled"


def trees(environ: Mapping[str, str] = os.environ) -> Tuple[bool, Optional[str]]:
    """Whether installs place trees from the cache, and a line for a value we do not know.

    Trees are on unless ``PIPCACHEFIRST_TREES`` says off.
    """
    value = environ.get(TREES_VARIABLE, "")
    state = switch_state(value)
    if state == "invalid":
        return False, (f"pipcachefirst: ignoring {TREES_VARIABLE}={value!r}, installing without trees; "
                       f"accepted values: 1 (on) or 0 (off)")
    return state != "off", None


def link_mode(environ: Mapping[str, str] = os.environ) -> Tuple[str, Optional[str]]:
    """How tree files are placed: ``auto``, unless ``PIPCACHEFIRST_LINK_MODE`` names another of ``LINK_MODES``."""
    value = environ.get(LINK_MODE_VARIABLE, "").strip().lower() or LINK_MODES[0]
    if value in LINK_MODES:
        return value, None
    return LINK_MODES[0], (f"pipcachefirst: ignoring {LINK_MODE_VARIABLE}={value!r}; "
                           f"accepted values: {', '.join(LINK_MODES)}; using {LINK_MODES[0]}")


BUILD_TREES_VARIABLE = "PIPCACHEFIRST_BUILD_TREES"


def build_trees_now(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a wheel's tree is built on pip's clock (``PIPCACHEFIRST_BUILD_TREES=now``), not after pip is done.

    ``later``, the default, leaves the first install what plain pip's costs;
    ``now`` is for a command whose processes end with it (a Docker ``RUN``
    step), where a helper building afterwards would be stopped midway.
    """
    return environ.get(BUILD_TREES_VARIABLE, "").strip().lower() == "now"


COPY_AHEAD_VARIABLE = "PIPCACHEFIRST_COPY_AHEAD"


def copy_ahead(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether trees may be copied ahead while pip resolves (``staging``): on unless ``PIPCACHEFIRST_COPY_AHEAD=0``."""
    return switch_state(environ.get(COPY_AHEAD_VARIABLE, "")) != "off"


MAX_SIZE_VARIABLE = "PIPCACHEFIRST_MAX_SIZE"
# sccache keeps 10 GiB, ccache 5 GiB.  One data-science environment's trees take ~680 MB and its wheels
# ~140 MB: 10 GiB holds a dozen such environments, and is ~2 % of a 512 GB laptop disk.
DEFAULT_MAX_SIZE = 10 * 1024**3
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> Optional[int]:
    """Bytes from ``500M``, ``10G``, ``1.5GiB``, ``2Gi`` or ``4096`` (powers of 1024); None when it is not a size."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])I?)?B?\s*", text.upper())
    if not match:
        return None
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2) or ""])


def max_size(environ: Mapping[str, str] = os.environ) -> Tuple[int, Optional[str]]:
    """The cache's size limit in bytes (``0``: none), and a line for a value that is not a size (then the default).

    Files and trees over it go least recently used first, trees before files,
    after a pip command (``cache.limit``) or on ``pipcachefirst prune``.
    """
    value = environ.get(MAX_SIZE_VARIABLE, "").strip()
    if not value:
        return DEFAULT_MAX_SIZE, None
    size = parse_size(value)
    if size is None:
        return DEFAULT_MAX_SIZE, (f"pipcachefirst: ignoring {MAX_SIZE_VARIABLE}={value!r}, not a size "
                                  "(e.g. 500M, 10G, or 0 for no limit); using 10G")
    return size, None


REMOTE_VARIABLE = "PIPCACHEFIRST_REMOTE"  # s3://bucket/prefix; read by ``team.s3.remote_from_environment``
REMOTE_READONLY_VARIABLE = "PIPCACHEFIRST_REMOTE_READONLY"


def remote_readonly(environ: Mapping[str, str] = os.environ) -> Tuple[bool, Optional[str]]:
    """Whether the team cache is only read (``PIPCACHEFIRST_REMOTE_READONLY=1``), and a line for a value we do not know.

    A value we do not know means read-only: writing to a team's cache is what
    must be asked for plainly.
    """
    value = environ.get(REMOTE_READONLY_VARIABLE, "").strip()
    if not value:
        return False, None
    state = switch_state(value)
    if state == "invalid":
        return True, (f"pipcachefirst: {REMOTE_READONLY_VARIABLE}={value!r} is not 1 or 0; "
                      "reading the team cache only")
    return state == "on", None
