"""The package's shape: data flows one way (no import cycle, even through imports inside functions), and no module
grows past what a reader can hold."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bertbench"
MAX_LINES = 350
MAX_FUNCTION_LINES = 60  # a function's def line to its last line, docstring included


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PACKAGE.rglob("*.py"):
        parts = p.relative_to(PACKAGE.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return mods


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every bertbench module ``path`` imports, at any level (function bodies too), except TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text())
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(x) for x in ast.walk(node)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bertbench"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("bertbench")}
    return out & known


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return comps


def test_no_import_cycles():
    mods = _modules()
    graph = {m: _imports(p, set(mods)) - {m} for m, p in mods.items()}
    assert _cycles(graph) == []
    # the checker itself finds a cycle when there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_no_module_is_too_long():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    return {node.name: n for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (n := node.end_lineno - node.lineno + 1) > limit}


def test_no_function_is_too_long():
    long = {f"{p.relative_to(PACKAGE.parent)}:{name}": n for p in PACKAGE.rglob("*.py")
            for name, n in _long_functions(p.read_text()).items()}
    assert long == {}
    planted = "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES
    assert _long_functions(planted) == {"f": MAX_FUNCTION_LINES + 1}  # the check can fail


#: The layers, bottom first: a module may import its own layer and those below, never one above (imports inside
#: functions count). Data flows space -> models -> data -> training -> store -> loaders -> proxies -> hub -> cli;
#: the store is the results' format, which training writes through and loaders read through, so it sits below
#: training and never imports it.
LAYERS = [
    {"env", "file_io", "errors", "options", "registry", "licenses", "yaml_io", "manifest_files", "stats"},  # leaves
    {"space"},
    {"models", "families"},
    {"data"},
    {"store"},
    {"training"},
    {"loaders", "reliability", "plots"},
    {"proxies", "search"},
    {"hub"},
    {"cli", "demo", "testing", "bertbench"},
]


def _unit(module: str) -> str:
    """The layer unit of a module: its subpackage or top-level module name ('bertbench' for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _upward_imports(graph: dict[str, set[str]]) -> list[str]:
    level = {u: i for i, layer in enumerate(LAYERS) for u in layer}
    bad = []
    for m, targets in graph.items():
        for t in targets:
            a, b = _unit(m), _unit(t)
            if a not in level or b not in level:
                bad.append(f"{m} -> {t}: {a if a not in level else b} is in no layer of LAYERS")
            elif level[b] > level[a]:
                bad.append(f"{m} -> {t}")
    return sorted(bad)


def _package_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {m: _imports(p, set(mods)) - {m} for m, p in mods.items()}
    # "from bertbench import stats" names the module bertbench.stats, not the package's __init__
    return {m: {t for t in ts if not (t == "bertbench" and any(x.startswith("bertbench.") for x in ts))}
            for m, ts in graph.items()}


def test_layers_are_only_imported_downwards():
    assert _upward_imports(_package_graph()) == []


def test_the_layer_check_catches_an_import_inside_a_function(tmp_path):
    """A planted ``store -> training`` import inside a function body is found."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from bertbench.training.grid import GridRunner\n    return GridRunner\n")
    mods = _modules()
    graph = _package_graph()
    graph["bertbench.store.planted"] = _imports(planted, set(mods))
    assert _upward_imports(graph) == ["bertbench.store.planted -> bertbench.training.grid"]
