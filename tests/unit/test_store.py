"""The cache on disk, in-process: buckets, records shared across versions, verified files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pipcachefirst.base.atomic import write_atomically
from pipcachefirst.cache.catalog import RECORD_SCHEMA, Entry, FutureRecord, Record
from pipcachefirst.cache.decisions import Reason
from pipcachefirst.cache.store import BUCKETS, FILES, QUARANTINE, Store

INDEX = "https://index.example/simple"


def a_file(folder: Path, name: str, content: bytes = b"wheel bytes") -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def stored(store: Store, tmp_path: Path, name: str = "alpha-1.0-py3-none-any.whl", content: bytes = b"alpha") -> Entry:
    source = a_file(tmp_path, name, content)
    entry = store.put(source, Record(filename=name, sha256="", size=0, url=f"{INDEX}/{name}", origin=INDEX))
    assert entry is not None
    return entry


@pytest.fixture
def store(tmp_path: Path) -> Store:
    reports: List[str] = []
    store = Store(tmp_path / "cache", report=reports.append)
    store.reports = reports  # type: ignore[attr-defined]
    assert store.open().store
    return store


def record_path(entry: Entry) -> Path:
    return entry.path.parent.with_suffix(".json")


def quarantined(store: Store) -> List[str]:
    folder = store.root / QUARANTINE
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- a file goes in, its record comes out, the file is fetched verified -------


def test_a_stored_file_is_found_by_any_spelling_of_its_version(store: Store, tmp_path: Path) -> None:
    entry = stored(store, tmp_path, "alpha-1.4.0-py3-none-any.whl")
    assert entry.path.parts[-6:-3] == (FILES.name, "alpha", "1.4")
    for spelling in ("1.4", "1.4.0", "1.4.0.0"):
        assert store.records("Alpha", spelling, [INDEX]) == [entry.record]
    assert store.records("alpha", "1.4", ["https://other.example/simple"]) == []
    assert store.has_other_origins("alpha", "1.4", ["https://other.example/simple"])


def test_the_catalog_answers_with_records_and_fetch_gives_the_verified_file(store: Store, tmp_path: Path) -> None:
    entry = stored(store, tmp_path, content=b"the real bytes")
    [record] = store.records("alpha", "1.0", [INDEX])
    assert record.sha256 == hashlib.sha256(b"the real bytes").hexdigest()
    assert record.size == len(b"the real bytes")
    assert store.fetch(record) == (record, entry.path)


def test_a_same_size_change_is_caught_and_moved_aside(store: Store, tmp_path: Path) -> None:
    entry = stored(store, tmp_path, content=b"good bytes")
    entry.path.write_bytes(b"evil bytes")  # same size, new mtime and ctime
    assert store.fetch(entry.record) is Reason.DAMAGED
    assert not entry.path.exists() and not record_path(entry).exists()
    assert len(quarantined(store)) == 2
    assert store.records("alpha", "1.0", [INDEX]) == []


def test_storing_the_same_bytes_twice_keeps_one_entry(store: Store, tmp_path: Path) -> None:
    first = stored(store, tmp_path)
    second = stored(store, tmp_path)
    assert second == first
    assert store.usage() == (1, len(b"alpha"))


# -- records shared by older and newer versions of pipcachefirst ---------------


def write_record(entry: Entry, **changes: object) -> str:
    data = json.loads(record_path(entry).read_text())
    data.update(changes)
    text = json.dumps(data)
    record_path(entry).write_text(text)
    return text


def test_a_record_from_a_newer_version_is_skipped_untouched_and_the_others_still_served(
    store: Store, tmp_path: Path
) -> None:
    future = stored(store, tmp_path, "alpha-1.0-py3-none-any.whl", b"future")
    present = stored(store, tmp_path, "alpha-1.0.tar.gz", b"present")
    future_text = write_record(future, schema=RECORD_SCHEMA + 1, tree="trees-v1/abc")

    assert store.records("alpha", "1.0", [INDEX]) == [present.record]
    assert [e.record.filename for e in store.walk()] == ["alpha-1.0.tar.gz"]
    assert record_path(future).read_text() == future_text  # never rewritten
    assert future.path.read_bytes() == b"future"
    assert quarantined(store) == [] and store.reports == []  # type: ignore[attr-defined]


def test_an_unknown_field_marks_a_record_as_a_newer_versions(store: Store, tmp_path: Path) -> None:
    entry = stored(store, tmp_path)
    text = write_record(entry, remote_tier="s3://bucket/prefix")
    with pytest.raises(FutureRecord):
        Record.from_json(text)
    assert store.records("alpha", "1.0", [INDEX]) == []
    source = a_file(tmp_path, entry.record.filename, b"alpha")
    again = Record(filename=source.name, sha256="", size=0, url=entry.record.url, origin=INDEX)
    assert store.put(source, again) is None  # storing the same bytes again ...
    assert record_path(entry).read_text() == text  # ... never overwrites it
    assert quarantined(store) == []


def test_what_a_newer_version_may_add_under_extensions_is_served_and_kept(store: Store, tmp_path: Path) -> None:
    entry = stored(store, tmp_path)
    write_record(entry, extensions={"installed_tree": "trees-v1/abc"}, stamp=None)
    [record] = store.records("alpha", "1.0", [INDEX])
    assert dict(record.extensions) == {"installed_tree": "trees-v1/abc"}
    assert store.fetch(record) == (record, entry.path)  # rehashed, stamp written back ...
    rewritten = json.loads(record_path(entry).read_text())
    assert rewritten["stamp"] and rewritten["extensions"] == {"installed_tree": "trees-v1/abc"}  # ... extensions kept


OLD_RECORD = {  # as pipcachefirst wrote it before buckets had a registry (0.x, November 2026)
    "built_by": None,
    "built_from": None,
    "filename": "alpha-1.0-py3-none-any.whl",
    "kind": "download",
    "origin": INDEX,
    "requires_python": ">=3.8",
    "schema": 1,
    "siblings": [{"filename": "alpha-1.0.tar.gz", "requires_python": ">=3.8", "sha256": None}],
    "size": 5,
    "stamp": None,
    "stored_at": 1764000000.0,
    "url": f"{INDEX}/alpha-1.0-py3-none-any.whl",
    "yanked_reason": None,
}


def test_an_entry_written_by_an_older_version_is_served(store: Store, tmp_path: Path) -> None:
    entry = stored(store, tmp_path, content=b"alpha")
    record_path(entry).write_text(json.dumps({**OLD_RECORD, "sha256": entry.record.sha256}, indent=1, sort_keys=True))
    [record] = store.records("alpha", "1.0", [INDEX])
    assert record.siblings[0].filename == "alpha-1.0.tar.gz"
    assert store.fetch(record) == (record, entry.path)


@pytest.mark.parametrize(
    "damage",
    [
        {"origin": "https://elsewhere.example/simple"},  # says it came from another index than its folder
        {"filename": "beta-1.0-py3-none-any.whl"},  # a file of another project
        {"filename": "../../escape-1.0-py3-none-any.whl"},
        {"schema": "one"},
    ],
)
def test_a_record_that_contradicts_its_place_is_moved_aside_with_one_line(
    store: Store, tmp_path: Path, damage: Dict[str, Any]
) -> None:
    entry = stored(store, tmp_path)
    write_record(entry, **damage)
    assert store.records("alpha", "1.0", [INDEX]) == []
    assert not record_path(entry).exists()
    assert len(quarantined(store)) == 1
    assert len(store.reports) == 1 and "moved aside" in store.reports[0]  # type: ignore[attr-defined]


def test_a_version_leaves_buckets_it_does_not_know_alone(store: Store, tmp_path: Path) -> None:
    stored(store, tmp_path)
    newer = store.root / "files-v2" / "alpha" / "1.0"
    newer.mkdir(parents=True)
    (newer / "x.json").write_text("{}")
    assert [bucket.name for bucket in BUCKETS] == ["files-v1", "trees-v2"]
    assert store.usage() == (1, len(b"alpha"))
    for entry in list(store.walk()):
        store.remove(entry)
    assert (newer / "x.json").read_text() == "{}"


# -- writes are atomic ---------------------------------------------------------------


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "virtualenv.ini"
    write_atomically(target, "old")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["virtualenv.ini"]


# -- records read once per process, while their folder is unchanged --------------


def test_records_read_once_are_read_again_when_another_process_changes_their_folder(tmp_path: Path) -> None:
    known: Dict[Any, Any] = {}
    ours = Store(tmp_path / "cache", known=known)  # this pip's two stores: early staging's and serve's
    also_ours = Store(tmp_path / "cache", known=known)
    another_process = Store(tmp_path / "cache")
    assert ours.open().store
    first = stored(another_process, tmp_path, "alpha-1.0-py3-none-any.whl", b"one")
    assert [e.record for e in ours.walk("alpha")] == [first.record]

    record_path(first).write_text("not json")  # read from memory now: the folder is as it was
    assert also_ours.records("alpha", "1.0", [INDEX]) == [first.record]

    record_path(first).write_text(first.record.to_json())
    second = stored(another_process, tmp_path, "alpha-1.0-cp311-cp311-linux_x86_64.whl", b"two")
    assert sorted(also_ours.records("alpha", "1.0", [INDEX])) == sorted([first.record, second.record])
    os.replace(record_path(second), tmp_path / "moved-aside.json")
    assert also_ours.records("alpha", "1.0", [INDEX]) == [first.record]
