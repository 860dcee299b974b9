"""Elementwise fusion on and off: trace time, XLA compile time and run time.

XLA fuses elementwise arithmetic itself, so a fused node cannot make the compiled
code faster; what it can change is how long JAX takes to trace the program (one
call per region, and a region body seen before is not traced again) and how long
XLA takes to compile it. This measures both, on programs of repeated elementwise
layers, to decide whether fusion stays on at -O2.
"""
from __future__ import annotations

import time

import jax
import numpy as np

import kgraph

from .timing import fmt


def generate(layers: int) -> str:
    lines = ["placeholder x: float32[64, 64]", "h0 = x"]
    for i in range(1, layers + 1):
        lines.append(f"h{i} = tanh(h{i - 1} * 0.9 + 0.1) * sigmoid(h{i - 1} - 0.5) + relu(h{i - 1}) * 0.01")
    lines.append(f"output sum(h{layers}) as y")
    return "\n".join(lines) + "\n"


def measure(source: str, disabled: tuple) -> dict:
    prog = kgraph.compile(source, disabled_passes=disabled)
    fn = prog._function()
    x = np.random.default_rng(0).standard_normal((64, 64), dtype=np.float32)
    args = prog.arguments({"x": x})
    with prog.running():
        start = time.perf_counter()
        traced = fn.trace(*args)
        trace = time.perf_counter() - start
        start = time.perf_counter()
        compiled = traced.lower().compile()
        compile_s = time.perf_counter() - start
        compiled(*args)
        runs = []
        for _ in range(20):
            start = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            runs.append(time.perf_counter() - start)
    nodes = len(prog.graph.live_nodes())
    return {"trace": trace, "compile": compile_s, "run": float(np.median(runs)), "nodes": nodes}


def run(args) -> list[str]:
    rows = ["elementwise fusion on / off (each layer: 11 elementwise ops in one region):"]
    measure(generate(5), ())  # warm up
    for layers in ((20, 50) if args.quick else (20, 50, 100)):
        source = generate(layers)
        on, off = measure(source, ()), measure(source, ("fuse",))
        rows.append(f"  {layers:>5} layers: nodes {off['nodes']} -> {on['nodes']}; "
                    f"trace {fmt(off['trace'])} -> {fmt(on['trace'])} ({on['trace'] / off['trace']:.2f}x), "
                    f"XLA compile {fmt(off['compile'])} -> {fmt(on['compile'])} "
                    f"({on['compile'] / off['compile']:.2f}x), run {fmt(off['run'])} -> {fmt(on['run'])} "
                    f"({on['run'] / off['run']:.2f}x)")
        print(rows[-1])
    return rows
