"""Dead code elimination, common-subexpression elimination and constant folding.

The rewrite engine already copies only live nodes into a new graph; these passes
are that copy with nothing else (DCE, into a graph that interns only where the old
one did: the builder's duplicates are left to CSE), with equal nodes merged by
interning and `b + a` merged into an earlier `a + b` (CSE), and with every node
whose inputs are constants evaluated at compile time (folding).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ..ir import Graph, Node
from ..ops import REGISTRY
from ..consteval import evaluate_constants
from .rewrite import Rewriter, foldable


@dataclass(frozen=True)
class Folded:
    """The folder's plan: the value of each constant subgraph root (by old node id)."""
    values: Mapping[int, np.ndarray]


class DeadCodeEliminator(Rewriter):
    """The engine's copy of the live graph, and nothing else."""

    def new_graph(self, old: Graph | None) -> Graph:
        # only removes: merging duplicates is cse's, and counted there
        return Graph(intern=old.intern if old is not None else True)


class Canonicaliser(Rewriter):
    """Interning merges equal nodes; this also merges `b + a` into an earlier `a + b`.

    The walk's tables (nodes seen, commuted keys) are per-run state, reset by `begin`.
    """

    def begin(self, old: Graph | None) -> None:
        super().begin(old)
        self.seen: set[int] = set()
        self.commuted: dict[tuple, Node] = {}

    def visit(self, old: Node, srcs: list[Node], plan: None) -> Node:
        key = None
        if REGISTRY[old.op].commutative and len(srcs) == 2:
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


class Folder(Rewriter):
    """Evaluates every constant subgraph at once, in one jitted call.

    A node is constant when it is a `const` or a foldable op (not unseeded random,
    not print, at most `fold_limit` elements) of constants. The constants that a
    non-constant node or an output uses are computed together by `jax.jit` of the
    interpreter, as -O0's compiled program computes them (so XLA's own contractions,
    fused multiply-adds say, are the same), and replaced by their values.
    """

    def prepare(self, order: list[Node]) -> Folded:
        limit = self.options.fold_limit
        if limit is None:
            return Folded({})
        constant: set[int] = set()
        for n in order:
            if n.op == "const" or (foldable(n, limit) and all(s.id in constant for s in n.srcs)):
                constant.add(n.id)
        needed = {n.id for n in self.old.roots()}
        for n in order:
            if n.id not in constant:
                needed.update(s.id for s in n.srcs)
        roots = [n for n in order if n.id in constant and n.id in needed and n.op != "const"]
        if not roots:
            return Folded({})
        for n in order:
            if n.id in constant and n.op != "const":
                self.fired["fold " + n.op] += 1
        return Folded(MappingProxyType(dict(zip((n.id for n in roots), evaluate_constants(roots)))))

    def has_work(self, order: list[Node], plan: Folded) -> bool:
        return bool(plan.values)

    def visit(self, old: Node, srcs: list[Node], plan: Folded) -> Node:
        value = plan.values.get(old.id)
        if value is not None:
            return self.constant(value, old.type)
        return self.copy(old, srcs)
