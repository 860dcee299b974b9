"""The digits CNN (examples/digits/cnn.kg): its forward pass and its training step, kgraph
against the same model written by hand with jax.lax and jax.jit.

Forward: evaluate_cnn.kg (test accuracy and loss) on a batch of 256 images. Step: cnn.kg
itself on a batch of 32 (what `kgraph run` trains with): batch norm on the batch's
statistics, dropout with a fresh mask, loss, accuracy, the gradients of the eight
parameters, the momentum updates and the moving statistics, the variables staying on
the device. The hand-written step keeps its state on the device too (donated). Both
sides get NumPy feeds and return NumPy loss and accuracy. Their values are checked
equal first, without dropout (its masks come from different keys).
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
NAMES = ("K1", "c1", "K2", "c2", "gamma", "beta", "W", "b")
EPSILON = 1e-3  # batch norm's


def _conv_relu_pool(h, kernel, bias):
    h = lax.conv_general_dilated(h, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    h = jax.nn.relu(h + bias)
    return lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _features(params, x):
    K1, c1, K2, c2 = params[:4]
    h = _conv_relu_pool(jnp.reshape(x / 16.0, (-1, 8, 8, 1)), K1, c1)
    return _conv_relu_pool(h, K2, c2)


def _head(params, h, y):
    W, b = params[6:]
    logits = jnp.reshape(h, (h.shape[0], -1)) @ W + b
    loss = jnp.mean(jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, y[:, None], -1)[:, 0])
    accuracy = jnp.mean((jnp.argmax(logits, -1) == y).astype(jnp.float32))
    return loss, accuracy


def _forward(params, moving, x, y):
    """evaluate_cnn.kg: batch norm with the moving statistics, no dropout."""
    gamma, beta = params[4:6]
    mean, var = moving
    h = (_features(params, x) - mean) * lax.rsqrt(var + EPSILON) * gamma + beta
    return _head(params, h, y)


def _train_loss(params, x, y, key, level):
    gamma, beta = params[4:6]
    h = _features(params, x)
    mean, var = jnp.mean(h, (0, 1, 2)), jnp.var(h, (0, 1, 2))
    h = (h - mean) * lax.rsqrt(var + EPSILON) * gamma + beta
    keep = jax.random.uniform(key, (h.shape[0], 128)) >= level
    flat = jnp.where(keep, jnp.reshape(h, (h.shape[0], -1)) / (1 - level), 0.0)
    n = h.shape[0] * h.shape[1] * h.shape[2]
    loss, accuracy = _head(params, flat, y)
    return loss, (accuracy, mean, var * n / (n - 1))


def _step(params, velocities, moving, x, y, count, level):
    """cnn.kg: the training loss, its gradients, momentum SGD and the moving statistics."""
    key = jax.random.fold_in(jax.random.PRNGKey(0), count)  # a fresh dropout mask per step
    (loss, (accuracy, mean, var)), grads = jax.value_and_grad(_train_loss, has_aux=True)(
        params, x, y, key, level)
    velocities = tuple(0.9 * v - 0.02 * g for v, g in zip(velocities, grads))
    params = tuple(p + v for p, v in zip(params, velocities))
    moving = (moving[0] - (moving[0] - mean) * 0.01, moving[1] - (moving[1] - var) * 0.01)
    return params, velocities, moving, loss, accuracy


def _programs(level: float):
    """cnn.kg (its dropout level `level`) and evaluate_cnn.kg, starting from cnn.kg's weights."""
    source = (DIGITS / "cnn.kg").read_text().replace("dropout(batch_flatten(normed), 0.25)",
                                                      f"dropout(batch_flatten(normed), {level})")
    train = kgraph.compile(source, filename=str(DIGITS / "cnn.kg"))
    evaluate = kgraph.load(DIGITS / "evaluate_cnn.kg")
    with tempfile.TemporaryDirectory() as tmp:
        train.save_state(Path(tmp) / "init.npz")
        evaluate.load_state(Path(tmp) / "init.npz")
    return train, evaluate


class Hand:
    """The hand-written model's state on the device, stepped as `kgraph run` steps cnn.kg."""

    def __init__(self, variables: dict, level: float):
        params = tuple(jnp.asarray(variables[k]) for k in NAMES)
        self.params, self.velocities = params, tuple(jnp.zeros_like(p) for p in params)
        self.moving = (jnp.asarray(variables["moving_mean"]), jnp.asarray(variables["moving_var"]))
        self.level, self.steps = level, 0
        self.forward = jax.jit(_forward)
        self.step_fn = jax.jit(_step, donate_argnums=(0, 1, 2), static_argnums=(6,))

    def evaluate(self, x, y):
        return [np.asarray(v) for v in self.forward(self.params, self.moving, x.astype(np.float32), y)]

    def step(self, x, y):
        count = np.int32(self.steps)
        self.steps += 1
        self.params, self.velocities, self.moving, loss, accuracy = self.step_fn(
            self.params, self.velocities, self.moving, x.astype(np.float32), y, count, self.level)
        return [np.asarray(loss), np.asarray(accuracy)]


def _check_same_values(x_test, y_test, x_batch, y_batch) -> None:
    """Without dropout (level 0) both sides compute the same numbers: a forward pass, then two
    steps (the second sees the first's parameters and statistics), then a forward pass."""
    train, evaluate = _programs(0.0)
    hand = Hand(train.variables, 0.0)
    close = dict(rtol=2e-5, atol=1e-6)
    out = evaluate.run(x=x_test, y=y_test)
    np.testing.assert_allclose([out["loss"], out["accuracy"]], hand.evaluate(x_test, y_test), **close)
    for _ in range(2):
        out = train.run(x=x_batch, y=y_batch)
        np.testing.assert_allclose([out["loss"], out["accuracy"]], hand.step(x_batch, y_batch), **close)
    for name, value in zip(NAMES + ("moving_mean", "moving_var"), hand.params + hand.moving):
        np.testing.assert_allclose(train.variables[name], value, err_msg=name, **close)


def run(args) -> list[str]:
    data = np.load(DIGITS / "digits.npz")
    x_test, y_test = data["x_test"][:256], data["y_test"][:256].astype(np.int32)
    x_batch, y_batch = data["x_train"][:32], data["y_train"][:32].astype(np.int32)
    _check_same_values(x_test, y_test, x_batch, y_batch)
    train, evaluate = _programs(0.25)
    hand = Hand(train.variables, 0.25)

    def kgraph_forward():
        out = evaluate.run(x=x_test, y=y_test)
        return [out["loss"], out["accuracy"]]

    def kgraph_step():
        out = train.run(x=x_batch, y=y_batch)
        return [out["loss"], out["accuracy"]]

    repeats, number = (7, 20) if args.quick else (30, 50)
    t = interleaved({"kgraph forward": kgraph_forward, "hand forward": lambda: hand.evaluate(x_test, y_test),
                     "kgraph step": kgraph_step, "hand step": lambda: hand.step(x_batch, y_batch)},
                    repeats, number)
    return report("digits CNN (conv 16, pool, conv 32, pool, batch norm, dropout, dense): forward "
                  "on 256 images, training step on 32:", t,
                  [("forward kgraph / hand", "kgraph forward", "hand forward", "(target <= 1.05)"),
                   ("step kgraph / hand", "kgraph step", "hand step", "(target <= 1.05)")])
