"""What one pip process has decided so far, and how it is shown to the user.

pip runs one command per process; the hooks fill this in as pip goes (the
command's name and cache option first, then one decision per pinned
requirement) and it becomes one ``-v`` line per pin and one summary line at
the end, on stderr.  Nothing here knows how pip is patched.

Everything pipcachefirst keeps while pip runs lives in the one
:data:`CURRENT` session: what pip was asked and answered, per ``PackageFinder``
in one weak map (:class:`FinderState`), per environment in another, and the
install step's placer, threads and helpers.  Outside it there are only the
start-up flag (``_startup``, standard library only) and the post-import
hook registry (``base.patching``), which belong to the interpreter, not to a
pip command.
"""

from __future__ import annotations

import logging
import sys
import weakref
from typing import TYPE_CHECKING, Any, Dict, List, MutableMapping, Optional, Set, Tuple

from pipcachefirst.base.free_space import LowOnSpace
from pipcachefirst.base.settings import DEFAULT_MAX_SIZE, EXACT, CacheLocation
from pipcachefirst.cache.catalog import Entry, Record, StoreError
from pipcachefirst.cache.decisions import Decision
from pipcachefirst.cache.store import Known, Store
from pipcachefirst.pip.compat import LOCK_COMMAND, VERBOSE
from pipcachefirst.pip.filling import StoringThread

if TYPE_CHECKING:  # imported only when a team cache is configured: it brings the S3 client
    from pipcachefirst.base.workers import Workers
    from pipcachefirst.pip.compat import HookPoint, Wanted
    from pipcachefirst.pip.serve import Answer
    from pipcachefirst.team.remote import TeamCache
    from pipcachefirst.trees.later import Job
    from pipcachefirst.trees.staging import Stager
    from pipcachefirst.trees.tree import Placer

logger = logging.getLogger("pipcachefirst")

_MAX_PROBLEM_LINES = 5


class FinderState:
    """What pipcachefirst knows about one of pip's ``PackageFinder`` objects; gone with the finder."""

    def __init__(self) -> None:
        # pip asks the same question several times and must get the same answer
        self.answers: "Dict[Tuple[Any, ...], Answer]" = {}
        self.page_links: Dict[str, List[Any]] = {}  # project -> the links its index page listed
        self.picks: Dict[Any, Any] = {}  # serve's choices among a project's files, kept for the next question
        self.evaluators: Dict[Any, Any] = {}  # pip's candidate evaluator per question, for its next choice
        self.offline_origins: Optional[Tuple[str, ...]] = None  # the origins as offline mode saw them
        self.root_pins: "Optional[Dict[str, Wanted]]" = None  # the user's own pins, by project


class EnvironmentState:
    """One of pip's installed-environment objects: read whole once, from the second lookup on."""

    def __init__(self) -> None:
        self.asked = False
        self.read = False
        self.by_name: Optional[Dict[str, Any]] = None  # None once read: reading failed, pip's own lookup


class Session:
    """State of pipcachefirst in this process."""

    def __init__(self) -> None:
        self.command = ""
        self.mode = EXACT
        self.store: Optional[Store] = None
        self.off_reason: Optional[str] = "pip's options were not seen"
        self.storing = False
        self.decisions: Dict[str, Decision] = {}
        self.sources: Dict[str, Record] = {}  # sdists by URL, served or stored: read through ``source``
        self.warned = False
        self.offline_reported = False
        self.problems: List[str] = []
        self.trees = False  # place installed trees (PIPCACHEFIRST_TREES)
        self.stage_ahead = False  # an install that compiles, into this environment: trees may be copied ahead
        self.trees_placed = 0
        self.hash_checking = False  # pip's hash-checking mode (--require-hashes, or a --hash): placed trees are hashed
        self.remote: "Optional[TeamCache]" = None  # the team cache (PIPCACHEFIRST_REMOTE)
        # what this command downloaded or built into the store, in pip's order: to share; read after wait_for_storing
        self.stored: List[Entry] = []
        self.storing_thread = StoringThread()  # stores them off pip's thread
        self.max_size = DEFAULT_MAX_SIZE  # the cache's size limit (PIPCACHEFIRST_MAX_SIZE), 0 for none
        # the wiring: the post-import hooks registered, and which hook points are wrapped in this process
        self.hooks_installed = False
        self.hook_points: "Set[HookPoint]" = set()
        # what pip asked and was answered
        self.finders: "MutableMapping[Any, FinderState]" = weakref.WeakKeyDictionary()
        self.environments: "MutableMapping[Any, EnvironmentState]" = weakref.WeakKeyDictionary()
        self.records_read: Known = {}  # the cache's records as read, by folder (early staging's, then serve's)
        self.served: Dict[str, Record] = {}  # each file served, by the URL of the link pip was handed
        self.served_files: Dict[str, Entry] = {}  # the cache's files served, by path
        # pip's metadata of a served wheel, by (path, project, the file's stamp): read from its zip once
        self.wheel_metadata: Dict[Tuple[Any, ...], Any] = {}
        self.parsed_cache_dir: Any = None  # pip's --cache-dir as parsed, before pip checked the folder
        self.supported_tags: Dict[Any, List[Any]] = {}  # pip's tag lists, by the arguments that made them
        # the install step
        self.placer: "Optional[Placer]" = None
        self.workers: "Optional[Workers]" = None  # started by the first tree placed, for the rest of the process
        self.stager: "Optional[Stager]" = None  # started by the first pin served whose wheel has a tree
        self.staging_off = False  # tried, and it cannot help in this command
        self.early_stager: "Optional[Stager]" = None  # started as pip starts, for ``pip install -r``
        self.cut_short: Optional[bool] = None  # whether an earlier command's helper was stopped before it was done
        self.trees_to_build: "Dict[str, Job]" = {}  # by sha256: built after pip's last line (``trees.later``)

    def finder(self, finder: Any) -> FinderState:
        """The state of one of pip's finders, made on first use."""
        state = self.finders.get(finder)
        if state is None:
            state = self.finders[finder] = FinderState()
        return state

    def environment(self, environment: Any) -> EnvironmentState:
        state = self.environments.get(environment)
        if state is None:
            state = self.environments[environment] = EnvironmentState()
        return state

    def use_cache(self, location: CacheLocation, ours: bool = True) -> None:
        """Open the cache pip's options and the environment point at, and say what is wrong with it.

        ``ours=False``: pip's rule for its own cache folder says this user must
        not write there (see ``Store.open``).
        """
        self.store, self.storing = None, False
        if location.root is None:
            self.off_reason = location.reason
            return
        store = Store(location.root, report=self.problem, known=self.records_read)
        access = store.open(ours)
        if access.problem:
            self.problem(access.problem)
        if access.serve or access.store:
            self.store, self.storing = store, access.store
        self.off_reason = None if access.serve else (access.problem or "the cache cannot be used")

    def stop_storing(self, exc: OSError) -> None:
        """A write failed (disk full, permissions changed) or would leave the disk short: store nothing more."""
        if self.storing:
            self.storing = False
            if isinstance(exc, LowOnSpace):
                self.problem(exc.line)
            else:
                self.problem(f"cannot write to the cache ({exc.strerror or exc}); storing nothing more in this run")

    def problem(self, line: str) -> None:
        """One warning line per distinct problem, a handful at most; said on pip's thread."""
        if self.storing_thread.on_its_thread():
            self.storing_thread.report(line)  # said when pip's thread takes in what was stored
            return
        if line in self.problems:
            return
        self.problems.append(line)
        if len(self.problems) <= _MAX_PROBLEM_LINES:
            logger.warning("pipcachefirst: %s", line)

    def serving_off_reason(self) -> Optional[str]:
        if self.command == LOCK_COMMAND:
            return "pip lock records index URLs, not cache paths"
        return self.off_reason

    def decide(self, decision: Decision) -> None:
        self.decisions[decision.project] = decision
        logger.log(VERBOSE, "%s", decision.line())

    def remember_source(self, url: str, record: Record) -> None:
        """An sdist pip is about to build: its record ties the built wheel to it."""
        self.sources[url] = record

    def source(self, url: str) -> Optional[Record]:
        """The record of the sdist at ``url``, served or stored in this command (waiting for it to be stored)."""
        if url in self.storing_thread.sources:
            self.wait_for_storing()
        return self.sources.get(url)

    def store_later(self, path: str, record: Record, what: str, source_url: Optional[str] = None) -> None:
        """Store the file at ``path`` under ``record`` on the storing thread; an sdist's ``source_url`` is
        remembered with its record once stored.  ``what``: the warning's words for a bug of ours."""
        self.wait_for_storing(wait=False)  # a disk that refused a write stops storing as soon as it is known
        if self.store is not None and self.storing:
            self.storing_thread.submit(self.store, path, record, what, source_url)

    def wait_for_storing(self, wait: bool = True) -> None:
        """Take in, on pip's thread and in pip's order, what the storing thread stored: all of it (``wait``),
        or what it has done by now.

        Waited for before anything reads ``stored`` or ``sources``, and before
        pip removes its temporary folders at the end of the command.  Each
        outcome is told as when pip's thread stored the file itself: a file
        that cannot be stored is a ``-v`` line, a write that failed stops
        storing, a bug of ours is one warning line.
        """
        for put in self.storing_thread.finished(wait):
            try:
                entry = put.job.result()
            except StoreError as exc:
                logger.log(VERBOSE, "pipcachefirst: not stored: %s", exc)
            except OSError as exc:
                self.stop_storing(exc)
            except Exception as exc:  # noqa: BLE001 -- a bug of ours costs the file, as the hook's guard would
                self.warn(put.what, exc)
            else:
                if entry is not None:
                    self.stored.append(entry)
                if entry is not None and put.source_url is not None:
                    self.remember_source(put.source_url, entry.record)
            for line in self.storing_thread.lines():
                self.problem(line)

    def summary(self) -> Optional[str]:
        if not self.decisions:
            return None
        served = sum(1 for d in self.decisions.values() if d.served)
        total = len(self.decisions)
        noun = "requirement" if total == 1 else "requirements"
        pinned = "pinned " if self.mode == EXACT else ""
        return f"pipcachefirst: {served} of {total} {pinned}{noun} from cache"

    def say(self, line: str) -> None:
        """A line at pip's normal verbosity, on stderr beside pip's warnings; nothing under ``-q``.

        pip's stdout stays exactly as pip writes it: scripts read its last
        line ("Successfully installed ...") with ``tail -1``, and
        ``--report -`` writes JSON there.
        """
        if logger.isEnabledFor(logging.INFO):
            sys.stderr.write(line + "\n")

    def missing(self) -> List[Decision]:
        return [d for d in self.decisions.values() if not d.served]

    def warn(self, what: str, exc: BaseException) -> None:
        """One warning line per process; the traceback only with -v."""
        logger.log(VERBOSE, "pipcachefirst: %s", what, exc_info=exc)
        if not self.warned:
            self.warned = True
            logger.warning("pipcachefirst: %s (%s: %s); pip carries on without it", what, type(exc).__name__, exc)


CURRENT = Session()
