"""Helpers for a Program's per-run fast path: feed specs, the exact-signature call, device-array
checks, tuple getters.

`Program.run` is called once per training step, so the checks it makes on every call are
precomputed here once (program.py) and kept as cheap as a dict lookup.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import jax
import numpy as np

from .display import Outputs
from .types import np_dtype

try:  # the class of a concrete JAX array, for run's fast path (any other class takes the full check)
    from jax._src.array import ArrayImpl as ARRAY_IMPL
except ImportError:  # pragma: no cover - a JAX that moved it: JAX arrays take the full check
    ARRAY_IMPL = np.ndarray
_NDARRAY, _ASARRAY = np.ndarray, np.asarray  # one global read each on the fast path, not two

# A run's result is a pytree of its arrays, so jax.block_until_ready(prog.run(..., to_numpy=False))
# waits for them and jax.tree.map sees them (an unregistered dict subclass is one opaque leaf).
jax.tree_util.register_pytree_node(
    Outputs, lambda d: (tuple(d.values()), tuple(d)), lambda names, values: Outputs(zip(names, values)))


def feed_specs(placeholders: list) -> list[tuple[str, np.dtype, tuple]] | None:
    """(name, dtype, shape) of each placeholder for check_feeds' fast path; None where a
    placeholder has a named dim (agreement across feeds is the full check's job)."""
    if any(isinstance(d, str) for n in placeholders for d in n.shape):
        return None
    return [(n.attr("name"), np_dtype(n.dtype), n.shape) for n in placeholders]


def exact_call(step, specs: list[tuple[str, np.dtype, tuple]],
               numbered_outputs: list[tuple[int, str]]) -> Callable[[dict, bool], dict | None]:
    """`run`'s fast path for a program without state, context or run-time dims: `call(feeds,
    to_numpy)` gives the outputs dict straight from the jitted `step`, or None when `feeds`
    is not exactly the signature (then `run` makes the full check, with every message).

    Exactly the signature: each placeholder fed, nothing else, each value passing `fits`.
    Everything is bound once here, so a call reads locals: against a 5-7 µs jitted call each
    attribute read, temporary object and loop of the general path is measurable (one feed
    gets its own closure, without the loop and the argument list; benchmarks/RESULTS.md,
    "Per-call overhead").
    """
    if len(specs) == 1:
        ((name, dtype, shape),) = specs

        def call_one(feeds: dict, to_numpy: bool) -> dict | None:
            if len(feeds) != 1:
                return None
            value = feeds.get(name)
            if not fits(value, dtype, shape):
                return None
            return outputs(step(value), numbered_outputs, to_numpy)

        return call_one
    count = len(specs)

    def call(feeds: dict, to_numpy: bool) -> dict | None:
        if len(feeds) != count:
            return None
        args = []
        for name, dtype, shape in specs:
            value = feeds.get(name)
            if not fits(value, dtype, shape):
                return None
            args.append(value)
        return outputs(step(*args), numbered_outputs, to_numpy)

    return call


def fits(value: Any, dtype: np.dtype, shape: tuple) -> bool:
    """`value` is a NumPy array or a concrete JAX array of exactly `dtype` and `shape`.

    `is` on dtypes: NumPy's native dtypes are singletons, and any other one (byte-swapped,
    a subclass) takes the full check. A JAX array's `aval` holds both facts: one attribute
    read, where `.dtype` and `.shape` are two properties of about 0.1 µs each."""
    cls = value.__class__
    if cls is _NDARRAY:
        return value.dtype is dtype and value.shape == shape
    if cls is ARRAY_IMPL:
        aval = value.aval
        return aval.dtype is dtype and aval.shape == shape
    return False


def outputs(outs: tuple, numbered_outputs: list[tuple[int, str]], to_numpy: bool) -> Outputs:
    """A run's outputs by name: NumPy arrays, or the device arrays as they are. A plain loop
    over precomputed pairs: in CPython 3.11 a comprehension is a call with its own frame, and
    zip() an object per run (each measurable against a 5-7 µs jitted call)."""
    result = Outputs()  # a dict that a notebook shows as a table
    if to_numpy:
        for i, name in numbered_outputs:
            result[name] = _ASARRAY(outs[i])
    else:
        for i, name in numbered_outputs:
            result[name] = outs[i]
    return result


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
