"""Plot the benchmark reports: a row of panels per report, one panel per workload.

Runs in a venv holding matplotlib (``report.plot`` makes it), so it imports
nothing from the project:

    python plot.py report.png report.json [trees.json]

The grid (``report.json``): seconds per install against index delay; colour
tells the way of installing, line style the pip version; the fresh pages row
is drawn as stars just right of its delay.  Installed trees (``trees.json``):
a bar per way and pip version, uv's bars on their own, with the disk quiet
(the rows under disk load are in the tables only), and pipcachefirst's goals
against uv drawn as lines (goal × uv's median), 0.4 × the bound dotted.
"""

from __future__ import annotations

import json
import statistics
import sys
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

COLOURS = {"plain pip": "#d62728", "pipcachefirst": "#1f77b4", "bound": "#7f7f7f", "uv": "#2ca02c"}
TREES_COLOURS = {"plain pip": "#d62728", "first install": "#ff7f0e", "trees off": "#9ecae1", "bound": "#7f7f7f",
                 "pipcachefirst": "#1f77b4", "uv --compile-bytecode": "#98df8a", "uv": "#2ca02c"}
GOAL_STYLES = {"uv --compile-bytecode": "dashed", "uv": "dashdot"}  # pipcachefirst's goals against uv
STYLES = ["dotted", "dashed", "solid"]


def _version_key(version: str) -> List[int]:
    return [int(p) for p in version.split(".")]


def grid(subfigure: "matplotlib.figure.SubFigure", data: dict) -> None:
    cells = data["cells"]
    workloads = list(data["workloads"])
    pips = sorted({c["pip"] for c in cells if c["pip"]}, key=_version_key)
    style = {pip: STYLES[-len(pips):][i] if len(pips) <= len(STYLES) else "solid" for i, pip in enumerate(pips)}
    axes = subfigure.subplots(1, len(workloads), squeeze=False)
    for ax, workload in zip(axes[0], workloads):
        mine = [c for c in cells if c["workload"] == workload]
        delays = sorted({c["delay_ms"] for c in mine})
        dodge = (max(delays) - min(delays) or 100) * 0.03  # fresh-pages stars beside the stale points
        lines: Dict[tuple, List[tuple]] = {}
        for cell in mine:
            point = (cell["delay_ms"], statistics.median(cell["seconds"]))
            if cell["pages"] == "fresh":
                ax.plot(point[0] + dodge, point[1], marker="*", markersize=13, linestyle="none",
                        color=COLOURS[cell["way"]], markeredgecolor="black", markeredgewidth=0.5, zorder=3)
            else:
                lines.setdefault((cell["pip"], cell["way"]), []).append(point)
        for (pip, way), points in sorted(lines.items(), key=lambda item: str(item[0])):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], color=COLOURS[way],
                    linestyle=style.get(pip, "solid"), marker="o", markersize=4, linewidth=1.6)
        ax.set_title(f"{workload} ({_kinds(data, workload)})")
        ax.set_xlabel("index delay per request (ms)")
        ax.set_ylabel("seconds per install (median)")
        ax.set_xticks(delays)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    handles = [Line2D([], [], color=colour, linewidth=2, label=way) for way, colour in COLOURS.items()
               if any(c["way"] == way for c in cells)]
    handles += [Line2D([], [], color="black", linestyle=style[pip], label=f"pip {pip}") for pip in pips]
    fresh = sorted({c["pip"] for c in cells if c["pages"] == "fresh" and c["pip"]})
    if fresh:
        handles.append(Line2D([], [], color="black", marker="*", markersize=11, linestyle="none",
                              label=f"pip {', '.join(fresh)}, fresh pages"))
    subfigure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4 * len(workloads)),
                     frameon=False)
    runs = ", ".join(f"{name}: {n} runs" for name, n in data["runs"].items())
    subfigure.suptitle(f"Warm re-install into a fresh venv, medians ({runs}), {data['date']}")


def trees(subfigure: "matplotlib.figure.SubFigure", data: dict) -> None:
    cells = data["cells"]
    workloads = list(data["workloads"])
    ways = [w for w in TREES_COLOURS if any(c["way"] == w for c in cells)]
    axes = subfigure.subplots(1, len(workloads), squeeze=False)
    for ax, workload in zip(axes[0], workloads):
        mine = [c for c in cells if c["workload"] == workload and c["pages"] == "stale"
                and c.get("disk", "quiet") == "quiet"]
        delay = min(c["delay_ms"] for c in mine)
        mine = [c for c in mine if c["delay_ms"] == delay]
        pips = sorted({c["pip"] for c in mine if c["pip"]}, key=_version_key)
        groups: List[Tuple[str, Dict[str, float]]] = [
            (f"pip {pip}", {c["way"]: statistics.median(c["seconds"]) for c in mine if c["pip"] == pip})
            for pip in pips]
        uv = {c["way"]: statistics.median(c["seconds"]) for c in mine if not c["pip"]}
        if uv:
            groups.append(("uv", uv))
        width = 0.8 / max(len(ways), 1)
        for x, (_, medians) in enumerate(groups):
            present = [w for w in ways if w in medians]
            for i, way in enumerate(present):
                left = x - 0.4 + width * (i + (len(ways) - len(present)) / 2)
                ax.bar(left + width / 2, medians[way], width * 0.92, color=TREES_COLOURS[way])
                if way in ("pipcachefirst", "uv --compile-bytecode", "uv"):
                    ax.annotate(f"{medians[way]:.2f}", (left + width / 2, medians[way]), ha="center",
                                va="bottom", fontsize=7)
            if "bound" in medians and "pipcachefirst" in medians:
                ax.hlines(0.4 * medians["bound"], x - 0.42, x + 0.42, colors="black", linestyles="dotted",
                          linewidth=1)
        for other, goal in _uv_goals(data, workload):
            if other in uv:
                ax.axhline(goal * uv[other], color=TREES_COLOURS[other], linestyle=GOAL_STYLES[other],
                           linewidth=1.2, zorder=0, label=f"goal: pipcachefirst ≤ {goal} × {other}")
        ax.set_xticks(range(len(groups)), [name for name, _ in groups])
        ax.set_title(f"{workload} ({_kinds(data, workload)}), {delay} ms, stale pages")
        ax.set_ylabel("seconds per install (median)")
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", alpha=0.3)
    handles = [Patch(color=TREES_COLOURS[way], label=way) for way in ways]
    goals = dict.fromkeys((other, goal) for workload in workloads for other, goal in _uv_goals(data, workload))
    handles += [Line2D([], [], color=TREES_COLOURS[other], linestyle=GOAL_STYLES[other],
                       label=f"goal: pipcachefirst ≤ {goal} × {other}") for other, goal in goals]
    handles += [Line2D([], [], color="black", linestyle="dotted", label="goal: pipcachefirst ≤ 0.4 × bound")]
    subfigure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), frameon=False)
    runs = ", ".join(f"{name}: {n} runs" for name, n in data["runs"].items())
    subfigure.suptitle(f"Installed trees: warm install into a fresh venv, medians ({runs}), {data['date']}")


def _uv_goals(data: dict, workload: str) -> List[Tuple[str, float]]:
    """(uv way, goal) of pipcachefirst's goals against uv for ``workload``: its own entry, else the one for all."""
    chosen: Dict[str, float] = {}
    skipped = set()
    for entry in data["settings"].get("goals", []):
        ours, other, goal = entry[:3]
        where = entry[3] if len(entry) > 3 else []
        if ours != "pipcachefirst" or other not in GOAL_STYLES or other in chosen or other in skipped:
            continue
        if where and workload not in where:
            continue
        if goal is None:
            skipped.add(other)  # shown without a goal here
        else:
            chosen[other] = goal
    return list(chosen.items())


def _kinds(data: dict, workload: str) -> str:
    facts = data["workloads"][workload]
    return ", ".join(f"{n} {kind}" for kind, n in (("wheels", facts["wheels"]), ("sdists", facts["sdists"])) if n)


def main(png_path: str, *data_paths: str) -> None:
    reports = []
    for path in data_paths:
        with open(path) as f:
            reports.append(json.load(f))
    columns = max(len(data["workloads"]) for data in reports)
    figure = plt.figure(figsize=(6.5 * columns, 5.6 * len(reports)), layout="constrained")
    subfigures = figure.subfigures(len(reports), 1, squeeze=False)[:, 0]
    for subfigure, data in zip(subfigures, reports):
        (trees if data.get("kind") == "trees" else grid)(subfigure, data)
    figure.savefig(png_path, dpi=110, metadata={"Software": None})


if __name__ == "__main__":
    main(*sys.argv[1:])
