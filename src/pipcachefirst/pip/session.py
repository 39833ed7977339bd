"""What one pip process has decided so far, and how it is shown to the user.

pip runs one command per process; the hooks fill this in as pip goes (the
command's name and cache option first, then one decision per pinned
requirement) and it becomes one ``-v`` line per pin and one summary line at
the end, on stderr.  Nothing here knows how pip is patched.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Dict, List, Optional

from pipcachefirst.base.free_space import LowOnSpace
from pipcachefirst.cache.catalog import Entry, Record
from pipcachefirst.cache.decisions import Decision
from pipcachefirst.pip.compat import LOCK_COMMAND, VERBOSE
from pipcachefirst.base.settings import EXACT, CacheLocation
from pipcachefirst.cache.store import Store

if TYPE_CHECKING:  # imported only when a team cache is configured: it brings the S3 client
    from pipcachefirst.team.remote import TeamCache

logger = logging.getLogger("pipcachefirst")

_MAX_PROBLEM_LINES = 5


class Session:
    """State of pipcachefirst in this process."""

    def __init__(self) -> None:
        self.command = ""
        self.mode = EXACT
        self.store: Optional[Store] = None
        self.off_reason: Optional[str] = "pip's options were not seen"
        self.storing = False
        self.decisions: Dict[str, Decision] = {}
        self.sources: Dict[str, Record] = {}
        self.warned = False
        self.offline_reported = False
        self.problems: List[str] = []
        self.trees = False  # place installed trees (PIPCACHEFIRST_TREES)
        self.stage_ahead = False  # an install that compiles, into this environment: trees may be copied ahead
        self.trees_placed = 0
        self.hash_checking = False  # pip's hash-checking mode (--require-hashes, or a --hash): placed trees are hashed
        self.remote: "Optional[TeamCache]" = None  # the team cache (PIPCACHEFIRST_REMOTE)
        self.stored: List[Entry] = []  # what this command downloaded or built into the store: to share

    def use_cache(self, location: CacheLocation, ours: bool = True) -> None:
        """Open the cache pip's options and the environment point at, and say what is wrong with it.

        ``ours=False``: pip's rule for its own cache folder says this user must
        not write there (see ``Store.open``).
        """
        self.store, self.storing = None, False
        if location.root is None:
            self.off_reason = location.reason
            return
        store = Store(location.root, report=self.problem)
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
        """One warning line per distinct problem, a handful at most."""
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
