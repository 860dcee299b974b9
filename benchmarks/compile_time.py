"""Compile pipeline time per node on generated programs of 1k, 10k and 100k nodes.

The pipeline is what kgraph does before XLA: parse, build (IR and shape checks),
verify, the -O2 passes, and lowering (tracing the interpreter to a jaxpr with
`jax.make_jaxpr`; XLA's own compile is not included). Time per node should stay
flat as programs grow.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from kgraph.build import Builder
from kgraph.ir import toposort, verify
from kgraph.lower import make_function
from kgraph.parse import parse
from kgraph.passes import paused_gc, run_pipeline

from .timing import fmt


def generate(n_nodes: int) -> str:
    """A layered program: each line a dot, a softmax or elementwise work on earlier lines."""
    lines = ["placeholder x: float32[4, 8]",
             "variable W = random_normal_variable((8, 8), mean=0.0, scale=0.1, seed=0)",
             "h0 = x"]
    i = 0
    while 3 * i < n_nodes:
        i += 1
        if i % 3 == 0:
            lines.append(f"h{i} = softmax(h{i - 1}) - h{i - 2} * 0.5")
        else:
            lines.append(f"h{i} = h{i - 1} * 0.5 + dot(h{i - 1}, W)")
    lines.append(f"output sum(h{i})")
    return "\n".join(lines) + "\n"


def pipeline(source: str) -> dict:
    phases = {}
    with paused_gc():
        start = time.perf_counter()
        tree = parse(source, "<generated>")
        phases["parse"] = time.perf_counter() - start
        start = time.perf_counter()
        builder = Builder("<generated>", source)
        with jax.enable_x64(True):
            graph = builder.build(tree)
            verify(graph)
        phases["build"] = time.perf_counter() - start
        start = time.perf_counter()
        optimised, _ = run_pipeline(graph, 2)
        phases["passes"] = time.perf_counter() - start
        start = time.perf_counter()
        fn = make_function([n for _, n in optimised.outputs], [], list(optimised.placeholders.values()),
                           list(optimised.variables.values()))
        variables = {k: jnp.zeros(v.shape, v.dtype) for k, v in builder.var_init.items()}
        with jax.enable_x64(True):
            jax.make_jaxpr(fn)(variables, {"x": jnp.zeros((4, 8), jnp.float32)}, jax.random.PRNGKey(0))
        phases["lower"] = time.perf_counter() - start
    phases["nodes"] = len(toposort(graph.roots()))
    return phases


def run(args) -> list[str]:
    sizes = [1_000, 10_000] + ([] if args.quick else [100_000])
    pipeline(generate(300))  # warm up: grammar load, JAX's first dispatches
    rows = []
    print("compile pipeline (parse + build + passes + lowering to a jaxpr, no XLA compile):")
    print(f"  {'nodes':>7} {'parse':>9} {'build':>9} {'passes':>9} {'lower':>9} {'total':>9} {'per node':>10}")
    for size in sizes:
        p = pipeline(generate(size))
        total = p["parse"] + p["build"] + p["passes"] + p["lower"]
        row = (f"  {p['nodes']:>7} {fmt(p['parse']):>9} {fmt(p['build']):>9} {fmt(p['passes']):>9} "
               f"{fmt(p['lower']):>9} {fmt(total):>9} {fmt(total / p['nodes']):>10}")
        print(row)
        rows.append(row)
        rows.append(f"    passes alone: {fmt(p['passes'] / p['nodes'])} per node")
        print(rows[-1])
    return rows
