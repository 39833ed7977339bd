"""The install step's own decisions, in process: which bytes pipcachefirst reads before it places a tree."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List

import pytest

from pipcachefirst.cache.catalog import Record
from pipcachefirst.cache.store import Store
from pipcachefirst.pip import installing
from pipcachefirst.pip.session import CURRENT as SESSION

INDEX = "https://index.example/simple"


def test_a_served_wheel_is_known_by_its_record_until_its_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "cache")
    source = tmp_path / "alpha-1.0-py3-none-any.whl"
    source.write_bytes(b"the wheel's bytes")
    entry = store.put(source, Record(filename=source.name, sha256="", size=0, url=f"{INDEX}/{source.name}",
                                     origin=INDEX))
    assert entry is not None
    served = str(entry.path)
    session = SESSION  # the one installing reads
    monkeypatch.setattr(session, "store", store)
    monkeypatch.setattr(session, "served_files", {served: entry})
    monkeypatch.setattr(session, "hash_checking", False)

    assert installing._served_sha256(served) == entry.record.sha256  # pip installs the file it was served
    assert installing._served_sha256(str(source)) is None  # a wheel the cache did not serve is hashed

    monkeypatch.setattr(session, "hash_checking", True)
    assert installing._served_sha256(served) is None  # pip reads every byte: so does pipcachefirst
    monkeypatch.setattr(session, "hash_checking", False)

    os.chmod(served, 0o644)
    entry.path.write_bytes(b"the wheel's bytez")  # changed in place, same size: its ctime moved
    assert installing._served_sha256(served) is None


def test_pip_makes_no_folder_inside_one_moved_whole_and_every_other_folder_as_ever() -> None:
    placements = installing._Placements(None, None, None, None)  # type: ignore[arg-type]  # only its folders
    placements._moved_into["numpy"] = "/venv/site-packages/"  # numpy/ went into place whole
    made: List[str] = []
    ensure_dir = installing._MovedFolders(made.append, placements)  # pip's ensure_dir, as swapped in

    others = ["/venv/site-packages/numpy.libs", "/venv/site-packages/numpyx/a", "/venv/bin", "/elsewhere/numpy/core"]
    for folder in ["/venv/site-packages/numpy", "/venv/site-packages/numpy/core/tests", *others]:
        ensure_dir(folder)

    assert made == others
