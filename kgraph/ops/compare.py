"""Comparisons and selections: equal ... less_equal, maximum, minimum, clip, switch.

Gradients follow TensorFlow where it differs from JAX: at a tie, `maximum(x, y)`
sends the whole gradient to x (TF's `x >= y` mask) where JAX would split it in
halves; `minimum` likewise (`x <= y`). `clip` is tf.clip_by_value, i.e.
maximum(minimum(x, max), min), so a value sitting on a bound passes its gradient.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..types import TensorType, is_int
from .registry import Op, OpError, elementwise_type


def _tf_chooser(value, pick_x):
    """An elementwise max/min whose tangent at a tie comes from x, as TF's gradient."""

    @jax.custom_jvp
    def choose(x, y):
        return value(x, y)  # NaN propagates from either side (TF >= 2.4, JAX)

    @choose.defjvp
    def choose_jvp(primals, tangents):
        x, y = primals
        tx, ty = tangents
        mask = pick_x(x, y)
        return choose(x, y), jnp.where(mask, tx, ty)

    return choose


_tf_maximum = _tf_chooser(jnp.maximum, lambda x, y: x >= y)
_tf_minimum = _tf_chooser(jnp.minimum, lambda x, y: x <= y)


def _chooser_lowering(float_fn, int_fn):
    def lower(x, y):
        dtype = jnp.result_type(x, y)
        x, y = x.astype(dtype), y.astype(dtype)
        if jnp.issubdtype(dtype, jnp.inexact):
            return float_fn(x, y)
        return int_fn(x, y)  # nothing to differentiate

    return lower


_lower_maximum = _chooser_lowering(_tf_maximum, jnp.maximum)
_lower_minimum = _chooser_lowering(_tf_minimum, jnp.minimum)


def tf_clip(x, min_value, max_value):
    """tf.clip_by_value with static bounds (None: no bound on that side)."""
    if max_value is not None:
        x = _lower_minimum(x, jnp.asarray(max_value, x.dtype))
    if min_value is not None:
        x = _lower_maximum(x, jnp.asarray(min_value, x.dtype))
    return x


def _clip_bounds(min_value, max_value):
    # tf_keras: when both bounds are numbers and max < min, max is raised to min.
    if min_value is not None and max_value is not None and max_value < min_value:
        max_value = min_value
    return min_value, max_value


def _clip_type(types, attrs):
    (x,) = types
    for name in ("min_value", "max_value"):
        v = attrs[name]
        if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool)):
            raise OpError(f"{name} must be a number or None, got {v!r}", kind="argument")
        if v is not None and is_int(x.dtype) and np.isfinite(v) and float(v) != int(v):
            raise OpError(f"{name}={v!r} is not an integer, but {{0}}", kind="dtype")
    if x.dtype == "bool":
        raise OpError("expects a numeric tensor, but {0}", kind="dtype")
    return x


def _lower_clip(x, *, min_value, max_value):
    min_value, max_value = _clip_bounds(min_value, max_value)
    if is_int(str(x.dtype)):
        # ±inf bounds mean "no bound" (None), which an integer tensor cannot hold.
        min_value = None if min_value is not None and np.isinf(min_value) else min_value
        max_value = None if max_value is not None and np.isinf(max_value) else max_value
    return tf_clip(x, min_value, max_value)


# ---- switch -------------------------------------------------------------------

def _switch_condition_shape(cond: tuple, expr_ndim: int) -> tuple:
    """tf_keras reshapes a condition of rank > 1 to cond.shape + (1, ...) up to the
    rank of then_expression (then tiles it, which is broadcasting). A rank-1
    condition is left alone, so tf.where broadcasts it NumPy's way, against the
    trailing axis; a scalar condition picks a whole branch."""
    if len(cond) > 1:
        return tuple(cond) + (1,) * (expr_ndim - len(cond))
    return tuple(cond)


def _switch_type(types, attrs):
    cond, then, other = types
    if cond.ndim > then.ndim:
        raise OpError("the condition's rank must not exceed then_expression's: {0}, {1}")
    shaped = TensorType(cond.dtype, _switch_condition_shape(cond.shape, then.ndim))
    shape = elementwise_type([shaped, then, other]).shape
    return TensorType(elementwise_type([then, other]).dtype, shape)


def _lower_switch(condition, then_expression, else_expression):
    cond = condition.astype(bool)
    cond = cond.reshape(_switch_condition_shape(cond.shape, then_expression.ndim))
    dtype = jnp.result_type(then_expression, else_expression)
    return jnp.where(cond, then_expression.astype(dtype), else_expression.astype(dtype))


_XY = "x = [[1.0, -2.0], [3.0, 4.0]]\ny = [[1.0, 2.0], [0.0, 4.0]]\n"

# name, lowering, infix operator, doc
_COMPARISONS = [
    ("equal", jnp.equal, "==", "Element-wise equality between two tensors (x == y)."),
    ("not_equal", jnp.not_equal, "!=", "Element-wise inequality between two tensors (x != y)."),
    ("greater", jnp.greater, ">", "Element-wise truth value of (x > y)."),
    ("greater_equal", jnp.greater_equal, ">=", "Element-wise truth value of (x >= y)."),
    ("less", jnp.less, "<", "Element-wise truth value of (x < y)."),
    ("less_equal", jnp.less_equal, "<=", "Element-wise truth value of (x <= y)."),
]


def _compare(name, fn, infix, doc):
    return Op(f"{name}(x, y)", infer=lambda types, attrs: elementwise_type(types, dtype="bool"), lower=fn,
              doc=doc, example=_XY + f"output {name}(x, y), x {infix} 3", tensors=("x", "y"),
              elementwise=True, category="elementwise", commutative=name in ("equal", "not_equal"))


def _chooser(name, fn):
    return Op(f"{name}(x, y)", infer=lambda types, attrs: elementwise_type(types), lower=fn,
              tensors=("x", "y"), elementwise=True, category="elementwise", commutative=True,
              doc=f"Element-wise {name} of two tensors (at a tie the gradient goes to x, as TensorFlow).",
              example=_XY + f"output {name}(x, y), {name}(x, 0.0)")


OPS = [_compare(*row) for row in _COMPARISONS] + [
    _chooser("maximum", _lower_maximum),
    _chooser("minimum", _lower_minimum),
    Op("clip(x, min_value, max_value)", infer=_clip_type, lower=_lower_clip, elementwise=True,
       category="elementwise",
       doc="Element-wise value clipping to [min_value, max_value] (None: unbounded; "
           "max_value < min_value gives min_value).",
       example=_XY + "output clip(x, 0.0, 3.0), clip(x, None, 2.0), clip(x, 2.0, 1.0)"),
    Op("switch(condition, then_expression, else_expression)", infer=_switch_type, lower=_lower_switch,
       tensors=("condition", "then_expression", "else_expression"), elementwise=True,
       category="elementwise",
       doc="Selects then_expression where condition is true, else_expression elsewhere "
           "(a scalar condition picks a whole branch).",
       example=_XY + "output switch(x > y, x, y), switch(True, x, y), switch([[True], [False]], x, 0.0)"),
]
