"""Padding and resizing of image-like tensors.

resize_images multiplies the two spatial sizes by integer factors, as tf_keras does
with tf.image.resize: 'nearest' repeats each pixel; 'bilinear' is TensorFlow 2's
half-pixel bilinear, which `jax.image.resize` computes for an upscale (each output
sample at (i + 0.5) / factor - 0.5, clamped at the edges).
resize_volumes repeats elements along the three spatial axes.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from ..types import TensorType
from .layout import channels_first, per_axis, require_rank
from .registry import Op, OpError, require_float


def _pads(padding, n: int) -> tuple[tuple[int, int], ...]:
    """((before, after), ...) for n axes; temporal_padding's (before, after) is n = 1."""
    pairs = (padding,) if n == 1 else padding
    if (not isinstance(pairs, tuple) or len(pairs) != n or not all(
            isinstance(p, tuple) and len(p) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in p)
            for p in pairs)):
        shape = "(before, after)" if n == 1 else f"{n} pairs (before, after)"
        raise OpError(f"padding must be {shape} of non-negative ints, got {padding!r}",
                      kind="argument")
    return pairs


def _padded(d, pad: tuple[int, int]):
    if pad == (0, 0):
        return d
    return d + sum(pad) if isinstance(d, int) else None


def _spatial_axes(attrs, n: int, ndim: int) -> tuple[int, ...]:
    first = n > 1 and channels_first(attrs["data_format"])
    return tuple(range(2, 2 + n)) if first else tuple(range(1, 1 + n))


def _padding_type(n: int):
    def infer(types, attrs):
        (x,) = types
        require_rank(x, n + 2, 0, "input")
        pads = dict(zip(_spatial_axes(attrs, n, x.ndim), _pads(attrs["padding"], n)))
        return TensorType(x.dtype, tuple(_padded(d, pads.get(i, (0, 0))) for i, d in enumerate(x.shape)))

    return infer


def _lower_padding(x, *, padding, data_format=None):
    n = x.ndim - 2
    pads = dict(zip(_spatial_axes({"data_format": data_format}, n, x.ndim), _pads(padding, n)))
    return jnp.pad(x, [pads.get(i, (0, 0)) for i in range(x.ndim)])


# ---- resizing -------------------------------------------------------------------------

def _factors(attrs, names) -> tuple[int, ...]:
    return tuple(per_axis(attrs[name], 1, name)[0] for name in names)


def _resize_type(names):
    def infer(types, attrs):
        (x,) = types
        n = len(names)
        require_rank(x, n + 2, 0, "input")
        factors = _factors(attrs, names)
        if n == 2:
            if attrs["interpolation"] not in ("nearest", "bilinear"):
                raise OpError(f"interpolation must be 'nearest' or 'bilinear', got "
                              f"{attrs['interpolation']!r}", kind="argument")
            if attrs["interpolation"] == "bilinear":
                require_float(types)
        axes = _spatial_axes(attrs, n, x.ndim)
        scale = dict(zip(axes, factors))
        shape = tuple(d * scale[i] if i in scale and isinstance(d, int)
                      else (d if scale.get(i, 1) == 1 else None) for i, d in enumerate(x.shape))
        return TensorType(x.dtype, shape)

    return infer


def _repeat(x, axes, factors):
    for axis, f in zip(axes, factors):
        x = jnp.repeat(x, f, axis=axis)
    return x


def _lower_resize_images(x, *, height_factor, width_factor, data_format, interpolation):
    axes = _spatial_axes({"data_format": data_format}, 2, x.ndim)
    factors = (height_factor, width_factor)
    if interpolation == "nearest":
        return _repeat(x, axes, factors)
    shape = list(x.shape)
    for axis, f in zip(axes, factors):
        shape[axis] *= f
    return jax.image.resize(x, tuple(shape), "bilinear", antialias=False)


def _lower_resize_volumes(x, *, depth_factor, height_factor, width_factor, data_format):
    axes = _spatial_axes({"data_format": data_format}, 3, x.ndim)
    return _repeat(x, axes, (depth_factor, height_factor, width_factor))


_IMAGE = "x = reshape(arange(4.0), (1, 2, 2, 1))\n"
OPS = [
    Op("temporal_padding(x, padding=(1, 1))", infer=_padding_type(1), lower=_lower_padding,
       category="image", doc="Pads the middle axis of a 3D tensor with zeros (before, after).",
       example="output temporal_padding(ones((1, 2, 1)), (1, 2))"),
    Op("spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format=None)", infer=_padding_type(2),
       lower=_lower_padding, category="image",
       doc="Pads the two spatial axes of a 4D tensor with zeros.",
       example=_IMAGE + "output spatial_2d_padding(x, ((1, 0), (0, 1)))"),
    Op("spatial_3d_padding(x, padding=((1, 1), (1, 1), (1, 1)), data_format=None)",
       infer=_padding_type(3), lower=_lower_padding, category="image",
       doc="Pads the three spatial axes of a 5D tensor with zeros.",
       example="output spatial_3d_padding(ones((1, 1, 1, 1, 1)))"),
    Op("resize_images(x, height_factor, width_factor, data_format, interpolation='nearest')",
       infer=_resize_type(("height_factor", "width_factor")), lower=_lower_resize_images,
       category="image",
       doc="Scales the two spatial axes of a 4D tensor by integer factors ('nearest' or "
           "'bilinear', TensorFlow's values).",
       example=_IMAGE + "output resize_images(x, 2, 2, 'channels_last', interpolation='bilinear')"),
    Op("resize_volumes(x, depth_factor, height_factor, width_factor, data_format)",
       infer=_resize_type(("depth_factor", "height_factor", "width_factor")),
       lower=_lower_resize_volumes, category="image",
       doc="Scales the three spatial axes of a 5D tensor by integer factors, repeating elements.",
       example="output resize_volumes(ones((1, 1, 1, 2, 1)), 2, 1, 1, 'channels_last')"),
]
