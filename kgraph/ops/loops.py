"""Loops over a leading axis: rnn, map_fn, foldl, foldr (LANGUAGE.md §10).

Each call traces its function once into the body of one `scan` node (kgraph/loops.py)
and takes the scan's results apart with `nth`. The front-end work (time-major
transposes, masks, go_backwards, the first element of a fold without initializer)
is ordinary nodes around and inside the body, as tf_keras's `K.rnn` does it.
"""
from __future__ import annotations

from ..errors import ArgumentError, ShapeError
from ..loops import (TupleType, compatible, expect_like, lower_scan, result_span,
                     trace_body)
from ..types import TensorType
from .registry import Op, OpError


def _leaf_type(types, attrs):
    raise OpError("parameters are made with an explicit type")


def _scan_type(types, attrs):
    """Carries keep their types; each step's outputs stack along the sequences' length."""
    body, n_carry, n_xs = attrs["body"], attrs["n_carry"], attrs["n_xs"]
    params, results = body.params, body.results
    if len(types) != len(params):
        raise OpError(f"scan: {len(types)} sources for a body of {len(params)} parameters")
    length = attrs["length"]
    for i, (t, p) in enumerate(zip(types, params)):
        sliced = TensorType(t.dtype, t.shape[1:]) if n_carry <= i < n_carry + n_xs else t
        if n_carry <= i < n_carry + n_xs:
            if t.ndim == 0:
                raise OpError("scan: a sequence must have a leading axis")
            length = t.shape[0] if i == n_carry else length
        if not compatible(sliced, p.type):
            raise OpError(f"scan: source {i} is {t}, its parameter {p.type}")
    for i in range(n_carry):
        if not compatible(results[i].type, params[i].type):
            raise OpError(f"scan: carry {i} comes back as {results[i].type}, not {params[i].type}")
    ys = tuple(TensorType(r.dtype, (length,) + r.shape) for r in results[n_carry:])
    return TupleType(tuple(types[:n_carry]) + ys)


def _nth_type(types, attrs):
    (t,) = types
    if not isinstance(t, TupleType) or not 0 <= attrs["index"] < len(t.types):
        raise OpError("nth: takes a result of a node with several results")
    return t.types[attrs["index"]]


# ---- building (the front end) ------------------------------------------------------

def _node(builder, site, op, **bound):
    return builder.make_node(op, bound, site)


def scan(builder, site, fn, carries, xs, arrange, collect, note, unroll=False):
    """Trace `fn` into a body and make the scan node: the list of its results."""
    types = [c.type for c in carries] + [TensorType(x.dtype, x.shape[1:]) for x in xs]
    body, captured = trace_body(builder, fn, types, arrange, collect, site.span, note)
    length = xs[0].shape[0] if xs else None
    attrs = {"body": body, "n_carry": len(carries), "n_xs": len(xs), "unroll": unroll,
             "length": length if isinstance(length, int) else None}
    loop = builder.graph.make("scan", [*carries, *xs, *captured], attrs, span=site.span)
    return [builder.graph.make("nth", (loop,), {"index": i}, span=site.span)
            for i in range(len(loop.type.types))]


def _sequence(builder, site, value, what):
    if value.type.ndim == 0:
        raise ShapeError(f"{site.name}: {what} must have a leading axis to step over, but "
                         f"{site.label(what)} is {value.type}", site.arg_span(what))
    return value


def _as_list(value, expected: int, what: str, span):
    """A list or tuple of `expected` values (a lone tensor counts as a list of one)."""
    if not isinstance(value, (list, tuple)):
        value = [value]
    if len(value) != expected:
        raise ArgumentError(f"{what}: expected {expected} values, got {len(value)}", span)
    return list(value)


def _build_map_fn(builder, site, args):
    fn, elems, dtype = args["fn"], _sequence(builder, site, args["elems"], "elems"), args["dtype"]
    span = result_span(fn, site.span)

    def collect(params, result):
        out = builder.tensor(result, span)
        if dtype is not None and out.dtype != dtype:
            out = _node(builder, site, "cast", x=out, dtype=dtype)
        return [out]

    note = "in the function that map_fn maps, called once per element here"
    (outs,) = scan(builder, site, fn, [], [elems], lambda p: [p[0]], collect, note)
    return outs


def _fold(builder, site, args, right: bool):
    name = "foldr" if right else "foldl"
    fn, elems, init = args["fn"], _sequence(builder, site, args["elems"], "elems"), args["initializer"]
    if right:
        elems = _node(builder, site, "reverse", x=elems, axes=0)
    if init is None:  # tf.foldl: start from the first element (foldr: the last)
        init = _node(builder, site, "getitem", x=elems, index=(0,))
        elems = _node(builder, site, "getitem", x=elems, index=(("slice", 1, None, None),))
    span = result_span(fn, site.span)

    def collect(params, result):
        acc = builder.tensor(result, span)
        expect_like(acc, init.type, f"{name}: the function's result (the new accumulator)", span)
        return [acc]

    note = f"in the function that {name} applies, called once per element here"
    (acc,) = scan(builder, site, fn, [init], [elems], lambda p: [p[0], p[1]], collect, note)
    return acc


def _fold_op(name: str, direction: str, start: str) -> Op:
    return Op(f"{name}(fn, elems, initializer=None, name=None)", infer=None, lower=None,
              tensors=("elems", "initializer"), functions=("fn",), category="loops",
              build=lambda b, s, a: _fold(b, s, a, right=name == "foldr"),
              doc=f"Reduces elems from {direction} with acc = fn(acc, x), starting from initializer "
                  f"(None: the {start} element).",
              example=f"x = [1.0, 2.0, 3.0]\noutput {name}(lambda acc, v: acc * 10.0 + v, x), "
                      f"{name}(lambda acc, v: acc - v, x, initializer=100.0)")


OPS = [
    Op("param(index)", infer=_leaf_type, lower=None, tensors=(), foldable=False,
       doc="A loop body's parameter: one of the values its loop passes in on each step.",
       category="internal"),
    Op("scan(inputs, body, n_carry, n_xs, unroll, length)", infer=_scan_type, lower=None,
       lower_node=lower_scan, tensors=(), tensor_lists=("inputs",), foldable=False,
       doc="A loop: its body (a sub-graph) runs once per step of the sequences, as jax.lax.scan.",
       category="internal"),
    Op("nth(x, index)", infer=_nth_type, lower=lambda x, *, index: x[index], foldable=False,
       doc="One result of a node with several results (a loop).", category="internal"),
    Op("map_fn(fn, elems, name=None, dtype=None)", infer=None, lower=None, tensors=("elems",),
       functions=("fn",), build=_build_map_fn, category="loops",
       doc="fn applied to each slice of elems along its first axis, the results stacked "
           "(one loop: fn is traced and compiled once).",
       example="x = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]\noutput map_fn(lambda row: sum(row * row), x)"),
    _fold_op("foldl", "left to right", "first"),
    _fold_op("foldr", "right to left", "last"),
]
