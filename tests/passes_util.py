"""Helpers for the optimizer tests: build a graph, run the pipeline, feed random values."""
from __future__ import annotations

from collections import Counter

import jax
import numpy as np

import kgraph
from kgraph.frontend import frontend
from kgraph.ir import toposort
from kgraph.passes import run_pipeline


def build(source: str, floatx: str = "float32"):
    return frontend(source, "<test>", floatx).graph


def optimise(source: str, level: int = 2, **options):
    """(optimised graph, Counter of every rule fired), verifying the IR after each pass."""
    graph, reports = run_pipeline(build(source), level, check=True, **options)
    fired = Counter()
    for r in reports:
        fired.update(r.fired)
    return graph, fired


def live_ops(graph) -> list[str]:
    return [n.op for n in toposort(graph.roots())]


def random_feeds(prog, seed: int = 0, low: float = 0.5, high: float = 2.0) -> dict:
    """Positive values for every placeholder (unknown dims are 2), in its dtype."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, (dtype, shape) in prog.placeholders.items():
        shape = tuple(d if isinstance(d, int) else 2 for d in shape)
        if np.dtype(dtype).kind in "iu":
            feeds[name] = rng.integers(1, 5, size=shape).astype(dtype)
        else:
            feeds[name] = rng.uniform(low, high, size=shape).astype(dtype)
    return feeds


def assert_levels_agree(source: str, rtol: float = 1e-5, atol: float = 1e-6, **options):
    """-O0 and -O2 (with `options`) give the same outputs on random feeds."""
    low = kgraph.compile(source, opt_level=0)
    high = kgraph.compile(source, opt_level=2, **options)
    feeds = random_feeds(low)
    a, b = low.run(**feeds), high.run(**feeds)
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=atol, err_msg=name)
    return b
