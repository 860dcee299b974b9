"""Reductions along axes, with Keras's defaults (axis=None, keepdims=False).

`axis` is None (every axis), an int, or a tuple/list of ints. Dtypes follow
tf_keras: sums and products keep integer dtypes (int32 stays int32 under x64);
`mean`, `var` and `std` of a bool tensor cast it to floatx() first; the mean of
an integer tensor is an integer, truncated towards zero as tf.reduce_mean does
in C++ (mean([-1, -2]) is -1); `var` is the population variance (the mean of
squared deviations) and, as tf.math.reduce_variance, refuses integers; `any` and
`all` cast to bool; `argmax`/`argmin` give int64.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..types import TensorType
from .registry import Op, OpError, axis_arg, require_float


def reduced_shape(shape, axis, keepdims):
    axes = set(range(len(shape))) if axis is None else set(axis)
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _axes(axis, ndim):
    """The axis attribute as jnp wants it: a scalar has nothing to name (axis 0 means all)."""
    return None if ndim == 0 else axis


def _summed_dtype(dtype: str) -> str:
    return "int32" if dtype == "bool" else dtype


def _reduce_type(types, attrs, dtype=None):
    (x,) = types
    axis = axis_arg(attrs["axis"], x.ndim)
    return TensorType(dtype or x.dtype, reduced_shape(x.shape, axis, attrs["keepdims"]))


def _sum_type(types, attrs):
    return _reduce_type(types, attrs, _summed_dtype(types[0].dtype))


def _mean_type(types, attrs):
    if types[0].dtype == "bool":
        raise OpError("a bool tensor is cast to floatx() before its mean: {0}", kind="dtype")
    return _reduce_type(types, attrs)


def _float_reduce_type(types, attrs):
    require_float(types)
    return _reduce_type(types, attrs)


def _bool_reduce_type(types, attrs):
    return _reduce_type(types, attrs, "bool")


def _lower_sum(x, *, axis, keepdims):
    return jnp.sum(x, axis=_axes(axis, x.ndim), keepdims=keepdims, dtype=_summed_dtype(x.dtype.name))


def _lower_prod(x, *, axis, keepdims):
    return jnp.prod(x, axis=_axes(axis, x.ndim), keepdims=keepdims, dtype=_summed_dtype(x.dtype.name))


def _lowest(dtype):
    if dtype == jnp.bool_:
        return False
    return -np.inf if jnp.issubdtype(dtype, jnp.inexact) else jnp.iinfo(dtype).min


def _highest(dtype):
    if dtype == jnp.bool_:
        return True
    return np.inf if jnp.issubdtype(dtype, jnp.inexact) else jnp.iinfo(dtype).max


def _lower_max(x, *, axis, keepdims):
    # `initial`: an empty reduction gives the lowest value, as tf.reduce_max, not an error.
    return jnp.max(x, axis=_axes(axis, x.ndim), keepdims=keepdims, initial=_lowest(x.dtype))


def _lower_min(x, *, axis, keepdims):
    return jnp.min(x, axis=_axes(axis, x.ndim), keepdims=keepdims, initial=_highest(x.dtype))


def _lower_mean(x, *, axis, keepdims):
    axis = _axes(axis, x.ndim)
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.mean(x, axis=axis, keepdims=keepdims)
    total = jnp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)
    axes = range(x.ndim) if axis is None else np.atleast_1d(axis)
    # An empty axis gives NumPy's integer division by zero, 0 (a 0 divisor traps in XLA's CPU code).
    count = max(int(np.prod([x.shape[a] for a in axes], dtype=np.int64)), 1)
    return jax.lax.div(total, jnp.asarray(count, x.dtype))  # integer division truncating towards 0


def _lower_var(x, *, axis, keepdims):
    axis = _axes(axis, x.ndim)
    deviations = x - jnp.mean(x, axis=axis, keepdims=True)
    return jnp.mean(jnp.square(deviations), axis=axis, keepdims=keepdims)


def _lower_std(x, *, axis, keepdims):
    return jnp.sqrt(_lower_var(x, axis=axis, keepdims=keepdims))


def _lower_any(x, *, axis, keepdims):
    return jnp.any(x.astype(bool), axis=_axes(axis, x.ndim), keepdims=keepdims)


def _lower_all(x, *, axis, keepdims):
    return jnp.all(x.astype(bool), axis=_axes(axis, x.ndim), keepdims=keepdims)


def _lower_logsumexp(x, *, axis, keepdims):
    return jax.nn.logsumexp(x, axis=_axes(axis, x.ndim), keepdims=keepdims)


def _bools_to_floatx(name):
    """tf_keras's mean/var/std cast a bool tensor to floatx() first."""

    def build(builder, site, args):
        x = args["x"]
        if x.dtype == "bool":
            x = builder.make_node("cast", {"x": x, "dtype": builder.floatx}, site)
        return builder.make_node(name, dict(args, x=x), site)

    return build


# ---- one axis: argmax, argmin, cumsum, cumprod ------------------------------------

def _single_axis(types, attrs, none_means=None):
    (x,) = types
    axis = attrs["axis"]
    if axis is None and none_means is not None:
        axis = none_means  # tf.argmax(x, axis=None) reduces axis 0
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise OpError(f"axis must be an int, got {axis!r}", kind="argument")
    if x.ndim == 0:
        raise OpError("needs a tensor of rank 1 or more: {0}")
    return axis_arg(axis, x.ndim)[0]


def _arg_type(types, attrs):
    axis = _single_axis(types, attrs, none_means=0)
    if types[0].shape[axis] == 0:  # NumPy and TensorFlow raise too
        raise OpError(f"attempt to take the arg-max/min of an empty axis (axis {axis} of {{0}})")
    return TensorType("int64", reduced_shape(types[0].shape, (axis,), False))


def _cumulative_type(types, attrs):
    _single_axis(types, attrs)
    return TensorType(_summed_dtype(types[0].dtype), types[0].shape)


def _lower_argmax(x, *, axis):
    return jnp.argmax(x, axis=0 if axis is None else axis).astype("int64")


def _lower_argmin(x, *, axis):
    return jnp.argmin(x, axis=0 if axis is None else axis).astype("int64")


def _lower_cumsum(x, *, axis):
    return jnp.cumsum(x, axis=axis, dtype=_summed_dtype(x.dtype.name))


def _lower_cumprod(x, *, axis):
    return jnp.cumprod(x, axis=axis, dtype=_summed_dtype(x.dtype.name))


def _reduction(signature, infer, lower, doc, example, build=None):
    return Op(signature, infer=infer, lower=lower, doc=doc, example=example, build=build,
              category="reduction")


_X = "x = [[1.0, 2.0], [3.0, 4.0]]\n"
_SIG = "(x, axis=None, keepdims=False)"

OPS = [
    _reduction("sum" + _SIG, _sum_type, _lower_sum,
               "Sum of the values in a tensor, alongside the specified axis.",
               _X + "output sum(x), sum(x, axis=1, keepdims=True)"),
    _reduction("prod" + _SIG, _sum_type, _lower_prod,
               "Multiplies the values in a tensor, alongside the specified axis.",
               _X + "output prod(x), prod(x, axis=0)"),
    _reduction("mean" + _SIG, _mean_type, _lower_mean,
               "Mean of a tensor, alongside the specified axis (integers: truncated; bools: floatx).",
               _X + "output mean(x), mean(x, axis=-1), mean([1, 2, 4])",
               build=_bools_to_floatx("mean")),
    _reduction("max" + _SIG, _reduce_type, _lower_max, "Maximum value in a tensor.",
               _X + "output max(x), max(x, axis=0, keepdims=True)"),
    _reduction("min" + _SIG, _reduce_type, _lower_min, "Minimum value in a tensor.",
               _X + "output min(x), min(x, axis=(0, 1))"),
    _reduction("var" + _SIG, _float_reduce_type, _lower_var,
               "Variance of a tensor, alongside the specified axis (the population variance).",
               _X + "output var(x), var(x, axis=0)", build=_bools_to_floatx("var")),
    _reduction("std" + _SIG, _float_reduce_type, _lower_std,
               "Standard deviation of a tensor, alongside the specified axis (population).",
               _X + "output std(x), std(x, axis=1)", build=_bools_to_floatx("std")),
    _reduction("any" + _SIG, _bool_reduce_type, _lower_any, "Bitwise reduction (logical OR).",
               "x = [[0, 1], [0, 0]]\noutput any(x), any(x, axis=1)"),
    _reduction("all" + _SIG, _bool_reduce_type, _lower_all, "Bitwise reduction (logical AND).",
               "x = [[0, 1], [2, 3]]\noutput all(x), all(x, axis=0)"),
    _reduction("logsumexp" + _SIG, _float_reduce_type, _lower_logsumexp,
               "Computes log(sum(exp(elements))) along the axes, without overflow.",
               "x = [[1000.0, 1000.0], [-1.0, 2.0]]\noutput logsumexp(x, axis=1), logsumexp(x)"),
    _reduction("argmax(x, axis=-1)", _arg_type, _lower_argmax,
               "Returns the index of the maximum value along an axis (int64; the first of ties).",
               "x = [[1.0, 5.0, 5.0], [7.0, 2.0, 3.0]]\noutput argmax(x), argmax(x, axis=0)"),
    _reduction("argmin(x, axis=-1)", _arg_type, _lower_argmin,
               "Returns the index of the minimum value along an axis (int64; the first of ties).",
               "x = [[1.0, 5.0, 1.0], [7.0, 2.0, 3.0]]\noutput argmin(x), argmin(x, axis=0)"),
    _reduction("cumsum(x, axis=0)", _cumulative_type, _lower_cumsum,
               "Cumulative sum of the values in a tensor, alongside the specified axis.",
               _X + "output cumsum(x), cumsum(x, axis=1)"),
    _reduction("cumprod(x, axis=0)", _cumulative_type, _lower_cumprod,
               "Cumulative product of the values in a tensor, alongside the specified axis.",
               _X + "output cumprod(x), cumprod(x, axis=1)"),
]
