"""The passes inside loop bodies, and loop-invariant hoisting.

`rewrite_bodies` runs a pass over every loop body of a graph (innermost first) and
gives back the graph with the rewritten bodies in place, so each pass of the
pipeline (dce, cse, fold, simplify, stabilize, ...) also works inside bodies.

`Hoister` (the hoist pass) moves out of a body what depends only on the values the
loop captured (never on a step's carry or slice): computed once before the loop,
it is the same value, so the move is exact. Unseeded random draws and prints
stay (each step draws or prints its own), and so do constants (free to keep).
"""
from __future__ import annotations

from collections import Counter
from typing import Callable

from ..ir import Body, Graph, Node, toposort
from ..loops import params_by_index
from ..ops import REGISTRY
from .rewrite import Options, Rewriter

NEVER_HOISTED = frozenset({"param", "const"})


def rewrite_body(run: Callable, body: Body, options: Options) -> tuple[Body, Counter]:
    inner, fired = rewrite_bodies(run, body.graph, options)
    done = run(inner, options)
    fired.update(done.fired)
    if done.graph is body.graph:
        return body, fired
    return Body(done.graph, params_by_index(done.graph, body)), fired


class _SwapBodies(Rewriter):
    def __init__(self, options: Options, bodies: dict[int, Body]):
        super().__init__(options)
        self.bodies = bodies

    def new_graph(self, old: Graph | None) -> Graph:
        return Graph(intern=False)  # a copy: merging is cse's

    def visit(self, old: Node, srcs: list[Node], plan: None) -> Node:
        body = self.bodies.get(old.id)
        if body is None:
            return self.copy(old, srcs)
        return self.graph.make(old.op, srcs, {**old.kw, "body": body}, type_=old.type, span=old.span)


def rewrite_bodies(run: Callable, graph: Graph, options: Options) -> tuple[Graph, Counter]:
    """`graph` with each loop body rewritten by the pass `run`, and what the pass fired there."""
    fired: Counter = Counter()
    bodies: dict[int, Body] = {}
    for node in toposort(graph.roots()):
        body = node.attr("body")
        if isinstance(body, Body):
            new, inner = rewrite_body(run, body, options)
            fired.update(inner)
            if new is not body:
                bodies[node.id] = new
    if not bodies:
        return graph, fired
    swap = _SwapBodies(options, bodies)
    swap.run(graph)
    return swap.graph, fired


# ---- hoisting -------------------------------------------------------------------------

def _invariant(body: Body, first_captured: int) -> set[int]:
    """Ids of the body's nodes computed from captured values and constants only."""
    out: set[int] = set()
    for n in toposort(body.results):
        if n.op == "param":
            if n.attr("index") >= first_captured:
                out.add(n.id)
        elif n.op == "const" or (not REGISTRY[n.op].unique and n.srcs and all(s.id in out for s in n.srcs)):
            out.add(n.id)
    return out


class Hoister(Rewriter):
    def visit(self, old: Node, srcs: list[Node], plan: None) -> Node:
        body = old.attr("body")
        if old.op != "scan":
            return self.copy(old, srcs)
        first = old.attr("n_carry") + old.attr("n_xs")
        invariant = _invariant(body, first)
        order = toposort(body.results)
        wanted = {r.id for r in body.results}
        wanted.update(s.id for u in order if u.id not in invariant for s in u.srcs)
        frontier = [n for n in order if n.id in invariant and n.id in wanted and n.op not in NEVER_HOISTED]
        if not frontier:
            return self.copy(old, srcs)
        outer = self._compute_outside(order, invariant, body, srcs)
        self.fired["hoist " + " ".join(sorted({n.op for n in frontier}))] += 1
        new_body = _rebuild(body, first, order, invariant, frontier)
        sources = srcs[:first] + [srcs[i] for i in new_body[1]] + [outer[n.id] for n in frontier]
        return self.graph.make("scan", sources, {**old.kw, "body": new_body[0]}, type_=old.type,
                               span=old.span)

    def _compute_outside(self, order, invariant, body, srcs) -> dict[int, Node]:
        outer: dict[int, Node] = {}
        for n in order:
            if n.id not in invariant:
                continue
            if n.op == "param":
                outer[n.id] = srcs[n.attr("index")]
            else:
                outer[n.id] = self.graph.remake(n, [outer[s.id] for s in n.srcs])
        return outer


def _rebuild(body: Body, first: int, order, invariant, frontier) -> tuple[Body, list[int]]:
    """The body without the frontier's computations: they come in as new parameters.

    Captured parameters that only the hoisted nodes used are dropped; the second
    result lists the old indices of those kept, for the scan node's sources.
    """
    hoisted = {n.id for n in frontier}
    needed = {r.id for r in body.results}
    for n in reversed(order):
        if n.id in needed and n.id not in hoisted:
            needed.update(s.id for s in n.srcs)
    graph = Graph(intern=body.graph.intern)
    mapping: dict[int, Node] = {}
    params = [graph.make("param", (), {"index": i}, p.type, span=p.span) for i, p in enumerate(body.params[:first])]
    for p in body.params[:first]:
        mapping[p.id] = params[p.attr("index")]
    kept = [p.attr("index") for p in body.params[first:] if p.id in needed]
    for old_index in kept:
        params.append(graph.make("param", (), {"index": len(params)}, body.params[old_index].type))
        mapping[body.params[old_index].id] = params[-1]
    for n in frontier:
        params.append(graph.make("param", (), {"index": len(params)}, n.type, span=n.span))
        mapping[n.id] = params[-1]
    for n in order:
        if n.id not in mapping and n.id in needed:
            mapping[n.id] = graph.remake(n, [mapping[s.id] for s in n.srcs])
    graph.outputs = [(name, mapping[r.id]) for name, r in body.graph.outputs]
    return Body(graph, params), kept
