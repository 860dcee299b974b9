"""kgraph.backend (K): the Keras 2 backend API on kgraph's IR."""
import inspect
import warnings

import numpy as np
import pytest

import kgraph
from kgraph import backend as K
from kgraph.interop import extract
from kgraph.ir import format_ir
from kgraph.ops import REGISTRY


@pytest.fixture(autouse=True)
def fresh_session():
    K.clear_session()
    yield
    K.clear_session()


def line_of(marker: str) -> int:
    """The line of this file holding `marker` (so tests do not hard-code line numbers)."""
    lines = open(__file__).read().splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line and "line_of" not in line)


def test_builds_the_same_ir_as_the_text_front_end():
    x = K.placeholder(shape=(None, 4), name="x")
    W = K.variable(np.full((4, 3), 0.5), name="W")
    b = K.variable(np.zeros(3), name="b")
    p = K.softmax(K.dot(x, W) + b)
    loss = K.sum(K.categorical_crossentropy(K.constant([[0.0, 1.0, 0.0]]), p))
    dW, db = K.gradients(loss, [W, b])
    backend_ir = format_ir(extract([("loss", loss.node), ("dW", dW.node), ("db", db.node)]))
    prog = kgraph.compile("""
placeholder x: float32[None, 4]
variable W = [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
variable b = [0.0, 0.0, 0.0]
p = softmax(dot(x, W) + b)
loss = sum(categorical_crossentropy([[0.0, 1.0, 0.0]], p))
dW, db = gradients(loss, [W, b])
output loss, dW, db
""", opt_level=0)
    assert backend_ir == format_ir(prog.graph)


def test_every_op_is_a_function_with_its_keras_signature():
    for name, op in REGISTRY.items():
        if op.category == "internal" or name == "getitem":
            assert not hasattr(K, name) or name in ("placeholder", "variable"), name
            continue
        assert callable(getattr(K, name)), name
    assert str(inspect.signature(K.sum)) == "(x, axis=None, keepdims=False)"
    assert list(inspect.signature(K.zeros).parameters) == ["shape", "dtype", "name"]
    assert "Sum of the values" in K.sum.__doc__


def test_tensors_print_like_keras_and_take_unique_names():
    x = K.placeholder(shape=(None, 4))
    W = K.variable(np.ones((4, 3)))
    y = K.dot(x, W)
    z = K.dot(y, K.variable(np.ones((3, 3)), name="V"))
    assert repr(x) == "<KTensor 'placeholder' shape=(None, 4) dtype=float32>"
    assert repr(W) == "<KVariable 'variable' shape=(4, 3) dtype=float32>"
    assert repr(y) == "<KTensor 'dot' shape=(None, 3) dtype=float32>"
    assert repr(z) == "<KTensor 'dot_1' shape=(None, 3) dtype=float32>"
    assert K.placeholder(shape=(2,), name="x").name == "x"
    assert K.placeholder(shape=(2,), name="x").name == "x_1"
    assert (K.int_shape(z), K.ndim(z), K.dtype(z), K.count_params(W)) == ((None, 3), 2, "float32", 12)


def test_operators_and_indexing():
    x = K.variable([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    v = K.get_value(x)
    cases = [(x + 1, v + 1), (1 - x, 1 - v), (x * x, v * v), (x / 2, v / 2), (2 / x, 2 / v),
             (-x, -v), (x // 2, v // 2), (x % 4, v % 4), (x @ K.transpose(x), v @ v.T),
             (x[0], v[0]), (x[:, 1:], v[:, 1:]), (x[..., -1], v[..., -1]), (x[::-1, None], v[::-1, None]),
             (np.ones(3) + x, 1 + v)]
    for tensor, want in cases:
        got = K.eval(tensor)
        assert got.dtype == np.float32  # a NumPy float64 array is a literal: it takes floatx()
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_comparisons_pow_and_abs():
    x = K.variable([-1.0, 0.0, 2.0])
    v = K.get_value(x)
    for tensor, want in [(x < 0, v < 0), (x >= 0, v >= 0), (x == 0, v == 0), (x != 0, v != 0),
                         (x ** 2, v ** 2), (abs(x), np.abs(v))]:
        np.testing.assert_array_equal(K.eval(tensor), want)


def test_symbolic_tensors_refuse_truth_and_arrays():
    x = K.placeholder(shape=(2,))
    with pytest.raises(TypeError, match="truth value"):
        bool(x)
    with pytest.raises(TypeError, match="no value yet"):
        np.asarray(x)
    with pytest.raises(TypeError, match="not iterable"):
        list(x)


def test_shape_errors_point_at_the_users_line():
    x = K.placeholder(shape=(None, 4, 5))
    W = K.variable(np.ones((4, 3)))
    with pytest.raises(kgraph.ShapeError) as e:
        K.dot(x, W)  # the shape error
    err = e.value
    assert (err.filename, err.line) == (__file__, line_of("K.dot(x, W)  # the shape error"))
    assert err.column == 9
    assert "dot: contraction dims differ: x is float32[None, 4, 5], W is float32[4, 3] (5 != 4)" in str(err)
    source_line, caret_line = str(err).splitlines()[1:3]
    assert source_line.strip() == "K.dot(x, W)  # the shape error"
    assert caret_line.index("^") == source_line.index("K.dot") and caret_line.strip() == "^" + "~" * (len("K.dot(x, W)") - 1)
    with pytest.raises(kgraph.ShapeError) as e:
        x + K.variable(np.ones(3))  # an operator
    assert e.value.line == line_of("x + K.variable(np.ones(3))  # an operator")
    assert "x is float32[None, 4, 5], K.variable(np.ones(3)) is float32[3]" in str(e.value)


def test_function_feeds_and_updates():
    x = K.placeholder(shape=(None, 2), name="x")
    W = K.variable([[1.0], [2.0]], name="W")
    step = K.variable(0, dtype="int32", name="step")
    y = K.dot(x, W)
    loss = K.sum(y)
    (grad,) = K.gradients(loss, [W])
    train = K.function([x], [loss], updates=[K.update_sub(W, 0.5 * grad), K.update_add(step, 1)])
    data = np.array([[1.0, 1.0], [2.0, 0.0]])
    assert train([data]) == [pytest.approx(np.float32(1 + 2 + 2))]
    np.testing.assert_allclose(K.get_value(W), [[1 - 1.5], [2 - 0.5]])
    train([data])
    np.testing.assert_allclose(K.get_value(W), [[1 - 3.0], [2 - 1.0]])
    assert K.get_value(step) == 2
    predict = K.function([x], y)  # one output, not a list: one value back
    np.testing.assert_allclose(predict([data]), data @ K.get_value(W))
    K.set_value(W, [[0.0], [1.0]])
    np.testing.assert_allclose(predict([data]), [[1.0], [0.0]])
    with pytest.raises(kgraph.FeedError, match="x is declared float32\\[None, 2\\]"):
        predict([np.ones((2, 3))])


def test_update_and_value_errors():
    W = K.variable(np.ones((2, 2)))
    with pytest.raises(kgraph.DTypeError, match="keeps the variable's dtype"):
        K.update(W, K.variable(np.ones((2, 2)), dtype="float64"))
    with pytest.raises(kgraph.ShapeError, match="keeps the variable's shape"):
        K.update(W, K.variable(np.ones((2,))))
    with pytest.raises(kgraph.KGraphError, match="only variables can be updated"):
        K.update(W + 1, W)
    with pytest.raises(kgraph.ShapeError, match="K.set_value"):
        K.set_value(W, np.ones(3))
    value = K.get_value(W)
    value[0, 0] = 7  # a copy: the variable keeps its value
    assert K.get_value(W)[0, 0] == 1


def test_eval_needs_no_feeds():
    x = K.placeholder(shape=(2,), name="inp")
    with pytest.raises(kgraph.KGraphError, match="K.eval: .*placeholder 'inp'"):
        K.eval(x * 2)


def test_clear_session_forgets_tensors():
    W = K.variable(np.ones(2))
    K.clear_session()
    with pytest.raises(kgraph.KGraphError, match="clear_session"):
        K.eval(W + 1)


def test_floatx():
    assert K.floatx() == "float32" and K.epsilon() == 1e-7
    K.set_floatx("float64")
    try:
        assert K.variable([1.0]).dtype == "float64"
        assert K.cast_to_floatx([1, 2]).dtype == np.float64
        assert K.eval(K.zeros((2,))).dtype == np.float64
    finally:
        K.set_floatx("float32")
    with pytest.raises(kgraph.KGraphError, match="floatx must be one of"):
        K.set_floatx("int32")


def test_random_variables_follow_numpys_seed():
    np.random.seed(3)
    first = K.get_value(K.random_normal_variable((2, 3), 0.0, 1.0))
    np.random.seed(3)
    again = K.get_value(K.random_normal_variable((2, 3), 0.0, 1.0))
    np.testing.assert_array_equal(first, again)
    seeded = K.get_value(K.random_uniform_variable((1000,), -1.0, 1.0, seed=5))
    assert -1 <= seeded.min() and seeded.max() < 1 and abs(seeded.mean()) < 0.1


def test_unconnected_gradient_warns():
    W, V = K.variable(np.ones(2)), K.variable(np.ones(2))
    with pytest.warns(kgraph.KGraphWarning, match="does not depend on"):
        _, dV = K.gradients(K.sum(W * W), [W, V])
    np.testing.assert_array_equal(K.eval(dV), [0.0, 0.0])


def test_print_tensor_prints_when_the_function_runs(capsys):
    x = K.placeholder(shape=(2,))
    f = K.function([x], [K.print_tensor(x * 2, message="twice: ")])
    assert "twice" not in capsys.readouterr().out
    f([np.array([1.0, 2.0])])
    assert "twice: [2. 4.]" in capsys.readouterr().out


def test_named_dimensions_agree_at_run_time():
    x = K.placeholder(shape=("batch", 2))
    y = K.placeholder(shape=("batch", 3))
    f = K.function([x, y], [K.sum(x) + K.sum(y)])
    assert f([np.ones((4, 2)), np.ones((4, 3))]) == [pytest.approx(20.0)]
    with pytest.raises(kgraph.FeedError, match="dimension 'batch'"):
        f([np.ones((4, 2)), np.ones((5, 3))])


def test_optimisation_levels_agree():
    x = K.placeholder(shape=(None, 3))
    y = K.softmax(x * 2 + x * 2) * (x - x + 1)
    data = np.random.default_rng(0).normal(size=(4, 3))
    low = K.function([x], [y], opt_level=0)([data])[0]
    high = K.function([x], [y], opt_level=2)([data])[0]
    np.testing.assert_allclose(low, high, rtol=1e-6)


def test_no_warning_noise_from_ordinary_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = K.placeholder(shape=(None, 2))
        K.function([x], [K.sum(x * 3)])([np.ones((1, 2))])


def test_random_variables_have_the_same_bits_as_the_text_front_ends():
    w = K.random_normal_variable((40, 30), 1.0, 0.5, seed=3)
    u = K.random_uniform_variable((7,), -2.0, 3.0, seed=1)
    prog = kgraph.compile("variable W = random_normal_variable((40, 30), mean=1.0, scale=0.5, seed=3)\n"
                          "variable U = random_uniform_variable((7,), low=-2.0, high=3.0, seed=1)\n"
                          "output W, U\n")
    np.testing.assert_array_equal(K.get_value(w), prog.variables["W"])
    np.testing.assert_array_equal(K.get_value(u), prog.variables["U"])
