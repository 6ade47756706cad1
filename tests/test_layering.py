"""The import layering of the engine, read from the source with ``ast`` (nothing is imported).

The rules (docs: DESIGN.md, "Direction of imports"):

* no import circle among the modules of ``procurement``, ``solver`` and ``catalogues``
  (and ``cli``), counting imports inside functions too: a lazy import only hides a
  circle from the interpreter, not from the reader;
* ``solver`` imports nothing from ``procurement`` or ``catalogues``;
* ``catalogues`` imports neither ``solver`` nor ``procurement``;
* nobody imports ``cli``.

An edge ``a -> b`` is a module ``a`` whose source imports module ``b``; ``from pkg import
name`` counts as importing ``pkg.name`` when that is a module, else ``pkg``. Importing a
submodule also runs its package's ``__init__``, but that implicit edge is not counted
(every package re-exports its modules, so it would make a circle of every package).
"""

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("procurement", "solver", "catalogues")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path, packages=PACKAGES, scripts=("cli.py",)) -> dict[str, Path]:
    """Every module of ``packages`` (and the top-level ``scripts``) under ``root``, by name."""
    modules = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    modules.update({module_name(root / s, root): root / s for s in scripts if (root / s).exists()})
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that ``name`` (at ``path``) imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package holding this module
                package = name.split(".") if is_package else name.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            # ``import a.b.c`` of a module outside the project (or a name in it): its
            # longest prefix that is a project module, if any.
            parts = target.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts and ".".join(parts) != name:
                found.add(".".join(parts))
    return found


def import_graph(root: Path = ROOT, **kwargs) -> dict[str, set[str]]:
    modules = project_modules(root, **kwargs)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (``[a, b, ..., a]``), or None."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return None


def _top(module: str) -> str:
    return module.split(".")[0]


def _edges_from(graph, package: str, forbidden: set[str]) -> list[str]:
    return sorted(
        f"{a} -> {b}" for a, targets in graph.items() if _top(a) == package for b in targets if _top(b) in forbidden
    )


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_graph_sees_the_packages_and_their_lazy_imports(graph):
    assert {"procurement.scenarios.runs", "solver.solve", "catalogues.read", "cli"} <= set(graph)
    # run_scenario imports the solver inside the function (a lazy import still counts)
    assert "solver.solve" in graph["procurement.scenarios.runs"]


def test_no_import_circles(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_solver_imports_neither_procurement_nor_catalogues(graph):
    assert _edges_from(graph, "solver", {"procurement", "catalogues", "cli"}) == []


def test_catalogues_imports_neither_solver_nor_procurement(graph):
    assert _edges_from(graph, "catalogues", {"procurement", "solver", "cli"}) == []


def test_nobody_imports_cli(graph):
    assert sorted(a for a, targets in graph.items() if "cli" in targets) == []


# --------------------------------------------------------------------------- the checker itself


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_circle_through_a_lazy_and_a_relative_import_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import f\n",
            "pkg/a.py": "from pkg import b\n\ndef f():\n    return b\n",
            "pkg/b.py": "def g():\n    from .a import f  # lazy, relative\n    return f\n",
            "pkg/c.py": "import pkg.b\nimport os.path\n",
        },
    )
    graph = import_graph(root, packages=("pkg",), scripts=())
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.b"}}
    cycle = find_cycle(graph)
    assert cycle is not None and set(cycle) == {"pkg.a", "pkg.b"} and cycle[0] == cycle[-1]
    del graph["pkg.b"]
    assert find_cycle(graph) is None
