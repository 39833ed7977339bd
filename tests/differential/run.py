"""One command: fetch what the corpus needs (once), then run every (lock, pip) cell both ways and compare.

    python3 -m tests.differential [--ci] [--pip 22.3.1 ...] [--lock SLUG ...] [--files-dir DIR] [--keep]

Setup (PyPI): the pipcachefirst wheel of this checkout, a tool venv per
(Python, pip), and each lock's files through the recording proxy, skipped for
locks already fetched.  Run (127.0.0.1 only): per cell, plain pip and
pipcachefirst, each with its own empty pip cache, install the lock twice into
fresh venvs, then freeze, check and ``pip download`` it; ``compare`` says
what differs.  The last line is ``N passed, M failed``; exit status 1 if any
cell failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from bench.harness import product_wheel
from tests.differential import bytecode
from tests.differential.bytecode import ByteCode
from tests.differential.compare import Cell, compare
from tests.differential.corpus import CORPUS_DIR, Lock, discover, select
from tests.differential.fetch import RecordingProxy, fetch_lock, stamp_path
from tests.differential.observe import Side, Step, site_packages
from tests.differential.pythons import CI_PIPS, FULL_PIPS, find_python, pip_runs_on
from tests.differential.report import Outcome, Report
from tests.differential.venvs import Toolbox, ToolError
from tests.support.indexserver import IndexServer

ENV_DIR = "PIPCACHEFIRST_DIFFERENTIAL_DIR"


def default_files_dir() -> Path:
    """Outside the repository, so that a clean checkout or ``git clean`` keeps the fetched files."""
    return Path(os.environ.get(ENV_DIR) or Path.home() / ".cache" / "pipcachefirst-differential")


def default_scratch(files_dir: Path) -> Path:
    """Where cells' venvs and pip caches live while they run: a tmpfs when there is a roomy one.

    Deleting a cell's thousands of files on a small VM's disk takes up to half a
    minute (longer than the cell), and their write-back would land in the next
    cell's timed installs.  Both sides share the folder, so the comparison is fair
    either way; /dev/shm is used only when it allows executables (C extensions
    the locks install are loaded from there) and has 4 GiB free.
    """
    shm = Path("/dev/shm")
    try:
        stat = os.statvfs(shm)
        roomy = stat.f_bavail * stat.f_frsize >= 4 * 2**30
        if roomy and not stat.f_flag & getattr(os, "ST_NOEXEC", 8) and os.access(shm, os.W_OK):
            return shm / "pipcachefirst-differential"
    except OSError:
        pass
    return files_dir / "scratch"


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.differential", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ci", action="store_true", help="only locks with ci=yes; default pips " + ", ".join(CI_PIPS))
    parser.add_argument(
        "--pip",
        action="append",
        default=[],
        metavar="VERSION",
        help="pip version to run (repeatable); default " + ", ".join(FULL_PIPS),
    )
    parser.add_argument("--lock", action="append", default=[], metavar="SLUG", help="only this lock (repeatable)")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="folder of locks (default: %(default)s)")
    parser.add_argument(
        "--files-dir",
        type=Path,
        default=None,
        help=f"fetched files, tool venvs, runs (default: ${ENV_DIR} or ~/.cache/pipcachefirst-differential)",
    )
    parser.add_argument("--output", type=Path, default=None, help="report folder (default: FILES_DIR/runs/<time>)")
    parser.add_argument(
        "--wheel",
        type=Path,
        default=None,
        help="a pipcachefirst wheel to test instead of building this checkout's (e.g. an older commit's)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=None,
        help="where cells' venvs and caches live (default: /dev/shm when roomy, else FILES_DIR/scratch)",
    )
    parser.add_argument("--keep", action="store_true", help="keep every cell's venvs, caches and logs")
    return parser.parse_args(argv)


def plan(locks: Sequence[Lock], pips: Sequence[str]) -> Tuple[List[Tuple[Lock, str, str]], List[str]]:
    """The (lock, pip, python executable) cells that can run here, and why the others cannot."""
    cells, skipped = [], []
    for lock in locks:
        exe = find_python(lock.python)
        if exe is None:
            skipped.append(f"{lock.slug}: Python {lock.python} not found on this machine (all pips)")
            continue
        for pip in pips:
            reason = pip_runs_on(pip, lock.python)
            if reason:
                skipped.append(f"{lock.slug} pip {pip}: {reason} (the lock is for Python {lock.python})")
            else:
                cells.append((lock, pip, exe))
    return cells, skipped


def setup(
    cells: List[Tuple[Lock, str, str]], files_dir: Path, toolbox: Toolbox, scratch: Path, report: Report
) -> List[Tuple[Lock, str, str]]:
    """Everything that needs PyPI; returns the cells whose tool venvs could be made."""
    ready = []
    for lock, pip, exe in cells:
        try:
            toolbox.template(exe, lock.python, pip, "plain")
            toolbox.template(exe, lock.python, pip, "pcf")
            ready.append((lock, pip, exe))
        except ToolError as exc:
            report.skipped.append(f"{lock.slug} pip {pip}: {exc}")
    proxy = RecordingProxy(files_dir / "index").start()
    try:
        seen = set()
        for lock, _pip, exe in ready:
            if lock.path in seen:
                continue
            seen.add(lock.path)
            if not stamp_path(files_dir, lock).exists():
                print(f"setup: fetching the files of {lock.slug} (Python {lock.python})...", flush=True)
            try:
                problems = fetch_lock(lock, exe, files_dir, toolbox, proxy, scratch)
            except ToolError as exc:
                problems = [str(exc)]
            report.setup_problems += [f"{lock.slug}: {p}" for p in problems]
        if proxy.stored:
            print(f"setup: stored {len(proxy.stored)} new files from PyPI", flush=True)
    finally:
        proxy.stop()
    return ready


def run_cell(lock: Lock, pip: str, exe: str, toolbox: Toolbox, server: IndexServer, work: Path, logs: Path) -> Cell:
    """Both sides of one cell.

    The first installs (cold caches) run side by side, as do the downloads,
    the dry runs and the byte code probes: neither their requests nor their
    times are compared, and this halves a cell on two cores.  The second
    installs, which are timed and whose index requests are counted, run one
    after the other with nothing else running.
    """
    sides = {name: Side(name, work / name, logs / name, lock, server) for name in ("plain", "pcf")}
    product_dists = toolbox.side_dists(exe, lock.python, pip, "pcf")[1:]
    pythons = {}
    for name, side in sides.items():
        side.logs.mkdir(parents=True, exist_ok=True)
        pythons[name] = toolbox.fresh(exe, lock.python, pip, name, side.root / "venv-a")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(side.install, pythons[name], "install1", False) for name, side in sides.items()}
        first = {name: future.result() for name, future in futures.items()}
    for name, side in sides.items():
        pythons[name] = toolbox.fresh(exe, lock.python, pip, name, side.root / "venv-b")
    second = {name: side.install(pythons[name], "install2") for name, side in sides.items()}
    dry_pythons = {
        name: toolbox.fresh(exe, lock.python, pip, name, side.root / "venv-c") for name, side in sides.items()
    }

    def download_then_dry_run(name: str) -> Tuple[Step, Step]:
        side = sides[name]
        return side.download(pythons[name], False), side.dry_run(dry_pythons[name], False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = {name: pool.submit(download_then_dry_run, name) for name in sides}
        after = {name: future.result() for name, future in pending.items()}
    results = {
        name: side.finish(pythons[name], side.root / "venv-b", first[name], second[name], after[name][0])
        for name, side in sides.items()
    }
    scans = probe_bytecode(sides, pythons, ["pip", *product_dists])
    for name, side in sides.items():
        results[name].dry_run = after[name][1]
        results[name].dry_run_report = side.read_report()
        results[name].bytecode = scans[name]
    return Cell(lock.slug, pip, lock.python, results["plain"], results["pcf"], product_dists)


def probe_bytecode(sides: Dict[str, Side], pythons: Dict[str, Path], excluded: List[str]) -> Dict[str, ByteCode]:
    """Venv B's pycs on each side, then the imports of plain pip's list of modules on each side (side by side)."""
    site = {name: site_packages(side.root / "venv-b") for name, side in sides.items()}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        scanning = {
            name: pool.submit(bytecode.scan, pythons[name], site[name], excluded, side.root / "cwd")
            for name, side in sides.items()
        }
        scans = {name: future.result() for name, future in scanning.items()}
        units = scans["plain"].units  # what imports with plain pip must import with pipcachefirst
        importing = {
            name: pool.submit(bytecode.import_all, pythons[name], site[name], units, side.root / "cwd")
            for name, side in sides.items()
        }
        for name, future in importing.items():
            scans[name].imports = future.result()
            scans[name].seconds = time.monotonic() - started
    return scans


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    files_dir = (args.files_dir or default_files_dir()).expanduser().resolve()
    locks, missing = select(discover(args.corpus), args.ci, args.lock)
    if missing:
        print(f"no such lock in {args.corpus}: {', '.join(missing)}", file=sys.stderr)
        return 2
    pips = args.pip or list(CI_PIPS if args.ci else FULL_PIPS)
    run_id = time.strftime("%Y%m%d-%H%M%S")
    output = (args.output or files_dir / "runs" / run_id).resolve()
    scratch = (args.scratch or default_scratch(files_dir)).resolve() / run_id
    scratch.mkdir(parents=True, exist_ok=True)
    report = Report()
    print(f"{len(locks)} locks from {args.corpus}, pips {', '.join(pips)}; files in {files_dir}", flush=True)

    cells, report.skipped = plan(locks, pips)
    wheel = args.wheel.resolve() if args.wheel else product_wheel(files_dir / "tools")
    toolbox = Toolbox(files_dir / "tools", scratch, wheel)
    cells = setup(cells, files_dir, toolbox, scratch, report)
    report.setup_seconds = time.monotonic() - started
    print(f"setup done in {report.setup_seconds:.0f} s; {len(cells)} cells to run", flush=True)

    server = IndexServer(files_dir / "index").start()  # stale pages (max-age=0): pip asks on every run
    try:
        for lock, pip, exe in cells:
            work = scratch / f"{lock.slug}-pip{pip}"
            logs = output / "cells" / f"{lock.slug}-pip{pip}"
            outcome = Outcome(lock.slug, pip, lock.python, [], logs=str(logs))
            cell_started = time.monotonic()
            try:
                outcome.cell = run_cell(lock, pip, exe, toolbox, server, work, logs)
                outcome.differences = compare(outcome.cell)
            except Exception as exc:  # noqa: BLE001 - one broken cell must not hide the others
                outcome.error = traceback.format_exc()
                outcome.differences = [
                    f"{lock.slug} pip {pip} (Python {lock.python}): harness error: {type(exc).__name__}: {exc}"
                ]
            outcome.seconds = round(time.monotonic() - cell_started, 1)
            report.outcomes.append(outcome)
            c = outcome.cell
            timing = f"second install {c.plain.install2.seconds:.2f}s vs {c.pcf.install2.seconds:.2f}s" if c else ""
            timing += f" (cell {outcome.seconds:.0f}s)"
            print(
                f"{'pass' if outcome.passed else 'FAIL'}  {lock.slug} pip {pip} (Python {lock.python}) {timing}",
                flush=True,
            )
            for line in outcome.differences:
                print(f"    {line}", flush=True)
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
                if outcome.passed:
                    shutil.rmtree(logs, ignore_errors=True)
                    outcome.logs = ""
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    report.run_seconds = time.monotonic() - started - report.setup_seconds
    report.write(output)
    print()
    print(report.text())
    print(f"report: {output / 'report.txt'} and report.json")
    print(report.summary())
    return 0 if all(o.passed for o in report.outcomes) else 1
