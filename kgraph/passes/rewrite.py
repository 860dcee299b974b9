"""The rewrite engine every pass runs on: copy the live graph into a fresh one, bottom-up.

A pass never edits a graph: it walks the old graph's live nodes in topological
order (iteratively) and makes each one again in a new `Graph`, whose interning
table merges equal nodes as they appear. So every pass also removes dead code and
re-runs common-subexpression elimination on whatever its rewrites produced.

Gradient targets are protected here, for every pass: a `grad` node differentiates
its loss with respect to target *nodes*, so a target that a rewrite merged with an
equal node elsewhere, or that a rule looked through (`log(softmax(h))` with `h`
the target), would change the gradient. Each target that is not a placeholder or
variable is wrapped in a `barrier` (an identity with a unique id) the first time a
graph is rewritten.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..consteval import evaluate_constants
from .. import bugs
from ..ir import ConstValue, Graph, Node, toposort
from ..ops import REGISTRY, OpError
from ..types import TensorType, dtype_name, np_dtype
from .patterns import RuleSet

MAX_REWRITES_PER_NODE = 64  # a rule cycle is a bug; this stops it rather than hanging
# A rule that raises, or a node that reaches the cap, is a bug in the rules: the pass
# skips it and reports it (`kgraph ir`'s pass table); with STRICT (the tests) it raises.
STRICT = False


class RuleFailure(RuntimeError):
    """A rewrite rule raised, or the rules went round MAX_REWRITES_PER_NODE times at a node."""


@dataclass(frozen=True)
class Options:
    level: int = 2
    fast_math: bool = False
    fold_limit: int | None = 1 << 16  # largest constant (in elements) folding may create; None: no folding
    scan_min_blocks: int = 3  # the shortest chain of calls the scan-blocks pass makes a loop of


class Rewriter:
    """Copies a graph, offering each new node to `rewrite_node`; subclasses or rule sets decide."""

    # Whether a pass with no work still copies the graph to do the engine's clean-up (gradient
    # targets behind barriers, dead leaves dropped). scan-blocks, before dce, leaves that to
    # dce and returns its input untouched; where it copies, its copy cleans up as any does.
    cleans_up = True

    def __init__(self, options: Options, rules: RuleSet | None = None):
        self.options = options
        self.rules = rules
        self.begin(None)

    def begin(self, old: Graph | None) -> None:
        """Fresh per-run state: `run` calls this first, so one object can rewrite many graphs."""
        self.old = old
        self.graph = self.new_graph(old)
        self.fired: Counter = Counter()
        self._normal: set[int] = set()  # new nodes already offered to the rules
        self.mapping: dict[int, Node] = {}  # old node id → its new node
        self.problems: list[str] = []  # rules that raised or cycled (see STRICT)
        self._depth = 0  # simplify calls in progress (a replacement is simplified as it is built)
        self._span = None  # the place of the node being rewritten: what its replacements get
        self.live_in = 0

    def new_graph(self, old: Graph | None) -> Graph:
        """The graph the rewrite builds (interning by default: equal nodes merge as they appear)."""
        return Graph()

    # ---- the walk ----------------------------------------------------------------
    def run(self, old: Graph) -> Graph:
        """The rewritten graph (also kept as `self.graph`; `live_in` counts the old live nodes)."""
        self.begin(old)
        order = toposort(old.roots())
        # Leaves first, in declaration order, so the printed IR keeps the program's order.
        order = sorted((n for n in order if n.is_leaf), key=lambda n: n.id) + [
            n for n in order if not n.is_leaf]
        self.live_in = len(order)
        plan = self.prepare(order)
        targets = gradient_targets(order)
        clean = not self.cleans_up or (not targets and _only_live_leaves(old, order))
        if clean and not self.has_work(order, plan):
            self.graph = old  # nothing to rewrite: a copy would be the same graph
            return old
        mapping = self.mapping
        for node in order:
            srcs = [mapping[s.id] for s in node.srcs]
            self._span = node.span
            bugs.at(node)
            new = self.visit(node, srcs, plan)
            if node.id in targets:
                new = self.barrier(new)
            mapping[node.id] = new
        return self.finish(old, mapping)

    def barrier(self, node: Node) -> Node:
        """`node` behind an identity that no rewrite merges or looks through."""
        return self.graph.make("barrier", (node,), {"uid": self.graph.fresh_id()}, node.type)

    def prepare(self, order: list[Node]) -> Any:
        """A pass's look at the whole old graph before the walk (use counts, say): its result,
        the plan (a frozen dataclass), is handed to `has_work` and to every `visit`; nothing
        of it is kept on the object."""
        return None

    def has_work(self, order: list[Node], plan: Any) -> bool:
        """Whether any node might change; a pass that says no is skipped (its copy is free)."""
        if not self.rules:
            return True
        return any(n.op in self.rules.by_op for n in order)

    def visit(self, old: Node, srcs: list[Node], plan: Any) -> Node:
        """The new node for `old` given its new sources (by default: a copy, then the rules)."""
        return self.simplify(self.copy(old, srcs))

    def copy(self, old: Node, srcs: list[Node]) -> Node:
        return self.graph.remake(old, srcs)

    def finish(self, old: Graph, mapping: dict[int, Node]) -> Graph:
        g = self.graph
        g.outputs = [(name, mapping[n.id]) for name, n in old.outputs]
        g.updates = [(name, mapping[n.id]) for name, n in old.updates]
        # Only live leaves remain: program.py feeds exactly these to the compiled function.
        g.placeholders = {k: mapping[n.id] for k, n in old.placeholders.items() if n.id in mapping}
        g.variables = {k: mapping[n.id] for k, n in old.variables.items() if n.id in mapping}
        return g

    # ---- building nodes (what rules call) -----------------------------------------
    def make(self, op: str, srcs, attrs: dict[str, Any] | None = None) -> Node:
        """A new node, type inferred, folded and simplified: rule replacements are built with it."""
        return self.simplify(self.fold(self.graph.make(op, srcs, attrs, span=self._span)))

    def fold(self, node: Node) -> Node:
        """The node as a constant, where its inputs are constants and folding it is allowed."""
        limit = self.options.fold_limit
        if limit is None or not all(s.op == "const" for s in node.srcs) or not foldable(node, limit):
            return node
        value = evaluate_constants([node])[0]
        self.fired["fold " + node.op] += 1
        return self.constant(value, node.type)

    def scalar(self, value, dtype: str) -> Node:
        return self.constant(np.asarray(value, dtype=np_dtype(dtype)))

    def constant(self, array: np.ndarray, type_: TensorType | None = None) -> Node:
        array = np.asarray(array)
        if type_ is None:
            type_ = TensorType(dtype_name(array.dtype), array.shape)
        return self.graph.make("const", (), {"value": ConstValue(array)}, type_)

    def simplify(self, node: Node) -> Node:
        """Apply the rules at `node` until none fires (a replacement is simplified as it is
        built, so a rule cycle can also recurse: the depth is capped as the count is)."""
        if not self.rules or node.id in self._normal:
            return node
        if self._depth >= MAX_REWRITES_PER_NODE:
            self.report(f"the rules nested {MAX_REWRITES_PER_NODE} deep at a {node.op} node "
                        f"(a rule cycle; fired so far: {dict(self.fired)})")
            return node
        self._depth += 1
        try:
            return self._simplify(node)
        finally:
            self._depth -= 1

    def _simplify(self, node: Node) -> Node:
        for _ in range(MAX_REWRITES_PER_NODE):
            replaced = self.apply_rules(node)
            if replaced is None:
                break
            node = replaced
            if node.id in self._normal:
                return node
        else:
            self.report(f"the rules went round {MAX_REWRITES_PER_NODE} times at a {node.op} node "
                        f"(a rule cycle; fired so far: {dict(self.fired)})")
        self._normal.add(node.id)
        return node

    def report(self, problem: str) -> None:
        if STRICT:
            raise RuleFailure(problem)
        self.problems.append(problem)

    def apply_rules(self, node: Node) -> Node | None:
        for rule in self.rules.for_op(node.op):
            try:
                result = rule.apply(self, node)
            except OpError:
                continue  # the replacement does not type-check for these operands
            except RuleFailure:
                raise
            except Exception as e:  # noqa: BLE001 - a bug in one rule: skip it, and say so
                self.report(f"rule {rule.name!r} raised {type(e).__name__}: {e} at a {node.op} node")
                continue
            if result is None or result is node:
                continue
            if result.type != node.type:
                continue  # a rewrite never changes a type (x * ones((2, 3)) is not x)
            self.fired[rule.name] += 1
            return result
        return None


def _only_live_leaves(graph: Graph, order: list[Node]) -> bool:
    leaves = list(graph.placeholders.values()) + list(graph.variables.values())
    live = {n.id for n in order if n.is_leaf}
    return all(n.id in live for n in leaves)


def foldable(node: Node, limit: int) -> bool:
    """Folding never evaluates unseeded random ops or prints, nor makes a constant above `limit`."""
    op = REGISTRY[node.op]
    if node.is_leaf or node.op == "const" or not op.foldable or op.unique:
        return False
    size = node.type.size()
    return size is not None and size <= limit


def gradient_targets(order: list[Node]) -> set[int]:
    """Ids of nodes that a `grad` differentiates against and that need a barrier."""
    out = set()
    for node in order:
        if node.op == "grad":
            for t in node.srcs[1:]:
                if not t.is_leaf and t.op != "barrier":
                    out.add(t.id)
    return out


def use_counts(order: list[Node], graph: Graph) -> Counter:
    """How many times each node is used: as a source (once per position) or as a root."""
    uses: Counter = Counter()
    for node in order:
        for s in node.srcs:
            uses[s.id] += 1
    for n in graph.roots():
        uses[n.id] += 1
    return uses
