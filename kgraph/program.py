"""The Python API: `compile`, `load` and the `Program` they return."""
from __future__ import annotations

import contextlib
import operator
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from . import passes
from .display import Outputs, program_html
from .errors import FeedError, KGraphError, KGraphWarning
from .device import find_device, running
from .feeds import check_feed
from .frontend import Module, check_floatx, frontend
from .ir import Graph, format_ir, toposort
from .limits import Limits, using
from .lower import make_function
from .ops import REGISTRY
from .ops.training import learning_phase_value
from .sharding import Layout
from .state import load_state_file, save_state_file
from .timing import timed
from .types import np_dtype

WIDE_DTYPES = frozenset({"float64", "int64"})
try:  # the class of a concrete JAX array, for run's fast path (any other class takes the full check)
    from jax._src.array import ArrayImpl as _ARRAY_IMPL
except ImportError:  # pragma: no cover - a JAX that moved it: JAX arrays take the full check
    _ARRAY_IMPL = np.ndarray


class Program:
    """A compiled kgraph program. Call it (or `run`) with feeds as keyword arguments."""

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
        initial = module.variables
        self._initial = {k: v.copy() for k, v in initial.items()}
        self._values = {k: v.copy() for k, v in initial.items()}
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
            _tuple_getter(names) for names in (self._donated, self._fixed, self._feed_names))
        # Unseeded random ops (never merged, lowered by the interpreter) fold the run
        # counter into their key; without them the step needs no counter.
        self._draws_random = any(REGISTRY[n.op].unique and REGISTRY[n.op].lower_node is not None
                                 and n.attr("seed") is None for n in graph.all_nodes())
        # The learning phase (LANGUAGE.md §9) is an argument of the step only where the program
        # reads it; `training` is its value for a run that does not say (`--learning-phase`).
        self._reads_phase = any(n.op == "learning_phase" for n in graph.all_nodes())
        self.training = False
        self._output_names = [name for name, _ in graph.outputs]
        self._numbered_outputs = list(enumerate(self._output_names))
        # No variables and no random draws: the feeds are all the step takes, and all it returns
        # are the outputs (the common inference case gets the shortest path).
        self._stateless = not self._variables_needed and not self._draws_random and not self._reads_phase
        self._scalars = int(self._draws_random) + int(self._reads_phase)  # the run counter, the phase
        self._x64 = needs_x64(graph, seed)
        # A 32-bit program on the default device runs in the caller's JAX mode: no context to enter.
        self._plain = self._device is None and not self._x64
        self._feed_specs = _feed_specs(self._feeds_needed)
        # run's fast path (the common inference call): no state, no context, every shape fixed.
        self._fast = self._feed_specs if self._plain and self._stateless and all(
            None not in shape for _, _, shape in self._feed_specs or ()) else None
        self._place_fixed()

    def _place_fixed(self) -> None:
        """Move the variables that no run updates to the device, once: passed as NumPy
        arrays they would be copied to the device on every run (the updated ones live on
        the device after the first run)."""
        with self.running():
            if self._layout is not None:  # on a mesh every variable is laid out, updated ones too
                self._values = {k: self._layout.place(k, v) for k, v in self._values.items()}
                return
            for name in self._fixed:
                self._values[name] = jax.device_put(self._values[name], self._device)

    # ---- signature -------------------------------------------------------------
    @property
    def placeholders(self) -> dict[str, tuple[str, tuple]]:
        return {name: (n.dtype, n.shape) for name, n in self._source_graph.placeholders.items()}

    @property
    def outputs(self) -> list[str]:
        return list(self._output_names)

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
        from .interop import jax_function

        return jax_function(self, updates=updates, rng=rng)

    # ---- running ---------------------------------------------------------------
    def _function(self):
        """The jitted step, flat: (updated variables..., other variables..., feeds...[, run
        counter][, learning phase]) → (outputs..., new values of the updated variables...), in
        fixed name orders.

        The updated variables' buffers are donated, so XLA writes their new values in
        place; the program keeps them on the device between runs. Flat positional
        arguments and results rather than nested tuples or dicts, and no run counter
        unless a random op needs one, keep the per-call dispatch cost down: in a
        training loop it is paid every step.
        """
        if self._jitted is None:
            g = self._graph
            fn = make_function([n for _, n in g.outputs], [n for _, n in g.updates],
                               self._feeds_needed, self._variables_needed)
            seed, donated, fixed, feed_names = self.seed, self._donated, self._fixed, self._feed_names
            first_fixed, first_feed = len(donated), len(donated) + len(fixed)
            counted, phased = self._draws_random, self._reads_phase
            last_feed = first_feed + len(feed_names)

            def run(*args):  # `kgraph lower` shows jit_run
                variables = dict(zip(donated, args))
                variables.update(zip(fixed, args[first_fixed:]))
                rng = jax.random.fold_in(jax.random.PRNGKey(seed), args[last_feed]) if counted else None
                feeds = dict(zip(feed_names, args[first_feed:last_feed]))
                outs, new_values = fn(variables, feeds, rng, args[-1] if phased else False)
                return outs + new_values

            donate = tuple(range(len(donated)))
            if self._layout is None:
                self._jitted = jax.jit(run, donate_argnums=donate)
            else:
                self._jitted = self._layout.jit(run, donated + fixed + feed_names, self._scalars,
                                                len(g.outputs), self._update_names, donate)
        return self._jitted

    def check_feeds(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        """The feeds as arrays of their placeholders' dtypes; a FeedError names what is wrong."""
        return dict(self._checked(feeds))

    def _checked(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        """check_feeds, but `feeds` itself when it passes the fast path (run's own kwargs)."""
        specs = self._feed_specs
        if specs is not None and len(feeds) == len(specs):
            # Exactly the needed feeds, each a NumPy or JAX array that already has its
            # placeholder's dtype and a shape that fits: the full check would only copy a JAX
            # array to the host, and the step would copy it back.
            for name, dtype, shape in specs:
                value = feeds.get(name)
                if (not (value.__class__ is np.ndarray or _is_device_array(value)) or value.dtype != dtype
                        or (value.shape != shape and not _dims_match(value.shape, shape))):
                    break
            else:
                return feeds
        return self._check_feeds(feeds)

    def _check_feeds(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        placeholders = self._source_graph.placeholders
        spans = self.module.leaf_spans
        for name in feeds:
            if name not in placeholders:
                known = ", ".join(placeholders) or "none"
                raise FeedError(f"feed '{name}' matches no placeholder (placeholders: {known})")
        out, named = {}, {}
        for name, node in placeholders.items():
            if name not in feeds:
                if name not in self._feed_names:
                    continue  # no output or update needs it
                raise FeedError(f"placeholder '{name}' ({node.type}) needs a feed: "
                                f"`--feed {name}=...` or run({name}=...)", spans.get(name))
            out[name] = check_feed(name, node, feeds[name], spans.get(name), named)
        return out

    def arguments(self, feeds: dict[str, Any], training: Any = None) -> tuple:
        """The positional arguments the next run passes to `_function()` (for tools that
        lower or time it as run() would call it): the updated variables, the other
        variables, the feeds, the run counter if a random op draws from it, and the
        learning phase if the program reads it."""
        return self._arguments(self.check_feeds(feeds), training)

    def _arguments(self, arrays: dict[str, np.ndarray], training: Any = None) -> tuple:
        args = self._get_feeds(arrays)
        if self._variables_needed:
            values = self._values
            args = self._get_donated(values) + self._get_fixed(values) + args
        if self._draws_random:
            args += (np.uint32(self._runs),)
        if self._reads_phase:
            args += (np.bool_(self.training if training is None else training),)
        return self._layout.place_scalars(args, self._scalars) if self._layout else args

    def run(self, training: Any = None, to_numpy: bool = True, **feeds: Any) -> dict[str, np.ndarray]:
        """Run once and apply the updates: a dict from output name to numpy array, in output order.

        Outputs and updates are all computed from the variables' values at the start of the run.
        `training` sets the learning phase (default `self.training`, False unless set).
        `to_numpy=False` returns the outputs as JAX arrays on the device, without waiting for them.
        """
        fast = self._fast
        if fast is not None and len(feeds) == len(fast):
            # Each feed a NumPy or JAX array of exactly its placeholder's dtype and shape: the
            # jitted step directly (a mismatch of any kind takes the full path below). `is` on
            # dtypes: NumPy's native dtypes are singletons, and any other one is checked in full.
            args = []
            for name, dtype, shape in fast:
                value = feeds.get(name)
                cls = value.__class__
                if (cls is not np.ndarray and cls is not _ARRAY_IMPL or value.dtype is not dtype
                        or value.shape != shape):
                    break
                args.append(value)
            else:
                outs = (self._jitted or self._function())(*args)
                self._runs += 1
                return self._results(outs, to_numpy)
        arrays = self._checked(feeds)
        if training is not None:
            training = learning_phase_value(training)
        if self._plain:  # the common case, on every call: no context to enter
            outs = self.execute(arrays, training)
        else:
            with self.running():
                outs = self.execute(arrays, training)
        return self._results(outs, to_numpy)

    __call__ = run

    def _results(self, outs: tuple, to_numpy: bool) -> dict:
        """The outputs by name. A plain loop over precomputed pairs: in CPython 3.11 a
        comprehension is a call with its own frame, and zip() an object per run (each
        measurable against a 13 µs jitted call)."""
        result = Outputs()  # a dict that a notebook shows as a table
        if to_numpy:
            for i, name in self._numbered_outputs:
                result[name] = np.asarray(outs[i])
        else:
            for i, name in self._numbered_outputs:
                result[name] = outs[i]
        return result

    @property
    def jitted(self):
        """The compiled step itself, for the lowest per-call cost with device arrays.

        For a program without variables, random draws or `learning_phase()` it is
        `f(*feeds) -> (outputs...)`: the feeds positionally in `feed_names` order (NumPy or
        JAX arrays of the placeholders' dtypes; unchecked) and the outputs as JAX arrays in
        `outputs` order. Any other program keeps state between runs, so its step takes more
        (see `arguments`); use `run(..., to_numpy=False)` for those.
        """
        if not self._stateless:
            raise KGraphError("Program.jitted is the step of a program without variables, random "
                              "draws or learning_phase(); use run(..., to_numpy=False)")
        return self._function()

    @property
    def feed_names(self) -> list[str]:
        """The placeholders a run needs, in the order `jitted` takes them."""
        return list(self._feed_names)

    def running(self) -> contextlib.AbstractContextManager:
        """The context every run happens in: JAX's 64-bit mode if the program has a 64-bit
        value (see `needs_x64`), and the chosen device (device.running)."""
        return running(self._x64, self._device)

    def execute(self, arrays: dict[str, np.ndarray], training: bool | None = None) -> tuple:
        """One run on checked feeds (see `check_feeds`), inside `running()`; `training` is
        the learning phase (None: `self.training`).

        Returns the outputs as device arrays, without waiting for them: a training loop
        calls this per step and copies values to the host only when it reports them.
        """
        step = self._jitted or self._function()
        if self._layout is not None:
            arrays = self._layout.place_feeds(arrays)
        if self._stateless:
            results = step(*self._get_feeds(arrays))
            self._runs += 1
            return results
        results = step(*self._arguments(arrays, training))
        self._runs += 1
        if not self._update_names:
            return results
        n = len(self._output_names)
        self._values.update(zip(self._update_names, results[n:]))
        return results[:n]

    def wait(self) -> None:
        """Wait until the runs in flight have finished (execute does not wait)."""
        jax.block_until_ready(list(self._values.values()))

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
        from .export import PLATFORMS, export_program, initial_values_warning

        if self._update_names and not self._state_loaded and self._runs == 0:
            warnings.warn(initial_values_warning(self), stacklevel=2)
        return export_program(self, path, platforms=platforms or PLATFORMS)


def needs_x64(graph: Graph, seed: int) -> bool:
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
    """
    seeds = [seed]
    nodes = graph.all_nodes() + list(graph.placeholders.values()) + list(graph.variables.values())
    for node in nodes:
        if node.dtype in WIDE_DTYPES:
            return True
        node_seed = node.attr("seed")
        if isinstance(node_seed, int):
            seeds.append(node_seed)
    return not all(0 <= s < 2**32 for s in seeds)


def _feed_specs(placeholders: list) -> list[tuple[str, np.dtype, tuple]] | None:
    """(name, dtype, shape) of each placeholder for check_feeds' fast path; None where a
    placeholder has a named dim (agreement across feeds is the full check's job)."""
    if any(isinstance(d, str) for n in placeholders for d in n.shape):
        return None
    return [(n.attr("name"), np_dtype(n.dtype), n.shape) for n in placeholders]


def _is_device_array(value: Any) -> bool:
    """A concrete JAX array (not a tracer: a run cannot be traced)."""
    return isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer)


def _dims_match(shape: tuple, declared: tuple) -> bool:
    """`shape` has `declared`'s rank and its size on every axis that `declared` fixes."""
    return len(shape) == len(declared) and all(d is None or d == s for d, s in zip(declared, shape))


def _tuple_getter(names: list[str]):
    """dict → the tuple of its values at `names` (operator.itemgetter, always a tuple)."""
    if not names:
        return lambda d: ()
    if len(names) == 1:
        name = names[0]
        return lambda d: (d[name],)
    return operator.itemgetter(*names)


def compile(source: str, filename: str = "<string>", opt_level: int = 2, floatx: str = "float32",
            seed: int = 0, device: str | None = None, disabled_passes=(), fast_math: bool = False,
            timings: dict[str, float] | None = None,
            fold_limit: int | None = passes.DEFAULT_FOLD_LIMIT,
            image_data_format: str = "channels_last", limits: Limits | None = None,
            mesh=None) -> Program:
    """Parse, type-check, optimise and prepare a program. Raises KGraphError for user mistakes.

    `limits` bounds what the program may ask (kgraph/limits.py); by default the ones in force.
    `mesh`, a `jax.sharding.Mesh`, runs it on many devices (LANGUAGE.md §11, docs/distributed.md).

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
        with timed(timings, "optimize"):
            optimised = passes.optimize(module.graph, opt_level, disabled=disabled_passes,
                                        fast_math=fast_math, fold_limit=fold_limit)
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
            from .export import load_exported

            if options.get("mesh") is not None:
                raise KGraphError(f"{path}: an exported .kgx runs on one device; --mesh needs the .kg program")
            return load_exported(path, device=options.get("device"))
        return compile(read_source(path), filename=str(path), limits=limits, **options)


def read_source(path: str | Path) -> str:
    """A program's text; an unreadable file (or a FIFO, device or directory) is a KGraphError."""
    from .npyfile import read_text

    return read_text(path, "program", error=KGraphError)
