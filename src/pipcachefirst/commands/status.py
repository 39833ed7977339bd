"""``pipcachefirst status``: is it on, where is the cache, does this pip fit.
"""

from __future__ import annotations

import argparse
import os
import sys
import sysconfig
from typing import Any, Dict, Optional

from pipcachefirst import SWITCH, __version__, switch_state
from pipcachefirst.base import settings
from pipcachefirst.base.free_space import human
from pipcachefirst.cache import tidying
from pipcachefirst.cache.store import Store
from pipcachefirst.commands import common
from pipcachefirst.pip import compat
from pipcachefirst.trees.tree import link_mode_here

LINK_COMPILED_MEANING = "hard links for byte code and extension modules, copies for sources and the rest"

HELP = 'Say whether pipcachefirst is on, where its cache is, and whether this pip fits.'


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    state = switch_state()
    mode, mode_problem = settings.mode()
    location = common.location()
    entries = size = tree_count = tree_bytes = 0
    trees_on, trees_problem = settings.trees()
    link_mode, link_problem = settings.link_mode()
    link_in_use, link_fallback = link_mode, None
    saved = 0
    if location.root and os.path.isdir(location.root):
        store = Store(location.root)
        entries, size = store.usage()
        link_in_use, link_fallback = link_mode_here(location.root, link_mode, sysconfig.get_paths()["purelib"])
        tree_count, tree_bytes, saved = tidying.shelf(store).usage()
    max_size, max_size_problem = settings.max_size()
    team_cache = _team_cache_status()
    hooks: Dict[str, str] = {}
    try:
        hooks = compat.hook_points()
    except Exception as exc:  # noqa: BLE001
        hooks = {"pip": f"not importable: {exc}"}
    misfit = pip_misfit(hooks)
    not_ours = _not_this_users(location.root)
    enabled = state == "on" and location.root is not None and not misfit and not not_ours
    reason = {
        "off": f"{SWITCH}={os.environ.get(SWITCH)!r} turns it off",
        "invalid": settings.invalid_switch_message(os.environ.get(SWITCH, "")),
    }.get(state) or (None if location.root else location.reason) or not_ours or misfit
    data = {
        "enabled": enabled,
        "reason": reason or "on",
        "mode": mode,
        "mode_problem": mode_problem,
        "cache": location.root,
        "cache_reason": location.reason,
        "entries": entries,
        "bytes": size,
        "pip": compat.pip_version(),
        "hook_points": hooks,
        "features_off": features_off(hooks),
        "trees": {
            "enabled": trees_on,
            "link_mode": link_mode,
            "link_mode_in_use": link_in_use,
            "link_mode_fallback": link_fallback,
            "count": tree_count,
            "bytes": tree_bytes,
        },
        "team_cache": team_cache,
        "max_size": max_size,  # bytes; 0: no limit
        "max_size_problem": max_size_problem,
        "tree_bytes_saved_by_links": saved,  # what hard links to tree files save: N environments, N copies
        "interpreter": sys.executable,
        "python": sys.version.split()[0],
        "version": __version__,
    }
    text = [
        f"pipcachefirst {__version__}: {'on' if enabled else 'off (' + str(reason) + ')'}, mode {mode}",
        f"cache: {location.root or '-'} ({location.reason}): {entries} entries, {human(size)}",
        f"installed trees: {'on' if trees_on else 'off (' + settings.TREES_VARIABLE + ')'}, link mode {link_mode}"
        + (f" -> {link_in_use} here ({link_fallback})" if link_fallback else "")
        + f": {tree_count} trees, {human(tree_bytes)}",
        *([f"  {settings.LINK_COMPILED}: {LINK_COMPILED_MEANING}"] if link_in_use == settings.LINK_COMPILED else []),
        f"size limit: {human(max_size) if max_size else 'none'} ({settings.MAX_SIZE_VARIABLE}): "
        f"{human(size + tree_bytes)} used; hard links to trees save {human(saved)}",
        _team_cache_line(team_cache),
        f"pip {data['pip']} under {sys.executable} (Python {data['python']})",
    ] + [f"  {name}: {result}{_feature_of(name, result)}" for name, result in hooks.items()]
    text += [problem for problem in (mode_problem, trees_problem, link_problem) if problem]
    text += [max_size_problem] if max_size_problem else []
    common.emit(args, data, text)
    return 0


def _not_this_users(root: Optional[str]) -> Optional[str]:
    """Why pip's rule for its cache folder keeps this user out of the cache (``sudo`` on a user's), if it does.

    Asked after pip's modules are loaded (``hook_points``), as pip install would ask.
    """
    if root is None or compat.pip_would_write(root) is not False:
        return None
    access = Store(root).open(ours=False)
    return None if access.serve else access.problem


def _team_cache_status() -> Dict[str, Any]:
    """Where the team cache is, whether it answers now, and whether this machine writes to it; never a secret."""
    if not os.environ.get(settings.REMOTE_VARIABLE, "").strip():
        return {"configured": False, "problem": None}
    from pipcachefirst.team import s3  # noqa: PLC0415 -- the S3 client, only where a team cache is set

    remote, problem = s3.remote_from_environment()
    if remote is None:
        return {"configured": False, "problem": problem}
    readonly, readonly_problem = settings.remote_readonly()
    reachable, why = True, None
    try:
        s3.Client(remote).probe()
    except s3.S3Error as exc:
        reachable, why = False, str(exc)
    return {
        "configured": True,
        "where": remote.describe(),
        "signed": remote.credentials is not None,
        "readonly": readonly,
        "reachable": reachable,
        "problem": why or readonly_problem,
    }


def _team_cache_line(team: Dict[str, Any]) -> str:
    if not team["configured"]:
        return f"team cache: {team['problem'] or 'none (' + settings.REMOTE_VARIABLE + ' is not set)'}"
    access = "read-only" if team["readonly"] else "read and write"
    signed = "" if team["signed"] else ", anonymous"
    state = "reachable" if team["reachable"] else f"NOT reachable ({team['problem']})"
    return f"team cache: {team['where']}: {state}, {access}{signed}"


def pip_misfit(hooks: Dict[str, str]) -> Optional[str]:
    """Why this pip gets nothing from pipcachefirst (None: it fits): a pip unknown to the table, a core point missing.

    A missing point that is not ``required`` costs only its feature (``features_off``).
    """
    if not compat.pip_version_supported():
        line = compat.unknown_pip_line()
        return line.replace("pipcachefirst: ", "", 1) if line else (
            f"pip {compat.pip_version()} is not one this pipcachefirst knows ({compat.known_pips()})")
    if "pip" in hooks:
        return f"pip is {hooks['pip']}"
    missing = [p.attribute for p in compat.HOOK_POINTS if p.required and hooks.get(p.attribute) != "ok"]
    return f"this pip lacks {', '.join(missing)}" if missing else None


def features_off(hooks: Dict[str, str]) -> Dict[str, str]:
    """Each feature a missing hook point turns off, and why: the point and what is wrong with it."""
    off: Dict[str, str] = {}
    for point in compat.HOOK_POINTS:
        result = hooks.get(point.attribute)
        if result is not None and result != "ok":
            suffix = f" ({point.feature} is off)"
            why = f"{point.attribute}: {result[:-len(suffix)] if result.endswith(suffix) else result}"
            off[point.feature] = f"{off[point.feature]}; {why}" if point.feature in off else why
    return off


def _feature_of(attribute: str, result: str) -> str:
    features = [point.feature for point in compat.HOOK_POINTS if point.attribute == attribute]
    return f" ({features[0]})" if features and result == "ok" else ""
