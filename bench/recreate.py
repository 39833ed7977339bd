"""Re-create an environment end to end: creation plus install, five ways, warm caches.

- ``python -m venv X`` then ``X/bin/pip install -r W`` (pip as Python ships it, plain);
- ``pipcachefirst venv X -r W`` (virtualenv with the pipcachefirst seeder, then
  pip), as installed: each wheel's installed tree placed;
- the same with ``PIPCACHEFIRST_TREES=0`` (unzip and compile, as before trees);
- ``uv venv X`` then ``uv pip install --compile-bytecode --python X -r W``
  (the outside reference that leaves byte code, as pip does);
- ``uv venv X`` then ``uv pip install --python X -r W`` (no byte code: the floor).

Against the same delayed loopback index as ``bench.py`` (stale pages), each
with its own warm cache, interleaved (each run starts one way later), median
of several runs; the clock runs from "nothing there" to "installed" (the
venv before is set aside, not deleted: ``trash.py``).  Ratios are medians of
per-run ratios.  Goal: ``pipcachefirst venv`` at most 1.2× uv
with byte code.

    python3 bench/recreate.py [--runs 5] [--delay 0.1]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import trash  # noqa: E402
from tests.support.indexserver import IndexServer  # noqa: E402

PLAIN, OURS, TREES_OFF = "venv + pip", "pipcachefirst venv", "pipcachefirst venv, trees off"
UV_COMPILE, UV = "uv venv + uv pip --compile-bytecode", "uv venv + uv pip"
WAYS = (PLAIN, OURS, TREES_OFF, UV_COMPILE, UV)
# (numerator, denominator, goal or None): medians of per-run ratios
RATIOS = ((OURS, UV_COMPILE, 1.2), (OURS, PLAIN, None), (OURS, TREES_OFF, None))
DEFAULT_WORKLOAD = harness.WORKLOADS / "flask-celery.txt"


def tool_env(work: Path, wheel: Path) -> Path:
    """A venv holding pipcachefirst, virtualenv and uv: the user's base environment."""
    return harness.tool_venv(work, "recreate-tool", ["pip==26.3", "virtualenv", harness.UV_REQUIREMENT, str(wheel)])


def commands(way: str, tools: Path, target: Path, workload: Path, index: str) -> List[List[str]]:
    index_args = ["--index-url", index]
    pip_args = ["-q", "--disable-pip-version-check", "-r", str(workload), *index_args, "--trusted-host", "127.0.0.1"]
    if way == PLAIN:
        return [[str(tools / "python"), "-m", "venv", str(target)],
                [str(target / "bin" / "python"), "-m", "pip", "install", *pip_args]]
    if way in (OURS, TREES_OFF):
        return [[str(tools / "python"), "-m", "pipcachefirst", "venv", str(target), *pip_args]]
    compile_bytecode = ["--compile-bytecode"] if way == UV_COMPILE else []
    return [[str(tools / "uv"), "venv", "-q", str(target)],
            [str(tools / "uv"), "pip", "install", "-q", *compile_bytecode, "--python", str(target / "bin" / "python"),
             "-r", str(workload), *index_args]]


def slug(way: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in way).split())


def paired(times: Dict[str, List[float]], ours: str, other: str) -> List[float]:
    return [a / b for a, b in zip(times[ours], times[other])]


def middle_half(values: List[float]) -> str:
    if len(values) < 4:
        return ""
    low, _, high = statistics.quantiles(values, n=4)
    return f" ({low:.2f}–{high:.2f})"


def measure(
    work: Path, workload: Path, caches: Path, runs: int, delay: float
) -> Tuple[Dict[str, List[float]], Dict[str, List[int]]]:
    """Seconds and index requests of each way, in ``runs`` interleaved runs after one that warms every cache."""
    harness.publish(harness.workload_files(workload, work), work / "index")
    tools = tool_env(work, harness.product_wheel(work))
    server = IndexServer(work / "index", delay=delay).start()
    times: Dict[str, List[float]] = {way: [] for way in WAYS}
    requests: Dict[str, List[int]] = {way: [] for way in WAYS}
    trash.set_aside(caches)
    try:
        for run in range(-1, runs):  # run -1 warms every cache
            turn = run % len(WAYS)
            for way in WAYS[turn:] + WAYS[:turn]:
                target = work / "recreate-target"
                trash.set_aside(target)
                env = harness.environ({
                    "PIP_CACHE_DIR": str(caches / slug(way) / "pip"),
                    "UV_CACHE_DIR": str(caches / slug(way) / "uv"),
                    "VIRTUALENV_OVERRIDE_APP_DATA": str(caches / slug(way) / "virtualenv"),
                    "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
                    "PIPCACHEFIRST": "1" if way in (OURS, TREES_OFF) else "0",
                })
                if way == TREES_OFF:
                    env["PIPCACHEFIRST_TREES"] = "0"
                server.take_requests()
                seconds = sum(harness.timed(command, env)
                              for command in commands(way, tools, target, workload, server.index_url()))
                if run >= 0:
                    times[way].append(seconds)
                    requests[way].append(len(server.take_requests()))
            print(f"run {run + 1} of {runs} done", flush=True)
    finally:
        server.stop()
    return times, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--workload", type=Path, default=DEFAULT_WORKLOAD)
    parser.add_argument("--workdir", type=Path, default=harness.DEFAULT_WORKDIR)
    parser.add_argument("--output", type=Path, help="also write the table here")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    workload = args.workload.resolve()
    caches = work / "recreate-caches"
    with trash.in_use(work):
        times, requests = measure(work, workload, caches, args.runs, args.delay)
    lines = [
        harness.measured_on(shlex.join(["python3", "bench/recreate.py", *sys.argv[1:]])),
        "",
        f"Re-create a venv from `{workload.name}` end to end (creation plus install), warm caches, "
        f"{args.delay * 1000:.0f} ms per index request (stale pages), median of {args.runs} interleaved runs; "
        f"pipcachefirst's link mode {harness.link_mode(caches)}.",
        "",
        "| way | median s | min s | index requests |",
        "|---|---:|---:|---:|",
    ]
    for way in WAYS:
        lines.append(f"| {way} | {statistics.median(times[way]):.2f} | {min(times[way]):.2f} | "
                     f"{statistics.median(requests[way]):g} |")
    lines += ["", "| ratio | median of per-run ratios (middle half) |", "|---|---:|"]
    for ours, other, goal in RATIOS:
        ratios = paired(times, ours, other)
        ratio = round(statistics.median(ratios), 2)
        figure = f"**{ratio:.2f}**" if goal is not None and ratio > goal else f"{ratio:.2f}"
        name = f"{ours} ÷ {other}" + (f" (goal ≤ {goal})" if goal is not None else "")
        lines.append(f"| {name} | {figure}{middle_half(ratios)} |")
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    if args.output:
        args.output.write_text(table)


if __name__ == "__main__":
    main()
