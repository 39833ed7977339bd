"""The team cache's rules, in-process: layout, what may be used, create-only sharing, the breaker.

The bucket here is a dict behind the same few calls ``s3.Client`` offers
(tests/unit/test_s3.py shows the client against a real S3 server, and
tests/test_team_cache.py the whole path with real pip).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, BinaryIO, Dict, List, Optional, Tuple, Union

import pytest

from pipcachefirst.cache.catalog import KIND_BUILT, Entry, Record
from pipcachefirst.cache.store import Store
from pipcachefirst.team.remote import DOWN_MARKER, Lookup, TeamCache, for_remote
from pipcachefirst.team.s3 import S3Error

INDEX = "https://index.example/simple"
OTHER = "https://other.example/simple"


class Bucket:
    """A bucket in memory, create-only as S3 with ``If-None-Match: *``; ``failing`` raises instead of answering."""

    def __init__(self) -> None:
        self.objects: Dict[str, bytes] = {}
        self.failing: Optional[S3Error] = None
        self.requests: List[str] = []

    def _ask(self, what: str) -> None:
        self.requests.append(what)
        if self.failing is not None:
            raise self.failing

    def key(self, *parts: str) -> str:
        return "/".join(("team",) + parts)

    def list(self, prefix: str) -> List[Tuple[str, int]]:
        self._ask("LIST " + prefix)
        return sorted((k, len(v)) for k, v in self.objects.items() if k.startswith(prefix))

    def get(self, key: str, limit: int = 1 << 20) -> Optional[bytes]:
        self._ask("GET " + key)
        return self.objects.get(key)

    def download(self, key: str, out: BinaryIO, expected_size: int) -> Optional[str]:
        self._ask("GET " + key)
        data = self.objects.get(key)
        if data is None:
            return None
        out.write(data)
        return hashlib.sha256(data).hexdigest()

    def put(self, key: str, body: Union[bytes, BinaryIO], sha256_hex: str, size: int, create_only: bool = True) -> bool:
        self._ask("PUT " + key)
        data = body if isinstance(body, bytes) else body.read()
        if create_only and key in self.objects:
            return False
        self.objects[key] = data
        return True

    def head(self, key: str) -> Optional[int]:
        self._ask("HEAD " + key)
        return len(self.objects[key]) if key in self.objects else None


def a_store(tmp_path: Path, name: str) -> Store:
    store = Store(tmp_path / name)
    assert store.open().store
    return store


def stored(store: Store, tmp_path: Path, name: str, content: bytes, **fields: Any) -> Entry:
    source = tmp_path / name
    source.write_bytes(content)
    record = Record(filename=name, sha256="", size=0, url=f"{INDEX}/{name}", origin=INDEX)._replace(**fields)
    entry = store.put(source, record)
    assert entry is not None
    return entry


def take_all(_: Lookup, records: List[Record]) -> List[Record]:
    return records


@pytest.fixture
def bucket() -> Bucket:
    return Bucket()


def team(bucket: Bucket, store: Store, lines: Optional[List[str]] = None, **kw: Any) -> TeamCache:
    report = (lines if lines is not None else []).append
    return TeamCache(bucket, store, "s3://team", report=report, builder="cpython-3.11-linux", **kw)


ALPHA = Lookup.of("Alpha", "1.0.0", [INDEX])


def test_what_one_runner_shares_another_finds_in_one_lookup(bucket: Bucket, tmp_path: Path) -> None:
    first = a_store(tmp_path, "first")
    entry = stored(first, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha wheel")
    assert team(bucket, first).share([entry]) == 1
    folder = f"team/files-v1/{entry.path.parts[-3]}/alpha/1/{entry.record.sha256}"
    assert sorted(bucket.objects) == [f"{folder}.json", f"{folder}/alpha-1.0-py3-none-any.whl"]
    assert b'"stamp": null' in bucket.objects[f"{folder}.json"], "no machine's inode numbers in the bucket"

    second = a_store(tmp_path, "second")
    cache = team(bucket, second)
    assert cache.lookup([ALPHA], take_all) == 1
    [record] = second.records("alpha", "1.0", [INDEX])
    assert record._replace(stamp=None, stored_at=0) == entry.record._replace(stamp=None, stored_at=0)
    assert cache.lookup([ALPHA], take_all) == 0, "a pin is asked once per process"


def test_sharing_is_create_only_file_first_record_last(bucket: Bucket, tmp_path: Path) -> None:
    store = a_store(tmp_path, "cache")
    entry = stored(store, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha wheel")
    team(bucket, store).share([entry])
    puts = [r for r in bucket.requests if r.startswith("PUT")]
    assert puts[0].endswith(".whl") and puts[1].endswith(".json")
    bucket.requests.clear()
    assert team(bucket, store).share([entry]) == 0
    assert [r.split()[0] for r in bucket.requests] == ["HEAD"], "already there: nothing uploaded again"


def test_only_the_chosen_files_are_downloaded(bucket: Bucket, tmp_path: Path) -> None:
    first = a_store(tmp_path, "first")
    wheel = stored(first, tmp_path, "alpha-1.0-py3-none-any.whl", b"wheel")
    sdist = stored(first, tmp_path, "alpha-1.0.tar.gz", b"sdist")
    team(bucket, first).share([wheel, sdist])
    bucket.requests.clear()

    second = a_store(tmp_path, "second")
    offered: List[List[str]] = []

    def the_wheel(_: Lookup, records: List[Record]) -> List[Record]:
        offered.append(sorted(r.filename for r in records))
        return [r for r in records if r.filename.endswith(".whl")]

    assert team(bucket, second).lookup([ALPHA], the_wheel) == 1
    assert offered == [["alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"]], "chosen on records alone"
    assert not [r for r in bucket.requests if r.endswith(".tar.gz")], "the sdist's bytes were never fetched"


def test_a_built_wheel_is_found_only_by_the_same_builder(bucket: Bucket, tmp_path: Path) -> None:
    first = a_store(tmp_path, "first")
    sdist = stored(first, tmp_path, "alpha-1.0.tar.gz", b"sdist")
    built = stored(first, tmp_path, "alpha-1.0-py3-none-any.whl", b"built", kind=KIND_BUILT,
                   built_from=sdist.record.sha256, built_by="cpython-3.11")
    team(bucket, first).share([sdist, built])
    assert any(f"/built/{sdist.record.sha256}/cpython-3.11-linux/" in key for key in bucket.objects)

    elsewhere = a_store(tmp_path, "elsewhere")
    found: List[str] = []
    other_builder = TeamCache(bucket, elsewhere, "s3://team", builder="cpython-3.12-linux")

    def note_kinds(_: Lookup, records: List[Record]) -> List[Record]:
        found.extend(r.kind for r in records)
        return []

    other_builder.lookup([ALPHA], note_kinds)
    assert found == ["download"]

    same = a_store(tmp_path, "same")
    assert team(bucket, same).lookup([ALPHA], take_all) == 2


def test_a_record_that_lies_about_its_place_is_not_used(bucket: Bucket, tmp_path: Path) -> None:
    first = a_store(tmp_path, "first")
    entry = stored(first, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha")
    team(bucket, first).share([entry])
    [record_key] = [k for k in bucket.objects if k.endswith(".json")]
    bucket.objects[record_key] = for_remote(entry.record._replace(origin=OTHER)).encode()

    lines: List[str] = []
    second = a_store(tmp_path, "second")
    assert team(bucket, second, lines).lookup([ALPHA], take_all) == 0
    assert lines == [f"team cache: {record_key} belongs to another index; not used"]


def test_bytes_that_do_not_match_are_never_stored(bucket: Bucket, tmp_path: Path) -> None:
    first = a_store(tmp_path, "first")
    entry = stored(first, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha")
    team(bucket, first).share([entry])
    [file_key] = [k for k in bucket.objects if k.endswith(".whl")]
    bucket.objects[file_key] = b"alphA"

    lines: List[str] = []
    second = a_store(tmp_path, "second")
    assert team(bucket, second, lines).lookup([ALPHA], take_all) == 0
    assert len(lines) == 1 and "does not match its record" in lines[0]
    assert second.records("alpha", "1.0", [INDEX]) == []
    assert not [p for p in second.root.rglob("*") if p.is_file() and p.name != DOWN_MARKER]


def test_a_record_from_a_newer_version_is_skipped_silently(bucket: Bucket, tmp_path: Path) -> None:
    first = a_store(tmp_path, "first")
    entry = stored(first, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha")
    team(bucket, first).share([entry])
    [record_key] = [k for k in bucket.objects if k.endswith(".json")]
    bucket.objects[record_key] = bucket.objects[record_key].replace(b'"schema": 1', b'"schema": 9')
    lines: List[str] = []
    assert team(bucket, a_store(tmp_path, "second"), lines).lookup([ALPHA], take_all) == 0
    assert lines == []


def test_an_unanswering_remote_is_off_for_this_pip_and_for_others_a_while(bucket: Bucket, tmp_path: Path) -> None:
    store = a_store(tmp_path, "cache")
    bucket.failing = S3Error("S3 LIST team/: timed out after 2.0 s", None, True)
    lines: List[str] = []
    cache = team(bucket, store, lines)
    beta = Lookup.of("beta", "2", [INDEX])
    assert cache.lookup([ALPHA, beta], take_all) == 0
    assert cache.off and len(lines) == 1 and "not answering" in lines[0]
    assert len(bucket.requests) <= 2
    assert cache.lookup([Lookup.of("gamma", "3", [INDEX])], take_all) == 0
    assert len(bucket.requests) <= 2, "off for the rest of the process"

    bucket.failing = None
    later: List[str] = []
    next_pip = team(bucket, store, later)
    assert next_pip.off and "failed for another pip" in later[0]
    assert next_pip.lookup([ALPHA], take_all) == 0 and len(bucket.requests) <= 2
    (store.root / DOWN_MARKER).unlink()
    assert not team(bucket, store).off


def test_a_refused_write_makes_the_process_read_only_with_one_line(bucket: Bucket, tmp_path: Path) -> None:
    store = a_store(tmp_path, "cache")
    entries = [stored(store, tmp_path, f"p{i}-1.0-py3-none-any.whl", b"x%d" % i) for i in range(3)]
    bucket.failing = S3Error("S3 PUT …: 403 AccessDenied", 403, False)
    lines: List[str] = []
    cache = team(bucket, store, lines)
    assert cache.share(entries) == 0
    assert cache.readonly and len(lines) == 1 and "reading only from now on" in lines[0]
    assert not cache.off, "still read"


def test_a_read_only_team_cache_uploads_nothing(bucket: Bucket, tmp_path: Path) -> None:
    store = a_store(tmp_path, "cache")
    entry = stored(store, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha")
    assert team(bucket, store, readonly=True).share([entry]) == 0
    assert bucket.requests == []


def test_wrong_credentials_turn_reading_off_with_one_line(bucket: Bucket, tmp_path: Path) -> None:
    bucket.failing = S3Error("S3 LIST team/: 403 SignatureDoesNotMatch", 403, False)
    lines: List[str] = []
    cache = team(bucket, a_store(tmp_path, "cache"), lines)
    cache.lookup([ALPHA, Lookup.of("beta", "2", [INDEX])], take_all)
    assert cache.off and len(lines) == 1 and "check the credentials" in lines[0]
    assert not (cache.store.root / DOWN_MARKER).exists(), "a credentials problem is this pip's, not the remote's"


def test_the_download_stays_in_the_cache_folder_until_stored(bucket: Bucket, tmp_path: Path) -> None:
    first = a_store(tmp_path, "first")
    entry = stored(first, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha")
    team(bucket, first).share([entry])
    second = a_store(tmp_path, "second")
    team(bucket, second).lookup([ALPHA], take_all)
    leftovers = [p.name for p in second.root.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert io.BytesIO(second.path_of(entry.record).read_bytes()).read() == b"alpha"
