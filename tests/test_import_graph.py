"""The project's import graph has no cycle (issue 15: "logstore without cycles").

Why a test and not a linter rule: a cycle that only closes through an import inside a function
(the usual way to "fix" an ImportError) still ties two modules together -- neither can be
understood, tested or moved without the other, and which one finishes loading first depends on
who imported first. So every import counts here: module level, inside functions and methods,
inside ``try`` and ``if TYPE_CHECKING`` blocks.

How edges are built (static, from the source with :mod:`ast`; nothing is imported):

* ``import a.b.c`` -> ``a.b.c`` (or the longest prefix of it that is a project module);
* ``from a.b import c`` -> ``a.b.c`` when that is a project module (a submodule), else ``a.b``;
* relative imports are resolved against the importing module's package;
* an import of one of the importer's own ancestor packages is ignored: Python has started
  those ``__init__`` files before the importer's first line, so that edge says nothing about
  the importer's code (otherwise every ``fer_core.logstore.x`` importing a sibling would form
  a cycle with ``fer_core.logstore``). The exception: ``from <own ancestor> import <name>``
  where the name is not a submodule takes something the ancestor's ``__init__`` binds, which
  is a real dependency (and the classic partially-initialised-module failure), so it counts.

Only the named target module is an edge, not the target's parent packages: the question is
which modules' *code* depends on which, and a package ``__init__`` that re-exports its
submodules would otherwise make every sibling look dependent on every other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("fer_core", "dashboard")

Graph = dict[str, set[str]]


def project_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> source file for every ``.py`` file under ``root/<package>``.

    Folders without ``__init__.py`` (``dashboard/pages``) count as namespace packages.
    """
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _longest_known(name: str, modules: dict[str, Path]) -> str | None:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in modules:
            return candidate
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that ``module`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    names: set[str] = set()  # packages a non-module name is taken from
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _longest_known(alias.name, modules)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".") if package else []
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}" if base else alias.name
                if submodule in modules:
                    found.add(submodule)
                elif base in modules:
                    names.add(base)
                else:
                    target = _longest_known(base, modules)
                    if target:
                        found.add(target)
    return (found - _ancestors(module) | names) - {module}


def import_graph(root: Path, packages: Iterable[str]) -> Graph:
    """Edges ``importer -> imported`` between the project modules under ``root``."""
    modules = project_modules(root, packages)
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """Every strongly connected component with more than one module (sorted members).

    Tarjan's algorithm, iterative (the graph is small, but recursion depth is not worth
    thinking about). A self-import is not reported: :func:`_imports` never records one.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
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
    return sorted(found)


def _describe(graph: Graph, component: list[str]) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return f"{{{', '.join(component)}}} via " + "; ".join(edges)


def test_the_project_has_no_import_cycle() -> None:
    graph = import_graph(REPO, PACKAGES)
    assert "fer_core.logstore.store" in graph and "dashboard.app" in graph  # it did look
    found = cycles(graph)
    assert not found, "import cycle(s):\n" + "\n".join(_describe(graph, c) for c in found)


def test_the_logstore_layers_hold() -> None:
    """The shapes that keep the log store acyclic by construction (docs/log-format.md, Modules).

    Errors and the Parquet writer are leaves anyone may import; only the package ``__init__``
    imports ``store.py``, the top, so nothing the store delegates to can need it back.
    """
    graph = import_graph(REPO, PACKAGES)
    assert graph["fer_core.logstore.errors"] == set()
    assert graph["fer_core.logstore.fsutil"] == set()
    assert graph["fer_core.logstore.parquet_io"] == {"fer_core.logstore.fsutil"}
    importers = {m for m, deps in graph.items()
                 if "fer_core.logstore.store" in deps and m.startswith("fer_core.logstore")}
    assert importers == {"fer_core.logstore"}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_finds_a_cycle_closed_by_a_function_level_import(tmp_path) -> None:
    """A checker that cannot fail proves nothing: it must see a cycle hidden in a function."""
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg.a import A\n",
        "pkg/a.py": "from pkg.b import B\nA = 1\n",
        "pkg/b.py": "B = 2\n\ndef later():\n    from . import a\n    return a.A\n",
        "pkg/c.py": "import pkg.a\n",  # imports into the cycle, is not part of it
        "pkg/sub/__init__.py": "",
        "pkg/sub/d.py": "from .. import c\nfrom ..b import B\nimport pkg\n",
        "pkg/sub/e.py": "from pkg.sub import d\nimport json\n",
    })
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.b"] == {"pkg.a"}  # relative, inside a function
    assert graph["pkg.sub.d"] == {"pkg.c", "pkg.b"}  # ancestors `pkg`, `pkg.sub` ignored
    assert graph["pkg.sub.e"] == {"pkg.sub.d"}  # `from package import submodule`
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_the_checker_counts_a_name_taken_from_the_own_package(tmp_path) -> None:
    """``from pkg import Name`` inside ``pkg.a`` needs ``pkg/__init__`` to have bound Name."""
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg.a import A\nfrom pkg.b import B\n",
        "pkg/a.py": "def f():\n    from pkg import B\n    return B\nA = 1\n",
        "pkg/b.py": "import pkg\nB = 2\n",  # the package itself: implicit, not an edge
    })
    graph = import_graph(tmp_path, ["pkg"])
    assert graph == {"pkg": {"pkg.a", "pkg.b"}, "pkg.a": {"pkg"}, "pkg.b": set()}
    assert cycles(graph) == [["pkg", "pkg.a"]]


def test_the_checker_finds_a_cycle_through_a_type_checking_import(tmp_path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    "    from pkg.z import Z\n",
        "pkg/y.py": "import pkg.x as x\n",
        "pkg/z.py": "from pkg import y\n",
    })
    graph = import_graph(tmp_path, ["pkg"])
    assert cycles(graph) == [["pkg.x", "pkg.y", "pkg.z"]]
    assert "pkg.x -> pkg.z" in _describe(graph, ["pkg.x", "pkg.y", "pkg.z"])


def test_the_checker_passes_an_acyclic_package(tmp_path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg.a import A\nfrom pkg.b import B\n",
        "pkg/a.py": "from pkg.b import B\nA = B\n",
        "pkg/b.py": "import pkg\nB = 1\n",  # its own ancestor: implicit, not an edge
    })
    assert cycles(import_graph(tmp_path, ["pkg"])) == []


def package_of(module: str, modules: Iterable[str]) -> str:
    """The deepest package below the top level that holds ``module`` (``fer_core.logstore`` for
    ``fer_core.logstore.store``); a top-level module (``fer_core.pipeline``) is its own unit."""
    parts = module.split(".")
    known = set(modules)
    if len(parts) <= 2:
        return module
    unit = ".".join(parts[:2])
    return unit if unit in known else module


def package_graph(graph: Graph) -> Graph:
    """Edges between packages of one project (``fer_core``, ``dashboard``): a module of P
    importing a module of Q (P != Q) makes P -> Q.

    Why: two packages can be tied without any module cycle (``logstore.summary_file`` ->
    ``analytics.summaries`` while ``analytics.store_summaries`` -> ``logstore.store``). Neither
    package can then be installed, tested or reasoned about alone, which is what a layer means.
    """
    out: Graph = {}
    for importer, deps in graph.items():
        src = package_of(importer, graph)
        out.setdefault(src, set())
        for dep in deps:
            dst = package_of(dep, graph)
            if dst != src and src.split(".")[0] == dst.split(".")[0]:
                out[src].add(dst)
    return out


def test_no_two_packages_import_each_other() -> None:
    graph = package_graph(import_graph(REPO, PACKAGES))
    assert "fer_core.logstore" in graph and "fer_core.analytics" in graph  # it did look
    found = cycles(graph)
    assert not found, "package tie(s):\n" + "\n".join(_describe(graph, c) for c in found)


def test_the_package_checker_finds_a_tie_without_a_module_cycle(tmp_path) -> None:
    """The tie issue 20 named: no module cycle, yet two packages need each other."""
    _write(tmp_path, {
        "fer_core/__init__.py": "",
        "fer_core/store/__init__.py": "",
        "fer_core/store/files.py": "X = 1\n",
        "fer_core/store/finish.py": "def close():\n    from fer_core.stats.digest import D\n",
        "fer_core/stats/__init__.py": "",
        "fer_core/stats/digest.py": "D = 2\n",
        "fer_core/stats/reader.py": "from fer_core.store.files import X\n",
        "fer_core/top.py": "import fer_core.stats.reader\n",
    })
    modules = import_graph(tmp_path, ["fer_core"])
    assert cycles(modules) == []  # the module graph alone cannot see it
    assert cycles(package_graph(modules)) == [["fer_core.stats", "fer_core.store"]]
    # and a clean layering passes
    (tmp_path / "fer_core/store/finish.py").write_text("def close(digest):\n    return digest\n")
    assert cycles(package_graph(import_graph(tmp_path, ["fer_core"]))) == []
