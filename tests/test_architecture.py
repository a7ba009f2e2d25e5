"""The direction of imports inside spectool/, read from the source with ast (nothing is imported).

The layers, from the bottom up (ARCHITECTURE.md):

1. the foundation: ``spectool.spectra`` (the data model: Axis, Chunk, SetMeta, SpectraSet, Spectra),
   ``spectool.errors``, ``spectool.env``; they import no other spectool module;
2. the core: ``xrd``, ``signal``, ``models``, ``learn``, ``fit``, ``corpus``, ``explain``, ``analysis``:
   arrays and tensors in and out; they import the foundation and each other, never ``io`` or ``cli``;
3. ``io``: files and streams (sets, scan readers, checkpoints, stdio); imports the foundation and the core;
4. ``cli``: one thin module per command; imports everything. Nothing outside cli/ imports it but
   ``spectool/__main__.py``, the ``python -m spectool`` entry point.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "spectool"
FOUNDATION = {"spectool", "spectool.spectra", "spectool.errors", "spectool.env"}
EDGES = ("io", "cli")


def module_name(path: Path) -> str:
    """``spectool/io/sets.py`` → ``spectool.io.sets``; a package's ``__init__.py`` → the package."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every spectool module ``path`` imports, at any depth (lazy imports in functions count)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)  # `from spectool import io`
    return {n for n in names if n == "spectool" or n.startswith("spectool.")}


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def layer(module: str) -> str:
    """foundation, core, io or cli (``spectool.__main__``: the entry point)."""
    if module in FOUNDATION or module == "spectool.__main__":
        return "foundation" if module in FOUNDATION else "entry"
    top = module.split(".")[1]
    return top if top in EDGES else "core"


def _is_spectool_module(name: str) -> bool:
    """Whether ``name`` is a module or package of spectool (not an attribute like ``spectool.__version__``)."""
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def import_edges() -> list[tuple[str, str]]:
    """(importer, imported module) for every spectool module under spectool/."""
    return [(module_name(path), target) for path in sorted(ROOT.rglob("*.py"))
            for target in sorted(imported(path)) if _is_spectool_module(target)]


ALLOWED = {
    "foundation": {"foundation"},
    "core": {"foundation", "core"},
    "io": {"foundation", "core", "io"},
    "cli": {"foundation", "core", "io", "cli"},
    "entry": {"cli"},
}


def test_the_graph_is_read():
    edges = import_edges()
    assert ("spectool.io.sets", "spectool.spectra") in edges
    assert ("spectool.cli.train", "spectool.learn.runner") in edges
    assert len(edges) > 300


@pytest.mark.parametrize("importer, target", [
    ("spectool.learn.state", "spectool.io.checkpoint"), ("spectool.xrd.simulate", "spectool.io"),
    ("spectool.io.sets", "spectool.cli.common"), ("spectool.spectra", "spectool.signal.ops"),
])
def test_a_wrong_direction_is_caught(importer, target):
    assert layer(target) not in ALLOWED[layer(importer)]


def test_imports_point_down_the_layers():
    wrong = [f"{a} ({layer(a)}) imports {b} ({layer(b)})" for a, b in import_edges()
             if layer(b) not in ALLOWED[layer(a)]]
    assert not wrong, "\n".join(wrong)


def test_relative_imports_resolve():
    node = ast.parse("from ..io import sets").body[0]
    assert _absolute(node, "spectool.learn") == "spectool.io"


# The core returns what it makes (arrays, figures); io/ writes files, through io.stdio.atomic_path.
WRITERS = {"savefig", "write_text", "write_bytes"}
#: Core modules allowed to write files anyway (none).
CORE_WRITES_KNOWN: set[str] = set()


def file_writes(source: str) -> list[str]:
    """``line: call`` of each ``.savefig(``/``.write_text(``/``.write_bytes(`` and each ``open(…)`` whose
    literal mode writes (w, a, x or +) in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        modes = [a for a in node.args[1:2]] + [k.value for k in node.keywords if k.arg == "mode"]
        writes_mode = any(isinstance(m, ast.Constant) and isinstance(m.value, str) and set(m.value) & set("wax+")
                          for m in modes)
        if (isinstance(func, ast.Attribute) and name in WRITERS) or (name == "open" and writes_mode):
            found.append(f"{node.lineno}: {ast.unparse(node)[:60]}")
    return found


@pytest.mark.parametrize("source, hits", [
    ("fig.savefig(path)", 1), ("Path(p).write_text('x')", 1), ("open(p, 'wb')", 1), ("gzip.open(p, mode='at')", 1),
    ("open(p, 'rb')", 0), ("open(p)", 0), ("fig.canvas.draw()", 0),
])
def test_file_writes_are_found(source, hits):
    assert len(file_writes(source)) == hits


def test_the_core_never_writes_files():
    wrong = [f"{path.relative_to(ROOT.parent)}:{hit}" for path in sorted(ROOT.rglob("*.py"))
             if layer(module_name(path)) == "core" and str(path.relative_to(ROOT.parent)) not in CORE_WRITES_KNOWN
             for hit in file_writes(path.read_text(encoding="utf-8"))]
    assert not wrong, "\n".join(wrong)
