"""Calls into the registry and values lifted into the graph: argument binding, coercion,
`make_node` (the one place an op's shape rule runs with the call's labels) and `tensor`."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import ast, guards
from ..errors import ArgumentError, DTypeError, KGraphError, ShapeError, Span
from ..ir import ConstValue, Node, toposort
from ..loops import check_function
from ..ops import REGISTRY, Op, OpError
from ..types import DTYPES, TensorType, dtype_name, is_float, is_int, np_dtype, promote
from ..values import CallSite, Function, describe, did_you_mean, freeze, is_number, nested_numbers


class Lifting:
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
                if v is None and (not p.required or p.name in op.nullable):
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
                if p.name in op.runtime and (isinstance(v, Node) or (
                        isinstance(v, (list, tuple)) and any(isinstance(x, Node) for x in v))):
                    out[p.name] = v  # known at run time: the op's build decides
                    continue
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
                if p.name == "data_format" and v is None:  # Keras: image_data_format()
                    v = self.image_data_format
                attrs[p.name] = freeze(v)
        guards.check_static_ints(site.name, attrs, site)
        if op.unique:
            attrs["uid"] = self.graph.fresh_id()
        try:
            node = self.graph.make(op.name, srcs, attrs, span=site.span)
            guards.check_elements(node, site.span)
            return node
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
        flat, stack = [], [v]  # the numbers of a nested list, ragged or not
        while stack:
            x = stack.pop()
            if isinstance(x, (list, tuple)):
                stack.extend(x)
            else:
                flat.append(x)
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
                    raise ArgumentError(f"the integer {guards.show_int(v)} does not fit in {dtype}", span)
            try:
                return self.constant(np.asarray(v, dtype=np_dtype(dtype)))
            except OverflowError:  # an integer past every float (10**400 as float32)
                raise ArgumentError(f"the integer {guards.show_int(v)} does not fit in {dtype}",
                                    span) from None
        if isinstance(v, (list, tuple)):
            if id(v) in self._lifted:  # one node per literal, so a name bound to one is one tensor
                return self._lifted[id(v)][1]
            if not nested_numbers(v):
                if any(isinstance(x, Node) for x in v):
                    raise ArgumentError(f"expected a tensor, got {describe(v)} holding tensors; "
                                        f"use stack([...]) to make one tensor of them", span)
                raise ArgumentError(f"expected a tensor, got {describe(v)}", span)
            array = guards.literal_array(v, span, self._literal_dtype(v))
            self._lifted[id(v)] = (v, self.constant(array))
            return self._lifted[id(v)][1]
        raise ArgumentError(f"expected a tensor, got {describe(v)}", span)

    def constant(self, array: np.ndarray) -> Node:
        array = np.asarray(array)
        return self.graph.make("const", (), {"value": ConstValue(array)},
                               TensorType(dtype_name(array.dtype), array.shape))

    def check_constant(self, node: Node, span: Span, what: str) -> None:
        """Refuse a value that cannot be computed at compile time."""
        for n in toposort([node]):
            if n.is_leaf:
                raise KGraphError(f"{what} must be computable at compile time, but it depends on "
                                  f"{n.op} '{n.attr('name')}'", span)
            if n.op == "learning_phase":
                raise KGraphError(f"{what} must be computable at compile time, but it depends on "
                                  f"learning_phase(), which is known only when the program runs", span)
            if n.op in REGISTRY and REGISTRY[n.op].unique and n.op != "print_tensor":
                raise KGraphError(f"{what} must be computable at compile time; give `{n.op}` a seed",
                                  span)

    def _dtype(self, name: Any, span: Span) -> str:
        if not isinstance(name, str) or name not in DTYPES:
            hint = did_you_mean(str(name), DTYPES) if isinstance(name, str) else ""
            raise DTypeError(f"unknown dtype {name!r}{hint} (dtypes: {', '.join(DTYPES)})", span)
        return name

    def _warn_unused_placeholders(self) -> None:
        used = {n.id for n in toposort(self.graph.roots())}
        for name, node in self.graph.placeholders.items():
            if node.id not in used:
                self.warn(f"placeholder '{name}' is not used by any output", self.leaf_spans[name])


