"""The shipped examples run, and their numbers agree with NumPy."""
from pathlib import Path

import numpy as np
import pytest

import kgraph

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart():
    out = kgraph.load(EXAMPLES / "quickstart.kg").run()
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[0.5], [-1.0]])
    z = a @ w
    np.testing.assert_allclose(out["z"], z)
    e = np.exp(z.T - z.T.max())
    np.testing.assert_allclose(out["p"], e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(out["loss"], (z * z).sum())
    np.testing.assert_allclose(out["dw"], 2 * a.T @ z, rtol=1e-6)


def test_logreg_with_the_shipped_data():
    prog = kgraph.load(EXAMPLES / "logreg.kg")
    x, y = np.load(EXAMPLES / "data" / "x.npy"), np.load(EXAMPLES / "data" / "y.npy")
    out = prog.run(x=x, y=y)
    W = prog.variables["W"].astype(np.float64)
    z = x @ W
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(out["loss"], -(y * np.log(p)).sum(1).mean(), rtol=1e-5)
    dW = x.T @ ((p - y) / len(x))
    np.testing.assert_allclose(out["dW"], dW, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["W_next"], W - 0.5 * dW, rtol=1e-4, atol=1e-6)
    assert list(out) == ["loss", "dW", "db", "W_next", "b_next", "accuracy", "loss_bits"]
    np.testing.assert_allclose(out["accuracy"], np.mean(z.argmax(1) == y.argmax(1)))
    np.testing.assert_allclose(out["loss_bits"], out["loss"] / np.log(2.0), rtol=1e-6)


def test_backend_tour(capfd):
    with pytest.warns(kgraph.KGraphWarning) as caught:
        prog = kgraph.load(EXAMPLES / "backend_tour.kg")
    # the tour's placeholders only show static shapes, so nothing needs a feed
    assert sorted(str(w.message) for w in caught) == [
        "placeholder 'batch' is not used by any output", "placeholder 'fixed' is not used by any output"]
    out = prog.run()
    assert "row sums: [" in capfd.readouterr().out
    assert out["fixed_shape"].tolist() == [2, 4, 5]
    assert out["v64"].dtype == np.float64 and out["vv"].dtype == np.float64
    np.testing.assert_array_equal(out["vv"], [[24, 24], [40, 40]])
    assert out["n_params"] == 9
    np.testing.assert_array_equal(out["tiled"], np.tile(np.eye(2), (2, 2)))
    assert out["stacked"].shape == (2, 3, 4) and out["joined"].shape == (3, 8)
    np.testing.assert_array_equal(out["repeated"], np.repeat([[1.0, 2.0], [3.0, 4.0]], 2, axis=0))
    np.testing.assert_allclose(out["probs"].sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out["shown"], out["row_sums"])
    assert out["as_floatx"].dtype == np.float32
    # b feeds a = b + c * abs(d): d loss / d b equals d loss / d a
    np.testing.assert_allclose(out["db"], out["da"], rtol=1e-6)
    assert out["da"].shape == (3, 4) and np.isfinite(out["loss"])


def test_mlp_matches_a_hand_written_numpy_model():
    prog = kgraph.load(EXAMPLES / "mlp.kg")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[[1, 4, 7]]
    out = prog.run(x=x, y=y)
    v = {k: a.astype(np.float64) for k, a in prog.variables.items()}
    h = np.maximum(x @ v["W1"] + v["b1"], 0)
    z = h @ v["W2"] + v["b2"]
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(out["loss"], -(y * np.log(p)).sum(1).mean(), rtol=1e-4)
    np.testing.assert_allclose(out["dW2"], h.T @ ((p - y) / 3), rtol=1e-3, atol=1e-6)
