"""Convolutions: conv1d, conv2d, conv3d, conv2d_transpose, depthwise_conv2d and the
separable convolutions, lowered to `lax.conv_general_dilated`.

Kernels have Keras's layouts: conv (spatial..., in, out), depthwise (spatial..., in,
multiplier), conv2d_transpose (kh, kw, out, in). 'same' padding is TensorFlow's
(the extra cell after), which `lax`'s 'SAME' is too. Two decisions where tf_keras
does something odd (see docs/conv.md): conv1d's 'causal' pads the time axis in both
data formats (tf_keras pads axis 1, the channels, for channels_first), and strides
and dilation may both exceed 1 (TensorFlow refuses that; XLA does not need to).
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from ..types import TensorType, dims_agree, promote
from .layout import (assemble, channels, channels_first, padding_arg, per_axis, require_rank,
                     same_padding, spatial_dims, window_dim)
from .registry import Op, OpError, require_float
from .shape import merge_dims

_SPEC = {1: "W", 2: "HW", 3: "DHW"}


def _numbers(n: int, first: bool, kernel: str = "IO"):
    spatial = _SPEC[n]
    image = "NC" + spatial if first else "N" + spatial + "C"
    return image, spatial + kernel, image


def _window(attrs, n: int, causal: bool = False):
    """(channels_first, strides, dilation, padding) of a convolution's attributes."""
    first = channels_first(attrs["data_format"])
    strides = per_axis(attrs["strides"], n, "strides")
    dilation = per_axis(attrs["dilation_rate"], n, "dilation_rate")
    allowed = ("valid", "same", "causal") if causal else ("valid", "same")
    return first, strides, dilation, padding_arg(attrs["padding"], allowed)


def _out_spatial(x: TensorType, kernel_spatial, first, strides, dilation, padding) -> tuple:
    if 0 in kernel_spatial:  # XLA's verifier refuses an empty window (once an internal error)
        raise OpError("the kernel's window %s is empty (a spatial size is 0): {1}"
                      % (tuple(kernel_spatial),))
    return tuple(window_dim(d, k, s, r, padding) for d, k, s, r
                 in zip(spatial_dims(x, first), kernel_spatial, strides, dilation))


def _check_channels(x: TensorType, kernel_in, first: bool) -> None:
    if not dims_agree(channels(x, first), kernel_in):
        raise OpError("the input has %s channels but the kernel takes %s (its axis -2): {0}, {1}"
                      % (channels(x, first), kernel_in))


def _conv_type(n: int):
    def infer(types, attrs):
        x, kernel = types
        require_float(types)
        require_rank(x, n + 2, 0, "input")
        require_rank(kernel, n + 2, 1, "kernel")
        first, strides, dilation, padding = _window(attrs, n, causal=n == 1)
        _check_channels(x, kernel.shape[n], first)
        spatial = _out_spatial(x, kernel.shape[:n], first, strides, dilation, padding)
        shape = assemble(x.shape[0], spatial, kernel.shape[n + 1], first)
        return TensorType(promote(x.dtype, kernel.dtype), shape)

    return infer


def _convolve(x, kernel, strides, padding, first, dilation, groups=1, kernel_spec="IO"):
    dtype = promote(str(x.dtype), str(kernel.dtype))
    n = kernel.ndim - 2
    sizes = x.shape[2:] if first else x.shape[1:-1]
    if padding == "VALID" and any(d < (k - 1) * r + 1 for d, k, r in zip(sizes, kernel.shape, dilation)):
        # Only a dim unknown at compile time gets here (lower.py makes it a ShapeError); XLA
        # would return an empty result where TensorFlow refuses.
        raise ValueError(f"the window {kernel.shape[:n]} is larger than the input {x.shape}")
    return lax.conv_general_dilated(
        x.astype(dtype), kernel.astype(dtype), window_strides=strides, padding=padding,
        rhs_dilation=dilation, dimension_numbers=_numbers(n, first, kernel_spec),
        feature_group_count=groups)


def _lower_conv(x, kernel, *, strides, padding, data_format, dilation_rate):
    n = kernel.ndim - 2
    first, strides, dilation, padding = _window(
        {"strides": strides, "padding": padding, "data_format": data_format,
         "dilation_rate": dilation_rate}, n, causal=n == 1)
    if padding == "causal":
        pads = [(dilation[0] * (kernel.shape[0] - 1), 0)]
    else:
        pads = padding.upper()
    return _convolve(x, kernel, strides, pads, first, dilation)


# ---- conv2d_transpose ----------------------------------------------------------------

def _transpose_layout(attrs):
    first, strides, dilation, padding = _window(attrs, 2)
    if dilation[0] != dilation[1]:
        raise OpError("Expected the 2 dimensions of the `dilation_rate` argument to be equal "
                      f"to each other. Received: dilation_rate={dilation}", kind="argument")
    if dilation != (1, 1) and strides != (1, 1):
        raise OpError("a dilated conv2d_transpose takes strides (1, 1) (tf_keras ignores the "
                      f"strides there), got strides={strides}", kind="argument")
    shape = attrs["output_shape"]
    if (not isinstance(shape, tuple) or len(shape) != 4
            or not all(d is None or (isinstance(d, int) and d > 0) for d in shape[:1])
            or not all(isinstance(d, int) and d > 0 for d in shape[1:])):
        raise OpError(f"output_shape must be 4 sizes (batch, which may be None, then 3 "
                      f"positive ints), got {shape!r}", kind="argument")
    return first, strides, dilation, padding, shape


def _conv2d_transpose_type(types, attrs):
    x, kernel = types
    require_float(types)
    require_rank(x, 4, 0, "input")
    require_rank(kernel, 4, 1, "kernel")
    first, strides, dilation, padding, out = _transpose_layout(attrs)
    if not dims_agree(channels(x, first), kernel.shape[3]):
        raise OpError("the input's channels are not the kernel's last axis (its input "
                      "channels): {0}, {1}")
    out_type = TensorType(x.dtype, out)
    if not dims_agree(channels(out_type, first), kernel.shape[2]):
        raise OpError(f"output_shape {out} has {channels(out_type, first)} channels but the "
                      f"kernel makes {kernel.shape[2]}: {{1}}")
    # A conv2d of the output (as the transpose's forward pass) must give x's spatial size.
    back = _out_spatial(out_type, kernel.shape[:2], first, strides, dilation, padding)
    if not all(map(dims_agree, back, spatial_dims(x, first))):
        raise OpError(f"output_shape {out} does not match the input: a conv2d with these "
                      f"strides and padding maps {spatial_dims(out_type, first)} to {back}: {{0}}")
    if not dims_agree(out[0], x.shape[0]):
        raise OpError(f"output_shape {out} has another batch size than the input: {{0}}")
    return TensorType(promote(x.dtype, kernel.dtype), (merge_dims(out[0], x.shape[0]),) + out[1:])


def _lower_conv2d_transpose(x, kernel, *, output_shape, strides, padding, data_format,
                            dilation_rate):
    """The gradient of conv2d with respect to its input (tf.nn.conv2d_transpose): a
    convolution of the stride-dilated input with the flipped kernel."""
    attrs = {"strides": strides, "padding": padding, "data_format": data_format,
             "dilation_rate": dilation_rate, "output_shape": output_shape}
    first, strides, dilation, padding, out = _transpose_layout(attrs)
    x_spatial = x.shape[2:] if first else x.shape[1:3]
    out_spatial = out[2:] if first else out[1:3]
    pads = []
    for size_in, size_out, k, s, r in zip(x_spatial, out_spatial, kernel.shape[:2], strides, dilation):
        k_eff = (k - 1) * r + 1
        if (-(-size_out // s) if padding == "same" else (size_out - k_eff) // s + 1) != size_in:
            # Only a dim unknown at compile time gets here (lower.py makes it a ShapeError).
            raise ValueError(f"output_shape {out} does not map back to the input's {x.shape}")
        before = same_padding(size_out, k, s, r)[0] if padding == "same" else 0
        low = k_eff - 1 - before
        pads.append((low, size_out + k_eff - 1 - (size_in - 1) * s - 1 - low))
    dtype = promote(str(x.dtype), str(kernel.dtype))
    return lax.conv_general_dilated(
        x.astype(dtype), jnp.flip(kernel, (0, 1)).astype(dtype), window_strides=(1, 1),
        padding=pads, lhs_dilation=strides, rhs_dilation=dilation,
        dimension_numbers=_numbers(2, first, "OI"))


# ---- depthwise and separable ----------------------------------------------------------

def _depthwise_type(n: int, separable: bool):
    def infer(types, attrs):
        x, depthwise = types[:2]
        require_float(types)
        require_rank(x, n + 2, 0, "input")
        require_rank(depthwise, n + 2, 1, "depthwise kernel")
        first, strides, dilation, padding = _window(attrs, n)
        _check_channels(x, depthwise.shape[n], first)
        spatial = _out_spatial(x, depthwise.shape[:n], first, strides, dilation, padding)
        c_in, multiplier = depthwise.shape[n], depthwise.shape[n + 1]
        c_in = merge_dims(channels(x, first), c_in)
        mid = c_in * multiplier if isinstance(c_in, int) and isinstance(multiplier, int) else None
        dtype = promote(x.dtype, depthwise.dtype)
        if not separable:
            return TensorType(dtype, assemble(x.shape[0], spatial, mid, first))
        pointwise = types[2]
        require_rank(pointwise, n + 2, 2, "pointwise kernel")
        if any(k != 1 for k in pointwise.shape[:n]) or not dims_agree(pointwise.shape[n], mid):
            raise OpError("the pointwise kernel must be %s(1, ...), channels * multiplier = %s, "
                          "out): {1}, {2}" % ("(" if n == 1 else "(1, ", mid))
        dtype = promote(dtype, pointwise.dtype)
        return TensorType(dtype, assemble(x.shape[0], spatial, pointwise.shape[n + 1], first))

    return infer


def _depthwise(x, depthwise, strides, padding, data_format, dilation_rate):
    n = depthwise.ndim - 2
    first, strides, dilation, padding = _window(
        {"strides": strides, "padding": padding, "data_format": data_format,
         "dilation_rate": dilation_rate}, n)
    c_in, multiplier = depthwise.shape[-2:]
    # (spatial, in, multiplier) -> (spatial, 1, in * multiplier): output channel c * m + j.
    kernel = depthwise.reshape(depthwise.shape[:n] + (1, c_in * multiplier))
    return _convolve(x, kernel, strides, padding.upper(), first, dilation, groups=c_in), first


def _lower_depthwise_conv2d(x, depthwise_kernel, *, strides, padding, data_format, dilation_rate):
    return _depthwise(x, depthwise_kernel, strides, padding, data_format, dilation_rate)[0]


def _lower_separable(x, depthwise_kernel, pointwise_kernel, *, strides, padding, data_format,
                     dilation_rate):
    """tf.nn.separable_conv2d: the depthwise convolution, then a 1x1 convolution."""
    mid, first = _depthwise(x, depthwise_kernel, strides, padding, data_format, dilation_rate)
    n = pointwise_kernel.ndim - 2
    return _convolve(mid, pointwise_kernel, (1,) * n, "VALID", first, (1,) * n)


def _conv(signature, n, doc, example):
    return Op(signature, infer=_conv_type(n), lower=_lower_conv, tensors=("x", "kernel"),
              doc=doc, example=example, category="conv")


def _separable(signature, n, example):
    return Op(signature, infer=_depthwise_type(n, True), lower=_lower_separable,
              tensors=("x", "depthwise_kernel", "pointwise_kernel"), category="conv",
              doc=f"{n}D convolution with separable filters: a depthwise convolution "
                  f"(kernel (spatial..., in, multiplier)) then a pointwise one (kernel "
                  f"({'1, ' * n}in * multiplier, out)).", example=example)


_WINDOW = "strides=(1, 1), padding='valid', data_format=None, dilation_rate=(1, 1)"
OPS = [
    _conv("conv1d(x, kernel, strides=1, padding='valid', data_format=None, dilation_rate=1)", 1,
          "1D convolution of (batch, steps, channels) inputs with a (width, in, out) kernel; "
          "padding 'valid', 'same' or 'causal' (zeros in front: output t sees inputs up to t).",
          "x = reshape(arange(8.0), (1, 4, 2))\noutput conv1d(x, ones((2, 2, 1)), padding='causal')"),
    _conv(f"conv2d(x, kernel, {_WINDOW})", 2,
          "2D convolution with a (kh, kw, in, out) kernel; strides and dilation are tuples.",
          "x = reshape(arange(16.0), (1, 4, 4, 1))\noutput conv2d(x, ones((2, 2, 1, 1)), strides=(2, 2))"),
    _conv("conv3d(x, kernel, strides=(1, 1, 1), padding='valid', data_format=None, "
          "dilation_rate=(1, 1, 1))", 3,
          "3D convolution with a (kd, kh, kw, in, out) kernel.",
          "x = ones((1, 3, 3, 3, 1))\noutput conv3d(x, ones((2, 2, 2, 1, 2)))"),
    Op(f"conv2d_transpose(x, kernel, output_shape, {_WINDOW})", infer=_conv2d_transpose_type,
       lower=_lower_conv2d_transpose, tensors=("x", "kernel"), category="conv",
       doc="Transposed 2D convolution (the gradient of conv2d with respect to its input) with a "
           "(kh, kw, out, in) kernel; output_shape includes the batch, which may be None.",
       example="x = ones((1, 2, 2, 1))\n"
               "output conv2d_transpose(x, ones((3, 3, 1, 1)), (None, 4, 4, 1), strides=(2, 2), "
               "padding='same')"),
    Op(f"depthwise_conv2d(x, depthwise_kernel, {_WINDOW})", infer=_depthwise_type(2, False),
       lower=_lower_depthwise_conv2d, tensors=("x", "depthwise_kernel"), category="conv",
       doc="Depthwise 2D convolution: each input channel convolved with its own "
           "(kh, kw, 1, multiplier) slice of the (kh, kw, in, multiplier) kernel.",
       example="x = reshape(arange(18.0), (1, 3, 3, 2))\n"
               "output depthwise_conv2d(x, ones((2, 2, 2, 1)))"),
    _separable("separable_conv1d(x, depthwise_kernel, pointwise_kernel, strides=1, "
               "padding='valid', data_format=None, dilation_rate=1)", 1,
               "x = reshape(arange(8.0), (1, 4, 2))\n"
               "output separable_conv1d(x, ones((2, 2, 1)), ones((1, 2, 3)))"),
    _separable(f"separable_conv2d(x, depthwise_kernel, pointwise_kernel, {_WINDOW})", 2,
               "x = reshape(arange(18.0), (1, 3, 3, 2))\n"
               "output separable_conv2d(x, ones((2, 2, 2, 1)), ones((1, 1, 2, 3)))"),
]
