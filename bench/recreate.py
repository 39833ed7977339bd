"""Re-create an environment end to end: creation plus install, three ways, warm caches.

- ``python -m venv X`` then ``X/bin/pip install -r W`` (pip as Python ships it, plain);
- ``pipcachefirst venv X -r W`` (virtualenv with the pipcachefirst seeder, then pip);
- ``uv venv X`` then ``uv pip install --python X -r W`` (the outside reference).

Against the same delayed loopback index as ``bench.py`` (stale pages), each
with its own warm cache, interleaved, median of several runs; the clock runs
from "nothing there" to "installed".

    python3 bench/recreate.py [--runs 5] [--delay 0.1]
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import sys
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from tests.support.indexserver import IndexServer  # noqa: E402

WAYS = ("venv + pip", "pipcachefirst venv", "uv venv + uv pip")
DEFAULT_WORKLOAD = harness.WORKLOADS / "flask-celery.txt"


def tool_env(work: Path, wheel: Path) -> Path:
    """A venv holding pipcachefirst, virtualenv and uv: the user's base environment."""
    return harness.tool_venv(work, "recreate-tool", ["pip==26.3", "virtualenv", harness.UV_REQUIREMENT, str(wheel)])


def commands(way: str, tools: Path, target: Path, workload: Path, index: str) -> List[List[str]]:
    index_args = ["--index-url", index]
    pip_args = ["-q", "--disable-pip-version-check", "-r", str(workload), *index_args, "--trusted-host", "127.0.0.1"]
    if way == "venv + pip":
        return [[str(tools / "python"), "-m", "venv", str(target)],
                [str(target / "bin" / "python"), "-m", "pip", "install", *pip_args]]
    if way == "pipcachefirst venv":
        return [[str(tools / "python"), "-m", "pipcachefirst", "venv", str(target), *pip_args]]
    return [[str(tools / "uv"), "venv", "-q", str(target)],
            [str(tools / "uv"), "pip", "install", "-q", "--python", str(target / "bin" / "python"), "-r",
             str(workload), *index_args]]


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
    harness.publish(harness.workload_files(workload, work), work / "index")
    tools = tool_env(work, harness.product_wheel(work))
    server = IndexServer(work / "index", delay=args.delay).start()
    times: Dict[str, List[float]] = {way: [] for way in WAYS}
    requests: Dict[str, List[int]] = {way: [] for way in WAYS}
    caches = work / "recreate-caches"
    shutil.rmtree(caches, ignore_errors=True)
    try:
        for run in range(-1, args.runs):  # run -1 warms every cache
            for way in WAYS[run % 3:] + WAYS[: run % 3]:
                target = work / "recreate-target"
                shutil.rmtree(target, ignore_errors=True)
                env = harness.environ({
                    "PIP_CACHE_DIR": str(caches / way / "pip"),
                    "UV_CACHE_DIR": str(caches / way / "uv"),
                    "VIRTUALENV_OVERRIDE_APP_DATA": str(caches / way / "virtualenv"),
                    "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
                    "PIPCACHEFIRST": "1" if way == "pipcachefirst venv" else "0",
                })
                server.take_requests()
                seconds = sum(harness.timed(command, env)
                              for command in commands(way, tools, target, workload, server.index_url()))
                if run >= 0:
                    times[way].append(seconds)
                    requests[way].append(len(server.take_requests()))
            print(f"run {run + 1} of {args.runs} done", flush=True)
    finally:
        server.stop()
    lines = [
        harness.measured_on(shlex.join(["python3", "bench/recreate.py", *sys.argv[1:]])),
        "",
        f"Re-create a venv from `{workload.name}` end to end (creation plus install), warm caches, "
        f"{args.delay * 1000:.0f} ms per index request, median of {args.runs} interleaved runs.",
        "",
        "| way | median s | min s | index requests |",
        "|---|---:|---:|---:|",
    ]
    for way in WAYS:
        lines.append(f"| {way} | {statistics.median(times[way]):.2f} | {min(times[way]):.2f} | "
                     f"{statistics.median(requests[way]):g} |")
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    if args.output:
        args.output.write_text(table)


if __name__ == "__main__":
    main()
