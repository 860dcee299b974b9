"""Linear algebra: dot, batch_dot, transpose, matmul."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ..types import DimMismatch, TensorType, broadcast_shapes, dims_agree, format_dim, promote
from .registry import Op, OpError
from .shape import merge_dims


def _contraction_error(k_x, k_y, extra=""):
    dims = (extra, format_dim(k_x), format_dim(k_y))
    return OpError("contraction dims differ: {0}, {1}%s (%s != %s)" % dims)


def _dot_type(types, attrs):
    x, y = types
    if x.ndim == 0 or y.ndim == 0:
        raise OpError("needs tensors of rank 1 or more: {0}, {1}")
    k_y = y.shape[0] if y.ndim == 1 else y.shape[-2]
    if not dims_agree(x.shape[-1], k_y):
        raise _contraction_error(x.shape[-1], k_y)
    shape = x.shape[:-1] + (y.shape[:-2] + y.shape[-1:] if y.ndim >= 2 else ())
    return TensorType(promote(x.dtype, y.dtype), shape)


# ---- batch_dot: tf_keras's rules, including its axes defaults and rank-2 handling ----

def _batch_dot_axes(x: TensorType, y: TensorType, axes) -> tuple[int, int]:
    if x.ndim < 2 or y.ndim < 2:
        raise OpError("needs inputs of rank 2 or more: {0}, {1}")
    if isinstance(axes, int) and not isinstance(axes, bool):
        axes = (axes, axes)
    if axes is None:
        axes = (x.ndim - 1, y.ndim - 1 if y.ndim == 2 else y.ndim - 2)
    if not (isinstance(axes, tuple) and len(axes) == 2
            and all(isinstance(a, int) and not isinstance(a, bool) for a in axes)):
        raise OpError(f"axes must be None, an int or a pair of ints, got {axes!r}",
                      kind="argument")
    a0, a1 = axes[0] + (x.ndim if axes[0] < 0 else 0), axes[1] + (y.ndim if axes[1] < 0 else 0)
    if not (0 <= a0 < x.ndim and 0 <= a1 < y.ndim):
        raise OpError(f"axes {axes!r} are out of range: {{0}}, {{1}}")
    if 0 in (a0, a1):
        raise OpError("cannot contract over the batch axis 0; to dot unbatched inputs, "
                      "add a batch axis with expand_dims(x, 0)", kind="argument")
    return a0, a1


def _batch_dot_type(types, attrs):
    x, y = types
    a0, a1 = _batch_dot_axes(x, y, attrs["axes"])
    if not dims_agree(x.shape[0], y.shape[0]):
        raise OpError("batch sizes differ: {0}, {1} (%s != %s)" % (x.shape[0], y.shape[0]))
    if not dims_agree(x.shape[a0], y.shape[a1]):
        raise _contraction_error(x.shape[a0], y.shape[a1], f" with axes=({a0}, {a1})")
    x_rest = [d for i, d in enumerate(x.shape) if i not in (0, a0)]
    y_rest = [d for i, d in enumerate(y.shape) if i not in (0, a1)]
    # Keras expands rank-2 inputs to rank 3 and squeezes one axis back: two rank-2
    # inputs give (batch, 1), not (batch,).
    tail = (1,) if x.ndim == 2 and y.ndim == 2 else ()
    shape = (merge_dims(x.shape[0], y.shape[0]), *x_rest, *y_rest, *tail)
    return TensorType(promote(x.dtype, y.dtype), shape)


def _lower_batch_dot(x, y, *, axes):
    tx, ty = (TensorType(str(v.dtype), v.shape) for v in (x, y))
    a0, a1 = _batch_dot_axes(tx, ty, axes)
    dtype = promote(tx.dtype, ty.dtype)
    out = jax.lax.dot_general(x.astype(dtype), y.astype(dtype), (((a0,), (a1,)), ((0,), (0,))))
    return out[..., None] if x.ndim == 2 and y.ndim == 2 else out


# ---- matmul (the `@` operator): numpy.matmul, batch dims broadcast ---------------------

def _matmul_type(types, attrs):
    x, y = types
    if x.ndim == 0 or y.ndim == 0:
        raise OpError("needs tensors of rank 1 or more: {0}, {1}")
    xs = (1,) + x.shape if x.ndim == 1 else x.shape
    ys = y.shape + (1,) if y.ndim == 1 else y.shape
    if not dims_agree(xs[-1], ys[-2]):
        raise _contraction_error(xs[-1], ys[-2])
    try:
        batch = broadcast_shapes(xs[:-2], ys[:-2])
    except DimMismatch as e:
        raise OpError(f"batch dims cannot be broadcast together: {{0}}, {{1}} ({e})") from None
    shape = batch + (xs[-2],) * (x.ndim > 1) + (ys[-1],) * (y.ndim > 1)
    return TensorType(promote(x.dtype, y.dtype), shape)


def _lower_dot(x, y):
    """jnp.dot, straight to the primitive for the common case (a matrix on the right, equal
    dtypes): tracing jnp.dot costs several times its one dot_general."""
    if y.ndim == 2 and x.ndim >= 1 and x.dtype == y.dtype and x.dtype != bool:
        return lax.dot_general(x, y, (((x.ndim - 1,), (0,)), ((), ())))
    return jnp.dot(x, y)


def _lower_matmul(x, y):
    dtype = promote(str(x.dtype), str(y.dtype))
    return jnp.matmul(x.astype(dtype), y.astype(dtype))


OPS = [
    Op("dot(x, y)", infer=_dot_type, lower=_lower_dot, tensors=("x", "y"),
       doc="Multiplies 2 tensors as numpy.dot: the last axis of x against the second-to-last of y "
           "((2, 3) · (4, 3, 5) → (2, 4, 5)).",
       example="x = ones((2, 3))\ny = ones((4, 3, 5))\noutput int_shape(dot(x, y))",
       category="linalg"),
    Op("batch_dot(x, y, axes=None)", infer=_batch_dot_type, lower=_lower_batch_dot, tensors=("x", "y"),
       doc="Batchwise dot product: x.shape[axes[0]] against y.shape[axes[1]] for each sample "
           "of the batch (axis 0); two rank-2 inputs give shape (batch, 1).",
       example="x = ones((32, 20, 1))\ny = ones((32, 30, 20))\noutput int_shape(batch_dot(x, y, axes=(1, 2)))",
       category="linalg"),
    Op("transpose(x)", infer=lambda t, a: TensorType(t[0].dtype, t[0].shape[::-1]), lower=jnp.transpose,
       doc="Transposes a tensor: reverses all its axes.",
       example="output transpose([[1, 2, 3], [4, 5, 6]])", category="linalg"),
    Op("matmul(x, y)", infer=_matmul_type, lower=_lower_matmul, tensors=("x", "y"),
       doc="Matrix product as numpy.matmul (the `@` operator): batch dims broadcast, 1-D operands "
           "are vectors.",
       example="a = [[1.0, 2.0], [3.0, 4.0]]\noutput a @ a, a @ [1.0, 0.0]", category="linalg"),
]
