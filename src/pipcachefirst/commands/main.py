"""The ``pipcachefirst`` command: see, explain, warm and tidy the cache.

    pipcachefirst status            is it on, where is the cache, does this pip fit
    pipcachefirst list [NAME]       what the cache holds
    pipcachefirst why ARGS          would ``pip install ARGS`` be served from the cache
    pipcachefirst warm ARGS         fill the cache through ``pip download ARGS``
    pipcachefirst prune / verify / clear
    pipcachefirst enable / disable --virtualenv --sitecustomize
    pipcachefirst venv PATH ARGS   re-create PATH and install into it, cache-first

One module per command in this package, each with ``HELP``, ``configure``
(its arguments) and ``run``.  Exit status: 0 done, 1 failed, 2 usage error.
Commands that change the cache are safe while pip installs use it: nothing
served in the last ``GRACE_SECONDS`` is removed, every removal takes the
record before the file, and checks move bad entries aside.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from pipcachefirst import __version__
from pipcachefirst.commands import clear, common, enable, listing, prune, status, venv, verify, warm, why


class Command(NamedTuple):
    name: str
    module: ModuleType
    run: Callable[[argparse.Namespace], int]
    help: str


COMMANDS = (
    Command("status", status, status.run, status.HELP),
    Command("list", listing, listing.run, listing.HELP),
    Command("why", why, why.run, why.HELP),
    Command("warm", warm, warm.run, warm.HELP),
    Command("prune", prune, prune.run, prune.HELP),
    Command("verify", verify, verify.run, verify.HELP),
    Command("clear", clear, clear.run, clear.HELP),
    Command("enable", enable, enable.run, enable.HELP),
    Command("disable", enable, enable.run_disable, enable.DISABLE_HELP),
    Command("venv", venv, venv.run, venv.HELP),
)
# Commands that take pip's arguments as they are, and their own flags (True: takes a value).
_PASSES_PIP_ARGS: Dict[str, Dict[str, bool]] = {
    command.name: command.module.OWN_FLAGS for command in COMMANDS if hasattr(command.module, "OWN_FLAGS")
}


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
    except common.UsageError as exc:
        print(f"pipcachefirst {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into exit status 1
        print(f"pipcachefirst {args.command}: {exc}", file=sys.stderr)
        return 1


def _split_pip_args(argv: List[str]) -> Tuple[List[str], List[str]]:
    """``why``/``warm``/``venv`` take pip's arguments as they are; ours are picked out wherever they stand."""
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
    for command in COMMANDS:
        one = sub.add_parser(command.name, help=command.help, description=command.help)
        one.set_defaults(run=command.run)
        if getattr(command.module, "JSON_OUTPUT", True):
            one.add_argument("--json", action="store_true", help="machine-readable output")
        command.module.configure(one)
    return parser
