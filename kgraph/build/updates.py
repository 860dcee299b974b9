"""Updates (LANGUAGE.md §8; Keras's K.update, update_add, update_sub): the builder's part."""
from __future__ import annotations

from typing import Any

from .. import ast, guards
from ..errors import ArgumentError, DTypeError, KGraphError, ShapeError, Span
from ..ir import Node
from ..types import np_dtype
from ..values import CallSite, Function, Scope, describe, did_you_mean, label_of, nested_numbers
from .expressions import UPDATE_CALLS


class Updates:
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
        array = guards.literal_array(value, span)
        target = np_dtype(dtype)
        if array.dtype.kind == "f" and target.kind != "f" or array.dtype.kind == "b" and target.kind != "b":
            return value  # left as it is: the dtype check reports it
        return self.constant(guards.cast_literal(array, dtype, span))

    def _add_update(self, var: Node, value: Node, stmt) -> None:
        name = var.attr("name")
        if name in self._update_spans:
            first = self._update_spans[name]
            raise KGraphError(f"variable '{name}' is already updated at line {first.line}; a run "
                              f"updates each variable once (combine the two into one update)",
                              stmt.span).with_note(first, "the first update")
        self._update_spans[name] = stmt.span
        self.graph.updates.append((name, value))

