"""kgraph's imports (issue 10): no cycle, and no function-local import without a reason.

The graph is read from the AST of every module under kgraph/, module-level and function-local
imports alike, so moving an import into a function does not take its edge away. Importing
kgraph.ops.training runs kgraph/ops/__init__.py first, so it is an edge to kgraph.ops too. The
test fails on any cycle, and prints it.

A function-local import is allowed only where ALLOWED gives its reason: an optional dependency,
or an import whose deferral is measured to matter. An import missing from the table fails, and
so does an entry whose import is gone, so the table only shrinks."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "kgraph"

# (module, what it imports inside a function): why that import is not at the module's top.
# kgraph/commands/repl.py has none (its imports are at its top; readline is in repl_input.py).
ALLOWED = {
    ("kgraph", "kgraph.notebook"): "IPython (optional, kgraph[notebook]): only %load_ext kgraph needs it",
    ("kgraph.commands.plot", "matplotlib"): "optional extra kgraph[plot]: kgraph plot checks it is there",
    ("kgraph.commands.plot", "matplotlib.figure"): "optional extra kgraph[plot]: only to draw",
    ("kgraph.commands.repl_input", "readline"): "optional: Python on Windows has no readline",
    ("kgraph.export", "jax"): "jax.export's serializer needs flatbuffers: without it only export fails, with a message",
    ("kgraph.export", "flatbuffers"): "checked with jax.export: without it only export fails, with a message",
    ("kgraph.keras_import.reader", "h5py"): "optional extra kgraph[keras]: only a legacy .h5 model needs it",
    # Measured (docs/architecture.md, "Imports"): each would add its import to every start-up.
    ("kgraph.ops.losses", "optax"): "optax and what it loads, ~75 ms (as much as kgraph's own modules): for ctc_batch_cost",
    ("kgraph.dot", "graphviz"): "33 modules, ~6.5 ms of start-up; only a drawing (kgraph graph, a notebook) needs it",
    ("kgraph", "kgraph.keras_import"): "it loads the op registry, which import kgraph leaves to first use (as Program)",
    ("kgraph.progress", "rich.progress"): "rich, 22-32 ms of CPU at start-up (af66151): only a training run's bar needs it",
    ("kgraph.progress", "rich.console"): "rich, as rich.progress: only a training run's bar needs it",
    ("kgraph.diagnostics", "rich.console"): "rich, 22-32 ms of CPU at start-up (af66151): only a painted diagnostic needs it",
    ("kgraph.diagnostics", "rich.text"): "rich, as rich.console: only a painted diagnostic needs it",
    ("kgraph.lexer", "rich.text"): "rich, as in diagnostics.py: only highlighting for a terminal needs it",
    # The program cache (warm.py): a hit never loads the compiler (Lark, the ops, the passes).
    ("kgraph", "kgraph.program"): "kgraph.Program loads the compiler when first named: a cache hit never does",
    ("kgraph.warm", "kgraph.program"): "the compiler, imported on a program-cache miss only",
    ("kgraph.progress", "kgraph.training_view"): "it imports IPython (optional), there only in a Jupyter kernel",
}

def module_names() -> dict[str, Path]:
    names = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return names


def targets_of(node: ast.Import | ast.ImportFrom, package: str, known: dict) -> set[str]:
    """The modules one import statement names, relative ones made absolute."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
    module = ".".join(base + ([node.module] if node.module else []))
    subs = {f"{module}.{alias.name}" for alias in node.names}  # `from . import x` imports kgraph.x
    return {sub if sub in known else module for sub in subs}


def package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported(name: str, path: Path, known: dict) -> set[str]:
    package, targets = package_of(name, path), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            targets |= targets_of(node, package, known)
    # Importing a.b.c runs a/__init__.py and a/b/__init__.py first (but `name`'s own packages
    # are being imported already).
    parents = {".".join(t.split(".")[:i]) for t in targets for i in range(2, t.count(".") + 1)}
    return {t for t in targets | parents
            if t in known and t != name and not name.startswith(t + ".")}


def local_imports(name: str, source: str, package: str, known: dict) -> set[tuple[str, str]]:
    """(name, imported module) for every import inside a function of `source`."""
    found = set()
    for func in ast.walk(ast.parse(source)):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found |= {(name, t) for t in targets_of(node, package, known)}
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk closes (iterative, so a deep graph is no problem)."""
    state, found = {}, []
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = "open"
        while stack:
            successor = next(stack[-1], None)
            if successor is None:
                state[path.pop()] = "done"
                stack.pop()
            elif state.get(successor) == "open":
                found.append(path[path.index(successor):] + [successor])
            elif successor not in state:
                state[successor] = "open"
                path.append(successor)
                stack.append(iter(sorted(graph[successor])))
    return found


def test_the_walk_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_kgraph_has_no_import_cycle():
    known = module_names()
    graph = {name: imported(name, path, known) for name, path in known.items()}
    assert "kgraph.warm" in graph["kgraph.commands.run"]  # the walk sees kgraph's own imports,
    assert "kgraph.program" in graph["kgraph.warm"]  # function-local ones too
    found = cycles(graph)
    assert not found, "import cycle(s): " + "; ".join(" -> ".join(c) for c in found)


def builder_users(known: dict[str, Path]) -> set[str]:
    """The modules that name `Builder`: import it, or reach it as an attribute (`build.Builder`)."""
    users = set()
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and any(a.name == "Builder" for a in node.names):
                users.add(name)
            elif isinstance(node, ast.Attribute) and node.attr == "Builder":
                users.add(name)
    return users


def test_only_the_front_ends_make_a_builder():
    """Programs enter through the front end (frontend.py: `frontend()`, `IncrementalFrontend`);
    the backend's session builds its graph op by op and is the one other door. A command or a
    tool reads the `Module`, never a builder (issue 10)."""
    allowed = {name for name in module_names() if name == "kgraph.build" or name.startswith(
        ("kgraph.frontend", "kgraph.build."))} | {"kgraph.backend.session"}
    users = builder_users(module_names())
    assert "kgraph.frontend" in users  # the check sees the import it is meant to see
    assert users <= allowed, f"these modules use Builder outside the front end: {sorted(users - allowed)}"


def test_the_reader_finds_function_local_imports():
    source = "import os\nfrom . import b\ndef f():\n    import json\n    def g():\n        from .b import x\n"
    known = {"kgraph.a": None, "kgraph.b": None}
    assert local_imports("kgraph.a", source, "kgraph", known) == {("kgraph.a", "json"), ("kgraph.a", "kgraph.b")}


def test_every_function_local_import_has_a_reason():
    known = module_names()
    found = set()
    for name, path in known.items():
        found |= local_imports(name, path.read_text(), package_of(name, path), known)
    assert ("kgraph.keras_import.reader", "h5py") in found  # the reader sees them
    unjustified = sorted(found - ALLOWED.keys())
    assert not unjustified, ("function-local imports with no reason in ALLOWED: move each to the top "
                             f"of its module, or add it to ALLOWED with its reason: {unjustified}")
    gone = sorted(ALLOWED.keys() - found)
    assert not gone, f"ALLOWED entries whose import is gone: remove them: {gone}"
    assert all(reason.strip() and "\n" not in reason for reason in ALLOWED.values())
