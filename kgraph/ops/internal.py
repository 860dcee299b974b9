"""Ops the optimizer introduces: stable forms, gradient-target barriers, and fused regions.

They are not Keras backend ops, so a program cannot call them by name (their
category is "internal"); each example shows the program text that produces one.
The stable forms lower to JAX's own stable functions (`jax.nn.log_softmax`,
`jnp.log1p`, ...), never to `where`-based formulas whose gradients can be NaN.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .registry import Op, OpError, axis_arg, require_float


def _float_same(types, attrs):
    require_float(types)
    return types[0]


def _log_softmax_type(types, attrs):
    require_float(types)
    axis_arg(attrs["axis"], types[0].ndim)
    return types[0]


def _fused_type(types, attrs):
    """The region's result type, once its params accept the node's inputs."""
    body = attrs["body"]
    if len(types) != body.arity:
        raise OpError(f"fused: the body takes {body.arity} inputs, got {len(types)}")
    if any(t != p.type for t, p in zip(types, body.params)):
        raise OpError("fused: the inputs' types differ from the body's params")
    return body.result_types[0]


def _lower_fused(ctx, node, inputs):
    """The body, evaluated by the interpreter as one jitted call (ctx.call_body)."""
    return ctx.call_body(node.attr("body"), inputs)[0]


def _internal(signature, infer, lower, doc, example, **kw):
    return Op(signature, infer=infer, lower=lower, doc=doc, example=example, category="internal", **kw)


_LOGITS = "x = [[1.0, 2.0, 3.0]]\n"

OPS = [
    _internal("log_softmax(x, axis=-1)", _log_softmax_type,
              lambda x, *, axis: jax.nn.log_softmax(x, axis=-1 if axis is None else axis),
              "The logarithm of softmax, computed stably (the optimizer's form of log(softmax(x))).",
              _LOGITS + "output log(softmax(x))"),
    _internal("log1p(x)", _float_same, jnp.log1p,
              "Computes log(1 + x), accurate for small x (the optimizer's form of log(1 + x)).",
              "x = [1e-10, 1.0]\noutput log(1 + x)", elementwise=True),
    _internal("expm1(x)", _float_same, jnp.expm1,
              "Computes exp(x) - 1, accurate for small x (the optimizer's form of exp(x) - 1).",
              "x = [1e-10, 1.0]\noutput exp(x) - 1", elementwise=True),
    _internal("barrier(x, uid)", lambda types, attrs: types[0], lambda x, *, uid: x,
              "Returns x; marks a gradient target so that no rewrite merges or looks through it.",
              "x = [1.0, 2.0]\nh = x * 3\noutput gradients(sum(h * h), [h])",
              foldable=False, unique=True),
    _internal("fused(xs, body)", _fused_type, None,
              "A region of elementwise ops evaluated as one composed function.",
              "x = [1.0, 2.0]\noutput (x * 2.0 - x) * x",
              tensors=(), tensor_lists=("xs",), foldable=False, lower_node=_lower_fused),
]
