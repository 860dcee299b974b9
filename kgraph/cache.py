"""The persistent compilation cache: XLA executables kept on disk between runs.

It is JAX's own persistent cache pointed at kgraph's cache directory, with JAX's
thresholds lowered so that small programs (which compile in milliseconds, below
JAX's default one-second minimum) are cached too. Importing kgraph never turns it
on: a Python program that embeds kgraph keeps its JAX configuration unless it calls
`enable_compilation_cache()`. The `kgraph` command turns it on unless `--no-cache`.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import jax

ENV_DIR = "KGRAPH_CACHE_DIR"


def cache_dir() -> Path:
    """$KGRAPH_CACHE_DIR, else the platform's per-user cache directory + /kgraph."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "kgraph" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "kgraph"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kgraph"


def enable_compilation_cache(path: str | Path | None = None) -> Path | None:
    """Turn on JAX's persistent cache in `path` (default `cache_dir()`/xla) for this process.

    Returns the directory, or None when it cannot be created (then nothing changes:
    a cache is a convenience, never a reason to fail).
    """
    directory = Path(path) if path is not None else cache_dir() / "xla"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(directory))
    # JAX caches only compilations slower than 1 s by default; kgraph programs are mostly
    # small, and skipping their compile is the point.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory
