"""The program cache: a second `kgraph run` of the same program skips the compiler.

An entry is a `.kgx` artifact (kgraph/export.py: JSON, `.npy` and jax.export's
StableHLO flatbuffer; no pickle) under `cache_dir()/programs/<key>.kgx`. The key is
the SHA-256 of the source text, every option that changes the compiled result and the
versions of kgraph, jax, jaxlib and the XLA backend (see `entry_key`, docs/cache.md).
A hit loads the artifact instead of parsing, building, optimising and tracing the
program; XLA's executable for it comes from JAX's persistent cache (kgraph/cache.py).

Writes go to a temporary file in the same directory and are renamed into place, so a
reader (another process) sees a whole entry or none. A damaged entry is reported with
a warning, removed and rebuilt. The directory is bounded: after a write the least
recently used entries go until the total is under `max_bytes()`.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import jax
import jaxlib

from .cache import cache_dir
from .errors import KGraphError, KGraphWarning
from .export import export_program, load_exported
from .version import __version__

ENV_MAX = "KGRAPH_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
SUFFIX = ".kgx"
# The compile options of `kgraph run` that change what is compiled (its argparse names).
KEYED_OPTIONS = ("opt_level", "floatx", "image_data_format", "seed", "device", "disable_pass",
                 "fast_math", "fold_limit")


def programs_dir() -> Path:
    return cache_dir() / "programs"


def max_bytes() -> int:
    """$KGRAPH_CACHE_MAX_BYTES (an integer), else 1 GiB."""
    text = os.environ.get(ENV_MAX, "")
    try:
        return max(0, int(text.replace("_", ""))) if text else DEFAULT_MAX_BYTES
    except ValueError:
        raise KGraphError(f"${ENV_MAX} must be a number of bytes, got {text!r}") from None


def _versions() -> dict:
    device = jax.devices()[0]
    return {"kgraph": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "platform": device.platform, "device_kind": device.device_kind,
            "platform_version": device.client.platform_version}


def entry_key(source: bytes, options: dict, limits) -> str:
    """The hex SHA-256 of everything that decides the compiled program (see the module doc)."""
    described = {"source_sha256": hashlib.sha256(source).hexdigest(),
                 "options": {k: options[k] for k in sorted(options)},
                 "limits": repr(limits), "versions": _versions()}
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def lookup(key: str, device: str | None = None):
    """The cached program for `key`, or None (absent, or damaged: then warned and removed)."""
    path = programs_dir() / f"{key}{SUFFIX}"
    if not path.is_file():
        return None
    try:
        program = load_exported(path, device=device)
    except KGraphError as e:
        warnings.warn(KGraphWarning(f"ignoring a damaged program-cache entry {path.name} "
                                    f"({e.message}); compiling again"), stacklevel=2)
        path.unlink(missing_ok=True)
        return None
    os.utime(path)  # the LRU order is the files' modification times
    return program


def store(key: str, program) -> Path | None:
    """Write `program` as the entry for `key`, atomically; None when it cannot be cached
    (an op that cannot be exported, an unwritable directory)."""
    directory = programs_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=directory)
        os.close(fd)
    except OSError:
        return None
    try:
        export_program(program, tmp, platforms=(jax.default_backend(),))
        path = directory / f"{key}{SUFFIX}"
        os.replace(tmp, path)
    except KGraphError:
        return None
    finally:
        Path(tmp).unlink(missing_ok=True)
    evict(max_bytes())
    return path


def entries() -> list[Path]:
    """The entries, least recently used first."""
    directory = programs_dir()
    if not directory.is_dir():
        return []
    found = []
    for p in directory.glob(f"*{SUFFIX}"):
        try:
            found.append((p.stat().st_mtime, p))
        except FileNotFoundError:  # another process evicted it meanwhile
            continue
    return [p for _, p in sorted(found)]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def evict(bound: int) -> int:
    """Remove least recently used entries until the total is at most `bound`; how many went."""
    listed = entries()
    total = sum(_size(p) for p in listed)
    removed = 0
    for path in listed:
        if total <= bound:
            break
        total -= _size(path)
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def info() -> dict:
    listed = entries()
    return {"directory": str(programs_dir()), "entries": len(listed),
            "bytes": sum(_size(p) for p in listed), "max_bytes": max_bytes(),
            "xla_directory": str(cache_dir() / "xla")}


def clear() -> int:
    """Remove every program entry and JAX's cached executables; how many files went."""
    removed = 0
    for directory in (programs_dir(), cache_dir() / "xla"):
        if directory.is_dir():
            for p in directory.iterdir():
                if p.is_file():
                    p.unlink(missing_ok=True)
                    removed += 1
    return removed
