"""The performance report: warm re-installs over index delay, pip version and workload.

For every workload, index delay and pip version (a *cell*), each run installs
the workload into a fresh venv three ways, all with warm caches, against a
loopback index that adds the delay to every request:

- **plain pip**: pipcachefirst off (``PIPCACHEFIRST=0``); pip's HTTP and wheel
  caches warm, so it only revalidates pages;
- **pipcachefirst**: the same command with its cache warm;
- **bound**: ``pip install --no-index --find-links <the same files>``, plain
  pip with no index at all: the lower bound;

and once per workload and delay, ``uv pip install`` with its own warm cache,
the outside reference (it does not depend on the pip version).  Each way has
a cache of its own, as a user of that tool would.

Index pages are stale (``max-age=0``, like a private index, or PyPI's pages
after ten minutes); one more row has fresh pages (``max-age=600``, as PyPI
sends them) for pip 26.3, which then asks the index nothing by itself.

All installs of one workload at one delay are interleaved, run after run:
the pip versions (and uv) take turns going first, and within a pip version
pipcachefirst runs in the middle, right after plain pip or the bound by
turns, so that each comparison is between two installs made back to back
(this machine has slow and fast phases of a few seconds).  A short workload
gets more runs, so that every cell is measured for about as long.  A first
run per workload and page freshness warms the caches and is not counted.
The raw timings and request counts go to ``report.json``; ``report.py``
renders them.

    python3 bench/bench.py                  # the full report into bench/results/ and README (about an hour)
    python3 bench/bench.py --quick          # pip 26.3 at 100 ms, one run: the demo
    python3 bench/bench.py --smoke --output-dir DIR    # what CI runs: two pins, pip 26.3, one delay, one run
    python3 bench/bench.py --workload bench/workloads/sdist-only.txt --delay 300 --pip 24.3.1 --runs 9 --output-dir DIR
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import report  # noqa: E402
from tests.support.indexserver import IndexServer  # noqa: E402

PIP_WAYS = ("plain pip", "pipcachefirst", "bound")
UV = "uv"
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
# Counted runs per cell: an sdist-only install takes a third of a flask-celery
# one and varies as much in absolute terms, so it gets more runs.
RUNS = {"flask-celery.txt": 9, "sdist-only.txt": 21}
DEFAULT_RUNS = 9


@dataclass(frozen=True)
class Conditions:
    """One workload on an index with one delay and page freshness: installs measured together."""

    workload: Path
    delay_ms: int
    fresh_pages: bool = False


@dataclass
class Cell:
    """One way of installing under some conditions: a timing and a request count per run."""

    workload: str
    delay_ms: int
    pages: str
    pip: Optional[str]
    way: str
    seconds: List[float] = field(default_factory=list)
    requests: List[int] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """What one invocation measures."""

    workloads: Tuple[Path, ...] = WORKLOADS
    delays_ms: Tuple[int, ...] = DELAYS_MS
    pips: Tuple[str, ...] = PIPS
    runs: Optional[int] = None  # None: RUNS
    with_uv: bool = True
    with_fresh_pages: bool = True

    def runs_for(self, workload: Path) -> int:
        return self.runs if self.runs is not None else RUNS.get(workload.name, DEFAULT_RUNS)

    def is_full_report(self) -> bool:
        return self == Plan(runs=self.runs) and (self.runs is None or self.runs >= 5)

    def conditions(self) -> Iterator[Conditions]:
        for workload in self.workloads:
            for delay in self.delays_ms:
                yield Conditions(workload, delay)
            if self.with_fresh_pages and FRESH_PAGES_PIP in self.pips:
                yield Conditions(workload, FRESH_PAGES_DELAY_MS, fresh_pages=True)

    def order(self, conditions: Conditions, run: int) -> List[Tuple[Optional[str], str]]:
        """The installs of one run, as (pip, way) with pip None for uv, in the order they run."""
        pips = (FRESH_PAGES_PIP,) if conditions.fresh_pages else self.pips
        groups = [[(pip, way) for way in (PIP_WAYS if run % 2 else PIP_WAYS[::-1])] for pip in pips]
        if self.with_uv:
            groups.append([(None, UV)])
        turn = run % len(groups)
        return [way for group in groups[turn:] + groups[:turn] for way in group]


class Bench:
    """The tools and caches for a whole invocation, and the index they all talk to."""

    def __init__(self, plan: Plan, work: Path) -> None:
        self.plan = plan
        self.work = work
        self.server = IndexServer(work / "index")
        wheel = harness.product_wheel(work)
        self.tools = {pip: harness.tool_venv(work, f"tool-pip-{pip}", [f"pip=={pip}", str(wheel)]) for pip in plan.pips}
        self.uv = harness.tool_venv(work, "tool-uv", [harness.UV_REQUIREMENT]) if plan.with_uv else None
        self.target = work / "target"
        self.templates = {pip: harness.target_template(self.tools[pip] / "python", self.target) for pip in plan.pips}
        self.caches = work / "caches"
        shutil.rmtree(self.caches, ignore_errors=True)  # every invocation starts from the same state
        self.warm: Set[Tuple[Path, bool]] = set()
        self.files: Dict[Path, Path] = {}
        for workload in plan.workloads:
            self.files[workload] = harness.workload_files(workload, work)
            harness.publish(self.files[workload], work / "index")

    def measure(self) -> List[Cell]:
        cells: List[Cell] = []
        self.server.start()
        try:
            for conditions in self.plan.conditions():
                cells.extend(self._measure(conditions))
        finally:
            self.server.stop()
        return cells

    def _measure(self, conditions: Conditions) -> List[Cell]:
        self.server.delay = conditions.delay_ms / 1000
        self.server.page_max_age = FRESH_MAX_AGE if conditions.fresh_pages else 0
        pages = "fresh" if conditions.fresh_pages else "stale"
        cells = {w: Cell(conditions.workload.name, conditions.delay_ms, pages, w[0], w[1])
                 for w in self.plan.order(conditions, 0)}
        label = f"{conditions.workload.name} at {conditions.delay_ms} ms, {pages} pages"
        runs = self.plan.runs_for(conditions.workload)
        warm_key = (conditions.workload, conditions.fresh_pages)  # fresh pages: pip must see them once
        first = 0 if warm_key in self.warm else -1  # run -1 warms the caches and is not counted
        self.warm.add(warm_key)
        for run in range(first, runs):
            for way in self.plan.order(conditions, run):
                seconds, requests = self._install(conditions.workload, *way)
                if run >= 0:
                    cells[way].seconds.append(round(seconds, 4))
                    cells[way].requests.append(requests)
            print(f"{label}: {'warm-up' if run < 0 else f'run {run + 1} of {runs}'} done", flush=True)
        return list(cells.values())

    def _install(self, workload: Path, pip: Optional[str], way: str) -> Tuple[float, int]:
        """Install ``workload`` into a fresh venv; seconds and index requests."""
        index = ["--index-url", self.server.index_url()]
        if pip is None:
            python = harness.venv_without_pip(self.target)
            env = harness.environ({"UV_CACHE_DIR": str(self.caches / "uv")})
            command = [str(self.uv / "uv"), "pip", "install", "-q", "--python", str(python), "-r", str(workload)]
            command += index
        else:
            python = harness.fresh_target(self.templates[pip], self.target)
            env = harness.environ({"PIP_CACHE_DIR": str(self.caches / pip / way)})
            if way != "pipcachefirst":
                env["PIPCACHEFIRST"] = "0"
            command = [str(python), "-m", "pip", "install", "-q", "-r", str(workload)]
            if way == "bound":
                command += ["--no-index", "--find-links", str(self.files[workload])]
            else:  # --trusted-host: pip caches files from a plain-http host only then
                command += [*index, "--trusted-host", "127.0.0.1"]
        self.server.take_requests()
        seconds = harness.timed(command, env)
        return seconds, len(self.server.take_requests())

    def versions(self) -> Dict[str, str]:
        versions = {"pipcachefirst": harness.tool_version(next(iter(self.tools.values())), "pipcachefirst")}
        git = ["git", "-C", str(harness.REPO)]
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        if commit:
            changed = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True).stdout
            versions["pipcachefirst"] += f" (commit {commit}{', with changes' if changed.strip() else ''})"
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


def request_problems(cells: Sequence[Cell]) -> List[str]:
    """Request counts that contradict what the report is about: each a one-line reason."""
    problems = []
    for cell in cells:
        who = f"pip {cell.pip} {cell.way}" if cell.pip else cell.way
        where = f"{cell.workload}, {cell.delay_ms} ms, {cell.pages} pages, {who}"
        if cell.way in ("pipcachefirst", "bound") and any(cell.requests):
            problems.append(f"{where}: {max(cell.requests)} index requests, expected none")
        if cell.way == "plain pip" and cell.pages == "stale" and not all(cell.requests):
            problems.append(f"{where}: an install without index requests, expected one per pin")
        if cell.way == "plain pip" and cell.pages == "fresh" and any(cell.requests):
            problems.append(f"{where}: {max(cell.requests)} index requests on fresh pages, expected none "
                            f"(pages gone stale during the runs?)")
    return problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path, action="append", help="requirements file (repeatable)")
    parser.add_argument("--delay", type=int, action="append", help="ms added to every index request (repeatable)")
    parser.add_argument("--pip", action="append", help="pip version (repeatable)")
    parser.add_argument("--runs", type=int, help="counted runs per cell (default: 9 for flask-celery, 21 for "
                        "sdist-only)")
    parser.add_argument("--no-uv", action="store_true", help="leave out uv")
    parser.add_argument("--no-fresh-pages", action="store_true", help="leave out the fresh-pages row")
    parser.add_argument("--quick", action="store_true", help="pip 26.3, flask-celery, 100 ms, one run: the demo")
    parser.add_argument("--smoke", action="store_true", help="smoke.txt (one sdist, one wheel), pip 26.3, 100 ms, "
                        "one run, every way: what CI runs")
    parser.add_argument("--workdir", type=Path, default=harness.DEFAULT_WORKDIR)
    parser.add_argument("--output-dir", type=Path, help="where report.json/.md/.png go (default: bench/results "
                        "for the full report, which also updates README.md; nowhere for --quick)")
    args = parser.parse_args(argv)

    if args.quick:
        plan = Plan((WORKLOADS[0],), (100,), ("26.3",), 1, with_uv=False, with_fresh_pages=False)
    elif args.smoke:
        plan = Plan((SMOKE_WORKLOAD,), (100,), (PIPS[-1],), 1, with_fresh_pages=False)
    else:
        plan = Plan(
            tuple(w.resolve() for w in args.workload or WORKLOADS),
            tuple(args.delay or DELAYS_MS),
            tuple(args.pip or PIPS),
            args.runs,
            with_uv=not args.no_uv,
            with_fresh_pages=not args.no_fresh_pages,
        )
    if plan.runs is not None and plan.runs < 1:
        parser.error("--runs must be at least 1")
    output = args.output_dir or (report.RESULTS if plan.is_full_report() else None)
    if output is not None and report.is_committed_report(output) and not plan.is_full_report():
        parser.error(f"{report.RESULTS} holds the full report only: give another --output-dir")
    if args.smoke and output is None:
        parser.error("--smoke needs --output-dir")

    started = time.monotonic()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(plan, work)
    cells = bench.measure()
    data = {
        "date": datetime.date.today().isoformat(),
        "command": shlex.join(["python3", "bench/bench.py", *(sys.argv[1:] if argv is None else argv)]),
        "runs": {workload.name: plan.runs_for(workload) for workload in plan.workloads},
        "machine": harness.machine(),
        "versions": bench.versions(),
        "workloads": bench.workload_facts(),
        "settings": {"fresh_max_age": FRESH_MAX_AGE, "target": report.TARGET},
        "minutes": round((time.monotonic() - started) / 60),
        "cells": [asdict(cell) for cell in cells],
    }
    print()
    print(report.markdown(data))
    if output is not None:
        report.write(data, output, work)
    problems = request_problems(cells)
    for problem in problems:
        print(f"bench: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
