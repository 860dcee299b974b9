"""The front end: program text → a verified `Module`, the one door into the compiler.

`frontend()` parses, builds and verifies; `compile()`, `kgraph ir`, `lower`,
`run --trace` and the REPL's programs start from what it returns, and the backend's
`K.function` makes its `Module` from the session's graph (`Module.of_graph`), so
every consumer sees the same record: the graph as written (not interned: merging is
the cse pass's), the variables' initial values, where each leaf was declared, the
top-level bindings in source order, the warnings, and floatx. The optimiser turns
`module.graph` into the graph a `Program` lowers; a Program keeps both.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import bugs
from .build import Builder
from .consteval import InitialValues
from .errors import KGraphError, KGraphWarning, Span
from .ir import Graph, verify
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
    """What a builder has built so far, as a verified module (the REPL's program so far)."""
    return Module(builder.graph, builder.initial, builder.leaf_spans, builder.bindings,
                  builder.warnings, builder.floatx, builder.source, builder.filename)
