"""Installed trees: each wheel unpacked and byte-compiled once, then placed into every new environment.

Re-creating an environment, pip spends most of its install step unzipping
the same wheels and compiling the same ``.py`` files it handled last time.
A *tree* is a wheel's members as pip would write them plus the ``.pyc`` pip
would compile for them, kept in the cache; later installs of the same wheel
place those files (a reflink where the file system can; else hard links
for byte code and extension modules and copies keeping mtimes for the rest:
see ``Placer``) instead.  This module knows nothing of pip: ``installing`` decides
when pip's own install step uses a tree.

A ``.pyc`` is valid for a source with the same size and mtime, for one
interpreter's magic number, optimization level and invalidation mode;
Python corrects the file name compiled into it to where the source was found
when it loads it.  So a tree is kept per *interpreter key* naming exactly
those, files are placed with the mtimes they have in the tree, and a tree is
checked (every file's size and mtime) before each use: a file changed in
place (through a hard link, say) makes the tree be built again, never reach
another environment.

What a tree records is what pip leaves behind, not what the wheel held: a
member that pip's compile step writes again (numpy's wheels ship
``__pycache__/*.pyc`` members that ``compileall`` then rewrites) is recorded
with the bytes, size and mtime it has after compiling.  Every file's sha256 is
recorded too, each member's checked against the wheel's RECORD when the tree
is built: placing copies exactly the recorded size from a file that still has
the recorded size and mtime (and, in pip's hash-checking mode, the recorded
sha256), and ``verify`` re-hashes everything and checks each ``.pyc``
against its source.

Layout, in the bucket ``trees-v1`` beside ``files-v1``::

    trees-v2/<interpreter key>/<sha256 of the wheel>/tree.json
    trees-v2/<interpreter key>/<sha256 of the wheel>/files/<member, as named in the wheel>
    trees-v2/<interpreter key>/<sha256 of the wheel>/files/<folder>/__pycache__/<stem>.<tag>.pyc

(``trees-v1``, before 0.2, recorded no sha256 and could record a member's
size from before pip's compile step rewrote it: this version never reads it.)

A tree is built in a temporary folder beside its final place, ``tree.json``
is written last, and the folder is published by one rename: a tree folder
either is complete or does not exist.  When two pips build the same tree the
first rename wins and the other discards its copy.  A tree whose ``tree.json``
a newer pipcachefirst wrote is used by neither rebuilds nor removal.
"""

from __future__ import annotations

import base64
import compileall
import contextlib
import csv
import errno
import hashlib
import importlib.util
import io
import json
import marshal
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import IO, Callable, Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Tuple, Union
from zipfile import ZipFile, ZipInfo

from pipcachefirst.base.atomic import (
    TEMPORARY_PREFIX,
    current_umask,
    remove_stale_temporaries,
    sha256_of,
    write_atomically,
)
from pipcachefirst.base.settings import AUTO, CLONE, COPY, HARDLINK, LINK_COMPILED

TREE_FILE = "tree.json"
FILES_FOLDER = "files"
TREE_SCHEMA = 1


# Linux's FICLONE ioctl (fcntl.FICLONE from Python 3.12); the value is the same on x86 and ARM.
_FICLONE = 0x40049409
# What a file system says when it cannot clone, or not between these two files.
_CANNOT_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF, errno.EPERM}
_CANNOT_LINK = {errno.EXDEV, errno.EMLINK, errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP}

Stamp = Tuple[int, int]  # (size, mtime_ns): what a .pyc is checked against
_CHUNK = 1024 * 1024


def interpreter_key() -> Optional[str]:
    """What a ``.pyc`` compiled here is valid for; None when this interpreter's byte code cannot be shared.

    ``SOURCE_DATE_EPOCH`` makes ``py_compile`` write checked hash-based
    ``.pyc`` files instead of timestamp ones (as pip's compile step does then);
    ``PYTHONPYCACHEPREFIX`` puts them outside the tree.
    """
    tag = sys.implementation.cache_tag
    if tag is None or sys.pycache_prefix is not None:
        return None
    invalidation = "hash" if os.environ.get("SOURCE_DATE_EPOCH") else "time"
    return f"{tag}-{importlib.util.MAGIC_NUMBER.hex()}-o{sys.flags.optimize}-{invalidation}"


def stamp_of(info: os.stat_result) -> Stamp:
    return (info.st_size, info.st_mtime_ns)


def safe_member(name: str) -> bool:
    """Whether a wheel member's name stays inside the folder it is unpacked into."""
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and "\\" not in name and "\0" not in name and not any(
        part in ("", ".", "..") for part in parts[:-1]
    ) and parts[-1] not in ("", ".", "..")


def pyc_member(member: str) -> str:
    """Where the ``.pyc`` of source ``member`` lies in a tree, relative to its ``files`` folder, as ``/`` path."""
    return importlib.util.cache_from_source(member).replace(os.sep, "/")


class TreeError(Exception):
    """A tree could not be built or read."""


class TreeChanged(OSError):
    """A tree file is not what the tree recorded (size, mtime or sha256): it is not placed."""


class Tree(NamedTuple):
    """A published tree: where it is, and the size and mtime of every file in it."""

    folder: Path
    sha256: str
    files: Dict[str, Stamp]  # member -> stamp of its unpacked file
    compiled: Dict[str, Stamp]  # .py member -> stamp of its .pyc
    not_compiled: FrozenSet[str]  # .py members that did not compile (pip records no .pyc for them)
    wheel: str = ""  # the wheel's file name, for people reading the cache
    digests: Dict[str, str] = {}  # path under files/ (a member, or a source's .pyc) -> sha256 of its bytes

    def source(self, member: str) -> str:
        return f"{self.folder}{os.sep}{FILES_FOLDER}{os.sep}{member}"  # os.path.join's result, for a safe_member

    def pyc(self, member: str) -> str:
        return importlib.util.cache_from_source(self.source(member))

    def source_digest(self, member: str) -> Optional[str]:
        return self.digests.get(member)

    def pyc_digest(self, member: str) -> Optional[str]:
        return self.digests.get(pyc_member(member))

    def to_json(self) -> str:
        return json.dumps({
            "schema": TREE_SCHEMA,
            "sha256": self.sha256,
            "wheel": self.wheel,
            "files": {m: list(s) for m, s in sorted(self.files.items())},
            "compiled": {m: list(s) for m, s in sorted(self.compiled.items())},
            "not_compiled": sorted(self.not_compiled),
            "sha256s": dict(sorted(self.digests.items())),
        }, indent=0, sort_keys=True)

    @classmethod
    def from_json(cls, folder: Path, text: str) -> "Tree":
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("schema"), int):
            raise TreeError("not a tree description")
        if data["schema"] > TREE_SCHEMA:
            raise FutureTree()
        files = {str(m): (int(s[0]), int(s[1])) for m, s in data["files"].items()}
        compiled = {str(m): (int(s[0]), int(s[1])) for m, s in data["compiled"].items()}
        if not all(safe_member(m) for m in files) or not set(compiled) <= set(files):
            raise TreeError("names a file outside the tree")
        digests = {str(m): str(d) for m, d in data.get("sha256s", {}).items()}
        if not set(files) | {pyc_member(m) for m in compiled} <= set(digests):
            raise TreeError("a file without its sha256")
        return cls(folder, str(data["sha256"]), files, compiled, frozenset(map(str, data["not_compiled"])),
                   str(data.get("wheel", "")), digests)


class FutureTree(TreeError):
    """A tree described by a newer pipcachefirst: not this version's to use or remove."""


class TreesUsage(NamedTuple):
    """What the installed trees take, as ``status``, ``prune`` and ``pip cache info`` say it."""

    trees: int  # tree folders, of every interpreter
    size: int  # the blocks of their files
    saved_by_links: int  # what hard links to tree files save: a file linked into N environments, N copies


class Trees:
    """The trees of this interpreter in one cache root's ``trees-v1`` bucket.

    ``report`` receives one line per problem (a tree that changed, one that
    could not be published); the caller goes on without that tree.
    """

    def __init__(self, bucket: Union[str, "os.PathLike[str]"], key: str,
                 report: Optional[Callable[[str], None]] = None) -> None:
        self.bucket = Path(bucket)
        self.key = key
        self.folder = self.bucket / key
        self._report = report or (lambda line: None)

    # -- reading -----------------------------------------------------------

    def find(self, sha256: str, checked: Callable[[Tree], bool] = lambda tree: False) -> Optional[Tree]:
        """The intact tree of the wheel with this sha256, or None (a changed tree is removed).

        Intact: every file has the size and mtime it was built with, which is
        looked up here unless ``checked(tree)`` says it was just now, file by
        file, by whoever will hand the files out (the helper that copies trees
        ahead looks at each file as it copies it).
        """
        folder = self.folder / sha256
        try:
            text = (folder / TREE_FILE).read_text("utf-8")
        except OSError:
            return None
        try:
            tree = Tree.from_json(folder, text)
        except FutureTree:
            return None
        except (TreeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            self._discard(folder, f"tree {folder} cannot be read ({exc}); removed, built again when next needed")
            return None
        changed = None if tree.sha256 == sha256 and checked(tree) else self.first_change(tree)
        if changed is not None or tree.sha256 != sha256:
            self._discard(folder, f"tree {folder} changed since it was built ({changed or 'sha256'}); "
                          "removed, built again when next needed")
            return None
        with contextlib.suppress(OSError):
            os.utime(folder / TREE_FILE)  # last used, for prune
        return tree

    @staticmethod
    def first_change(tree: Tree) -> Optional[str]:
        """The first file of the tree whose size or mtime differs from when it was built, if any."""
        for member, expected in tree.files.items():
            if _stamp_or_none(tree.source(member)) != expected:
                return member
        for member, expected in tree.compiled.items():
            if _stamp_or_none(tree.pyc(member)) != expected:
                return tree.pyc(member)
        return None

    @staticmethod
    def first_damage(tree: Tree) -> Optional[str]:
        """The first file of the tree that is not what was recorded, read whole: ``verify``'s check.

        Beyond ``first_change``: every file's sha256, and every ``.pyc`` valid
        for its source (this interpreter's magic number, the source's mtime
        and size or hash in its header) and holding the code its source
        compiles to.
        """
        changed = Trees.first_change(tree)
        if changed is not None:
            return changed
        for relative, digest in tree.digests.items():
            path = os.path.join(tree.folder, FILES_FOLDER, relative)
            try:
                with open(path, "rb") as handle:
                    if sha256_of(handle) != digest:
                        return path
            except OSError:
                return path
        for member in tree.compiled:
            if not _pyc_matches_source(tree.source(member), tree.pyc(member)):
                return tree.pyc(member)
        return None

    def walk(self) -> Iterator[Tuple[Path, Optional[Tree]]]:
        """Every tree folder of every interpreter: ``(folder, tree or None if unreadable or a newer version's)``."""
        for key_folder in _folders(self.bucket):
            for folder in _folders(key_folder):
                try:
                    yield folder, Tree.from_json(folder, (folder / TREE_FILE).read_text("utf-8"))
                except FutureTree:
                    continue
                except (OSError, TreeError, ValueError, TypeError, KeyError, IndexError, AttributeError):
                    yield folder, None

    def usage(self) -> TreesUsage:
        """Every interpreter's trees: their count and bytes, and what links save, in one walk of the bucket.

        Trees are the non-hidden folders in the non-hidden interpreter
        folders; links are counted on every regular file of the bucket (a tree
        being built or taken away included).  Listings and ``lstat`` alone.
        """
        bucket = os.fspath(self.bucket)
        trees = size = saved = 0
        for path, folders, names in os.walk(bucket):
            parts = [] if path == bucket else os.path.relpath(path, bucket).split(os.sep)  # interpreter, tree, ...
            in_tree = len(parts) >= 2 and not parts[0].startswith(".") and not parts[1].startswith(".")
            if len(parts) == 1 and not parts[0].startswith("."):
                trees += sum(1 for folder in folders if not folder.startswith("."))
            for name in names:
                try:
                    info = os.lstat(os.path.join(path, name))
                except OSError:
                    continue
                blocks = info.st_blocks * 512
                size += blocks if in_tree else 0
                if stat.S_ISREG(info.st_mode):
                    saved += (info.st_nlink - 1) * blocks
        return TreesUsage(trees, size, saved)

    @staticmethod
    def last_used(folder: Path) -> float:
        try:
            return (folder / TREE_FILE).stat().st_mtime
        except OSError:
            return 0.0

    def reject(self, tree: Tree, why: TreeChanged) -> None:
        """A file of ``tree`` was found changed while it was placed (and pip's own bytes went there instead)."""
        self._discard(tree.folder, f"tree {tree.folder} changed since it was built ({why.filename}: {why.strerror}); "
                      "removed, built again when next needed")

    def remove(self, folder: Path) -> None:
        """Take a tree away: renamed out of sight first, so nobody starts using half of it."""
        self._discard(folder, None)

    # -- building ----------------------------------------------------------

    def build(self, sha256: str, wheel: ZipFile, executable: Callable[[ZipInfo], bool],
              wheel_name: str = "") -> Optional[Tree]:
        """Unpack and compile the wheel with this sha256 into a new tree; the published tree, or None.

        ``executable`` says which members get the executable bits (pip's rule).
        Raises TreeError for a wheel that cannot become a tree (a member named
        outside it); OSError when the cache cannot be written.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.folder)
        building = Path(tempfile.mkdtemp(prefix=TEMPORARY_PREFIX, dir=self.folder))
        try:
            tree = _unpack_and_compile(building, sha256, wheel, executable)._replace(wheel=wheel_name)
            write_atomically(building / TREE_FILE, tree.to_json(), durable=False)
            os.chmod(building, 0o777 & ~current_umask())
            final = self.folder / sha256
            try:
                os.rename(building, final)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                shutil.rmtree(building, ignore_errors=True)  # another pip published it first
                return self.find(sha256)
            return tree._replace(folder=final)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise

    def _discard(self, folder: Path, line: Optional[str]) -> None:
        if line:
            self._report(line)
        aside = folder.with_name(f"{TEMPORARY_PREFIX}{folder.name}-{os.getpid()}-{time.monotonic_ns()}")
        try:
            os.rename(folder, aside)
        except OSError:
            return  # someone else took it away first
        shutil.rmtree(aside, ignore_errors=True)


def _unpack_and_compile(folder: Path, sha256: str, wheel: ZipFile, executable: Callable[[ZipInfo], bool]) -> Tree:
    """The wheel's regular members and their ``.pyc``, as pip leaves them after unpacking and compiling.

    Each member's bytes are checked against the wheel's RECORD while they are
    unpacked.  Stamps and digests are taken after the compile step, which may
    write a member again (a ``.pyc`` the wheel ships for one of its sources).
    """
    umask = current_umask()
    files: Dict[str, Stamp] = {}
    digests: Dict[str, str] = {}
    sources: List[str] = []
    made = set()
    recorded = _record_hashes(wheel)
    for info in wheel.infolist():
        member = info.filename
        if member.endswith("/"):
            continue  # pip creates no empty folders
        if not safe_member(member):
            raise TreeError(f"member {member!r} would land outside the tree")
        if member in files:
            raise TreeError(f"member {member!r} is in the wheel twice")  # pip writes both, the last one wins
        path = os.path.join(folder, FILES_FOLDER, member)
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        mode = member_mode(executable(info), umask)
        algorithm, expected = recorded.get(member, ("sha256", None))
        with wheel.open(info) as source, _created(path, mode) as out:
            digest, checked = _copy_hashing(source, out, algorithm)
        if expected is not None and checked != expected:
            raise TreeError(f"member {member!r} does not match the wheel's RECORD")
        os.chmod(path, mode)
        files[member] = stamp_of(os.lstat(path))
        digests[member] = digest
        if member.endswith(".py"):
            sources.append(member)
    compiled: Dict[str, Stamp] = {}
    not_compiled = set()
    # pip's compile step: compileall.compile_file(path, force=True, quiet=True), warnings off, output kept
    # from the user.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        for member in sources:
            path = os.path.join(folder, FILES_FOLDER, member)
            if compileall.compile_file(path, force=True, quiet=True):
                pyc = importlib.util.cache_from_source(path)
                compiled[member] = stamp_of(os.lstat(pyc))
                with open(pyc, "rb") as handle:
                    digests[pyc_member(member)] = sha256_of(handle)
                if pyc_member(member) in files:  # a member pip's compile step writes again: recorded as it ends
                    files[pyc_member(member)] = compiled[member]
            else:
                not_compiled.add(member)
    return Tree(folder, sha256, files, compiled, frozenset(not_compiled), digests=digests)


def _record_hashes(wheel: ZipFile) -> Dict[str, Tuple[str, str]]:
    """Each member's hash as the wheel's RECORD gives it: member -> (algorithm, urlsafe base64 digest)."""
    names = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/RECORD")]
    if len(names) != 1:
        return {}
    hashes: Dict[str, Tuple[str, str]] = {}
    text = wheel.read(names[0]).decode("utf-8", "replace")
    for row in csv.reader(text.splitlines()):
        if len(row) >= 2 and "=" in row[1]:
            algorithm, _, digest = row[1].partition("=")
            if algorithm in hashlib.algorithms_guaranteed and algorithm not in ("md5", "sha1"):
                hashes[row[0]] = (algorithm, digest.rstrip("="))
    return hashes


def _copy_hashing(source: IO[bytes], out: IO[bytes], algorithm: str) -> Tuple[str, str]:
    """Copy ``source`` to ``out``; the sha256 of the bytes (hex), and their ``algorithm`` digest as RECORD writes it."""
    sha256 = hashlib.sha256()
    other = hashlib.new(algorithm) if algorithm != "sha256" else sha256
    while True:
        chunk = source.read(_CHUNK)
        if not chunk:
            break
        sha256.update(chunk)
        if other is not sha256:
            other.update(chunk)
        out.write(chunk)
    return sha256.hexdigest(), base64.urlsafe_b64encode(other.digest()).decode("ascii").rstrip("=")


def _pyc_matches_source(source: str, pyc: str) -> bool:
    """Whether ``pyc`` is what this interpreter loads for ``source`` without compiling it, and its code the same."""
    try:
        with open(source, "rb") as handle:
            data = handle.read()
        info = os.lstat(source)
        with open(pyc, "rb") as handle:
            compiled = handle.read()
    except OSError:
        return False
    if len(compiled) < 16 or compiled[:4] != importlib.util.MAGIC_NUMBER:
        return False
    flags = int.from_bytes(compiled[4:8], "little")
    if flags & 0b1:  # hash-based
        if compiled[8:16] != importlib.util.source_hash(data):
            return False
    elif (int.from_bytes(compiled[8:12], "little") != int(info.st_mtime) & 0xFFFFFFFF
          or int.from_bytes(compiled[12:16], "little") != info.st_size & 0xFFFFFFFF):
        return False
    try:
        code = marshal.loads(compiled[16:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(code == compile(data, source, "exec", dont_inherit=True))
    except Exception:  # noqa: BLE001 - not byte code, or a source that no longer compiles
        return False


@contextlib.contextmanager
def _created(path: str, mode: int) -> Iterator[IO[bytes]]:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as out:
        yield out


def disk_use(folder: Path) -> int:
    """The bytes a tree's files take on disk (blocks, not sizes: small files take a block each)."""
    size = 0
    for path, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(path, name)).st_blocks * 512
    return size


def _stamp_or_none(path: str) -> Optional[Stamp]:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return stamp_of(info) if stat.S_ISREG(info.st_mode) else None


def _folders(folder: Path) -> List[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


# -- placing files -------------------------------------------------------------


def written_in_place(member: str) -> bool:
    """Members pip writes to again in place after unpacking them (``fix_script``; REQUESTED is opened "wb").

    A hard link would carry that write into the tree: they are always copied.
    """
    return member.split("/", 1)[0].endswith(".dist-info") or is_script(member)


def is_script(member: str) -> bool:
    """A member of ``.data/scripts/``: pip may rewrite it (``#!python``), right after placing it."""
    parts = member.split("/", 2)
    return len(parts) > 2 and parts[0].endswith(".data") and parts[1] == "scripts"


def replaced_by_rename(path: str) -> bool:
    """Whether tools replace a file of this name by a new one and never write it in place: it may be hard-linked.

    Byte code: Python's import system, ``compileall`` and pip write every
    ``.pyc`` to a temporary file and rename it over the old one.  Extension
    modules and shared libraries (``.so``, ``.so.1.2``, ``.pyd``, ``.dylib``,
    ``.dll``): a loaded one is mapped into every process using it, so writing
    it in place would crash them; installers (pip, uv) remove the old file
    before writing a new one.  Sources, stubs and data are what people edit:
    they are copied.  ``strip`` and ``patchelf`` are the known exceptions
    (they write in place): a tree file changed that way is found by its size
    and mtime and never placed again, but the other environments linked to it
    see the change, so images that strip their libraries use
    ``PIPCACHEFIRST_LINK_MODE=copy``.
    """
    name = os.path.basename(path)
    if name.endswith((".pyc", ".so", ".pyd", ".dylib", ".dll")):
        return True
    stem, dot_so, version = name.rpartition(".so.")
    return bool(stem and dot_so) and all(part.isdigit() for part in version.split("."))


class Placer:
    """Puts a tree's files where pip would write them, by the link mode, falling back as needed.

    ``auto`` (the default) clones where the file system can (a reflink
    shares the blocks until either copy is written); where it cannot, it
    hard-links the files that are only ever replaced by rename
    (``replaced_by_rename``: byte code, extension modules) and copies the
    rest, so an edit to an installed source never reaches the cache or
    another environment.  ``clone`` falls back to ``copy`` for the rest of
    the process the first time the file system refuses; ``hardlink`` links
    every file it may.  A hard link is only made for a file pip never writes
    again (``may_link``), owned by this user, with the permission bits pip
    would give, on the same file system; else the file is copied.  Every
    placed file keeps the mtime it has in the tree, which is what its
    ``.pyc`` is checked against.
    """

    def __init__(self, mode: str = AUTO) -> None:
        self.requested = mode
        self.mode = mode  # in use: CLONE, COPY, HARDLINK or LINK_COMPILED once AUTO knows what the file system gives
        self.fallback: Optional[str] = None  # why the mode in use is not the requested one
        self._euid = os.geteuid() if hasattr(os, "geteuid") else -1
        self._settling = threading.Lock()

    def links(self, source: str) -> bool:
        """Whether the file at ``source`` would be hard-linked, as far as this placer knows yet."""
        return self.mode == HARDLINK or (self.mode == LINK_COMPILED and replaced_by_rename(source))

    def place(self, source: str, target: str, mode: int, stamp: Stamp, may_link: bool = True,
              sha256: Optional[str] = None) -> None:
        """Create ``target`` (which must not exist): ``source``'s bytes, permission bits ``mode``, mtime of ``stamp``.

        Raises TreeChanged, creating nothing, when ``source`` no longer has the
        size and mtime of ``stamp`` (or, given ``sha256``, those bytes): the
        size copied is the file's as read, never one recorded earlier.
        """
        fd_in = os.open(source, os.O_RDONLY)
        try:
            info = os.fstat(fd_in)
            if not stat.S_ISREG(info.st_mode) or stamp_of(info) != stamp:
                raise TreeChanged(errno.ESTALE, "changed since the tree was built", source)
            if sha256 is not None and _sha256_fd(fd_in) != sha256:
                raise TreeChanged(errno.ESTALE, "its sha256 changed since the tree was built", source)
            if self.mode == AUTO:
                self._settle(fd_in, target)
            if may_link and self.links(source) and self._link(source, target, mode, info):
                return
            fd_out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                if self.mode in (CLONE, AUTO) and self._clone(fd_in, fd_out):
                    copied = os.fstat(fd_out).st_size
                else:
                    copied = _copy(fd_in, fd_out, info.st_size)
                if copied != stamp[0]:
                    raise TreeChanged(errno.ESTALE, "changed while it was copied", source)
                os.fchmod(fd_out, mode)
                os.utime(fd_out, ns=(stamp[1], stamp[1]))
            except BaseException:
                os.close(fd_out)
                fd_out = -1
                with contextlib.suppress(OSError):
                    os.unlink(target)
                raise
            finally:
                if fd_out != -1:
                    os.close(fd_out)
        finally:
            os.close(fd_in)

    def _settle(self, fd_in: int, target: str) -> None:
        """``auto``: whether this file system clones, tried once beside the first target, before any file is placed.

        Threads placing at the same time wait for the answer, so every file of
        an install is placed by the same rule.
        """
        with self._settling:
            if self.mode != AUTO:
                return
            scratch = os.path.join(os.path.dirname(target), f"{TEMPORARY_PREFIX}clone-{os.getpid()}-{id(self)}")
            fd_out = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                self._clone(fd_in, fd_out)
            finally:
                os.close(fd_out)
                os.unlink(scratch)

    def _clone(self, fd_in: int, fd_out: int) -> bool:
        import fcntl  # noqa: PLC0415 -- standard library, and only where a tree is placed

        try:
            fcntl.ioctl(fd_out, getattr(fcntl, "FICLONE", _FICLONE), fd_in)
        except OSError as exc:
            if exc.errno not in _CANNOT_CLONE:
                raise
            if self.mode == AUTO:
                self.mode = LINK_COMPILED
            elif self.mode == CLONE:
                self.mode = COPY
            self.fallback = f"this file system cannot clone ({os.strerror(exc.errno)})"
            return False
        if self.mode == AUTO:
            self.mode = CLONE
        return True

    def _link(self, source: str, target: str, mode: int, info: os.stat_result) -> bool:
        try:
            if info.st_uid != self._euid or stat.S_IMODE(info.st_mode) != mode:
                return False  # a link shares owner and permission bits: pip would have written others
            os.link(source, target)
        except OSError as exc:
            if exc.errno not in _CANNOT_LINK:
                raise
            if exc.errno == errno.EXDEV:
                self.mode, self.fallback = COPY, "the cache is on another file system"
            return False
        return True


def _copy(fd_in: int, fd_out: int, size: int) -> int:
    """Copy from offset 0 of ``fd_in`` until its end (``size`` is what fstat said); the bytes copied."""
    offset = 0
    try:
        while True:
            sent = os.sendfile(fd_out, fd_in, offset, max(size - offset, _CHUNK))
            if sent == 0:
                return offset
            offset += sent
    except (OSError, AttributeError):
        if offset:
            raise
    os.lseek(fd_in, 0, os.SEEK_SET)
    while True:
        chunk = os.read(fd_in, _CHUNK)
        if not chunk:
            return offset
        offset += len(chunk)
        while chunk:
            chunk = chunk[os.write(fd_out, chunk):]


def _sha256_fd(fd: int) -> str:
    """The sha256 of the file open at ``fd``, read with ``pread`` (the file offset stays where it is)."""
    digest = hashlib.sha256()
    offset = 0
    while True:
        chunk = os.pread(fd, _CHUNK, offset)
        if not chunk:
            return digest.hexdigest()
        digest.update(chunk)
        offset += len(chunk)


def link_mode_here(folder: Union[str, "os.PathLike[str]"], requested: str,
                   target: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """The link mode ``requested`` becomes for trees in ``folder`` placed into ``target``, and why, if not itself.

    Cloning is tried with two scratch files in ``folder``; neither a clone nor
    a hard link reaches a ``target`` folder on another file system.
    """
    placer = Placer(requested)
    if requested in (AUTO, CLONE):
        try:
            with tempfile.TemporaryDirectory(prefix=TEMPORARY_PREFIX, dir=folder) as scratch:
                source = os.path.join(scratch, "a")
                with open(source, "wb") as out:
                    out.write(b"probe")
                placer.place(source, os.path.join(scratch, "b"), 0o600, stamp_of(os.lstat(source)), may_link=False)
        except OSError as exc:
            return COPY, f"cannot try here: {exc.strerror or exc}"
    if requested != COPY and target is not None:
        try:
            other_file_system = os.stat(folder).st_dev != os.stat(target).st_dev
        except OSError:
            other_file_system = False
        if other_file_system:
            return COPY, f"the cache is on another file system than {target}"
    return placer.mode, placer.fallback


def member_mode(executable: bool, umask: int) -> int:
    """The permission bits pip gives an installed member: executable ones (by pip's rule) get ``x`` for all."""
    return (0o777 & ~umask | 0o111) if executable else 0o666 & ~umask


def pyc_mode(source_mode: int, umask: int) -> int:
    """The permission bits ``py_compile`` gives a ``.pyc`` of a source with ``source_mode``."""
    return (stat.S_IMODE(source_mode) | 0o200) & 0o666 & ~umask
