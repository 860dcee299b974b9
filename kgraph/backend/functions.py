"""Running the backend's graph: K.function, K.eval, variable values and updates.

`K.function(inputs, outputs, updates)` copies what the outputs and updates need
out of the session's graph into a program of its own, runs the optimiser on it
and calls it through `Program.as_jax_function` under `jax.jit` (with x64 on, so
float64 and int64 are exact). Each call reads the session's current variable
values and writes the updated ones back, as a Keras session would.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from .. import passes
from ..device import running
from ..errors import DTypeError, KGraphError, ShapeError
from ..feeds import learning_phase_value
from ..frontend import Module
from ..interop import extract
from ..program import Program
from ..types import np_dtype
from .session import caller_span, current
from .tensor import KTensor, KVariable, call_op, unwrap


class KUpdate(NamedTuple):
    """What K.update returns: a variable and its value after the run."""

    variable: KVariable
    value: KTensor


def _tensor(x: Any, what: str) -> KTensor:
    if isinstance(x, KTensor):
        if x.session is not current():
            raise KGraphError(f"{x!r} belongs to a session that K.clear_session() ended", caller_span())
        return x
    raise KGraphError(f"{what} must be symbolic tensors, got {type(x).__name__}: {x!r}", caller_span())


def update(x: KVariable, new_x: Any) -> KUpdate:
    """x's value after a K.function run: new_x (same dtype and shape; numbers are converted)."""
    span = caller_span()
    if not isinstance(x, KVariable):
        raise KGraphError(f"K.update: only variables can be updated, got {x!r}", span)
    session = current()
    if not isinstance(new_x, KTensor):
        array = np.asarray(unwrap(new_x, session, tensor=False))
        if array.dtype.kind == "f" and x.dtype.startswith(("int", "uint", "bool")):
            raise DTypeError(f"K.update: {x.name} is {x.node.type}; a float value cannot update it", span)
        new_x = KTensor(session.builder.constant(array.astype(np_dtype(x.dtype))), session)
    new_x = _tensor(new_x, "an update's value")
    if new_x.dtype != x.dtype:
        raise DTypeError(f"K.update: {x.name} is {x.node.type} but its new value is {new_x.node.type}; "
                         f"an update keeps the variable's dtype (use K.cast)", span)
    if new_x.shape != x.shape:
        raise ShapeError(f"K.update: {x.name} is {x.node.type} but its new value is {new_x.node.type}; "
                         f"an update keeps the variable's shape", span)
    return KUpdate(x, new_x)


def update_add(x: KVariable, increment: Any) -> KUpdate:
    """x's value after a run: x + increment."""
    return update(x, call_op("add", [x, increment], {}))


def update_sub(x: KVariable, decrement: Any) -> KUpdate:
    """x's value after a run: x - decrement."""
    return update(x, call_op("subtract", [x, decrement], {}))


def _as_update(u) -> KUpdate:
    if isinstance(u, KUpdate):
        return u
    if isinstance(u, (tuple, list)) and len(u) == 2:
        return update(*u)
    raise KGraphError(f"K.function's updates are K.update(v, new_v) results or (v, new_v) pairs, "
                      f"got {u!r}", caller_span())


class Function:
    """A compiled piece of the session's graph: call it with the input values (a list, a dict
    for dict inputs, or one value for one bare input)."""

    def __init__(self, inputs, outputs, updates=None, name=None, opt_level: int = 2):
        span = caller_span()
        self.session = session = current()
        self.name = name
        self._input_keys = list(inputs) if isinstance(inputs, dict) else None
        self._bare_input = isinstance(inputs, KTensor)
        given = list(inputs.values()) if isinstance(inputs, dict) else [inputs] if self._bare_input else inputs
        self.inputs = [_tensor(x, "K.function's inputs") for x in given]
        for x in self.inputs:
            if not x.node.is_leaf and x.node.op != "learning_phase":
                raise KGraphError(f"K.function's inputs must be placeholders, variables or "
                                  f"K.learning_phase(); {x!r} is computed", span)
        self._output_keys = list(outputs) if isinstance(outputs, dict) else None
        self._single = isinstance(outputs, KTensor)
        listed = list(outputs.values()) if isinstance(outputs, dict) else [outputs] if self._single else outputs
        self.outputs = [_tensor(x, "K.function's outputs") for x in listed]
        pairs = [_as_update(u) for u in (updates or [])]
        seen = set()
        for u in pairs:
            if u.variable.name in seen:
                raise KGraphError(f"K.function: variable '{u.variable.name}' is updated twice", span)
            seen.add(u.variable.name)
        graph = extract([(f"out{i}", x.node) for i, x in enumerate(self.outputs)],
                        [(u.variable.name, u.value.node) for u in pairs])
        fed = {x.name for x in self.inputs if x.node.op == "placeholder"}
        for ph in graph.placeholders:
            if ph not in fed:
                raise KGraphError(f"the outputs need placeholder '{ph}', which is not among the inputs; "
                                  f"feed it: K.function([..., {ph}], outputs)([..., value])", span)
        self._fed = [x.name for x in self.inputs if x.name in graph.placeholders]
        module = Module.of_graph(graph, {v: session.values[v] for v in graph.variables},
                                 session.builder.floatx, session.builder.leaf_spans, "<kgraph.backend>")
        self.program = Program(module, passes.optimize(graph, opt_level), opt_level)
        self._call = jax.jit(self.program.as_jax_function(updates=True, rng=True))
        self._updated = [u.variable.name for u in pairs]

    def _values(self, inputs) -> list:
        if self._input_keys is not None and isinstance(inputs, dict):
            missing = [k for k in self._input_keys if k not in inputs]
            if missing or len(inputs) != len(self._input_keys):
                raise KGraphError(f"this K.function takes the inputs {', '.join(self._input_keys)}; "
                                  f"got {', '.join(map(str, inputs))}", caller_span())
            return [inputs[k] for k in self._input_keys]
        if self._bare_input and not (isinstance(inputs, (list, tuple)) and len(inputs) == 1):
            return [inputs]
        if not isinstance(inputs, (list, tuple)):
            raise KGraphError("a K.function is called with a list of input values, e.g. f([x_value])",
                              caller_span())
        if len(inputs) != len(self.inputs):
            raise KGraphError(f"this K.function takes {len(self.inputs)} inputs "
                              f"({', '.join(x.name for x in self.inputs)}), got {len(inputs)}", caller_span())
        return list(inputs)

    def __call__(self, inputs=()):
        # A symbolic value (a variable, a constant) is fed its value, as Keras evaluates it.
        given = {x: eval_tensor(v) if isinstance(v, KTensor) else v
                 for x, v in zip(self.inputs, self._values(inputs))}
        session = self.session
        variables = {v: session.values[v] for v in self.program.graph.variables}
        training = False
        for x, v in given.items():
            if x.node.op == "variable" and x.name in variables:
                variables[x.name] = np.asarray(v, dtype=np_dtype(x.dtype))  # fed for this run
            elif x.node.op == "learning_phase" and v is not None:  # None: the default, test
                training = learning_phase_value(v.item() if isinstance(v, np.ndarray) else v)
        try:
            feeds = self.program.check_feeds({x.name: v for x, v in given.items() if x.name in self._fed})
        except KGraphError as e:
            raise e.with_traceback(None) from None
        with running():
            key = jax.random.fold_in(jax.random.PRNGKey(0), session.runs)
            outs, state = self._call(variables, key, training=training, **feeds)
            values = [np.asarray(outs[f"out{i}"]) for i in range(len(self.outputs))]
            for v in self._updated:
                session.values[v] = np.asarray(state[v])
        session.runs += 1
        if self._output_keys is not None:
            return dict(zip(self._output_keys, values))
        return values[0] if self._single else values


def function(inputs, outputs, updates=None, name=None, **kwargs) -> Function:
    """A callable running the graph: f = K.function([x], [y], updates=[...]); f([x_value])."""
    session_args = sorted(set(kwargs) & {"fetches", "feed_dict", "options", "run_options", "run_metadata"})
    if session_args:
        raise KGraphError(f"K.function({', '.join(a + '=' for a in session_args)}...) are TensorFlow "
                          f"session arguments, and kgraph has no session: put the extra tensors in "
                          f"`outputs`, and feed values as `inputs`", caller_span())
    unknown = set(kwargs) - {"opt_level"}
    if unknown:
        raise KGraphError(f"K.function got unexpected arguments: {', '.join(sorted(unknown))}", caller_span())
    try:
        return Function(inputs, outputs, updates, name, **kwargs)
    except KGraphError as e:
        raise e.with_traceback(None) from None


def eval_tensor(x):
    """K.eval: the value of a tensor that needs no feeds (a NumPy array).

    Named eval_tensor here, and exported as `eval` by the package, so that no call in
    kgraph reads like Python's eval.
    """
    if isinstance(x, KVariable):
        return get_value(x)
    if not isinstance(x, KTensor):
        return np.asarray(x)
    session = current()
    key = ("eval", x.node.id)
    if key not in session.functions:
        try:
            session.functions[key] = Function([], x)
        except KGraphError as e:
            e.message = "K.eval: " + e.message
            raise e.with_traceback(None) from None
    return session.functions[key]([])


def get_value(x) -> np.ndarray:
    """A variable's current value (a copy)."""
    if isinstance(x, KVariable):
        _tensor(x, "K.get_value's argument")
        return x.session.values[x.name].copy()
    return eval_tensor(x)


def batch_get_value(tensors) -> list:
    return [get_value(x) for x in tensors]


def set_value(x: KVariable, value) -> None:
    """Set a variable's value (converted to its dtype; the shape must stay)."""
    span = caller_span()
    if not isinstance(x, KVariable):
        raise KGraphError(f"K.set_value: only variables have a value to set, got {x!r}", span)
    _tensor(x, "K.set_value's argument")
    array = np.asarray(value).astype(np_dtype(x.dtype))
    if array.shape != x.shape:
        raise ShapeError(f"K.set_value: {x.name} is {x.node.type}, the value has shape {array.shape}", span)
    x.session.values[x.name] = array


def batch_set_value(tuples) -> None:
    for x, value in tuples:
        set_value(x, value)

