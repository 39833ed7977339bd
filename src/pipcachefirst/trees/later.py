"""Installed trees built after pip's last output, so that a first install costs what plain pip's does.

Building a wheel's tree is what pip's install step does (unpack, compile)
plus, to use it at once, a copy of every file into the environment: on a
first install, with pip's cache warm and ours empty, that copy made
``flask-celery.txt`` about 1.2x and a 33-pin Django lock about 1.4x plain
pip.  Nothing in this command needs the tree: only the next install does.  So
when a wheel has no tree yet and its bytes are in the files bucket (served
from it, or stored by this command), pip installs it by itself, as plain pip
would, and the wheel is noted here; when the command is over, after pip's
last line, one helper process (its own interpreter, ``nice``, detached from
the terminal and from pip's output pipes) builds the noted trees from the
cached wheels.  The next install finds them and is as fast as before.

The helper checks each wheel's sha256 before it builds (the tree is named by
it), builds with the same interpreter and flags as pip (the tree key says
what the byte code is valid for; the helper refuses another key), and
publishes each tree by one rename (``Trees.build``): a helper killed
midway (a Docker ``RUN`` step that ends, a CI job that stops) leaves only a
``.tmp-`` folder, never a tree, and the next install that meets the wheel
notes it again.  Two pips at once each start a helper; the first rename of
a tree wins.  The job list is a ``.tmp-later-*.json`` file in the trees
folder, locked (``flock``) by the helper for as long as it lives and removed
by it when it is done.  A job file nobody holds was left by a helper that
was stopped: where that happens (a Docker ``RUN`` step ends with its
command), the next command that meets it builds its trees on its own clock,
as before, so trees still come, one install later.

Standard library only in the helper; nothing here knows pip.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Collection, List, NamedTuple, Optional
from zipfile import ZipFile

from pipcachefirst.base.atomic import TEMPORARY_PREFIX, sha256_of
from pipcachefirst.base.helpers import helper_command
from pipcachefirst.base.locks import held_elsewhere
from pipcachefirst.trees.tree import TREE_FILE, Tree, TreeError, Trees, interpreter_key

JOB_PREFIX = TEMPORARY_PREFIX + "later-"
NICENESS = 10  # what the user runs next goes first

class Job(NamedTuple):
    """One tree to build: the wheel at ``path`` (with this sha256), and its members that are executable."""

    sha256: str
    path: str
    name: str
    executable: List[str]


def start(shelf: Optional[Trees], wanted: Collection[Job]) -> Optional["subprocess.Popen[bytes]"]:
    """At the end of the command: a detached helper builds ``wanted`` into ``shelf``.

    Returns the helper, if one started.
    """
    jobs = [{**job._asdict(), "executable": sorted(job.executable)} for job in sorted(wanted)]
    if not jobs or shelf is None:
        return None
    import fcntl  # noqa: PLC0415 -- POSIX only, as trees are (this module is imported everywhere)

    shelf.folder.mkdir(parents=True, exist_ok=True)
    fd, writing = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=".json", dir=shelf.folder)
    job_file = writing
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held by the helper (it inherits the descriptor) for as long as it lives
        os.write(fd, json.dumps({"key": shelf.key, "jobs": jobs}).encode("utf-8"))
        job_file = os.path.join(shelf.folder, JOB_PREFIX + os.path.basename(writing)[len(TEMPORARY_PREFIX):])
        os.rename(writing, job_file)  # seen by others only once locked
        return subprocess.Popen(
            helper_command(__name__, helper_main.__name__, job_file, str(fd)),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(fd,),
            start_new_session=True,  # not pip's Ctrl-C, and nothing of pip's output: a caller reading it never waits
        )
    except OSError:
        os.unlink(job_file)
        raise
    finally:
        os.close(fd)


def running(folder: Path) -> List[Path]:
    """The job files in a trees folder whose helper still runs (holds its lock)."""
    return [job for job in _jobs(folder) if _held(job)]


def cut_short(folder: Path) -> bool:
    """Whether a helper was stopped before it was done (a Docker ``RUN`` step, a CI job that ended); its job goes.

    Then this command builds its trees on its own clock, as ``PIPCACHEFIRST_BUILD_TREES=now`` does: where
    every helper is stopped, the second install builds the trees and the third finds them.
    """
    stopped = [job for job in _jobs(folder) if not _held(job)]
    for job in stopped:
        with contextlib.suppress(OSError):
            job.unlink()
    return bool(stopped)


def _jobs(folder: Path) -> List[Path]:
    try:
        return [folder / name for name in os.listdir(folder) if name.startswith(JOB_PREFIX)]
    except OSError:
        return []


def _held(job: Path) -> bool:
    """Whether the job's helper still runs; a job file gone meanwhile: its helper is done."""
    return held_elsewhere(job, if_missing=True)


def helper_main() -> None:
    """Build the trees the job file (argv[1]) names, then remove it."""
    job_file = Path(sys.argv[1])  # argv[2]: the descriptor holding its lock, kept open until the helper ends
    try:
        os.nice(NICENESS)
    except OSError:
        pass
    try:
        data = json.loads(job_file.read_text("utf-8"))
        shelf = Trees(job_file.parent.parent, str(data["key"]))
        if shelf.folder != job_file.parent or interpreter_key() != shelf.key:
            return  # another interpreter, or flags: its byte code would not be what the key says
        for job in data["jobs"]:
            try:
                tree = build(shelf, str(job["sha256"]), str(job["path"]), str(job["name"]), set(job["executable"]))
            except (OSError, TreeError, ValueError, KeyError):
                continue  # no tree for this one: the next install notes it again
            if not job_file.exists():  # the cache was cleared meanwhile (pip cache purge): leave nothing in it
                if tree is not None:
                    shelf.remove(tree.folder)
                for folder in (shelf.folder, shelf.bucket):
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                return
    finally:
        # The lock goes first: once no helper holds it, nothing of the cache is open here (a waiter may
        # then remount or remove it), and a job file left unheld for a moment only makes the next
        # command build its trees itself.
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.close(int(sys.argv[2]))
        try:
            job_file.unlink()
        except OSError:
            pass


def build(shelf: Trees, sha256: str, path: str, name: str, executable: Collection[str]) -> Optional[Tree]:
    """The tree of the wheel at ``path``, built unless there is one; None if the file is not that wheel any more."""
    if (shelf.folder / sha256 / TREE_FILE).is_file():
        return None
    with open(path, "rb") as handle:  # one open file: what is hashed is what is unpacked
        if sha256_of(handle) != sha256:
            return None
        handle.seek(0)
        with ZipFile(handle) as wheel:
            return shelf.build(sha256, wheel, lambda info: info.filename in executable, name)
