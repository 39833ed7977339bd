"""A small S3 client: SigV4-signed PUT, GET, HEAD and ListObjectsV2 over the standard library.

It knows nothing of pip or of the cache.  It exists because the usual
clients cost too much inside pip (boto3: 95-240 ms of import, and its DEBUG
log shows the session token, which ``pip -vv`` and ``--log`` turn on; see
``shared-cache.md``), and because the team cache needs its own control of
timeouts: every request is tried once (a dropped keep-alive connection is
reconnected once, which is not an outage), a connection must be made within
``connect_timeout``, every read must answer within ``read_timeout``, and a
body has a total deadline scaled by its size, so a trickling server cannot
hold pip.

Where the bucket is and who we are come from the AWS SDKs' conventions
(:func:`remote_from_environment`).  Nothing here logs anything, and no
exception message holds a header, a signature, a key id, a token or a query
string.

Importing it is cheap (standard library modules are imported when first
needed: ``http.client``, ``ssl``, ``xml`` and ``configparser`` cost some
50 ms cold, ``hashlib``, ``hmac``, ``base64`` and ``threading`` a few more).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, BinaryIO, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

from pipcachefirst.base.settings import REMOTE_VARIABLE

if TYPE_CHECKING:  # imported where used: they cost ~50 ms cold, and hashlib, hmac, threading a few more
    import configparser
    import http.client
    import ssl

DEFAULT_REGION = "us-east-1"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of b""
MIN_RATE = 1_000_000  # bytes per second a body must at least arrive at (its deadline: read timeout + size / rate)
_CHUNK = 64 * 1024
_ERROR_BODY_LIMIT = 64 * 1024
_LIST_PAGE_LIMIT = 16 << 20
_STALE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)  # RemoteDisconnected is a reset
_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_ROLE_KEYS = ("role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file")


class S3Error(Exception):
    """A request that did not succeed.

    ``status`` is the HTTP status, or None when no answer came (refused,
    timed out, reset, DNS, TLS).  ``unavailable`` is True for: no answer, 5xx,
    429 (the remote should be turned off).  Messages never contain secrets,
    signatures or query strings.
    """

    def __init__(self, message: str, status: Optional[int] = None, unavailable: Optional[bool] = None) -> None:
        super().__init__(message)
        self.status: Optional[int] = status
        self.unavailable: bool = (
            unavailable if unavailable is not None else (status is None or status >= 500 or status == 429)
        )


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    session_token: Optional[str] = None

    def __repr__(self) -> str:
        token = "None" if self.session_token is None else "'***'"
        return f"Credentials(access_key={_masked(self.access_key)!r}, secret_key='***', session_token={token})"

    def __str__(self) -> str:
        return repr(self)


class Remote(NamedTuple):
    """Where the team cache is, from ``PIPCACHEFIRST_REMOTE=s3://bucket/prefix`` and the AWS SDKs' conventions."""

    bucket: str
    prefix: str  # "" or "some/prefix", without a leading or trailing slash
    endpoint: str  # "https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:8333"
    region: str
    path_style: bool  # True for custom endpoints; False (virtual host) for AWS's own endpoint
    credentials: Optional[Credentials]  # None: unsigned (anonymous) requests
    ca_bundle: Optional[str] = None  # AWS_CA_BUNDLE: the certificates to trust instead of the system's

    def describe(self) -> str:
        """``s3://bucket/prefix at <endpoint> (region r)``: never a secret."""
        where = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        return f"{where} at {self.endpoint} (region {self.region})"


def _masked(access_key: str) -> str:
    return access_key[:4] + "…" if len(access_key) > 4 else "…"


# -- configuration -------------------------------------------------------------


def remote_from_environment(
    environ: Mapping[str, str] = os.environ,
) -> Tuple[Optional[Remote], Optional[str]]:
    """Where the team cache is and who we are there, by the AWS SDKs' conventions.

    ``(remote, None)`` when configured; ``(None, None)`` when
    ``PIPCACHEFIRST_REMOTE`` is unset or empty; ``(None, one-line problem)``
    when it is set but unusable.

    * bucket and prefix: ``PIPCACHEFIRST_REMOTE=s3://bucket/prefix``;
    * endpoint: ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL`` (path-style
      requests), else ``https://s3.<region>.amazonaws.com`` (virtual-host
      style, unless the bucket name has a dot, which the certificate would not
      cover);
    * region: ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the profile's
      ``region`` in ``AWS_CONFIG_FILE`` (~/.aws/config), else us-east-1;
    * credentials: ``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY``
      (+ ``AWS_SESSION_TOKEN``), else the profile ``AWS_PROFILE`` ("default")
      in ``AWS_SHARED_CREDENTIALS_FILE`` (~/.aws/credentials), else in the
      config file, else none: unsigned requests.  No instance metadata, no SSO,
      no roles.
    """
    value = environ.get(REMOTE_VARIABLE, "").strip()
    if not value:
        return None, None
    bucket, prefix, problem = _parse_remote_url(value)
    if problem:
        return None, problem
    profile = environ.get("AWS_PROFILE", "").strip()
    config_path = _aws_file(environ, "AWS_CONFIG_FILE", "config")
    config, problem = _profile_section(config_path, f"profile {profile or 'default'}", profile or "default")
    if problem:
        return None, problem

    region = (
        environ.get("AWS_REGION", "").strip()
        or environ.get("AWS_DEFAULT_REGION", "").strip()
        or (config or {}).get("region", "").strip()
        or DEFAULT_REGION
    )
    if not _is_token(region):
        return None, "the AWS region is not a region name"

    custom = environ.get("AWS_ENDPOINT_URL_S3", "").strip() or environ.get("AWS_ENDPOINT_URL", "").strip()
    if custom:
        name = "AWS_ENDPOINT_URL_S3" if environ.get("AWS_ENDPOINT_URL_S3", "").strip() else "AWS_ENDPOINT_URL"
        endpoint, problem = _parse_endpoint(custom, name)
        if problem:
            return None, problem
        path_style = True
    else:
        endpoint = f"https://s3.{region}.amazonaws.com"
        path_style = "." in bucket

    credentials, problem = _credentials(environ, profile, config)
    if problem:
        return None, problem
    ca_bundle = environ.get("AWS_CA_BUNDLE", "").strip() or None
    return Remote(bucket, prefix, endpoint, region, path_style, credentials, ca_bundle), None


def _parse_remote_url(value: str) -> Tuple[str, str, Optional[str]]:
    shown = value if "@" not in value else "(a URL with user info)"
    if not value.startswith("s3://"):
        return "", "", f"{REMOTE_VARIABLE}={shown!r} is not an s3://bucket/prefix URL"
    rest = value[len("s3://"):]
    if "?" in rest or "#" in rest:
        return "", "", f"{REMOTE_VARIABLE}={shown!r}: a query or fragment has no meaning here"
    bucket, _, prefix = rest.partition("/")
    if "@" in bucket or ":" in bucket:
        return "", "", f"{REMOTE_VARIABLE} must name a bucket, not user info or a port (credentials come from AWS_*)"
    if not bucket:
        return "", "", f"{REMOTE_VARIABLE}={shown!r} names no bucket"
    if not all(c.isascii() and (c.isalnum() or c in ".-_") for c in bucket):
        return "", "", f"{REMOTE_VARIABLE}={shown!r}: {bucket!r} is not a bucket name"
    return bucket, "/".join(part for part in prefix.split("/") if part), None


def _is_token(value: str) -> bool:
    return bool(value) and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


def _parse_endpoint(value: str, name: str) -> Tuple[str, Optional[str]]:
    from urllib.parse import urlsplit  # noqa: PLC0415 -- only with a custom endpoint

    if "@" in value:
        return "", f"{name} must not hold user info (credentials come from AWS_ACCESS_KEY_ID and the profile)"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "", f"{name}={value!r} is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "", f"{name}={value!r} is not an http:// or https:// URL"
    if parts.query or parts.fragment:
        return "", f"{name}={value!r}: a query or fragment has no meaning here"
    host = parts.netloc.lower()
    if port is not None and port == (443 if parts.scheme == "https" else 80):
        host = host.rsplit(":", 1)[0]
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}", None


def _aws_file(environ: Mapping[str, str], variable: str, name: str) -> str:
    return os.path.expanduser(environ.get(variable, "").strip() or os.path.join("~", ".aws", name))


def _read_ini(path: str) -> Tuple[Optional["configparser.RawConfigParser"], Optional[str]]:
    """The file parsed (None when it does not exist), or a problem: it cannot be read or parsed."""
    import configparser  # noqa: PLC0415 -- only with a team cache, and only when there is such a file

    parser = configparser.RawConfigParser(strict=False, default_section="\x00none")  # no interpolation: '%' in secrets
    try:
        with open(path, encoding="utf-8") as file:
            parser.read_file(file)
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read {path}: {getattr(exc, 'strerror', None) or type(exc).__name__}"
    except configparser.Error as exc:
        return None, f"cannot parse {path}: {type(exc).__name__}"
    return parser, None


def _profile_section(path: str, *names: str) -> Tuple[Optional[Dict[str, str]], Optional[str]]:
    parser, problem = _read_ini(path)
    if parser is None:
        return None, problem
    for name in names:
        if parser.has_section(name):
            return dict(parser.items(name)), None
    return None, None


def _credentials(
    environ: Mapping[str, str], profile: str, config: Optional[Dict[str, str]]
) -> Tuple[Optional[Credentials], Optional[str]]:
    key_id = environ.get("AWS_ACCESS_KEY_ID", "").strip()
    secret = environ.get("AWS_SECRET_ACCESS_KEY", "").strip()
    if key_id or secret:
        if not (key_id and secret):
            given, missing = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if key_id else (
                "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")
            return None, f"{given} is set but {missing} is not"
        return Credentials(key_id, secret, environ.get("AWS_SESSION_TOKEN", "").strip() or None), None

    name = profile or "default"
    path = _aws_file(environ, "AWS_SHARED_CREDENTIALS_FILE", "credentials")
    section, problem = _profile_section(path, name)
    if problem:
        return None, problem
    for where, values in ((path, section), ("the AWS config file", config)):
        if values is None:
            continue
        key_id = values.get("aws_access_key_id", "").strip()
        secret = values.get("aws_secret_access_key", "").strip()
        if key_id and secret:
            return Credentials(key_id, secret, values.get("aws_session_token", "").strip() or None), None
        if key_id or secret:
            return None, f"profile {name!r} in {where} has only one of aws_access_key_id and aws_secret_access_key"
        if any(values.get(k) for k in _ROLE_KEYS):
            return None, (f"profile {name!r} gets its credentials from a role, SSO or a process, which "
                          "pipcachefirst does not support; export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if profile and section is None and config is None:
        return None, f"AWS_PROFILE={profile!r}: no such profile in {path} or the AWS config file"
    if profile:
        return None, f"AWS_PROFILE={profile!r}: the profile has no aws_access_key_id and aws_secret_access_key"
    return None, None


# -- signing -----------------------------------------------------------------------


def quote_key(key: str) -> str:
    """An object key as SigV4 wants it in a path: every byte but unreserved ones and '/' percent-encoded."""
    from urllib.parse import quote  # noqa: PLC0415 -- cheap, but urllib.parse is not always loaded yet

    return quote(key, safe="/~")


def _quote_query(value: str) -> str:
    from urllib.parse import quote  # noqa: PLC0415

    return quote(value, safe="~")


def _sign(key: bytes, text: str) -> bytes:
    import hashlib  # noqa: PLC0415 -- see the module's text
    import hmac  # noqa: PLC0415

    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


class _Signer:
    def __init__(self, credentials: Credentials, region: str) -> None:
        self.credentials = credentials
        self.region = region
        self._keys: Dict[str, bytes] = {}

    def headers(
        self, method: str, path: str, query: str, headers: Dict[str, str], payload_hash: str, now: float
    ) -> Dict[str, str]:
        """``headers`` (lower-case names, ``host`` among them) plus x-amz-date, the token and Authorization."""
        import hashlib  # noqa: PLC0415
        import hmac  # noqa: PLC0415

        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        day = stamp[:8]
        signed = dict(headers)
        signed["x-amz-date"] = stamp
        signed["x-amz-content-sha256"] = payload_hash
        if self.credentials.session_token:
            signed["x-amz-security-token"] = self.credentials.session_token
        names = sorted(signed)
        canonical = "\n".join([
            method,
            path,
            query,
            "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names),
            ";".join(names),
            payload_hash,
        ])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
        key = self._keys.get(day)
        if key is None:
            key = _sign(_sign(_sign(_sign(("AWS4" + self.credentials.secret_key).encode("utf-8"), day),
                                    self.region), "s3"), "aws4_request")
            self._keys = {day: key}
        signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        signed["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.credentials.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return signed


# -- the client ----------------------------------------------------------------------


def _describe_failure(exc: BaseException, timeout: float) -> str:
    """What went wrong with a connection, in words that hold no header, URL or secret."""
    import socket  # noqa: PLC0415 -- loaded with http.client anyway
    import ssl  # noqa: PLC0415

    if isinstance(exc, socket.timeout):  # TimeoutError from 3.10 on
        return f"timed out after {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return "cannot resolve the host name"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or type(exc).__name__})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, _STALE):
        return "connection closed by the server"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()


class Client:
    """One bucket and prefix; safe to use from many threads (one connection per thread)."""

    def __init__(self, remote: Remote, connect_timeout: float = 1.0, read_timeout: float = 2.0) -> None:
        import threading  # noqa: PLC0415
        from urllib.parse import urlsplit  # noqa: PLC0415

        self.remote = remote
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        parts = urlsplit(remote.endpoint)
        self._https = parts.scheme == "https"
        self._port = parts.port
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"  # urlsplit drops an IPv6 literal's brackets
        self._connect_host = parts.hostname or ""
        if remote.path_style:
            self._base_path = parts.path.rstrip("/") + "/" + quote_key(remote.bucket)
        else:
            self._connect_host = f"{remote.bucket}.{self._connect_host}"
            host = f"{remote.bucket}.{host}"
            self._base_path = parts.path.rstrip("/")
        self._host = host if self._port is None else f"{host}:{self._port}"
        self._signer = _Signer(remote.credentials, remote.region) if remote.credentials else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._context: Optional[ssl.SSLContext] = None
        self._connections: List[http.client.HTTPConnection] = []

    # -- the API ---------------------------------------------------------------------

    def key(self, *parts: str) -> str:
        """The object key of ``parts`` under the remote's prefix."""
        joined = "/".join(parts)
        return f"{self.remote.prefix}/{joined}" if self.remote.prefix else joined

    def list(self, prefix: str, max_keys: int = 1000) -> List[Tuple[str, int]]:
        """``(key, size)`` of every object whose key starts with ``prefix`` (ListObjectsV2, all pages)."""
        found: List[Tuple[str, int]] = []
        token: Optional[str] = None
        seen = set()
        while True:
            query = {"list-type": "2", "prefix": prefix, "max-keys": str(max_keys), "encoding-type": "url"}
            if token is not None:
                query["continuation-token"] = token
            data = self._small("LIST", prefix, "", query, _LIST_PAGE_LIMIT, missing_ok=False)
            assert data is not None
            page, token = _parse_listing(data, "LIST", prefix)
            found.extend(page)
            if token is None:
                return found
            if token in seen:
                raise S3Error(f"S3 LIST {prefix}: the server repeated a continuation token", 200, False)
            seen.add(token)

    def get(self, key: str, limit: int = 1 << 20) -> Optional[bytes]:
        """The object's bytes; None when there is no such key; S3Error when it is longer than ``limit``."""
        return self._small("GET", key, key, {}, limit, missing_ok=True)

    def download(self, key: str, out: BinaryIO, expected_size: int) -> Optional[str]:
        """Stream the object into ``out``; the sha256 (hex) of what was written, None when there is no such key.

        S3Error when the body is longer than ``expected_size`` (reading stops
        there), or when it does not arrive within read timeout + size / 1 MB/s.
        """
        response, conn, deadline = self._request("GET", key, key, {}, body=None, expected=expected_size)
        try:
            if response.status == 404:
                self._fail_404(response, conn, "GET", key)
                return None
            if response.status != 200:
                raise self._status_error(response, conn, "GET", key)
            length = response.getheader("content-length")
            if length is not None and length.isdigit() and int(length) > expected_size:
                self._discard(conn)
                raise S3Error(f"S3 GET {key}: {length} bytes, expected {expected_size}", 200, False)
            import hashlib  # noqa: PLC0415

            digest = hashlib.sha256()
            size = 0
            for chunk in self._body(response, conn, deadline, "GET", key):
                size += len(chunk)
                if size > expected_size:
                    self._discard(conn)
                    raise S3Error(f"S3 GET {key}: longer than the expected {expected_size} bytes", 200, False)
                digest.update(chunk)
                out.write(chunk)
            return digest.hexdigest()
        finally:
            response.close()

    def put(
        self, key: str, body: Union[bytes, BinaryIO], sha256_hex: str, size: int, create_only: bool = True
    ) -> bool:
        """Upload ``size`` bytes; True when created, False when the key already exists (create-only).

        The payload hash is signed (x-amz-content-sha256) and sent as
        x-amz-checksum-sha256 too, so the server refuses bytes that do not
        match it.  S3Error(403) when writing is refused.
        """
        from binascii import b2a_base64  # noqa: PLC0415 -- base64 would import re

        headers = {
            "content-type": "application/octet-stream",
            "x-amz-checksum-sha256": b2a_base64(bytes.fromhex(sha256_hex), newline=False).decode("ascii"),
        }
        if create_only:
            headers["if-none-match"] = "*"
        response, conn, _ = self._request(
            "PUT", key, key, {}, body=body, payload_hash=sha256_hex, size=size, headers=headers, expected=size
        )
        try:
            if response.status in (200, 201):
                self._drain(response, conn)
                return True
            if create_only and response.status in (409, 412):
                self._drain(response, conn)
                return False
            raise self._status_error(response, conn, "PUT", key)
        finally:
            response.close()

    def head(self, key: str) -> Optional[int]:
        """The object's size, None when there is no such key."""
        response, conn, _ = self._request("HEAD", key, key, {}, body=None)
        try:
            if response.status == 404:
                self._drain(response, conn)
                return None
            if response.status != 200:
                raise self._status_error(response, conn, "HEAD", key)
            self._drain(response, conn)
            length = response.getheader("content-length", "")
            if not length.isdigit():
                raise S3Error(f"S3 HEAD {key}: no size in the answer", 200, False)
            return int(length)
        finally:
            response.close()

    def probe(self) -> None:
        """The cheapest request that shows the bucket answers and the credentials work; S3Error if not."""
        prefix = self.remote.prefix + "/" if self.remote.prefix else ""
        data = self._small("LIST", prefix, "", {"list-type": "2", "prefix": prefix, "max-keys": "1"},
                           _LIST_PAGE_LIMIT, missing_ok=False)
        assert data is not None
        _parse_listing(data, "LIST", prefix)

    def close(self) -> None:
        """Close every thread's connection (when no request is under way)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    # -- requests ----------------------------------------------------------------------

    def _small(
        self, verb: str, shown: str, key: str, query: Dict[str, str], limit: int, missing_ok: bool
    ) -> Optional[bytes]:
        method = "GET"
        response, conn, deadline = self._request(method, shown, key, query, body=None, expected=limit, verb=verb)
        try:
            if response.status == 404 and missing_ok:
                self._fail_404(response, conn, verb, shown)
                return None
            if response.status != 200:
                raise self._status_error(response, conn, verb, shown)
            length = response.getheader("content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                self._discard(conn)
                raise S3Error(f"S3 {verb} {shown}: {length} bytes, more than the {limit} expected", 200, False)
            chunks = []
            size = 0
            for chunk in self._body(response, conn, deadline, verb, shown):
                size += len(chunk)
                if size > limit:
                    self._discard(conn)
                    raise S3Error(f"S3 {verb} {shown}: more than the {limit} bytes expected", 200, False)
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            response.close()

    def _fail_404(self, response: http.client.HTTPResponse, conn: http.client.HTTPConnection,
                  verb: str, shown: str) -> None:
        """A 404 is a missing key, unless the bucket itself is missing: that is an error."""
        code = _error_code(self._error_body(response, conn))
        if code == "NoSuchBucket":
            raise S3Error(f"S3 {verb} {shown}: 404 NoSuchBucket", 404)

    def _request(
        self,
        method: str,
        shown: str,
        key: str,
        query: Dict[str, str],
        body: Union[None, bytes, BinaryIO],
        payload_hash: str = EMPTY_SHA256,
        size: int = 0,
        headers: Optional[Dict[str, str]] = None,
        expected: int = 0,
        verb: Optional[str] = None,
    ) -> Tuple[http.client.HTTPResponse, http.client.HTTPConnection, _Deadline]:
        """Send one request and read the answer's status and headers; a stale kept-alive connection is
        replaced once.  The deadline returned is for the whole exchange, body included."""
        import http.client  # noqa: PLC0415

        verb = verb or method
        path = self._base_path + "/" + quote_key(key) if key else (self._base_path or "/")
        query_string = "&".join(f"{_quote_query(k)}={_quote_query(v)}" for k, v in sorted(query.items()))
        deadline = _Deadline(self.connect_timeout + self.read_timeout + expected / MIN_RATE)
        start = body.tell() if body is not None and not isinstance(body, bytes) and body.seekable() else None
        for attempt in (1, 2):
            conn, reused = self._connection(verb, shown)
            all_headers = {"host": self._host, **(headers or {})}
            if self._signer is not None:
                all_headers = self._signer.headers(method, path, query_string, all_headers, payload_hash, time.time())
            try:
                conn.putrequest(method, path + ("?" + query_string if query_string else ""),
                                skip_host=True, skip_accept_encoding=True)
                for name, value in all_headers.items():
                    conn.putheader(name, value)
                conn.putheader("user-agent", "pipcachefirst-s3")
                if body is not None or method == "PUT":
                    conn.putheader("content-length", str(size))
                conn.endheaders()
                sent_error: Optional[BaseException] = None
                try:
                    self._send_body(conn, body, size, verb, shown)
                except _STALE as exc:
                    sent_error = exc  # the server may have answered before it read the body: a 403, say
                try:
                    response = conn.getresponse()
                except (_STALE + (http.client.BadStatusLine,)) as exc:
                    raise sent_error or exc
                return response, conn, deadline
            except (OSError, http.client.HTTPException) as exc:
                self._discard(conn)
                stale = isinstance(exc, _STALE + (http.client.RemoteDisconnected,))
                if attempt == 1 and reused and stale and (body is None or isinstance(body, bytes) or start is not None):
                    if start is not None and not isinstance(body, bytes) and body is not None:
                        body.seek(start)
                    continue
                if isinstance(exc, http.client.HTTPException) and not isinstance(exc, OSError):
                    raise S3Error(f"S3 {verb} {shown}: a garbled answer ({type(exc).__name__})") from None
                raise S3Error(f"S3 {verb} {shown}: {_describe_failure(exc, self.read_timeout)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_body(self, conn: http.client.HTTPConnection, body: Union[None, bytes, BinaryIO],
                   size: int, verb: str, shown: str) -> None:
        if body is None:
            return
        if isinstance(body, bytes):
            if len(body) != size:
                self._discard(conn)
                raise S3Error(f"S3 {verb} {shown}: {len(body)} bytes given, {size} announced", None, False)
            conn.send(body)
            return
        left = size
        while left > 0:
            chunk = body.read(min(_CHUNK, left))
            if not chunk:
                self._discard(conn)
                raise S3Error(f"S3 {verb} {shown}: the file ended {left} bytes early", None, False)
            conn.send(chunk)
            left -= len(chunk)

    def _connection(self, verb: str, shown: str) -> Tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, connected; and whether it served a request before."""
        import http.client  # noqa: PLC0415

        conn: Optional[http.client.HTTPConnection] = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None:
            conn.sock.settimeout(self.read_timeout)
            return conn, True
        if conn is None:
            if self._https:
                conn = http.client.HTTPSConnection(self._connect_host, self._port, timeout=self.connect_timeout,
                                                   context=self._ssl_context())
            else:
                conn = http.client.HTTPConnection(self._connect_host, self._port, timeout=self.connect_timeout)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        conn.timeout = self.connect_timeout
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise S3Error(f"S3 {verb} {shown}: {_describe_failure(exc, self.connect_timeout)}") from None
        assert conn.sock is not None
        conn.sock.settimeout(self.read_timeout)
        return conn, False

    def _ssl_context(self) -> ssl.SSLContext:
        import ssl  # noqa: PLC0415

        with self._lock:
            if self._context is None:
                # the default context trusts the system's certificates, or SSL_CERT_FILE / SSL_CERT_DIR
                self._context = ssl.create_default_context(cafile=self.remote.ca_bundle)
            return self._context

    def _discard(self, conn: http.client.HTTPConnection) -> None:
        """Close a connection that is in an unknown state; the thread's next request opens a new one."""
        conn.close()

    def _body(self, response: http.client.HTTPResponse, conn: http.client.HTTPConnection, deadline: _Deadline,
              verb: str, shown: str) -> "_BodyIterator":
        return _BodyIterator(self, response, conn, deadline, verb, shown)

    def _drain(self, response: http.client.HTTPResponse, conn: http.client.HTTPConnection) -> None:
        """Read what is left of a small answer so the connection can be used again; else close it."""
        try:
            data = response.read(_ERROR_BODY_LIMIT + 1)
        except Exception:  # noqa: BLE001 -- IncompleteRead, a reset: the answer was had, the connection is not
            self._discard(conn)
            return
        if len(data) > _ERROR_BODY_LIMIT or not _complete(response):
            self._discard(conn)

    def _error_body(self, response: http.client.HTTPResponse, conn: http.client.HTTPConnection) -> bytes:
        try:
            data = response.read(_ERROR_BODY_LIMIT + 1)
        except Exception:  # noqa: BLE001 -- the status is what counts; the body only names the error
            self._discard(conn)
            return b""
        if len(data) > _ERROR_BODY_LIMIT or not _complete(response):
            self._discard(conn)
        return data

    def _status_error(self, response: http.client.HTTPResponse, conn: http.client.HTTPConnection,
                      verb: str, shown: str) -> S3Error:
        code = _error_code(self._error_body(response, conn)) if response.getheader("content-length") != "0" else ""
        text = f"{response.status} {code}" if code else f"{response.status}"
        return S3Error(f"S3 {verb} {shown}: {text}", response.status)


class _BodyIterator:
    """An answer's body in pieces as they arrive: every read within the read timeout, all within the deadline."""

    def __init__(self, client: Client, response: http.client.HTTPResponse, conn: http.client.HTTPConnection,
                 deadline: _Deadline, verb: str, shown: str) -> None:
        self.client = client
        self.response = response
        self.conn = conn
        self.deadline = deadline
        self.verb = verb
        self.shown = shown

    def __iter__(self) -> "_BodyIterator":
        return self

    def __next__(self) -> bytes:
        import http.client  # noqa: PLC0415

        left = self.deadline.left()
        if left <= 0:
            self.client._discard(self.conn)
            raise S3Error(f"S3 {self.verb} {self.shown}: too slow, not done after {self.deadline.seconds:.1f} s")
        timeout = min(self.client.read_timeout, left)
        try:
            if self.conn.sock is not None:
                self.conn.sock.settimeout(timeout)
            chunk = self.response.read1(_CHUNK)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.client._discard(self.conn)
            if isinstance(exc, http.client.IncompleteRead):
                raise S3Error(f"S3 {self.verb} {self.shown}: the connection closed mid-body") from None
            if isinstance(exc, OSError):
                if timeout < self.client.read_timeout and self.deadline.left() <= 0:
                    raise S3Error(f"S3 {self.verb} {self.shown}: too slow, not done after "
                                  f"{self.deadline.seconds:.1f} s") from None
                raise S3Error(f"S3 {self.verb} {self.shown}: {_describe_failure(exc, timeout)}") from None
            raise S3Error(f"S3 {self.verb} {self.shown}: a garbled answer ({type(exc).__name__})") from None
        if not chunk:
            if not _complete(self.response):  # an empty read before the body's end: the server went away
                self.client._discard(self.conn)
                raise S3Error(f"S3 {self.verb} {self.shown}: the connection closed mid-body")
            raise StopIteration
        return chunk


def _complete(response: http.client.HTTPResponse) -> bool:
    """Whether the whole body was read (``read1`` leaves ``length`` at 0 without closing the response)."""
    return response.isclosed() or response.length == 0


def _error_code(data: bytes) -> str:
    """The <Code> of an S3 error document, or ""."""
    start = data.find(b"<Code>")
    end = data.find(b"</Code>", start)
    if start < 0 or end < 0:
        return ""
    code = data[start + len(b"<Code>"):end].decode("utf-8", "replace").strip()
    return code if _is_token(code) and len(code) <= 64 else ""


def _parse_listing(data: bytes, verb: str, shown: str) -> Tuple[List[Tuple[str, int]], Optional[str]]:
    """A ListObjectsV2 page: ``(key, size)`` pairs and the continuation token (None on the last page)."""
    from urllib.parse import unquote_plus  # noqa: PLC0415 -- as botocore: AWS writes a space as "+"
    from xml.etree import ElementTree  # noqa: PLC0415 -- only when listing

    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        raise S3Error(f"S3 {verb} {shown}: the listing is not XML", 200, False) from None
    ns = _NAMESPACE if root.tag.startswith(_NAMESPACE) else ""
    if root.tag != f"{ns}ListBucketResult":
        raise S3Error(f"S3 {verb} {shown}: not a listing", 200, False)
    encoded = (root.findtext(f"{ns}EncodingType") or "").lower() == "url"
    page: List[Tuple[str, int]] = []
    for item in root.iter(f"{ns}Contents"):
        key = item.findtext(f"{ns}Key")
        size = (item.findtext(f"{ns}Size") or "").strip()
        if key is None or not size.isdigit():
            raise S3Error(f"S3 {verb} {shown}: a listing entry without a key or size", 200, False)
        page.append((unquote_plus(key) if encoded else key, int(size)))
    truncated = (root.findtext(f"{ns}IsTruncated") or "").strip().lower() == "true"
    if not truncated:
        return page, None
    token = root.findtext(f"{ns}NextContinuationToken")
    if not token:
        raise S3Error(f"S3 {verb} {shown}: a truncated listing without a continuation token", 200, False)
    return page, token
