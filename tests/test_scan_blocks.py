"""The scan-blocks pass: a chain of calls of one `def` (a layer stack) becomes one scan.

Every program here is checked against the same program unrolled: `-O0` (no pass at all)
and `scan_blocks=False` (-O2 without this pass), values and gradients both, and a training
loop's per-block variables after a few updates. Most tests make chains of K calls a loop
(`scan_blocks=K`, below the default threshold N) to keep their programs small.
"""
from __future__ import annotations

import numpy as np
import pytest

import kgraph
from kgraph.errors import KGraphError
from kgraph.passes import SCAN_MIN_BLOCKS
from passes_util import live_ops, optimise
from test_cli import kgraph as kgraph_cli

N = SCAN_MIN_BLOCKS
K = 3


def dense_stack(n: int, tail: list[str] | None = None, body: str = "tanh(dot(h, W) + b) * 0.9") -> str:
    """n calls of a one-dense-layer def, each reading its own variable W{i}."""
    lines = ["placeholder x: float32[2, 4]", "variable b = [0.1, -0.2, 0.3, 0.0]"]
    lines += [f"variable W{i} = random_normal_variable((4, 4), mean=0.0, scale=0.6, seed={i})"
              for i in range(n)]
    lines += ["def dense(h, W):", f"    return {body}", "h0 = x"]
    lines += [f"h{i + 1} = dense(h{i}, W{i})" for i in range(n)]
    lines += tail if tail is not None else [f"loss = sum(h{n} * h{n})", "output loss"]
    return "\n".join(lines) + "\n"


def with_gradients(n: int) -> str:
    ws = ", ".join(f"W{i}" for i in range(n))
    return dense_stack(n, [f"loss = sum(h{n} * h{n})", f"output loss, gradients(loss, [{ws}, b, x]) as g"])


def scans(graph) -> list:
    return [node for node in graph.live_nodes() if node.op == "scan"]


def compiled_three_ways(source: str, min_blocks: int | bool = K) -> dict:
    return {"O2": kgraph.compile(source, scan_blocks=min_blocks), "O0": kgraph.compile(source, opt_level=0),
            "unrolled": kgraph.compile(source, scan_blocks=False)}


def assert_all_agree(progs: dict, rtol: float = 2e-5, **feeds) -> dict:
    """-O2 with loops and -O2 unrolled against -O0."""
    results = {k: p.run(**feeds) for k, p in progs.items()}
    for name, value in results["O0"].items():
        for other in ("O2", "unrolled"):
            np.testing.assert_allclose(results[other][name], value, rtol=rtol, atol=1e-6,
                                       err_msg=f"{name}: {other} against -O0")
    return results


FEED = np.random.default_rng(0).uniform(-1, 1, (2, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def gradient_programs():
    return compiled_three_ways(with_gradients(K))


def test_a_chain_of_calls_is_one_scan_over_the_stacked_variables():
    graph, fired = optimise(dense_stack(N))
    (loop,) = scans(graph)
    assert fired[f"{N} calls of dense into a scan"] == 1
    assert live_ops(graph).count("dot") == 0  # every layer's dot is the body's one dot
    (stacked,) = [s for s in loop.srcs if s.op == "stack"]
    assert [s.attr("name") for s in stacked.srcs] == [f"W{i}" for i in range(N)]
    assert loop.attr("length") == N and loop.attr("n_xs") == 1
    body_ops = [n.op for n in loop.attr("body").eqns]
    assert "dot" in body_ops and body_ops.count("dot") == 1


def test_values_and_gradients_equal_the_unrolled_program(gradient_programs):
    assert len(scans(gradient_programs["O2"].graph)) == 1
    assert not scans(gradient_programs["unrolled"].graph) and not scans(gradient_programs["O0"].graph)
    results = assert_all_agree(gradient_programs, x=FEED)
    assert np.abs(results["O0"][f"g_{K - 1}"]).max() > 1e-3  # the last layer's gradient is not zero
    assert len(results["O0"]) == K + 3


def test_training_updates_the_per_block_variables_as_unrolled():
    ws = [f"W{i}" for i in range(K)]
    tail = [f"loss = sum(h{K} * h{K})", f"{', '.join('g' + w for w in ws)}, gb = gradients(loss, [{', '.join(ws)}, b])"]
    tail += [f"update {w} = {w} - 0.1 * g{w}" for w in ws] + ["update b = b - 0.1 * gb", "output loss"]
    source = dense_stack(K, tail)
    progs = compiled_three_ways(source)
    assert len(scans(progs["O2"].graph)) == 1
    losses = {k: [float(p.run(x=FEED)["loss"]) for _ in range(3)] for k, p in progs.items()}
    np.testing.assert_allclose(losses["O2"], losses["O0"], rtol=1e-5)
    assert losses["O0"][2] < losses["O0"][0]  # the steps train
    for name, value in progs["O0"].variables.items():
        np.testing.assert_allclose(progs["O2"].variables[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(progs["unrolled"].variables[name], value, rtol=1e-5, atol=1e-7)
    assert not np.allclose(progs["O2"].variables["W0"], progs["O2"].module.variables["W0"])


SLICES = """\
placeholder x: float32[2, 4]
variable W = random_normal_variable(({L}, 4, 4), mean=0.0, scale=0.6, seed=3)
def layer(h, i):
    return h + tanh(dot(h, W[i])) * 0.5
h = x
"""


@pytest.mark.parametrize("start", [0, 1])
def test_slices_of_one_variable_are_the_loop_sequence_without_a_copy(start):
    layers = K + 1
    lines = [SLICES.format(L=layers)] + [f"h = layer(h, {i})" for i in range(start, layers)]
    source = "\n".join(lines) + "\nloss = sum(h)\noutput loss, gradients(loss, [W, x]) as g\n"
    progs = compiled_three_ways(source)
    (loop,) = scans(progs["O2"].graph)
    xs = loop.srcs[1]
    assert "stack" not in live_ops(progs["O2"].graph)
    if start == 0:  # all the slices: the variable itself
        assert xs.op == "variable" and xs.attr("name") == "W"
    else:
        assert xs.op == "getitem" and xs.attr("index") == (("slice", 1, layers, None),)
    assert_all_agree(progs, x=FEED)


def test_a_chain_shorter_than_the_threshold_stays_unrolled():
    graph, fired = optimise(dense_stack(N - 1))
    assert not scans(graph) and live_ops(graph).count("dot") == N - 1
    graph, fired = optimise(dense_stack(3), scan_min_blocks=3)  # the threshold is an option
    assert len(scans(graph)) == 1


def test_a_value_used_outside_the_chain_splits_it():
    """h4 is an output, h2 a gradient target: the loops cannot hide them."""
    tail = ["loss = sum(h7 * h7)", "output loss, h4 as middle, gradients(loss, [h2, W0]) as g"]
    source = dense_stack(7, tail)
    progs = compiled_three_ways(source)
    loops = scans(progs["O2"].graph)
    # calls 1-2 (before h2) and 3-4 (before h4) are too short to loop; 5-7 are one loop
    assert [loop.attr("length") for loop in loops] == [K]
    assert_all_agree(progs, x=FEED)


def test_calls_that_differ_or_draw_random_values_stay_unrolled():
    def loops(source):
        return scans(optimise(source, scan_min_blocks=6)[0])

    plain = dense_stack(8)
    assert len(loops(plain)) == 1
    # h3 not a call, then call 4 not taking call 3's result itself: both split the chain
    assert not loops(plain.replace("h3 = dense(h2, W2)", "h3 = tanh(dot(h2, W2) + b) * 0.9"))
    assert not loops(plain.replace("h4 = dense(h3, W3)", "h4 = dense(h3 * 1.0, W3)"))
    assert not loops(dense_stack(8, body="dropout(tanh(dot(h, W)), 0.5)"))  # each call draws its own mask


def test_nested_chains_loop_the_outer_calls():
    source = dense_stack(K, body="tanh(dot(h, W) + b) * 0.9").replace(
        "def dense(h, W):", "def inner(h, W):\n    return tanh(dot(h, W) + b)\ndef dense(h, W):").replace(
        "    return tanh(dot(h, W) + b) * 0.9", "    return inner(inner(h, W), W) * 0.5")
    progs = compiled_three_ways(source)
    (loop,) = scans(progs["O2"].graph)
    assert [n.op for n in loop.attr("body").eqns].count("dot") == 2
    assert_all_agree(progs, x=FEED)


def test_kgraph_ir_shows_the_loop_and_no_scan_blocks_turns_it_off(tmp_path):
    path = tmp_path / "stack.kg"
    path.write_text(dense_stack(N))
    code, out, err = kgraph_cli("ir", str(path))
    assert code == 0, err
    assert f"{N} calls of dense into a scan ×1" in out and f"scan[length={N}" in out
    code, out, err = kgraph_cli("ir", str(path), "--no-scan-blocks")
    assert code == 0 and "scan[" not in out and "scan-blocks" not in out.split("passes")[1]
    code, out, err = kgraph_cli("run", str(path), "--no-scan-blocks", "--feed", "x=" + str(FEED.tolist()))
    expected = kgraph.compile(dense_stack(N), opt_level=0).run(x=FEED)["loss"]
    assert code == 0 and abs(float(out.split("=")[-1]) - float(expected)) < 1e-5


@pytest.mark.parametrize("value", [0, -1, "yes", 2.5])
def test_a_bad_scan_blocks_option_is_an_error(value):
    with pytest.raises(KGraphError, match="scan_blocks must be"):
        kgraph.compile(dense_stack(2), scan_blocks=value)


def test_the_learning_phase_in_a_block_is_read_before_the_loop():
    source = dense_stack(K, body="in_train_phase(tanh(dot(h, W)) * 0.5, tanh(dot(h, W) + b))")
    progs = {"O2": kgraph.compile(source, scan_blocks=K), "unrolled": kgraph.compile(source, scan_blocks=False)}
    (loop,) = scans(progs["O2"].graph)
    assert "learning_phase" in [s.op for s in loop.srcs]  # captured: the step reads the run's phase
    for training in (False, True):
        got, want = (p.run(x=FEED, training=training)["loss"] for p in (progs["O2"], progs["unrolled"]))
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert progs["O2"].run(x=FEED, training=True)["loss"] != progs["O2"].run(x=FEED)["loss"]
