"""Symbolic tensors (`KTensor`, `KVariable`) and the one generic path into the registry.

`call_op(name, args, kwargs)` is how every backend function and Python operator
makes nodes: it lifts NumPy values, records the user's call site, and hands the
arguments to `Builder.apply` — the path a `.kg` call takes — so an op's
argument binding, shape rule and front-end logic live only in its registry entry.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import ArgumentError, KGraphError
from ..ir import Node
from ..loops import PyFunction
from ..ops import REGISTRY
from .session import PyCallSite, Session, argument_texts, caller_span, current


class KTensor:
    """A symbolic tensor of the backend's graph; evaluate it with K.eval or K.function."""

    __slots__ = ("node", "session")
    __array_ufunc__ = None  # NumPy defers `array + tensor` to our reflected operators

    def __init__(self, node: Node, session: Session):
        self.node = node
        self.session = session

    @property
    def name(self) -> str:
        return self.session.name_of(self.node)

    @property
    def shape(self) -> tuple:
        """The static shape, as K.int_shape: ints, None for unknown dims (or dim names)."""
        return tuple(self.node.shape)

    @property
    def dtype(self) -> str:
        return self.node.dtype

    @property
    def ndim(self) -> int:
        return self.node.type.ndim

    def __repr__(self) -> str:
        return f"<{type(self).__name__} '{self.name}' shape={self.shape} dtype={self.dtype}>"

    def __hash__(self):
        return id(self)

    def __bool__(self):
        raise TypeError(f"the truth value of a symbolic tensor ({self!r}) is not known until it runs; "
                        f"use K.switch, or K.eval to get a value")

    def __iter__(self):
        raise TypeError(f"a symbolic tensor ({self!r}) is not iterable; index it (x[0]) or use K.eval")

    def __array__(self, *args, **kwargs):
        raise TypeError(f"a symbolic tensor ({self!r}) has no value yet; use K.eval(x) or K.function")

    def __getitem__(self, index):
        return call_op("getitem", [self, _index(index)], {})


class KVariable(KTensor):
    """A variable: its value lives in the session (K.get_value / K.set_value)."""

    __slots__ = ()


def _binary(op_name: str, reflected: bool = False):
    def method(self, other):
        return call_op(op_name, [other, self] if reflected else [self, other], {})

    return method


def _unary(op_name: str):
    def method(self):
        return call_op(op_name, [self], {})

    return method


for _dunder, _op in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "divide"),
                     ("floordiv", "floor_divide"), ("mod", "mod"), ("pow", "pow"), ("matmul", "matmul")]:
    setattr(KTensor, f"__{_dunder}__", _binary(_op))
    setattr(KTensor, f"__r{_dunder}__", _binary(_op, reflected=True))
for _dunder, _op in [("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
                     ("eq", "equal"), ("ne", "not_equal")]:
    setattr(KTensor, f"__{_dunder}__", _binary(_op))
KTensor.__neg__ = _unary("negative")
KTensor.__abs__ = _unary("abs")
KTensor.__pos__ = lambda self: self


def _index(index) -> tuple:
    """A Python index (ints, slices, None, ...) as the getitem op's static tuple."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for item in items:
        if isinstance(item, KTensor):
            raise ArgumentError("indexing with a tensor is not supported; use K.gather(x, indices)",
                                caller_span())
        if isinstance(item, slice):
            out.append(("slice", *(None if v is None else _int(v) for v in
                                   (item.start, item.stop, item.step))))
        elif item is None or item is Ellipsis:
            out.append(item)
        else:
            out.append(_int(item))
    return tuple(out)


def _int(v) -> int:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    raise ArgumentError(f"an index must be an integer, a slice, None or '...', got {v!r}", caller_span())


# ---- crossing the boundary ---------------------------------------------------------

def _literal(array: np.ndarray, session: Session) -> Node:
    """A NumPy array where a tensor is expected is a literal: floats → floatx(), ints → int32."""
    if array.dtype.kind == "f":
        array = array.astype(session.builder.floatx)
    elif array.dtype.kind in "iu" and (array.size == 0 or (array.min() >= -2**31 and array.max() < 2**31)):
        array = array.astype(np.int32)
    return session.builder.constant(array)


def unwrap(value: Any, session: Session, tensor: bool = True) -> Any:
    """A user value as the builder takes it: nodes for tensors, hashable values for the rest."""
    if isinstance(value, KTensor):
        if value.session is not session:
            raise KGraphError(f"{value!r} belongs to a session that K.clear_session() ended; "
                              f"build it again", caller_span())
        return value.node
    if isinstance(value, np.ndarray):
        return _literal(value, session) if tensor else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [unwrap(v, session, tensor) for v in value]
    if isinstance(value, tuple):
        return tuple(unwrap(v, session, tensor) for v in value)
    return value


def wrap(value: Any, session: Session) -> Any:
    if isinstance(value, Node):
        cls = KVariable if value.op == "variable" else KTensor
        return cls(value, session)
    if isinstance(value, list):
        return [wrap(v, session) for v in value]
    if isinstance(value, tuple):
        return tuple(wrap(v, session) for v in value)
    return value


def _label(value: Any, text: str | None, session: Session) -> Any:
    if text:
        return text
    if isinstance(value, KTensor):
        return value.name
    if isinstance(value, (list, tuple)) and any(isinstance(v, KTensor) for v in value):
        return [_label(v, None, session) for v in value]
    return None


def call_op(op_name: str, args: list, kwargs: dict) -> Any:
    """Apply a registry op to Python values, as a `.kg` call would; KGraphErrors name the user's line."""
    session = current()
    span = caller_span()
    op = REGISTRY.get(op_name)
    if op is None:
        raise KGraphError(f"the op '{op_name}' is not part of this kgraph", span)
    texts, kw_texts = argument_texts(span)
    params = {p.name: p for p in op.params}
    positional = [p.name for p in op.params]
    given: dict[str, Any] = dict(zip(positional, args))
    given.update(kwargs)
    labels, arg_spans = {}, {}
    for i, name in enumerate(positional[: len(args)]):
        labels[name] = _label(args[i], texts[i] if i < len(texts) else None, session)
    for name, value in kwargs.items():
        labels[name] = _label(value, kw_texts.get(name), session)
    for name, value in given.items():
        many = name in params and params[name].kind == "tensors" and isinstance(value, (list, tuple))
        arg_spans[name] = [span] * len(value) if many else span
    site = PyCallSite(op.name, span, arg_spans, labels=labels)

    def lift(name, value):
        if name in params and params[name].kind == "function" and callable(value):
            return PyFunction(value, lambda nodes: wrap(nodes, session), lambda v: unwrap(v, session))
        return unwrap(value, session, tensor=name in params and params[name].kind != "static")

    already = len(session.builder.warnings)
    try:
        names = positional + [None] * max(0, len(args) - len(positional))
        result = session.builder.apply(op, [lift(n, a) for n, a in zip(names, args)],
                                       {k: lift(k, v) for k, v in kwargs.items()}, site)
    except KGraphError as e:
        raise e.with_traceback(None) from None
    for w in session.builder.warnings[already:]:
        warnings.warn(w, stacklevel=3)
    return wrap(result, session)
