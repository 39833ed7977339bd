"""Re-create a venv from a pinned requirements file with warm caches: plain pip, pipcachefirst, the bound.

Against a loopback index that adds a delay to every request (default 100 ms,
like a remote index) and whose pages are always stale (``max-age=0``, like a
private index or PyPI after ten minutes), each timed run installs the
workload into a fresh venv three ways:

- **plain pip**: ``PIPCACHEFIRST=0``; pip's HTTP cache is warm (``--trusted-host``
  lets it cache files from a plain-http host), so it only revalidates pages;
- **pipcachefirst**: the same command with pipcachefirst on and its cache warm;
- **bound**: ``pip install --no-index --find-links <the same files>``, what pip
  does with no index at all: the lower bound.

Modes are interleaved run by run (order rotating), and the figures are
medians from this one run, so they compare like with like on a noisy machine.

    python3 bench/bench.py                   # pip 26.3 and 23.2.1, 5 runs
    python3 bench/bench.py --quick           # pip 26.3, 1 run: the demo
    python3 bench/bench.py --pip 24.3.1 --delay 0.3 --runs 7 --output table.md

Setup needs PyPI once (pip, wrapt, packaging, hatchling, the workload's files);
everything timed talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.envs import isolated_environ  # noqa: E402
from tests.support.indexserver import IndexServer  # noqa: E402

DEFAULT_WORKLOAD = REPO.parent / "shared" / "workloads" / "flask-celery.txt"
MODES = ("plain pip", "pipcachefirst", "bound")
TARGET = 1.05


@dataclass
class Cell:
    """Timings and request counts of one (pip version, mode)."""

    seconds: List[float] = field(default_factory=list)
    requests: List[int] = field(default_factory=list)


def _run(command: Sequence[str], env: Dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(command), env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{proc.stdout}\n{proc.stderr}")
    return proc


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def prepare_files(workload: Path, work: Path) -> Path:
    """Download the workload's files once and lay them out as an index."""
    files = work / "files"
    if not files.is_dir() or not any(files.iterdir()):
        print(f"downloading the files of {workload.name} from PyPI (once)...", flush=True)
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-r", str(workload), "-d", str(files)],
             isolated_environ())
    index = work / "index" / "main"
    shutil.rmtree(index, ignore_errors=True)
    for path in files.iterdir():
        name = path.name.split("-")[0] if path.suffix == ".whl" else path.name.rsplit("-", 1)[0]
        project = index / _canonical(name)
        project.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, project / path.name)
    return files


def product_wheel(work: Path) -> Path:
    """pipcachefirst built from this checkout."""
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)], isolated_environ())
    return next(wheels.glob("pipcachefirst-*.whl"))


def tool_venv(work: Path, pip_version: str, wheel: Path) -> Path:
    """A venv holding pip ``pip_version`` and pipcachefirst: the template for every target venv."""
    venv = work / f"tool-pip-{pip_version}"
    shutil.rmtree(venv, ignore_errors=True)
    env = isolated_environ()
    _run([sys.executable, "-m", "venv", str(venv)], env)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", f"pip=={pip_version}"], env)
    _run([str(python), "-m", "pip", "install", "-q", str(wheel)], env)
    return python


def fresh_target(tool_python: Path, path: Path) -> Path:
    """A new venv with the tool venv's pip and pipcachefirst (as installed files, byte-compiled)."""
    shutil.rmtree(path, ignore_errors=True)
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "from tests.support.envs import create_venv; v = create_venv(Path(sys.argv[1]));"
        "import compileall; compileall.compile_dir(str(v.site_packages), quiet=1)"
    )
    _run([str(tool_python), "-c", code, str(path), str(REPO)], isolated_environ())
    return path / "bin" / "python"


def install_command(python: Path, mode: str, workload: Path, server: IndexServer, files: Path) -> List[str]:
    command = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(workload)]
    if mode == "bound":
        return command + ["--no-index", "--find-links", str(files)]
    return command + ["--index-url", server.index_url(), "--trusted-host", "127.0.0.1"]


def measure(
    pip_versions: Sequence[str], workload: Path, work: Path, delay: float, runs: int
) -> Dict[str, Dict[str, Cell]]:
    files = prepare_files(workload, work)
    wheel = product_wheel(work)
    server = IndexServer(work / "index", delay=delay).start()
    results: Dict[str, Dict[str, Cell]] = {}
    try:
        for pip_version in pip_versions:
            print(f"pip {pip_version}: setting up", flush=True)
            tool = tool_venv(work, pip_version, wheel)
            cache = work / f"pip-cache-{pip_version}"
            shutil.rmtree(cache, ignore_errors=True)
            cells = {mode: Cell() for mode in MODES}
            for run in range(-1, runs):  # run -1 warms the caches and is not counted
                order = MODES[run % len(MODES):] + MODES[: run % len(MODES)]
                for mode in order:
                    target = fresh_target(tool, work / "target")
                    env = isolated_environ({"PIP_CACHE_DIR": str(cache)})
                    if mode == "plain pip":
                        env["PIPCACHEFIRST"] = "0"
                    command = install_command(target, mode, workload, server, files)
                    server.take_requests()
                    start = time.perf_counter()
                    _run(command, env)
                    elapsed = time.perf_counter() - start
                    requests = len(server.take_requests())
                    if run >= 0:
                        cells[mode].seconds.append(elapsed)
                        cells[mode].requests.append(requests)
                print(f"pip {pip_version}: run {run + 1} of {runs} done", flush=True)
            results[pip_version] = cells
    finally:
        server.stop()
    return results


def report(results: Dict[str, Dict[str, Cell]], workload: Path, delay: float, runs: int) -> str:
    lines = [
        f"Workload `{workload.name}`, loopback index with {delay * 1000:.0f} ms per request and stale pages, "
        f"warm caches; median of {runs} interleaved run(s) per cell. Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores.",
        "",
        "| pip | mode | median s | min s | × bound | index requests per install |",
        "|---|---|---:|---:|---:|---:|",
    ]
    verdicts = []
    for pip_version, cells in results.items():
        bound = statistics.median(cells["bound"].seconds)
        for mode in MODES:
            cell = cells[mode]
            median = statistics.median(cell.seconds)
            requests = statistics.median(cell.requests)
            lines.append(
                f"| {pip_version} | {mode} | {median:.2f} | {min(cell.seconds):.2f} | {median / bound:.2f} | "
                f"{requests:g} |"
            )
        ratio = statistics.median(cells["pipcachefirst"].seconds) / bound
        zero = max(cells["pipcachefirst"].requests) == 0
        met = "met" if ratio <= TARGET and zero else "NOT met"
        verdicts.append(
            f"pip {pip_version}: pipcachefirst / bound = {ratio:.2f} with "
            f"{max(cells['pipcachefirst'].requests)} index requests (target ≤ {TARGET} and 0): {met}"
        )
    return "\n".join(lines + [""] + verdicts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip", action="append", dest="pips", help="pip version (repeatable)")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds added to every index request")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workload", type=Path, default=DEFAULT_WORKLOAD)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / "work")
    parser.add_argument("--output", type=Path, help="also write the table here")
    parser.add_argument("--quick", action="store_true", help="pip 26.3, one run: shows the main job")
    args = parser.parse_args()
    if args.quick:
        args.pips, args.runs = args.pips or ["26.3"], 1
    pips = args.pips or ["26.3", "23.2.1"]
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = measure(pips, args.workload.resolve(), args.workdir.resolve(), args.delay, args.runs)
    table = report(results, args.workload, args.delay, args.runs)
    print()
    print(table)
    if args.output:
        args.output.write_text(table)


if __name__ == "__main__":
    main()
