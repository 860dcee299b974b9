"""Ops the optimizer introduces: stable forms, gradient-target barriers and fused regions.

They are not Keras backend ops, so a program cannot call them by name (their
category is "internal"); each example shows the program text that produces one.
The stable forms lower to JAX's own stable functions (`jax.nn.log_softmax`,
`jnp.log1p`, ...), never to `where`-based formulas whose gradients can be NaN.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..types import TensorType
from .registry import Op, OpError, axis_arg, require_float


def _float_same(types, attrs):
    require_float(types)
    return types[0]


def _log_softmax_type(types, attrs):
    require_float(types)
    axis_arg(attrs["axis"], types[0].ndim)
    return types[0]


class FusedBody:
    """A fused region's equations, hashed by content so equal regions intern to one node.

    `eqns` is a tuple of (op, refs, attrs): a ref below `arity` names an input of the
    fused node, a larger one the result of an earlier equation; the last equation is
    the region's result. The composed function is built once per body and wrapped
    in `jax.jit`, so the traced program holds one call per fused node and equal
    regions are traced once.
    """

    __slots__ = ("arity", "eqns", "_function", "_hash")

    def __init__(self, arity: int, eqns: tuple):
        self.arity = arity
        self.eqns = eqns
        self._function = None
        self._hash = hash((arity, eqns))

    def __eq__(self, other):
        return isinstance(other, FusedBody) and (self.arity, self.eqns) == (other.arity, other.eqns)

    def __hash__(self):
        return self._hash

    def __len__(self):
        return len(self.eqns)

    def __repr__(self):
        from ..ir import _format_attr, _var_name

        names = [_var_name(i) for i in range(self.arity + len(self.eqns))]
        lines = []
        for i, (op, refs, attrs) in enumerate(self.eqns):
            params = "".join(f"[{k}={_format_attr(v)}]" for k, v in attrs)
            args = " ".join(names[r] for r in refs)
            lines.append(f"{names[self.arity + i]}={op}{params} {args}")
        return "{" + " ".join(names[: self.arity]) + ". " + "; ".join(lines) + "}"

    def infer(self, types: list[TensorType]) -> TensorType:
        from . import REGISTRY

        env = list(types)
        for op, refs, attrs in self.eqns:
            env.append(REGISTRY[op].infer([env[r] for r in refs], dict(attrs)))
        return env[-1]

    def function(self):
        if self._function is None:
            from . import REGISTRY

            steps = [(REGISTRY[op].lower, refs, dict(attrs)) for op, refs, attrs in self.eqns]

            def composed(*inputs: Any):
                env = list(inputs)
                for lower, refs, attrs in steps:
                    env.append(lower(*[env[r] for r in refs], **attrs))
                return env[-1]

            self._function = jax.jit(composed)
        return self._function


def _fused_type(types, attrs):
    body = attrs["body"]
    if len(types) != body.arity:
        raise OpError(f"fused: the body takes {body.arity} inputs, got {len(types)}")
    return body.infer(types)


def _lower_fused(*inputs, body):
    return body.function()(*inputs)


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
    _internal("fused(xs, body)", _fused_type, _lower_fused,
              "A region of elementwise ops evaluated as one composed function.",
              "x = [1.0, 2.0]\noutput (x * 2.0 - x) * x",
              tensors=(), tensor_lists=("xs",), foldable=False),
]
