"""Linear algebra: dot, batch_dot, transpose, matmul."""
from __future__ import annotations

import jax.numpy as jnp

from ..types import TensorType, dims_agree, format_dim, promote
from .registry import Op, OpError


def _dot_type(types, attrs):
    x, y = types
    if x.ndim == 0 or y.ndim == 0:
        raise OpError("dot needs tensors of rank 1 or more: {0}, {1}")
    k_y = y.shape[0] if y.ndim == 1 else y.shape[-2]
    if not dims_agree(x.shape[-1], k_y):
        raise OpError("contraction dims differ: {0}, {1} (%s != %s)"
                      % (format_dim(x.shape[-1]), format_dim(k_y)))
    shape = x.shape[:-1] + (y.shape[:-2] + y.shape[-1:] if y.ndim >= 2 else ())
    return TensorType(promote(x.dtype, y.dtype), shape)


OPS = [
    Op("dot(x, y)", infer=_dot_type, lower=jnp.dot, tensors=("x", "y"),
       doc="Multiplies 2 tensors as numpy.dot: the last axis of x against the second-to-last of y "
           "((2, 3) · (4, 3, 5) → (2, 4, 5)).",
       example="x = ones((2, 3))\ny = ones((4, 3, 5))\noutput int_shape(dot(x, y))",
       category="linalg"),
]
