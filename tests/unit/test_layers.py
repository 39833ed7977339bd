"""The layers of docs/architecture.md hold: a module imports only what its layer's row allows.

A contributor who adds ``from pipcachefirst.pip import compat`` to a module
of the cache, or an import of pip outside the compat module, or an import
cycle, sees one of these tests fail with the import's file and line.  The
rules are read from the tables in docs/architecture.md, so the docs and the
test cannot drift apart.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Set, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "pipcachefirst"
ARCHITECTURE = REPO / "docs" / "architecture.md"


class Layer(NamedTuple):
    name: str
    files: Tuple[str, ...]
    may_import: Tuple[str, ...]
    only_in_functions: Tuple[str, ...]


class Import(NamedTuple):
    module: str  # the module importing
    target: str  # what it imports, dotted
    line: int
    in_function: bool


def _table(marker: str) -> List[List[str]]:
    text = ARCHITECTURE.read_text()
    block = re.search(rf"<!-- {marker}: read by tests/unit/test_layers.py -->\n(.*?)<!-- end {marker} -->", text, re.S)
    assert block, f"docs/architecture.md has no {marker!r}"
    rows = [line.strip().strip("|").split("|") for line in block.group(1).strip().splitlines()]
    return [[cell.strip() for cell in row] for row in rows[2:]]  # past the header and its rule


def _names(cell: str) -> Tuple[str, ...]:
    return tuple(name.strip().strip("`") for name in cell.split(",") if name.strip())


def layers() -> List[Layer]:
    return [Layer(row[0], _names(row[1]), _names(row[3]), _names(row[4])) for row in _table("layers table")]


def outside_rules() -> Dict[str, Tuple[str, ...]]:
    return {row[0].strip("`"): _names(row[1]) for row in _table("outside table")}


def modules() -> Dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def layer_of(module: str, table: List[Layer]) -> Layer:
    relative = module.split(".", 1)[1] if "." in module else "__init__"
    for layer in table:
        for files in layer.files:
            if files.endswith("/") and relative.split(".")[0] == files.rstrip("/"):
                return layer
            if files == relative.replace(".", "/") + ".py":
                return layer
    raise AssertionError(f"{module} is in no layer of docs/architecture.md")


def imports_of(module: str, path: Path) -> Iterator[Import]:
    """Every import in ``path``, with the names a ``from`` import takes resolved to modules where they are."""
    known = modules()
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def walk(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, in_function)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in child.names:
                    target = f"{base}.{alias.name}"
                    yield Import(module, target if target in known else base, child.lineno, in_function)
            else:
                yield from walk(child, inside)

    yield from walk(tree, False)


def every_import() -> List[Import]:
    return [found for module, path in modules().items() for found in imports_of(module, path)]


def test_every_module_is_in_a_layer_of_the_docs() -> None:
    table = layers()
    for module in modules():
        layer_of(module, table)


def test_a_module_imports_only_the_layers_its_row_allows() -> None:
    table = layers()
    by_name = {layer.name: layer for layer in table}
    wrong = []
    for found in every_import():
        if not found.target.startswith("pipcachefirst.") or found.target == "pipcachefirst":
            continue
        here, there = layer_of(found.module, table), layer_of(found.target, table)
        if there is here or there.name in here.may_import:
            continue
        if found.in_function and there.name in here.only_in_functions:
            continue
        allowed = ", ".join(here.may_import) or "nothing of pipcachefirst"
        wrong.append(f"{modules()[found.module].relative_to(REPO)}:{found.line}: {here.name} imports {found.target} "
                     f"({there.name}); {here.name} may import {allowed}")
    assert set(by_name) == {layer.name for layer in table}
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_outside_the_standard_library_but_where_the_docs_say() -> None:
    stdlib = getattr(sys, "stdlib_module_names", None)
    if stdlib is None:
        pytest.skip("sys.stdlib_module_names is new in Python 3.10")
    rules = outside_rules()
    wrong = []
    for found in every_import():
        top = found.target.split(".")[0]
        if top in stdlib or top == "pipcachefirst" or top == "__future__":
            continue
        path = modules()[found.module].relative_to(PACKAGE).as_posix()
        allowed = rules.get(path, ())
        if any(found.target == name or found.target.startswith(name + ".") for name in allowed):
            continue
        wrong.append(f"src/pipcachefirst/{path}:{found.line}: imports {found.target}")
    assert not wrong, (
        "only the modules docs/architecture.md names import outside the standard library:\n" + "\n".join(wrong)
    )


def test_boot_loads_only_the_standard_library_and_base_as_an_interpreter_starts() -> None:
    """What every interpreter of an environment pays: no module of boot imports more at import time."""
    table = layers()
    wrong = []
    for found in every_import():
        if found.in_function or not found.target.startswith("pipcachefirst."):
            continue
        here = layer_of(found.module, table)
        if here.only_in_functions and layer_of(found.target, table).name in here.only_in_functions:
            wrong.append(f"{found.module}:{found.line} imports {found.target} at import time")
    assert not wrong, "\n".join(wrong)


def test_no_two_modules_import_each_other_even_through_others() -> None:
    graph: Dict[str, Set[str]] = {name: set() for name in modules()}
    for found in every_import():
        if found.target in graph and found.target != found.module and not found.target.endswith("__init__"):
            if modules()[found.target].name != "__init__.py":
                graph[found.module].add(found.target)
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle + [cycle[0]]) for cycle in cycles)


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Tarjan's strongly connected components with more than one module, each as one module path round it."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in sorted(graph[node]):
            if neighbour not in index:
                connect(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found
