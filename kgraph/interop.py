"""A program's graph as a pure JAX function, and copies of graphs.

`jax_function(program)` is what `Program.as_jax_function()` returns: a function
`(variables, **feeds) -> outputs` that holds no state, so `jax.jit`, `jax.grad`,
`jax.vmap` and `jax.lax.scan` can transform it like any JAX code.

**Decision — 64-bit types.** kgraph honours float64/int64 without touching the
caller's JAX configuration. A pure function cannot do that: its values live in
the caller's trace. So the function computes exactly the program's dtypes when
the caller has x64 enabled, and otherwise runs the program *narrowed* the way
JAX narrows everything: float64 → float32 and int64 → int32 (and says so once with
a warning if the program declared a 64-bit type).
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from .errors import FeedError, KGraphError
from .ir import Body, ConstValue, Graph, Node, toposort
from .loops import TupleType, params_by_index
from .lower import make_function
from .types import TensorType

NARROW = {"float64": "float32", "int64": "int32"}


def extract(outputs: list[tuple[str, Node]], updates: list[tuple[str, Node]] = (),
            retype: Callable[[Node, dict], tuple[TensorType, dict]] | None = None) -> Graph:
    """A new graph holding only what `outputs` and `updates` need, nodes copied in order.

    `retype(node, attrs)` may give each copy another type and attributes (narrowing).
    Leaves keep their declaration order; `unique` nodes get fresh uids in the new graph.
    """
    graph = Graph(intern=False)  # a copy: the nodes it copies, duplicates and all
    new: dict[int, Node] = {}
    roots = [n for _, n in outputs] + [n for _, n in updates]
    for node in toposort(roots):
        attrs, type_ = dict(node.attrs), node.type
        if retype is not None:
            type_, attrs = retype(node, attrs)
        if "uid" in attrs:
            attrs["uid"] = graph.fresh_id()
        new[node.id] = graph.make(node.op, [new[s.id] for s in node.srcs], attrs, type_, span=node.span)
    for node in sorted((n for n in toposort(roots) if n.is_leaf),
                       key=lambda n: n.id):
        leaves = graph.placeholders if node.op == "placeholder" else graph.variables
        leaves[node.attr("name")] = new[node.id]
    graph.outputs = [(name, new[n.id]) for name, n in outputs]
    graph.updates = [(name, new[n.id]) for name, n in updates]
    return graph


def _narrow_type(t):
    if isinstance(t, TupleType):
        return TupleType(tuple(_narrow_type(x) for x in t.types))
    return TensorType(NARROW.get(t.dtype, t.dtype), t.shape)


def _narrow_node(node: Node, attrs: dict) -> tuple[TensorType, dict]:
    if isinstance(attrs.get("body"), Body):  # a loop: its body is narrowed too
        body = attrs["body"]
        graph = extract(body.graph.outputs, retype=_narrow_node)
        attrs["body"] = Body(graph, params_by_index(graph, body, _narrow_type))
    if node.op == "const" and attrs["value"].array.dtype.name in NARROW:
        array = attrs["value"].array
        attrs["value"] = ConstValue(array.astype(NARROW[array.dtype.name]))
    if attrs.get("dtype") in NARROW:
        attrs["dtype"] = NARROW[attrs["dtype"]]
    return _narrow_type(node.type), attrs


def narrowed(graph: Graph) -> Graph:
    """The graph with every 64-bit type narrowed to 32 bits, as JAX without x64 computes."""
    return extract(graph.outputs, graph.updates, retype=_narrow_node)


def uses_64bit(graph: Graph) -> bool:
    return any(n.dtype in NARROW for n in graph.all_nodes())


def declares_64bit(graph: Graph) -> bool:
    """Whether the program asks for a 64-bit type itself (a leaf, a constant, a `dtype=`),
    rather than only getting one from an op (`argmax`'s int64 indices, exact in 32 bits)."""
    return any((n.dtype in NARROW and (n.is_leaf or n.op == "const"))
               or n.attr("dtype") in NARROW for n in graph.all_nodes())


def x64_enabled() -> bool:
    """Whether the caller's JAX (config or `jax.enable_x64` context) keeps 64-bit types."""
    return jax.dtypes.canonicalize_dtype(np.float64) == np.float64


class _Compiled:
    """One graph made ready to call: its leaves and the interpreter function."""

    def __init__(self, graph: Graph):
        live = {n.id for n in graph.live_nodes()}
        self.graph = graph
        self.placeholders = [n for n in graph.placeholders.values() if n.id in live]
        self.variables = [n for n in graph.variables.values() if n.id in live]
        self.run = make_function([n for _, n in graph.outputs], [n for _, n in graph.updates],
                                 self.placeholders, self.variables)


def _as_leaf(kind: str, node: Node, value: Any, named: dict) -> Any:
    """A feed or variable value checked against its leaf's type and cast to its dtype."""
    name = node.attr("name")
    declared = node.type
    value = jnp.asarray(value)
    if value.ndim != declared.ndim or any(isinstance(d, int) and d != v
                                          for d, v in zip(declared.shape, value.shape)):
        raise FeedError(f"{kind} '{name}': shape mismatch: {name} is declared {declared}, "
                        f"got {value.dtype.name}{list(value.shape)}")
    for d, v in zip(declared.shape, value.shape):
        if isinstance(d, str) and named.setdefault(d, (v, name))[0] != v:
            raise FeedError(f"{kind} '{name}': dimension '{d}' is {v} here but {named[d][0]} in "
                            f"'{named[d][1]}'")
    target = jnp.dtype(declared.dtype)
    if value.dtype != target:
        if not np.can_cast(value.dtype, target, "same_kind"):
            raise FeedError(f"{kind} '{name}': cannot convert {value.dtype.name} to {declared.dtype}")
        value = value.astype(target)
    return value


def jax_function(program, *, updates: bool = False, rng: bool = False) -> Callable:
    """`(variables, **feeds) -> {output: array}`; see `Program.as_jax_function`."""
    exact = _Compiled(program.graph)
    narrow: list[_Compiled] = []
    wide, declared = uses_64bit(program.graph), declares_64bit(program.graph)
    seed = program.seed

    def compiled() -> _Compiled:
        if x64_enabled() or not wide:
            return exact
        if not narrow:
            if declared:
                warnings.warn("kgraph: this program declares 64-bit types but JAX's x64 mode is off, so "
                              "as_jax_function computes them in 32 bits (as JAX would); enable x64 "
                              "(`with jax.enable_x64(True):`) for exact float64/int64", stacklevel=3)
            narrow.append(_Compiled(narrowed(program.graph)))
        return narrow[0]

    def function(variables, *key, **feeds):
        if len(key) != int(rng):
            raise KGraphError("as_jax_function(rng=True) takes (variables, key, **feeds); without "
                              "rng=True it takes (variables, **feeds)")
        c = compiled()
        # The learning phase (LANGUAGE.md §9): f(variables, training=True, **feeds); False unless given.
        training = feeds.pop("training", False) if "training" not in c.graph.placeholders else False
        for name in feeds:
            if name not in c.graph.placeholders and name not in program.placeholders:
                raise FeedError(f"feed '{name}' matches no placeholder (placeholders: "
                                f"{', '.join(program.placeholders) or 'none'})")
        named: dict = {}
        feed_values = {}
        for node in c.placeholders:
            name = node.attr("name")
            if name not in feeds:
                raise FeedError(f"placeholder '{name}' ({node.type}) needs a feed: f(variables, {name}=...)")
            feed_values[name] = _as_leaf("feed", node, feeds[name], named)
        var_values = {}
        for node in c.variables:
            name = node.attr("name")
            if name not in variables:
                raise KGraphError(f"variables has no '{name}' (pass prog.variables, or a pytree "
                                  f"with the same keys)")
            var_values[name] = _as_leaf("variable", node, variables[name], named)
        with warnings.catch_warnings():
            # Narrowed lowerings that ask for int64/float64 get 32 bits; that is the point.
            warnings.filterwarnings("ignore", message="Explicitly requested dtype")
            outs, new = c.run(var_values, feed_values, key[0] if rng else jax.random.PRNGKey(seed),
                              jnp.asarray(training, bool))
        # An OrderedDict keeps the output order through jit (JAX sorts a plain dict's keys).
        result = OrderedDict((name, value) for (name, _), value in zip(c.graph.outputs, outs))
        if not updates:
            return result
        state = dict(variables)
        state.update({name: value for (name, _), value in zip(c.graph.updates, new)})
        return result, state

    function.__doc__ = (f"kgraph program {program.filename}: (variables, "
                        f"{'key, ' if rng else ''}**feeds) -> {{{', '.join(program.outputs)}}}")
    return function
