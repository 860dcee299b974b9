"""Per-call overhead: a tiny program through Program.run against the raw jitted function."""
from __future__ import annotations

import jax
import numpy as np

import kgraph

from .timing import fmt, interleaved


def run(args) -> list[str]:
    prog = kgraph.compile("placeholder x: float32[4]\noutput x * 2.0 + 1.0 as y", opt_level=2)
    raw = jax.jit(lambda x: x * 2.0 + 1.0)
    x = np.arange(4, dtype=np.float32)
    fns = {"kgraph Program.run": lambda: prog.run(x=x)["y"], "raw jax.jit": lambda: np.asarray(raw(x))}
    for f in fns.values():
        f()
    t = interleaved(fns, repeats=15 if args.quick else 50, number=200)
    k, r = t["kgraph Program.run"], t["raw jax.jit"]
    rows = ["per-call overhead, float32[4] input:"]
    for name, (lo, med) in t.items():
        rows.append(f"  {name:<20} min {fmt(lo):>10}  median {fmt(med):>10}")
    rows.append(f"  kgraph / raw: min {k[0] / r[0]:.2f}x  median {k[1] / r[1]:.2f}x  (target <= 1.5)")
    print("\n".join(rows))
    return rows
