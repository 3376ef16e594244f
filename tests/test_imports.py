"""The house's edges: no import circle between modules, no module using another's private name.

The graph is read from the source (every ``import`` and ``from … import``, including those
inside functions), so a circle hidden in a function-level import counts too. Package
``__init__`` modules are left out: they re-export their submodules by design.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "repscope"


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]):
    """``(target module, imported names)`` for every import in ``path``."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {m: set() for m in known}
    for name, path in known.items():
        for target, names in imports(name, path, known):
            for candidate in [target, *(f"{target}.{n}" for n in names)]:
                if (
                    candidate in known
                    and candidate != name
                    and known[candidate].name != "__init__.py"
                ):
                    edges[name].add(candidate)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_between_modules():
    edges = graph()
    assert "repscope.scan" in edges["repscope.filling"]  # the graph sees imports
    assert "repscope.live" in edges["repscope.widgets.data"]  # … function-level ones too
    assert cycles(edges) == []


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in edges.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_reading_a_run_needs_no_part_of_the_filling_side():
    """The read side (``repscope.open``, the widgets, ``export``) needs only a store, a run
    and a configuration: nothing it imports, even inside a function, reaches the probe, the
    scan, the sources' loading or the filling."""
    edges = graph()
    assert reachable({"a": {"b"}, "b": {"c"}}, "a") == {"b", "c"}
    filling_side = {"repscope.filling", "repscope.scan", "repscope.probe", "repscope.executors"}
    for reader in ("repscope.reading", "repscope.catalog"):
        assert reachable(edges, reader) & filling_side == set(), reader


def test_no_module_imports_another_modules_private_name():
    known = modules()
    offenders = [
        f"{name} imports {n} from {target}"
        for name, path in known.items()
        for target, names in imports(name, path, known)
        if target.startswith("repscope")
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert offenders == []


def test_every_relative_import_names_a_module_that_exists():
    """A function-level import runs only when called: one left pointing at a moved module
    (``from .folder import …`` after ``live.py`` left ``sources/``) fails only then."""
    known = modules()
    missing = []
    for name, path in known.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                if target not in known:
                    missing.append(f"{name}: from {'.' * node.level}{node.module or ''}")
    assert missing == []
