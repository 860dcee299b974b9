"""Matrix chain: (A @ B) @ v with 2000x2000 matrices, kgraph -O2 against hand-written jax.jit.

XLA keeps the order written, so the hand-written chain does a matrix-matrix product
where A @ (B @ v) does two matrix-vector ones; kgraph's -O2 reorders it.
"""
from __future__ import annotations

import jax
import numpy as np

import kgraph

from .timing import interleaved, report

SOURCE = """
placeholder A: float32[{n}, {n}]
placeholder B: float32[{n}, {n}]
placeholder v: float32[{n}]
output dot(dot(A, B), v) as y
"""


def run(args) -> list[str]:
    n = 500 if args.quick else 2000
    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    v = rng.standard_normal(n, dtype=np.float32)
    prog = kgraph.compile(SOURCE.format(n=n), opt_level=2)
    as_written = jax.jit(lambda A, B, v: (A @ B) @ v)
    best = jax.jit(lambda A, B, v: A @ (B @ v))
    fns = {
        "kgraph -O2": lambda: prog.run(A=A, B=B, v=v)["y"],
        "jax.jit as written": lambda: np.asarray(as_written(A, B, v)),
        "jax.jit best order": lambda: np.asarray(best(A, B, v)),
    }
    results = {k: f() for k, f in fns.items()}  # compile everything first
    np.testing.assert_allclose(results["kgraph -O2"], results["jax.jit best order"], rtol=1e-3, atol=1e-2)
    t = interleaved(fns, repeats=3 if args.quick else 5)
    return report(f"matrix chain (A @ B) @ v, {n}x{n}, float32:", t,
                  [("as written / kgraph", "jax.jit as written", "kgraph -O2", "(expect >= 100 at 2000)"),
                   ("kgraph / best order", "kgraph -O2", "jax.jit best order", "(expect ~1.0)")])
