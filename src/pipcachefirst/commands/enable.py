"""``pipcachefirst enable`` / ``disable``: make new environments cache-first, or stop.

The machinery (virtualenv's config file, a chained sitecustomize) is in
:mod:`pipcachefirst.commands.environments`.
"""

from __future__ import annotations

import argparse
from typing import List

from pipcachefirst.commands import common, environments

HELP = "Make new environments cache-first."
DISABLE_HELP = "Stop making new environments cache-first."
JSON_OUTPUT = False


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--virtualenv", action="store_true",
                        help="environments made by virtualenv, tox, nox (virtualenv's config file)")
    parser.add_argument("--sitecustomize", action="store_true",
                        help="every environment of this interpreter (its sitecustomize, chained)")


def _targets(args: argparse.Namespace) -> List[str]:
    targets = [name for name in ("virtualenv", "sitecustomize") if getattr(args, name)]
    if not targets:
        raise common.UsageError("say which: --virtualenv and/or --sitecustomize")
    return targets


def run(args: argparse.Namespace) -> int:
    for target in _targets(args):
        path = environments.enable_virtualenv() if target == "virtualenv" else environments.enable_sitecustomize()
        print(f"pipcachefirst: enabled for {target} ({path})")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    for target in _targets(args):
        path = environments.disable_virtualenv() if target == "virtualenv" else environments.disable_sitecustomize()
        print(f"pipcachefirst: disabled for {target} ({path})")
    return 0
