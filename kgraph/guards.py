"""The builder's checks that keep compile-time work bounded (see limits.py).

Python folds integer arithmetic exactly, so `10 ** 10 ** 10` would run for ever and
`2 ** 20000` cannot even be printed; an op's static argument may be any Python int,
which XLA cannot take past int64; and a shape rule may ask for more elements than
any machine holds, which XLA answers by aborting the process. Each is checked here,
where the builder still knows the line, before the work is done.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import limits
from .errors import ArgumentError, ShapeError, Span
from .types import dtype_name, np_dtype

INT64 = (-2**63, 2**63 - 1)


def fold_numbers(fn, op: str, left, right, span: Span):
    """`left op right` on Python numbers, with the digits of an integer result bounded."""
    if op == "**" and isinstance(left, int) and isinstance(right, int):
        limits.check("max_int_digits", limits.power_digits(left, right),
                     "the folded integer's digit count", span)
    try:
        result = fn(left, right)
    except (ZeroDivisionError, OverflowError) as err:
        raise ArgumentError(str(err), span) from None
    if isinstance(result, int) and not isinstance(result, bool):
        limits.check("max_int_digits", limits.int_digits(result), "the folded integer's digit count",
                     span)
    return result


def show_int(value: int) -> str:
    """An integer as text, or its size when Python would refuse to print it."""
    digits = limits.int_digits(value)
    return str(value) if digits <= 40 else f"of {digits:,} digits"


def check_static_ints(op: str, attrs: dict[str, Any], site) -> None:
    """Every integer in an op's static arguments fits in int64 (what XLA takes)."""
    for name, value in attrs.items():
        bad = _first_wide_int(value)
        if bad is not None:
            raise ArgumentError(f"{op}: argument {name}: the integer {show_int(bad)} does not fit "
                                f"in int64", site.arg_span(name))


def _first_wide_int(value):
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (tuple, list)):
            stack.extend(v)
        elif isinstance(v, int) and not isinstance(v, bool) and not INT64[0] <= v <= INT64[1]:
            return v
    return None


def check_elements(node, span: Span) -> None:
    """A node's static element count within max_elements, before XLA is asked for it."""
    n = limits.elements(node.type.shape)
    if n > limits.current().max_elements:
        raise limits.exceeded("max_elements", n, f"{node.op}: the element count of its result "
                                                 f"{node.type}", span)


def check_axes(value, span: Span) -> None:
    """A literal list nested at most 64 deep: NumPy and XLA allow no more axes."""
    depth = limits.list_depth(value)
    if depth > limits.MAX_AXES:
        raise ShapeError(f"the literal list is nested {depth:,} deep, but an array may have at "
                         f"most {limits.MAX_AXES} dimensions (NumPy's and XLA's limit)", span)


def literal_array(value, span: Span, dtype: str | None = None) -> np.ndarray:
    """A literal list as an array, its mistakes located where NumPy would raise: more than
    64 axes, ragged rows (`[[1, 2], [3]]`), an integer past `dtype` (past int64 when None)."""
    check_axes(value, span)
    try:
        array = np.asarray(value, dtype=np_dtype(dtype) if dtype else None)
    except OverflowError:
        raise ArgumentError(f"the literal holds an integer that does not fit in {dtype}", span) from None
    except ValueError:
        raise ShapeError("a literal array must be rectangular (every row the same length)",
                         span) from None
    if array.dtype == object:  # NumPy keeps integers past int64 as Python objects
        raise ArgumentError("the literal holds an integer that does not fit in int64", span)
    return array


def cast_literal(array: np.ndarray, dtype: str, span: Span) -> np.ndarray:
    """A literal's array as `dtype`, refusing integers the cast would wrap (1000 as int8)."""
    target = np_dtype(dtype)
    if target.kind in "iu" and array.dtype.kind in "iu" and array.size:
        info = np.iinfo(target)
        if not (info.min <= array.min() and array.max() <= info.max):
            raise ArgumentError(f"the literal does not fit in {dtype_name(target)}", span)
    return array.astype(target)
