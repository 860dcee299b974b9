"""kgraph's import graph has no cycle (issue 10): a function-local import must not hide one.

The graph is read from the AST of every module under kgraph/, module-level and function-local
imports alike, so moving an import into a function does not take its edge away. The test fails
on any cycle, and prints it."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "kgraph"

def module_names() -> dict[str, Path]:
    names = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return names


def imported(name: str, path: Path, known: dict) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:  # `from . import x` imports the module kgraph.x
                sub = f"{module}.{alias.name}"
                targets.add(sub if sub in known else module)
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
    return {t for t in targets if t in known and t != name}


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
