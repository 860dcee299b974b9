"""Time to first result, cold: kgraph against the same program written by hand in jax.jit.

Each sample is a fresh process (no in-memory caches, JAX's persistent cache off). Both sides
import jax, jax.numpy and NumPy before the clock starts; the kgraph side then imports kgraph, compiles
the generated program text (compile_time.py's `flat` and `attention`) and runs it once; the
hand side builds the same ops with jax.numpy under jax.jit and calls it once. The hand side's
variables are NumPy arrays made before the clock starts (its best case); kgraph computes its
variables' random initial values inside the timed part, and `import kgraph` is timed too.
Processes alternate, kgraph first.
Within the kgraph sample, "first call" is the first `run` (trace, lowering, XLA, execution).
Each row also gives the CPU time of the timed part (all threads): kgraph computes its variables'
initial values on a second thread, which shortens the wall time only where a core is free.

kgraph is byte-compiled before the samples, as `pip install` leaves it: the benchmark's
environment may set PYTHONDONTWRITEBYTECODE, and a source checkout without `__pycache__`
would then compile kgraph's Python in every sample (0.3 s or more), which jax, installed with
its bytecode, never pays.

A second table is XLA's compile time of the step alone (`lower(...).compile()`) at kgraph's
-O0 and -O2, fresh processes alternating, with the number of StableHLO ops each hands to XLA:
what kgraph's passes (folding, CSE, fusion) save XLA.
"""
from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import goals
from .timing import fmt

SIZES_QUICK, SIZES_FULL = (1000,), (1000, 10000)


def _hand_flat(n_nodes: int):
    import jax
    import jax.numpy as jnp
    import numpy as np

    steps = -(-n_nodes // 3)

    def f(x, W):
        h = [x]
        for i in range(1, steps + 1):
            if i % 3 == 0:
                h.append(jax.nn.softmax(h[i - 1], axis=-1) - h[i - 2] * 0.5)
            else:
                h.append(h[i - 1] * 0.5 + jnp.dot(h[i - 1], W))
        return jnp.sum(h[-1])

    rng = np.random.default_rng(0)
    return f, (np.zeros((4, 8), np.float32), (rng.normal(size=(8, 8)) * 0.1).astype(np.float32))


def _hand_attention(n_nodes: int):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from .compile_time import NODES_PER_BLOCK

    layers = max(1, n_nodes // NODES_PER_BLOCK)
    rng = np.random.default_rng(0)
    shapes = [(16, 16)] * 4 + [(16, 32), (32, 16)]
    weights = tuple((rng.normal(size=(layers, *s)) * 0.1).astype(np.float32) for s in shapes)

    def layer_norm(h):
        d = h - jnp.mean(h, axis=-1, keepdims=True)
        return d / jnp.sqrt(jnp.mean(jnp.square(d), axis=-1, keepdims=True) + 1e-5)

    def f(x, Wq, Wk, Wv, Wo, W1, W2):
        h = x
        for i in range(layers):
            a = layer_norm(h)
            q, k, v = a @ Wq[i], a @ Wk[i], a @ Wv[i]
            s = jax.nn.softmax(jnp.einsum("bij,bkj->bik", q, k) * 0.25, axis=-1)
            h = h + jnp.einsum("bik,bkj->bij", s, v) @ Wo[i]
            h = h + jax.nn.relu(layer_norm(h) @ W1[i]) @ W2[i]
        return jnp.mean(jnp.square(h))

    return f, (np.zeros((2, 8, 16), np.float32), *weights)


def _child(side: str, program: str, n_nodes: int) -> None:
    import jax
    import jax.numpy  # noqa: F401 (0.3 s that either side pays before its first op)
    import numpy as np

    jax.config.update("jax_enable_compilation_cache", False)
    if side.startswith("-O"):
        _child_xla(int(side[2:]), program, sys.stdin.read())
        return
    if side == "jax":
        f, args = (_hand_flat if program == "flat" else _hand_attention)(n_nodes)
        start, cpu = time.perf_counter(), time.process_time()
        np.asarray(jax.jit(f)(*args))
        print(json.dumps({"total": time.perf_counter() - start, "cpu": time.process_time() - cpu}))
        return
    # The program text comes from the parent, so that `import kgraph` falls inside the clock.
    source = sys.stdin.read()
    feeds = {"x": np.zeros((4, 8) if program == "flat" else (2, 8, 16), np.float32)}
    start, cpu = time.perf_counter(), time.process_time()
    import kgraph

    prog = kgraph.compile(source)
    compiled = time.perf_counter()
    prog.run(**feeds)
    end = time.perf_counter()
    print(json.dumps({"total": end - start, "compile": compiled - start, "first call": end - compiled,
                      "cpu": time.process_time() - cpu}))


def _child_xla(opt_level: int, program: str, source: str) -> None:
    """XLA's compile of the step alone, the step traced and lowered beforehand."""
    import numpy as np

    import kgraph

    prog = kgraph.compile(source, opt_level=opt_level)
    feeds = {"x": np.zeros((4, 8) if program == "flat" else (2, 8, 16), np.float32)}
    lowered = prog._function().trace(*prog.arguments(feeds)).lower()
    ops = sum(1 for line in lowered.as_text().splitlines() if "stablehlo." in line)
    start, cpu = time.perf_counter(), time.process_time()
    lowered.compile()
    print(json.dumps({"xla": time.perf_counter() - start, "ops": ops, "cpu": time.process_time() - cpu}))


def _sample(side: str, program: str, n_nodes: int) -> dict:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    from . import compile_time

    source = getattr(compile_time, program)(n_nodes)[0] if side != "jax" else ""
    out = subprocess.run([sys.executable, "-m", "benchmarks.first_result", side, program, str(n_nodes)],
                         input=source, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _interleaved(sides: tuple[str, ...], program: str, n_nodes: int, repeats: int) -> dict[str, list]:
    """`repeats` samples of each side, the sides alternating so that load hits them alike."""
    samples: dict[str, list] = {side: [] for side in sides}
    for _ in range(repeats):
        for side in sides:
            samples[side].append(_sample(side, program, n_nodes))
    return samples


def _byte_compile_kgraph() -> None:
    import kgraph

    compileall.compile_dir(str(Path(kgraph.__file__).parent), quiet=1)


def run(args) -> list[str]:
    _byte_compile_kgraph()
    repeats = 2 if args.quick else 3
    cases = [(program, n_nodes) for program in ("flat", "attention")
             for n_nodes in (SIZES_QUICK if args.quick else SIZES_FULL)]
    rows = ["time to first result, cold (fresh processes, min / median):"]
    print(rows[-1], flush=True)
    for program, n_nodes in cases:
        rows.append(_first_row(program, n_nodes, _interleaved(("kgraph", "jax"), program, n_nodes, repeats)))
        print(rows[-1], flush=True)
    rows.append("XLA compile of the step alone, kgraph -O0 against -O2 (fresh processes, min / median):")
    print(rows[-1], flush=True)
    for program, n_nodes in cases:
        rows.append(_xla_row(program, n_nodes, _interleaved(("-O0", "-O2"), program, n_nodes, repeats)))
        print(rows[-1], flush=True)
    return rows


def _first_row(program: str, n_nodes: int, samples: dict[str, list]) -> str:
    k = [s["total"] for s in samples["kgraph"]]
    j = [s["total"] for s in samples["jax"]]
    comp = min(s["compile"] for s in samples["kgraph"])
    call = min(s["first call"] for s in samples["kgraph"])
    k_cpu, j_cpu = (min(s["cpu"] for s in samples[side]) for side in ("kgraph", "jax"))
    goals.record(f"cold {program} {n_nodes // 1000}k", min(k) / min(j), 1.0)
    return (f"  {program} {n_nodes} nodes: kgraph {fmt(min(k))} / {fmt(statistics.median(k))} "
            f"(compile {fmt(comp)}, first call {fmt(call)}), jax.jit {fmt(min(j))} / "
            f"{fmt(statistics.median(j))}: kgraph / jax min {min(k) / min(j):.3g}x "
            f"median {statistics.median(k) / statistics.median(j):.3g}x (target <= 1.0); CPU time "
            f"(all threads, min) kgraph {fmt(k_cpu)}, jax.jit {fmt(j_cpu)}")


def _xla_row(program: str, n_nodes: int, samples: dict[str, list]) -> str:
    low, high = ([s["xla"] for s in samples[k]] for k in ("-O0", "-O2"))
    low_cpu, high_cpu = (min(s["cpu"] for s in samples[k]) for k in ("-O0", "-O2"))
    return (f"  {program} {n_nodes} nodes: -O0 {fmt(min(low))} / {fmt(statistics.median(low))} "
            f"({samples['-O0'][0]['ops']} StableHLO ops), -O2 {fmt(min(high))} / "
            f"{fmt(statistics.median(high))} ({samples['-O2'][0]['ops']} ops): -O2 / -O0 "
            f"min {min(high) / min(low):.3g}x median {statistics.median(high) / statistics.median(low):.3g}x; "
            f"CPU min -O0 {fmt(low_cpu)}, -O2 {fmt(high_cpu)} ({high_cpu / low_cpu:.3g}x)")

if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
