"""Placeholders, variables and constants, with Keras's signatures and semantics.

As in Keras 2, `zeros`, `ones`, `eye` and `random_*_variable` make *variables*
(their values can be read and set); their values come from the same registry ops
a `.kg` program calls. `random_*_variable` without a seed draws one from NumPy's
global generator, as tf_keras does (`np.random.randint(10e8)`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError, DTypeError, KGraphError, ShapeError
from ..consteval import evaluate_constants
from ..ops.nn import EPSILON
from ..types import DTYPES, TensorType, np_dtype
from .functions import eval_tensor
from .session import caller_span, current, floatx
from .tensor import KTensor, KVariable, call_op


def _dtype(dtype: Any) -> str:
    if dtype is None:
        return floatx()
    try:
        name = dtype if isinstance(dtype, str) else np.dtype(dtype).name  # 'float32', np.float32
    except TypeError:
        name = None
    if name not in DTYPES:
        raise DTypeError(f"unknown dtype {dtype!r} (dtypes: {', '.join(DTYPES)})", caller_span())
    return name


def _dim(d: Any):
    if d is None or (isinstance(d, str) and d.isidentifier()):
        return d
    if isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0:
        return int(d)
    raise ShapeError(f"a placeholder's dimension must be a non-negative int, None or a name, got {d!r}",
                     caller_span())


def placeholder(shape=None, ndim=None, dtype=None, sparse=False, name=None, ragged=False) -> KTensor:
    """A tensor fed when the graph runs: K.placeholder(shape=(None, 4)) or K.placeholder(ndim=2).

    A dimension may be None (known at run time) or a name ('batch'): every use of a name must agree.
    """
    span = caller_span()
    if sparse or ragged:
        raise KGraphError("kgraph has no sparse or ragged tensors: declare a dense placeholder "
                          "(sparse=False, ragged=False) and feed dense arrays", span)
    if shape is None:
        if ndim is None:
            raise ArgumentError("K.placeholder needs shape= or ndim= (a tensor of unknown rank is not "
                                "supported)", span)
        shape = (None,) * ndim
    shape = tuple(_dim(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    if ndim is not None and ndim != len(shape):
        raise ShapeError(f"K.placeholder: shape {shape} has {len(shape)} dims but ndim={ndim}", span)
    session = current()
    name = session.unique_name(name or "placeholder")
    node = session.graph.make("placeholder", (), {"name": name}, TensorType(_dtype(dtype), shape), span=span)
    session.graph.placeholders[name] = node
    session.builder.leaf_spans[name] = span
    return KTensor(node, session)


def is_placeholder(x) -> bool:
    return isinstance(x, KTensor) and x.node.op == "placeholder"


def variable(value, dtype=None, name=None, constraint=None) -> KVariable:
    """A variable holding `value` (a NumPy array, nested lists, a number or a constant tensor)."""
    span = caller_span()
    if constraint is not None:
        raise KGraphError("variable constraints are not supported", span)
    if isinstance(value, KTensor):
        value = eval_tensor(value)
    try:
        array = np.asarray(value)
    except ValueError:
        raise ShapeError("a variable's value must be a rectangular array", span) from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise KGraphError(f"a variable's value must be numbers, got {array.dtype.name} data", span)
    dtype = _dtype(dtype)
    array = array.astype(np_dtype(dtype))
    session = current()
    name = session.unique_name(name or "variable")
    node = session.graph.make("variable", (), {"name": name}, TensorType(dtype, array.shape), span=span)
    session.graph.variables[name] = node
    session.builder.initial.set(name, array)
    session.builder.leaf_spans[name] = span
    session.values[name] = array.copy()
    return KVariable(node, session)


def _as_variable(tensor: KTensor, name) -> KVariable:
    # Computed as the text front end computes a variable's initial value, so both give the same bits.
    return variable(evaluate_constants([tensor.node], optimize=False)[0], dtype=tensor.dtype, name=name)


def _given(**kwargs) -> dict:
    return {k: v for k, v in kwargs.items() if v is not None}


def constant(value, dtype=None, shape=None, name=None) -> KTensor:
    """A constant tensor (dtype floatx() unless given); one value fills `shape`."""
    tensor = call_op("constant", [value], _given(dtype=dtype, shape=shape))
    session = current()
    if name is not None and tensor.node.id not in session.names:
        session.names[tensor.node.id] = session.unique_name(name)
    return tensor


def zeros(shape, dtype=None, name=None) -> KVariable:
    """A variable of zeros (as Keras: a variable, not a constant)."""
    return _as_variable(call_op("zeros", [shape], _given(dtype=dtype)), name)


def ones(shape, dtype=None, name=None) -> KVariable:
    """A variable of ones."""
    return _as_variable(call_op("ones", [shape], _given(dtype=dtype)), name)


def eye(size, dtype=None, name=None) -> KVariable:
    """An identity-matrix variable: eye(3) is 3 x 3, eye((2, 3)) is 2 x 3."""
    return _as_variable(call_op("eye", [size], _given(dtype=dtype)), name)


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None) -> KVariable:
    """A variable drawn uniformly from [low, high); seed=None draws one from np.random."""
    seed = np.random.randint(10e8) if seed is None else seed
    return _as_variable(call_op("random_uniform_variable", [shape, low, high],
                                _given(dtype=dtype, seed=int(seed))), name)


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None) -> KVariable:
    """A variable drawn from a normal distribution; seed=None draws one from np.random."""
    seed = np.random.randint(10e8) if seed is None else seed
    return _as_variable(call_op("random_normal_variable", [shape, mean, scale],
                                _given(dtype=dtype, seed=int(seed))), name)


def cast_to_floatx(x):
    """A NumPy array (or a tensor) cast to floatx(): NumPy in, NumPy out, as Keras."""
    if isinstance(x, KTensor):
        return call_op("cast_to_floatx", [x], {})
    return np.asarray(x, dtype=np_dtype(floatx()))


def dtype(x) -> str:
    """The dtype of a tensor or variable, as a string."""
    if isinstance(x, KTensor):
        return x.dtype
    return np.asarray(x).dtype.name


def epsilon() -> float:
    """The fuzz factor of numeric expressions (1e-7; fixed in kgraph)."""
    return EPSILON
