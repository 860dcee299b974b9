"""The IR: one node type, interned per graph, printed in let-form.

A `Node` is an op name, a `TensorType`, a tuple of source nodes and sorted static
attributes. The optimizer's graphs intern nodes (hash-consing), so structurally
equal expressions are one node; the builder's graph does not, so the unoptimised
IR is the program as written and merging is the `cse` pass's visible work.
Nodes are immutable; passes build new nodes through `Graph.make`.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from .errors import Span
from .types import TensorType


class ConstValue:
    """A constant's array, hashed by content so equal constants intern to one node."""

    __slots__ = ("array", "_key")

    def __init__(self, array: np.ndarray):
        self.array = np.asarray(array)
        self.array.setflags(write=False)
        self._key = (self.array.dtype.str, self.array.shape, self.array.tobytes())

    def __eq__(self, other):
        return isinstance(other, ConstValue) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        a = self.array
        if a.size <= 8:
            text = np.array2string(a, separator=", ", threshold=8).replace("\n", "")
            return " ".join(text.split())
        return f"<{a.size} values>"


def _attr_key(value: Any) -> Any:
    """A hashable key that tells apart values Python considers equal (0.0 and -0.0, 1 and True)."""
    if isinstance(value, float):
        return ("f", repr(value))
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (tuple, list)):
        return ("t", tuple(_attr_key(v) for v in value))
    return value


class Node:
    __slots__ = ("op", "type", "srcs", "attrs", "id", "span", "graph", "_key")

    def __init__(self, graph, op, type_, srcs, attrs, id_, span, key):
        self.graph = graph
        self.op: str = op
        self.type: TensorType = type_
        self.srcs: tuple[Node, ...] = srcs
        self.attrs: tuple[tuple[str, Any], ...] = attrs
        self.id: int = id_
        self.span: Span | None = span
        self._key = key

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def shape(self) -> tuple:
        return self.type.shape

    @property
    def kw(self) -> dict[str, Any]:
        return dict(self.attrs)

    def attr(self, name: str, default: Any = None) -> Any:
        for k, v in self.attrs:
            if k == name:
                return v
        return default

    def __repr__(self) -> str:
        return f"<Node {self.id} {self.op} {self.type}>"


_REGISTRY: dict | None = None


def _registry() -> dict:
    """The op registry, imported on first use (the ops import this module)."""
    global _REGISTRY
    if _REGISTRY is None:
        from .ops import REGISTRY

        _REGISTRY = REGISTRY
    return _REGISTRY


class Graph:
    """A per-program node store: interning table, leaves, outputs and updates.

    With `intern=False` every `make` is a new node, duplicates included.
    """

    def __init__(self, intern: bool = True):
        self.intern = intern
        self._interned: dict[Any, Node] = {}
        self._next_id = 0
        self.made = 0  # nodes made, live or dead
        self.placeholders: dict[str, Node] = {}
        self.variables: dict[str, Node] = {}
        self.outputs: list[tuple[str, Node]] = []
        self.updates: list[tuple[str, Node]] = []
        self.shardings: dict[str, Any] = {}  # leaf name → its `shard` statement (sharding.ShardSpec)

    def make(self, op: str, srcs: Iterable[Node], attrs: dict[str, Any] | None = None,
             type_: TensorType | None = None, span: Span | None = None) -> Node:
        """The node for (op, srcs, attrs): the interned one if the graph interns and has it.

        The type is inferred by the op's shape rule unless given; ops raise
        `OpError` for operands that cannot agree.
        """
        srcs = tuple(srcs)
        items = tuple(sorted(attrs.items())) if attrs else ()
        if type_ is None:
            type_ = _registry()[op].infer([s.type for s in srcs], dict(items))
        key = (op, tuple(s.id for s in srcs), tuple((k, _attr_key(v)) for k, v in items), type_)
        node = self._interned.get(key) if self.intern else None
        if node is None:
            node = Node(self, op, type_, srcs, items, self._next_id, span, key)
            self._next_id += 1
            self.made += 1
            if self.intern:
                self._interned[key] = node
        return node

    def remake(self, node: Node, srcs: Iterable[Node]) -> Node:
        """The interned node with `node`'s op, attributes and type over new sources.

        The optimizer's passes copy every node into a new graph; reusing the old
        node's attribute key skips re-sorting and re-keying its attributes.
        """
        srcs = tuple(srcs)
        old = node._key
        key = (old[0], tuple(s.id for s in srcs), old[2], old[3])
        new = self._interned.get(key) if self.intern else None
        if new is None:
            new = Node(self, node.op, node.type, srcs, node.attrs, self._next_id, node.span, key)
            self._next_id += 1
            self.made += 1
            if self.intern:
                self._interned[key] = new
        return new

    def fresh_id(self) -> int:
        """A number no node has: for ops that must never be merged (unseeded random, print)."""
        self._next_id += 1
        return self._next_id - 1

    def roots(self) -> list[Node]:
        return [n for _, n in self.outputs] + [n for _, n in self.updates]

    def live_nodes(self) -> list[Node]:
        return toposort(self.roots())

    def all_nodes(self) -> list[Node]:
        """The live nodes and, recursively, those of the loop bodies among them."""
        out, stack = [], [self]
        while stack:
            for node in stack.pop().live_nodes():
                out.append(node)
                stack.extend(v.graph for _, v in node.attrs if isinstance(v, Body))
        return out

    def __len__(self) -> int:
        return len(self.live_nodes())


class Body:
    """A loop's step as a sub-graph, held in the loop node's `body` attribute.

    Its leaves are `param` nodes (the values the loop passes in on each step, in
    order) and its results are its graph's outputs. Bodies compare by identity:
    two loop nodes merge only when they share one body.
    """

    __slots__ = ("graph", "params")

    def __init__(self, graph: Graph, params: list[Node]):
        self.graph = graph
        self.params = list(params)

    @property
    def results(self) -> list[Node]:
        return [n for _, n in self.graph.outputs]

    def __repr__(self) -> str:
        return f"<body of {len(self.params)} params, {len(self.results)} results>"


def toposort(roots: Iterable[Node], expand: Callable[[Node], bool] | None = None) -> list[Node]:
    """Every node the roots depend on, sources before users (iterative: no recursion limit).

    With `expand`, the walk visits a node's sources only where it returns True: a node
    whose value is already known, or a fused region's boundary, is a leaf of the walk.
    """
    order: list[Node] = []
    seen: set[int] = set()
    nothing = iter(())
    for root in roots:
        if root.id in seen:
            continue
        seen.add(root.id)
        stack = [(root, iter(root.srcs) if expand is None or expand(root) else nothing)]
        while stack:
            node, srcs = stack[-1]
            for src in srcs:  # resumes where this node's walk stopped
                if src.id not in seen:
                    seen.add(src.id)
                    stack.append((src, iter(src.srcs) if expand is None or expand(src) else nothing))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def depends_on(node: Node, target: Node) -> bool:
    """Whether `node` is `target` or is computed from it."""
    return any(n is target for n in toposort([node]))


# ---- printer ------------------------------------------------------------------

def _var_name(i: int) -> str:
    """a, b, ..., z, ba, bb, ... as jaxpr names them."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        s = letters[i % 26] + s
        i //= 26
        if i == 0:
            return s


def _format_attr(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, tuple):
        inner = ", ".join(_format_attr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        return repr(value)
    return repr(value)


def _equations(order: list[Node], names: dict, indent: str) -> list[str]:
    """One line per equation; a loop's body follows its equation, indented, as jaxpr prints a scan."""
    lines = []
    for node in order:
        name = _var_name(len(names))
        names[node] = name
        params = [(k, v) for k, v in node.attrs if k != "uid" and not isinstance(v, Body)]
        attrs = ""
        if params:
            attrs = "[" + " ".join(f"{k}={_format_attr(v)}" for k, v in params) + "]"
        args = " ".join(names[s] for s in node.srcs)
        lines.append(f"{indent}{name}:{node.type.short()} = {node.op}{attrs}{' ' if args else ''}{args}")
        for _, v in node.attrs:
            if isinstance(v, Body):
                lines += _format_body(v, names, indent + "  ")
    return lines


def _format_body(body: "Body", names: dict, indent: str) -> list[str]:
    binders = []
    for p in body.params:
        names[p] = _var_name(len(names))
        binders.append(f"{names[p]}:{p.type.short()}")
    inner = [n for n in toposort(body.results) if n.op != "param"]
    lines = [f"{indent}{{ lambda ; {' '.join(binders)} . let"]
    lines += _equations(inner, names, indent + "    ")
    lines.append(f"{indent}  in ({', '.join(names[r] for r in body.results)}) }}")
    return lines


def format_ir(graph: Graph, roots: list[tuple[str, Node]] | None = None,
              updates: list[tuple[str, Node]] | None = None,
              layouts: dict[str, str] | None = None) -> str:
    """The graph as let-form text, one equation a line, names chosen by the printer.

    `layouts` (leaf name → '[data, None]') prints each leaf's sharding after its name."""
    layouts = layouts or {}
    outputs = graph.outputs if roots is None else roots
    updates = graph.updates if updates is None else updates
    order = toposort([n for _, n in outputs] + [n for _, n in updates])
    # Leaves first (placeholders, then variables, in declaration order), as jaxpr's binders.
    rank = {"placeholder": 0, "variable": 1}
    leaves = sorted((n for n in order if n.op in rank), key=lambda n: (rank[n.op], n.id))
    names: dict[Node, str] = {}
    placeholders, variables = [], []
    for node in leaves:
        names[node] = _var_name(len(names))
        name = node.attr("name")
        typed = f"{names[node]}:{node.type.short()}={name}{layouts.get(name, '')}"
        (placeholders if node.op == "placeholder" else variables).append(typed)
    eqns = _equations([n for n in order if n.op not in rank], names, "    ")
    lines = ["{ placeholders " + " ".join(placeholders) if placeholders else "{ placeholders -"]
    lines.append("  variables " + (" ".join(variables) if variables else "-"))
    lines.append("  let")
    lines += eqns
    outs = ", ".join(f"{n}={names[node]}" for n, node in outputs)
    ups = ", ".join(f"{n}<-{names[node]}" for n, node in updates)
    lines.append("  in (" + outs + (("; " + ups) if ups else "") + ") }")
    return "\n".join(lines)


# ---- verifier -----------------------------------------------------------------

class VerifyError(AssertionError):
    """An IR invariant broke: always a compiler bug, never a user mistake."""


def verify(graph: Graph) -> None:
    """Check the invariants every pass must keep.

    Sources come before users, every node belongs to this graph, every node's type
    is what its op's shape rule says, and outputs/updates name existing nodes.
    """
    from .ops import REGISTRY

    for node in graph.live_nodes():
        for _, value in node.attrs:
            if isinstance(value, Body):
                _verify_body(value)
        if node.graph is not graph:
            raise VerifyError(f"{node} belongs to another graph")
        if node.op not in REGISTRY:
            raise VerifyError(f"{node} has an unknown op")
        for s in node.srcs:
            if s.id >= node.id:
                raise VerifyError(f"{node} uses {s}, which is not older than it")
        if node.op in ("placeholder", "variable", "const", "param"):
            continue
        expected = REGISTRY[node.op].infer([s.type for s in node.srcs], node.kw)
        if expected != node.type:
            raise VerifyError(f"{node}: the shape rule gives {expected}, the node says {node.type}")
    for name, var in graph.updates:
        if graph.variables.get(name) is None:
            raise VerifyError(f"update of unknown variable {name}")


def _verify_body(body: Body) -> None:
    """A body's params are its graph's, numbered in order; its nodes verify as a graph's do."""
    for i, p in enumerate(body.params):
        if p.graph is not body.graph or p.op != "param" or p.attr("index") != i:
            raise VerifyError(f"{body}: parameter {i} is {p}")
    params = {p.id for p in body.params}
    for node in toposort(body.results):
        if node.op == "param" and node.id not in params:
            raise VerifyError(f"{body} uses {node}, which is not one of its parameters")
    verify(body.graph)
