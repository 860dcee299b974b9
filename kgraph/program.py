"""The Python API: `compile`, `load` and the `Program` they return."""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from . import passes
from .build import Builder
from .errors import FeedError, KGraphError, KGraphWarning
from .feeds import check_feed
from .ir import Graph, format_ir, toposort, verify
from .lower import make_function
from .ops import REGISTRY
from .parse import parse
from .types import DTYPES, FLOAT_DTYPES


class Program:
    """A compiled kgraph program. Call it (or `run`) with feeds as keyword arguments."""

    def __init__(self, builder: Builder, graph: Graph, source: str, filename: str,
                 opt_level: int, seed: int = 0, device: str | None = None):
        self._builder = builder
        self._source_graph = builder.graph
        self._graph = graph
        self.source = source
        self.filename = filename
        self.opt_level = opt_level
        self.floatx = builder.floatx
        self.seed = seed
        self.warnings: list[KGraphWarning] = list(builder.warnings)
        self._initial = {k: v.copy() for k, v in builder.var_init.items()}
        self._values = {k: v.copy() for k, v in builder.var_init.items()}
        self._runs = 0
        self._device = _device(device) if device else None
        self._jitted = None
        self._fast_feeds = None
        live = {n.id for n in toposort(graph.roots())}
        # Only what an output or update needs is fed to the compiled function.
        self._feeds_needed = [n for n in graph.placeholders.values() if n.id in live]
        self._variables_needed = [n for n in graph.variables.values() if n.id in live]
        self._feed_names = tuple(n.attr("name") for n in self._feeds_needed)
        self._variable_names = tuple(n.attr("name") for n in self._variables_needed)
        self._output_names = tuple(name for name, _ in graph.outputs)
        # Unseeded random ops draw from a per-run key; other programs are not passed one.
        self._needs_rng = any(REGISTRY[n.op].unique and n.op not in ("print_tensor", "barrier")
                              for n in toposort(graph.roots()))

    # ---- signature -------------------------------------------------------------
    @property
    def placeholders(self) -> dict[str, tuple[str, tuple]]:
        return {name: (n.dtype, n.shape) for name, n in self._source_graph.placeholders.items()}

    @property
    def outputs(self) -> list[str]:
        return [name for name, _ in self._graph.outputs]

    @property
    def variables(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._values.items()}

    @property
    def graph(self) -> Graph:
        """The optimised IR graph that is lowered."""
        return self._graph

    def ir(self) -> str:
        """The optimised IR in let-form text."""
        return format_ir(self._graph)

    # ---- running ---------------------------------------------------------------
    def _function(self):
        """The jitted program: (variable values, feed values[, run number]) as tuples in a fixed order."""
        if self._jitted is None:
            g = self._graph
            fn = make_function([n for _, n in g.outputs], [n for _, n in g.updates],
                               self._feeds_needed, self._variables_needed)
            var_names, feed_names, seed = self._variable_names, self._feed_names, self.seed

            def call(variables, feeds, rng):
                return fn(dict(zip(var_names, variables)), dict(zip(feed_names, feeds)), rng)

            if not self._needs_rng:
                self._jitted = jax.jit(lambda variables, feeds: call(variables, feeds, None))
                return self._jitted

            def with_key(variables, feeds, runs):
                # The key is made inside the compiled function: two eager JAX calls per run
                # (PRNGKey, fold_in) cost 50 times a small program's whole run.
                return call(variables, feeds, jax.random.fold_in(jax.random.PRNGKey(seed), runs))

            self._jitted = jax.jit(with_key)
        return self._jitted

    def check_feeds(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        placeholders = self._source_graph.placeholders
        spans = self._builder.leaf_spans
        for name in feeds:
            if name not in placeholders:
                known = ", ".join(placeholders) or "none"
                raise FeedError(f"feed '{name}' matches no placeholder (placeholders: {known})")
        out, named = {}, {}
        needed = {n.attr("name") for n in self._feeds_needed}
        for name, node in placeholders.items():
            if name not in feeds:
                if name not in needed:
                    continue  # no output or update needs it
                raise FeedError(f"placeholder '{name}' ({node.type}) needs a feed: "
                                f"`--feed {name}=...` or run({name}=...)", spans.get(name))
            out[name] = check_feed(name, node, feeds[name], spans.get(name), named)
        return out

    def _ready_feeds(self, feeds: dict[str, Any]) -> dict[str, np.ndarray] | None:
        """The feeds as they are, when each is already an array of its placeholder's exact type.

        The hot path of `run`: a repeated call with correct NumPy arrays skips the general
        conversion and error reporting of `check_feeds` (which any other feed goes through).
        """
        if self._fast_feeds is None:
            fast = {}
            for n in self._feeds_needed:
                if any(isinstance(d, str) for d in n.shape) or n.dtype == "bfloat16":
                    fast = None  # named dims are checked across feeds: the general path
                    break
                fast[n.attr("name")] = (np.dtype(n.dtype), n.shape)
            self._fast_feeds = fast or False
        if not self._fast_feeds or len(feeds) != len(self._fast_feeds):
            return None
        for name, (dtype, shape) in self._fast_feeds.items():
            a = feeds.get(name)
            if type(a) is not np.ndarray or a.dtype != dtype or a.ndim != len(shape):
                return None
            for want, got in zip(shape, a.shape):
                if want is not None and want != got:
                    return None
        return feeds

    def run(self, **feeds: Any) -> dict[str, np.ndarray]:
        """Run once: a dict from output name to numpy array, in output order."""
        arrays = self._ready_feeds(feeds)
        if arrays is None:
            arrays = self.check_feeds(feeds)
            arrays = {n.attr("name"): arrays[n.attr("name")] for n in self._feeds_needed}
        args = (tuple(self._values[k] for k in self._variable_names),
                tuple(arrays[k] for k in self._feed_names))
        if self._needs_rng:
            args += (np.uint32(self._runs),)
        with jax.enable_x64(True), _on(self._device):
            outs, new_vars = self._function()(*args)
            result = {name: np.asarray(o) for name, o in zip(self._output_names, outs)}
            for (name, _), value in zip(self._graph.updates, new_vars):
                self._values[name] = np.asarray(value)
        self._runs += 1
        return result

    __call__ = run

    def reset(self) -> None:
        """Variables back to their initial values."""
        self._values = {k: v.copy() for k, v in self._initial.items()}
        self._runs = 0


def _on(device):
    return jax.default_device(device) if device is not None else _NOWHERE


_NOWHERE = contextlib.nullcontext()


def _device(kind: str):
    try:
        devices = jax.devices(kind)
    except RuntimeError:
        devices = []
    if not devices:
        available = sorted({d.platform for d in jax.devices()})
        raise KGraphError(f"no {kind} device is available (this machine has: {', '.join(available)})")
    return devices[0]


def compile(source: str, filename: str = "<string>", opt_level: int = 2, floatx: str = "float32",
            seed: int = 0, device: str | None = None, disabled_passes=(), fast_math: bool = False,
            fold_limit: int | None = passes.DEFAULT_FOLD_LIMIT) -> Program:
    """Parse, type-check, optimise and prepare a program. Raises KGraphError for user mistakes."""
    if floatx not in FLOAT_DTYPES:
        raise KGraphError(f"floatx must be one of {', '.join(sorted(FLOAT_DTYPES))}, got {floatx!r}")
    if opt_level not in (0, 1, 2):
        raise KGraphError(f"opt_level must be 0, 1 or 2, got {opt_level!r}")
    with passes.paused_gc():
        tree = parse(source, filename)
        builder = Builder(filename, source, floatx)
        with jax.enable_x64(True):
            graph = builder.build(tree)
            verify(graph)
            optimised = passes.optimize(graph, opt_level, disabled=disabled_passes, fast_math=fast_math,
                                        fold_limit=fold_limit)
    for w in builder.warnings:
        warnings.warn(w, stacklevel=2)
    return Program(builder, optimised, source, filename, opt_level, seed=seed, device=device)


def read_source(path: str | Path) -> str:
    """A program's text; an unreadable file is a KGraphError."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise KGraphError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise KGraphError(f"{path} is not UTF-8 text") from None


def load(path: str | Path, **options: Any) -> Program:
    """Compile a `.kg` file."""
    return compile(read_source(path), filename=str(path), **options)
