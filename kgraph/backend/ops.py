"""Every op of the registry as a backend function, generated from its signature.

`K.dot`, `K.sum`, `K.softmax`, ... are one generic wrapper each, with the op's
Keras signature (argument names and defaults) and its doc: nothing about an op is
written twice. The compiler's own ops (category "internal": leaves, constants,
`grad`, seeded twins) and `getitem` (Python indexing reaches it) are not
functions of the backend.
"""
from __future__ import annotations

import inspect
from typing import Callable

from ..ops import REGISTRY, Op
from .tensor import call_op

NOT_FUNCTIONS = frozenset({"getitem"})


def _function(op: Op) -> Callable:
    def function(*args, **kwargs):
        return call_op(op.name, list(args), kwargs)

    empty = inspect.Parameter.empty
    function.__signature__ = inspect.Signature([
        inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          default=empty if p.required else p.default) for p in op.params])
    function.__name__ = function.__qualname__ = op.name
    function.__module__ = "kgraph.backend"
    function.__doc__ = f"{op.signature}\n\n{op.doc}"
    return function


def op_functions() -> dict[str, Callable]:
    """name → backend function, for every op a program can call."""
    return {op.name: _function(op) for op in REGISTRY.values()
            if op.category != "internal" and op.name not in NOT_FUNCTIONS}
