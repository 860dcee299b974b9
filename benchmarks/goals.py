"""Issue 16's goals in one table: each benchmark records its figure, `python -m benchmarks` prints them.

A benchmark module calls `record(key, value, target)` for each figure that a goal of
issue 16 names (a ratio, or steps per second against hand-written JAX); after the benchmarks
have run, `summary()` prints every expected figure with its target and PASS / FAIL, and
"not measured" for one that no benchmark recorded in this run (so a missing row shows).

To add a goal's row: list its key in EXPECTED (below, in the order of the issue), then have
the benchmark call `record` with that key. Ratios are kgraph over the reference unless
`at_least` says the figure must reach the target from below (steps/s, speed-ups).
"""
from __future__ import annotations

from dataclasses import dataclass

# key -> what the figure is (the wording). One line each: other branches add theirs.
EXPECTED = {
    "cold flat 1k": "goal 1: flat 1k nodes, cold, kgraph / jax.jit (min)",
    "cold attention 1k": "goal 1: attention 1k nodes, cold, kgraph / jax.jit (min)",
    "cold flat 10k": "goal 1: flat 10k nodes, cold, kgraph / jax.jit (one sample)",
    "cold attention 10k": "goal 1: attention 10k nodes, cold, kgraph / jax.jit (one sample)",
    "warm flat 1k": "goal 2: flat 1k, warm, kgraph / JAX warm with its cache (min)",
    "warm attention 1k": "goal 2: attention 1k, warm, kgraph / JAX warm with its cache (min)",
    "warm flat 10k": "goal 2: flat 10k, warm, kgraph / JAX warm with its cache (one sample)",
    "warm attention 10k": "goal 2: attention 10k, warm, kgraph / JAX warm with its cache (one sample)",
    "deep first result": "goal 3: 96 blocks, first result, kgraph / hand-written scan",
    "deep call": "goal 3: 96 blocks, call time, kgraph / hand-written scan",
    "dispatch numpy": "goal 4: run(numpy) / np.asarray(raw jit) (min)",
    "dispatch device": "goal 4: run(to_numpy=False) / raw jit, device arrays (min)",
    "mlp": "goal 5: MLP forward + gradient, kgraph / hand (median)",
    "train": "goal 5: training steps/s, kgraph / hand (median)",
    "cli start-up": "goal 5: `kgraph run` tiny program / tiny jax script (min)",
    "matrix chain": "goal 5: chain as written / kgraph, device arrays, 2000x2000 (min)",
}
FULL_ONLY = {"cold flat 10k", "cold attention 10k", "warm flat 10k", "warm attention 10k"}  # minutes a sample: not in --quick


@dataclass
class Figure:
    key: str
    value: float
    target: float
    at_least: bool
    note: str

    @property
    def passed(self) -> bool:
        return self.value >= self.target if self.at_least else self.value <= self.target


FIGURES: dict[str, Figure] = {}


def record(key: str, value: float, target: float, *, at_least: bool = False, note: str = "") -> None:
    """Keep one goal's figure for the summary (a later record of the same key replaces it)."""
    FIGURES[key] = Figure(key, value, target, at_least, note)


def summary(quick: bool = False) -> list[str]:
    """Print and return the goal table: every expected figure, then any extra recorded ones."""
    rows = ["issue 16 goals (this run):"]
    expected = [k for k in EXPECTED if not (quick and k in FULL_ONLY)]
    for key in expected + [k for k in FIGURES if k not in expected]:
        what = EXPECTED.get(key, key)
        fig = FIGURES.get(key)
        if fig is None:
            rows.append(f"  {what:<72} not measured")
            continue
        sign = ">=" if fig.at_least else "<="
        verdict = "PASS" if fig.passed else "FAIL"
        note = f"  ({fig.note})" if fig.note else ""
        rows.append(f"  {what:<72} {fig.value:8.3g}  target {sign} {fig.target:<5g} {verdict}{note}")
    print("\n".join(rows))
    return rows
