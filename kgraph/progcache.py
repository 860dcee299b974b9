"""The program cache's store: signed entry files under `cache_dir()/programs`.

An entry is one file, `<name>.kgc`: the magic bytes, an HMAC-SHA256 of the rest, then a
JSON table of parts followed by the parts' bytes. The parts are what kgraph/warm.py puts
there (a program's record, its variables' initial values as `.npy`, a compiled executable).
The MAC's key is a random per-user secret in `programs/key`, created with mode 0600 in a
0700 directory, and it covers the entry's name too, so an entry cannot be passed off as
another's. Nothing from an entry is parsed, let alone unpickled, before its MAC checks: an
entry that fails (truncated, damaged, written by someone without the key) is reported with
a warning, removed and rebuilt by the caller.

Writes go to a temporary file in the same directory, renamed into place, so another process
sees a whole entry or none. After a write the least recently used entries (by modification
time, refreshed on every hit) go until the total is at most `max_bytes()`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import warnings
from pathlib import Path

from .cache import cache_dir
from .errors import KGraphError, KGraphWarning

ENV_MAX = "KGRAPH_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
SUFFIX = ".kgc"
MAGIC = b"KGC1"
KEY_FILE = "key"
_MAC_SIZE = 32


def programs_dir() -> Path:
    return cache_dir() / "programs"


def max_bytes() -> int:
    """$KGRAPH_CACHE_MAX_BYTES (an integer), else 1 GiB."""
    text = os.environ.get(ENV_MAX, "")
    try:
        return max(0, int(text.replace("_", ""))) if text else DEFAULT_MAX_BYTES
    except ValueError:
        raise KGraphError(f"${ENV_MAX} must be a number of bytes, got {text!r}") from None


def _private_dir(directory: Path) -> Path | None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
    except OSError:
        return None
    return directory


def _secret(directory: Path) -> bytes | None:
    """The per-user MAC key: read, or created (0600, O_EXCL: two processes agree on one)."""
    path = directory / KEY_FILE
    for _ in range(2):
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_mode & 0o077 or st.st_uid != _uid():
                    return None  # readable by others, or theirs: not a secret, so nothing is trusted
                key = f.read(_MAC_SIZE + 1)
            return key if len(key) == _MAC_SIZE else None
        except FileNotFoundError:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # another process made it meanwhile: read theirs
            except OSError:
                return None
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(_MAC_SIZE))
        except OSError:
            return None
    return None


def _uid() -> int:
    return os.getuid() if hasattr(os, "getuid") else 0  # Windows: st_uid is always 0


def _mac(key: bytes, name: str, body: bytes) -> bytes:
    return hmac.new(key, MAGIC + name.encode() + b"\0" + body, hashlib.sha256).digest()


def _pack(parts: dict[str, bytes]) -> bytes:
    table = json.dumps([[name, len(data)] for name, data in parts.items()]).encode()
    return len(table).to_bytes(8, "little") + table + b"".join(parts.values())


def _unpack(body: bytes) -> dict[str, bytes]:
    size = int.from_bytes(body[:8], "little")
    offset, parts = 8 + size, {}
    for name, length in json.loads(body[8:offset]):
        parts[name] = body[offset:offset + length]
        offset += length
    return parts


def store(name: str, parts: dict[str, bytes], directory: Path | None = None) -> Path | None:
    """Write the entry `name` (signed, atomically) into `directory`, the `programs_dir()` of
    when the write was asked for (a background writer is given it: the environment may have
    changed since); None when the cache cannot be written."""
    directory = _private_dir(directory or programs_dir())
    key = _secret(directory) if directory is not None else None
    if key is None:
        return None
    body = _pack(parts)
    path = directory / f"{name}{SUFFIX}"
    try:
        fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=directory)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + _mac(key, name, body) + body)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return None
    evict(max_bytes(), directory)
    return path


def load(name: str) -> dict[str, bytes] | None:
    """The parts of entry `name`, or None: absent, or failing its MAC (then warned and removed)."""
    path = programs_dir() / f"{name}{SUFFIX}"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    key = _secret(path.parent)
    head = len(MAGIC) + _MAC_SIZE
    if key is None:
        return None
    body = data[head:]
    if data[:len(MAGIC)] != MAGIC or not hmac.compare_digest(data[len(MAGIC):head], _mac(key, name, body)):
        discard(name, "its signature does not match its contents")
        return None
    try:
        os.utime(path)  # the LRU order is the files' modification times
    except OSError:
        pass  # evicted by another process meanwhile: the bytes read are whole and signed
    return _unpack(body)


def discard(name: str, why: str) -> None:
    """Warn that entry `name` is unusable, and remove it (the caller compiles again)."""
    warnings.warn(KGraphWarning(f"ignoring a damaged program-cache entry {name}{SUFFIX} ({why}); "
                                f"compiling again"), stacklevel=3)
    (programs_dir() / f"{name}{SUFFIX}").unlink(missing_ok=True)


def entries(directory: Path | None = None) -> list[Path]:
    """The entries (of `programs_dir()` unless given another), least recently used first."""
    directory = directory or programs_dir()
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


def evict(bound: int, directory: Path | None = None) -> int:
    """Remove least recently used entries until the total is at most `bound`; how many went."""
    listed = entries(directory)
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
    """Remove every program entry and JAX's cached executables; how many files went.
    The MAC key stays: entries written later by a running process remain valid."""
    removed = 0
    for path in entries():
        path.unlink(missing_ok=True)
        removed += 1
    xla = cache_dir() / "xla"
    if xla.is_dir():
        for p in xla.iterdir():
            if p.is_file():
                p.unlink(missing_ok=True)
                removed += 1
    return removed
