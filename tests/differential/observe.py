"""What one side (plain pip or pipcachefirst) does with one lock: the facts the comparison reads.

Each pip command runs in the lock's folder with the lock's args, this side's
own pip cache and the loopback index, and none of the machine's pip
configuration.  Its output goes to a log file, so a failure can point at it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from tests.differential.bytecode import ByteCode
from tests.differential.corpus import Lock
from tests.support.envs import isolated_environ
from tests.support.indexserver import IndexServer, canonical

BUILD_LINE = re.compile(r"(?:Building wheel for|Running setup\.py install for) (\S+)")
NOTABLE_LINE = re.compile(r"^(ERROR\b|WARNING: pipcachefirst)")
SERVED_LINE = re.compile(r"^pipcachefirst: \d+ of \d+ .*from cache")
FREEZE_LINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(==|===| @ )")
PIP_TIMEOUT = 1800
_TEMP_PATH = re.compile(r"/(?:tmp|var/tmp)/[^\s'\"]*")


@dataclass
class Step:
    """One pip command as the user and the index saw it."""

    command: List[str]
    returncode: int
    seconds: float
    requests: List[str]
    log: str
    output: str = field(repr=False)

    def builds(self) -> List[str]:
        """Projects pip built a wheel for (or installed with setup.py), each once."""
        return sorted({canonical(m.group(1)) for m in BUILD_LINE.finditer(self.output)})

    def notable(self, scrub: Sequence[str] = ()) -> List[str]:
        """ERROR lines and pipcachefirst's warnings, with this run's own paths made comparable."""
        lines = set()
        for line in self.output.splitlines():
            if NOTABLE_LINE.match(line.strip()):
                text = line.strip()
                for path in scrub:
                    text = text.replace(path, "<side>")
                lines.add(_TEMP_PATH.sub("<tmp>", text))
        return sorted(lines)

    def served(self) -> str:
        """pipcachefirst's summary line ('N of M pinned requirements from cache'), or ''."""
        for line in self.output.splitlines():
            if SERVED_LINE.match(line.strip()):
                return line.strip()
        return ""


@dataclass
class SideResult:
    """Everything compared about one side of one (lock, pip) cell."""

    side: str
    install1: Step
    install2: Step
    freeze: List[str]
    check: Step
    files: Dict[str, List[str]]  # canonical distribution name -> installed paths (RECORD)
    download: Step
    downloaded: Dict[str, str]  # file name -> sha256
    root: str
    dry_run: Optional[Step] = None  # pip install --dry-run --report, warm cache, fresh venv
    dry_run_report: Optional[Dict[str, Any]] = None  # its JSON, normalised (see read_report); None: none written
    bytecode: ByteCode = field(default_factory=ByteCode)  # venv B's pycs and imports

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        for step in ("install1", "install2", "check", "download", "dry_run"):
            if data[step]:
                data[step].pop("output", None)
        data.pop("dry_run_report")  # pip's metadata of every package: in the cell's logs when it failed
        data["bytecode"] = self.bytecode.summary()
        data["builds2"] = self.install2.builds()
        data["served2"] = self.install2.served()
        data["check"]["output_tail"] = self.check.output.strip().splitlines()[-20:]
        return data


class Side:
    """One side's cache and venvs (under ``root``) and its pip logs (under ``logs``)."""

    def __init__(self, name: str, root: Path, logs: Path, lock: Lock, server: IndexServer) -> None:
        self.name = name
        self.root = root
        self.lock = lock
        self.server = server
        self.cache = root / "pip-cache"
        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)

    def env(self) -> Dict[str, str]:
        # A trusted host: pip caches HTTP responses only from https or trusted hosts, and
        # an index a user really has is https; without it every file is downloaded again.
        return {
            "PIP_CACHE_DIR": str(self.cache),
            "PIP_INDEX_URL": self.server.index_url(),
            "PIP_TRUSTED_HOST": "127.0.0.1",
        }

    def pip(self, python: Path, label: str, args: Sequence[str], alone: bool = True) -> Step:
        """Run ``python -m pip ARGS``, timed after ``os.sync()``.

        ``alone``: nothing else runs meanwhile, so the index requests seen are
        this command's and its time is comparable; else requests are not kept.
        """
        command = [str(python), "-m", "pip", *args]
        env: Mapping[str, str] = isolated_environ(self.env())
        if alone:
            self.server.take_requests()
            os.sync()
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                command, env=dict(env), cwd=self.lock.path.parent, capture_output=True, text=True, timeout=PIP_TIMEOUT
            )
            returncode, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:  # a hang is a result too, not a crash of the harness
            returncode, stdout, stderr = (
                -9,
                _text(exc.stdout),
                _text(exc.stderr) + f"\nERROR: timed out after {PIP_TIMEOUT} s",
            )
        seconds = time.perf_counter() - start
        requests = self.server.take_requests() if alone else []
        log = self.logs / f"{label}.log"
        log.write_text(
            f"$ {' '.join(command)}\n# exit {returncode}, {seconds:.2f} s, {len(requests)} requests\n"
            + "".join(f"# {r}\n" for r in requests)
            + f"--- stdout\n{stdout}\n--- stderr\n{stderr}"
        )
        return Step(list(args), returncode, round(seconds, 3), requests, str(log), stdout + stderr)

    def install(self, python: Path, label: str, alone: bool = True) -> Step:
        return self.pip(python, label, ["install", "-r", str(self.lock.path), *self.lock.args], alone)

    def download(self, python: Path, alone: bool = True) -> Step:
        """``pip download`` of the lock into a fresh folder, with this side's (warm) cache."""
        dl = self.root / "download"
        return self.pip(
            python, "download", ["download", "-r", str(self.lock.path), "-d", str(dl), *self.lock.args], alone
        )

    def dry_run(self, python: Path, alone: bool = True) -> Step:
        """``pip install --dry-run --report`` of the lock (into a fresh venv, so that all would be installed)."""
        return self.pip(
            python,
            "dry-run",
            ["install", "--dry-run", "--report", str(self.report_path), "-r", str(self.lock.path), *self.lock.args],
            alone,
        )

    @property
    def report_path(self) -> Path:
        return self.logs / "dry-run-report.json"

    def read_report(self) -> Optional[Dict[str, Any]]:
        """The dry run's report with what differs between any two runs made the same.

        Run twice with plain pip against the same index the reports are equal
        byte for byte (the environment is the same machine's); the two sides
        differ only in their own folder and, across harness runs, the
        loopback index's port.  A report that is not JSON is kept as a string.
        """
        try:
            text = self.report_path.read_text(encoding="utf-8")
        except OSError:
            return None
        text = text.replace(self.server.url, "<index>").replace(str(self.root), "<side>")
        try:
            data = json.loads(text)
        except ValueError as exc:
            return {"<not JSON>": f"{exc}: {text[:200]}"}
        return data if isinstance(data, dict) else {"<not an object>": data}

    def finish(self, python: Path, venv: Path, install1: Step, install2: Step, download: Step) -> SideResult:
        """After the second install: freeze, check and the installed files of venv B."""
        freeze = self.pip(python, "freeze", ["freeze", "--all"])
        check = self.pip(python, "check", ["check"])
        dl = self.root / "download"
        lines = sorted(line.strip() for line in freeze.output.splitlines() if FREEZE_LINE.match(line.strip()))
        if freeze.returncode != 0:
            lines = [f"<pip freeze exited {freeze.returncode}>"]
        return SideResult(
            self.name,
            install1,
            install2,
            lines,
            check,
            installed_files(venv),
            download,
            file_digests(dl),
            str(self.root),
        )


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data if isinstance(data, str) else ""


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    return found[0] if found else venv / "lib" / "site-packages"


def installed_files(venv: Path) -> Dict[str, List[str]]:
    """What each distribution's RECORD lists, without byte code (compiled or not is pip's business)."""
    result: Dict[str, List[str]] = {}
    for record in sorted(site_packages(venv).glob("*.dist-info/RECORD")):
        name = canonical(record.parent.name[: -len(".dist-info")].rsplit("-", 1)[0])
        with record.open(newline="", encoding="utf-8") as handle:
            paths = {row[0] for row in csv.reader(handle) if row}
        result[name] = sorted(p for p in paths if "__pycache__" not in p and not p.endswith((".pyc", ".pyo")))
    return result


def file_digests(folder: Path) -> Dict[str, str]:
    if not folder.is_dir():
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}
