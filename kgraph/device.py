"""Where programs run: the device and JAX's 64-bit mode.

This is the one place kgraph enters `jax.enable_x64`. Everything that runs a
program (a `Program`'s runs, the constant evaluator, `run --trace`, `K.function`,
export) enters `running(...)`; building and optimising a graph never touches JAX
state. LANGUAGE.md §4: float64 and int64 are honoured without changing the
caller's JAX configuration, so a run that needs 64 bits gets the mode for its own
duration only.
"""
from __future__ import annotations

import contextlib

import jax

from .errors import KGraphError


def running(x64: bool = True, device=None) -> contextlib.AbstractContextManager:
    """The context a run happens in: JAX's 64-bit mode if `x64`, and `device` as the
    default device if one is given. With neither it is a no-op context."""
    if device is None:
        return jax.enable_x64(True) if x64 else contextlib.nullcontext()
    stack = contextlib.ExitStack()
    if x64:
        stack.enter_context(jax.enable_x64(True))
    stack.enter_context(jax.default_device(device))
    return stack


def find_device(kind: str):
    """The first JAX device of a platform ("cpu", "gpu", "tpu"); a KGraphError if there is none."""
    try:
        devices = jax.devices(kind)
    except RuntimeError:
        devices = []
    if not devices:
        available = sorted({d.platform for d in jax.devices()})
        raise KGraphError(f"no {kind} device is available (this machine has: {', '.join(available)})")
    return devices[0]


def platform_of(device) -> str:
    """The platform name of `device`, or of JAX's default device when it is None."""
    return (device or jax.devices()[0]).platform
