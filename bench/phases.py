"""Where the time of one pip re-create goes: start-up, resolve, install step, waiting on placement, exit.

Issue 26 asks where the remaining time of a 107-pin re-create goes, before
and after its per-pin work.  A profiler answers "which functions", slows
pip down unevenly, and cannot see the process's start and end; this times
the phases of one ordinary ``pip install -r`` into a fresh venv with warm
caches, from outside the process and at a handful of points inside it,
without changing the product: the target venv's python runs ``DRIVER``
(``-c``), which wraps five pip functions and two of pipcachefirst's with a
clock, then runs ``python -m pip`` as a user does (``runpy``, so pip and
pipcachefirst see the program they always see), and writes the clocks to a
JSON file from the last atexit handler.  The clocks cost about 3 ms an
install of ``data-science.txt`` (7,400 wrapped calls: pipcachefirst's wait
runs once per source pip compiles), none per file placed.

Each variant (``--variant LABEL=REV``: a git revision of this repository, a
source folder or a wheel) gets its own tool venv, target template and
caches, warmed by an uncounted round; rounds are interleaved (before, after,
plain pip, before, ...).  The index is ``tests.support.indexserver``'s on
127.0.0.1 with a delay, stale pages and a page for pip, so that pip's
self-version check, on as users have it, finds its answer (then reads it
from its state file, as on PyPI).  Times are medians over the counted rounds.

    python3 bench/phases.py --work /tmp/phases --runs 5 --output bench/results/issue26/phases.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import trash  # noqa: E402
from harness import REPO  # noqa: E402
from tests.support.envs import isolated_environ  # noqa: E402
from tests.support.indexserver import IndexServer  # noqa: E402

PIP = "26.3"
PLAIN = "plain pip"  # PIPCACHEFIRST=0 in the last variant's venv, for scale

# Runs in the target venv's python: argv is [-c, json path, pip's arguments...].  time.monotonic is
# CLOCK_MONOTONIC, the clock the bench reads around the process.
DRIVER = r"""
import atexit, importlib.util, json, os, runpy, sys, time
clock = time.monotonic
out = sys.argv.pop(1)
marks, spans = {}, {}

def _save():
    marks["atexit_last"] = clock()
    session = sys.modules.get("pipcachefirst.pip.session")
    placed = getattr(getattr(session, "CURRENT", None), "trees_placed", None)
    with open(out, "w") as f:
        json.dump({"marks": marks, "spans": spans, "trees_placed": placed}, f)

atexit.register(_save)  # registered first: runs last

def timed(owner, name, key):
    original = getattr(owner, name, None)
    if original is None:
        return
    depth = [0]
    def wrapper(*args, **kwargs):
        if depth[0]:
            return original(*args, **kwargs)
        depth[0] += 1
        start = clock()
        try:
            return original(*args, **kwargs)
        finally:
            end = clock()
            depth[0] -= 1
            span = spans.setdefault(key, [0.0, 0, start, end])
            span[2] = span[2] or start
            span[0] += end - start
            span[1] += 1
            span[3] = end
    setattr(owner, name, wrapper)
    return wrapper

def at_run(install_module):
    # Wrapped as the command runs, once pip has imported them; pipcachefirst's wait only as the install step
    # starts: pip 26.3 imports its wheel module (and pipcachefirst its install step with it) only then.
    from pip._internal.resolution.resolvelib import resolver
    timed(resolver.Resolver, "resolve", "resolve")
    install_given_reqs = timed(install_module, "install_given_reqs", "install")
    def at_install(*args, **kwargs):
        installing = sys.modules.get("pipcachefirst.pip.installing")
        if installing is not None and "placement_wait" not in spans:
            timed(installing._Placements, "wait", "placement_wait")
            spans["placement_wait"] = [0.0, 0, 0.0, 0.0]
            timed(installing.staging.Stager, "take", "staged_wait")  # the copy-ahead helper's tree, per wheel
        return install_given_reqs(*args, **kwargs)
    install_module.install_given_reqs = at_install
    profile = os.environ.get("PHASES_PROFILE")
    if profile:  # --profile: the install step under cProfile, in a round of its own
        import cProfile, marshal  # now: pip 26.3 refuses new imports once it installs
        def profiled(*args, **kwargs):
            profiler = cProfile.Profile()
            try:
                return profiler.runcall(at_install, *args, **kwargs)
            finally:
                profiler.dump_stats(profile)
        install_module.install_given_reqs = profiled

sys.argv[0] = os.path.join(os.path.dirname(importlib.util.find_spec("pip").origin), "__main__.py")  # as -m pip
from pip._internal.commands import install
from pip._internal.cli import index_command
run = install.InstallCommand.run
def run_timed(self, options, args):
    marks["run_entered"] = clock()
    at_run(install)
    try:
        return run(self, options, args)
    finally:
        marks["run_left"] = clock()
install.InstallCommand.run = run_timed
timed(index_command, "_pip_self_version_check_fetch", "version_check_fetch")
timed(index_command, "_pip_self_version_check_emit", "version_check_emit")
try:
    runpy.run_module("pip", run_name="__main__", alter_sys=True)
finally:
    marks["main_left"] = clock()
"""

Phases = Dict[str, float]
# The phases, in the order of the table; indented ones are parts of the one above.
COLUMNS = (
    ("total", "total"),
    ("startup", "start-up"), ("version_check_fetch", "  of which the version check"),
    ("resolve", "resolve"),
    ("between", "between (preparing, ...)"),
    ("install", "install step"), ("placement_wait", "  of which waiting for the placing threads"),
    ("staged_wait", "  of which waiting for the copy-ahead helper"),
    ("exit", "exit"), ("after_run", "  of which pip's and pipcachefirst's end of command"),
    ("atexit", "  of which threads and atexit handlers"), ("shutdown", "  of which the interpreter's end"),
)


def phases(started: float, ended: float, clocks: Dict[str, object]) -> Phases:
    """The phases of one run, in seconds, from the bench's clocks and the driver's JSON."""
    marks: Dict[str, float] = clocks["marks"]  # type: ignore[assignment]
    spans: Dict[str, List[float]] = clocks["spans"]  # type: ignore[assignment]

    def span(key: str) -> float:
        return spans[key][0] if key in spans else 0.0

    run = marks["run_left"] - marks["run_entered"]
    return {
        "total": ended - started,
        "startup": marks["run_entered"] - started,
        "version_check_fetch": span("version_check_fetch"),
        "resolve": span("resolve"),
        "between": run - span("resolve") - span("install"),
        "install": span("install"),
        "placement_wait": span("placement_wait"),
        "staged_wait": span("staged_wait"),
        "exit": ended - marks["run_left"],
        "after_run": marks["main_left"] - marks["run_left"],
        "atexit": marks["atexit_last"] - marks["main_left"],
        "shutdown": ended - marks["atexit_last"],
        "placement_waits": spans.get("placement_wait", [0, 0])[1],
    }


class Variant:
    """One pipcachefirst (or plain pip): its target template and its own caches."""

    def __init__(self, label: str, template: Path, cache: Path, commit: str, plain: bool = False) -> None:
        self.label, self.template, self.cache, self.commit, self.plain = label, template, cache, commit, plain


def wheel_of(source: str, work: Path) -> Tuple[Path, str]:
    """pipcachefirst's wheel from ``source`` (a wheel, a source folder or a git revision here); and what it is."""
    path = Path(source)
    if path.suffix == ".whl" and path.is_file():
        return path, path.name
    if not path.is_dir():  # a revision: its tree, exported, not a checkout to disturb
        commit = harness.run(["git", "-C", str(REPO), "rev-parse", "--short", source], os.environ).stdout.strip()
        path = work / f"src-{commit}"
        if not path.is_dir():
            path.mkdir(parents=True)
            archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", str(path)], input=archive.stdout, check=True)
        source = f"commit {commit}"
    wheels = work / "wheels" / path.name
    trash.set_aside(wheels)
    harness.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(path)],
                isolated_environ())
    return next(wheels.glob("pipcachefirst-*.whl")), source


def install(variant: Variant, workload: Path, work: Path, server: IndexServer,
            profile: Optional[Path] = None) -> Tuple[Phases, Dict[str, object]]:
    """One re-create into a fresh venv: its phases and what the driver saw (``profile``: the install step's)."""
    target = work / "target"
    python = harness.fresh_target(variant.template, target)
    env = harness.environ({"PIP_CACHE_DIR": str(variant.cache)})
    if profile is not None:
        env["PHASES_PROFILE"] = str(profile)
    env.pop("PIP_DISABLE_PIP_VERSION_CHECK", None)  # on, as users have it
    if variant.plain:
        env["PIPCACHEFIRST"] = "0"
    out = work / "driver.json"
    out.unlink(missing_ok=True)
    command = [str(python), "-c", DRIVER, str(out), "install", "-q", "-r", str(workload),
               "--index-url", server.index_url(), "--trusted-host", "127.0.0.1"]
    trash.make_room()
    os.sync()
    server.take_requests()
    started = time.monotonic()
    proc = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True)
    ended = time.monotonic()
    requests = server.take_requests()
    if proc.returncode != 0:
        raise SystemExit(f"{variant.label}: pip failed\n{proc.stdout}\n{proc.stderr}")
    clocks = json.loads(out.read_text())
    harness.wait_for_tree_helpers(variant.cache / "cachefirst")
    clocks["requests"] = len(requests)
    return phases(started, ended, clocks), clocks


def table(runs: Dict[str, List[Phases]]) -> str:
    """Median seconds per phase (one column per variant), and its share of the median total."""
    head = "| phase | " + " | ".join(runs) + " |\n|---|" + "---:|" * len(runs) + "\n"
    rows = []
    for key, name in COLUMNS:
        cells = []
        for measured in runs.values():
            value = statistics.median(run.get(key, 0.0) for run in measured)
            total = statistics.median(run["total"] for run in measured)
            cells.append(f"**{value:.2f} s**" if key == "total" else f"{value:.2f} s ({100 * value / total:.0f} %)")
        label = "… " + name.strip() if name.startswith(" ") else name
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def render(data: Dict[str, Any]) -> str:
    """The results page, from what ``main`` measured (``--render`` makes it again from the JSON)."""
    settings = data["settings"]
    text = f"{data['measured_on']} pip {PIP}; {data['sources']}.\n\n"
    text += (f"Medians of {settings['runs']} interleaved rounds after {settings['warmups']} warm-up round, each "
             f"variant with caches of its own; a fresh venv each time; index on 127.0.0.1, {settings['delay']} ms "
             "per request, stale pages, pip's self-version check on (pip's page on the index, its answer in pip's "
             "state file after the warm-up). In brackets, the share of the median total. Start-up: from the bench "
             "starting the process until pip's `InstallCommand.run` is entered (interpreter, .pth, imports, "
             "options, the version check's fetch, pipcachefirst opening its cache); resolve: `Resolver.resolve`; "
             "install step: `install_given_reqs`, and of it the time pipcachefirst's install waits for its "
             "placing threads (`_Placements.wait`); between: the rest of `run` (preparing, ...); exit: from the "
             "end of `run` until the process has ended (the bench's clock). The clocks cost about 3 ms a run "
             "(`_Placements.wait` is called once per source pip compiles).\n")
    if settings.get("note"):
        text += f"\n{settings['note']}\n"
    for name, variants in data["workloads"].items():
        if not all(v["runs"] for v in variants.values()):
            continue  # no counted round (--runs 0 --profile)
        text += f"\n**`{name}`**\n\n" + table({label: v["runs"] for label, v in variants.items()}) + "\n"
        totals = "; ".join(f"{label} " + ", ".join(f"{run['total']:.2f}" for run in v["runs"])
                           for label, v in variants.items())
        placed = ", ".join(f"{label} {_values(v['trees_placed'])}" for label, v in variants.items())
        requests = ", ".join(f"{label} {_values(v['requests'])}" for label, v in variants.items())
        text += (f"Totals per round, seconds: {totals}. Trees placed per run: {placed}. "
                 f"Index requests per run: {requests}.\n")
    return text + f"\nThe whole run took {data['minutes']} minutes.\n"


def _values(values: List[Optional[int]]) -> str:
    """The values seen, in words: ``107``, ``0 or 2``, ``none`` (plain pip places no trees)."""
    return " or ".join(sorted({"none" if v is None else str(v) for v in values}))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", metavar="LABEL=SOURCE",
                        help="pipcachefirst to measure: a git revision, a source folder or a wheel (repeatable; "
                        "default: before=4ba8f80 after=HEAD)")
    parser.add_argument("--workload", type=Path, action="append", help="default: data-science.txt")
    parser.add_argument("--runs", type=int, default=5, help="counted rounds (default 5)")
    parser.add_argument("--warmups", type=int, default=1, help="uncounted rounds first (default 1; the index's "
                        "port is new each time, and pipcachefirst serves a pin only for the index it came from)")
    parser.add_argument("--delay", type=int, default=100, help="ms added to every index request (default 100)")
    parser.add_argument("--no-plain", action="store_true", help="without the plain pip column")
    parser.add_argument("--note", default="", help="a sentence for the results (what else ran meanwhile)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/phases"), help="tool venvs, caches, index")
    parser.add_argument("--output", type=Path, help="markdown results (and .json beside it)")
    parser.add_argument("--profile", type=Path, help="then one more round, not counted, with each install step "
                        "under cProfile: a .pstats file per workload and variant in this folder")
    parser.add_argument("--render", type=Path, help="only make the markdown again from this JSON (to --output)")
    args = parser.parse_args(argv)
    data = json.loads(args.render.read_text()) if args.render else measure(args)
    text = render(data)
    print(text)
    if args.output:
        args.output.write_text(text)
        if not args.render:
            args.output.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    return 0


def measure(args: argparse.Namespace) -> Dict[str, Any]:
    """Every round of every variant, as ``render`` shows them."""
    work: Path = args.work.resolve()
    workloads = [w.resolve() for w in args.workload or [harness.WORKLOADS / "data-science.txt"]]
    wanted = [v.split("=", 1) for v in (args.variant or ["before=4ba8f80", "after=HEAD"])]
    began = time.time()
    results: Dict[str, Dict[str, Dict[str, Any]]] = {}
    with trash.in_use(work):
        server = IndexServer(work / "index")
        for workload in workloads:
            harness.publish(harness.workload_files(workload, work), work / "index")
        harness.publish(harness.pip_files([PIP], work), work / "index")
        variants = []
        for label, source in wanted:
            wheel, what = wheel_of(source, work)
            tool = harness.tool_venv(work, f"tool-{label}", [f"pip=={PIP}", str(wheel)])
            template = harness.target_template(tool / "python", work / "target")
            variants.append(Variant(label, template, work / "caches" / label, what))
        if not args.no_plain:
            variants.append(Variant(PLAIN, variants[-1].template, work / "caches" / "plain", "", plain=True))
        server.delay = args.delay / 1000
        server.page_max_age = 0
        server.start()
        try:
            for workload in workloads:
                seen = results[workload.name] = {v.label: {"runs": [], "trees_placed": [], "requests": []}
                                                 for v in variants}
                for round_ in range(-args.warmups, args.runs):
                    for variant in variants:
                        measured, clocks = install(variant, workload, work, server)
                        if round_ >= 0:
                            seen[variant.label]["runs"].append(measured)
                            seen[variant.label]["trees_placed"].append(clocks["trees_placed"])
                            seen[variant.label]["requests"].append(clocks["requests"])
                        print(f"{workload.name} round {round_ + 1}: {variant.label} {measured['total']:.2f} s "
                              f"(start-up {measured['startup']:.2f}, resolve {measured['resolve']:.2f}, "
                              f"install {measured['install']:.2f}, wait {measured['placement_wait']:.2f} "
                              f"in {measured['placement_waits']:.0f} calls, "
                              f"exit {measured['exit']:.2f}; {clocks['requests']} requests, "
                              f"{clocks['trees_placed']} trees)", flush=True)
                for variant in variants if args.profile else ():
                    args.profile.mkdir(parents=True, exist_ok=True)
                    stats = args.profile.resolve() / f"{workload.stem}-{variant.label.replace(' ', '-')}.pstats"
                    install(variant, workload, work, server, stats)
                    print(f"{workload.name}: {variant.label}'s install step under cProfile: {stats}", flush=True)
        finally:
            server.stop()
    return {
        "measured_on": harness.measured_on("python3 bench/phases.py " + " ".join(sys.argv[1:])),
        "sources": "; ".join(f"{v.label}: {v.commit}" for v in variants if not v.plain),
        "settings": {"runs": args.runs, "warmups": args.warmups, "delay": args.delay, "note": args.note},
        "minutes": round((time.time() - began) / 60),
        "workloads": results,
    }


if __name__ == "__main__":
    sys.exit(main())
