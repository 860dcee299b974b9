"""Matrix-chain reordering and elementwise fusion: where they fire, where they refuse."""
import numpy as np

import kgraph
from kgraph.ir import toposort
from kgraph.passes.matmul_chain import best_order

from passes_util import assert_levels_agree, optimise

CHAIN = """
placeholder A: float32[50, 50]
placeholder B: float32[50, 50]
placeholder v: float32[50]
output dot(dot(A, B), v) as out
"""


def _dots(graph):
    return [n for n in toposort(graph.roots()) if n.op in ("dot", "matmul")]


def test_best_order_is_the_textbook_answer():
    # CLRS 15.2: dims 30x35, 35x15, 15x5, 5x10, 10x20, 20x25 need 15125 multiplications.
    cost, split = best_order([30, 35, 15, 5, 10, 20, 25])
    assert cost == 15125 and split[0][5] == 2


def test_chain_is_reordered_to_matrix_vector_products():
    g, fired = optimise(CHAIN)
    assert fired["reorder chain of 3"] == 1
    (inner, outer) = _dots(g)
    assert inner.srcs[1].attr("name") == "v" and outer.srcs[1] is inner  # A · (B · v)
    assert_levels_agree(CHAIN, rtol=1e-4, atol=1e-4)


def test_matmul_operator_and_row_vector_chains():
    src = """
placeholder u: float32[40]
placeholder A: float32[40, 40]
placeholder B: float32[40, 40]
placeholder C: float32[40, 2]
output dot(u, dot(A, B)) as left, (A @ B) @ C as right
"""
    g, fired = optimise(src)
    assert fired["reorder chain of 3"] == 2
    assert_levels_agree(src, rtol=1e-4, atol=1e-4)


def test_chain_refuses_an_unknown_dimension():
    src = CHAIN.replace("placeholder B: float32[50, 50]", "placeholder B: float32[50, None]").replace(
        "v: float32[50]", "v: float32[None, 1]")
    _, fired = optimise(src)
    assert fired["refused: a dimension is unknown"] == 1 and not any(k.startswith("reorder") for k in fired)


def test_chain_refuses_mixed_dtypes():
    src = CHAIN.replace("v: float32[50]", "v: float64[50]")
    _, fired = optimise(src)
    assert not any(k.startswith("reorder") for k in fired)
    src = CHAIN.replace("A: float32[50, 50]", "A: float64[50, 50]").replace("v: float32", "v: float64")
    _, fired = optimise(src)  # dot(A, B) is float64, B alone float32
    assert fired["refused: mixed dtypes"] == 1


def test_chain_keeps_an_order_that_is_already_best():
    _, fired = optimise(CHAIN.replace("dot(dot(A, B), v)", "dot(A, dot(B, v))"))
    assert not fired


def test_a_product_used_twice_is_not_split_up():
    src = CHAIN.replace("output dot(dot(A, B), v) as out", "AB = dot(A, B)\noutput dot(AB, v) as out, AB")
    g, fired = optimise(src)
    assert not fired and len(_dots(g)) == 2
    assert_levels_agree(src, rtol=1e-4, atol=1e-4)


def test_a_column_vector_product_is_not_read_as_a_row():
    # dot(dot(A, v), B) is (A v)ᵀ B: the inner result is a column used as a row.
    src = CHAIN.replace("dot(dot(A, B), v)", "dot(dot(dot(A, v), B), A)")
    g, fired = optimise(src)
    assert not any(k.startswith("reorder") for k in fired)
    assert_levels_agree(src, rtol=1e-4, atol=1e-4)


def test_gradient_through_a_reordered_chain():
    src = CHAIN.replace("output dot(dot(A, B), v) as out",
                        "output gradients(sum(dot(dot(A, B), v)), [A, v]) as g")
    assert_levels_agree(src, rtol=1e-4, atol=1e-4)


# ---- fusion ---------------------------------------------------------------------------------

def test_fusion_builds_one_node_per_region():
    src = "placeholder x: float32[4]\nplaceholder y: float32[4]\noutput (x * y + 1.0) * (x - y) as out"
    g, fired = optimise(src)
    assert fired["fuse 4 ops"] == 1
    assert [n.op for n in toposort(g.roots()) if n.op not in ("placeholder", "const")] == ["fused"]
    assert_levels_agree(src)


def test_fusion_refuses_shared_values_outputs_and_non_elementwise_ops():
    src = """
placeholder x: float32[4]
s = x * 2.0
output s + 1.0 as a, s - 1.0 as b, sum(x * 3.0) + 1.0 as c
"""
    g, fired = optimise(src)
    assert fired == {"merge const": 2}  # the three 1.0s; no fusion: s is used twice, sum is not elementwise
    src_print = "placeholder x: float32[4]\noutput print_tensor(x * 2.0, message='') + 1.0"
    _, fired = optimise(src_print)
    assert not fired


def test_fusion_disabled():
    src = "placeholder x: float32[4]\noutput (x * 2.0 + 1.0) * x"
    _, fired = optimise(src, disabled=("fuse",))
    assert not any(k.startswith("fuse") for k in fired)


def test_equal_regions_share_one_body():
    src = "placeholder x: float32[4]\nplaceholder y: float32[4]\noutput (x * 2.0) + x, (y * 2.0) + y"
    g, _ = optimise(src)
    fused = [n for n in toposort(g.roots()) if n.op == "fused"]
    assert len(fused) == 2 and fused[0].attr("body") is fused[1].attr("body")
    prog = kgraph.compile(src)
    out = prog.run(x=np.ones(4, np.float32), y=np.full(4, 2, np.float32))
    np.testing.assert_allclose(out["out1"], [6, 6, 6, 6])
