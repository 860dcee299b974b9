"""Syntax tree → IR: names, literals, calls, shape checks.

The builder walks the statements once. Python-like values (numbers, strings,
tuples, lists, functions) live only here; tensors become IR nodes through
`make_node`, which is the one place where Python literals are lifted into the
graph and where an op's shape rule is run with the call's source labels.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from . import ast
from .errors import (ArgumentError, DTypeError, KGraphError, KGraphWarning, NameError,
                     ShapeError, Span)
from .ir import ConstValue, Graph, Node
from .loops import check_function
from .lower import evaluate_constants
from .ops import REGISTRY, Op, OpError
from .types import DTYPES, TensorType, dtype_name, is_float, is_int, np_dtype, promote
from .values import (Binding, CallSite, Function, Scope, describe, did_you_mean, freeze, is_number,
                     label_of, nested_numbers)

INFIX = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "//": "floor_divide",
         "%": "mod", "**": "pow", "@": "matmul", "<": "less", "<=": "less_equal",
         ">": "greater", ">=": "greater_equal", "==": "equal", "!=": "not_equal"}

PY_INFIX = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
            "//": operator.floordiv, "%": operator.mod, "**": operator.pow,
            "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne}

# update_add(x, increment) and update_sub(x, decrement): the op that makes x's new value.
UPDATE_CALLS = {"update_add": ("add", "increment"), "update_sub": ("subtract", "decrement")}


class Builder:
    def __init__(self, filename: str = "<string>", source: str = "", floatx: str = "float32"):
        self.filename = filename
        self.source = source
        self.floatx = floatx
        self.graph = Graph(intern=False)  # the program as written: merging is the cse pass's
        self.globals = Scope()
        self.warnings: list[KGraphWarning] = []
        self.bindings: list[Binding] = []
        self._var_values: dict[str, np.ndarray | None] = {}
        self._pending_init: dict[str, tuple[Node, str]] = {}  # name → (initial value's node, dtype)
        self.leaf_spans: dict[str, Span] = {}
        self._calls: list[ast.FuncDef] = []
        self._output_names: set[str] = set()
        self._update_spans: dict[str, Span] = {}
        self._output_items = 0
        self._lifted: dict[int, tuple[Any, Node]] = {}  # id of a literal list → (it, its node)

    @property
    def var_init(self) -> dict[str, np.ndarray]:
        """The variables' initial values by name, in declaration order.

        Values given by expressions are computed together on first use, in one jitted
        call compiled without XLA's optimisations: evaluating them op by op would compile
        each op for each new shape, and XLA optimises random draws for seconds.
        """
        if self._pending_init:
            pending, self._pending_init = self._pending_init, {}
            values = evaluate_constants([node for node, _ in pending.values()], optimize=False)
            for (name, (_, dtype)), value in zip(pending.items(), values):
                self._var_values[name] = value.astype(np_dtype(dtype))
        return self._var_values

    @var_init.setter
    def var_init(self, values: dict[str, np.ndarray]) -> None:
        self._pending_init = {}
        self._var_values = values

    # ---- diagnostics ---------------------------------------------------------
    def warn(self, message: str, span: Span | None) -> None:
        self.warnings.append(KGraphWarning(message, span))

    # ---- statements ----------------------------------------------------------
    def build(self, program: ast.Program) -> Graph:
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
            value = np.asarray(value)
            given, shape = value.dtype, value.shape
        else:
            raise KGraphError(f"a variable's initial value must be a tensor, got {describe(value)}",
                              stmt.value.span)
        if not np.can_cast(given, dtype, "same_kind") and not (given == bool):
            if not (np.issubdtype(given, np.floating) and dtype in ("float16", "bfloat16")):
                raise DTypeError(f"variable '{stmt.name}': its value is {given.name}, which does not "
                                 f"cast safely to {dtype}", stmt.value.span)
        node = self.graph.make("variable", (), {"name": stmt.name}, TensorType(dtype, shape), span=stmt.span)
        self.graph.variables[stmt.name] = node
        if isinstance(value, Node):
            self._var_values[stmt.name] = None  # keeps the declaration order; computed on first use
            self._pending_init[stmt.name] = (value, dtype)
        else:
            self._var_values[stmt.name] = value.astype(np_dtype(dtype))
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

    def stmt_ExprStmt(self, stmt: ast.ExprStmt, scope: Scope):
        if self._is_update_call(stmt.value, scope):
            return self._update_call(stmt, scope)
        value = self.expr(stmt.value, scope)
        if scope is self.globals:
            self.warn("this expression's value is not used; bind it (`y = ...`) or `output` it",
                      stmt.span)
        return value

    def stmt_FuncDef(self, stmt: ast.FuncDef, scope: Scope):
        if len(set(stmt.params)) != len(stmt.params):
            raise KGraphError(f"function '{stmt.name}' has a repeated parameter name", stmt.span)
        if not any(isinstance(s, ast.Return) for s in stmt.body):
            raise KGraphError(f"function '{stmt.name}' has no `return`", stmt.span)
        self.bind(scope, stmt.name, Function(stmt, scope), stmt.span)

    def stmt_Return(self, stmt: ast.Return, scope: Scope):
        raise KGraphError("`return` outside a function", stmt.span)

    # ---- updates (LANGUAGE.md §8; Keras's K.update, update_add, update_sub) -------
    def _is_update_call(self, e, scope: Scope) -> bool:
        if not isinstance(e, ast.Call) or e.func not in UPDATE_CALLS:
            return False
        try:
            return not isinstance(scope.lookup(e.func), Function)
        except KeyError:
            return True

    def _update_call(self, stmt: ast.ExprStmt, scope: Scope) -> None:
        """`update_add(x, increment)` / `update_sub(x, decrement)`: x's new value is x ± delta."""
        e: ast.Call = stmt.value
        op_name, delta_param = UPDATE_CALLS[e.func]
        params = ("x", delta_param)
        given = dict(zip(params, e.args))
        if len(e.args) > 2:
            raise ArgumentError(f"{e.func}() takes 2 arguments (x, {delta_param}) but "
                                f"{len(e.args)} were given", e.span)
        for k in e.kwargs:
            if k.name not in params:
                raise ArgumentError(f"{e.func}() got an unexpected keyword argument '{k.name}'"
                                    + did_you_mean(k.name, params), k.span)
            if k.name in given:
                raise ArgumentError(f"{e.func}() got multiple values for argument '{k.name}'", k.span)
            given[k.name] = k.value
        for name in params:
            if name not in given:
                raise ArgumentError(f"{e.func}() missing required argument '{name}' "
                                    f"(signature: {e.func}(x, {delta_param}))", e.span)
        target, delta = given["x"], given[delta_param]
        var = self._update_target(self.expr(target, scope), target.span.text(), target.span)
        delta_node = self._update_operand(var, self.expr(delta, scope), delta.span, delta_param)
        site = CallSite(op_name, e.span, {"x": target.span, "y": delta.span})
        self._add_update(var, self.make_node(op_name, {"x": var, "y": delta_node}, site), stmt)

    def _update_target(self, value: Any, text: str, span: Span) -> Node:
        if isinstance(value, Node) and value.op == "variable":
            return value
        if isinstance(value, Node) and value.op == "placeholder":
            raise KGraphError(f"cannot update placeholder '{value.attr('name')}': only variables "
                              f"can be updated", span)
        what = "a tensor computed by the program" if isinstance(value, Node) else describe(value)
        message = f"cannot update `{text}`: it is {what}, not a variable"
        if text in self.graph.variables:
            rebound = [b for b in self.bindings if b.name == text and b.value is not self.graph.variables[text]]
            if rebound:
                message += (f" (the name was rebound at line {rebound[-1].span.line}; the variable "
                            f"'{text}' is declared at line {self.leaf_spans[text].line})")
        raise KGraphError(message, span)

    def _update_operand(self, var: Node, value: Any, span: Span, what: str) -> Node:
        """The new value or delta of an update: exactly the variable's dtype and shape.

        As with Keras's K.update (tf.assign): a Python number or literal array is converted to
        the variable's dtype (ints into a float variable, but never floats into an int one); a
        tensor of another dtype is an error, even where a cast would be safe; shapes must be
        equal, with no broadcasting and no unknown (None or named) dimensions.
        """
        name = var.attr("name")
        if isinstance(value, (list, tuple)) and value and nested_numbers(value):
            value = self._literal_as(var.dtype, value, span)
        node = self.tensor(value, span, like=var.dtype)
        if node.dtype != var.dtype:
            raise DTypeError(f"update of '{name}': the {what} `{label_of(span)}` is {node.type}, but "
                             f"{name} is {var.type}; an update keeps the variable's dtype "
                             f"(convert with cast(..., '{var.dtype}'))", span)
        if node.shape != var.shape:
            raise ShapeError(f"update of '{name}': the {what} `{label_of(span)}` is {node.type}, but "
                             f"{name} is {var.type}; an update keeps the variable's shape", span)
        return node

    def _literal_as(self, dtype: str, value: Any, span: Span) -> Any:
        array = np.asarray(value)
        target = np_dtype(dtype)
        if array.dtype.kind == "f" and target.kind != "f" or array.dtype.kind == "b" and target.kind != "b":
            return value  # left as it is: the dtype check reports it
        if target.kind in "iu" and array.size and not (
                np.iinfo(target).min <= array.min() and array.max() <= np.iinfo(target).max):
            raise ArgumentError(f"the literal does not fit in {dtype}", span)
        return self.constant(array.astype(target))

    def _add_update(self, var: Node, value: Node, stmt) -> None:
        name = var.attr("name")
        if name in self._update_spans:
            first = self._update_spans[name]
            raise KGraphError(f"variable '{name}' is already updated at line {first.line}; a run "
                              f"updates each variable once (combine the two into one update)",
                              stmt.span).with_note(first, "the first update")
        self._update_spans[name] = stmt.span
        self.graph.updates.append((name, value))

    # ---- expressions -----------------------------------------------------------
    def expr(self, e, scope: Scope) -> Any:
        return getattr(self, "expr_" + type(e).__name__)(e, scope)

    def expr_Number(self, e: ast.Number, scope):
        return e.value

    def expr_String(self, e: ast.String, scope):
        return e.value

    def expr_Literal(self, e: ast.Literal, scope):
        return e.value

    def expr_Tuple(self, e: ast.Tuple, scope):
        return tuple(self.expr(x, scope) for x in e.items)

    def expr_List(self, e: ast.List, scope):
        return [self.expr(x, scope) for x in e.items]

    def expr_Name(self, e: ast.Name, scope: Scope):
        try:
            return scope.lookup(e.id)
        except KeyError:
            pass
        if e.id in REGISTRY:
            raise NameError(f"'{e.id}' is an op; call it: `{e.id}(...)`", e.span)
        raise NameError(f"unknown name '{e.id}'" + did_you_mean(e.id, scope.visible()), e.span)

    def expr_Unary(self, e: ast.Unary, scope: Scope):
        v = self.expr(e.operand, scope)
        if is_number(v):
            return -v if e.op == "-" else v
        if e.op == "+":
            return self.tensor(v, e.operand.span)
        site = CallSite("negative", e.span, {"x": e.operand.span})
        return self.apply(REGISTRY["negative"], [v], {}, site)

    def expr_BinOp(self, e: ast.BinOp, scope: Scope):
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        if is_number(left) and is_number(right) and e.op in PY_INFIX:
            try:
                return PY_INFIX[e.op](left, right)
            except (ZeroDivisionError, OverflowError) as err:
                raise ArgumentError(str(err), e.span) from None
        if isinstance(left, tuple) and isinstance(right, tuple) and e.op == "+":
            return left + right
        op = REGISTRY.get(INFIX[e.op])
        if op is None:
            raise NameError(f"the operator '{e.op}' needs the op {INFIX[e.op]}, which is missing", e.span)
        names = [p.name for p in op.params if p.kind == "tensor"][:2]
        site = CallSite(op.name, e.span, {names[0]: e.left.span, names[1]: e.right.span})
        return self.apply(op, [left, right], {}, site)

    def expr_Index(self, e: ast.Index, scope: Scope):
        value = self.expr(e.value, scope)
        items = []
        for sub in e.subscripts:
            items.append(self._index_item(sub, scope))
        if isinstance(value, (tuple, list)) and not isinstance(value, Node):
            if len(items) == 1 and isinstance(items[0], int):
                try:
                    return value[items[0]]
                except IndexError:
                    raise ArgumentError(f"index {items[0]} is out of range for {describe(value)}",
                                        e.span) from None
            if len(items) == 1 and isinstance(items[0], tuple) and nested_numbers(value) is not None:
                return value[slice(*items[0][1:])]
        x = self.tensor(value, e.value.span)
        site = CallSite("getitem", e.span, {"x": e.value.span})
        return self.apply(REGISTRY["getitem"], [x, tuple(items)], {}, site)

    def _index_item(self, sub, scope: Scope):
        if isinstance(sub, ast.EllipsisLit):
            return Ellipsis
        if isinstance(sub, ast.Slice):
            parts = []
            for part in (sub.start, sub.stop, sub.step):
                v = None if part is None else self.expr(part, scope)
                if v is not None and not (isinstance(v, int) and not isinstance(v, bool)):
                    raise ArgumentError(f"slice bounds must be integers known at compile time, "
                                        f"got {describe(v)}", part.span)
                parts.append(v)
            return ("slice", *parts)
        v = self.expr(sub, scope)
        if v is None or (isinstance(v, int) and not isinstance(v, bool)):
            return v
        if isinstance(v, Node):
            raise ArgumentError("indexing with a tensor is not supported; use gather(x, indices)",
                                sub.span)
        raise ArgumentError(f"an index must be an integer, a slice, None or '...', got {describe(v)}",
                            sub.span)

    def expr_Call(self, e: ast.Call, scope: Scope):
        try:
            target = scope.lookup(e.func)
        except KeyError:
            target = None
        if isinstance(target, Function):
            return self.inline(target, e, scope)
        if e.func in UPDATE_CALLS:
            raise KGraphError(f"`{e.func}(...)` is a statement and has no value; write it on a line "
                              f"of its own", e.span)
        if target is not None and e.func not in REGISTRY:
            raise NameError(f"'{e.func}' is {describe(target)}, not a function", e.func_span)
        op = REGISTRY.get(e.func)
        if op is None or op.category == "internal":
            candidates = [n for n, o in REGISTRY.items() if o.category != "internal"]
            candidates += [n for n in scope.visible() if isinstance(scope.lookup(n), Function)]
            raise NameError(f"unknown op '{e.func}'" + did_you_mean(e.func, candidates), e.func_span)
        args = [self.expr(a, scope) for a in e.args]
        kwargs = {k.name: self.expr(k.value, scope) for k in e.kwargs}
        site = CallSite(op.name, e.span, self._arg_spans(op, e))
        return self.apply(op, args, kwargs, site, e)

    def _arg_spans(self, op: Op, e: ast.Call) -> dict[str, Any]:
        spans: dict[str, Any] = {}
        for p, a in zip(op.params, e.args):
            spans[p.name] = a.span
        for k in e.kwargs:
            spans[k.name] = k.value.span
        for p in op.params:
            node = None
            if p.kind == "tensors":
                idx = [i for i, q in enumerate(op.params) if q.name == p.name][0]
                node = e.args[idx] if idx < len(e.args) else next(
                    (k.value for k in e.kwargs if k.name == p.name), None)
            if isinstance(node, (ast.List, ast.Tuple)):
                spans[p.name] = [x.span for x in node.items]
        return spans

    def inline(self, fn: Function, e: ast.Call, caller_scope: Scope):
        d = fn.definition
        args = [self.expr(a, caller_scope) for a in e.args]
        kwargs = {k.name: self.expr(k.value, caller_scope) for k in e.kwargs}
        if len(args) > len(d.params):
            raise ArgumentError(f"{d.name}() takes {len(d.params)} arguments but {len(args)} were given",
                                e.span)
        bound = dict(zip(d.params, args))
        for k in e.kwargs:
            if k.name not in d.params:
                raise ArgumentError(f"{d.name}() got an unexpected keyword argument '{k.name}'"
                                    + did_you_mean(k.name, d.params), k.span)
            if k.name in bound:
                raise ArgumentError(f"{d.name}() got multiple values for argument '{k.name}'", k.span)
            bound[k.name] = kwargs[k.name]
        missing = [p for p in d.params if p not in bound]
        if missing:
            raise ArgumentError(f"{d.name}() missing argument '{missing[0]}'", e.span)
        return self.run_function(fn, bound, e.span, f"in the call to '{d.name}' here")

    def run_function(self, fn: Function, bound: dict, call_span: Span, note: str) -> Any:
        """The value of `fn`'s body with its parameters bound; an error in it gets a note at the call."""
        d = fn.definition
        if any(c is d for c in self._calls):
            raise KGraphError(f"function '{d.name}' calls itself; recursion is not supported", call_span)
        local = Scope(fn.scope)
        local.names.update(bound)
        self._calls.append(d)
        try:
            for stmt in d.body:
                if isinstance(stmt, ast.Return):
                    return self.expr(stmt.value, local)
                self.statement(stmt, local)
        except KGraphError as err:
            raise err.with_note(call_span, note) from None
        finally:
            self._calls.pop()
        raise KGraphError(f"function '{d.name}' ended without `return`", d.span)

    def expr_Lambda(self, e: ast.Lambda, scope: Scope) -> Function:
        if len(set(e.params)) != len(e.params):
            raise KGraphError("a lambda has a repeated parameter name", e.span)
        return Function(ast.FuncDef(e.span, "<lambda>", e.params, [ast.Return(e.body.span, e.body)]), scope)

    # ---- calls into the registry ---------------------------------------------
    def bind_args(self, op: Op, args: list, kwargs: dict, site: CallSite, call: ast.Call | None) -> dict:
        params = op.params
        if len(args) > len(params):
            raise ArgumentError(f"{op.name}() takes at most {len(params)} arguments "
                                f"({', '.join(p.name for p in params)}) but {len(args)} were given",
                                site.span)
        bound = {p.name: a for p, a in zip(params, args)}
        names = [p.name for p in params]
        for k, v in kwargs.items():
            if k not in names:
                span = next((kw.span for kw in call.kwargs if kw.name == k), site.span) if call else site.span
                raise ArgumentError(f"{op.name}() got an unexpected keyword argument '{k}'"
                                    + did_you_mean(k, names), span)
            if k in bound:
                raise ArgumentError(f"{op.name}() got multiple values for argument '{k}'", site.arg_span(k))
            bound[k] = v
        for p in params:
            if p.name not in bound:
                if p.required:
                    raise ArgumentError(f"{op.name}() missing required argument '{p.name}' "
                                        f"(signature: {op.signature})", site.span)
                bound[p.name] = p.default
        return bound

    def apply(self, op: Op, args: list, kwargs: dict, site: CallSite, call: ast.Call | None = None):
        bound = self.bind_args(op, args, kwargs, site, call)
        bound = self._coerce(op, bound, site)
        if op.build is not None:
            return op.build(self, site, bound)
        return self.make_node(op.name, bound, site)

    def _coerce(self, op: Op, bound: dict, site: CallSite) -> dict:
        """Tensor arguments become nodes (Python scalars weakly typed), static ones hashable."""
        out = dict(bound)
        tensor_params = [p for p in op.params if p.kind == "tensor"]
        like = None
        if op.elementwise:
            dtypes = [v.dtype for p in tensor_params if isinstance(v := bound[p.name], Node)]
            dtypes += [self._literal_dtype(v) for p in tensor_params
                       if isinstance(v := bound[p.name], (list, tuple))]
            if dtypes:
                like = dtypes[0]
                for d in dtypes[1:]:
                    like = promote(like, d)
        for p in op.params:
            v = bound[p.name]
            if p.kind == "tensor":
                if v is None and not p.required:
                    out[p.name] = None
                    continue
                out[p.name] = self.tensor(v, site.arg_span(p.name), like=like)
            elif p.kind == "function":
                out[p.name] = check_function(v, f"{op.name}(): '{p.name}'", site.arg_span(p.name))
            elif p.kind == "tensors":
                if v is None and not p.required:
                    out[p.name] = None
                    continue
                if isinstance(v, Node) and op.build is not None:
                    out[p.name] = v  # one tensor as a sequence (stack): the op's build decides
                    continue
                if not isinstance(v, (list, tuple)):
                    raise ArgumentError(f"{op.name}(): '{p.name}' must be a list of tensors, got "
                                        f"{describe(v)}", site.arg_span(p.name))
                out[p.name] = [self.tensor(x, site.arg_span(p.name, i)) for i, x in enumerate(v)]
            else:
                if isinstance(v, Node):
                    raise ArgumentError(f"{op.name}(): '{p.name}' must be known at compile time, "
                                        f"but {site.label(p.name)} is a tensor", site.arg_span(p.name))
                if isinstance(v, Function):
                    raise ArgumentError(f"{op.name}(): '{p.name}' cannot be a function", site.arg_span(p.name))
                v = freeze(v)
                if p.name == "dtype" and op.dtype_none_is_floatx and v is None:
                    v = self.floatx
                if p.name == "dtype" and v is not None:
                    v = self._dtype(v, site.arg_span(p.name))
                out[p.name] = v
        return out

    def make_node(self, op_name: str, bound: dict, site: CallSite) -> Node:
        """Make one node of `op_name` from bound arguments; shape errors get the call's place."""
        op = REGISTRY[op_name]
        srcs: list[Node] = []
        attrs: dict[str, Any] = {}
        operands: list[tuple] = []  # (param, index, node): labelled only if the shape rule fails
        for p in op.params:
            v = bound.get(p.name, p.default)
            if p.kind == "tensor":
                if v is None:
                    attrs["has_" + p.name] = False
                    continue
                v = self.tensor(v, site.arg_span(p.name))
                srcs.append(v)
                operands.append((p.name, None, v))
            elif p.kind == "tensors":
                for i, x in enumerate(v):
                    srcs.append(x)
                    operands.append((p.name, i, x))
            else:
                attrs[p.name] = freeze(v)
        if op.unique:
            attrs["uid"] = self.graph.fresh_id()
        try:
            return self.graph.make(op.name, srcs, attrs, span=site.span)
        except OpError as err:
            cls = {"shape": ShapeError, "dtype": DTypeError}.get(err.kind, ArgumentError)
            labels = [f"{site.label(name, i)} is {x.type}" for name, i, x in operands]
            try:
                message = err.template.format(*labels)
            except (IndexError, KeyError):
                message = err.template
            raise cls(f"{site.name}: {message}", site.span) from None

    # ---- values ------------------------------------------------------------------
    def _literal_dtype(self, v) -> str:
        flat = np.asarray(v, dtype=object).ravel().tolist() if v != [] and v != () else []
        if any(isinstance(x, float) for x in flat):
            return self.floatx
        if flat and all(isinstance(x, bool) for x in flat):
            return "bool"
        return "int32"

    def tensor(self, v: Any, span: Span, like: str | None = None) -> Node:
        """Lift a value into the graph. `like` is the dtype a weak Python scalar adopts."""
        if isinstance(v, Node):
            return v
        if isinstance(v, bool):
            dtype = "bool" if like in (None, "bool") else like
            return self.constant(np.asarray(v, dtype=np_dtype(dtype)))
        if is_number(v):
            if like is not None and (is_float(like) or (isinstance(v, int) and like != "bool")):
                dtype = like
            elif isinstance(v, float):
                dtype = self.floatx
            else:
                dtype = "int32"
            if isinstance(v, int) and is_int(dtype):
                info = np.iinfo(np_dtype(dtype))
                if not info.min <= v <= info.max:
                    raise ArgumentError(f"the integer {v} does not fit in {dtype}", span)
            return self.constant(np.asarray(v, dtype=np_dtype(dtype)))
        if isinstance(v, (list, tuple)):
            if id(v) in self._lifted:  # one node per literal, so a name bound to one is one tensor
                return self._lifted[id(v)][1]
            if not nested_numbers(v):
                if any(isinstance(x, Node) for x in v):
                    raise ArgumentError(f"expected a tensor, got {describe(v)} holding tensors; "
                                        f"use stack([...]) to make one tensor of them", span)
                raise ArgumentError(f"expected a tensor, got {describe(v)}", span)
            dtype = self._literal_dtype(v)
            try:
                array = np.asarray(v, dtype=np_dtype(dtype))
            except ValueError:
                raise ShapeError("a literal array must be rectangular (every row the same length)",
                                 span) from None
            self._lifted[id(v)] = (v, self.constant(array))
            return self._lifted[id(v)][1]
        raise ArgumentError(f"expected a tensor, got {describe(v)}", span)

    def constant(self, array: np.ndarray) -> Node:
        array = np.asarray(array)
        return self.graph.make("const", (), {"value": ConstValue(array)},
                               TensorType(dtype_name(array.dtype), array.shape))

    def check_constant(self, node: Node, span: Span, what: str) -> None:
        """Refuse a value that cannot be computed at compile time."""
        from .ir import toposort

        for n in toposort([node]):
            if n.op in ("placeholder", "variable"):
                raise KGraphError(f"{what} must be computable at compile time, but it depends on "
                                  f"{n.op} '{n.attr('name')}'", span)
            if n.op in REGISTRY and REGISTRY[n.op].unique and n.op != "print_tensor":
                raise KGraphError(f"{what} must be computable at compile time; give `{n.op}` a seed",
                                  span)

    def _dtype(self, name: Any, span: Span) -> str:
        if not isinstance(name, str) or name not in DTYPES:
            hint = did_you_mean(str(name), DTYPES) if isinstance(name, str) else ""
            raise DTypeError(f"unknown dtype {name!r}{hint} (dtypes: {', '.join(DTYPES)})", span)
        return name

    def _warn_unused_placeholders(self) -> None:
        from .ir import toposort

        used = {n.id for n in toposort(self.graph.roots())}
        for name, node in self.graph.placeholders.items():
            if node.id not in used:
                self.warn(f"placeholder '{name}' is not used by any output", self.leaf_spans[name])

