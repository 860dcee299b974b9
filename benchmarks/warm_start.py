"""Time to first result, warm: a second process running the same program with the same feed shapes.

kgraph's side uses its program cache (kgraph/warm.py: the stored executable, no parse, build,
passes, tracing or XLA compile); the hand side is the same ops in `jax.jit` (first_result.py's)
with JAX's persistent compilation cache on, the best JAX offers (it always traces and lowers
again, then loads XLA's executable from its cache). Both are primed by one run first; then the
samples alternate, kgraph first, each a fresh process. As in first_result.py both sides import
jax, jax.numpy and NumPy before the clock; kgraph's clock covers `import kgraph`, `compile` and
the first `run`, the hand side's `jax.jit(f)(*args)` and the copy of its result to the host.

The miss's cost is measured too: `compile(cache=True)` into an empty cache directory against
`compile(cache=False)`, alternating, JAX's persistent cache off on both. Each row also gives the CPU time
of the timed part (all threads, a miss's writes included): under load it is the steadier figure.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import goals
from .timing import fmt

SIZES_QUICK, SIZES_FULL = (1000,), (1000, 10000)


def _child(side: str, program: str, n_nodes: int, cache_dir: str) -> None:
    import jax
    import jax.numpy  # noqa: F401 (0.3 s that either side pays before its first op)
    import numpy as np

    if side == "jax":
        from .first_result import _hand_attention, _hand_flat

        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        f, args = (_hand_flat if program == "flat" else _hand_attention)(n_nodes)
        start, cpu = time.perf_counter(), time.process_time()
        np.asarray(jax.jit(f)(*args))
        print(json.dumps({"total": time.perf_counter() - start, "cpu": time.process_time() - cpu}))
        return
    jax.config.update("jax_enable_compilation_cache", False)
    os.environ["KGRAPH_CACHE_DIR"] = cache_dir
    source = sys.stdin.read()
    feeds = {"x": np.zeros((4, 8) if program == "flat" else (2, 8, 16), np.float32)}
    start, cpu = time.perf_counter(), time.process_time()
    import kgraph

    imported = time.perf_counter()
    prog = kgraph.compile(source, cache=side != "off")
    compiled = time.perf_counter()
    prog.run(**feeds)
    end = time.perf_counter()
    kgraph.warm.flush()  # a miss's entries are written beside the run: their CPU time counts
    print(json.dumps({"total": end - start, "import": imported - start, "compile": compiled - imported,
                      "first call": end - compiled, "cpu": time.process_time() - cpu,
                      "hit": type(prog).__name__ == "CachedProgram" and prog._program is None}))


def _sample(side: str, program: str, n_nodes: int, cache_dir: str) -> dict:
    from . import compile_time

    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    source = getattr(compile_time, program)(n_nodes)[0] if side != "jax" else ""
    out = subprocess.run([sys.executable, "-m", "benchmarks.warm_start", side, program, str(n_nodes), cache_dir],
                         input=source, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _warm(program: str, n_nodes: int, repeats: int, tmp: Path) -> str:
    kgraph_dir, jax_dir = str(tmp / f"kgraph-{program}-{n_nodes}"), str(tmp / f"jax-{program}-{n_nodes}")
    _sample("kgraph", program, n_nodes, kgraph_dir)  # the priming runs: a miss each
    _sample("jax", program, n_nodes, jax_dir)
    samples = {"kgraph": [], "jax": []}
    for _ in range(repeats):
        samples["kgraph"].append(_sample("kgraph", program, n_nodes, kgraph_dir))
        samples["jax"].append(_sample("jax", program, n_nodes, jax_dir))
    if not all(s["hit"] for s in samples["kgraph"]):
        raise RuntimeError(f"{program} {n_nodes}: kgraph's program cache missed on a warm run")
    k, j = ([s["total"] for s in samples[side]] for side in ("kgraph", "jax"))
    kc, jc = (min(s["cpu"] for s in samples[side]) for side in ("kgraph", "jax"))
    parts = {p: min(s[p] for s in samples["kgraph"]) for p in ("import", "compile", "first call")}
    goals.record(f"warm {program} {n_nodes // 1000}k", min(k) / min(j), 0.5)
    return (f"  {program} {n_nodes} nodes: kgraph {fmt(min(k))} / {fmt(statistics.median(k))} (import "
            f"{fmt(parts['import'])}, compile {fmt(parts['compile'])}, first call {fmt(parts['first call'])}), "
            f"jax.jit with its cache {fmt(min(j))} / {fmt(statistics.median(j))}: kgraph / jax min "
            f"{min(k) / min(j):.3g}x median {statistics.median(k) / statistics.median(j):.3g}x (target <= 0.5); "
            f"CPU time (all threads, min) {fmt(kc)} / {fmt(jc)} = {kc / jc:.3g}x")


def _miss(program: str, n_nodes: int, repeats: int, tmp: Path) -> str:
    samples = {"miss": [], "off": []}
    for i in range(repeats):
        samples["miss"].append(_sample("kgraph", program, n_nodes, str(tmp / f"miss-{program}-{i}")))
        samples["off"].append(_sample("off", program, n_nodes, str(tmp / "off")))
    m, o = ([s["total"] for s in samples[side]] for side in ("miss", "off"))
    mc, oc = (min(s["cpu"] for s in samples[side]) for side in ("miss", "off"))
    return (f"  {program} {n_nodes} nodes, a miss: compile(cache=True) into an empty cache {fmt(min(m))} / "
            f"{fmt(statistics.median(m))}, cache=False {fmt(min(o))} / {fmt(statistics.median(o))}: "
            f"min {min(m) / min(o):.3g}x median {statistics.median(m) / statistics.median(o):.3g}x; "
            f"CPU time (all threads, writes included, min) {fmt(mc)} / {fmt(oc)} = {mc / oc:.3g}x")


def run(args) -> list[str]:
    rows = ["time to first result, warm (fresh processes after a priming run, min / median):"]
    repeats = 3 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        for program in ("flat", "attention"):
            for n_nodes in SIZES_QUICK if args.quick else SIZES_FULL:
                rows.append(_warm(program, n_nodes, repeats if n_nodes < 10000 else 1, Path(tmp)))
                print(rows[-1], flush=True)
        for program in ("flat", "attention"):
            rows.append(_miss(program, 1000, 2 if args.quick else 3, Path(tmp)))
            print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
