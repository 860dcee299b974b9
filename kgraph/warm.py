"""Warm start: `kgraph.compile` through the program cache (docs/cache.md).

With the cache on, a program compiled before, with the same source, options, limits and
versions, comes back as a `CachedProgram` (kgraph/cached.py) read from its entry: no parse,
build, passes, initial-values computation, tracing or XLA compile. Its step is the XLA
executable that the first process compiled, serialized (`jax.experimental.serialize_executable`)
into an entry of its own per argument signature (the feeds' shapes and dtypes), since a
placeholder with a `None` or named dimension compiles once per shape.

A miss compiles as usual and costs nothing more until the first run: that run compiles the
step ahead of time (`.lower(...).compile()`, which the jitted step then reuses), stores the
executable and the program's record (kgraph/progcache.py signs and bounds the entries), and
hands the program its plain jitted step back.

This module is light on purpose: a hit imports neither the compiler (program.py, Lark, the
ops, the passes) nor anything that imports it. The compiler is imported when a miss needs it.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from functools import lru_cache
from pathlib import Path

import jax
import jaxlib

from . import limits as limits_module
from . import progcache
from .cached import CachedProgram, compile_step, flush, step_name
from .errors import KGraphError
from .npyfile import npy_bytes, read_text
from .version import __version__

_ON = {"cache": False}  # the process-wide default of compile(cache=None): enable() sets it


def enable(on: bool = True) -> None:
    """Make `kgraph.compile` use the program cache by default in this process (the `kgraph`
    command does so, with JAX's persistent cache, unless --no-cache)."""
    _ON["cache"] = bool(on)


def _compiler():
    """program.py, imported on a miss only (it imports Lark, the ops and the passes)."""
    from . import program  # deferred: the compiler is the heavy import a hit never pays

    return program


def compile(source: str, filename: str = "<string>", *args, cache: bool | None = None, **options):
    """Parse, type-check, optimise and prepare a program: `kgraph.program.compile`, whose
    arguments it takes, through the program cache when it is on (`cache=True`, or by default
    after `enable()`). Raises KGraphError for user mistakes."""
    use = _ON["cache"] if cache is None else cache
    if not use or args or options.get("mesh") is not None:
        return _compile(source, filename, *args, **options)
    key = program_key(source, options)
    flush()  # this process's own pending writes (of this program, perhaps) first
    hit = CachedProgram.from_entry(key, source, filename, options, _compiler)
    if hit is not None:
        return hit
    program = _compile(source, filename, **options)
    if not program.warnings:  # a hit would not show them: such a program is compiled each time
        program._jitted = StoringStep(program, key)
    return program


def _compile(*args, **options):
    """program.compile, its warnings shown at the caller of `kgraph.compile` (two frames up)."""
    with warnings.catch_warnings(record=True) as caught:
        program = _compiler().compile(*args, **options)
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=3)
    return program


def load(path, *, cache: bool | None = None, **options):
    """Compile a `.kg` file (through the program cache, as `compile`), or load a `.kgx`."""
    if Path(path).suffix == ".kgx":
        return _compiler().load(path, **options)
    return compile(read_text(path, "program", error=KGraphError), str(path), cache=cache, **options)


# ---- keys ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _kgraph_build() -> str:
    """A fingerprint of the installed kgraph: every module's path, size and modification
    time, so that a changed compiler (an edit in a development checkout, where the
    version number stays the same) never reuses an entry."""
    root = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for directory, subdirectories, files in os.walk(root):  # os.walk: pathlib costs 50 ms here
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith((".py", ".lark"))):
            st = os.stat(os.path.join(directory, name))
            digest.update(f"{directory[len(root):]}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def versions() -> dict:
    """Everything outside the program that decides the executable."""
    device = jax.devices()[0]
    return {"kgraph": __version__, "build": _kgraph_build(), "jax": jax.__version__,
            "jaxlib": jaxlib.__version__, "platform": device.platform, "device_kind": device.device_kind,
            "platform_version": device.client.platform_version, "x64": bool(jax.config.jax_enable_x64),
            "matmul_precision": str(jax.config.jax_default_matmul_precision),
            "xla_flags": os.environ.get("XLA_FLAGS", "")}


def program_key(source: str, options: dict) -> str:
    """The hex SHA-256 of the source, the options (but `timings`, an output), the limits
    in force and `versions()`."""
    limits = options.get("limits") or limits_module.current()
    described = {"source": hashlib.sha256(source.encode()).hexdigest(),
                 "options": {k: repr(v) for k, v in sorted(options.items()) if k not in ("timings", "limits")},
                 "limits": repr(limits), "versions": versions()}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def store_record(program, key: str, directory: Path) -> None:
    """The entry `key` in `directory`: what `CachedProgram` needs to stand in for `program`."""
    spans = program.module.leaf_spans
    placeholders = program.placeholders
    record = {"placeholders": {k: [dtype, list(shape)] for k, (dtype, shape) in placeholders.items()},
              "spans": {k: [s.line, s.column, s.end_line, s.end_column] for k, s in spans.items()
                        if k in placeholders},
              "feeds": program.feed_names, "outputs": program.outputs, "updates": program.updates,
              "donated": program._donated, "fixed": program._fixed, "random": program._draws_random,
              "phase": program._reads_phase, "x64": program._x64, "seed": program.seed,
              "device": program._device.platform if program._device is not None else None,
              "variables": {name: value.dtype.name for name, value in program._initial.items()}}
    parts = {"record": json.dumps(record).encode()}
    for name, value in program._initial.items():
        parts[f"variable:{name}"] = npy_bytes(value)
    progcache.store(key, parts, directory)


class StoringStep:
    """A freshly compiled program's step until its first call: that call compiles it ahead
    of time, stores the executable and the program's record, and gives the program its
    plain jitted step back (which finds the executable in JAX's in-memory cache)."""

    def __init__(self, program, key: str):
        self.program, self.key = program, key
        self.jitted = program._function()

    def __call__(self, *args):
        program, key = self.program, self.key
        compiled = compile_step(self.jitted, args, step_name(key, args),
                                lambda directory: store_record(program, key, directory))
        program._jitted = self.jitted
        return compiled(*args)

    def __getattr__(self, name: str):  # .lower, .trace, ...: the jitted step's own
        return getattr(self.jitted, name)
