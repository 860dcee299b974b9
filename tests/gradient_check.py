"""Gradients of .kg programs against central differences of a NumPy reference."""
from __future__ import annotations

import numpy as np

from conftest import run_both


def numeric_gradient(f, feeds: dict, name: str, eps: float = 1e-6) -> np.ndarray:
    """d f(**feeds) / d feeds[name] by central differences (f returns a scalar)."""
    x = np.array(feeds[name], dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(**{**feeds, name: up}) - f(**{**feeds, name: down})) / (2 * eps)
    return grad


def assert_gradients(source: str, reference, feeds: dict, wrt: list[str], rtol=1e-6, atol=1e-8):
    """`source` declares float64 placeholders and binds `y`; the gradients of sum(y * w) that
    `gradients(...)` computes (at -O0 and -O2) must match those of sum(reference(**feeds) * w)."""
    out_shape = np.shape(reference(**feeds))
    w = np.random.default_rng(1).uniform(0.5, 1.5, size=out_shape)
    dims = ", ".join(str(d) for d in out_shape)
    program = (f"{source}\nplaceholder w__: float64[{dims}]\n"
               f"output gradients(sum(y * w__), [{', '.join(wrt)}]) as g")
    got = run_both(program, floatx="float64", w__=w, **feeds)

    def loss(**values):
        return float(np.sum(reference(**values) * w))

    for i, name in enumerate(wrt):
        expected = numeric_gradient(loss, feeds, name)
        np.testing.assert_allclose(got[f"g_{i}"], expected, rtol=rtol, atol=atol, err_msg=name)
