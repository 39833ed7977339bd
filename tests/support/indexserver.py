"""A tiny PEP 503 "simple" index on 127.0.0.1 that logs every request.

Tests and the benchmark use it instead of PyPI so that every claim about the
network is a count of lines in ``IndexServer.requests``.  Layout on disk::

    <root>/<index name>/<project>/<file>      served as /<index name>/simple/<project>/
    <root>/links/<file>                        served as a find-links page at /links/

Index pages are stale (``Cache-Control: max-age=0``) unless ``page_max_age``
says otherwise, the way a private index that sends no-cache behaves, so pip
revalidates them on every run.  Files are immutable, as on PyPI.  An optional delay is added to every request to make
a loopback index behave like a remote one.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional, Tuple, TypeVar

_Server = TypeVar("_Server", bound="LoopbackServer")


def canonical(name: str) -> str:
    """A project name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


class LoopbackServer:
    """An HTTP server on a free loopback port, in a thread of its own, until ``stop()``."""

    def __init__(self, handler: type) -> None:
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def start(self: _Server) -> _Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class IndexServer(LoopbackServer):
    """Serve ``root`` over HTTP on a free loopback port until ``stop()``."""

    def __init__(self, root: Path, delay: float = 0.0, page_max_age: int = 0) -> None:
        self.root = Path(root)
        self.delay = delay
        self.page_max_age = page_max_age
        self.requests: List[str] = []
        self.user_agents: List[str] = []  # the User-Agent header of each request, in order
        super().__init__(_handler_for(self))

    def index_url(self, name: str = "main") -> str:
        return f"{self.url}/{name}/simple/"

    def log(self, line: str) -> None:
        with self._lock:
            self.requests.append(line)

    def take_requests(self) -> List[str]:
        """Return the requests seen since the last call and forget them."""
        with self._lock:
            seen, self.requests = self.requests, []
        return seen


def _handler_for(server: IndexServer) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            self._head_only = False
            self._handle("GET")

        def do_HEAD(self) -> None:  # noqa: N802 - uv asks before it fetches
            self._head_only = True
            self._handle("HEAD")

        def _handle(self, method: str) -> None:
            server.log(f"{method} {self.path}")
            with server._lock:
                server.user_agents.append(self.headers.get("User-Agent", ""))
            if server.delay:
                time.sleep(server.delay)
            self._respond(self.path.split("?", 1)[0].split("#", 1)[0])

        def _respond(self, path: str) -> None:
            parts = [p for p in path.split("/") if p]
            if len(parts) == 3 and parts[1] == "simple":
                return self._project_page(parts[0], parts[2])
            if len(parts) == 1 and parts[0] == "links":
                return self._links_page()
            if len(parts) >= 2:
                return self._file(server.root.joinpath(*parts))
            self._send(404, b"not found", "text/plain")

        def _project_page(self, index: str, project: str) -> None:
            folder = _find_project_dir(server.root / index, project)
            if folder is None:
                return self._send(404, b"not found", "text/plain")
            base = f"/{index}/{folder.name}"
            body = _page(project, base, folder)
            self._send(200, body, "text/html", f"max-age={server.page_max_age}")

        def _links_page(self) -> None:
            folder = server.root / "links"
            body = _page("links", "/links", folder) if folder.is_dir() else b""
            self._send(200, body, "text/html", f"max-age={server.page_max_age}")

        def _file(self, path: Path) -> None:
            try:
                resolved = path.resolve()
                resolved.relative_to(server.root.resolve())
                data = resolved.read_bytes()
            except (OSError, ValueError):
                return self._send(404, b"not found", "text/plain")
            self._send(200, data, "application/octet-stream", "max-age=365000000, immutable")

        def _send(self, status: int, body: bytes, ctype: str, cache: Optional[str] = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if cache:
                self.send_header("Cache-Control", cache)
            self.end_headers()
            if not getattr(self, "_head_only", False):
                self.wfile.write(body)

    return Handler


def _find_project_dir(index_dir: Path, project: str) -> Optional[Path]:
    if not index_dir.is_dir():
        return None
    wanted = canonical(project)
    for child in index_dir.iterdir():
        if child.is_dir() and canonical(child.name) == wanted:
            return child
    return None


_DIGESTS: Dict[Tuple[str, int, int], str] = {}


def _digest(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _DIGESTS[key]


def _page(title: str, base: str, folder: Path) -> bytes:
    rows = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.endswith(".requires-python"):
            continue
        digest = _digest(path)
        requires = folder / (path.name + ".requires-python")
        attr = ""
        if requires.is_file():
            attr = f' data-requires-python="{html.escape(requires.read_text().strip())}"'
        rows.append(f'<a href="{base}/{path.name}#sha256={digest}"{attr}>{path.name}</a><br/>')
    text = f"<!DOCTYPE html><html><body><h1>{title}</h1>\n" + "\n".join(rows) + "\n</body></html>\n"
    return text.encode()


def main() -> None:
    """Serve a folder from the command line: ``python indexserver.py ROOT [DELAY]``."""
    server = IndexServer(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
    server.start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
