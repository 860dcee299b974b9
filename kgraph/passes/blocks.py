"""Deep stacks compiled once: a chain of calls of one `def` becomes one `scan`.

A layer stack is written as calls of one function, each call's carried argument the
previous call's result, each reading its own weights:

    h1 = block(h0, W1)            h1 = block(h0, 0)     # reads Wq[0], ...
    h2 = block(h1, W2)     or     h2 = block(h1, 1)
    ...                           ...

The builder inlines every call and records it (`ir.Call`: the range of nodes it made,
its tensor arguments, its result). A call's *block* is the part of what it made that
depends on its carried argument; the block's *inputs* are what it reads from outside
that part (the carry, the variables, the per-call slices `Wq[i]`, constants). Calls of
one definition whose blocks are identical up to their inputs (the same ops, attributes
and types over the same input positions) form a chain, and a chain of at least
`Options.scan_min_blocks` calls becomes one `scan` whose body is the block, built once:

- an input that is the same node in every call (or an equal constant) is captured;
- the others are stacked along a new leading axis as the loop's sequence: slices
  `W[i], W[i+1], ...` of one tensor are that tensor (or one slice of it), anything else
  a `stack` node.

Only the last call's result leaves the loop, so a value of a call that anything else
uses (an output, a gradient target, another call's inner computation) ends the chain
there. Blocks with unseeded random draws, prints or gradients computed from the carry stay
unrolled (each call draws or prints its own; a gradient needs the enclosing program).

The pass runs first, on the graph as the builder made it (where the calls' node ranges
are valid), so the later passes optimise one body instead of every call.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..ir import Body, Call, Graph, Node, toposort
from ..ops import REGISTRY
from .rewrite import Rewriter

# Ops that a loop's step cannot compute (a gradient differentiates the enclosing program):
# a block holding one is left unrolled. Unique ops (unseeded draws, prints) are left too. Ops
# that read nothing of the carry (learning_phase(), a seeded draw) are inputs, computed
# outside the loop as the unrolled program computes them.
NOT_IN_BODY = frozenset({"grad"})


@dataclass(frozen=True)
class Block:
    """One call's carried computation."""

    call: Call
    carry: Node
    nodes: tuple[Node, ...]  # computed from the carry, sources first; the result last
    inputs: tuple[Node, ...]  # what `nodes` read from outside them, in the order first read
    key: tuple  # the computation up to its inputs: equal keys, equal bodies

    @property
    def carry_index(self) -> int:
        return self.key[2]


@dataclass(frozen=True)
class Chain:
    blocks: tuple[Block, ...]

    @property
    def name(self) -> str:
        return self.blocks[0].call.definition.name


@dataclass(frozen=True)
class Plan:
    chains: dict[int, Chain]  # the id of a chain's last result -> the chain
    inner: frozenset[int]  # the ids of the chains' other computed nodes: not copied


def block_of(call: Call, carry: Node, graph: Graph) -> Block | None:
    """The call's block, or None where its result is not computed from `carry` alone."""
    def made_by_call(n: Node) -> bool:
        return n.graph is graph and call.first_id <= n.id < call.end_id

    result = call.result
    if result is None or not made_by_call(result) or carry.type != result.type:
        return None
    cone = toposort([result], expand=lambda n: n is not carry and made_by_call(n))
    dependent: set[Node] = {carry}
    nodes: list[Node] = []
    for n in cone:
        if n is not carry and made_by_call(n) and any(s in dependent for s in n.srcs):
            if REGISTRY[n.op].unique or n.op in NOT_IN_BODY:
                return None
            dependent.add(n)
            nodes.append(n)
    if not nodes or nodes[-1] is not result:
        return None
    position: dict[Node, int] = {}
    inputs: dict[Node, int] = {}
    eqns = []
    for n in nodes:
        refs = []
        for s in n.srcs:
            if s in position:
                refs.append(position[s])
            else:
                refs.append(-1 - inputs.setdefault(s, len(inputs)))
        position[n] = len(eqns)
        eqns.append((n.op, n.attrs_key, n.type, tuple(refs)))
    key = (tuple(eqns), tuple(i.type for i in inputs), inputs[carry])
    return Block(call, carry, tuple(nodes), tuple(inputs), key)


def _links(graph: Graph, live: set[int]) -> dict[int, list[tuple[Call, str]]]:
    """For each call (by id()), the later calls of the same definition that take its
    result as an argument, with that argument's name."""
    calls = [c for c in graph.calls if c.result is not None and c.result.id in live
             and c.result.graph is graph]
    by_result: dict[int, list[Call]] = defaultdict(list)
    for c in calls:
        by_result[c.result.id].append(c)
    nexts: dict[int, list[tuple[Call, str]]] = defaultdict(list)
    for c in calls:
        for name, arg in c.args:
            for prev in by_result.get(arg.id, ()):
                if prev.result is arg and prev.definition is c.definition and prev is not c:
                    nexts[id(prev)].append((c, name))
    return nexts


def _sequences(graph: Graph, live: set[int]) -> list[tuple[list[Call], str]]:
    """Maximal runs of linked calls that carry the same parameter, first call first."""
    nexts = _links(graph, live)
    followers = {id(c) for links in nexts.values() for c, _ in links}
    runs = []
    for c in graph.calls:
        if id(c) in followers or len(nexts.get(id(c), ())) != 1:
            continue
        run, name = [c], nexts[id(c)][0][1]
        while len(nexts.get(id(run[-1]), ())) == 1 and nexts[id(run[-1])][0][1] == name:
            run.append(nexts[id(run[-1])][0][0])
        runs.append((run, name))
    return runs


def _users(order: list[Node], graph: Graph) -> dict[Node, list]:
    """Each node's users; a root (an output, an update) counts as the user None."""
    users: dict[Node, list] = defaultdict(list)
    for n in order:
        for s in n.srcs:
            users[s].append(n)
    for r in graph.roots():
        users[r].append(None)
    return users


def _kept_inside(block: Block, users: dict) -> bool:
    """Whether the block's values other than its result are used by the block alone."""
    inside = set(block.nodes)
    return all(u in inside for n in block.nodes[:-1] for u in users[n])


def _split(blocks: list[Block | None], users: dict) -> list[list[Block]]:
    """The runs of blocks that one loop can compute: equal keys, each result used only by
    the next block, nothing inner used outside."""
    runs: list[list[Block]] = [[]]
    for b in blocks:
        last = runs[-1][-1] if runs[-1] else None
        if b is None or not _kept_inside(b, users):
            runs.append([])
            continue
        if last is not None and (b.key != last.key or any(
                u not in b.nodes for u in users[last.nodes[-1]])):
            runs.append([])
        runs[-1].append(b)
    return [r for r in runs if r]


def find_chains(graph: Graph, order: list[Node], min_blocks: int) -> list[Chain]:
    """The chains of at least `min_blocks` calls, outermost calls first, none sharing a node."""
    live = {n.id for n in order}
    users = _users(order, graph)
    found = []
    for calls, name in _sequences(graph, live):
        blocks = [block_of(c, dict(c.args).get(name), graph) if name in dict(c.args) else None
                  for c in calls]
        found += [Chain(tuple(r)) for r in _split(blocks, users) if len(r) >= min_blocks]
    found.sort(key=lambda ch: ch.blocks[0].call.depth)
    claimed: set[Node] = set()
    chains = []
    for ch in found:
        nodes = {n for b in ch.blocks for n in b.nodes}
        if not nodes & claimed:
            claimed |= nodes
            chains.append(ch)
    return chains


def _same(column: list[Node]) -> bool:
    """The same value in every call: one node, or one expression written in each call (a
    constant, `learning_phase()`, `W[0]`; the builder's graph does not intern), not a draw."""
    first = column[0]
    if all(n is first for n in column):
        return True
    return not REGISTRY[first.op].unique and all(
        n.op == first.op and n.srcs == first.srcs and n.attrs_key == first.attrs_key and n.type == first.type
        for n in column)


def body_of(block: Block, order: list[int]) -> Body:
    """The block as a loop body over its inputs, taken in `order` (input positions)."""
    graph = Graph(intern=False)
    mapping: dict[Node, Node] = {}
    params = []
    for i, k in enumerate(order):
        node = block.inputs[k]
        params.append(graph.make("param", (), {"index": i}, node.type, span=node.span))
        mapping[node] = params[-1]
    for n in block.nodes:
        mapping[n] = graph.remake(n, [mapping[s] for s in n.srcs])
    graph.outputs = [("r0", mapping[block.nodes[-1]])]
    return Body(graph, params)


def _consecutive_slices(nodes: list[Node]) -> tuple[Node, int] | None:
    """(x, i) where the nodes are x[i], x[i + 1], ... in order, else None."""
    first = nodes[0]
    if first.op != "getitem" or not first.srcs:
        return None
    x = first.srcs[0]
    for j, n in enumerate(nodes):
        index = n.attr("index") if n.op == "getitem" else None
        if (n.srcs != (x,) or not isinstance(index, tuple) or len(index) != 1
                or type(index[0]) is not int or index[0] < 0 or index[0] != first.attr("index")[0] + j):
            return None
    return (x, first.attr("index")[0]) if isinstance(x.shape[0], int) else None


class BlockScanner(Rewriter):
    """The scan-blocks pass: each chain's last result becomes the result of one scan."""

    cleans_up = False  # without a chain, the graph goes on to dce as the builder made it

    def prepare(self, order: list[Node]) -> Plan:
        chains = find_chains(self.old, order, self.options.scan_min_blocks)
        inner = frozenset(n.id for ch in chains for b in ch.blocks for n in b.nodes[:-1])
        inner |= {b.nodes[-1].id for ch in chains for b in ch.blocks[:-1]}
        return Plan({ch.blocks[-1].nodes[-1].id: ch for ch in chains}, inner)

    def has_work(self, order: list[Node], plan: Plan) -> bool:
        return bool(plan.chains)

    def visit(self, old: Node, srcs: list[Node], plan: Plan) -> Node:
        if old.id in plan.inner:  # only its own chain uses it, and the loop replaces the chain
            return old
        chain = plan.chains.get(old.id)
        if chain is None:
            return self.copy(old, srcs)
        self.fired[f"{len(chain.blocks)} calls of {chain.name} into a scan"] += 1
        return self.scan(chain, old)

    def scan(self, chain: Chain, old: Node) -> Node:
        first = chain.blocks[0]
        varying, same = [], []
        for k in range(len(first.inputs)):
            if k != first.carry_index:
                (same if _same([b.inputs[k] for b in chain.blocks]) else varying).append(k)
        body = body_of(first, [first.carry_index] + varying + same)
        xs = [self.stacked([self.mapping[b.inputs[k].id] for b in chain.blocks]) for k in varying]
        sources = [self.mapping[first.carry.id], *xs, *(self.mapping[first.inputs[k].id] for k in same)]
        attrs = {"body": body, "n_carry": 1, "n_xs": len(xs), "unroll": False, "length": len(chain.blocks)}
        loop = self.graph.make("scan", sources, attrs, span=first.call.result.span)
        return self.graph.make("nth", (loop,), {"index": 0}, span=old.span)

    def stacked(self, nodes: list[Node]) -> Node:
        """The per-call values along a new leading axis (a run of slices: their tensor)."""
        slices = _consecutive_slices(nodes)
        if slices is None:
            return self.graph.make("stack", nodes, {"axis": 0})
        x, start = slices
        if start == 0 and len(nodes) == x.shape[0]:
            return x
        return self.graph.make("getitem", (x,), {"index": (("slice", start, start + len(nodes), None),)})
