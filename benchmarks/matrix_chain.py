"""Matrix chain: (A @ B) @ v with 2000x2000 matrices, kgraph -O2 against hand-written jax.jit.

XLA keeps the order written, so the hand-written chain does a matrix-matrix product
where A @ (B @ v) does two matrix-vector ones; kgraph's -O2 reorders it.
"""
from __future__ import annotations

import jax
import numpy as np

import kgraph

from . import goals
from .timing import interleaved, report

SOURCE = """
placeholder A: float32[{n}, {n}]
placeholder B: float32[{n}, {n}]
placeholder v: float32[{n}]
output dot(dot(A, B), v) as y
"""


def run(args) -> list[str]:
    n = 2000
    rng = np.random.default_rng(0)
    host = {"A": rng.standard_normal((n, n), dtype=np.float32), "B": rng.standard_normal((n, n), dtype=np.float32),
            "v": rng.standard_normal(n, dtype=np.float32)}
    device = {k: jax.device_put(v) for k, v in host.items()}
    prog = kgraph.compile(SOURCE.format(n=n), opt_level=2)
    as_written = jax.jit(lambda A, B, v: (A @ B) @ v)
    best = jax.jit(lambda A, B, v: A @ (B @ v))
    rows = []
    # Device arrays in, as a JAX program passes them: the compiled code alone. Then NumPy arrays
    # in and out, as `kgraph run` does: each call also copies the two 16 MB matrices in.
    # --quick keeps the size (the goal is stated at 2000) and measures device arrays only.
    paths = (("device arrays", device),) if args.quick else (("device arrays", device), ("NumPy arrays", host))
    for where, feeds in paths:
        fns = {
            "kgraph -O2": lambda: prog.run(**feeds)["y"],
            "jax.jit as written": lambda: np.asarray(as_written(**feeds)),
            "jax.jit best order": lambda: np.asarray(best(**feeds)),
        }
        results = {k: f() for k, f in fns.items()}  # compile everything first
        np.testing.assert_allclose(results["kgraph -O2"], results["jax.jit best order"], rtol=1e-3, atol=1e-2)
        t = interleaved(fns, repeats=3 if args.quick else 7)
        rows += report(f"matrix chain (A @ B) @ v, {n}x{n}, float32, {where}:", t,
                       [("as written / kgraph", "jax.jit as written", "kgraph -O2", "(expect >= 100 at 2000)"),
                        ("kgraph / best order", "kgraph -O2", "jax.jit best order", "(expect ~1.0)")])
        if where == "device arrays":
            goals.record("matrix chain", t["jax.jit as written"][0] / t["kgraph -O2"][0], 100, at_least=True)
    return rows
