"""Syntax tree → IR: names, literals, calls, shape checks (the statements live here).

The builder walks the statements once. Python-like values (numbers, strings,
tuples, lists, functions) live only here; tensors become IR nodes through
`make_node`, which is the one place where Python literals are lifted into the
graph and where an op's shape rule is run with the call's source labels.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any

import numpy as np

from .. import ast, guards, limits
from ..consteval import InitialValues
from ..errors import DTypeError, KGraphError, KGraphWarning, Span
from ..ir import Graph, Node
from ..ops import REGISTRY
from ..sharding import declare
from ..types import TensorType, np_dtype
from ..values import Binding, Function, Scope, describe, nested_numbers
from .expressions import FRAMES_PER_BRACKET, FRAMES_PER_CALL, Expressions
from .lifting import Lifting
from .updates import Updates



@contextmanager
def deep_recursion(frames: int):
    """Python's recursion limit at least `frames` more than now, for the duration."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, before + frames))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)

class Builder(Updates, Expressions, Lifting):
    def __init__(self, filename: str = "<string>", source: str = "", floatx: str = "float32",
                 image_data_format: str = "channels_last"):
        self.filename = filename
        self.source = source
        self.floatx = floatx
        self.image_data_format = image_data_format
        self.graph = Graph(intern=False)  # the program as written: merging is the cse pass's
        self.globals = Scope()
        self.warnings: list[KGraphWarning] = []
        self.bindings: list[Binding] = []
        self.initial = InitialValues()
        self.leaf_spans: dict[str, Span] = {}
        self._calls: list[ast.FuncDef] = []  # the functions being run, innermost last
        self._output_names: set[str] = set()
        self._update_spans: dict[str, Span] = {}
        self._output_items = 0
        self._lifted: dict[int, tuple[Any, Node]] = {}  # id of a literal list → (it, its node)

    @property
    def var_init(self) -> dict[str, np.ndarray]:
        """The variables' initial values by name, in declaration order (see InitialValues)."""
        return self.initial.values()

    # ---- diagnostics ---------------------------------------------------------
    def warn(self, message: str, span: Span | None) -> None:
        self.warnings.append(KGraphWarning(message, span))

    # ---- statements ----------------------------------------------------------
    def deep_enough(self):
        """Room on Python's stack for the deepest program the limits allow (nested calls
        and brackets), for the duration: a statement is built inside it."""
        bound = limits.current()
        return deep_recursion(bound.max_call_depth * FRAMES_PER_CALL
                              + bound.max_depth * FRAMES_PER_BRACKET)

    def build(self, program: ast.Program) -> Graph:
        with self.deep_enough():
            for stmt in program.statements:
                self.statement(stmt, self.globals)
        if not self.graph.outputs and not self.graph.updates:
            raise KGraphError("the program has no `output` statement; add one, e.g. `output y`",
                              Span(self.filename, 1, 1, 1, 1, self.source))
        self._warn_unused_placeholders()
        return self.graph

    def statement(self, stmt, scope: Scope):
        method = getattr(self, "stmt_" + type(stmt).__name__)
        return method(stmt, scope)

    def _top_level_only(self, stmt, scope: Scope, what: str) -> None:
        if scope is not self.globals:
            raise KGraphError(f"`{what}` is only allowed at the top level, not inside a `def`", stmt.span)

    def stmt_Placeholder(self, stmt: ast.Placeholder, scope: Scope):
        self._top_level_only(stmt, scope, "placeholder")
        if stmt.dtype is None:
            raise KGraphError(f"placeholder '{stmt.name}' needs a type, e.g. "
                              f"`placeholder {stmt.name}: float32[None, 4]`", stmt.span)
        dtype = self._dtype(stmt.dtype, stmt.type_span)
        if stmt.name in self.graph.placeholders:
            first = self.leaf_spans[stmt.name]
            raise KGraphError(f"placeholder '{stmt.name}' is already declared at line {first.line}", stmt.span)
        if stmt.name == "training":
            raise KGraphError("a placeholder cannot be named 'training': prog.run(training=...) sets "
                              "the learning phase (LANGUAGE.md §9); rename the placeholder", stmt.span)
        shape = stmt.shape if stmt.shape is not None else ()
        for d in shape:
            if isinstance(d, str) and d in REGISTRY:
                pass  # a named dimension may share an op's name; it is only a label
        node = self.graph.make("placeholder", (), {"name": stmt.name}, TensorType(dtype, tuple(shape)),
                               span=stmt.span)
        self.graph.placeholders[stmt.name] = node
        self.leaf_spans[stmt.name] = stmt.span
        self.bind(scope, stmt.name, node, stmt.span)

    def stmt_Variable(self, stmt: ast.Variable, scope: Scope):
        self._top_level_only(stmt, scope, "variable")
        if stmt.name in self.graph.variables:
            first = self.leaf_spans[stmt.name]
            raise KGraphError(f"variable '{stmt.name}' is already defined at line {first.line}", stmt.span)
        dtype = self._dtype(stmt.dtype, stmt.dtype_span) if stmt.dtype else self.floatx
        value = self.expr(stmt.value, scope)
        if isinstance(value, Node):
            self.check_constant(value, stmt.value.span, f"the initial value of variable '{stmt.name}'")
            given, shape = np_dtype(value.dtype), value.shape
        elif nested_numbers(value):
            value = guards.literal_array(value, stmt.value.span)
            given, shape = value.dtype, value.shape
        else:
            raise KGraphError(f"a variable's initial value must be a tensor, got {describe(value)}",
                              stmt.value.span)
        # A literal's integers may go to any integer dtype they fit (cast_literal checks each).
        literal_ints = not isinstance(value, Node) and given.kind in "iu" and np_dtype(dtype).kind in "iu"
        if not (np.can_cast(given, dtype, "same_kind") or given == bool or literal_ints):
            if not (np.issubdtype(given, np.floating) and dtype in ("float16", "bfloat16")):
                raise DTypeError(f"variable '{stmt.name}': its value is {given.name}, which does not "
                                 f"cast safely to {dtype}", stmt.value.span)
        node = self.graph.make("variable", (), {"name": stmt.name}, TensorType(dtype, shape), span=stmt.span)
        self.graph.variables[stmt.name] = node
        if isinstance(value, Node):
            self.initial.defer(stmt.name, value, dtype)
        else:
            self.initial.set(stmt.name, guards.cast_literal(value, dtype, stmt.value.span))
        self.leaf_spans[stmt.name] = stmt.span
        self.bind(scope, stmt.name, node, stmt.span)

    def stmt_Assign(self, stmt: ast.Assign, scope: Scope):
        value = self.expr(stmt.value, scope)
        if not stmt.destructure:
            self.bind(scope, stmt.targets[0], value, stmt.span)
            return
        if isinstance(value, Node):
            raise KGraphError(f"cannot unpack {describe(value)} into {len(stmt.targets)} names; "
                              f"unpacking takes a list or tuple (e.g. from `gradients`)", stmt.value.span)
        if not isinstance(value, (list, tuple)):
            raise KGraphError(f"cannot unpack {describe(value)}", stmt.value.span)
        if len(value) != len(stmt.targets):
            raise KGraphError(f"cannot unpack {len(value)} values into {len(stmt.targets)} names "
                              f"({', '.join(stmt.targets)})", stmt.span)
        for name, v in zip(stmt.targets, value):
            self.bind(scope, name, v, stmt.span)

    def bind(self, scope: Scope, name: str, value: Any, span: Span) -> None:
        scope.names[name] = value
        if scope is self.globals:
            self.bindings.append(Binding(name, value, span))

    def stmt_Output(self, stmt: ast.Output, scope: Scope):
        self._top_level_only(stmt, scope, "output")
        for item in stmt.items:
            value = self.expr(item.value, scope)
            if item.name:
                name = item.name
            elif isinstance(item.value, ast.Name):
                name = item.value.id
            else:
                name = f"out{self._output_items}"
            self._output_items += 1
            if isinstance(value, (list, tuple)) and not nested_numbers(value):
                for i, v in enumerate(value):
                    self._add_output(f"{name}_{i}", self.tensor(v, item.value.span), item)
            else:
                self._add_output(name, self.tensor(value, item.value.span), item)

    def _add_output(self, name: str, node: Node, item: ast.OutputItem) -> None:
        if name in self._output_names:
            raise KGraphError(f"two outputs are named '{name}'; rename one with `as`", item.span)
        self._output_names.add(name)
        self.graph.outputs.append((name, node))

    def stmt_Update(self, stmt: ast.Update, scope: Scope):
        var = self._update_target(self.expr_Name(ast.Name(stmt.name_span, stmt.name), scope),
                                  stmt.name, stmt.name_span)
        value = self._update_operand(var, self.expr(stmt.value, scope), stmt.value.span, "new value")
        self._add_update(var, value, stmt)

    def stmt_ExprStmt(self, stmt: ast.ExprStmt, scope: Scope, shown: bool = False):
        """An expression on a line of its own: an update call, or a value nothing uses
        (warned about, unless it is `shown`: the REPL prints it)."""
        if self._is_update_call(stmt.value, scope):
            return self._update_call(stmt, scope)
        value = self.expr(stmt.value, scope)
        if scope is self.globals and not shown:
            self.warn("this expression's value is not used; bind it (`y = ...`) or `output` it",
                      stmt.span)
        return value

    def stmt_Shard(self, stmt: ast.Shard, scope: Scope):
        self._top_level_only(stmt, scope, "shard")
        leaf = self.graph.placeholders.get(stmt.name, self.graph.variables.get(stmt.name))
        declare(self.graph, stmt, leaf if leaf is not None else scope.names.get(stmt.name))

    def stmt_FuncDef(self, stmt: ast.FuncDef, scope: Scope):
        if len(set(stmt.params)) != len(stmt.params):
            raise KGraphError(f"function '{stmt.name}' has a repeated parameter name", stmt.span)
        if not any(isinstance(s, ast.Return) for s in stmt.body):
            raise KGraphError(f"function '{stmt.name}' has no `return`", stmt.span)
        self.bind(scope, stmt.name, Function(stmt, scope), stmt.span)

    def stmt_Return(self, stmt: ast.Return, scope: Scope):
        raise KGraphError("`return` outside a function", stmt.span)

