"""Dead code elimination, common-subexpression elimination and constant folding.

The rewrite engine already copies only live nodes into an interning graph; these
passes are that copy with nothing else (DCE), with commutative operands put in
one order first so that `a + b` and `b + a` intern to one node (CSE), and with
every node whose inputs are constants evaluated at compile time (folding).
"""
from __future__ import annotations

from ..ir import Graph, Node
from .patterns import COMMUTATIVE
from .rewrite import Options, Rewriter


class _Canonicaliser(Rewriter):
    def __init__(self, options: Options):
        super().__init__(options)
        self.seen: set[int] = set()

    def visit(self, old: Node, srcs: list[Node]) -> Node:
        if old.op in COMMUTATIVE and len(srcs) == 2 and _order_key(srcs[1]) < _order_key(srcs[0]):
            srcs = [srcs[1], srcs[0]]
            self.fired["commute " + old.op] += 1
        node = self.copy(old, srcs)
        if node.id in self.seen:
            self.fired["merge " + old.op] += 1
        self.seen.add(node.id)
        return node


def _order_key(node: Node) -> tuple:
    # Constants last (x * 2, never 2 * x), then oldest first: a deterministic order.
    return (node.op == "const", node.id)


class _Folder(Rewriter):
    def visit(self, old: Node, srcs: list[Node]) -> Node:
        return self.fold(self.copy(old, srcs))


def eliminate_dead_code(graph: Graph, options: Options) -> tuple[Graph, dict]:
    rw = Rewriter(options)
    return rw.run(graph), rw.fired


def eliminate_common_subexpressions(graph: Graph, options: Options) -> tuple[Graph, dict]:
    rw = _Canonicaliser(options)
    return rw.run(graph), rw.fired


def fold_constants(graph: Graph, options: Options) -> tuple[Graph, dict]:
    rw = _Folder(options)
    return rw.run(graph), rw.fired
