"""Rewrite rules as data: a pattern and a replacement, both written as expression text.

    Rule("log-sigmoid", "log(sigmoid(x))", "-softplus(-x)")

The text is parsed once with Python's `ast` module (never evaluated). In a pattern,
a lower-case name binds a node (the same name twice must be the same node), `_`
matches anything, a number matches a constant whose every element equals it,
`op(a, b, key=k)` matches a node of that op (binding or comparing its static
attribute `key`), `*xs` binds the tensor list of an op such as `concatenate`, and
the infix operators stand for their ops (`x * 1` is `multiply(x, 1)`). Commutative
ops match either operand order. A constant pattern never matches a `barrier`, so no
rule looks through a gradient target.

The replacement is the same language (a number becomes a scalar constant of the
replaced node's dtype; attributes not written take the op's defaults), or a function
`(rewriter, binds, node) -> Node | None` for rules that compute (composing two
permutations, say). Whatever a rule builds must have the replaced node's exact type,
or the rewriter refuses it: `x * 1 → x` does not fire where the `1` broadcasts `x`
to a larger shape.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..ir import Node
from ..ops import REGISTRY

_BINARY = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide",
           ast.Pow: "pow", ast.MatMult: "matmul", ast.FloorDiv: "floor_divide", ast.Mod: "mod"}


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Rest:
    name: str  # *xs: all the tensor sources of a variadic op


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Call:
    op: str
    args: tuple
    attrs: tuple  # (key, Var | literal)


def parse_pattern(text: str):
    return _convert(ast.parse(text.strip(), mode="eval").body, text)


def _convert(e: ast.expr, text: str):
    if isinstance(e, ast.Name):
        return Var(e.id)
    if isinstance(e, ast.Starred) and isinstance(e.value, ast.Name):
        return Rest(e.value.id)
    if isinstance(e, ast.Constant) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
        return Number(e.value)
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        inner = _convert(e.operand, text)
        if isinstance(inner, Number):
            return Number(-inner.value)
        return Call("negative", (inner,), ())
    if isinstance(e, ast.BinOp) and type(e.op) in _BINARY:
        return Call(_BINARY[type(e.op)], (_convert(e.left, text), _convert(e.right, text)), ())
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
        attrs = []
        for k in e.keywords:
            value = Var(k.value.id) if isinstance(k.value, ast.Name) else ast.literal_eval(k.value)
            attrs.append((k.arg, value))
        return Call(e.func.id, tuple(_convert(a, text) for a in e.args), tuple(attrs))
    raise ValueError(f"cannot read pattern {text!r} at {ast.dump(e)}")


def ops_in(pattern) -> set[str]:
    if isinstance(pattern, Call):
        out = {pattern.op}
        for a in pattern.args:
            out |= ops_in(a)
        return out
    return set()


def uniform_value(node: Node) -> Any:
    """The one value every element of a constant holds, or None."""
    if node.op != "const":
        return None
    a = node.attr("value").array
    if a.size == 0 or a.dtype == np.bool_:
        return None
    first = a.flat[0]
    if a.size > 1 and not np.all(a == first):
        return None
    return first


def match(pattern, node: Node, binds: dict) -> bool:
    """Whether `node` matches; bindings are added to `binds` (a failed match may leave some)."""
    if isinstance(pattern, Var):
        if pattern.name == "_":
            return True
        bound = binds.get(pattern.name)
        if bound is None:
            binds[pattern.name] = node
            return True
        return bound is node
    if isinstance(pattern, Number):
        value = uniform_value(node)
        if value is None:
            return False
        return bool(value == pattern.value)  # 0 matches -0.0 too: XLA's x + 0 → x agrees
    if node.op != pattern.op:
        return False
    for key, want in pattern.attrs:
        have = node.attr(key)
        if isinstance(want, Var):
            binds[want.name] = have
        elif have != want or type(have) is not type(want):
            return False
    args = pattern.args
    if len(args) == 1 and isinstance(args[0], Rest):
        binds[args[0].name] = node.srcs
        return True
    if len(args) != len(node.srcs):
        return False
    if REGISTRY[pattern.op].commutative and len(args) == 2:
        trial = dict(binds)
        if match(args[0], node.srcs[0], trial) and match(args[1], node.srcs[1], trial):
            binds.update(trial)
            return True
        trial = dict(binds)
        if match(args[0], node.srcs[1], trial) and match(args[1], node.srcs[0], trial):
            binds.update(trial)
            return True
        return False
    return all(match(p, s, binds) for p, s in zip(args, node.srcs))


def instantiate(pattern, rewriter, binds: dict, like: Node) -> Any:
    """Build the replacement in the rewriter's graph."""
    if isinstance(pattern, Var):
        return binds[pattern.name]
    if isinstance(pattern, Rest):
        return list(binds[pattern.name])
    if isinstance(pattern, Number):
        return rewriter.scalar(pattern.value, like.dtype)
    op = REGISTRY[pattern.op]
    srcs: list[Node] = []
    for a in pattern.args:
        value = instantiate(a, rewriter, binds, like)
        srcs.extend(value if isinstance(value, list) else [value])
    attrs = {p.name: p.default for p in op.params if p.kind == "static"}
    for key, value in pattern.attrs:
        attrs[key] = binds[value.name] if isinstance(value, Var) else value
    return rewriter.make(pattern.op, srcs, attrs)


@dataclass(frozen=True)
class Rule:
    """One identity: `lhs` rewrites to `rhs` where `when(binds)` holds."""

    name: str
    lhs: str
    rhs: str | Callable[..., Node | None]
    when: Callable[[dict], bool] | None = None
    fast_math: bool = False  # not exact for NaN/inf: only under --fast-math
    lhs_pattern: Any = field(init=False, compare=False)
    rhs_pattern: Any = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "lhs_pattern", parse_pattern(self.lhs))
        rhs = parse_pattern(self.rhs) if isinstance(self.rhs, str) else None
        object.__setattr__(self, "rhs_pattern", rhs)
        unknown = sorted(self.ops() - set(REGISTRY))
        if unknown:  # once silently dropped: a typo turned the rule off
            raise ValueError(f"rewrite rule {self.name!r} names unknown op(s): {', '.join(unknown)}")

    @property
    def root(self) -> str:
        return self.lhs_pattern.op

    def ops(self) -> set[str]:
        """Every op the rule's patterns name."""
        return ops_in(self.lhs_pattern) | (ops_in(self.rhs_pattern) if self.rhs_pattern else set())

    def apply(self, rewriter, node: Node) -> Node | None:
        binds: dict = {}
        if not match(self.lhs_pattern, node, binds):
            return None
        if self.when is not None and not self.when(binds):
            return None
        if self.rhs_pattern is not None:
            return instantiate(self.rhs_pattern, rewriter, binds, node)
        return self.rhs(rewriter, binds, node)


class RuleSet:
    """Rules indexed by the op at the root of their pattern."""

    def __init__(self, rules, fast_math: bool = False):
        self.by_op: dict[str, list[Rule]] = {}
        for rule in rules:
            if rule.fast_math and not fast_math:
                continue
            self.by_op.setdefault(rule.root, []).append(rule)

    def __bool__(self):
        return bool(self.by_op)

    def for_op(self, op: str) -> list[Rule]:
        return self.by_op.get(op, ())
