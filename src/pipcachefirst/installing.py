"""pip's install step, fed from installed trees (see ``trees``).

pip's ``_install_wheel`` stays in charge: it still maps every member to its
scheme folder, checks paths, writes console scripts with this environment's
shebang, fixes ``#!python`` scripts, and writes INSTALLER, REQUESTED,
direct_url.json and RECORD, in whatever way the running pip version does.
For the length of one call two of the names it looks up in its module are
swapped: the class that unzips a member places the tree's file instead, and
the ``compileall`` its compile step calls places the tree's ``.pyc`` for a
source placed unchanged.  Anything the tree lacks, or a source pip changed
after placing it (a fixed script), goes to pip's own code.

The first install of a wheel builds its tree (unpack and compile, as pip
would), then places it: the one extra cost is that copy.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from types import ModuleType
from typing import Any, Dict, Optional, Set, Tuple

from pipcachefirst import pipcompat, settings, trees
from pipcachefirst._atomic import current_umask, sha256_of
from pipcachefirst.pipcompat import INSTALL_WHEEL, VERBOSE, InstallStep
from pipcachefirst.session import CURRENT as SESSION
from pipcachefirst.store import TREES

logger = logging.getLogger("pipcachefirst")

_placer: Optional[trees.Placer] = None


def install_wheel(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """The ``_install_wheel`` wrapper: pip's own install, placing from a tree when one can be used."""
    try:
        plan = _plan(args, kwargs)
    except Exception as exc:
        SESSION.warn("could not use installed trees", exc)
        plan = None
    if plan is None:
        return wrapped(*args, **kwargs)
    step, tree, name = plan
    module = step.module
    placed: Dict[str, str] = {}
    module.ZipBackedFile = _tree_backed_file(step, tree, _the_placer(), placed)
    module.compileall = _CompileFromTree(step.compileall, tree, placed)
    try:
        result = wrapped(*args, **kwargs)
    finally:
        module.ZipBackedFile = step.file_class
        module.compileall = step.compileall
    logger.log(VERBOSE, "pipcachefirst: %s placed from its installed tree (%s)", name, _placer_mode())
    SESSION.trees_placed += 1
    return result


def _plan(args: Any, kwargs: Any) -> Optional[Tuple[InstallStep, trees.Tree, str]]:
    """The install step and the tree to place, or None to leave this wheel to pip alone."""
    store = SESSION.store
    if store is None or not SESSION.trees or SESSION.off_reason is not None:
        return None
    name = INSTALL_WHEEL.argument("name", args, kwargs)
    if not INSTALL_WHEEL.argument("pycompile", args, kwargs, True):
        return None  # --no-compile (and pip 26.2's build environments): nothing to save
    if pipcompat.from_local_directory(INSTALL_WHEEL.argument("direct_url", args, kwargs, None)):
        return None
    key = trees.interpreter_key()
    if key is None or os.name != "posix":
        return None
    step = pipcompat.install_step(sys.modules[INSTALL_WHEEL.module])
    wheel_path = INSTALL_WHEEL.argument("wheel_path", args, kwargs)
    with open(wheel_path, "rb") as handle:
        sha256 = sha256_of(handle)
    shelf = trees.Trees(store.root / TREES.name, key, report=SESSION.problem)
    tree = shelf.find(sha256)
    if tree is None and SESSION.storing:
        try:
            tree = shelf.build(sha256, INSTALL_WHEEL.argument("wheel_zip", args, kwargs), step.is_executable,
                               os.path.basename(wheel_path))
        except trees.TreeError as exc:
            logger.log(VERBOSE, "pipcachefirst: no installed tree for %s: %s", name, exc)
            return None
        except OSError as exc:
            SESSION.stop_storing(exc)
            return None
        if tree is not None:
            logger.log(VERBOSE, "pipcachefirst: built the installed tree of %s", name)
    if tree is None:
        return None
    return step, tree, str(name)


def _the_placer() -> trees.Placer:
    global _placer
    if _placer is None:
        mode, problem = settings.link_mode()
        if problem:
            SESSION.problem(problem.replace("pipcachefirst: ", "", 1))
        _placer = trees.Placer(mode)
    return _placer


def _placer_mode() -> str:
    placer = _the_placer()
    if placer.fallback is None:
        return placer.mode
    return f"{placer.mode}: {placer.fallback}"


# Members pip writes to again in place after unpacking them (fix_script; REQUESTED is opened "wb"):
# a hard link would carry that write into the tree.
def _may_link(member: str) -> bool:
    top = member.split("/", 1)[0]
    return not (top.endswith(".dist-info") or (top.endswith(".data") and member.split("/")[1:2] == ["scripts"]))


def _tree_backed_file(step: InstallStep, tree: trees.Tree, placer: trees.Placer, placed: Dict[str, str]) -> type:
    """A ``ZipBackedFile`` whose ``save()`` places the tree's file where pip would unzip the member."""
    is_executable = step.is_executable
    umask = current_umask()
    folders_made: Set[str] = set()

    class TreeBackedFile(step.file_class):  # type: ignore[misc, name-defined]
        def save(self) -> None:
            member = self.src_record_path
            stamp = tree.files.get(member)
            if stamp is None:
                super().save()
                return
            dest = self.dest_path
            folder = os.path.dirname(dest)
            if folder not in folders_made:  # pip up to 24.1 made the folder here
                os.makedirs(folder, exist_ok=True)
                folders_made.add(folder)
            if os.path.lexists(dest):
                os.unlink(dest)  # as pip does: never write through an existing file
            executable = is_executable(self._getinfo())
            mode = (0o777 & ~umask | 0o111) if executable else 0o666 & ~umask
            try:
                placer.place(tree.source(member), dest, mode, stamp, _may_link(member))
            except OSError:  # the tree went away meanwhile (another pip found it changed): unzip, as pip would
                if os.path.lexists(dest):
                    os.unlink(dest)
                super().save()
                return
            placed[os.path.normpath(os.path.abspath(dest))] = member

    return TreeBackedFile


class _CompileFromTree:
    """Stands in for ``compileall`` in pip's wheel module while a tree is placed."""

    def __init__(self, compileall: ModuleType, tree: trees.Tree, placed: Dict[str, str]) -> None:
        self._compileall = compileall
        self._tree = tree
        self._placed = placed
        self._umask = current_umask()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compileall, name)

    def compile_file(self, fullname: Any, *args: Any, **kwargs: Any) -> Any:
        member = self._placed.get(os.path.normpath(os.path.abspath(fullname)))
        if member is not None and not args and kwargs == {"force": True, "quiet": True}:
            tree = self._tree
            try:
                info = os.lstat(fullname)
            except OSError:
                info = None
            if info is not None and trees.stamp_of(info) == tree.files.get(member):  # placed, and unchanged since
                if member in tree.not_compiled:
                    return False
                stamp = tree.compiled.get(member)
                if stamp is not None:
                    target = importlib.util.cache_from_source(fullname)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    if os.path.lexists(target):
                        os.unlink(target)
                    try:
                        _the_placer().place(tree.pyc(member), target, trees.pyc_mode(info.st_mode, self._umask), stamp)
                        return True
                    except OSError:  # the tree went away meanwhile: compile, as pip would
                        if os.path.lexists(target):
                            os.unlink(target)
        return self._compileall.compile_file(fullname, *args, **kwargs)
