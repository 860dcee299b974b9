"""Deep programs compile: the builder walks long operator chains and nested calls without
running out of Python's recursion limit, and a deeper nesting is a located error naming
its limit, never an internal RecursionError."""
from __future__ import annotations

import numpy as np
import pytest

import kgraph
from kgraph.limits import DEFAULT

MAX_CALL_DEPTH = DEFAULT.max_call_depth


def _nested_calls(depth: int) -> str:
    defs = ["def f0(a):\n    return a\n"]
    defs += [f"def f{i}(a):\n    return f{i - 1}(a) + 1.0\n" for i in range(1, depth)]
    return "placeholder x: float32[2]\n" + "".join(defs) + f"output f{depth - 1}(x)"


def test_a_5000_term_sum_compiles():
    src = "placeholder x: float32[2]\noutput " + " + ".join(["x"] * 5000)
    graph = kgraph.compile(src, opt_level=0).graph  # running it is XLA's time, not the builder's
    adds = [n for n in graph.live_nodes() if n.op == "add"]
    assert len(adds) == 4999 and graph.outputs[0][1] is adds[-1]
    # (((x + x) + x) + ...): each add's left operand is the one before it.
    assert all(a.srcs[0] is b for a, b in zip(adds[1:], adds)) and adds[0].srcs == (adds[0].srcs[0],) * 2


def test_a_long_mixed_chain_keeps_left_to_right_order():
    # ((2 - 0.001) - 0.001) - ... - x: left-associative, as the recursive walk built it.
    src = "placeholder x: float32[]\noutput " + "2.0" + " - 0.001" * 3000 + " - x"
    out = kgraph.compile(src, opt_level=0).run(x=np.float32(0.5))["out0"]
    np.testing.assert_allclose(out, 2.0 - 3.0 - 0.5, rtol=1e-4)


def test_1000_nested_function_calls_compile():
    out = kgraph.compile(_nested_calls(1000), opt_level=0).run(x=np.zeros(2, np.float32))["out0"]
    np.testing.assert_allclose(out, [999.0, 999.0])


def test_calls_nested_past_the_limit_are_a_located_error_that_names_it():
    with pytest.raises(kgraph.KGraphError) as info:
        kgraph.compile(_nested_calls(MAX_CALL_DEPTH + 5), opt_level=0)
    text = info.value.render() if hasattr(info.value, "render") else str(info.value)
    assert "max_call_depth = 2,000" in text and "--max-call-depth" in text
    assert f"is {MAX_CALL_DEPTH + 1:,}, over" in text
    assert "<string>:" in text and "RecursionError" not in text
    shallow = kgraph.Limits(max_call_depth=10)
    with pytest.raises(kgraph.LimitError, match="max_call_depth = 10"):
        kgraph.compile(_nested_calls(11), opt_level=0, limits=shallow)
    assert kgraph.compile(_nested_calls(10), opt_level=0, limits=shallow).run(
        x=np.zeros(2, np.float32))["out0"].tolist() == [9.0, 9.0]


def test_1000_nested_calls_and_parentheses_in_one_expression_compile():
    # f(f(...f(x)...)) and ((...(x)...)) 1,000 deep, within the default max_depth.
    calls = "placeholder x: float32[2]\ndef f(a):\n    return a + 1.0\noutput "
    calls += "f(" * 1000 + "x" + ")" * 1000
    out = kgraph.compile(calls, opt_level=0).run(x=np.zeros(2, np.float32))["out0"]
    np.testing.assert_allclose(out, [1000.0, 1000.0])
    parens = "placeholder x: float32[2]\noutput " + "(" * 1000 + "x * 2.0" + ")" * 1000
    assert kgraph.compile(parens).run(x=np.ones(2, np.float32))["out0"].tolist() == [2.0, 2.0]
    with pytest.raises(kgraph.LimitError, match="max_depth = 2,000.*--max-depth") as info:
        kgraph.compile("output " + "(" * 2001 + "1.0" + ")" * 2001)
    assert (info.value.line, info.value.column) == (1, 2008)


def test_a_1000_deep_list_is_a_located_error_not_a_crash():
    deep = "output sum(" + "[" * 1000 + "1.0" + "]" * 1000 + ")"
    # Within max_depth the list parses and builds; as a tensor it is over NumPy's 64 axes.
    with pytest.raises(kgraph.ShapeError, match="nested 1,000 deep.*at most 64 dimensions") as info:
        kgraph.compile(deep)
    assert (info.value.line, info.value.column) == (1, 12)
    with pytest.raises(kgraph.ShapeError, match="nested 65 deep.*at most 64 dimensions"):
        kgraph.compile("output constant(" + "[" * 65 + "1" + "]" * 65 + ")")
    nested = "output sum(" + "[" * 60 + "1.0" + "]" * 60 + ")"
    assert kgraph.compile(nested).run()["out0"] == 1.0
