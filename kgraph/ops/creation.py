"""Tensor creation: zeros, ones, eye, constants, ranges and seeded random tensors."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from ..types import TensorType
from .registry import Op, OpError


def static_shape(shape) -> tuple:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                               for d in shape):
        raise OpError(f"shape must be a tuple of non-negative ints, got {shape!r}", kind="argument")
    return shape


def _filled_type(types, attrs):
    return TensorType(attrs["dtype"], static_shape(attrs["shape"]))


def _random_key(seed):
    return jax.random.PRNGKey(seed)


def _lower_random_normal_variable(*, shape, mean, scale, dtype, seed):
    draw = jax.random.normal(_random_key(seed), shape, dtype=jnp.float64 if dtype == "float64" else jnp.float32)
    return (draw * scale + mean).astype(dtype)


OPS = [
    Op("zeros(shape, dtype=None)", infer=_filled_type, tensors=(),
       lower=lambda *, shape, dtype: jnp.zeros(shape, dtype),
       doc="A tensor of zeros (dtype floatx() unless given).", example="output zeros((2, 3))",
       category="creation"),
    Op("random_normal_variable(shape, mean, scale, dtype=None, seed=None)", infer=_filled_type,
       tensors=(), lower=_lower_random_normal_variable,
       doc="Values drawn from a normal distribution (deterministic for a seed).",
       example="output random_normal_variable((2, 2), mean=0.0, scale=1.0, seed=0)",
       category="creation"),
]
