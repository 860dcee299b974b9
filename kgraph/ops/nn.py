"""Neural-network ops: softmax, the crossentropies (with Keras's logits detection),
l2_normalize and bias_add.

As tf_keras's `_get_logits`, a crossentropy whose `output` is directly a `softmax`
over the last axis (for the binary form, a `sigmoid`: the op's `reads_logits`) is
computed from the logits underneath, with `from_logits=True`; if the call already
said `from_logits=True`, Keras warns and does the same. The rule is settled once,
when the loss is built: the builder makes the loss node over the logits with
`from_logits=True`, so the graph, every pass and the lowering see the logits form
and need no special case (a softmax a rewrite uncovers later is probabilities, as
the program wrote them).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ..ir import Node
from ..types import broadcast_dim, TensorType, dims_agree, is_float, promote
from .reduce import reduced_shape
from .registry import Op, OpError, axis_arg, elementwise_type, require_float
from .shape import merge_dims, one_axis

EPSILON = 1e-7
L2_EPSILON = 1e-12  # tf.linalg.l2_normalize's floor on the squared norm


def _softmax_type(types, attrs):
    require_float(types)
    if types[0].ndim <= 1:  # tf_keras refuses these
        raise OpError("cannot apply softmax to a tensor of rank 0 or 1: {0}")
    axis_arg(_softmax_axis(attrs["axis"]), types[0].ndim)
    return types[0]


def _softmax_axis(axis):
    return -1 if axis is None else axis  # tf.nn.softmax: axis=None is the last axis


def _lower_softmax(x, *, axis):
    """jax.nn.softmax's formula, exp(x - max) / sum, in lax primitives: tracing
    jax.nn.softmax (a jit around a custom_jvp) costs twice as much, and autodiff of
    these primitives gives the same gradient, y * (g - sum(g * y))."""
    axes = axis_arg(_softmax_axis(axis), x.ndim)
    kept = tuple(d for d in range(x.ndim) if d not in axes)
    peak = lax.stop_gradient(lax.reduce_max(x, axes))
    e = lax.exp(lax.sub(x, lax.broadcast_in_dim(peak, x.shape, kept)))
    return lax.div(e, lax.broadcast_in_dim(lax.reduce_sum(e, axes), x.shape, kept))


# ---- crossentropies -------------------------------------------------------------------

def _float_output(output: TensorType) -> None:
    if not is_float(output.dtype):
        raise OpError("expects a floating-point output, but {1}", kind="dtype")


def _same_shape(target: TensorType, output: TensorType) -> tuple:
    if target.ndim != output.ndim or not all(map(dims_agree, target.shape, output.shape)):
        raise OpError("target and output shapes differ: {0}, {1}")
    # A 1 against a None stays None (as TF's static broadcast): the run time may broadcast it.
    return tuple(map(broadcast_dim, output.shape, target.shape))


def _crossentropy_type(types, attrs):
    target, output = types
    _float_output(output)
    shape = _same_shape(target, output)
    axis = axis_arg(attrs["axis"], output.ndim)
    return TensorType(output.dtype, reduced_shape(shape, axis, False))


def _clipped(output):
    eps = jnp.asarray(EPSILON, output.dtype)
    return jnp.clip(output, eps, 1 - eps)


def _lower_categorical_crossentropy(target, output, *, from_logits, axis):
    target = target.astype(output.dtype)
    if from_logits:
        return -jnp.sum(target * jax.nn.log_softmax(output, axis=axis), axis=axis)
    output = output / jnp.sum(output, axis=axis, keepdims=True)
    return -jnp.sum(target * jnp.log(_clipped(output)), axis=axis)


def _sparse_crossentropy_type(types, attrs):
    target, output = types
    _float_output(output)
    if output.ndim == 0:
        raise OpError("the output needs a class axis: {1}")
    axis = one_axis(attrs["axis"], output.ndim)
    rest = output.shape[:axis] + output.shape[axis + 1:]
    if target.ndim == len(rest):
        if not all(map(dims_agree, target.shape, rest)):
            raise OpError("target shape must be the output's without its class axis %d: {0}, {1}" % axis)
        return TensorType(output.dtype, tuple(map(merge_dims, rest, target.shape)))
    # Keras flattens a target of another rank (e.g. (batch, 1)): only the sizes must agree.
    sizes = (target.size(), TensorType(output.dtype, rest).size())
    if None not in sizes and sizes[0] != sizes[1]:
        raise OpError("target has %d labels but the output has %d rows of classes: {0}, {1}" % sizes)
    return TensorType(output.dtype, rest)


def _lower_sparse_categorical_crossentropy(target, output, *, from_logits, axis, ignore_class):
    logits = jnp.moveaxis(output, one_axis(axis, output.ndim), -1)
    if not from_logits:
        logits = jnp.log(_clipped(logits))
    # 32-bit labels unless the target is 64-bit: the same bits with x64 on or off (XLA saturates
    # a float beyond int32, which is out of range either way), and no int64 request without x64.
    labels = target.astype(jnp.int64 if target.dtype.itemsize == 8 else jnp.int32)
    labels = labels.reshape(logits.shape[:-1])
    valid = (labels >= 0) & (labels < logits.shape[-1])
    picked = jnp.take_along_axis(logits, jnp.where(valid, labels, 0)[..., None], axis=-1)[..., 0]
    loss = jax.nn.logsumexp(logits, axis=-1) - picked
    # A label out of range is an error in TensorFlow (on CPU); here its loss is NaN.
    loss = jnp.where(valid, loss, jnp.asarray(jnp.nan, output.dtype))
    if ignore_class is None:
        return loss
    return jnp.where(labels == ignore_class, jnp.zeros((), output.dtype), loss)  # tf_keras: 0 there


def _binary_crossentropy_type(types, attrs):
    target, output = types
    _float_output(output)
    return TensorType(output.dtype, _same_shape(target, output))


def _lower_binary_crossentropy(target, output, *, from_logits):
    target = target.astype(output.dtype)
    if from_logits:  # tf.nn.sigmoid_cross_entropy_with_logits
        return jnp.maximum(output, 0) - output * target + jnp.log1p(jnp.exp(-jnp.abs(output)))
    output = _clipped(output)
    # tf_keras adds epsilon inside the logs as well as clipping.
    bce = target * jnp.log(output + EPSILON) + (1 - target) * jnp.log(1 - output + EPSILON)
    return -bce


def logits_under(activation: str, output: Node) -> Node | None:
    """The logits under `output` if it is directly `activation` (Keras's _get_logits), or None.

    Keras reads through a sigmoid (binary form) and a softmax over the last axis:
    tf.nn.softmax makes a Softmax op only there (over another axis it ends in a
    transpose), and _get_logits looks for that op alone, whatever the loss's axis.
    """
    if output.op != activation:
        return None
    if activation == "softmax":
        axis, ndim = output.attr("axis"), output.type.ndim
        if not isinstance(axis, int) or axis % ndim != ndim - 1:
            return None
    return output.srcs[0]


def _build_loss(activation: str):
    """The loss's `build`: Keras's logits rule, settled here once (see the module docstring)."""

    def build(builder, site, args):
        output = args["output"]
        logits = logits_under(activation, output)
        if logits is None:
            return builder.make_node(site.name, args, site)
        if args["from_logits"]:
            # tf_keras's wording (_get_logits), naming the op as TensorFlow does.
            builder.warn(f"`{site.name}` received `from_logits=True`, but the `output` argument was "
                         f"produced by a {output.op.capitalize()} activation and thus does not "
                         f"represent logits. Was this intended?", site.arg_span("output"))
        return builder.make_node(site.name, dict(args, output=logits, from_logits=True), site)

    return build


def _loss(signature, infer, lower, doc, example, reads_logits="softmax"):
    return Op(signature, infer=infer, lower=lower, tensors=("target", "output"),
              build=_build_loss(reads_logits), reads_logits=reads_logits, doc=doc, example=example,
              category="nn")


# ---- l2_normalize and bias_add ---------------------------------------------------------

def _l2_normalize_type(types, attrs):
    require_float(types)
    axis_arg(attrs["axis"], types[0].ndim)
    return types[0]


def _lower_l2_normalize(x, *, axis):
    axis = axis_arg(axis, x.ndim)
    square_sum = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
    return x * jax.lax.rsqrt(jnp.maximum(square_sum, jnp.asarray(L2_EPSILON, x.dtype)))


def _bias_layout(x_ndim: int, bias_shape: tuple, data_format) -> tuple:
    """Where the bias goes: ("axis", i) for a vector, ("shape", s) for a reshaped bias."""
    if data_format not in (None, "channels_last", "channels_first"):
        raise OpError(f"unknown data_format {data_format!r} "
                      f"(use 'channels_last' or 'channels_first')", kind="argument")
    first = data_format == "channels_first"
    if len(bias_shape) not in (1, x_ndim - 1):
        raise OpError("the bias must have rank 1 or ndim(x) - 1 = %d: {0}, {1}" % (x_ndim - 1))
    if len(bias_shape) == 1:
        if x_ndim < 2:
            raise OpError("needs x of rank 2 or more: {0}")
        return "axis", 1 if first else x_ndim - 1
    if x_ndim not in (3, 4, 5):
        raise OpError("a bias of rank ndim(x) - 1 needs x of rank 3, 4 or 5: {0}, {1}")
    # tf_keras *reshapes* (not transposes) a channels-last bias for channels_first.
    if first:
        return "shape", (1, bias_shape[-1]) + tuple(bias_shape[:-1])
    return "shape", (1,) + tuple(bias_shape)


def _bias_add_type(types, attrs):
    x, bias = types
    kind, where = _bias_layout(x.ndim, bias.shape, attrs["data_format"])
    if kind == "shape":
        return elementwise_type([x, TensorType(bias.dtype, where)])
    if not dims_agree(x.shape[where], bias.shape[0]):
        raise OpError("the bias size must be that of axis %d of x: {0}, {1}" % where)
    shape = x.shape[:where] + (merge_dims(x.shape[where], bias.shape[0]),) + x.shape[where + 1:]
    return TensorType(promote(x.dtype, bias.dtype), shape)


def _lower_bias_add(x, bias, *, data_format):
    kind, where = _bias_layout(x.ndim, bias.shape, data_format)
    if kind == "axis":
        where = (bias.shape[0],) + (1,) * (x.ndim - 1 - where)
    dtype = promote(str(x.dtype), str(bias.dtype))
    return x.astype(dtype) + jnp.reshape(bias, where).astype(dtype)


OPS = [
    Op("softmax(x, axis=-1)", infer=_softmax_type, lower=_lower_softmax,
       doc="Softmax of a tensor along an axis: exp(x) / sum(exp(x)).",
       example="output softmax([[1.0, 2.0, 3.0]])", category="nn", positive=True),
    _loss("categorical_crossentropy(target, output, from_logits=False, axis=-1)", _crossentropy_type,
          _lower_categorical_crossentropy,
          "Categorical crossentropy between a one-hot target and an output tensor (probabilities "
          "renormalised to sum 1 and clipped to [1e-7, 1 - 1e-7]; a softmax output over the last axis is read as its logits).",
          "t = [[0.0, 1.0, 0.0]]\np = softmax([[1.0, 2.0, 3.0]])\noutput categorical_crossentropy(t, p)"),
    _loss("sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1, ignore_class=None)",
          _sparse_crossentropy_type, _lower_sparse_categorical_crossentropy,
          "Categorical crossentropy with integer class targets (probabilities clipped to "
          "[1e-7, 1 - 1e-7]; a softmax output over the last axis is read as its logits); the loss "
          "of a target equal to `ignore_class` is 0.",
          "p = [[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]]\noutput sparse_categorical_crossentropy([1, 2], p)"),
    _loss("binary_crossentropy(target, output, from_logits=False)", _binary_crossentropy_type,
          _lower_binary_crossentropy,
          "Elementwise binary crossentropy (probabilities clipped to [1e-7, 1 - 1e-7], plus 1e-7 "
          "in the logs, as tf_keras; a sigmoid output is read as its logits).",
          "output binary_crossentropy([[0.0, 1.0]], [[0.2, 0.9]])", reads_logits="sigmoid"),
    Op("l2_normalize(x, axis=None)", infer=_l2_normalize_type, lower=_lower_l2_normalize,
       doc="x divided by its L2 norm along `axis` (all axes for None), the squared norm "
           "floored at 1e-12.",
       example="output l2_normalize([[3.0, 4.0], [1.0, 0.0]], axis=1)", category="nn"),
    Op("bias_add(x, bias, data_format=None)", infer=_bias_add_type, lower=_lower_bias_add,
       tensors=("x", "bias"),
       doc="Adds a bias vector to the channel axis (last for channels_last, 1 for channels_first), "
           "or a bias of rank ndim(x) - 1 to each sample.",
       example="x = zeros((2, 3))\noutput bias_add(x, [1.0, 2.0, 3.0])", category="nn"),
]
