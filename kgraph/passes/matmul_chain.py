"""Matrix-chain reordering: a chain of 3 or more products re-parenthesised by flop count.

XLA computes products in the order written, so `(A @ B) @ v` with 2000×2000
matrices costs two matrix-matrix products where `A @ (B @ v)` costs two
matrix-vector ones. A chain is a tree of `dot` (rank 1 or 2 operands) and `matmul`
(rank 2) nodes whose inner products are used once each (a product used twice is
computed once and kept as a factor). The classic dynamic program picks the order
with the fewest multiply-adds; the chain is rebuilt only when that is strictly
fewer than as written. It refuses, and counts why, when a dimension is unknown at
compile time (the best order depends on it), when dtypes differ (the order would
change where precision is lost), or when the chain is longer than MAX_FACTORS.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Node
from .rewrite import Rewriter, use_counts

MAX_FACTORS = 64  # the dynamic program is cubic in the chain length


def _matrix_dims(node: Node, left: bool):
    """(rows, cols) of an operand: a vector is a row on the left, a column on the right."""
    if node.type.ndim == 2:
        return node.shape
    return (1, node.shape[0]) if left else (node.shape[0], 1)


def is_product(node: Node) -> bool:
    if node.op == "dot":
        return all(s.type.ndim in (1, 2) for s in node.srcs)
    return node.op == "matmul" and all(s.type.ndim == 2 for s in node.srcs)


def _result_orientation(node: Node) -> str:
    """'row' or 'col' for a vector-valued product, '' for a matrix."""
    x, y = node.srcs
    if node.type.ndim != 1:
        return ""
    return "row" if x.type.ndim == 1 else "col"


@dataclass(frozen=True)
class Chains:
    """The reorderer's plan: the products inside a chain (used once, by another product)."""
    interior: frozenset[int]


class ChainReorderer(Rewriter):
    def prepare(self, order: list[Node]) -> Chains:
        uses = use_counts(order, self.old)
        interior: set[int] = set()
        for node in order:
            if not is_product(node):
                continue
            for side, s in enumerate(node.srcs):
                if (is_product(s) and uses[s.id] == 1 and s.dtype == node.dtype
                        and _fits(s, left=side == 0)):
                    interior.add(s.id)
        return Chains(frozenset(interior))

    def has_work(self, order: list[Node], plan: Chains) -> bool:
        return bool(plan.interior)

    def visit(self, old: Node, srcs: list[Node], plan: Chains) -> Node:
        node = self.copy(old, srcs)
        if not is_product(old) or old.id in plan.interior:
            return node
        factors, cost = _flatten(old, plan.interior)
        if len(factors) < 3:
            return node
        dims = _chain_dims(factors)
        if dims is None:
            self.fired["refused: a dimension is unknown"] += 1
            return node
        if any(f.dtype != old.dtype for f, _ in factors):
            self.fired["refused: mixed dtypes"] += 1
            return node
        if len(factors) > MAX_FACTORS:
            self.fired["refused: chain too long"] += 1
            return node
        best, split = best_order(dims)
        if best >= cost:
            return node
        new = self._build(split, [self.mapping[f.id] for f, _ in factors], 0, len(factors) - 1)
        if new.type != node.type:
            return node
        self.fired[f"reorder chain of {len(factors)}"] += 1
        return new

    def _build(self, split, nodes: list[Node], i: int, j: int) -> Node:
        if i == j:
            return nodes[i]
        k = split[i][j]
        return self.graph.make("dot", (self._build(split, nodes, i, k), self._build(split, nodes, k + 1, j)))


def _flatten(root: Node, interior: frozenset[int]) -> tuple[list, int]:
    """The chain's factors left to right, with (rows, cols) each, and its cost as written."""
    factors: list = []
    cost = 0
    stack = [(root, True)]
    while stack:
        node, left = stack.pop()
        if node is root or node.id in interior:
            x, y = node.srcs
            (r, k), (_, c) = _matrix_dims(x, True), _matrix_dims(y, False)
            cost += _product(r, k, c)
            stack.append((y, False))
            stack.append((x, True))
        else:
            factors.append((node, _matrix_dims(node, left)))
    return factors, cost


def _fits(node: Node, left: bool) -> bool:
    """Whether a product's result, used on this side, is the matrix its own operands make."""
    orientation = _result_orientation(node)
    return not orientation or orientation == ("row" if left else "col")


def _product(r, k, c) -> int:
    if all(isinstance(d, int) for d in (r, k, c)):
        return r * k * c
    return 1 << 62  # unknown: the chain is refused before this matters


def _chain_dims(factors) -> list[int] | None:
    dims = [factors[0][1][0]] + [f[1][1] for f in factors]
    return dims if all(isinstance(d, int) for d in dims) else None


def best_order(dims: list[int]) -> tuple[int, list[list[int]]]:
    """The classic O(n³) dynamic program: minimal multiply-adds and the split table."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            best = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if best is None or c < best:
                    best, split[i][j] = c, k
            cost[i][j] = best
    return cost[0][n - 1], split
