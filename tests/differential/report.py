"""The run's summary: a table a person reads, JSON a program reads, and the last line CI greps."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from tests.differential.bytecode import Imported
from tests.differential.compare import Cell


@dataclass
class Outcome:
    """A (lock, pip) cell's verdict: its sides (None when the harness itself failed) and differences."""

    lock: str
    pip: str
    python: str
    differences: List[str]
    cell: Optional[Cell] = None
    logs: str = ""
    error: str = ""
    seconds: float = 0.0  # the whole cell, wall time

    @property
    def passed(self) -> bool:
        return not self.differences


@dataclass
class Report:
    outcomes: List[Outcome] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    setup_problems: List[str] = field(default_factory=list)
    setup_seconds: float = 0.0
    run_seconds: float = 0.0

    def table(self) -> str:
        header = (
            "lock", "pip", "py", "exit", "plain s", "pcf s", "ratio",
            "requests", "builds", "served", "bad pycs", "imports", "verdict",
        )
        rows = [header]
        for o in self.outcomes:
            c = o.cell
            if c is None:
                rows.append((o.lock, o.pip, o.python, "", "", "", "", "", "", "", "", "", "ERROR"))
                continue
            served = c.pcf.install2.served().replace("pipcachefirst: ", "").split(" pinned")[0]
            rows.append(
                (
                    o.lock,
                    o.pip,
                    o.python,
                    f"{c.plain.install2.returncode}/{c.pcf.install2.returncode}",
                    f"{c.plain.install2.seconds:.2f}",
                    f"{c.pcf.install2.seconds:.2f}",
                    f"{c.ratio():.2f}" if c.ratio() is not None else "-",
                    f"{len(c.plain.install2.requests)}/{len(c.pcf.install2.requests)}",
                    f"{len(c.plain.install2.builds())}/{len(c.pcf.install2.builds())}",
                    served or "-",
                    f"{len(c.plain.bytecode.bad())}/{len(c.pcf.bytecode.bad())} of {len(c.plain.bytecode.pycs)}",
                    f"{_imported(c.plain.bytecode.imports)}/{_imported(c.pcf.bytecode.imports)}",
                    "pass" if o.passed else f"FAIL ({len(o.differences)})",
                )
            )
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
        lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def text(self) -> str:
        parts = [self.table(), ""]
        parts.append(
            "exit/requests/builds: second install, plain/pipcachefirst; served: pipcachefirst's "
            "'N of M' line of its second install; ratio: pipcachefirst s / plain s; bad pycs: not valid "
            "for their source, plain/pipcachefirst, of plain's; imports: top-level modules that imported"
        )
        if self.skipped:
            parts += ["", "skipped:"] + [f"  {s}" for s in self.skipped]
        if self.setup_problems:
            parts += ["", "setup (fetch) problems:"] + [f"  {s}" for s in self.setup_problems]
        failed = [o for o in self.outcomes if not o.passed]
        if failed:
            parts += ["", "differences:"]
            for o in failed:
                parts += [f"  {line}" for line in o.differences]
                if o.logs:
                    parts.append(f"    (pip output: {o.logs})")
        parts += ["", f"setup {self.setup_seconds:.0f} s, run {self.run_seconds:.0f} s", self.summary()]
        return "\n".join(parts)

    def summary(self) -> str:
        passed = sum(o.passed for o in self.outcomes)
        return f"{passed} passed, {len(self.outcomes) - passed} failed"

    def to_json(self) -> Dict[str, Any]:
        return {
            "setup_seconds": round(self.setup_seconds, 1),
            "run_seconds": round(self.run_seconds, 1),
            "skipped": self.skipped,
            "setup_problems": self.setup_problems,
            "summary": self.summary(),
            "cells": [
                {
                    "lock": o.lock,
                    "pip": o.pip,
                    "python": o.python,
                    "passed": o.passed,
                    "differences": o.differences,
                    "error": o.error,
                    "logs": o.logs,
                    "cell_seconds": o.seconds,
                    "product_dists": o.cell.product_dists if o.cell else None,
                    "ratio": o.cell.ratio() if o.cell else None,
                    "plain": o.cell.plain.to_json() if o.cell else None,
                    "pipcachefirst": o.cell.pcf.to_json() if o.cell else None,
                }
                for o in self.outcomes
            ],
        }

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.txt").write_text(self.text() + "\n")
        (folder / "report.json").write_text(json.dumps(self.to_json(), indent=1) + "\n")


def _imported(imports: Dict[str, Imported]) -> int:
    return sum(not imported.error for imported in imports.values())
