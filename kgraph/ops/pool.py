"""Pooling (pool2d, pool3d) with `lax.reduce_window`, and the locally connected
convolutions (local_conv, local_conv1d, local_conv2d).

Average pooling with 'same' padding divides by the number of real cells under the
window, as TensorFlow's avg_pool does (the padding is not counted). A local
convolution is Keras's: every output position has its own kernel, shape
(positions, prod(kernel_size) * in, out), its feature axis ordered as the input's
patch is laid out ((k..., in) for channels_last, (in, k...) for channels_first).
"""
from __future__ import annotations

import math

import jax.numpy as jnp
from jax import lax

from ..types import TensorType, dims_agree, promote
from .layout import (assemble, channels, channels_first, padding_arg,
                     per_axis, require_rank, spatial_dims, window_dim)
from .registry import Op, OpError, require_float


def _pool_layout(attrs, n: int):
    first = channels_first(attrs["data_format"])
    size = per_axis(attrs["pool_size"], n, "pool_size")
    strides = per_axis(attrs["strides"], n, "strides")
    if attrs["pool_mode"] not in ("max", "avg"):
        raise OpError(f"invalid pool_mode {attrs['pool_mode']!r} (use 'max' or 'avg')",
                      kind="argument")
    return first, size, strides, padding_arg(attrs["padding"])


def _pool_type(n: int):
    def infer(types, attrs):
        (x,) = types
        require_rank(x, n + 2, 0, "input")
        if attrs["pool_mode"] == "avg":
            require_float(types)
        elif x.dtype == "bool":
            raise OpError("max pooling takes numbers, not bool: {0}", kind="dtype")
        first, size, strides, padding = _pool_layout(attrs, n)
        spatial = tuple(window_dim(d, k, s, 1, padding)
                        for d, k, s in zip(spatial_dims(x, first), size, strides))
        return TensorType(x.dtype, assemble(x.shape[0], spatial, channels(x, first), first))

    return infer


def _lower_pool(x, *, pool_size, strides, padding, data_format, pool_mode):
    n = x.ndim - 2
    first, size, strides, padding = _pool_layout(
        {"pool_size": pool_size, "strides": strides, "padding": padding,
         "data_format": data_format, "pool_mode": pool_mode}, n)
    window = (1, 1) + size if first else (1,) + size + (1,)
    steps = (1, 1) + strides if first else (1,) + strides + (1,)
    pad = padding.upper()
    if padding == "valid" and any(d < k for d, k in zip(x.shape[2:] if first else x.shape[1:-1], size)):
        # Only a dim unknown at compile time gets here (lower.py makes it a ShapeError).
        raise ValueError(f"the pool window {size} is larger than the input {x.shape}")
    # Python scalars as the initial values: lax recognises a concrete identity and lowers to
    # the differentiable reduce_window_max / reduce_window_sum primitives.
    if pool_mode == "max":
        lowest = -float("inf") if jnp.issubdtype(x.dtype, jnp.floating) else int(jnp.iinfo(x.dtype).min)
        return lax.reduce_window(x, lowest, lax.max, window, steps, pad)
    zero = 0.0 if jnp.issubdtype(x.dtype, jnp.floating) else 0
    total = lax.reduce_window(x, zero, lax.add, window, steps, pad)
    if padding == "valid":
        return total / jnp.asarray(math.prod(size), x.dtype)
    ones = jnp.ones(x.shape[2:] if first else x.shape[1:-1], x.dtype)
    count = lax.reduce_window(ones, zero, lax.add, size, strides, pad)
    count = count[None, None] if first else count[None, ..., None]
    return total / count


# ---- locally connected ----------------------------------------------------------------

def _local_layout(attrs, n: int):
    first = channels_first(attrs["data_format"])
    return (first, per_axis(attrs["kernel_size"], n, "kernel_size"),
            per_axis(attrs["strides"], n, "strides"))


def _local_out(attrs, kernel: TensorType, n: int) -> tuple[int, ...]:
    if "output_shape" in attrs:
        return per_axis(attrs["output_shape"], n, "output_shape")
    if not isinstance(kernel.shape[0], int):
        raise OpError("local_conv1d needs the kernel's first axis (the output length) known at "
                      "compile time: {1}")
    return (kernel.shape[0],)


def _local_type(n: int | None):
    def infer(types, attrs):
        x, kernel = types
        require_float(types)
        dims = n if n is not None else len(attrs["output_shape"])
        require_rank(x, dims + 2, 0, "input")
        require_rank(kernel, 3, 1, "kernel")
        first, size, strides = _local_layout(attrs, dims)
        out = _local_out(attrs, kernel, dims)
        reach = [window_dim(d, k, s, 1, "valid") for d, k, s in zip(spatial_dims(x, first), size, strides)]
        if any(isinstance(r, int) and r < o for r, o in zip(reach, out)):
            raise OpError(f"output_shape {out} is larger than the {tuple(reach)} positions "
                          f"kernel_size {size} with strides {strides} has: {{0}}")
        c_in = channels(x, first)
        feature = math.prod(size) * c_in if isinstance(c_in, int) else None
        if not dims_agree(kernel.shape[0], math.prod(out)) or not dims_agree(kernel.shape[1], feature):
            raise OpError(f"the kernel must be (prod(output_shape) = {math.prod(out)}, "
                          f"prod(kernel_size) * channels = {feature}, filters): {{0}}, {{1}}")
        dtype = promote(x.dtype, kernel.dtype)
        return TensorType(dtype, assemble(x.shape[0], out, kernel.shape[2], first))

    return infer


def _lower_local(inputs, kernel, **attrs):
    n = inputs.ndim - 2
    first, size, strides = _local_layout(attrs, n)
    out = per_axis(attrs["output_shape"], n, "") if "output_shape" in attrs else (kernel.shape[0],)
    dtype = promote(str(inputs.dtype), str(kernel.dtype))
    x = inputs.astype(dtype)
    if not first:
        x = jnp.moveaxis(x, -1, 1)
    batch, c_in = x.shape[:2]
    # (batch, in * prod(size), positions...), features ordered (in, k...).
    patches = lax.conv_general_dilated_patches(x, size, strides, "VALID",
                                               precision=lax.Precision.HIGHEST)
    patches = patches[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)]
    patches = patches.reshape(batch, c_in, math.prod(size), math.prod(out))
    order = (3, 0, 1, 2) if first else (3, 0, 2, 1)
    patches = jnp.transpose(patches, order).reshape(math.prod(out), batch, -1)
    y = jnp.einsum("pbf,pfo->pbo", patches, kernel.astype(dtype), precision=lax.Precision.HIGHEST)
    y = y.reshape(out + (batch, kernel.shape[2]))
    spatial = list(range(n))
    return jnp.transpose(y, [n, n + 1] + spatial if first else [n] + spatial + [n + 1])


def _pool(signature, n, example):
    return Op(signature, infer=_pool_type(n), lower=_lower_pool, category="pool",
              doc=f"{n}D max or average pooling (pool_mode 'max' or 'avg'); 'avg' with 'same' "
                  f"padding averages over the real cells only.", example=example)


def _local(signature, n, doc, example):
    return Op(signature, infer=_local_type(n), lower=_lower_local, tensors=("inputs", "kernel"),
              category="conv", doc=doc, example=example)


OPS = [
    _pool("pool2d(x, pool_size, strides=(1, 1), padding='valid', data_format=None, pool_mode='max')",
          2, "x = reshape(arange(16.0), (1, 4, 4, 1))\n"
             "output pool2d(x, (2, 2), strides=(2, 2)), pool2d(x, (3, 3), padding='same', pool_mode='avg')"),
    _pool("pool3d(x, pool_size, strides=(1, 1, 1), padding='valid', data_format=None, "
          "pool_mode='max')", 3,
          "x = reshape(arange(8.0), (1, 2, 2, 2, 1))\noutput pool3d(x, (2, 2, 2), pool_mode='avg')"),
    _local("local_conv(inputs, kernel, kernel_size, strides, output_shape, data_format=None)", None,
           "N-D convolution with unshared weights: kernel (prod(output_shape), prod(kernel_size) "
           "* in, out), one kernel per output position.",
           "x = reshape(arange(6.0), (1, 3, 2))\noutput local_conv(x, ones((2, 4, 1)), (2,), (1,), (2,))"),
    _local("local_conv1d(inputs, kernel, kernel_size, strides, data_format=None)", 1,
           "1D convolution with unshared weights: kernel (output_length, kernel_size * in, out).",
           "x = reshape(arange(6.0), (1, 3, 2))\noutput local_conv1d(x, ones((2, 4, 1)), (2,), (1,))"),
    _local("local_conv2d(inputs, kernel, kernel_size, strides, output_shape, data_format=None)", 2,
           "2D convolution with unshared weights: kernel (rows * cols, kh * kw * in, out).",
           "x = ones((1, 3, 3, 1))\noutput local_conv2d(x, ones((4, 4, 2)), (2, 2), (1, 1), (2, 2))"),
]
