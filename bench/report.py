"""Turn the benchmark's raw measurements into the reports: Markdown, a plot, README and docs.

``bench.py`` measures and calls ``write``; run this file on its own to render
the saved ``report.json`` (the grid) and ``trees.json`` (installed trees)
again without measuring:

    python3 bench/report.py [bench/results/report.json ...]

README.md and the pages under docs/ (the benchmarks page) show result files
between ``<!-- begin include PATH -->`` and ``<!-- end include PATH -->``;
``include_results`` copies each file there, so no figure in README or the
docs is ever typed by hand (tests/test_readme.py checks they match).
README's one figure is ``headline.md``, written from the installed-trees report.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

TARGET = 1.05  # pipcachefirst within 5 % of the bound
# Installed trees: (numerator way, denominator way, goal or None for a figure shown without one, the
# workloads it is for or () for all).  Where a ratio has a goal for some workloads, that entry comes first
# and the one for all after it.  Issue 26's goals: uv's speed (its default: hard links, no byte code) with
# byte code on flask-celery; on data-science within 2x of it and a third of uv with byte code.
Ratio = Tuple[str, str, Optional[float], Tuple[str, ...]]
TREES_RATIOS: Tuple[Ratio, ...] = (
    ("pipcachefirst", "uv", 1.0, ("flask-celery.txt",)),
    ("pipcachefirst", "uv", 2.0, ("data-science.txt",)),
    ("pipcachefirst", "uv", None, ()),  # how far from uv without byte code, the floor
    ("pipcachefirst", "uv --compile-bytecode", 0.35, ("data-science.txt",)),
    ("pipcachefirst", "uv --compile-bytecode", 1.0, ()),
    ("pipcachefirst venv", "uv venv + uv pip", 1.0, ()),  # re-creating a venv: creation plus install
    ("pipcachefirst", "bound", 0.4, ()),
    ("first install", "plain pip", 1.15, ()),
    ("first install", "trees off", None, ()),  # what building the trees costs
    ("pipcachefirst", "trees off", None, ()),  # what placing them saves
)
TREES_GOALS_JSON = [[*ratio[:3], list(ratio[3])] for ratio in TREES_RATIOS]
# The second venv from a workload adds at most this share of the first's bytes (hard links counted once).
SECOND_VENV_GOAL = 0.5
# The first-install report (bench.py --first): issue 24's goal, pipcachefirst's first install within 5 % of plain pip's.
FIRST_RATIOS: Tuple[Tuple[str, str, Optional[float]], ...] = (
    ("first install, cache empty", "plain pip", 1.05),
    ("first install, caches empty", "plain pip, caches empty", 1.05),
)
FIRST_GOALS_JSON = [list(ratio) for ratio in FIRST_RATIOS]
FIRST_WAYS = ("plain pip", "first install, cache empty", "plain pip, caches empty", "first install, caches empty")
TREES_WAYS = ("plain pip", "first install", "trees off", "bound", "pipcachefirst", "uv --compile-bytecode", "uv",
              "pipcachefirst venv", "uv venv + uv pip")
QUIET = "quiet"  # a cell's disk: quiet, or "loaded" (another process writing to it all along)
HEADLINE_WORKLOAD = "flask-celery.txt"  # README's one figure: this workload in the installed-trees report
NAMES = ("report", "trees")  # the grid's files and installed trees' files in a results folder
PLOT_REQUIREMENTS = ["matplotlib>=3.8"]
README = harness.REPO / "README.md"
DOCS = harness.REPO / "docs"  # the documentation site's pages (mkdocs.yml), the benchmarks page among them
RESULTS = harness.REPO / "bench" / "results"  # the committed reports, which README and docs/ show
_INCLUDE = re.compile(r"(<!-- begin include (\S+) -->\n)(.*?)(<!-- end include \2 -->)", re.S)

Cell = Dict[str, object]


def median(cell: Cell) -> float:
    return statistics.median(cell["seconds"])  # type: ignore[arg-type]


def _requests(cell: Cell) -> str:
    counts: List[int] = cell["requests"]  # type: ignore[assignment]
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low}–{high}"


def _figure(cell: Optional[Cell]) -> str:
    return "" if cell is None else f"{median(cell):.2f} s ({_requests(cell)})"


def _find(cells: Iterable[Cell], **where: object) -> Optional[Cell]:
    for cell in cells:
        if all(cell[k] == v for k, v in where.items()):
            return cell
    return None


def paired(ours: Cell, other: Cell) -> List[float]:
    """``ours`` ÷ ``other`` run by run: in every run the two were installed back to back."""
    return [a / b for a, b in zip(ours["seconds"], other["seconds"])]  # type: ignore[call-overload]


def _median_ratio(values: Sequence[float]) -> float:
    """As the report prints it, and as the target is judged."""
    return round(statistics.median(values), 2)


def _middle_half(values: Sequence[float]) -> str:
    if len(values) < 4:
        return ""
    low, _, high = statistics.quantiles(values, n=4)
    return f"{low:.2f}–{high:.2f}"


@dataclass
class Row:
    """One pip version under one set of conditions: the report's unit, a *cell* of the grid."""

    workload: str
    delay_ms: int
    pages: str
    pip: str
    plain: Optional[Cell]
    ours: Optional[Cell]
    bound: Optional[Cell]
    uv: Optional[Cell]  # on the first row of its conditions only: uv does not depend on pip
    ours_to_bound: List[float] = field(init=False)  # paired ratios, empty when a side is missing

    def __post_init__(self) -> None:
        self.ours_to_bound = paired(self.ours, self.bound) if self.ours and self.bound else []

    def where(self) -> str:
        return f"{self.workload} at {self.delay_ms} ms ({self.pages} pages), pip {self.pip}"


def rows(data: dict, workload: str) -> List[Row]:
    """The rows for ``workload``, in measured order."""
    cells = [c for c in data["cells"] if c["workload"] == workload]
    found: List[Row] = []
    for delay, pages in dict.fromkeys((c["delay_ms"], c["pages"]) for c in cells):
        here = [c for c in cells if c["delay_ms"] == delay and c["pages"] == pages]
        uv = _find(here, way="uv")
        for pip in dict.fromkeys(c["pip"] for c in here if c["pip"]):
            ways = (_find(here, pip=pip, way=way) for way in ("plain pip", "pipcachefirst", "bound"))
            found.append(Row(workload, delay, pages, pip, *ways, uv=uv))
            uv = None
    return found


def _has(data: dict, **where: object) -> bool:
    return _find(data["cells"], **where) is not None


def _table(data: dict, workload: str) -> List[str]:
    facts = data["workloads"][workload]
    kinds = " and ".join(f"{n} {kind}" for kind, n in (("wheels", facts["wheels"]), ("sdists", facts["sdists"])) if n)
    with_uv = _has(data, way="uv")
    lines = [
        f"**`{workload}`**: {kinds}",
        "",
        f"| index delay | pages | pip | plain pip | pipcachefirst | bound |{' uv |' if with_uv else ''} "
        "pipcachefirst ÷ bound | plain pip ÷ pipcachefirst |",
        f"|---:|---|---|---:|---:|---:|{'---:|' if with_uv else ''}---:|---:|",
    ]
    workload_rows = rows(data, workload)
    for row in workload_rows:
        ours_to_bound = ""
        if row.ours_to_bound:
            ratio = _median_ratio(row.ours_to_bound)
            ours_to_bound = f"**{ratio:.2f}**" if ratio > TARGET else f"{ratio:.2f}"
            middle = _middle_half(row.ours_to_bound)
            ours_to_bound += f" ({middle})" if middle else ""
        speedup = f"{_median_ratio(paired(row.plain, row.ours)):.2f}" if row.plain and row.ours else ""
        uv_column = f" {_figure(row.uv)} |" if with_uv else ""
        lines.append(
            f"| {row.delay_ms} ms | {row.pages} | {row.pip} | {_figure(row.plain)} | {_figure(row.ours)} "
            f"| {_figure(row.bound)} |{uv_column} {ours_to_bound} | {speedup} |"
        )
    pooled = [r for row in workload_rows for r in row.ours_to_bound]
    if len(pooled) >= 4:
        lines += [
            "",
            f"All {len(workload_rows)} rows together (neither pipcachefirst nor the bound asks the index, so the "
            f"delay does not change this comparison): pipcachefirst ÷ bound = {statistics.median(pooled):.2f}, the "
            f"median of {len(pooled)} paired runs, the middle half {_middle_half(pooled)}.",
        ]
    return lines


def _spread(data: dict) -> str:
    """How far single pip installs stray from their cell's median (uv's are too short to say)."""
    if max(data["runs"].values()) < 3:
        return ""
    deviations = sorted(
        abs(s / median(cell) - 1) for cell in data["cells"] if cell["pip"] for s in cell["seconds"]
    )
    half = deviations[len(deviations) // 2] * 100
    most = deviations[int(len(deviations) * 0.9)] * 100
    return (
        f"Run-to-run spread: half of all pip installs took within ±{half:.0f} % of their cell's median, "
        f"nine in ten within ±{most:.0f} %."
    )


def _verdict(data: dict) -> str:
    judged = [row for workload in data["workloads"] for row in rows(data, workload) if row.ours_to_bound]
    if not judged:
        return ""
    misses = [row for row in judged if _median_ratio(row.ours_to_bound) > TARGET]
    verdict = f"pipcachefirst ÷ bound ≤ {TARGET} in {len(judged) - len(misses)} of {len(judged)} cells"
    if misses:
        verdict += "; not in " + ", ".join(
            f"{row.where()}: {_median_ratio(row.ours_to_bound):.2f}" for row in misses
        )
    return verdict + "."


def _grid_trees(data: dict) -> str:
    if data["settings"].get("trees") == "off":
        return ("**pipcachefirst** runs with its installed trees off (`PIPCACHEFIRST_TREES=0`), so that it does the "
                "install work the bound does and the ratio between them is what pipcachefirst itself costs; trees are "
                "measured in a report of their own.")
    return ("**pipcachefirst** here predates installed trees, so it did the install work the bound does; trees are "
            "measured in a report of their own.")


# -- installed trees -------------------------------------------------------------


def _ratio_cell(ours: Cell, other: Cell, goal: Optional[float]) -> str:
    ratios = paired(ours, other)
    if not ratios:
        return ""
    ratio = _median_ratio(ratios)
    text = f"**{ratio:.2f}**" if goal is not None and ratio > goal else f"{ratio:.2f}"
    middle = _middle_half(ratios)
    return text + (f" ({middle})" if middle else "")


def _ratio_name(ratio: Sequence[object]) -> str:
    ours, other, goal = ratio[:3]
    return f"{ours} ÷ {other}" + (f" (goal ≤ {goal})" if goal is not None else "")


def _disk(cell: Cell) -> str:
    return str(cell.get("disk", QUIET))  # reports before the contention rows: all quiet


@dataclass
class TreesRow:
    """One pip version under one set of conditions in the installed-trees report: every way's cell."""

    workload: str
    delay_ms: int
    pages: str
    pip: str
    cells: Dict[str, Cell]  # way -> cell, uv's included (the same for every row of these conditions)
    disk: str = QUIET  # or "loaded": another process wrote to the same disk all along

    def ratio(self, ours: str, other: str) -> Optional[Tuple[Cell, Cell]]:
        if ours in self.cells and other in self.cells:
            return self.cells[ours], self.cells[other]
        return None

    def where(self) -> str:
        return f"{self.workload} with pip {self.pip}" + (", the disk under load" if self.disk != QUIET else "")


def trees_rows(data: dict, workload: str) -> List[TreesRow]:
    cells = [c for c in data["cells"] if c["workload"] == workload]
    found = []
    for delay, pages, disk in dict.fromkeys((c["delay_ms"], c["pages"], _disk(c)) for c in cells):
        here = [c for c in cells if c["delay_ms"] == delay and c["pages"] == pages and _disk(c) == disk]
        uv = {c["way"]: c for c in here if not c["pip"]}
        for pip in dict.fromkeys(c["pip"] for c in here if c["pip"]):
            ways = {c["way"]: c for c in here if c["pip"] == pip}
            found.append(TreesRow(workload, delay, pages, pip, {**ways, **uv}, disk))
    return found


def _trees_tables(data: dict, workload: str, all_ways: Sequence[str] = TREES_WAYS) -> List[str]:
    facts = data["workloads"][workload]
    kinds = " and ".join(f"{n} {kind}" for kind, n in (("wheels", facts["wheels"]), ("sdists", facts["sdists"])) if n)
    workload_rows = trees_rows(data, workload)
    ways = [w for w in all_ways if any(w in row.cells for row in workload_rows)]
    several = len({(row.delay_ms, row.pages) for row in workload_rows}) > 1
    disks = len({row.disk for row in workload_rows}) > 1

    def lead(row: Optional[TreesRow]) -> str:
        """The columns that tell rows apart, before the pip: delay and pages, the disk (a header for None)."""
        if row is None:
            return ("| index delay | pages " if several else "") + ("| disk " if disks else "")
        return (f"| {row.delay_ms} ms | {row.pages} " if several else "") + (f"| {row.disk} " if disks else "")

    rule = "|---:|---" * several + "|---" * disks + "|---|"
    lines = [f"**`{workload}`**: {kinds}", "", f"{lead(None)}| pip | " + " | ".join(ways) + " |",
             rule + "---:|" * len(ways)]
    shown_uv = set()
    for row in workload_rows:
        figures = []
        for way in ways:
            cell = row.cells.get(way)
            key = (row.delay_ms, row.pages, row.disk, way)
            first_of_uv = cell is not None and cell["pip"] is None and key not in shown_uv
            if cell is not None and cell["pip"] is None:
                shown_uv.add(key)
            figures.append(_figure(cell) if cell is not None and (cell["pip"] or first_of_uv) else "")
        lines.append(f"{lead(row)}| {row.pip} | " + " | ".join(figures) + " |")
    ratios = [r for r in _ratios_for(data, workload) if any(row.ratio(r[0], r[1]) for row in workload_rows)]
    if ratios:
        lines += ["", f"{lead(None)}| pip | " + " | ".join(_ratio_name(r) for r in ratios) + " |",
                  rule + "---:|" * len(ratios)]
        for row in workload_rows:
            figures = []
            for ours, other, goal in ratios:
                pair = row.ratio(ours, other)
                figures.append(_ratio_cell(*pair, goal) if pair else "")
            lines.append(f"{lead(row)}| {row.pip} | " + " | ".join(figures) + " |")
    return lines


def _trees_ratios(data: dict) -> List[Ratio]:
    """The report's ratios as saved with it; a ratio saved without workloads (older reports) is for all."""
    saved = data["settings"].get("goals", TREES_GOALS_JSON)
    return [(r[0], r[1], r[2], tuple(r[3]) if len(r) > 3 else ()) for r in saved]


def _ratios_for(data: dict, workload: str) -> List[Tuple[str, str, Optional[float]]]:
    """The ratios shown for ``workload``, each with its goal there: the entry for it, else the one for all."""
    chosen: Dict[Tuple[str, str], Tuple[str, str, Optional[float]]] = {}
    for ours, other, goal, where in _trees_ratios(data):
        if (not where or workload in where) and (ours, other) not in chosen:
            chosen[(ours, other)] = (ours, other, goal)
    return list(chosen.values())


def _trees_verdict(data: dict) -> List[str]:
    """One line per goal: the rows (each workload's, quiet and loaded) that meet it, and those that do not."""
    judged: Dict[Tuple[str, str, float], List[Tuple[TreesRow, float]]] = {}
    for workload in data["workloads"]:
        for ours, other, goal in _ratios_for(data, workload):
            if goal is None:
                continue
            for row in trees_rows(data, workload):
                pair = row.ratio(ours, other)
                if pair and pair[0]["seconds"]:
                    judged.setdefault((ours, other, goal), []).append((row, _median_ratio(paired(*pair))))
    lines = []
    for (ours, other, goal), rows_judged in judged.items():
        workloads = list(dict.fromkeys(row.workload for row, _ in rows_judged))
        scope = "" if len(workloads) == len(data["workloads"]) else f" ({', '.join(workloads)})"
        misses = [(row, ratio) for row, ratio in rows_judged if ratio > goal]
        line = f"- {ours} ÷ {other} ≤ {goal}{scope}: in {len(rows_judged) - len(misses)} of {len(rows_judged)} rows"
        if misses:
            line += "; not in " + ", ".join(f"{row.where()} ({ratio:.2f})" for row, ratio in misses)
        lines.append(line + ".")
    for workload, figures in data.get("disk", {}).items():
        share = figures["second_venv_adds"] / figures["first_venv"]
        verdict = "met" if share <= SECOND_VENV_GOAL else "**not met**"
        lines.append(f"- a second venv from `{workload}` adds ≤ {_percent(SECOND_VENV_GOAL)} of the first's bytes: "
                     f"{_percent(share)}, {verdict}.")
    return lines


def _goal_lines(data: dict) -> List[str]:
    """The goals of a trees or first-install report, each with the rows that meet it."""
    verdict = _trees_verdict(data)
    return ["Goals, per row (the median of that row's per-run ratios):", "", *verdict, ""] if verdict else []


def _ending(data: dict, lines: List[str]) -> str:
    """``lines``, then how far single installs strayed and how long the whole run took, as one Markdown text."""
    spread = _spread(data)
    if spread:
        lines += [spread, ""]
    if data.get("minutes"):
        lines += [f"The whole run, setup included, took {data['minutes']} minutes.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _measured_line(data: dict) -> str:
    """The first line of every report: when, with what command, on which machine, with which versions."""
    versions = "; ".join(f"{name} {version}" for name, version in data["versions"].items())
    return harness.measured_on(data["command"], data["date"], data["machine"])[:-1] + f"; {versions}."


def _version_check(settings: dict) -> str:
    """What pip's self-version check did, in words (a report before it was set says nothing about it: off)."""
    if settings.get("version_check") != "on":
        return "pip's self-version check is off (`PIP_DISABLE_PIP_VERSION_CHECK=1`)"
    text = "pip's self-version check is on, as users have it"
    if settings.get("pip_page") == []:
        text += (" (the index has no page for pip, so pip finds no version, stores none in its state file and asks "
                 "again on every install; its requests are counted in brackets and as checks below)")
    elif settings.get("pip_page"):
        text += (f" (pip's page on the index lists pip {', '.join(settings['pip_page'])}, as PyPI lists pip: each "
                 "pip asks for it once and then reads the answer from its state file in pip's cache, for a week; "
                 "its requests are counted in brackets and, in counted runs, as checks below)")
    return text


def _percent(share: float) -> str:
    return f"{share * 100:.0f} %"


def _mib(size: object) -> str:
    mib = int(size) / 2**20  # type: ignore[call-overload]
    return f"{mib:,.0f} MiB" if mib >= 10 else f"{mib:.1f} MiB"


def _disk_lines(data: dict) -> List[str]:
    """The venvs' bytes on disk, measured after the runs (``bench.Bench.disk_figures``)."""
    lines = []
    for workload, figures in data.get("disk", {}).items():
        share = figures["second_venv_adds"] / figures["first_venv"]
        lines += [
            f"**Disk**, `{workload}`, after the runs: pipcachefirst (pip {figures['pip']}, its cache as the runs left "
            "it) installed it into a first and then a second fresh venv. Bytes as `du` counts them: blocks "
            "allocated, a file hard-linked from several places counted once.",
            "",
            f"| first venv | second venv adds | share (goal ≤ {_percent(SECOND_VENV_GOAL)}) | both venvs beyond the "
            "cache | installed trees | files (wheels) | an empty venv (pip, pipcachefirst) |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {_mib(figures['first_venv'])} | {_mib(figures['second_venv_adds'])} | "
            + (_percent(share) if share <= SECOND_VENV_GOAL else f"**{_percent(share)}**")
            + f" | {_mib(figures['venvs_beyond_cache'])} | {_mib(figures['trees'])} | {_mib(figures['files'])} | "
            f"{_mib(figures['empty_venv'])} |",
            "",
        ]
    return lines


def _checks_line(data: dict) -> List[str]:
    """How often pip asked for its own page in the counted runs: what the self-version check cost in requests."""
    if data["settings"].get("version_check") != "on":
        return []
    cells = [c for c in data["cells"] if c["pip"] and "version_checks" in c]
    if not cells:
        return []
    asked = sum(sum(c["version_checks"]) for c in cells)
    installs = sum(len(c["version_checks"]) for c in cells)
    warm_up = " (the warm-up run asked for each cache)" if data["settings"].get("pip_page") else ""
    return [f"pip's self-version check asked the index for pip's page {asked} times in the {installs} counted pip "
            f"installs{warm_up}.", ""]


def trees_markdown(data: dict) -> str:
    """The installed-trees report as Markdown: how it was made, two tables per workload, the goals, the disk."""
    counts = data["runs"]
    runs = (" and ".join(f"{n} ({name})" for name, n in counts.items()) if len(set(counts.values())) > 1
            else str(next(iter(counts.values()))))
    delays = sorted({c["delay_ms"] for c in data["cells"]})
    delay = " and ".join(f"{d} ms" for d in delays)
    settings = data["settings"]
    link_mode = settings.get("link_mode", "clone")
    measured = {c["way"] for c in data["cells"]}
    lines = [
        _measured_line(data),
        "",
        f"All ways in the same runs: each time is the median of {runs} interleaved runs after a warm-up run, "
        "seconds to install the workload into a fresh venv with warm caches, and in brackets the index requests "
        f"each install made. The index is on 127.0.0.1, adds {delay} to every request and sends stale pages "
        f"(`max-age=0`); {_version_check(settings)}. Each ratio is the median of per-run ratios between two "
        "installs of the same run, with the middle half of those per-run ratios in brackets. first install ÷ plain "
        "pip compares with pip before pipcachefirst was installed (plain pip asks the index, first install does "
        "not); first install ÷ trees off is what building the trees costs by itself. The ways:",
        "",
        "- **plain pip**: `PIPCACHEFIRST=0`, pip's own caches warm;",
        "- **first install**: pipcachefirst with its files cached but no installed trees yet (its trees "
        "removed before each run), so it builds them;",
        "- **trees off**: pipcachefirst with `PIPCACHEFIRST_TREES=0`, as it was before trees;",
        "- **bound**: `pip install --no-index --find-links` over the same files;",
        f"- **pipcachefirst**: as installed, placing each wheel's tree; link mode {link_mode};",
        "- **uv --compile-bytecode** and **uv** (uv's default: hard links from its cache, no byte code): "
        "`uv pip install` with its own warm cache; they do not depend on pip, so they are shown on the first row.",
    ]
    if "pipcachefirst venv" in measured:
        lines.append("- **pipcachefirst venv** (`pipcachefirst venv PATH -r FILE`, run from the pip measured) and "
                     "**uv venv + uv pip** (`uv venv PATH`, then `uv pip install`, uv's default): re-creating the "
                     "venv, its creation timed too; each with a warm cache of its own.")
    load = settings.get("disk_load")
    if load:
        rates = "; ".join(f"{rate} MiB/s during the rows of `{workload}`"
                          for workload, rate in load.get("mib_per_second", {}).items())
        lines += ["", f"Rows marked **loaded** were measured while another process wrote to the same disk all "
                  f"along (`bench/diskload.py`): {load['chunk_mib']} MiB at a time, each fsynced, into a file in the "
                  f"work folder rewritten from its start every {load['file_mib']} MiB, as neighbours on a CI host "
                  f"or a laptop's other work do; on average it wrote {rates or 'at a rate not recorded'}. Only "
                  f"{', '.join(load['loaded_ways'])} and uv (and, where measured, the re-create ways) were measured "
                  "under load, in runs of their own after a warm-up run of their own."]
    lines.append("")
    pips = data.get("pips", {})
    for workload in data["workloads"]:
        lines += _trees_tables(data, workload) + [""]
        if pips.get(workload) and len(pips[workload]) < max(len(v) for v in pips.values()):
            lines[-1:-1] = ["", f"`{workload}` was measured with pip {', '.join(pips[workload])} only."]
    lines += _disk_lines(data)
    lines += _goal_lines(data)
    lines += _checks_line(data)
    built = data.get("trees_built") or {}
    if built:
        lines += ["Installed trees in each cache at the end: " + "; ".join(
            f"pip {pip}: " + ", ".join(f"{way} {n}" for way, n in ways.items()) for pip, ways in built.items())
            + ".", ""]
    return _ending(data, lines)


def first_markdown(data: dict) -> str:
    """The first-install report as Markdown: how it was made, two tables per workload, the goals."""
    runs = " and ".join(sorted({str(n) for n in data["runs"].values()}))
    delays = " and ".join(f"{d} ms" for d in sorted({c["delay_ms"] for c in data["cells"]}))
    check = "on, as users have it" if data["settings"].get("version_check") == "on" else (
        "off (`PIP_DISABLE_PIP_VERSION_CHECK=1`)")
    lines = [
        _measured_line(data),
        "",
        f"All ways in the same runs: each time is the median of {runs} interleaved runs after a warm-up run, "
        "seconds to install the workload into a fresh venv, and in brackets the index requests each install made. "
        f"The index is on 127.0.0.1, adds {delays} to every request and sends stale pages (`max-age=0`); pip's "
        f"self-version check is {check}. Each ratio is the median of per-run ratios between two installs of the "
        "same run, with the middle half in brackets. The ways:",
        "",
        "- **plain pip**: `PIPCACHEFIRST=0`, pip's own caches warm;",
        "- **first install, cache empty**: pipcachefirst as just installed: its cache empty (removed before each "
        "run), pip's caches warm; its trees are built after pip's last line, not timed but waited for;",
        "- **plain pip, caches empty** and **first install, caches empty**: a runner with no cache at all (pip's "
        "cache folder removed before each run), without and with pipcachefirst.",
        "",
    ]
    for workload in data["workloads"]:
        lines += _trees_tables(data, workload, FIRST_WAYS) + [""]
    lines += _goal_lines(data)
    return _ending(data, lines)


def headline_markdown(data: dict) -> Optional[str]:
    """README's one figure, from an installed-trees report: plain pip against pipcachefirst as installed.

    The newest pip measured on ``HEADLINE_WORKLOAD``, with the report's own
    "Measured on" sentence, so the figure names its source; None when the
    report has no such row (a smoke run).
    """
    found = [row for row in trees_rows(data, HEADLINE_WORKLOAD)
             if {"plain pip", "pipcachefirst"} <= row.cells.keys() and row.disk == QUIET]
    if not found:
        return None
    row = found[-1]
    plain, ours, uv = row.cells["plain pip"], row.cells["pipcachefirst"], row.cells.get("uv --compile-bytecode")
    with_uv = f"; `uv pip install --compile-bytecode`: {median(uv):.2f} s" if uv else ""
    if "uv" in row.cells and "version_check" in data["settings"]:  # reports since uv's default is a goal
        with_uv += f", `uv pip install`: {median(row.cells['uv']):.2f} s"
    wheels, runs = data["workloads"][HEADLINE_WORKLOAD]["wheels"], data["runs"][HEADLINE_WORKLOAD]
    return (
        f"Re-installing `{HEADLINE_WORKLOAD}` ({wheels} wheels) into a fresh venv with pip {row.pip}, caches warm, "
        f"the index {row.delay_ms} ms away ({row.pages} pages): plain pip **{median(plain):.2f} s** with "
        f"{_requests(plain)} index requests, pipcachefirst **{median(ours):.2f} s** with {_requests(ours)} index "
        f"requests{with_uv} (medians of {runs} interleaved runs).\n\n"
        + _measured_line(data) + "\n"
    )


def markdown(data: dict) -> str:
    """The report as Markdown: how it was made, a table per workload, the verdict."""
    if data.get("kind") == "first":
        return first_markdown(data)
    if data.get("kind") == "trees":
        return trees_markdown(data)
    counts = data["runs"]
    runs = (" and ".join(f"{n} ({name})" for name, n in counts.items()) if len(set(counts.values())) > 1
            else str(next(iter(counts.values()))))
    fresh = (f", or fresh (`max-age={data['settings']['fresh_max_age']}`) where the row says so"
             if _has(data, pages="fresh") else "")
    uv = " uv is measured once per delay (it does not depend on pip) and shown on the first row." if _has(
        data, way="uv") else ""
    lines = [
        _measured_line(data),
        "",
        f"Each time is the median of {runs} interleaved runs after a warm-up run: seconds to install the "
        "workload into a fresh venv with warm caches, and in brackets the index requests each install made (a "
        "range where runs differed). Each ratio is the median of per-run ratios between two installs made back to "
        "back, with the middle half of those per-run ratios in brackets: this machine has slow and fast phases "
        "of a few seconds, which a ratio of two medians would not cancel. The index is on 127.0.0.1 and adds the "
        f"delay to every request; its pages are stale (`max-age=0`){fresh}. **bound** is "
        f"`pip install --no-index --find-links` over the same files. {_grid_trees(data)}{uv}",
        "",
    ]
    for workload in data["workloads"]:
        lines += _table(data, workload) + [""]
    lines.append(_verdict(data))
    spread = _spread(data)
    if spread:
        lines += ["", spread]
    if data.get("minutes"):
        lines += ["", f"The whole run, setup included, took {data['minutes']} minutes."]
    return "\n".join(lines) + "\n"


def plot(data_paths: Sequence[Path], png: Path, work: Path) -> None:
    """Draw the plot with matplotlib from a venv of its own (the benchmark needs nothing installed)."""
    bin_dir = harness.tool_venv(work, "tool-plot", PLOT_REQUIREMENTS)
    plot_script = Path(__file__).resolve().parent / "plot.py"
    harness.run([str(bin_dir / "python"), str(plot_script), str(png), *map(str, data_paths)], harness.environ())


def is_committed_report(output: Path) -> bool:
    return output.resolve() == RESULTS.resolve()


def name_of(data: dict) -> str:
    """The results files' name for this kind of report: ``report`` (the grid), ``trees`` or ``first``."""
    return str(data["kind"]) if data.get("kind") in ("trees", "first") else "report"


def write(data: dict, output: Path, work: Path) -> None:
    """<name>.json and <name>.md into ``output``, and report.png from every report there.

    An installed-trees report also writes ``headline.md``, README's one figure;
    a committed report is copied into README and the docs pages at once.
    """
    output.mkdir(parents=True, exist_ok=True)
    name = name_of(data)
    (output / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    (output / f"{name}.md").write_text(markdown(data))
    headline = headline_markdown(data) if name == "trees" else None
    if headline:
        (output / "headline.md").write_text(headline)
    if name in NAMES:  # the plot shows the grid and the trees
        plot([output / f"{n}.json" for n in NAMES if (output / f"{n}.json").is_file()], output / "report.png", work)
    if is_committed_report(output):
        include_results()
    print(f"{name} written to {output}")


def included(text: str) -> List[Tuple[str, str]]:
    """(path, what the page shows) for each include block in ``text`` (README or a docs page)."""
    return [(match.group(2), match.group(3)) for match in _INCLUDE.finditer(text)]


def pages() -> List[Path]:
    """README and every page of the documentation site: where include blocks may stand."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def _fill(match: "re.Match[str]") -> str:
    """An include block holding its result file as committed (left as it was while the file does not exist)."""
    path = harness.REPO / match.group(2)
    if not path.is_file():
        print(f"{match.group(2)} does not exist yet; its block is left as it was")
        return match.group(0)
    return match.group(1) + path.read_text() + match.group(4)


def include_results(*to: Path) -> None:
    """Copy each included result file into its block, in ``to`` or else in every one of ``pages()``."""
    for page in to or pages():
        text = page.read_text()
        filled = _INCLUDE.sub(_fill, text)
        if filled != text:
            page.write_text(filled)


def main(argv: Sequence[str]) -> None:
    paths = [Path(arg) for arg in argv] or [RESULTS / f"{n}.json" for n in NAMES if (RESULTS / f"{n}.json").is_file()]
    for path in paths:
        write(json.loads(path.read_text()), path.parent, harness.DEFAULT_WORKDIR.resolve())


if __name__ == "__main__":
    main(sys.argv[1:])
