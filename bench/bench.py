"""The performance reports: warm re-installs over index delay, pip version and workload; installed trees.

**The grid** (``report.json``).  For every workload, index delay and pip
version (a *cell*), each run installs the workload into a fresh venv three
ways, all with warm caches, against a loopback index that adds the delay to
every request:

- **plain pip**: pipcachefirst off (``PIPCACHEFIRST=0``); pip's HTTP and wheel
  caches warm, so it only revalidates pages;
- **pipcachefirst**: the same command with its cache warm, installed trees off
  (``PIPCACHEFIRST_TREES=0``), so that it does the install work the bound
  does and the ratio between them is what pipcachefirst itself costs;
- **bound**: ``pip install --no-index --find-links <the same files>``, plain
  pip with no index at all: the lower bound;

and once per workload and delay, ``uv pip install`` with its own warm cache,
the outside reference (it does not depend on the pip version).  Each way has
a cache of its own, as a user of that tool would.

Index pages are stale (``max-age=0``, like a private index, or PyPI's pages
after ten minutes); one more row has fresh pages (``max-age=600``, as PyPI
sends them) for pip 26.3, which then asks the index nothing by itself.

**Installed trees** (``--trees``, ``trees.json``): at 100 ms, stale pages,
pips 23.2.1 and 26.3, five pip ways per pip version and two uv ways, all in
the same runs:

- **plain pip** and **bound** as above;
- **first install**: pipcachefirst with its files cached but no installed
  trees yet (its ``trees-v2`` bucket removed before each run), so it builds them;
- **trees off**: pipcachefirst with ``PIPCACHEFIRST_TREES=0``, as it was before trees;
- **pipcachefirst**: as installed, trees on: each wheel's tree placed;
- **uv --compile-bytecode** and **uv** (uv's default: hard links, no byte code);
- on ``flask-celery.txt``, **pipcachefirst venv** and **uv venv + uv pip**:
  re-creating the venv, its creation timed too.

As users have it, pip's self-version check is on (``--no-version-check``
turns it off) and the index has a page for pip (the pips measured), so each
pip's cache remembers the answer as it would from PyPI.  The same rows are
measured again, pipcachefirst and uv only, while another process writes to
the same disk all along (``diskload.py``; ``--disk-load`` picks quiet,
loaded or both).  After the runs, the bytes on disk of a first and a second
venv made from ``data-science.txt`` (``disk_usage``: hard links counted once).

All installs of one workload at one delay are interleaved, run after run:
the pip versions (and uv) take turns going first, and within a pip version
the ways take turns too (in the grid pipcachefirst runs in the middle, right
after plain pip or the bound by turns), so that each comparison is between
installs made close together (this machine has slow and fast phases of a few
seconds).  A short workload gets more runs, so that every cell is measured
for about as long.  A first run per workload and page freshness warms the
caches and is not counted.  The raw timings and request counts go to
``report.json`` (``trees.json``); ``report.py`` renders them.

    python3 bench/bench.py                  # the grid into bench/results/, README and docs (about an hour)
    python3 bench/bench.py --trees          # installed trees into bench/results/, README and docs (1-1.5 hours)
    python3 bench/bench.py --quick          # pip 26.3 at 100 ms, one run: the demo
    python3 bench/bench.py --smoke --output-dir DIR    # what CI runs: two pins, pip 26.3, one delay, one run
    python3 bench/bench.py --workload bench/workloads/sdist-only.txt --delay 300 --pip 24.3.1 --runs 9 --output-dir DIR
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import diskload  # noqa: E402
import harness  # noqa: E402
import report  # noqa: E402
import trash  # noqa: E402
from tests.support.indexserver import IndexServer  # noqa: E402

PLAIN, OURS, TREES_OFF, BOUND, FIRST = "plain pip", "pipcachefirst", "trees off", "bound", "first install"
# The first-install report (--first): pipcachefirst just installed, its cache empty; and a runner with no cache at all.
FIRST_EMPTY, PLAIN_COLD, FIRST_COLD = (
    "first install, cache empty", "plain pip, caches empty", "first install, caches empty"
)
FIRST_PIP_WAYS = (PLAIN, FIRST_EMPTY, PLAIN_COLD, FIRST_COLD)
FIRST_WORKLOADS = (harness.WORKLOADS / "flask-celery.txt", harness.WORKLOADS / "django-lock.txt")
FIRST_DELAYS_MS = (0, 100)
FIRST_PIPS = ("23.2.1", "26.3")
FIRST_RUNS = 5
UV, UV_COMPILE = "uv", "uv --compile-bytecode"
# Re-creating an environment (creation plus install, both timed), in the trees report's runs:
# pipcachefirst's ``venv`` command (with each pip measured) against ``uv venv`` + ``uv pip install``.
OURS_VENV, UV_VENV = "pipcachefirst venv", "uv venv + uv pip"
GRID_PIP_WAYS = (PLAIN, OURS, BOUND)
# In this order on the first counted run, then turned by one each run: each way follows each other.
TREES_PIP_WAYS = (PLAIN, FIRST, TREES_OFF, BOUND, OURS)
TREES_UV_WAYS = (UV_COMPILE, UV)
# Under disk load (the contention rows) only what issue 26's goals compare: pipcachefirst and uv.
LOADED_PIP_WAYS = (OURS,)
QUIET, LOADED = "quiet", "loaded"
# Where pipcachefirst keeps installed trees and files under pip's cache dir (settings.SUBDIRECTORY, store).
TREES_BUCKET = Path("cachefirst", "trees-v2")
FILES_BUCKET = Path("cachefirst", "files-v1")
PIP_PAGE = "/simple/pip/"  # in a request line: pip's self-version check asking for its own page
PIPS = ("23.2.1", "24.3.1", "26.3")  # Python 3.11's ensurepip, one from 2024, the newest
DELAYS_MS = (0, 50, 100, 300)
FRESH_PAGES_PIP = "26.3"  # the first pip that uses fresh pages without asking (26.2+)
FRESH_PAGES_DELAY_MS = 300
FRESH_MAX_AGE = 600  # what PyPI sends
WORKLOADS = (harness.WORKLOADS / "flask-celery.txt", harness.WORKLOADS / "sdist-only.txt")
# --smoke only proves that the benchmark works end to end: every way once, on
# one sdist and one wheel, with the newest pip.  Each pip and way builds the
# sdists in its warm-up; sdist-only.txt with every pip made that 45 builds.
SMOKE_WORKLOAD = harness.WORKLOADS / "smoke.txt"
# The grid's ways and the trees way: the first install's only difference is a folder removed before it.
SMOKE_PIP_WAYS = (PLAIN, TREES_OFF, BOUND, OURS)
# Counted runs per cell: an sdist-only install takes a third of a flask-celery
# one and varies as much in absolute terms, so it gets more runs.
RUNS = {"flask-celery.txt": 9, "sdist-only.txt": 21}
DEFAULT_RUNS = 9
# Installed trees: the workload and a large one, where trees matter most.
TREES_WORKLOADS = (harness.WORKLOADS / "flask-celery.txt", harness.WORKLOADS / "data-science.txt")
TREES_DELAY_MS = 100
TREES_RUNS = 5
# Python 3.11's ensurepip and the newest (issue 26): a data-science run takes about two
# minutes per pip version on 2 cores (five ways of 5-40 s each), so 24.3.1 is left to the grid.
TREES_PIPS = ("23.2.1", "26.3")
TREES_RECREATE = ("flask-celery.txt",)  # the workloads re-created with pipcachefirst venv and uv venv
TREES_DISK = ("data-science.txt",)  # the workloads whose venvs' bytes on disk the report gives


@dataclass(frozen=True)
class Conditions:
    """One workload on an index with one delay and page freshness: installs measured together."""

    workload: Path
    delay_ms: int
    fresh_pages: bool = False
    loaded: bool = False  # another process writing to the same disk all along (diskload.py)


@dataclass
class Cell:
    """One way of installing under some conditions: a timing and a request count per run."""

    workload: str
    delay_ms: int
    pages: str
    pip: Optional[str]
    way: str
    disk: str = QUIET  # or LOADED: measured with another process writing to the same disk
    seconds: List[float] = field(default_factory=list)
    requests: List[int] = field(default_factory=list)
    version_checks: List[int] = field(default_factory=list)  # of those requests, pip's for its own page


@dataclass(frozen=True)
class Plan:
    """What one invocation measures."""

    workloads: Tuple[Path, ...] = WORKLOADS
    delays_ms: Tuple[int, ...] = DELAYS_MS
    pips: Tuple[str, ...] = PIPS
    runs: Optional[int] = None  # None: RUNS (TREES_RUNS for trees)
    with_uv: bool = True
    with_fresh_pages: bool = True
    trees: bool = False  # the installed-trees ways (else the grid's, pipcachefirst with trees off)
    only_pips: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()  # (workload name, its pips) where not all of ``pips``
    only_ways: Tuple[str, ...] = ()  # some of the trees report's pip ways, in their order; () for all
    first: bool = False  # the first-install ways (FIRST_PIP_WAYS)
    version_check: bool = False  # pip's self-version check on, as users have it (off: PIP_DISABLE_PIP_VERSION_CHECK)
    # pip's own page on the index (the pips measured), as on PyPI: pip's check finds a version and remembers it
    pip_page: bool = False
    disks: Tuple[bool, ...] = (False,)  # quiet (False) and/or with another process writing to the disk (True)
    recreate: Tuple[str, ...] = ()  # workloads (names) also re-created: pipcachefirst venv, uv venv + uv pip
    disk_figures: Tuple[str, ...] = ()  # workloads (names) whose venvs' bytes on disk are measured after the runs

    @property
    def kind(self) -> str:
        return "first" if self.first else "trees" if self.trees else "grid"

    def runs_for(self, workload: Path) -> int:
        if self.runs is not None:
            return self.runs
        if self.first:
            return FIRST_RUNS
        return TREES_RUNS if self.trees else RUNS.get(workload.name, DEFAULT_RUNS)

    def pips_for(self, workload: Path) -> Tuple[str, ...]:
        limited = dict(self.only_pips).get(workload.name)
        return tuple(pip for pip in self.pips if limited is None or pip in limited)

    def pip_ways(self, conditions: Optional[Conditions] = None) -> Tuple[str, ...]:
        """The pip ways measured under ``conditions`` (all conditions: None), in their first run's order."""
        if self.first:
            return FIRST_PIP_WAYS
        if not self.trees:
            return GRID_PIP_WAYS
        ways = tuple(way for way in TREES_PIP_WAYS if not self.only_ways or way in self.only_ways)
        if conditions is not None and conditions.loaded:
            ways = tuple(way for way in ways if way in LOADED_PIP_WAYS)
        if conditions is None or conditions.workload.name in self.recreate:
            ways += (OURS_VENV,) * bool(self.recreate)
        return ways

    def uv_ways(self, conditions: Optional[Conditions] = None) -> Tuple[str, ...]:
        if not self.with_uv or self.first:
            return ()
        if not self.trees:
            return (UV,)
        recreate = conditions is None or conditions.workload.name in self.recreate
        return TREES_UV_WAYS + (UV_VENV,) * (recreate and bool(self.recreate))

    def is_full_report(self) -> bool:
        full = FIRST_PLAN if self.first else TREES_PLAN if self.trees else Plan()
        return self == replace(full, runs=self.runs) and (self.runs is None or self.runs >= 5)

    def conditions(self) -> Iterator[Conditions]:
        for workload in self.workloads:
            for loaded in self.disks:
                for delay in self.delays_ms:
                    yield Conditions(workload, delay, loaded=loaded)
                if self.with_fresh_pages and FRESH_PAGES_PIP in self.pips_for(workload):
                    yield Conditions(workload, FRESH_PAGES_DELAY_MS, fresh_pages=True, loaded=loaded)

    def order(self, conditions: Conditions, run: int) -> List[Tuple[Optional[str], str]]:
        """The installs of one run, as (pip, way) with pip None for uv, in the order they run."""
        pips = (FRESH_PAGES_PIP,) if conditions.fresh_pages else self.pips_for(conditions.workload)
        ways = self.pip_ways(conditions)
        if self.trees or self.first:
            turn = run % len(ways)
            ways = ways[turn:] + ways[:turn]
        elif not run % 2:
            ways = ways[::-1]
        groups = [[(pip, way) for way in ways] for pip in pips]
        uv_ways = self.uv_ways(conditions)
        if uv_ways:
            groups.append([(None, way) for way in (uv_ways if run % 2 else uv_ways[::-1])])
        turn = run % len(groups)
        return [way for group in groups[turn:] + groups[:turn] for way in group]


TREES_PLAN = Plan(TREES_WORKLOADS, (TREES_DELAY_MS,), TREES_PIPS, None, with_fresh_pages=False, trees=True,
                  version_check=True, pip_page=True, disks=(False, True), recreate=TREES_RECREATE,
                  disk_figures=TREES_DISK)
FIRST_PLAN = Plan(FIRST_WORKLOADS, FIRST_DELAYS_MS, FIRST_PIPS, None, with_uv=False, with_fresh_pages=False,
                  first=True)


def slug(way: str) -> str:
    """A way's name as a folder name."""
    return "-".join("".join(c if c.isalnum() else " " for c in way).split())


class Bench:
    """The tools and caches for a whole invocation, and the index they all talk to."""

    def __init__(self, plan: Plan, work: Path, deadline: Optional[float] = None) -> None:
        self.plan = plan
        self.work = work
        self.deadline = deadline  # time.time() after which no run may still be going, or None
        self.counted: Dict[str, int] = {}  # workload name -> runs counted in all its conditions
        self.server = IndexServer(work / "index")
        wheel = harness.product_wheel(work)
        self.tools = {pip: harness.tool_venv(work, f"tool-pip-{pip}", [f"pip=={pip}", str(wheel)]) for pip in plan.pips}
        self.uv = harness.tool_venv(work, "tool-uv", [harness.UV_REQUIREMENT]) if plan.with_uv else None
        self.target = work / "target"
        self.templates = {pip: harness.target_template(self.tools[pip] / "python", self.target) for pip in plan.pips}
        self.caches = work / "caches"
        trash.set_aside(self.caches)  # every invocation starts from the same state
        self.warm: Set[Tuple[Path, bool, bool]] = set()
        self.load: Optional[diskload.Load] = None  # the writer, while rows under load are measured
        self.load_rates: Dict[str, int] = {}  # workload name -> MiB/s the writer wrote during its rows
        self.disk: Dict[str, Dict[str, object]] = {}  # disk_figures(), once measured
        self.files: Dict[Path, Path] = {}
        for workload in plan.workloads:
            self.files[workload] = harness.workload_files(workload, work)
            harness.publish(self.files[workload], work / "index")
        trash.set_aside(work / "index" / "main" / "pip")  # only where this plan asks for it (as a user's index has)
        if plan.pip_page:
            harness.publish(harness.pip_files(plan.pips, work), work / "index")

    def measure(self) -> List[Cell]:
        cells: List[Cell] = []
        self.server.start()
        try:
            for conditions in self.plan.conditions():
                cells.extend(self._measure(conditions))
            self.disk = self.disk_figures()
        finally:
            self.server.stop()
        return cells

    def _measure(self, conditions: Conditions) -> List[Cell]:
        if not conditions.loaded:
            return self._measure_runs(conditions)
        with diskload.running(self.work / ".disk-load") as load:
            self.load = load
            try:
                cells = self._measure_runs(conditions)
            finally:
                self.load = None
        rate = load.mib_per_second()
        if rate is not None:
            self.load_rates[conditions.workload.name] = round(rate)
        return cells

    def _measure_runs(self, conditions: Conditions) -> List[Cell]:
        self.server.delay = conditions.delay_ms / 1000
        self.server.page_max_age = FRESH_MAX_AGE if conditions.fresh_pages else 0
        pages = "fresh" if conditions.fresh_pages else "stale"
        disk = LOADED if conditions.loaded else QUIET
        cells = {w: Cell(conditions.workload.name, conditions.delay_ms, pages, w[0], w[1], disk)
                 for w in self.plan.order(conditions, 0)}
        label = f"{conditions.workload.name} at {conditions.delay_ms} ms, {pages} pages"
        label += ", the disk under load" if conditions.loaded else ""
        runs = self.plan.runs_for(conditions.workload)
        # Fresh pages: pip must see them once; under load, one run lets the writer and the disk settle.
        warm_key = (conditions.workload, conditions.fresh_pages, conditions.loaded)
        first = 0 if warm_key in self.warm else -1  # run -1 warms the caches and is not counted
        self.warm.add(warm_key)
        last_run = 0.0
        counted = 0
        for run in range(first, runs):
            if self.deadline is not None and time.time() + last_run > self.deadline:
                print(f"{label}: stopped after {counted} counted runs, as --until asked", flush=True)
                break
            started = time.time()
            for way in self.plan.order(conditions, run):
                if self.load is not None:
                    self.load.check()
                seconds, requests = self._install(conditions.workload, *way)
                if run >= 0:
                    cells[way].seconds.append(round(seconds, 4))
                    cells[way].requests.append(len(requests))
                    cells[way].version_checks.append(sum(PIP_PAGE in r for r in requests))
            counted += run >= 0
            last_run = time.time() - started
            print(f"{label}: {'warm-up' if run < 0 else f'run {run + 1} of {runs}'} done", flush=True)
        name = conditions.workload.name
        self.counted[name] = min(self.counted.get(name, counted), counted)
        return [cell for cell in cells.values() if cell.seconds]

    def _install(self, workload: Path, pip: Optional[str], way: str) -> Tuple[float, List[str]]:
        """Install ``workload`` into a fresh venv (or make the venv too, the re-create ways); seconds, requests."""
        index = ["--index-url", self.server.index_url()]
        if pip is None:
            python = self.target / "bin" / "python"
            if way == UV_VENV:  # the venv is made in the time measured
                trash.set_aside(self.target)
            else:
                python = harness.venv_without_pip(self.target)
            env = harness.environ({"UV_CACHE_DIR": str(self.caches / slug(way))})
            commands = [[str(self.uv / "uv"), "venv", "-q", str(self.target)]] if way == UV_VENV else []
            command = [str(self.uv / "uv"), "pip", "install", "-q", "--python", str(python), "-r", str(workload)]
            if way == UV_COMPILE:
                command.append("--compile-bytecode")
            commands.append(command + index)
        else:
            cache = self.pip_cache(pip, way)
            env = harness.environ({"PIP_CACHE_DIR": str(cache)})
            if self.plan.version_check:
                env.pop("PIP_DISABLE_PIP_VERSION_CHECK", None)
            if way in (PLAIN, BOUND, PLAIN_COLD):
                env["PIPCACHEFIRST"] = "0"
            elif way == TREES_OFF or (way == OURS and not self.plan.trees):
                env["PIPCACHEFIRST_TREES"] = "0"
            if way == FIRST:  # its files stay cached; the trees it built last time go
                trash.set_aside(cache / TREES_BUCKET)
            elif way == FIRST_EMPTY:  # pip's caches stay warm; pipcachefirst's, as if just installed, is empty
                trash.set_aside(cache / TREES_BUCKET.parent)
            elif way in (PLAIN_COLD, FIRST_COLD):  # a runner with no cache at all
                trash.set_aside(cache)
            pip_args = ["-q", "-r", str(workload)]
            if way == BOUND:
                pip_args += ["--no-index", "--find-links", str(self.files[workload])]
            else:  # --trusted-host: pip caches files from a plain-http host only then
                pip_args += [*index, "--trusted-host", "127.0.0.1"]
            if way == OURS_VENV:  # as a user runs it: from where pip and pipcachefirst are installed
                trash.set_aside(self.target)
                commands = [[str(self.tools[pip] / "python"), "-m", "pipcachefirst", "venv", str(self.target),
                             *pip_args]]
            else:
                python = harness.fresh_target(self.templates[pip], self.target)
                commands = [[str(python), "-m", "pip", "install", *pip_args]]
        self.server.take_requests()
        seconds = sum(harness.timed(command, env) for command in commands)
        requests = self.server.take_requests()
        if pip is not None:
            harness.wait_for_tree_helpers(self.pip_cache(pip, way) / "cachefirst")
        return seconds, requests

    def pip_cache(self, pip: str, way: str) -> Path:
        return self.caches / pip / slug(way)

    def trees_built(self) -> Dict[str, Dict[str, int]]:
        """Installed trees in each trees way's cache at the end, per pip: proof that trees were used at all."""
        if not self.plan.trees:
            return {}
        return {pip: {way: len(list((self.pip_cache(pip, way) / TREES_BUCKET).glob("*/*/tree.json")))
                      for way in (OURS, FIRST) if way in self.plan.pip_ways()} for pip in self.plan.pips
                if any(pip in self.plan.pips_for(w) for w in self.plan.workloads)}

    def disk_figures(self) -> Dict[str, Dict[str, object]]:
        """Bytes on disk, as ``du`` counts them, of two venvs made one after the other from a warm cache.

        For each workload of ``plan.disk_figures``, after the runs, untimed:
        pipcachefirst (trees on, the newest pip) installs it into a first and a
        second fresh venv from the cache its timed runs warmed.  A file linked
        from several places counts once, where it is first met (``disk_usage``).
        """
        figures: Dict[str, Dict[str, object]] = {}
        for workload in self.plan.workloads:
            if workload.name not in self.plan.disk_figures:
                continue
            pip = self.plan.pips_for(workload)[-1]
            cache = self.pip_cache(pip, OURS)
            venvs = [self.work / "disk-first", self.work / "disk-second"]
            env = harness.environ({"PIP_CACHE_DIR": str(cache)})
            for venv in venvs:
                python = harness.fresh_target(self.templates[pip], venv)
                harness.run([str(python), "-m", "pip", "install", "-q", "-r", str(workload), "--index-url",
                             self.server.index_url(), "--trusted-host", "127.0.0.1"], env)
                harness.wait_for_tree_helpers(cache / "cachefirst")
            first = disk_usage(venvs[0])
            both = disk_usage(*venvs)
            in_cache = disk_usage(cache / TREES_BUCKET.parent)
            figures[workload.name] = {
                "pip": pip,
                "empty_venv": disk_usage(self.templates[pip]),
                "first_venv": first,
                "second_venv_adds": both - first,
                "venvs_beyond_cache": disk_usage(cache / TREES_BUCKET.parent, *venvs) - in_cache,
                "trees": disk_usage(cache / TREES_BUCKET),
                "files": disk_usage(cache / FILES_BUCKET),
            }
            for venv in venvs:
                trash.set_aside(venv)
        return figures

    def link_mode(self) -> str:
        """The link mode pipcachefirst (the newest pip's) used for the trees it placed, in words."""
        pip = self.plan.pips[-1]
        return harness.link_mode(self.pip_cache(pip, OURS), self.tools[pip])

    def versions(self) -> Dict[str, str]:
        versions = {"pipcachefirst": harness.tool_version(next(iter(self.tools.values())), "pipcachefirst")}
        versions["pipcachefirst"] += harness.built_from
        if self.uv is not None:
            versions["uv"] = harness.tool_version(self.uv, "uv")
        if any(any(harness.is_sdist(p.name) for p in files.iterdir()) for files in self.files.values()):
            versions["build tools on the index"] = ", ".join(harness.BUILD_TOOLS)
        return versions

    def workload_facts(self) -> Dict[str, Dict[str, int]]:
        facts = {}
        for workload, files in self.files.items():
            pinned = {harness.canonical(line.split("==")[0].split("[")[0].strip())
                      for line in workload.read_text().splitlines() if "==" in line and not line.startswith("#")}
            mine = [p.name for p in files.iterdir() if harness.project_of(p.name) in pinned]
            facts[workload.name] = {"wheels": sum(not harness.is_sdist(n) for n in mine),
                                    "sdists": sum(harness.is_sdist(n) for n in mine)}
        return facts


def disk_usage(*folders: Path) -> int:
    """Bytes the files and folders under ``folders`` take on disk, as ``du`` counts them.

    Allocated blocks (``st_blocks``), so sparse and small files count as the
    disk holds them; a file hard-linked from several places counts once, at
    the first place met, so that two venvs linking the same cached file hold
    its bytes once.  Symbolic links are not followed.
    """
    seen: Set[Tuple[int, int]] = set()
    total = 0
    for folder in folders:
        if not folder.exists():
            continue
        for root, dirs, files in os.walk(folder):
            for path in [root] + [os.path.join(root, name) for name in dirs + files]:
                info = os.lstat(path)
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
    return total


def request_problems(cells: Sequence[Cell]) -> List[str]:
    """Request counts that contradict what the report is about: each a one-line reason.

    pip's requests for its own page (its self-version check) are not counted against a way.
    """
    problems = []
    for cell in cells:
        who = f"pip {cell.pip} {cell.way}" if cell.pip else cell.way
        disk = ", the disk under load" if cell.disk == LOADED else ""
        where = f"{cell.workload}, {cell.delay_ms} ms, {cell.pages} pages{disk}, {who}"
        requests = [n - checks for n, checks in zip(cell.requests, cell.version_checks or [0] * len(cell.requests))]
        if cell.way in (OURS, TREES_OFF, FIRST, BOUND, OURS_VENV) and any(requests):
            problems.append(f"{where}: {max(requests)} index requests, expected none")
        if cell.way == PLAIN and cell.pages == "stale" and not all(requests):
            problems.append(f"{where}: an install without index requests, expected one per pin")
        if cell.way == PLAIN and cell.pages == "fresh" and any(requests):
            problems.append(f"{where}: {max(requests)} index requests on fresh pages, expected none "
                            f"(pages gone stale during the runs?)")
    return problems


def tree_problems(built: Dict[str, Dict[str, int]]) -> List[str]:
    """Trees ways whose cache holds no installed tree: they measured pip without trees."""
    return [f"pip {pip} {way}: no installed tree in its cache, so trees were never placed"
            for pip, ways in built.items() for way, count in ways.items() if not count]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path, action="append", help="requirements file (repeatable)")
    parser.add_argument("--delay", type=int, action="append", help="ms added to every index request (repeatable)")
    parser.add_argument("--pip", action="append", help="pip version (repeatable)")
    parser.add_argument("--runs", type=int, help="counted runs per cell (default: 9 for flask-celery, 21 for "
                        "sdist-only; 5 with --trees)")
    parser.add_argument("--trees", action="store_true", help="installed trees: flask-celery and data-science at "
                        "100 ms, pips 23.2.1 and 26.3, the five pip ways and uv with and without byte code, pip's "
                        "self-version check on; the same under disk load; pipcachefirst venv against uv venv; the "
                        "venvs' bytes on disk")
    parser.add_argument("--first", action="store_true", help="first installs: flask-celery and django-lock at 0 "
                        "and 100 ms, pips 23.2.1 and 26.3, plain pip and pipcachefirst with its cache empty, and both "
                        "with every cache empty")
    parser.add_argument("--version-check", action="store_true", help="pip's self-version check on, as users have "
                        "it (on by default with --trees and --smoke; every other report turns it off)")
    parser.add_argument("--no-version-check", action="store_true", help="pip's self-version check off "
                        "(PIP_DISABLE_PIP_VERSION_CHECK=1), also with --trees and --smoke")
    parser.add_argument("--no-pip-page", action="store_true", help="no page for pip on the index (with --trees and "
                        "--smoke): pip's check finds no version, stores none and asks again on every install")
    parser.add_argument("--disk-load", choices=(QUIET, LOADED, "both"), help="rows with the disk quiet, with "
                        "another process writing to it all along (bench/diskload.py: 64 MiB writes, each fsynced), "
                        "or both; with --trees only pipcachefirst and uv are measured under load (default: both with "
                        "--trees and --smoke, quiet otherwise)")
    parser.add_argument("--no-uv", action="store_true", help="leave out uv")
    parser.add_argument("--no-fresh-pages", action="store_true", help="leave out the fresh-pages row")
    parser.add_argument("--quick", action="store_true", help="pip 26.3, flask-celery, 100 ms, one run, the five "
                        "pip ways of --trees: the demo")
    parser.add_argument("--smoke", action="store_true", help="smoke.txt (one sdist, one wheel), pip 26.3, 100 ms, "
                        "one run, the ways of --trees but the first install: what CI runs")
    parser.add_argument("--until", help="HH:MM (UTC): start no run that would end after it, going by the last "
                        "run's length; the report gives the runs counted (for a machine needed at a set time)")
    parser.add_argument("--workdir", type=Path, default=harness.DEFAULT_WORKDIR)
    parser.add_argument("--output-dir", type=Path, help="where report.json/.md (trees.json/.md with --trees, "
                        "--smoke, --quick) and report.png go (default: bench/results for the full reports, which "
                        "also updates README.md and docs/; nowhere for --quick)")
    args = parser.parse_args(argv)

    if args.quick:
        plan = Plan((WORKLOADS[0],), (100,), ("26.3",), 1, with_uv=False, with_fresh_pages=False, trees=True)
    elif args.smoke:  # every kind of row of --trees, on two pins
        plan = Plan((SMOKE_WORKLOAD,), (100,), (PIPS[-1],), 1, with_fresh_pages=False, trees=True,
                    only_ways=SMOKE_PIP_WAYS, version_check=True, pip_page=True, disks=(False, True),
                    recreate=(SMOKE_WORKLOAD.name,), disk_figures=(SMOKE_WORKLOAD.name,))
    else:
        base = FIRST_PLAN if args.first else TREES_PLAN if args.trees else Plan()
        plan = replace(
            base,
            workloads=tuple(w.resolve() for w in args.workload) if args.workload else base.workloads,
            delays_ms=tuple(args.delay) if args.delay else base.delays_ms,
            pips=tuple(args.pip) if args.pip else base.pips,
            only_pips=() if args.pip else base.only_pips,
            runs=args.runs,
            with_uv=base.with_uv and not args.no_uv,
            with_fresh_pages=base.with_fresh_pages and not args.no_fresh_pages,
            version_check=base.version_check or args.version_check,
        )
    if args.no_version_check or args.no_pip_page:
        plan = replace(plan, version_check=plan.version_check and not args.no_version_check, pip_page=False)
    if args.disk_load:
        plan = replace(plan, disks={QUIET: (False,), LOADED: (True,), "both": (False, True)}[args.disk_load])
    if plan.runs is not None and plan.runs < 1:
        parser.error("--runs must be at least 1")
    output = args.output_dir or (report.RESULTS if plan.is_full_report() else None)
    if output is not None and report.is_committed_report(output) and not plan.is_full_report():
        parser.error(f"{report.RESULTS} holds the full report only: give another --output-dir")
    if args.smoke and output is None:
        parser.error("--smoke needs --output-dir")

    deadline = None
    if args.until:
        now = datetime.datetime.now(datetime.timezone.utc)
        hour, minute = map(int, args.until.split(":"))
        until = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        deadline = (until + datetime.timedelta(days=until < now)).timestamp()
    started = time.monotonic()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    with trash.in_use(work):
        bench = Bench(plan, work, deadline)
        cells = bench.measure()
    data = {
        "date": datetime.date.today().isoformat(),
        "command": shlex.join(["python3", "bench/bench.py", *(sys.argv[1:] if argv is None else argv)]),
        "runs": {workload.name: bench.counted.get(workload.name, plan.runs_for(workload))
                 for workload in plan.workloads if bench.counted.get(workload.name, 1)},
        "machine": harness.machine(),
        "versions": bench.versions(),
        "workloads": {name: facts for name, facts in bench.workload_facts().items()
                      if bench.counted.get(name, 1)},
        "settings": {"fresh_max_age": FRESH_MAX_AGE, "target": report.TARGET},
        "minutes": round((time.monotonic() - started) / 60),
        "cells": [asdict(cell) for cell in cells],
    }
    if plan.version_check:
        data["settings"]["version_check"] = "on"
    if plan.first:
        data["kind"] = "first"
        data["settings"]["goals"] = report.FIRST_GOALS_JSON
        data["pips"] = {workload.name: list(plan.pips_for(workload)) for workload in plan.workloads}
    elif plan.trees:
        data["kind"] = "trees"
        data["settings"] = {"goals": report.TREES_GOALS_JSON, "link_mode": bench.link_mode(),
                            "version_check": "on" if plan.version_check else "off"}
        if plan.version_check:
            data["settings"]["pip_page"] = sorted(plan.pips, key=lambda v: [int(p) for p in v.split(".")]) if (
                plan.pip_page) else []
        if any(plan.disks):
            data["settings"]["disk_load"] = {"chunk_mib": diskload.CHUNK_BYTES >> 20,
                                             "file_mib": (diskload.CHUNK_BYTES >> 20) * diskload.FILE_CHUNKS,
                                             "loaded_ways": list(LOADED_PIP_WAYS), "mib_per_second": bench.load_rates}
        data["pips"] = {workload.name: list(plan.pips_for(workload)) for workload in plan.workloads}
        data["trees_built"] = bench.trees_built()
        if bench.disk:
            data["disk"] = bench.disk
    else:
        data["settings"]["trees"] = "off"  # pipcachefirst's installed trees: the grid measures index work
    print()
    print(report.markdown(data))
    if output is not None:
        report.write(data, output, work)
    problems = request_problems(cells) + tree_problems(bench.trees_built())
    for problem in problems:
        print(f"bench: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
