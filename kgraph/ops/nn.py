"""Neural-network ops: softmax and the losses, with Keras's logits detection."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from ..types import TensorType, dims_agree
from .reduce import reduced_shape
from .registry import Op, OpError, axis_arg, require_float

EPSILON = 1e-7


def _softmax_type(types, attrs):
    require_float(types)
    axis_arg(attrs["axis"], types[0].ndim)
    return types[0]


def _crossentropy_type(types, attrs):
    target, output = types
    require_float([output])
    if target.ndim != output.ndim or not all(map(dims_agree, target.shape, output.shape)):
        raise OpError("target and output shapes differ: {0}, {1}")
    axis = axis_arg(attrs["axis"], output.ndim)
    return TensorType(output.dtype, reduced_shape(output.shape, axis, False))


def _lower_categorical_crossentropy(target, output, *, from_logits, axis):
    target = target.astype(output.dtype)
    if from_logits:
        return -jnp.sum(target * jax.nn.log_softmax(output, axis=axis), axis=axis)
    output = output / jnp.sum(output, axis=axis, keepdims=True)
    eps = jnp.asarray(EPSILON, output.dtype)
    output = jnp.clip(output, eps, 1 - eps)
    return -jnp.sum(target * jnp.log(output), axis=axis)


def _build_categorical_crossentropy(builder, call, args):
    # Keras (_get_logits): an `output` made by softmax is read through to its logits.
    output = args["output"]
    if not args["from_logits"] and output.op == "softmax":
        args = dict(args, output=output.srcs[0], from_logits=True)
    return builder.make_node("categorical_crossentropy", args, call)


OPS = [
    Op("softmax(x, axis=-1)", infer=_softmax_type, lower=lambda x, *, axis: jax.nn.softmax(x, axis=axis),
       doc="Softmax of a tensor along an axis: exp(x) / sum(exp(x)).",
       example="output softmax([[1.0, 2.0, 3.0]])", category="nn"),
    Op("categorical_crossentropy(target, output, from_logits=False, axis=-1)",
       infer=_crossentropy_type, lower=_lower_categorical_crossentropy,
       tensors=("target", "output"), build=_build_categorical_crossentropy,
       doc="Categorical crossentropy between a one-hot target and an output tensor (probabilities "
           "renormalised to sum 1 and clipped to [1e-7, 1 - 1e-7]; a softmax output is read as its logits).",
       example="t = [[0.0, 1.0, 0.0]]\np = softmax([[1.0, 2.0, 3.0]])\noutput categorical_crossentropy(t, p)",
       category="nn"),
]
