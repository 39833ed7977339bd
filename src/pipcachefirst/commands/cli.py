"""The ``pipcachefirst`` command: see, explain, warm and tidy the cache.

    pipcachefirst status            is it on, where is the cache, does this pip fit
    pipcachefirst list [NAME]       what the cache holds
    pipcachefirst why ARGS          would ``pip install ARGS`` be served from the cache
    pipcachefirst warm ARGS         fill the cache through ``pip download ARGS``
    pipcachefirst prune / verify / clear
    pipcachefirst enable / disable --virtualenv --sitecustomize
    pipcachefirst venv PATH ARGS   re-create PATH and install into it, cache-first

Exit status: 0 done, 1 failed, 2 usage error.  ``--json`` where a script reads
the output.  Commands that change the cache are safe while pip installs use
it: nothing served in the last ``GRACE_SECONDS`` is removed, every removal
takes the record before the file, and checks move bad entries aside.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from pipcachefirst import __version__
from pipcachefirst.base import settings
from pipcachefirst.pip import compat
from pipcachefirst.commands import venv
from pipcachefirst.cache import tidying
from pipcachefirst.trees.tree import TREE_FILE, Trees, disk_use, link_mode_here
from pipcachefirst.base.switch import SWITCH, switch_state
from pipcachefirst.base.packaging import canonicalize_name
from pipcachefirst.cache.provenance import normalized_set
from pipcachefirst.cache.catalog import Entry, parse_filename
from pipcachefirst.cache.store import Store

GRACE_SECONDS = 600
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class UsageError(Exception):
    """Bad arguments: exit status 2."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    pip_args: List[str] = []
    if argv and argv[0] in _PASSES_PIP_ARGS:
        argv, pip_args = _split_pip_args(argv)
    args = parser.parse_args(argv)
    if argv and argv[0] in _PASSES_PIP_ARGS:
        args.pip_args = pip_args
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"pipcachefirst {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into exit status 1
        print(f"pipcachefirst {args.command}: {exc}", file=sys.stderr)
        return 1


# Subcommands that take pip's arguments as they are, and their own flags (True: takes a value).
_HELP = {"-h": False, "--help": False}
_PASSES_PIP_ARGS = {
    "why": {**_HELP, "--json": False, "--mode": True},
    "warm": _HELP,
    "venv": {**_HELP, "--python": True},
}


def _split_pip_args(argv: List[str]) -> "tuple[List[str], List[str]]":
    """``why``/``warm`` take pip's arguments as they are; ours are picked out wherever they stand."""
    flags = _PASSES_PIP_ARGS[argv[0]]
    ours, theirs = [argv[0]], []
    rest = iter(argv[1:])
    if argv[0] == "venv":  # its PATH comes first
        ours.extend(a for a in [next(rest, None)] if a is not None)
    for arg in rest:
        flag = arg.split("=", 1)[0]
        if flag in flags:
            ours.append(arg)
            if flags[flag] and "=" not in arg:
                ours.append(next(rest, ""))
        else:
            theirs.append(arg)
    return ours, theirs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipcachefirst", description="pip installs exact pins from a local cache without asking the index."
    )
    parser.add_argument("--version", action="version", version=f"pipcachefirst {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Any, help_text: str, json_output: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(run=run)
        if json_output:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    command("status", _status, "Say whether pipcachefirst is on, where its cache is, and whether this pip fits.")
    listing = command("list", _list, "List cached files (version, tags, origin index, size, last served) "
                      "and installed trees.")
    listing.add_argument("name", nargs="?", help="only this project")
    why = command("why", _why, "Say, for each requirement, whether `pip install ARGS` would take it from the cache.")
    why.add_argument("ARGS", nargs="*", help="what you would give pip install: NAME==VERSION, -r FILE, options")
    why.add_argument("--mode", choices=settings.MODES, help=f"as {settings.MODE_VARIABLE} (default: that variable)")
    warm = command(
        "warm", _warm, "Fill the cache ahead of time through `pip download ARGS` (pip's own options and progress).",
        json_output=False,
    )
    warm.add_argument("ARGS", nargs="*", help="what pip download takes: -r FILE, NAME==VERSION, --platform, ...")
    prune = command("prune", _prune, "Remove entries not served recently, least recently served first.")
    prune.add_argument("--older-than", type=float, metavar="DAYS", help="remove entries not served for DAYS days")
    prune.add_argument("--max-size", type=_size, metavar="SIZE", help="then shrink to SIZE (e.g. 500M, 2G)")
    command("verify", _verify, "Re-hash every cached file and move aside what does not match its record; "
            "remove installed trees that changed.")
    command("clear", _clear, "Remove every entry and installed tree (except those used in the last ten minutes) "
            "and the quarantine.")
    for name, run, verb in (("enable", _enable, "Make"), ("disable", _disable, "Stop making")):
        toggle = command(name, run, f"{verb} new environments cache-first.", json_output=False)
        toggle.add_argument("--virtualenv", action="store_true",
                            help="environments made by virtualenv, tox, nox (virtualenv's config file)")
        toggle.add_argument("--sitecustomize", action="store_true",
                            help="every environment of this interpreter (its sitecustomize, chained)")
    venv = command("venv", _venv, "Replace PATH with a fresh cache-first environment and pip install ARGS into it.",
                   json_output=False)
    venv.add_argument("path", metavar="PATH")
    venv.add_argument("--python", help="interpreter for the new environment (default: this one)")
    venv.add_argument("ARGS", nargs="*", help="what pip install takes: -r FILE, NAME==VERSION, options")
    return parser


# -- where things are ----------------------------------------------------------


def _location() -> settings.CacheLocation:
    chosen = settings.cache_location(None)
    if chosen.root is not None:
        return chosen  # a variable names it: no need to ask pip's configuration
    try:
        _, options, _ = compat.configured_options()
        pip_cache_dir = compat.cache_dir_option(options)
    except Exception:  # noqa: BLE001 - no usable pip here: the variables still count
        pip_cache_dir = None
    return settings.cache_location(pip_cache_dir)


def _store() -> Store:
    location = _location()
    if location.root is None:
        raise RuntimeError(f"no cache: {location.reason}")
    return Store(location.root, report=lambda line: print(f"pipcachefirst: {line}", file=sys.stderr))


_shelf = tidying.shelf


def _emit(args: argparse.Namespace, data: Any, text: Iterable[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in text:
            print(line)


# -- status, list ----------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    state = switch_state()
    mode, mode_problem = settings.mode()
    location = _location()
    entries = size = tree_count = tree_bytes = 0
    trees_on, trees_problem = settings.trees()
    link_mode, link_problem = settings.link_mode()
    link_in_use, link_fallback = link_mode, None
    if location.root and os.path.isdir(location.root):
        store = Store(location.root)
        entries, size = store.usage()
        tree_count, tree_bytes = _shelf(store).usage()
        link_in_use, link_fallback = link_mode_here(location.root, link_mode)
    team_cache = _team_cache_status()
    hooks: Dict[str, str] = {}
    try:
        hooks = compat.hook_points()
    except Exception as exc:  # noqa: BLE001
        hooks = {"pip": f"not importable: {exc}"}
    fits = bool(hooks) and all(v == "ok" for v in hooks.values()) and compat.pip_version_supported()
    not_ours = _not_this_users(location.root)
    enabled = state == "on" and location.root is not None and fits and not not_ours
    reason = {
        "off": f"{SWITCH}={os.environ.get(SWITCH)!r} turns it off",
        "invalid": settings.invalid_switch_message(os.environ.get(SWITCH, "")),
    }.get(state) or (None if location.root else location.reason) or not_ours or (
        None if fits else "this pip does not fit")
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
        "trees": {
            "enabled": trees_on,
            "link_mode": link_mode,
            "link_mode_in_use": link_in_use,
            "link_mode_fallback": link_fallback,
            "count": tree_count,
            "bytes": tree_bytes,
        },
        "team_cache": team_cache,
        "interpreter": sys.executable,
        "python": sys.version.split()[0],
        "version": __version__,
    }
    text = [
        f"pipcachefirst {__version__}: {'on' if enabled else 'off (' + str(reason) + ')'}, mode {mode}",
        f"cache: {location.root or '-'} ({location.reason}): {entries} entries, {_human(size)}",
        f"installed trees: {'on' if trees_on else 'off (' + settings.TREES_VARIABLE + ')'}, link mode {link_mode}"
        + (f" -> {link_in_use} here ({link_fallback})" if link_fallback else "")
        + f": {tree_count} trees, {_human(tree_bytes)}",
        _team_cache_line(team_cache),
        f"pip {data['pip']} under {sys.executable} (Python {data['python']})",
    ] + [f"  {name}: {result}{_feature_of(name, result)}" for name, result in hooks.items()]
    text += [problem for problem in (mode_problem, trees_problem, link_problem) if problem]
    _emit(args, data, text)
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
    from pipcachefirst.team import s3

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


def _feature_of(attribute: str, result: str) -> str:
    features = [point.feature for point in compat.HOOK_POINTS if point.attribute == attribute]
    return f" ({features[0]})" if features and result == "ok" else ""


def _entry_row(store: Store, entry: Entry) -> Dict[str, Any]:
    record = entry.record
    project, version = parse_filename(record.filename)
    tags = "-".join(record.filename[:-4].split("-")[-3:]) if record.filename.endswith(".whl") else "sdist"
    return {
        "project": project,
        "version": version,
        "file": record.filename,
        "tags": tags,
        "kind": record.kind,
        "origin": record.origin,
        "size": record.size,
        "sha256": record.sha256,
        "stored": record.stored_at,
        "last_served": store.last_served(entry),
        "path": str(entry.path),
    }


def _tree_rows(store: Store, project: Optional[str]) -> List[Dict[str, Any]]:
    rows = []
    for folder, tree in _shelf(store).walk():
        try:
            name, version = parse_filename(tree.wheel) if tree else ("?", "?")
        except Exception:  # noqa: BLE001 - a tree of a wheel with an odd name is still listed
            name, version = (tree.wheel if tree else "") or "?", "?"
        if project and canonicalize_name(name) != canonicalize_name(project):
            continue
        rows.append({  # the keys of a file's row, and two more
            "project": name,
            "version": version,
            "file": tree.wheel if tree else "",
            "tags": f"tree {folder.parent.name}",
            "kind": "tree",
            "origin": None,
            "size": disk_use(folder),
            "sha256": folder.name,
            "stored": None,
            "last_served": Trees.last_used(folder),
            "path": str(folder),
            "interpreter": folder.parent.name,
            "files": len(tree.files) + len(tree.compiled) if tree else 0,
        })
    return sorted(rows, key=lambda row: (row["project"], row["version"]))


def _list(args: argparse.Namespace) -> int:
    store = _store()
    rows = [_entry_row(store, e) for e in store.walk(args.name)] + _tree_rows(store, args.name)
    text = [
        f"{r['project']:<24} {r['version']:<12} {r['tags']:<34} {_human(r['size']):>9}  "
        f"{_date(r['last_served'])}  {r['origin']}"
        if r["kind"] != "tree" else
        f"{r['project']:<24} {r['version']:<12} {r['tags']:<34} {_human(r['size']):>9}  "
        f"{_date(r['last_served'])}  {r['files']} files placed instead of unzipped"
        for r in rows
    ]
    _emit(args, rows, text or ["(nothing cached)"])
    return 0


# -- why ------------------------------------------------------------------------


def _why(args: argparse.Namespace) -> int:
    from pipcachefirst.pip import serve

    if not args.pip_args:
        raise UsageError("name what to explain: NAME==VERSION or -r requirements.txt")
    mode = args.mode or settings.mode()[0]
    store = _store()
    finder, wanted = compat.finder_and_requirements(args.pip_args)
    index_urls, find_links = compat.finder_locations(finder)
    origins = sorted(normalized_set(index_urls + find_links))
    rows = []
    for requirement in wanted:
        answer = serve.answer(store, finder, requirement.name, requirement.specifier, requirement.hashes, origins,
                              mode=mode)
        decision = answer.decision
        if decision is None:
            rows.append({"requirement": requirement.text, "served": False, "detail": f"not a pin: pip asks the index ({mode} mode)"})
        else:
            rows.append({"requirement": requirement.text, "served": decision.served, "detail": decision.detail})
    text = [f"{r['requirement']}: {'from cache' if r['served'] else 'not from cache'} ({r['detail']})" for r in rows]
    _emit(args, rows, text or ["(no named requirements)"])
    return 0


# -- warm -------------------------------------------------------------------------


def _warm(args: argparse.Namespace) -> int:
    if not args.pip_args:
        raise UsageError("name what to fetch: -r requirements.txt or NAME==VERSION, plus pip download options")
    env = dict(os.environ)
    env.pop(settings.MODE_VARIABLE, None)  # warming has to reach the index
    if switch_state(env.get(SWITCH)) != "on":
        raise UsageError(f"{SWITCH} turns pipcachefirst off; nothing would be stored")
    with tempfile.TemporaryDirectory(prefix="pipcachefirst-warm-") as scratch:
        command = [sys.executable, "-m", "pip", "download", "--dest", scratch, *args.pip_args]
        status = subprocess.call(command, env=env)
    if status == 0:
        location = _location()
        if location.root and os.path.isdir(location.root):
            entries, size = Store(location.root).usage()
            print(f"pipcachefirst: the cache at {location.root} holds {entries} entries, {_human(size)}")
    return 0 if status == 0 else 1


# -- prune, verify, clear -----------------------------------------------------------


def _prune(args: argparse.Namespace) -> int:
    if args.older_than is None and args.max_size is None:
        raise UsageError("say what to prune: --older-than DAYS and/or --max-size SIZE")
    store = _store()
    now = time.time()
    items = tidying.removables(store)
    outcome = tidying.Outcome([], [])
    if args.older_than is not None:
        cutoff = now - args.older_than * 86400
        outcome = _add(outcome, tidying.remove([item for item in items if item.last_used < cutoff], now, GRACE_SECONDS))
    if args.max_size is not None:
        remaining = [item for item in items if item not in outcome.removed + outcome.failed]
        total = sum(item.size for item in remaining)
        over = []
        for item in remaining:
            if total <= args.max_size:
                break
            over.append(item)
            total -= item.size
        outcome = _add(outcome, tidying.remove(over, now, GRACE_SECONDS))
    return _report_removed(args, store, outcome)


def _clear(args: argparse.Namespace) -> int:
    store = _store()
    outcome = tidying.remove(tidying.removables(store), time.time(), GRACE_SECONDS)
    left = tidying.remove_leftovers(store)
    if left is not None:
        print(f"pipcachefirst {args.command}: could not remove {left}", file=sys.stderr)
        return max(_report_removed(args, store, outcome), 1)
    return _report_removed(args, store, outcome)


def _add(one: tidying.Outcome, other: tidying.Outcome) -> tidying.Outcome:
    return tidying.Outcome(one.removed + other.removed, one.failed + other.failed)


def _report_removed(args: argparse.Namespace, store: Store, outcome: tidying.Outcome) -> int:
    """The line of what was removed and what remains; exit status 1 when something could not be removed."""
    removed = outcome.removed
    files = [item for item in removed if not item.is_tree]
    removed_trees = [item for item in removed if item.is_tree]
    freed = sum(item.size for item in removed)
    entries, size = store.usage()
    tree_count, tree_bytes = _shelf(store).usage()
    data = {"removed": len(files), "removed_trees": len(removed_trees), "freed_bytes": freed,
            "not_removed": len(outcome.failed), "entries": entries, "bytes": size, "trees": tree_count, "tree_bytes": tree_bytes}
    _emit(args, data, [f"removed {len(files)} entries and {len(removed_trees)} installed trees ({_human(freed)}); "
                       f"{entries} entries ({_human(size)}) and {tree_count} trees ({_human(tree_bytes)}) remain"])
    if outcome.failed:
        print(f"pipcachefirst {args.command}: {tidying.not_removed(outcome.failed)}", file=sys.stderr)
        return 1
    return 0


def _verify(args: argparse.Namespace) -> int:
    store = _store()
    checked, bad = 0, []
    for entry in store.walk():
        checked += 1
        if not store.is_intact(entry, rehash=True):
            store.quarantine(entry)
            bad.append(entry.record.filename)
    shelf = _shelf(store)
    trees_checked, changed = 0, []
    for folder, tree in shelf.walk():
        trees_checked += 1
        damage = shelf.first_damage(tree) if tree is not None else TREE_FILE
        if damage is not None:
            shelf.remove(folder)
            changed.append(f"{folder} ({damage})")
    data = {"checked": checked, "moved_aside": bad, "trees_checked": trees_checked, "trees_removed": changed}
    _emit(args, data, [f"checked {checked} files; moved aside {len(bad)}"] + [f"  {name}" for name in bad]
          + [f"checked {trees_checked} installed trees; removed {len(changed)} that changed since they were built"]
          + [f"  {folder}" for folder in changed])
    return 0


# -- new environments ---------------------------------------------------------------


def _targets(args: argparse.Namespace) -> List[str]:
    targets = [name for name in ("virtualenv", "sitecustomize") if getattr(args, name)]
    if not targets:
        raise UsageError("say which: --virtualenv and/or --sitecustomize")
    return targets


def _enable(args: argparse.Namespace) -> int:
    from pipcachefirst.commands import environments

    for target in _targets(args):
        path = environments.enable_virtualenv() if target == "virtualenv" else environments.enable_sitecustomize()
        print(f"pipcachefirst: enabled for {target} ({path})")
    return 0


def _disable(args: argparse.Namespace) -> int:
    from pipcachefirst.commands import environments

    for target in _targets(args):
        path = environments.disable_virtualenv() if target == "virtualenv" else environments.disable_sitecustomize()
        print(f"pipcachefirst: disabled for {target} ({path})")
    return 0


def _venv(args: argparse.Namespace) -> int:
    if not args.pip_args:
        raise UsageError("name what to install: -r requirements.txt or NAME==VERSION")
    seconds = venv.recreate(Path(args.path), args.pip_args, args.python)
    print(f"pipcachefirst: {args.path} re-created and installed in {seconds:.1f} s")
    return 0


# -- small helpers ----------------------------------------------------------------


def _size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)I?B?\s*", text.upper())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 500M or 2G)")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _date(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "-"
