"""The rule-driven passes: algebraic simplification and numerical stabilisation."""
from __future__ import annotations

from functools import lru_cache

from . import algebra, stability
from .patterns import RuleSet
from .rewrite import Options, Rewriter


@lru_cache(maxsize=None)
def _rule_set(name: str, fast_math: bool) -> RuleSet:
    rules = {"algebra": algebra.RULES, "stability": stability.RULES}[name]
    return RuleSet(rules, fast_math=fast_math)


def algebra_rewriter(options: Options) -> Rewriter:
    """The generic rewriter with the algebra table (algebra.RULES)."""
    return Rewriter(options, _rule_set("algebra", options.fast_math))


def stability_rewriter(options: Options) -> Rewriter:
    """The generic rewriter with the stability table (stability.RULES)."""
    return Rewriter(options, _rule_set("stability", options.fast_math))
