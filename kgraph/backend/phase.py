"""The learning phase in the backend: K.learning_phase, set_learning_phase, learning_phase_scope.

As in Keras 2's graph mode, `K.learning_phase()` is a symbolic bool scalar (the
`learning_phase()` op, one per session) that a K.function run sets: feed it as an
input (`K.function([x, K.learning_phase()], [y])(([x_value, 1])`) or leave it
out for the test phase. After `K.set_learning_phase(v)`, or inside
`K.learning_phase_scope(v)`, it is the Python int `v` instead, so `in_train_phase`
chooses while the graph is built.
"""
from __future__ import annotations

import contextlib
from typing import Any

from ..errors import ArgumentError
from .session import caller_span, current
from .tensor import KTensor, call_op

_SET: list[int | None] = [None]  # the value set by set_learning_phase, if any


def _phase(value: Any, what: str) -> int:
    if value in (0, 1) and not isinstance(value, float):
        return int(value)
    raise ArgumentError(f"K.{what}: the learning phase must be 0 or 1, got {value!r}", caller_span())


def learning_phase():
    """The learning phase: a bool scalar fed at run time (False unless fed), or the int set
    by set_learning_phase / learning_phase_scope."""
    if _SET[0] is not None:
        return _SET[0]
    return symbolic_learning_phase()


def symbolic_learning_phase() -> KTensor:
    """The session's learning-phase tensor (one per session, as Keras's keras_learning_phase)."""
    session = current()
    tensor = session.functions.get("learning_phase")
    if tensor is None:
        tensor = session.functions["learning_phase"] = call_op("learning_phase", [], {})
        session.names[tensor.node.id] = "keras_learning_phase"
    return tensor


def set_learning_phase(value) -> None:
    """Fix the learning phase to 0 (test) or 1 (train) for the graphs built from now on."""
    _SET[0] = _phase(value, "set_learning_phase")


def global_learning_phase_is_set() -> bool:
    return _SET[0] is not None


@contextlib.contextmanager
def learning_phase_scope(value):
    """Within the block, learning_phase() is `value` (0 or 1); the previous setting returns after."""
    value = _phase(value, "learning_phase_scope")
    previous = _SET[0]
    _SET[0] = value
    try:
        yield value
    finally:
        _SET[0] = previous


def is_learning_phase(x: Any) -> bool:
    return isinstance(x, KTensor) and x.node.op == "learning_phase"


def in_train_phase(x, alt, training=None):
    """x in the training phase, alt otherwise; x and alt may be callables (called first)."""
    if training is None:
        training = learning_phase()
    if training is True or (isinstance(training, int) and training == 1):
        return x() if callable(x) else x
    if training is False or (isinstance(training, int) and training == 0):
        return alt() if callable(alt) else alt
    x = x() if callable(x) else x
    alt = alt() if callable(alt) else alt
    return call_op("in_train_phase", [x, alt], {"training": training})


def in_test_phase(x, alt, training=None):
    """x in the test phase, alt otherwise."""
    return in_train_phase(alt, x, training)
