"""The LSTM of examples/sequence as one `rnn` loop: compile time against length, and run time.

Compile time: `kgraph.compile` of the LSTM's forward and gradient program plus its first
run (XLA's compile), less a steady run, for 10, 100 and 1,000 time steps. The body is
one `lax.scan`, so compile time should not grow with the length (target: 1,000 steps
within 1.5x of 10).

Run time: the same forward and gradient step against the model written by hand with
`jax.lax.scan` and `jax.value_and_grad`, both jitted, inputs on the device, timed
interleaved in one run (target: median ratio <= 1.05). kgraph's side is measured
twice: its compiled code (`as_jax_function` under `jax.jit`), and `Program.run`, the
call a user makes (with its per-call overhead, see the overhead benchmark).
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import kgraph

from .timing import fmt, interleaved

UNITS = 32

SOURCE = """\
placeholder x: float32[{batch}, {steps}, 8]
placeholder y: int32[{batch}]
variable W = random_uniform_variable((8, 128), -0.21, 0.21, seed=1)
variable U = random_uniform_variable((32, 128), -0.19, 0.19, seed=2)
variable b = zeros((128,))
variable V = random_uniform_variable((32, 10), -0.38, 0.38, seed=3)

def lstm_step(x_t, states):
    h, c = states
    z = dot(x_t, W) + dot(h, U) + b
    i = sigmoid(z[:, 0:32])
    f = sigmoid(z[:, 32:64])
    g = tanh(z[:, 64:96])
    o = sigmoid(z[:, 96:128])
    c2 = f * c + i * g
    h2 = o * tanh(c2)
    return h2, [h2, c2]

h0 = zeros(({batch}, 32))
last, outputs, states = rnn(lstm_step, x, [h0, h0])
loss = mean(sparse_categorical_crossentropy(y, softmax(dot(last, V))))
output loss, gradients(loss, [W, U, b, V]) as g
"""


def by_hand(params, x, y):
    """The same model in JAX: lax.scan over time-major inputs."""
    W, U, b, V = params

    def step(carry, x_t):
        h, c = carry
        z = x_t @ W + h @ U + b
        i, f = jax.nn.sigmoid(z[:, 0:32]), jax.nn.sigmoid(z[:, 32:64])
        g, o = jnp.tanh(z[:, 64:96]), jax.nn.sigmoid(z[:, 96:128])
        c2 = f * c + i * g
        h2 = o * jnp.tanh(c2)
        return (h2, c2), h2

    h0 = jnp.zeros((x.shape[0], UNITS), x.dtype)
    (h, _), _ = jax.lax.scan(step, (h0, h0), jnp.swapaxes(x, 0, 1))
    logp = jax.nn.log_softmax(h @ V)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def compile_seconds(steps: int, batch: int = 32) -> float:
    rng = np.random.default_rng(0)
    feeds = {"x": rng.random((batch, steps, 8), np.float32), "y": rng.integers(0, 10, batch).astype(np.int32)}
    start = time.perf_counter()
    prog = kgraph.compile(SOURCE.format(batch=batch, steps=steps))
    prog.run(**feeds)
    first = time.perf_counter() - start
    start = time.perf_counter()
    prog.run(**feeds)
    return first - (time.perf_counter() - start)


def run(args) -> None:
    lengths = (10, 100, 1000)
    print("rnn: compile time (kgraph.compile + XLA compile) of the LSTM forward + gradient program")
    compile_seconds(10)  # the process's first compile also pays JAX's and XLA's start-up
    seconds = {n: compile_seconds(n) for n in lengths}
    for n in lengths:
        print(f"  {n:>5} steps  {fmt(seconds[n]):>10}   {seconds[n] / seconds[10]:.2f}x of 10 steps")
    print(f"  1,000 steps / 10 steps: {seconds[1000] / seconds[10]:.2f} (target <= 1.5)")

    batch, steps = (32, 20) if args.quick else (64, 50)
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.random((batch, steps, 8), np.float32))
    y = jnp.asarray(rng.integers(0, 10, batch).astype(np.int32))
    prog = kgraph.compile(SOURCE.format(batch=batch, steps=steps))
    variables = {k: jnp.asarray(v) for k, v in prog.variables.items()}
    params = tuple(variables[k] for k in ("W", "U", "b", "V"))
    compiled = jax.jit(prog.as_jax_function())
    hand = jax.jit(jax.value_and_grad(by_hand))
    got, want = compiled(variables, x=x, y=y), hand(params, x, y)
    np.testing.assert_allclose(got["loss"], want[0], rtol=1e-5)
    for i in range(4):
        np.testing.assert_allclose(got[f"g_{i}"], want[1][i], rtol=1e-4, atol=1e-6)
    fns = {
        "kgraph compiled": lambda: jax.block_until_ready(compiled(variables, x=x, y=y)),
        "kgraph Program.run": lambda: prog.run(x=x, y=y),
        "jax lax.scan by hand": lambda: jax.block_until_ready(hand(params, x, y)),
    }
    times = interleaved(fns, repeats=10 if args.quick else 40, number=5)
    base = times["jax lax.scan by hand"][1]
    print(f"rnn: LSTM forward + gradient step, batch {batch}, {steps} steps, {UNITS} units (median of runs)")
    for name, (low, median) in times.items():
        print(f"  {name:<22} {fmt(median):>10}  (min {fmt(low)})  ratio {median / base:.3f}")
    print(f"  kgraph compiled / by hand: {times['kgraph compiled'][1] / base:.3f} (target <= 1.05)")
