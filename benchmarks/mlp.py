"""An MLP's forward pass and gradient: kgraph against jax.value_and_grad written by hand.

x[256, 784] -> 512 relu -> 10 softmax, mean categorical crossentropy, gradients of
all four parameters. Both sides get NumPy inputs and return NumPy arrays.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import kgraph

from . import goals
from .timing import interleaved, report

SOURCE = Path(__file__).resolve().parent.parent / "examples" / "mlp.kg"


def _loss(params, x, y):
    W1, b1, W2, b2 = params
    h = jax.nn.relu(x @ W1 + b1)
    z = h @ W2 + b2
    return jnp.mean(-jnp.sum(y * jax.nn.log_softmax(z, axis=-1), axis=-1))


def run(args) -> list[str]:
    prog = kgraph.load(SOURCE, opt_level=2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 256)]
    params = tuple(prog.variables[k] for k in ("W1", "b1", "W2", "b2"))
    hand = jax.jit(jax.value_and_grad(_loss))

    def by_hand():
        loss, grads = hand(params, x, y)
        return [np.asarray(loss)] + [np.asarray(g) for g in grads]

    fns = {"kgraph -O2": lambda: list(prog.run(x=x, y=y).values()), "jax.value_and_grad": by_hand}
    got, want = fns["kgraph -O2"](), by_hand()
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
    t = interleaved(fns, repeats=7 if args.quick else 30, number=5)
    goals.record("mlp", t["kgraph -O2"][1] / t["jax.value_and_grad"][1], 1.02)
    return report("MLP forward + gradient (256x784 -> 512 relu -> 10 softmax, crossentropy):", t,
                  [("kgraph / hand", "kgraph -O2", "jax.value_and_grad", "(target <= 1.02)")])
