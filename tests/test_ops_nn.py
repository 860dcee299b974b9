"""softmax, the crossentropies (with Keras's logits read-through), l2_normalize and bias_add."""
import numpy as np
import pytest

import kgraph

from conftest import run_both, tolerance
from gradient_check import assert_gradients
from test_ops_linalg import output_types

COVERS = {"softmax", "categorical_crossentropy", "sparse_categorical_crossentropy",
          "binary_crossentropy", "l2_normalize", "bias_add"}

EPS = 1e-7
DTYPES = ["float32", "float64"]


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    return np.log(softmax(x, axis))


def clip(p):
    eps = p.dtype.type(EPS)
    return np.clip(p, eps, 1 - eps)


def cce(t, p, axis=-1):
    return -np.sum(t * np.log(clip(p / p.sum(axis=axis, keepdims=True))), axis=axis)


def sparse_cce_logits(labels, z):
    """z: (..., classes); labels: the leading dims."""
    picked = np.take_along_axis(z, labels[..., None].astype(np.int64), axis=-1)[..., 0]
    return np.log(np.exp(z).sum(-1)) - picked


def bce(t, p):
    p = clip(p)
    return -(t * np.log(p + EPS) + (1 - t) * np.log(1 - p + EPS))


def bce_logits(t, z):
    return np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))


def one_hot(labels, n, dtype):
    return np.eye(n, dtype=dtype)[labels]


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_and_l2_normalize(dtype, rng):
    src = f"""
placeholder x: {dtype}[None, 3, 4]
output softmax(x) as a, softmax(x, axis=1) as b, softmax(x, axis=(1, 2)) as c
output l2_normalize(x) as n0, l2_normalize(x, axis=1) as n1, l2_normalize(x * 0, axis=-1) as nz
output l2_normalize(x, axis=(0, 2)) as n2
"""
    x = (rng.normal(size=(int(rng.integers(1, 4)), 3, 4)) * 3).astype(dtype)
    out = run_both(src, x=x)

    def l2(v, axis):
        return v / np.sqrt(np.maximum(np.sum(v * v, axis=axis, keepdims=True), 1e-12))

    expected = {"a": softmax(x), "b": softmax(x, 1), "c": softmax(x, (1, 2)), "n0": l2(x, None),
                "n1": l2(x, 1), "nz": np.zeros_like(x), "n2": l2(x, (0, 2))}
    for name, value in expected.items():
        assert out[name].dtype == dtype, name
        np.testing.assert_allclose(out[name], value, **tolerance(dtype), err_msg=name)
    assert set(output_types(kgraph.compile(src)).values()) == {(dtype, (None, 3, 4))}
    with pytest.raises(kgraph.ShapeError, match=r"softmax: cannot apply softmax to a tensor of rank 0 or 1: "
                                                r"\[1.0, 2.0\] is float32\[2\]"):
        kgraph.compile("output softmax([1.0, 2.0])")


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_renormalises_and_clips(dtype, rng):
    src = f"""
placeholder t: {dtype}[None, 4]
placeholder p: {dtype}[None, 4]
placeholder t3: {dtype}[2, 3, None]
placeholder p3: {dtype}[2, 3, None]
placeholder lp: {dtype}[None, 4]
output categorical_crossentropy(t, p) as a, categorical_crossentropy(t3, p3, axis=1) as b
output categorical_crossentropy(t, lp, from_logits=True) as c
"""
    n = int(rng.integers(2, 5))
    t = one_hot(rng.integers(0, 4, n), 4, dtype)
    p = rng.uniform(0.1, 2.0, size=(n, 4)).astype(dtype)  # not normalised
    p[0] = [0.0, 0.0, 0.0, 1.0]  # a zero probability is clipped to 1e-7
    t[0] = [0.0, 1.0, 0.0, 0.0]
    t3 = np.moveaxis(one_hot(rng.integers(0, 3, (2, n)), 3, dtype), -1, 1)
    p3 = rng.uniform(0.1, 1.0, size=(2, 3, n)).astype(dtype)
    lp = rng.normal(size=(n, 4)).astype(dtype)
    out = run_both(src, t=t, p=p, t3=t3, p3=p3, lp=lp)
    expected = {"a": cce(t, p), "b": cce(t3, p3, axis=1), "c": -np.sum(t * log_softmax(lp), -1)}
    for name, value in expected.items():
        assert out[name].dtype == dtype
        np.testing.assert_allclose(out[name], value, **tolerance(dtype), err_msg=name)
    np.testing.assert_allclose(out["a"][0], -np.log(np.asarray(EPS, dtype)), rtol=1e-6)
    assert output_types(kgraph.compile(src)) == {"a": (dtype, (None,)), "b": (dtype, (2, None)),
                                                 "c": (dtype, (None,))}


def test_crossentropy_of_softmax_is_computed_from_the_logits():
    # Saturated logits: softmax underflows to 0, so the probability form would clip to
    # -log(1e-7) ~ 16.1; read through to the logits, the loss is its true value ~ 60.
    src = """
placeholder z: float32[None, 3]
t = [[1.0, 0.0, 0.0]]
output categorical_crossentropy(t, softmax(z)) as c, categorical_crossentropy(t, z, from_logits=True) as cl
output sparse_categorical_crossentropy([0], softmax(z)) as s, sparse_categorical_crossentropy([0], z, True) as sl
output categorical_crossentropy(t, softmax(z) * 1) as clipped
output categorical_crossentropy(t, softmax(z, axis=0)) as other_axis
"""
    z = np.array([[-30.0, 30.0, 0.0]], np.float32)
    out = run_both(src, z=z)
    expected = -log_softmax(z.astype(np.float64))[:, 0]
    for name in ("c", "cl", "s", "sl"):
        np.testing.assert_allclose(out[name], expected, rtol=1e-6, err_msg=name)
    # Not read through (as Keras): the written probabilities, and a softmax over axis 0
    # (tf.nn.softmax makes a Softmax op only for the last axis).
    np.testing.assert_allclose(out["clipped"], -np.log(np.float32(EPS)), rtol=1e-6)
    np.testing.assert_allclose(out["other_axis"], cce(np.array([[1.0, 0.0, 0.0]]), softmax(z, 0)), rtol=1e-6)
    # The front end builds the logits form (no softmax is left to read), at every level.
    for level in (0, 2):
        ir = kgraph.compile(src.split("\noutput categorical_crossentropy(t, softmax(z) * 1)")[0],
                            opt_level=level).ir()
        assert "softmax" not in ir.replace("crossentropy", "") and "from_logits=False" not in ir
    # A softmax that simplify uncovers (softmax(z) * 1 -> softmax(z)) stays probabilities.
    clipped = "placeholder z: float32[None, 3]\noutput categorical_crossentropy([[1.0, 0.0, 0.0]], softmax(z) * 1)"
    assert "from_logits=False" in kgraph.compile(clipped).ir()


def test_saturated_crossentropies_of_activations_agree_at_every_level_values_and_gradients():
    # Logits of size 1e4: the softmax/sigmoid saturates to exact 0s and 1s, where the clipped
    # probability form gives a wrong loss and zero gradients. Every level reads the logits.
    src = """
placeholder z: float32[2, 3]
placeholder t: float32[2, 3]
c = categorical_crossentropy(t, softmax(z))
s = sparse_categorical_crossentropy([2, 0], softmax(z))
b = binary_crossentropy(t, sigmoid(z))
output c, s, b, gradients(sum(c), [z]) as dc, gradients(sum(s), [z]) as ds, gradients(sum(b), [z]) as db
"""
    z = np.array([[-1e4, 1e4, 0.25], [3e4, -2e4, 1e4]], np.float32)
    t = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]], np.float32)
    zd = z.astype(np.float64)
    labels = one_hot(np.array([2, 0]), 3, np.float64)
    log_p = zd - zd.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))  # log_softmax without underflow
    p, q = np.exp(log_p), 0.5 * (1 + np.tanh(zd / 2))  # softmax, sigmoid
    expected = {"c": -np.sum(t * log_p, -1), "s": -np.sum(labels * log_p, -1),
                "b": bce_logits(t, zd), "dc_0": p * t.sum(-1, keepdims=True) - t,
                "ds_0": p - labels, "db_0": q - t}
    for level in (0, 1, 2):
        out = kgraph.compile(src, opt_level=level).run(z=z, t=t)
        for name, value in expected.items():
            assert np.all(np.isfinite(out[name])), (level, name)
            np.testing.assert_allclose(out[name], value, rtol=1e-6, atol=1e-6, err_msg=f"-O{level} {name}")


def test_read_through_survives_folding_and_gradient_targets():
    # Constant logits: folding the softmax would leave the loss a constant of probabilities,
    # which it would no longer read through (clipped: 16.1 rather than 2e4).
    src = ("placeholder t: float32[None, 3]\n"
           "output categorical_crossentropy(t, softmax([[1e4, 0.0, -1e4]]))")
    t = np.array([[0.0, 0.0, 1.0]], np.float32)
    for level in (0, 1, 2):
        out = kgraph.compile(src, opt_level=level).run(t=t)["out0"]
        np.testing.assert_allclose(out, [2e4], rtol=1e-6, err_msg=f"-O{level}")
    # The loss reads the logits under p, not p itself: its gradient with respect to p is
    # zeros with a warning (Keras's tf.gradients gives None), and with respect to z exact at
    # every level, even behind the barrier that the optimizer puts on the target p.
    src = """
placeholder z: float64[2, 3]
t = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
p = softmax(z * 2.0)
loss = sum(categorical_crossentropy(t, p))
output gradients(loss, [p, z]) as g
"""
    z = np.array([[0.5, -1.0, 2.0], [1e4, 0.0, -3e4]])  # row 2 saturated: read as probabilities, d/dz = 0
    want = (softmax(2 * z) - np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])) * 2
    for level in (0, 1, 2):
        with pytest.warns(kgraph.KGraphWarning, match="the loss does not depend on p; its gradient is zeros"):
            out = kgraph.compile(src, opt_level=level).run(z=z)
        np.testing.assert_array_equal(out["g_0"], np.zeros((2, 3)), err_msg=f"-O{level}")
        np.testing.assert_allclose(out["g_1"], want, rtol=1e-12, err_msg=f"-O{level}")


def test_from_logits_with_a_softmax_output_warns_and_reads_through():
    src = ("placeholder z: float32[None, 3]\nt = [[0.0, 1.0, 0.0]]\n"
           "output categorical_crossentropy(t, softmax(z), True)")
    warning = (r"`categorical_crossentropy` received `from_logits=True`, but the `output` argument was "
               r"produced by a Softmax activation and thus does not represent logits")  # Keras's words
    with pytest.warns(kgraph.KGraphWarning, match=warning):
        prog = kgraph.compile(src)
    z = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(prog.run(z=z)["out0"], -log_softmax(z)[:, 1], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_categorical_crossentropy(dtype, rng):
    src = f"""
placeholder i: int32[n]
placeholder i2: int64[None, 1]
placeholder f: {dtype}[n]
placeholder p: {dtype}[None, 4]
placeholder j: int32[2, None]
placeholder q: {dtype}[2, 4, None]
placeholder lp: {dtype}[None, 4]
output sparse_categorical_crossentropy(i, p) as a, sparse_categorical_crossentropy(i2, p) as b
output sparse_categorical_crossentropy(f, p) as c, sparse_categorical_crossentropy(i, lp, from_logits=True) as d
output sparse_categorical_crossentropy(j, q, axis=1) as e, sparse_categorical_crossentropy(j, q, False, -2) as e2
"""
    n = int(rng.integers(1, 5))
    i = rng.integers(0, 4, n).astype(np.int32)
    p = rng.uniform(0.05, 1.0, size=(n, 4)).astype(dtype)
    j = rng.integers(0, 4, (2, n)).astype(np.int32)
    q = rng.uniform(0.05, 1.0, size=(2, 4, n)).astype(dtype)
    out = run_both(src, i=i, i2=i[:, None].astype(np.int64), f=i.astype(dtype), p=p, j=j, q=q, lp=np.log(p))
    # Without from_logits, Keras clips the probabilities and takes them as log-probabilities
    # of a softmax: the loss is log(sum(p)) - log(p[label]).
    expected = {"a": sparse_cce_logits(i, np.log(clip(p))), "d": sparse_cce_logits(i, np.log(p)),
                "e": sparse_cce_logits(j, np.log(clip(np.moveaxis(q, 1, -1))))}
    expected.update(b=expected["a"], c=expected["a"], e2=expected["e"])
    for name, value in expected.items():
        assert out[name].dtype == dtype
        np.testing.assert_allclose(out[name], value, **tolerance(dtype), err_msg=name)
    types = output_types(kgraph.compile(src))
    assert types["a"] == types["c"] == (dtype, ("n",))
    assert types["b"] == (dtype, (None,))  # a target of another rank is flattened
    assert types["e"] == (dtype, (2, None))


def test_sparse_labels_out_of_range_give_nan():
    p = [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]
    out = run_both(f"output sparse_categorical_crossentropy([0, 3, -1], {p})")
    assert np.isfinite(out["out0"][0]) and np.isnan(out["out0"][1:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_crossentropy(dtype, rng):
    src = f"""
placeholder t: {dtype}[None, 3]
placeholder p: {dtype}[None, 3]
output binary_crossentropy(t, p) as a, binary_crossentropy(t, p, from_logits=True) as b
"""
    n = int(rng.integers(1, 5))
    t = rng.integers(0, 2, (n, 3)).astype(dtype)
    p = rng.uniform(0, 1, (n, 3)).astype(dtype)
    p[0] = [0.0, 1.0, 0.5]  # clipped to [1e-7, 1 - 1e-7], and 1e-7 added in the logs
    out = run_both(src, t=t, p=p)
    np.testing.assert_allclose(out["a"], bce(t, p), **tolerance(dtype))
    np.testing.assert_allclose(out["b"], bce_logits(t, p), **tolerance(dtype))
    assert output_types(kgraph.compile(src)) == {"a": (dtype, (None, 3)), "b": (dtype, (None, 3))}


def test_binary_crossentropy_of_sigmoid_is_computed_from_the_logits():
    src = "placeholder z: float32[None]\noutput binary_crossentropy([1.0, 0.0], sigmoid(z))"
    z = np.array([-40.0, 3.0], np.float32)
    np.testing.assert_allclose(run_both(src, z=z)["out0"], bce_logits(np.array([1.0, 0.0]), z), rtol=1e-6)


@pytest.mark.parametrize("call, message", [
    ("categorical_crossentropy(t, p)", "categorical_crossentropy: target and output shapes differ: "
                                       "t is float32[None, 3], p is float32[None, 4]"),
    ("binary_crossentropy(t, p)", "binary_crossentropy: target and output shapes differ: "
                                  "t is float32[None, 3], p is float32[None, 4]"),
    ("sparse_categorical_crossentropy(t[0], s)", "sparse_categorical_crossentropy: target shape must be the "
                                              "output's without its class axis 1: t[0] is float32[3], "
                                              "s is float32[5, 4]"),
    ("sparse_categorical_crossentropy(s[0:2, 0:3], s)",
     "sparse_categorical_crossentropy: target has 6 labels but the output has 5 rows of classes"),
    ("categorical_crossentropy(p, i)", "categorical_crossentropy: expects a floating-point output, but "
                                       "i is int32[None, 4]"),
    ("bias_add(p, t[0])", "bias_add: the bias size must be that of axis 1 of x: p is float32[None, 4], "
                          "t[0] is float32[3]"),
    ("bias_add(p, [[1.0]])", "bias_add: the bias must have rank 1 or ndim(x) - 1 = 1"),
    ("bias_add(p, t[0], 'NHWC')", "bias_add: unknown data_format 'NHWC'"),
])
def test_nn_errors(call, message):
    src = "\n".join(["placeholder t: float32[None, 3]", "placeholder p: float32[None, 4]",
                     "placeholder i: int32[None, 4]", "placeholder s: float32[5, 4]", f"output {call}"])
    with pytest.raises(kgraph.KGraphError) as e:
        kgraph.compile(src)
    assert e.value.message.startswith(message), e.value.message
    assert (e.value.line, e.value.column) == (5, 8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_add(dtype, rng):
    src = f"""
placeholder x: {dtype}[None, 2, 3, 4]
placeholder v4: {dtype}[4]
placeholder v2: {dtype}[2]
placeholder b: {dtype}[2, 3, 4]
placeholder bf: {dtype}[3, 4, 2]
placeholder m: {dtype}[None, 4]
output bias_add(x, v4) as a, bias_add(x, v2, data_format='channels_first') as c, bias_add(m, v4) as d
output bias_add(x, b) as e, bias_add(x, bf, 'channels_first') as f, bias_add(m, v4, 'channels_first') as g
"""
    n = int(rng.integers(1, 4))
    feeds = {"x": rng.normal(size=(n, 2, 3, 4)), "v4": rng.normal(size=4), "v2": rng.normal(size=2),
             "b": rng.normal(size=(2, 3, 4)), "bf": rng.normal(size=(3, 4, 2)), "m": rng.normal(size=(n, 4))}
    feeds = {k: v.astype(dtype) for k, v in feeds.items()}
    out = run_both(src, **feeds)
    x, v4, v2, bf, m = (feeds[k] for k in ("x", "v4", "v2", "bf", "m"))
    expected = {"a": x + v4, "c": x + v2[:, None, None], "d": m + v4, "e": x + feeds["b"],
                # tf_keras *reshapes* a (3, 4, 2) channels_first bias to (1, 2, 3, 4): no transpose
                "f": x + bf.reshape(1, 2, 3, 4), "g": m + v4}
    for name, value in expected.items():
        assert out[name].dtype == dtype
        np.testing.assert_allclose(out[name], value, **tolerance(dtype), err_msg=name)
    types = output_types(kgraph.compile(src))
    assert types["a"] == types["f"] == (dtype, (None, 2, 3, 4))
    assert types["g"] == (dtype, (None, 4))


def test_nn_gradients(rng):
    src = """
placeholder z: float64[3, 4]
placeholder p: float64[3, 4]
placeholder b: float64[4]
t = [[0.0, 1.0, 0.0, 0.0], [0.2, 0.3, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]]
y = categorical_crossentropy(t, softmax(z)) + categorical_crossentropy(t, p) * 2
y = y + sparse_categorical_crossentropy([1, 2, 3], p) + sparse_categorical_crossentropy([3, 0, 1], z * 2, True)
y = y + sum(binary_crossentropy(t, p * 0.5) + binary_crossentropy(t, z, from_logits=True), axis=1)
y = y + sum(l2_normalize(bias_add(z, b), axis=1) * softmax(p, axis=0), axis=1)
"""
    t = np.array([[0.0, 1.0, 0.0, 0.0], [0.2, 0.3, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]])

    def reference(z, p, b):
        y = -np.sum(t * log_softmax(z), -1) + cce(t, p) * 2
        y = y + sparse_cce_logits(np.array([1, 2, 3]), np.log(clip(p)))
        y = y + sparse_cce_logits(np.array([3, 0, 1]), z * 2)
        y = y + np.sum(bce(t, p * 0.5) + bce_logits(t, z), axis=1)
        zb = z + b
        return y + np.sum(zb / np.sqrt(np.sum(zb * zb, 1, keepdims=True)) * softmax(p, 0), axis=1)

    feeds = {"z": rng.normal(size=(3, 4)), "p": rng.uniform(0.1, 0.9, size=(3, 4)), "b": rng.normal(size=4)}
    assert_gradients(src, reference, feeds, ["z", "p", "b"], rtol=1e-5)
