"""Reductions along axes, with Keras's defaults (axis=None, keepdims=False)."""
from __future__ import annotations

import jax.numpy as jnp

from ..types import TensorType
from .registry import Op, axis_arg


def reduced_shape(shape, axis, keepdims):
    axes = set(range(len(shape))) if axis is None else set(axis)
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_type(types, attrs):
    (x,) = types
    axis = axis_arg(attrs["axis"], x.ndim)
    dtype = "int32" if x.dtype == "bool" else x.dtype
    return TensorType(dtype, reduced_shape(x.shape, axis, attrs["keepdims"]))


def _lower_sum(x, *, axis, keepdims):
    dtype = "int32" if x.dtype == jnp.bool_ else x.dtype
    return jnp.sum(x, axis=axis, keepdims=keepdims, dtype=dtype)


OPS = [
    Op("sum(x, axis=None, keepdims=False)", infer=_reduce_type, lower=_lower_sum,
       doc="Sum of the values in a tensor, alongside the specified axis.",
       example="x = [[1.0, 2.0], [3.0, 4.0]]\noutput sum(x), sum(x, axis=1, keepdims=True)",
       category="reduction"),
]
