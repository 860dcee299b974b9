"""The op registry: every op of the language, one `Op` entry each, gathered explicitly."""
from __future__ import annotations

from . import (compare, conv, core, creation, elementwise, image, internal, linalg, loops, losses, nn,
               pool, random, reduce, rnn, shape, static, training)
from ..ir import use_registry
from .registry import REQUIRED, Op, OpError, Param

_MODULES = (core, creation, random, elementwise, compare, reduce, linalg, shape, nn, losses, training,
            conv, pool, image, static, internal, loops, rnn)


def _gather() -> dict[str, Op]:
    registry: dict[str, Op] = {}
    for module in _MODULES:
        for op in module.OPS:
            if op.name in registry:
                raise RuntimeError(f"op {op.name!r} is defined twice")
            registry[op.name] = op
    return registry


REGISTRY: dict[str, Op] = _gather()
use_registry(REGISTRY)  # Graph.make runs these shape rules

__all__ = ["REGISTRY", "REQUIRED", "Op", "OpError", "Param"]
