"""Deep stacks (issue 16, goal 3): a stack of transformer blocks, kgraph against `jax.lax.scan`.

The kgraph program is the plain one a user writes: one `def block(h, i)` called once per
layer, `h{i+1} = block(h{i}, {i})`, each call reading its layer's slices `Wq[i]`, ...
(compile_time.py's `attention` program). kgraph's scan-blocks pass turns the chain into
one loop. The reference is the same stack written by hand as `jax.lax.scan` over the
stacked parameters, the restructuring plain JAX needs from its user.

- first result: fresh processes, alternating (kgraph, hand-written scan, kgraph with
  `--no-scan-blocks`); each imports jax, jax.numpy and NumPy before its clock starts;
  the kgraph side then times `import kgraph`, compile and the first run, the hand side
  `jax.jit` and its first call (its weights made before the clock, its best case).
- call time: one process, the two compiled functions called in interleaved repeats,
  NumPy feed in and NumPy result out on both sides.
- threshold: compile + first run of kgraph with the pass forced on (`scan_blocks=2`)
  and off at a few depths; the shortest depth from which the loop is ahead is the
  default (`passes.SCAN_MIN_BLOCKS`).

    python -m benchmarks --only deep [--quick]
    python -m benchmarks.deep_stack threshold      # the threshold sweep alone
    python -m benchmarks.deep_stack floor          # each side's first result, phase by phase
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from . import goals
from .timing import fmt, interleaved

LAYERS = LAYERS_QUICK = 96  # --quick: fewer repeats, no unrolled side
BATCH = (4, 8, 16)
SHAPES = [(16, 16)] * 4 + [(16, 32), (32, 16)]
THRESHOLD_DEPTHS = (2, 3, 4, 6, 8, 12)


def program(layers: int) -> str:
    from .compile_time import ATTENTION

    lines = [ATTENTION.format(L=layers)]
    lines += [f"h{i + 1} = block(h{i}, {i})" for i in range(layers)]
    lines.append(f"output mean(square(h{layers})) as loss")
    return "\n".join(lines) + "\n"


def hand_scan():
    """The stack by hand: one `jax.lax.scan` step per layer over the stacked weights."""
    import jax
    import jax.numpy as jnp

    def layer_norm(h):
        d = h - jnp.mean(h, axis=-1, keepdims=True)
        return d / jnp.sqrt(jnp.mean(jnp.square(d), axis=-1, keepdims=True) + 1e-5)

    def step(h, w):
        wq, wk, wv, wo, w1, w2 = w
        a = layer_norm(h)
        q, k, v = a @ wq, a @ wk, a @ wv
        s = jax.nn.softmax(jnp.einsum("bij,bkj->bik", q, k) * 0.25, axis=-1)
        h = h + jnp.einsum("bik,bkj->bij", s, v) @ wo
        return h + jax.nn.relu(layer_norm(h) @ w1) @ w2, None

    def f(x, weights):
        h, _ = jax.lax.scan(step, x, weights)
        return jnp.mean(jnp.square(h))

    return f


def weights(layers: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return tuple((rng.normal(size=(layers, *s)) * 0.1).astype(np.float32) for s in SHAPES)


def _child(side: str, layers: int, scan_blocks: str) -> None:
    import jax
    import jax.numpy  # noqa: F401 (what either side pays before its first op)
    import numpy as np

    jax.config.update("jax_enable_compilation_cache", False)
    x = np.zeros(BATCH, np.float32)
    if side == "jax":
        f, w = hand_scan(), weights(layers)
        start = time.perf_counter()
        np.asarray(jax.jit(f)(x, w))
        print(json.dumps({"total": time.perf_counter() - start}))
        return
    source = sys.stdin.read()
    option = {"on": True, "off": False}[scan_blocks] if scan_blocks in ("on", "off") else int(scan_blocks)
    start = time.perf_counter()
    import kgraph

    prog = kgraph.compile(source, scan_blocks=option)
    compiled = time.perf_counter()
    prog.run(x=x)
    end = time.perf_counter()
    print(json.dumps({"total": end - start, "compile": compiled - start, "first call": end - compiled}))


def _floor_child(side: str, layers: int) -> None:
    """One fresh process's phases: where the first result's time goes, on each side."""
    import jax
    import jax.numpy  # noqa: F401
    import numpy as np

    jax.config.update("jax_enable_compilation_cache", False)
    x = np.zeros(BATCH, np.float32)
    clock = [time.perf_counter()]
    phases = {}

    def lap(name):
        clock.append(time.perf_counter())
        phases[name] = clock[-1] - clock[-2]

    if side == "jax":
        f, w = hand_scan(), weights(layers)
        clock[0] = time.perf_counter()
        lowered = jax.jit(f).lower(x, w)
        lap("trace + lower")
        compiled = lowered.compile()
        lap("XLA")
        np.asarray(compiled(x, w))
        lap("run")
    else:
        source = sys.stdin.read()
        clock[0] = time.perf_counter()
        import kgraph

        lap("import kgraph")
        timings = {}
        prog = kgraph.compile(source, timings=timings)
        lap("compile")
        phases.update(timings)
        phases["Program setup"] = phases.pop("compile") - sum(timings.values())
        prog.module.variables  # the initial values (a background XLA call), waited for here
        lap("initial values")
        prog.run(x=x)
        lap("first run (trace, XLA, run)")
    print(json.dumps(phases))


def floor(layers: int = LAYERS, repeats: int = 3) -> list[str]:
    """The first result's phases on each side, min over fresh processes (kgraph's initial values
    are waited for before its first run here, so each phase is timed alone)."""
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    mins: dict[str, dict[str, float]] = {"kgraph": {}, "jax": {}}
    for _ in range(repeats):
        for side in mins:
            out = subprocess.run([sys.executable, "-m", "benchmarks.deep_stack", "floor-child", side,
                                  str(layers)], input=program(layers) if side == "kgraph" else "",
                                 capture_output=True, text=True, env=env, check=True)
            for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items():
                mins[side][k] = min(v, mins[side].get(k, v))
    rows = [f"deep stack, {layers} blocks, where the first result goes (min of {repeats} fresh processes each):"]
    for side, phases in mins.items():
        rows.append(f"  {side:<7} " + ", ".join(f"{k} {fmt(v)}" for k, v in phases.items())
                    + f"; sum {fmt(sum(phases.values()))}")
    print("\n".join(rows), flush=True)
    return rows


def _sample(side: str, layers: int, scan_blocks: str = "on") -> dict:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    out = subprocess.run([sys.executable, "-m", "benchmarks.deep_stack", "child", side, str(layers),
                          scan_blocks], input=program(layers) if side == "kgraph" else "",
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_result(layers: int, repeats: int, unrolled: bool = True) -> list[str]:
    sides = {"kgraph": ("kgraph", "on"), "jax.lax.scan": ("jax", "on")}
    if unrolled:  # 20 s and more a sample at 96 blocks: the full run only
        sides["kgraph unrolled"] = ("kgraph", "off")
    samples: dict[str, list[dict]] = {k: [] for k in sides}
    for _ in range(repeats):
        for name, (side, option) in sides.items():
            samples[name].append(_sample(side, layers, option))
    totals = {k: [s["total"] for s in v] for k, v in samples.items()}
    rows = [f"deep stack, {layers} transformer blocks, first result (fresh processes, min / median of "
            f"{repeats}):"]
    for name, t in totals.items():
        extra = ""
        if name.startswith("kgraph"):
            extra = (f"  (compile {fmt(min(s['compile'] for s in samples[name]))}, first call "
                     f"{fmt(min(s['first call'] for s in samples[name]))})")
        rows.append(f"  {name:<16} {fmt(min(t)):>9} / {fmt(statistics.median(t)):>9}{extra}")
    ratio = min(totals["kgraph"]) / min(totals["jax.lax.scan"])
    rows.append(f"  kgraph / jax.lax.scan: min {ratio:.3g}x  median "
                f"{statistics.median(totals['kgraph']) / statistics.median(totals['jax.lax.scan']):.3g}x"
                f"  (target <= 1.5)")
    if unrolled:
        rows[-1] += f"; unrolled / kgraph min {min(totals['kgraph unrolled']) / min(totals['kgraph']):.3g}x"
    goals.record("deep first result", ratio, 1.5, note="min")
    print("\n".join(rows), flush=True)
    return rows


def call_time(layers: int, repeats: int, unrolled: bool = True) -> list[str]:
    import jax
    import numpy as np

    import kgraph

    prog = kgraph.compile(program(layers))
    w = tuple(jax.device_put(prog.variables[k]) for k in ("Wq", "Wk", "Wv", "Wo", "W1", "W2"))
    hand = jax.jit(hand_scan())
    x = np.random.default_rng(1).normal(size=BATCH).astype(np.float32)
    want = np.asarray(hand(x, w))
    np.testing.assert_allclose(prog.run(x=x)["loss"], want, rtol=1e-4)
    xd = jax.device_put(x)
    fns = {"kgraph": lambda: prog.run(x=x), "jax.lax.scan": lambda: np.asarray(hand(x, w)),
           "kgraph, device": lambda: jax.block_until_ready(list(prog.run(x=xd, to_numpy=False).values())),
           "scan, device": lambda: hand(xd, w).block_until_ready()}
    if unrolled:
        flat = kgraph.compile(program(layers), scan_blocks=False)
        np.testing.assert_allclose(flat.run(x=x)["loss"], want, rtol=1e-4)
        fns["kgraph unrolled"] = lambda: flat.run(x=x)
    t = interleaved(fns, repeats=repeats, number=20)
    rows = [f"deep stack, {layers} blocks, call time (NumPy in and out, interleaved, min / median of "
            f"{repeats} x 20 calls):"]
    rows += [f"  {k:<16} {fmt(lo):>9} / {fmt(med):>9}" for k, (lo, med) in t.items()]
    ratio = t["kgraph"][0] / t["jax.lax.scan"][0]
    rows.append(f"  kgraph / jax.lax.scan: min {ratio:.3g}x  median "
                f"{t['kgraph'][1] / t['jax.lax.scan'][1]:.3g}x  (target <= 1.1); device arrays in and out: "
                f"min {t['kgraph, device'][0] / t['scan, device'][0]:.3g}x  median "
                f"{t['kgraph, device'][1] / t['scan, device'][1]:.3g}x")
    if unrolled:
        rows[-1] += f"; unrolled / kgraph min {t['kgraph unrolled'][0] / t['kgraph'][0]:.3g}x"
    goals.record("deep call", ratio, 1.1, note="min")
    print("\n".join(rows), flush=True)
    return rows


def threshold(depths=THRESHOLD_DEPTHS, repeats: int = 5) -> list[str]:
    """Compile + first run with the pass forced on (chains of 2 or more) against off, per depth.

    In one process, interleaved: what a fresh process adds (starting Python and JAX,
    `import kgraph`) is the same on both sides, and leaving it out leaves less noise.
    Each sample compiles a new program, so JAX traces and XLA compiles it again.
    """
    import numpy as np

    import kgraph

    x = np.zeros(BATCH, np.float32)

    def first_result(source, option):
        start = time.perf_counter()
        kgraph.compile(source, scan_blocks=option).run(x=x)
        return time.perf_counter() - start

    first_result(program(2), 2)  # warm up: grammar, JAX's first dispatches
    rows = [f"scan-blocks threshold: compile + first run, loop (scan_blocks=2) / unrolled, one process, "
            f"interleaved, min / median of {repeats}:"]
    for layers in depths:
        source, loop, flat = program(layers), [], []
        for _ in range(repeats):
            loop.append(first_result(source, 2))
            flat.append(first_result(source, False))
        rows.append(f"  {layers:>3} blocks: loop {fmt(min(loop)):>9} / {fmt(statistics.median(loop)):>9}  "
                    f"unrolled {fmt(min(flat)):>9} / {fmt(statistics.median(flat)):>9}  loop / unrolled "
                    f"{min(loop) / min(flat):.3g}x / {statistics.median(loop) / statistics.median(flat):.3g}x")
        print(rows[-1], flush=True)
    return rows


def run(args) -> list[str]:
    layers = LAYERS_QUICK if args.quick else LAYERS
    rows = first_result(layers, 2 if args.quick else 5, unrolled=not args.quick)
    rows += call_time(layers, 15 if args.quick else 60, unrolled=not args.quick)
    if not args.quick:
        rows += floor(layers)
        rows += threshold()
    return rows


if __name__ == "__main__":
    if sys.argv[1] == "child":
        _child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "floor-child":
        _floor_child(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "floor":
        print(f"load average {os.getloadavg()[0]:.1f}")
        floor(*(int(a) for a in sys.argv[2:]))
    else:
        print(f"load average {os.getloadavg()[0]:.1f}")
        threshold(tuple(int(d) for d in sys.argv[2:]) or THRESHOLD_DEPTHS)
