"""An HTTP/1.1 forwarding proxy on 127.0.0.1 that adds a delay to every request and counts them.

The benchmark puts it in front of the S3 server (``bench/team.py``), so that a
team cache on loopback answers like one across a network, as the index does
with ``IndexServer.delay``: each request waits ``delay`` seconds before it is
forwarded.  Requests are forwarded as they came, headers included, to one
target (``http://host:port``), over one kept-alive upstream connection per
client connection; bodies are streamed both ways (Content-Length or chunked).

The ``Host`` header is forwarded unchanged.  A SigV4 client pointed at the
proxy signs the proxy's ``host:port``, and an S3 server verifies the
signature against the Host it receives, so signed requests pass (checked with
SeaweedFS 4.48: ``python3 bench/delayproxy.py --check-seaweedfs``).

Each request is counted by method and logged as ``METHOD path`` without its
query string (a signed URL's query can hold a signature; a LIST's holds only
its prefix, which the path already shows for the keys asked).

    with DelayProxy("http://127.0.0.1:8333", delay=0.05) as proxy:
        proxy.url                       # "http://127.0.0.1:<port>": point the client here
        proxy.take_requests()           # ["GET /bucket/key", ...] since the last call
        proxy.counts()                  # {"GET": 12, "HEAD": 3} since the last take_requests()
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import http.client
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}
_CHUNK = 1 << 16


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a client opening 16 connections at once (the team cache
    # looks pins up 16 at a time) overflows it, the kernel drops the SYNs, and each is retried after
    # Linux's 1 s initial retransmission timeout, which is exactly the client's connect timeout.
    request_queue_size = 128


class DelayProxy:
    """Forward every request to ``target`` after ``delay`` seconds, on a free loopback port, until ``stop()``."""

    def __init__(self, target: str, delay: float = 0.0, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the target must be http://host[:port], not {target!r}")
        self.target_host = parts.hostname
        self.target_port = parts.port or 80
        self.delay = delay
        self.timeout = timeout
        self.requests: List[str] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "DelayProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "DelayProxy":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log(self, line: str) -> None:
        with self._lock:
            self.requests.append(line)

    def take_requests(self) -> List[str]:
        """The requests seen since the last call (``METHOD path``), forgotten."""
        with self._lock:
            seen, self.requests = self.requests, []
        return seen

    def counts(self) -> Dict[str, int]:
        """Requests by method since the last ``take_requests()``."""
        with self._lock:
            return dict(collections.Counter(line.split(" ", 1)[0] for line in self.requests))


def _handler_for(proxy: DelayProxy) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        upstream: Optional[http.client.HTTPConnection] = None

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def handle(self) -> None:
            try:
                super().handle()
            finally:
                if self.upstream is not None:
                    self.upstream.close()

        def __getattr__(self, name: str) -> object:
            if name.startswith("do_"):  # every method, forwarded alike
                return self._forward
            raise AttributeError(name)

        def _forward(self) -> None:
            proxy.log(f"{self.command} {self.path.split('?', 1)[0]}")
            if proxy.delay:
                time.sleep(proxy.delay)
            try:
                response = self._send_upstream()
            except (OSError, http.client.HTTPException) as exc:
                self._drop_upstream()
                body = f"delayproxy: {type(exc).__name__}: {exc}\n".encode()
                self.send_response(502)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
                return
            self._send_back(response)

        def _send_upstream(self) -> http.client.HTTPResponse:
            for attempt in (1, 2):  # a kept-alive upstream connection the server closed meanwhile: once more
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(proxy.target_host, proxy.target_port,
                                                               timeout=proxy.timeout)
                conn = self.upstream
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        if name.lower() not in _HOP_BY_HOP:
                            conn.putheader(name, value)
                    conn.endheaders()
                    self._send_body(conn)
                    return conn.getresponse()
                except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                    self._drop_upstream()
                    if attempt == 2 or self._has_body():
                        raise  # a body already read from the client cannot be sent again
            raise AssertionError("unreachable")

        def _has_body(self) -> bool:
            return bool(self.headers.get("Content-Length", "0") != "0" or self.headers.get("Transfer-Encoding"))

        def _send_body(self, conn: http.client.HTTPConnection) -> None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                while True:
                    size_line = self.rfile.readline()
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                    conn.send(size_line)
                    if size == 0:
                        while True:  # trailers, then the empty line
                            line = self.rfile.readline()
                            conn.send(line)
                            if line in (b"\r\n", b"\n", b""):
                                return
                    conn.send(self.rfile.read(size + 2))  # the chunk and its CRLF
            left = int(self.headers.get("Content-Length", "0") or 0)
            while left > 0:
                data = self.rfile.read(min(left, _CHUNK))
                if not data:
                    raise ConnectionResetError("the client closed before sending its body")
                conn.send(data)
                left -= len(data)

        def _send_back(self, response: http.client.HTTPResponse) -> None:
            self.send_response_only(response.status, response.reason)
            length = response.getheader("Content-Length")
            chunked = response.chunked
            no_body = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "transfer-encoding":
                    self.send_header(name, value)
            close = response.will_close and not no_body and length is None and not chunked
            if chunked and not no_body:
                self.send_header("Transfer-Encoding", "chunked")
            if close or self.close_connection:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                if not no_body:
                    while True:
                        data = response.read1(_CHUNK)
                        if not data:
                            break
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                else:
                    response.read()
            finally:
                response.close()
                if response.will_close:
                    self._drop_upstream()

        def _drop_upstream(self) -> None:
            if self.upstream is not None:
                self.upstream.close()
                self.upstream = None

    return Handler


def check_seaweedfs(weed: str, delay: float) -> None:
    """Signed LIST, PUT, GET and HEAD through the proxy against a fresh SeaweedFS: SigV4 over the proxy's Host."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from pipcachefirst.team import s3  # noqa: PLC0415 -- this checkout's, from the paths just put first
    from tests.support.s3server import S3Server  # noqa: PLC0415

    with S3Server.launch(weed) as server, DelayProxy(server.endpoint, delay) as proxy:
        remote = s3.Remote(server.bucket, "check", proxy.url, server.region, True,
                           s3.Credentials(server.writer.access_key, server.writer.secret_key))
        client = s3.Client(remote, connect_timeout=1.0, read_timeout=5.0)
        body = b"through the proxy" * 5000
        digest = hashlib.sha256(body).hexdigest()
        started = time.perf_counter()
        assert client.put(client.key("a", "b.bin"), body, digest, len(body)), "PUT refused"
        assert client.head(client.key("a", "b.bin")) == len(body), "HEAD"
        assert client.get(client.key("a", "b.bin"), 1 << 20) == body, "GET"
        assert [k for k, _ in client.list(client.key("a") + "/")] == [client.key("a", "b.bin")], "LIST"
        seconds = time.perf_counter() - started
        client.close()
        print(f"SeaweedFS accepted signed PUT, HEAD, GET and LIST through {proxy.url} (Host forwarded "
              f"unchanged) in {seconds:.2f} s with {delay * 1000:.0f} ms per request: {proxy.take_requests()}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", help="http://host:port to forward to")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added to every request (default 0.05)")
    parser.add_argument("--check-seaweedfs", metavar="WEED", help="start SeaweedFS with this weed binary and check "
                        "that signed requests pass through the proxy")
    args = parser.parse_args(argv)
    if args.check_seaweedfs:
        check_seaweedfs(args.check_seaweedfs, args.delay)
        return 0
    if not args.target:
        parser.error("give a target, or --check-seaweedfs WEED")
    with DelayProxy(args.target, args.delay) as proxy:
        print(f"forwarding {proxy.url} to {args.target} with {args.delay * 1000:.0f} ms per request; Ctrl-C stops",
              flush=True)
        try:
            while True:
                time.sleep(1)
                for line in proxy.take_requests():
                    print(line, flush=True)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
