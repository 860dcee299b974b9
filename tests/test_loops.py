"""Function values and loops in the .kg language (LANGUAGE.md §10): values, IR, passes, errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import kgraph
from kgraph.ir import format_ir
from kgraph.passes import run_pipeline

from conftest import run_both
from gradient_check import assert_gradients
from passes_util import build

COVERS = {"rnn", "map_fn", "foldl", "foldr"}

FOLDS = """
placeholder x: float32[None, 3]
placeholder w: float32[3]
def weighted(row):
    return sum(row * w)
output map_fn(weighted, x) as m, map_fn(lambda r: r * 2.0, x) as rows
output foldl(lambda acc, r: acc * 0.5 + r, x) as l, foldl(lambda acc, r: acc + sum(r), x, initializer=1.0) as li
output foldr(lambda acc, r: acc * 0.5 + r, x) as r, foldr(lambda acc, r: acc - r[0], x, initializer=[0.5]) as ri
"""


def test_map_fn_foldl_foldr_values(rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    w = np.array([1.0, -2.0, 0.5], np.float32)
    got = run_both(FOLDS, x=x, w=w)
    np.testing.assert_allclose(got["m"], x @ w, rtol=1e-6)
    np.testing.assert_allclose(got["rows"], x * 2, rtol=1e-6)

    def fold(f, items, acc):
        for item in items:
            acc = f(acc, item)
        return acc

    np.testing.assert_allclose(got["l"], fold(lambda a, r: a * 0.5 + r, x[1:], x[0]), rtol=1e-6)
    np.testing.assert_allclose(got["li"], 1.0 + x.sum(), rtol=1e-5)
    np.testing.assert_allclose(got["r"], fold(lambda a, r: a * 0.5 + r, x[::-1][1:], x[-1]), rtol=1e-6)
    np.testing.assert_allclose(got["ri"], [0.5 - x[:, 0].sum()], rtol=1e-5)


LSTM = """
placeholder x: float32[None, None, 3]
variable W = random_normal_variable((3, 8), 0.0, 0.5, seed=1)
variable U = random_normal_variable((2, 8), 0.0, 0.5, seed=2)
variable b = zeros((8,))
def step(x_t, states):
    h, c = states
    z = dot(x_t, W) + dot(h, U) + b
    i = sigmoid(z[:, 0:2])
    f = sigmoid(z[:, 2:4])
    g = tanh(z[:, 4:6])
    o = sigmoid(z[:, 6:8])
    c2 = f * c + i * g
    h2 = o * tanh(c2)
    return h2, [h2, c2]
h0 = zeros_like(x[:, 0, 0:2])
last, outs, states = rnn(step, x, [h0, h0])
h, c = states
output last, outs, c
"""


def numpy_lstm(x, W, U, b):
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h = c = np.zeros((x.shape[0], 2))
    outs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ W + h @ U + b
        i, f, g, o = sig(z[:, 0:2]), sig(z[:, 2:4]), np.tanh(z[:, 4:6]), sig(z[:, 6:8])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return h, np.stack(outs, 1), c


@pytest.fixture(scope="module")
def lstm():
    return kgraph.compile(LSTM)


def test_rnn_lstm_with_a_run_time_time_axis(lstm, rng):
    """One compiled program runs sequences of different lengths (closures over variables)."""
    v = lstm.variables
    for steps in (1, 4, 9):
        x = rng.standard_normal((2, steps, 3)).astype(np.float32)
        got = lstm.run(x=x)
        last, outs, c = numpy_lstm(x, v["W"], v["U"], v["b"])
        np.testing.assert_allclose(got["last"], last, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["outs"], outs, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["c"], c, rtol=1e-5, atol=1e-6)


def test_a_loop_is_one_node_and_one_scan(lstm):
    """Whatever the length, the IR holds one scan node and the traced program one lax.scan."""
    scans = [n for n in lstm.graph.live_nodes() if n.op == "scan"]
    assert len(scans) == 1
    body = scans[0].attr("body")
    assert [p.type.short() for p in body.params[:3]] == ["f32[None,2]", "f32[None,2]", "f32[None,3]"]
    f = lstm.as_jax_function()
    jaxpr = jax.make_jaxpr(lambda x: f(lstm.variables, x=x))(jnp.zeros((2, 50, 3)))
    text = str(jaxpr)
    assert text.count("scan[") == 1 and "length=50" in text


@pytest.mark.slow
def test_gradients_and_gradients_of_gradients_through_a_loop(rng):
    prog = kgraph.compile("""
placeholder x: float64[2, 3, 2]
placeholder W: float64[2, 2]
last, outs, states = rnn(lambda x_t, s: (tanh(dot(x_t, W) + s[0]), [tanh(dot(x_t, W) + s[0]) * 0.5]),
                         x, [zeros((2, 2), dtype='float64')])
output sum(outs * outs) as loss
""")
    f = prog.as_jax_function()
    x = rng.standard_normal((2, 3, 2))
    with jax.enable_x64(True):
        check_grads(jax.jit(lambda W: f({}, x=x, W=W)["loss"]), (rng.standard_normal((2, 2)),), order=2,
                    modes=["rev"], atol=1e-5, rtol=1e-5)


def test_gradients_statement_through_rnn_matches_finite_differences(rng):
    source = """
placeholder x: float64[2, 4, 3]
placeholder W: float64[3, 2]
placeholder h0: float64[2, 2]
last, outs, states = rnn(lambda x_t, s: (tanh(dot(x_t, W) + s[0]), [tanh(dot(x_t, W) + s[0])]), x, [h0],
                         go_backwards=True)
y = outs
"""

    def reference(x, W, h0):
        h, outs = h0, []
        for t in reversed(range(4)):
            h = np.tanh(x[:, t] @ W + h)
            outs.append(h)
        return np.stack(outs, 1)

    feeds = {"x": rng.standard_normal((2, 4, 3)), "W": rng.standard_normal((3, 2)) * 0.5,
             "h0": rng.standard_normal((2, 2))}
    assert_gradients(source, reference, feeds, ["W", "h0", "x"], rtol=1e-6, atol=1e-8)


def test_gradient_of_gradient_in_the_language():
    source = """
placeholder a: float64[3]
y = foldl(lambda acc, v: acc * v, a, initializer=1.0)
g, = gradients(y, [a])
gg, = gradients(sum(g), [a])
output y, g, gg
"""
    a = np.array([2.0, 3.0, 5.0])
    got = run_both(source, floatx="float64", a=a)
    np.testing.assert_allclose(got["y"], 30.0)
    np.testing.assert_allclose(got["g"], [15.0, 10.0, 6.0])
    np.testing.assert_allclose(got["gg"], [5.0 + 3.0, 5.0 + 2.0, 3.0 + 2.0])


def test_printed_ir_nests_the_body_as_a_jaxpr_prints_a_scan():
    graph = build("""
placeholder x: float32[4, 2]
variable W = [[1.0, 0.0], [0.0, 1.0]]
output foldl(lambda acc, r: acc + dot(r, W), x)
""")
    assert format_ir(graph) == """\
{ placeholders a:f32[4,2]=x
  variables b:f32[2,2]=W
  let
    c:f32[2] = getitem[index=(0,)] a
    d:f32[3,2] = getitem[index=(('slice', 1, None, None),)] a
    e:(f32[2]) = scan[length=3 n_carry=1 n_xs=1 unroll=False] c d b
      { lambda ; f:f32[2] g:f32[2] h:f32[2,2] . let
          i:f32[2] = dot g h
          j:f32[2] = add f i
        in (j) }
    k:f32[2] = nth[index=0] e
  in (out0=k) }"""


def test_passes_work_inside_bodies_and_hoist_only_invariants():
    source = """
placeholder x: float32[5, 3]
variable W = [[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
def f(acc, r):
    k = exp(log(2.0)) * 3.0
    WW = dot(W, W)
    noise = random_uniform((3,))
    return acc + dot(r, WW) * k + r * k + noise * 0.0
output foldl(f, x, initializer=zeros((3,))) as y
"""
    graph, reports = run_pipeline(build(source), 2, check=True)
    fired = {rule: n for r in reports for rule, n in r.fired.items()}
    assert fired.get("fold log", 0) + fired.get("fold exp", 0) >= 1  # folding inside the body
    assert any(rule.startswith("hoist") for rule in fired)
    (scan,) = [n for n in graph.live_nodes() if n.op == "scan"]
    inside = {n.op for n in scan.attr("body").graph.live_nodes()}
    outside = {n.op for n in graph.live_nodes()}
    assert "dot" in outside  # dot(W, W) is computed once, before the loop
    assert "random_uniform" in inside and "random_uniform" not in outside  # each step draws its own
    x = np.arange(15, dtype=np.float32).reshape(5, 3) / 10
    got = run_both(source, x=x)
    W = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]], np.float32)
    np.testing.assert_allclose(got["y"], (x @ (W @ W) * 6.0 + x * 6.0).sum(0), rtol=1e-5)


def test_nested_loops_and_closures_over_the_defining_scope():
    source = """
placeholder x: float32[3, 4]
scale = 2.0
def row_total(r):
    return foldl(lambda acc, v: acc + v * scale, r, initializer=0.0)
output map_fn(row_total, x) as t
"""
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = run_both(source, x=x)
    np.testing.assert_allclose(got["t"], x.sum(1) * 2.0)


# ---- errors ------------------------------------------------------------------------

def compile_error(source):
    with pytest.raises(kgraph.KGraphError) as info:
        kgraph.compile(source, filename="m.kg")
    return info.value


def test_an_error_in_a_body_is_at_the_body_line_with_a_note_at_the_call():
    err = compile_error("""placeholder x: float32[None, 5, 3]
h0 = zeros((2, 4))
def step(x_t, states):
    h = states[0]
    return dot(x_t, h), [h]
last, outs, states = rnn(step, x, [h0])
output last
""")
    text = err.render()
    assert (err.line, err.column) == (5, 12)
    assert "dot: contraction dims differ" in text
    assert "m.kg:6:" in text and "in the step function of this rnn call" in text


def test_a_wrong_step_structure_names_what_was_expected():
    err = compile_error("""placeholder x: float32[2, 5, 3]
h0 = zeros((2, 4))
def step(x_t, states):
    return states[0]
last, outs, states = rnn(step, x, [h0])
output last
""")
    assert err.line == 4 and "must return `output, new_states`" in str(err)
    err = compile_error("""placeholder x: float32[2, 5, 3]
h0 = zeros((2, 4))
last, outs, states = rnn(lambda x_t, s: (x_t, [x_t]), x, [h0])
output last
""")
    assert err.line == 3 and "new state 0 is float32[2, 3], but it must be float32[2, 4]" in str(err)
    err = compile_error("""placeholder x: float32[5, 3]
output foldl(lambda acc, r: sum(r), x)
""")
    assert "new accumulator" in str(err) and "must be float32[3]" in str(err)


@pytest.mark.parametrize("source, message", [
    ("f = lambda a: a\noutput f\n", "expected a tensor, got the function '<lambda>'"),
    ("def f(a):\n    return a\nvariable v = f\noutput v\n", "must be a tensor, got the function 'f'"),
    ("x = [1.0, 2.0]\noutput map_fn(3.0, x)\n", "'fn' must be a function"),
    ("x = [1.0]\noutput foldl(lambda a: a, x)\n", "takes 1 arguments, but the loop passes 2"),
    ("lambda = 3\noutput lambda\n", ""),
    ("placeholder x: float32[2, None, 3]\nh = zeros((2, 3))\n"
     "l, o, s = rnn(lambda x_t, s: (x_t, s), x, [h], unroll=True)\noutput l\n", "fixed number of time steps"),
    ("placeholder x: float32[2, 3]\nl, o, s = rnn(lambda x_t, s: (x_t, s), x, [])\noutput l\n",
     "at least 3 axes"),
])
def test_located_errors(source, message):
    err = compile_error(source)
    assert err.line is not None and message in str(err)


def test_kgraph_run_shows_a_loop_at_the_command_line(tmp_path):
    from kgraph.cli import main

    path = tmp_path / "f.kg"
    path.write_text("x = [1.0, 2.0, 3.0]\noutput foldr(lambda acc, v: acc * 10.0 + v, x) as y\n")
    assert main(["run", str(path), "--format", "json"]) == 0


@pytest.mark.slow
def test_the_lstm_example_trains_to_95_percent_on_digits(tmp_path):
    """examples/sequence/README.md's commands, as written (30 epochs of shuffled batches of 32)."""
    import json
    from pathlib import Path

    from kgraph.cli import main

    root = Path(__file__).resolve().parent.parent
    data, state = root / "examples" / "digits" / "digits.npz", tmp_path / "lstm.npz"
    assert main(["run", str(root / "examples" / "sequence" / "lstm.kg"), "--feed", f"x={data}:x_train",
                 "--feed", f"y={data}:y_train", "--batch-size", "32", "--shuffle", "--epochs", "30",
                 "--state", str(state), "--quiet"]) == 0
    evaluate = kgraph.load(root / "examples" / "sequence" / "evaluate_lstm.kg")
    evaluate.load_state(state)
    digits = np.load(data)
    accuracy = float(evaluate.run(x=digits["x_test"], y=digits["y_test"])["accuracy"])
    assert accuracy >= 0.95, json.dumps({"accuracy": accuracy})


def test_kgraph_graph_draws_a_loop_body_as_a_cluster():
    from kgraph.commands.graph import to_dot

    dot = to_dot(kgraph.compile(LSTM).graph).source
    assert dot.count("subgraph cluster_b") == 1 and "loop body (one step; 2 carried, 1 stepped over)" in dot
    assert "param 2\none step of\nf32[None,3]" in dot and "captured" in dot
    assert 'label=r0 style=dashed' in dot or 'style=dashed label=r0' in dot


def test_run_trace_shows_each_step_of_a_loop(capsys):
    from kgraph.trace import format_steps, trace

    prog = kgraph.compile("x = [1.0, 2.0, 3.0]\ny = map_fn(lambda v: v * v, x)\n"
                          "z = [[0.5], [1.5]]\nt = foldl(lambda a, v: a + v, arange(20) * 1.0)\noutput y, t\n",
                          filename="t.kg")
    text = format_steps(trace(prog, {}), "t.kg")
    assert "    each step of map_fn (output 0): 3 steps of float32[]" in text
    assert "      step 0: 1.\n      step 1: 4.\n      step 2: 9.\n    y: float32[3] = [1. 4. 9.]" in text
    prog = kgraph.compile("x = arange(20) * 1.0\ny = map_fn(lambda v: v + 1.0, x)\noutput y\n", filename="u.kg")
    text = format_steps(trace(prog, {}), "u.kg")
    assert "step 0: 1.\n      ... 18 steps ...\n      step 19: 20.\n" in text
    assert "all steps: min 1  max 20  mean 10.5" in text


def test_as_jax_function_without_x64_narrows_loop_bodies_too():
    prog = kgraph.compile("placeholder a: float64[3]\nplaceholder W: float64[3, 3]\n"
                          "output foldl(lambda acc, v: acc * v + sum(dot(W, W)), a, initializer=1.0) as y\n",
                          floatx="float64")
    with jax.enable_x64(False), pytest.warns(UserWarning, match="64-bit"):
        got = prog.as_jax_function()({}, a=np.array([2.0, 3.0, 5.0]), W=np.eye(3))["y"]
    assert got.dtype == np.float32 and float(got) == ((1 * 2 + 3) * 3 + 3) * 5 + 3
    assert prog.run(a=np.array([2.0, 3.0, 5.0]), W=np.eye(3))["y"].dtype == np.float64
