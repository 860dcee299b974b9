"""IR → JAX: a small interpreter over the equations, traced once by `jax.jit`.

Each op's lowering sits in its registry entry; this loop only feeds them values.
Ops that need the interpreter itself (gradients, unseeded random draws, the
learning phase, a crossentropy reading a softmax's logits) use
`lower_node(ctx, node, inputs)`.
"""
from __future__ import annotations

from typing import Any, Callable

import jax

from . import bugs
from .errors import KGraphError, ShapeError
from .ir import Body, Node, toposort
from .ops import REGISTRY
from .types import np_dtype


class LoweringError(AssertionError):
    """A lowering disagreed with its op's shape rule: a compiler bug, not a user mistake."""


class Interpreter:
    def __init__(self, leaves: dict[int, Any], rng: Any = None, training: Any = False):
        self.leaves = leaves  # node id → value, for placeholders and variables
        self.rng = rng
        self.training = training  # the learning phase: a bool scalar (traced) or a Python bool
        self.memo: dict[Any, Any] = {}
        self.env: dict[int, Any] = dict(leaves)

    def evaluate(self, roots: list[Node], env: dict[int, Any] | None = None) -> list[Any]:
        env = dict(self.leaves) if env is None else env
        self.env = env
        stop = set(env)
        for node in _order(roots, stop):
            if node.id in env:
                continue
            env[node.id] = self.apply(node, [env[s.id] for s in node.srcs])
        return [env[r.id] for r in roots]

    def value(self, node: Node) -> Any:
        """A node's value in the running evaluation, computed now if it has not been yet
        (where a gradient target's override cut it off)."""
        return self.env[node.id] if node.id in self.env else self.evaluate([node], self.env)[0]

    def evaluate_with(self, root: Node, overrides: dict[Node, Any]) -> Any:
        """`root` with some nodes replaced by given values (what gradients differentiate)."""
        inner = Interpreter(self.leaves, self.rng, self.training)
        env = dict(self.leaves)
        env.update({n.id: v for n, v in overrides.items()})
        return inner.evaluate([root], env)[0]

    def call_body(self, region: Body, inputs: list[Any]) -> tuple:
        """A region's results with its params bound to `inputs`, as one jitted call; the
        function is made once per distinct region (equal regions are traced once)."""
        function = region.cache.get("jit")
        if function is None:
            ids = [p.id for p in region.params]
            results = list(region.results)

            def body(*values):
                return tuple(Interpreter(dict(zip(ids, values))).evaluate(results))

            function = region.cache["jit"] = jax.jit(body)
        return function(*inputs)

    def apply(self, node: Node, inputs: list[Any]) -> Any:
        op = REGISTRY[node.op]
        bugs.at(node)
        if op.lower_node is None and op.lower is None:
            raise LoweringError(f"op {node.op!r} has no lowering")
        try:
            if op.lower_node is not None:
                value = op.lower_node(self, node, inputs)
            else:
                value = op.lower(*inputs, **dict(node.attrs))
        except KGraphError as e:
            if e.span is None:  # a lowering's run-time check: the node knows the place
                e.span = node.span
            raise
        except (TypeError, ValueError) as e:
            # Only dims unknown at compile time can disagree here; with static shapes the
            # shape rule has already checked, so anything else is a bug and propagates.
            if all(s.type.is_static() for s in node.srcs):
                raise
            got = ", ".join(f"{tuple(v.shape)}" for v in inputs)
            raise ShapeError(f"{node.op}: the run-time shapes do not agree: got {got} for "
                             f"{', '.join(str(s.type) for s in node.srcs)}", node.span) from e
        check(node, value)
        return value


def _order(roots: list[Node], stop: set[int]) -> list[Node]:
    """Topological order of what `roots` need, not walking past nodes with known values."""
    return toposort(roots, expand=lambda n: n.id not in stop)


def check(node: Node, value: Any) -> None:
    if node.type.dtype == "tuple":  # a loop's results: each is checked where `nth` takes it
        return
    if value.dtype != np_dtype(node.dtype):
        raise LoweringError(f"{node.op} produced {value.dtype}, its shape rule says {node.type}")
    shape = node.shape
    if value.shape == shape:
        return
    if len(value.shape) != len(shape) or any(
            isinstance(d, int) and d != v for d, v in zip(shape, value.shape)):
        raise LoweringError(f"{node.op} produced shape {tuple(value.shape)}, its shape rule says {node.type}")


def make_function(outputs: list[Node], updates: list[Node], placeholders: list[Node],
                  variables: list[Node]) -> Callable:
    """A pure function (variables, feeds, rng[, training]) → (outputs, new variable values),
    for jax.jit. `training` is the learning phase (LANGUAGE.md §9), False unless given."""

    def run(var_values, feed_values, rng, training=False):
        leaves = {n.id: var_values[n.attr("name")] for n in variables}
        leaves.update({n.id: feed_values[n.attr("name")] for n in placeholders})
        interp = Interpreter(leaves, rng, training)
        with bugs.stage("lowering"):
            values = interp.evaluate(list(outputs) + list(updates))
        return tuple(values[: len(outputs)]), tuple(values[len(outputs):])

    return run
