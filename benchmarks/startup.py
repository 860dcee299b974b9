"""CLI start-up: `kgraph run` of a tiny program against a tiny jax script, fresh processes.

Both are whole processes timed from outside (interpreter start, imports, compile, one run,
printing the result), alternating, JAX's persistent cache off for both; kgraph's own cache is
left as a user gets it. The tiny program is `placeholder x: float32[4]; output x * 2.0 + 1.0`
with its feed given as a JSON literal; the jax script computes the same with jax.jit.
"""
from __future__ import annotations

import os
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


def _wall(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def run(args) -> list[str]:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"),
               JAX_ENABLE_COMPILATION_CACHE="false")
    repeats = 5 if args.quick else 11
    with tempfile.TemporaryDirectory() as tmp:
        kg, script = Path(tmp) / "tiny.kg", Path(tmp) / "tiny.py"
        kg.write_text(TINY_KG)
        script.write_text(TINY_JAX)
        cmds = {"kgraph run": [sys.executable, "-m", "kgraph", "run", str(kg), "--feed", "x=[0, 1, 2, 3]"],
                "python tiny jax script": [sys.executable, str(script)]}
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(repeats):
            for name, cmd in cmds.items():
                times[name].append(_wall(cmd, env))
    rows = [f"CLI start-up, fresh processes ({repeats} each, min / median):"]
    for name, t in times.items():
        rows.append(f"  {name:<24} {fmt(min(t)):>9} / {fmt(statistics.median(t)):>9}")
    k, j = times["kgraph run"], times["python tiny jax script"]
    rows.append(f"  kgraph / jax: min {min(k) / min(j):.3g}x  median {statistics.median(k) / statistics.median(j):.3g}x"
                "  (target <= 1.1)")
    goals.record("cli start-up", min(k) / min(j), 1.1)
    print("\n".join(rows))
    return rows
