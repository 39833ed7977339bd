"""Installed trees copied ahead, while pip still resolves: installing them is then only renames.

Placing a tree's files is most of what is left of a warm install, and it can
only start when pip reaches that wheel, after start-up and resolving.  On a
file system where creating a file is slow (ext4 without a journal, just after
the previous venv was deleted: 0.7 ms a file, 2,000 files for
``flask-celery.txt``) that is seconds.  So as soon as pipcachefirst serves a
pin, a helper process copies the wheel's tree into a private folder beside the
trees, on the other core (its own interpreter: it never waits for pip's GIL,
nor pip for its).  When pip installs the wheel, each file is renamed into
place (the kernel creates nothing new) and given pip's permission bits.

pip tells the helper each tree as it is served (``<sha256>\t<folder>`` on
its stdin) and, when it reaches a wheel whose tree is not copied yet,
``!<sha256>``: the helper copies that one next, and pip waits for it rather
than competing for the same disk.  The helper writes ``<sha256>.json`` last,
naming each staged file and the size and mtime it was copied with; pip uses a
staged file only when that matches the tree it checked itself.  A helper that
dies, or keeps pip waiting 10 s, is stopped and pip places the rest itself.
The folder is this process's alone and goes at the end of the command; a
killed pip's folder goes with the other stale temporaries of the trees bucket
after an hour.

Standard library only; nothing here knows pip.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple

from pipcachefirst import trees
from pipcachefirst._atomic import TEMPORARY_PREFIX, write_atomically
from pipcachefirst._workers import Workers

MANIFEST_SUFFIX = ".json"
HELPER_THREADS = 4  # one folder each: the kernel creates files in several folders at once, not in one
WAIT_SECONDS = 10.0  # for the tree pip needs next; a helper slower than that is stopped

StagedFile = Tuple[str, trees.Stamp]  # staged path, and the stamp of the tree file it was copied from


class Staged:
    """A tree's files as the helper copied them: member -> staged file (and ``.pyc``, for sources)."""

    def __init__(self, folder: Path, data: Dict[str, Dict[str, List[Any]]]) -> None:
        self.files = _entries(folder, data["files"])
        self.pycs = _entries(folder, data["pycs"])

    def file(self, member: str, stamp: trees.Stamp) -> Optional[str]:
        """The staged copy of ``member``, if it was copied from a file with this ``stamp``."""
        staged = self.files.pop(member, None)
        return staged[0] if staged is not None and staged[1] == stamp else None

    def pyc(self, member: str, stamp: trees.Stamp) -> Optional[str]:
        staged = self.pycs.pop(member, None)
        return staged[0] if staged is not None and staged[1] == stamp else None


def _entries(folder: Path, raw: Dict[str, List[Any]]) -> Dict[str, StagedFile]:
    return {str(member): (str(folder / str(name)), (int(size), int(mtime))) for member, (name, size, mtime) in raw.items()}


class Stager:
    """The helper process of one pip command, and the folder it copies trees into."""

    def __init__(self, trees_folder: Path, mode: str) -> None:
        self.folder = trees_folder / f"{TEMPORARY_PREFIX}stage-{os.getpid()}-{os.urandom(4).hex()}"
        self.folder.mkdir()
        package_parent = str(Path(__file__).resolve().parent.parent)
        code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
                "from pipcachefirst.staging import helper_main; helper_main()")
        self._process: Optional[subprocess.Popen[str]] = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", code, str(self.folder), mode],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True,  # Ctrl-C is pip's to handle; pip ends the helper
        )
        self.asked: Dict[str, Path] = {}  # sha256 -> tree folder

    def ask(self, tree_folder: Path, sha256: str) -> None:
        """Copy this tree ahead (if it is one: the helper skips what is not)."""
        if sha256 in self.asked or self._process is None:
            return
        self.asked[sha256] = tree_folder
        self._send(f"{sha256}\t{tree_folder}\n")

    def take(self, sha256: str) -> Optional[Staged]:
        """The staged tree, asking the helper to copy it next and waiting; None if pip must place it itself."""
        if sha256 not in self.asked or self._process is None:
            return None
        manifest = self.folder / (sha256 + MANIFEST_SUFFIX)
        if not manifest.exists():
            self._send(f"!{sha256}\n")  # pip needs this one now: the helper takes it next
            deadline = time.monotonic() + WAIT_SECONDS
            while not manifest.exists():
                if (self._process is None or self._process.poll() is not None or time.monotonic() > deadline
                        or not self.folder.is_dir()):  # gone with the helper, or cleared (``pipcachefirst clear``)
                    self.close()  # a helper this slow is no help: pip places the rest itself
                    return None
                time.sleep(0.001)
        try:
            return Staged(self.folder, json.loads(manifest.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None

    def _send(self, line: str) -> None:
        if self._process is None or self._process.stdin is None:
            return
        try:
            self._process.stdin.write(line)
            self._process.stdin.flush()
        except OSError:  # the helper is gone: pip places every tree itself
            self._process = None

    def close(self) -> None:
        """End the helper and remove what it staged and pip did not take."""
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                process.wait(timeout=10)
            with contextlib.suppress(OSError, ValueError):
                if process.stdin is not None:
                    process.stdin.close()
        shutil.rmtree(self.folder, ignore_errors=True)


# -- the helper process ----------------------------------------------------------


def helper_main() -> None:
    """Copy each tree named on stdin into the staging folder (argv: folder, link mode), until EOF.

    A line ``<sha256>\t<tree folder>`` adds a tree at the end; ``!<sha256>``
    moves it to the front (pip is waiting for it).
    """
    folder, mode = Path(sys.argv[1]), sys.argv[2]
    placer = trees.Placer(mode)
    workers = Workers(HELPER_THREADS, name="pipcachefirst-stage")
    queue = _Queue()
    threading.Thread(target=queue.read, args=(sys.stdin,), daemon=True).start()
    while True:
        item = queue.next()
        if item is None:  # pip closed the pipe: it is done, or gone (killed); either way nothing here is needed
            shutil.rmtree(folder, ignore_errors=True)
            return
        sha256, tree_folder = item
        try:
            manifest = stage(tree_folder, sha256, folder, placer, workers)
        except Exception:  # a tree that cannot be staged: pip places it as without staging, and waits no longer
            manifest = {"files": {}, "pycs": {}}
        with contextlib.suppress(OSError):
            write_atomically(folder / (sha256 + MANIFEST_SUFFIX), json.dumps(manifest), durable=False)


class _Queue:
    """The helper's trees to copy, in pip's order of asking, the one pip waits for first."""

    def __init__(self) -> None:
        self._waiting: Dict[str, Path] = {}
        self._first: List[str] = []
        self._ended = False
        self._changed = threading.Condition()

    def read(self, lines: IO[str]) -> None:
        for line in lines:
            with self._changed:
                sha256, _, tree_folder = line.rstrip("\n").partition("\t")
                if sha256.startswith("!"):
                    self._first.insert(0, sha256[1:])
                elif sha256:
                    self._waiting[sha256] = Path(tree_folder)
                self._changed.notify()
        with self._changed:
            self._ended = True
            self._changed.notify()

    def next(self) -> Optional[Tuple[str, Path]]:
        """The tree to copy next; None once pip has closed the pipe."""
        with self._changed:
            while True:
                if self._ended:
                    return None
                for sha256 in self._first:
                    if sha256 in self._waiting:
                        self._first.remove(sha256)
                        return sha256, self._waiting.pop(sha256)
                if self._waiting:
                    sha256 = next(iter(self._waiting))
                    return sha256, self._waiting.pop(sha256)
                self._changed.wait()


def stage(tree_folder: Path, sha256: str, folder: Path, placer: trees.Placer,
          workers: Workers) -> Dict[str, Dict[str, List[object]]]:
    """Copy the tree's files into ``folder`` (a subfolder per thread); what ``<sha256>.json`` says of them."""
    tree = trees.Tree.from_json(tree_folder, (tree_folder / trees.TREE_FILE).read_text("utf-8"))
    if tree.sha256 != sha256:
        raise trees.TreeError("another wheel's tree")
    jobs: List[Tuple[str, str, trees.Stamp, str, Dict[str, List[object]]]] = []
    files: Dict[str, List[object]] = {}
    pycs: Dict[str, List[object]] = {}
    for n, (member, stamp) in enumerate(tree.files.items()):
        jobs.append((tree.source(member), f"{sha256}-{n % HELPER_THREADS}/{n}", stamp, member, files))
        pyc_stamp = tree.compiled.get(member)
        if pyc_stamp is not None:
            jobs.append((tree.pyc(member), f"{sha256}-{n % HELPER_THREADS}/{n}c", pyc_stamp, member, pycs))
    for n in range(HELPER_THREADS):
        (folder / f"{sha256}-{n}").mkdir()
    shares = [[job for job in jobs if job[1].startswith(f"{sha256}-{n}/")] for n in range(HELPER_THREADS)]
    for done in workers.map(lambda share: _copy_all(placer, folder, share), shares):
        for name, stamp, member, into in done:
            into[member] = [name, stamp[0], stamp[1]]
    return {"files": files, "pycs": pycs}


def _copy_all(placer: trees.Placer, folder: Path,
              jobs: List[Tuple[str, str, trees.Stamp, str, Dict[str, List[object]]]]
              ) -> List[Tuple[str, trees.Stamp, str, Dict[str, List[object]]]]:
    """Copy each file whose size and mtime are still the tree's; the ones copied."""
    done = []
    for source, name, stamp, member, into in jobs:
        try:
            if trees.stamp_of(os.lstat(source)) != stamp:
                continue  # changed since the tree was built: pip's own check will see it
            placer.place(source, str(folder / name), 0o600, stamp)
        except OSError:
            continue
        done.append((name, stamp, member, into))
    return done

