"""Tensor types: a dtype name and a static shape whose dims are ints, None or names.

`None` is a dimension known only at run time; a name (`batch`) is one too, but
every use of the same name in a program must agree at run time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Union

import jax.numpy as jnp
import numpy as np

Dim = Union[int, None, str]
Shape = tuple  # tuple[Dim, ...]

DTYPES = ("float16", "bfloat16", "float32", "float64",
          "int8", "int16", "int32", "int64", "uint8", "bool")
FLOAT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64"})
INT_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8"})

SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
         "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint8": "u8",
         "bool": "bool"}


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES


@lru_cache(maxsize=None)
def np_dtype(dtype: str) -> np.dtype:
    return jnp.dtype(dtype)


@lru_cache(maxsize=None)
def dtype_name(dtype) -> str:
    return jnp.dtype(dtype).name


@lru_cache(maxsize=None)
def promote(a: str, b: str) -> str:
    """NumPy/JAX type promotion of two dtype names."""
    return jnp.promote_types(a, b).name


@dataclass(frozen=True)
class TensorType:
    dtype: str
    shape: Shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(format_dim(d) for d in self.shape)}]"

    def short(self) -> str:
        return f"{SHORT[self.dtype]}[{','.join(format_dim(d) for d in self.shape)}]"

    def is_static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    def size(self) -> int | None:
        """The element count, or None when a dimension is unknown."""
        if not self.is_static():
            return None
        return math.prod(self.shape)


def format_dim(d: Dim) -> str:
    return "None" if d is None else str(d)


def format_shape(shape: Shape) -> str:
    return "[" + ", ".join(format_dim(d) for d in shape) + "]"


class DimMismatch(Exception):
    """Raised by shape helpers; the op that called them turns it into a ShapeError."""


def broadcast_dim(a: Dim, b: Dim) -> Dim:
    if a == b:
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    if isinstance(a, int) and isinstance(b, int):
        raise DimMismatch(f"{a} != {b}")
    # One side is unknown: the known int (or name) wins; a run-time check catches the rest.
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    if a is None:
        return b
    if b is None:
        return a
    return None  # two different names: only the run time knows


def broadcast_shapes(*shapes: Shape) -> Shape:
    first = shapes[0] if shapes else ()
    if all(s == first for s in shapes):
        return first
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        dim: Dim = 1
        for s in shapes:
            j = i - (ndim - len(s))
            if j >= 0:
                dim = broadcast_dim(dim, s[j])
        out.append(dim)
    return tuple(out)


def dims_agree(a: Dim, b: Dim) -> bool:
    """Whether two dims can be equal at run time."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return True


def normalize_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise DimMismatch(f"axis {axis} is out of range for a tensor of rank {ndim}")
    return axis % ndim if ndim else 0


def dim_product(dims) -> Dim:
    out = 1
    for d in dims:
        if not isinstance(d, int):
            return None
        out *= d
    return out
