"""Translators for the convolution, pooling, padding, cropping and upsampling layers
(channels_last only: the layout Keras saves by default)."""
from __future__ import annotations

import math

from .activations import activation
from .layers_core import channels_last, need, no_mask, one, weights
from .model import Layer
from .writer import Tensor, Writer, literal


def _tuple(layer: Layer, key: str, n: int, default=1) -> tuple:
    value = layer.get(key, default)
    value = tuple(value) if isinstance(value, (list, tuple)) else (value,) * n
    if len(value) != n or not all(isinstance(v, int) for v in value):
        raise layer.refuse(f"{key}={value!r} is not {n} integers")
    return value


def _padding(layer: Layer, allowed=("valid", "same")) -> str:
    padding = layer.get("padding", "valid")
    if padding not in allowed:
        raise layer.refuse(f"padding='{padding}' (kgraph translates {', '.join(allowed)})")
    return padding


def _window(layer: Layer, x: Tensor, op: str, n: int) -> tuple[tuple, tuple, tuple, str]:
    """The checks every convolution layer makes, and its kernel size, strides, dilation, padding."""
    need(layer, op)
    no_mask(layer, x)
    channels_last(layer)
    kernel, strides = _tuple(layer, "kernel_size", n), _tuple(layer, "strides", n)
    dilation = _tuple(layer, "dilation_rate", n)
    padding = _padding(layer, ("valid", "same", "causal") if n == 1 else ("valid", "same"))
    if layer.get("groups", 1) != 1:
        raise layer.refuse(f"groups={layer.config['groups']} (grouped convolution) is not translated")
    return kernel, strides, dilation, padding


def _spatial(shape: tuple, kernel: tuple, strides: tuple, padding: str, dilation: tuple) -> tuple:
    """Keras's conv_output_length for each spatial dim (None stays None)."""
    out = []
    for n, k, s, d in zip(shape, kernel, strides, dilation):
        if n is None:
            out.append(None)
        elif padding in ("same", "causal"):
            out.append(math.ceil(n / s))
        else:
            out.append(math.ceil((n - (k - 1) * d) / s))
    return tuple(out)


def _window_args(n: int, strides: tuple, padding: str, dilation: tuple) -> str:
    """The non-default window arguments, as tf_keras.backend spells them."""
    def spell(v):
        return str(v[0]) if n == 1 else literal(v)
    args = ""
    if strides != (1,) * n:
        args += f", strides={spell(strides)}"
    if padding != "valid":
        args += f", padding='{padding}'"
    if dilation != (1,) * n:
        args += f", dilation_rate={spell(dilation)}"
    return args


def _finish(w: Writer, layer: Layer, expr: str, v: dict, shape: tuple) -> list[Tensor]:
    if "bias" in v:
        expr += f" + {v['bias']}"
    return [Tensor(w.let(layer.name, activation(w, layer, expr)), shape)]


def conv(n: int):
    op = f"conv{n}d"

    def translate(w, layer, xs):
        x = one(layer, xs)
        kernel, strides, dilation, padding = _window(layer, x, op, n)
        filters, use_bias = layer.get("filters"), layer.get("use_bias", True)
        roles = ["kernel", "bias"] if use_bias else ["kernel"]
        v = weights(w, layer, roles, [kernel + (x.shape[-1], filters), (filters,)])
        expr = f"{op}({x.name}, {v['kernel']}{_window_args(n, strides, padding, dilation)})"
        shape = (x.shape[0],) + _spatial(x.shape[1:-1], kernel, strides, padding, dilation) + (filters,)
        return _finish(w, layer, expr, v, shape)
    return translate


def conv2d_transpose(w, layer, xs):
    x = one(layer, xs)
    kernel, strides, dilation, padding = _window(layer, x, "conv2d_transpose", 2)
    if layer.get("output_padding") is not None:
        raise layer.refuse(f"output_padding={layer.config['output_padding']!r} is not translated")
    filters, use_bias = layer.get("filters"), layer.get("use_bias", True)
    v = weights(w, layer, ["kernel", "bias"] if use_bias else ["kernel"],
                [kernel + (filters, x.shape[-1]), (filters,)])
    sizes = []
    for size, k, s, d in zip(x.shape[1:3], kernel, strides, dilation):
        if size is None:
            raise layer.refuse("its input's height and width must be known (they fix output_shape)")
        k = k + (k - 1) * (d - 1)
        sizes.append(size * s if padding == "same" else size * s + max(k - s, 0))
    out = (None, sizes[0], sizes[1], filters)
    expr = (f"conv2d_transpose({x.name}, {v['kernel']}, {literal(out)}"
            f"{_window_args(2, strides, padding, dilation)})")
    return _finish(w, layer, expr, v, (x.shape[0],) + out[1:])


def depthwise_conv2d(w, layer, xs):
    x = one(layer, xs)
    kernel, strides, dilation, padding = _window(layer, x, "depthwise_conv2d", 2)
    mult, use_bias = layer.get("depth_multiplier", 1), layer.get("use_bias", True)
    channels = x.shape[-1]
    v = weights(w, layer, ["depthwise_kernel", "bias"] if use_bias else ["depthwise_kernel"],
                [kernel + (channels, mult), (channels * mult,)])
    expr = f"depthwise_conv2d({x.name}, {v['depthwise_kernel']}{_window_args(2, strides, padding, dilation)})"
    shape = (x.shape[0],) + _spatial(x.shape[1:3], kernel, strides, padding, dilation) + (channels * mult,)
    return _finish(w, layer, expr, v, shape)


def separable(n: int):
    op = f"separable_conv{n}d"

    def translate(w, layer, xs):
        x = one(layer, xs)
        kernel, strides, dilation, padding = _window(layer, x, op, n)
        filters, use_bias = layer.get("filters"), layer.get("use_bias", True)
        mult, channels = layer.get("depth_multiplier", 1), x.shape[-1]
        roles = ["depthwise_kernel", "pointwise_kernel"] + (["bias"] if use_bias else [])
        v = weights(w, layer, roles, [kernel + (channels, mult), (1,) * n + (channels * mult, filters),
                                      (filters,)])
        source = x.name
        if padding == "causal":  # as tf_keras: zeros in front, then a 'valid' convolution
            need(layer, "temporal_padding")
            source, padding = f"temporal_padding({x.name}, ({(kernel[0] - 1) * dilation[0]}, 0))", "valid"
            x = Tensor(x.name, (x.shape[0], None if x.shape[1] is None else x.shape[1] + (kernel[0] - 1) * dilation[0],
                                x.shape[2]))
        expr = (f"{op}({source}, {v['depthwise_kernel']}, {v['pointwise_kernel']}"
                f"{_window_args(n, strides, padding, dilation)})")
        shape = (x.shape[0],) + _spatial(x.shape[1:-1], kernel, strides, padding, dilation) + (filters,)
        return _finish(w, layer, expr, v, shape)
    return translate


def pool(n: int, mode: str):
    def translate(w, layer, xs):
        x = one(layer, xs)
        no_mask(layer, x)
        channels_last(layer)
        size = _tuple(layer, "pool_size", n, 2)
        strides = _tuple(layer, "strides", n, None) if layer.get("strides") is not None else size
        padding = _padding(layer)
        shape = (x.shape[0],) + _spatial(x.shape[1:-1], size, strides, padding, (1,) * n) + (x.shape[-1],)
        mode_arg = ", pool_mode='avg'" if mode == "avg" else ""
        if n == 1:  # as tf_keras: a 2D pool over (steps, 1)
            need(layer, "pool2d")
            args = _window_args(2, (strides[0], 1), padding, (1, 1))
            expr = f"squeeze(pool2d(expand_dims({x.name}, 2), ({size[0]}, 1){args}{mode_arg}), 2)"
        else:
            need(layer, f"pool{n}d")
            expr = f"pool{n}d({x.name}, {literal(size)}{_window_args(n, strides, padding, (1,) * n)}{mode_arg})"
        return [Tensor(w.let(layer.name, expr), shape)]
    return translate


def global_pool(n: int, reduce: str):
    def translate(w, layer, xs):
        x = one(layer, xs)
        no_mask(layer, x)
        channels_last(layer)
        keepdims = bool(layer.get("keepdims", False))
        axes = tuple(range(1, n + 1))
        axis = axes[0] if n == 1 else axes
        expr = f"{reduce}({x.name}, axis={literal(axis)}" + (", keepdims=True)" if keepdims else ")")
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keepdims else \
            (x.shape[0], x.shape[-1])
        return [Tensor(w.let(layer.name, expr), shape)]
    return translate


def _pairs(layer: Layer, key: str, n: int) -> tuple:
    value = layer.get(key)
    if isinstance(value, int):
        value = ((value, value),) * n
    elif n == 1 and isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        value = (tuple(value),)
    else:
        value = tuple(tuple(p) if isinstance(p, (list, tuple)) else (p, p) for p in value)
    if len(value) != n or not all(len(p) == 2 and all(isinstance(v, int) for v in p) for p in value):
        raise layer.refuse(f"{key}={layer.config.get(key)!r} is not {n} pairs of integers")
    return value


def zero_padding(n: int):
    op = {1: "temporal_padding", 2: "spatial_2d_padding", 3: "spatial_3d_padding"}[n]

    def translate(w, layer, xs):
        x = one(layer, xs)
        need(layer, op)
        no_mask(layer, x)
        if n > 1:
            channels_last(layer)
        pads = _pairs(layer, "padding", n)
        arg = literal(pads[0]) if n == 1 else literal(pads)
        spatial = tuple(None if d is None else d + a + b for d, (a, b) in zip(x.shape[1:], pads))
        return [Tensor(w.let(layer.name, f"{op}({x.name}, {arg})"), (x.shape[0],) + spatial + x.shape[n + 1:])]
    return translate


def cropping(n: int):
    def translate(w, layer, xs):
        x = one(layer, xs)
        no_mask(layer, x)
        if n > 1:
            channels_last(layer)
        crops = _pairs(layer, "cropping", n)
        index = ", ".join(f"{a}:{-b if b else ''}" for a, b in crops)
        spatial = tuple(None if d is None else d - a - b for d, (a, b) in zip(x.shape[1:], crops))
        return [Tensor(w.let(layer.name, f"{x.name}[:, {index}]"), (x.shape[0],) + spatial + x.shape[n + 1:])]
    return translate


def upsampling(n: int):
    def translate(w, layer, xs):
        x = one(layer, xs)
        no_mask(layer, x)
        size = _tuple(layer, "size", n, 2)
        if n == 1:
            expr = f"repeat_elements({x.name}, {size[0]}, 1)"
        else:
            channels_last(layer)
            interpolation = layer.get("interpolation", "nearest") if n == 2 else "nearest"
            if interpolation not in ("nearest", "bilinear"):
                raise layer.refuse(f"interpolation='{interpolation}' is not translated")
            op = "resize_images" if n == 2 else "resize_volumes"
            need(layer, op)
            extra = f", interpolation='{interpolation}'" if interpolation != "nearest" else ""
            expr = f"{op}({x.name}, {', '.join(map(str, size))}, 'channels_last'{extra})"
        spatial = tuple(None if d is None else d * s for d, s in zip(x.shape[1:], size))
        return [Tensor(w.let(layer.name, expr), (x.shape[0],) + spatial + x.shape[n + 1:])]
    return translate


TRANSLATORS = {
    "Conv1D": conv(1), "Conv2D": conv(2), "Conv3D": conv(3),
    "Conv2DTranspose": conv2d_transpose, "DepthwiseConv2D": depthwise_conv2d,
    "SeparableConv1D": separable(1), "SeparableConv2D": separable(2),
    **{f"{kind}Pooling{n}D": pool(n, mode) for kind, mode in (("Max", "max"), ("Average", "avg"))
       for n in (1, 2, 3)},
    **{f"Global{kind}Pooling{n}D": global_pool(n, reduce) for kind, reduce in (("Max", "max"), ("Average", "mean"))
       for n in (1, 2, 3)},
    **{f"ZeroPadding{n}D": zero_padding(n) for n in (1, 2, 3)},
    **{f"Cropping{n}D": cropping(n) for n in (1, 2, 3)},
    **{f"UpSampling{n}D": upsampling(n) for n in (1, 2, 3)},
}
