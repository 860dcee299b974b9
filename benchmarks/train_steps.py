"""Training steps per second: `kgraph run` against the same loop hand-written in JAX.

    python -m benchmarks.train_steps [--quick]

kgraph's side is what `kgraph run examples/digits/train.kg --feed x=... --feed y=...
--steps 2000 --batch-size 64` does (kgraph.train.train on the same Batches the command
builds); JAX's side is the loop a JAX user would write: the same MLP and loss, a
`jax.jit` step with donated parameter buffers, batches sliced from NumPy arrays in
the same order (the last, short batch of each epoch included). Both run one epoch
first, so that both batch shapes are compiled before the clock starts, then
alternate timed runs of 2000 steps; the figure is the ratio of steps per second.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from . import goals

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits"
STEPS, BATCH, LR = 2000, 64, 0.5


def kgraph_loop(x: np.ndarray, y: np.ndarray):
    import kgraph
    from kgraph.train import Batches, Plan, train

    program = kgraph.load(DIGITS / "train.kg")
    batches = Batches(program, program.check_feeds({"x": x, "y": y}), BATCH)

    def run(steps: int) -> float:
        start = time.perf_counter()
        train(program, batches, Plan(steps=steps, log_every=0))
        return time.perf_counter() - start

    return run, batches.per_epoch


def jax_loop(x: np.ndarray, y: np.ndarray):
    import jax
    import jax.numpy as jnp

    def init():
        k1, k2 = jax.random.split(jax.random.PRNGKey(0))
        return (jax.random.uniform(k1, (64, 128), jnp.float32, -0.1768, 0.1768), jnp.zeros(128),
                jax.random.uniform(k2, (128, 10), jnp.float32, -0.2080, 0.2080), jnp.zeros(10))

    def loss_fn(params, xb, yb):
        W1, b1, W2, b2 = params
        logits = jax.nn.relu((xb / 16.0) @ W1 + b1) @ W2 + b2
        loss = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], axis=1))
        accuracy = jnp.mean((jnp.argmax(jax.nn.softmax(logits), axis=-1) == yb).astype(jnp.float32))
        return loss, accuracy

    def step(params, xb, yb):
        (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, xb, yb)
        return tuple(p - LR * g for p, g in zip(params, grads)), loss, accuracy

    step = jax.jit(step, donate_argnums=(0,))
    xs, ys = x.astype(np.float32), y.astype(np.int32)
    starts = list(range(0, len(xs), BATCH))
    state = {"params": init(), "i": 0}

    def run(steps: int) -> float:
        params, i = state["params"], state["i"]
        start = time.perf_counter()
        for _ in range(steps):
            s = starts[i % len(starts)]
            params, loss, accuracy = step(params, xs[s:s + BATCH], ys[s:s + BATCH])
            i += 1
        jax.block_until_ready(params)
        state["params"], state["i"] = params, i
        return time.perf_counter() - start

    return run


def run(args) -> list[str]:
    with np.load(DIGITS / "digits.npz", allow_pickle=False) as data:
        x, y = data["x_train"], data["y_train"]
    steps = 500 if args.quick else STEPS
    repeats = 3 if args.quick else 7
    kg, per_epoch = kgraph_loop(x, y)
    hand = jax_loop(x, y)
    kg(per_epoch + 1)  # compile both batch shapes (64 and the epoch's last, shorter one)
    hand(per_epoch + 1)
    times = {"kgraph run": [], "hand-written jax": []}
    for _ in range(repeats):  # alternate, so that load on the machine hits both alike
        times["kgraph run"].append(kg(steps))
        times["hand-written jax"].append(hand(steps))
    rows = [f"training steps/s: examples/digits/train.kg, --steps {steps} --batch-size {BATCH} "
            f"(best and median of {repeats})"]
    rate = {name: (steps / min(t), steps / statistics.median(t)) for name, t in times.items()}
    for name, (best, median) in rate.items():
        rows.append(f"  {name:<18} best {best:>9,.0f} steps/s  median {median:>9,.0f} steps/s")
    (kb, km), (jb, jm) = rate["kgraph run"], rate["hand-written jax"]
    rows.append(f"  kgraph / jax: best {kb / jb:.3f}  median {km / jm:.3f}  (target >= 0.97)")
    goals.record("train", km / jm, 0.97, at_least=True)
    print("\n".join(rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_steps", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 steps, 3 repeats")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
