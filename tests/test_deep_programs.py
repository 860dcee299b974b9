"""Deep programs compile: the builder walks long operator chains and nested calls without
running out of Python's recursion limit, and a deeper nesting is a located error naming
its limit, never an internal RecursionError."""
from __future__ import annotations

import numpy as np
import pytest

import kgraph
from kgraph.build.expressions import MAX_CALL_DEPTH


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
    assert "MAX_CALL_DEPTH" in text and f"{MAX_CALL_DEPTH + 1:,} deep" in text
    assert "<string>:" in text and "RecursionError" not in text


def test_a_1000_deep_list_is_a_located_error_not_a_crash():
    deep = "output sum(" + "[" * 1000 + "1.0" + "]" * 1000 + ")"
    with pytest.raises(kgraph.KGraphError, match="max_depth"):  # the bracket limit (limits.py)
        kgraph.compile(deep)
    # Past that limit the list parses and builds; as a tensor it is over NumPy's 64 axes.
    with pytest.raises(kgraph.KGraphError, match="at most 64 dimensions"):
        kgraph.compile(deep, limits=kgraph.Limits(max_depth=2000))
    nested = "output sum(" + "[" * 60 + "1.0" + "]" * 60 + ")"
    assert kgraph.compile(nested).run()["out0"] == 1.0
