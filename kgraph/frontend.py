"""The front end: program text → a verified `Module`, the one door into the compiler.

`frontend()` parses, builds and verifies; `compile()`, `kgraph ir`, `lower` and
`run --trace` start from what it returns. The REPL's program grows a statement at a
time through `IncrementalFrontend`, the same parser and builder behind a door that
hands out the `Module` so far; the backend's `K.function` makes its `Module` from the
session's graph (`Module.of_graph`). So every consumer sees the same record: the graph as written (not interned: merging is
the cse pass's), the variables' initial values, where each leaf was declared, the
top-level bindings in source order, the warnings, and floatx. The optimiser turns
`module.graph` into the graph a `Program` lowers; a Program keeps both.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import ast, bugs
from .build import Builder
from .consteval import InitialValues
from .errors import KGraphError, KGraphWarning, ParseError, Span
from .ir import Graph, Node, verify
from .parse import parse
from .timing import timed
from .types import FLOAT_DTYPES
from .values import Binding


@dataclass
class Module:
    """A program as the front end built it. Its graph has passed `ir.verify`."""

    graph: Graph
    initial: InitialValues
    leaf_spans: dict[str, Span] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)
    warnings: list[KGraphWarning] = field(default_factory=list)
    floatx: str = "float32"
    source: str = ""
    filename: str = "<string>"

    def __post_init__(self):
        verify(self.graph)

    @property
    def variables(self) -> dict[str, np.ndarray]:
        """The variables' initial values by name, in declaration order (computed on first use)."""
        return self.initial.values()

    @property
    def names(self) -> dict[str, Any]:
        """The top-level names with their latest values (tensors, Python values, functions),
        in the order each was first defined."""
        names: dict[str, Any] = {}
        for binding in self.bindings:
            names[binding.name] = binding.value
        return names

    @classmethod
    def of_graph(cls, graph: Graph, variables: dict[str, np.ndarray], floatx: str,
                 leaf_spans: dict[str, Span] | None = None, filename: str = "<string>") -> "Module":
        """A module around a graph built elsewhere (the backend's session), with the
        variables' values given."""
        spans = {k: v for k, v in (leaf_spans or {}).items()
                 if k in graph.placeholders or k in graph.variables}
        return cls(graph, InitialValues(variables), spans, floatx=floatx, filename=filename)


def check_floatx(floatx: str) -> None:
    if floatx not in FLOAT_DTYPES:
        raise KGraphError(f"floatx must be one of {', '.join(sorted(FLOAT_DTYPES))}, got {floatx!r}")


def frontend(source: str, filename: str = "<string>", floatx: str = "float32",
             timings: dict[str, float] | None = None,
             image_data_format: str = "channels_last") -> Module:
    """Parse and build a program; KGraphError for a user mistake.

    `timings`, when given, receives the seconds spent in "parse" and "build".
    """
    check_floatx(floatx)
    timings = timings if timings is not None else {}
    with timed(timings, "parse"), bugs.stage("parse"):
        tree = parse(source, filename)
    with timed(timings, "build"), bugs.stage("build"):
        builder = Builder(filename, source, floatx, image_data_format)
        builder.build(tree)
        return module_of(builder)


def module_of(builder: Builder) -> Module:
    """What a builder has built so far, as a verified module."""
    return Module(builder.graph, builder.initial, builder.leaf_spans, builder.bindings,
                  builder.warnings, builder.floatx, builder.source, builder.filename)


@dataclass(frozen=True)
class Step:
    """What one statement did to a growing program: an expression statement's value
    (a Node, a Python value or a Function; None for an update call), and the outputs
    and updates the statement declared."""

    statement: ast.Node
    value: Any = None
    outputs: tuple[tuple[str, Node], ...] = ()
    updates: tuple[tuple[str, Node], ...] = ()

    @property
    def shows_a_value(self) -> bool:
        """An expression typed alone, whose value the REPL prints (an update call has none)."""
        return isinstance(self.statement, ast.ExprStmt) and not self.updates


class IncrementalFrontend:
    """The front end for a program that grows a statement at a time (the REPL's).

    It owns the program's one `Builder`. `statements` parses a piece of text as the lines
    it holds in the session; `add` builds one statement into the program so far, as
    `frontend()` builds it in a file, except that an expression statement's value is kept
    for the REPL to show rather than warned about; `module()` hands out the program
    so far as a verified `Module`. A statement that fails keeps what it finished before the
    mistake (the first items of an `output`, say), and the program goes on from there; it
    needs no `output` (a file does).
    """

    def __init__(self, filename: str = "<string>", floatx: str = "float32",
                 image_data_format: str = "channels_last"):
        check_floatx(floatx)
        self.filename = filename
        self._builder = Builder(filename, "", floatx, image_data_format)

    def statements(self, text: str, first_line: int = 1, filename: str | None = None) -> list[ast.Node]:
        """The statements in `text`, whose first line is line `first_line` of the session."""
        return parse_at(text, first_line, filename or self.filename).statements

    def add(self, stmt: ast.Node) -> Step:
        """Build `stmt` into the program; KGraphError for a user mistake."""
        b = self._builder
        outputs, updates = len(b.graph.outputs), len(b.graph.updates)
        value = None
        with b.deep_enough():
            if isinstance(stmt, ast.ExprStmt):
                value = b.stmt_ExprStmt(stmt, b.globals, shown=True)
            else:
                b.statement(stmt, b.globals)
        return Step(stmt, value, tuple(b.graph.outputs[outputs:]), tuple(b.graph.updates[updates:]))

    @property
    def warnings(self) -> tuple[KGraphWarning, ...]:
        """The warnings so far, oldest first: a statement's own are those it added."""
        return tuple(self._builder.warnings)

    def module(self) -> Module:
        """The program so far, verified now. It shares the builder's graph, which later
        statements grow: ask again after them for a module verified with them."""
        return module_of(self._builder)


def parse_at(text: str, first_line: int, filename: str) -> ast.Program:
    """Parse `text` as lines `first_line`... of a longer input, so spans count its lines."""
    try:
        return parse("\n" * (first_line - 1) + text, filename)
    except ParseError as padded:
        # The syntax-error classifier reads the text alone best; move its place down.
        try:
            parse(text, filename)
        except ParseError as e:
            s = e.span
            if s is None:
                raise
            shift = first_line - 1
            e.span = replace(s, line=s.line + shift, end_line=s.end_line + shift,
                             source="\n" * shift + s.source)
            raise e from None
        raise padded
