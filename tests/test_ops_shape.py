"""Shape ops against NumPy, with None and named dims carried through the shape rules."""
import numpy as np
import pytest

import kgraph

from conftest import run_both
from gradient_check import assert_gradients
from test_ops_linalg import output_types

COVERS = {"reshape", "permute_dimensions", "expand_dims", "squeeze", "flatten", "batch_flatten",
          "concatenate", "stack", "tile", "repeat_elements", "repeat", "reverse", "one_hot", "gather",
          "shape"}

RESHAPING = """
placeholder x: {dt}[None, 3, 4]
placeholder y: {dt}[None, 3, 4]
placeholder m: {dt}[None, 2]
output reshape(x, (-1, 12)) as r1, reshape(x, (-1, 2, 2, 3)) as r2, reshape(x[0], (2, 6)) as r3
output permute_dimensions(x, (2, 0, 1)) as p, transpose(x) as t
output expand_dims(x) as e1, expand_dims(x, 0) as e2, expand_dims(x, -2) as e3
output squeeze(x[:, 0:1], 1) as s1, squeeze(expand_dims(x, 0), -4) as s2
output flatten(x) as f, batch_flatten(x) as bf, batch_flatten(m) as bf2
output concatenate([x, y]) as c1, concatenate([x, y, x], axis=0) as c2, concatenate([x, y], axis=-2) as c3
output stack([x, y]) as k1, stack([x, y], axis=-1) as k2, stack(x) as k3, stack(x, axis=2) as k4
output tile(x, (1, 2, 3)) as ti, repeat_elements(x, 2, axis=1) as re1, repeat_elements(x, 3, -1) as re2
output repeat(m, 3) as rp, reverse(x, 0) as v1, reverse(x, (1, -1)) as v2
"""


def numpy_reshaping(x, y, m):
    return {
        "r1": x.reshape(-1, 12), "r2": x.reshape(-1, 2, 2, 3), "r3": x[0].reshape(2, 6),
        "p": x.transpose(2, 0, 1), "t": x.transpose(),
        "e1": x[..., None], "e2": x[None], "e3": x[:, :, None, :],
        "s1": x[:, 0], "s2": x,
        "f": x.ravel(), "bf": x.reshape(len(x), -1), "bf2": m,
        "c1": np.concatenate([x, y], -1), "c2": np.concatenate([x, y, x], 0), "c3": np.concatenate([x, y], 1),
        "k1": np.stack([x, y]), "k2": np.stack([x, y], -1), "k3": x, "k4": np.stack(list(x), 2),
        "ti": np.tile(x, (1, 2, 3)), "re1": np.repeat(x, 2, 1), "re2": np.repeat(x, 3, -1),
        "rp": np.repeat(m[:, None, :], 3, 1), "v1": x[::-1], "v2": x[:, ::-1, ::-1],
    }


STATIC_TYPES = {  # with x: [None, 3, 4]
    "r1": (None, 12), "r2": (None, 2, 2, 3), "r3": (2, 6), "p": (4, None, 3), "t": (4, 3, None),
    "e1": (None, 3, 4, 1), "e2": (1, None, 3, 4), "e3": (None, 3, 1, 4), "s1": (None, 4),
    "s2": (None, 3, 4), "f": (None,), "bf": (None, 12), "bf2": (None, 2), "c1": (None, 3, 8),
    "c2": (None, 3, 4), "c3": (None, 6, 4), "k1": (2, None, 3, 4), "k2": (None, 3, 4, 2),
    "k3": (None, 3, 4), "k4": (3, 4, None), "ti": (None, 6, 12), "re1": (None, 6, 4),
    "re2": (None, 3, 12), "rp": (None, 3, 2), "v1": (None, 3, 4), "v2": (None, 3, 4),
}


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_reshaping_ops_match_numpy(dtype, rng):
    src = RESHAPING.format(dt=dtype)
    batch = int(rng.integers(1, 5))
    feeds = {"x": rng.normal(size=(batch, 3, 4)) * 10, "y": rng.normal(size=(batch, 3, 4)) * 10,
             "m": rng.normal(size=(batch, 2)) * 10}
    feeds = {k: v.astype(dtype) for k, v in feeds.items()}
    out = run_both(src, **feeds)
    expected = numpy_reshaping(**feeds)
    assert list(out) == list(expected)
    for name, value in expected.items():
        assert out[name].dtype == dtype, name
        np.testing.assert_array_equal(out[name], value, err_msg=name)
    assert output_types(kgraph.compile(src)) == {k: (dtype, s) for k, s in STATIC_TYPES.items()}


def test_named_dims_are_carried_through():
    src = """
placeholder x: float32[batch, 3, 4]
placeholder y: float32[batch, 5]
placeholder z: float32[None, 5]
output reshape(x, (-1, 12)) as r, batch_flatten(x) as bf, flatten(y[:, 0]) as f
output concatenate([batch_flatten(x), y], axis=1) as c, concatenate([z, y]) as cz, stack([y, z]) as s
output expand_dims(y, 1) as e, tile(y, (1, 2)) as t, repeat(y, 2) as rp, reverse(y, 0) as v
output reshape(x, (2, -1)) as unknown
"""
    assert output_types(kgraph.compile(src)) == {
        "r": ("float32", ("batch", 12)), "bf": ("float32", ("batch", 12)), "f": ("float32", ("batch",)),
        "c": ("float32", ("batch", 17)), "cz": ("float32", ("batch", 10)), "s": ("float32", (2, "batch", 5)),
        "e": ("float32", ("batch", 1, 5)), "t": ("float32", ("batch", 10)), "rp": ("float32", ("batch", 2, 5)),
        "v": ("float32", ("batch", 5)), "unknown": ("float32", (2, None)),
    }


def test_reshape_infers_static_shapes():
    out = run_both("""
x = zeros((4, 3, 2))
output int_shape(reshape(x, (-1,))) as a, int_shape(reshape(x, (2, -1, 3))) as b
output int_shape(flatten(zeros(()))) as c, int_shape(batch_flatten(zeros((5,)))) as d
output int_shape(batch_flatten(zeros(()))) as e, int_shape(reshape(zeros((0, 3)), (3, 0))) as f
""")
    assert {k: v.tolist() for k, v in out.items()} == {
        "a": [24], "b": [2, 4, 3], "c": [1], "d": [5, 1], "e": [1, 1], "f": [3, 0]}


@pytest.mark.parametrize("call, message", [
    ("reshape(x, (5, 5))", "reshape: cannot reshape into shape (5, 5) (25 elements), a multiple of "
                           "12 elements: x is float32[None, 3, 4]"),
    ("reshape(z, (-1, 5))", "reshape: cannot reshape into shape (-1, 5): 12 elements are not a "
                            "multiple of 5: z is float32[2, 6]"),
    ("reshape(z, (-1, -1))", "reshape: the new shape (-1, -1) may only have one -1"),
    ("concatenate([x, z], axis=0)", "concatenate: shapes must agree except along axis 0: "
                                    "x is float32[None, 3, 4], z is float32[2, 6]"),
    ("concatenate([x, x[:, 0:2, 0:3]])", "concatenate: shapes must agree except along axis 2: "
                                         "x is float32[None, 3, 4], x[:, 0:2, 0:3] is float32[None, 2, 3]"),
    ("stack([x, x[0]])", "stack: shapes must agree: x is float32[None, 3, 4], x[0] is float32[3, 4]"),
    ("stack(x, axis=3)", "stack: axis 3 is out of range for stacking tensors of rank 2"),
    ("squeeze(x, 1)", "squeeze: cannot squeeze axis 1, of size 3: x is float32[None, 3, 4]"),
    ("permute_dimensions(x, (0, 1))", "permute_dimensions: pattern (0, 1) is not a permutation"),
    ("tile(x, 2)", "tile: n=2 must give one non-negative multiple per axis: x is float32[None, 3, 4]"),
    ("repeat(x, 2)", "repeat: expects a 2-D tensor (samples, dim): x is float32[None, 3, 4]"),
    ("expand_dims(z, 3)", "expand_dims: axis 3 is out of range: z is float32[2, 6]"),
    ("reverse(z, (0, 0))", "reverse: repeated axis in (0, 0)"),
    ("one_hot(x, 3)", "one_hot: indices must be integers, but x is float32[None, 3, 4]"),
    ("gather(x, [0.5])", "gather: indices must be integers, but [0.5] is float32[1]"),
])
def test_shape_errors_name_operands_at_the_call(call, message):
    src = f"placeholder x: float32[None, 3, 4]\nplaceholder z: float32[2, 6]\noutput  {call}\n"
    with pytest.raises(kgraph.KGraphError) as e:
        kgraph.compile(src, filename="s.kg")
    assert e.value.message.startswith(message), e.value.message
    assert (e.value.filename, e.value.line, e.value.column) == ("s.kg", 3, 9)


def test_reshape_checks_unknown_dims_at_run_time(rng):
    prog = kgraph.compile("placeholder x: float32[None, 4]\n\ny = reshape(x, (2, 6))\noutput y")
    np.testing.assert_array_equal(prog.run(x=np.arange(12.0).reshape(3, 4))["y"],
                                  np.arange(12.0).reshape(2, 6))
    with pytest.raises(kgraph.ShapeError, match=r"cannot reshape a value of shape \(2, 4\)") as e:
        prog.run(x=np.zeros((2, 4), np.float32))
    assert (e.value.line, e.value.column) == (3, 5)


def test_stack_of_one_tensor_is_the_stack_of_its_slices():
    src = "x = [[1, 2, 3], [4, 5, 6]]\noutput stack(x) as a, stack(x, axis=1) as b, stack(x, axis=-1) as c"
    out = run_both(src)
    x = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(out["a"], np.stack(list(x)))
    np.testing.assert_array_equal(out["b"], np.stack(list(x), axis=1))
    np.testing.assert_array_equal(out["c"], np.stack(list(x), axis=-1))
    with pytest.raises(kgraph.ShapeError, match="a single tensor is stacked as the sequence of its slices"):
        kgraph.compile("output stack(constant(1.0))")


def test_joining_promotes_dtypes_and_lifts_literals():
    out = run_both("x = [[1.5, 2.5]]\noutput concatenate([x, [[1, 2]]]) as c, stack([x[0], [3, 4]]) as s")
    assert out["c"].dtype == out["s"].dtype == np.float32
    np.testing.assert_array_equal(out["c"], [[1.5, 2.5, 1, 2]])
    np.testing.assert_array_equal(out["s"], [[1.5, 2.5], [3, 4]])


@pytest.mark.parametrize("itype", ["int32", "int64", "uint8"])
def test_one_hot_and_gather(itype, rng):
    src = f"""
placeholder i: {itype}[None, 2]
placeholder r: float64[5, 3]
output one_hot(i, 5) as oh, gather(r, i) as g, gather(r[:, 0], i) as g1
"""
    n = int(rng.integers(1, 4))
    i = rng.integers(0, 5, size=(n, 2)).astype(itype)
    r = rng.normal(size=(5, 3))
    out = run_both(src, i=i, r=r)
    assert out["oh"].dtype == np.float32  # tf.one_hot's default, whatever floatx() is
    np.testing.assert_array_equal(out["oh"], np.eye(5, dtype=np.float32)[i])
    np.testing.assert_array_equal(out["g"], r[i])
    np.testing.assert_array_equal(out["g1"], r[:, 0][i])
    types = output_types(kgraph.compile(src))
    assert types == {"oh": ("float32", (None, 2, 5)), "g": ("float64", (None, 2, 3)),
                     "g1": ("float64", (None, 2))}


def test_out_of_range_indices():
    out = run_both("i = [-1, 0, 3]\nr = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]\n"
                   "output one_hot(i, 3) as oh, gather(r, i) as g")
    np.testing.assert_array_equal(out["oh"], [[0, 0, 0], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(out["g"], [[np.nan, np.nan], [1, 2], [np.nan, np.nan]])


def test_shape_is_static_where_known(rng):
    src = "placeholder x: float32[None, 3]\nplaceholder s: float32[2, 5]\noutput shape(x) as a, shape(s) as b"
    with pytest.warns(kgraph.KGraphWarning, match="placeholder 's' is not used"):  # its shape is a constant
        prog = kgraph.compile(src)
    assert output_types(prog) == {"a": ("int32", (2,)), "b": ("int32", (2,))}
    assert dict(prog.graph.outputs)["b"].op == "const"
    n = int(rng.integers(1, 9))
    with pytest.warns(kgraph.KGraphWarning):
        out = run_both(src, x=np.zeros((n, 3), np.float32), s=np.zeros((2, 5), np.float32))
    assert out["a"].dtype == np.int32
    assert out["a"].tolist() == [n, 3] and out["b"].tolist() == [2, 5]


def test_gradients_through_shape_ops(rng):
    src = """
placeholder x: float64[2, 3]
placeholder z: float64[3, 2]
a = concatenate([reshape(x, (3, 2)), permute_dimensions(permute_dimensions(z, (1, 0)), (1, 0))], axis=0)
b = stack([a, reverse(a, 0)], axis=1) * tile(expand_dims(z, 1), (2, 2, 1))
c = repeat_elements(batch_flatten(b), 2, axis=1) + flatten(repeat(x, 2))[0:8]
y = gather(c, [0, 5, 5]) * squeeze(expand_dims(x, 0), 0)[0:1, 0:1]
"""

    def reference(x, z):
        a = np.concatenate([x.reshape(3, 2), z.transpose().transpose()], axis=0)
        b = np.stack([a, a[::-1]], axis=1) * np.tile(z[:, None], (2, 2, 1))
        c = np.repeat(b.reshape(6, -1), 2, axis=1) + np.repeat(x[:, None], 2, 1).ravel()[0:8]
        return c[[0, 5, 5]] * x[0:1, 0:1]

    assert_gradients(src, reference, {"x": rng.normal(size=(2, 3)), "z": rng.normal(size=(3, 2))}, ["x", "z"])
