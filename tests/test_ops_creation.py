"""Creation ops: filled tensors, constants, ranges and random draws (seeded and fresh)."""
import numpy as np
import pytest

import kgraph
from kgraph.ops import REGISTRY

from conftest import run_both
from test_ops_linalg import output_types

RANDOM = ["random_normal", "random_uniform", "random_normal_variable", "random_uniform_variable"]
COVERS = {"zeros", "ones", "eye", "zeros_like", "ones_like", "constant", "arange",
          *RANDOM, *(name + "_seeded" for name in RANDOM)}


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_filled_tensors(floatx):
    out = run_both("""
output zeros((2, 3)) as z, ones((3,)) as o, eye(3) as e, eye((2, 4)) as e2
output zeros((2, 2), dtype='int32') as zi, ones((), dtype='bool') as ob, eye(2, dtype='float64') as e64
""", floatx=floatx)
    expected = {"z": np.zeros((2, 3), floatx), "o": np.ones(3, floatx), "e": np.eye(3, dtype=floatx),
                "e2": np.eye(2, 4, dtype=floatx), "zi": np.zeros((2, 2), np.int32),
                "ob": np.ones((), bool), "e64": np.eye(2)}
    for name, value in expected.items():
        assert out[name].dtype == value.dtype, name
        np.testing.assert_array_equal(out[name], value, err_msg=name)


def test_like_ops_keep_the_shape_and_dtype_of_x(rng):
    src = """
placeholder x: int32[None, 3]
placeholder y: float64[n]
output zeros_like(x) as a, ones_like(y) as b, zeros_like(x, dtype='float32') as c, ones_like(x, 'int64') as d
"""
    n = int(rng.integers(1, 6))
    out = run_both(src, x=np.zeros((n, 3), np.int32), y=rng.normal(size=n))
    expected = {"a": np.zeros((n, 3), np.int32), "b": np.ones(n), "c": np.zeros((n, 3), np.float32),
                "d": np.ones((n, 3), np.int64)}
    for name, value in expected.items():
        assert out[name].dtype == value.dtype, name
        np.testing.assert_array_equal(out[name], value, err_msg=name)
    assert output_types(kgraph.compile(src)) == {
        "a": ("int32", (None, 3)), "b": ("float64", ("n",)), "c": ("float32", (None, 3)),
        "d": ("int64", (None, 3))}


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_constant(floatx):
    out = run_both("""
output constant([[1, 2], [3, 4]]) as a, constant(7, dtype='int32', shape=(2, 3)) as b
output constant([1, 2, 3, 4], shape=(2, 2)) as c, constant(0.5, shape=(3,)) as d, constant(True, 'bool') as e
""", floatx=floatx)
    expected = {"a": np.array([[1, 2], [3, 4]], floatx), "b": np.full((2, 3), 7, np.int32),
                "c": np.array([[1, 2], [3, 4]], floatx), "d": np.full(3, 0.5, floatx), "e": np.array(True)}
    for name, value in expected.items():
        assert out[name].dtype == value.dtype, name
        np.testing.assert_array_equal(out[name], value, err_msg=name)


@pytest.mark.parametrize("call, error, message", [
    ("constant([1, 2, 3], shape=(2, 2))", kgraph.ArgumentError, "constant: 3 values cannot fill shape (2, 2)"),
    ("constant(1.5, dtype='int32')", kgraph.ArgumentError, "constant: 1.5 cannot be represented as int32"),
    ("constant([[1, 2], [3]])", kgraph.ShapeError, "constant: a literal array must be rectangular"),
    ("constant(x)", kgraph.ArgumentError, "constant(): 'value' must be known at compile time"),
    ("constant(1, shape=(2, -1))", kgraph.ArgumentError, "constant: shape must be a tuple of non-negative"),
    ("zeros((2, -1))", kgraph.ArgumentError, "zeros: shape must be a tuple of non-negative ints"),
    ("eye((1, 2, 3))", kgraph.ArgumentError, "eye: size must be an int or a pair"),
    ("arange(5, 2)", kgraph.ArgumentError, "arange: start 5 and stop 2 do not agree with step 1"),
    ("arange(0, 5, 0)", kgraph.ArgumentError, "arange: step must not be zero"),
    ("random_normal((2,), dtype='int32')", kgraph.DTypeError, "random_normal: random values must have a "
                                                              "floating-point dtype"),
    ("random_uniform((2,), seed=1.5)", kgraph.ArgumentError, "random_uniform: seed must be an int"),
])
def test_creation_errors(call, error, message):
    with pytest.raises(error) as e:
        kgraph.compile(f"placeholder x: float32[2]\noutput {call}\n")
    assert e.value.message.startswith(message), e.value.message
    assert e.value.line == 2


def test_arange_follows_tf_range():
    out = run_both("""
output arange(5) as a, arange(2, 11, 3) as b, arange(0, 10, 1.5) as c, arange(0, 10, 1.5, dtype='float64') as d
output arange(5, dtype='float64') as e, arange(10, 0, -3) as f, arange(-3) as g, arange(1, 2, 0.25) as h
""", floatx="float64")
    expected = {"a": np.arange(5, dtype=np.int32), "b": np.arange(2, 11, 3, dtype=np.int32),
                # a float bound makes a float32 range, even with the default dtype='int32' (Keras quirk)
                "c": np.arange(0, 10, 1.5, dtype=np.float32), "d": np.arange(0, 10, 1.5),
                "e": np.arange(5.0), "f": np.array([10, 7, 4, 1], np.int32), "g": np.zeros(0, np.int32),
                "h": np.arange(1, 2, 0.25, dtype=np.float32)}
    for name, value in expected.items():
        assert out[name].dtype == value.dtype, name
        np.testing.assert_array_equal(out[name], value, err_msg=name)


SEEDED = """
output random_normal((4000,), mean=2.0, stddev=0.5, seed=3) as a, random_normal((4000,), 2.0, 0.5, seed=3) as b
output random_normal((4000,), mean=2.0, stddev=0.5, seed=4) as c, random_normal((2, 3), dtype='float64', seed=0) as d
output random_uniform((4000,), minval=-1.0, maxval=3.0, seed=3) as u, random_uniform((2,), dtype='float16', seed=0) as h
variable W = random_uniform_variable((3, 4), low=-0.5, high=0.5, seed=1)
variable V: float64 = random_normal_variable((4000,), mean=-1.0, scale=2.0, seed=1)
output W, V
"""


def test_seeded_random_values_are_deterministic():
    prog = kgraph.compile(SEEDED)
    first, again = prog.run(), prog.run()
    other = kgraph.compile(SEEDED, opt_level=0, seed=7).run()
    for name in first:
        np.testing.assert_array_equal(first[name], again[name], err_msg=name)
        np.testing.assert_array_equal(first[name], other[name], err_msg=name)
    np.testing.assert_array_equal(first["a"], first["b"])
    assert not np.array_equal(first["a"], first["c"])
    assert [first[k].dtype for k in "adhWV"] == ["float32", "float64", "float16", "float32", "float64"]
    assert first["d"].shape == (2, 3) and first["W"].shape == (3, 4)
    for name, mean, std in [("a", 2.0, 0.5), ("c", 2.0, 0.5), ("u", 1.0, 4 / 12 ** 0.5), ("V", -1.0, 2.0)]:
        assert abs(first[name].mean() - mean) < 4 * std / 4000 ** 0.5, name
        assert abs(first[name].std() - std) < 0.05 * std, name
    assert first["u"].min() >= -1 and first["u"].max() < 3
    assert np.all(np.abs(first["W"]) <= 0.5) and np.ptp(first["W"]) > 0


def test_random_ops_flags():
    for name in RANDOM:
        fresh, seeded = REGISTRY[name], REGISTRY[name + "_seeded"]
        assert fresh.unique and not fresh.foldable, name
        assert seeded.foldable and not seeded.unique, name
        assert [p.name for p in fresh.params] == [p.name for p in seeded.params]
    source = "output random_normal((2,)), random_normal((2,), seed=1)"
    ops = {node.op for node in kgraph.compile(source, opt_level=0).graph.live_nodes()}
    assert ops == {"random_normal", "random_normal_seeded"}
    # -O1 and up fold the seeded draw into a constant and never the unseeded one.
    ops = {node.op for node in kgraph.compile(source).graph.live_nodes()}
    assert ops == {"random_normal", "const"}


def test_unseeded_random_values_are_fresh_every_run():
    src = "output random_normal((50,)) as a, random_normal((50,)) as b, random_uniform((50,)) as u"
    prog = kgraph.compile(src)
    first, second = prog.run(), prog.run()
    assert not np.array_equal(first["a"], second["a"])
    assert not np.array_equal(first["a"], first["b"])  # two calls are two draws, never merged
    assert np.all((first["u"] >= 0) & (first["u"] < 1))
    # A run is a function of the program's seed and the run number, at every -O level.
    np.testing.assert_array_equal(kgraph.compile(src, opt_level=0).run()["a"], first["a"])
    assert not np.array_equal(kgraph.compile(src, seed=1).run()["a"], first["a"])


def test_fresh_draws_are_shared_by_forward_and_gradient(rng):
    src = ("placeholder x: float32[None, 3]\nr = random_normal((3,))\n"
           "dx = gradients(sum(x * r), [x])[0]\noutput r, dx")
    out = kgraph.compile(src).run(x=rng.normal(size=(2, 3)).astype(np.float32))
    np.testing.assert_array_equal(out["dx"], np.broadcast_to(out["r"], (2, 3)))


def test_a_variable_needs_a_seeded_initial_value():
    with pytest.raises(kgraph.KGraphError, match="give `random_normal_variable` a seed") as e:
        kgraph.compile("variable W = random_normal_variable((2,), 0.0, 1.0)\noutput W")
    assert (e.value.line, e.value.column) == (1, 14)
