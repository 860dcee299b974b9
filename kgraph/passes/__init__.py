"""The optimiser's pipeline (grown by the optimizer issue)."""
from __future__ import annotations

from ..ir import Graph


def optimize(graph: Graph, level: int, disabled=(), fast_math: bool = False) -> Graph:
    return graph
