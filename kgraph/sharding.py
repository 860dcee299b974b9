"""Many devices, one program (LANGUAGE.md §11): `shard` statements and layouts on a mesh
(kgraph/mesh.py makes the mesh).

kgraph adds no communication of its own. A `Layout` gives every placeholder and
variable a `NamedSharding` on a `jax.sharding.Mesh`; the program's jitted step is
compiled with those as its in- and out-shardings, and XLA's SPMD partitioner inserts
the collectives. Without `shard` statements the layout is data parallelism: each
placeholder's first dimension is split along the mesh's first axis, variables are
replicated. Outputs come back replicated, so every process can read them.

Across processes (`--distributed`) the arrays are global: a process puts onto its
own devices only its part of a feed (`jax.make_array_from_callback`), gathers what
it must write (`process_allgather`), and only process 0 writes files.
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any, Callable

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .errors import KGraphError, ShapeError, Span
from .ir import Node
from .mesh import auto_axes, describe_mesh, writes_files
from .types import np_dtype
_TRACING_ON_MESH = contextvars.ContextVar("kgraph_tracing_on_mesh", default=False)


def tracing_on_mesh() -> bool:
    """Whether the step being traced runs on a mesh: JAX orders effects (print_tensor's
    callbacks) on one device only, so a lowering asks."""
    return _TRACING_ON_MESH.get()


@dataclass(frozen=True)
class ShardSpec:
    """A `shard NAME: [...]` statement: a mesh axis name or None for each dimension."""

    axes: tuple
    span: Span

    def text(self) -> str:
        return "[" + ", ".join(str(a) for a in self.axes) + "]"


def declare(graph, stmt, leaf) -> None:
    """Check a shard statement against its leaf (rank, names) and record it on `graph`.

    A mesh is not needed for this: without one the statement is checked and has no effect.
    """
    if leaf is None or not (isinstance(leaf, Node) and leaf.is_leaf):
        what = "is not defined" if leaf is None else "is not a placeholder or a variable"
        raise KGraphError(f"shard {stmt.name}: '{stmt.name}' {what}; `shard` lays out a "
                          f"placeholder or a variable declared before it", stmt.name_span)
    if stmt.name in graph.shardings:
        first = graph.shardings[stmt.name].span
        raise KGraphError(f"'{stmt.name}' already has a shard statement at line {first.line}", stmt.span)
    if len(stmt.axes) != len(leaf.shape):
        raise ShapeError(f"shard {stmt.name}: {len(stmt.axes)} entr{'y' if len(stmt.axes) == 1 else 'ies'} "
                         f"for {leaf.op} '{stmt.name}' of rank {len(leaf.shape)} ({leaf.type}); "
                         f"give one mesh axis or None per dimension", stmt.span)
    named = [a for a in stmt.axes if a is not None]
    twice = sorted({a for a in named if named.count(a) > 1})
    if twice:
        raise KGraphError(f"shard {stmt.name}: mesh axis '{twice[0]}' is named twice; an axis can "
                          f"split one dimension only", stmt.span)
    graph.shardings[stmt.name] = ShardSpec(tuple(stmt.axes), stmt.span)


# ---- layouts -----------------------------------------------------------------------

class Layout:
    """Every leaf's `NamedSharding` on `mesh`, from the shard statements or data parallelism.

    Made when a program meets its mesh; a shard statement that names an axis the mesh
    lacks, or a fixed dimension its axis does not divide, is an error at the statement.
    """

    def __init__(self, mesh: Mesh, graph):
        self.mesh = auto_axes(mesh)
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.multiprocess = jax.process_count() > 1
        self.specs: dict[str, tuple] = {}
        self.spans: dict[str, Span | None] = {}  # the statement that decided each layout
        declared = getattr(graph, "shardings", {})
        for name, node in list(graph.placeholders.items()) + list(graph.variables.items()):
            if name in declared:
                self.specs[name], self.spans[name] = self._checked(name, node, declared[name])
            else:
                self.specs[name], self.spans[name] = self._default(node), node.span
        self.shardings = {name: NamedSharding(self.mesh, PartitionSpec(*axes))
                          for name, axes in self.specs.items()}

    def _checked(self, name: str, node, spec: ShardSpec) -> tuple[tuple, Span]:
        sizes = self.mesh.shape
        for dim, (axis, size) in enumerate(zip(spec.axes, node.shape)):
            if axis is None:
                continue
            if axis not in sizes:
                raise KGraphError(f"shard {name}: the mesh has no axis '{axis}' (mesh "
                                  f"{describe_mesh(self.mesh)})", spec.span)
            if isinstance(size, int) and size % sizes[axis]:
                raise ShapeError(f"shard {name}: dim {dim} of {node.op} '{name}' ({node.type}) is "
                                 f"{size}, which mesh axis '{axis}' (size {sizes[axis]}) does not "
                                 f"divide", spec.span)
        return spec.axes, spec.span

    def _default(self, node) -> tuple:
        """Data parallelism: a placeholder's first dim on the mesh's first axis (unless the
        program fixes it to a size that axis does not divide); variables replicated."""
        if node.op != "placeholder" or not node.shape:
            return (None,) * len(node.shape)
        first, size = self.mesh.axis_names[0], node.shape[0]
        if isinstance(size, int) and size % self.mesh.shape[first]:
            return (None,) * len(node.shape)
        return (first,) + (None,) * (len(node.shape) - 1)

    def text(self, name: str) -> str:
        return "[" + ", ".join(str(a) for a in self.specs[name]) + "]"

    def annotations(self) -> dict[str, str]:
        """Leaf name → '@[data,None]', its layout as the IR printer shows it after the name."""
        return {name: "@" + self.text(name).replace(" ", "") for name in self.specs}

    # ---- placing and gathering ----------------------------------------------------------
    def place(self, name: str, value: Any) -> jax.Array:
        """`value` (the whole array) laid out as leaf `name` is, across every process's devices."""
        sharding = self.shardings[name]
        if isinstance(value, jax.Array) and value.sharding == sharding:
            return value
        if not self.multiprocess:
            return jax.device_put(value, sharding)
        if isinstance(value, jax.Array) and not value.is_fully_addressable:
            return jax.device_put(value, sharding)  # a global array: resharded by XLA
        host = np.asarray(value)
        # Each process puts its own part of the whole array onto its own devices.
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    def place_feeds(self, arrays: dict[str, Any]) -> dict[str, jax.Array]:
        """Checked feeds laid out on the mesh; a dim its axis does not divide is a ShapeError
        that names the placeholder, the dim, the axis and its size."""
        sizes = self.mesh.shape
        for name, value in arrays.items():
            for dim, axis in enumerate(self.specs[name]):
                if axis is not None and value.shape[dim] % sizes[axis]:
                    raise ShapeError(
                        f"placeholder '{name}': dim {dim} is {value.shape[dim]} at run time, which "
                        f"mesh axis '{axis}' (size {sizes[axis]}) does not divide (mesh "
                        f"{describe_mesh(self.mesh)}); feed a multiple of {sizes[axis]} rows, e.g. "
                        f"with a --batch-size that is one", self.spans[name])
        if not self.multiprocess:
            # The jitted step lays NumPy feeds out itself, at a fraction of device_put's cost
            # per call (180 µs against 1.1 ms a step here); device arrays are moved to fit.
            return {name: value if isinstance(value, np.ndarray) else self.place(name, value)
                    for name, value in arrays.items()}
        return {name: self.place(name, value) for name, value in arrays.items()}

    def place_scalars(self, args: tuple, count: int) -> tuple:
        """`args` with its last `count` (replicated scalars: the run counter, the learning
        phase) made global arrays when there are processes."""
        if not self.multiprocess or not count:
            return args
        scalars = tuple(jax.make_array_from_callback((), self.replicated, lambda index, v=v: v)
                        for v in args[-count:])
        return args[:-count] + scalars

    def gather(self, value: Any) -> np.ndarray:
        """The whole array on the host (a collective across processes when it is split)."""
        if not isinstance(value, jax.Array) or value.is_fully_addressable or value.is_fully_replicated:
            return np.asarray(value)
        return np.asarray(multihost_utils.process_allgather(value, tiled=True))

    @property
    def writes_files(self) -> bool:
        return writes_files()

    def jit(self, run: Callable, arguments: list[str], scalars: int, n_outputs: int,
            updated: list[str], donate: tuple[int, ...]):
        """`run` jitted with the leaves' shardings in (then `scalars` replicated ones),
        replicated outputs, and the updated variables' own shardings out (so they keep
        their layout from step to step)."""
        ins = [self.shardings[name] for name in arguments] + [self.replicated] * scalars
        outs = [self.replicated] * n_outputs + [self.shardings[name] for name in updated]

        def on_mesh(*args):
            token = _TRACING_ON_MESH.set(True)
            try:
                return run(*args)
            finally:
                _TRACING_ON_MESH.reset(token)
        on_mesh.__name__ = run.__name__  # `kgraph lower` shows jit_run
        return jax.jit(on_mesh, in_shardings=tuple(ins), out_shardings=tuple(outs), donate_argnums=donate)

    # ---- what `kgraph check` shows --------------------------------------------------------
    def lines(self, graph) -> list[str]:
        """Each placeholder's and variable's layout and bytes per device."""
        leaves = list(graph.placeholders.items()) + list(graph.variables.items())
        where = f"{self.mesh.devices.size} device{'s' * (self.mesh.devices.size != 1)}"
        if self.multiprocess:
            where += f", {jax.process_count()} processes"
        lines = [f"layout on mesh {describe_mesh(self.mesh)} ({where}):"]
        width = max((len(name) for name, _ in leaves), default=0)
        rows = [(name, str(node.type), self.text(name), self._per_device(node)) for name, node in leaves]
        widths = [max((len(r[i]) for r in rows), default=0) for i in (1, 2)]
        for name, typ, layout, per_device in rows:
            lines.append(f"  {name:<{width}}  {typ:<{widths[0]}}  {layout:<{widths[1]}}  {per_device}")
        return lines

    def _per_device(self, node) -> str:
        """'float32[None/8, 64]: 256 B x None/8', or '… : 1,024 B' when every dim is fixed."""
        sizes = self.mesh.shape
        dims, unknown, elements = [], [], 1
        for dim, axis in zip(node.shape, self.specs[node.attr("name")]):
            split = sizes[axis] if axis is not None else 1
            if isinstance(dim, int):
                dims.append(str(dim // split))
                elements *= dim // split
            else:
                label = "None" if dim is None else dim
                dims.append(f"{label}/{split}" if split > 1 else label)
                unknown.append(dims[-1])
        nbytes = elements * np_dtype(node.dtype).itemsize
        shape = f"{node.dtype}[{', '.join(dims)}]"
        return f"per device {shape}: {nbytes:,} B" + "".join(f" x {u}" for u in unknown)


def check_batches(program, batches, steps: int) -> None:
    """Every batch that `steps` steps of the training loop feed divides by its data axis;
    else a ShapeError, before the first step, that says what to change."""
    layout = program._layout
    for name in batches.batched:
        axis = layout.specs[name][0]
        size = layout.mesh.shape[axis] if axis is not None else 1
        for rows in sorted(batches.sizes(steps), reverse=True):
            if rows % size == 0:
                continue
            whole = rows == batches.batch_size
            what = (f"--batch-size {rows}" if whole else
                    f"the last batch of each epoch has {rows} rows ({batches.rows} = "
                    f"{batches.rows // batches.batch_size} x {batches.batch_size} + {rows}), which")
            fix = (f"choose a multiple of {size}" if whole else
                   "add --drop-remainder to skip it, or feed a number of rows that it divides")
            raise ShapeError(f"placeholder '{name}': {what} mesh axis '{axis}' (size {size}) does not "
                             f"divide (mesh {describe_mesh(layout.mesh)}); {fix}", layout.spans[name])


def steps_in_flight(mesh: Mesh | None) -> int | None:
    """How many steps the training loop may queue before it waits for them (None: no
    bound). XLA's in-process collectives between CPU devices (forced host devices) stop
    with a rendezvous timeout when hundreds of steps are queued on a busy machine, so a
    CPU mesh waits every 8 steps; accelerators queue freely."""
    if mesh is None or mesh.devices.size == 1 or mesh.devices.flat[0].platform != "cpu":
        return None
    return 8


def leaf_layouts(mesh: Mesh | None, graph) -> dict[str, str]:
    """Leaf name → '@[data,None]' on `mesh` (nothing without one): what the REPL prints."""
    return {} if mesh is None else Layout(mesh, graph).annotations()


def shard_line(mesh: Mesh | None, graph, name: str) -> str:
    """The REPL's answer to `shard NAME: [...]`: the layout it gives on the session's mesh.
    A statement the mesh cannot take is taken back, and its error raised."""
    if mesh is None:
        return (f"{name}: {graph.shardings[name].text()} (checked; it takes effect on a mesh: "
                f"kgraph repl --mesh ...)")
    try:
        layout = Layout(mesh, graph)
    except KGraphError:
        del graph.shardings[name]
        raise
    node = graph.placeholders.get(name, graph.variables.get(name))
    return f"{name}: {layout.text(name)} on mesh {describe_mesh(layout.mesh)}, {layout._per_device(node)}"
