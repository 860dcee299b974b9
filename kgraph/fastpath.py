"""Helpers for a Program's per-run fast path: feed specs, device-array checks, tuple getters.

`Program.run` is called once per training step, so the checks it makes on every call are
precomputed here once (program.py) and kept as cheap as a dict lookup.
"""
from __future__ import annotations

import operator
from typing import Any

import jax
import numpy as np

from .types import np_dtype


def feed_specs(placeholders: list) -> list[tuple[str, np.dtype, tuple]] | None:
    """(name, dtype, shape) of each placeholder for check_feeds' fast path; None where a
    placeholder has a named dim (agreement across feeds is the full check's job)."""
    if any(isinstance(d, str) for n in placeholders for d in n.shape):
        return None
    return [(n.attr("name"), np_dtype(n.dtype), n.shape) for n in placeholders]


def is_device_array(value: Any) -> bool:
    """A concrete JAX array (not a tracer: a run cannot be traced)."""
    return isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer)


def dims_match(shape: tuple, declared: tuple) -> bool:
    """`shape` has `declared`'s rank and its size on every axis that `declared` fixes."""
    return len(shape) == len(declared) and all(d is None or d == s for d, s in zip(declared, shape))


def tuple_getter(names: list[str]):
    """dict → the tuple of its values at `names` (operator.itemgetter, always a tuple)."""
    if not names:
        return lambda d: ()
    if len(names) == 1:
        name = names[0]
        return lambda d: (d[name],)
    return operator.itemgetter(*names)
