"""The digits CNN (examples/digits/cnn.kg): its forward pass and its training step, kgraph
against the same model written by hand with jax.lax and jax.jit.

Forward: evaluate_cnn.kg (test accuracy and loss) on a batch of 256 images. Step: cnn.kg
itself on a batch of 32 (what `kgraph run` trains with): loss, accuracy, the gradients
of the six parameters and the momentum updates, the variables staying on the device.
The hand-written step keeps its parameters and velocities on the device too (donated).
Both sides get NumPy feeds and return NumPy loss and accuracy.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import kgraph

from .timing import interleaved, report

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
NAMES = ("K1", "c1", "K2", "c2", "W", "b")


def _conv_relu_pool(h, kernel, bias):
    h = lax.conv_general_dilated(h, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    h = jax.nn.relu(h + bias)
    return lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _forward(params, x, y):
    K1, c1, K2, c2, W, b = params
    h = _conv_relu_pool(jnp.reshape(x / 16.0, (-1, 8, 8, 1)), K1, c1)
    h = _conv_relu_pool(h, K2, c2)
    logits = jnp.reshape(h, (h.shape[0], -1)) @ W + b
    loss = jnp.mean(jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, y[:, None], -1)[:, 0])
    accuracy = jnp.mean((jnp.argmax(logits, -1) == y).astype(jnp.float32))
    return loss, accuracy


def _step(params, velocities, x, y):
    (loss, accuracy), grads = jax.value_and_grad(_forward, has_aux=True)(params, x, y)
    velocities = tuple(0.9 * v - 0.05 * g for v, g in zip(velocities, grads))
    params = tuple(p + v for p, v in zip(params, velocities))
    return params, velocities, loss, accuracy


def _programs():
    train = kgraph.load(DIGITS / "cnn.kg")
    evaluate = kgraph.load(DIGITS / "evaluate_cnn.kg")
    with tempfile.TemporaryDirectory() as tmp:  # the evaluation starts from cnn.kg's weights
        train.save_state(Path(tmp) / "init.npz")
        evaluate.load_state(Path(tmp) / "init.npz")
    return train, evaluate


def run(args) -> list[str]:
    data = np.load(DIGITS / "digits.npz")
    x_test, y_test = data["x_test"][:256], data["y_test"][:256].astype(np.int32)
    x_batch, y_batch = data["x_train"][:32], data["y_train"][:32].astype(np.int32)
    train, evaluate = _programs()
    params = tuple(jnp.asarray(train.variables[k]) for k in NAMES)
    state = [tuple(jnp.array(p) for p in params), tuple(jnp.zeros_like(p) for p in params)]
    forward = jax.jit(_forward)
    step = jax.jit(_step, donate_argnums=(0, 1))
    as_float = lambda a: a.astype(np.float32)  # noqa: E731 - what the feed conversion does

    def hand_forward():
        return [np.asarray(v) for v in forward(params, as_float(x_test), y_test)]

    def hand_step():
        state[0], state[1], loss, accuracy = step(state[0], state[1], as_float(x_batch), y_batch)
        return [np.asarray(loss), np.asarray(accuracy)]

    def kgraph_forward():
        out = evaluate.run(x=x_test, y=y_test)
        return [out["loss"], out["accuracy"]]

    def kgraph_step():
        out = train.run(x=x_batch, y=y_batch)
        return [out["loss"], out["accuracy"]]

    # The same values first: the forward pass, then one step from the same weights.
    for got, want in [(kgraph_forward(), hand_forward()), (kgraph_step(), hand_step())]:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for name, value in zip(NAMES, state[0]):
        np.testing.assert_allclose(train.variables[name], value, rtol=1e-5, atol=1e-6)
    repeats, number = (7, 20) if args.quick else (30, 50)
    t = interleaved({"kgraph forward": kgraph_forward, "hand forward": hand_forward,
                     "kgraph step": kgraph_step, "hand step": hand_step}, repeats, number)
    return report("digits CNN (conv 16, pool, conv 32, pool, dense): forward on 256 images, "
                  "training step on 32:", t,
                  [("forward kgraph / hand", "kgraph forward", "hand forward", "(target <= 1.05)"),
                   ("step kgraph / hand", "kgraph step", "hand step", "(target <= 1.05)")])
