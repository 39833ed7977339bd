"""``pipcachefirst why ARGS``: would ``pip install ARGS`` take each requirement from the cache, and why.
"""

from __future__ import annotations

import argparse

from pipcachefirst.base import settings
from pipcachefirst.cache.provenance import normalized_set
from pipcachefirst.commands import common
from pipcachefirst.pip import compat

HELP = 'Say, for each requirement, whether `pip install ARGS` would take it from the cache.'


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ARGS", nargs="*", help="what you would give pip install: NAME==VERSION, -r FILE, options")
    parser.add_argument("--mode", choices=settings.MODES, help=f"as {settings.MODE_VARIABLE} (default: that variable)")


# Its own flags, picked out of pip's arguments wherever they stand (True: takes a value).
OWN_FLAGS = {"-h": False, "--help": False, "--json": False, "--mode": True}


def run(args: argparse.Namespace) -> int:
    from pipcachefirst.pip import serve  # noqa: PLC0415 -- this command's alone: main imports every command module

    if not args.pip_args:
        raise common.UsageError("name what to explain: NAME==VERSION or -r requirements.txt")
    mode = args.mode or settings.mode()[0]
    store = common.store()
    finder, wanted = compat.finder_and_requirements(args.pip_args)
    index_urls, find_links = compat.finder_locations(finder)
    origins = sorted(normalized_set(index_urls + find_links))
    rows = []
    for requirement in wanted:
        answer = serve.answer(store, finder, requirement.name, requirement.specifier, requirement.hashes, origins,
                              mode=mode)
        decision = answer.decision
        if decision is None:
            detail = f"not a pin: pip asks the index ({mode} mode)"
            rows.append({"requirement": requirement.text, "served": False, "detail": detail})
        else:
            rows.append({"requirement": requirement.text, "served": decision.served, "detail": decision.detail})
    text = [f"{r['requirement']}: {'from cache' if r['served'] else 'not from cache'} ({r['detail']})" for r in rows]
    common.emit(args, rows, text or ["(no named requirements)"])
    return 0
