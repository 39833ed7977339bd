"""Byte code and imports of one side's venv: is every ``.pyc`` valid, and does what imports load it?

Two probes, each run by the venv's own python with ``python -c`` (no script
folder put on ``sys.path``, the same flags and environment on both sides, in an
empty working folder):

- ``scan``: every ``__pycache__/*.<cache tag>*.pyc`` under site-packages, read
  as the import system reads it (magic number, flags, the source's mtime and
  size, or its hash for a hash-based pyc), then its body unmarshalled and
  compared with the code its source compiles to (code objects compare without
  their file name, which the import system sets on load).  Cheap next to an
  install, and it covers modules no import reaches: numpy 1.26.4's wheel ships
  ``numpy/distutils/__pycache__/conv_template.cpython-311.pyc``, which pip's
  compile step writes again; a copy that trusts a recorded size can leave it
  truncated (``EOFError: marshal data too short``) with a header that still
  matches its source.  Also lists the top-level modules the lock installed
  (from every ``RECORD``) whose source has a pyc.
- ``import``: those modules, one interpreter per top-level name, with the
  source loader hooked so that every module compiled from source (a pyc
  missing, stale or unreadable) is noted.  ``PYTHONDONTWRITEBYTECODE`` (set by
  ``isolated_environ``) keeps the import from writing pycs, so the venv the
  probes look at is the one pip left.

A module that does not import with plain pip is not compared; one that does
must import with pipcachefirst too, compiling no more from source than plain pip.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

from tests.support.envs import isolated_environ

IMPORT_TIMEOUT = 300
MARKER = "@@pipcachefirst-differential@@"

_SCAN = r"""
import csv, importlib.util, json, marshal, os, re, sys, types, warnings
warnings.simplefilter("ignore")
site, excluded = os.path.realpath(sys.argv[1]), set(sys.argv[2:])
tag = sys.implementation.cache_tag

def check(path):
    try:
        source = importlib.util.source_from_cache(path)
    except ValueError as exc:
        return "name not understood: %s" % exc
    if not os.path.exists(source):
        return "no source (Python never loads it)"
    with open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 16:
        return "%d bytes, shorter than a header" % len(data)
    if data[:4] != importlib.util.MAGIC_NUMBER:
        return "magic number %s, not this Python's" % data[:4].hex()
    flags = int.from_bytes(data[4:8], "little")
    if flags & ~0b11:
        return "unknown flags %#x" % flags
    with open(source, "rb") as handle:
        source_bytes = handle.read()
    if flags & 0b1:
        if data[8:16] != importlib.util.source_hash(source_bytes):
            return "hash-based pyc for other source bytes"
    else:
        st = os.stat(source)
        mtime, size = int.from_bytes(data[8:12], "little"), int.from_bytes(data[12:16], "little")
        if mtime != int(st.st_mtime) & 0xFFFFFFFF:
            return "header mtime %d, source mtime %d" % (mtime, int(st.st_mtime))
        if size != st.st_size & 0xFFFFFFFF:
            return "header size %d, source size %d" % (size, st.st_size)
    try:
        code = marshal.loads(data[16:])
    except Exception as exc:
        return "%s: %s (%d bytes)" % (type(exc).__name__, exc, len(data))
    if not isinstance(code, types.CodeType):
        return "body is a %s, not code" % type(code).__name__
    opt = re.search(r"\.opt-(\d)\.pyc$", path)
    try:
        expected = compile(source_bytes, source, "exec", dont_inherit=True, optimize=int(opt.group(1)) if opt else 0)
    except Exception as exc:
        return "source does not compile (%s), yet a pyc is there" % type(exc).__name__
    if code != expected:
        return "code differs from what the source compiles to"
    return "ok"

def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()

records, theirs, ours = {}, set(), set()  # theirs: top-level names only pip or pipcachefirst installed
for entry in sorted(os.listdir(site)):
    record = os.path.join(site, entry, "RECORD")
    if not entry.endswith(".dist-info") or not os.path.exists(record):
        continue
    with open(record, newline="", encoding="utf-8") as handle:
        paths = [row[0] for row in csv.reader(handle) if row]
    if canonical(entry[:-10].rsplit("-", 1)[0]) in excluded:
        theirs.update(p.split("/")[0] for p in paths)
    else:
        records[entry] = paths
        ours.update(p.split("/")[0] for p in paths)
theirs -= ours

pycs = {}
for folder, dirs, files in os.walk(site):
    dirs.sort()
    if folder == site:
        dirs[:] = [d for d in dirs if d not in theirs]
    if os.path.basename(folder) != "__pycache__":
        continue
    for name in sorted(files):
        if name.endswith(".pyc") and name.split(".")[1] == tag:
            path = os.path.join(folder, name)
            pycs[os.path.relpath(path, site)] = check(path)

units = set()
for paths in records.values():
    for path in paths:
        if not path.endswith(".py") or path.startswith("..") or "__pycache__" in path:
            continue
        parts = path[:-3].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        for depth in range(1, len(parts) + 1):
            prefix = parts[:depth]
            if depth < len(parts) and not os.path.exists(os.path.join(site, *prefix, "__init__.py")):
                continue  # a namespace package: its modules are the units
            if all(p.isidentifier() for p in prefix):
                package = depth < len(parts) or path.endswith("__init__.py")
                source = os.path.join(site, *prefix) + ("/__init__.py" if package else ".py")
                if os.path.exists(importlib.util.cache_from_source(source)):
                    units.add(".".join(prefix))
            break
print(json.dumps({"pycs": pycs, "units": sorted(units)}))
"""

_IMPORT = r"""
import importlib, importlib.machinery, json, os, sys
site, marker, names = os.path.realpath(sys.argv[1]), sys.argv[2], sys.argv[3:]
compiled = []
original = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiled.append(os.path.realpath(path))
    return original(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code
for name in names:
    del compiled[:]
    error = ""
    try:
        importlib.import_module(name)
    except BaseException as exc:
        error = ("%s: %s" % (type(exc).__name__, exc)).splitlines()[0][:300]
    inside = sorted({os.path.relpath(p, site) for p in compiled if p.startswith(site + os.sep)})
    sys.stdout.flush()
    sys.__stdout__.write("\n" + marker + json.dumps({"name": name, "error": error, "compiled": inside}) + "\n")
    sys.__stdout__.flush()
os._exit(0)
"""


@dataclass
class Imported:
    """One top-level module imported in a fresh interpreter."""

    error: str  # '' when it imported
    compiled: List[str] = field(default_factory=list)  # site-packages paths compiled from source meanwhile


@dataclass
class ByteCode:
    """One side's venv: each pyc's verdict ('ok' or why not) and each probed import."""

    pycs: Dict[str, str] = field(default_factory=dict)
    units: List[str] = field(default_factory=list)  # top-level modules the lock installed that have a pyc
    imports: Dict[str, Imported] = field(default_factory=dict)
    error: str = ""  # the scan itself failed
    seconds: float = 0.0  # scan and imports, wall time

    def bad(self) -> Dict[str, str]:
        return {path: verdict for path, verdict in self.pycs.items() if verdict != "ok"}

    def summary(self) -> Dict[str, Any]:
        """What report.json keeps: counts, and the pycs and imports that are not fine."""
        return {
            "pycs": len(self.pycs),
            "pycs_not_ok": self.bad(),
            "units": len(self.units),
            "imports": len(self.imports),
            "imports_failed": {n: i.error for n, i in self.imports.items() if i.error},
            "compiled_at_import": sorted({p for i in self.imports.values() for p in i.compiled}),
            "error": self.error,
            "seconds": round(self.seconds, 1),
        }


def scan(python: Path, site_packages: Path, excluded: Sequence[str], cwd: Path) -> ByteCode:
    """Every pyc's verdict, and the top-level modules to import."""
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [str(python), "-c", _SCAN, str(site_packages), *excluded],
        capture_output=True,
        text=True,
        env=isolated_environ(),
        cwd=cwd,
    )
    if proc.returncode != 0:
        return ByteCode(error=f"byte code scan exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return ByteCode(pycs=data["pycs"], units=data["units"])


def import_group(python: Path, site_packages: Path, names: Sequence[str], cwd: Path) -> Dict[str, Imported]:
    """Import ``names`` one after the other in one interpreter; a crash or hang is an error like any other."""
    found: Dict[str, Imported] = {}
    try:
        proc = subprocess.run(
            [str(python), "-c", _IMPORT, str(site_packages), MARKER, *names],
            capture_output=True,
            text=True,
            env=isolated_environ(),
            cwd=cwd,
            timeout=IMPORT_TIMEOUT,
        )
        stdout, failure = proc.stdout, f"python exited {proc.returncode} during the import"
        tail = (proc.stderr.strip().splitlines() or [""])[-1][:300]
        failure += f": {tail}" if tail else ""
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        failure = f"timed out after {IMPORT_TIMEOUT} s"
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            found[data["name"]] = Imported(data["error"], data["compiled"])
    return {name: found.get(name) or Imported(failure) for name in names}


def import_all(python: Path, site_packages: Path, names: Sequence[str], cwd: Path) -> Dict[str, Imported]:
    """Import each of ``names`` (plain pip's list, on both sides), one interpreter per top-level name.

    ``google.auth``, ``google.protobuf`` and a hundred more share one
    interpreter (starting one per module doubled a cell of linehaul's lock);
    each module's import is still its own try, in the same order on both sides.
    """
    groups: Dict[str, List[str]] = {}
    for name in names:
        groups.setdefault(name.split(".")[0], []).append(name)
    found: Dict[str, Imported] = {}
    for group in groups.values():
        found.update(import_group(python, site_packages, group, cwd))
    return found
