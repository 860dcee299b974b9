"""Dead code elimination, common-subexpression elimination and constant folding.

The rewrite engine already copies only live nodes into an interning graph; these
passes are that copy with nothing else (DCE), with `b + a` merged into an earlier
`a + b` (CSE), and with every node whose inputs are constants evaluated at compile
time (folding).
"""
from __future__ import annotations

from ..ir import Graph, Node
from .patterns import COMMUTATIVE
from .rewrite import Options, Rewriter, foldable


class _Canonicaliser(Rewriter):
    """Interning merges equal nodes; this also merges `b + a` into an earlier `a + b`."""

    def __init__(self, options: Options):
        super().__init__(options)
        self.seen: set[int] = set()
        self.commuted: dict[tuple, Node] = {}

    def visit(self, old: Node, srcs: list[Node]) -> Node:
        key = None
        if old.op in COMMUTATIVE and len(srcs) == 2:
            a, b = srcs
            key = (old.op, old.attrs, old.type) + ((a.id, b.id) if a.id <= b.id else (b.id, a.id))
            earlier = self.commuted.get(key)
            if earlier is not None:
                self.fired["merge " + old.op] += 1
                return earlier
        node = self.copy(old, srcs)
        if node.id in self.seen:
            self.fired["merge " + old.op] += 1
        self.seen.add(node.id)
        if key is not None:
            self.commuted[key] = node
        return node


class _Folder(Rewriter):
    def has_work(self, order: list[Node]) -> bool:
        limit = self.options.fold_limit
        return limit is not None and any(
            all(s.op == "const" for s in n.srcs) and foldable(n, limit) for n in order)

    def visit(self, old: Node, srcs: list[Node]) -> Node:
        return self.fold(self.copy(old, srcs))


def eliminate_dead_code(graph: Graph, options: Options) -> Rewriter:
    rw = Rewriter(options)
    rw.run(graph)
    return rw


def eliminate_common_subexpressions(graph: Graph, options: Options) -> Rewriter:
    rw = _Canonicaliser(options)
    rw.run(graph)
    return rw


def fold_constants(graph: Graph, options: Options) -> Rewriter:
    rw = _Folder(options)
    rw.run(graph)
    return rw
