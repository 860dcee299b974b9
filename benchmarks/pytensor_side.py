"""kgraph and PyTensor's JAX mode side by side, on the compile benchmark's two programs.

Each side is timed from its program to the first result: `kgraph.compile` of the
text plus the first run, against `pytensor.function(..., mode="JAX")` of the same
graph (built in Python, not timed) plus the first call. Both include JAX's tracing
and XLA's compile. Then a call's run time, min and median of repeats.

PyTensor runs in a child process with a time limit, because its compile time can
grow faster than the graph (the case this comparison is about). PyTensor is not a
dependency of kgraph; without it this prints why it was skipped.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from .timing import fmt, measure

TIME_LIMIT = 120  # seconds for one PyTensor compile and its runs
SIZES = (100, 300, 1_000, 10_000)  # after PyTensor runs past the limit, larger sizes are skipped


def _flat(pt, n_nodes: int):
    import pytensor

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
    return x, pt.sum(h[-1]), np.zeros((4, 8), np.float32)


def _attention(pt, n_nodes: int):
    import pytensor

    from .compile_time import NODES_PER_BLOCK

    layers = max(1, n_nodes // NODES_PER_BLOCK)
    rng = np.random.default_rng(0)

    def weights(*shape):
        return pytensor.shared(rng.normal(0, 0.1, (layers,) + shape).astype(np.float32))

    Wq, Wk, Wv, Wo, W1, W2 = (weights(16, 16), weights(16, 16), weights(16, 16), weights(16, 16),
                              weights(16, 32), weights(32, 16))

    def layer_norm(h):
        d = h - h.mean(axis=-1, keepdims=True)
        return d / pt.sqrt((d ** 2).mean(axis=-1, keepdims=True) + 1e-5)

    def attention(h, i):
        q, k, v = pt.matmul(h, Wq[i]), pt.matmul(h, Wk[i]), pt.matmul(h, Wv[i])
        s = pt.special.softmax(pt.matmul(q, k.transpose(0, 2, 1)) * 0.25, axis=-1)
        return pt.matmul(pt.matmul(s, v), Wo[i])

    x = pt.tensor3("x", dtype="float32")
    h = x
    for i in range(layers):
        h = h + attention(layer_norm(h), i)
        h = h + pt.matmul(pt.maximum(pt.matmul(layer_norm(h), W1[i]), 0), W2[i])
    return x, pt.mean(h ** 2), np.zeros((2, 8, 16), np.float32)


def _child(program: str, size: int) -> None:
    """In the child process: compile with PyTensor, print the times as JSON."""
    import pytensor
    import pytensor.tensor as pt

    x, out, value = {"flat": _flat, "attention": _attention}[program](pt, size)
    start = time.perf_counter()
    f = pytensor.function([x], out, mode="JAX")
    f(value)
    first = time.perf_counter() - start
    run_min, run_median = measure(lambda: f(value), repeats=20, number=5)
    print(json.dumps({"first": first, "run_min": run_min, "run_median": run_median}))


def _pytensor(program: str, size: int) -> dict | None:
    """PyTensor's times, or None when it ran past TIME_LIMIT."""
    cmd = [sys.executable, "-m", "benchmarks.pytensor_side", program, str(size)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIME_LIMIT, check=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _kgraph(program: str, size: int) -> dict:
    import kgraph

    from .compile_time import PROGRAMS

    source, feeds = PROGRAMS[program](size)
    value = np.asarray(feeds["x"])
    start = time.perf_counter()
    prog = kgraph.compile(source)
    prog.run(x=value)
    first = time.perf_counter() - start
    run_min, run_median = measure(lambda: prog.run(x=value), repeats=20, number=5)
    return {"first": first, "run_min": run_min, "run_median": run_median}


def run(args) -> list[str]:
    try:
        import pytensor
    except ImportError as e:
        row = f"PyTensor side by side: skipped (PyTensor is not importable: {e})"
        print(row)
        return [row]

    rows = [f"PyTensor {pytensor.__version__} side by side (text or graph → first result, then a call; "
            f"kgraph ÷ PyTensor):"]
    print(rows[0])
    for program in ("flat", "attention"):
        for size in SIZES[:3] if args.quick else SIZES:
            ours, theirs = _kgraph(program, size), _pytensor(program, size)
            if theirs is None:
                row = (f"  {program:>9} {size:>6} nodes: first result kgraph {fmt(ours['first'])}, "
                       f"PyTensor did not finish in {TIME_LIMIT} s; larger sizes skipped")
            else:
                row = (f"  {program:>9} {size:>6} nodes: first result kgraph {fmt(ours['first'])}, "
                       f"PyTensor {fmt(theirs['first'])} ({ours['first'] / theirs['first']:.3f}x); "
                       f"a call kgraph {fmt(ours['run_min'])} / {fmt(ours['run_median'])}, "
                       f"PyTensor {fmt(theirs['run_min'])} / {fmt(theirs['run_median'])} "
                       f"({ours['run_min'] / theirs['run_min']:.2f}x min, "
                       f"{ours['run_median'] / theirs['run_median']:.2f}x median)")
            print(row, flush=True)
            rows.append(row)
            if theirs is None:
                break
    return rows


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
