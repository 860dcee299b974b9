"""Device meshes for kgraph (LANGUAGE.md §11): `--mesh data=4,model=2`, `--distributed`.

A mesh is JAX's own `jax.sharding.Mesh`; this module reads the command line's
description of one, builds it over the devices (of every process, after
`jax.distributed.initialize`), and names it back. What a program does on a mesh
is kgraph/sharding.py.
"""
from __future__ import annotations

import argparse
import math
import os
import re

import jax
import numpy as np
from jax.sharding import AxisType, Mesh

from .errors import KGraphError, UsageError

_AXIS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_mesh(text: str) -> tuple[tuple[str, int], ...]:
    """'data=4,model=2' → (('data', 4), ('model', 2)); an argparse type (exit 2 when wrong)."""
    axes = []
    for part in text.split(","):
        name, sep, size = (s.strip() for s in part.partition("="))
        if not sep or not _AXIS.match(name) or not re.fullmatch(r"-1|[1-9][0-9]*", size):
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected AXIS=SIZE[,AXIS=SIZE...], e.g. data=8 or data=4,model=2 "
                f"(a size of -1 takes the devices left)")
        axes.append((name, int(size)))
    names = [n for n, _ in axes]
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r}: an axis is named twice")
    if [s for _, s in axes].count(-1) > 1:
        raise argparse.ArgumentTypeError(f"{text!r}: only one axis can have size -1")
    return tuple(axes)


def make_mesh(axes: tuple[tuple[str, int], ...], devices: list | None = None) -> Mesh:
    """A mesh over `devices` (default: every device, of every process); the sizes' product
    must equal their count. UsageError (exit 2), naming the count, when it does not."""
    devices = list(jax.devices() if devices is None else devices)
    count, fixed = len(devices), math.prod(s for _, s in axes if s != -1)
    spec = ",".join(f"{n}={s}" for n, s in axes)
    where = f"{count} {devices[0].platform} device{'s' * (count != 1)}"
    if jax.process_count() > 1:
        where += f" over {jax.process_count()} processes"
    if any(s == -1 for _, s in axes):
        if count % fixed:
            raise UsageError(f"--mesh {spec}: the other axes take {fixed} devices, which does not "
                             f"divide the {where} available")
        axes = tuple((n, count // fixed if s == -1 else s) for n, s in axes)
    elif fixed != count:
        raise UsageError(f"--mesh {spec} needs {fixed} device{'s' * (fixed != 1)}, but there "
                         f"{'are' if count != 1 else 'is'} {where}; the sizes' product must equal "
                         f"the device count (data=-1 takes them all)")
    shape = tuple(s for _, s in axes)
    return Mesh(np.array(devices).reshape(shape), tuple(n for n, _ in axes))


def auto_axes(mesh: Mesh) -> Mesh:
    """`mesh` with JAX's automatic axis types: kgraph's programs carry no sharding in their
    types, so XLA's partitioner chooses the layout of everything between the leaves."""
    if all(t == AxisType.Auto for t in mesh.axis_types):
        return mesh
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def describe_mesh(mesh: Mesh, processes: bool = False) -> str:
    """'data=4,model=2', and ' (2 processes)' when asked and there are several."""
    text = ",".join(f"{name}={size}" for name, size in mesh.shape.items())
    if processes and jax.process_count() > 1:
        text += f" ({jax.process_count()} processes)"
    return text


def writes_files() -> bool:
    """Only process 0 writes state and output files and prints (every process computes them)."""
    return jax.process_index() == 0

# ---- the command line ----------------------------------------------------------------

def add_arguments(p, distributed: bool = True) -> None:
    """--mesh and --distributed, for run (and training), lower and check; the REPL's --mesh."""
    g = p.add_argument_group("devices (LANGUAGE.md §11; see docs/distributed.md)")
    g.add_argument("--mesh", type=parse_mesh, metavar="AXIS=SIZE,...",
                   help="run on a mesh of devices, e.g. data=8 or data=4,model=2 (data=-1: all); "
                        "placeholders are split along the first axis unless `shard` says otherwise")
    if not distributed:
        return
    g.add_argument("--distributed", action="store_true",
                   help="first join the other processes (jax.distributed.initialize), so the mesh "
                        "spans every process's devices; SLURM, Open MPI and TPU are detected")
    g.add_argument("--coordinator", metavar="HOST:PORT",
                   help="with --distributed: process 0's address (default $JAX_COORDINATOR_ADDRESS)")
    g.add_argument("--num-processes", type=int, metavar="N",
                   help="with --distributed: how many processes (default $JAX_NUM_PROCESSES)")
    g.add_argument("--process-id", type=int, metavar="I",
                   help="with --distributed: this process's index, 0..N-1 (default $JAX_PROCESS_ID)")


def mesh_from_args(args) -> Mesh | None:
    """Join the other processes if asked, then the mesh --mesh describes (None without it)."""
    given = [f for f in ("coordinator", "num_processes", "process_id") if getattr(args, f, None) is not None]
    distributed = getattr(args, "distributed", False)
    if given and not distributed:
        raise UsageError(f"--{given[0].replace('_', '-')} needs --distributed")
    if distributed:
        if args.mesh is None:
            raise UsageError("--distributed needs --mesh (e.g. --mesh data=-1 for every device)")
        initialize(args.coordinator, args.num_processes, args.process_id)
    if args.mesh is None:
        return None
    device = getattr(args, "device", None)
    try:
        devices = jax.devices(device) if device else jax.devices()
    except RuntimeError:
        raise UsageError(f"--mesh: no {device} device is available") from None
    return make_mesh(args.mesh, devices)


def initialize(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
    """jax.distributed.initialize with the given values, else $JAX_NUM_PROCESSES and
    $JAX_PROCESS_ID, else what JAX detects (SLURM, Open MPI, TPU); JAX itself reads
    $JAX_COORDINATOR_ADDRESS."""
    num_processes = num_processes if num_processes is not None else _env_int("JAX_NUM_PROCESSES")
    process_id = process_id if process_id is not None else _env_int("JAX_PROCESS_ID")
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id)
    except (RuntimeError, ValueError) as e:
        raise KGraphError(f"--distributed: could not join the other processes: {e}") from None


def _env_int(name: str) -> int | None:
    text = os.environ.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"${name} must be an integer, got {text!r}") from None
