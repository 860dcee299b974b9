"""`CachedProgram`: a program read from the program cache, run without the compiler.

It holds what a run needs, as kgraph/warm.py stored it from the compiled `Program`: the
placeholders' types and lines, the feed, output and update names in the step's argument
order, the variables' values, and one XLA executable per argument signature. A run checks
the feeds as a Program does (the same located FeedErrors), then calls the executable.

Anything that needs the compiler's own record (the IR, `module`, `graph`, `export`,
`as_jax_function`, `jitted`, ...) compiles the program on first use, with this program's
variables, and answers from it; so does a run with feed shapes no entry holds (the new
executable is stored for next time).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import pickle
import threading
from types import SimpleNamespace
from typing import Any

import jax
import numpy as np
from jax.experimental import serialize_executable

try:  # a context that raises JAX's minimum compile time for its persistent cache: it writes nothing
    from jax._src.config import persistent_cache_min_compile_time_secs as _jax_min_compile_time
except ImportError:  # pragma: no cover - a JAX that moved it: both caches store the executable
    _jax_min_compile_time = None

from . import progcache
from .device import find_device, running
from .errors import Span
from .fastpath import outputs
from .feeds import check_feeds, learning_phase_value
from .limits import using
from .state import load_state_file, save_state_file
from .npyfile import from_bits
from .types import TensorType, np_dtype


def _no_jax_cache_write():
    return _jax_min_compile_time(float("inf")) if _jax_min_compile_time is not None else contextlib.nullcontext()


def signature_of(args: tuple) -> tuple:
    """What an executable is compiled for: each argument's shape and dtype, and JAX's mode."""
    return tuple((tuple(a.shape), a.dtype.name) for a in args) + (
        bool(jax.config.jax_enable_x64),)


def step_name(key: str, args: tuple) -> str:
    """The entry name of the executable for `args` (their shapes and dtypes)."""
    signature = repr(signature_of(args)).encode()
    return f"{key}.{hashlib.sha256(signature).hexdigest()[:24]}"


# ---- the executable and the record ---------------------------------------------------

def compile_step(jitted, args: tuple, name: str, then=None):
    """`jitted` compiled for `args` (JAX's in-memory cache keeps it for the jitted step's own
    calls). Its executable is stored as entry `name`, when it can be serialized, and
    `then(directory)` called, beside the caller (`in_background`), in the cache directory of
    this call."""
    directory = progcache.programs_dir()
    with _no_jax_cache_write():  # JAX's persistent cache would serialize it a second time
        compiled = jitted.lower(*args).compile()

    def store():
        try:
            blob = pickle.dumps(serialize_executable.serialize(compiled))
        except (ValueError, NotImplementedError, TypeError, pickle.PicklingError):
            return  # host callbacks, closed-over constants: this one is compiled each time
        if progcache.store(name, {"executable": blob}, directory) is not None and then is not None:
            then(directory)

    in_background(store)
    return compiled


_WRITERS: list[threading.Thread] = []


def in_background(work) -> None:
    """Run `work` (serializing and writing entries) in a thread: XLA's serialization releases
    the GIL, so a miss's first result does not wait for it. The interpreter waits for the
    thread at exit; `flush()` waits for it now."""
    thread = threading.Thread(target=work, name="kgraph-cache-writer")
    thread.start()
    _WRITERS.append(thread)


def flush() -> None:
    """Wait until the program cache's pending writes are on disk."""
    while _WRITERS:
        _WRITERS.pop().join()


def load_step(name: str):
    """The executable stored as entry `name` (a `jax.stages.Compiled`), or None."""
    parts = progcache.load(name)  # signed: only then is anything unpickled
    if parts is None or "executable" not in parts:
        return None
    try:
        return serialize_executable.deserialize_and_load(*pickle.loads(parts["executable"]))
    except Exception as e:  # noqa: BLE001 - a signed entry XLA cannot load: warned, removed, rebuilt
        progcache.discard(name, f"XLA cannot load it: {type(e).__name__}")
        return None


class CachedProgram:
    """A compiled kgraph program loaded from the program cache (see the module doc)."""

    def __init__(self, key: str, record: dict, initial: dict, source: str, filename: str,
                 options: dict, compiler):
        self._key, self._options, self._compiler = key, options, compiler
        self.source, self.filename = source, filename
        self.seed, self.warnings, self.training = record["seed"], [], False
        self._record = record
        self._types = {k: TensorType(dtype, tuple(shape)) for k, (dtype, shape) in record["placeholders"].items()}
        self._nodes = {k: SimpleNamespace(type=t) for k, t in self._types.items()}  # what check_feeds reads
        self._spans = {k: Span(filename, *where, source=source) for k, where in record["spans"].items()}
        self._feed_names, self._output_names = record["feeds"], record["outputs"]
        self._numbered_outputs = list(enumerate(self._output_names))
        self._update_names, self._donated, self._fixed = record["updates"], record["donated"], record["fixed"]
        self._x64 = record["x64"]
        self._device = find_device(record["device"]) if record["device"] else None
        self._initial = initial
        self._steps: dict[tuple, Any] = {}  # argument signature -> executable
        self._program = None  # the compiler's Program, made when something needs it
        self.reset()

    @classmethod
    def from_entry(cls, key: str, source: str, filename: str, options: dict, compiler):
        """The program stored as entry `key`, or None (no entry, or a damaged one)."""
        parts = progcache.load(key)
        if parts is None:
            return None
        try:
            record = json.loads(parts["record"])
            initial = {name: from_bits(np.load(io.BytesIO(parts[f"variable:{name}"]), allow_pickle=False),
                                       np_dtype(dtype))
                       for name, dtype in record["variables"].items()}
            return cls(key, record, initial, source, filename, options, compiler)
        except (KeyError, TypeError, ValueError) as e:  # signed, yet not what this kgraph writes
            progcache.discard(key, f"an unreadable record: {type(e).__name__}")
            return None

    # ---- signature and state ------------------------------------------------------
    @property
    def placeholders(self) -> dict[str, tuple[str, tuple]]:
        return {name: (t.dtype, t.shape) for name, t in self._types.items()}

    @property
    def outputs(self) -> list[str]:
        return list(self._output_names)

    @property
    def updates(self) -> list[str]:
        return list(self._update_names)

    @property
    def feed_names(self) -> list[str]:
        return list(self._feed_names)

    @property
    def leaf_spans(self) -> dict:
        """name → the `Span` of each placeholder's declaration (the cache keeps no others)."""
        return dict(self._spans)

    mesh = None  # the cache serves one-device programs only

    @property
    def variables(self) -> dict[str, np.ndarray]:
        return {k: np.array(v) for k, v in self._values.items()}

    def state_signature(self) -> dict[str, tuple[str, tuple]]:
        return {k: (v.dtype.name, tuple(v.shape)) for k, v in self._initial.items()}

    def reset(self) -> None:
        """Variables back to their initial values; the ones no run updates go to the device once."""
        self._values = {k: v.copy() for k, v in self._initial.items()}
        self._runs = 0
        self._place_fixed()

    def _place_fixed(self) -> None:
        with self.running():
            for name in self._fixed:
                self._values[name] = jax.device_put(self._values[name], self._device)

    def load_state(self, path) -> None:
        """As `Program.load_state`: a .npz file or a dict with exactly this program's variables."""
        with self._limits():
            self._values.update(load_state_file(path, self.state_signature()))
        self._state_loaded = True
        self._place_fixed()

    def save_state(self, path) -> None:
        save_state_file(path, self.variables)

    def _limits(self):
        return using(self._options.get("limits"))

    # ---- running ----------------------------------------------------------------------
    def running(self):
        return running(self._x64, self._device)

    def check_feeds(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        """The feeds as arrays of their placeholders' dtypes; a FeedError names what is wrong."""
        return check_feeds(feeds, self._nodes, self._feed_names, self._spans)

    def run(self, training: Any = None, to_numpy: bool = True, **feeds: Any) -> dict[str, Any]:
        """As `Program.run`: run once, apply the updates, return the outputs by name."""
        arrays = self.check_feeds(feeds)
        with self.running():
            outs = self.execute(arrays, training)
        return outputs(outs, self._numbered_outputs, to_numpy)

    __call__ = run

    def execute(self, arrays: dict[str, np.ndarray], training: Any = None) -> tuple:
        """One run on checked feeds, inside `running()`; the outputs as device arrays."""
        training = None if training is None else learning_phase_value(training)
        values = self._values
        args = tuple(values[n] for n in self._donated) + tuple(values[n] for n in self._fixed)
        args += tuple(arrays[n] for n in self._feed_names)
        if self._record["random"]:
            args += (np.uint32(self._runs),)
        if self._record["phase"]:
            args += (np.bool_(self.training if training is None else training),)
        signature = signature_of(args)
        step = self._steps.get(signature) or self._step_for(signature, args)
        results = step(*args)
        self._runs += 1
        n = len(self._output_names)
        values.update(zip(self._update_names, results[n:]))
        return results[:n]

    def _step_for(self, signature: tuple, args: tuple):
        """The executable for `args`: from its entry, else compiled now (and stored)."""
        name = step_name(self._key, args)
        step = load_step(name)
        if step is None:
            step = compile_step(self.program()._function(), args, name)
        self._steps[signature] = step
        return step

    def wait(self) -> None:
        jax.block_until_ready(list(self._values.values()))

    # ---- the compiler's program, for everything else -------------------------------------
    def program(self):
        """The compiler's `Program` for this source and options, holding this one's state."""
        if self._program is None:
            self._program = self._compiler().compile(self.source, self.filename, **self._options)
        self._program._values.update(self._values)
        self._program._runs, self._program.training = self._runs, self.training
        return self._program

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_program", "_values", "_record"):
            raise AttributeError(name)
        return getattr(self.program(), name)
