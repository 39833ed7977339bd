"""Fixtures: a loopback index that logs requests, packages to put on it, fresh venvs.

Every test gets its own index server, pip cache and venvs under ``tmp_path``.
pip never sees this machine's configuration (see ``support.envs``).

A story suite writes some 3 GiB in 200,000 files there.  When pytest is told
to remove each passed test's folder (``-o tmp_path_retention_policy=failed``,
as tox.ini runs it), ``tmp_path`` lives on a roomy tmpfs if there is one:
deleting those files from this 2-core VM's disk took 50 s, or 100 s of system
time when removed test by test.  With pytest's default retention (the last
three sessions kept whole) it stays on disk: that would be 10 GiB of memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest

from pipcachefirst.cache import limit
from pipcachefirst.cache.store import TREES
from pipcachefirst.pip.compat import PipBehavior
from pipcachefirst.trees import later
from tests.support.envs import PRODUCT_DISTS, Venv, create_venv
from tests.support.indexserver import IndexServer
from tests.support.packages import make_sdist, make_wheel

# What the pip under test does by itself, named once in pipcachefirst.pip.compat
# (coverage.py's PYBEHAVIOR is the model).
PIPBEHAVIOR = PipBehavior(metadata.version("pip"))

SUMMARY = re.compile(r"^pipcachefirst: \d+ of \d+ .*from cache$")

# The longest story tests (a minute and more; --durations), started first.  In
# collection order they came last, and with ``-n 2`` one worker ran them alone
# while the other had nothing left to do.  A name here that no longer matches
# only costs that time again.
LONGEST_FIRST = (
    "test_under_load.py::test_pip_killed_at_random_moments_never_leaves_a_lying_record",
    "test_under_load.py::",
    "test_new_environments.py::test_pip_sync_keeps_a_seeded_environment_cache_first",
)


@dataclass
class PipRun:
    """What a user sees after one pip command, and what the index saw."""

    returncode: int
    stdout: str
    stderr: str
    requests: List[str]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def lines(self, prefix: str = "pipcachefirst:") -> List[str]:
        return [line for line in self.output.splitlines() if line.startswith(prefix)]

    def warnings(self) -> List[str]:
        """pipcachefirst's lines on stderr but its summary line ("N of M ... from cache"), which goes there too."""
        return [line for line in self.stderr.splitlines() if "pipcachefirst:" in line and not SUMMARY.search(line)]


class World:
    """One test's index, pip cache and environments."""

    def __init__(self, tmp_path: Path, server: IndexServer) -> None:
        self.tmp = tmp_path
        self.server = server
        self.index_root = server.root
        self.pip_cache = tmp_path / "pip-cache"
        self._venvs = 0

    @property
    def cache_root(self) -> Path:
        return self.pip_cache / "cachefirst"

    def index_url(self, name: str = "main") -> str:
        return self.server.index_url(name)

    def publish_wheel(self, name: str, version: str, index: str = "main", **kw: object) -> Path:
        return make_wheel(self.index_root / index / name, name, version, **kw)  # type: ignore[arg-type]

    def publish_sdist(self, name: str, version: str, index: str = "main", **kw: object) -> Path:
        return make_sdist(self.index_root / index / name, name, version, **kw)  # type: ignore[arg-type]

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path

    def new_venv(self, dists: Sequence[str] = PRODUCT_DISTS) -> Venv:
        self._venvs += 1
        return create_venv(self.tmp / f"venv{self._venvs}", dists)

    def env(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        env = {"PIP_CACHE_DIR": str(self.pip_cache), "PIP_INDEX_URL": self.index_url()}
        env.update(extra or {})
        return env

    def pip(self, venv: Venv, *args: str, env: Optional[Dict[str, str]] = None) -> PipRun:
        self.server.take_requests()
        proc = venv.pip(*args, env=self.env(env))
        run = PipRun(proc.returncode, proc.stdout, proc.stderr, self.server.take_requests())
        self.wait_for_tree_builders(env)
        return run

    def wait_for_tree_builders(self, env: Optional[Dict[str, str]] = None, timeout: float = 60.0) -> None:
        """Until the trees a command left to build after its last line are built (``pipcachefirst.trees.later``)."""
        chosen = (env or {}).get("PIPCACHEFIRST_DIR")
        wait_for_tree_builders(Path(chosen) if chosen else self.cache_root, timeout)

    def install(self, *args: str, env: Optional[Dict[str, str]] = None, venv: Optional[Venv] = None) -> PipRun:
        """``pip install ARGS`` into a new venv (or ``venv``); must succeed."""
        run = self.pip(venv or self.new_venv(), "install", *args, env=env)
        assert run.returncode == 0, run.output
        return run

    def cached_files(self) -> Dict[str, str]:
        """Every file under the cache root, relative path -> sha256."""
        if not self.cache_root.exists():
            return {}
        return {
            str(p.relative_to(self.cache_root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.cache_root.rglob("*"))
            if p.is_file()
        }

    def records(self) -> List[Dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.cache_root / "files-v1").rglob("*.json"))]

    def cached_file(self, filename: str) -> Path:
        matches = [p for p in (self.cache_root / "files-v1").rglob(filename)]
        assert len(matches) == 1, matches
        return matches[0]


def wait_for_tree_builders(cache_root: Path, timeout: float = 60.0) -> None:
    """Until no helper builds trees in ``cache_root`` (each removes its job file when it is done),
    nor checks its size (``pipcachefirst.cache.limit``)."""
    deadline = time.monotonic() + timeout
    while [job for folder in cache_root.glob(f"{TREES.name}/*") for job in later.running(folder)] \
            or limit.running(cache_root):
        assert time.monotonic() < deadline, f"trees still being built in {cache_root} after {timeout} s"
        time.sleep(0.02)


def roomy_tmpfs(path: str = "/dev/shm", free: int = 4 * 2**30) -> Optional[str]:
    """``path`` if it is a writable tmpfs with ``free`` bytes free that allows executables, else None."""
    try:
        with open("/proc/mounts") as mounts:
            if not any(line.split()[1:3] == [path, "tmpfs"] for line in mounts):
                return None
        fs = os.statvfs(path)
    except (OSError, IndexError):
        return None
    if fs.f_bavail * fs.f_frsize < free or fs.f_flag & getattr(os, "ST_NOEXEC", 8) or not os.access(path, os.W_OK):
        return None
    return path


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return  # an xdist worker gets its basetemp from the controller; a given one is respected
    try:
        removes_passed = config.getini("tmp_path_retention_policy") in ("failed", "none")
    except ValueError:  # pytest before 7.3
        removes_passed = False
    if removes_passed:
        tmpfs = roomy_tmpfs()
        if tmpfs:
            os.environ["PYTEST_DEBUG_TEMPROOT"] = tmpfs  # pytest's numbered folders, there


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        where = f"{item.path.name}::{item.name}"
        return next((i for i, name in enumerate(LONGEST_FIRST) if where.startswith(name)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: every other test keeps its place


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    server = IndexServer(tmp_path / "index").start()
    try:
        yield World(tmp_path, server)
    finally:
        server.stop()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def index_pages(requests: List[str]) -> List[str]:
    return [r for r in requests if "/simple/" in r]

