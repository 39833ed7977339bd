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

pip tells the helper each tree as it is served and, when it reaches a wheel
whose tree is not copied yet, asks for that one next: the helper copies a
chunk of files at a time, and a tree pip waits for goes before the rest.  The
helper writes ``<sha256>.json`` last, naming each staged file and the size and
mtime it was copied from, and says so on its stdout; pip uses a staged file
only when that matches the tree it checked itself.  A tree the helper cannot
stage, pip places itself at once; a helper that dies, or says nothing for 10 s
(it reports each chunk), is stopped and pip places the rest itself.  The
folder is this process's alone: the helper removes it when pip closes the pipe
(done or killed), pip when it stops the helper.

Standard library only; nothing here knows pip.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any, Collection, Dict, List, Optional, Set, Tuple

from pipcachefirst.base.atomic import TEMPORARY_PREFIX, write_atomically
from pipcachefirst.base.helpers import helper_command
from pipcachefirst.base.workers import Workers
from pipcachefirst.trees.tree import TREE_FILE, Placer, Stamp, Tree, TreeError, stamp_of

MANIFEST_SUFFIX = ".json"
HELPER_THREADS = 4  # one folder each: the kernel creates files in several folders at once, not in one
CHUNK = 16 * HELPER_THREADS  # files copied between two looks at what pip waits for (a multiple: see _Copying)
WAIT_SECONDS = 10.0  # without a word from the helper; then it is stopped and pip places the rest itself

StagedEntry = List[Any]  # as the manifest holds it: [name in the staging folder, size, mtime] of the tree file copied


class Staged:
    """A tree's files as the helper copied them: member -> staged file (and ``.pyc``, for sources).

    The manifest is kept as read: a path is joined only for a member pip
    installs (a large tree has tens of thousands, and pip's thread pays for
    each join).
    """

    def __init__(self, folder: Path, data: Dict[str, Dict[str, StagedEntry]]) -> None:
        self.folder = os.fspath(folder)
        self.files, self.pycs = data["files"], data["pycs"]
        if not isinstance(self.files, dict) or not isinstance(self.pycs, dict):
            raise TypeError("a staging manifest maps members to entries")

    def file(self, member: str, stamp: Stamp) -> Optional[str]:
        """The staged copy of ``member``, if it was copied from a file with this ``stamp`` (once)."""
        return self._take(self.files, member, stamp)

    def pyc(self, member: str, stamp: Stamp) -> Optional[str]:
        """The staged ``.pyc`` of source ``member``, as ``file``."""
        return self._take(self.pycs, member, stamp)

    def _take(self, entries: Dict[str, StagedEntry], member: str, stamp: Stamp) -> Optional[str]:
        entry = entries.pop(member, None)
        if entry is None:
            return None
        try:
            name, size, mtime = entry
            return f"{self.folder}{os.sep}{name}" if (size, mtime) == stamp and isinstance(name, str) else None
        except (TypeError, ValueError):
            return None  # not as the helper writes it: placed from the tree instead


class Stager:
    """The helper process of one pip command, and the folder it copies trees into.

    To the helper: ``<sha256>\t<tree folder>`` (copy it), ``!<sha256>`` (pip
    waits for it: next).  From the helper: ``+<sha256>`` (its ``.json`` is
    written), ``-<sha256>`` (it could not be staged), ``.`` (still copying).
    Bytes, file names as the file system has them.
    """

    def __init__(self, trees_folder: Path, mode: str) -> None:
        self.trees_folder, self.mode = trees_folder, mode
        self.folder = trees_folder / f"{TEMPORARY_PREFIX}stage-{os.getpid()}-{os.urandom(4).hex()}"
        self.folder.mkdir()
        self._process: Optional["subprocess.Popen[bytes]"] = subprocess.Popen(
            helper_command(__name__, helper_main.__name__, str(self.folder), mode),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C is pip's to handle; pip ends the helper
        )
        self._alive = True
        self._heard = b""
        self.asked: Set[str] = set()
        self.staged: Set[str] = set()
        self.failed: Set[str] = set()

    def ask(self, tree_folder: Path, sha256: str) -> None:
        """Copy this tree ahead (if it is one: the helper says when it is not)."""
        if sha256 in self.asked or not self._alive:
            return
        self.asked.add(sha256)
        self._send(sha256.encode() + b"\t" + os.fsencode(tree_folder) + b"\n")

    def take(self, sha256: str) -> Optional[Staged]:
        """The staged tree, asking the helper to copy it next and waiting; None if pip must place it itself."""
        if sha256 not in self.asked or sha256 in self.failed or not self._alive:
            return None
        if sha256 not in self.staged:
            self._send(b"!" + sha256.encode() + b"\n")
            while self._alive and sha256 not in self.staged | self.failed:
                self._listen(WAIT_SECONDS)
        if sha256 not in self.staged:
            return None
        try:
            return Staged(self.folder, json.loads((self.folder / (sha256 + MANIFEST_SUFFIX)).read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None

    def _listen(self, seconds: float) -> None:
        """What the helper said within ``seconds``; a helper that says nothing that long, or is gone, is stopped."""
        process = self._process
        assert process is not None and process.stdout is not None
        try:
            readable, _, _ = select.select([process.stdout], [], [], seconds)
            said = os.read(process.stdout.fileno(), 65536) if readable else b""
        except OSError:
            said = b""
        if not said:  # silent (a stuck disk), or ended (killed; its pipe closed): pip places the rest itself
            self.close()
            return
        *lines, self._heard = (self._heard + said).split(b"\n")
        for line in lines:
            sha256 = line[1:].decode("ascii", "replace")
            if line[:1] == b"+":
                self.staged.add(sha256)
            elif line[:1] == b"-":
                self.failed.add(sha256)

    def _send(self, line: bytes) -> None:
        process = self._process
        if process is None or process.stdin is None:
            return
        try:
            process.stdin.write(line)
            process.stdin.flush()
        except OSError:  # the helper is gone: pip places every tree itself
            self.close()

    def close(self) -> None:
        """End the helper and remove what it staged and pip did not take."""
        self._alive = False
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGKILL)  # it keeps nothing worth a goodbye; a stopped one ends too
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                process.wait(timeout=2)  # one stuck in the kernel ends when its disk answers; pip goes on
            for pipe in (process.stdin, process.stdout):
                with contextlib.suppress(OSError, ValueError):
                    if pipe is not None:
                        pipe.close()
        shutil.rmtree(self.folder, ignore_errors=True)


# -- the helper process ----------------------------------------------------------


def helper_main() -> None:
    """Copy the trees pip names on stdin into the staging folder (argv: folder, link mode), until pip closes it."""
    folder, mode = Path(sys.argv[1]), sys.argv[2]
    placer = Placer(mode)
    workers = Workers(HELPER_THREADS, name="pipcachefirst-stage")
    queue = _Queue()
    threading.Thread(target=queue.read, args=(sys.stdin.buffer,), daemon=True).start()
    copying: Dict[str, _Copying] = {}
    out = sys.stdout.buffer
    try:
        while True:
            picked = queue.next(copying)
            if picked is None:  # pip closed the pipe: it is done, or gone (killed); nothing here is needed
                return
            sha256, tree_folder = picked
            try:
                job = copying.get(sha256) or _Copying(tree_folder, sha256, folder)
                copying[sha256] = job
                done = job.step(placer, workers)
                if done:
                    del copying[sha256]
                    write_atomically(folder / (sha256 + MANIFEST_SUFFIX), json.dumps(job.manifest), durable=False)
                said = (b"+" + sha256.encode()) if done else b"."
            except Exception:  # noqa: BLE001 - a tree that cannot be staged: pip places it unstaged, waits no longer
                copying.pop(sha256, None)
                said = b"-" + sha256.encode()
            out.write(said + b"\n")
            out.flush()
    except OSError:  # pip is gone
        return
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Queue:
    """The trees pip named, in the order it named them; the one pip waits for first."""

    def __init__(self) -> None:
        self._waiting: Dict[str, Path] = {}
        self._first: List[str] = []
        self._ended = False
        self._changed = threading.Condition()

    def read(self, lines: IO[bytes]) -> None:
        try:
            for line in lines:
                with self._changed:
                    line = line.rstrip(b"\n")
                    if line.startswith(b"!"):
                        self._first.insert(0, line[1:].decode("ascii", "replace"))
                    elif b"\t" in line:
                        sha256, _, tree_folder = line.partition(b"\t")
                        self._waiting[sha256.decode("ascii", "replace")] = Path(os.fsdecode(tree_folder))
                    self._changed.notify()
        finally:
            with self._changed:
                self._ended = True
                self._changed.notify()

    def next(self, copying: Collection[str]) -> Optional[Tuple[str, Path]]:
        """The tree to copy a chunk of next (the one pip waits for, else one begun, else the oldest); None at EOF."""
        with self._changed:
            while True:
                if self._ended:
                    return None
                for sha256 in list(self._first):
                    if sha256 in copying:
                        return sha256, Path()
                    if sha256 in self._waiting:
                        return sha256, self._waiting.pop(sha256)
                    self._first.remove(sha256)  # done, or never asked for
                if copying:
                    return next(iter(copying)), Path()
                if self._waiting:
                    sha256 = next(iter(self._waiting))
                    return sha256, self._waiting.pop(sha256)
                self._changed.wait()


_Job = Tuple[str, str, Stamp, str, Dict[str, List[object]]]  # source, staged name, stamp, member, into


class _Copying:
    """One tree being copied, a chunk at a time: what is left, and what ``<sha256>.json`` will say."""

    def __init__(self, tree_folder: Path, sha256: str, folder: Path) -> None:
        tree = Tree.from_json(tree_folder, (tree_folder / TREE_FILE).read_text("utf-8"))
        if tree.sha256 != sha256:
            raise TreeError("another wheel's tree")
        self.folder = folder
        self.files: Dict[str, List[object]] = {}
        self.pycs: Dict[str, List[object]] = {}
        copies = [(tree.source(member), stamp, member, self.files) for member, stamp in tree.files.items()]
        copies += [(tree.pyc(member), stamp, member, self.pycs) for member, stamp in tree.compiled.items()]
        # The n-th copy goes to subfolder n % HELPER_THREADS; chunks keep that order, so thread t takes chunk[t::T].
        self.left: List[_Job] = [(source, f"{sha256}-{n % HELPER_THREADS}/{n}", stamp, member, into)
                                 for n, (source, stamp, member, into) in enumerate(copies)]
        for n in range(HELPER_THREADS):
            (folder / f"{sha256}-{n}").mkdir()

    @property
    def manifest(self) -> Dict[str, Dict[str, List[object]]]:
        return {"files": self.files, "pycs": self.pycs}

    def step(self, placer: Placer, workers: Workers) -> bool:
        """Copy the next chunk (each thread its own subfolder's files); whether the tree is done."""
        chunk, self.left = self.left[:CHUNK], self.left[CHUNK:]
        shares = [chunk[n::HELPER_THREADS] for n in range(HELPER_THREADS)]
        for copied in workers.map(lambda share: _copy_all(placer, self.folder, share), shares):
            for name, stamp, member, into in copied:
                into[member] = [name, stamp[0], stamp[1]]
        return not self.left


def _copy_all(placer: Placer, folder: Path, jobs: List[_Job]) -> List[Tuple[str, Stamp, str, Dict[str, List[object]]]]:
    """Copy each file whose size and mtime are still the tree's; the ones copied."""
    done = []
    for source, name, stamp, member, into in jobs:
        try:
            if placer.links(source):
                continue  # hard-linked into place when pip installs it: a link is no slower than a rename
            if stamp_of(os.lstat(source)) != stamp:
                continue  # changed since the tree was built: pip's own check will see it
            placer.place(source, str(folder / name), 0o600, stamp, may_link=False)
        except OSError:
            continue
        done.append((name, stamp, member, into))
    return done
