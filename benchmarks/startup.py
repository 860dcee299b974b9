"""CLI start-up: `kgraph run` of a tiny program against a tiny jax script, fresh processes.

Both are whole processes timed from outside (interpreter start, imports, compile, one run,
printing the result), alternating, JAX's persistent cache off for both; kgraph's own cache is
left as a user gets it. The tiny program is `placeholder x: float32[4]; output x * 2.0 + 1.0`
with its feed given as a JSON literal; the jax script computes the same with jax.jit.

Both sides start from compiled bytecode, as an installed package does (pip writes the .pyc
files at install): one untimed run of each first, with PYTHONDONTWRITEBYTECODE taken out of
the children's environment. Without that, a checkout whose environment sets it (this
machine's does) compiled kgraph's 85 modules from source on every start-up while jax's came
precompiled from site-packages: 0.25-0.6 s of CPU, the whole of the gap once measured as
1.19x (benchmarks/RESULTS.md, "CLI start-up").
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import goals
from .timing import fmt

TINY_KG = "placeholder x: float32[4]\noutput x * 2.0 + 1.0 as y\n"
TINY_JAX = ("import jax, jax.numpy as jnp, numpy as np\n"
            "print(np.asarray(jax.jit(lambda x: x * 2.0 + 1.0)(np.array([0, 1, 2, 3], np.float32))))\n")


def timed_process(cmd: list[str], env: dict, cwd: str | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one process; CPU (user + system, every thread) moves less with
    the other work on a shared machine, so it is printed beside the wall time."""
    cpu = _children_cpu()
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - start, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args) -> list[str]:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"),
               JAX_ENABLE_COMPILATION_CACHE="false")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    repeats = 5 if args.quick else 11
    with tempfile.TemporaryDirectory() as tmp:
        kg, script = Path(tmp) / "tiny.kg", Path(tmp) / "tiny.py"
        kg.write_text(TINY_KG)
        script.write_text(TINY_JAX)
        cmds = {"kgraph run": [sys.executable, "-m", "kgraph", "run", str(kg), "--feed", "x=[0, 1, 2, 3]"],
                "python tiny jax script": [sys.executable, str(script)]}
        for cmd in cmds.values():  # untimed: writes kgraph's bytecode, warms the file cache for both
            timed_process(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        cpu: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(repeats):
            for name, cmd in cmds.items():
                wall, used = timed_process(cmd, env)
                times[name].append(wall)
                cpu[name].append(used)
    rows = [f"CLI start-up, fresh processes ({repeats} each, min / median; wall, then CPU):"]
    for name, t in times.items():
        rows.append(f"  {name:<24} {fmt(min(t)):>9} / {fmt(statistics.median(t)):>9}   "
                    f"CPU {fmt(min(cpu[name])):>9} / {fmt(statistics.median(cpu[name])):>9}")
    for label, d in (("kgraph / jax", times), ("  in CPU", cpu)):
        k, j = d["kgraph run"], d["python tiny jax script"]
        rows.append(f"  {label}: min {min(k) / min(j):.3g}x  median "
                    f"{statistics.median(k) / statistics.median(j):.3g}x  (target <= 1.1)")
    k, j = times["kgraph run"], times["python tiny jax script"]
    goals.record("cli start-up", min(k) / min(j), 1.1,
                 note=f"CPU {min(cpu['kgraph run']) / min(cpu['python tiny jax script']):.3g}x")
    print("\n".join(rows))
    return rows
