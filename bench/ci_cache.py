"""What a CI cache of pip's cache folder holds with pipcachefirst, and whether a restored one keeps its trees.

A CI runner's first job: each workload installed once into a fresh venv, with
pip 26.3, this checkout's pipcachefirst and a new, empty pip cache, from a
loopback index serving the workload's files (downloaded from PyPI once) as PyPI
does: with ``Cache-Control: max-age=365000000, immutable``, and as a trusted
host, since pip keeps HTTP responses only from ``https://`` and trusted hosts.
So pip's own HTTP cache keeps them as it would from PyPI (this machine's route
to PyPI drops that header, and there pip keeps nothing).  Then, untimed, the
helpers that build the installed trees after pip's last line are waited for
(``harness.wait_for_tree_helpers``), as a job that goes on with its tests gives
them time to.  Each folder of the cache is measured on disk (``du``) and packed
as ``actions/cache`` packs it (GNU ``tar --posix``, ``zstd -T0 --long=30``).

Then a later job: only pipcachefirst's folder (``cachefirst``) is packed and
unpacked into a new, empty pip cache, once with ``tar --posix`` (nanosecond
mtimes, as ``actions/cache`` restores) and once with whole-second mtimes (GNU
tar's own format; GitLab Runner's zip cache archives keep whole seconds too).
How many trees now look changed to the check before each use (every file's
size and mtime; such a tree is removed and built again), then each workload
installed again into a fresh venv: how many pins came from the cache, and how
many requests the index saw.

    python3 bench/ci_cache.py [--output bench/results/ci_cache.md]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import report  # noqa: E402
from tests.support.envs import create_venv  # noqa: E402
from tests.support.indexserver import IndexServer  # noqa: E402

WORKLOADS = ("flask-celery.txt", "django-lock.txt")
# (name in the report, GNU tar's options): how a CI service's cache archive keeps mtimes
RESTORES: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("`tar --posix` (as `actions/cache`): nanosecond mtimes", ("--posix",)),
    ("GNU tar's own format: whole-second mtimes", ("--format=gnu",)),
)


def disk_use(folder: Path) -> Tuple[int, int]:
    """(bytes on disk, files) under ``folder``, as ``du`` counts blocks."""
    used = files = 0
    for root, _, names in os.walk(folder):
        for name in names:
            info = os.lstat(os.path.join(root, name))
            used += info.st_blocks * 512
            files += 1
    return used, files


def packed_size(parent: Path, names: Sequence[str]) -> int:
    """Bytes of ``names`` (under ``parent``) packed as ``actions/cache`` does: GNU tar --posix, then zstd."""
    tar = subprocess.Popen(["tar", "--posix", "-cf", "-", "-C", str(parent), *names], stdout=subprocess.PIPE)
    packed = subprocess.run(["zstd", "-q", "-T0", "--long=30", "-c"], stdin=tar.stdout, capture_output=True, check=True)
    if tar.wait() != 0:
        raise SystemExit(f"tar failed on {names} in {parent}")
    return len(packed.stdout)


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def install(work: Path, name: str, workload: str, env: Dict[str, str]) -> Tuple[float, str]:
    """Install ``workload`` into a fresh venv: (seconds, pipcachefirst's summary line)."""
    venv = create_venv(work / f"venv-{name}-{Path(workload).stem}")
    start = time.perf_counter()
    done = subprocess.run([str(venv.python), "-m", "pip", "install", "-r", str(harness.WORKLOADS / workload)],
                          env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"pip install -r {workload} failed:\n{done.stdout}\n{done.stderr}")
    summary = [line for line in done.stderr.splitlines() if re.match(r"pipcachefirst: \d+ of \d+", line)]
    return seconds, (summary[-1] if summary else "")


def trees_in(cachefirst: Path) -> Tuple[int, int]:
    """(trees, trees that look changed): what pipcachefirst's check before each use would find."""
    from pipcachefirst.cache.store import TREES  # noqa: PLC0415 -- from the venv this script re-runs in
    from pipcachefirst.trees.tree import Trees  # noqa: PLC0415

    found = [tree for _, tree in Trees(cachefirst / TREES.name, "-").walk() if tree is not None]
    return len(found), sum(1 for tree in found if Trees.first_change(tree) is not None)


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the report here")
    parser.add_argument("--workdir", type=Path, default=harness.DEFAULT_WORKDIR)
    args = parser.parse_args(argv)
    harness.rerun_where_installed(args.workdir.resolve())
    started = time.monotonic()
    work = args.workdir.resolve() / "ci-cache"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for workload in WORKLOADS:
        harness.publish(harness.workload_files(harness.WORKLOADS / workload, args.workdir.resolve()), work / "index")
    server = IndexServer(work / "index")
    server.start()
    try:
        measure(args, work, server, started)
    finally:
        server.stop()
    shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path, server: IndexServer, started: float) -> None:
    pip_cache = work / "first" / "pip"
    # pip keeps HTTP responses only from https:// and trusted hosts: the loopback index is made one, as PyPI is
    env = harness.environ({"PIP_CACHE_DIR": str(pip_cache), "PIP_INDEX_URL": server.index_url(),
                           "PIP_TRUSTED_HOST": "127.0.0.1"})
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's pip runs

    first: List[str] = []
    for workload in WORKLOADS:
        seconds, _ = install(work, "first", workload, env)
        waited = harness.wait_for_tree_helpers(pip_cache / "cachefirst")
        first.append(f"`{workload}`: {seconds:.1f} s and {len(server.take_requests())} index requests, then "
                     f"{waited:.1f} s until its trees were built")

    cachefirst = pip_cache / "cachefirst"
    pips_own = sorted(p.name for p in pip_cache.iterdir() if p.name != "cachefirst")
    rows = []
    for label, parent, names in (
        ("pip's own cache (" + ", ".join(f"`{n}`" for n in pips_own) + ")", pip_cache, pips_own),
        ("pipcachefirst's files (`cachefirst/files-v1`)", cachefirst, ["files-v1"]),
        ("pipcachefirst's installed trees (`cachefirst/trees-v2`)", cachefirst, ["trees-v2"]),
        ("all of `cachefirst`", pip_cache, ["cachefirst"]),
        ("all of pip's cache folder", pip_cache.parent, [pip_cache.name]),
    ):
        used = files = 0
        for name in names:
            u, f = disk_use(parent / name)
            used, files = used + u, files + f
        rows.append(f"| {label} | {mib(used)} | {files:,} | {mib(packed_size(parent, names))} |")

    restored = []
    for label, options in RESTORES:
        archive = work / "cachefirst.tar"
        subprocess.run(["tar", *options, "-cf", str(archive), "-C", str(pip_cache), "cachefirst"], check=True)
        later_cache = work / f"later-{len(restored) // len(WORKLOADS)}" / "pip"
        later_cache.mkdir(parents=True)
        subprocess.run(["tar", "-xf", str(archive), "-C", str(later_cache)], check=True)
        archive.unlink()
        count, changed = trees_in(later_cache / "cachefirst")
        later_env = {**env, "PIP_CACHE_DIR": str(later_cache)}
        for workload in WORKLOADS:
            seconds, summary = install(work, later_cache.parent.name, workload, later_env)
            served = summary.replace("pipcachefirst: ", "")
            restored.append(f"| {label} | {changed} of {count} | `{workload}` | {served} | "
                            f"{len(server.take_requests())} | {seconds:.2f} s |")
        harness.wait_for_tree_helpers(later_cache / "cachefirst")

    keys = sorted(p.name for p in (cachefirst / "trees-v2").iterdir() if p.is_dir() and not p.name.startswith("."))
    key = ", ".join(keys) or "none"
    text = "\n".join([
        harness.measured_on(shlex.join(["python3", "bench/ci_cache.py", *sys.argv[1:]]))[:-1]
        + f"; pip 26.3; pipcachefirst {harness.tool_version(Path(sys.executable).parent, 'pipcachefirst')}"
        f"{harness.source_commit()}.",
        "",
        "A CI runner's first job: each workload installed once into a fresh venv, with a new, empty pip cache, from "
        "a loopback index serving the files downloaded from PyPI with PyPI's caching headers (one run each): "
        + "; ".join(first) + ".",
        "",
        f"What the cache then holds ({trees_in(cachefirst)[0]} installed trees, interpreter key `{key}`); packed is "
        "what `actions/cache` would store (GNU `tar --posix`, `zstd -T0 --long=30`):",
        "",
        "| folder | on disk | files | packed |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        "A later job: only `cachefirst` restored into a new, empty pip cache; the trees that look changed to the "
        "check before each use (every file's size and mtime), which are then removed and built again; each "
        "workload installed into a fresh venv (one run each, on a machine other work shared):",
        "",
        "| restored with | trees that look changed | workload | from cache | index requests | seconds |",
        "|---|---:|---|---|---:|---:|",
        *restored,
        "",
        f"The whole run, setup included, took {time.monotonic() - started:.0f} s.",
    ]) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)
        if report.is_committed_report(args.output.parent):
            report.include_results()  # docs/ci-docker.md shows it


if __name__ == "__main__":
    main(sys.argv[1:])
