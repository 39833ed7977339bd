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
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import DEFAULT_WORKLOAD, REPO, _run, prepare_files, product_wheel  # noqa: E402
from tests.support.envs import isolated_environ  # noqa: E402
from tests.support.indexserver import IndexServer  # noqa: E402

WAYS = ("venv + pip", "pipcachefirst venv", "uv venv + uv pip")


def tool_env(work: Path, wheel: Path) -> Path:
    """A venv holding pipcachefirst, virtualenv and uv: the user's base environment."""
    venv = work / "recreate-tool"
    if not (venv / "bin" / "uv").exists():
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)], isolated_environ())
        _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "pip==26.3", "virtualenv", "uv"],
             isolated_environ())
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--force-reinstall", str(wheel)],
         isolated_environ())
    return venv / "bin"


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
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / "work")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    prepare_files(args.workload.resolve(), work)
    tools = tool_env(work, product_wheel(work))
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
                env = isolated_environ({
                    "PIP_CACHE_DIR": str(caches / "pip"),
                    "UV_CACHE_DIR": str(caches / "uv"),
                    "VIRTUALENV_OVERRIDE_APP_DATA": str(caches / "virtualenv"),
                    "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
                    "PIPCACHEFIRST": "1" if way == "pipcachefirst venv" else "0",
                })
                server.take_requests()
                start = time.perf_counter()
                for command in commands(way, tools, target, args.workload.resolve(), server.index_url()):
                    _run(command, env)
                if run >= 0:
                    times[way].append(time.perf_counter() - start)
                    requests[way].append(len(server.take_requests()))
            print(f"run {run + 1} of {args.runs} done", flush=True)
    finally:
        server.stop()
    print(f"\nRe-create a venv from `{args.workload.name}` end to end, warm caches, {args.delay * 1000:.0f} ms "
          f"per index request, median of {args.runs} interleaved runs.\n")
    print("| way | median s | min s | index requests |")
    print("|---|---:|---:|---:|")
    for way in WAYS:
        print(f"| {way} | {statistics.median(times[way]):.2f} | {min(times[way]):.2f} | "
              f"{statistics.median(requests[way]):g} |")


if __name__ == "__main__":
    main()
