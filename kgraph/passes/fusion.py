"""Elementwise fusion: a region of elementwise ops becomes one `fused` node.

A region is an elementwise node together with the elementwise nodes that feed
only it (each used once, and not an output), transitively. The fused node's body
is a `Body` (ir/graph.py) holding the region's equations over its params; the
interpreter evaluates it as one jitted call (`Interpreter.call_body`), so the traced program has one call per region, and
regions with the same body are traced once however often they occur. XLA fuses
the arithmetic itself either way: what fusion buys is trace and compile time,
measured in benchmarks/RESULTS.md.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph, Node, Body, toposort
from ..ops import REGISTRY
from .rewrite import Rewriter, use_counts

MIN_REGION = 2  # a region of one op is that op


def fusible(node: Node) -> bool:
    op = REGISTRY[node.op]
    return op.elementwise and not op.unique and op.lower is not None and op.lower_node is None


@dataclass(frozen=True)
class Regions:
    """The fuser's plan: the nodes computed inside the fused node of their one user."""
    absorbed: frozenset[int]


class Fuser(Rewriter):
    def begin(self, old: Graph | None) -> None:
        super().begin(old)
        self.bodies: dict[Body, Body] = {}  # equal bodies shared within one run

    def prepare(self, order: list[Node]) -> Regions:
        uses = use_counts(order, self.old)
        roots = {n.id for n in self.old.roots()}
        absorbed: set[int] = set()
        for node in order:
            if not fusible(node):
                continue
            for s in node.srcs:
                if fusible(s) and uses[s.id] == 1 and s.id not in roots:
                    absorbed.add(s.id)
        return Regions(frozenset(absorbed))

    def has_work(self, order: list[Node], plan: Regions) -> bool:
        return bool(plan.absorbed)

    def visit(self, old: Node, srcs: list, plan: Regions) -> Node | None:
        absorbed = plan.absorbed
        if old.id in absorbed:
            return None  # computed inside the fused node of its one user
        if not any(s.id in absorbed for s in old.srcs):
            return self.copy(old, srcs)
        region = _region(old, absorbed)
        if len(region) < MIN_REGION:
            return self.copy(old, srcs)
        inputs: list[Node] = []
        slot: dict[int, int] = {}  # new input node id → input position
        for node in region:
            for s in node.srcs:
                if s.id not in absorbed:
                    new = self.mapping[s.id]
                    if new.id not in slot:
                        slot[new.id] = len(inputs)
                        inputs.append(new)
        body = Body.build([n.type for n in inputs],
                          lambda g, params: [self._copy_region(g, params, region, slot, absorbed)])
        body = self.bodies.setdefault(body, body)
        self.fired[f"fuse {len(region)} ops"] += 1
        return self.graph.make("fused", inputs, {"body": body}, old.type, old.span)

    def _copy_region(self, g: Graph, params: list[Node], region: list[Node], slot: dict[int, int],
                     absorbed: frozenset[int]) -> Node:
        """The region's nodes made again in the body's graph (by the main type rules), over its
        params; returns the result (the root)."""
        inner: dict[int, Node] = {}
        for node in region:
            srcs = [inner[s.id] if s.id in absorbed else params[slot[self.mapping[s.id].id]]
                    for s in node.srcs]
            inner[node.id] = g.make(node.op, srcs, dict(node.attrs), span=node.span)
        return inner[region[-1].id]




def _region(root: Node, absorbed: frozenset[int]) -> list[Node]:
    """The region's nodes, sources before users."""
    inside = lambda n: n is root or n.id in absorbed  # noqa: E731
    return [n for n in toposort([root], expand=inside) if inside(n)]
