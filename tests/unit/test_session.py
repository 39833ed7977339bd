"""One pip process, one session: what pipcachefirst keeps while pip runs, and for how long."""

from __future__ import annotations

import ast
import gc
from pathlib import Path

from pipcachefirst.pip.session import Session

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "pipcachefirst"


class Finder:
    """Stands for one of pip's PackageFinders: any object a weak map can hold."""


def test_what_is_known_about_a_finder_goes_with_it() -> None:
    session = Session()
    finder = Finder()
    session.finder(finder).page_links["alpha"] = ["a link"]
    assert session.finder(finder).page_links == {"alpha": ["a link"]}  # the same state, asked again

    del finder
    gc.collect()
    assert len(session.finders) == 0  # a long pip process (pip-sync, tox) keeps nothing of finders it dropped


def test_two_sessions_share_nothing() -> None:
    one, other = Session(), Session()
    finder = Finder()
    one.finder(finder).answers[("alpha",)] = "an answer"  # type: ignore[assignment]
    one.served["url"] = "record"  # type: ignore[assignment]
    assert other.finder(finder).answers == {} and other.served == {}


def test_the_pip_layer_keeps_no_state_of_its_own_outside_the_session() -> None:
    """A module-level name assigned a mutable value, or rebound with ``global``, is state: it belongs in Session."""
    found = []
    for path in sorted((PACKAGE / "pip").glob("*.py")) + sorted((PACKAGE / "trees").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                found.append(f"{path.name}:{node.lineno}: global {', '.join(node.names)}")
        for node in tree.body:
            target = node.target if isinstance(node, ast.AnnAssign) else (
                node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if isinstance(target, ast.Name) and target.id.lstrip("_").isupper():
                continue  # a constant: a table, never changed
            if isinstance(target, ast.Name) and isinstance(value, (ast.Dict, ast.List, ast.Set, ast.Call)):
                if isinstance(value, ast.Call) and not _makes_a_container(value):
                    continue
                found.append(f"{path.name}:{node.lineno}: {target.id}")
    assert found == [], found


def _makes_a_container(call: ast.Call) -> bool:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return name in {"dict", "list", "set", "WeakKeyDictionary", "WeakSet", "WeakValueDictionary", "defaultdict"}
