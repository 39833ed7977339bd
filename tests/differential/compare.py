"""The comparison: plain pip is the reference, and every way pipcachefirst's side differs is a line.

pipcachefirst may add only itself to an environment (and its dependencies, if it has any,
when the lock does not pin them: then the lock's pins win and must match);
may make fewer index requests and builds on a warm second install, never
more; and may not be slower beyond noise.  Everything else must be equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Set

from tests.differential.observe import SideResult
from tests.support.indexserver import canonical

PRODUCT = "pipcachefirst"
# One run per side on a small, noisy machine: slower only when both are exceeded.
SLOWER_RATIO = 1.25
SLOWER_SECONDS = 0.5
_SHOWN = 8


@dataclass
class Cell:
    """One (lock, pip) pair as run: names for messages and the two sides."""

    lock: str
    pip: str
    python: str
    plain: SideResult
    pcf: SideResult
    product_dists: List[str]  # what the pipcachefirst side's venv got besides pip: pipcachefirst and its requirements

    @property
    def label(self) -> str:
        return f"{self.lock} pip {self.pip} (Python {self.python})"

    def ratio(self) -> Optional[float]:
        plain = self.plain.install2.seconds
        return round(self.pcf.install2.seconds / plain, 3) if plain > 0 else None


def freeze_name(line: str) -> str:
    return canonical(re.split(r"\s*(?:===|==| @ )", line, maxsplit=1)[0].split("[")[0])


def extras_allowed(cell: Cell) -> Set[str]:
    """What the pipcachefirst side may have beyond plain's: itself, and its requirements the lock leaves alone."""
    plain_names = {freeze_name(line) for line in cell.plain.freeze}
    return {PRODUCT} | {canonical(n) for n in cell.product_dists if canonical(n) not in plain_names | {"pip"}}


def _show(items: Iterable[str]) -> str:
    items = sorted(items)
    if not items:
        return "-"
    text = ", ".join(items[:_SHOWN])
    return text + (f", … ({len(items)} in all)" if len(items) > _SHOWN else "")


def _set_difference(what: str, plain: Iterable[str], pcf: Iterable[str]) -> Optional[str]:
    a, b = set(plain), set(pcf)
    if a == b:
        return None
    return f"{what}: plain={_show(a - b)} pipcachefirst={_show(b - a)} (only on that side)"


def compare(cell: Cell) -> List[str]:
    """Every difference, each a line naming the lock, pip and what differed."""
    plain, pcf = cell.plain, cell.pcf
    found: List[str] = []
    allowed = extras_allowed(cell)

    for step in ("install1", "install2", "download", "check"):
        a, b = getattr(plain, step).returncode, getattr(pcf, step).returncode
        name = {
            "install1": "first install exit status",
            "install2": "second install exit status",
            "download": "pip download exit status",
            "check": "pip check exit status",
        }[step]
        if a != b:
            found.append(f"{name}: plain={a} pipcachefirst={b}")

    pcf_freeze = [line for line in pcf.freeze if freeze_name(line) not in allowed]
    found.append(_set_difference("pip freeze", plain.freeze, pcf_freeze) or "")

    plain_files = _files(plain.files, set())
    pcf_files = _files(pcf.files, allowed)
    found.append(_set_difference("installed files", plain_files, pcf_files) or "")

    if plain.check.returncode != 0 or pcf.check.returncode != 0:
        check_a = {line.strip() for line in plain.check.output.splitlines() if line.strip()}
        check_b = {line.strip() for line in pcf.check.output.splitlines() if line.strip()}
        found.append(_set_difference("pip check output", check_a, check_b) or "")

    a_requests, b_requests = len(plain.install2.requests), len(pcf.install2.requests)
    if b_requests > a_requests:
        found.append(
            f"second install index requests: plain={a_requests} pipcachefirst={b_requests} "
            f"(more: {_show(set(pcf.install2.requests) - set(plain.install2.requests))})"
        )

    a_builds, b_builds = set(plain.install2.builds()), set(pcf.install2.builds())
    if not b_builds <= a_builds:
        found.append(
            f"second install builds: plain={_show(a_builds)} pipcachefirst={_show(b_builds)} "
            f"(pipcachefirst built {_show(b_builds - a_builds)})"
        )

    ratio = cell.ratio()
    slower = pcf.install2.seconds - plain.install2.seconds
    if ratio is not None and ratio > SLOWER_RATIO and slower > SLOWER_SECONDS:
        found.append(
            f"second install time: plain={plain.install2.seconds:.2f}s pipcachefirst={pcf.install2.seconds:.2f}s "
            f"(ratio {ratio:.2f} > {SLOWER_RATIO})"
        )

    if plain.downloaded != pcf.downloaded:
        names = _set_difference("pip download file names", plain.downloaded, pcf.downloaded)
        found.append(names or "")
        changed = sorted(
            n for n in set(plain.downloaded) & set(pcf.downloaded) if plain.downloaded[n] != pcf.downloaded[n]
        )
        if changed:
            found.append(
                f"pip download bytes: plain={_show(plain.downloaded[n][:12] for n in changed)} "
                f"pipcachefirst={_show(pcf.downloaded[n][:12] for n in changed)} ({_show(changed)})"
            )

    for step in ("install1", "install2", "download"):
        a_lines = set(getattr(plain, step).notable([plain.root]))
        b_lines = set(getattr(pcf, step).notable([pcf.root]))
        extra = b_lines - a_lines
        if extra:
            found.append(f"{step} output lines: plain=- pipcachefirst={_show(extra)}")

    return [f"{cell.label}: {line}" for line in found if line]


def _files(files: Dict[str, List[str]], excluded: Set[str]) -> Set[str]:
    return {path for name, paths in files.items() if name not in excluded for path in paths}
