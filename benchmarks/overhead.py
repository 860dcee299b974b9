"""Per-call overhead: a tiny program through Program.run against the raw jitted function.

After the ratio, the same call built up step by step (each row adds one part of
`Program.run` to the previous one) shows where the difference goes, and the floor: the least
a `run(**feeds) -> dict` can cost, a two-line wrapper around the same jitted step (a keyword
call, one dict) with no check at all, measured in the same loop.
"""
from __future__ import annotations

import jax
import numpy as np

import kgraph

from . import goals
from .timing import interleaved, report


def run(args) -> list[str]:
    prog = kgraph.compile("placeholder x: float32[4]\noutput x * 2.0 + 1.0 as y", opt_level=2)
    raw = jax.jit(lambda x: x * 2.0 + 1.0)
    x = np.arange(4, dtype=np.float32)
    xd = jax.device_put(x)
    jitted = prog.jitted
    fns = {"kgraph Program.run": lambda: prog.run(x=x)["y"], "raw jax.jit": lambda: np.asarray(raw(x)),
           "run(to_numpy=False)": lambda: prog.run(x=xd, to_numpy=False)["y"].block_until_ready(),
           "prog.jitted": lambda: jitted(xd)[0].block_until_ready(),
           "raw, device array": lambda: raw(xd).block_until_ready()}
    for f in fns.values():
        f()
    t = interleaved(fns, repeats=15 if args.quick else 50, number=200)
    rows = report("per-call overhead, float32[4] input (NumPy in and out; then device arrays):", t,
                  [("kgraph / raw", "kgraph Program.run", "raw jax.jit", "(target <= 1.05)"),
                   ("run(to_numpy=False) / raw", "run(to_numpy=False)", "raw, device array",
                    "(target <= 1.1)"),
                   ("prog.jitted / raw", "prog.jitted", "raw, device array", "(target <= 1.1)")])
    goals.record("dispatch numpy", t["kgraph Program.run"][0] / t["raw jax.jit"][0], 1.05)
    goals.record("dispatch device", t["run(to_numpy=False)"][0] / t["raw, device array"][0], 1.1,
                 note=f"prog.jitted {t['prog.jitted'][0] / t['raw, device array'][0]:.3g}x")
    return rows + breakdown(prog, raw, x, args.quick)


def breakdown(prog, raw, x, quick: bool) -> list[str]:
    step, numbered = prog._function(), prog._numbered_outputs
    xd = jax.device_put(x)

    def results(outs):
        result = {}
        for i, name in numbered:
            result[name] = np.asarray(outs[i])
        return result

    def floor(**feeds):  # the least run(**feeds) -> dict can do: no check, no class, one dict
        return {"y": np.asarray(step(feeds["x"])[0])}

    def floor_device(**feeds):
        return {"y": step(feeds["x"])[0]}

    def checked(**feeds):
        return results(step(prog._checked(feeds)["x"]))

    fns = {"raw": lambda: np.asarray(raw(x)),
           "step": lambda: np.asarray(step(x)[0]),
           "+ result dict": lambda: results(step(x)),
           "floor: run(**feeds)": lambda: floor(x=x),
           "+ full feed check": lambda: checked(x=x),
           "Program.run": lambda: prog.run(x=x),
           "raw, device": lambda: raw(xd).block_until_ready(),
           "floor, device": lambda: floor_device(x=xd)["y"].block_until_ready(),
           "run(to_numpy=False)": lambda: prog.run(x=xd, to_numpy=False)["y"].block_until_ready()}
    for f in fns.values():
        f()
    t = interleaved(fns, repeats=30 if quick else 150, number=100)
    ratios = [(f"{name} / raw", name, "raw", "") for name in list(fns)[1:6]]
    ratios += [(f"{name} / raw, device", name, "raw, device", "") for name in list(fns)[7:]]
    return report("  where it goes (each row adds a part of Program.run; the floors are the least a "
                  "run(**feeds) -> dict costs):", t, ratios)
