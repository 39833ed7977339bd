"""Files are stored on one thread while pip goes on; what happened is told on pip's thread, in pip's order.

A session with a real store in a temporary folder; the files are handed over
as the preparer's and wheel builder's hooks hand them (``Session.store_later``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any, List, Optional

import pytest

from pipcachefirst.cache.catalog import Record
from pipcachefirst.cache.store import Store
from pipcachefirst.pip import hooks
from pipcachefirst.pip.session import Session

INDEX = "https://index.example/simple"


def a_session(tmp_path: Path) -> Session:
    session = Session()
    session.store = Store(tmp_path / "cache", report=session.problem)
    assert session.store.open().store
    session.storing = True
    return session


def hand_over(session: Session, tmp_path: Path, name: str, content: Optional[bytes] = None,
              source_url: Optional[str] = None) -> Record:
    """A file pip downloaded (``content`` None: one pip removed meanwhile), handed to the storing thread."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    record = Record(filename=name, sha256="", size=0, url=f"{INDEX}/{name}", origin=INDEX)
    session.store_later(str(path), record, "could not store a downloaded file", source_url)
    return record


def names(session: Session) -> List[str]:
    return [entry.record.filename for entry in session.stored]


def test_the_files_are_stored_in_pips_order_and_known_once_waited_for(tmp_path: Path) -> None:
    session = a_session(tmp_path)
    wanted = [f"p{n}-1.0-py3-none-any.whl" for n in range(8)]
    for n, name in enumerate(wanted):
        hand_over(session, tmp_path, name, bytes([n]) * 300_000)

    session.wait_for_storing()
    assert names(session) == wanted
    assert [e.path.read_bytes()[:1] for e in session.stored] == [bytes([n]) for n in range(len(wanted))]
    assert session.problems == [] and session.storing


def test_an_sdist_being_stored_is_waited_for_when_pip_builds_from_it(tmp_path: Path) -> None:
    session = a_session(tmp_path)
    url = f"{INDEX}/alpha-1.0.tar.gz"
    hand_over(session, tmp_path, "alpha-1.0.tar.gz", b"sdist bytes", source_url=url)

    source = session.source(url)  # as _store_built and _built_earlier ask, without waiting first
    assert source is not None and source.filename == "alpha-1.0.tar.gz" and source.size == len(b"sdist bytes")
    assert names(session) == ["alpha-1.0.tar.gz"]
    assert session.source(f"{INDEX}/other-1.0.tar.gz") is None


def test_a_write_that_fails_stops_storing_and_is_one_warning_on_pips_thread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    session = a_session(tmp_path)
    assert session.store is not None
    for name, content in [("gone", None), ("after", b"handed over before the failure was known")]:
        path = tmp_path / f"{name}-1.0-py3-none-any.whl"  # gone: pip removed it meanwhile, the OSError
        if content is not None:
            path.write_bytes(content)
        record = Record(filename=path.name, sha256="", size=0, url=f"{INDEX}/{path.name}", origin=INDEX)
        session.storing_thread.submit(session.store, str(path), record, "could not store a downloaded file")

    with caplog.at_level(logging.WARNING, logger="pipcachefirst"):
        session.wait_for_storing()
    assert names(session) == [], "nothing after the failed write is stored"
    assert not session.storing
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "cannot write to the cache" in warning.getMessage() and "storing nothing more" in warning.getMessage()
    assert warning.threadName == threading.current_thread().name

    hand_over(session, tmp_path, "later-1.0-py3-none-any.whl", b"later")
    session.wait_for_storing()
    assert names(session) == []


def test_a_bug_of_ours_costs_that_file_only_and_is_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = a_session(tmp_path)
    store = session.store
    assert store is not None
    put = store.put

    def buggy_for_beta(source: Any, record: Record) -> Any:
        if record.filename.startswith("beta"):
            raise KeyError("a bug")
        return put(source, record)

    monkeypatch.setattr(store, "put", buggy_for_beta)
    for name in ("alpha", "beta", "gamma"):
        hand_over(session, tmp_path, f"{name}-1.0-py3-none-any.whl", name.encode())

    with caplog.at_level(logging.WARNING, logger="pipcachefirst"):
        session.wait_for_storing()
    assert names(session) == ["alpha-1.0-py3-none-any.whl", "gamma-1.0-py3-none-any.whl"]
    assert session.storing
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith("pipcachefirst: could not store a downloaded file (KeyError")


def test_what_the_store_says_while_storing_is_said_on_pips_thread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    session = a_session(tmp_path)
    first = hand_over(session, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha")
    session.wait_for_storing()
    [entry] = session.stored
    record_path = entry.path.parent.with_suffix(".json")
    record_path.write_text("not json")  # the same bytes stored again find a damaged record there
    session.stored.clear()

    with caplog.at_level(logging.WARNING, logger="pipcachefirst"):
        session.store_later(str(tmp_path / first.filename), first, "could not store a downloaded file")
        session.wait_for_storing()
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "is not a valid pipcachefirst record" in warning.getMessage()
    assert warning.threadName == threading.current_thread().name
    assert names(session) == ["alpha-1.0-py3-none-any.whl"], "stored again, its record whole"


def test_nothing_is_started_until_a_file_is_handed_over(tmp_path: Path) -> None:
    before = threading.active_count()
    session = a_session(tmp_path)
    session.wait_for_storing()
    assert threading.active_count() == before and not session.storing_thread.on_its_thread()


def test_the_command_waits_for_the_storing_thread_before_pip_removes_its_temporary_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pip removes them as ``Command.main`` closes its ExitStack, right after ``_main`` returns: the wrapper
    of ``_main`` waits for the storing thread first.  A file still being stored here takes 0.3 s."""
    session = a_session(tmp_path)
    session.max_size = 0  # no size check after the command
    monkeypatch.setattr(hooks, "SESSION", session)
    for patching_pip in ("_watch_requirements", "_watch_pips_cache", "_watch_self_check"):
        monkeypatch.setattr(hooks, patching_pip, lambda *args: None)  # they wrap pip's functions for the process
    store = session.store
    assert store is not None
    put = store.put

    def slow_put(source: Any, record: Record) -> Any:
        time.sleep(0.3)
        return put(source, record)

    monkeypatch.setattr(store, "put", slow_put)

    class Command:
        name = "download"

    def pips_main(args: List[str]) -> int:  # pip's Command._main: a download handed over as its last step
        hand_over(session, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha")
        return 0

    assert hooks._command_main(pips_main, Command(), ([],), {}) == 0
    assert names(session) == ["alpha-1.0-py3-none-any.whl"], "stored before pip's clean-up could run"


def test_ctrl_c_while_waiting_skips_what_the_thread_has_not_begun_and_the_file_being_stored_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    session = a_session(tmp_path)
    store = session.store
    assert store is not None
    put, began, release = store.put, threading.Event(), threading.Event()

    def held_put(source: Any, record: Record) -> Any:
        began.set()
        release.wait(10)
        return put(source, record)

    monkeypatch.setattr(store, "put", held_put)
    hand_over(session, tmp_path, "alpha-1.0-py3-none-any.whl", b"alpha")
    hand_over(session, tmp_path, "beta-1.0-py3-none-any.whl", b"beta")
    assert began.wait(10)
    ctrl_c = (threading.main_thread().ident, signal.SIGINT)  # to pip's thread, as the terminal's reaches it
    threading.Timer(0.2, signal.pthread_kill, ctrl_c).start()
    with pytest.raises(KeyboardInterrupt):
        session.wait_for_storing()

    release.set()
    session.wait_for_storing()
    assert names(session) == ["alpha-1.0-py3-none-any.whl"], "the file being stored is finished, beta never begun"
    assert [p.name for p in (tmp_path / "cache").rglob("*.whl")] == ["alpha-1.0-py3-none-any.whl"]
    assert list((tmp_path / "cache").rglob(".tmp-*")) == []
