"""The pass pipeline: levels, DCE, CSE, folding, gradient targets, the internal ops, `kgraph ir`."""
from pathlib import Path

import numpy as np
import pytest

import kgraph
from kgraph.cli import main
from kgraph.errors import KGraphError
from kgraph.ir import Graph, format_ir, toposort, verify
from kgraph.passes import PASS_NAMES, optimize, run_pipeline
from kgraph.types import TensorType

from passes_util import assert_levels_agree, build, live_ops, optimise, random_feeds

# The internal ops are value-tested here (log_softmax, log1p, expm1 in test_stability below).
COVERS = {"barrier", "fused", "log_softmax", "log1p", "expm1"}


# ---- levels and the pipeline table ------------------------------------------------------

def test_level_zero_changes_nothing():
    g = build("placeholder x: float32[3]\ndead = x * 2.0\noutput x + 0")
    assert optimize(g, 0) is g


def test_level_one_runs_dce_cse_fold_only():
    _, reports = run_pipeline(build("placeholder x: float32[3]\noutput x * 1"), 1)
    assert [r.name for r in reports] == ["dce", "cse", "fold"]
    _, reports = run_pipeline(build("placeholder x: float32[3]\noutput x * 1"), 2)
    assert [r.name for r in reports] == list(PASS_NAMES)


def test_disable_pass():
    g, fired = optimise("placeholder x: float32[3]\noutput x * 1", disabled=("simplify",))
    assert fired["mul-one"] == 0 and "multiply" in live_ops(g)
    with pytest.raises(KGraphError, match="unknown pass 'nope'"):
        optimize(build("placeholder x: float32[3]\noutput x"), 2, disabled=("nope",))


def test_pipeline_is_idempotent():
    src = "placeholder x: float32[3]\nh = x * 3.0\noutput (h * 1) - 0, gradients(sum(h * h), [h])"
    once = optimize(build(src), 2)
    twice = optimize(once, 2)
    assert format_ir(once) == format_ir(twice)


# ---- dead code ---------------------------------------------------------------------------

def test_dead_code_and_leaves_are_removed():
    src = """
placeholder x: float32[3]
placeholder unused: float32[3]
variable v = [1.0, 2.0, 3.0]
variable w = [1.0, 2.0, 3.0]
dead = unused * v
output x * w
"""
    g, _ = optimise(src, 1)
    assert list(g.placeholders) == ["x"] and list(g.variables) == ["w"]
    assert "placeholder 'unused' is not used" in str(kgraph.compile(src).warnings[0])
    prog = kgraph.compile(src)
    np.testing.assert_allclose(prog.run(x=np.ones(3, np.float32))["out0"], [1, 2, 3])
    assert list(prog.placeholders) == ["x", "unused"]  # the program's signature is the source's


# ---- common subexpressions ------------------------------------------------------------------

def test_cse_merges_what_the_program_writes_twice():
    # The builder does not intern: -O0 keeps both dot(x, W) + b, and cse merges them (and counts it).
    src = """
placeholder x: float32[None, 3]
placeholder W: float32[3, 2]
placeholder b: float32[2]
h = dot(x, W) + b
output sum(h * 2.0) + mean(dot(x, W) + b) as y, h
"""
    low, high = kgraph.compile(src, opt_level=0), kgraph.compile(src, opt_level=1)
    assert low.ir().count("= dot ") == 2 and low.ir().count("= add ") == 3
    assert high.ir().count("= dot ") == 1 and high.ir().count("= add ") == 2
    assert len(toposort(low.graph.roots())) == len(toposort(high.graph.roots())) + 2
    _, reports = run_pipeline(build(src), 1)
    assert reports[1].name == "cse" and reports[1].fired == {"merge dot": 1, "merge add": 1}
    feeds = random_feeds(low)
    a, b = low.run(**feeds), high.run(**feeds)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6, err_msg=name)


def test_cse_merges_commuted_operands():
    src = "placeholder a: float32[3]\nplaceholder b: float32[3]\noutput (a + b) * (b + a)"
    g, fired = optimise(src, 1)
    assert fired["merge add"] == 1 and live_ops(g).count("add") == 1
    assert_levels_agree(src)


def test_cse_never_merges_prints():
    src = "x = [1.0, 2.0]\noutput print_tensor(x, 'a') + print_tensor(x, 'a')"
    g, _ = optimise(src)
    assert sum(n.op == "print_tensor" for n in toposort(g.roots())) == 2


def test_cse_never_merges_unseeded_random():
    src = "output random_uniform((2,)) - random_uniform((2,))"
    g, _ = optimise(src)
    assert live_ops(g).count("random_uniform") == 2
    assert np.any(kgraph.compile(src).run()["out0"] != 0)


# ---- constant folding ----------------------------------------------------------------------

def test_fold_constants():
    g, fired = optimise("placeholder x: float32[2]\nc = [1.0, 2.0] * 3.0 + 1.0\noutput x * c", 1)
    assert fired["fold multiply"] == 1 and fired["fold add"] == 1
    consts = [n for n in toposort(g.roots()) if n.op == "const"]
    np.testing.assert_array_equal(consts[0].attr("value").array, [4.0, 7.0])


def test_fold_respects_the_size_limit():
    src = "placeholder x: float32[3]\noutput x + [1.0, 2.0, 3.0] * 2.0"
    _, fired = optimise(src, 1, fold_limit=2)
    assert fired["fold multiply"] == 0
    _, fired = optimise(src, 1, fold_limit=3)
    assert fired["fold multiply"] == 1
    out = kgraph.compile(src, fold_limit=0).run(x=np.zeros(3, np.float32))
    np.testing.assert_allclose(out["out0"], [2, 4, 6])


def test_fold_never_evaluates_print():
    g, _ = optimise("output print_tensor([1.0, 2.0] * 2.0, message='p') + 1.0")
    assert "print_tensor" in live_ops(g)


def test_fold_never_evaluates_unseeded_random():
    g, _ = optimise("output random_uniform((2,)) * 2.0")
    assert "random_uniform" in live_ops(g)


def test_fold_limit_is_checked():
    with pytest.raises(KGraphError, match="fold limit"):
        optimize(build("output [1.0] * 2.0"), 2, fold_limit=-1)


# ---- gradient targets ------------------------------------------------------------------------

def test_gradient_target_is_not_merged_with_an_equal_node():
    # At -O0, h and g are different nodes; the gradient with respect to h counts only
    # paths through h. Simplifying g to x * y must not make it h.
    src = """
placeholder x: float32[3]
placeholder y: float32[3]
h = x * y
g = (x + 0) * y
dh, = gradients(sum(h * g), [h])
output dh
"""
    g, _ = optimise(src)
    assert "barrier" in live_ops(g)
    assert_levels_agree(src)
    # Written twice, x * y is two tensors (as in TensorFlow): cse merges them, not the gradient.
    src = src.replace("g = (x + 0) * y", "g = x * y")
    _, fired = optimise(src)
    assert fired["merge multiply"] == 1
    assert_levels_agree(src)
    feeds = random_feeds(kgraph.compile(src, opt_level=0))
    np.testing.assert_allclose(kgraph.compile(src).run(**feeds)["dh"], feeds["x"] * feeds["y"], rtol=1e-6)


def test_no_rule_looks_through_a_gradient_target():
    src = "placeholder x: float32[3]\nh = x * 1\noutput gradients(sum(h * x), [h])"
    assert_levels_agree(src)
    src = "c = [1.0, 2.0]\noutput gradients(sum(c * c), [c])"  # folding would drop c
    out = assert_levels_agree(src)
    np.testing.assert_allclose(out["out0_0"], [2.0, 4.0])


def test_barrier_and_internal_ops_are_not_callable():
    with pytest.raises(KGraphError, match="unknown op 'log1p'"):
        kgraph.compile("output log1p([1.0])")
    with pytest.raises(KGraphError, match="unknown op 'barrier'"):
        kgraph.compile("output barrier([1.0], uid=0)")


# ---- iterative walks ---------------------------------------------------------------------

def test_hundred_thousand_node_graph_needs_no_recursion():
    g = Graph()
    x = g.make("placeholder", (), {"name": "x"}, TensorType("float32", (3,)))
    g.placeholders["x"] = x
    node = x
    for _ in range(100_000):
        node = g.make("negative", (node,))
    g.outputs.append(("out", node))
    out = optimize(g, 2)
    verify(out)
    assert len(toposort(out.roots())) == 1  # an even number of negations is x


# ---- the `kgraph ir` command --------------------------------------------------------------

LOGREG_SUM = """
placeholder x: float32[None, 4]
placeholder y: float32[None, 3]
variable W = random_normal_variable((4, 3), mean=0.0, scale=0.1, seed=0)
variable b = zeros((3,))
p = softmax(dot(x, W) + b)
loss = sum(categorical_crossentropy(y, p))
dW, db = gradients(loss, [W, b])
scale = sum([0.5, 0.5]) / 4.0
output loss, W - scale * dW, b - dW[0] * 0.0 - scale * db, (b + dot(x, W)) * 1
"""


def test_ir_command_shows_every_pass(tmp_path, capsys):
    f = tmp_path / "p.kg"
    f.write_text(LOGREG_SUM)
    assert main(["ir", str(f)]) == 0
    out = capsys.readouterr().out
    assert "before (" in out and "after (" in out
    before, after = out.split("passes (-O2)")
    # The front end builds Keras's logits form: the loss reads dot(x, W) + b, not the softmax.
    assert "categorical_crossentropy[axis=-1 from_logits=True]" in before and "softmax" not in before
    assert "from_logits=False" not in out
    for name in PASS_NAMES:
        assert f"\n  {name} " in out
    assert "merge add" in out and "mul-one" in out and "fold sum" in out and "fold divide" in out
    assert main(["ir", str(f), "-O1", "--disable-pass", "cse", "--after"]) == 0
    after = capsys.readouterr().out
    assert after.startswith("{ placeholders") and "before" not in after


def test_ir_of_logreg_shows_cse_folding_and_the_crossentropy_rewrite(capsys):
    logreg = Path(__file__).resolve().parent.parent / "examples" / "logreg.kg"
    assert main(["ir", str(logreg)]) == 0
    out = capsys.readouterr().out
    before, rest = out.split("\npasses (-O2):\n")
    table, after = rest.split("\nafter (")
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert list(rows) == list(PASS_NAMES)
    assert "merge add ×1" in rows["cse"] and "merge dot ×1" in rows["cse"]  # the accuracy's logits
    assert "fold log ×1" in rows["fold"]  # loss / log(2.0)
    assert "softmax" not in before and "from_logits=False" not in before  # built as Keras computes it
    assert "softmax" not in after and "= categorical_crossentropy[axis=-1 from_logits=True] b f" in after
    assert after.count("= dot ") == 1 and "= log " not in after


def test_run_accepts_optimizer_options(tmp_path, capsys):
    f = tmp_path / "p.kg"
    f.write_text("placeholder x: float32[2]\noutput x * 0")
    assert main(["run", str(f), "--feed", "x=[1, 2]", "--fast-math", "--disable-pass", "fuse",
                 "--fold-limit", "10"]) == 0
    assert "[0. 0.]" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["run", str(f), "--disable-pass", "nope"])


# ---- internal ops ---------------------------------------------------------------------------

def test_fused_node_is_visible_and_agrees():
    src = "placeholder x: float32[3]\nplaceholder y: float32[3]\nz = x * y + x\noutput z * 2.0 - y"
    g, fired = optimise(src)
    assert live_ops(g).count("fused") == 1 and "fused a b c\n      { lambda ; e:f32[3] f:f32[3] g:f32[] . let\n" in format_ir(g)
    assert_levels_agree(src)
    grads = "placeholder x: float32[3]\nz = (x * 3.0 + x) * x\noutput gradients(sum(z), [x])"
    assert_levels_agree(grads)


def test_barrier_is_identity():
    src = "placeholder x: float32[3]\nh = x * 3.0\ndh, = gradients(sum(h * h), [h])\noutput dh, h"
    prog = kgraph.compile(src)
    feeds = random_feeds(prog)
    out = prog.run(**feeds)
    np.testing.assert_allclose(out["h"], feeds["x"] * 3, rtol=1e-6)
    np.testing.assert_allclose(out["dh"], 2 * feeds["x"] * 3, rtol=1e-6)


# ---- numerical stability ------------------------------------------------------------------

def test_stable_forms_stay_finite_where_the_written_forms_do_not():
    src = """
placeholder z: float32[1, 3]
placeholder t: float32[1, 3]
a = -sum(t * log(softmax(z)))
b = log(sigmoid(z))
c = log(sum(exp(z)))
output a, b, c, gradients(a + sum(b) + c, [z]) as g
"""
    z = np.array([[1e4, 0.0, -1e4]], np.float32)
    t = np.array([[0.0, 1.0, 0.0]], np.float32)
    written = kgraph.compile(src, opt_level=0).run(z=z, t=t)
    assert not all(np.all(np.isfinite(v)) for v in written.values())
    stable, fired = kgraph.compile(src).run(z=z, t=t), optimise(src)[1]
    assert fired["log-softmax"] == 1 and fired["log-sigmoid"] == 1 and fired["logsumexp"] == 1
    assert all(np.all(np.isfinite(v)) for v in stable.values())
    np.testing.assert_allclose(stable["a"], 1e4, rtol=1e-6)
    np.testing.assert_allclose(stable["b"], [[0.0, -np.log(2.0), -1e4]], rtol=1e-6)
    np.testing.assert_allclose(stable["c"], 1e4, rtol=1e-6)
    # d/dz of -log softmax(z)[1] + sum(log sigmoid(z)) + logsumexp(z)
    softmax = np.array([[1.0, 0.0, 0.0]])
    one_minus_sigmoid = 0.5 * (1 - np.tanh(z.astype(np.float64) / 2))
    expected = (softmax - t) + one_minus_sigmoid + softmax
    np.testing.assert_allclose(stable["g_0"], expected, rtol=1e-6, atol=1e-6)


def test_log1p_and_expm1_are_accurate_for_small_values():
    src = "placeholder x: float32[2]\noutput log(1 + x) as a, exp(x) - 1 as b"
    x = np.array([1e-10, 0.5], np.float32)
    written = kgraph.compile(src, opt_level=0).run(x=x)
    assert written["a"][0] == 0 and written["b"][0] == 0  # 1 + 1e-10 rounds to 1 in float32
    stable = kgraph.compile(src).run(x=x)
    np.testing.assert_allclose(stable["a"], np.log1p(x.astype(np.float64)), rtol=1e-6)
    np.testing.assert_allclose(stable["b"], np.expm1(x.astype(np.float64)), rtol=1e-6)
    g, _ = optimise(src)
    assert {"log1p", "expm1"} <= {n.op for n in toposort(g.roots())} | {
        op for n in toposort(g.roots()) if n.op == "fused" for op in (e.op for e in n.attr("body").eqns)}
