"""examples/backend_tour.py gives the values the Keras backend gives.

Keras is not a dependency, so the references are NumPy computations of tf_keras
semantics, from the values the tour's random variables actually hold.
"""
import runpy
from pathlib import Path

import numpy as np
import pytest

from kgraph import backend as K

TOUR = Path(__file__).resolve().parent.parent / "examples" / "backend_tour.py"


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def tour():
    K.clear_session()
    np.random.seed(0)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ns = runpy.run_path(str(TOUR), run_name="__main__")
    yield ns, out.getvalue()
    K.clear_session()


def close(got, want, dtype="float32"):
    assert got.dtype == np.dtype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_placeholders_and_their_printed_form(tour):
    ns, out = tour
    assert "<KTensor 'placeholder' shape=(2, 4, 5) dtype=float32>" in out
    assert "<KTensor 'placeholder_1' shape=(None, 4, 5) dtype=float32>" in out
    assert "<KTensor 'placeholder_2' shape=(None, None, None) dtype=float32> (None, None, None)" in out
    assert "<KTensor 'add' shape=(3, 4) dtype=float32>" in out
    assert "<KTensor 'dot' shape=(3, 3) dtype=float32>" in out


def test_variables(tour):
    ns, _ = tour
    close(K.eval(ns["var"]), ns["val"].astype(np.float32))  # K.variable: floatx(), not float64
    close(K.eval(ns["var_zeros"]), np.zeros((3, 4, 5)))
    close(K.eval(ns["var_ones"]), np.ones((3, 4, 5)))
    b = K.get_value(ns["b"])
    assert b.shape == (3, 4) and b.min() >= 0 and b.max() < 1
    assert K.get_value(ns["c"]).shape == (3, 4)


def test_arithmetic(tour):
    ns, out = tour
    b, c, d = (K.get_value(ns[k]) for k in "bcd")
    a = b + c * np.abs(d)
    close(K.eval(ns["a"]), a)
    close(K.eval(ns["ab"]), a @ b.T)
    close(K.eval(ns["row_sums"]), b.sum(axis=1))
    close(K.eval(ns["probs"]), softmax(b))
    close(K.eval(ns["joined"]), np.concatenate([b, a @ b.T], axis=-1))
    assert "concatenate([b, ab]) has shape (3, 7)" in out


def test_dtypes(tour):
    ns, out = tour
    assert ns["new_arr"].dtype == np.float32 and isinstance(ns["new_arr"], np.ndarray)
    np.testing.assert_array_equal(ns["new_arr"], [1.0, 2.0])
    assert "float64 <KVariable 'example_var' shape=(2, 2) dtype=float64>" in out
    close(K.eval(ns["kvar_dot"]), np.array([[7.0, 10.0], [15.0, 22.0]]), "float64")


def test_constants_eye_and_count_params(tour):
    ns, _ = tour
    close(K.eval(ns["const"]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    close(K.eval(ns["kvar_eye"]), np.eye(3))
    assert ns["n_params"] == 6


def test_tile_stack_repeat_elements(tour):
    ns, _ = tour
    b, d = K.get_value(ns["b"]), K.get_value(ns["d"])
    close(K.eval(ns["tiled"]), np.tile(np.eye(3), (2, 1)))
    close(K.eval(ns["stacked"]), np.stack([b, d]))
    close(K.eval(ns["repeated"]), np.repeat(np.array([[1.0, 2.0], [3.0, 4.0]]), 2, axis=1), "float64")


def test_print_tensor_prints_when_run(tour):
    ns, out = tour
    b = K.get_value(ns["b"])
    line = next(line for line in out.splitlines() if line.startswith("row_sums = "))
    printed = np.array(line[len("row_sums = "):].strip("[]").split(), dtype=np.float64)
    np.testing.assert_allclose(printed, b.sum(axis=1), rtol=1e-5)


def test_crossentropy_and_gradients(tour):
    ns, _ = tour
    b, c, d = (K.get_value(ns[k]) for k in "bcd")
    target = K.get_value(ns["target"])
    a = b + c * np.abs(d)
    p = softmax(a)
    # tf_keras reads a softmax output through to its logits: -sum(t * log_softmax(a)).
    close(K.eval(ns["loss"]), np.mean(-(target * np.log(p)).sum(axis=-1)))
    dz = (p - target) / 3  # d mean(crossentropy) / d logits
    close(K.eval(ns["grads"][0]), dz)
    close(K.eval(ns["grads"][1]), dz * np.abs(d))


def test_function_of_a_placeholder(tour):
    ns, _ = tour
    b = K.get_value(ns["b"])
    close(ns["scores"], np.ones((2, 4)) @ b.T)
