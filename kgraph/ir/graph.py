"""The IR's data: nodes, graphs (interning, leaves, outputs, updates) and regions (see __init__)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ..errors import Span
from ..types import TensorType

LEAF_OPS: set[str] = set()  # the ops whose `leaf` is set (placeholder, variable): Node.is_leaf


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
    def is_leaf(self) -> bool:
        """A placeholder or a variable: a value the program is given, not one it computes."""
        return self.op in LEAF_OPS

    @property
    def attrs_key(self) -> tuple:
        """The attributes as interning compares them (0.0 and -0.0, 1 and True told apart)."""
        return self._key[2]

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


_REGISTRY: dict = {}


def use_registry(registry: dict) -> None:
    """Give `Graph.make` the op registry whose shape rules it runs (kgraph.ops does this
    once, as it is imported: the ops import the IR, so the IR cannot import them)."""
    _REGISTRY.clear()
    _REGISTRY.update(registry)
    LEAF_OPS.clear()
    LEAF_OPS.update(name for name, op in registry.items() if op.leaf)


@dataclass(frozen=True)
class Call:
    """One inlined `def` call, as the builder made it: what the scan-blocks pass reads.

    `definition` is the function's definition (compared by identity), `args` its
    parameters bound to tensors (name → node), `result` the node it returned (None for
    a tuple or a Python value), and the call made exactly the nodes of its graph whose
    ids lie in [first_id, end_id) (the builder's graph does not intern, so ids grow).
    `depth` counts the calls it runs inside (0 at the top level).
    """

    definition: Any
    args: tuple[tuple[str, Node], ...]
    result: Node | None
    first_id: int
    end_id: int
    depth: int


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
        self.calls: list[Call] = []  # the `def` calls the builder inlined here (the scan-blocks pass)

    def make(self, op: str, srcs: Iterable[Node], attrs: dict[str, Any] | None = None,
             type_: TensorType | None = None, span: Span | None = None) -> Node:
        """The node for (op, srcs, attrs): the interned one if the graph interns and has it.

        The type is inferred by the op's shape rule unless given; ops raise
        `OpError` for operands that cannot agree.
        """
        srcs = tuple(srcs)
        items = tuple(sorted(attrs.items())) if attrs else ()
        if type_ is None:
            type_ = _REGISTRY[op].infer([s.type for s in srcs], dict(items))
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

    @property
    def next_id(self) -> int:
        """The id the next new node will get (ids only grow: a call's nodes are a range)."""
        return self._next_id

    def fresh_id(self) -> int:
        """A number no node has: for ops that must never be merged (unseeded random, print)."""
        self._next_id += 1
        return self._next_id - 1

    def roots(self) -> list[Node]:
        return [n for _, n in self.outputs] + [n for _, n in self.updates]

    def live_nodes(self) -> list[Node]:
        return toposort(self.roots())

    def all_nodes(self) -> list[Node]:
        """The live nodes and, recursively, those of the bodies among them."""
        out, stack = [], [self]
        while stack:
            for node in stack.pop().live_nodes():
                out.append(node)
                stack.extend(b.graph for b in bodies_of(node))
        return out

    def __len__(self) -> int:
        return len(self.live_nodes())


def toposort(roots: Iterable[Node], expand: Callable[[Node], bool] | None = None) -> list[Node]:
    """Every node the roots depend on, sources before users (iterative: no recursion limit).

    With `expand`, the walk visits a node's sources only where it returns True: a node
    whose value is already known, or a fused region's boundary, is a leaf of the walk.
    Nodes are told apart by identity, not id: ids are per graph, and the verifier walks
    regions that (wrongly) use another graph's nodes.
    """
    order: list[Node] = []
    seen: set[Node] = set()
    nothing = iter(())
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.srcs) if expand is None or expand(root) else nothing)]
        while stack:
            node, srcs = stack[-1]
            for src in srcs:  # resumes where this node's walk stopped
                if src not in seen:
                    seen.add(src)
                    stack.append((src, iter(src.srcs) if expand is None or expand(src) else nothing))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def depends_on(node: Node, target: Node) -> bool:
    """Whether `node` is `target` or is computed from it."""
    return any(n is target for n in toposort([node]))


class Body:
    """A sub-graph with its own parameters, held in a node's attribute.

    A fused node's `body` is one, and a loop's (`scan`) is one. `graph` is the body's
    own `Graph`; `params` are its `param` nodes, one per value the body is given (attr
    `index`), in order; its results are `graph.outputs`. A body is closed: its nodes use
    only its params and its own nodes, never the enclosing graph's (what it needs from
    outside is passed in: a fused node's sources, a loop's captured values). A body is
    not changed once made (passes make new ones). Bodies compare and hash by structure,
    so two nodes with equal bodies intern to one, and `cache` holds what is built once
    per distinct body (the lowering's jitted function).
    """

    __slots__ = ("graph", "params", "_key", "_hash", "cache")

    def __init__(self, graph: Graph, params):
        self.graph = graph
        self.params: list[Node] = list(params)
        self.cache: dict[str, Any] = {}
        position = {p: i for i, p in enumerate(self.params)}
        eqns = []
        for node in self.eqns:
            position[node] = len(position)
            eqns.append((node.op, tuple(position.get(s, -1) for s in node.srcs), node._key[2], node.type))
        self._key = (tuple(p.type for p in self.params), tuple(eqns),
                     tuple(position.get(r, -1) for r in self.results))
        self._hash = hash(self._key)

    @classmethod
    def build(cls, param_types, body: Callable[[Graph, list[Node]], list[Node]]) -> "Body":
        """A body over params of `param_types`, whose results `body(graph, params)` makes."""
        graph = Graph()
        params = [graph.make("param", (), {"index": i}, t) for i, t in enumerate(param_types)]
        graph.outputs = [(f"r{i}", r) for i, r in enumerate(body(graph, params))]
        return cls(graph, params)

    @property
    def results(self) -> list[Node]:
        return [n for _, n in self.graph.outputs]

    @property
    def arity(self) -> int:
        return len(self.params)

    @property
    def eqns(self) -> list[Node]:
        """The body's computed nodes, sources before users (params excluded)."""
        return [n for n in toposort(self.results) if n.op != "param"]

    @property
    def result_types(self) -> tuple:
        return tuple(r.type for r in self.results)

    def __eq__(self, other):
        return isinstance(other, Body) and self._key == other._key

    def __hash__(self):
        return self._hash

    def __len__(self):
        return len(self.eqns)

    def __repr__(self):
        return f"<body of {len(self.params)} params, {len(self.results)} results>"


def bodies_of(node: Node) -> list[Body]:
    """The bodies among a node's attributes (a fused node's, a loop's)."""
    return [v for _, v in node.attrs if isinstance(v, Body)]
