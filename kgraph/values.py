"""The front end's compile-time values: functions, scopes, call sites, and how to describe them.

A `.kg` expression evaluates to a tensor (an IR node) or to a Python-like value
(a number, string, tuple, list or function); these helpers are what the builder,
the REPL and the tracer share about the latter.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import ast
from .errors import Span
from .ir import Node

MAX_LABEL = 40


@dataclass
class Function:
    definition: ast.FuncDef
    scope: "Scope"


@dataclass
class Binding:
    """A named value in source order (for tracing and the REPL)."""

    name: str
    value: Any
    span: Span


class Scope:
    def __init__(self, parent: "Scope | None" = None):
        self.parent = parent
        self.names: dict[str, Any] = {}

    def lookup(self, name: str) -> Any:
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        raise KeyError(name)

    def visible(self) -> set[str]:
        out, scope = set(), self
        while scope is not None:
            out |= set(scope.names)
            scope = scope.parent
        return out


@dataclass
class CallSite:
    """Where an op was called from, with the source text of each argument."""

    name: str
    span: Span
    arg_spans: dict[str, Any] = field(default_factory=dict)  # param → Span or list[Span]

    def arg_span(self, param: str, index: int | None = None) -> Span:
        s = self.arg_spans.get(param, self.span)
        if isinstance(s, list):
            return s[index] if index is not None and index < len(s) else self.span
        return s

    def label(self, param: str, index: int | None = None) -> str:
        s = self.arg_spans.get(param)
        if isinstance(s, list):
            s = s[index] if index is not None and index < len(s) else None
        text = label_of(s) if s is not None else ""
        if not text:
            return param if index is None else f"{param}[{index}]"
        return text


def label_of(span: Span) -> str:
    text = " ".join(span.text().split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 3] + "..."


def did_you_mean(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def nested_numbers(v: Any) -> bool:
    if isinstance(v, (list, tuple)):
        return all(nested_numbers(x) for x in v)
    return isinstance(v, (int, float, bool))


def describe(v: Any) -> str:
    if isinstance(v, Node):
        return f"a tensor {v.type}"
    if isinstance(v, Function):
        return f"the function '{v.definition.name}'"
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, list):
        return f"a list of {len(v)} values"
    if isinstance(v, tuple):
        return f"the tuple {v!r}" if nested_numbers(v) else f"a tuple of {len(v)} values"
    return repr(v)


def freeze(v: Any) -> Any:
    """Static arguments become hashable attributes: lists turn into tuples."""
    if isinstance(v, (list, tuple)):
        return tuple(freeze(x) for x in v)
    if isinstance(v, np.generic):
        return v.item()
    return v
