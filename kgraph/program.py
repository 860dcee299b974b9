"""The Python API: `compile`, `load` and the `Program` they return."""
from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from . import passes
from .display import program_html
from .errors import KGraphError, KGraphWarning
from .device import find_device
from .export import PLATFORMS, export_program, initial_values_warning, load_exported
from .fastpath import feed_specs, tuple_getter
from .frontend import Module, check_floatx, frontend
from .interop import jax_function
from .ir import Graph, format_ir, toposort
from .limits import Limits, using
from .npyfile import read_text
from .ops import REGISTRY
from .runner import Runner
from .sharding import Layout
from .state import load_state_file, save_state_file
from .timing import timed

WIDE_DTYPES = frozenset({"float64", "int64"})


class Program(Runner):
    """A compiled kgraph program. Call it (or `run`) with feeds as keyword arguments.

    This file is what a program is (its signature, IR and state); runner.py is how it runs."""

    def __init__(self, module: Module, graph: Graph, opt_level: int = 0, seed: int = 0,
                 device: str | None = None, mesh=None):
        """`module` as the front end built it, `graph` its optimised form (what is lowered)."""
        self.module = module
        self._source_graph = module.graph
        self._graph = graph
        self.source = module.source
        self.filename = module.filename
        self.opt_level = opt_level
        self.floatx = module.floatx
        self.seed = seed
        self.warnings: list[KGraphWarning] = list(module.warnings)
        module.initial.start()  # computed while the step compiles (`_initial`, consteval.py)
        self._runs = 0
        self._state_loaded = False
        self._device = find_device(device) if device and mesh is None else None
        self._layout = Layout(mesh, module.graph) if mesh is not None else None  # sharding.py
        self._jitted = None
        live_nodes = toposort(graph.roots())
        live = {n.id for n in live_nodes}
        # Only what an output or update needs is fed to the compiled function.
        self._feeds_needed = [n for n in graph.placeholders.values() if n.id in live]
        self._variables_needed = [n for n in graph.variables.values() if n.id in live]
        self._feed_names = [n.attr("name") for n in self._feeds_needed]
        self._update_names = [name for name, _ in graph.updates]
        needed = [n.attr("name") for n in self._variables_needed]
        self._donated = [name for name in needed if name in self._update_names]
        self._fixed = [name for name in needed if name not in self._update_names]
        self._get_donated, self._get_fixed, self._get_feeds = (
            tuple_getter(names) for names in (self._donated, self._fixed, self._feed_names))
        # Unseeded random ops (never merged, lowered by the interpreter) fold the run
        # counter into their key; without them the step needs no counter.
        nodes = graph.all_nodes()  # one walk for the facts below (a large graph's walk is ms)
        self._draws_random = any(REGISTRY[n.op].unique and REGISTRY[n.op].lower_node is not None
                                 and n.attr("seed") is None for n in nodes)
        # The learning phase (LANGUAGE.md §9) is an argument of the step only where the program
        # reads it; `training` is its value for a run that does not say (`--learning-phase`).
        self._reads_phase = any(n.op == "learning_phase" for n in nodes)
        self.training = False
        self._output_names = [name for name, _ in graph.outputs]
        self._numbered_outputs = list(enumerate(self._output_names))
        # No variables and no random draws: the feeds are all the step takes, and all it returns
        # are the outputs (the common inference case gets the shortest path).
        self._stateless = not self._variables_needed and not self._draws_random and not self._reads_phase
        self._scalars = int(self._draws_random) + int(self._reads_phase)  # the run counter, the phase
        self._x64 = needs_x64(graph, seed, nodes)
        # A 32-bit program on the default device runs in the caller's JAX mode: no context to enter.
        self._plain = self._device is None and not self._x64
        self._feed_specs = feed_specs(self._feeds_needed)
        # run's fast path (the common inference call): no state, no context, every shape fixed.
        self._fast = self._feed_specs if self._plain and self._stateless and all(
            None not in shape for _, _, shape in self._feed_specs or ()) else None

    # The variables' values are attributes made on first use (the initial values may still be
    # computing on consteval's thread); afterwards each is a plain attribute (`_values` is read
    # on every run).
    @functools.cached_property
    def _initial(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.module.variables.items()}

    @functools.cached_property
    def _values(self) -> dict:
        return self._placed({k: v.copy() for k, v in self._initial.items()})

    def _place_fixed(self) -> None:
        self._values = self._placed(self._values)

    def _placed(self, values: dict) -> dict:
        """`values` with the variables that no run updates moved to the device, once: passed
        as NumPy arrays they would be copied to the device on every run (the updated ones
        live on the device after the first run)."""
        with self.running():
            if self._layout is not None:  # on a mesh every variable is laid out, updated ones too
                return {k: self._layout.place(k, v) for k, v in values.items()}
            fixed = set(self._fixed)
            return {k: jax.device_put(v, self._device) if k in fixed else v for k, v in values.items()}

    # ---- signature -------------------------------------------------------------
    @property
    def placeholders(self) -> dict[str, tuple[str, tuple]]:
        return {name: (n.dtype, n.shape) for name, n in self._source_graph.placeholders.items()}

    @property
    def outputs(self) -> list[str]:
        return list(self._output_names)

    @property
    def leaf_spans(self) -> dict:
        """name → the `Span` of each placeholder's and variable's declaration."""
        return self.module.leaf_spans

    @property
    def variables(self) -> dict[str, np.ndarray]:
        """name → a NumPy copy of the variable's current value (whole, on a mesh)."""
        if self._layout is not None:
            return {k: self._layout.gather(v) for k, v in self._values.items()}
        return {k: np.array(v) for k, v in self._values.items()}

    @property
    def mesh(self):
        """The `jax.sharding.Mesh` the program runs on, or None (one device)."""
        return self._layout.mesh if self._layout is not None else None

    def with_mesh(self, mesh) -> "Program":
        """This program on `mesh` (LANGUAGE.md §11), with the variables' current values."""
        other = Program(self.module, self._graph, self.opt_level, seed=self.seed, mesh=mesh)
        other._values, other._runs, other._state_loaded = self.variables, self._runs, self._state_loaded
        other._place_fixed()
        return other

    @property
    def updates(self) -> list[str]:
        """The variables that a run updates, in source order."""
        return list(self._update_names)

    @property
    def graph(self) -> Graph:
        """The optimised IR graph that is lowered."""
        return self._graph

    def ir(self) -> str:
        """The optimised IR in let-form text (with each leaf's layout on a mesh)."""
        return format_ir(self._graph, layouts=self._layout.annotations() if self._layout else None)

    def _repr_html_(self) -> str:
        """In a notebook: the signature, the warnings and the graph (kgraph/display.py)."""
        return program_html(self)

    def as_jax_function(self, *, updates: bool = False, rng: bool = False):
        """The program as a pure JAX function `f(variables, **feeds) -> {output: array}`.

        It keeps no state, so it works under `jax.jit`, `jax.grad`, `jax.vmap` and
        `jax.lax.scan`. `variables` is a dict like `prog.variables`. With
        `updates=True` it returns `(outputs, new_variables)`; with `rng=True` it takes
        `f(variables, key, **feeds)` for unseeded random ops (else they use `seed`).
        64-bit types need the caller's x64 mode (see kgraph/interop.py and docs/python.md).
        """
        return jax_function(self, updates=updates, rng=rng)

    # ---- state ------------------------------------------------------------------
    def reset(self) -> None:
        """Variables back to their initial values."""
        self._values = {k: v.copy() for k, v in self._initial.items()}
        self._runs = 0
        self._place_fixed()

    def state_signature(self) -> dict[str, tuple[str, tuple]]:
        """name → (dtype, shape) of every variable: what a state file must hold."""
        return {k: (v.dtype.name, tuple(v.shape)) for k, v in self._initial.items()}

    def save_state(self, path: str | Path) -> None:
        """Write every variable to a .npz file, atomically (a reader never sees half a file).

        On a mesh the file holds whole arrays; across processes only process 0 writes it."""
        values = self.variables  # every process takes part in gathering a split variable
        if self._layout is None or self._layout.writes_files:
            save_state_file(path, values)

    def load_state(self, path) -> None:
        """Read variables from a .npz file written by `save_state` (or `kgraph run --state`),
        or take them from a dict name → array (the state `kgraph.import_keras` returns).

        Raises StateError, changing nothing, unless the file holds exactly this program's
        variables with their shapes and dtypes. The file is read within the limits the
        program was compiled with.
        """
        with using(getattr(self, "limits", None)):
            self._values.update(load_state_file(path, self.state_signature()))
        self._state_loaded = True
        self._place_fixed()

    def export(self, path: str | Path, platforms=None) -> Path:
        """Write the program and its variables' current values as a `.kgx` file (see
        kgraph/export.py): `prog.load_state("ckpt.npz")` then `prog.export("model.kgx")`
        bakes trained values in. A program with `update` statements whose variables are
        still the initial ones (no load_state, no run) is exported with a warning."""
        if self._update_names and not self._state_loaded and self._runs == 0:
            warnings.warn(initial_values_warning(self), stacklevel=2)
        return export_program(self, path, platforms=platforms or PLATFORMS)


def needs_x64(graph: Graph, seed: int, nodes: list | None = None) -> bool:
    """Whether running `graph` needs JAX's 64-bit mode.

    LANGUAGE.md §4: float64 and int64 are honoured without changing the caller's JAX
    configuration, so a program with a 64-bit value runs inside `jax.enable_x64(True)`.
    That context costs microseconds on every call, and a program without one does not
    need it: when every node (leaves, constants, the equations inside fused regions) is
    at most 32 bits wide, the lowerings compute the same bits with x64 on or off (they
    pass explicit dtypes; tests/test_x64_mode.py checks every op's example both ways), so
    such a program is traced and called in the caller's mode. Random keys are the one
    place a Python int becomes an array: `jax.random.PRNGKey(seed)` gives other bits
    without x64 for a seed outside [0, 2**32), so such a seed also needs the mode.
    `nodes` is `graph.all_nodes()` when the caller has it.
    """
    seeds = [seed]
    nodes = graph.all_nodes() if nodes is None else nodes
    for node in nodes + list(graph.placeholders.values()) + list(graph.variables.values()):
        if node.dtype in WIDE_DTYPES:
            return True
        node_seed = node.attr("seed")
        if isinstance(node_seed, int):
            seeds.append(node_seed)
    return not all(0 <= s < 2**32 for s in seeds)


def compile(source: str, filename: str = "<string>", opt_level: int = 2, floatx: str = "float32",
            seed: int = 0, device: str | None = None, disabled_passes=(), fast_math: bool = False,
            timings: dict[str, float] | None = None,
            fold_limit: int | None = passes.DEFAULT_FOLD_LIMIT,
            image_data_format: str = "channels_last", limits: Limits | None = None,
            mesh=None, scan_blocks: bool | int = True) -> Program:
    """Parse, type-check, optimise and prepare a program. Raises KGraphError for user mistakes.

    `limits` bounds what the program may ask (kgraph/limits.py); by default the ones in force.
    `mesh`, a `jax.sharding.Mesh`, runs it on many devices (LANGUAGE.md §11, docs/distributed.md).
    `scan_blocks`: a chain of calls of one `def` (a layer stack) of at least
    `passes.SCAN_MIN_BLOCKS` calls is compiled as one loop; False keeps every chain
    unrolled, an int n sets the shortest chain made a loop (docs/optimizer.md).

    `timings`, when given, receives the seconds spent in "parse", "build" and "optimize".
    """
    check_floatx(floatx)
    if opt_level not in (0, 1, 2):
        raise KGraphError(f"opt_level must be 0, 1 or 2, got {opt_level!r}")
    if image_data_format not in ("channels_last", "channels_first"):
        raise KGraphError(f"image_data_format must be 'channels_last' or 'channels_first', got "
                          f"{image_data_format!r}")
    timings = timings if timings is not None else {}
    with using(limits) as limits, passes.paused_gc():  # the GC walking a large program's nodes triples its compile
        module = frontend(source, filename, floatx, timings, image_data_format)
        module.initial.start()  # the random draws compile on consteval's thread meanwhile
        with timed(timings, "optimize"):
            disabled, min_blocks = passes.scan_blocks_option(disabled_passes, scan_blocks)
            optimised = passes.optimize(module.graph, opt_level, disabled=disabled, fast_math=fast_math,
                                        fold_limit=fold_limit, scan_min_blocks=min_blocks)
    for w in module.warnings:
        warnings.warn(w, stacklevel=2)
    program = Program(module, optimised, opt_level, seed=seed, device=device, mesh=mesh)
    program.limits = limits
    return program


def load(path: str | Path, **options: Any) -> Program:
    """Compile a `.kg` file, or load a `.kgx` exported program (see kgraph/export.py)."""
    path = Path(path)
    with using(options.pop("limits", None)) as limits:
        if path.suffix == ".kgx":
            if options.get("mesh") is not None:
                raise KGraphError(f"{path}: an exported .kgx runs on one device; --mesh needs the .kg program")
            return load_exported(path, device=options.get("device"))
        return compile(read_source(path), filename=str(path), limits=limits, **options)


def read_source(path: str | Path) -> str:
    """A program's text; an unreadable file (or a FIFO, device or directory) is a KGraphError."""
    return read_text(path, "program", error=KGraphError)
