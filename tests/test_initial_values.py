"""Variables' initial values: computed off the critical path, with the same bits as before.

consteval.InitialValues computes zeros, ones, eye and constants with NumPy (`Op.host`) and the
rest (random draws) in one XLA call on a background thread, while the step compiles; the first
run compiles the step for the variables' types and then finds it compiled.
"""
import hashlib
import logging

import jax
import numpy as np
import pytest

import kgraph
from kgraph.consteval import evaluate_constants
from kgraph.frontend import frontend
from kgraph.ops import REGISTRY

SEEDED = """\
placeholder x: float32[5, 7]
variable a = random_normal_variable((5, 7), mean=1.0, scale=0.5, seed=3)
variable b: float64 = random_uniform_variable((6,), low=-2.0, high=3.0, seed=11)
variable c = truncated_normal((3, 4), mean=0.0, stddev=2.0, seed=5)
variable d: float16 = random_normal((4,), seed=7) * 2.0 + 1.0
variable e: bfloat16 = random_uniform((2, 3), seed=9)
variable f = zeros((2, 2))
variable g: int32 = ones((3,), dtype='int32')
variable h = eye((2, 3))
variable i: float64 = random_bernoulli((8,), p=0.3, seed=2)
update a = a + x
output sum(a * x) as y
"""

# sha256 (first 32 hex digits) of each value's bytes on XLA:CPU, as kgraph computed them before
# the draws moved to a background thread (commit 5e79e4c, one jitted call in Program's constructor).
BEFORE = {
    "a": ("float32", (5, 7), "f99fa644f740bf08e77f0c8c9adfd3e2"),
    "b": ("float64", (6,), "125578f54434cbfd535d896ae31de461"),
    "c": ("float32", (3, 4), "845b26970bea23206b7d84693a1d6be3"),
    "d": ("float16", (4,), "b1e2faa10156ee23a52eeccfc2e947c4"),
    "e": ("bfloat16", (2, 3), "9a5db6948449fb78d3c10d870eabc9e1"),
    "f": ("float32", (2, 2), "374708fff7719dd5979ec875d56cd228"),
    "g": ("int32", (3,), "11047585fe102fbb5cadb42446612a57"),
    "h": ("float32", (2, 3), "ab43fbd0c2e97ddd3c5c378b47c72517"),
    "i": ("float64", (8,), "0494b3d216003745685527cfc143ed41"),
}


@pytest.fixture(scope="module")
def seeded():
    return kgraph.compile(SEEDED)


def digest(value: np.ndarray) -> str:
    return hashlib.sha256(value.tobytes()).hexdigest()[:32]


def test_seeded_values_are_the_ones_computed_before(seeded):
    values = seeded.variables
    assert list(values) == list(BEFORE)
    for name, (dtype, shape, before) in BEFORE.items():
        assert (values[name].dtype.name, values[name].shape) == (dtype, shape), name
        if jax.default_backend() == "cpu":  # the digests are XLA:CPU's bits
            assert digest(values[name]) == before, name


def test_values_equal_one_direct_evaluation_of_their_nodes():
    """Whatever the platform: the same bits as the one jitted call (at XLA -O0) of old."""
    module = frontend(SEEDED)
    pending = dict(module.initial._pending)
    direct = evaluate_constants([node for node, _ in pending.values()], optimize=False)
    values = module.variables
    for (name, (_, dtype)), value in zip(pending.items(), direct):
        np.testing.assert_array_equal(values[name], value.astype(values[name].dtype), err_msg=name)
        assert values[name].tobytes() == value.astype(values[name].dtype).tobytes(), name
    assert set(pending) == {"a", "b", "c", "d", "e", "i"}  # zeros, ones, eye: NumPy's


@pytest.mark.parametrize("source", [
    "output zeros((2, 3))", "output zeros((3,), dtype='int64')", "output ones((2, 2), dtype='bfloat16')",
    "output ones((), dtype='bool')", "output eye((2, 4), dtype='float16')", "output eye(3, dtype='int32')",
    "output constant([[1, 2], [3, 4]], dtype='float64')", "output constant(7, dtype='int8', shape=(2, 3))",
])
def test_host_values_have_the_lowerings_bits(source):
    node = frontend(source).graph.outputs[0][1]
    host = REGISTRY[node.op].host
    assert host is not None, node.op
    expected = evaluate_constants([node])[0]
    got = host(**dict(node.attrs))
    assert (got.dtype, got.shape) == (expected.dtype, expected.shape)
    assert got.tobytes() == expected.tobytes()


def test_cheap_values_need_no_xla_call():
    module = frontend("variable w = zeros((3, 2))\nvariable b: float64 = ones((2,), dtype='int32')\n"
                      "variable e = eye(2)\nvariable k = [1.0, 2.0]\noutput w")
    assert not module.initial.pending
    assert module.initial._values["b"].dtype == np.float64


def test_first_run_compiles_the_step_once(seeded, caplog):
    """The step compiled for the variables' types is the one the run then calls."""
    prog = kgraph.compile(SEEDED)
    x = np.ones((5, 7), np.float32)
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        first = prog.run(x=x)["y"]
        second = prog.run(x=x)["y"]
    steps = [r for r in caplog.records if "Compiling jit(run)" in r.getMessage()]
    assert len(steps) == 1, [r.getMessage()[:80] for r in steps]
    a = seeded.variables["a"]
    np.testing.assert_allclose(first, np.sum(a * x), rtol=1e-5)
    np.testing.assert_allclose(second, np.sum((a + x) * x), rtol=1e-5)


def test_values_read_before_any_run_match_the_run(seeded):
    prog = kgraph.compile(SEEDED)
    before = prog.variables["a"]
    prog.run(x=np.zeros((5, 7), np.float32))
    np.testing.assert_array_equal(prog.variables["a"], before)
    assert digest(before) == digest(seeded.variables["a"])
