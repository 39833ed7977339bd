"""How fast ``pipcachefirst status`` and ``why`` answer on a cache of 10,000 files.

Builds (once, under the work folder) a cache of N small wheels spread over
N/10 projects with the store's own ``put``, then times each command in a
fresh process, median of several runs, plus ``python -c pass`` and
``python -m pip --version`` from the same interpreter for scale.

    python3 bench/cli_speed.py [--files 10000] [--runs 5] [--output bench/results/cli_speed.md]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from tests.support.envs import isolated_environ  # noqa: E402
from tests.support.packages import wheel_bytes  # noqa: E402

ORIGIN = "https://index.invalid/simple"


def build_cache(root: Path, files: int) -> None:
    from pipcachefirst.cache.catalog import Record  # noqa: PLC0415 -- from the venv this script re-runs in
    from pipcachefirst.cache.store import Store  # noqa: PLC0415

    store = Store(root)
    count, _ = store.usage() if root.exists() else (0, 0)
    if count >= files:
        return
    print(f"building a cache of {files} files in {root} (once)...", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(files):
            project, version = f"project{i // 10:04d}", f"1.{i % 10}"
            path = Path(scratch) / f"{project}-{version}-py3-none-any.whl"
            path.write_bytes(wheel_bytes(project, version))
            record = Record(filename=path.name, sha256="", size=0, url=f"{ORIGIN}/{path.name}", origin=ORIGIN)
            store.put(path, record)
            path.unlink()


def median_seconds(command: list, env: dict, runs: int) -> float:
    return statistics.median(harness.timed(command, env) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=harness.DEFAULT_WORKDIR)
    parser.add_argument("--output", type=Path, help="also write the table here")
    args = parser.parse_args()
    harness.rerun_where_installed(args.workdir.resolve())
    root = args.workdir / f"cli-cache-{args.files}"
    build_cache(root, args.files)
    requirements = args.workdir / "cli-requirements.txt"
    requirements.write_text("".join(f"project{i:04d}==1.{i % 10}\n" for i in range(0, 200, 10)))
    env = isolated_environ({"PIPCACHEFIRST_DIR": str(root), "PIP_INDEX_URL": ORIGIN})
    python = sys.executable
    rows = [
        ("python -c pass", [python, "-c", "pass"]),
        ("pip --version", [python, "-m", "pip", "--version"]),
        ("pipcachefirst status", [python, "-m", "pipcachefirst", "status"]),
        ("pipcachefirst why (20 pins)", [python, "-m", "pipcachefirst", "why", "-r", str(requirements)]),
        ("pipcachefirst list project0001", [python, "-m", "pipcachefirst", "list", "project0001"]),
    ]
    lines = [
        harness.measured_on(shlex.join(["python3", "bench/cli_speed.py", *sys.argv[1:]])),
        "",
        f"Each command in a fresh process against a cache of {args.files} files, median of {args.runs} runs; "
        "`python -c pass` and `pip --version` from the same interpreter for scale.",
        "",
        "| command | median s |",
        "|---|---:|",
    ]
    for label, command in rows:
        lines.append(f"| {label} | {median_seconds(command, env, args.runs):.2f} |")
        print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    print(table)
    if args.output:
        args.output.write_text(table)


if __name__ == "__main__":
    main()
