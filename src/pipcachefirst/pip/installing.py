"""pip's install step, fed from installed trees (see ``trees``).

pip's ``_install_wheel`` stays in charge: it still maps every member to its
scheme folder, checks paths, writes console scripts with this environment's
shebang, fixes ``#!python`` scripts, and writes INSTALLER, REQUESTED,
direct_url.json and RECORD, in whatever way the running pip version does.
For the length of one call two of the names it looks up in its module are
swapped: the class that unzips a member places the tree's file instead, and
the ``compileall`` its compile step calls places the tree's ``.pyc`` for a
source placed unchanged.  Anything the tree lacks, or a source pip changed
after placing it (a fixed script), goes to pip's own code.  (Three more names
are swapped for that call: ``warnings``, see below, the function that gives
each RECORD row's path, ``compat.quick_record_path``, and ``ensure_dir``,
which has nothing to make inside a folder moved whole: ``_MovedFolders``.)

The first install of a wheel builds its tree (unpack and compile, as pip
would), then places it: the one extra cost is that copy.

Placing is mostly the kernel creating files, so a tree's files (and the
``.pyc`` of each source) are placed by a few threads while pip goes on with
the next member; pip's compile step starts with ``warnings.catch_warnings()``
(every pip 22.3 to 26.3), and that is where the install waits for them all,
before pip looks for the sources to compile.  A thread takes the files of one
folder at a time: the kernel creates files in one folder one after another
(it locks the folder), so threads given neighbouring files only queue there.

Better still, a tree may already be copied when pip gets there: wheels
served from the cache are copied ahead by a helper process while pip
resolves (``staging``, started by ``stage_ahead``), laid out as pip installs
them.  The first member of a top-level folder the helper staged whole moves
that folder into place (``_Placements._moved_with_folder``); other files are
renamed into place one by one.

Placing never fails pip.  A file the tree cannot give (gone, or changed
since it was built: an ``OSError``) is unzipped by pip, as it would have
been.  Anything else that goes wrong while placing is a bug of ours: it is
one warning line, and pip's own unzip (and compile) take the rest of that
wheel, the file that failed first removed so that pip writes it anew.
pip's own errors, from its own unzip, go on as they are.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import stat
import sys
import sysconfig
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

from pipcachefirst.base import settings
from pipcachefirst.base.atomic import current_umask, sha256_of
from pipcachefirst.base.free_space import tree_size
from pipcachefirst.base.settings import HARDLINK
from pipcachefirst.base.workers import Job, Workers
from pipcachefirst.cache.store import TREES
from pipcachefirst.pip import compat, early_staging
from pipcachefirst.pip.compat import INSTALL_WHEEL, VERBOSE, InstallStep
from pipcachefirst.pip.session import CURRENT as SESSION
from pipcachefirst.trees import later, staging
from pipcachefirst.trees.tree import (
    TREE_FILE,
    Placer,
    Stamp,
    Tree,
    TreeChanged,
    TreeError,
    Trees,
    interpreter_key,
    is_script,
    member_mode,
    pyc_mode,
    stamp_of,
    written_in_place,
)

logger = logging.getLogger("pipcachefirst")


# Threads placing a tree's files. The work is the kernel's (creating files, copying blocks), mostly waiting
# on the file system while other work writes; measured on 2 cores: 4 a little ahead of 2, 8 and 16 slower.
PLACING_THREADS = 4


def install_wheel(pip: Callable[[], Any], args: Any, kwargs: Any) -> Any:
    """Our part of pip's ``_install_wheel``: ``pip()`` runs it, placing from a tree when one can be used.

    Guarded by the wrapper's ``patching.instead``: should this raise before
    ``pip()``, pip installs the wheel itself, with its own names put back.
    """
    plan = _plan(args, kwargs)
    if plan is None:
        return pip()
    step, tree, name, staged = plan
    background = step.warnings is warnings  # where pip's compile step starts: see _Barrier
    placements = _Placements(step, tree, _the_placer(), _the_workers() if background else None, staged)
    try:
        compat.replace_install_names(step, _tree_backed_file(step, tree, placements),
                                     _CompileFromTree(step.compileall, tree, placements),
                                     _Barrier(placements) if background else None,
                                     compat.quick_record_path(step.record_path) if step.record_path else None,
                                     _MovedFolders(step.ensure_dir, placements) if step.ensure_dir else None)
        result = pip()
        placements.wait()
        placements.remove_unclaimed()
    finally:
        compat.replace_install_names(step, warnings_module=warnings if background else None)
        placements.close()
    if placements.changed is not None:
        shelf = _shelf()
        if shelf is not None:
            shelf.reject(tree, placements.changed)
    if placements.gave_up:
        return result  # said in one line; pip unzipped the rest
    if not placements.placed:
        logger.log(VERBOSE, "pipcachefirst: %s unzipped by pip: its installed tree could not give its files "
                   "(gone or changed meanwhile)", name)
        return result
    logger.log(VERBOSE, "pipcachefirst: %s placed from its installed tree (%s%s%s)", name, _placer_mode(),
               f"; {placements.renamed} files copied ahead{placements.moved_whole()}" if placements.renamed else "",
               f"; {placements.unzipped} files unzipped by pip, which the tree could not give (gone or changed "
               "meanwhile)" if placements.unzipped else "")
    SESSION.trees_placed += 1
    return result


def _plan(args: Any, kwargs: Any) -> Optional[Tuple[InstallStep, Tree, str, Optional[staging.Staged]]]:
    """The install step, the tree to place and its copy ahead if any, or None to leave this wheel to pip alone.

    A tree the helper copied ahead whole is not looked at file by file here
    (``Staged.covers``): the helper did, as it copied each file.
    """
    shelf = _shelf()
    if shelf is None:
        return None
    name = INSTALL_WHEEL.argument("name", args, kwargs)
    if not INSTALL_WHEEL.argument("pycompile", args, kwargs, True):
        return None  # --no-compile (and pip 26.2's build environments): nothing to save
    wheel_path = INSTALL_WHEEL.argument("wheel_path", args, kwargs)
    if compat.built_anew(INSTALL_WHEEL.argument("direct_url", args, kwargs, None), wheel_path):
        return None
    step = compat.install_step(sys.modules[INSTALL_WHEEL.module])
    sha256 = _served_sha256(str(wheel_path))
    if sha256 is None:
        with open(wheel_path, "rb") as handle:
            sha256 = sha256_of(handle)
    staged: Optional[staging.Staged] = None

    def copied_ahead_whole(found: Tree) -> bool:
        nonlocal staged
        staged = _staged(found)
        return staged is not None and staged.covers(found)

    tree = shelf.find(sha256, copied_ahead_whole)
    if tree is None:
        staged = None  # a copy of a tree found changed: not used for the one built now
    if tree is None and SESSION.storing and _build_later(sha256, wheel_path, args, kwargs, step):
        return None  # pip installs it alone now, as plain pip would; its tree is built when pip is done
    if tree is None and SESSION.storing and SESSION.store is not None:
        wheel_zip = INSTALL_WHEEL.argument("wheel_zip", args, kwargs)
        try:
            SESSION.store.free_space.claim(tree_size(wheel_zip), f"the installed tree of {name}")
            tree = shelf.build(sha256, wheel_zip, step.is_executable, os.path.basename(wheel_path))
        except TreeError as exc:
            logger.log(VERBOSE, "pipcachefirst: no installed tree for %s: %s", name, exc)
            return None
        except OSError as exc:
            SESSION.stop_storing(exc)
            return None
        if tree is not None:
            logger.log(VERBOSE, "pipcachefirst: built the installed tree of %s", name)
    if tree is None:
        return None
    return step, tree, str(name), staged


def _served_sha256(wheel_path: str) -> Optional[str]:
    """The sha256 of a wheel this cache served, from its record, while the file is the one the record describes.

    Reading a served wheel again only to hash it cost a tenth of a second and
    more on pip's thread for a large lock (``data-science.txt``: 144 MB of
    wheels).  The store's own check is enough here, as it was for serving the
    file: its size, mtime, ctime and inode as when it was last hashed (an edit
    in place changes the ctime), else it is hashed again.  In pip's
    hash-checking mode every byte is read, as every placed byte is checked.
    """
    entry = SESSION.served_files.get(wheel_path)
    store = SESSION.store
    if entry is None or store is None or SESSION.hash_checking:
        return None
    return entry.record.sha256 if store.is_intact(entry) else None


def _build_later(sha256: str, wheel_path: str, args: Any, kwargs: Any, step: InstallStep) -> bool:
    """Whether this wheel's tree is left to ``later`` (its bytes are in the files bucket); then it is noted there."""
    if settings.build_trees_now() or _helpers_cut_short():
        return False
    path = _cached_wheel(sha256, wheel_path)
    if path is None:
        return False  # a wheel only pip's folders or the user's hold: built now, or never again
    wheel = INSTALL_WHEEL.argument("wheel_zip", args, kwargs)
    name = INSTALL_WHEEL.argument("name", args, kwargs)
    if SESSION.store is not None:
        try:  # the room the helper will take is counted now, as for a tree built at once
            SESSION.store.free_space.claim(tree_size(wheel), f"the installed tree of {name}")
        except OSError as exc:
            SESSION.stop_storing(exc)
            return True  # no tree: pip installs it alone
    SESSION.trees_to_build.setdefault(sha256, later.Job(
        sha256, path, os.path.basename(wheel_path),
        [info.filename for info in wheel.infolist() if step.is_executable(info)],
    ))
    logger.log(VERBOSE, "pipcachefirst: the installed tree of %s is built when pip is done", name)
    return True


def _helpers_cut_short() -> bool:
    if SESSION.cut_short is None:
        shelf = _shelf()
        SESSION.cut_short = shelf is not None and later.cut_short(shelf.folder)
    return SESSION.cut_short


def _cached_wheel(sha256: str, wheel_path: str) -> Optional[str]:
    """The wheel with this sha256 in the files bucket: the file pip installs, or the copy this command stored."""
    SESSION.wait_for_storing()
    for entry in SESSION.stored:
        if entry.record.sha256 == sha256:
            return str(entry.path)
    store = SESSION.store
    if store is not None and os.path.realpath(wheel_path).startswith(os.path.realpath(store.files) + os.sep):
        return wheel_path
    return None


def build_later() -> None:
    """At the end of the command, after pip's last line: the trees noted by ``_build_later`` (see ``later``)."""
    jobs = list(SESSION.trees_to_build.values())
    SESSION.trees_to_build.clear()
    if not jobs:
        return
    try:
        later.start(_shelf(), jobs)
    except Exception as exc:  # noqa: BLE001 -- the next install builds them: nothing is lost but time
        logger.log(VERBOSE, "pipcachefirst: not building installed trees: %s", exc)


def _shelf() -> Optional[Trees]:
    """This interpreter's trees in the cache, or None when trees cannot be used in this command."""
    store = SESSION.store
    if store is None or not SESSION.trees or SESSION.off_reason is not None or os.name != "posix":
        return None
    key = interpreter_key()
    return None if key is None else Trees(store.root / TREES.name, key, report=SESSION.problem)


def _staged(tree: Tree) -> Optional[staging.Staged]:
    """The tree as the helper copied it ahead, or None: pip places it itself."""
    try:
        stager = _the_stager(tree.folder.parent, start=False) if SESSION.stage_ahead else None
        return stager.take(tree.sha256) if stager is not None else None
    except Exception as exc:  # noqa: BLE001 -- a head start lost, nothing more
        logger.log(VERBOSE, "pipcachefirst: not using trees copied ahead: %s", exc)
        return None


def stage_ahead(sha256: str) -> None:
    """pip was served this wheel: copy its tree ahead, if it has one (see ``staging``).  Never fails."""
    try:
        _stage_ahead(sha256)
    except Exception as exc:  # noqa: BLE001 -- staging is a head start, never a reason to serve pip less
        logger.log(VERBOSE, "pipcachefirst: not copying trees ahead: %s", exc)
        SESSION.staging_off = True
        finish_staging()


def _stage_ahead(sha256: str) -> None:
    shelf = _shelf() if SESSION.stage_ahead and not SESSION.staging_off else None
    if shelf is None:
        return
    if not (shelf.folder / sha256 / TREE_FILE).is_file():
        return  # no tree yet: this install builds it
    with contextlib.suppress(OSError):
        os.utime(shelf.folder / sha256 / TREE_FILE)  # in use from now on: the size limit's helper spares it
    stager = _the_stager(shelf.folder, start=True)
    if stager is not None:
        stager.ask(shelf.folder / sha256, sha256)


def _the_stager(folder: Path, start: bool) -> Optional[staging.Stager]:
    """This command's helper: the one started with pip (``early_staging``), else a new one if ``start``."""
    if SESSION.stager is None and not SESSION.staging_off:
        placer = _the_placer()
        if placer.requested == HARDLINK or not _renamed_files_land_as_new_ones(folder):
            SESSION.staging_off = True  # links are made in place anyway; see _renamed_files_land_as_new_ones
            early_staging.discard()
            return None
        SESSION.stager = early_staging.take(folder, placer.requested)
        if SESSION.stager is None and start:
            SESSION.stager = staging.Stager(folder, placer.mode)
    return SESSION.stager


def finish_staging() -> None:
    """At the end of the command: the helper ends, and what it copied that pip did not take goes."""
    stager, SESSION.stager = SESSION.stager, None
    if stager is not None:
        stager.close()
    early_staging.discard()


def _renamed_files_land_as_new_ones(folder: Path) -> bool:
    """Whether a file renamed from ``folder`` into this environment is what pip creating it there would make.

    It must be the same file system (else a rename is a copy), and nothing
    the folder gives its new files may differ: no setgid group, no default
    ACL, one SELinux label.
    """
    purelib = sysconfig.get_paths()["purelib"]
    here, there = os.stat(folder), os.stat(purelib)
    if here.st_dev != there.st_dev or (here.st_mode | there.st_mode) & stat.S_ISGID:
        return False
    return _xattr(purelib, "system.posix_acl_default") is None and (
        _xattr(folder, "security.selinux") == _xattr(purelib, "security.selinux"))


def _xattr(path: Union[str, Path], name: str) -> Optional[bytes]:
    try:
        return os.getxattr(path, name)  # type: ignore[attr-defined, unused-ignore]  # Linux only
    except (OSError, AttributeError):
        return None


def _the_placer() -> Placer:
    if SESSION.placer is None:
        mode, problem = settings.link_mode()
        if problem:
            SESSION.problem(problem.replace("pipcachefirst: ", "", 1))
        SESSION.placer = Placer(mode)
    return SESSION.placer


def _the_workers() -> Workers:
    if SESSION.workers is None:
        SESSION.workers = Workers(PLACING_THREADS)
    return SESSION.workers


def _placer_mode() -> str:
    placer = _the_placer()
    if placer.fallback is None:
        return placer.mode
    return f"{placer.mode}: {placer.fallback}"


def _may_link(member: str) -> bool:
    return not written_in_place(member)


class _Placements:
    """The tree's files being placed for one ``_install_wheel`` call, in the background when it has threads.

    ``placed`` maps each placed file (normalised absolute path) to its member;
    ``compiled`` holds the placed sources whose ``.pyc`` was placed with them.
    """

    def __init__(self, step: InstallStep, tree: Tree, placer: Placer,
                 workers: Optional[Workers], staged: Optional[staging.Staged] = None) -> None:
        self.step = step
        self.staged = staged
        self.renamed = 0
        self.tree = tree
        self.placer = placer
        self.umask = current_umask()
        self.placed: Dict[str, str] = {}
        self.compiled: Set[str] = set()
        self.folders: Set[str] = set()
        self._pool = workers
        self._batch: List[_Placing] = []  # files of one folder, in pip's order, not handed out yet
        self._batch_folder = ""
        self._pending: List[Tuple[Job, List[_Placing]]] = []
        self._targets: Set[str] = set()  # every file a pending or done placement creates
        self.check_hashes = SESSION.hash_checking  # pip checks the wheel's hash: every placed byte is checked too
        self.changed: Optional[TreeChanged] = None  # a tree file found not as recorded: pip's own bytes went there
        self.gave_up = False  # placing failed (a bug of ours): pip unzips and compiles the rest of this wheel
        self.unzipped = 0  # members pip unzipped itself: the tree lacked them, or they were gone or changed
        # Files moved into place with their folder (staged.move) that pip has not come to yet: member -> their
        # bits and their .pyc's, and where each folder went.
        self._moved: Dict[str, Tuple[int, Optional[int]]] = {}
        self._moved_into: Dict[str, str] = {}
        self._moves = staged is not None and bool(staged.folders) and not self.check_hashes

    def folder(self, path: str) -> None:
        _folder(self.folders, path)

    def give_up(self, exc: Exception) -> None:
        """Placing failed other than for a file the tree lacks: one warning, and pip's own unzip from now on."""
        if not self.gave_up:
            self.gave_up = True
            SESSION.warn(f"could not place the installed tree of {self.tree.wheel}", exc)

    def save(self, file: Any, member: str, stamp: Stamp) -> None:
        """Place ``member`` where pip would unzip ``file``; pip's own ``save()`` if the tree cannot."""
        if self.gave_up:
            self._unzip(file)
            return
        try:
            placed = self._save(file, member, stamp)
        except Exception as exc:  # noqa: BLE001 - ours, never pip's: pip's own save() is called below
            self.give_up(exc)
            placed = False
        if not placed:
            self._unzip(file)

    def _save(self, file: Any, member: str, stamp: Stamp) -> bool:
        """Place ``member`` (or hand it to a thread); False when pip must unzip it (the tree lacks it)."""
        dest = compat.member_destination(file)
        key = _key(dest)
        executable = self.step.is_executable(compat.member_zipinfo(file))
        mode = member_mode(executable, self.umask)
        if self._moves and self._moved_with_folder(member, key, mode):
            compat.mark_written(file)
            return True
        background = self._pool is not None and not is_script(member)  # pip reads a script right after save()
        if key in self._targets:
            self.wait()  # two members landing on one file (a.py and a.data/purelib/a.py): in pip's order
            self._forget_pyc(key, dest)  # the earlier member's: plain pip compiles only the last one
            background = False
        # A thread places a source's .pyc with it; on pip's thread compile_file places it, once pip is done with it.
        pyc: Optional[_PycJob] = None
        stamp_pyc = self.tree.compiled.get(member) if background else None
        if stamp_pyc is not None:
            pyc = (self.tree.pyc(member), importlib.util.cache_from_source(dest), pyc_mode(mode, self.umask),
                   stamp_pyc, True, self.tree.pyc_digest(member) if self.check_hashes else None)
        self._targets.add(key)
        compat.mark_written(file)
        staged = self._staged_copy(member, stamp, mode, stamp_pyc)
        job = (self.tree.source(member), dest, mode, stamp, _may_link(member), pyc,
               self.digest(self.tree.source_digest(member)), staged)
        if background:
            folder = os.path.dirname(key)
            if folder != self._batch_folder:
                self._hand_out()
                self._batch_folder = folder
            self._batch.append((job, file, key, member))
            return True
        try:
            outcome = _place(self.placer, self.folders, *job)
        except OSError as exc:  # the tree went away or changed meanwhile: unzip, as pip would
            self.not_placed(exc)
            return False
        self._done(key, member, outcome)
        return True

    def _moved_with_folder(self, member: str, key: str, mode: int) -> bool:
        """Whether ``member`` is in place already, its top-level folder moved there whole from the helper's copy.

        The first member pip installs from a folder the helper staged whole
        moves that folder (``staged.move``): every file in it, each checked
        against the tree pip checked, and each ``.pyc``.  A file with other
        permission bits than pip gives it here is taken out again and placed
        as any other.
        """
        moved = self._moved.pop(member, None)
        if moved is None:
            top, sep, _ = member.partition("/")
            staged = self.staged
            if not sep or staged is None or top not in staged.folders or not key.endswith(f"{os.sep}{member}"):
                return False
            into = key[:len(key) - len(member)]
            moved_now = staged.move(top, into + top, self.tree.files, self.tree.compiled, os.path.dirname(key))
            if moved_now:
                self._moved.update(moved_now)
                self._moved_into[top] = into
            moved = self._moved.pop(member, None)
            if moved is None:
                return False
        bits, pyc_bits = moved
        if bits != mode:
            _take_back(key, pyc_bits)
            return False
        self._targets.add(key)
        self.placed[key] = member
        self.renamed += 1
        if pyc_bits is None:
            return True
        if pyc_bits == pyc_mode(mode, self.umask):
            self.compiled.add(key)
        else:
            _take_back(key, pyc_bits, source_too=False)
        return True

    def moved_there(self, folder: str) -> bool:
        """Whether ``folder`` is in one of the folders moved whole (it is there, and stays)."""
        for top, into in self._moved_into.items():
            if folder.startswith(into) and folder[len(into):].split(os.sep, 1)[0] == top:
                return True
        return False

    def moved_whole(self) -> str:
        """For pip's ``-v`` line: the folders that went into place in one rename each."""
        count = len(self._moved_into)
        return f", {count} folder{'s' if count > 1 else ''} moved whole" if count else ""

    def remove_unclaimed(self) -> None:
        """Files moved with their folder that pip did not install: gone, as plain pip would not have made them."""
        moved, self._moved = self._moved, {}
        try:
            for member, (_, pyc_bits) in moved.items():
                _take_back(self._moved_into[member.partition("/")[0]] + member, pyc_bits)
        except Exception as exc:  # noqa: BLE001 - ours, after pip's own work: one line, and pip's result stands
            self.give_up(exc)

    def digest(self, sha256: Optional[str]) -> Optional[str]:
        """The sha256 a placed file is checked against: in pip's hash-checking mode only (it reads every byte)."""
        return sha256 if self.check_hashes else None

    def _staged_copy(self, member: str, stamp: Stamp, mode: int,
                     pyc_stamp: Optional[Stamp]) -> Optional[Tuple[str, Optional[str]]]:
        """The helper's copies of ``member`` and, given its stamp, of its ``.pyc``: renamed into place by ``_place``."""
        staged = self.staged
        path = staged.file(member, stamp, mode) if staged is not None else None
        if staged is None or path is None:
            return None
        return path, staged.pyc(member, pyc_stamp, pyc_mode(mode, self.umask)) if pyc_stamp is not None else None

    def _hand_out(self) -> None:
        """The files gathered for one folder, to a thread: threads creating files in one folder take turns."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        try:
            assert self._pool is not None
            job = self._pool.submit(_place_all, self.placer, self.folders, batch)
        except Exception as exc:  # noqa: BLE001 - ours: the batch is pip's to unzip
            self.give_up(exc)
            for _, file, _, _ in batch:
                self._unzip(file)
            return
        self._pending.append((job, batch))

    def wait(self) -> None:
        """Until every file handed out is placed; the ones the tree could not give, pip unzips."""
        self._hand_out()
        pending, self._pending = self._pending, []
        for job, batch in pending:
            try:
                outcomes: List[Union[_Placed, Exception]] = list(job.result())
            except Exception as exc:  # noqa: BLE001 - ours (the thread itself failed): pip unzips the batch
                self.give_up(exc)
                outcomes = [exc] * len(batch)
            for (_, file, key, member), outcome in zip(batch, outcomes):
                if isinstance(outcome, Exception):
                    self.not_placed(outcome)
                    self._unzip(file)
                else:
                    self._done(key, member, outcome)

    def close(self) -> None:
        """Until no placement runs any more (pip failed: what was placed stays, as pip's own files would)."""
        self._hand_out()
        for job, _ in self._pending:
            job.wait()

    def _done(self, key: str, member: str, outcome: "_Placed") -> None:
        placed_pyc, renamed, pyc_problem = outcome
        if pyc_problem is not None:
            self.not_placed(pyc_problem)  # a changed .pyc: pip compiles the source, the tree is rejected
        self.renamed += renamed
        self.placed[key] = member
        if placed_pyc:
            self.compiled.add(key)
        else:
            self.compiled.discard(key)

    def not_placed(self, why: Exception) -> None:
        """Why a file was not placed: a tree file gone or changed (pip unzips it), or a bug of ours (give up)."""
        if isinstance(why, TreeChanged):
            self.changed = why
        elif not isinstance(why, OSError):
            self.give_up(why)

    def _forget_pyc(self, key: str, dest: str) -> None:
        """The ``.pyc`` placed for a file pip now writes anew goes: pip compiles that file itself, or not at all."""
        if key in self.compiled:
            self.compiled.discard(key)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(importlib.util.cache_from_source(dest))

    def unzip(self, file: Any) -> None:
        """pip's own ``save()`` for a member the tree lacks, or all of them once placing gave up."""
        self._unzip(file)

    def _unzip(self, file: Any) -> None:
        """pip's own ``save()`` for ``file``, where nothing of ours is left: no file, no ``.pyc`` said placed."""
        try:
            dest = compat.member_destination(file)
            key = _key(dest)
            if key in self._targets and (self._pending or self._batch):
                self.wait()  # a thread may still be placing an earlier member onto this file: it goes first
            self._targets.discard(key)
            self.placed.pop(key, None)
            self._forget_pyc(key, dest)
            moved = self._moved.pop(compat.member_record_path(file), None) if self._moved else None
            if moved is not None:
                _take_back(dest, moved[1], source_too=False)  # pip compiles it anew, or not at all
            if os.path.lexists(dest):
                os.unlink(dest)  # ours, placed from the tree: pip writes its own file, never through ours
        except Exception as exc:  # noqa: BLE001 - ours: pip's own save() below all the same
            self.give_up(exc)
        self.unzipped += 1
        self.step.file_class.save(file)  # type: ignore[attr-defined]


_Placing = Tuple[Tuple[Any, ...], Any, str, str]  # (arguments of _place but the first two, pip's file, key, member)
_PycJob = Tuple[str, str, int, Stamp, bool, Optional[str]]  # the arguments of _place_one but the placer
# Whether the .pyc was placed too (else pip compiles it); whether the copy ahead was used; why the .pyc was not.
_Placed = Tuple[bool, bool, Optional[OSError]]


def _key(path: str) -> str:
    """One spelling of an installed file's path, however pip's ``save()`` and its compile step name it."""
    return os.path.abspath(path)  # absolute and normalized


def _take_back(source: str, pyc_bits: Optional[int], source_too: bool = True) -> None:
    """Remove a file moved with its folder, and its ``.pyc`` if one was moved with it: placed anew, or not at all."""
    if source_too:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(source)
    if pyc_bits is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(importlib.util.cache_from_source(source))


def _has_digest(path: str, sha256: Optional[str]) -> bool:
    """Whether the file at ``path`` has this sha256 (None: nothing to check)."""
    if sha256 is None:
        return True
    with open(path, "rb") as handle:
        return sha256_of(handle) == sha256


def _place_all(placer: Placer, folders: Set[str], batch: List[_Placing]) -> List[Union[_Placed, Exception]]:
    """``_place`` for each file of ``batch``: what was placed, or why the file was not."""
    outcomes: List[Union[_Placed, Exception]] = []
    for job, _, _, _ in batch:
        try:
            outcomes.append(_place(placer, folders, *job))
        except Exception as exc:  # noqa: BLE001 - told to pip's thread, which has pip unzip the file
            outcomes.append(exc)
    return outcomes


def _place(placer: Placer, folders: Set[str], source: str, dest: str, mode: int, stamp: Stamp,
           may_link: bool, pyc: Optional[_PycJob], sha256: Optional[str],
           staged: Optional[Tuple[str, Optional[str]]] = None) -> _Placed:
    """Place one file, and its ``.pyc`` if given: the helper's copies renamed into place, else from the tree."""
    _folder(folders, dest)  # pip up to 24.1 made the folder in save()
    staged_file, staged_pyc = staged if staged is not None else (None, None)
    renamed = staged_file is not None and _rename_staged(staged_file, dest, sha256)
    if not renamed:
        _place_one(placer, source, dest, mode, stamp, may_link, sha256)
    if pyc is None:
        return False, renamed, None
    try:
        _folder(folders, pyc[1])
        if staged_pyc is None or not _rename_staged(staged_pyc, pyc[1], pyc[5]):
            _place_one(placer, *pyc)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(pyc[1])  # no half-placed .pyc beside a source pip may unzip anew
        if isinstance(exc, OSError):
            return False, renamed, exc  # pip compiles it
        raise
    return True, renamed, None


def _rename_staged(staged: str, dest: str, sha256: Optional[str]) -> bool:
    """Move the helper's copy (it has pip's permission bits) to ``dest``; False: placed from the tree instead.

    The copy may be gone, on another file system after all, or (checked in
    pip's hash-checking mode) not the bytes the tree holds: the tree's own
    file is then checked and placed.
    """
    try:
        if not _has_digest(staged, sha256):
            return False
        os.replace(staged, dest)
    except OSError:
        return False
    return True


def _folder(made: Set[str], path: str) -> None:
    """Make the folder of ``path`` unless ``made`` says it was (by any thread: two may both make one)."""
    folder = os.path.dirname(path)
    if folder not in made:
        os.makedirs(folder, exist_ok=True)
        made.add(folder)


def _place_one(placer: Placer, source: str, dest: str, mode: int, stamp: Stamp,
               may_link: bool = True, sha256: Optional[str] = None) -> None:
    try:
        placer.place(source, dest, mode, stamp, may_link, sha256)
    except FileExistsError:
        os.unlink(dest)  # as pip does: never write through an existing file
        placer.place(source, dest, mode, stamp, may_link, sha256)


class _MovedFolders:
    """Stands in for pip's ``ensure_dir`` in its wheel module: a folder inside one moved whole is there already.

    pip 24.1 and later make each installed file's folder before ``save()``:
    for a folder moved whole that is an ``mkdir`` that fails (it exists) for
    each of its subfolders, thousands for a large wheel.
    """

    def __init__(self, ensure_dir: Callable[[str], None], placements: _Placements) -> None:
        self._ensure_dir = ensure_dir
        self._placements = placements

    def __call__(self, path: str) -> None:
        if not self._placements.moved_there(path):
            self._ensure_dir(path)


class _Barrier:
    """Stands in for ``warnings`` in pip's wheel module: its compile step waits for the files placed meanwhile."""

    def __init__(self, placements: _Placements) -> None:
        self._placements = placements

    def __getattr__(self, name: str) -> Any:
        return getattr(warnings, name)

    def catch_warnings(self, *args: Any, **kwargs: Any) -> Any:
        self._placements.wait()
        return warnings.catch_warnings(*args, **kwargs)


def _tree_backed_file(step: InstallStep, tree: Tree, placements: _Placements) -> type:
    """A ``ZipBackedFile`` whose ``save()`` places the tree's file where pip would unzip the member."""

    class TreeBackedFile(step.file_class):  # type: ignore[misc, name-defined]
        def save(self) -> None:
            try:
                member = compat.member_record_path(self)
                stamp = None if placements.gave_up else tree.files.get(member)
            except Exception as exc:  # noqa: BLE001 - pip's own save() below
                placements.give_up(exc)
                stamp = None
            if stamp is None:
                placements.unzip(self)
                return
            placements.save(self, member, stamp)

    return TreeBackedFile


class _CompileFromTree:
    """Stands in for ``compileall`` in pip's wheel module while a tree is placed."""

    def __init__(self, compileall: ModuleType, tree: Tree, placements: _Placements) -> None:
        self._compileall = compileall
        self._tree = tree
        self._placements = placements

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compileall, name)

    def compile_file(self, fullname: Any, *args: Any, **kwargs: Any) -> Any:
        placements = self._placements
        placements.wait()  # pip's own unzip of what the tree could not give: pip's errors go on as they are
        answer = None
        if not placements.gave_up and not args and kwargs == {"force": True, "quiet": True}:
            try:
                answer = self._from_tree(fullname)
            except Exception as exc:  # noqa: BLE001 - pip compiles it, below
                placements.give_up(exc)
        if answer is None:
            return self._compileall.compile_file(fullname, *args, **kwargs)
        return answer

    def _from_tree(self, fullname: Any) -> Optional[bool]:
        """What ``compile_file`` says for a source placed from the tree, its ``.pyc`` placed; None: pip compiles it."""
        placements, tree = self._placements, self._tree
        key = _key(fullname)
        member = placements.placed.get(key)
        if member is None:
            return None
        try:
            info = os.lstat(fullname)
        except OSError:
            return None
        if stamp_of(info) != tree.files.get(member):  # changed since it was placed (a fixed script)
            return None
        if member in tree.not_compiled:
            return False
        if key in placements.compiled:
            return True  # placed with its source
        stamp = tree.compiled.get(member)
        if stamp is None:
            return None
        target = importlib.util.cache_from_source(fullname)
        try:
            placements.folder(target)
            if os.path.lexists(target):
                os.unlink(target)
            _the_placer().place(tree.pyc(member), target, pyc_mode(info.st_mode, placements.umask),
                                stamp, True, placements.digest(tree.pyc_digest(member)))
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(target)  # nothing half-placed for pip to compile over
            if isinstance(exc, OSError):  # the tree went away or changed meanwhile: compile, as pip would
                placements.not_placed(exc)
                return None
            raise
        return True
