"""Plot a benchmark report: one panel per workload, seconds per install against index delay.

Runs in a venv holding matplotlib (``report.plot`` makes it), so it imports
nothing from the project:

    python plot.py report.json report.png

Colour tells the way of installing, line style the pip version; the fresh
pages row is drawn as stars just right of its delay.
"""

from __future__ import annotations

import json
import statistics
import sys
from typing import Dict, List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

COLOURS = {"plain pip": "#d62728", "pipcachefirst": "#1f77b4", "bound": "#7f7f7f", "uv": "#2ca02c"}
STYLES = ["dotted", "dashed", "solid"]


def main(data_path: str, png_path: str) -> None:
    with open(data_path) as f:
        data = json.load(f)
    cells = data["cells"]
    workloads = list(data["workloads"])
    pips = sorted({c["pip"] for c in cells if c["pip"]}, key=lambda v: [int(p) for p in v.split(".")])
    style = {pip: STYLES[-len(pips):][i] if len(pips) <= len(STYLES) else "solid" for i, pip in enumerate(pips)}
    figure, axes = plt.subplots(1, len(workloads), figsize=(6.5 * len(workloads), 4.8), squeeze=False)
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
        facts = data["workloads"][workload]
        kinds = ", ".join(f"{n} {kind}" for kind, n in (("wheels", facts["wheels"]), ("sdists", facts["sdists"])) if n)
        ax.set_title(f"{workload} ({kinds})")
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
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4 * len(workloads)), frameon=False)
    runs = ", ".join(f"{name}: {n} runs" for name, n in data["runs"].items())
    figure.suptitle(f"Warm re-install into a fresh venv, medians ({runs}), {data['date']}")
    figure.tight_layout(rect=(0, 0.14 if len(handles) > 4 * len(workloads) else 0.08, 1, 1))
    figure.savefig(png_path, dpi=110, metadata={"Software": None})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
