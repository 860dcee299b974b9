"""The IR verifier: the invariants every stage and pass keeps, checked (tests check after each pass)."""
from __future__ import annotations

from .graph import _REGISTRY, Graph, Node, Body, bodies_of, toposort

_TYPED_WHERE_MADE = frozenset({"const", "param"})  # and the leaves


class VerifyError(AssertionError):
    """An IR invariant broke: always a compiler bug, never a user mistake."""


def verify(graph: Graph) -> None:
    """Check the invariants every pass must keep.

    Sources come before users, every node belongs to this graph, every node's type
    is what its op's shape rule says, outputs/updates name existing nodes, and every
    region in an attribute passes `verify_body`.
    """
    _check_nodes(graph, graph.live_nodes())
    for name, var in graph.updates:
        if graph.variables.get(name) is None:
            raise VerifyError(f"update of unknown variable {name}")


def verify_body(region: Body) -> None:
    """A region is closed and well typed: its params are its graph's `param` nodes with
    indices 0, 1, ... in order; its nodes belong to its own graph (so use nothing of the
    enclosing one) and keep the same invariants as a graph's; it has no placeholders or
    variables of its own."""
    for i, p in enumerate(region.params):
        if p.op != "param" or p.attr("index") != i or p.graph is not region.graph:
            raise VerifyError(f"region parameter {i} is {p}, not its graph's param {i}")
    nodes = toposort(region.results)
    for node in nodes:
        if node.is_leaf:
            raise VerifyError(f"{node} is inside a region: a region is given its values as params")
        if node.op == "param" and node not in region.params:
            raise VerifyError(f"{node} is not one of the region's params")
    _check_nodes(region.graph, nodes)


def _check_nodes(graph: Graph, nodes: list[Node]) -> None:
    for node in nodes:
        if node.graph is not graph:
            raise VerifyError(f"{node} belongs to another graph")
        if node.op not in _REGISTRY:
            raise VerifyError(f"{node} has an unknown op")
        for s in node.srcs:
            if s.id >= node.id:
                raise VerifyError(f"{node} uses {s}, which is not older than it")
        for region in bodies_of(node):
            verify_body(region)
        if node.is_leaf or node.op in _TYPED_WHERE_MADE:
            continue
        expected = _REGISTRY[node.op].infer([s.type for s in node.srcs], node.kw)
        if expected != node.type:
            raise VerifyError(f"{node}: the shape rule gives {expected}, the node says {node.type}")
