"""Turn the benchmark's raw measurements into the report: Markdown, a plot, README.

``bench.py`` measures and calls ``write``; run this file on its own to render
a saved ``report.json`` again without measuring:

    python3 bench/report.py [bench/results/report.json]

README.md shows result files between ``<!-- begin include PATH -->`` and
``<!-- end include PATH -->``; ``include_results`` copies each file there, so
no figure in README is ever typed by hand (a test checks they match).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

TARGET = 1.05  # pipcachefirst within 5 % of the bound
PLOT_REQUIREMENTS = ["matplotlib>=3.8"]
README = harness.REPO / "README.md"
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


def rows(data: dict, workload: str) -> List[Tuple[int, str, str]]:
    """(delay, pages, pip) of each row for ``workload``, in measured order."""
    seen: List[Tuple[int, str, str]] = []
    for cell in data["cells"]:
        key = (cell["delay_ms"], cell["pages"], cell["pip"])
        if cell["workload"] == workload and cell["pip"] is not None and key not in seen:
            seen.append(key)
    return seen


def paired(ours: Cell, other: Cell) -> List[float]:
    """``ours`` ÷ ``other`` run by run: in every run the two were installed back to back."""
    return [a / b for a, b in zip(ours["seconds"], other["seconds"])]  # type: ignore[call-overload]


def ratio(ours: Cell, other: Cell) -> float:
    """The median of the paired ratios, as the report prints it and as the target is judged."""
    return round(statistics.median(paired(ours, other)), 2)


def _middle_half(values: Sequence[float]) -> str:
    if len(values) < 4:
        return ""
    low, _, high = statistics.quantiles(values, n=4)
    return f"{low:.2f}–{high:.2f}"


def ratios(data: dict) -> List[Tuple[str, int, str, str, float]]:
    """pipcachefirst ÷ bound per cell: (workload, delay, pages, pip, ratio)."""
    found = []
    for workload in data["workloads"]:
        for delay, pages, pip in rows(data, workload):
            pairs = _paired_cells(data, workload, delay, pages, pip)
            if pairs:
                found.append((workload, delay, pages, pip, round(statistics.median(pairs), 2)))
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
    cells = data["cells"]
    shown_uv = set()
    for delay, pages, pip in rows(data, workload):
        where = dict(workload=workload, delay_ms=delay, pages=pages)
        plain, ours, bound = (_find(cells, pip=pip, way=w, **where) for w in ("plain pip", "pipcachefirst", "bound"))
        uv = None if (delay, pages) in shown_uv else _find(cells, way="uv", **where)
        shown_uv.add((delay, pages))
        ours_to_bound = ""
        if ours and bound:
            ours_to_bound = f"{ratio(ours, bound):.2f}"
            if ratio(ours, bound) > TARGET:
                ours_to_bound = f"**{ours_to_bound}**"
            middle = _middle_half(paired(ours, bound))
            ours_to_bound += f" ({middle})" if middle else ""
        speedup = f"{ratio(plain, ours):.2f}" if plain and ours else ""
        uv_column = f" {_figure(uv)} |" if with_uv else ""
        lines.append(
            f"| {delay} ms | {pages} | {pip} | {_figure(plain)} | {_figure(ours)} | {_figure(bound)} |{uv_column} "
            f"{ours_to_bound} | {speedup} |"
        )
    pooled = [r for delay, pages, pip in rows(data, workload) for r in _paired_cells(data, workload, delay, pages, pip)]
    if len(pooled) >= 4:
        lines += [
            "",
            f"All {len(rows(data, workload))} rows together (neither pipcachefirst nor the bound asks the index, so "
            f"every row makes the same comparison): pipcachefirst ÷ bound = {statistics.median(pooled):.2f}, the "
            f"median of {len(pooled)} paired runs, the middle half {_middle_half(pooled)}.",
        ]
    return lines


def _paired_cells(data: dict, workload: str, delay: int, pages: str, pip: str) -> List[float]:
    where = dict(workload=workload, delay_ms=delay, pages=pages, pip=pip)
    ours, bound = _find(data["cells"], way="pipcachefirst", **where), _find(data["cells"], way="bound", **where)
    return paired(ours, bound) if ours and bound else []


def _spread(data: dict) -> str:
    deviations = sorted(
        abs(s / median(cell) - 1) for cell in data["cells"] for s in cell["seconds"]  # type: ignore[attr-defined]
    )
    if max(data["runs"].values()) < 3:
        return ""
    half = deviations[len(deviations) // 2] * 100
    most = deviations[int(len(deviations) * 0.9)] * 100
    return (
        f"Run-to-run spread: half of all installs took within ±{half:.0f} % of their cell's median, "
        f"nine in ten within ±{most:.0f} %."
    )


def markdown(data: dict) -> str:
    """The report as Markdown: how it was made, a table per workload, the verdict."""
    versions = "; ".join(f"{name} {version}" for name, version in data["versions"].items())
    runs = " and ".join(f"{n} ({name})" for name, n in data["runs"].items()) if len(set(
        data["runs"].values())) > 1 else str(next(iter(data["runs"].values())))
    lines = [
        f"Measured on {data['date']} with `{data['command']}`: {harness.describe(data['machine'])}; {versions}.",
        "",
        f"Each time is the median of {runs} interleaved runs after a warm-up run: seconds to install the "
        "workload into a fresh venv with warm caches, and in brackets the index requests each install made (a "
        "range where runs differed). Each ratio is the median of per-run ratios between two installs made back to "
        "back, with the middle half of those per-run ratios in brackets: this machine has slow and fast phases "
        "of a few seconds, which a ratio of two medians would not cancel. The index is on 127.0.0.1 and adds the "
        "delay to every "
        "request; its pages are stale (`max-age=0`)"
        + (f", or fresh (`max-age={data['settings']['fresh_max_age']}`) where the row says so" if _has(
            data, pages="fresh") else "")
        + ". **bound** is `pip install --no-index --find-links` over the same files."
        + (" uv is measured once per delay (it does not depend on pip) and shown on the first row." if _has(
            data, way="uv") else ""),
        "",
    ]
    for workload in data["workloads"]:
        lines += _table(data, workload) + [""]
    found = ratios(data)
    if found:
        misses = [r for r in found if r[4] > TARGET]
        verdict = f"pipcachefirst ÷ bound ≤ {TARGET} in {len(found) - len(misses)} of {len(found)} cells"
        if misses:
            verdict += "; not in " + ", ".join(
                f"{w} at {d} ms ({p} pages), pip {pip}: {r:.2f}" for w, d, p, pip, r in misses
            )
        lines.append(verdict + ".")
    spread = _spread(data)
    if spread:
        lines += ["", spread]
    if data.get("minutes"):
        lines += ["", f"The whole run, setup included, took {data['minutes']} minutes."]
    return "\n".join(lines) + "\n"


def plot(data_path: Path, png: Path, work: Path) -> None:
    """Draw the plot with matplotlib from a venv of its own (the benchmark needs nothing installed)."""
    bin_dir = harness.tool_venv(work, "tool-plot", PLOT_REQUIREMENTS)
    plot_script = Path(__file__).resolve().parent / "plot.py"
    harness.run([str(bin_dir / "python"), str(plot_script), str(data_path), str(png)], harness.environ())


def write(data: dict, output: Path, work: Path, update_readme: bool = False) -> None:
    """report.json, report.md and report.png into ``output``; README too for the committed report."""
    output.mkdir(parents=True, exist_ok=True)
    data_path = output / "report.json"
    data_path.write_text(json.dumps(data, indent=1) + "\n")
    (output / "report.md").write_text(markdown(data))
    plot(data_path, output / "report.png", work)
    if update_readme:
        include_results(README)
    print(f"report written to {output}")


def included(text: str) -> List[Tuple[str, str]]:
    """(path, what README shows) for each include block in ``text``."""
    return [(match.group(2), match.group(3)) for match in _INCLUDE.finditer(text)]


def include_results(readme: Path = README) -> None:
    """Copy each included result file into its block in ``readme``."""

    def fill(match: "re.Match[str]") -> str:
        path = harness.REPO / match.group(2)
        if not path.is_file():
            print(f"README: {match.group(2)} does not exist yet; its block is left as it was")
            return match.group(0)
        return match.group(1) + path.read_text() + match.group(4)

    readme.write_text(_INCLUDE.sub(fill, readme.read_text()))


def main(argv: Sequence[str]) -> None:
    data_path = Path(argv[0]) if argv else harness.REPO / "bench" / "results" / "report.json"
    data = json.loads(data_path.read_text())
    write(data, data_path.parent, harness.DEFAULT_WORKDIR.resolve(),
          update_readme=data_path.parent.resolve() == (harness.REPO / "bench" / "results").resolve())


if __name__ == "__main__":
    main(sys.argv[1:])
