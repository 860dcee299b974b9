"""The rest of tf_keras.backend's names: call forms Keras code uses, and the session plumbing.

kgraph has no TensorFlow session, graph, name scopes or sparse tensors. Each of those
names does the harmless equivalent where there is one (`name_scope` is a context
that changes nothing, `is_sparse` is False, `get_uid` counts), and otherwise raises
a KGraphError that says what kgraph does instead. No public name of tf_keras.backend
is an AttributeError (tests/test_keras_backend_names.py checks each).
"""
from __future__ import annotations

import contextlib
import types
from collections import defaultdict

from ..errors import KGraphError
from ..ops.nn import EPSILON
from .functions import KUpdate, update
from .session import caller_span
from .tensor import KTensor, KVariable, call_op

NO_SESSION = ("kgraph has no TensorFlow session or graph: K.function(inputs, outputs, updates) compiles "
              "a piece of the graph and runs it, K.eval evaluates a tensor, and K.clear_session() "
              "starts a new graph")
NO_SPARSE = "kgraph has no sparse tensors; pass dense tensors"


def _refuse(what: str, instead: str):
    raise KGraphError(f"{what}: {instead}", caller_span())


# ---- call forms ---------------------------------------------------------------------------

def switch(condition, then_expression, else_expression):
    """then_expression where condition holds, else else_expression (either may be a callable)."""
    then = then_expression() if callable(then_expression) else then_expression
    other = else_expression() if callable(else_expression) else else_expression
    return call_op("switch", [condition, then, other], {})


def stop_gradient(variables):
    """A tensor (or a list of tensors) whose gradient is zero."""
    if isinstance(variables, (list, tuple)):
        return [call_op("stop_gradient", [v], {}) for v in variables]
    return call_op("stop_gradient", [variables], {})


def moving_average_update(x, value, momentum) -> KUpdate:
    """The update x <- x - (x - value) * (1 - momentum), for K.function's updates."""
    if not isinstance(x, KVariable):
        _refuse("K.moving_average_update", f"x must be a variable, got {x!r}")
    return update(x, call_op("moving_average_update", [x, value, momentum], {}))


# ---- plumbing that has a harmless equivalent ------------------------------------------------

def backend() -> str:
    """The name of the backend: 'kgraph' (code that tests for 'tensorflow' takes its other path)."""
    return "kgraph"


_UIDS: defaultdict = defaultdict(int)


def get_uid(prefix: str = "") -> int:
    """1, 2, 3, ... for each prefix, as Keras numbers layers."""
    _UIDS[prefix] += 1
    return _UIDS[prefix]


def reset_uids() -> None:
    _UIDS.clear()


@contextlib.contextmanager
def name_scope(name):
    """A context that changes nothing: kgraph names tensors after their ops (K.function's and
    the error messages' names)."""
    yield name


def is_keras_tensor(x) -> bool:
    """True for symbolic tensors made by the backend (placeholders and computed tensors), False
    for variables; anything else is an error, as in Keras."""
    if not isinstance(x, KTensor):
        _refuse("K.is_keras_tensor", f"expects a symbolic tensor, got {type(x).__name__}: {x!r}")
    return not isinstance(x, KVariable)


def set_epsilon(value) -> None:
    """kgraph's epsilon is fixed at 1e-7; setting that value is accepted, any other is an error."""
    if value != EPSILON:
        _refuse("K.set_epsilon", f"kgraph's fuzz factor is fixed at {EPSILON} (the crossentropies' "
                                 f"clipping uses it); got {value!r}")


def manual_variable_initialization(value) -> None:
    """False is accepted: kgraph variables always hold their values."""
    if value:
        _refuse("K.manual_variable_initialization(True)", "kgraph variables always hold their values "
                "(set them with K.set_value or K.batch_set_value)")


def is_sparse(tensor) -> bool:
    return False  # kgraph has no sparse tensors


def to_dense(tensor):
    """Every kgraph tensor is dense already: the tensor itself."""
    return tensor


def ctc_label_dense_to_sparse(labels, label_lengths):
    _refuse("K.ctc_label_dense_to_sparse", NO_SPARSE + "; K.ctc_batch_cost takes the dense labels and "
            "their lengths")


def get_session(op_input_list=()):
    _refuse("K.get_session", NO_SESSION)


def set_session(session):
    _refuse("K.set_session", NO_SESSION)


def get_graph():
    _refuse("K.get_graph", NO_SESSION)


def _is_tf_random_generator_enabled() -> bool:
    return False


def _enable_tf_random_generator():
    _refuse("K.experimental.enable_tf_random_generator", "kgraph's random ops draw from JAX keys: a "
            "seed=, or the program's seed (--seed, compile(seed=)) for unseeded ones")


experimental = types.SimpleNamespace(
    is_tf_random_generator_enabled=_is_tf_random_generator_enabled,
    enable_tf_random_generator=_enable_tf_random_generator,
    disable_tf_random_generator=lambda: None)

NAMES = ["switch", "stop_gradient", "moving_average_update", "backend", "get_uid", "reset_uids",
         "name_scope", "is_keras_tensor", "set_epsilon", "manual_variable_initialization", "is_sparse",
         "to_dense", "ctc_label_dense_to_sparse", "get_session", "set_session", "get_graph",
         "experimental"]
