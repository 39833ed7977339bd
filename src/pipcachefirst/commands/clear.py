"""``pipcachefirst clear``: remove every entry and installed tree, but those in use.
"""

from __future__ import annotations

import argparse
import sys
import time

from pipcachefirst.cache import tidying
from pipcachefirst.commands import common
from pipcachefirst.commands.prune import report_removed

HELP = 'Remove every entry and installed tree (except those used in the last ten minutes) and the quarantine.'


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    store = common.store()
    outcome = tidying.remove(tidying.removables(store), time.time(), common.GRACE_SECONDS)
    left = tidying.remove_leftovers(store)
    if left is not None:
        print(f"pipcachefirst {args.command}: could not remove {left}", file=sys.stderr)
        return max(report_removed(args, store, outcome), 1)
    return report_removed(args, store, outcome)
