"""``pipcachefirst list [NAME]``: what the cache holds, files and installed trees.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional

from pipcachefirst.base.free_space import human
from pipcachefirst.base.packaging import canonicalize_name
from pipcachefirst.cache.catalog import Entry, parse_filename
from pipcachefirst.cache.store import Store
from pipcachefirst.commands import common
from pipcachefirst.trees.tree import Trees, disk_use

HELP = 'List cached files (version, tags, origin index, size, last served) and installed trees.'


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="only this project")


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
    for folder, tree in common.shelf(store).walk():
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


def run(args: argparse.Namespace) -> int:
    store = common.store()
    rows = [_entry_row(store, e) for e in store.walk(args.name)] + _tree_rows(store, args.name)
    text = [
        f"{r['project']:<24} {r['version']:<12} {r['tags']:<34} {human(r['size']):>9}  "
        f"{common.date(r['last_served'])}  {r['origin']}"
        if r["kind"] != "tree" else
        f"{r['project']:<24} {r['version']:<12} {r['tags']:<34} {human(r['size']):>9}  "
        f"{common.date(r['last_served'])}  {r['files']} files placed instead of unzipped"
        for r in rows
    ]
    common.emit(args, rows, text or ["(nothing cached)"])
    return 0
