"""Expressions: each AST expression to a value (an IR node or a Python-like value)."""
from __future__ import annotations

import operator
from typing import Any


from .. import ast, guards, limits
from ..errors import ArgumentError, KGraphError, NameError
from ..ir import Call, Node
from ..ops import REGISTRY, Op
from ..values import CallSite, Function, Scope, describe, did_you_mean, is_number, nested_numbers

INFIX = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "//": "floor_divide",
         "%": "mod", "**": "pow", "@": "matmul", "<": "less", "<=": "less_equal",
         ">": "greater", ">=": "greater_equal", "==": "equal", "!=": "not_equal"}

PY_INFIX = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
            "//": operator.floordiv, "%": operator.mod, "**": operator.pow,
            "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne}

# update_add(x, increment) and update_sub(x, decrement): the op that makes x's new value.
UPDATE_CALLS = {"update_add": ("add", "increment"), "update_sub": ("subtract", "decrement")}


# Functions are inlined by recursion in the builder (each nested call is a few Python frames,
# which in CPython 3.11 use no C stack), and so are nested brackets: Builder.build lifts
# Python's recursion limit to fit the limits max_call_depth and max_depth.
FRAMES_PER_CALL = 12
FRAMES_PER_BRACKET = 8

class Expressions:
    # ---- expressions -----------------------------------------------------------
    def expr(self, e, scope: Scope) -> Any:
        if type(e) is ast.BinOp:
            return self._binop_chain(e, scope)
        return getattr(self, "expr_" + type(e).__name__)(e, scope)

    def _binop_chain(self, root: ast.BinOp, scope: Scope) -> Any:
        """A tree of infix operators evaluated with an explicit stack, left operand first as
        the recursive walk would, so a 5,000-term `x + x + ...` needs no Python recursion."""
        values: list[Any] = []
        tasks: list[tuple[bool, Any]] = [(False, root)]  # (operands done, expression)
        while tasks:
            operands_done, e = tasks.pop()
            if operands_done:
                right = values.pop()
                values.append(self._binop(e, values.pop(), right))
            elif type(e) is ast.BinOp:
                tasks += [(True, e), (False, e.right), (False, e.left)]
            else:
                values.append(getattr(self, "expr_" + type(e).__name__)(e, scope))
        return values[0]

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
        return self._binop_chain(e, scope)

    def _binop(self, e: ast.BinOp, left: Any, right: Any) -> Any:
        if is_number(left) and is_number(right) and e.op in PY_INFIX:
            return guards.fold_numbers(PY_INFIX[e.op], e.op, left, right, e.span)
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
                if items[0][3] == 0:
                    raise ArgumentError("slice step cannot be zero", e.span)
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

    def run_function(self, fn: Function, bound: dict, call_span, note: str) -> Any:
        """The value of `fn`'s body with its parameters bound; an error in it gets a note at the call."""
        d = fn.definition
        if any(c is d for c in self._calls):
            raise KGraphError(f"function '{d.name}' calls itself; recursion is not supported", call_span)
        limits.check("max_call_depth", len(self._calls) + 1, "the depth of nested function calls",
                     call_span)
        local = Scope(fn.scope)
        local.names.update(bound)
        graph, first = self.graph, self.graph.next_id
        self._calls.append(d)
        try:
            for stmt in d.body:
                if isinstance(stmt, ast.Return):
                    result = self.expr(stmt.value, local)
                    graph.calls.append(Call(d, tuple((k, v) for k, v in bound.items() if isinstance(v, Node)),
                                            result if isinstance(result, Node) else None, first,
                                            graph.next_id, len(self._calls) - 1))
                    return result
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
