"""Loop bodies: function values traced into sub-graphs, and the loop node's lowering.

A loop (`rnn`, `map_fn`, `foldl`, `foldr`) is one `scan` node whose `body`
attribute is an `ir.Body`: a graph of its own with `param` leaves. The builder
traces the step function once into that graph (`trace_body`); names the function
sees from its defining scope that are tensors of the enclosing graph become extra
parameters, fed by the loop node's last sources (`close_over`). The node lowers to
one `jax.lax.scan`, so the body is traced and compiled once whatever the length.

The scan node's sources are its initial carries, then the sequences it steps over
(time leading), then the captured values; its body's parameters follow the same
order (a sequence's parameter is one step of it) and its results are the new
carries, then each step's outputs, which the scan stacks along a new leading axis.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp

from .errors import ArgumentError, KGraphError, ShapeError, Span
from .ir import Body, Graph, Node, toposort
from .types import TensorType
from .values import Function, describe


@dataclass(frozen=True)
class TupleType:
    """The type of a node with several results (a loop): `nth` nodes take them apart."""

    types: tuple

    dtype = "tuple"
    shape = ()
    ndim = 0

    def __str__(self) -> str:
        return "(" + ", ".join(str(t) for t in self.types) + ")"

    def short(self) -> str:
        return "(" + ", ".join(t.short() for t in self.types) + ")"

    def is_static(self) -> bool:
        return all(t.is_static() for t in self.types)

    def size(self) -> None:
        return None  # never folded: a loop is evaluated by the compiled program


class PyFunction:
    """A Python callable given to `kgraph.backend` (K.rnn(step, ...)), called on symbolic tensors.

    `wrap` and `unwrap` are the backend's conversions between IR nodes and its tensors.
    """

    def __init__(self, function: Callable, wrap: Callable, unwrap: Callable):
        self.function = function
        self.wrap = wrap
        self.unwrap = unwrap
        self.name = getattr(function, "__name__", "function")

    def __call__(self, args: list) -> Any:
        return self.unwrap(self.function(*self.wrap(args)))


def check_function(value: Any, what: str, span: Span) -> Any:
    """A function value as an op's argument takes it, or a located error."""
    if isinstance(value, (Function, PyFunction)):
        return value
    raise ArgumentError(f"{what} must be a function (a `def` name or a `lambda`), got {describe(value)}",
                        span)


def function_name(fn: Any) -> str:
    return fn.definition.name if isinstance(fn, Function) else fn.name


def result_span(fn: Any, call: Span) -> Span:
    """Where a function's result is written: its `return` (or a lambda's body), else the call."""
    if isinstance(fn, Function):
        return fn.definition.body[-1].span
    return call


def call_function(builder, fn: Any, args: list, call: Span, note: str) -> Any:
    """`fn(*args)`: a `.kg` function runs in the builder, a Python one on backend tensors."""
    if isinstance(fn, PyFunction):
        try:
            return fn(args)
        except KGraphError as err:
            raise err.with_note(call, note) from None
    params = fn.definition.params
    if len(params) != len(args):
        raise ArgumentError(f"{note.split(' here')[0]}: the function '{fn.definition.name}' takes "
                            f"{len(params)} arguments, but the loop passes {len(args)}", fn.definition.span
                            ).with_note(call, "the loop is called here")
    return builder.run_function(fn, dict(zip(params, args)), call, note)


def trace_body(builder, fn: Any, types: list[TensorType], arrange: Callable, collect: Callable,
               call: Span, note: str) -> tuple[Body, list[Node]]:
    """Trace `fn` once into a new body graph.

    `arrange(params)` gives the arguments `fn` is called with, `collect(params, result)`
    checks its result and returns the body's result nodes; both run while the body
    graph is the builder's, so the nodes they make (masking, casts) are the body's.
    Returns the body and the enclosing graph's nodes it captured, in parameter order.
    """
    outer, lifted, updates = builder.graph, builder._lifted, len(builder.graph.updates)
    graph = Graph(intern=False)
    builder.graph, builder._lifted = graph, {}
    try:
        params = [graph.make("param", (), {"index": i}, t) for i, t in enumerate(types)]
        result = call_function(builder, fn, arrange(params), call, note)
        try:
            results = collect(params, result)
        except KGraphError as err:  # the result's structure or types: located at the return
            raise err.with_note(call, note) from None
        if graph.updates:
            raise KGraphError("`update` inside a loop's body is not supported; update the variable "
                              "from the loop's results", graph.updates[0][1].span)
    finally:
        builder.graph, builder._lifted = outer, lifted
    assert len(outer.updates) == updates
    return close_over(graph, params, results)


def close_over(graph: Graph, params: list[Node], results: list[Node]) -> tuple[Body, list[Node]]:
    """The body with every node of an enclosing graph that it uses turned into a parameter."""
    # `graph`'s nodes that the results need, sources first, and the foreign nodes they use.
    order = toposort(results, expand=lambda n: n.graph is graph)
    captured = [n for n in order if n.graph is not graph]
    body_graph = Graph(intern=False)
    mapping: dict[Node, Node] = {}
    new_params = []
    for i, old in enumerate(params + captured):
        new_params.append(body_graph.make("param", (), {"index": i}, old.type, span=old.span))
        mapping[old] = new_params[-1]
    for node in order:
        if node not in mapping:
            mapping[node] = body_graph.remake(node, [mapping[s] for s in node.srcs])
    body_graph.outputs = [(f"r{i}", mapping[r]) for i, r in enumerate(results)]
    return Body(body_graph, new_params), captured


def inline_body(graph: Graph, body: Body, args: list[Node]) -> list[Node]:
    """The body's results computed in `graph` from `args` (one per parameter), without a loop."""
    mapping: dict[int, Node] = {p.id: a for p, a in zip(body.params, args)}
    for node in toposort(body.results):
        if node.id not in mapping:
            mapping[node.id] = graph.remake(node, [mapping[s.id] for s in node.srcs])
    return [mapping[r.id] for r in body.results]


def params_by_index(graph: Graph, like: Body, retype: Callable = lambda t: t) -> list[Node]:
    """A copied body graph's parameters, one per index of `like`'s (made where the copy dropped one)."""
    found = {n.attr("index"): n for n in toposort(graph.roots()) if n.op == "param"}
    return [found.get(i) or graph.make("param", (), {"index": i}, retype(p.type), span=p.span)
            for i, p in enumerate(like.params)]


def compatible(a: TensorType, b: TensorType) -> bool:
    """Same dtype and rank, and dims that agree where both are known ints."""
    return a.dtype == b.dtype and a.ndim == b.ndim and all(
        x == y or not isinstance(x, int) or not isinstance(y, int) for x, y in zip(a.shape, b.shape))


def expect_like(node: Node, like: TensorType, what: str, span: Span) -> None:
    if not compatible(node.type, like):
        raise ShapeError(f"{what} is {node.type}, but it must be {like}", span)


# ---- lowering --------------------------------------------------------------------

def lower_scan(ctx, node: Node, inputs: list) -> tuple:
    """One `jax.lax.scan` over the body (or a Python loop for `unroll=True`)."""
    body: Body = node.attr("body")
    n_carry, n_xs = node.attr("n_carry"), node.attr("n_xs")
    carry0, xs, captured = inputs[:n_carry], inputs[n_carry:n_carry + n_xs], inputs[n_carry + n_xs:]
    rng = ctx.rng
    if rng is not None:  # each step draws its own unseeded random values
        rng = jax.random.fold_in(rng, 0x5CA7)

    def step(carry, x):
        *carry, t = carry
        key = None if rng is None else jax.random.fold_in(rng, t)
        env = {p.id: v for p, v in zip(body.params, [*carry, *x, *captured])}
        values = type(ctx)(env, key).evaluate(body.results)
        return (*values[:n_carry], t + 1), tuple(values[n_carry:])

    start = (*carry0, jnp.asarray(0, jnp.int32))
    if node.attr("unroll"):
        carry, ys = _unrolled(step, start, xs, node.attr("length"))
    else:
        carry, ys = jax.lax.scan(step, start, tuple(xs), length=node.attr("length") if not xs else None)
    return (*carry[:-1], *ys)


def _unrolled(step, carry, xs: list, length: int | None):
    length = xs[0].shape[0] if xs else length
    outs = []
    for t in range(length):
        carry, y = step(carry, tuple(x[t] for x in xs))
        outs.append(y)
    if not outs:
        raise ShapeError("an unrolled loop over 0 steps has no outputs")
    return carry, tuple(jnp.stack(ys) for ys in zip(*outs))
