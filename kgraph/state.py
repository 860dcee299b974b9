"""State files: a program's variables in a `.npz`, written atomically, checked when read.

A state file holds one array per variable, named as the variable, and nothing else, so
`np.load("ckpt.npz")` shows exactly the variables. Writing goes to a temporary file in
the same directory, which is flushed, fsynced and then renamed over the old file
(`os.replace` is atomic), so a reader — or a process killed at any moment — sees either
the old state or the new one, never a mixture or a truncated file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import npyfile
from .errors import StateError
from .types import np_dtype

MAX_PROBLEMS = 6


def save_state_file(path: str | Path, arrays: dict[str, np.ndarray], what: str = "state file",
                    error=StateError) -> None:
    """Write `arrays` as a .npz at exactly `path`, atomically, each array under its own name
    (`run --out` writes its outputs so too: np.savez would take `file` as its own keyword)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise error(f"cannot write {what} {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise error(f"cannot write {what} {path}: {e.strerror or e}") from None
        raise
    _fsync_directory(directory)


def _write_npz(f, arrays: dict[str, np.ndarray]) -> None:
    # What np.savez does, without its keyword arguments (a variable may be called `file`).
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, array in arrays.items():
            with z.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; a new one gets the usual 0666 & ~umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_state_file(path: str | Path) -> dict[str, np.ndarray]:
    """Every array in a state file, by name; StateError if it cannot be read as one.

    The file is checked as npyfile.py checks any archive: a regular file, a valid zip
    whose members are `.npy` arrays, each member's claimed size checked before it is read.
    """
    return npyfile.read_npz(path, "state file", error=StateError)


def load_state_file(path: str | Path, signature: dict[str, tuple[str, tuple]]) -> dict[str, np.ndarray]:
    """The arrays of a state file (or a dict of them, as kgraph.import_keras returns), checked
    against name → (dtype, shape): all or nothing."""
    given = isinstance(path, Mapping)
    arrays = {k: np.asarray(v) for k, v in path.items()} if given else read_state_file(path)
    problems = []
    for name, (dtype, shape) in signature.items():
        if name not in arrays:
            problems.append(f"variable '{name}' ({_describe(dtype, shape)}) is missing from the file")
            continue
        array = arrays[name] = _as_bfloat16(arrays[name]) if dtype == "bfloat16" else arrays[name]
        if array.dtype.name != dtype or array.shape != shape:
            problems.append(f"variable '{name}' is {_describe(dtype, shape)} in the program but "
                            f"{_describe(array.dtype.name, array.shape)} in the file")
    extra = [name for name in arrays if name not in signature]
    if extra:
        problems.append("the file has arrays the program has no variables for: " + ", ".join(extra))
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"and {len(problems) - MAX_PROBLEMS} more")
        what = "the state given" if given else f"state file {path}"
        raise StateError(f"{what} does not match the program: " + "; ".join(shown)
                         + " (use another state file, or delete this one, to start afresh)")
    return {name: arrays[name] for name in signature}


def _as_bfloat16(array: np.ndarray) -> np.ndarray:
    # .npy has no bfloat16: NumPy writes it as 2-byte opaque items ('|V2').
    if array.dtype.kind == "V" and array.dtype.itemsize == 2 and array.dtype.names is None:
        return array.view(np_dtype("bfloat16"))
    return array


def _describe(dtype: str, shape: tuple) -> str:
    return f"{dtype}[{', '.join(str(d) for d in shape)}]"
