"""Setup, the only time PyPI is contacted: a recording proxy fills the files folder.

pip itself decides which files a lock needs (every wheel, sdist and build
dependency an install or download touches, with the lock's Python, args and
pip), so the proxy does not guess: it serves ``/main/simple/<project>/`` from
PyPI's JSON simple API, rendered as an HTML page whose links point back at it,
and stores each file pip then asks for, sha256-checked, in exactly the layout
``tests.support.indexserver.IndexServer`` serves::

    <root>/main/<canonical project>/<filename>
    <root>/main/<canonical project>/<filename>.requires-python

Afterwards every run uses ``IndexServer(root)``, which lists only what was
stored: the same files pip picked when it saw all of PyPI.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from tests.differential.corpus import Lock
from tests.differential.pythons import OLDEST_PIP, newest_pip_for, pip_runs_on
from tests.differential.venvs import Toolbox
from tests.support.envs import isolated_environ
from tests.support.indexserver import LoopbackServer, canonical

PYPI_SIMPLE = "https://pypi.org/simple/"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
INDEX = "main"

Json = Dict[str, Any]  # a page of PyPI's JSON API, or one file's entry in it


class RecordingProxy(LoopbackServer):
    """A loopback index in front of PyPI that keeps every file it hands out under ``root``."""

    def __init__(self, root: Path, upstream: str = PYPI_SIMPLE) -> None:
        self.root = Path(root)
        self.upstream = upstream
        self.errors: List[str] = []
        self.stored: List[str] = []
        self._pages: Dict[str, Optional[Json]] = {}
        super().__init__(_handler_for(self))

    @property
    def index_url(self) -> str:
        return f"{self.url}/{INDEX}/simple/"

    def note_error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def project(self, project: str) -> Optional[Json]:
        """PyPI's JSON page of ``project`` (None when PyPI has no such project); fetched once per run."""
        name = canonical(project)
        with self._lock:
            if name in self._pages:
                return self._pages[name]
        request = urllib.request.Request(self.upstream + name + "/", headers={"Accept": JSON_ACCEPT})
        try:
            page: Optional[Json] = json.loads(_get(request))
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                self.note_error(f"page {name}: HTTP {exc.code}")
                raise
            page = None
        with self._lock:
            self._pages[name] = page
        return page

    def file_entry(self, project: str, filename: str) -> Optional[Json]:
        page = self.project(project)
        entries: List[Json] = (page or {}).get("files", [])
        for entry in entries:
            if entry["filename"] == filename:
                return entry
        return None

    def store(self, project: str, filename: str) -> Optional[Path]:
        """The file on disk, downloaded from PyPI and checked against its sha256 the first time."""
        folder = self.root / INDEX / canonical(project)
        target = folder / filename
        entry = None
        if not target.is_file():
            entry = self.file_entry(project, filename)
            if entry is None:
                return None
            data = _get(urllib.request.Request(entry["url"]))
            expected = entry.get("hashes", {}).get("sha256")
            if expected and hashlib.sha256(data).hexdigest() != expected:
                self.note_error(f"{filename}: sha256 mismatch from PyPI")
                return None
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, data)
            with self._lock:
                self.stored.append(f"{canonical(project)}/{filename}")
        side = folder / (filename + ".requires-python")
        if not side.exists():
            entry = entry or self.file_entry(project, filename)
            requires = (entry or {}).get("requires-python")
            if requires:
                _write_atomically(side, requires.encode())
        return target


def _get(request: urllib.request.Request, attempts: int = 3) -> bytes:
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == attempts - 1:
                raise
        except (urllib.error.URLError, OSError):
            if attempt == attempts - 1:
                raise
        time.sleep(2 * (attempt + 1))
    raise AssertionError("unreachable")


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def render_page(project: str, page: Json) -> bytes:
    """PyPI's JSON as a PEP 503 page linking back here; yanked files left out, as IndexServer cannot mark them."""
    name = canonical(project)
    rows = []
    for entry in page.get("files", []):
        if entry.get("yanked"):
            continue
        href = f"/{INDEX}/{name}/{urllib.parse.quote(entry['filename'])}"
        digest = entry.get("hashes", {}).get("sha256")
        if digest:
            href += f"#sha256={digest}"
        attr = ""
        if entry.get("requires-python"):
            attr = f' data-requires-python="{html.escape(entry["requires-python"])}"'
        rows.append(f'<a href="{html.escape(href)}"{attr}>{html.escape(entry["filename"])}</a><br/>')
    return (f"<!DOCTYPE html><html><body><h1>{name}</h1>\n" + "\n".join(rows) + "\n</body></html>\n").encode()


def _handler_for(proxy: RecordingProxy) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            parts = [urllib.parse.unquote(p) for p in self.path.split("?", 1)[0].split("#", 1)[0].split("/") if p]
            try:
                if len(parts) == 3 and parts[0] == INDEX and parts[1] == "simple":
                    page = proxy.project(parts[2])
                    if page is None:
                        return self._send(404, b"not found", "text/plain")
                    return self._send(200, render_page(parts[2], page), "text/html", "max-age=0")
                if len(parts) == 3 and parts[0] == INDEX:
                    path = proxy.store(parts[1], parts[2])
                    if path is None:
                        return self._send(404, b"not found", "text/plain")
                    return self._send(200, path.read_bytes(), "application/octet-stream")
            except Exception as exc:  # noqa: BLE001 - pip sees a 502 and the run says why
                proxy.note_error(f"{self.path}: {type(exc).__name__}: {exc}")
                return self._send(502, str(exc).encode(), "text/plain")
            self._send(404, b"not found", "text/plain")

        def _send(self, status: int, body: bytes, ctype: str, cache: Optional[str] = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if cache:
                self.send_header("Cache-Control", cache)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def stamp_path(files_dir: Path, lock: Lock) -> Path:
    return files_dir / "stamps" / f"{lock.slug}-{lock.digest()[:16]}-py{lock.python}"


def fetch_pips(python: str) -> List[str]:
    """The pips whose choices setup records: the newest that runs on ``python``, and the oldest."""
    pips = [newest_pip_for(python)]
    if OLDEST_PIP not in pips and pip_runs_on(OLDEST_PIP, python) is None:
        pips.append(OLDEST_PIP)
    return pips


def fetch_lock(
    lock: Lock, python_exe: str, files_dir: Path, toolbox: Toolbox, proxy: RecordingProxy, scratch: Path
) -> List[str]:
    """Make sure every file ``lock`` needs is in the files folder; problems seen (empty when all went well).

    Skipped when its stamp exists. pip failing here is reported but not fatal:
    a lock pip cannot install fails the same way later, on both sides.
    """
    stamp = stamp_path(files_dir, lock)
    if stamp.exists():
        return []
    problems: List[str] = []
    errors_before = len(proxy.errors)
    for pip in fetch_pips(lock.python):
        work = Path(tempfile.mkdtemp(prefix=f"fetch-{lock.slug}-{pip}-", dir=scratch))
        try:
            python = toolbox.fresh(python_exe, lock.python, pip, "plain", work / "venv")
            env = isolated_environ({"PIP_INDEX_URL": proxy.index_url, "PIP_NO_CACHE_DIR": "1"})
            commands: Sequence[Sequence[str]] = (
                ["install", "-r", str(lock.path), *lock.args],
                ["download", "-r", str(lock.path), "-d", str(work / "dl"), *lock.args],
                ["download", "-d", str(work / "tools"), "setuptools", "wheel"],
            )
            for command in commands:
                proc = subprocess.run(
                    [str(python), "-m", "pip", *command], env=env, cwd=lock.path.parent, capture_output=True, text=True
                )
                if proc.returncode != 0:
                    last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["?"]
                    problems.append(f"pip {pip} {command[0]} exited {proc.returncode}: {last[0]}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if len(proxy.errors) == errors_before:  # PyPI answered everything: nothing to retry next time
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text("\n".join(problems) + "\n")
    else:
        problems.extend(proxy.errors[errors_before:])
    return problems
