"""Reductions against NumPy references: axis variants, keepdims, Keras dtypes, gradients.

To keep the number of XLA compiles down, one program applies every reduction, each
with its own axis variant taken in turn; the variants rotate with the random seed
of the test and differ between the keepdims=False and keepdims=True outputs.
"""
import numpy as np
import pytest

import kgraph

from conftest import run, run_both, tolerance

COVERS = {"sum", "prod", "mean", "max", "min", "std", "var", "any", "all", "argmax", "argmin",
          "logsumexp", "cumsum", "cumprod"}

DTYPES = ["float32", "float64"]


def np_logsumexp(x, axis=None, keepdims=False):
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


REDUCTIONS = {  # name -> (NumPy reference, which input: "x" any reals, "z" with zeros, "u" near ±1)
    "sum": (np.sum, "x"),
    "prod": (np.prod, "u"),
    "mean": (np.mean, "x"),
    "max": (np.max, "x"),
    "min": (np.min, "x"),
    "std": (np.std, "x"),  # NumPy's ddof=0: the population deviation, as tf.math.reduce_std
    "var": (np.var, "x"),
    "any": (lambda v, **kw: np.any(v != 0, **kw), "z"),
    "all": (lambda v, **kw: np.all(v != 0, **kw), "z"),
    "logsumexp": (np_logsumexp, "x"),
}

AXES = [None, 0, -1, (0, 2), [1, 2], 1, (-1, 0, 1)]


def kg_axis(axis) -> str:
    return "None" if axis is None else str(axis)


def np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def reduction_inputs(rng, dtype, shape):
    x = rng.normal(size=shape)
    return {"x": x.astype(dtype),
            "z": rng.integers(-1, 2, size=shape).astype(dtype),
            "u": (rng.uniform(0.7, 1.4, size=shape) * rng.choice([-1, 1], size=shape)).astype(dtype)}


def rotated_axes(rng):
    start = int(rng.integers(len(AXES)))
    return {(name, keep): AXES[(start + 2 * k + keep) % len(AXES)]
            for k, name in enumerate(REDUCTIONS) for keep in (False, True)}


@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions_match_numpy(dtype, rng):
    shape = tuple(int(d) for d in rng.integers(1, 4, size=3))
    feeds = reduction_inputs(rng, dtype, shape)
    axes = rotated_axes(rng)
    outputs = ", ".join(f"{name}({REDUCTIONS[name][1]}, axis={kg_axis(axis)}, keepdims={keep}) as {name}_{keep}"
                        for (name, keep), axis in axes.items())
    src = "\n".join(f"placeholder {k}: {dtype}[None, None, None]" for k in feeds) + f"\noutput {outputs}"
    out = (run_both if dtype == "float32" else run)(src, **feeds)
    wide = {k: v.astype(np.float64) for k, v in feeds.items()}
    for (name, keep), axis in axes.items():
        ref, which = REDUCTIONS[name]
        expected = ref(wide[which], axis=np_axis(axis), keepdims=keep)
        got = out[f"{name}_{keep}"]
        assert got.dtype == np.dtype("bool" if name in ("any", "all") else dtype), (name, axis)
        assert got.shape == np.shape(expected), (name, axis, keep)
        np.testing.assert_allclose(got, expected, **tolerance(dtype), err_msg=f"{name}({axis}, {keep})")


def test_default_axis_and_static_shapes():
    prog = kgraph.compile("placeholder x: float32[None, 4, 5]\n"
                          "output sum(x) as a, mean(x, 1) as b, max(x, axis=(0, 2), keepdims=True) as c, "
                          "argmax(x) as d, cumsum(x) as e, std(x, [0, -1]) as f, any(x, ()) as g")
    types = {name: (node.dtype, node.shape) for name, node in prog.graph.outputs}
    assert types == {"a": ("float32", ()), "b": ("float32", (None, 5)), "c": ("float32", (1, 4, 1)),
                     "d": ("int64", (None, 4)), "e": ("float32", (None, 4, 5)), "f": ("float32", (4,)),
                     "g": ("bool", (None, 4, 5))}


# ---- argmax, argmin, cumsum, cumprod: one axis ------------------------------------------

ONE_AXIS = {  # name -> (NumPy reference, default axis)
    "argmax": (np.argmax, -1),
    "argmin": (np.argmin, -1),
    "cumsum": (np.cumsum, 0),
    "cumprod": (np.cumprod, 0),
}


@pytest.mark.parametrize("dtype", DTYPES + ["int32", "int64"])
def test_one_axis_ops_match_numpy(dtype, rng):
    shape = tuple(int(d) for d in rng.integers(2, 5, size=3))
    x = rng.integers(-3, 4, size=shape).astype(dtype)  # small integers: ties for argmax/argmin
    calls = {f"{name}_{i}": (name, axis) for name in ONE_AXIS for i, axis in enumerate(["default", 1, -1])}
    calls["argmax_none"] = ("argmax", None)  # tf.argmax(x, axis=None) reduces axis 0
    outputs = ", ".join(f"{name}(x{'' if axis == 'default' else f', axis={axis}'}) as {key}"
                        for key, (name, axis) in calls.items())
    out = run(f"placeholder x: {dtype}[None, None, None]\noutput {outputs}", x=x)
    for key, (name, axis) in calls.items():
        ref, default = ONE_AXIS[name]
        axis = default if axis == "default" else 0 if axis is None else axis
        expected = ref(x, axis=axis)
        assert out[key].dtype == np.dtype("int64" if name.startswith("arg") else dtype), key
        np.testing.assert_array_equal(out[key], expected, err_msg=key)  # ties: the first index


# ---- integer and bool dtypes --------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
def test_integer_reductions_keep_their_dtype(dtype, rng):
    lo = 0 if dtype == "uint8" else -9
    x = rng.integers(lo, 10, size=(3, 4)).astype(dtype)
    names = ["sum", "prod", "mean", "max", "min"]
    out = run(f"placeholder x: {dtype}[None, 4]\n"
              f"output {', '.join(f'{n}(x) as {n}, {n}(x, axis=1) as {n}_1' for n in names)}", x=x)
    wide = x.astype(np.int64)
    for name in names:
        for key, axis in ((name, None), (f"{name}_1", 1)):
            assert out[key].dtype == np.dtype(dtype), key  # int32 stays int32 even with x64 on
            if name == "mean":  # an integer mean truncates towards zero, as tf.reduce_mean
                expected = np.trunc(np.sum(wide, axis=axis) / (wide.size if axis is None else 4))
            else:
                expected = getattr(np, name)(wide, axis=axis).astype(dtype)  # products wrap as in TF
            np.testing.assert_array_equal(out[key], expected, err_msg=key)


def test_integer_mean_truncates_towards_zero():
    out = run_both("output mean([-1, -2]) as a, mean([[1, 2], [3, 6]], axis=1) as b, mean([-7, 0]) as c")
    assert out["a"].dtype == np.int32
    assert (out["a"], list(out["b"]), out["c"]) == (-1, [1, 4], -3)


@pytest.mark.parametrize("floatx", DTYPES)
def test_bool_reductions(floatx, rng):
    b = rng.integers(0, 2, size=(3, 4)).astype(bool)
    src = ("placeholder b: bool[None, 4]\n"
           "output sum(b) as sum, sum(b, axis=0) as sum0, mean(b) as mean, mean(b, axis=1) as mean1, "
           "var(b, axis=0) as var, std(b) as std, any(b, axis=1) as any, all(b, axis=0) as all, "
           "max(b) as max, cumsum(b, axis=1) as cumsum, prod(b, axis=0) as prod, argmax(b) as argmax")
    out = run(src, floatx=floatx, b=b)
    f = b.astype(np.float64)
    expected = {"sum": (np.sum(b), "int32"), "sum0": (np.sum(b, axis=0), "int32"),
                "mean": (f.mean(), floatx), "mean1": (f.mean(axis=1), floatx),  # cast to floatx() first
                "var": (f.var(axis=0), floatx), "std": (f.std(), floatx),
                "any": (b.any(axis=1), "bool"), "all": (b.all(axis=0), "bool"), "max": (b.max(), "bool"),
                "cumsum": (np.cumsum(b, axis=1), "int32"), "prod": (np.prod(b, axis=0), "int32"),
                "argmax": (np.argmax(b, axis=-1), "int64")}
    for name, (value, dtype) in expected.items():
        assert out[name].dtype == np.dtype(dtype), name
        np.testing.assert_allclose(out[name], value, **tolerance(floatx), err_msg=name)


def test_any_and_all_cast_numbers_to_bool():
    out = run_both("x = [[0.0, 0.5], [0.0, 0.0]]\ni = [[0, 3], [-1, 2]]\n"
                   "output any(x, axis=1) as a, all(x) as b, any(i, axis=0) as c, all(i, axis=0) as d")
    assert [list(np.atleast_1d(out[k])) for k in "abcd"] == [[True, False], [False], [True, True], [False, True]]


# ---- numerics ----------------------------------------------------------------------------------

def test_logsumexp_is_stable_and_handles_infinities():
    x = np.array([[1000.0, 1000.0], [-np.inf, -np.inf], [-np.inf, 0.0], [-1000.0, -1000.0]])
    out = run_both("placeholder x: float64[None, 2]\noutput logsumexp(x, axis=1) as a, "
                   "gradients(sum(logsumexp(x[0:1], axis=1)), [x])[0] as g", x=x)
    np.testing.assert_allclose(out["a"], [1000 + np.log(2), -np.inf, 0, -1000 + np.log(2)])
    np.testing.assert_allclose(out["g"][0], [0.5, 0.5])


def test_empty_reductions_give_their_identities():
    x = np.zeros((0, 3), np.float32)
    out = run("placeholder x: float32[None, 3]\noutput sum(x, axis=0) as s, prod(x, axis=0) as p, "
              "max(x, axis=0) as mx, min(x, axis=0) as mn", x=x)
    np.testing.assert_array_equal(out["s"], [0, 0, 0])
    np.testing.assert_array_equal(out["p"], [1, 1, 1])
    np.testing.assert_array_equal(out["mx"], [-np.inf] * 3)  # tf.reduce_max of nothing is -inf
    np.testing.assert_array_equal(out["mn"], [np.inf] * 3)


def test_reductions_of_a_scalar():
    out = run_both("x = 3.0\noutput sum(x) as a, mean(x, axis=0) as b, max(x, -1) as c, var(x) as d")
    assert [float(out[k]) for k in "abcd"] == [3.0, 3.0, 3.0, 0.0]


# ---- gradients ---------------------------------------------------------------------------------

def numeric_gradient(loss, x, h=1e-6):
    """∂loss/∂x for a scalar loss of an array, one central difference per element."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (loss(x + step) - loss(x - step)) / (2 * h)
    return grad


GRADIENTS = [("sum", np.sum, dict(axis=1)), ("prod", np.prod, dict(axis=(0, 2))), ("mean", np.mean, dict()),
             ("max", np.max, dict(axis=-1, keepdims=True)), ("min", np.min, dict(axis=0)),
             ("std", np.std, dict(axis=(1, 2))), ("var", np.var, dict(axis=2, keepdims=True)),
             ("logsumexp", np_logsumexp, dict(axis=1)), ("cumsum", np.cumsum, dict(axis=1)),
             ("cumprod", np.cumprod, dict(axis=2))]


def test_reduction_gradients_match_finite_differences(rng):
    # sum(square(op(x))): every output element weighs in differently.
    x = rng.uniform(0.5, 1.5, size=(2, 3, 2)) * rng.choice([-1, 1], size=(2, 3, 2))
    calls = {name: f"{name}(x{''.join(f', {k}={v}' for k, v in kw.items())})" for name, _, kw in GRADIENTS}
    outputs = ", ".join(f"gradients(sum(square({call})), [x])[0] as {name}" for name, call in calls.items())
    out = run(f"placeholder x: float64[None, None, 2]\noutput {outputs}", x=x)
    for name, ref, kw in GRADIENTS:
        expected = numeric_gradient(lambda v: np.sum(np.square(ref(v, **kw))), x)
        np.testing.assert_allclose(out[name], expected, rtol=1e-6, atol=1e-8, err_msg=name)


def test_max_and_min_share_the_gradient_between_ties():
    out = run_both("x = [1.0, 3.0, 3.0, -2.0]\n"
                   "output gradients(max(x), [x])[0] as mx, gradients(min(x * 0), [x])[0] as mn")
    np.testing.assert_allclose(out["mx"], [0, 0.5, 0.5, 0])  # as tf.reduce_max's gradient
    np.testing.assert_allclose(out["mn"], [0, 0, 0, 0])


# ---- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, cls, message", [
    ("sum(x, axis=2)", kgraph.ShapeError, "sum: axis 2 is out of range: x is float32[None, 3]"),
    ("mean(x, axis=(0, 0))", kgraph.ArgumentError, "mean: repeated axis in (0, 0)"),
    ("max(x, axis='a')", kgraph.ArgumentError, "max: axis must be an int or a tuple of ints, got 'a'"),
    ("argmax(x, axis=(0, 1))", kgraph.ArgumentError, "argmax: axis must be an int, got (0, 1)"),
    ("cumsum(x, axis=-3)", kgraph.ShapeError, "cumsum: axis -3 is out of range: x is float32[None, 3]"),
    ("cumprod(sum(x))", kgraph.ShapeError, "cumprod: needs a tensor of rank 1 or more: sum(x) is float32[]"),
    ("var(i)", kgraph.DTypeError, "var: expects a floating-point tensor, but i is int32[2]"),
    ("std(i, axis=0)", kgraph.DTypeError, "std: expects a floating-point tensor, but i is int32[2]"),
    ("logsumexp(i)", kgraph.DTypeError, "logsumexp: expects a floating-point tensor, but i is int32[2]"),
])
def test_reduction_errors(expr, cls, message):
    src = f"placeholder x: float32[None, 3]\nplaceholder i: int32[2]\ny = {expr}\noutput y"
    with pytest.raises(cls) as info:
        kgraph.compile(src, filename="r.kg")
    assert info.value.message == message
    assert (info.value.line, info.value.column) == (3, 5)
