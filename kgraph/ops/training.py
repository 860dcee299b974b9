"""The learning phase, dropout and batch normalization (LANGUAGE.md §9).

`learning_phase()` is a run-time bool scalar: the interpreter's `training` value,
which `Program.run(training=...)`, `--learning-phase` and the training loop set.
A program that never reads it is compiled without it (the step takes no phase
argument). `in_train_phase` chooses by it at run time, or at compile time when
`training` is a Python value.

`dropout` draws its mask from the run's key folded with the node's uid, or from
its own seed (one mask on every run), in the lowering, where every shape is
known: a `None` batch needs nothing more.

Batch normalization follows tf_keras's code paths per input rank:
`normalize_batch_in_training` of a 4-d input reduced over (0, 1, 2) is TF's fused
batch norm, which normalises with the biased variance but returns the unbiased
one; every other case returns the biased variance (tf.nn.moments).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ..errors import ArgumentError
from ..ir import Node
from ..types import TensorType, is_float
from .registry import Op, OpError, axis_arg, elementwise_type, require_float


# ---- the learning phase ---------------------------------------------------------------

def _lower_learning_phase(ctx, node, inputs):
    return jnp.asarray(ctx.training, dtype=bool)


def _const_value(node: Node):
    """The value of a constant node (a Python scalar), or None."""
    if node.op != "const":
        return None
    array = node.attr("value").array
    return array.item() if array.size == 1 else None


def choose_by_phase(builder, site, then, other, training):
    """in_train_phase's choice: by `training` (None: the learning phase), statically if known."""
    if training is None:
        training = builder.make_node("learning_phase", {}, site)
    known = _const_value(training)
    if known is not None:
        return then if known else other
    if training.type.ndim != 0:
        raise ArgumentError(f"{site.name}: training must be a scalar, got {training.type}",
                            site.arg_span("training"))
    return builder.make_node("switch", {"condition": training, "then_expression": then,
                                        "else_expression": other}, site)


def _build_in_train_phase(builder, site, args):
    return choose_by_phase(builder, site, args["x"], args["alt"], args["training"])


def _build_in_test_phase(builder, site, args):
    return choose_by_phase(builder, site, args["alt"], args["x"], args["training"])


# ---- dropout ----------------------------------------------------------------------------

def _noise_shape(noise_shape, x_shape: tuple) -> tuple:
    """Keras's noise_shape: one entry per axis of x, None meaning x's size there."""
    if noise_shape is None:
        return tuple(x_shape)
    if not isinstance(noise_shape, tuple) or len(noise_shape) != len(x_shape):
        raise OpError(f"noise_shape must have one entry per axis of x, got {noise_shape!r}: {{0}}")
    out = []
    for n, d in zip(noise_shape, x_shape):
        if n is None:
            out.append(d)
        elif not isinstance(n, int) or isinstance(n, bool) or (n != 1 and isinstance(d, int) and n != d):
            raise OpError(f"noise_shape {noise_shape!r} does not broadcast to {{0}} (each entry "
                          f"is 1, None or the size of x's axis)")
        else:
            out.append(n)
    return tuple(out)


def _check_seed(seed) -> None:
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise OpError(f"seed must be an int, got {seed!r}", kind="argument")


def _dropout_type(types, attrs):
    require_float(types)
    level = attrs["level"]
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level < 1:
        raise OpError(f"level must be a number in [0, 1), got {level!r}", kind="argument")
    _noise_shape(attrs["noise_shape"], types[0].shape)
    _check_seed(attrs["seed"])
    return types[0]


def draw_key(ctx, node):
    """A random op's key: its own seed's, or the run's key folded with its uid."""
    seed = node.attr("seed")
    if seed is not None:
        return jax.random.PRNGKey(seed)
    if ctx.rng is None:
        raise RuntimeError(f"{node.op} without a seed was evaluated outside a run (folded?)")
    return jax.random.fold_in(ctx.rng, node.attr("uid"))


def _lower_dropout(ctx, node, inputs):
    (x,) = inputs
    level = node.attr("level")
    shape = tuple(x.shape[i] if n is None else n
                  for i, n in enumerate(_noise_shape(node.attr("noise_shape"), (None,) * x.ndim)))
    sample = jnp.float64 if x.dtype == jnp.float64 else jnp.float32
    keep = jax.random.uniform(draw_key(ctx, node), shape, sample) >= level
    return jnp.where(keep, x * jnp.asarray(1 / (1 - level), x.dtype), jnp.zeros((), x.dtype))


# ---- batch normalization -------------------------------------------------------------

def _placed(shape: tuple, ndim: int, axis: int) -> tuple:
    """Where a parameter of `shape` goes against an x of rank `ndim` normalised on `axis`:
    a vector lies along `axis`; anything else broadcasts NumPy's way."""
    if len(shape) == 1 and ndim > 1:
        return (1,) * axis + tuple(shape) + (1,) * (ndim - 1 - axis)
    return tuple(shape)


def _norm_axis(attrs, ndim: int) -> int:
    axis = attrs["axis"]
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise OpError(f"axis must be an int, got {axis!r}", kind="argument")
    return axis_arg(axis, ndim)[0]


def _flattens(ndim: int, axis: int) -> bool:
    """tf_keras's 4-d path (fused batch norm): parameters are flattened to channel vectors."""
    return ndim == 4 and axis in (1, 3)


def _batch_norm_type(types, attrs):
    require_float(types)
    x = types[0]
    axis = _norm_axis(attrs, x.ndim)
    placed = []
    for t in types[1:]:
        shape = (t.size(),) if _flattens(x.ndim, axis) and t.ndim > 1 else t.shape
        placed.append(TensorType(t.dtype, _placed(shape, x.ndim, axis)))
    return elementwise_type([x] + placed)


def _lower_batch_normalization(x, mean, var, *rest, axis, epsilon, has_beta=True, has_gamma=True):
    axis = axis_arg(axis, x.ndim)[0]
    beta = rest[0] if has_beta else None
    gamma = rest[-1] if has_gamma else None

    def place(p):
        if p is None:
            return None
        if _flattens(x.ndim, axis) and p.ndim > 1:
            p = p.reshape(-1)
        return p.reshape(_placed(p.shape, x.ndim, axis))

    mean, var, beta, gamma = map(place, (mean, var, beta, gamma))
    return normalized(x, mean, var, beta, gamma, epsilon)


def normalized(x, mean, var, beta, gamma, epsilon):
    """tf.nn.batch_normalization's formula: x * inv + (beta - mean * inv), inv = gamma / sqrt(var + eps)."""
    inv = jax.lax.rsqrt(var + jnp.asarray(epsilon, var.dtype))
    if gamma is not None:
        inv = inv * gamma
    shift = -mean * inv if beta is None else beta - mean * inv
    return x * inv + shift


def _reduction_axes(value, ndim: int) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, tuple) or not value:
        raise OpError(f"reduction_axes must be a list of ints, got {value!r}", kind="argument")
    return axis_arg(value, ndim)


def _moments_type(types, attrs):
    require_float(types)
    x = types[0]
    axes = axis_arg(attrs["axes"], x.ndim)
    return TensorType(x.dtype, tuple(1 if i in axes else d for i, d in enumerate(x.shape))
                      if attrs["keepdims"] else tuple(d for i, d in enumerate(x.shape) if i not in axes))


def _lower_batch_moment(x, *, axes, keepdims, moment):
    mean = jnp.mean(x, axis=axes, keepdims=True)
    if moment == "mean":
        value = mean
    else:  # tf.nn.moments' value (without its stop_gradient, which breaks second derivatives)
        value = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
        if moment == "unbiased":
            n = math.prod(x.shape[a] for a in axes)
            if isinstance(n, int):
                value = value * jnp.asarray(n / max(n - 1, 1), x.dtype)
            else:  # a symbolic dimension (an exported program's batch): the count is computed
                count = jnp.asarray(n, x.dtype)
                value = value * (count / jnp.maximum(count - 1, 1))
    return value if keepdims else jnp.squeeze(value, axes)


def _build_normalize_batch(builder, site, args):
    x, gamma, beta = args["x"], args["gamma"], args["beta"]
    if not is_float(x.dtype):
        raise ArgumentError(f"{site.name}: expects a floating-point tensor, but {site.label('x')} is "
                            f"{x.type}", site.arg_span("x"))
    ndim = x.type.ndim
    try:
        axes = _reduction_axes(args["reduction_axes"], ndim)
    except OpError as e:
        raise ArgumentError(f"{site.name}: {e.template.format(site.label('x'))}",
                            site.arg_span("reduction_axes")) from None
    given = list(args["reduction_axes"]) if isinstance(args["reduction_axes"], tuple) else None
    fused = ndim == 4 and given == [0, 1, 2]
    epsilon = args["epsilon"]

    def moment(kind, keepdims):
        return builder.make_node("batch_moment", {"x": x, "axes": axes, "keepdims": keepdims,
                                                  "moment": kind}, site)

    target = tuple(1 if i in axes else (-1 if not isinstance(d, int) else d)
                   for i, d in enumerate(x.shape))

    def shaped(p):  # gamma and beta as tf_keras broadcasts them (the fused kernel takes vectors)
        if p is None or fused or p.type.ndim == ndim:
            return p
        return builder.make_node("reshape", {"x": p, "shape": target}, site)

    # Every operand has x's rank, so batch_normalization only broadcasts, except on the fused
    # path (axis 3 of a 4-d x), where it flattens them to channel vectors as TF's kernel does.
    normed = builder.make_node("batch_normalization", {
        "x": x, "mean": moment("mean", True), "var": moment("variance", True),
        "beta": shaped(beta), "gamma": shaped(gamma), "axis": -1 if fused else 0,
        "epsilon": epsilon}, site)
    return [normed, moment("mean", False), moment("unbiased" if fused else "variance", False)]


def _build_moving_average_update(builder, site, args):
    x, value, momentum = args["x"], args["value"], args["momentum"]
    keep = builder.make_node("subtract", {"x": builder.tensor(1, site.span, like=momentum.dtype),
                                          "y": momentum}, site)
    step = builder.make_node("multiply", {"x": builder.make_node("subtract", {"x": x, "y": value}, site),
                                          "y": keep}, site)
    return builder.make_node("subtract", {"x": x, "y": step}, site)


_X = "x = [[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]]\n"

OPS = [
    Op("learning_phase()", infer=lambda types, attrs: TensorType("bool", ()), lower=None,
       lower_node=_lower_learning_phase, tensors=(), foldable=False, category="nn",
       doc="The learning phase, a bool scalar known when the program runs: False for a plain run, "
           "True in the training loop's steps; `--learning-phase 0|1` or run(training=...) sets it.",
       example="output learning_phase(), learning_phase() == 0"),
    Op("in_train_phase(x, alt, training=None)", infer=None, lower=None, tensors=("x", "alt", "training"),
       build=_build_in_train_phase, category="nn",
       doc="x in the training phase, alt otherwise: by `training` when given (a Python value "
           "chooses at compile time), else by learning_phase().",
       example=_X + "output in_train_phase(x * 2, x), in_train_phase(x * 2, x, training=True)"),
    Op("in_test_phase(x, alt, training=None)", infer=None, lower=None, tensors=("x", "alt", "training"),
       build=_build_in_test_phase, category="nn",
       doc="x in the test phase, alt otherwise (in_train_phase with the branches swapped).",
       example=_X + "output in_test_phase(x * 2, x)"),
    Op("dropout(x, level, noise_shape=None, seed=None)", infer=_dropout_type, lower=None,
       lower_node=_lower_dropout, foldable=False, unique=True, category="nn",
       doc="Sets each entry to 0 with probability `level` and scales the rest by 1 / (1 - level), "
           "always (as K.dropout; choose with in_train_phase). A fresh mask every run, or one "
           "fixed by `seed`; `noise_shape` (None entries: x's size) shares a mask along axes of size 1.",
       example="output dropout(ones((2, 4)), 0.5, seed=1), dropout(ones((3, 4)), 0.5, noise_shape=(3, 1), seed=2)"),
    Op("batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=0.001)",
       infer=_batch_norm_type, lower=_lower_batch_normalization,
       tensors=("x", "mean", "var", "beta", "gamma"), nullable=("beta", "gamma"), category="nn",
       doc="(x - mean) / sqrt(var + epsilon) * gamma + beta; vectors lie along `axis`, other "
           "shapes broadcast (for a 4-d x normalised on axis 1 or 3 they are flattened to "
           "vectors, as TF's fused batch norm does).",
       example=_X + "output batch_normalization(x, [3.0, 5.0], [4.0, 9.0], [0.0, 1.0], [1.0, 2.0])"),
    Op("normalize_batch_in_training(x, gamma, beta, reduction_axes, epsilon=0.001)", infer=None,
       lower=None, tensors=("x", "gamma", "beta"), nullable=("gamma", "beta"),
       build=_build_normalize_batch, category="nn",
       doc="Normalises x by its mean and variance over `reduction_axes`: returns normed, mean, var "
           "(var is the biased variance, except for a 4-d x reduced over (0, 1, 2), where tf_keras "
           "returns the unbiased one; normed always uses the biased one).",
       example=_X + "normed, mean, var = normalize_batch_in_training(x, [1.0, 1.0], [0.0, 0.0], [0])\n"
                    "output normed, mean, var"),
    Op("moving_average_update(x, value, momentum)", infer=None, lower=None,
       tensors=("x", "value", "momentum"), build=_build_moving_average_update, category="nn",
       doc="The moving average's new value x - (x - value) * (1 - momentum), for `update x = ...`.",
       example="variable m = zeros((2,))\nupdate m = moving_average_update(m, [2.0, 4.0], 0.9)\noutput m"),
    Op("batch_moment(x, axes, keepdims, moment)", infer=_moments_type, lower=_lower_batch_moment,
       category="internal",
       doc="A moment of x over `axes` (\"mean\", \"variance\" (biased) or \"unbiased\"): "
           "what normalize_batch_in_training computes.",
       example=_X + "normed, mean, var = normalize_batch_in_training(x, None, None, [0])\noutput mean"),
]
