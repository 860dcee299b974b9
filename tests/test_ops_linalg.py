"""dot, batch_dot, transpose and matmul against NumPy, with Keras's shape rules."""
import numpy as np
import pytest

import kgraph

from conftest import run_both, tolerance
from gradient_check import assert_gradients

COVERS = {"dot", "batch_dot", "transpose", "matmul"}

DTYPES = ["float32", "float64"]


def output_types(prog) -> dict:
    return {name: (node.dtype, node.shape) for name, node in prog.graph.outputs}


def keras_batch_dot(x, y, axes=None):
    """tf_keras.backend.batch_dot transliterated to NumPy: expand, transpose, squash, matmul."""
    x_ndim, y_ndim = x.ndim, y.ndim
    if isinstance(axes, int):
        axes = (axes, axes)
    if axes is None:
        axes = (x_ndim - 1, y_ndim - 1) if y_ndim == 2 else (x_ndim - 1, y_ndim - 2)
    a0, a1 = (a + n if a < 0 else a for a, n in zip(axes, (x_ndim, y_ndim)))
    if x_ndim == 2:
        x, a0 = x[:, None, :], a0 + 1
    if y_ndim == 2:
        y = y[:, :, None]
    x, y = np.moveaxis(x, a0, -1), np.moveaxis(y, a1, 1)
    out = np.matmul(x.reshape(x.shape[0], -1, x.shape[-1]), y.reshape(y.shape[0], y.shape[1], -1))
    out = out.reshape((out.shape[0],) + x.shape[1:-1] + y.shape[2:])
    if x_ndim == 2:
        return out[:, 0]
    return out[..., 0] if y_ndim == 2 else out


@pytest.mark.parametrize("dtype", DTYPES)
def test_dot_follows_numpy_dot_for_every_rank(dtype, rng):
    src = f"""
placeholder x: {dtype}[None, 3]
placeholder y: {dtype}[3, 4]
placeholder x3: {dtype}[None, 4, 3]
placeholder y3: {dtype}[5, 3, 2]
placeholder v: {dtype}[3]
output dot(x, y) as a, dot(x3, y) as b, dot(x, y3) as c, dot(x3, y3) as d, dot(x, v) as e, dot(v, y3) as f
"""
    batch = int(rng.integers(1, 6))
    feeds = {"x": rng.normal(size=(batch, 3)), "y": rng.normal(size=(3, 4)),
             "x3": rng.normal(size=(batch, 4, 3)), "y3": rng.normal(size=(5, 3, 2)),
             "v": rng.normal(size=3)}
    feeds = {k: v.astype(dtype) for k, v in feeds.items()}
    out = run_both(src, **feeds)
    x, y, x3, y3, v = (feeds[k] for k in ("x", "y", "x3", "y3", "v"))
    for name, expected in zip("abcdef", [x @ y, x3 @ y, np.dot(x, y3), np.dot(x3, y3), x @ v, np.dot(v, y3)]):
        assert out[name].dtype == dtype
        np.testing.assert_allclose(out[name], expected, **tolerance(dtype), err_msg=name)
    types = output_types(kgraph.compile(src))
    assert types["a"] == (dtype, (None, 4))
    assert types["b"] == (dtype, (None, 4, 4))
    assert types["c"] == (dtype, (None, 5, 2))
    assert types["d"] == (dtype, (None, 4, 5, 2))
    assert types["e"] == (dtype, (None,))


def test_dot_keras_example_shape():
    out = run_both("x = ones((2, 3))\ny = ones((4, 3, 5))\noutput int_shape(dot(x, y)) as s, dot(x, y) as d")
    assert out["s"].tolist() == [2, 4, 5]
    np.testing.assert_array_equal(out["d"], np.full((2, 4, 5), 3.0, np.float32))


def test_dot_contraction_error_names_both_operands():
    src = "placeholder x: float32[None, 4, 5]\nvariable W = zeros((4, 3))\n\ny = 1 + dot(x, W)\noutput y\n"
    with pytest.raises(kgraph.ShapeError) as e:
        kgraph.compile(src, filename="model.kg")
    assert e.value.message == ("dot: contraction dims differ: x is float32[None, 4, 5], "
                               "W is float32[4, 3] (5 != 4)")
    assert (e.value.filename, e.value.line, e.value.column) == ("model.kg", 4, 9)


BATCH_DOT_CASES = [  # x shape (after the batch), y shape, axes, Keras's result (after the batch)
    ((5,), (5,), None, (1,)),
    ((5,), (5, 2), None, (2,)),
    ((2, 5), (5,), None, (2,)),
    ((20, 1), (30, 20), (1, 2), (1, 30)),
    ((3, 4, 5), (5, 2), None, (3, 4, 2)),
    ((3, 4), (2, 4, 5), (2, 2), (3, 2, 5)),
    ((4, 3), (4, 5), 1, (3, 5)),
    ((3, 4), (4, 2), (-1, -2), (3, 2)),
    ((5,), (3, 5), (1, 2), (3,)),
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_dot_matches_keras(dtype, rng):
    lines, feeds, expected = [], {}, {}
    batch = int(rng.integers(1, 5))
    for i, (xs, ys, axes, result) in enumerate(BATCH_DOT_CASES):
        lines.append(f"placeholder x{i}: {dtype}[None, {', '.join(map(str, xs))}]")
        lines.append(f"placeholder y{i}: {dtype}[None, {', '.join(map(str, ys))}]")
        lines.append(f"output batch_dot(x{i}, y{i}, axes={axes!r}) as r{i}")
        x, y = rng.normal(size=(batch, *xs)).astype(dtype), rng.normal(size=(batch, *ys)).astype(dtype)
        feeds.update({f"x{i}": x, f"y{i}": y})
        expected[f"r{i}"] = keras_batch_dot(x.astype(np.float64), y.astype(np.float64), axes)
        assert expected[f"r{i}"].shape == (batch, *result)  # the reference agrees with Keras's doc
    src = "\n".join(lines)
    out = run_both(src, **feeds)
    types = output_types(kgraph.compile(src))
    for i, (_, _, _, result) in enumerate(BATCH_DOT_CASES):
        assert types[f"r{i}"] == (dtype, (None, *result))
        assert out[f"r{i}"].dtype == dtype
        np.testing.assert_allclose(out[f"r{i}"], expected[f"r{i}"], **tolerance(dtype), err_msg=str(i))


def test_batch_dot_carries_named_and_known_batch_dims():
    src = """
placeholder x: float32[batch, 3]
placeholder y: float32[None, 3, 4]
placeholder z: float32[7, 3]
output batch_dot(x, y) as a, batch_dot(y, z, axes=(1, 1)) as b
"""
    types = output_types(kgraph.compile(src))
    assert types == {"a": ("float32", ("batch", 4)), "b": ("float32", (7, 4))}


@pytest.mark.parametrize("call, message", [
    ("batch_dot(x, w)", "batch_dot: contraction dims differ: x is float32[None, 3, 4], "
                        "w is float32[None, 5, 2] with axes=(2, 1) (4 != 5)"),
    ("batch_dot(x, v, axes=0)", "batch_dot: cannot contract over the batch axis 0"),
    ("batch_dot(x, s)", "batch_dot: needs inputs of rank 2 or more: x is float32[None, 3, 4], "
                        "s is float32[4]"),
    ("batch_dot(x, u)", "batch_dot: batch sizes differ: x is float32[2, 3, 4], u is float32[3, 4] (2 != 3)"),
    ("batch_dot(x, v, axes=(1, 5))", "batch_dot: axes (1, 5) are out of range"),
])
def test_batch_dot_errors(call, message):
    src = f"""placeholder x: float32[{'2' if 'u)' in call else 'None'}, 3, 4]
placeholder w: float32[None, 5, 2]
placeholder v: float32[None, 4, 3]
placeholder s: float32[4]
placeholder u: float32[3, 4]
output {call}
"""
    with pytest.raises(kgraph.KGraphError) as e:
        kgraph.compile(src)
    assert e.value.message.startswith(message)
    assert (e.value.line, e.value.column) == (6, 8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose_and_matmul(dtype, rng):
    src = f"""
placeholder x: {dtype}[None, 2, 3]
placeholder m: {dtype}[3, 4]
placeholder b: {dtype}[5, 1, 3, 2]
placeholder v: {dtype}[3]
output transpose(x) as t, x @ m as xm, matmul(x, m) as mm, b @ x[0:1] as bx, x @ v as xv, v @ m as vm, v @ v as vv
"""
    n = int(rng.integers(1, 5))
    x, m = rng.normal(size=(n, 2, 3)).astype(dtype), rng.normal(size=(3, 4)).astype(dtype)
    b, v = rng.normal(size=(5, 1, 3, 2)).astype(dtype), rng.normal(size=3).astype(dtype)
    out = run_both(src, x=x, m=m, b=b, v=v)
    expected = {"t": x.transpose(), "xm": x @ m, "mm": x @ m, "bx": b @ x[0:1], "xv": x @ v,
                "vm": v @ m, "vv": v @ v}
    for name, value in expected.items():
        assert out[name].dtype == dtype
        np.testing.assert_allclose(out[name], value, **tolerance(dtype), err_msg=name)
    types = output_types(kgraph.compile(src))
    assert types["t"] == (dtype, (3, 2, None))
    assert types["xm"] == types["mm"] == (dtype, (None, 2, 4))
    assert types["bx"] == (dtype, (5, None, 3, 3))
    assert types["xv"] == (dtype, (None, 2))
    assert types["vv"] == (dtype, ())


def test_matmul_operator_errors_at_the_operator():
    src = "placeholder a: float32[None, 4]\nplaceholder b: float32[3, 2]\noutput 2 * (a @ b)\n"
    with pytest.raises(kgraph.ShapeError) as e:
        kgraph.compile(src)
    assert e.value.message == ("matmul: contraction dims differ: a is float32[None, 4], "
                               "b is float32[3, 2] (4 != 3)")
    assert (e.value.line, e.value.column) == (3, 13)
    with pytest.raises(kgraph.ShapeError, match=r"batch dims cannot be broadcast"):
        kgraph.compile("a = zeros((2, 3, 4))\nb = zeros((5, 4, 1))\noutput a @ b")


def test_gradients_of_products(rng):
    src = """
placeholder x: float64[2, 3, 4]
placeholder z: float64[2, 4, 3]
placeholder w: float64[4, 2]
y = dot(x, w) + batch_dot(x, z, axes=(2, 1)) @ x @ w + transpose(z)[0, 0:3]
"""

    def reference(x, z, w):
        return np.dot(x, w) + keras_batch_dot(x, z, (2, 1)) @ x @ w + z.transpose()[0, 0:3]

    feeds = {"x": rng.normal(size=(2, 3, 4)), "z": rng.normal(size=(2, 4, 3)), "w": rng.normal(size=(4, 2))}
    assert_gradients(src, reference, feeds, ["x", "z", "w"])
