"""``pipcachefirst warm ARGS``: fill the cache ahead of time through ``pip download ARGS``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from pipcachefirst import SWITCH, switch_state
from pipcachefirst.base import settings
from pipcachefirst.base.free_space import human
from pipcachefirst.cache.store import Store
from pipcachefirst.commands import common

HELP = "Fill the cache ahead of time through `pip download ARGS` (pip's own options and progress)."


JSON_OUTPUT = False


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ARGS", nargs="*", help="what pip download takes: -r FILE, NAME==VERSION, --platform, ...")


OWN_FLAGS = {"-h": False, "--help": False}


def run(args: argparse.Namespace) -> int:
    if not args.pip_args:
        raise common.UsageError("name what to fetch: -r requirements.txt or NAME==VERSION, plus pip download options")
    env = dict(os.environ)
    env.pop(settings.MODE_VARIABLE, None)  # warming has to reach the index
    if switch_state(env.get(SWITCH)) != "on":
        raise common.UsageError(f"{SWITCH} turns pipcachefirst off; nothing would be stored")
    with tempfile.TemporaryDirectory(prefix="pipcachefirst-warm-") as scratch:
        command = [sys.executable, "-m", "pip", "download", "--dest", scratch, *args.pip_args]
        status = subprocess.call(command, env=env)
    if status == 0:
        location = common.location()
        if location.root and os.path.isdir(location.root):
            entries, size = Store(location.root).usage()
            print(f"pipcachefirst: the cache at {location.root} holds {entries} entries, {human(size)}")
    return 0 if status == 0 else 1
