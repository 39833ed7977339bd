"""What pipcachefirst costs an interpreter that never imports pip.

Runs ``python -c pass`` in two fresh venvs, one with pipcachefirst (and its
.pth) and one without, interleaved, and prints the medians and their
difference.  The goal is at most 1 ms: the hooks must not load at start-up.

    python3 bench/startup.py [--runs 200] [--output bench/results/startup.md]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from tests.support.envs import create_venv, isolated_environ  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--output", type=Path, help="also write the table here")
    args = parser.parse_args()
    harness.rerun_where_installed(harness.DEFAULT_WORKDIR.resolve())
    with tempfile.TemporaryDirectory() as tmp:
        plain = create_venv(Path(tmp) / "plain", dists=("pip",))
        with_product = create_venv(Path(tmp) / "product")
        for venv in (plain, with_product):  # as pip install would leave them
            subprocess.run([str(venv.python), "-m", "compileall", "-q", str(venv.site_packages)], check=True)
        env = isolated_environ()
        env.pop("PYTHONDONTWRITEBYTECODE")
        times: dict = {"without": [], "with": []}
        for _ in range(args.runs):
            times["without"].append(harness.timed([str(plain.python), "-c", "pass"], env))
            times["with"].append(harness.timed([str(with_product.python), "-c", "pass"], env))
    without = statistics.median(times["without"]) * 1000
    with_ = statistics.median(times["with"]) * 1000
    table = "\n".join([
        harness.measured_on(shlex.join(["python3", "bench/startup.py", *sys.argv[1:]])),
        "",
        f"`python -c pass` in a venv without and with pipcachefirst's `.pth`, median of {args.runs} "
        "interleaved runs (goal: at most +1 ms).",
        "",
        "| venv | median ms |",
        "|---|---:|",
        f"| without pipcachefirst | {without:.2f} |",
        f"| with pipcachefirst | {with_:.2f} |",
        f"| difference | {with_ - without:+.2f} |",
    ]) + "\n"
    print(table)
    if args.output:
        args.output.write_text(table)


if __name__ == "__main__":
    main()
