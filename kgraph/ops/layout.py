"""What the image ops share: data formats, padding names, per-axis tuples and the size
of a sliding window's output.

The builder has already replaced `data_format=None` by the program's
`image_data_format()` (build.py), so the rules here only see the two names.
"""
from __future__ import annotations

import math

from ..types import TensorType
from .registry import OpError

FORMATS = ("channels_last", "channels_first")


def channels_first(data_format) -> bool:
    if data_format not in FORMATS:
        raise OpError(f"unknown data_format {data_format!r} (use 'channels_last' or "
                      f"'channels_first')", kind="argument")
    return data_format == "channels_first"


def padding_arg(padding, allowed=("valid", "same")) -> str:
    if padding not in allowed:
        names = ", ".join(repr(p) for p in allowed)
        raise OpError(f"invalid padding {padding!r} (use {names})", kind="argument")
    return padding


def per_axis(value, n: int, what: str) -> tuple[int, ...]:
    """An int (the same for every spatial axis) or a tuple of `n` positive ints."""
    values = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    if (not isinstance(values, tuple) or len(values) != n
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)):
        raise OpError(f"{what} must be a tuple of {n} positive integers, got {value!r}",
                      kind="argument")
    return values


def spatial_dims(x: TensorType, first: bool) -> tuple:
    return x.shape[2:] if first else x.shape[1:-1]


def channels(x: TensorType, first: bool):
    return x.shape[1] if first else x.shape[-1]


def assemble(batch, spatial, chans, first: bool) -> tuple:
    """A (batch, channels, spatial) or (batch, spatial, channels) shape."""
    return (batch, chans, *spatial) if first else (batch, *spatial, chans)


def window_dim(d, k, stride: int, dilation: int, padding: str):
    """The output size of a sliding window over a dim of size `d` (int, None or a name).

    'same' (and 'causal', which pads dilation * (k - 1) in front) gives ceil(d / stride);
    'valid' gives floor((d - k_eff) / stride) + 1 with k_eff = (k - 1) * dilation + 1,
    TensorFlow's sizes. An unknown dim stays unknown; it keeps its name where the window
    cannot change it.
    """
    if padding in ("same", "causal"):
        if isinstance(d, int):
            return -(-d // stride)
        return d if stride == 1 else None
    if not isinstance(k, int):
        return None
    k_eff = (k - 1) * dilation + 1
    if isinstance(d, int):
        if d < k_eff:
            raise OpError(f"the window ({k_eff} wide with dilation) is larger than the input "
                          f"({d}) with padding='valid': {{0}}, {{1}}")
        return (d - k_eff) // stride + 1
    return d if k_eff == 1 and stride == 1 else None


def same_padding(d: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'SAME' padding of one axis: the extra cell goes after."""
    k_eff = (k - 1) * dilation + 1
    total = max((math.ceil(d / stride) - 1) * stride + k_eff - d, 0)
    return total // 2, total - total // 2


def require_rank(t: TensorType, rank: int, operand: int, what: str) -> None:
    if t.ndim != rank:
        raise OpError(f"expects a {rank}-D {what}, but {{{operand}}}")
