"""Tensor creation: zeros, ones, eye, constants and ranges (random tensors are in random.py)."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .. import limits
from ..guards import check_axes
from ..errors import ArgumentError, ShapeError
from ..types import TensorType, is_float, np_dtype
from ..values import is_number
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


def _eye_size(size) -> tuple:
    """Keras's eye takes a size n (n x n) or a pair (rows, cols)."""
    if isinstance(size, tuple) and len(size) != 2:
        raise OpError(f"size must be an int or a pair (rows, cols), got {size!r}", kind="argument")
    return static_shape(size if isinstance(size, tuple) else (size, size))


def _eye_type(types, attrs):
    return TensorType(attrs["dtype"], _eye_size(attrs["size"]))


# ---- *_like: dtype=None means x's dtype (tf.zeros_like), not floatx() -------------

def _like_type(types, attrs):
    return TensorType(attrs["dtype"] or types[0].dtype, types[0].shape)


# ---- constant: a literal lifted at compile time -------------------------------------

def _build_constant(builder, site, args):
    value, dtype, shape = args["value"], args["dtype"], args["shape"]
    span = site.arg_span("value")
    check_axes(value, span)
    try:
        array = np.asarray(value)
    except ValueError:
        raise ShapeError("constant: a literal array must be rectangular", span) from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise ArgumentError(f"constant: value must be a number or nested lists of numbers, "
                            f"got {site.label('value')}", span)
    target = np_dtype(dtype)
    cast = array.astype(target)
    if not is_float(dtype) and not np.array_equal(cast, array):
        raise ArgumentError(f"constant: {site.label('value')} cannot be represented as {dtype}", span)
    if shape is not None:
        try:
            shape = static_shape(shape)
        except OpError as e:
            raise ArgumentError(f"constant: {e.template}", site.arg_span("shape")) from None
        limits.check("max_elements", limits.elements(shape), "constant: the element count of its "
                     "shape", site.arg_span("shape"))
        if cast.size == 1:
            cast = np.full(shape, cast.reshape(()), dtype=target)
        elif cast.size == int(np.prod(shape, dtype=np.int64)):
            cast = cast.reshape(shape)
        else:
            raise ArgumentError(f"constant: {cast.size} values cannot fill shape {shape}",
                                site.arg_span("shape"))
    return builder.constant(cast)


# ---- arange (tf.range: int32 for ints, float32 as soon as one bound is a float) -----

def _arange_spec(attrs):
    start, stop, step, dtype = attrs["start"], attrs["stop"], attrs["step"], attrs["dtype"]
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if not (is_number(v) or (name == "stop" and v is None)):
            raise OpError(f"{name} must be a number known at compile time, got {v!r}",
                          kind="argument")
    if stop is None:  # Keras: arange(n) counts from 0, and arange(-3) is empty
        start, stop = 0, max(start, 0)
    if step == 0:
        raise OpError("step must not be zero", kind="argument")
    if (step > 0 and start > stop) or (step < 0 and start < stop):
        raise OpError(f"start {start} and stop {stop} do not agree with step {step} "
                      f"(as tf.range, an empty reversed range is an error)", kind="argument")
    if any(isinstance(v, float) for v in (start, stop, step)):
        kind = "float32"
        f = np.float32
        with np.errstate(over="ignore"):
            count = np.ceil(np.abs((f(stop) - f(start)) / f(step)))
        if not np.isfinite(count):
            raise OpError(f"the range from {start} to {stop} by {step} has more elements than "
                          f"float32 can count", kind="argument")
        n = int(count)
    else:
        fits = all(-2**31 <= v < 2**31 for v in (start, stop, step))
        kind = "int32" if fits else "int64"
        n = (abs(stop - start) + abs(step) - 1) // abs(step)
    # Keras casts only when dtype is not its default 'int32': a float range stays float32.
    return start, step, n, kind, kind if dtype == "int32" else dtype


def _arange_type(types, attrs):
    _, _, n, _, dtype = _arange_spec(attrs)
    return TensorType(dtype, (n,))


def _lower_arange(**attrs):
    start, step, n, kind, dtype = _arange_spec(attrs)
    values = jnp.arange(n, dtype=kind) * np.asarray(step, kind) + np.asarray(start, kind)
    return values.astype(dtype)


OPS = [
    Op("zeros(shape, dtype=None)", infer=_filled_type, tensors=(),
       lower=lambda *, shape, dtype: jnp.zeros(shape, dtype),
       host=lambda *, shape, dtype: np.zeros(shape, np_dtype(dtype)),
       doc="A tensor of zeros (dtype floatx() unless given).", example="output zeros((2, 3))",
       category="creation"),
    Op("ones(shape, dtype=None)", infer=_filled_type, tensors=(),
       lower=lambda *, shape, dtype: jnp.ones(shape, dtype),
       host=lambda *, shape, dtype: np.ones(shape, np_dtype(dtype)),
       doc="A tensor of ones (dtype floatx() unless given).", example="output ones((2, 3), dtype='int32')",
       category="creation"),
    Op("eye(size, dtype=None)", infer=_eye_type, tensors=(),
       lower=lambda *, size, dtype: jnp.eye(*_eye_size(size), dtype=dtype),
       host=lambda *, size, dtype: np.eye(*_eye_size(size), dtype=np_dtype(dtype)),
       doc="An identity matrix: eye(3) is 3 x 3, eye((2, 3)) is 2 x 3.",
       example="output eye(3), eye((2, 3))", category="creation"),
    Op("zeros_like(x, dtype=None)", infer=_like_type, dtype_none_is_floatx=False,
       lower=lambda x, *, dtype: jnp.zeros_like(x, dtype=dtype),
       doc="Zeros of the shape of x (and of its dtype unless given).",
       example="x = [[1, 2], [3, 4]]\noutput zeros_like(x), zeros_like(x, dtype='float32')",
       category="creation"),
    Op("ones_like(x, dtype=None)", infer=_like_type, dtype_none_is_floatx=False,
       lower=lambda x, *, dtype: jnp.ones_like(x, dtype=dtype),
       doc="Ones of the shape of x (and of its dtype unless given).",
       example="x = [[1.0, 2.0], [3.0, 4.0]]\noutput ones_like(x)", category="creation"),
    Op("constant(value, dtype=None, shape=None)", infer=None, lower=None, tensors=(),
       build=_build_constant,
       doc="A constant tensor from a literal (dtype floatx() unless given); a single value fills "
           "`shape`, as many values as `shape` holds are reshaped to it.",
       example="output constant([[1, 2], [3, 4]]), constant(7, dtype='int32', shape=(2, 3))",
       category="creation"),
    Op("arange(start, stop=None, step=1, dtype='int32')", infer=_arange_type, lower=_lower_arange,
       tensors=(),
       doc="A 1-D range as tf.range: int32 by default, float32 when a bound is a float.",
       example="output arange(5), arange(1, 10, 3), arange(0, 2, 0.5)", category="creation"),
]
