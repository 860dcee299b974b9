"""Elementwise ops: arithmetic (the infix operators), math and comparisons.

Semantics are those of `tf_keras.backend`, quirks included (its `sqrt` clips
negatives to 0, its `hard_sigmoid` is clip(0.2x + 0.5, 0, 1)).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from ..types import TensorType, is_float
from .registry import Op, OpError, elementwise_type, require_float


def _same(types, attrs):
    return elementwise_type(types)


def _float_same(types, attrs):
    require_float(types)
    return elementwise_type(types)


def _to_bool(types, attrs):
    return elementwise_type(types, dtype="bool")


def _true_divide(types, attrs):
    t = elementwise_type(types)
    if is_float(t.dtype):
        return t
    # Integers divide in float32 (int64 in float64), as JAX does: documented in docs/language.md.
    return TensorType("float64" if t.dtype == "int64" else "float32", t.shape)


def _lower_divide(x, y):
    if not (is_float(str(x.dtype)) or is_float(str(y.dtype))):
        wide = "int64" in (str(x.dtype), str(y.dtype))
        x = x.astype("float64" if wide else "float32")
        y = y.astype("float64" if wide else "float32")
    return jnp.true_divide(x, y)


def _unary(signature, fn, doc, example="", infer=_same):
    return Op(signature, infer=infer, lower=fn, doc=doc, example=example,
              elementwise=True, category="elementwise")


def _binary(signature, fn, doc, example="", infer=_same, tensors=("x", "y")):
    return Op(signature, infer=infer, lower=fn, doc=doc, example=example, tensors=tensors,
              elementwise=True, category="elementwise")


OPS = [
    # arithmetic: the infix operators build these
    _binary("add(x, y)", jnp.add, "x + y, with NumPy broadcasting.", "output [1, 2] + [[10], [20]]"),
    _binary("subtract(x, y)", jnp.subtract, "x - y.", "output [1.0, 2.0] - 0.5"),
    _binary("multiply(x, y)", jnp.multiply, "x * y.", "output [1.0, 2.0] * 3"),
    _binary("divide(x, y)", _lower_divide, "x / y (true division: integers give floats).",
            "output [1, 2] / 2", infer=_true_divide),
    _binary("floor_divide(x, y)", jnp.floor_divide, "x // y, rounding towards -inf.",
            "output [7, -7] // 2"),
    _binary("mod(x, y)", jnp.mod, "x % y, with the sign of y (as Python and NumPy).",
            "output [7, -7] % 3"),
    _unary("negative(x)", jnp.negative, "-x.", "output -[1.0, -2.0]"),
]
