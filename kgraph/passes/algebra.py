"""Algebraic simplification: identities as data.

Every rule here is exact (the result is the value -O0 computes, bit for bit except
where noted) unless it is marked `fast_math`. Notes on the edges:
- `x + 0 → x` returns -0.0 for x = -0.0 where IEEE gives +0.0; XLA already makes
  this rewrite inside `jax.jit`, so -O0 returns -0.0 too. `0 - x → -x` differs
  from -O0 in the same way (the sign of a zero), and in nothing else.
- `x * 0 → 0`, `x - x → 0` and `x / x → 1` for floats are wrong for NaN and inf:
  only under --fast-math. For integers `x - x → 0` is exact.
- Reassociating scalar constants, `(x * 2) * 4 → x * 8`, is exact for integers
  (wrapping arithmetic is associative) and for float factors that are powers of
  two of at least 1 (no rounding, and an overflow happens in both forms or in
  neither); other float constants only under --fast-math.
- `exp(log(x)) → x` only where x is positive by construction (exp, sigmoid,
  softmax, softplus, a positive constant): elsewhere log gives NaN for x < 0 and
  the gradient is NaN at 0.
- `sum(concatenate(...))` sums the parts: the same numbers added in another order.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import Node
from ..ops import REGISTRY
from ..types import is_float, is_int, np_dtype
from .patterns import Rule, uniform_value
from .rewrite import Rewriter

# ---- side conditions ----------------------------------------------------------------

def integer(name: str):
    return lambda b: is_int(b[name].dtype)


def positive(b: dict) -> bool:
    x = b["x"]
    if REGISTRY[x.op].positive:
        return True
    return x.op == "const" and x.dtype != "bool" and bool(np.all(x.attr("value").array > 0))


def _scalar_const(node: Node):
    if node.op != "const" or node.shape != ():
        return None
    value = uniform_value(node)
    return None if value is None or not np.isfinite(value) else value


def _power_of_two_at_least_one(value) -> bool:
    m, e = math.frexp(abs(float(value)))
    return m == 0.5 and e >= 1


def exact_product(b: dict) -> bool:
    c1, c2 = _scalar_const(b["c1"]), _scalar_const(b["c2"])
    if c1 is None or c2 is None or b["c1"].dtype != b["c2"].dtype:
        return False
    if is_int(b["c1"].dtype):
        return True
    return _power_of_two_at_least_one(c1) and _power_of_two_at_least_one(c2)


def integer_constants(b: dict) -> bool:
    c1, c2 = b["c1"], b["c2"]
    return (_scalar_const(c1) is not None and _scalar_const(c2) is not None
            and is_int(c1.dtype) and c1.dtype == c2.dtype)


def float_constants(b: dict) -> bool:
    c1, c2 = b["c1"], b["c2"]
    return (_scalar_const(c1) is not None and _scalar_const(c2) is not None
            and is_float(c1.dtype) and c1.dtype == c2.dtype)


# ---- computed replacements -------------------------------------------------------------

def filled(value):
    """A replacement: the node's type filled with `value` (a constant where it is small)."""

    def build(rw: Rewriter, b: dict, node: Node) -> Node | None:
        t = node.type
        limit = rw.options.fold_limit or 0
        if t.is_static() and t.size() <= max(limit, 1):
            return rw.constant(np.full(t.shape, value, dtype=np_dtype(t.dtype)), t)
        x = b.get("x")
        like = "zeros_like" if value == 0 else "ones_like" if value == 1 else None
        if like and x is not None and x.type == t and like in REGISTRY:
            return rw.make(like, [x], {"dtype": t.dtype})
        name = "zeros" if value == 0 else "ones" if value == 1 else None
        if name and t.is_static() and name in REGISTRY:
            return rw.make(name, [], {"shape": t.shape, "dtype": t.dtype})
        return None

    return build


def compose(first: tuple, then: tuple) -> tuple:
    """permute(permute(x, first), then) == permute(x, compose(first, then))."""
    return tuple(first[i] for i in then)


def _permute(rw: Rewriter, x: Node, pattern: tuple) -> Node:
    if pattern == tuple(range(len(pattern))):
        return x
    return rw.make("permute_dimensions", [x], {"pattern": pattern})


def permute_permute(rw, b, node):
    return _permute(rw, b["x"], compose(tuple(b["p"]), tuple(b["q"])))


def transpose_permute(rw, b, node):
    p = tuple(b["p"])
    return _permute(rw, b["x"], compose(p, tuple(reversed(range(len(p))))))


def permute_transpose(rw, b, node):
    q = tuple(b["q"])
    return _permute(rw, b["x"], compose(tuple(reversed(range(len(q)))), q))


def sum_of_concatenate(rw: Rewriter, b: dict, node: Node) -> Node | None:
    """sum(concatenate(xs, axis=k), axis=a) = Σ sum(x_i, axis=a) when a covers k."""
    xs, k, axis = b["xs"], b["k"], b["a"]
    ndim = xs[0].type.ndim
    k = k % ndim if ndim else 0
    if axis is not None:
        axes = axis if isinstance(axis, tuple) else (axis,)
        if k not in {a % ndim for a in axes}:
            return None
    if any(x.dtype != node.dtype for x in xs):
        return None
    total = None
    for x in xs:
        part = rw.make("sum", [x], {"axis": axis, "keepdims": b["d"]})
        total = part if total is None else rw.make("add", [total, part])
    return total


RULES = [
    # units and signs
    Rule("mul-one", "x * 1", "x"),
    Rule("div-one", "x / 1", "x"),
    Rule("add-zero", "x + 0", "x"),
    Rule("sub-zero", "x - 0", "x"),
    Rule("zero-sub", "0 - x", "-x"),
    Rule("mul-minus-one", "x * -1", "-x"),
    Rule("double-negation", "--x", "x"),
    Rule("add-negation", "x + -y", "x - y"),
    Rule("sub-negation", "x - -y", "x + y"),
    Rule("self-sub-int", "x - x", filled(0), when=integer("x")),
    # not exact for NaN or inf
    Rule("mul-zero", "x * 0", filled(0), fast_math=True),
    Rule("self-sub", "x - x", filled(0), fast_math=True),
    Rule("self-div", "x / x", filled(1), fast_math=True),
    # scalar constants gathered into one
    Rule("reassociate-mul", "(x * c1) * c2", "x * (c1 * c2)", when=exact_product),
    Rule("reassociate-add-int", "(x + c1) + c2", "x + (c1 + c2)", when=integer_constants),
    Rule("reassociate-sub-int", "(x - c1) - c2", "x - (c1 + c2)", when=integer_constants),
    Rule("reassociate-add-sub-int", "(x + c1) - c2", "x + (c1 - c2)", when=integer_constants),
    Rule("reassociate-sub-add-int", "(x - c1) + c2", "x + (c2 - c1)", when=integer_constants),
    Rule("reassociate-mul-fast", "(x * c1) * c2", "x * (c1 * c2)", when=float_constants, fast_math=True),
    Rule("reassociate-add-fast", "(x + c1) + c2", "x + (c1 + c2)", when=float_constants, fast_math=True),
    # layout
    Rule("transpose-transpose", "transpose(transpose(x))", "x"),
    Rule("transpose-vector", "transpose(x)", "x", when=lambda b: b["x"].type.ndim <= 1),
    Rule("permute-identity", "permute_dimensions(x, pattern=p)", "x",
         when=lambda b: tuple(b["p"]) == tuple(range(len(b["p"])))),
    Rule("permute-permute", "permute_dimensions(permute_dimensions(x, pattern=p), pattern=q)",
         permute_permute),
    Rule("transpose-permute", "transpose(permute_dimensions(x, pattern=p))", transpose_permute),
    Rule("permute-transpose", "permute_dimensions(transpose(x), pattern=q)", permute_transpose),
    Rule("reshape-noop", "reshape(x, shape=_)", "x"),
    Rule("reshape-reshape", "reshape(reshape(x, shape=_), shape=s)", "reshape(x, shape=s)"),
    Rule("reshape-flatten", "reshape(flatten(x), shape=s)", "reshape(x, shape=s)"),
    # reductions and logs
    Rule("sum-concatenate", "sum(concatenate(*xs, axis=k), axis=a, keepdims=d)", sum_of_concatenate),
    Rule("exp-log", "exp(log(x))", "x", when=positive),
]
