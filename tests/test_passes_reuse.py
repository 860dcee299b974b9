"""A pass object keeps no state between runs: reused on other graphs, it gives what fresh ones do.

Each pass's look at the whole graph is a plan that `prepare` returns and `run` hands to
`has_work` and `visit` (kgraph/passes/rewrite.py); the walk's state is reset by `begin`.
So one rewriter runs the golden program of its own pass, then another pass's, then its
own again, and each result (IR text and what fired) equals a fresh rewriter's.
"""
from __future__ import annotations

import pytest

from kgraph.frontend import frontend
from kgraph.ir import format_ir
from kgraph.passes import PIPELINE
from kgraph.passes.rewrite import Options
from test_golden_ir import PASS_PROGRAMS

GRAPHS = {name: frontend(src, f"{name}.kg").graph for name, src in PASS_PROGRAMS.items()}
NAMES = [p.name for p in PIPELINE]


def result(rw) -> tuple[str, dict, int]:
    return format_ir(rw.graph), dict(rw.fired), rw.live_in


@pytest.mark.parametrize("index", range(len(PIPELINE)), ids=NAMES)
def test_a_pass_object_run_twice_equals_fresh_ones(index):
    p, options = PIPELINE[index], Options()
    other = NAMES[(index + 1) % len(NAMES)]
    sequence = [GRAPHS[p.name], GRAPHS[other], GRAPHS[p.name]]
    reused = p.make(options)
    seen = []
    for graph in sequence:
        reused.run(graph)
        seen.append(result(reused))
    fresh = [result(p.run(graph, options)) for graph in sequence]
    assert seen == fresh
    # dce counts no rules: what it removes shows in graph.made (the printer shows live nodes only)
    assert fresh[0][1] or p.name == "dce", f"the {p.name} pass fired nothing on its own program"
    assert fresh[0] != fresh[1]  # two different graphs, two different results
