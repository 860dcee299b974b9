"""Elementwise ops against NumPy references, with tf_keras's quirks and TensorFlow's gradients.

Programs take placeholders with unknown dims, fed random arrays of random shapes.
Gradients (float64) are compared with central differences of the NumPy reference:
for an elementwise op, d sum(f(x)) / dx is f'(x) elementwise, summed over the axes
along which an operand was broadcast.
"""
import math

import numpy as np
import pytest

import kgraph

from conftest import run, run_both, tolerance

COVERS = {"abs", "exp", "log", "sqrt", "square", "pow", "sign", "round", "sin", "cos", "tanh", "erf",
          "sigmoid", "hard_sigmoid", "relu", "elu", "softplus", "softsign", "clip", "maximum",
          "minimum", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
          "switch", "cast", "cast_to_floatx", "add", "subtract", "multiply", "divide",
          "floor_divide", "mod", "negative"}

DTYPES = ["float32", "float64"]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name -> (NumPy reference, input domain: "any" reals or "pos"itive reals)
UNARY = {
    "abs": (np.abs, "any"),
    "exp": (np.exp, "any"),
    "log": (np.log, "pos"),
    "sqrt": (lambda x: np.sqrt(np.maximum(x, 0)), "any"),  # Keras clips negatives to 0
    "square": (np.square, "any"),
    "sign": (np.sign, "any"),
    "round": (np.round, "any"),  # NumPy rounds half to even, as tf.round
    "sin": (np.sin, "any"),
    "cos": (np.cos, "any"),
    "tanh": (np.tanh, "any"),
    "erf": (np.vectorize(math.erf, otypes=[float]), "any"),
    "sigmoid": (sigmoid, "any"),
    "hard_sigmoid": (lambda x: np.clip(0.2 * x + 0.5, 0, 1), "any"),
    "relu": (lambda x: np.maximum(x, 0), "any"),
    "elu": (lambda x: np.where(x > 0, x, np.expm1(x)), "any"),
    "softplus": (lambda x: np.logaddexp(x, 0), "any"),
    "softsign": (lambda x: x / (1 + np.abs(x)), "any"),
    "negative": (np.negative, "any"),
}


def random_shape(rng, ndim):
    return tuple(int(d) for d in rng.integers(1, 4, size=ndim))


def placeholder(name, dtype, ndim):
    # `float32[None]` parses as a scalar (kgraph/parse.py shape_spec, reported): rank 1 gets a named dim.
    dims = [f"{name}_len"] if ndim == 1 else ["None"] * ndim
    return f"placeholder {name}: {dtype}[{', '.join(dims)}]"


def unbroadcast(grad, shape):
    """Sum a gradient over the axes along which an operand of `shape` was broadcast."""
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    return grad.sum(axis=tuple(i for i, d in enumerate(shape) if d == 1), keepdims=True)


def partial(f, args, i, h=1e-6):
    """∂f/∂args[i] elementwise, by central differences (f elementwise with broadcasting)."""
    up, down = list(args), list(args)
    up[i], down[i] = args[i] + h, args[i] - h
    return (f(*up) - f(*down)) / (2 * h)


def both_levels_once(dtype):
    """-O0 against -O2 for the float32 programs only: every XLA compile costs ~0.1 s an op."""
    return run_both if dtype == "float32" else run


def check(out, expected, dtype):
    for name, value in expected.items():
        assert out[name].dtype == np.dtype(dtype), name
        np.testing.assert_allclose(out[name], value, **tolerance(dtype), err_msg=name)


# ---- unary ops ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_ops_match_numpy(dtype, rng):
    ndim = int(rng.integers(1, 4))
    shape = random_shape(rng, ndim)
    x = (rng.normal(size=shape) * 3).astype(dtype)
    p = rng.uniform(0.1, 5, size=shape).astype(dtype)
    calls = ", ".join(f"{name}({'p' if dom == 'pos' else 'x'}) as {name}" for name, (_, dom) in UNARY.items())
    src = f"{placeholder('x', dtype, ndim)}\n{placeholder('p', dtype, ndim)}\noutput {calls}"
    out = both_levels_once(dtype)(src, x=x, p=p)
    wide = {"x": x.astype(np.float64), "p": p.astype(np.float64)}
    check(out, {name: ref(wide["p" if dom == "pos" else "x"]) for name, (ref, dom) in UNARY.items()}, dtype)


def test_unary_ops_differentiate_as_numpy(rng):
    x = rng.uniform(0.1, 2.0, size=(3, 4)) * rng.choice([-1, 1], size=(3, 4))
    x = np.where(np.abs(np.abs(x) % 1 - 0.5) < 0.01, 0.3, x)  # away from round's jumps
    p = np.abs(x)
    arg = {name: "p" if dom == "pos" else "x" for name, (_, dom) in UNARY.items()}
    grads = ", ".join(f"gradients(sum({name}({arg[name]})), [{arg[name]}])[0] as {name}" for name in UNARY)
    out = run(f"placeholder x: float64[None, 4]\nplaceholder p: float64[3, None]\noutput {grads}", x=x, p=p)
    for name, (ref, dom) in UNARY.items():
        expected = partial(ref, [p if dom == "pos" else x], 0)
        assert out[name].dtype == np.float64
        np.testing.assert_allclose(out[name], expected, rtol=1e-6, atol=1e-8, err_msg=name)


def test_round_is_half_to_even_and_sign_of_zero():
    out = run_both("output round([0.5, 1.5, 2.5, -0.5, -2.5, 0.49]) as r, sign([-3.0, 0.0, 2.0]) as s")
    np.testing.assert_array_equal(out["r"], [0, 2, 2, 0, -2, 0])
    np.testing.assert_array_equal(out["s"], [-1, 0, 1])


def test_sqrt_clips_negatives_and_their_gradient_is_zero():
    out = run_both("x = [-4.0, 0.25, 4.0]\noutput sqrt(x) as y, gradients(sum(sqrt(x)), [x])[0] as g")
    np.testing.assert_array_equal(out["y"], [0, 0.5, 2])
    np.testing.assert_allclose(out["g"], [0, 1, 0.25])


def test_hard_sigmoid_is_the_clipped_line():
    out = run_both("output hard_sigmoid([-3.0, -2.5, -1.0, 0.0, 2.0, 2.5, 9.0])")
    np.testing.assert_allclose(out["out0"], [0, 0, 0.3, 0.5, 0.9, 1, 1], atol=1e-7)


@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "tanh", "sigmoid", "elu", "softplus"])
def test_float_only_ops_refuse_integers(op):
    with pytest.raises(kgraph.DTypeError, match=f"{op}: expects a floating-point tensor, but x is int32"):
        kgraph.compile(f"placeholder x: int32[3]\noutput {op}(x)")


@pytest.mark.parametrize("expr, op", [("b - b", "subtract"), ("b // b", "floor_divide"), ("b % b", "mod"),
                                      ("-b", "negative"), ("abs(b)", "abs"), ("b ** b", "pow")])
def test_arithmetic_refuses_bools_alone(expr, op):
    with pytest.raises(kgraph.DTypeError, match=f"{op}: expects a numeric tensor, but b is bool"):
        kgraph.compile(f"placeholder b: bool[3]\noutput {expr}")


def test_a_bool_next_to_a_number_is_promoted():
    src = "placeholder b: bool[3]\nx = [1.5, 2.0, 3.0]\noutput b * x as m, x - b as s, b + b as o"
    out = run_both(src, b=[True, False, True])
    np.testing.assert_array_equal(out["m"], [1.5, 0, 3])
    np.testing.assert_array_equal(out["s"], [0.5, 2, 2])
    assert out["o"].dtype == np.bool_  # bool + bool is a logical or, as in NumPy


# ---- relu and elu: tf_keras's paths -------------------------------------------------

def keras_relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """tf_keras.backend.relu transliterated to NumPy."""
    if alpha != 0 and max_value is None and threshold == 0:
        return np.where(x > 0, x, alpha * x)
    negative = np.maximum(-x + threshold, 0)
    clip_max = max_value is not None
    if threshold != 0:
        y = x * (x > threshold)
    elif max_value == 6:
        y, clip_max = np.clip(x, 0, 6), False
    else:
        y = np.maximum(x, 0)
    if clip_max:
        y = np.clip(y, 0, max_value)
    return y - alpha * negative if alpha != 0 else y


RELU_CASES = [dict(), dict(alpha=0.1), dict(max_value=6), dict(max_value=1.5), dict(threshold=0.5),
              dict(threshold=-0.5, max_value=2.0), dict(alpha=0.2, max_value=1.0),
              dict(alpha=0.3, threshold=0.7), dict(alpha=0.1, max_value=6, threshold=-1.0)]


def relu_call(arg, case):
    return f"relu({arg}{''.join(f', {k}={v}' for k, v in case.items())})"


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_combinations_follow_tf_keras(dtype, rng):
    x = (rng.normal(size=random_shape(rng, 2)) * 4).astype(dtype)
    outputs = ", ".join(f"{relu_call('x', c)} as r{i}" for i, c in enumerate(RELU_CASES))
    out = both_levels_once(dtype)(f"{placeholder('x', dtype, 2)}\noutput {outputs}", x=x)
    check(out, {f"r{i}": keras_relu(x.astype(np.float64), **c) for i, c in enumerate(RELU_CASES)}, dtype)


def test_relu_matches_the_tf_keras_docstring():
    # tf.keras.activations.relu's documented outputs for foo = [-10, -5, 0.0, 5, 10]
    src = ("foo = [-10.0, -5.0, 0.0, 5.0, 10.0]\n"
           "output relu(foo) as a, relu(foo, alpha=0.5) as b, relu(foo, max_value=5.0) as c, "
           "relu(foo, threshold=5.0) as d")
    out = run_both(src)
    np.testing.assert_array_equal(out["a"], [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(out["b"], [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(out["c"], [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(out["d"], [0, 0, 0, 0, 10])
    assert list(np.signbit(out["d"])) == [True, True, False, False, False]  # x * 0 keeps -0


def test_relu_gradients_follow_tensorflow():
    x = np.array([-3.0, -0.4, 0.3, 0.9, 2.2, 7.0])
    outputs = ", ".join(f"gradients(sum({relu_call('x', c)}), [x])[0] as g{i}"
                        for i, c in enumerate(RELU_CASES))
    out = run(f"placeholder x: float64[6]\noutput {outputs}", x=x)
    for i, case in enumerate(RELU_CASES):
        expected = partial(lambda v: keras_relu(v, **case), [x], 0)
        np.testing.assert_allclose(out[f"g{i}"], expected, rtol=1e-6, atol=1e-8, err_msg=str(case))
    # At the corners: relu passes nothing at 0, relu6 nothing at 6, clip(max_value=5) all at 5.
    src = ("x = [0.0, 6.0, 5.0]\n"
           "output gradients(sum(relu(x)), [x])[0] as a, gradients(sum(relu(x, max_value=6)), [x])[0] as b, "
           "gradients(sum(relu(x, max_value=5.0)), [x])[0] as c, "
           "gradients(sum(relu(x, alpha=0.25)), [x])[0] as d")
    out = run_both(src)
    np.testing.assert_array_equal(out["a"], [0, 1, 1])
    np.testing.assert_array_equal(out["b"], [0, 0, 1])
    np.testing.assert_array_equal(out["c"], [0, 0, 1])
    np.testing.assert_array_equal(out["d"], [0.25, 1, 1])


def test_relu_of_integers():
    out = run_both("x = [-3, 0, 2, 9]\noutput relu(x) as a, relu(x, max_value=6) as b, "
                   "relu(x, threshold=2.0) as c, relu(x, alpha=0.5) as d")
    assert [out[k].dtype.name for k in "abcd"] == ["int32", "int32", "int32", "float32"]
    np.testing.assert_array_equal(out["a"], [0, 0, 2, 9])
    np.testing.assert_array_equal(out["b"], [0, 0, 2, 6])
    np.testing.assert_array_equal(out["c"], [0, 0, 0, 9])
    np.testing.assert_array_equal(out["d"], [-1.5, 0, 2, 9])  # tf.nn.leaky_relu casts to float32
    with pytest.raises(kgraph.DTypeError, match="relu: alpha.*x is int32"):
        kgraph.compile("placeholder x: int32[3]\noutput relu(x, alpha=0.5, max_value=2)")


@pytest.mark.parametrize("dtype", DTYPES)
def test_elu_alpha(dtype, rng):
    x = (rng.normal(size=random_shape(rng, 2)) * 2).astype(dtype)
    src = f"{placeholder('x', dtype, 2)}\noutput elu(x, alpha=0.5) as a, elu(x, 2.0) as b, " \
          f"gradients(sum(elu(x, alpha=0.5)), [x])[0] as g"
    out = run(src, x=x)
    wide = x.astype(np.float64)
    check(out, {name: np.where(wide > 0, wide, alpha * np.expm1(wide))
                for name, alpha in (("a", 0.5), ("b", 2.0))}, dtype)
    assert out["g"].dtype == np.dtype(dtype)
    np.testing.assert_allclose(out["g"], np.where(wide > 0, 1, 0.5 * np.exp(wide)), rtol=1e-5)


# ---- binary ops ------------------------------------------------------------------------

BROADCASTS = [((3, 4), (3, 4)), ((2, 1, 4), (3, 1)), ((4,), ()), ((), (2, 3)), ((1, 3), (2, 1))]

BINARY = {  # name -> (infix operator or None, NumPy reference)
    "add": ("+", np.add),
    "subtract": ("-", np.subtract),
    "multiply": ("*", np.multiply),
    "divide": ("/", np.divide),
    "floor_divide": ("//", np.floor_divide),
    "mod": ("%", np.mod),
    "pow": ("**", np.power),
    "maximum": (None, np.maximum),
    "minimum": (None, np.minimum),
}


def binary_inputs(rng, shapes, dtype):
    x = rng.normal(size=shapes[0]) * 2
    y = rng.normal(size=shapes[1]) * 2
    y = np.where(np.abs(y) < 0.2, 0.7, y)  # a divisor away from 0
    return x.astype(dtype), y.astype(dtype)


def binary_call(name, a, b):
    infix = BINARY[name][0]
    return f"{a} {infix} {b}" if infix else f"{name}({a}, {b})"


def broadcast_program(rng, dtype, calls, inputs):
    """One program applying each call to its own pair of operands, the broadcast cases taken in turn
    (so that every op meets several of them across dtypes without a program per case)."""
    start = int(rng.integers(len(BROADCASTS)))
    lines, feeds, outputs = [], {}, []
    for k, (name, call) in enumerate(calls.items()):
        shapes = BROADCASTS[(start + k) % len(BROADCASTS)]
        x, y = inputs(name, shapes)
        feeds[f"x_{name}"], feeds[f"y_{name}"] = x, y
        lines += [placeholder(f"x_{name}", dtype, x.ndim), placeholder(f"y_{name}", dtype, y.ndim)]
        outputs.append(f"{call(f'x_{name}', f'y_{name}')} as {name}")
    return "\n".join(lines + ["output " + ", ".join(outputs)]), feeds


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_ops_broadcast_as_numpy(dtype, rng):
    def inputs(name, shapes):
        x, y = binary_inputs(rng, shapes, dtype)
        return (np.abs(x) + 0.5 if name.endswith("pow") else x), y  # pow takes a positive base

    calls = {name: (lambda a, b, name=name: binary_call(name, a, b)) for name in BINARY}
    calls["named_pow"] = lambda a, b: f"pow({a}, {b})"  # and the named forms
    calls["named_add"] = lambda a, b: f"add({a}, {b})"
    src, feeds = broadcast_program(rng, dtype, calls, inputs)
    out = both_levels_once(dtype)(src, **feeds)
    wide = {k: v.astype(np.float64) for k, v in feeds.items()}
    expected = {name: BINARY[name.replace("named_", "")][1](wide[f"x_{name}"], wide[f"y_{name}"])
                for name in calls}
    # floor_divide and mod jump at multiples of y: float32 rounding may land on either side.
    for name in ("floor_divide", "mod") if dtype == "float32" else ():
        assert out[name].dtype == np.float32 and out[name].shape == expected.pop(name).shape
    check(out, expected, dtype)


def test_binary_ops_differentiate_as_numpy(rng):
    x, y = binary_inputs(rng, ((2, 1, 3), (4, 1)), "float64")
    x = np.abs(x) + 0.5
    grads = ", ".join(f"gradients(sum({binary_call(name, 'x', 'y')}), [x, y]) as {name}"
                      for name in BINARY if name not in ("floor_divide", "mod"))
    out = run(f"placeholder x: float64[None, 1, 3]\nplaceholder y: float64[4, None]\noutput {grads}",
              x=x, y=y)
    for name, (_, ref) in BINARY.items():
        if name in ("floor_divide", "mod"):
            continue
        for i, v in enumerate((x, y)):
            expected = unbroadcast(partial(ref, [x, y], i), v.shape)
            np.testing.assert_allclose(out[f"{name}_{i}"], expected, rtol=1e-6, atol=1e-8, err_msg=f"{name}/{i}")


def test_maximum_and_minimum_send_a_tie_gradient_to_x():
    # TensorFlow's _MaximumGrad/_MinimumGrad: x >= y (x <= y) takes it all; JAX would halve it.
    src = ("placeholder n: float32[3]\nx = [1.0, 2.0, 3.0]\ny = [1.0, 5.0, 3.0]\n"
           "output gradients(sum(maximum(x, y)), [x, y]) as mx, gradients(sum(minimum(x, y)), [x, y]) as mn, "
           "maximum(x, n) as nan")
    out = run_both(src, n=np.array([0.0, np.nan, 0.0], np.float32))
    np.testing.assert_array_equal(out["mx_0"], [1, 0, 1])
    np.testing.assert_array_equal(out["mx_1"], [0, 1, 0])
    np.testing.assert_array_equal(out["mn_0"], [1, 1, 1])
    np.testing.assert_array_equal(out["mn_1"], [0, 0, 0])
    np.testing.assert_array_equal(out["nan"], [1, np.nan, 3])  # NaN propagates, as TF >= 2.4


INT_UNARY = {"abs": np.abs, "square": np.square, "sign": np.sign, "round": np.round, "negative": np.negative}


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_ops_keep_their_dtype(dtype, rng):
    x = rng.integers(-9, 10, size=(3, 4)).astype(dtype)
    y = (rng.integers(1, 4, size=(4,)) * rng.choice([-1, 1], size=4)).astype(dtype)
    names = [n for n in BINARY if n != "divide"]
    outputs = [f"{binary_call(n, 'x', 'abs(y)' if n == 'pow' else 'y')} as {n}" for n in names]
    outputs += [f"{name}(x) as {name}" for name in INT_UNARY]
    src = f"placeholder x: {dtype}[None, 4]\nplaceholder y: {dtype}[4]\noutput {', '.join(outputs)}"
    out = run(src, x=x, y=y)
    expected = {name: BINARY[name][1](x, np.abs(y) if name == "pow" else y) for name in names}
    expected.update({name: ref(x) for name, ref in INT_UNARY.items()})
    for name, value in expected.items():
        assert out[name].dtype == np.dtype(dtype), name
        np.testing.assert_array_equal(out[name], value, err_msg=name)


def test_integer_division_gives_floats():
    out = run_both("output [1, 2, 7] / 2 as a, [7, -7] // 2 as b, [7, -7] % 3 as c, [7.5, -7.5] % 2 as d")
    np.testing.assert_array_equal(out["a"], [0.5, 1, 3.5])
    np.testing.assert_array_equal(out["b"], [3, -4])
    np.testing.assert_array_equal(out["c"], [1, 2])
    np.testing.assert_array_equal(out["d"], [1.5, 0.5])


def test_python_scalars_are_weakly_typed():
    src = ("placeholder x: float64[n]\nplaceholder i: int32[m]\n"
           "output x * 2 as a, 2 - x as b, x / 2 as c, x ** 2 as d, 2 ** x as e, x + 0.1 as f, "
           "maximum(x, 0) as g, minimum(1, x) as h, clip(x, 0, 1) as k, switch(x > 0, x, 0.5) as s, "
           "x > 0.5 as cmp, i * 2 as ia, i ** 2 as ib, i > 0 as ic, i // 2 as idiv")
    x, i = np.array([0.25, -1.5, 3.0]), np.array([3, -4, 5], np.int32)
    out = run(src, x=x, i=i)
    expected = {"a": x * 2, "b": 2 - x, "c": x / 2, "d": x ** 2, "e": 2 ** x, "f": x + 0.1,  # 0.1 as a float64
                "g": np.maximum(x, 0), "h": np.minimum(1, x), "k": np.clip(x, 0, 1), "s": np.where(x > 0, x, 0.5)}
    check(out, expected, "float64")
    expected = {"cmp": x > 0.5, "ia": i * 2, "ib": i ** 2, "ic": i > 0, "idiv": i // 2}
    for name, value in expected.items():
        assert out[name].dtype == value.dtype, name
        np.testing.assert_array_equal(out[name], value, err_msg=name)


# ---- comparisons -------------------------------------------------------------------------

COMPARISONS = {"equal": ("==", np.equal), "not_equal": ("!=", np.not_equal), "greater": (">", np.greater),
               "greater_equal": (">=", np.greater_equal), "less": ("<", np.less),
               "less_equal": ("<=", np.less_equal)}


@pytest.mark.parametrize("dtype", DTYPES + ["int32", "int64"])
def test_comparisons_give_bools(dtype, rng):
    def inputs(name, shapes):  # small integers: many ties
        return tuple(rng.integers(-2, 3, size=shape).astype(dtype) for shape in shapes)

    calls = {name: (lambda a, b, name=name: f"{name}({a}, {b})") for name in COMPARISONS}
    calls.update({f"infix_{name}": (lambda a, b, op=op: f"{a} {op} {b}") for name, (op, _) in COMPARISONS.items()})
    src, feeds = broadcast_program(rng, dtype, calls, inputs)
    out = run(src, **feeds)
    for name in calls:
        assert out[name].dtype == np.bool_, name
        ref = COMPARISONS[name.replace("infix_", "")][1]
        np.testing.assert_array_equal(out[name], ref(feeds[f"x_{name}"], feeds[f"y_{name}"]), err_msg=name)


# ---- clip -----------------------------------------------------------------------------------

def keras_clip(x, min_value, max_value):
    if min_value is not None and max_value is not None and max_value < min_value:
        max_value = min_value
    lo = -np.inf if min_value is None else min_value
    hi = np.inf if max_value is None else max_value
    return np.minimum(np.maximum(x, lo), hi)


CLIPS = [(-0.5, 0.5), (None, 0.3), (-0.2, None), (0.5, -0.5), (None, None), (0, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_follows_tf_keras(dtype, rng):
    x = rng.normal(size=random_shape(rng, 3)).astype(dtype)
    outputs = ", ".join(f"clip(x, {lo}, {hi}) as c{i}" for i, (lo, hi) in enumerate(CLIPS))
    out = both_levels_once(dtype)(f"{placeholder('x', dtype, 3)}\noutput {outputs}", x=x)
    check(out, {f"c{i}": keras_clip(x.astype(np.float64), lo, hi) for i, (lo, hi) in enumerate(CLIPS)}, dtype)


def test_clip_gradient_passes_at_the_bounds_and_clip_of_integers():
    src = ("x = [-2.0, -1.0, 0.5, 1.0, 3.0]\n"
           "output gradients(sum(clip(x, -1.0, 1.0)), [x])[0] as g, "
           "gradients(sum(clip(x, 2.0, 1.0)), [x])[0] as h, "
           "clip([-5, 0, 7], -2, 3) as i, clip([-5, 0, 7], None, 3.0) as j")
    out = run_both(src)
    np.testing.assert_array_equal(out["g"], [0, 1, 1, 1, 0])  # tf.clip_by_value passes x on a bound
    np.testing.assert_array_equal(out["h"], [0, 0, 0, 0, 0])
    assert out["i"].dtype == np.int32 and out["j"].dtype == np.int32
    np.testing.assert_array_equal(out["i"], [-2, 0, 3])
    np.testing.assert_array_equal(out["j"], [-5, 0, 3])
    with pytest.raises(kgraph.DTypeError, match="clip: min_value=0.5 is not an integer, but x is int32"):
        kgraph.compile("placeholder x: int32[2]\noutput clip(x, 0.5, 3)")


# ---- switch -----------------------------------------------------------------------------------

def keras_switch(cond, then, other):
    """tf_keras.backend.switch: a rank > 1 condition gets trailing axes; then tf.where broadcasts."""
    cond = cond.astype(bool)
    if cond.ndim > 1:
        cond = cond.reshape(cond.shape + (1,) * (then.ndim - cond.ndim))
    return np.where(cond, then, other)


SWITCHES = [  # condition's type, then's shape, else's shape
    ("bool", (), (2, 3), (2, 3)),
    ("bool", (None, None), (2, 3), (2, 3)),
    ("bool", (None, None), (2, 3, 4), (2, 3, 4)),  # lines up with the leading axes
    ("int32", (None, None), (2, 3, 1), (1, 3, 4)),
    ("float32", (None,), (2, 4), (4,)),  # rank 1: tf.where lines it up with the last axis
    ("bool", (None,), (3,), ()),
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_switch_follows_tf_keras(dtype, rng):
    lines, feeds, outputs = [], {}, []
    for i, (cond_type, cond_dims, then_shape, else_shape) in enumerate(SWITCHES):
        cond_shape = then_shape[:len(cond_dims)] if len(cond_dims) != 1 else then_shape[-1:]
        cond = rng.integers(0, 2, size=cond_shape) * rng.choice([1, -2], size=cond_shape)
        feeds.update({f"c{i}": cond.astype(cond_type), f"a{i}": rng.normal(size=then_shape).astype(dtype),
                      f"b{i}": rng.normal(size=else_shape).astype(dtype)})
        lines += [placeholder(f"c{i}", cond_type, len(cond_dims)), placeholder(f"a{i}", dtype, len(then_shape)),
                  placeholder(f"b{i}", dtype, len(else_shape))]
        outputs += [f"switch(c{i}, a{i}, b{i}) as s{i}",
                    f"gradients(sum(switch(c{i}, a{i}, b{i}) * 3), [a{i}, b{i}]) as g{i}"]
    out = run("\n".join(lines + ["output " + ", ".join(outputs)]), **feeds)
    for i in range(len(SWITCHES)):
        cond, then, other = feeds[f"c{i}"], feeds[f"a{i}"], feeds[f"b{i}"]
        check(out, {f"s{i}": keras_switch(cond, then, other)}, dtype)
        chosen = keras_switch(cond, np.ones_like(then), np.zeros_like(other))
        np.testing.assert_allclose(out[f"g{i}_0"], unbroadcast(3 * chosen, then.shape).reshape(then.shape))
        np.testing.assert_allclose(out[f"g{i}_1"], unbroadcast(3 * (1 - chosen), other.shape).reshape(other.shape))


def test_switch_with_a_scalar_condition_picks_a_branch():
    src = "placeholder c: bool\nx = [[1.0, 2.0], [3.0, 4.0]]\noutput switch(c, x, -x) as s"
    np.testing.assert_array_equal(run_both(src, c=True)["s"], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(run_both(src, c=False)["s"], [[-1, -2], [-3, -4]])


def test_switch_condition_rank_above_the_expression_is_an_error():
    with pytest.raises(kgraph.ShapeError, match=r"switch: the condition's rank must not exceed then_expression's: "
                                                r"c is bool\[2, 3\], a is float32\[3\]"):
        kgraph.compile("placeholder c: bool[2, 3]\nplaceholder a: float32[3]\noutput switch(c, a, a)")


# ---- casts ---------------------------------------------------------------------------------------

CAST_TARGETS = ["float32", "float64", "int32", "int64", "bool", "uint8"]


@pytest.mark.parametrize("src_type", DTYPES + ["int32", "bool"])
def test_cast(src_type, rng):
    x = (rng.normal(size=(2, 3)) * 4).astype(src_type)
    u = np.abs(x)  # a negative float to uint8 is undefined behaviour in C++ (and TF)
    outputs = ", ".join(f"cast({'u' if t == 'uint8' else 'x'}, '{t}') as {t}" for t in CAST_TARGETS)
    out = run(f"placeholder x: {src_type}[None, 3]\nplaceholder u: {src_type}[None, 3]\noutput {outputs}",
              x=x, u=u)
    for dst_type in CAST_TARGETS:
        assert out[dst_type].dtype == np.dtype(dst_type)
        expected = (u if dst_type == "uint8" else x).astype(dst_type)  # floats truncate towards 0
        np.testing.assert_array_equal(out[dst_type], expected, err_msg=dst_type)


@pytest.mark.parametrize("floatx", DTYPES)
def test_cast_to_floatx(floatx, rng):
    x = rng.normal(size=(2, 3))
    src = "placeholder x: float64[None, 3]\nplaceholder i: int32[2]\n" \
          "output cast_to_floatx(x) as a, cast_to_floatx(i) as b, cast_to_floatx(x > 0) as c, " \
          "gradients(sum(cast_to_floatx(x) * 2), [x])[0] as g"
    out = run_both(src, floatx=floatx, x=x, i=np.array([3, -1], np.int32))
    assert {out[k].dtype.name for k in "abc"} == {floatx}
    np.testing.assert_allclose(out["a"], x.astype(floatx))
    np.testing.assert_array_equal(out["b"], [3, -1])
    np.testing.assert_array_equal(out["c"], x > 0)
    np.testing.assert_allclose(out["g"], np.full_like(x, 2.0))
    assert out["g"].dtype == np.float64


# ---- shape and dtype errors name both operands ----------------------------------------------------

@pytest.mark.parametrize("expr, op", [("a + b", "add"), ("a < b", "less"), ("a ** b", "pow"),
                                      ("maximum(a, b)", "maximum"), ("equal(a, b)", "equal"),
                                      ("clip(a, 0, 1) * b", "multiply")])
def test_shape_mismatch_names_both_operands(expr, op):
    src = f"placeholder a: float32[3]\nplaceholder b: float32[4]\nc = {expr}\noutput c"
    with pytest.raises(kgraph.ShapeError) as info:
        kgraph.compile(src, filename="m.kg")
    left = "clip(a, 0, 1)" if op == "multiply" else "a"
    assert info.value.message == (f"{op}: shapes cannot be broadcast together: {left} is float32[3], "
                                  f"b is float32[4] (3 != 4)")
    assert (info.value.filename, info.value.line, info.value.column) == ("m.kg", 3, 5)


def test_switch_shape_mismatch_names_all_operands():
    src = "placeholder c: bool[2]\nplaceholder a: float32[2]\nplaceholder b: float32[3]\noutput switch(c, a, b)"
    with pytest.raises(kgraph.ShapeError, match=r"switch: shapes cannot be broadcast together: c is bool\[2\], "
                                                r"a is float32\[2\], b is float32\[3\] \(2 != 3\)"):
        kgraph.compile(src)
