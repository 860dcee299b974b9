"""Per-call overhead: a tiny program through Program.run against the raw jitted function."""
from __future__ import annotations

import jax
import numpy as np

import kgraph

from .timing import interleaved, report


def run(args) -> list[str]:
    prog = kgraph.compile("placeholder x: float32[4]\noutput x * 2.0 + 1.0 as y", opt_level=2)
    raw = jax.jit(lambda x: x * 2.0 + 1.0)
    x = np.arange(4, dtype=np.float32)
    fns = {"kgraph Program.run": lambda: prog.run(x=x)["y"], "raw jax.jit": lambda: np.asarray(raw(x))}
    for f in fns.values():
        f()
    t = interleaved(fns, repeats=15 if args.quick else 50, number=200)
    return report("per-call overhead, float32[4] input:", t,
                  [("kgraph / raw", "kgraph Program.run", "raw jax.jit", "(target <= 1.5)")])
