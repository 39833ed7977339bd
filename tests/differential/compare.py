"""The comparison: plain pip is the reference, and every way pipcachefirst's side differs is a line.

pipcachefirst may add only itself to an environment (and its dependencies, if it has any,
when the lock does not pin them: then the lock's pins win and must match);
may make fewer index requests and builds on a warm second install, never
more; and may not be slower beyond noise.  Everything else must be equal,
including pip's ``--dry-run --report`` JSON, and every pyc must be valid for
its source and every module that imports with plain pip must import, from
its pyc, with pipcachefirst.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from tests.differential.observe import SideResult
from tests.support.indexserver import canonical

PRODUCT = "pipcachefirst"
# One run per side on a small, noisy machine: slower only when both are exceeded.
SLOWER_RATIO = 1.25
SLOWER_SECONDS = 0.5
_SHOWN = 8
_VALUE_CHARS = 160


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

    for step in ("install1", "install2", "download", "check", "dry_run"):
        if getattr(plain, step) is None or getattr(pcf, step) is None:
            continue
        a, b = getattr(plain, step).returncode, getattr(pcf, step).returncode
        name = {
            "install1": "first install exit status",
            "install2": "second install exit status",
            "download": "pip download exit status",
            "check": "pip check exit status",
            "dry_run": "pip install --dry-run --report exit status",
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

    for step in ("install1", "install2", "download", "dry_run"):
        if getattr(plain, step) is None or getattr(pcf, step) is None:
            continue
        a_lines = set(getattr(plain, step).notable([plain.root]))
        b_lines = set(getattr(pcf, step).notable([pcf.root]))
        extra = b_lines - a_lines
        if extra:
            found.append(f"{step} output lines: plain=- pipcachefirst={_show(extra)}")

    found += report_differences(plain.dry_run_report, pcf.dry_run_report)
    found += bytecode_differences(plain, pcf)
    return [f"{cell.label}: {line}" for line in found if line]


def _files(files: Dict[str, List[str]], excluded: Set[str]) -> Set[str]:
    return {path for name, paths in files.items() if name not in excluded for path in paths}


def report_differences(plain: Optional[Dict[str, Any]], pcf: Optional[Dict[str, Any]]) -> List[str]:
    """pip's ``--dry-run --report`` JSON, field by field: one line per field that differs, naming it.

    Entries of ``install`` are matched by project name, so a line reads
    ``install[*].download_info.url differs for 9 of 9 packages (...)``, with one
    example's two values.
    """
    if plain is None and pcf is None:
        return []
    if plain is None or pcf is None:
        return [f"pip install --dry-run --report: plain={_written(plain)} pipcachefirst={_written(pcf)}"]
    by_field: Dict[str, List[Tuple[str, Any, Any]]] = {}
    for path, a, b in _json_differences(plain, pcf, ""):
        pattern = re.sub(r"^install\[[^]]+\]", "install[*]", path)
        by_field.setdefault(pattern, []).append((path, a, b))
    total = len(plain.get("install") or []) if isinstance(plain.get("install"), list) else 0
    lines = []
    for pattern, items in by_field.items():
        path, a, b = items[0]
        if pattern.startswith("install[*]"):
            names = [item[0].split("]", 1)[0][len("install[") :] for item in items]
            where = f"differs for {len(items)} of {total} packages ({_show(names)}); {names[0]}:"
        else:
            where = "differs:"
        lines.append(
            f"pip install --dry-run --report: {pattern} {where} plain={_value(a)} pipcachefirst={_value(b)}"
        )
    return lines


def _written(report: Optional[Dict[str, Any]]) -> str:
    return "no report written" if report is None else "a report"


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


def _install_key(entry: Any, index: int) -> str:
    try:
        return canonical(str(entry["metadata"]["name"]))
    except (KeyError, TypeError):
        return f"#{index}"


def _json_differences(a: Any, b: Any, path: str) -> Iterator[Tuple[str, Any, Any]]:
    """(field path, plain's value, pipcachefirst's) for every leaf that differs; ``<absent>`` for a missing key."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                yield sub, a.get(key, "<absent>"), b.get(key, "<absent>")
            else:
                yield from _json_differences(a[key], b[key], sub)
    elif isinstance(a, list) and isinstance(b, list) and path == "install":
        a_by = {_install_key(e, i): e for i, e in enumerate(a)}
        b_by = {_install_key(e, i): e for i, e in enumerate(b)}
        for key in sorted(set(a_by) | set(b_by)):
            sub = f"install[{key}]"
            if key not in a_by or key not in b_by:
                yield (
                    sub, "<absent>" if key not in a_by else "<present>", "<absent>" if key not in b_by else "<present>"
                )
            else:
                yield from _json_differences(a_by[key], b_by[key], sub)
        if [_install_key(e, i) for i, e in enumerate(a)] != [_install_key(e, i) for i, e in enumerate(b)]:
            if set(a_by) == set(b_by):
                yield "install (order)", list(a_by), list(b_by)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _json_differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield path, a, b


def bytecode_differences(plain: SideResult, pcf: SideResult) -> List[str]:
    """Every pyc valid for its source, none missing, and what imports with plain pip imports from its pyc."""
    a, b = plain.bytecode, pcf.bytecode
    found = [f"{side}: {bc.error}" for side, bc in (("plain", a), ("pipcachefirst", b)) if bc.error]
    invalid = {path: verdict for path, verdict in b.bad().items() if a.pycs.get(path) != verdict}
    if invalid:
        found.append(
            f"byte code not valid for its source ({len(invalid)} of {len(b.pycs)} pycs; plain pip's are valid): "
            + _show(f"{path}: {verdict}" for path, verdict in invalid.items())
        )
    missing = [path for path, verdict in a.pycs.items() if verdict == "ok" and path not in b.pycs]
    if missing:
        found.append(f"byte code missing ({len(missing)} pycs plain pip wrote): {_show(missing)}")
    failed = {
        name: b.imports[name].error
        for name, imported in a.imports.items()
        if not imported.error and name in b.imports and b.imports[name].error
    }
    if failed:
        found.append(
            f"import fails with pipcachefirst, works with plain pip ({len(failed)} of {len(a.imports)} modules): "
            + _show(f"{name}: {error}" for name, error in failed.items())
        )
    compiled_a = {path for imported in a.imports.values() if not imported.error for path in imported.compiled}
    compiled_b = {
        path
        for name, imported in b.imports.items()
        if name in a.imports and not a.imports[name].error
        for path in imported.compiled
    }
    if compiled_b - compiled_a:
        found.append(
            f"import compiled from source, where plain pip's pyc was loaded: {_show(compiled_b - compiled_a)}"
        )
    return found
