"""The same generated programs through PyTensor's JAX mode, when PyTensor is importable.

PyTensor is not a dependency of kgraph; without it this prints why it was skipped.
"""
from __future__ import annotations

import time

import numpy as np

from .timing import fmt


def _pytensor_program(n_nodes: int):
    import pytensor
    import pytensor.tensor as pt

    x = pt.matrix("x", dtype="float32")
    W = pytensor.shared(np.random.default_rng(0).normal(0, 0.1, (8, 8)).astype(np.float32))
    h = [x]
    i = 0
    while 3 * i < n_nodes:
        i += 1
        if i % 3 == 0:
            h.append(pt.special.softmax(h[-1], axis=-1) - h[-2] * 0.5)
        else:
            h.append(h[-1] * 0.5 + pt.dot(h[-1], W))
    return x, pt.sum(h[-1])


def run(args) -> list[str]:
    try:
        import pytensor  # noqa: F401
    except ImportError as e:
        row = f"PyTensor side by side: skipped (PyTensor is not importable: {e})"
        print(row)
        return [row]

    from .compile_time import generate, pipeline

    rows = ["PyTensor side by side (function(mode='JAX') compile, kgraph pipeline):"]
    for size in (1_000, 10_000):
        x, out = _pytensor_program(size)
        start = time.perf_counter()
        f = pytensor.function([x], out, mode="JAX")
        compile_s = time.perf_counter() - start
        f(np.zeros((4, 8), np.float32))
        p = pipeline(generate(size))
        ours = p["parse"] + p["build"] + p["passes"] + p["lower"]
        rows.append(f"  {size:>7} nodes: pytensor {fmt(compile_s)}, kgraph {fmt(ours)}, "
                    f"kgraph / pytensor {ours / compile_s:.2f}x")
        print(rows[-1])
    return rows
