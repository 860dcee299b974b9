"""The `.kgx` manifest's schema: every field an exported program's loader reads, checked first.

A manifest is JSON a stranger may have written, so a missing seed or a list where a
dict belongs must be a clear error naming the field, not a KeyError from deep inside
the loader. `check_manifest` walks the schema below and raises ValueError with the
path of the first field that is wrong (`variables[2].shape[0]`); export.py turns it
into a KGraphError naming the file.
"""
from __future__ import annotations

from .types import DTYPES, FLOAT_DTYPES


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _dim(v) -> bool:
    return v is None or (isinstance(v, str) and v.isidentifier()) or (_is_int(v) and v >= 0)


def _static_dim(v) -> bool:
    return _is_int(v) and v >= 0


def _symbolic_dim(v) -> bool:
    return (isinstance(v, str) and v.isidentifier()) or (_is_int(v) and v >= 0)


def _name(v) -> bool:
    return isinstance(v, str) and v.isidentifier()


def _list_of(check):
    return ("list", check)


LEAF = {"name": _name, "dtype": lambda v: v in DTYPES, "shape": _list_of(_dim)}
SCHEMA = {
    "format": lambda v: isinstance(v, str),
    "version": _is_int,
    "seed": _is_int,
    "floatx": lambda v: v in FLOAT_DTYPES,
    "platforms": _list_of(lambda v: isinstance(v, str)),
    "placeholders": _list_of(dict(LEAF, exported_shape=_list_of(_symbolic_dim))),
    "outputs": _list_of(LEAF),
    "variables": _list_of(dict(LEAF, shape=_list_of(_static_dim),
                               file=lambda v: isinstance(v, str) and v.startswith("variables/"),
                               used=lambda v: isinstance(v, bool))),
    "updates": _list_of(_name),
}
MAX_ENTRIES = 100_000  # placeholders, outputs or variables: far more than any program has


def check_manifest(manifest) -> None:
    """ValueError naming the first field of `manifest` that the schema does not allow."""
    problem = _check(manifest, SCHEMA, "manifest")
    if problem:
        raise ValueError(problem)
    for entry in manifest["placeholders"]:
        if len(entry["exported_shape"]) != len(entry["shape"]):
            raise ValueError(f"placeholder '{entry['name']}': exported_shape and shape differ in rank")


def _check(value, schema, where: str) -> str | None:
    """The first problem as text, or None; the schema is a check, a dict of fields or a list."""
    stack = [(value, schema, where)]
    while stack:
        value, schema, where = stack.pop()
        if isinstance(schema, dict):
            if not isinstance(value, dict):
                return f"{where} must be an object, got {type(value).__name__}"
            for key in reversed(list(schema)):
                if key not in value:
                    return f"{where} has no field '{key}'"
                stack.append((value[key], schema[key], f"{where}.{key}"))
        elif isinstance(schema, tuple):
            if not isinstance(value, list):
                return f"{where} must be a list, got {type(value).__name__}"
            if len(value) > MAX_ENTRIES:
                return f"{where} has {len(value):,} entries (at most {MAX_ENTRIES:,})"
            stack.extend((v, schema[1], f"{where}[{i}]") for i, v in reversed(list(enumerate(value))))
        elif not schema(value):
            return f"{where} has a value kgraph cannot use: {_short(value)}"
    return None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
