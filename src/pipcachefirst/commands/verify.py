"""``pipcachefirst verify``: re-check every cached file and installed tree; move aside or remove what changed.
"""

from __future__ import annotations

import argparse

from pipcachefirst.commands import common
from pipcachefirst.trees.tree import TREE_FILE

HELP = 'Re-hash every cached file and move aside what does not match its record; remove installed trees that changed.'


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    store = common.store()
    checked, bad = 0, []
    for entry in store.walk():
        checked += 1
        if not store.is_intact(entry, rehash=True):
            store.quarantine(entry)
            bad.append(entry.record.filename)
    shelf = common.shelf(store)
    trees_checked, changed = 0, []
    for folder, tree in shelf.walk():
        trees_checked += 1
        damage = shelf.first_damage(tree) if tree is not None else TREE_FILE
        if damage is not None:
            shelf.remove(folder)
            changed.append(f"{folder} ({damage})")
    data = {"checked": checked, "moved_aside": bad, "trees_checked": trees_checked, "trees_removed": changed}
    common.emit(args, data, [f"checked {checked} files; moved aside {len(bad)}"] + [f"  {name}" for name in bad]
          + [f"checked {trees_checked} installed trees; removed {len(changed)} that changed since they were built"]
          + [f"  {folder}" for folder in changed])
    return 0
