"""The first program of LANGUAGE.md §1, checked against a NumPy reference."""
import numpy as np

import kgraph

LOGREG = """
placeholder x: float32[None, 4]
placeholder y: float32[None, 3]
variable W = random_normal_variable((4, 3), mean=0.0, scale=0.1, seed=0)
variable b = zeros((3,))

p = softmax(dot(x, W) + b)
loss = mean(categorical_crossentropy(y, p))
dW, db = gradients(loss, [W, b])

output loss, dW, db
"""


def numpy_logreg(x, y, W, b):
    z = x @ W + b
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = -(y * np.log(p)).sum(axis=1).mean()
    dz = (p - y) / len(x)
    return loss, x.T @ dz, dz.sum(axis=0)


def test_logreg_matches_numpy(rng):
    prog = kgraph.compile(LOGREG)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    out = prog.run(x=x, y=y)
    assert list(out) == ["loss", "dW", "db"]
    W = prog.variables["W"]
    loss, dW, db = numpy_logreg(x.astype(np.float64), y, W.astype(np.float64), np.zeros(3))
    np.testing.assert_allclose(out["loss"], loss, rtol=1e-5)
    np.testing.assert_allclose(out["dW"], dW, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["db"], db, rtol=1e-4, atol=1e-6)


def test_any_batch_size(rng):
    prog = kgraph.compile(LOGREG)
    for batch in (1, 1000):
        x = rng.normal(size=(batch, 4)).astype(np.float32)
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, batch)]
        out = prog.run(x=x, y=y)
        assert out["dW"].shape == (4, 3)
        assert np.isfinite(out["loss"])


def test_signature():
    prog = kgraph.compile(LOGREG)
    assert prog.placeholders == {"x": ("float32", (None, 4)), "y": ("float32", (None, 3))}
    assert prog.outputs == ["loss", "dW", "db"]
    assert set(prog.variables) == {"W", "b"}
    assert prog.variables["W"].dtype == np.float32
    np.testing.assert_array_equal(prog.variables["b"], np.zeros(3, np.float32))
