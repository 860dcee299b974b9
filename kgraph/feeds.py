"""Feeds: reading them from the command line, and checking them against placeholders.

A feed is converted to its placeholder's dtype when NumPy's `same_kind` casting
allows; otherwise, and on any shape disagreement, it is a `FeedError` that names
the placeholder, its declared type and what was given, at the placeholder's line.
"""
from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import limits, npyfile
from .errors import FeedError, KGraphError, Span
from .ir import Node
from .types import TensorType, format_dim, np_dtype


def describe_array(a: np.ndarray) -> str:
    return f"{a.dtype.name}[{', '.join(str(d) for d in a.shape)}]"


def check_feed(name: str, node: Node, value: Any, span: Span | None,
               named_dims: dict[str, tuple[int, str]]) -> np.ndarray:
    """Convert `value` for placeholder `node`; record named dims to check agreement across feeds."""
    declared: TensorType = node.type
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise FeedError(f"feed '{name}': cannot make an array of the given value ({e}); "
                        f"the placeholder is {declared}", span) from None
    if array.dtype == object or (array.dtype.kind in "USV" and array.dtype.name != "bfloat16"):
        raise FeedError(f"feed '{name}': expected numbers for placeholder {name}: {declared}, "
                        f"got {array.dtype.name} data", span)
    if array.ndim != declared.ndim:
        raise FeedError(f"feed '{name}': shape mismatch: {name} is declared {declared}, "
                        f"got {describe_array(array)} (rank {array.ndim} != {declared.ndim})", span)
    for axis, (want, got) in enumerate(zip(declared.shape, array.shape)):
        if isinstance(want, int) and want != got:
            raise FeedError(f"feed '{name}': shape mismatch: {name} is declared {declared}, "
                            f"got {describe_array(array)} (axis {axis}: {got} != {want})", span)
        if isinstance(want, str):
            if want in named_dims and named_dims[want][0] != got:
                size, other = named_dims[want]
                raise FeedError(f"feed '{name}': dimension '{want}' is {got} here but {size} in feed "
                                f"'{other}' ({name} is declared {declared}, got {describe_array(array)})",
                                span)
            named_dims.setdefault(want, (got, name))
    target = np_dtype(declared.dtype)
    if array.dtype != target:
        # NumPy's same_kind rule; integers may also go to an unsigned type when every value fits.
        both_int = array.dtype.kind in "iu" and target.kind in "iu"
        if both_int and not _fits(array, target):
            raise FeedError(f"feed '{name}': values out of range for {declared.dtype}: {name} is "
                            f"declared {declared}, got {describe_array(array)}", span)
        if not (np.can_cast(array.dtype, target, "same_kind") or both_int):
            raise FeedError(f"feed '{name}': cannot convert {describe_array(array)} to the placeholder's "
                            f"dtype: {name} is declared {declared}", span)
        array = array.astype(target)
    return array


def learning_phase_value(value) -> bool:
    """A learning phase given by the user (True/False, 1/0) as a bool; anything else is an error."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise KGraphError(f"the learning phase (training=) must be True, False, 1 or 0, got {value!r}")


def check_feeds(feeds: dict[str, Any], placeholders: dict, needed: list[str],
                spans: dict[str, Span]) -> dict[str, np.ndarray]:
    """Every feed checked by `check_feed`: `placeholders` maps each name to a node (anything
    with a `.type`), `needed` names the ones a run must be fed; a FeedError names what is wrong."""
    for name in feeds:
        if name not in placeholders:
            known = ", ".join(placeholders) or "none"
            raise FeedError(f"feed '{name}' matches no placeholder (placeholders: {known})")
    out, named = {}, {}
    for name, node in placeholders.items():
        if name not in feeds:
            if name not in needed:
                continue  # no output or update needs it
            raise FeedError(f"placeholder '{name}' ({node.type}) needs a feed: "
                            f"`--feed {name}=...` or run({name}=...)", spans.get(name))
        out[name] = check_feed(name, node, feeds[name], spans.get(name), named)
    return out


def _fits(array: np.ndarray, target: np.dtype) -> bool:
    info = np.iinfo(target)
    return array.size == 0 or (int(array.min()) >= info.min and int(array.max()) <= info.max)


# ---- the command line's feed syntax ---------------------------------------------

def read_feed_value(text: str, stdin=None) -> np.ndarray | Any:
    """NAME=VALUE's VALUE: .npy, .npz[:key], .csv, '-' (a .npy on stdin) or a JSON literal.

    Raises ValueError with a readable reason (a LimitError past a limit); the caller
    names the feed. Files are read as npyfile.py says: sizes checked before reading.
    """
    if text == "-":
        return npyfile.read_npy(stdin or sys.stdin.buffer, "standard input")
    path_part, _, key = text.partition(":") if ".npz:" in text else (text, "", "")
    suffix = Path(path_part).suffix.lower()
    if suffix == ".npy":
        with npyfile.open_regular(path_part, "file") as f:
            return npyfile.read_npy(f, path_part, available=os.fstat(f.fileno()).st_size)
    if suffix == ".npz":
        return _load_npz(path_part, key)
    if suffix == ".csv":
        return _load_csv(path_part)
    limits.check_json_depth(text, "the nesting depth of the JSON feed")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    raise ValueError(f"{text!r} is neither a file (.npy, .npz, .csv) nor a JSON literal "
                     f"(e.g. '[[1, 2], [3, 4]]' or 3.5)")


def _load_npz(path: str, key: str) -> np.ndarray:
    names = npyfile.npz_names(path, "file")
    if key and key not in names:
        raise ValueError(f"{path} has no array '{key}' (it has: {', '.join(names)})")
    if not key and len(names) != 1:
        raise ValueError(f"{path} holds {len(names)} arrays ({', '.join(names)}); "
                         f"choose one with {path}:KEY")
    return npyfile.read_npz(path, "file", names=[key or names[0]])[key or names[0]]


def _load_csv(path: str) -> np.ndarray:
    text = npyfile.read_text(path, "file")
    try:
        return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise ValueError(f"{path} is not a CSV of numbers ({e})") from None


def parse_feeds(program, specs: list[str]) -> dict:
    """`--feed NAME=VALUE` options (`kgraph run`, `%%kgraph`) as {placeholder: value}; a mistake
    is a FeedError that names the feed and the placeholder's declared type, at its line."""
    feeds = {}
    spans = getattr(program, "leaf_spans", {})  # a .kgx has no source
    for spec in specs:
        name, sep, text = spec.partition("=")
        if not sep or not name:
            raise FeedError(f"--feed {spec!r}: expected NAME=VALUE, e.g. --feed x=data.npy")
        if name not in program.placeholders:
            known = ", ".join(program.placeholders) or "none"
            raise FeedError(f"--feed {name}=...: the program has no placeholder '{name}' "
                            f"(placeholders: {known})")
        if name in feeds:
            raise FeedError(f"--feed {name}=... is given twice")
        dtype, shape = program.placeholders[name]
        declared = f"{dtype}[{', '.join('None' if d is None else str(d) for d in shape)}]"
        try:
            value = read_feed_value(text)
        except ValueError as e:  # a LimitError stays one; a format problem is a FeedError
            cls, reason = (type(e), e.message) if isinstance(e, KGraphError) else (FeedError, e)
            raise cls(f"feed '{name}' (placeholder {name}: {declared}): {reason}", spans.get(name)) from None
        if text.lower().endswith(".csv"):
            value = _fit_csv(value, len(shape))
        feeds[name] = value
    return feeds


def _fit_csv(array: np.ndarray, rank: int) -> np.ndarray:
    """A CSV is read as rows; a one-row or one-column CSV also feeds a vector or a scalar."""
    if rank == 1 and 1 in array.shape:
        return array.reshape(-1)
    if rank == 0 and array.size == 1:
        return array.reshape(())
    return array


def format_type_for(dtype: str, shape: tuple) -> str:
    return f"{dtype}[{', '.join(format_dim(d) for d in shape)}]"
