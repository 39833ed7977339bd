"""Trees built after pip's last output (``pipcachefirst.trees.later``).

The helper builds only what it was told it builds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipcachefirst.base.atomic import sha256_of
from pipcachefirst.cache.store import TREES
from pipcachefirst.trees import later
from pipcachefirst.trees.tree import Trees, interpreter_key
from tests.support.packages import rich_wheel_bytes


def cached_wheel(tmp_path: Path) -> Path:
    wheel = tmp_path / "files" / "rich_pure-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(rich_wheel_bytes("rich-pure", "1.0", True))
    return wheel


def shelf_of(tmp_path: Path) -> Trees:
    key = interpreter_key()
    assert key is not None
    return Trees(tmp_path / TREES.name, key)


def test_the_helper_builds_the_noted_trees_after_the_command_and_removes_its_job_file(tmp_path: Path) -> None:
    wheel = cached_wheel(tmp_path)
    with wheel.open("rb") as handle:
        sha256 = sha256_of(handle)
    shelf = shelf_of(tmp_path)
    script = "rich_pure-1.0.data/scripts/rich_pure-hello"
    helper = later.start(shelf, [later.Job(sha256, str(wheel), wheel.name, [script])])
    assert helper is not None
    assert helper.wait(timeout=60) == 0
    tree = shelf.find(sha256)
    assert tree is not None and tree.wheel == wheel.name and tree.compiled
    assert list(shelf.folder.glob(later.JOB_PREFIX + "*")) == []


def test_a_wheel_whose_bytes_changed_since_it_was_noted_gets_no_tree(tmp_path: Path) -> None:
    wheel = cached_wheel(tmp_path)
    shelf = shelf_of(tmp_path)
    assert later.build(shelf, "0" * 64, str(wheel), wheel.name, []) is None
    assert list(shelf.folder.glob("*")) == []


def test_a_helper_of_another_interpreter_key_builds_nothing(tmp_path: Path) -> None:
    """``python -O`` compiles other byte code: a job written for it is left alone by a plain interpreter."""
    wheel = cached_wheel(tmp_path)
    with wheel.open("rb") as handle:
        sha256 = sha256_of(handle)
    key = "other-key"
    folder = tmp_path / TREES.name / key
    folder.mkdir(parents=True)
    job = folder / f"{later.JOB_PREFIX}x.json"
    job.write_text(json.dumps({"key": key, "jobs": [
        {"sha256": sha256, "path": str(wheel), "name": wheel.name, "executable": []}]}))
    code = "from pipcachefirst.trees.later import helper_main; helper_main()"
    subprocess.run([sys.executable, "-c", code, str(job)], check=True, timeout=60)
    assert not job.exists() and list(folder.iterdir()) == []
