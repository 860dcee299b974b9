"""Elementwise fusion: a region of elementwise ops becomes one `fused` node.

A region is an elementwise node together with the elementwise nodes that feed
only it (each used once, and not an output), transitively. The fused node's body
lists the region's equations; it lowers to one composed function wrapped in
`jax.jit` (ops/internal.py), so the traced program has one call per region, and
regions with the same body are traced once however often they occur. XLA fuses
the arithmetic itself either way: what fusion buys is trace and compile time,
measured in benchmarks/RESULTS.md.
"""
from __future__ import annotations

from ..ir import Graph, Node, toposort
from ..ops import REGISTRY
from ..ops.internal import FusedBody
from .rewrite import Options, Rewriter, use_counts

MIN_REGION = 2  # a region of one op is that op


def fusible(node: Node) -> bool:
    op = REGISTRY[node.op]
    return op.elementwise and not op.unique and op.lower is not None and op.lower_node is None


class _Fuser(Rewriter):
    def prepare(self, order: list[Node]) -> None:
        uses = use_counts(order, self.old)
        roots = {n.id for n in self.old.roots()}
        self.absorbed: set[int] = set()
        for node in order:
            if not fusible(node):
                continue
            for s in node.srcs:
                if fusible(s) and uses[s.id] == 1 and s.id not in roots:
                    self.absorbed.add(s.id)
        self.bodies: dict[FusedBody, FusedBody] = {}

    def has_work(self, order: list[Node]) -> bool:
        return bool(self.absorbed)

    def visit(self, old: Node, srcs: list) -> Node | None:
        if old.id in self.absorbed:
            return None  # computed inside the fused node of its one user
        if not any(s.id in self.absorbed for s in old.srcs):
            return self.copy(old, srcs)
        region = self._region(old)
        if len(region) < MIN_REGION:
            return self.copy(old, srcs)
        inputs: list[Node] = []
        slot: dict[int, int] = {}  # new input node id → input position
        for node in region:
            for s in node.srcs:
                if s.id not in self.absorbed:
                    new = self.mapping[s.id]
                    if new.id not in slot:
                        slot[new.id] = len(inputs)
                        inputs.append(new)
        position = {node.id: i for i, node in enumerate(region)}
        eqns = []
        for node in region:
            refs = tuple(len(inputs) + position[s.id] if s.id in self.absorbed else slot[self.mapping[s.id].id]
                         for s in node.srcs)
            eqns.append((node.op, refs, node.attrs))
        body = FusedBody(len(inputs), tuple(eqns))
        body = self.bodies.setdefault(body, body)
        self.fired[f"fuse {len(region)} ops"] += 1
        return self.graph.make("fused", inputs, {"body": body}, old.type, old.span)

    def _region(self, root: Node) -> list[Node]:
        """The region's nodes, sources before users."""
        inside = lambda n: n is root or n.id in self.absorbed  # noqa: E731
        return [n for n in toposort([root], expand=inside) if inside(n)]


def fuse_elementwise(graph: Graph, options: Options) -> Rewriter:
    rw = _Fuser(options)
    rw.run(graph)
    return rw
