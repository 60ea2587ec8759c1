"""Every module imports on its own, and the imports inside the package run one way.

``import zerokara.explain.ops`` in a fresh interpreter must work without anything
imported before it (a module that only works after another has been imported
hides a cycle or a missing import). The import graph, read with ``ast`` from the
source (imports inside functions and under ``TYPE_CHECKING`` included: a lazy
import that dodges a cycle is still the cycle), must have no cycle, and no module
imports another module's ``_private`` names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package)."""
    out = {}
    for p in sorted((SRC / "zerokara").rglob("*.py")):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return out


MODULES = _modules()
#: __main__ runs the command line when imported: that is its job
IMPORTABLE = [m for m in MODULES if not m.endswith(".__main__")]


@pytest.mark.parametrize("module", IMPORTABLE)
def test_module_imports_alone_in_a_fresh_interpreter(module):
    res = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, f"import {module} failed on its own:\n{res.stderr[-2000:]}"


def _imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in ``name``'s file."""
    path, is_pkg = MODULES[name]
    package = name if is_pkg else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..layers import y
                head = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(head + ([node.module] if node.module else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((sub, [], node.lineno) if sub in MODULES else (base, [a.name], node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    """Module -> the zerokara modules importing it runs. ``import a.b.c`` also runs the
    packages ``a`` and ``a.b``, except those the importer is already inside."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for m in MODULES:
        for target, _, _ in _imports(m):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                dep = ".".join(parts[:i])
                if dep in MODULES and dep != m and not m.startswith(dep + "."):
                    edges[m].add(dep)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while comp[-1:] != [v]:
                comp.append(stack.pop())
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


#: cycles that exist today in other parts of the package, to be removed there; any
#: cycle not listed fails. (explain/'s own, ops <-> tracer, is gone since issue 14.)
KNOWN_CYCLES: list[list[str]] = []


def test_the_import_graph_has_no_new_cycle():
    new = [c for c in _cycles(_graph()) if c not in KNOWN_CYCLES]
    assert not new, f"import cycles: {new}"


def test_explain_modules_import_in_one_direction():
    """explain/'s own order, as its package docstring lists it; and check/ never needs explain/."""
    edges = _graph()
    assert not [c for c in _cycles(edges) if any(m.startswith("zerokara.explain") for m in c)]
    assert not any(d.startswith("zerokara.explain") for m in MODULES if m.startswith("zerokara.check")
                   for d in edges[m])
    assert "zerokara.explain.ops" not in edges["zerokara.explain.traced_array"]


def test_the_detector_finds_a_lazy_import_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]


#: (importer, module, name): private names another engineer's modules import today,
#: to be made public there; any other fails
KNOWN_PRIVATE: set[tuple[str, str, str]] = set()


def test_no_module_imports_another_modules_private_names():
    found = {(m, target, n) for m in MODULES for target, names, _ in _imports(m) for n in names
             if target.startswith("zerokara") and n.startswith("_") and not n.startswith("__")}
    assert not found - KNOWN_PRIVATE, sorted(found - KNOWN_PRIVATE)
