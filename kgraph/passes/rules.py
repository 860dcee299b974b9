"""The rule-driven passes: algebraic simplification and numerical stabilisation."""
from __future__ import annotations

from functools import lru_cache

from ..ir import Graph
from . import algebra, stability
from .patterns import RuleSet
from .rewrite import Options, Rewriter


@lru_cache(maxsize=None)
def _rule_set(name: str, fast_math: bool) -> RuleSet:
    rules = {"algebra": algebra.RULES, "stability": stability.RULES}[name]
    return RuleSet(rules, fast_math=fast_math)


def simplify_algebra(graph: Graph, options: Options) -> Rewriter:
    rw = Rewriter(options, _rule_set("algebra", options.fast_math))
    rw.run(graph)
    return rw


def stabilize_numerics(graph: Graph, options: Options) -> Rewriter:
    rw = Rewriter(options, _rule_set("stability", options.fast_math))
    rw.run(graph)
    return rw
