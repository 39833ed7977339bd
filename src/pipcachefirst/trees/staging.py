"""Installed trees copied ahead, while pip still resolves: installing them is then only renames.

Placing a tree's files is most of what is left of a warm install, and it can
only start when pip reaches that wheel, after start-up and resolving.  On a
file system where creating a file is slow (ext4 without a journal, just after
the previous venv was deleted: 0.7 ms a file, 2,000 files for
``flask-celery.txt``) that is seconds.  So as soon as pipcachefirst serves a
pin, a helper process copies the wheel's tree into a private folder beside the
trees, on the other core (its own interpreter: it never waits for pip's GIL,
nor pip for its).

The copy is laid out as pip will install it: each member at its path, with
the permission bits pip gives it (this process's umask, the tree's executable
bits), and each source's ``.pyc`` in its ``__pycache__``; the files the link
mode hard-links are linked there.  When pip installs the wheel, a whole
top-level folder of it (``numpy/``: thousands of files, hundreds of folders)
is one rename into site-packages, where nothing of that name is yet; any other
file is renamed into place alone.  Either way the kernel creates nothing on
pip's thread.

pip tells the helper each tree as it is served and, when it reaches a wheel
whose tree is not copied yet, asks for that one next: the helper copies a
chunk of files at a time, and a tree pip waits for goes before the rest.  The
helper writes ``<sha256>.json`` last, naming each staged file with the size,
mtime and permission bits it was copied with, and the folders it staged whole;
it says so on its stdout.  pip uses a staged file only when that matches the
tree it checked itself, and moves a folder only when every file in it does.
A tree the helper cannot stage, pip places itself at once; a helper that dies,
or says nothing for 10 s (it reports each chunk), is stopped and pip places
the rest itself.  The folder is this process's alone: the helper removes it
when pip closes the pipe (done or killed), pip when it stops the helper.

Standard library only; nothing here knows pip.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
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

from pipcachefirst.base.atomic import TEMPORARY_PREFIX, current_umask, write_atomically
from pipcachefirst.base.helpers import helper_command
from pipcachefirst.base.workers import Workers
from pipcachefirst.trees.tree import (
    TREE_FILE,
    Placer,
    Stamp,
    Tree,
    TreeError,
    member_mode,
    pyc_mode,
    stamp_of,
    written_in_place,
)

MANIFEST_SUFFIX = ".json"
HELPER_THREADS = 4  # the kernel creates files in several folders at once, not in one: see _Copying.step
CHUNK = 16 * HELPER_THREADS  # files copied between two looks at what pip waits for
WAIT_SECONDS = 10.0  # without a word from the helper; then it is stopped and pip places the rest itself

StagedEntry = List[Any]  # as the manifest holds it: [name in the staging folder, size, mtime, permission bits]


def pyc_scheme() -> List[Any]:
    """What names a source's ``.pyc`` in this interpreter: a folder staged by another may only be moved if the same."""
    return [sys.implementation.cache_tag, sys.flags.optimize, sys.pycache_prefix]


class Staged:
    """A tree's files as the helper copied them: member -> staged file (and ``.pyc``, for sources), and whole folders.

    The manifest is kept as read: a path is joined only for a member pip
    installs (a large tree has tens of thousands, and pip's thread pays for
    each join).
    """

    def __init__(self, folder: Path, data: Dict[str, Any]) -> None:
        self.folder = os.fspath(folder)
        self.files: Dict[str, StagedEntry] = data["files"]
        self.pycs: Dict[str, StagedEntry] = data["pycs"]
        self.root: str = data["root"]  # the tree's copy, under ``folder``
        folders = data["folders"] if data["pyc_scheme"] == pyc_scheme() else {}
        if not all(isinstance(value, dict) for value in (self.files, self.pycs, folders)):
            raise TypeError("a staging manifest maps members to entries")
        self.folders: Dict[str, List[str]] = folders  # top-level folder -> its members, every one staged

    def covers(self, tree: Tree) -> bool:
        """Whether every file of ``tree`` and every ``.pyc`` was staged, copied from the file as ``tree`` records it.

        The helper looked at each file's size and mtime as it copied it: for
        such a tree that is the check pip would make before using it.
        """
        return (len(self.files) == len(tree.files) and len(self.pycs) == len(tree.compiled)
                and _same_stamps(self.files, tree.files) and _same_stamps(self.pycs, tree.compiled))

    def file(self, member: str, stamp: Stamp, mode: int) -> Optional[str]:
        """The staged copy of ``member``, if it was copied from a file with this ``stamp``, with ``mode`` (once)."""
        return self._take(self.files, member, stamp, mode)

    def pyc(self, member: str, stamp: Stamp, mode: int) -> Optional[str]:
        """The staged ``.pyc`` of source ``member``, as ``file``."""
        return self._take(self.pycs, member, stamp, mode)

    def _take(self, entries: Dict[str, StagedEntry], member: str, stamp: Stamp, mode: int) -> Optional[str]:
        entry = entries.pop(member, None)
        if entry is None:
            return None
        try:
            name, size, mtime, bits = entry
            usable = (size, mtime) == stamp and bits == mode and isinstance(name, str)
            return f"{self.folder}{os.sep}{name}" if usable else None
        except (TypeError, ValueError):
            return None  # not as the helper writes it: placed from the tree instead

    def move(self, top: str, into: str, files: Dict[str, Stamp], compiled: Dict[str, Stamp],
             made: str = "") -> Dict[str, Tuple[int, Optional[int]]]:
        """Rename the staged folder ``top`` to ``into`` if every file in it is the one pip checked (``files``,
        and ``compiled`` for the ``.pyc``) and ``into`` is free; what moved: member -> (its bits, its ``.pyc``'s).

        Free: absent, or only the empty folders ``made`` and its parents up to
        ``into``, which pip 24.1 and later make just before it saves a file.
        Nothing moves (an empty answer) when any file differs or the rename
        fails: the folder's files are then renamed one by one, or placed from
        the tree.
        """
        members = self.folders.pop(top, None)
        if not members:
            return {}
        moved: Dict[str, Tuple[int, Optional[int]]] = {}
        try:
            for member in members:
                _, size, mtime, bits = self.files[member]
                if (size, mtime) != files.get(member):
                    return {}
                pyc = self.pycs.get(member)
                if pyc is not None and (pyc[1], pyc[2]) != compiled.get(member):
                    return {}
                moved[member] = (bits, pyc[3] if pyc is not None else None)
            _rename_folder(f"{self.folder}{os.sep}{self.root}{os.sep}{top}", into, made)
        except (OSError, KeyError, TypeError, ValueError, IndexError):
            return {}  # taken already (a member the tree could not give), or the name is taken in site-packages
        for member in members:
            del self.files[member]
            self.pycs.pop(member, None)
        return moved


def _same_stamps(entries: Dict[str, StagedEntry], stamps: Dict[str, Stamp]) -> bool:
    try:
        return all((entry[1], entry[2]) == stamps[member] for member, entry in entries.items())
    except (KeyError, TypeError, IndexError):
        return False


def _rename_folder(staged: str, into: str, made: str) -> None:
    """Rename ``staged`` to ``into``, which may hold nothing but the empty folders pip made for its first file:
    ``made`` and its parents up to ``into`` (they are taken away first, and made again if the rename fails)."""
    try:
        os.rename(staged, into)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not _only_the_way_to(into, made):
            raise
    try:
        folder = made
        while folder != into:
            os.rmdir(folder)
            folder = os.path.dirname(folder)
        os.rename(staged, into)
    except OSError:
        os.makedirs(made, exist_ok=True)  # as pip left it: pip 24.1 and later save into it without making it
        raise


def _only_the_way_to(into: str, made: str) -> bool:
    """Whether the folder ``into`` holds only the empty folders that lead to ``made``."""
    if not made.startswith(into + os.sep):
        return False
    folder = into
    for part in made[len(into) + 1:].split(os.sep):
        if os.listdir(folder) != [part]:
            return False
        folder = f"{folder}{os.sep}{part}"
    return not os.listdir(folder)


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


_Job = Tuple[str, str, Stamp, str, Dict[str, List[object]], bool]  # source, staged name, stamp, member, into, a .pyc


class _Copying:
    """One tree being copied, a chunk at a time: what is left, and what ``<sha256>.json`` will say."""

    def __init__(self, tree_folder: Path, sha256: str, folder: Path) -> None:
        tree = Tree.from_json(tree_folder, (tree_folder / TREE_FILE).read_text("utf-8"))
        if tree.sha256 != sha256:
            raise TreeError("another wheel's tree")
        self.folder = folder
        self.root = sha256
        self.umask = current_umask()
        self.files: Dict[str, List[object]] = {}
        self.pycs: Dict[str, List[object]] = {}
        self.members = tree.files
        copies = [(tree.source(member), f"{sha256}/{member}", stamp, member, self.files, False)
                  for member, stamp in tree.files.items()]
        copies += [(tree.pyc(member), name, stamp, member, self.pycs, True)
                   for member, stamp, name in self._pyc_names(tree)]
        self.left: List[_Job] = _folder_by_folder(copies)
        self.made: Set[str] = set()
        (folder / sha256).mkdir()

    def _pyc_names(self, tree: Tree) -> List[Tuple[str, Stamp, str]]:
        """Each compiled source's ``.pyc`` where pip's compile step writes it, unless a member of the wheel is there."""
        if sys.pycache_prefix is not None:
            return []  # away from the sources: placed from the tree when pip compiles them
        taken = {f"{self.root}/{member}" for member in tree.files}
        named = []
        for member, stamp in tree.compiled.items():
            name = importlib.util.cache_from_source(f"{self.root}/{member}")
            if name not in taken:
                named.append((member, stamp, name))
        return named

    @property
    def manifest(self) -> Dict[str, Any]:
        return {"files": self.files, "pycs": self.pycs, "root": self.root, "folders": self._whole_folders(),
                "pyc_scheme": pyc_scheme()}

    def _whole_folders(self) -> Dict[str, List[str]]:
        """The top-level folders pip may take by one rename: every file in them staged (a ``.pyc`` not staged is
        placed from the tree when pip compiles its source).

        Not a wheel's ``.dist-info`` (pip writes into it) or ``.data`` folders
        (installed elsewhere), nor a folder that a member of ``.data/purelib``
        or ``.data/platlib`` lands in too: two members could be one file, and
        the last in pip's order must win.
        """
        folders: Dict[str, List[str]] = {}
        unstaged: Set[str] = set()
        for member in self.members:
            top, sep, rest = member.partition("/")
            if top.endswith(".data"):
                scheme, _, path = rest.partition("/")
                if scheme in ("purelib", "platlib") and "/" in path:
                    unstaged.add(path.split("/", 1)[0])
                continue
            if not sep or top.endswith(".dist-info"):
                continue
            folders.setdefault(top, []).append(member)
            if member not in self.files:
                unstaged.add(top)
        return {top: members for top, members in folders.items() if top not in unstaged}

    def step(self, placer: Placer, workers: Workers) -> bool:
        """Copy the next chunk, each folder's files by one thread; whether the tree is done.

        The kernel creates the files of one folder one after another (it
        locks the folder): threads share out folders, not files.
        """
        chunk, self.left = self.left[:CHUNK], self.left[CHUNK:]
        shares: List[List[_Job]] = [[] for _ in range(HELPER_THREADS)]
        for job in chunk:
            shares[hash(os.path.dirname(job[1])) % HELPER_THREADS].append(job)
        for copied in workers.map(lambda share: _copy_all(placer, self, share), shares):
            for name, stamp, member, into, bits in copied:
                into[member] = [name, stamp[0], stamp[1], bits]
        return not self.left


def _folder_by_folder(copies: List[_Job]) -> List[_Job]:
    """The copies, one from each folder in turn: a chunk then gives every thread folders of its own."""
    by_folder: Dict[str, List[_Job]] = {}
    for job in copies:
        by_folder.setdefault(os.path.dirname(job[1]), []).append(job)
    queues = list(by_folder.values())
    mixed: List[_Job] = []
    for turn in range(max((len(queue) for queue in queues), default=0)):
        mixed.extend(queue[turn] for queue in queues if turn < len(queue))
    return mixed


def _copy_all(placer: Placer, copying: _Copying,
              jobs: List[_Job]) -> List[Tuple[str, Stamp, str, Dict[str, List[object]], int]]:
    """Copy (or link) each file whose size and mtime are still the tree's, with pip's bits; the ones copied."""
    done = []
    for source, name, stamp, member, into, is_pyc in jobs:
        try:
            info = os.lstat(source)
            if stamp_of(info) != stamp:
                continue  # changed since the tree was built: pip's own check will see it
            # The tree was unpacked by pip's rule: its executable bits say which members get them.
            bits = member_mode(bool(info.st_mode & 0o111), copying.umask)
            bits = pyc_mode(bits, copying.umask) if is_pyc else bits
            target = f"{copying.folder}{os.sep}{name}"
            parent = os.path.dirname(target)
            if parent not in copying.made:
                os.makedirs(parent, exist_ok=True)
                copying.made.add(parent)
            placer.place(source, target, bits, stamp, may_link=not written_in_place(member))
        except OSError:
            continue
        done.append((name, stamp, member, into, bits))
    return done

