"""Elementwise ops: arithmetic (the infix operators), math, activations and casts.

Semantics are those of `tf_keras.backend`, quirks included: `sqrt` clips
negatives to 0, `hard_sigmoid` is clip(0.2x + 0.5, 0, 1), `relu` takes the
same paths as tf_keras (leaky_relu, relu6, threshold), and gradients at kinks
are TensorFlow's (relu and relu6 pass nothing at their corners). Comparisons,
maximum/minimum, clip and switch are in compare.py.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ..types import TensorType, is_float, is_int
from .compare import tf_clip
from ..values import is_number
from .registry import Op, OpError, elementwise_type, require_float


def _same(types, attrs):
    return elementwise_type(types)


def _float_same(types, attrs):
    require_float(types)
    return elementwise_type(types)


def _numeric(types, attrs):
    """Arithmetic that bools alone cannot do (a bool next to a number is promoted)."""
    out = elementwise_type(types)
    if out.dtype == "bool":
        labels = ", ".join("{%d}" % i for i in range(len(types)))
        raise OpError(f"expects a numeric tensor, but {labels}", kind="dtype")
    return out


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


def _lower_sqrt(x):
    # tf_keras: x = maximum(x, 0) first, so sqrt(-1) is 0 and its gradient there is 0.
    return jnp.sqrt(tf_clip(x, 0, None))


def _lower_hard_sigmoid(x):
    return tf_clip(x * 0.2 + 0.5, 0, 1)


def _lower_softsign(x):
    return x / (1 + jnp.abs(x))


# ---- relu: tf_keras's combination of alpha, max_value and threshold ---------------

def _leaky_path(alpha, max_value, threshold) -> bool:
    return alpha != 0 and max_value is None and threshold == 0


def _relu_type(types, attrs):
    (x,) = types
    alpha, max_value, threshold = attrs["alpha"], attrs["max_value"], attrs["threshold"]
    for name in ("alpha", "max_value", "threshold"):
        v = attrs[name]
        if not (v is None and name == "max_value") and not is_number(v):
            raise OpError(f"{name} must be a number, got {v!r}", kind="argument")
    if x.dtype == "bool":
        raise OpError("expects a numeric tensor, but {0}", kind="dtype")
    if is_int(x.dtype):
        if _leaky_path(alpha, max_value, threshold):
            return TensorType("float32", x.shape)  # tf.nn.leaky_relu casts integers to float32
        if alpha != 0 or any(v is not None and not float(v).is_integer() for v in (max_value, threshold)):
            raise OpError("alpha, and a fractional max_value or threshold, need a floating-point "
                          "tensor, but {0}", kind="dtype")
    return x


def _relu6(x):
    # tf.nn.relu6's gradient is 0 at both corners (0 and 6), unlike clip's.
    inside = (x > 0) & (x < 6)
    return jnp.where(inside, x, jax.lax.stop_gradient(jnp.clip(x, 0, 6)))


def _lower_relu(x, *, alpha, max_value, threshold):
    if _leaky_path(alpha, max_value, threshold):
        x = x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype("float32")
        return jnp.where(x > 0, x, x * alpha)  # tf.nn.leaky_relu, gradient alpha at 0
    if alpha != 0:
        negative_part = jax.nn.relu(-x + threshold) if threshold != 0 else jax.nn.relu(-x)
    clip_max = max_value is not None
    if threshold != 0:
        x = x * (x > threshold).astype(x.dtype)
    elif max_value == 6:
        x = _relu6(x)
        clip_max = False
    else:
        x = jax.nn.relu(x)
    if clip_max:
        x = tf_clip(x, 0, max_value)
    if alpha != 0:
        x = x - alpha * negative_part
    return x


def _lower_elu(x, *, alpha):
    res = jax.nn.elu(x)
    return res if alpha == 1 else jnp.where(x > 0, res, alpha * res)


def _elu_type(types, attrs):
    if not is_number(attrs["alpha"]):
        raise OpError(f"alpha must be a number, got {attrs['alpha']!r}", kind="argument")
    return _float_same(types, attrs)


# ---- casts --------------------------------------------------------------------

def _cast_type(types, attrs):
    return TensorType(attrs["dtype"], types[0].shape)


def _lower_cast(x, *, dtype):
    return x.astype(dtype)


def _cast_to_floatx_type(types, attrs):
    raise OpError("cast_to_floatx is built as a `cast` node")  # see _build_cast_to_floatx


def _build_cast_to_floatx(builder, site, args):
    return builder.make_node("cast", {"x": args["x"], "dtype": builder.floatx}, site)


def _direct(lax_fn, jnp_fn):
    """`jnp_fn`, going straight to the lax primitive when operands need no broadcasting or
    promotion. Tracing a jnp function costs several times its primitive (jnp wraps each
    in a jit of its own), and tracing is most of the lowering time of a large program."""
    def lower(x, y):
        if x.shape == y.shape and x.dtype == y.dtype and x.dtype != bool:
            return lax_fn(x, y)
        return jnp_fn(x, y)

    lower.__name__ = jnp_fn.__name__
    return lower


def _unary(signature, fn, doc, example="", infer=_float_same, **facts):
    return Op(signature, infer=infer, lower=fn, doc=doc, example=example,
              elementwise=True, category="elementwise", **facts)


def _binary(signature, fn, doc, example="", infer=_same, tensors=("x", "y"), **facts):
    return Op(signature, infer=infer, lower=fn, doc=doc, example=example, tensors=tensors,
              elementwise=True, category="elementwise", **facts)


_X = "x = [[1.0, -2.0], [3.0, 4.0]]\n"

OPS = [
    # arithmetic: the infix operators build these
    _binary("add(x, y)", _direct(lax.add, jnp.add), "Element-wise sum x + y, with NumPy broadcasting.",
            "output [1, 2] + [[10], [20]]", commutative=True),
    _binary("subtract(x, y)", _direct(lax.sub, jnp.subtract), "Element-wise difference x - y.", "output [1.0, 2.0] - 0.5",
            infer=_numeric),
    _binary("multiply(x, y)", _direct(lax.mul, jnp.multiply), "Element-wise product x * y.", "output [1.0, 2.0] * 3",
            commutative=True),
    _binary("divide(x, y)", _lower_divide, "Element-wise true division x / y (integers give floats).",
            "output [1, 2] / 2", infer=_true_divide),
    _binary("floor_divide(x, y)", jnp.floor_divide, "Element-wise floor division x // y, rounding towards -inf.",
            "output [7, -7] // 2", infer=_numeric),
    _binary("mod(x, y)", jnp.mod, "Element-wise remainder x % y, with the sign of y (as Python and NumPy).",
            "output [7, -7] % 3", infer=_numeric),
    _binary("pow(x, a)", jnp.power, "Element-wise exponentiation, x ** a.",
            _X + "output pow(x, 2), x ** 3, 2 ** x", infer=_numeric, tensors=("x", "a")),
    _unary("negative(x)", jnp.negative, "Element-wise negation, -x.", "output -[1.0, -2.0]", infer=_numeric),
    # math
    _unary("abs(x)", jnp.abs, "Element-wise absolute value.", _X + "output abs(x)", infer=_numeric),
    _unary("square(x)", jnp.square, "Element-wise square.", _X + "output square(x)", infer=_numeric),
    _unary("sign(x)", jnp.sign, "Element-wise sign (-1, 0 or 1).", _X + "output sign(x)",
           infer=_numeric),
    _unary("round(x)", jnp.round, "Element-wise rounding to the closest integer, ties to even.",
           "output round([0.5, 1.5, 2.5, -0.5, -1.7])", infer=_numeric),
    _unary("exp(x)", lax.exp, "Element-wise exponential.", _X + "output exp(x)", positive=True),
    _unary("log(x)", lax.log, "Element-wise natural logarithm.", "output log([1.0, 2.0, 0.0])"),
    _unary("sqrt(x)", _lower_sqrt, "Element-wise square root (negative values are clipped to 0 first).",
           _X + "output sqrt(x)"),
    _unary("sin(x)", lax.sin, "Computes sin of x element-wise.", _X + "output sin(x)"),
    _unary("cos(x)", lax.cos, "Computes cos of x element-wise.", _X + "output cos(x)"),
    _unary("tanh(x)", lax.tanh, "Element-wise tanh.", _X + "output tanh(x)"),
    _unary("erf(x)", lax.erf, "Element-wise Gauss error function (tf.math.erf; not in keras.backend: "
           "imported Keras models need it for the exact gelu).", _X + "output erf(x)"),
    # activations
    _unary("sigmoid(x)", jax.nn.sigmoid, "Element-wise sigmoid, 1 / (1 + exp(-x)).",
           _X + "output sigmoid(x)", positive=True),
    _unary("hard_sigmoid(x)", _lower_hard_sigmoid,
           "Segment-wise linear approximation of sigmoid: clip(0.2 * x + 0.5, 0, 1).",
           "output hard_sigmoid([-3.0, -1.0, 0.0, 1.0, 3.0])"),
    _unary("relu(x, alpha=0.0, max_value=None, threshold=0.0)", _lower_relu,
           "Rectified linear unit: max_value for x >= max_value, x for threshold <= x < max_value, "
           "alpha * (x - threshold) otherwise.",
           "x = [-2.0, -0.5, 0.5, 3.0, 7.0]\n"
           "output relu(x), relu(x, alpha=0.1), relu(x, max_value=6), relu(x, threshold=1.0)",
           infer=_relu_type),
    _unary("elu(x, alpha=1.0)", _lower_elu, "Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) "
           "otherwise.", "output elu([-2.0, 0.0, 2.0]), elu([-2.0, 0.0, 2.0], alpha=0.5)",
           infer=_elu_type),
    _unary("softplus(x)", jax.nn.softplus, "Softplus of a tensor, log(exp(x) + 1).",
           _X + "output softplus(x)", positive=True),
    _unary("softsign(x)", _lower_softsign, "Softsign of a tensor, x / (abs(x) + 1).",
           _X + "output softsign(x)"),
    # casts: not elementwise in the weak-typing sense (a Python scalar becomes its own dtype)
    Op("cast(x, dtype)", infer=_cast_type, lower=_lower_cast, category="elementwise",
       doc="Casts a tensor to a different dtype (floats to integers truncate towards 0).",
       example=_X + "output cast(x, 'int32'), cast(x, 'float64'), cast(x, 'bool')"),
    Op("cast_to_floatx(x)", infer=_cast_to_floatx_type, lower=_lower_cast,
       build=_build_cast_to_floatx, category="elementwise",
       doc="Casts a tensor to the default float type, floatx().",
       example="output cast_to_floatx([1, 2, 3])"),
]
